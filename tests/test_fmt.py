"""``semdsl fmt``: canonical source that parses back to the same tree.

For every file in ``models/``, every parseable golden error input, every example of the
language contract, and a few hundred models generated from the grammar (hypothesis):

* ``parse(format_model(parse(src))) == parse(src)`` -- the syntax trees are equal with
  positions ignored (spans are ``compare=False``; :func:`semdsl.format.strip_spans`
  shows the difference when they are not);
* ``format_model`` is idempotent;
* no comment is lost.
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import semdsl
from semdsl import syntax as S
from semdsl.cli import main
from semdsl.errors import SemdslError
from semdsl.format import format_expr, format_model, strip_spans
from semdsl.parser import parse

from conftest import ROOT

MODELS = sorted((ROOT / "models").glob("*.sem"))
ERRORS = sorted((ROOT / "tests" / "errors").glob("*.sem"))


def _comments(text: str) -> list[str]:
    """The comments of a model text (outside strings), in order."""
    out = []
    for row in text.split("\n"):
        m = re.match(r'^(?:[^"#]|"[^"\n]*")*(#.*)$', row.rstrip("\r"))
        if m:
            out.append(m.group(1).rstrip())
    return out


def assert_round_trip(src: str, file: str = "x.sem") -> str:
    """Format ``src``; check the tree, idempotence and comments; return the canonical text."""
    tree = parse(src, file)
    out = format_model(tree)
    again = parse(out, file)
    if again != tree:
        a = repr(strip_spans(tree)).replace("), (", "),\n(").splitlines()
        b = repr(strip_spans(again)).replace("), (", "),\n(").splitlines()
        diff = "\n".join(difflib.unified_diff(a, b, "source", "formatted", lineterm="", n=1))
        pytest.fail(f"formatting changed the tree of {file}:\n{out}\n{diff}")
    assert format_model(again) == out, f"formatting {file} twice changes it:\n{out}"
    assert _comments(out) == [c for c in _comments(src)], f"comments of {file} changed:\n{out}"
    assert out == "" or out.endswith("\n") and not out.endswith("\n\n")
    return out


# ------------------------------------------------------------------ fixed inputs
@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_models_round_trip(path):
    out = assert_round_trip(path.read_text("utf-8"), str(path))
    # the canonical text is the same model: it checks, with the same parameters
    a = semdsl.loads(path.read_text("utf-8"), str(path))
    b = semdsl.loads(out, str(path))
    assert list(a.params) == list(b.params) and list(a.observables) == list(b.observables)
    assert len(a.predictions) == len(b.predictions)


def test_error_inputs_round_trip():
    done = 0
    for path in ERRORS:
        src = path.read_text("utf-8")
        try:
            parse(src, str(path))
        except SemdslError:
            continue  # a syntax error: nothing to format
        assert_round_trip(src, str(path))
        done += 1
    assert done > 50


def _code_blocks(md: str) -> list[str]:
    return re.findall(r"```\n(.*?)```", md, flags=re.S)


@pytest.mark.parametrize("doc, least", [("docs/LANGUAGE.md", 5), ("../shared/LANGUAGE.md", 5),
                                        ("README.md", 1)])
def test_documented_examples_round_trip(doc, least):
    path = (ROOT / doc).resolve()
    if not path.exists():
        pytest.skip(f"no {doc}")
    done = 0
    for block in _code_blocks(path.read_text("utf-8")):
        try:
            parse(block, doc)
        except SemdslError:
            continue  # shell sessions, JSON, the statement summary, error samples
        assert_round_trip(block, doc)
        done += 1
    assert done >= least


@pytest.mark.parametrize("doc", ["docs/LANGUAGE.md", "../shared/LANGUAGE.md", "README.md"])
def test_inline_documented_statements_round_trip(doc):
    """Statements quoted inline (`init { a = 0.25, b = 0.75 }`, `rate = EXPR`, ...)."""
    path = (ROOT / doc).resolve()
    if not path.exists():
        pytest.skip(f"no {doc}")
    done = 0
    for code in re.findall(r"`([^`\n]+)`", path.read_text("utf-8")):
        if code.split(None, 1)[0] not in ("model", "param", "let", "node", "graph", "edge", "rate",
                                          "init", "observable", "predict"):
            continue
        try:
            parse(code, doc)
        except SemdslError:
            continue  # a pattern such as `rate LAW(ARGS)`
        assert_round_trip(code, doc)
        done += 1
    assert done >= 5


def test_layout_is_canonical():
    src = ("model  m   \"a title\"\n\n\n\nparam D=4000 in 0..1e6 \"size\"\nparam beta = 2\n"
           "let c=D/ 1000\n"
           "node h[ i in 1 .. 4 ]if i<3 with probability 1{F=1/i;G~normal( 0,1 )}\n"
           "edge h[i]--h[i+1] for i in 1..3{weight=2}\n"
           "rate arrhenius(R0=1,beta=beta)\ninit {h[1]=0.5,h[2]=0.5}\n"
           "observable o=mean(F)\nobservable longer_name=prob({h[1],h[2]})\n"
           "predict o,mean(G) over t in 0.1..10 log points 5 using exact,simulation with walkers=100\n")
    out = assert_round_trip(src)
    assert out == (
        'model m "a title"\n'
        "\n"
        'param D    = 4000 in 0..1e6 "size"\n'
        "param beta = 2\n"
        "let c = D / 1000\n"
        "node h[i in 1..4] if i < 3 with probability 1 { F = 1 / i; G ~ normal(0, 1) }\n"
        "edge h[i] -- h[i + 1] for i in 1..3 { weight = 2 }\n"
        "rate arrhenius(R0 = 1, beta = beta)\n"
        "init { h[1] = 0.5, h[2] = 0.5 }\n"
        "observable o           = mean(F)\n"
        "observable longer_name = prob({h[1], h[2]})\n"
        "predict o, mean(G) over t in 0.1..10 log points 5 using exact, simulation with walkers = 100\n")


def test_comments_and_blocks_are_kept():
    src = ("# header comment\n"
           "\n"
           "node a {   # after the brace\n"
           "    F = 1   # after an item\n"
           "\n"
           "    # before an item\n"
           "    G = 2; H = 3  # after two items\n"
           "}  # after the closing brace\n"
           "node b { F = 0 }    # one line\n"
           "edge a -- b \\\n"
           "    with probability 0.5   # continued\n"
           "init {\n"
           "  a = 0.5,\n"
           "  b = 0.5\n"
           "}\n"
           "\n\n"
           "# trailing comment\n")
    out = assert_round_trip(src)
    assert out == ("# header comment\n"
                   "\n"
                   "node a {  # after the brace\n"
                   "    F = 1  # after an item\n"
                   "\n"
                   "    # before an item\n"
                   "    G = 2\n"
                   "    H = 3  # after two items\n"
                   "}                                 # after the closing brace\n"
                   "node b { F = 0 }                  # one line\n"
                   "edge a -- b with probability 0.5  # continued\n"
                   "init {\n"
                   "    a = 0.5\n"
                   "    b = 0.5\n"
                   "}\n"
                   "\n"
                   "# trailing comment\n")


def test_comments_can_be_dropped():
    assert format_model(parse("# c\nnode a { F = 1 }  # d\n"), comments=False) == "node a { F = 1 }\n"


def test_hash_inside_strings_is_not_a_comment():
    out = assert_round_trip('model m "issue #12"  # a comment\nparam x = 1 "see #3"\n')
    assert out == 'model m "issue #12"  # a comment\nparam x = 1 "see #3"\n'


def test_empty_and_comment_only_files():
    assert format_model(parse("")) == ""
    assert format_model(parse("\n\n  \n")) == ""
    assert assert_round_trip("# only\n\n\n# comments\n") == "# only\n\n# comments\n"


def test_format_model_takes_text_trees_and_models():
    src = "node a { F = 1 }\n"
    assert format_model(src) == format_model(parse(src)) == format_model(semdsl.loads(src)) == src
    with pytest.raises(TypeError):
        format_model(42)


@pytest.mark.parametrize("src, canonical", [
    ("a + (b + c)", "a + (b + c)"),
    ("(a + b) + c", "a + b + c"),
    ("a * (b / c)", "a * (b / c)"),
    ("a - (b - c)", "a - (b - c)"),
    ("-(-x)", "-(-x)"),
    ("- -x", "-(-x)"),
    ("-(+x)", "-(+x)"),
    ("a - -b", "a - -b"),
    ("2^-x", "2^-x"),
    ("(2^3)^2", "(2^3)^2"),
    ("2**3**2", "2^3^2"),
    ("-2^2", "-2^2"),
    ("(-2)^2", "(-2)^2"),
    ("(a or b) or c", "(a or b) or c"),
    ("a or (b or c)", "a or (b or c)"),
    ("not not a", "not not a"),
    ("not (a and b)", "not (a and b)"),
    ("(not a) < b", "(not a) < b"),
    ("(a < b) < c", "(a < b) < c"),
    ("a < (b < c)", "a < (b < c)"),
    ("min(1, 2, (3))", "min(1, 2, 3)"),
    ("src.F - dst.F", "src.F - dst.F"),
    (".5e-3 + 1E6", ".5e-3 + 1E6"),
])
def test_expressions_keep_their_tree(src, canonical):
    e = parse(f"param x = {src}\n").statements[0].default
    assert format_expr(e) == canonical
    assert parse(f"param x = {canonical}\n").statements[0].default == e


def test_strip_spans_ignores_positions_only():
    a = parse("node a { F = 1 + 2 }\n")
    b = parse("\n\nnode   a {\n F = 1+2\n}\n")
    c = parse("node a { F = 1 + 3 }\n")
    assert strip_spans(a) == strip_spans(b) and a == b
    assert strip_spans(a) != strip_spans(c)


# ------------------------------------------------------------------ command line
def test_cli_fmt_prints_check_and_write(tmp_path, capsys):
    f = tmp_path / "m.sem"
    f.write_text("node a {F=1}\nnode b\nedge a--b\n", "utf-8")
    assert main(["fmt", str(f)]) == 0
    assert capsys.readouterr().out == "node a { F = 1 }\nnode b\nedge a -- b\n"
    assert main(["fmt", "--check", str(f)]) == 1
    cap = capsys.readouterr()
    assert "-node a {F=1}" in cap.out and "+node a { F = 1 }" in cap.out and "1 file not canonical" in cap.err
    assert main(["fmt", "-w", str(f)]) == 0
    assert f.read_text("utf-8") == "node a { F = 1 }\nnode b\nedge a -- b\n"
    assert "reformatted" in capsys.readouterr().err
    assert main(["fmt", "--check", str(f)]) == 0
    assert capsys.readouterr().out == ""


def test_cli_fmt_line_endings_and_bom(tmp_path, capsys):
    f = tmp_path / "crlf.sem"
    f.write_bytes(b"\xef\xbb\xbfnode a\r\nnode b\r\n")
    assert main(["fmt", "--check", str(f)]) == 1
    assert "only the line endings or a byte-order mark differ" in capsys.readouterr().out
    assert main(["fmt", "-w", str(f)]) == 0
    assert f.read_bytes() == b"node a\nnode b\n"
    assert main(["fmt", "--check", str(f)]) == 0


def test_cli_fmt_errors_are_diagnostics(tmp_path, capsys):
    bad = tmp_path / "bad.sem"
    bad.write_text("node a { F = }\n", "utf-8")
    binary = tmp_path / "bin.sem"
    binary.write_bytes(b"node a { F = 1 }\nnode \xff\xfe b\n")
    ok = tmp_path / "ok.sem"
    ok.write_text("node a\n", "utf-8")
    assert main(["fmt", "--check", str(bad), str(binary), str(ok)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:1:14: error: syntax error" in err
    assert f"{binary}:2:6: error: the file is not UTF-8 text" in err
    assert "Traceback" not in err
    assert main(["fmt", str(tmp_path / "missing.sem")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_cli_fmt_standard_input():
    out = subprocess.run([sys.executable, "-m", "semdsl", "fmt", "-"], input=b"node  a\n",
                         capture_output=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout == b"node a\n", out.stderr
    out = subprocess.run([sys.executable, "-m", "semdsl", "fmt", "-"], input=b"node \xff\n",
                         capture_output=True, cwd=ROOT)
    assert out.returncode == 1 and b"<stdin>:1:6: error: the file is not UTF-8" in out.stderr


# --------------------------------------------------------- generated models
NUMBERS = ["0", "1", "2", "3", "0.5", "0.25", "1.5", "10", "1e-3", "2.5E2", ".5", "1e2", "100"]
FUNCS1 = ["exp", "sqrt", "abs", "sin", "cos", "tanh", "log", "floor", "ceil"]


def _paren(s: str) -> str:
    return f"({s})"


def exprs(names: list[str], max_leaves: int = 6) -> st.SearchStrategy[str]:
    """Arithmetic over ``names``, numbers and constants; valid syntax in any position."""
    leaves = st.sampled_from(NUMBERS + ["pi", "e"] + list(names))

    def extend(sub):
        # any two expressions joined by an operator are an expression (whatever it groups as)
        return st.one_of(
            st.tuples(sub, st.sampled_from([" + ", " - ", " * ", " / ", "^", " ** ", "+", "*", "/"]), sub)
            .map("".join),
            sub.map(lambda s: f"-{_paren(s)}"),
            sub.map(_paren),
            st.tuples(st.sampled_from(FUNCS1), sub).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(["min", "max"]), st.lists(sub, min_size=2, max_size=3))
            .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        )
    return st.recursive(leaves, extend, max_leaves=max_leaves)


def conds(names: list[str]) -> st.SearchStrategy[str]:
    cmp = st.tuples(exprs(names, 3), st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), exprs(names, 3)) \
        .map(lambda t: f"{t[0]} {t[1]} {t[2]}")
    base = st.one_of(cmp, st.sampled_from(["true", "false"]))
    return st.recursive(base, lambda sub: st.one_of(
        sub.map(lambda s: f"not {_paren(s)}"),
        st.tuples(sub, st.sampled_from(["and", "or"]), sub).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        sub.map(_paren)), max_leaves=3)


DISTS = ["normal({a}, 1)", "uniform(0, {a})", "exponential(rate = 2)", "exponential(mean = 0.5)",
         "gamma(2, 0.5)", "lognormal(0, 1)", "normal(mean = {a}, sd = 0.5)"]


@st.composite
def models(draw) -> str:
    """The text of a valid model, with random layout, comments and blank lines."""
    out: list[str] = []
    sep = draw(st.sampled_from(["\n", "\n", "\r\n"]))

    def comment() -> str:
        return draw(st.sampled_from(["", "", "", "  # note", "   # a \"quoted\" # word", "# x"]))

    def blank() -> None:
        if draw(st.integers(0, 4)) == 0:
            out.append("")
        if draw(st.integers(0, 6)) == 0:
            out.append(draw(st.sampled_from(["# a comment", "   # indented comment", "#"])))

    def block(items: list[str], joiner: str = "; ") -> str:
        if not items:
            return draw(st.sampled_from(["", "", " {}", " { }"]))
        if draw(st.booleans()):
            return " { " + joiner.join(items) + " }"
        lines = [" {" + comment()]
        for it in items:
            if draw(st.integers(0, 5)) == 0:
                lines.append("    # inside")
            lines.append("    " + it + comment())
        return sep.join(lines) + sep + "}"

    if draw(st.booleans()):
        out.append("model m" + draw(st.sampled_from(["", ' "a title"', ' "#1 model"'])) + comment())
    params: list[str] = []
    for k in range(draw(st.integers(0, 3))):
        name = f"p{k}"
        default = draw(st.sampled_from(["1", "2", "0.5", "3"]))
        if params and draw(st.booleans()):
            default = f"{default} + {draw(st.sampled_from(params))} * 0"
        rng = draw(st.sampled_from(["", " in 0..10", " in 0.1..1e3", " in -1..5"]))
        doc = draw(st.sampled_from(["", ' "a doc"', ' "doc #2"']))
        out.append(f"param {name} = {default}{rng}{doc}{comment()}")
        params.append(name)
    blank()
    lets: list[str] = []
    for k in range(draw(st.integers(0, 2))):
        out.append(f"let l{k} = {draw(exprs(params + lets, 4))}{comment()}")
        lets.append(f"l{k}")
    blank()
    consts = params + lets

    # families: (name, ndim, index upper bounds, attributes)
    fams: list[tuple[str, int, list[str]]] = []
    attrs_all = {"F"}
    for k in range(draw(st.integers(1, 3))):
        name = f"n{k}"
        nd = draw(st.integers(0, 2))
        idx = ["i", "j"][:nd]
        decl = ("[" + ", ".join(f"{v} in 1..{draw(st.sampled_from(['2', '3', '4']))}" for v in idx) + "]"
                if nd else "")
        cond = f" if {draw(conds(consts + idx))}" if draw(st.integers(0, 3)) == 0 else ""
        prob = f" with probability {draw(st.sampled_from(['1', '0.5', 'min(1, 0.9)']))}" \
            if draw(st.integers(0, 3)) == 0 else ""
        items, seen = [], list(idx)
        for a in draw(st.lists(st.sampled_from(["F", "G", "F_test", "acc"]), unique=True, max_size=3)):
            if draw(st.booleans()):
                items.append(f"{a} = {draw(exprs(consts + seen))}")
            else:
                items.append(f"{a} ~ " + draw(st.sampled_from(DISTS)).format(a=draw(st.sampled_from(NUMBERS))))
            seen.append(a)
            attrs_all.add(a)
        out.append(f"node {name}{decl}{cond}{prob}{block(items)}{comment()}")
        fams.append((name, nd, []))
    graph = draw(st.sampled_from([None, "lattice(3, 2)", "lattice(2, 2, periodic = true)", "tree(2, 2)",
                                  "sierpinski(1)", "erdos_renyi(6, mean_degree = 2)", "erdos_renyi(5, p = 0.5)",
                                  "random_regular(6, 2)", "triangular(2, 3)", "honeycomb(2, 2)", "lattice(4)"]))
    coords = False
    if graph:
        extra = draw(st.sampled_from(["", " with probability 0.9", " sites with probability 0.9",
                                      " with probability 1 sites with probability 1"]))
        items = [f"F = {draw(exprs(consts))}"] if draw(st.booleans()) else []
        out.append(f"graph g = {graph}{extra}{block(items)}{comment()}")
        nd = 2 if graph.startswith(("lattice(3, 2)", "lattice(2, 2", "triangular", "honeycomb")) else 1
        fams.append(("g", nd, []))
        coords = graph.startswith(("lattice(3", "lattice(2", "sierpinski", "triangular", "honeycomb"))
    blank()

    def member(fam, vars_) -> str:
        name, nd, _ = fam
        if nd == 0:
            return name
        subs = [draw(st.sampled_from([v, f"{v} + 1", "1"])) if v else "1" for v in (vars_ + [None, None])[:nd]]
        return f"{name}[{', '.join(subs)}]"

    for _ in range(draw(st.integers(0, 3))):
        a, b = draw(st.sampled_from(fams)), draw(st.sampled_from(fams))
        use_for = draw(st.booleans())
        vars_ = ["i", "j"] if use_for else []
        src, dst = member(a, vars_), member(b, vars_)
        used = sorted({v for v in vars_ if re.search(rf"\b{v}\b", src + " " + dst)})
        fors = (" for " + ", ".join(f"{v} in 1..{draw(st.sampled_from(['1', '2', '3']))}" for v in used)) \
            if used else ""
        cond = f" if {draw(conds(consts + used))}" if used and draw(st.integers(0, 2)) == 0 else ""
        prob = " with probability 0.5" if draw(st.integers(0, 3)) == 0 else ""
        items = draw(st.lists(st.sampled_from(["weight = 2", "B ~ exponential(rate = 1)", "rate = 0.5",
                                               "q = src.F + dst.F"]), unique=True, max_size=2))
        op = draw(st.sampled_from(["--", "->", " -- ", " -> "]))
        out.append(f"edge {src} {op.strip()} {dst}{fors}{cond}{prob}{block(items)}{comment()}")
    if draw(st.booleans()):
        rate = draw(st.sampled_from([
            "rate arrhenius(1, 2)", "rate metropolis(R0 = 1, beta = 0.5)", "rate glauber(1, beta = 1)",
            "rate barrier(2, 1)", "rate uniform(1)", "rate uniform(R0 = 3)",
            "rate = exp(-(dst.F - src.F)) * edge.weight", "rate = 1 / (1 + src.degree)"]))
        out.append(rate + comment())
    init = draw(st.sampled_from(["uniform", "boltzmann(1)", "boltzmann(beta = 2)", "member", "block", None]))
    if init == "member":
        out.append(f"init {member(draw(st.sampled_from(fams)), [])}{comment()}")
    elif init == "block":
        fam = draw(st.sampled_from(fams))
        items = [f"{member(fam, [])} = 0.5", f"{member(fam, [])} = 0.5"]
        out.append("init" + block(items, ", ") + comment())
    elif init is not None:
        out.append(f"init {init}{comment()}")
    blank()

    attrs = sorted(attrs_all)

    def a_set() -> str:
        fam = draw(st.sampled_from(fams))
        choices = [member(fam, []), f"where({draw(conds(attrs + consts))})", "{" + member(fam, []) + "}"]
        if fam[1]:
            choices.append(f"{fam[0]}[{', '.join(['*'] * fam[1])}]")
        return draw(st.sampled_from(choices))

    kinds = {
        "mean": lambda: f"mean({draw(exprs(attrs + consts, 4))})",
        "median": lambda: "median(F)",
        "quantile": lambda: f"quantile(F, {draw(st.sampled_from(['0.5', '0.9', '0.1']))})",
        "prob": lambda: f"prob({a_set()})",
        "first_passage": lambda: f"first_passage({a_set()})",
        "visited": lambda: "visited()",
        "connected": lambda: f"connected({a_set()}, {a_set()})",
        "largest_cluster": lambda: "largest_cluster()",
        "min_reachable": lambda: "min_reachable(F)",
    }
    if coords:
        kinds["msd"] = lambda: "msd(x, y)"
    obs: dict[str, str] = {}
    for k, kind in enumerate(draw(st.lists(st.sampled_from(sorted(kinds)), max_size=4))):
        obs[f"o{k}"] = kind
        out.append(f"observable o{k} = {kinds[kind]()}{comment()}")
    for _ in range(draw(st.integers(0, 3))):
        names = draw(st.lists(st.sampled_from(sorted(obs)), max_size=2, unique=True)) if obs else []
        chosen = {obs[n] for n in names}
        items = names + [kinds[k]() for k in draw(st.lists(st.sampled_from(["mean", "prob", "median"]),
                                                           max_size=2))]
        if not items:
            items.append(kinds["mean"]())
        graph_only = chosen & {"connected", "largest_cluster", "min_reachable"}
        no_stationary = chosen & {"visited", "first_passage"}
        axes = [""]
        if not graph_only:
            axes += [" at t = 1", " over t in 0.1..10 log points 5", " over t in 0..2 points 3"]
        if not graph_only and not no_stationary:
            axes.append(" stationary")
        if params:
            axes.append(f" over {params[0]} in 1..2 points 3")
        axis = draw(st.sampled_from(axes))
        methods = draw(st.lists(st.sampled_from(["exact", "theory", "simulation"]), unique=True, max_size=3))
        options = draw(st.lists(st.sampled_from(["walkers = 100", "realizations = 2", "seed = 3",
                                                 "t_max = 100"]), unique=True, max_size=2))
        if " over " in axis and draw(st.booleans()):
            options.append("fit = powerlaw" if " t " in axis or params == [] else
                           draw(st.sampled_from(["fit = powerlaw", "fit = threshold"])))
        out.append("predict " + ", ".join(items) + axis
                   + (" using " + ", ".join(methods) if methods else "")
                   + (" with " + ", ".join(options) if options else "") + comment())
    return sep.join(out) + draw(st.sampled_from(["", sep, sep + sep]))


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(models())
def test_generated_models_check_and_round_trip(src):
    model = semdsl.loads(src, "gen.sem")  # valid by construction
    out = assert_round_trip(src, "gen.sem")
    again = semdsl.loads(out, "gen.sem")
    assert list(again.params) == list(model.params)
    assert [f for f in again.families] == [f for f in model.families]
    assert len(again.edges) == len(model.edges) and len(again.predictions) == len(model.predictions)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(exprs(["a", "b", "src.F"], max_leaves=12), conds(["a", "b"]))
def test_generated_expressions_keep_their_tree(e, c):
    for text in (e, c):
        tree = parse(f"param x = {text}\n").statements[0].default
        canon = format_expr(tree)
        assert parse(f"param x = {canon}\n").statements[0].default == tree
        assert format_expr(parse(f"param x = {canon}\n").statements[0].default) == canon


def test_syntax_nodes_all_have_a_format():
    # every expression node type the parser builds can be printed
    for cls in (S.Num, S.Bool, S.Str, S.Name, S.Attribute, S.Indexed, S.Call, S.BinOp, S.Unary,
                S.Compare, S.BoolOp, S.Not, S.NodeRef, S.SetLiteral, S.Star):
        assert cls.__name__ in open(ROOT / "semdsl" / "format.py").read()
