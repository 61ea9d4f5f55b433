"""Expressions: from syntax nodes to sympy, and evaluation over whole arrays.

The compiler builds every sympy expression itself from the parse tree; user text is
never handed to ``eval``, ``exec`` or ``sympify``.  Numeric values come from
``sympy.lambdify`` (numpy back end) applied to whole arrays at once.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import numpy as np
import sympy as sp

from . import syntax as S

#: name -> (min args, max args, sympy constructor)
FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., sp.Expr]]] = {
    "exp": (1, 1, sp.exp),
    "log": (1, 1, sp.log),
    "sqrt": (1, 1, sp.sqrt),
    "sin": (1, 1, sp.sin),
    "cos": (1, 1, sp.cos),
    "tanh": (1, 1, sp.tanh),
    "abs": (1, 1, sp.Abs),
    "min": (2, None, sp.Min),
    "max": (2, None, sp.Max),
    "floor": (1, 1, sp.floor),
    "ceil": (1, 1, sp.ceiling),
}

CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "e": sp.E}

KEYWORDS = frozenset(("model param let node graph edge rate init observable predict in for "
                      "if with probability over using at log points stationary").split())
#: words with a fixed meaning: cannot name parameters, nodes, attributes, ...
RESERVED = KEYWORDS | {"t", "src", "dst", "edge", "true", "false", "and", "or", "not",
                       "degree"} | set(FUNCTIONS) | set(CONSTANTS)


def walk(e) -> Iterator:
    """Every syntax node of an expression, depth first."""
    yield e
    if isinstance(e, S.BinOp) or isinstance(e, S.Compare):
        yield from walk(e.left)
        yield from walk(e.right)
    elif isinstance(e, (S.Unary, S.Not)):
        yield from walk(e.operand)
    elif isinstance(e, S.BoolOp):
        for v in e.values:
            yield from walk(v)
    elif isinstance(e, S.Call):
        for a in e.args:
            yield from walk(a)
        for k in e.kwargs:
            yield from walk(k.value)
    elif isinstance(e, S.Indexed):
        for s in e.subs:
            yield from walk(s)
    elif isinstance(e, S.SetLiteral):
        for el in e.elems:
            yield from walk(el)
    elif isinstance(e, S.NodeRef):
        for s in e.subs or ():
            yield from walk(s)


def params_used(e, params, lets: Mapping[str, "S.Expr"], _seen: frozenset = frozenset()) -> set[str]:
    """The parameters an expression reads, directly or through ``let`` names (cycles stop)."""
    out: set[str] = set()
    for n in walk(e):
        if isinstance(n, S.Name):
            if n.id in params:
                out.add(n.id)
            elif n.id in lets and n.id not in _seen:
                out |= params_used(lets[n.id], params, lets, _seen | {n.id})
    return out


def free_names(e) -> list[S.Name]:
    """The bare names an expression uses (not function names, not attributes)."""
    return [n for n in walk(e) if isinstance(n, S.Name)]


class ExprError(Exception):
    """Raised while converting an expression the semantic pass should have rejected."""

    def __init__(self, node, message: str, hint: str | None = None):
        super().__init__(message)
        self.node = node
        self.message = message
        self.hint = hint


@dataclass
class Scope:
    """What names mean while converting one expression.

    ``names`` maps bare names to sympy objects; ``attrs`` maps (obj, attr) for
    ``src.F``-style references.  ``lets`` holds named expressions, expanded at the use
    site.
    """

    names: Mapping[str, sp.Expr]
    attrs: Mapping[tuple[str, str], sp.Expr] | None = None
    lets: Mapping[str, S.Expr] | None = None


def to_sympy(e, scope: Scope, _stack: tuple[str, ...] = ()) -> sp.Expr:
    """Build the sympy expression of ``e``.  Raises :class:`ExprError` on unknown names."""
    rec = functools.partial(to_sympy, scope=scope, _stack=_stack)
    if isinstance(e, S.Num):
        # exact: the literal's decimal value as a rational (0.25 -> 1/4, 1e-3 -> 1/1000)
        frac = Fraction(e.text)
        return sp.Integer(frac.numerator) if frac.denominator == 1 else sp.Rational(
            frac.numerator, frac.denominator)
    if isinstance(e, S.Bool):
        return sp.true if e.value else sp.false
    if isinstance(e, S.Name):
        if e.id in scope.names:
            return scope.names[e.id]
        if scope.lets and e.id in scope.lets:
            if e.id in _stack:
                raise ExprError(e, f"'let {e.id}' refers to itself")
            return to_sympy(scope.lets[e.id], scope, _stack + (e.id,))
        if e.id in CONSTANTS:
            return CONSTANTS[e.id]
        raise ExprError(e, f"unknown name '{e.id}'")
    if isinstance(e, S.Attribute):
        key = (e.obj.value, e.attr.value)
        if scope.attrs is not None and key in scope.attrs:
            return scope.attrs[key]
        raise ExprError(e, f"unknown attribute '{e.obj.value}.{e.attr.value}'")
    if isinstance(e, S.BinOp):
        a, b = rec(e.left), rec(e.right)
        if e.op == "+":
            return a + b
        if e.op == "-":
            return a - b
        if e.op == "*":
            return a * b
        if e.op == "/":
            return a / b
        return a ** b
    if isinstance(e, S.Unary):
        a = rec(e.operand)
        return -a if e.op == "-" else a
    if isinstance(e, S.Compare):
        a, b = rec(e.left), rec(e.right)
        return {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge,
                "==": sp.Eq, "!=": sp.Ne}[e.op](a, b)
    if isinstance(e, S.BoolOp):
        vals = [rec(v) for v in e.values]
        return sp.And(*vals) if e.op == "and" else sp.Or(*vals)
    if isinstance(e, S.Not):
        return sp.Not(rec(e.operand))
    if isinstance(e, S.Call):
        name = e.func.value
        if name not in FUNCTIONS:
            raise ExprError(e.func, f"unknown function '{name}'")
        lo, hi, ctor = FUNCTIONS[name]
        if e.kwargs:
            raise ExprError(e.kwargs[0], f"'{name}' takes no keyword arguments")
        n = len(e.args)
        if n < lo or (hi is not None and n > hi):
            want = f"{lo}" if lo == hi else f"at least {lo}"
            raise ExprError(e, f"'{name}' takes {want} argument{'s' if lo != 1 else ''}, got {n}")
        return ctor(*[rec(a) for a in e.args])
    if isinstance(e, S.Str):
        raise ExprError(e, "a string is not a number here")
    if isinstance(e, S.Indexed):
        raise ExprError(e, f"'{e.name.value}[...]' names a node, not a number")
    if isinstance(e, S.SetLiteral):
        raise ExprError(e, "a set is not a number here")
    raise ExprError(e, "unsupported expression")  # pragma: no cover


def numeric(expr: sp.Expr, what: str = "value") -> float:
    """A sympy expression without free symbols as a float (raises ValueError)."""
    if expr is sp.true:
        return 1.0
    if expr is sp.false:
        return 0.0
    if isinstance(expr, sp.logic.boolalg.Boolean):
        return 1.0 if bool(expr) else 0.0
    if expr.is_Number:  # fast path: Integer, Rational, Float
        return float(expr)
    if expr.free_symbols:
        names = ", ".join(sorted(str(s) for s in expr.free_symbols))
        raise ValueError(f"{what} depends on {names}, which has no number here")
    try:
        v = complex(sp.N(expr, 17))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not a number") from exc
    if abs(v.imag) > 1e-12 * max(1.0, abs(v.real)):
        raise ValueError(f"{what} is complex ({v})")
    return float(v.real)


_LAMBDA_CACHE: dict = {}


def vectorize(expr: sp.Expr, symbols: list[sp.Symbol]) -> Callable[..., np.ndarray]:
    """A numpy function of ``symbols`` evaluating ``expr`` over whole arrays."""
    key = (expr, tuple(symbols))
    f = _LAMBDA_CACHE.get(key)
    if f is None:
        f = sp.lambdify(symbols, expr, modules="numpy", dummify=True, cse=True)
        if len(_LAMBDA_CACHE) > 4096:
            _LAMBDA_CACHE.clear()
        _LAMBDA_CACHE[key] = f
    return f


def evaluate(expr: sp.Expr, values: Mapping[sp.Symbol, np.ndarray | float], n: int,
             dtype=float) -> np.ndarray:
    """Evaluate ``expr`` for ``n`` items; ``values`` binds its free symbols to arrays or scalars."""
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    missing = [s for s in syms if s not in values]
    if missing:
        raise ValueError("no value for " + ", ".join(s.name for s in missing))
    f = vectorize(expr, syms)
    with np.errstate(all="ignore"):
        out = f(*[values[s] for s in syms])
    out = np.asarray(out, dtype=dtype)
    if out.shape != (n,):
        out = np.broadcast_to(out, (n,)).copy()
    return out
