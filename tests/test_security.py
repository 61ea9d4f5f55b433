"""Security: a model file reads nothing outside its own directory unless --allow-path
says so, and the package never hands text it did not write to an interpreter
(eval, exec, sympify), never unpickles, never runs a shell.

The AST scan covers every ``.py`` file under ``semdsl/``; it is checked against a
snippet full of violations so that a broken scanner cannot pass silently.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

import semdsl
from semdsl.cli import main
from semdsl.compiler import compile_model
from semdsl.errors import CompileError

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "semdsl"


# ------------------------------------------------------------ paths in model files
@pytest.fixture
def tree(tmp_path):
    """tmp/models (the model's directory, with edges.csv), tmp/secret.csv, tmp/data/other.csv."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "edges.csv").write_text("1 2\n2 3\n")
    (models / "sub").mkdir()
    (models / "sub" / "deep.csv").write_text("1 2\n")
    (tmp_path / "secret.csv").write_text("1 2\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "other.csv").write_text("1 2\n2 3\n3 4\n")
    return tmp_path


def _model(tree: Path, path: str) -> Path:
    f = tree / "models" / "m.sem"
    f.write_text(f'graph g = edgelist("{path}")\ninit g[1]\n')
    return f


def _compile(f: Path, **kw):
    return compile_model(semdsl.load(f), **kw)


@pytest.mark.parametrize("path", ["edges.csv", "sub/deep.csv", "./sub/../edges.csv"])
def test_files_beside_the_model_are_read(tree, path):
    assert _compile(_model(tree, path)).n >= 2


@pytest.mark.parametrize("path", ["../secret.csv", "../../etc/passwd", "/etc/passwd", "sub/../../secret.csv"])
def test_paths_outside_the_model_directory_are_refused(tree, path):
    f = _model(tree, path)
    with pytest.raises(CompileError) as err:
        _compile(f)
    text = str(err.value)
    assert f"m.sem:1:20: error: '{path}' is outside the model's directory" in text
    assert "--allow-path" in text


def test_a_symlink_that_leaves_the_directory_is_refused(tree):
    os.symlink(tree / "secret.csv", tree / "models" / "link.csv")
    os.symlink(tree / "data", tree / "models" / "linkdir")
    for path in ("link.csv", "linkdir/other.csv"):
        with pytest.raises(CompileError, match="outside the model's directory .it resolves to"):
            _compile(_model(tree, path))
    # a link that stays inside is fine
    os.symlink(tree / "models" / "edges.csv", tree / "models" / "inside.csv")
    assert _compile(_model(tree, "inside.csv")).n == 3


def test_allow_path_permits_one_more_directory(tree):
    f = _model(tree, "../data/other.csv")
    assert _compile(f, allow_path=[str(tree / "data")]).n == 4
    os.symlink(tree / "data" / "other.csv", tree / "models" / "link.csv")
    assert _compile(_model(tree, "link.csv"), allow_path=[str(tree / "data")]).n == 4
    # ... and nothing else
    with pytest.raises(CompileError, match="outside the model's directory"):
        _compile(_model(tree, "../secret.csv"), allow_path=[str(tree / "data")])


def test_devices_pipes_and_directories_are_not_read(tree):
    os.mkfifo(tree / "models" / "pipe.csv")   # opening it would block forever
    for path in ("pipe.csv", "sub"):
        with pytest.raises(CompileError, match="is not a regular file"):
            _compile(_model(tree, path))
    with pytest.raises(CompileError, match="is outside the model's directory"):
        _compile(_model(tree, "/dev/zero"))
    with pytest.raises(CompileError, match="is not a regular file"):
        _compile(_model(tree, "/dev/zero"), allow_path=["/dev"])


def test_cli_refuses_and_allows(tree, capsys):
    f = _model(tree, "../data/other.csv")
    assert main(["check", str(f)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "m.sem:1:20: error: '../data/other.csv' is outside the model's directory" in err
    assert 'graph g = edgelist("../data/other.csv")' in err and "^^^" in err
    assert "hint: model files may read files beside them; pass --allow-path DIR" in err
    assert main(["check", str(f), "--allow-path", str(tree / "data")]) == 0
    assert "nodes        4" in capsys.readouterr().out


# ------------------------------------------------------------- the package's code
BANNED_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle"}
CODE_BUILTINS = {"eval", "exec", "compile", "__import__"}
SYMPY_PARSERS = {"sympify", "parse_expr"}
SHELL_CALLS = {"os.system", "os.popen", "os.popen2", "os.popen3", "asyncio.create_subprocess_shell",
               "commands.getoutput"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return ""


def _constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant))


def _bound_names(tree: ast.Module) -> set[str]:
    """Names a module defines or imports itself (``def compile`` shadows the builtin)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Assign):
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return out


def scan(source: str, name: str = "<snippet>") -> list[str]:
    """Every dangerous construct in ``source``, as ``name:line: what``."""
    tree = ast.parse(source, name)
    bound = _bound_names(tree)
    found: list[str] = []

    def bad(node, what):
        found.append(f"{name}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in BANNED_MODULES:
                    bad(node, f"imports {a.name}")
        elif isinstance(node, ast.ImportFrom):
            mod = (node.module or "").split(".")[0]
            if mod in BANNED_MODULES:
                bad(node, f"imports from {node.module}")
            for a in node.names:
                if a.name in SYMPY_PARSERS and mod == "sympy" or a.name == "parse_expr":
                    bad(node, f"imports {a.name}")
        if not isinstance(node, ast.Call):
            continue
        func = _dotted(node.func)
        last = func.rsplit(".", 1)[-1]
        args = list(node.args) + [k.value for k in node.keywords]
        kw = {k.arg: k.value for k in node.keywords}
        if isinstance(node.func, ast.Name) and func in CODE_BUILTINS and func not in bound:
            if not all(_constant(a) for a in args):
                bad(node, f"{func}() of a non-constant")
        if last in SYMPY_PARSERS or func in ("S", "sp.S", "sympy.S"):
            if not all(_constant(a) for a in args):
                bad(node, f"{func}() of a non-constant (user text would be parsed by sympy)")
        if func.split(".")[0] in BANNED_MODULES or last in ("read_pickle", "unsafe_load"):
            bad(node, f"calls {func}")
        if "allow_pickle" in kw and not (isinstance(kw["allow_pickle"], ast.Constant)
                                         and kw["allow_pickle"].value is False):
            bad(node, f"{func}(allow_pickle=...)")
        if func in ("yaml.load", "yaml.load_all", "yaml.full_load"):
            loader = _dotted(kw.get("Loader", ast.Constant(None))) if "Loader" in kw else (
                _dotted(node.args[1]) if len(node.args) > 1 else "")
            if func == "yaml.full_load" or not loader.endswith("SafeLoader"):
                bad(node, f"{func} without SafeLoader")
        if func in SHELL_CALLS:
            bad(node, f"calls {func} (a shell)")
        if func.startswith("subprocess.") and "shell" in kw and not (
                isinstance(kw["shell"], ast.Constant) and kw["shell"].value is False):
            bad(node, f"{func}(shell=...)")
    return found


def test_the_scanner_finds_what_it_looks_for():
    snippet = '''
import pickle
import marshal as m
from shelve import open as sopen
import sympy as sp
from sympy.parsing.sympy_parser import parse_expr
import subprocess, os, yaml, numpy as np
eval(text)
exec(code, {})
compile(src, "f", "exec")
__import__(name)
sp.sympify(user)
sp.S(user)
parse_expr(user)
pickle.loads(blob)
np.load(f, allow_pickle=True)
yaml.load(fh)
yaml.load(fh, Loader=yaml.Loader)
subprocess.run(cmd, shell=True)
os.system(cmd)
'''
    found = scan(snippet)
    whats = "\n".join(found)
    for expected in ("imports pickle", "imports marshal", "imports from shelve", "imports parse_expr",
                     "eval() of a non-constant", "exec() of a non-constant", "compile() of a non-constant",
                     "__import__() of a non-constant", "sp.sympify() of a non-constant",
                     "sp.S() of a non-constant", "parse_expr() of a non-constant", "calls pickle.loads",
                     "np.load(allow_pickle=...)", "yaml.load without SafeLoader",
                     "subprocess.run(shell=...)", "calls os.system"):
        assert expected in whats, expected
    assert len([f for f in found if "yaml.load" in f]) == 2
    # constants and safe forms pass
    ok = '''
import sympy as sp, yaml, subprocess, re
x = sp.sympify(1)
y = sp.S(2)
z = eval("1 + 1")
r = re.compile(pattern)
d = yaml.load(fh, Loader=yaml.SafeLoader)
e = yaml.safe_load(fh)
subprocess.run(["ls", path], shell=False)
subprocess.run(["ls", path])
def compile(model): return model
compile(model)
'''
    assert scan(ok) == []


PY_FILES = sorted(PACKAGE.rglob("*.py"))


def test_the_package_is_scanned():
    names = {p.relative_to(PACKAGE).as_posix() for p in PY_FILES}
    assert {"compiler.py", "expr.py", "generators.py", "store.py", "cli.py", "solvers/exact.py"} <= names


@pytest.mark.parametrize("path", PY_FILES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_code_from_text_no_pickle_no_shell(path):
    found = scan(path.read_text("utf-8"), str(path.relative_to(ROOT)))
    assert found == [], "\n".join(found)
