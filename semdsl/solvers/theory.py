"""Theory: closed-form, asymptotic and mean-field results a model's declarations determine.

:func:`predict` answers ``using theory`` for one observable of a ``predict`` statement
(LANGUAGE.md §2 "Predictions", §4 "What a prediction returns").  Every result is
*recognised* from what the model declares and what the compiled landscape is (the rate
law, the barrier distribution, the generator, the realised graph) -- never from the
model's name -- and :class:`TheoryResult` always says which result was used, or
plainly that none applies and why.  Nothing is guessed: a result is returned only when
the model has the structure the result assumes.

Exponents in ``law`` use the convention of :func:`semdsl.solvers.fit.fit_powerlaw`:
``y ~ x^exponent`` (negative for a decay), so theory and fits compare directly;
``effective_exponent`` is the least-squares log-log slope of the returned values over
the axis points, i.e. what a fit over the same window would measure.

Results (PHYSICS.md)
--------------------
Trap model (``mean``, ``median``, ``quantile`` over a time axis)
    Rate law ``barrier(R0, beta)``, one edge statement whose barrier is
    ``B ~ exponential(rate = lambda)`` (or ``mean = 1/lambda``), directed so that the
    barriers order the landscape into levels ``N_b = 0, 1, 2, ...`` (the number of
    barriers crossed), each valley (strongly connected set of barrier-free hops) left
    through exactly one barrier.  The exit time ``e^(beta B)/R0`` has the Pareto tail
    ``tau^-(1+mu)`` with ``mu = lambda/beta``.  The disorder-averaged renewal process
    gives the distribution of ``N_b(t)`` exactly for Pareto waiting times of scale
    ``tau0`` (numerical inverse Laplace transform), hence ``mean``/``median``/
    ``quantile`` of any attribute that is constant on each level.  For ``F = A/(N_b+b)``:
    median ``~ t^-mu`` (``mu < 1``), ``t^-1`` (``mu > 1``); mean
    ``~ (t/tau0)^-mu (mu ln(t/tau0) + C)``, ``C = -ln Gamma(1-mu) - mu psi(1-mu) - gamma
    - psi(b)``.
Percolation (``largest_cluster``, ``connected``; no axis or a parameter axis)
    Configuration model (Molloy--Reed) for ``erdos_renyi``/``random_regular`` graphs
    and for declared edges kept ``with probability p`` among all pairs of nodes
    (Erdős–Rényi-like; Poisson law of mean ``(n-1)p``): giant fraction
    ``S = 1 - G0(u)``, ``u = G1(u)``, threshold ``<k^2> - 2<k> = 0`` located along the
    sweep.  Bond/site-diluted square, triangular, honeycomb and simple cubic lattices:
    the known threshold (no closed form for the curve: values are null).
Random walks on lattices (``msd``, ``visited``, ``prob`` over a time axis)
    Uniform hop rate ``R0`` on an undiluted ``lattice(...)`` from one node:
    ``msd = 2 R0 t`` per coordinate, distinct sites after ``n = 2 d R0 t`` hops,
    ``P_x(t) = prod_k e^(-2 R0 t) I_|dx_k|(2 R0 t)`` (exact on the infinite lattice),
    valid before the walk feels the boundary, ``t < h^2/(2 d R0)``.
Two states and birth--death chains
    Exactly two nodes: ``p_B(t)``, stationary ``k+/(k+ + k-)``, first passage
    ``1 - exp(-k+ t)`` and mean ``1/k+``.  A path with constant up/down rates and
    absorbing ends (gambler's ruin): absorption probabilities and mean duration.

Example
-------
>>> import semdsl
>>> from semdsl.solvers.theory import predict
>>> m = semdsl.load("models/two_state.sem")                      # doctest: +SKIP
>>> predict(m, m.compile(), m.observables["t_AB"], None, None)   # doctest: +SKIP
TheoryResult(value=[1.0], note='two-state chain ...', law={...})
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from math import comb
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sps
import sympy as sp
from scipy import optimize, special, stats
from scipy.sparse import csgraph

from .. import syntax as S
from ..compiler import CompiledModel, compile_model, resolve_params
from ..errors import SemdslError
from ..expr import ExprError, Scope, evaluate, numeric, to_sympy, walk
from ..format import format_expr
from ..model import Model, Observable

__all__ = ["TheoryResult", "predict", "giant_component", "pareto_renewal_levels",
           "trap_mean_constant", "LATTICE_THRESHOLDS"]


@dataclass(frozen=True)
class TheoryResult:
    """What ``theory`` says about one observable.

    ``value`` has one entry per axis point (one entry without an axis); an entry is
    None where the result does not hold.  ``value`` is None when no result applies.
    ``note`` names the result used (or says that none applies, and why); ``law`` holds
    its parameters (exponent, threshold, ...) or is None.
    """

    value: list | None
    note: str
    law: dict | None


class NotApplicable(Exception):
    """A result's assumptions do not hold for this model (the message says which)."""


# ====================================================================== entry point
def predict(model: Model, cm: CompiledModel, observable: Observable | str,
            axis_name: str | None = None, axis_values: np.ndarray | Sequence[float] | None = None
            ) -> TheoryResult:
    """The theory prediction of ``observable`` over an axis, or a note that none applies.

    Parameters
    ----------
    model : Model
        The checked model (its declarations are what results are recognised from).
    cm : CompiledModel
        The model compiled with the prediction's parameters and seed.
    observable : Observable or str
        An observable of the model (or its name).
    axis_name : str or None
        ``"t"`` for a time axis, a parameter name for a sweep, None for no axis (the
        stationary value of a time observable, the mean of a first passage, the value
        of a graph observable).
    axis_values : array_like or None
        The axis points.

    Returns
    -------
    TheoryResult
    """
    ob = _lookup_observable(model, observable) if isinstance(observable, str) else observable
    axis = None
    if axis_name is not None:
        axis = np.atleast_1d(np.asarray(axis_values if axis_values is not None else [], dtype=float))
        if axis.size == 0:
            return TheoryResult(None, f"no theory result applies to {ob.name}: the axis has no points", None)
    reasons: list[str] = []
    for label, fn in _RECOGNISERS.get(ob.kind, ()):
        try:
            return fn(model, cm, ob, axis_name, axis)
        except NotApplicable as exc:
            reasons.append(f"{label}: {exc}")
    why = "; ".join(reasons) if reasons else f"semdsl knows no theory result for {ob.kind}()"
    return TheoryResult(None, f"no theory result applies to {ob.name}: {why}", None)


# ====================================================================== helpers
def _lookup_observable(model: Model, name: str) -> Observable:
    """A declared observable, or one written inline in a predict statement (``mean(F)``)."""
    if name in model.observables:
        return model.observables[name]
    for p in model.predictions:
        for ob in p.observables:
            if ob.name == name:
                return ob
    raise KeyError(f"model '{model.name}' has no observable '{name}'")


def _number(v: float) -> sp.Expr:
    v = float(v)
    return sp.Integer(int(v)) if v.is_integer() and abs(v) < 2**62 else sp.Float(v, 17)


def _eval(model: Model, params: Mapping[str, float], expr, what: str) -> float:
    """A declaration's expression as a number from parameter values alone."""
    try:
        v = numeric(to_sympy(expr, Scope({k: _number(x) for k, x in params.items()},
                                         lets=model.lets)), what)
    except ExprError as exc:
        raise NotApplicable(f"{what} is not a number of the parameters alone ({exc.message})")
    except (ValueError, TypeError, ZeroDivisionError, OverflowError) as exc:
        raise NotApplicable(f"{what}: {exc}")
    if not math.isfinite(v):
        raise NotApplicable(f"{what} is not finite")
    return v


def _node_values(model: Model, c: CompiledModel, expr) -> np.ndarray:
    """An attribute expression (``F``, ``F_test + 1``) evaluated at every node."""
    attrs = c.nodes.attrs
    syms = {k: sp.Symbol(f"_attr_{k}") for k in attrs}
    names: dict[str, sp.Expr] = {k: _number(v) for k, v in c.params.items()}
    names.update(syms)
    try:
        e = to_sympy(expr, Scope(names, lets=model.lets))
    except ExprError as exc:
        raise NotApplicable(f"cannot evaluate the observable: {exc.message}")
    free = e.free_symbols
    return evaluate(e, {s: attrs[k] for k, s in syms.items() if s in free}, c.n)


def _overrides(model: Model, params: Mapping[str, float]) -> dict[str, float]:
    """The parameters whose values differ from their defaults (recomputed in order)."""
    names: dict[str, sp.Expr] = {}
    out: dict[str, float] = {}
    for name, p in model.params.items():
        actual = float(params[name])
        try:
            default = numeric(to_sympy(p.default, Scope(names, lets=model.lets)))
        except (ExprError, ValueError, TypeError):
            default = None
        if default is None or not math.isclose(default, actual, rel_tol=1e-12, abs_tol=1e-300):
            out[name] = actual
        names[name] = _number(actual)
    return out


def _params_at(model: Model, cm: CompiledModel, name: str, value: float) -> dict[str, float]:
    """Every parameter's value when the sweep parameter ``name`` is ``value``."""
    over = _overrides(model, cm.params)
    over[name] = float(value)
    try:
        return resolve_params(model, over)
    except SemdslError as exc:
        raise NotApplicable(f"{name} = {value:g} is not a valid parameter value "
                            f"({_first_message(exc)})")


def _first_message(exc: SemdslError) -> str:
    diags = getattr(exc, "diagnostics", None) or getattr(exc, "diags", None)
    if diags:
        return str(getattr(diags[0], "message", diags[0]))
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _compile_at(model: Model, cm: CompiledModel, name: str, value: float, **kw) -> CompiledModel:
    over = _overrides(model, cm.params)
    over[name] = float(value)
    try:
        return compile_model(model, over, seed=cm.seed, realization=cm.realization, **kw)
    except SemdslError as exc:
        raise NotApplicable(f"the model does not compile at {name} = {value:g} "
                            f"({_first_message(exc)})")


def _compiled_points(model, cm, axis_name, axis) -> list[CompiledModel]:
    """One compiled model per axis point of a parameter sweep (``[cm]`` otherwise)."""
    if axis_name is None or axis_name == "t":
        return [cm]
    return [_compile_at(model, cm, axis_name, v) for v in axis]


def _g(v: float) -> str:
    return f"{v:.6g}"


def _set_ids(c: CompiledModel, spec) -> np.ndarray:
    ids = c.sets.get(spec.text)
    if ids is None:
        raise NotApplicable(f"the set {spec.text} is not resolved in the compiled model")
    return np.asarray(ids, dtype=np.int64)


def _quantile_level(model: Model, c: CompiledModel, ob: Observable) -> float:
    if ob.kind == "median":
        return 0.5
    return _eval(model, c.params, ob.q, "the quantile level")


def _discrete_quantile(values: np.ndarray, probs: np.ndarray, q: float) -> float:
    """Smallest x with P(X <= x) >= q for a discrete distribution."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(probs[order])
    k = int(np.searchsorted(cum, q - 1e-12 * max(1.0, cum[-1]), side="left"))
    return float(values[order][min(k, order.size - 1)])


def _loglog_slope(x: np.ndarray, y: np.ndarray) -> float | None:
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2 or np.ptp(np.log(x[ok])) == 0:
        return None
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def _names_used(exprs, model: Model) -> set[str]:
    """Bare names used by expressions, with ``let`` definitions expanded."""
    out: set[str] = set()
    stack = [e for e in exprs if e is not None]
    seen_lets: set[str] = set()
    while stack:
        e = stack.pop()
        for n in walk(e):
            if isinstance(n, S.Name):
                out.add(n.id)
                if n.id in model.lets and n.id not in seen_lets:
                    seen_lets.add(n.id)
                    stack.append(model.lets[n.id])
    return out


# ====================================================================== two states
def _two_state(model, cm, ob, axis_name, axis) -> TheoryResult:
    cms = _compiled_points(model, cm, axis_name, axis)
    for c in cms:
        if c.n != 2:
            raise NotApplicable(f"the landscape has {c.n} nodes, not 2")
    c0 = cms[0]
    a = int(np.argmax(c0.init))
    b = 1 - a
    A, B = c0.nodes.name(a), c0.nodes.name(b)
    form = (f"two-state chain {A} <-> {B}: p_{B}(t) = p_{B}(inf) + (p_{B}(0) - p_{B}(inf)) "
            f"exp(-(k+ + k-) t), p_{B}(inf) = k+/(k+ + k-), k+ = rate {A} -> {B}, k- = rate {B} -> {A}")

    def rates(c):
        Q = c.generator.toarray()
        return float(Q[a, b]), float(Q[b, a])

    def probs(c, t):
        """(p_a, p_b) at times t (np.inf: stationary)."""
        kp, km = rates(c)
        p0 = c.init
        kap = kp + km
        pb0 = float(p0[b])
        pbs = kp / kap if kap > 0 else pb0
        if np.isscalar(t) and np.isinf(t):
            pb = np.array([pbs])
        else:
            pb = pbs + (pb0 - pbs) * np.exp(-kap * np.asarray(t, float))
        return 1 - pb, pb

    time_axis = axis_name == "t"
    values: list = []
    law: dict[str, Any] = {"kind": "two_state"}
    kp, km = rates(c0)
    if axis_name is None or time_axis:
        law.update(k_plus=kp, k_minus=km, relaxation_rate=kp + km,
                   stationary=(kp / (kp + km) if kp + km > 0 else None))
    if ob.kind == "first_passage":
        ids = set(_set_ids(c0, ob.sets[0]).tolist())
        if ids == {0, 1}:
            values = [0.0] * (axis.size if axis is not None else 1) if not time_axis else [1.0] * axis.size
            note = f"{form}; the target {ob.sets[0].text} contains every node: passage at t = 0"
            return TheoryResult(values, note, law)
        if not ids:
            raise NotApplicable("the target set is empty")
        tgt = next(iter(ids))
        src = 1 - tgt
        if time_axis:
            k = float(c0.generator.toarray()[src, tgt])
            m = float(c0.init[tgt])
            t = axis
            values = list(m + (1 - m) * (1 - np.exp(-k * t)))
            note = (f"{form}; first passage to {ob.sets[0].text}: P(T <= t) = "
                    f"1 - exp(-k t) with k = {_g(k)} (the rate {c0.nodes.name(src)} -> "
                    f"{c0.nodes.name(tgt)})" + (f", plus the initial mass {m:g} already there" if m else ""))
            law.update(first_passage_rate=k)
            return TheoryResult(values, note, law)
        for c in cms:
            k = float(c.generator.toarray()[src, tgt])
            m = float(c.init[tgt])
            values.append(((1 - m) / k) if k > 0 else (0.0 if m == 1 else None))
        note = (f"{form}; mean first passage to {ob.sets[0].text} = 1/k with k the rate "
                f"{c0.nodes.name(src)} -> {c0.nodes.name(tgt)}"
                + ("" if axis_name is None else f", at each {axis_name}"))
        return TheoryResult(values, note, law)

    t_eval = axis if time_axis else np.inf
    where = "over t" if time_axis else ("stationary" + (f", at each {axis_name}" if axis_name else ""))
    for c in (cms if not time_axis else [c0]):
        pa, pb = probs(c, t_eval)
        p = np.vstack([pa, pb]) if a == 0 else np.vstack([pb, pa])  # rows: node 0, node 1
        if ob.kind == "prob":
            ids = _set_ids(c, ob.sets[0])
            vals = p[ids].sum(axis=0) if ids.size else np.zeros(p.shape[1])
        elif ob.kind == "mean":
            x = _node_values(model, c, ob.expr)
            vals = x[0] * p[0] + x[1] * p[1]
        elif ob.kind in ("median", "quantile"):
            x = _node_values(model, c, ob.expr)
            q = _quantile_level(model, c, ob)
            vals = np.array([_discrete_quantile(x, p[:, j], q) for j in range(p.shape[1])])
        else:
            raise NotApplicable(f"{ob.kind}() has no two-state closed form")
        values.extend(float(v) for v in np.atleast_1d(vals))
    detail = f"{where}; k+ = {_g(kp)}, k- = {_g(km)}" if axis_name in (None, "t") else where
    return TheoryResult(values, f"{form} ({detail})", law)


# ====================================================================== birth-death chain
def _chain_structure(c: CompiledModel):
    """(order, u, d): nodes along a path with constant up rate u and down rate d, ends absorbing."""
    n = c.n
    if n < 3:
        raise NotApplicable(f"a birth-death chain needs at least 3 nodes, the landscape has {n}")
    Q = c.generator.tocoo()
    off = (Q.row != Q.col) & (Q.data > 0)
    i, j, r = Q.row[off], Q.col[off], Q.data[off]
    pairs = np.unique(np.stack([np.minimum(i, j), np.maximum(i, j)], 1), axis=0)
    if pairs.shape[0] != n - 1:
        raise NotApplicable("the landscape is not a path (a chain of nodes)")
    deg = np.bincount(pairs.ravel(), minlength=n)
    if deg.max() > 2 or np.count_nonzero(deg == 1) != 2 or np.any(deg == 0):
        raise NotApplicable("the landscape is not a path (a chain of nodes)")
    adj = [[] for _ in range(n)]
    for u, v in pairs:
        adj[u].append(v)
        adj[v].append(u)
    start = int(np.flatnonzero(deg == 1)[0])
    order = [start]
    prev = -1
    while len(order) < n:
        nxt = [w for w in adj[order[-1]] if w != prev]
        if not nxt:
            raise NotApplicable("the landscape is not a connected path")
        prev = order[-1]
        order.append(int(nxt[0]))
    pos = np.empty(n, dtype=np.int64)
    pos[np.array(order)] = np.arange(n)
    exit_from = np.bincount(i, minlength=n)
    if exit_from[order[0]] or exit_from[order[-1]]:
        raise NotApplicable("the ends of the chain are not absorbing")
    up = pos[j] == pos[i] + 1
    ups, downs = r[up], r[~up]
    if ups.size != n - 2 or downs.size != n - 2:
        raise NotApplicable("interior nodes do not each have one hop up and one hop down")
    u, d = float(ups[0]), float(downs[0])
    if not (np.allclose(ups, u, rtol=1e-9, atol=0) and np.allclose(downs, d, rtol=1e-9, atol=0)):
        raise NotApplicable("the hop rates vary along the chain (no constant-rate closed form)")
    return np.array(order), pos, u, d


def _ruin(i: int, N: int, u: float, d: float) -> tuple[float, float]:
    """(P(hit N before 0), mean duration in time) from i for up rate u, down rate d."""
    if i <= 0 or i >= N:
        return (1.0 if i >= N else 0.0), 0.0
    rho = d / u
    steps_rate = u + d
    if abs(rho - 1) < 1e-12:
        return i / N, i * (N - i) / steps_rate
    p, q = u / steps_rate, d / steps_rate
    win = (1 - rho**i) / (1 - rho**N)
    steps = i / (q - p) - (N / (q - p)) * win
    return float(win), float(steps / steps_rate)


def _birth_death(model, cm, ob, axis_name, axis) -> TheoryResult:
    if axis_name == "t":
        raise NotApplicable("the closed forms are absorption probabilities and the mean "
                            "duration (no time axis)")
    if ob.kind not in ("prob", "first_passage"):
        raise NotApplicable(f"{ob.kind}() has no birth-death closed form here")
    cms = _compiled_points(model, cm, axis_name, axis)
    values: list = []
    fractions: list = []
    for c in cms:
        order, pos, u, d = _chain_structure(c)
        N = order.size - 1
        start = np.flatnonzero(c.init > 0)
        if start.size != 1:
            raise NotApplicable("the walk does not start from a single node")
        i = int(pos[start[0]])
        bottom, top = int(order[0]), int(order[-1])
        win, duration = _ruin(i, N, u, d)
        ids = set(_set_ids(c, ob.sets[0]).tolist())
        if ob.kind == "prob":
            values.append(win * (top in ids) + (1 - win) * (bottom in ids))
        else:
            if ids - {top, bottom}:
                raise NotApplicable("the first-passage target contains interior nodes")
            if ids == {top, bottom}:
                values.append(duration)
            elif ids:
                frac = win if top in ids else 1 - win
                values.append(None if frac < 1 else duration)
                fractions.append(frac)
            else:
                raise NotApplicable("the target set is empty")
    note = ("birth-death chain with constant rates and absorbing ends (gambler's ruin): "
            "P(reach the top end before the bottom) = (1 - (d/u)^i)/(1 - (d/u)^N) (= i/N for "
            "u = d), mean duration = [i/(q - p) - N/(q - p) P]/(u + d) with p = u/(u+d), "
            "q = d/(u+d) (= i (N - i)/(u + d) for u = d); i = start position, N = chain length")
    law = {"kind": "birth_death", "N": int(order.size - 1), "up_rate": u, "down_rate": d}
    if ob.kind == "prob":
        note += "; the stationary state sits on the two ends"
    if fractions:
        law["finite_fraction"] = fractions
        note += ("; the passage to one end is infinite in the runs absorbed at the other "
                 "(finite_fraction in law), so its mean is null")
    return TheoryResult(values, note, law)


# ====================================================================== exploration
#: shortest route (nodes) whose integer length is a smooth function of a parameter to
#: within 1/(2*8) ~ 6%: shorter routes are left out of the route-length exponent
ROUTE_MIN = 8
#: a power law holds where the local exponent stays within this fraction of its value
LAW_TOLERANCE = 0.05


def _route_time(l: np.ndarray, a: float, b: float) -> np.ndarray:
    """Mean time to cross a chain of ``l`` nodes entered at one end (reflecting) and left
    from the other at rate ``a``; hops forward at ``a``, back at ``b``:
    ``sum_{k<l} (1/a) sum_{j<=k} rho^j``, rho = b/a."""
    l = np.asarray(l, float)
    rho = b / a
    if abs(rho - 1.0) < 1e-12:
        return l * (l + 1) / (2 * a)
    return (l - rho * (1 - rho ** l) / (1 - rho)) / ((1 - rho) * a)


def _staircase(c: CompiledModel):
    """Levels of equal ``F``, each a chain from the node it is entered at to the node it
    is left from, crossed in a fixed order.  Returns (level of each node, route length of
    each level, next level of each level (-1 at the bottom), start level, a, b)."""
    if "F" not in c.nodes.attrs:
        raise NotApplicable("the landscape's nodes have no fallibility F to order levels by")
    F = np.asarray(c.nodes.attrs["F"], float)
    Q = c.generator.tocoo()
    off = (Q.row != Q.col) & (Q.data > 0)
    i, j, r = Q.row[off], Q.col[off], Q.data[off]
    if np.any(F[j] > F[i]):
        raise NotApplicable("some hops climb in F (barriers: see the trap model)")
    levels, lev = np.unique(-F, return_inverse=True)           # level 0 = highest F
    L = levels.size
    down = F[j] < F[i]
    # each level is left through one hop, from one node, into the entry of the next level
    if np.bincount(lev[i[down]], minlength=L)[:-1].min(initial=1) != 1 and L > 1:
        raise NotApplicable("a level is left through more than one hop")
    start = np.flatnonzero(c.init > 0)
    if start.size != 1:
        raise NotApplicable("the walk does not start from a single node")
    entries = np.concatenate([start, j[down]])
    exits = i[down]
    nxt = np.full(L, -1)
    nxt[lev[i[down]]] = lev[j[down]]
    n_entry = np.bincount(lev[entries], minlength=L)
    if n_entry.max() > 1:
        raise NotApplicable("a level is entered at more than one node")
    # positions along each chain: hops from the level's entry over barrier-free edges
    flat = ~down
    G = sps.csr_matrix((np.ones(int(flat.sum())), (i[flat], j[flat])), shape=(c.n, c.n))
    pos = csgraph.dijkstra(G, directed=False, unweighted=True, indices=entries, min_only=True)
    if not np.all(np.isfinite(pos)):
        raise NotApplicable("part of the landscape is not reachable within its level from the level's entry")
    pos = pos.astype(np.int64)
    size = np.bincount(lev, minlength=L)
    # a chain: positions 0..size-1 each once per level, hops between neighbours only
    key = lev * (c.n + 1) + pos
    if np.unique(key).size != c.n or np.any(pos >= size[lev]):
        raise NotApplicable("a level's sub-graph is not a chain from its entry (branches or loops)")
    if np.any(pos[exits] != size[lev[exits]] - 1):
        raise NotApplicable("a level is not left from the far end of its chain")
    step = pos[j[flat]] - pos[i[flat]]
    if np.any(np.abs(step) != 1):
        raise NotApplicable("a level's sub-graph is not a chain from its entry (branches or loops)")
    fwd = np.concatenate([r[flat][step == 1], r[down]])
    bwd = r[flat][step == -1]
    a = float(fwd[0])
    b = float(bwd[0]) if bwd.size else 0.0
    if not np.allclose(fwd, a, rtol=1e-9, atol=0) or (bwd.size and not np.allclose(bwd, b, rtol=1e-9, atol=0)):
        raise NotApplicable("hop rates vary along the chains (no single traversal rate)")
    if bwd.size and bwd.size != int(np.maximum(size - 1, 0).sum()):
        raise NotApplicable("some hops along a chain have no way back and others do")
    if b > a * (1 + 1e-12):
        raise NotApplicable("the chains drift away from their exits (backward rate above forward)")
    return lev, size, nxt, int(lev[start[0]]), a, b


def _local_exponents(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.gradient(np.log(y), np.log(x)) if x.size > 1 else np.full(x.size, np.nan)


def _plateau(x: np.ndarray, e: np.ndarray, ok: np.ndarray) -> tuple[float, list[float]] | None:
    """The power law's exponent and range along a sweep: the end of the axis where the
    local exponent changes least, and the contiguous points from there whose local
    exponent stays within LAW_TOLERANCE of it."""
    idx = np.flatnonzero(ok & np.isfinite(e))
    if idx.size < 3:
        return None
    ends = [idx[:3], idx[-3:]]
    flat = [float(np.ptp(e[s])) for s in ends]
    first = flat[0] <= flat[1]
    ref = float(e[idx[0]] if first else e[idx[-1]])
    good = ok & (np.abs(e - ref) <= LAW_TOLERANCE * max(abs(ref), 1e-12))
    run = idx if first else idx[::-1]
    keep = []
    for k in run:
        if not good[k]:
            break
        keep.append(int(k))
    if len(keep) < 3:
        return None
    return ref, [float(x[min(keep)]), float(x[max(keep)])]


def _exploration(model, cm, ob, axis_name, axis) -> TheoryResult:
    """Scaling laws from exploring flat sub-graphs (PHYSICS.md, "Scaling laws"), for the
    mean first passage to a set of levels over a parameter sweep."""
    if axis_name == "t":
        raise NotApplicable("the exploration laws are for the mean first passage over a parameter sweep")
    cms = _compiled_points(model, cm, axis_name, axis)
    vals, routes, rates, backs = [], [], [], []
    for c in cms:
        lev, size, nxt, at, a, b = _staircase(c)
        ids = _set_ids(c, ob.sets[0])
        if ids.size == 0:
            raise NotApplicable("the target set is empty")
        tl = np.unique(lev[ids])
        if np.bincount(lev[ids], minlength=size.size)[tl].tolist() != size[tl].tolist():
            raise NotApplicable("the target holds part of a level (its first passage is not a count of levels)")
        crossed = []
        seen = 0
        while at >= 0 and at not in set(tl.tolist()) and seen <= size.size:
            crossed.append(at)
            at = int(nxt[at])
            seen += 1
        if at < 0 or seen > size.size:
            vals.append(None)            # the target is never reached: no mean
            routes.append(np.nan)
        else:
            ls = size[np.array(crossed, dtype=np.int64)] if crossed else np.zeros(0, np.int64)
            vals.append(float(_route_time(ls, a, b).sum()))
            routes.append(float(ls.mean()) if ls.size else np.nan)
        rates.append(a)
        backs.append(b)
    rho = backs[0] / rates[0] if rates[0] > 0 else 0.0
    d_w = 2.0 if abs(rho - 1) < 1e-9 else 1.0
    law: dict[str, Any] = {"kind": "exploration", "quantity": "first_passage", "d_w": d_w, "tolerance": LAW_TOLERANCE,
                           "alpha": 1.0 / d_w, "mu": 1.0, "route_length": routes, "traversal_rate": rates}
    note = ("exploration of flat sub-graphs (PHYSICS.md, scaling laws without barriers): the landscape is a "
            "staircase of levels of equal F, each a chain from where it is entered to its exit; the mean time "
            "to cross a chain of l nodes with forward rate a and backward rate b = rho a is "
            "sum_{k<l} (1/a) sum_{j<=k} rho^j (l/a ballistic, l(l+1)/(2a) diffusive), summed over the levels "
            f"crossed before the target; walk dimension d_w = {d_w:g} (alpha = {1 / d_w:g}, "
            + ("unbiased: diffusive" if d_w == 2 else "forward drift: ballistic") + ")")
    if axis_name is not None and axis is not None and axis.size >= 3:
        x = np.asarray(axis, float)
        y = np.array([np.nan if v is None else v for v in vals], float)
        lr = np.asarray(routes, float)
        ar = np.asarray(rates, float)
        if np.ptp(lr[np.isfinite(lr)]) > 0 if np.isfinite(lr).any() else False:
            ok = np.isfinite(lr) & (lr >= ROUTE_MIN) & np.isfinite(y) & (x > 0)
            if ok.sum() < 3:
                raise NotApplicable(f"fewer than 3 points with routes of at least {ROUTE_MIN} nodes")
            # route length l ~ x^(-1/d_f): read from the compiled landscapes, least squares
            # over the routes long enough for their rounding to an integer not to matter
            s_l = _loglog_slope(x[ok], lr[ok])
            if s_l is None or s_l >= 0:
                raise NotApplicable(f"the route length to an exit does not fall as a power of {axis_name}")
            valid = [float(x[ok].min()), float(x[ok].max())]
            d_f = -1.0 / s_l
            law.update(exponent=d_w * s_l, d_f=d_f, valid=valid, axis=axis_name,
                       form=f"t ~ {axis_name}^(-1/(d_f alpha)) = {axis_name}^{_g(d_w * s_l)}")
            note += (f"; the route to an exit shrinks as l ~ {axis_name}^{_g(s_l)} in the compiled landscapes, "
                     f"i.e. d_f = {_g(d_f)} in l ~ {axis_name}^(-1/d_f), so the time (and F, which falls as "
                     f"1/S) scales as {axis_name}^(-1/(d_f alpha)) = {axis_name}^{_g(d_w * s_l)} for "
                     f"{axis_name} in {_g(valid[0])}..{_g(valid[1])} (routes of at least {ROUTE_MIN} nodes, so "
                     f"that rounding a length to an integer moves it by at most 1/{2 * ROUTE_MIN})")
        elif np.ptp(ar) > 0:
            # the parameter sets the traversal rate only: every time scales as 1/a
            e = -_local_exponents(x, ar)
            got = _plateau(x, e, np.isfinite(y) & (x > 0))
            if got is None:
                raise NotApplicable(f"the traversal rate does not follow a power of {axis_name} over the sweep")
            expo, valid = got
            law.update(exponent=expo, valid=valid, axis=axis_name,
                       form=f"t ~ 1/gamma({axis_name}) ~ {axis_name}^{_g(expo)}")
            note += (f"; {axis_name} sets the traversal rate gamma alone, so every time scales as 1/gamma: "
                     f"exponent {_g(expo)} for {axis_name} in {_g(valid[0])}..{_g(valid[1])} (local exponent "
                     f"within {LAW_TOLERANCE:.0%}); without barriers the data exponent mu is 1 where gamma "
                     f"grows as {axis_name}")
    return TheoryResult(vals, note, law)


# ====================================================================== trap model
#: Euler inverse-Laplace parameters (Abate & Whitt 1995): discretisation error ~ e^-A
_EULER_A, _EULER_N, _EULER_M = 18.4, 15, 11


def _pareto_laplace(a: np.ndarray, mu: float) -> np.ndarray:
    """``E[exp(-a tau/tau0)]`` for Pareto ``P(tau > s) = (s/tau0)^-mu``, ``s >= tau0``.

    ``psi(a) = mu a^mu Gamma(-mu, a)`` (upper incomplete gamma, complex ``a``, mpmath).
    """
    import mpmath as mp
    out = np.empty(a.size, dtype=complex)
    m = mp.mpf(mu)
    for k, z in enumerate(a):
        zz = mp.mpc(z.real, z.imag)
        out[k] = complex(m * mp.power(zz, m) * mp.gammainc(-m, zz))
    return out


@functools.lru_cache(maxsize=64)
def _renewal_cached(mu: float, tau0: float, K: int, times: tuple[float, ...]) -> np.ndarray:
    return _renewal(lambda s: _pareto_laplace(s * tau0, mu), K, times)


#: largest valley whose exit-time law is solved exactly (an M x M solve per quadrature node)
VALLEY_MAX_NODES = 20


def _valley_laplace(s: np.ndarray, mu: float, Gv: np.ndarray, ie: int, ix: int, r0: float,
                    nq: int = 400) -> np.ndarray:
    r"""``E[exp(-s tau)]`` for the exit time ``tau`` of one valley of the model.

    The walker enters the valley at node ``ie`` and moves with the valley's own
    generator ``Gv``; it leaves from node ``ix`` at rate ``r = r0 e^(-beta B)``.  Given
    ``r`` the transform is ``r [(sI - Gv + r e_x e_x^T)^-1]_{ie, ix}``; with ``B``
    exponential of rate ``mu beta``, ``W = e^(-mu beta B)`` is uniform on (0, 1] and
    ``r = r0 W^(1/mu)``, so the average is an integral over ``W`` (Gauss-Legendre,
    ``nq`` nodes).  This is the model's own waiting law: Pareto only in its tail,
    ``P(tau > t) ~ Gamma(1 + mu) (t/tau0)^-mu`` for a one-node valley.
    """
    gx, gw = np.polynomial.legendre.leggauss(nq)
    w = 0.5 * (gx + 1.0)
    ww = 0.5 * gw
    r = r0 * w ** (1.0 / mu)
    M = Gv.shape[0]
    eye = np.eye(M)
    out = np.empty(s.size, dtype=complex)
    rhs = np.zeros((nq, M, 1), dtype=complex)
    rhs[:, ix, 0] = 1.0
    for k, z in enumerate(s):
        A = np.broadcast_to(z * eye - Gv, (nq, M, M)).astype(complex)
        A[:, ix, ix] += r
        y = np.linalg.solve(A, rhs)[:, ie, 0]
        out[k] = np.sum(ww * r * y)
    return out


@functools.lru_cache(maxsize=64)
def _renewal_valley_cached(mu: float, valley: tuple, K: int, times: tuple[float, ...]) -> np.ndarray:
    M, flat_g, ie, ix, r0 = valley
    Gv = np.array(flat_g, dtype=float).reshape(M, M)
    return _renewal(lambda s: _valley_laplace(s, mu, Gv, ie, ix, r0), K, times)


def _renewal(psi, K: int, times: tuple[float, ...]) -> np.ndarray:
    """``P(min(N(t), K) = k)`` for a renewal process whose waiting time has Laplace
    transform ``psi(s)``: Euler inversion of ``(1 - psi) psi^k / s``, all ``k`` at once."""
    A, N, M = _EULER_A, _EULER_N, _EULER_M
    j = np.arange(N + M + 1)
    sgn = (-1.0) ** j
    sgn[0] = 0.5
    w = np.array([comb(M, m) for m in range(M + 1)], dtype=float) / 2.0**M
    out = np.zeros((len(times), K + 1))
    chunk = 8192
    for it, t in enumerate(times):
        if not t > 0:
            out[it, 0] = 1.0
            continue
        s = (A + 2j * np.pi * j) / (2 * t)
        ps = psi(s)
        base = (1 - ps) / s
        logp = np.log(ps)
        total = 0.0
        for k0 in range(0, K, chunk):
            kk = np.arange(k0, min(K, k0 + chunk))
            terms = (base[:, None] * np.exp(kk[None, :] * logp[:, None])).real * sgn[:, None]
            partial = np.cumsum(terms, axis=0)[N:N + M + 1]
            vals = math.exp(A / 2) / t * (w[:, None] * partial).sum(axis=0)
            vals = np.clip(vals, 0.0, None)
            out[it, kk] = vals
            total += float(vals.sum())
            if total > 1 - 1e-10:
                break
        out[it, K] = max(0.0, 1.0 - out[it, :K].sum())
        out[it] /= out[it].sum()
    return out


def pareto_renewal_levels(t: Sequence[float], mu: float, tau0: float = 1.0, K: int = 1000) -> np.ndarray:
    r"""Distribution of ``min(N(t), K)`` for a renewal process with Pareto waiting times.

    ``P(tau > s) = (s/tau0)^-mu`` for ``s >= tau0``.  ``P(N(t) = k)`` has the Laplace
    transform ``(1 - psi(s)) psi(s)^k / s``; it is inverted numerically (Euler
    algorithm, absolute error ~1e-8), all ``k`` at once.  Row ``i`` holds
    ``P(min(N(t_i), K) = k)``, ``k = 0..K``.
    """
    return _renewal_cached(float(mu), float(tau0), int(K), tuple(float(v) for v in t)).copy()


def trap_mean_constant(mu: float, b: float = 1.0) -> float:
    r"""``C`` in ``<A/(N_b + b)>(t) ~ A (t/tau0)^-mu (mu ln(t/tau0) + C)`` for ``mu < 1``.

    For Pareto waiting times ``N_b(t) ~ n* X`` with ``n* = (t/tau0)^mu / Gamma(1-mu)``
    and ``X`` Mittag-Leffler distributed (density ``1/Gamma(1-mu)`` at 0, Mellin
    transform ``Gamma(1+s)/Gamma(1+s mu)``).  Summing ``P(N_b = k)/(k + b)`` gives
    ``C = -ln Gamma(1-mu) - mu psi(1-mu) - gamma - psi(b)`` (``b = 1``:
    ``-ln Gamma(1-mu) - mu psi(1-mu)``: 0.105, 0.409, 2.707 for mu = 0.3, 0.5, 0.8).
    """
    return float(-special.gammaln(1 - mu) - mu * special.digamma(1 - mu)
                 - np.euler_gamma - special.digamma(b))


def _barrier_statements(model: Model, params) -> tuple[list[int], float]:
    """Statement indices whose edges carry B ~ exponential(...), and its rate lambda."""
    stmts = model.syntax.statements if model.syntax else ()
    index = {id(s): k for k, s in enumerate(stmts)}
    found: list[int] = []
    lams: list[float] = []
    for e in model.edges:
        for a in e.stmt.attrs:
            if a.name.value != "B":
                continue
            line = e.stmt.span.line if e.stmt.span else "?"
            if isinstance(a, S.AttrAssign):
                v = _eval(model, params, a.value, f"the barrier B of the edge at line {line}")
                if v != 0:
                    raise NotApplicable(f"the edge at line {line} sets a fixed barrier B = {_g(v)}, "
                                        "not an exponential one")
                continue
            dist = a.dist
            if dist.func.value != "exponential":
                raise NotApplicable(f"the barrier of the edge at line {line} is "
                                    f"{dist.func.value}(...), not exponential")
            kw = {k.name.value: k.value for k in dist.kwargs}
            if dist.args:
                kw.setdefault("rate", dist.args[0])
            if "rate" in kw:
                lam = _eval(model, params, kw["rate"], f"the barrier rate at line {line}")
            else:
                lam = 1.0 / _eval(model, params, kw["mean"], f"the barrier mean at line {line}")
            if any(x.name.value == "rate" for x in e.stmt.attrs):
                raise NotApplicable(f"the barrier edge at line {line} has its own rate, so the "
                                    "barrier law does not apply to it")
            if id(e.stmt) not in index:
                raise NotApplicable("cannot locate the barrier edge statement")
            found.append(index[id(e.stmt)])
            lams.append(lam)
    if not found:
        raise NotApplicable("no edge declares B ~ exponential(...)")
    if not np.allclose(lams, lams[0], rtol=1e-12):
        raise NotApplicable("edge statements declare exponential barriers of different rates")
    if lams[0] <= 0:
        raise NotApplicable("the barrier rate is not positive")
    return found, float(lams[0])


def _trap_landscape(model: Model, c: CompiledModel, beta: float, barrier_stmts: list[int]):
    """Levels (barriers crossed) of the reachable nodes, the bottom level and tau0."""
    n = c.n
    if c.transition_edge is None:
        raise NotApplicable("the compiled model does not map transitions to edges")
    pos = c.rates > 0
    src, dst = c.src[pos], c.dst[pos]
    eid = c.transition_edge[pos]
    bar = np.isin(c.edge_stmt[eid], barrier_stmts)
    if not bar.any():
        raise NotApplicable("no barrier edge exists in the compiled landscape")
    # 0-1 shortest paths: barrier hops weigh 1, others ~0 (parallel hops: the lightest)
    wts = np.where(bar, 1.0, 1e-9)
    key = src * n + dst
    order = np.lexsort((wts, key))
    first = np.ones(order.size, dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    sel = order[first]
    G = sps.csr_matrix((wts[sel], (src[sel], dst[sel])), shape=(n, n))
    sources = np.flatnonzero(c.init > 0)
    dist = csgraph.dijkstra(G, directed=True, indices=sources, min_only=True)
    reach = np.isfinite(dist)
    level = np.full(n, -1, dtype=np.int64)
    level[reach] = np.rint(dist[reach]).astype(np.int64)
    live = reach[src]
    if np.any(level[dst[live]] != level[src[live]] + bar[live].astype(np.int64)):
        raise NotApplicable("the barrier edges do not order the landscape into levels "
                            "(some hop returns to a higher level, skips one, or a barrier-free "
                            "hop changes level): the walk is not a sequence of one-way descents")
    K = int(level[reach].max())
    if K < 1:
        raise NotApplicable("no barrier is reachable from init")
    # valleys: strongly connected sets of barrier-free hops among reachable nodes
    nb = live & ~bar
    Gnb = sps.csr_matrix((np.ones(int(nb.sum())), (src[nb], dst[nb])), shape=(n, n))
    ncomp, comp = csgraph.connected_components(Gnb, directed=True, connection="strong")
    size = np.bincount(comp, minlength=ncomp)
    lb = live & bar
    exits = np.bincount(comp[src[lb]], minlength=ncomp)
    if np.any(exits > 1):
        raise NotApplicable("a valley has more than one barrier exit (the waiting time is a "
                            "minimum of several Pareto times, with a different exponent)")
    leaves = nb & (comp[src] != comp[dst])
    has_exit = exits == 1
    if np.any(has_exit[comp[src[leaves]]]):
        raise NotApplicable("a valley with a barrier exit can also be left without crossing it")
    # tau0: deep-trap exit time of a flat valley, M / (R0 w e^(-beta (max F - F_src)))
    B = c.edge_attrs["B"][eid[lb]]
    with np.errstate(over="ignore"):
        r_eff = c.rates[pos][lb] * np.exp(beta * B)
    tau = size[comp[src[lb]]] / r_eff
    tau0 = float(np.median(tau))
    F = c.nodes.attrs["F"]
    vcomp = comp[src[lb]]
    flat = True
    inside = nb & (comp[src] == comp[dst]) & np.isin(comp[src], vcomp)
    if inside.any():
        flat = bool(np.allclose(F[src[inside]], F[dst[inside]]))
        Qs = sps.csr_matrix((c.rates[pos][inside], (src[inside], dst[inside])), shape=(n, n))
        flat = flat and abs(Qs - Qs.T).max() <= 1e-9 * max(1.0, abs(Qs).max())
    spread = float(np.max(tau) / np.min(tau)) if tau.size else 1.0
    # the valley of the median barrier edge, as a small generator with its entry and exit
    valley = None
    j = int(np.argsort(tau)[tau.size // 2])
    v = vcomp[j]
    members = np.flatnonzero(comp == v)
    if members.size <= VALLEY_MAX_NODES:
        x_node = int(src[lb][j])
        into = dst[lb][comp[dst[lb]] == v]
        if into.size:
            e_node = int(into[0])
        else:
            starts = members[c.init[members] > 0]
            e_node = int(starts[0]) if starts.size else int(members[0])
        G = c.generator[members][:, members].toarray()
        np.fill_diagonal(G, 0.0)
        np.fill_diagonal(G, -G.sum(axis=1))
        pos_of = {int(m_): k for k, m_ in enumerate(members)}
        valley = (int(members.size), tuple(float(g) for g in G.ravel()), pos_of[e_node], pos_of[x_node],
                  float(r_eff[j]))
    return level, reach, K, tau0, flat, spread, int(np.median(size[vcomp])), valley


def _trap(model, cm, ob, axis_name, axis) -> TheoryResult:
    if ob.kind not in ("mean", "median", "quantile"):
        raise NotApplicable(f"{ob.kind}() is not a trap-model observable")
    law_decl = model.rate
    if law_decl.law != "barrier":
        what = "a custom rate expression" if law_decl.law is None else f"{law_decl.law}(...)"
        raise NotApplicable(f"the rate law is {what}, not barrier(R0, beta)")
    if axis_name != "t":
        raise NotApplicable("the trap-model result describes F over a time axis")
    args = dict(law_decl.args)
    beta = _eval(model, cm.params, args["beta"], "beta of the barrier law")
    if beta <= 0:
        raise NotApplicable("beta of the barrier law is not positive")
    stmts, lam = _barrier_statements(model, cm.params)
    mu = lam / beta
    level, reach, K, tau0, flat, spread, M, valley = _trap_landscape(model, cm, beta, stmts)
    x = _node_values(model, cm, ob.expr)
    h = np.full(K + 1, np.nan)
    for k in range(K + 1):
        xv = x[reach & (level == k)]
        if xv.size == 0:
            raise NotApplicable(f"no reachable node has {k} barriers crossed")
        if np.ptp(xv) > 1e-9 * max(1.0, float(np.max(np.abs(xv)))):
            raise NotApplicable(f"{_text(ob)} is not the same on all nodes with {k} "
                                "barriers crossed (the result needs a function of N_b)")
        h[k] = xv[0]
    t = axis
    # the model's own waiting law when every valley is the same; else Pareto of scale tau0
    exact_law = valley is not None and spread <= 1.01
    if exact_law:
        P = _renewal_valley_cached(float(mu), valley, int(K), tuple(float(v) for v in t)).copy()
    else:
        P = pareto_renewal_levels(t, mu, tau0, K)
    if ob.kind == "mean":
        values = P @ h
        quantity = "mean"
    else:
        q = _quantile_level(model, cm, ob)
        values = np.array([_discrete_quantile(h, P[i], q) for i in range(t.size)])
        quantity = "median" if ob.kind == "median" else f"quantile {q:g}"
    vals = [float(v) for v in values]
    # the law, when X = A/(N_b + b) (F ~ 1/N_b) or X = a N_b + c
    kk = np.arange(K + 1, dtype=float)
    law: dict[str, Any] = {"kind": "powerlaw", "quantity": quantity, "mu": mu, "lambda": lam,
                           "beta": beta, "tau0": tau0,
                           "waiting_law": "model valley exit time" if exact_law else "Pareto"}
    form = None
    sign = 0
    b = None
    if np.all(h > 0):
        c1, c0 = np.polyfit(kk, 1 / h, 1)
        if c1 > 0 and c0 > 0 and np.allclose(c0 + c1 * kk, 1 / h, rtol=1e-6, atol=0):
            sign, b = -1, c0 / c1
            form = f"{_text(ob)} = {_g(1 / c1)}/(N_b + {_g(b)})"
    if form is None:
        a1, a0 = np.polyfit(kk, h, 1)
        if a1 != 0 and np.allclose(a0 + a1 * kk, h, rtol=1e-9, atol=1e-12 * max(1.0, np.abs(h).max())):
            sign = 1 if a1 > 0 else -1
            form = f"{_text(ob)} = {_g(a1)} N_b + {_g(a0)}"
            b = None
    eff = _loglog_slope(t, np.abs(values)) if sign else None
    if sign:
        expo = mu if mu < 1 else 1.0
        law["exponent"] = sign * expo
        law["effective_exponent"] = eff
        if abs(mu - 1) < 1e-9:
            law["log_correction"] = "N_b ~ t/ln t at mu = 1"
        if ob.kind == "mean" and sign < 0 and b is not None and mu < 1:
            C = trap_mean_constant(mu, b)
            law["form"] = "t^-mu (mu ln(t/tau0) + C)"
            law["C"] = C
            xx = t / tau0
            with np.errstate(divide="ignore", invalid="ignore"):
                asym = xx ** -mu * (mu * np.log(xx) + C)
            law["effective_exponent_asymptotic"] = _loglog_slope(t, np.where(asym > 0, asym, np.nan))
    else:
        law = {"kind": "trap", "quantity": quantity, "mu": mu, "lambda": lam, "beta": beta,
               "tau0": tau0, "exponent": None, "effective_exponent": None}
    bottom = float(P[-1, K])
    R0 = _eval(model, cm.params, args["R0"], "R0 of the barrier law")
    note = (f"trap model (Bouchaud): barrier(R0 = {_g(R0)}, beta = {_g(beta)}) with B ~ exponential(rate = {_g(lam)}) on one-way descents gives "
            f"waiting times with tail tau^-(1+mu), mu = lambda/beta = {_g(mu)}. Values: the "
            f"disorder-averaged renewal solution for the number N_b of barriers crossed "
            + (f"(waiting times: the exit time of the model's valley of M = {M} node(s), its exit rate "
               f"averaged over the barrier law -- Pareto in the tail with scale tau0 = {_g(tau0)}; "
               if exact_law else
               f"(Pareto waiting times of scale tau0 = {_g(tau0)}, the deep-trap exit time "
               f"M/R0_eff of a valley of M = {M} node(s); ")
            + f"numerical inverse Laplace transform), an absolute prediction with no fitted prefactor, "
              f"N_b capped at the bottom level {K}")
    if form is not None and sign < 0:
        typ = (f"t^-{_g(mu)}" if mu < 1 else ("ln t / t" if abs(mu - 1) < 1e-9 else "t^-1"))
        effs = _g(eff) if eff is not None else "n/a"
        if ob.kind == "mean" and "C" in law:
            asym = law.get("effective_exponent_asymptotic")
            note += (f". Law ({form}): the ensemble mean falls as (t/tau0)^-mu (mu ln(t/tau0) + C), "
                     f"C = -ln Gamma(1-mu) - mu psi(1-mu) - gamma - psi(b) = {_g(law['C'])}: exponent "
                     f"-mu with a log correction; these values have effective exponent {effs} over "
                     f"the axis (the asymptotic form alone: "
                     f"{_g(asym) if asym is not None else 'n/a'}); the typical walker (median) "
                     f"falls as {typ}")
        elif ob.kind == "mean":
            note += (f". Law ({form}): the ensemble mean falls as {typ}; effective exponent of "
                     f"these values over the axis {effs}")
        else:
            note += (f". Law ({form}): the typical walker ({quantity}) falls as {typ}; effective "
                     f"exponent of these values over the axis {effs} (the ensemble mean decays "
                     f"more slowly, with a log correction)")
    elif form is not None:
        note += (f". Law ({form}): N_b grows as t^{_g(mu if mu < 1 else 1)}; effective exponent "
                 f"of these values over the axis {_g(eff) if eff is not None else 'n/a'}")
    else:
        note += f". {_text(ob)} is not of the form A/(N_b + b) or a N_b + c: no power law is claimed"
    if not flat:
        note += "; valleys are not flat with symmetric hops, so tau0 is approximate"
    if spread > 1.01:
        note += f"; tau0 differs between valleys (x{spread:.3g}), the median is used"
    if bottom > 0.01:
        note += (f"; at t = {_g(float(t[-1]))} a fraction {bottom:.2g} of walkers has reached the "
                 "bottom level, which bends the curve")
    return TheoryResult(vals, note, law)


def _text(ob: Observable) -> str:
    from ..format import format_expr
    try:
        return format_expr(ob.expr)
    except Exception:  # pragma: no cover - formatting is best effort in a note
        return ob.name


# ====================================================================== lattice walks
def _lattice_walk(model, cm, ob, axis_name, axis) -> TheoryResult:
    if axis_name != "t":
        raise NotApplicable("the lattice-walk results describe the transient over a time axis")
    fams = list(model.families.values())
    if len(fams) != 1 or fams[0].generator != "lattice":
        raise NotApplicable("the landscape is not a single lattice(...) graph")
    f = fams[0]
    if model.edges:
        raise NotApplicable("edges are declared besides the lattice's own")
    if f.prob is not None or f.site_prob is not None:
        raise NotApplicable("the lattice is diluted")
    d = len(f.gen_dims)
    if d > 3:
        raise NotApplicable("lattices above 3 dimensions are not covered")
    coords = ("x", "y", "z")[:d]
    if any(a.name.value in coords for a in f.attrs):
        raise NotApplicable("the lattice coordinates are redefined in the attribute block")
    L = [int(round(_eval(model, cm.params, e, "a lattice size"))) for e in f.gen_dims]
    gargs = dict(f.gen_args)
    periodic = False
    if "periodic" in gargs:
        v = gargs["periodic"]
        periodic = bool(v.value) if isinstance(v, S.Bool) else bool(_eval(model, cm.params, v, "periodic"))
    if cm.rates.size == 0:
        raise NotApplicable("the lattice has no edges")
    R0 = float(cm.rates[0])
    if R0 <= 0 or not np.allclose(cm.rates, R0, rtol=1e-9, atol=0):
        raise NotApplicable("the hop rates are not all equal (not a uniform walk)")
    start = np.flatnonzero(cm.init > 0)
    if start.size != 1:
        raise NotApplicable("the walk does not start from a single node")
    i0 = int(start[0])
    x0 = np.array([cm.nodes.attrs[cn][i0] for cn in coords])
    if min(L) < 3:
        raise NotApplicable("a lattice side is shorter than 3")
    Ls = np.array(L, dtype=float)
    hk = np.floor(Ls / 2) if periodic else np.minimum(x0 - 1, Ls - x0)
    h = float(hk.min())
    if h < 1:
        raise NotApplicable("the walk starts on the boundary")
    t_valid = h * h / (2 * d * R0)
    # the images of the start across the 2d walls correct P and <r^2> by about
    # exp(-h^2/(R0 t)) each: keep values where their sum stays below 1%
    t_max = h * h / (R0 * math.log(200 * d))
    t = axis
    ok = t <= t_max
    bc = "periodic" if periodic else "open"
    valid_note = (f"infinite-lattice result; the walk feels the {bc} boundary (distance h = {h:g} "
                  f"from the start) at t ~ h^2/(2 d R0) = {_g(t_valid)}, and the values are given "
                  f"where the boundary correction 2 d exp(-h^2/(R0 t)) stays below 1%, "
                  f"t <= h^2/(R0 ln(200 d)) = {_g(t_max)}")
    nbad = int((~ok).sum())
    if nbad:
        valid_note += f"; the {nbad} axis point(s) beyond it are null"
    if ob.kind == "msd":
        if not set(ob.coords) <= set(coords) or len(set(ob.coords)) != len(ob.coords):
            raise NotApplicable(f"msd({', '.join(ob.coords)}) does not use the lattice coordinates "
                                f"{', '.join(coords)}")
        k = len(ob.coords)
        vals = 2 * R0 * t * k
        note = (f"random walk on the {d}D hypercubic lattice, hop rate R0 = {_g(R0)} per edge: "
                f"<r^2> = 2 R0 t per coordinate = {2 * k:g} R0 t over {', '.join(ob.coords)} "
                f"(exact); {valid_note}")
        law = {"kind": "powerlaw", "exponent": 1.0, "prefactor": 2 * k * R0, "d_w": 2.0,
               "quantity": "msd"}
    elif ob.kind == "visited":
        n = 2 * d * R0 * t
        big = n >= 10
        ok = ok & big
        with np.errstate(divide="ignore", invalid="ignore"):
            if d == 1:
                vals = np.sqrt(8 * n / np.pi)
                form, expo = "sqrt(8 n/pi)", 0.5
            elif d == 2:
                vals = np.pi * n / np.log(8 * n)
                form, expo = ("pi n/ln(8 n) (same leading order as PHYSICS.md's pi n/ln n, which "
                              "overestimates by 20-40% for n < 10^4; pi n/ln(8 n) is within 5% of "
                              "simulations from n = 100)"), 1.0
            else:
                vals = 0.6595 * n
                form, expo = "0.6595 n", 1.0
        note = (f"distinct sites visited by a random walk on the {d}D hypercubic lattice after "
                f"n = 2 d R0 t hops: S(n) ~ {form}; asymptotic, given for n >= 10 hops "
                f"(null below); {valid_note}")
        law = {"kind": "powerlaw", "exponent": expo, "quantity": "visited", "d_s": float(d)}
        if d == 2:
            law["log_correction"] = "S ~ pi n / ln n"
    elif ob.kind == "prob":
        ids = _set_ids(cm, ob.sets[0])
        if ids.size == 0:
            raise NotApplicable("the set is empty")
        if ids.size > 100_000:
            raise NotApplicable("the set is too large for the lattice Green's function sum")
        X = np.stack([cm.nodes.attrs[cn][ids] for cn in coords], axis=1)
        D = np.abs(X - x0)
        if periodic:
            D = np.minimum(D, Ls - D)
        vals = np.empty(t.size)
        for it, tt in enumerate(t):
            z = 2 * R0 * max(float(tt), 0.0)
            vals[it] = float(np.prod(special.ive(D, z), axis=1).sum())
        only_start = ids.size == 1 and ids[0] == i0
        note = (f"random walk on the {d}D hypercubic lattice, hop rate R0 = {_g(R0)}: "
                f"P_x(t) = prod_k exp(-2 R0 t) I_|dx_k|(2 R0 t) (exact, continuous time)"
                + (f"; the return probability ~ (4 pi R0 t)^(-d/2) at large t" if only_start else
                   f", summed over {ids.size} node(s)")
                + f"; {valid_note}")
        law = {"kind": "powerlaw", "exponent": -d / 2, "quantity": "prob", "d_s": float(d)}
        if only_start:
            law["prefactor"] = (4 * np.pi * R0) ** (-d / 2)
    else:
        raise NotApplicable(f"{ob.kind}() has no lattice-walk result")
    out = [float(v) if good and np.isfinite(v) else None for v, good in zip(vals, ok)]
    return TheoryResult(out, note, law)


def _gasket_walk(model, cm, ob, axis_name, axis) -> TheoryResult:
    """Exact walk exponents of the Sierpinski gasket (no closed-form prefactors)."""
    if axis_name != "t":
        raise NotApplicable("the fractal-walk exponents describe the transient over a time axis")
    fams = list(model.families.values())
    if len(fams) != 1 or fams[0].generator != "sierpinski":
        raise NotApplicable("the landscape is not a single sierpinski(...) graph")
    f = fams[0]
    if model.edges or f.prob is not None or f.site_prob is not None:
        raise NotApplicable("the gasket is diluted or has extra edges")
    if any(a.name.value in ("x", "y") for a in f.attrs):
        raise NotApplicable("the gasket coordinates are redefined in the attribute block")
    if cm.rates.size == 0 or not np.allclose(cm.rates, cm.rates[0], rtol=1e-9, atol=0):
        raise NotApplicable("the hop rates are not all equal (not a uniform walk)")
    start = np.flatnonzero(cm.init > 0)
    if start.size != 1:
        raise NotApplicable("the walk does not start from a single node")
    d_f, d_w = math.log(3) / math.log(2), math.log(5) / math.log(2)
    d_s = 2 * d_f / d_w
    law: dict[str, Any] = {"kind": "powerlaw", "d_f": d_f, "d_w": d_w, "d_s": d_s}
    if ob.kind == "msd":
        if set(ob.coords) != {"x", "y"}:
            raise NotApplicable("msd must use both gasket coordinates x, y")
        law.update(exponent=2 / d_w, quantity="msd")
        what = "<r^2> ~ t^(2/d_w)"
    elif ob.kind == "visited":
        law.update(exponent=d_s / 2, quantity="visited")
        what = "distinct sites ~ t^(d_s/2) (d_s < 2: the walk is recurrent)"
    elif ob.kind == "prob":
        ids = _set_ids(cm, ob.sets[0])
        if not (ids.size == 1 and ids[0] == start[0]):
            raise NotApplicable("only the return probability to the start node is covered")
        law.update(exponent=-d_s / 2, quantity="prob")
        what = "return probability ~ t^(-d_s/2)"
    else:
        raise NotApplicable(f"{ob.kind}() has no gasket result")
    note = (f"random walk on the Sierpinski gasket: d_f = ln 3/ln 2 = {d_f:.4f}, d_w = ln 5/ln 2 "
            f"= {d_w:.4f}, d_s = 2 d_f/d_w = {d_s:.4f} (exact): {what}, exponent "
            f"{law['exponent']:.4f}; asymptotic, with log-periodic wiggles, for 1/R0 << t and "
            "before the walk reaches the far corners; no closed-form prefactor, so the values "
            "are null and only the exponent is given")
    return TheoryResult([None] * axis.size, note, law)


# ====================================================================== percolation
#: (generator, dimension) -> name, bond threshold, site threshold (value, provenance)
LATTICE_THRESHOLDS: dict[tuple[str, int], dict[str, Any]] = {
    ("lattice", 2): {"name": "square", "bond": (0.5, "exact (Kesten 1980)"),
                     "site": (0.59274621, "numerical (Newman & Ziff 2000)")},
    ("lattice", 3): {"name": "simple cubic", "bond": (0.2488126, "numerical (Lorenz & Ziff 1998)"),
                     "site": (0.3116077, "numerical (Deng & Bloete 2005)")},
    ("triangular", 2): {"name": "triangular",
                        "bond": (2 * math.sin(math.pi / 18), "exact 2 sin(pi/18) (Sykes & Essam 1964)"),
                        "site": (0.5, "exact")},
    ("honeycomb", 2): {"name": "honeycomb",
                       "bond": (1 - 2 * math.sin(math.pi / 18), "exact 1 - 2 sin(pi/18) (Sykes & Essam 1964)"),
                       "site": (0.6970402, "numerical (Feng, Deng & Bloete 2008)")},
}


@dataclass(frozen=True)
class _DegreeLaw:
    """Degree law of a configuration model: a mixture of node groups.

    Group ``g`` has weight ``w[g]`` and either a Poisson law of mean ``poisson[g]`` or
    the pmf ``pmf[g]``; ``node_group`` maps nodes to groups (None: all typical).
    """

    w: tuple[float, ...]
    poisson: tuple[float | None, ...]
    pmf: tuple[np.ndarray | None, ...]
    node_group: np.ndarray | None = None
    description: str = ""

    def _G(self, g: int, u: float, deriv: int = 0) -> float:
        c = self.poisson[g]
        if c is not None:
            return (c ** deriv) * math.exp(c * (u - 1))
        p = self.pmf[g]
        k = np.arange(p.size, dtype=float)
        coef = p.copy()
        for _ in range(deriv):
            coef = (coef * k)[1:]
            k = k[1:] - 1
            if coef.size == 0:
                return 0.0
        return float(np.polynomial.polynomial.polyval(u, coef))

    def moments(self) -> tuple[float, float]:
        m1 = m2 = 0.0
        for g, wg in enumerate(self.w):
            c = self.poisson[g]
            if c is not None:
                m1 += wg * c
                m2 += wg * (c * c + c)
            else:
                p = self.pmf[g]
                k = np.arange(p.size, dtype=float)
                m1 += wg * float((k * p).sum())
                m2 += wg * float((k * k * p).sum())
        return m1, m2

    def G0(self, u: float) -> float:
        return sum(wg * self._G(g, u) for g, wg in enumerate(self.w))

    def G1(self, u: float, mean: float) -> float:
        return sum(wg * self._G(g, u, 1) for g, wg in enumerate(self.w)) / mean


def giant_component(law: _DegreeLaw) -> tuple[float, float, float, float]:
    r"""Molloy--Reed giant component of a configuration model: ``(S, u, kappa, <k>)``.

    ``u`` solves ``u = G1(u)`` (the probability that an edge does not lead to the giant
    component), ``S = 1 - G0(u)``; ``kappa = <k^2> - 2<k>`` (> 0 iff a giant exists).
    """
    m1, m2 = law.moments()
    kappa = m2 - 2 * m1
    if m1 <= 0 or kappa <= 0:
        return 0.0, 1.0, kappa, m1
    f = lambda u: law.G1(u, m1) - u  # noqa: E731
    if f(0.0) <= 0:
        u = 0.0
    else:
        hi = None
        for j in range(1, 60):
            cand = 1 - 2.0 ** -j
            if f(cand) < 0:
                hi = cand
                break
        if hi is None:  # kappa > 0 only by round-off
            return 0.0, 1.0, kappa, m1
        u = optimize.brentq(f, 0.0, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
    return float(1 - law.G0(u)), float(u), float(kappa), float(m1)


def _binomial_pmf(k: int, p: float) -> np.ndarray:
    return stats.binom.pmf(np.arange(k + 1), k, p)


def _find_crossings(axis: np.ndarray, g: np.ndarray, refine: Callable[[float], float] | None) -> list[float]:
    """Points where ``g`` changes sign strictly along the axis (refined by ``refine``).

    Zeros count only between strictly negative and strictly positive values (a graph
    without edges has ``<k^2> - 2<k> = 0`` without being critical).
    """
    roots: list[float] = []
    nz = [i for i in range(g.size) if np.isfinite(g[i]) and g[i] != 0]
    for i, j in zip(nz[:-1], nz[1:]):
        a, b = g[i], g[j]
        if a * b > 0:
            continue
        zeros = [k for k in range(i + 1, j) if g[k] == 0]
        if zeros:
            roots.append(float(axis[zeros[len(zeros) // 2]]))
            continue
        r = None
        if refine is not None:
            try:
                r = optimize.brentq(refine, axis[i], axis[j],
                                    xtol=1e-12 * max(1.0, abs(axis[j])), maxiter=200)
            except (ValueError, RuntimeError, NotApplicable):
                r = None
        if r is None:
            r = axis[i] + (axis[j] - axis[i]) * a / (a - b)
        roots.append(float(r))
    return roots


def _percolation(model, cm, ob, axis_name, axis) -> TheoryResult:
    if axis_name == "t":
        raise NotApplicable("graph observables do not depend on time")
    fams = list(model.families.values())
    graphs = [f for f in fams if f.kind == "graph"]
    if len(fams) == 1 and graphs and not model.edges:
        f = graphs[0]
        if f.generator in ("erdos_renyi", "random_regular"):
            return _perc_random_generator(model, cm, ob, axis_name, axis, f)
        if f.generator == "tree":
            return _perc_tree(model, cm, ob, axis_name, axis, f)
        ndim = len(f.gen_dims) if f.generator == "lattice" else 2
        if (f.generator, ndim) in LATTICE_THRESHOLDS:
            return _perc_lattice(model, cm, ob, axis_name, axis, f, ndim)
        raise NotApplicable(f"no configuration-model or known-threshold result for a "
                            f"{f.generator}(...) graph")
    if not graphs and model.edges:
        return _perc_declared(model, cm, ob, axis_name, axis)
    raise NotApplicable("the landscape is neither one random graph or lattice generator nor "
                        "a set of declared nodes and edges")


def _perc_tree(model, cm, ob, axis_name, axis, f) -> TheoryResult:
    """Percolation of a ``tree(b, h)``: exact where a tree allows it.

    On a tree two nodes are joined by one path, so with bond probability ``p`` and
    site probability ``q`` two single nodes at distance ``d`` are connected with
    probability exactly ``p^d q^(d+1)`` (every edge and every node of the path kept).
    The infinite tree -- the Bethe lattice of coordination ``z = b + 1`` -- percolates
    above ``p_c = 1/(z - 1) = 1/b`` (bond or site); a finite tree has no giant
    cluster, so ``largest_cluster`` has only the threshold.
    """
    from scipy.sparse import csgraph, coo_matrix
    from ..generators import tree as tree_graph
    gargs = dict(f.gen_args)
    plist = _axis_params(model, cm, axis_name, axis)
    b = int(round(_eval(model, plist[0], gargs["branching"], "branching")))
    h = int(round(_eval(model, plist[0], gargs["depth"], "depth")))

    def occ(params):
        pb = _eval(model, params, f.prob, "the bond probability") if f.prob is not None else 1.0
        q = _eval(model, params, f.site_prob, "the site probability") if f.site_prob is not None else 1.0
        return pb, q
    occs = np.array([occ(p) for p in plist])
    law: dict[str, Any] = {"kind": "percolation", "criterion": f"Bethe lattice z = {b + 1}: p_c = 1/(z - 1)",
                           "p_c": 1.0 / b if b > 1 else 1.0, "threshold": None}
    note = (f"tree({b}, {h}): one path between any two nodes; the infinite tree (Bethe lattice, "
            f"z = {b + 1}) percolates above p_c = 1/{b}")
    x = occs[:, 0] * occs[:, 1]
    if axis_name is not None and axis.size > 1 and b > 1:
        def refine(v):
            pb, q = occ(_params_at(model, cm, axis_name, v))
            return pb * q - 1.0 / b
        roots = _find_crossings(axis, x - 1.0 / b, refine)
        if roots:
            law["threshold"] = {"param": axis_name, "value": roots[0]}
            note += f"; the occupation crosses it at {axis_name} = {_g(roots[0])}"
    if ob.kind == "largest_cluster":
        return TheoryResult([None] * len(plist), note + "; a finite tree has no giant cluster: no value", law)
    sets = [_set_ids(cm, sp_) for sp_ in ob.sets]
    if any(len(ids) != 1 for ids in sets):
        return TheoryResult([None] * len(plist), note + "; connected(A, B) is exact for single nodes only", law)
    # the tree's own numbering (breadth first) is the family's: distance in the full tree
    g = tree_graph(b, h)
    fam = cm.nodes.family_table(f.name)
    ends = []
    for ids in sets:
        i = int(ids[0])
        ends.append(int(cm.nodes.index[i, 0]) - 1 if fam.start <= i < fam.stop else -1)
    if min(ends) < 0:
        raise NotApplicable("connected(A, B) names nodes outside the tree")
    A = coo_matrix((np.ones(g.src.size), (g.src, g.dst)), shape=(g.n, g.n))
    d = int(csgraph.shortest_path(A, directed=False, unweighted=True, indices=ends[0])[ends[1]])
    vals = [float(pb ** d * q ** (d + 1)) for pb, q in occs]
    law["distance"] = d
    return TheoryResult(vals, note + f"; connected(A, B) = p^d q^(d+1) with d = {d}, exact", law)


def _axis_params(model, cm, axis_name, axis) -> list[dict[str, float]]:
    if axis_name is None:
        return [dict(cm.params)]
    return [_params_at(model, cm, axis_name, v) for v in axis]


def _perc_values(ob, laws: list[_DegreeLaw], set_sizes, overlap: bool):
    """largest_cluster -> S; connected(A, B) -> P(A in giant) P(B in giant)."""
    vals, kappas, means = [], [], []
    for law in laws:
        S_, u, kappa, m1 = giant_component(law)
        kappas.append(kappa)
        means.append(m1)
        if ob.kind == "largest_cluster":
            vals.append(S_)
            continue
        if overlap:
            vals.append(1.0)
            continue
        probs = []
        for ids in set_sizes:
            if law.node_group is None:
                probs.append(1 - (1 - S_) ** len(ids))
            else:
                logq = sum(math.log(max(law._G(int(law.node_group[i]), u), 1e-300)) for i in ids)
                probs.append(1 - math.exp(logq))
        vals.append(probs[0] * probs[1])
    return vals, np.array(kappas), means


def _perc_result(ob, axis_name, axis, vals, kappas, means, refine, description) -> TheoryResult:
    law: dict[str, Any] = {"kind": "percolation", "criterion": "Molloy-Reed",
                           "threshold": None, "degree_law": description}
    if axis_name is not None and axis.size > 1:
        roots = _find_crossings(axis, kappas, refine)
        if roots:
            law["threshold"] = {"param": axis_name, "value": roots[0]}
            if len(roots) > 1:
                law["crossings"] = roots
    law["mean_degree"] = means if axis_name is not None else means[0]
    what = ("largest_cluster = S, the fraction of the nodes in the giant component"
            if ob.kind == "largest_cluster" else
            "connected(A, B) = P(A in the giant) P(B in the giant), P(X in the giant) = "
            "1 - prod_{i in X} G0_i(u) (for two single typical nodes S^2; clusters other than "
            "the giant are O(1/n) and neglected)")
    note = (f"configuration model (Molloy-Reed) with {description}: a giant component exists "
            f"iff <k^2> - 2<k> > 0; S = 1 - G0(u) with u = G1(u); {what}; n -> infinity limit")
    if law["threshold"] is not None:
        note += f"; the criterion changes sign at {axis_name} = {_g(law['threshold']['value'])}"
    elif axis_name is not None:
        note += (f"; <k^2> - 2<k> does not change sign over the axis ("
                 + ("always above threshold" if np.all(kappas > 0) else
                    "always below threshold" if np.all(kappas <= 0) else "touches zero") + ")")
    return TheoryResult([float(v) for v in vals], note, law)


def _perc_random_generator(model, cm, ob, axis_name, axis, f) -> TheoryResult:
    plist = _axis_params(model, cm, axis_name, axis)
    gargs = dict(f.gen_args)

    def law_at(params) -> _DegreeLaw:
        pb = _eval(model, params, f.prob, "the bond probability") if f.prob is not None else 1.0
        q = _eval(model, params, f.site_prob, "the site probability") if f.site_prob is not None else 1.0
        keep = pb * q
        if f.generator == "erdos_renyi":
            n = _eval(model, params, gargs["n"], "n")
            if "mean_degree" in gargs:
                c = _eval(model, params, gargs["mean_degree"], "mean_degree")
            else:
                c = _eval(model, params, gargs["p"], "p") * (n - 1)
            desc = "Poisson degrees of mean c x bond x site probability (erdos_renyi)"
            if axis_name is None:
                desc += f", c = {_g(c)}, bond {_g(pb)}, site {_g(q)}"
            return _DegreeLaw((1.0,), (c * keep,), (None,), description=desc)
        k = int(round(_eval(model, params, gargs["k"], "k")))
        desc = f"Binomial(k = {k}, bond x site probability) degrees (random_regular)"
        if axis_name is None:
            desc += f", bond x site = {_g(keep)}"
        return _DegreeLaw((1.0,), (None,), (_binomial_pmf(k, keep),), description=desc)

    laws = [law_at(p) for p in plist]
    sets = [_set_ids(cm, s) for s in ob.sets] if ob.kind == "connected" else []
    overlap = bool(len(sets) == 2 and np.intersect1d(sets[0], sets[1]).size)
    vals, kappas, means = _perc_values(ob, laws, sets, overlap)

    def refine(v):
        law = law_at(_params_at(model, cm, axis_name, v))
        m1, m2 = law.moments()
        return m2 - 2 * m1
    desc = laws[0].description
    res = _perc_result(ob, axis_name, axis, vals, kappas, means, refine if axis_name else None, desc)
    if f.site_prob is not None:
        res = TheoryResult(res.value, res.note + "; fractions are of the nodes that exist after "
                           "site dilution", res.law)
    return res


def _perc_lattice(model, cm, ob, axis_name, axis, f, ndim) -> TheoryResult:
    spec = LATTICE_THRESHOLDS[(f.generator, ndim)]
    plist = _axis_params(model, cm, axis_name, axis)

    def occ(params):
        pb = _eval(model, params, f.prob, "the bond probability") if f.prob is not None else 1.0
        q = _eval(model, params, f.site_prob, "the site probability") if f.site_prob is not None else 1.0
        return pb, q
    occs = np.array([occ(p) for p in plist])
    if np.all(occs[:, 1] == 1.0):
        mode, col = "bond", 0
    elif np.all(occs[:, 0] == 1.0):
        mode, col = "site", 1
    else:
        raise NotApplicable(f"bond and site dilution act together on the {spec['name']} lattice "
                            "(mixed percolation has no single known threshold)")
    pc, prov = spec[mode]
    law: dict[str, Any] = {"kind": "percolation", "criterion": f"known {mode} threshold of the "
                           f"{spec['name']} lattice, {prov}", "p_c": pc, "occupation": mode,
                           "threshold": None}
    g = occs[:, col] - pc
    note = (f"{mode} percolation of the {spec['name']} lattice: threshold p_c = {pc:g} "
            f"({prov}) for the infinite lattice; there is no closed form for "
            f"{'the largest-cluster fraction' if ob.kind == 'largest_cluster' else 'connected(A, B)'}, "
            "so the values are null")
    if axis_name is not None and axis.size > 1:
        def refine(v):
            return occ(_params_at(model, cm, axis_name, v))[col] - pc
        roots = _find_crossings(axis, g, refine)
        if roots:
            law["threshold"] = {"param": axis_name, "value": roots[0]}
            note += f"; the occupation crosses p_c at {axis_name} = {_g(roots[0])}"
        else:
            note += "; the occupation does not cross p_c over the axis"
    else:
        law["above_threshold"] = bool(g[0] > 0)
    if ndim == 2:
        note += "; a finite side L rounds the transition over a width ~ L^(-3/4) (nu = 4/3)"
    return TheoryResult([None] * (axis.size if axis is not None else 1), note, law)


def _perc_declared(model, cm, ob, axis_name, axis) -> TheoryResult:
    """Declared nodes with edges kept independently: an (in)homogeneous random graph."""
    if model.syntax is None:
        raise NotApplicable("the model has no syntax tree to rebuild the candidate edges from")
    for fam in model.families.values():
        if fam.prob is not None:
            raise NotApplicable(f"node family '{fam.name}' is kept with a probability")
    random_edges = [e for e in model.edges if e.stmt.prob is not None]
    if not random_edges:
        raise NotApplicable("no edge is random ('with probability'): the graph is fixed")
    plist = _axis_params(model, cm, axis_name, axis)
    # the candidate graph: every edge statement with its probability removed
    stmts = list(model.syntax.statements)
    index = {id(s): k for k, s in enumerate(stmts)}
    prob_of: dict[int, Any] = {}
    new_edges = []
    for e in model.edges:
        st = e.stmt
        if st.prob is not None:
            k = index.get(id(st))
            if k is None:
                raise NotApplicable("cannot locate an edge statement")
            st2 = dataclasses.replace(st, prob=None)
            stmts[k] = st2
            prob_of[k] = st.prob
            new_edges.append(dataclasses.replace(e, stmt=st2))
        else:
            new_edges.append(e)
    cand_model = dataclasses.replace(model, edges=tuple(new_edges),
                                     syntax=dataclasses.replace(model.syntax, statements=tuple(stmts)))
    # the candidate structure depends on the sweep only through structural expressions
    struct_exprs = []
    for fam in model.families.values():
        for dcl in fam.indexes:
            struct_exprs += [dcl.lo, dcl.hi]
        struct_exprs.append(fam.cond)
    for e in model.edges:
        for dcl in e.stmt.fors:
            struct_exprs += [dcl.lo, dcl.hi]
        struct_exprs.append(e.stmt.cond)
        for ref in (e.stmt.src, e.stmt.dst):
            struct_exprs += [s for s in (ref.subs or ()) if not isinstance(s, S.Star)]
    used = _names_used(struct_exprs, model)
    moving = {k for k in model.params if len({p[k] for p in plist}) > 1}
    per_point = bool(used & moving)
    over = _overrides(model, cm.params)
    cache: dict[tuple, Any] = {}

    def candidate(params):
        key = tuple(params[k] for k in sorted(used & set(model.params))) if not per_point \
            else tuple(sorted(params.items()))
        if key in cache:
            return cache[key]
        o = dict(over)
        o.update({k: params[k] for k in model.params if params[k] != cm.params.get(k)})
        n_est = None
        try:
            cc = compile_model(cand_model, o, seed=cm.seed, realization=cm.realization,
                               max_transitions=40_000_000)
        except SemdslError as exc:
            raise NotApplicable(f"the candidate graph (all 'with probability' edges kept) does "
                                f"not compile ({_first_message(exc)})")
        n = cc.n
        a, b = cc.edge_src, cc.edge_dst
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        keys = lo * n + hi
        if np.unique(keys).size != keys.size or keys.size != n * (n - 1) // 2:
            raise NotApplicable("the candidate edges (every 'with probability' edge kept) do not "
                                "join each pair of nodes exactly once, so the graph is not an "
                                "Erdos-Renyi-like random graph; no configuration-model result is claimed")
        cache[key] = (cc, n_est)
        return cache[key]

    def law_at(params) -> tuple[_DegreeLaw, CompiledModel]:
        cc, _ = candidate(params)
        n = cc.n
        stmt_p = {}
        for k, expr in prob_of.items():
            p = _eval(model, params, expr,
                      f"the probability of the edge statement at line {stmts[k].span.line}")
            if not 0 <= p <= 1:
                raise NotApplicable(f"an edge probability is {p:g}, outside 0..1")
            stmt_p[k] = p
        pe = np.array([stmt_p.get(int(s), 1.0) for s in np.unique(cc.edge_stmt)])
        uniq = np.unique(cc.edge_stmt)
        p_edge = pe[np.searchsorted(uniq, cc.edge_stmt)]
        if np.allclose(p_edge, p_edge[0], rtol=1e-12, atol=0):
            p = float(p_edge[0])
            c = (n - 1) * p
            ptext = " or ".join(dict.fromkeys(format_expr(e) for e in prob_of.values()))
            desc = (f"Poisson degrees of mean c = (n - 1) p (Erdos-Renyi-like: each of the "
                    f"n(n-1)/2 pairs of the n = {n} nodes is kept with probability p = {ptext}"
                    + (f" = {_g(p)}, c = {_g(c)}" if axis_name is None else "")
                    + "; Poisson is the n -> infinity limit of Binomial(n - 1, p))")
            return _DegreeLaw((1.0,), (c,), (None,), description=desc), cc
        levels, inv = np.unique(p_edge, return_inverse=True)
        counts = np.zeros((n, levels.size), dtype=np.int64)
        np.add.at(counts, (cc.edge_src, inv), 1)
        np.add.at(counts, (cc.edge_dst, inv), 1)
        rows, group = np.unique(counts, axis=0, return_inverse=True)
        pmfs, weights = [], []
        for r in range(rows.shape[0]):
            pmf = np.array([1.0])
            for j, cnt in enumerate(rows[r]):
                if cnt:
                    pmf = np.convolve(pmf, _binomial_pmf(int(cnt), float(levels[j])))
            pmfs.append(pmf)
            weights.append(float(np.count_nonzero(group == r)) / n)
        return _DegreeLaw(tuple(weights), (None,) * len(pmfs), tuple(pmfs), node_group=group.ravel(),
                          description="per-node Poisson-binomial degrees from the declared edge "
                                      "probabilities (inhomogeneous random graph)"), cc

    results = [law_at(p) for p in plist]
    laws = [r[0] for r in results]
    sets_per = []
    overlap = False
    if ob.kind == "connected":
        cc0 = results[0][1]
        sets_per = [_set_ids(cc0, s) for s in ob.sets]
        overlap = bool(np.intersect1d(sets_per[0], sets_per[1]).size)
    vals, kappas, means = [], [], []
    for law, cc in results:
        sets = [_set_ids(cc, s) for s in ob.sets] if ob.kind == "connected" else []
        v, k, m = _perc_values(ob, [law], sets, overlap)
        vals += v
        kappas.append(k[0])
        means += m
    kappas = np.array(kappas)

    refine = None
    if axis_name is not None and not per_point:
        def refine(v):
            law, _ = law_at(_params_at(model, cm, axis_name, v))
            m1, m2 = law.moments()
            return m2 - 2 * m1
    desc = laws[0].description
    res = _perc_result(ob, axis_name, axis, vals, kappas, means, refine, desc)
    if overlap:
        res = TheoryResult(res.value, res.note + "; A and B share a node, so they are always connected",
                           res.law)
    return res


# ====================================================================== dispatch
_RECOGNISERS: dict[str, tuple[tuple[str, Callable[..., TheoryResult]], ...]] = {
    "mean": (("two-state chain", _two_state), ("trap model", _trap)),
    "median": (("two-state chain", _two_state), ("trap model", _trap)),
    "quantile": (("two-state chain", _two_state), ("trap model", _trap)),
    "prob": (("two-state chain", _two_state), ("birth-death chain", _birth_death),
             ("lattice random walk", _lattice_walk), ("fractal random walk", _gasket_walk)),
    "first_passage": (("two-state chain", _two_state), ("birth-death chain", _birth_death),
                      ("exploration of flat chains", _exploration)),
    "msd": (("lattice random walk", _lattice_walk), ("fractal random walk", _gasket_walk)),
    "visited": (("lattice random walk", _lattice_walk), ("fractal random walk", _gasket_walk)),
    "largest_cluster": (("percolation", _percolation),),
    "connected": (("percolation", _percolation),),
}
