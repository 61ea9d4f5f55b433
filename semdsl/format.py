"""Canonical source text for syntax nodes (used in messages, names of inline
observables and, later, ``semdsl fmt``)."""

from __future__ import annotations

from . import syntax as S

_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6,
         "unary": 7, "^": 8, "atom": 9}


def _prec(e) -> int:
    if isinstance(e, S.BoolOp):
        return _PREC[e.op]
    if isinstance(e, S.Not):
        return _PREC["not"]
    if isinstance(e, S.Compare):
        return _PREC["cmp"]
    if isinstance(e, S.BinOp):
        return _PREC[e.op]
    if isinstance(e, S.Unary):
        return _PREC["unary"]
    return _PREC["atom"]


def _wrap(e, min_prec: int) -> str:
    s = format_expr(e)
    return f"({s})" if _prec(e) < min_prec else s


def format_expr(e) -> str:
    """Source text of an expression, set or call, with minimal parentheses."""
    if isinstance(e, S.Num):
        return e.text
    if isinstance(e, S.Bool):
        return "true" if e.value else "false"
    if isinstance(e, S.Str):
        return f'"{e.value}"'
    if isinstance(e, S.Name):
        return e.id
    if isinstance(e, S.Ident):
        return e.value
    if isinstance(e, S.Attribute):
        return f"{e.obj.value}.{e.attr.value}"
    if isinstance(e, S.Star):
        return "*"
    if isinstance(e, (S.Indexed, S.NodeRef)):
        if e.subs is None:
            return e.name.value
        return f"{e.name.value}[{', '.join(format_expr(s) for s in e.subs)}]"
    if isinstance(e, S.SetLiteral):
        return "{" + ", ".join(format_expr(x) for x in e.elems) + "}"
    if isinstance(e, S.Call):
        parts = [format_expr(a) for a in e.args]
        parts += [f"{k.name.value} = {format_expr(k.value)}" for k in e.kwargs]
        return f"{e.func.value}({', '.join(parts)})"
    if isinstance(e, S.BinOp):
        p = _PREC[e.op]
        if e.op == "^":  # right-associative
            return f"{_wrap(e.left, p + 1)}^{_wrap(e.right, _PREC['unary'])}"
        right_min = p + 1 if e.op in "-/" else p
        return f"{_wrap(e.left, p)} {e.op} {_wrap(e.right, right_min)}"
    if isinstance(e, S.Unary):
        return f"{e.op}{_wrap(e.operand, _PREC['unary'])}"
    if isinstance(e, S.Compare):
        return f"{_wrap(e.left, _PREC['+'])} {e.op} {_wrap(e.right, _PREC['+'])}"
    if isinstance(e, S.BoolOp):
        p = _PREC[e.op]
        return f" {e.op} ".join(_wrap(v, p + 1) for v in e.values)
    if isinstance(e, S.Not):
        return f"not {_wrap(e.operand, _PREC['not'])}"
    raise TypeError(f"cannot format {type(e).__name__}")  # pragma: no cover
