"""Closed forms with sympy for small models (up to about 8 nodes in seconds).

The symbolic generator comes from :meth:`CompiledModel.master_equation` (non-structural
parameters left as symbols).  Stationary distribution: solve ``pi Q = 0``,
``sum(pi) = 1`` exactly (fraction-free elimination).  Mean first-passage times to a
target set ``A``: ``-Q_BB m_B = 1`` on the other states ``B`` (``m = 0`` on ``A``).
Results are simplified (``sympy.factor`` of numerator and denominator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np
import sympy as sp
from sympy.matrices.exceptions import NonInvertibleMatrixError

from ..errors import Diagnostic, NumericalError

if TYPE_CHECKING:  # pragma: no cover
    from ..compiler import CompiledModel

SYMBOLIC_LIMIT = 12


@dataclass(frozen=True)
class SymbolicResult:
    names: list[str]
    symbols: dict[str, sp.Symbol]
    stationary: list[sp.Expr] | None
    mfpt: dict[str, sp.Expr]           # target text -> mean first passage from init
    mfpt_per_state: dict[str, list[sp.Expr]]

    def as_text(self) -> str:
        out = []
        if self.stationary is not None:
            out.append("stationary distribution:")
            out += [f"  pi[{n}] = {sp.sstr(e)}" for n, e in zip(self.names, self.stationary)]
        for tgt, e in self.mfpt.items():
            out.append(f"mean first passage to {tgt} from init: {sp.sstr(e)}")
        return "\n".join(out) + "\n"

    def as_latex(self) -> str:
        out = [r"\begin{align}"]
        rows = []
        if self.stationary is not None:
            rows += [rf"\pi_{{\mathrm{{{_tex(n)}}}}} &= {sp.latex(e)}" for n, e in zip(self.names, self.stationary)]
        rows += [rf"\langle T_{{\mathrm{{{_tex(t)}}}}} \rangle &= {sp.latex(e)}" for t, e in self.mfpt.items()]
        out.append(" \\\\\n".join(rows))
        out.append(r"\end{align}")
        return "\n".join(out) + "\n"


def _tex(s: str) -> str:
    return s.replace("_", r"\_").replace("{", "").replace("}", "")


def _simplify(e: sp.Expr) -> sp.Expr:
    e = sp.together(e)
    num, den = sp.fraction(e)
    return sp.factor(num) / sp.factor(den)


def _too_big(cm) -> None:
    if cm.n > SYMBOLIC_LIMIT:
        raise NumericalError([Diagnostic(None, f"closed forms are computed for models of up to "
                                         f"{SYMBOLIC_LIMIT} nodes; this one has {cm.n}",
                                         "use the numeric solvers (semdsl solve without --symbolic)")])


def stationary_symbolic(Q: sp.Matrix) -> list[sp.Expr]:
    """``pi`` with ``pi Q = 0`` and ``sum(pi) = 1`` (unique for an irreducible chain)."""
    n = Q.shape[0]
    A = Q.T.copy()
    A[n - 1, :] = sp.ones(1, n)
    b = sp.zeros(n, 1)
    b[n - 1] = 1
    try:
        sol = A.LUsolve(b)
    except (ValueError, ZeroDivisionError, NonInvertibleMatrixError) as exc:
        raise NumericalError([Diagnostic(None, "no unique stationary distribution in closed form "
                                         f"({exc})", "the chain may be reducible")])
    return [_simplify(x) for x in sol]


def mfpt_symbolic(Q: sp.Matrix, target: Iterable[int]) -> list[sp.Expr]:
    """Mean first-passage times to ``target`` from every state (0 on the target)."""
    n = Q.shape[0]
    tgt = set(int(i) for i in target)
    rest = [i for i in range(n) if i not in tgt]
    out = [sp.Integer(0)] * n
    if not rest:
        return out
    A = -Q.extract(rest, rest)
    try:
        m = A.LUsolve(sp.ones(len(rest), 1))
    except (ValueError, ZeroDivisionError, NonInvertibleMatrixError):
        raise NumericalError([Diagnostic(None, "the target is not reached surely from every state: "
                                         "its mean first-passage time is infinite somewhere")])
    for k, i in enumerate(rest):
        out[i] = _simplify(m[k])
    return out


def solve_symbolic(cm: "CompiledModel", targets: dict[str, np.ndarray] | None = None,
                   stationary: bool = True) -> SymbolicResult:
    """Closed forms for a small compiled model: stationary law, MFPTs from ``init``."""
    _too_big(cm)
    me = cm.master_equation(symbolic=True)
    Q = me.generator_matrix()
    pi = None
    if stationary:
        pi = stationary_symbolic(Q)
    mfpt, per_state = {}, {}
    init = [sp.nsimplify(float(p), rational=True) if p else sp.Integer(0) for p in cm.init]
    for name, ids in (targets or {}).items():
        m = mfpt_symbolic(Q, ids)
        per_state[name] = m
        mfpt[name] = _simplify(sum(p * x for p, x in zip(init, m)))
    return SymbolicResult([str(x) for x in cm.nodes.names()], me.symbols, pi, mfpt, per_state)
