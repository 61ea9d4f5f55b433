"""The master equation as sympy objects.

``dP_i/dt = sum_j (R_ji P_j - R_ij P_i)`` with ``R_ij`` the rate ``i -> j``.

For small models (up to ``max_nodes`` nodes) every node gets its own equation, with
the parameters asked for left as symbols: non-structural parameters that no random
attribute samples from can stay symbolic (LANGUAGE.md, "Parameters and expressions").
Building those per-node expressions walks nodes and transitions in Python; it is the
symbolic path for small models only, never the numeric hot path.

For large models the result holds the family-level form: the rate law as a function
of ``src``/``dst`` attributes and a summary of families and edge statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

import numpy as np
import sympy as sp

from . import syntax as S
from .errors import CompileError, Diagnostic
from .expr import Scope, to_sympy, walk
from .format import format_expr
from .model import LAW_SYMBOLS, law_expression

if TYPE_CHECKING:  # pragma: no cover
    from .compiler import CompiledModel


@dataclass(frozen=True)
class MasterEquation:
    """The master equation of a compiled model.

    Attributes
    ----------
    equations : list of sympy.Eq or None
        ``Eq(Derivative(P_i(t), t), rhs_i)`` per node (None for large models).
    probabilities : list of sympy.Function applications
        ``P_i(t)`` in node order (None for large models).
    rates : dict[(i, j), sympy.Expr]
        Summed rate of each hop (small models).
    symbols : dict[str, sympy.Symbol]
        The parameters left symbolic.
    law : sympy.Expr
        The rate law in terms of ``F_src``, ``F_dst``, ``w``, ``B`` (or src./dst. attributes).
    node_names : list[str]
    """

    equations: list | None
    probabilities: list | None
    rates: dict
    symbols: dict[str, sp.Symbol]
    law: sp.Expr
    law_text: str
    node_names: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    @property
    def per_node(self) -> bool:
        return self.equations is not None

    def generator_matrix(self) -> sp.Matrix:
        """The symbolic generator ``Q`` (small models)."""
        n = len(self.node_names)
        Q = sp.zeros(n, n)
        for (i, j), r in self.rates.items():
            Q[i, j] += r
            Q[i, i] -= r
        return Q


def symbolic_params(cm: "CompiledModel", symbolic: Iterable[str] | bool) -> list[str]:
    model = cm.model
    if symbolic is True:
        return [p.name for p in model.params.values() if not p.structural and not p.sampled]
    if symbolic is False or symbolic is None:
        return []
    names = list(symbolic)
    diags = []
    for name in names:
        p = model.params.get(name)
        if p is None:
            diags.append(Diagnostic(None, f"'{name}' is not a parameter of model '{model.name}'"))
        elif p.structural:
            diags.append(Diagnostic(p.span, f"parameter '{name}' is structural (it decides "
                                    f"{', '.join(p.reasons) or 'the state space'}) and needs a number"))
        elif p.sampled:
            diags.append(Diagnostic(p.span, f"parameter '{name}' sets a random attribute's "
                                    "distribution and needs a number"))
    if diags:
        raise CompileError(diags, {model.file: model.source})
    return names


class _Symbolic:
    """Per-node and per-edge sympy values for a small compiled model."""

    def __init__(self, cm: "CompiledModel", sym_names: list[str]):
        self.cm = cm
        self.model = cm.model
        self.syms = {k: sp.Symbol(k, positive=True) for k in sym_names}
        self.pvals = {}
        for k, v in cm.params.items():
            if k in self.syms:
                self.pvals[k] = self.syms[k]
            else:
                self.pvals[k] = sp.Integer(int(v)) if float(v).is_integer() else sp.Float(v, 15)
        self._node_attr: dict[int, dict[str, sp.Expr]] = {}
        self.stmts = self.model.syntax.statements if self.model.syntax else ()

    def conv(self, e, names=None, attrs=None) -> sp.Expr:
        sc = dict(self.pvals)
        sc.update(names or {})
        return to_sympy(e, Scope(sc, attrs=attrs, lets=self.model.lets))

    def node_attrs(self, i: int) -> dict[str, sp.Expr]:
        got = self._node_attr.get(i)
        if got is not None:
            return got
        nodes = self.cm.nodes
        ft = nodes.families[int(nodes.family[i])]
        fam = self.model.families[ft.name]
        vals: dict[str, sp.Expr] = {}
        if fam.kind == "node":
            for k, d in enumerate(fam.indexes):
                vals[d.var.value] = sp.Integer(int(nodes.index[i, k]))
        else:
            for a in fam.gen_attrs:
                if a in nodes.attrs:
                    vals[a] = _num(nodes.attrs[a][i])
        for item in fam.attrs:
            name = item.name.value
            if isinstance(item, S.AttrAssign):
                vals[name] = self.conv(item.value, vals)
            else:
                vals[name] = _num(nodes.attrs[name][i])
        vals.setdefault("F", sp.Integer(0))
        vals["degree"] = sp.Integer(int(nodes.attrs["degree"][i]))
        self._node_attr[i] = vals
        return vals

    def node_attr(self, i: int, a: str) -> sp.Expr:
        v = self.node_attrs(i).get(a)
        if v is None:
            return _num(self.cm.nodes.attrs.get(a, np.zeros(self.cm.n))[i])
        return v

    def edge_attrs(self, e: int) -> dict[str, sp.Expr]:
        cm = self.cm
        k = int(cm.edge_stmt[e])
        stmt = self.stmts[k] if 0 <= k < len(self.stmts) else None
        vals: dict[str, sp.Expr] = {"weight": sp.Integer(1), "B": sp.Integer(0)}
        if not isinstance(stmt, S.EdgeStmt):  # a generated family's edge: numbers
            for a, col in cm.edge_attrs.items():
                if not np.isnan(col[e]):
                    vals[a] = _num(col[e])
            return vals
        names = {v: sp.Integer(int(cm.edge_for[v][e])) for v in cm.edge_for
                 if not np.isnan(cm.edge_for[v][e])}
        s, d = int(cm.edge_src[e]), int(cm.edge_dst[e])
        for item in stmt.attrs:
            name = item.name.value
            if isinstance(item, S.AttrAssign):
                used = {(n.obj.value, n.attr.value) for n in walk(item.value) if isinstance(n, S.Attribute)}
                attrs = {}
                for (o, a) in used:
                    if o == "src":
                        attrs[(o, a)] = self.node_attr(s, a)
                    elif o == "dst":
                        attrs[(o, a)] = self.node_attr(d, a)
                    else:
                        attrs[(o, a)] = vals.get(a, sp.Integer(0))
                vals[name] = self.conv(item.value, {**names, **{kk: vv for kk, vv in vals.items()}}, attrs)
            else:
                vals[name] = _num(cm.edge_attrs[name][e])
        return vals

    def law(self):
        law = self.model.rate
        if law.law is None:
            return None, LAW_SYMBOLS
        args = {k: self.conv(v) for k, v in law.args}
        expr = law_expression(law.law, args.get("R0", sp.Integer(1)), args.get("beta", sp.Integer(1)))
        return expr, LAW_SYMBOLS

    def transition_rate(self, t: int, law_expr, law_syms) -> sp.Expr:
        cm = self.cm
        e = int(cm.transition_edge[t])
        i, j = int(cm.src[t]), int(cm.dst[t])
        ea = self.edge_attrs(e)
        if "rate" in ea and ea["rate"] is not sp.nan:
            return ea["rate"] * ea["weight"]
        if law_expr is not None:
            F_s, F_d, w, B = law_syms
            return law_expr.subs({F_s: self.node_attr(i, "F"), F_d: self.node_attr(j, "F"),
                                  w: ea["weight"], B: ea.get("B", sp.Integer(0))})
        law = self.model.rate
        used = {(n.obj.value, n.attr.value) for n in walk(law.expr) if isinstance(n, S.Attribute)}
        attrs = {}
        for (o, a) in used:
            if o == "src":
                attrs[(o, a)] = self.node_attr(i, a)
            elif o == "dst":
                attrs[(o, a)] = self.node_attr(j, a)
            else:
                attrs[(o, a)] = ea.get(a, sp.Integer(0))
        return self.conv(law.expr, attrs=attrs) * ea["weight"]


def _num(v: float) -> sp.Expr:
    v = float(v)
    if v.is_integer() and abs(v) < 2**53:
        return sp.Integer(int(v))
    return sp.Float(v, 15)


def law_text(cm: "CompiledModel") -> str:
    law = cm.model.rate
    if law.law is None:
        return f"R(src -> dst) = ({format_expr(law.expr)}) * edge.weight"
    args = {k: format_expr(v) for k, v in law.args}
    R0, beta = args.get("R0", "1"), args.get("beta", "1")
    return {
        "arrhenius": f"R(i -> j) = {R0} * w_ij * exp(-{beta} * (F_j - F_i))",
        "metropolis": f"R(i -> j) = {R0} * w_ij * min(1, exp(-{beta} * (F_j - F_i)))",
        "glauber": f"R(i -> j) = {R0} * w_ij / (1 + exp({beta} * (F_j - F_i)))",
        "barrier": f"R(i -> j) = {R0} * w_ij * exp(-{beta} * (max(F_i, F_j) + B_ij - F_i))",
        "uniform": f"R(i -> j) = {R0} * w_ij",
    }[law.law]


def summary_lines(cm: "CompiledModel") -> list[str]:
    """Family-level description: node families, edge statements, counts."""
    lines = []
    nodes = cm.nodes
    for ft in nodes.families:
        fam = cm.model.families[ft.name]
        if fam.kind == "graph":
            args = ", ".join([format_expr(d) for d in fam.gen_dims] +
                             [f"{k} = {format_expr(v)}" for k, v in fam.gen_args])
            what = f"graph {ft.name} = {fam.generator}({args})"
        elif ft.ndim:
            what = "node " + ft.name + "[" + ", ".join(
                f"{d.var.value} in {l}..{l + s - 1}" for d, l, s in zip(fam.indexes, ft.lo, ft.shape)) + "]"
        else:
            what = f"node {ft.name}"
        lines.append(f"{what}: {ft.size:,} node{'s' if ft.size != 1 else ''}")
    stmts = cm.model.syntax.statements if cm.model.syntax else ()
    counts = np.bincount(cm.edge_stmt[cm.edge_stmt >= 0], minlength=len(stmts)) if cm.edge_stmt.size \
        else np.zeros(len(stmts), dtype=int)
    for k, st in enumerate(stmts):
        c = int(counts[k]) if k < counts.size else 0
        if isinstance(st, S.EdgeStmt):
            text = f"edge {format_expr(st.src)} {st.op} {format_expr(st.dst)}"
        elif isinstance(st, S.GraphStmt) and c:
            text = f"edges of graph {st.name.value}"
        else:
            continue
        lines.append(f"{text}: {c:,} edge{'s' if c != 1 else ''} (line {st.span.line})")
    return lines


def master_equation(cm: "CompiledModel", symbolic: Iterable[str] | bool = True,
                    max_nodes: int = 400) -> MasterEquation:
    """Build the master equation of ``cm``.

    Parameters
    ----------
    symbolic : bool or iterable of str
        True: every non-structural parameter that no random attribute depends on stays
        a symbol; False: all numbers; or the names to keep symbolic.
    max_nodes : int
        Above this many nodes only the family-level form is returned.
    """
    names = symbolic_params(cm, symbolic)
    helper = _Symbolic(cm, names)
    law_expr, law_syms = helper.law()
    text = law_text(cm)
    summary = summary_lines(cm)
    law = law_expr if law_expr is not None else helper.conv(
        cm.model.rate.expr, attrs={(n.obj.value, n.attr.value): sp.Symbol(f"{n.obj.value}.{n.attr.value}")
                                   for n in walk(cm.model.rate.expr) if isinstance(n, S.Attribute)})
    if cm.n > max_nodes:
        return MasterEquation(None, None, {}, helper.syms, law, text, [], summary)
    t = sp.Symbol("t", nonnegative=True)
    node_names = [str(x) for x in cm.nodes.names()]
    P = [sp.Function(f"P_{_ident(nm)}")(t) for nm in node_names]
    rates: dict[tuple[int, int], sp.Expr] = {}
    for k in range(cm.src.size):
        i, j = int(cm.src[k]), int(cm.dst[k])
        r = helper.transition_rate(k, law_expr, law_syms)
        rates[(i, j)] = rates.get((i, j), sp.Integer(0)) + r
    inflow: dict[int, sp.Expr] = {}
    for (i, j), r in rates.items():
        inflow[j] = inflow.get(j, sp.Integer(0)) + r * P[i]
        inflow[i] = inflow.get(i, sp.Integer(0)) - r * P[i]
    eqs = [sp.Eq(sp.Derivative(P[i], t), inflow.get(i, sp.Integer(0))) for i in range(cm.n)]
    used = set().union(*(e.rhs.free_symbols for e in eqs)) if eqs else set()
    syms = {k: v for k, v in helper.syms.items() if v in used}
    return MasterEquation(eqs, P, rates, syms, law, text, node_names, summary)


def _ident(name: str) -> str:
    return name.replace("[", "_").replace("]", "").replace(", ", "_").replace(",", "_")
