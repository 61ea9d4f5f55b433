"""Mutation fuzzing: a damaged model file is a model or a located error, never a crash.

Thousands of inputs made by mutating every file in ``models/`` and ``tests/errors/``
(byte flips, truncations, token swaps, deleted braces, huge numbers, unicode, invalid
UTF-8, duplicated or deleted lines; see ``tests/fuzzing.py``), with a fixed seed.  Each
input is decoded, parsed, formatted (the ``semdsl fmt`` round trip), checked and
compiled with small limits under a 5-second alarm.  Allowed: a compiled model, or a
:class:`~semdsl.errors.SemdslError` whose every diagnostic reads ``fuzz.sem:LINE:COL``
and quotes line LINE of the input with a caret under column COL.  ``bench/fuzz.py``
runs 10^5 of the same inputs.

The regression cases below are inputs the fuzzer found, each once a crash, a hang or a
misplaced message.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time

import pytest

import semdsl
from semdsl.cli import main
from semdsl.errors import SemdslError

import fuzzing as F
from conftest import ROOT

SEED = 20240611
N_INPUTS = 8000
TIMEOUT = 5.0


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty directory holding the edge list ``extra_edgelist.sem`` reads
    (``edgelist("...")`` paths are relative to the model file, here ``fuzz.sem``)."""
    F.write_edgelist(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _report(failures) -> str:
    lines = []
    for i, name, done, data, o in failures[:8]:
        lines.append(f"--- input {i} (from {name}, mutations {done}): {o.kind}\n{o.detail[-3000:]}\n"
                     f"input bytes: {data[:600]!r}")
    return "\n".join(lines)


def test_seeds_are_models_or_located_errors(in_tmp):
    corpus = F.seeds()
    assert len(corpus) >= 100
    bad = []
    for name, text in corpus:
        o = F.run_one(text.encode("utf-8"), 30)
        if o.kind not in ("ok", "error"):
            bad.append((0, name, [], text.encode(), o))
    assert not bad, _report(bad)


def test_mutated_inputs_never_crash_or_hang(in_tmp):
    corpus = F.seeds()
    counts: collections.Counter = collections.Counter()
    failures = []
    t0 = time.perf_counter()
    for i in range(N_INPUTS):
        name, data, done = F.nth_input(SEED, i, corpus)
        o = F.run_one(data, TIMEOUT)
        counts[o.kind] += 1
        if o.kind not in ("ok", "error"):
            failures.append((i, name, done, data, o))
    elapsed = time.perf_counter() - t0
    print(f"\n{N_INPUTS} mutated inputs in {elapsed:.1f} s: {dict(counts)}")
    assert not failures, f"{len(failures)} of {N_INPUTS} inputs failed:\n" + _report(failures)
    assert counts["ok"] > 50 and counts["error"] > 1000  # both paths were exercised


def test_mutated_files_through_the_command_line(in_tmp, capsys):
    """``semdsl check FILE``: exit status 0 or 1, never 2, and no traceback."""
    corpus = F.seeds()
    path = in_tmp / "fuzz.sem"
    statuses = collections.Counter()
    for i in range(300):
        _, data, _ = F.nth_input(SEED + 1, i, corpus)
        path.write_bytes(data)
        status = main(["check", "fuzz.sem", "--max-states", "20000", "--max-transitions", "200000"])
        cap = capsys.readouterr()
        statuses[status] += 1
        assert status in (0, 1), f"exit {status} for input {i}:\n{cap.err[-2000:]}\n{data[:400]!r}"
        assert "Traceback" not in cap.err and "internal error" not in cap.err, cap.err[-2000:]
        if status == 1:
            assert "fuzz.sem:" in cap.err, cap.err[-2000:]
    assert statuses[0] > 0 and statuses[1] > 0


def test_command_line_process_on_mutated_files(in_tmp):
    """The real process: a few damaged files, exit 0 or 1 and no traceback on stderr."""
    corpus = F.seeds()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for i in (3, 11, 42):
        _, data, _ = F.nth_input(SEED + 2, i, corpus)
        (in_tmp / f"m{i}.sem").write_bytes(data)
    (in_tmp / "binary.sem").write_bytes(b"node a { F = 1 }\n\x00\xff\xfe\x80 edge\n")
    files = [f"m{i}.sem" for i in (3, 11, 42)] + ["binary.sem"]
    for f in files:
        out = subprocess.run([sys.executable, "-m", "semdsl", "check", f], capture_output=True,
                             text=True, cwd=in_tmp, env=env, timeout=120)
        assert out.returncode in (0, 1), out.stderr
        assert "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "semdsl", "check", "binary.sem"], capture_output=True,
                         text=True, cwd=in_tmp, env=env, timeout=120)
    assert out.returncode == 1
    assert out.stderr.startswith("binary.sem:2:2: error: the file is not UTF-8 text (byte 0xff")
    assert "hint: save the file as UTF-8" in out.stderr


# --------------------------------------------------------------------- regressions
DEEP_SUM = "+".join(["1"] * 300)
LET_DOUBLING = "param x = 1\nlet a0 = x\n" + "".join(
    f"let a{k} = a{k - 1} + a{k - 1}\n" for k in range(1, 41)) + "node n { F = a40 }\n"
LET_CHAIN = "param x = 1\nlet a0 = x\n" + "".join(
    f"let a{k} = a{k - 1}\n" for k in range(1, 400)) + "node n { F = a399 }\n"


@pytest.mark.parametrize("text, expected", [
    # hangs: exact arithmetic on astronomically large numbers
    ("node b { F = 1e99999999 }\n", "1:14: error: the number 1e99999999 is too large for a double"),
    ("param x = 9e999999999999999999999999999999\nnode a\n", "1:11: error: the number 9e99999999"),
    ("node a { F = 1e-99999 }\n", "1:14: error: the number 1e-99999 is too small for a double"),
    ("node a { F = 0e99999 }\n", None),
    ("param x = " + "9" * 5000 + "\nnode a\n", "1:11: error: the number 9999999999...999999 (5000 characters)"),
    ("param x = 2^2^2^2^2^2^2\nnode a { F = x }\n", "1:7: error: parameter 'x' = inf is not finite"),
    ("param x = 10^10^10\nnode a { F = x }\n", "1:7: error: parameter 'x' = inf is not finite"),
    ("node h[i in 1..2^2^2^2^2^2^2]\n", "1:16: error: the upper end of index 'i' is not a finite number"),
    (LET_DOUBLING, "error: 'let a16' expands to an expression of 131,071 terms (more than 100,000)"),
    # crashes: TypeError, OverflowError, KeyError, ValueError, RecursionError
    ("node h[i in 1..9]\nedge h[i] -- h[true+1] for i in 1..8\n", None),
    ("node s[w in 9223372036854775808..3]\n", "1:13: error: the lower end of index 'w' is too large"),
    ("node h[i in 1..3] { F = i / 0 }\nedge h[i] -- h[i + 1] for i in 1..2\nrate = src.F + 1/0\n",
     "1:25: error: attribute 'F' of 'h' is nan for 3 of 3 nodes"),
    ("node a[" + ", ".join(f"i{k} in 1..1" for k in range(40)) + "]\n",
     "error: node 'a' has 40 indices; at most 32 are allowed"),
    ("graph g = lattice(" + ", ".join(["1"] * 40) + ")\n", "error: lattice has 40 dimensions"),
    ("node a { F = " + DEEP_SUM + " }\n", "1:10: error: expression nested too deeply (more than 200 levels)"),
    ("node a { F = " + "-" * 300 + "1 }\n", "1:10: error: expression nested too deeply"),
    ("node a if " + "not " * 300 + "true\n", "1:11: error: expression nested too deeply"),
    ("node a { F = " + "(" * 300 + "1" + ")" * 300 + " }\n", None),
    (LET_CHAIN, "error: 'let a200' expands to an expression nested 201 levels deep (more than 200)"),
    # messages that quoted the wrong line (str.splitlines splits at \x0b, \x0c, \x1c, \x85, \u2028)
    ("model walk\nnode a { F\x0c = 1 }\nedge a -- bb\n", "3:11: error: unknown node 'bb'\n  edge a -- bb\n"),
    ("node a\u2028 { F = 1 }\n", "1:7: error: syntax error: unexpected character '\\u2028'\n  node a\u2028 { F = 1 }"),
    ("model x\x85y\n", "1:8: error: syntax error: unexpected character '\\x85'"),
    ("node ", "1:6: error: syntax error: unexpected end of file, expected a name\n  node \n       ^"),
    ("node a {\n  F = 1\n\n\n", "2:8: error: syntax error: unexpected end of file"),
    ("node a { F = 1\x0c", "1:16: error: syntax error: unexpected end of file"),
    # a file name the operating system refuses (ValueError, OSError)
    ('graph g = edgelist("no_\x00such_file.csv")\n', "1:20: error: the file name contains a control character"),
    ('graph g = edgelist("' + "a" * 300 + '")\n', "1:20: error: cannot use 'aaaaaaaaaa"),
    ('graph g = edgelist("' + "a/" * 3000 + '")\n', "as a file name: File name too long"),
])
def test_found_by_fuzzing(in_tmp, text, expected):
    o = F.run_one(text.encode("utf-8"), 20)
    assert o.kind in ("ok", "error"), o.detail
    if expected is None:
        assert o.kind == "ok", o.detail
        return
    try:
        semdsl.compile(semdsl.loads(text, "fuzz.sem"), max_states=20000)
    except SemdslError as exc:
        assert expected in str(exc), str(exc)
    else:
        pytest.fail("no error")


def test_mutated_edge_lists(in_tmp):
    """The edge list a model reads is damaged instead: a model, or an error in either file."""
    import random
    model = F.EXTRA_SEEDS["extra_edgelist.sem"].encode("utf-8")
    texts = [F.EDGELIST_CSV, "1 2\n2 3\n", "# comment\na,b,w\nx,y,1\ny,z,2\n", "source\ttarget\n1\t2\n2\t3\n"]
    counts = collections.Counter()
    for i in range(300):
        rng = random.Random(SEED + i)
        data, done = F.mutate(rng, rng.choice(texts))
        (in_tmp / "landscape.csv").write_bytes(data)
        o = F.run_one(model, TIMEOUT, fmt=False)
        counts[o.kind] += 1
        assert o.kind in ("ok", "error"), f"edge list {data[:300]!r} ({done}):\n{o.detail}"
    assert counts["ok"] > 0 and counts["error"] > 0


def test_invalid_utf8_is_an_error_at_its_position(tmp_path):
    p = tmp_path / "bad.sem"
    p.write_bytes(b"node a { F = 1 }\nnode b { F = \xc3\xa9\xff }\n")
    with pytest.raises(SemdslError) as e:
        semdsl.load(p)
    text = str(e.value)
    assert text.startswith(f"{p}:2:15: error: the file is not UTF-8 text (byte 0xff: invalid start byte)")
    assert "node b { F = é\ufffd }" in text
    assert "hint: save the file as UTF-8" in text


def test_byte_order_mark_and_line_endings(tmp_path):
    p = tmp_path / "bom.sem"
    p.write_bytes(b"\xef\xbb\xbfnode a { F = 1 }\r\nnode b\rinit a\n")
    m = semdsl.load(p)
    assert set(m.families) == {"a", "b"}
