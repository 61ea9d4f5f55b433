"""Mutation fuzzing of model files: the mutator and the per-input oracle.

Shared by ``tests/test_fuzz.py`` (a few thousand inputs) and ``bench/fuzz.py`` (10^5).

The seeds are every ``models/*.sem``, every ``tests/errors/*.sem`` and a few extra
models below (every statement kind of LANGUAGE.md, an edge list read from a file).
A mutated input is *bytes* (byte flips can make invalid UTF-8), built from one seed by
1-3 of: bit flips, truncation, swapping two tokens, deleting a brace/bracket/paren,
replacing a number by a huge, tiny or odd one (1e308, 1e999, 400 digits, -0, nan,
...), replacing a name by another name or a keyword, inserting unicode (combining
marks, RTL marks, emoji, NUL, BOM, line separators, invalid UTF-8), inserting a
random token, duplicating, deleting or swapping lines, inserting a statement of another seed.  Input ``i`` of a run depends
only on ``(seed, i)``, so any input can be regenerated from its number.

The oracle (:func:`run_one`): decode the bytes as a model file is read
(:func:`semdsl.parser.decode_source`), ``semdsl.loads``, then ``semdsl.compile`` with
small limits.  Allowed outcomes: ``ok``, or a :class:`~semdsl.errors.SemdslError`
every diagnostic of which points into the input (``fuzz.sem:LINE:COL`` with the
quoted source line being line LINE of the input) or into a file the model reads
(``edgelist``).  Anything else -- another exception type, a diagnostic without a
position, a position outside the file, a quoted line that is not the line named --
is a failure, and so is running past the time limit.
"""

from __future__ import annotations

import random
import re
import signal
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILE = "fuzz.sem"
MAX_STATES = 20000
MAX_TRANSITIONS = 200000

#: extra seeds: every kind of statement and clause, and an edge list read from a file
EXTRA_SEEDS = {
    "extra_all_statements.sem": """\
model everything "every statement kind"
param n = 6 in 2..50 "size"
param beta = 2
param p = 0.9 in 0..1
let half = n / 2
node a { F = 1.0; F_test = 0.5 }
node b if n > 1 with probability 1 { F = 0 }
node h[i in 1..n] { F ~ normal(0, 1); G ~ uniform(0, 1); B2 ~ exponential(rate = 2) }
node s[k in 1..3, j in 1..2] { F = 1 / k + j }
graph g = lattice(3, 3, periodic = true) with probability p sites with probability 1 { F ~ gamma(2, 0.5) }
graph tr = tree(2, 3) { F = depth }
graph er = erdos_renyi(8, mean_degree = 2)
edge a -- h[1]
edge h[i] -- h[i + 1] for i in 1..n - 1 if i < half + 3 with probability p { weight = 2; B ~ lognormal(0, 1) }
edge h[n] -> b { rate = 0.5 }
edge s[k, j] -> s[k + 1, j] for k in 1..2, j in 1..2
edge b -- g[1, 1]
edge tr[1] -- er[1]
edge a -- s[1, 1]
edge a -- tr[2]
rate arrhenius(R0 = 1, beta = beta)
init { a = 0.25, h[1] = 0.75 }
observable m = mean(F)
observable md = median(F)
observable qq = quantile(F, 0.9)
observable pr = prob({a, h[2]})
observable fp = first_passage(where(F < 0))
observable sp = msd(x, y)
observable vis = visited()
observable con = connected(a, b)
observable lc = largest_cluster()
observable mr = min_reachable(F)
predict m, md over t in 0.1..10 log points 5 using exact, simulation with walkers = 100
predict fp over beta in 1..2 points 3 using exact with realizations = 2, fit = powerlaw
predict pr at t = 1 using exact
predict qq stationary using exact, theory
predict lc, con, mr using theory
""",
    "extra_edgelist.sem": """\
model ext
param beta = 1
graph g = edgelist("landscape.csv") { F = label / 10 }
rate = exp(-beta * (dst.F - src.F)) / src.degree
init g[1]
observable home = prob(g[1])
predict home over t in 0..2 points 3 using exact
""",
    "extra_boltzmann.sem": """\
param beta = 1.5
node x[i in 0..10] { F = (i - 5)^2 / 10 }
edge x[i] -- x[i + 1] for i in 0..9
rate glauber(1, beta)
init boltzmann(beta)
observable e = mean(F)
predict e over beta in 0.5..2 points 4
""",
}

#: the edge list ``extra_edgelist.sem`` reads (written into the run's directory)
EDGELIST_CSV = "source,target\n1,2\n2,3\n3,1\n3,4\n4,5\n"

HUGE = ["1e308", "1e309", "1e999", "-1e308", "1e-308", "1e-400", "1e-99999", "0e99999",
        "9" * 400, "1" + "0" * 400, "0." + "0" * 400 + "1", "-0", "0", "0.0", "nan", "NaN",
        "inf", "-inf", "Infinity", "4294967296", "9223372036854775808", "1e18", "1e9", "1e6",
        "123456789012345678901234567890", ".5", "1e+5", "2.5E6", "-1", "0.5", "3", "100000",
        "1e99999999", "9e" + "9" * 30, "2^2^2^2^2^2^2", "10^10^10", "(1/0)", "0/0", "-(-1)"]
UNICODE = ["\u0301", "e\u0301", "\u202e", "\u200f", "\u200b", "\U0001F600", "\x00", "\ufeff",
           "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\r", "\t", "\uff26", "\u03b2", "\u00e9",
           "\ud7ff", "\U0010ffff", "\u0000\u0000", "\\", "\"", "'", "#", "\u00a0", "\x1c"]
INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                b"\x80", b"\xc0\xaf"]
WORDS = ["model", "param", "let", "node", "graph", "edge", "rate", "init", "observable",
         "predict", "in", "for", "if", "with", "probability", "over", "using", "at", "log",
         "points", "stationary", "sites", "t", "src", "dst", "degree", "true", "false",
         "and", "or", "not", "exp", "min", "max", "where", "uniform", "normal", "boltzmann",
         "lattice", "tree", "sierpinski", "edgelist", "arrhenius", "barrier", "F", "B",
         "weight", "x", "y", "i", "j", "n", "exact", "theory", "simulation", "walkers",
         "realizations", "fit", "powerlaw", "threshold", "mean", "prob", "first_passage",
         "msd", "visited", "connected", "largest_cluster", "min_reachable", "quantile"]
PUNCT = ["{", "}", "(", ")", "[", "]", ",", ";", "=", "~", "..", "--", "->", "*", "^", "**",
         "+", "-", "/", "<", "<=", "==", "!=", ">", "\n", " ", "\\\n", ".", "\"", "#"]

TOKEN = re.compile(r'"[^"\n]*"|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?'
                   r'|\.\.|--|->|\*\*|[<>=!]=|\S')
NUMBER = re.compile(r'(?<![A-Za-z_0-9.])(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?')
NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
BRACKETS = "{}()[]"


def seeds() -> list[tuple[str, str]]:
    """(name, text) of every seed, in a fixed order."""
    out = []
    for p in sorted((ROOT / "models").glob("*.sem")) + sorted((ROOT / "tests" / "errors").glob("*.sem")):
        out.append((str(p.relative_to(ROOT)), p.read_text("utf-8")))
    out += sorted(EXTRA_SEEDS.items())
    return out


# ------------------------------------------------------------------ the mutator
def _spans(pattern: re.Pattern, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


def _bit_flips(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        k = rng.randrange(len(b))
        b[k] ^= 1 << rng.randrange(8)
    return bytes(b)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


def _swap_tokens(rng, text):
    toks = _spans(TOKEN, text)
    if len(toks) < 2:
        return text
    (a0, a1), (b0, b1) = sorted(rng.sample(toks, 2))
    return text[:a0] + text[b0:b1] + text[a1:b0] + text[a0:a1] + text[b1:]


def _delete_bracket(rng, text):
    pos = [k for k, c in enumerate(text) if c in BRACKETS]
    if not pos:
        return text
    k = rng.choice(pos)
    return text[:k] + text[k + 1:]


def _number(rng, text):
    nums = _spans(NUMBER, text)
    new = rng.choice(HUGE)
    if nums and rng.random() < 0.85:
        a, b = rng.choice(nums)
        return text[:a] + new + text[b:]
    k = rng.randrange(len(text) + 1)
    return text[:k] + new + text[k:]


def _rename(rng, text):
    names = _spans(NAME, text)
    if not names:
        return text
    a, b = rng.choice(names)
    pool = [text[x:y] for x, y in names]
    new = rng.choice(pool + WORDS) if rng.random() < 0.7 else rng.choice(pool) + rng.choice(["_", "x", "1", ""])
    return text[:a] + new + text[b:]


def _unicode(rng, text):
    k = rng.randrange(len(text) + 1)
    return text[:k] + rng.choice(UNICODE) + text[k:]


def _insert_token(rng, text):
    k = rng.randrange(len(text) + 1)
    tok = rng.choice(WORDS + PUNCT)
    return text[:k] + (f" {tok} " if tok[0].isalpha() else tok) + text[k:]


def _lines(rng, text):
    lines = text.split("\n")
    if not lines:
        return text
    k = rng.randrange(len(lines))
    what = rng.randrange(3)
    if what == 0:
        lines.insert(k, lines[k])
    elif what == 1:
        del lines[k]
    else:
        j = rng.randrange(len(lines))
        lines[k], lines[j] = lines[j], lines[k]
    return "\n".join(lines)


_LINE_POOL: list[str] = []


def _splice(rng, text):
    """A statement line of another seed file, inserted at a random line (new combinations
    of valid statements reach the checker and the compiler)."""
    if not _LINE_POOL:
        _LINE_POOL.extend(line for _, t in seeds() for line in t.split("\n")
                          if line.split(None, 1)[:1] and line.split(None, 1)[0] in
                          ("param", "let", "node", "graph", "edge", "rate", "init", "observable", "predict"))
    lines = text.split("\n")
    lines.insert(rng.randrange(len(lines) + 1), rng.choice(_LINE_POOL))
    return "\n".join(lines)


TEXT_MUTATIONS = [_swap_tokens, _delete_bracket, _number, _number, _rename, _rename, _unicode,
                  _insert_token, _lines, _lines, _splice, _splice]
BYTE_MUTATIONS = ["flip", "truncate", "invalid"]


def mutate(rng: random.Random, text: str) -> tuple[bytes, list[str]]:
    """1-3 mutations of ``text``; returns the bytes and the names of the mutations."""
    done: list[str] = []
    data: bytes | None = None
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        if data is None and rng.random() < 0.8:
            m = rng.choice(TEXT_MUTATIONS)
            text = m(rng, text) if text else text
            done.append(m.__name__.lstrip("_"))
            continue
        if data is None:
            data = text.encode("utf-8")
        kind = rng.choice(BYTE_MUTATIONS)
        if kind == "flip":
            data = _bit_flips(rng, data)
        elif kind == "truncate":
            data = _truncate(rng, data)
        else:
            k = rng.randrange(len(data) + 1)
            data = data[:k] + rng.choice(INVALID_UTF8) + data[k:]
        done.append(kind)
    return (data if data is not None else text.encode("utf-8")), done


def nth_input(seed: int, i: int, corpus: list[tuple[str, str]]) -> tuple[str, bytes, list[str]]:
    """Input number ``i`` of a run with this seed: (seed file name, bytes, mutations)."""
    rng = random.Random(seed * 1_000_003 + i)
    name, text = corpus[rng.randrange(len(corpus))]
    data, done = mutate(rng, text)
    return name, data, done


# ------------------------------------------------------------------- the oracle
class Timeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise Timeout()


@dataclass
class Outcome:
    kind: str  # "ok", "error" (a located SemdslError), "bad-error", "format", "exception", "timeout"
    detail: str = ""
    seconds: float = 0.0


def check_error(exc, text: str, file: str = FILE) -> str | None:
    """None when every diagnostic of ``exc`` points into ``text`` (or into a file the
    model reads); else what is wrong with it."""
    rendered = str(exc)
    if not exc.diagnostics:
        return "an error without diagnostics"
    rows = text.split("\n")
    split: dict = {}
    for d in exc.diagnostics[:50]:
        sp = d.span
        if sp is None or sp.line < 1 or sp.column < 1:
            return f"no position: {d.render()!r}"
        if not d.message.strip():
            return "an empty message"
        if sp.file != file:
            if Path(sp.file).name == "landscape.csv" or sp.file.endswith(".csv"):
                continue  # a position in the edge list the model reads
            return f"position in another file: {sp.file!r}"
        head = f"{file}:{sp.line}:{sp.column}: "
        if head not in rendered:
            return f"{head!r} not in the rendered message"
        if sp.line > len(rows):
            return f"line {sp.line} is past the end of the input ({len(rows)} lines)"
        shown = d.render(exc.sources, split).split("\n")
        if len(shown) < 3:
            return f"no source line or caret: {d.render(exc.sources, split)!r}"
        want = "  " + rows[sp.line - 1].rstrip("\r").expandtabs(1)
        if shown[1] != want:
            return f"quoted line {shown[1]!r} is not line {sp.line} {want!r}"
        if not re.fullmatch(r"  ( *)\^+", shown[2]) or len(shown[2]) - len(shown[2].lstrip()) != sp.column + 1:
            return f"caret line {shown[2]!r} is not under column {sp.column}"
    return None


def format_problem(tree, file: str = FILE) -> str | None:
    """None when ``semdsl fmt`` round-trips this parsed input: the canonical text parses
    to the same tree, formatting it again changes nothing, and no comment is lost."""
    from semdsl.format import format_model
    from semdsl.parser import parse
    out = format_model(tree)
    again = parse(out, file)
    if again != tree:
        return "format changes the tree:\n" + out
    if format_model(again) != out:
        return "format is not idempotent:\n" + out
    kept = sum(1 for line in out.split("\n") if "#" in line)
    if kept < sum(1 for _ in re.finditer(r'(?m)^[^"#\n]*(?:"[^"\n]*"[^"#\n]*)*#', tree.source)):
        return "format lost a comment:\n" + out
    return None


def run_one(data: bytes, timeout: float = 5.0, file: str = FILE, fmt: bool = True) -> Outcome:
    """Decode, parse, (format round trip,) check and compile one input under a time limit
    (SIGALRM, so from the main thread only)."""
    from semdsl.compiler import compile_model
    from semdsl.errors import SemdslError
    from semdsl.parser import decode_source, parse
    from semdsl.semantics import check

    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    t0 = time.perf_counter()
    text = data.decode("utf-8", "replace")
    try:
        with warnings.catch_warnings():  # NumPy's overflow notes on absurd inputs are expected
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                text = decode_source(data, file)
                tree = parse(text, file)  # semdsl.loads(text) is check(parse(text))
                bad = format_problem(tree, file) if fmt else None
                if bad:
                    return Outcome("format", bad, time.perf_counter() - t0)
                model = check(tree)
                compile_model(model, max_states=MAX_STATES, max_transitions=MAX_TRANSITIONS)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        return Outcome("ok", seconds=time.perf_counter() - t0)
    except Timeout:
        return Outcome("timeout", f"over {timeout:g} s", time.perf_counter() - t0)
    except SemdslError as exc:
        bad = check_error(exc, text, file)
        if bad:
            return Outcome("bad-error", bad + "\n" + str(exc), time.perf_counter() - t0)
        return Outcome("error", str(exc).split("\n", 1)[0], time.perf_counter() - t0)
    except RecursionError as exc:
        return Outcome("exception", f"RecursionError: {str(exc)[:200]}", time.perf_counter() - t0)
    except Exception as exc:  # the bug class this fuzzer hunts
        return Outcome("exception", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
                       time.perf_counter() - t0)
    finally:
        signal.signal(signal.SIGALRM, old)


def write_edgelist(directory: Path) -> None:
    (directory / "landscape.csv").write_text(EDGELIST_CSV, "utf-8")
