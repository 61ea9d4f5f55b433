"""Expressions: from syntax nodes to sympy, and evaluation over whole arrays.

The compiler builds every sympy expression itself from the parse tree; user text is
never handed to ``eval``, ``exec`` or ``sympify``.  Numeric values come from
``sympy.lambdify`` (numpy back end) applied to whole arrays at once.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

import numpy as np
import sympy as sp
from sympy.logic.boolalg import Boolean

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
    """The parameters an expression reads, directly or through ``let`` names (cycles stop).

    Each let is read once (a worklist, not recursion): chains of thousands of lets, or
    lets that use another let many times, cost their size, not their expansion."""
    out: set[str] = set()
    seen = set(_seen)
    todo = [e]
    while todo:
        for n in walk(todo.pop()):
            if isinstance(n, S.Name):
                if n.id in params:
                    out.add(n.id)
                elif n.id in lets and n.id not in seen:
                    seen.add(n.id)
                    todo.append(lets[n.id])
    return out


#: the largest expression (in syntax nodes) a use of lets may expand to; ``let a2 = a1 +
#: a1``, ``let a3 = a2 + a2``, ... doubles at each step and would otherwise make every
#: later pass exponential
MAX_EXPANDED_NODES = 100_000


def expr_extent(e, lets: Mapping[str, tuple[int, int]] | None = None,
                shadow: frozenset | set = frozenset()) -> tuple[int, int]:
    """(depth, node count) of an expression with its lets expanded.

    ``lets`` gives each let's own expanded (depth, count); a name in ``shadow`` means
    something else than the let of that name.  Iterative: any depth is fine."""
    lets = lets or {}
    depth = count = 0
    stack = [(e, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, (tuple, list)):
            stack.extend((c, d) for c in node)
            continue
        if isinstance(node, S.Name) and node.id in lets and node.id not in shadow:
            ld, lc = lets[node.id]
            depth, count = max(depth, d + ld), count + lc  # a let is one level more
            continue
        if not hasattr(node, "__dataclass_fields__"):
            continue
        depth, count = max(depth, d), count + 1
        for name in node.__dataclass_fields__:
            if name != "span":
                stack.append((getattr(node, name), d + 1))
    return depth, count


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
    #: each let's sympy value, built once per scope (a let used twice is not built twice)
    let_values: dict[str, sp.Expr] = field(default_factory=dict, repr=False, compare=False)


#: exact arithmetic on numbers stops at this many bits (about 420 decimal digits) in a
#: numerator or denominator: such a value is far outside the range of a double, which is
#: what every number finally becomes, so it continues as a float (``inf`` or 0 beyond
#: 1e+-400).  Without this bound ``2^2^2^2^2^2^2`` or ``1e99999999`` would hang or fill
#: the memory while sympy computes an exact integer of billions of digits.
MAX_EXACT_BITS = 1400
_HUGE = sp.Float("1e400")
_TINY = sp.Float("1e-400")


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text)} characters)"


def literal_problem(e: "S.Num") -> tuple[str, str] | None:
    """(message, hint) when a number literal has no double value, else None."""
    if not math.isfinite(e.value):
        return (f"the number {_short(e.text)} is too large for a double (the largest is about 1.8e308)",
                "write a smaller number; sizes and rates must fit in floating point")
    mant = e.text.lower().partition("e")[0]
    if e.value == 0 and mant.strip("0.") != "":
        return (f"the number {_short(e.text)} is too small for a double: it would be 0 "
                "(the smallest is about 5e-324)", "write 0 if zero is meant")
    return None


def _literal(e: "S.Num") -> sp.Expr:
    bad = literal_problem(e)
    if bad is not None:
        raise ExprError(e, *bad)
    text = e.text
    mant, _, ex = text.lower().partition("e")
    if len(text) <= 64 and (not ex or abs(int(ex)) <= 400):
        # exact: the literal's decimal value as a rational (0.25 -> 1/4, 1e-3 -> 1/1000)
        frac = Fraction(text)
    else:  # an absurdly long literal: the double it stands for, exactly
        frac = Fraction(e.value)
    return sp.Integer(frac.numerator) if frac.denominator == 1 else sp.Rational(
        frac.numerator, frac.denominator)


def _log10_abs(x: sp.Expr) -> float:
    """log10 |x| of a nonzero sympy number, without converting huge values to float."""
    if x.is_Integer:
        return math.log10(abs(int(x)))
    if x.is_Rational:
        return math.log10(abs(x.p)) - math.log10(x.q)
    v = abs(sp.Float(x))
    if v > _HUGE or v < _TINY:
        return math.inf if v > 1 else -math.inf
    return math.log10(float(v))


def bounded(x: sp.Expr) -> sp.Expr:
    """``x`` itself, or, when ``x`` is a number too large for exact arithmetic, its
    floating-point value (``oo`` above 1e400, 0 below 1e-400); zoo (1/0) becomes nan."""
    if x is sp.zoo:
        return sp.nan
    if not x.is_Number or x.is_zero or not x.is_finite:
        return x
    if x.is_Rational:
        if max(abs(x.p).bit_length(), x.q.bit_length()) <= MAX_EXACT_BITS:
            return x
        x = sp.Float(x, 17)
    a = abs(x)
    if a > _HUGE:
        return sp.oo if x > 0 else -sp.oo
    if a < _TINY:
        return sp.Integer(0)
    return x


def power(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``a ** b``, refusing exact results of more than ~400 digits (see :data:`MAX_EXACT_BITS`)."""
    if a.is_Number and b.is_Number and a.is_finite and b.is_finite and not a.is_zero \
            and a not in (sp.S.One, sp.S.NegativeOne):
        try:
            fb = float(b)
        except OverflowError:
            fb = math.inf if b > 0 else -math.inf
        digits = fb * _log10_abs(a) if fb != 0 else 0.0
        if not abs(digits) <= 420:  # also nan
            if digits < 0:
                return sp.Integer(0)
            if a > 0:
                return sp.oo
            if b.is_Integer:
                return sp.oo if int(b) % 2 == 0 else -sp.oo
            return sp.nan  # a negative number to a huge fractional power
    return bounded(a ** b)


def _is_logical(x) -> bool:
    # sympy symbols are Boolean *and* Expr; only true/false, comparisons, and/or/not are logical
    return isinstance(x, Boolean) and not isinstance(x, sp.Expr)


def as_number(x: sp.Expr) -> sp.Expr:
    """A truth value used as a number is 1 or 0 (as in Python: ``(i < 3) * 2``)."""
    if not _is_logical(x):
        return x
    if x is sp.true:
        return sp.Integer(1)
    if x is sp.false:
        return sp.Integer(0)
    return sp.Piecewise((1, x), (0, True))


def as_truth(x: sp.Expr) -> sp.Expr:
    """A number used as a condition is true when it is not zero (as in Python)."""
    if _is_logical(x):
        return x
    if x.is_Number:
        return sp.true if x != 0 else sp.false
    return sp.Ne(x, 0)


def _operator(e, rec) -> sp.Expr:
    if isinstance(e, S.BinOp):
        a, b = as_number(rec(e.left)), as_number(rec(e.right))
        if e.op == "+":
            return bounded(a + b)
        if e.op == "-":
            return bounded(a - b)
        if e.op == "*":
            return bounded(a * b)
        if e.op == "/":
            return bounded(a / b)
        return power(a, b)
    if isinstance(e, S.Unary):
        a = as_number(rec(e.operand))
        return -a if e.op == "-" else a
    if isinstance(e, S.Compare):
        a, b = as_number(rec(e.left)), as_number(rec(e.right))
        return {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge,
                "==": sp.Eq, "!=": sp.Ne}[e.op](a, b)
    if isinstance(e, S.BoolOp):
        vals = [as_truth(rec(v)) for v in e.values]
        return sp.And(*vals) if e.op == "and" else sp.Or(*vals)
    return sp.Not(as_truth(rec(e.operand)))


def to_sympy(e, scope: Scope, _stack: tuple[str, ...] = ()) -> sp.Expr:
    """Build the sympy expression of ``e``.  Raises :class:`ExprError` on unknown names.

    Numbers are exact (``0.25`` is 1/4) up to :data:`MAX_EXACT_BITS`; beyond that they
    continue in floating point (see :func:`bounded`)."""
    rec = functools.partial(to_sympy, scope=scope, _stack=_stack)
    if isinstance(e, S.Num):
        return _literal(e)
    if isinstance(e, S.Bool):
        return sp.true if e.value else sp.false
    if isinstance(e, S.Name):
        if e.id in scope.names:
            return scope.names[e.id]
        if scope.lets and e.id in scope.lets:
            if e.id in _stack:
                raise ExprError(e, f"'let {e.id}' refers to itself")
            value = scope.let_values.get(e.id)
            if value is None:
                value = scope.let_values[e.id] = to_sympy(scope.lets[e.id], scope, _stack + (e.id,))
            return value
        if e.id in CONSTANTS:
            return CONSTANTS[e.id]
        raise ExprError(e, f"unknown name '{e.id}'")
    if isinstance(e, S.Attribute):
        key = (e.obj.value, e.attr.value)
        if scope.attrs is not None and key in scope.attrs:
            return scope.attrs[key]
        raise ExprError(e, f"unknown attribute '{e.obj.value}.{e.attr.value}'")
    if isinstance(e, (S.BinOp, S.Unary, S.Compare, S.BoolOp, S.Not)):
        try:
            return _operator(e, rec)
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise ExprError(e, f"cannot evaluate this expression: {exc}") from None
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
        args = [as_number(rec(a)) for a in e.args]
        try:
            return bounded(ctor(*args))
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise ExprError(e, f"cannot evaluate '{name}' here: {exc}") from None
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
        if expr.has(sp.zoo):  # 1/0: the numpy printer knows no complex infinity
            expr = expr.xreplace({sp.zoo: sp.nan})
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
