"""The checked model: what a ``.sem`` file declares, with every name resolved.

Built by :func:`semdsl.semantics.check`; consumed by :mod:`semdsl.compiler`.  Objects
here still hold syntax expressions (so parameters can be bound later); everything
in them has been checked: names exist, arguments match, kinds fit.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from . import syntax as S
from .errors import Diagnostic, Span

RATE_LAWS: dict[str, tuple[str, ...]] = {
    "arrhenius": ("R0", "beta"),
    "metropolis": ("R0", "beta"),
    "glauber": ("R0", "beta"),
    "barrier": ("R0", "beta"),
    "uniform": ("R0",),
}

#: the symbols a built-in law is written in: F of the source and target, edge weight, barrier
LAW_SYMBOLS = sp.symbols("F_src F_dst w B")


@functools.lru_cache(maxsize=256)
def law_expression(law: str, R0: sp.Expr, beta: sp.Expr) -> sp.Expr:
    """The built-in rate law ``law`` (LANGUAGE.md, "Rate laws") in :data:`LAW_SYMBOLS`."""
    F_s, F_d, w, B = LAW_SYMBOLS
    dF = F_d - F_s
    return {
        "arrhenius": R0 * w * sp.exp(-beta * dF),
        "metropolis": R0 * w * sp.Min(1, sp.exp(-beta * dF)),
        "glauber": R0 * w / (1 + sp.exp(beta * dF)),
        "barrier": R0 * w * sp.exp(-beta * (sp.Max(F_s, F_d) + B - F_s)),
        "uniform": R0 * w,
    }[law]


#: distribution -> (positional parameter names, alternative keyword-only forms)
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "uniform": (("a", "b"), ()),
    "normal": (("mean", "sd"), ()),
    "exponential": (("rate",), (("mean",),)),
    "gamma": (("shape", "scale"), ()),
    "lognormal": (("mu", "sigma"), ()),
}

#: observable kind -> description of its arguments
OBSERVABLES: dict[str, str] = {
    "mean": "mean(ATTR_EXPR)",
    "median": "median(ATTR_EXPR)",
    "quantile": "quantile(ATTR_EXPR, q)",
    "prob": "prob(SET)",
    "first_passage": "first_passage(SET)",
    "msd": "msd(COORD, ...)",
    "visited": "visited()",
    "connected": "connected(SET, SET)",
    "largest_cluster": "largest_cluster()",
    "min_reachable": "min_reachable(ATTR_EXPR)",
}
TIME_OBSERVABLES = {"mean", "median", "quantile", "prob", "msd", "visited", "first_passage"}
GRAPH_OBSERVABLES = {"connected", "largest_cluster", "min_reachable"}
METHODS = ("exact", "theory", "simulation")
OPTIONS = {"walkers": "int", "realizations": "int", "seed": "int", "t_max": "float",
           "fit": ("powerlaw", "threshold")}


@dataclass(frozen=True)
class Param:
    name: str
    default: S.Expr
    lo: S.Expr | None
    hi: S.Expr | None
    doc: str | None
    span: Span
    structural: bool = False
    #: why it is structural or numeric-only (for `semdsl check`)
    reasons: tuple[str, ...] = ()
    sampled: bool = False  # used by a random attribute's distribution: needs a number


@dataclass(frozen=True)
class Family:
    """A node family: declared (``node``) or generated (``graph``)."""

    name: str
    kind: str  # "node" or "graph"
    span: Span
    name_span: Span
    indexes: tuple[S.IndexDecl, ...] = ()       # node families
    cond: S.Expr | None = None                   # node: `if`
    prob: S.Expr | None = None                   # node: `with probability`; graph: bond dilution
    site_prob: S.Expr | None = None              # graph: site dilution
    generator: str | None = None                 # graph: generator name
    gen_args: tuple[tuple[str, S.Expr], ...] = ()  # graph: bound arguments, by parameter name
    gen_dims: tuple[S.Expr, ...] = ()            # lattice dims (variadic)
    gen_attrs: tuple[str, ...] = ()              # attributes the generator defines
    attrs: tuple[S.AttrAssign | S.AttrRandom, ...] = ()

    @property
    def ndim(self) -> int | None:
        """Number of indices; None when the generator decides (lattice dims)."""
        if self.kind == "node":
            return len(self.indexes)
        if self.generator in ("lattice",):
            return len(self.gen_dims)
        if self.generator in ("triangular", "honeycomb"):
            return 2
        return 1


@dataclass(frozen=True)
class Edge:
    stmt: S.EdgeStmt
    src_family: str
    dst_family: str
    directed: bool

    @property
    def span(self) -> Span:
        return self.stmt.span


@dataclass(frozen=True)
class RateLaw:
    law: str | None            # a built-in law, or None for `rate = EXPR`
    args: tuple[tuple[str, S.Expr], ...] = ()
    expr: S.Expr | None = None
    span: Span | None = None
    default: bool = False      # no `rate` statement: uniform(1)

    def describe(self) -> str:
        if self.law is None:
            return "custom rate expression"
        inner = ", ".join(f"{k} = {_fmt(v)}" for k, v in self.args)
        return f"{self.law}({inner})" + (" (default: no rate statement)" if self.default else "")


@dataclass(frozen=True)
class SetSpec:
    """A set of nodes: a node, member, family, slice, literal or filter."""

    kind: str  # "member" | "family" | "slice" | "literal" | "where"
    span: Span
    text: str
    family: str | None = None
    subs: tuple[S.Expr | None, ...] = ()   # None marks '*'
    elems: tuple["SetSpec", ...] = ()
    cond: S.Expr | None = None


@dataclass(frozen=True)
class Observable:
    name: str
    kind: str
    span: Span
    expr: S.Expr | None = None          # attribute expression (mean/median/quantile/min_reachable)
    q: S.Expr | None = None             # quantile level
    sets: tuple[SetSpec, ...] = ()      # prob/first_passage (1), connected (2)
    coords: tuple[str, ...] = ()        # msd
    text: str = ""

    @property
    def time_dependent(self) -> bool:
        return self.kind in TIME_OBSERVABLES


@dataclass(frozen=True)
class Init:
    kind: str  # "set" | "uniform" | "boltzmann" | "weights"
    span: Span | None
    target: SetSpec | None = None
    beta: S.Expr | None = None
    weights: tuple[tuple[SetSpec, S.Expr], ...] = ()
    default: bool = False


@dataclass(frozen=True)
class Axis:
    kind: str  # "at" | "over" | "stationary"
    var: str | None = None
    lo: S.Expr | None = None
    hi: S.Expr | None = None
    value: S.Expr | None = None
    log: bool = False
    points: S.Expr | None = None
    span: Span | None = None

    @property
    def is_time(self) -> bool:
        return self.var == "t"


@dataclass(frozen=True)
class Prediction:
    observables: tuple[Observable, ...]
    axis: Axis | None
    methods: tuple[str, ...]
    options: dict[str, Any]
    span: Span


@dataclass(frozen=True)
class Model:
    """A checked model.  ``warnings`` are problems that do not stop compilation."""

    name: str
    title: str | None
    file: str
    source: str
    params: dict[str, Param]
    lets: dict[str, S.Expr]
    families: dict[str, Family]
    edges: tuple[Edge, ...]
    rate: RateLaw
    init: Init
    observables: dict[str, Observable]
    predictions: tuple[Prediction, ...]
    warnings: tuple[Diagnostic, ...] = ()
    syntax: S.ModelFile | None = field(default=None, repr=False, compare=False)
    #: parameter values bound by ``semdsl.load(path, D=2500)``; explicit ones win
    overrides: dict[str, Any] = field(default_factory=dict, compare=False)

    def with_params(self, **params: Any) -> "Model":
        """The same model with parameter values bound (checked when compiled)."""
        from dataclasses import replace
        merged = dict(self.overrides)
        merged.update(params)
        return replace(self, overrides=merged)

    @property
    def structural_params(self) -> list[str]:
        return [p.name for p in self.params.values() if p.structural]

    @property
    def hash(self) -> str:
        """SHA-256 of the source text: identifies the model in results."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()[:16]

    @property
    def has_randomness(self) -> bool:
        """True when realisations differ: random attributes, dilution or random graphs."""
        for fam in self.families.values():
            if fam.prob is not None or fam.site_prob is not None:
                return True
            if fam.generator in ("erdos_renyi", "random_regular"):
                return True
            if any(isinstance(a, S.AttrRandom) for a in fam.attrs):
                return True
        for e in self.edges:
            if e.stmt.prob is not None or any(isinstance(a, S.AttrRandom) for a in e.stmt.attrs):
                return True
        return False


def _fmt(e) -> str:
    from .format import format_expr
    return format_expr(e)
