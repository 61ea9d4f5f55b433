"""The surface language as frozen dataclasses.

Every node carries a :class:`~semdsl.errors.Span`; spans are excluded from equality
(``compare=False``) so that two parses of the same text compare equal whatever the
layout.  The parser only builds these; all checks happen in :mod:`semdsl.semantics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .errors import Span, NO_SPAN


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)


# --------------------------------------------------------------------------- names
@dataclass(frozen=True)
class Ident:
    """A name as written, with its position."""

    value: str
    span: Span = _span()

    def __str__(self) -> str:
        return self.value


# ---------------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Num:
    value: float
    text: str
    span: Span = _span()


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span = _span()


@dataclass(frozen=True)
class Str:
    value: str
    span: Span = _span()


@dataclass(frozen=True)
class Name:
    id: str
    span: Span = _span()


@dataclass(frozen=True)
class Attribute:
    """``src.F``, ``dst.depth``, ``edge.B``."""

    obj: Ident
    attr: Ident
    span: Span = _span()


@dataclass(frozen=True)
class Star:
    """``*`` in a subscript: every value of that index."""

    span: Span = _span()


@dataclass(frozen=True)
class Indexed:
    """``h[i+1]``, ``s[10, *]`` -- a family member or slice."""

    name: Ident
    subs: tuple["Expr | Star", ...]
    span: Span = _span()


@dataclass(frozen=True)
class KwArg:
    name: Ident
    value: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    """``name(args, key = value)`` -- generators, laws, distributions, observables, functions."""

    func: Ident
    args: tuple["Expr | SetLiteral", ...]
    kwargs: tuple[KwArg, ...]
    span: Span = _span()


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / ^
    left: "Expr"
    right: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Unary:
    op: str  # - +
    operand: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Compare:
    op: str
    left: "Expr"
    right: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class BoolOp:
    op: str  # and, or
    values: tuple["Expr", ...]
    span: Span = _span()


@dataclass(frozen=True)
class Not:
    operand: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class NodeRef:
    """A node or family member in a node position: ``memorize``, ``h[i+1]``, ``h[*]``."""

    name: Ident
    subs: tuple["Expr | Star", ...] | None
    span: Span = _span()


@dataclass(frozen=True)
class SetLiteral:
    elems: tuple[NodeRef, ...]
    span: Span = _span()


Expr = Union[Num, Bool, Str, Name, Attribute, Indexed, Call, BinOp, Unary, Compare,
             BoolOp, Not]


# ----------------------------------------------------------------------- statements
@dataclass(frozen=True)
class IndexDecl:
    var: Ident
    lo: Expr
    hi: Expr
    span: Span = _span()


@dataclass(frozen=True)
class AttrAssign:
    name: Ident
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class AttrRandom:
    name: Ident
    dist: Call
    span: Span = _span()


AttrItem = Union[AttrAssign, AttrRandom]


@dataclass(frozen=True)
class ModelStmt:
    name: Ident
    title: str | None
    span: Span = _span()


@dataclass(frozen=True)
class ParamStmt:
    name: Ident
    default: Expr
    lo: Expr | None
    hi: Expr | None
    doc: str | None
    span: Span = _span()


@dataclass(frozen=True)
class LetStmt:
    name: Ident
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class NodeStmt:
    name: Ident
    indexes: tuple[IndexDecl, ...]
    cond: Expr | None
    prob: Expr | None
    attrs: tuple[AttrItem, ...]
    span: Span = _span()


@dataclass(frozen=True)
class GraphStmt:
    name: Ident
    generator: Call
    bond_prob: Expr | None
    site_prob: Expr | None
    attrs: tuple[AttrItem, ...]
    span: Span = _span()


@dataclass(frozen=True)
class EdgeStmt:
    src: NodeRef
    op: str  # "--" or "->"
    dst: NodeRef
    fors: tuple[IndexDecl, ...]
    cond: Expr | None
    prob: Expr | None
    attrs: tuple[AttrItem, ...]
    span: Span = _span()


@dataclass(frozen=True)
class RateLawStmt:
    law: Call
    span: Span = _span()


@dataclass(frozen=True)
class RateExprStmt:
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class InitBlock:
    items: tuple[tuple[NodeRef, Expr], ...]
    span: Span = _span()


@dataclass(frozen=True)
class InitStmt:
    target: NodeRef | SetLiteral | Call | InitBlock
    span: Span = _span()


@dataclass(frozen=True)
class ObservableStmt:
    name: Ident
    call: Call
    span: Span = _span()


@dataclass(frozen=True)
class AxisAt:
    var: Ident
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class AxisOver:
    var: Ident
    lo: Expr
    hi: Expr
    log: bool
    points: Expr | None
    span: Span = _span()


@dataclass(frozen=True)
class AxisStationary:
    span: Span = _span()


Axis = Union[AxisAt, AxisOver, AxisStationary]


@dataclass(frozen=True)
class Option:
    name: Ident
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class PredictStmt:
    items: tuple[Ident | Call, ...]
    axis: Axis | None
    methods: tuple[Ident, ...]
    options: tuple[Option, ...]
    span: Span = _span()


Statement = Union[ModelStmt, ParamStmt, LetStmt, NodeStmt, GraphStmt, EdgeStmt,
                  RateLawStmt, RateExprStmt, InitStmt, ObservableStmt, PredictStmt]


@dataclass(frozen=True)
class ModelFile:
    """A parsed ``.sem`` file: its statements in order."""

    statements: tuple[Statement, ...]
    file: str = field(default="<string>", compare=False)
    source: str = field(default="", compare=False, repr=False)
