"""Golden tests of the error messages (LANGUAGE.md section 3).

Every ``tests/errors/NAME.sem`` is a bad model; ``NAME.err`` beside it is the exact
text ``semdsl check`` must print on standard error, and ``NAME.args`` (optional, one
line) holds extra command-line arguments such as ``--set D=-5`` or ``--max-states 100``.

Each case must exit with status 1, print exactly the golden text, never a traceback,
and every diagnostic must have the form

    tests/errors/NAME.sem:LINE:COL: error: MESSAGE
      <the source line>
      <spaces>^^^^              (the caret starts under column COL)
      hint: ...                 (optional)

or ``--set: error: MESSAGE`` (plus an optional hint) for a bad command-line override.

The ``.err`` files were written by running the tool and reading every message: to add
a case, write ``NAME.sem``, run ``semdsl check tests/errors/NAME.sem 2> tests/errors/NAME.err``
from the repository root, and check that the caret, the message and the hint are right.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from semdsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
ERRORS = ROOT / "tests" / "errors"
CASES = sorted(p.stem for p in ERRORS.glob("*.sem"))

HINT = re.compile(r"^  hint: \S")
CARET = re.compile(r"^  ( *)(\^+)$")


def _args(name: str) -> list[str]:
    path = ERRORS / f"{name}.args"
    if not path.exists():
        return []
    return shlex.split(path.read_text("utf-8").strip())


def _expected(name: str) -> str:
    return (ERRORS / f"{name}.err").read_text("utf-8")


def _run(name: str, capsys) -> tuple[int, str, str]:
    rel = f"tests/errors/{name}.sem"
    status = main(["check", rel] + _args(name))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _check_shape(name: str, stderr: str) -> int:
    """Assert that ``stderr`` is a sequence of well-formed diagnostics; return their count."""
    rel = f"tests/errors/{name}.sem"
    header = re.compile(rf"^(?:{re.escape(rel)}:(\d+):(\d+)|--set): error: \S")
    source_lines = (ERRORS / f"{name}.sem").read_text("utf-8").splitlines()
    lines = stderr.rstrip("\n").split("\n")
    count = 0
    k = 0
    while k < len(lines):
        m = header.match(lines[k])
        assert m, f"line {k + 1} of stderr is not a diagnostic header: {lines[k]!r}"
        count += 1
        k += 1
        if m.group(1) is not None:  # a position in the file: source line, then caret
            line, col = int(m.group(1)), int(m.group(2))
            assert 1 <= line <= len(source_lines), f"line {line} is outside the file"
            assert k < len(lines), "missing the source line"
            expected_src = source_lines[line - 1].rstrip("\r").expandtabs(1)
            assert lines[k] == "  " + expected_src, \
                f"the quoted source line is not line {line}: {lines[k]!r}"
            k += 1
            assert k < len(lines), "missing the caret line"
            c = CARET.match(lines[k])
            assert c, f"not a caret line: {lines[k]!r}"
            assert len(c.group(1)) == col - 1, \
                f"the caret starts at column {len(c.group(1)) + 1}, the header says {col}"
            assert col - 1 + len(c.group(2)) <= max(len(expected_src), col), \
                "the caret runs past the end of the source line"
            k += 1
        if k < len(lines) and lines[k].startswith("  hint:"):
            assert HINT.match(lines[k]), f"empty hint: {lines[k]!r}"
            k += 1
    return count


def test_there_are_enough_cases():
    assert len(CASES) >= 40
    orphans = sorted({p.stem for p in ERRORS.glob("*.err")} ^ set(CASES))
    assert not orphans, f".sem without .err or .err without .sem: {orphans}"
    stray_args = sorted(p.stem for p in ERRORS.glob("*.args") if p.stem not in CASES)
    assert not stray_args, f".args without .sem: {stray_args}"


@pytest.mark.parametrize("name", CASES)
def test_error_golden(name, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    status, out, err = _run(name, capsys)
    assert "Traceback" not in err and "Traceback" not in out
    assert "internal error" not in err
    assert status == 1, f"exit status {status}, stderr:\n{err}"
    assert err == _expected(name)
    assert _check_shape(name, err) >= 1


@pytest.mark.parametrize("name", ["unknown_node", "set_out_of_range"])
def test_error_as_subprocess(name):
    """``python -m semdsl check`` exits 1 with the rendered message and no traceback."""
    env = dict(os.environ)
    env.pop("PYTHONBREAKPOINT", None)
    proc = subprocess.run([sys.executable, "-m", "semdsl", "check", f"tests/errors/{name}.sem",
                           *_args(name)], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.stderr == _expected(name)
