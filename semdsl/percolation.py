"""Percolation of a model's landscape: from ``with probability`` clauses to Newman-Ziff.

A model thins its landscape with ``with probability`` clauses: edges kept with
probability ``p`` (an edge statement's clause, or a generated graph's bond
probability) or nodes kept with probability ``q`` (a node family's clause, or a
generated graph's ``sites with probability``).  When every thinning clause of one
kind gives the *same* number from the parameters alone, the graph is bond (or site)
percolation of the undiluted landscape at occupation probability ``p``, and one
Newman-Ziff pass per realisation (:mod:`semdsl.solvers.percolate`) gives the graph
observables at every ``p`` at once -- instead of drawing and measuring a thinned graph
for every axis point.  Edges and nodes without a clause are always present.

:func:`plan` decides whether that holds for a model and an axis parameter, and says
why not otherwise (then ``run`` falls back to Monte Carlo over thinned realisations):

* edges and nodes are both thinned (correlated bond-site percolation: not a single
  occupation order);
* a probability depends on a ``for`` or index variable (not one ``p``);
* two clauses of one kind give different numbers;
* the axis parameter changes the landscape in another way than through the
  probabilities (a family size, a generator argument, an ``if`` condition): then the
  undiluted graph itself changes along the axis.

The occupation probability at each axis point comes from the clause's expression
evaluated with the parameters (no compilation), and thresholds found in ``p`` are
mapped back to the parameter's own units (``D_c``, ``N_c``) by inverting that
expression numerically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp

from .expr import ExprError, Scope, numeric, to_sympy
from .model import Model

#: what makes a parameter structural only through a thinning probability
_DILUTION_REASONS = ("an edge probability", "the probability of node ", "the bond probability of graph ",
                     "the site probability of graph ")


@dataclass(frozen=True)
class Plan:
    """How a model's graph observables map to percolation (see :func:`plan`).

    ``p[k]`` is the occupation probability at the ``k``-th parameter point;
    ``statements`` are the positions (in ``model.syntax.statements``) of the thinning
    clauses that are random somewhere on the axis -- their edges (bond) or nodes
    (site) are the ones Newman-Ziff occupies in random order; every other edge and
    node is always present.
    """

    mode: str | None                       # "bond", "site" or None (nothing is thinned)
    p: np.ndarray = field(default_factory=lambda: np.zeros(0))
    statements: frozenset = frozenset()
    what: tuple = ()                       # descriptions of those clauses (for messages)
    reason: str | None = None              # why Newman-Ziff does not apply (None: it does)
    random_graph: bool = False             # the undiluted graph differs between realisations

    @property
    def applies(self) -> bool:
        return self.reason is None and self.mode is not None


def _syntax_text(model: Model, e) -> str:
    """The statement's source text (its first line), for messages."""
    sp_ = getattr(e, "span", None)
    if sp_ is None or not model.source:
        return "?"
    line = model.source.splitlines()[sp_.line - 1]
    end = sp_.end_column - 1 if sp_.line == sp_.end_line else len(line)
    return line[sp_.column - 1:end].strip()


def _sym(v: float) -> sp.Expr:
    v = float(v)
    return sp.Integer(int(v)) if v.is_integer() and abs(v) < 2**62 else sp.Float(v, 17)


def _clauses(model: Model) -> list[tuple[str, Any, str, int]]:
    """Every thinning clause: (kind, expression, description, statement position)."""
    from . import syntax as S
    stmts = model.syntax.statements if model.syntax else ()
    pos = {id(s): k for k, s in enumerate(stmts)}
    by_name = {s.name.value: k for k, s in enumerate(stmts) if isinstance(s, (S.NodeStmt, S.GraphStmt))}
    out = []
    for f in model.families.values():
        k = by_name.get(f.name, -1)
        if f.kind == "graph":
            if f.prob is not None:
                out.append(("bond", f.prob, f"the bond probability of graph '{f.name}'", k))
            if f.site_prob is not None:
                out.append(("site", f.site_prob, f"the site probability of graph '{f.name}'", k))
        elif f.prob is not None:
            out.append(("site", f.prob, f"the probability of node '{f.name}'", k))
    for e in model.edges:
        if e.stmt.prob is not None:
            out.append(("bond", e.stmt.prob, f"the probability of '{_syntax_text(model, e.stmt)}'",
                        pos.get(id(e.stmt), -1)))
    return out


def _value(model: Model, expr, what: str, params: Mapping[str, float]) -> float:
    scope = Scope({k: _sym(v) for k, v in params.items()}, lets=model.lets)
    try:
        v = numeric(to_sympy(expr, scope), what)
    except ExprError as exc:
        raise ValueError(f"{what} is not a number of the parameters alone ({exc.message})") from None
    if not math.isfinite(v) or not (0.0 <= v <= 1.0):
        raise ValueError(f"{what} is {v:g}, not a probability")
    return v


def plan(model: Model, points: Sequence[Mapping[str, float]], axis_var: str | None = None) -> Plan:
    """Whether the model's graph along ``points`` (full parameter dicts) is plain bond or
    site percolation of one undiluted landscape, with one occupation probability each."""
    from .generators import GENERATORS
    random_graph = any(f.kind == "graph" and GENERATORS[f.generator].random for f in model.families.values())
    if axis_var is not None and axis_var in model.params:
        prm = model.params[axis_var]
        other = [r for r in prm.reasons if not r.startswith(_DILUTION_REASONS)]
        if prm.structural and other:
            return Plan(None, reason=f"'{axis_var}' also changes the landscape itself ({other[0]}), not "
                                     "only an occupation probability", random_graph=random_graph)
    K = len(points)
    random: dict[str, list] = {"bond": [], "site": []}
    for kind, expr, what, k in _clauses(model):
        try:
            vals = np.array([_value(model, expr, what, q) for q in points])
        except ValueError as exc:
            return Plan(None, reason=str(exc), random_graph=random_graph)
        if np.any(vals < 1.0):
            random[kind].append((what, k, vals))
    if random["bond"] and random["site"]:
        return Plan(None, reason="both edges and nodes are thinned (bond-site percolation has no single "
                                 "occupation order)", random_graph=random_graph)
    mode = "bond" if random["bond"] else ("site" if random["site"] else None)
    if mode is None:
        return Plan(None, p=np.ones(K), random_graph=random_graph)
    items = random[mode]
    p = items[0][2]
    for what, _, vals in items[1:]:
        bad = np.flatnonzero(np.abs(vals - p) > 1e-12)
        if bad.size:
            j = int(bad[0])
            return Plan(None, reason=f"the thinning probabilities differ ({items[0][0]} = {p[j]:g}, "
                                     f"{what} = {vals[j]:g}): not one occupation probability",
                        random_graph=random_graph)
    return Plan(mode, p=p, statements=frozenset(k for _, k, _ in items), what=tuple(w for w, _, _ in items),
                random_graph=random_graph)


def occupation(model: Model, pl: Plan, params: Mapping[str, float]) -> float:
    """The common occupation probability of the plan's clauses at ``params``."""
    vals = [_value(model, expr, what, params) for kind, expr, what, k in _clauses(model)
            if kind == pl.mode and k in pl.statements]
    return vals[0] if vals else 1.0


def to_parameter(model: Model, pl: Plan, params: Mapping[str, float], var: str, p_c: float,
                 lo: float, hi: float) -> float | None:
    """The value of ``var`` in ``[lo, hi]`` where the occupation probability equals ``p_c``.

    Bisection on the monotone segment that brackets ``p_c`` (the probability is
    evaluated on a 257-point grid first, so a non-monotone expression still gives the
    first crossing); ``None`` when ``p_c`` is not reached in the range.
    """
    def p_at(x):
        q = dict(params)
        q[var] = float(x)
        return occupation(model, pl, q) - p_c
    xs = np.linspace(lo, hi, 257)
    ys = np.array([p_at(x) for x in xs])
    s = np.sign(ys)
    idx = np.flatnonzero(s[:-1] * s[1:] <= 0)
    if idx.size == 0:
        return None
    a, b = xs[idx[0]], xs[idx[0] + 1]
    fa = ys[idx[0]]
    if fa == 0:
        return float(a)
    for _ in range(80):
        m = 0.5 * (a + b)
        fm = p_at(m)
        if fm == 0 or b - a <= 1e-12 * max(1.0, abs(m)):
            return float(m)
        if (fm > 0) == (fa > 0):
            a, fa = m, fm
        else:
            b = m
    return float(0.5 * (a + b))


# --------------------------------------------------------------------------- driver

#: graph observables the Newman-Ziff pass measures
NZ_OBSERVABLES = ("largest_cluster", "connected")


def undiluted_graph(model: Model, pl: Plan, params: Mapping[str, float], seed: int, realization: int,
                    limits: Mapping[str, Any] | None = None, structure_cache: dict | None = None):
    """The undiluted landscape and which of its edges (bond) or nodes (site) are random.

    Returns ``(cm, random_mask)``: ``cm`` compiled with ``undiluted=True``; the mask is
    over ``cm.edge_src`` (bond) or over the nodes (site).
    """
    from .compiler import compile_model
    cm = compile_model(model, params, seed=seed, realization=realization, undiluted=True,
                       structure_cache=structure_cache, **dict(limits or {}))
    if pl.mode == "bond":
        mask = np.isin(np.asarray(cm.edge_stmt, np.int64), np.fromiter(pl.statements, np.int64))
    else:
        fam_pos = _family_positions(model)
        fam_of_node = np.asarray(cm.nodes.family)
        tables = cm.nodes.families
        random_fams = np.array([fam_pos.get(t.name, -1) in pl.statements for t in tables], bool)
        mask = random_fams[fam_of_node] if fam_of_node.size else np.zeros(0, bool)
    return cm, mask


def _family_positions(model: Model) -> dict[str, int]:
    from . import syntax as S
    stmts = model.syntax.statements if model.syntax else ()
    return {s.name.value: k for k, s in enumerate(stmts) if isinstance(s, (S.NodeStmt, S.GraphStmt))}


def _child_seed(seed: int, *key: int) -> int:
    return int(np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key)).generate_state(1, np.uint64)[0]
               % (2**63))


def run_percolation(model: Model, pl: Plan, params: Mapping[str, float], observables, R: int, seed: int,
                    key: int = 0, limits: Mapping[str, Any] | None = None, grid: np.ndarray | None = None,
                    progress=None, peak: tuple | None = None) -> dict:
    """Newman-Ziff over ``R`` realisations for the graph observables ``observables``.

    Returns ``{"grid": p, name: {"value", "stderr"} ..., "chi": {...}, "M": int,
    "n": int}`` with canonical curves on ``grid`` (default: the plan's ``p``).  When
    the undiluted graph is the same in every realisation (no random generator), one
    call makes all ``R`` passes; otherwise each realisation compiles its own graph and
    makes one pass, and mean and standard error are taken over realisations.

    ``peak = (var, lo, hi)`` also gives ``out["pseudo_critical"]`` (see
    :func:`susceptibility_peak`) from the same passes: a fine occupation grid over the
    axis's range is appended to the canonical grid and split off again.
    """
    from .compiler import resolve_set
    from .solvers.percolate import newman_ziff, to_canonical
    g = np.asarray(pl.p if grid is None else grid, float)
    K = g.size
    fine = _peak_grid(model, pl, params, *peak) if peak is not None else None
    if fine is not None:
        g = np.concatenate([g, fine])
    per_real = pl.random_graph and R > 1
    batches = [(r, 1) for r in range(R)] if per_real else [(0, R)]
    vals: dict[str, list] = {}
    n = M = 0
    for r, reps in batches:
        cm, mask = undiluted_graph(model, pl, params, seed, r, limits)
        n = cm.n
        pairs = []
        for ob in observables:
            if ob.kind == "connected":
                pairs.append((resolve_set(cm, ob.sets[0]), resolve_set(cm, ob.sets[1])))
        if pl.mode == "bond":
            res = newman_ziff(cm.n, cm.edge_src, cm.edge_dst, mode="bond", realizations=reps,
                              seed=_child_seed(seed, key, r), grid=g, pairs=pairs or None,
                              always=~mask, progress=progress if not per_real else None)
            largest = (res.canonical["largest"]["value"], res.canonical["largest"]["stderr"])
        else:
            res = newman_ziff(cm.n, cm.edge_src, cm.edge_dst, mode="site", realizations=reps,
                              seed=_child_seed(seed, key, r), grid=g, pairs=pairs or None,
                              progress=progress if not per_real else None)
            # the model's largest_cluster is a fraction of the nodes that exist (m of them)
            scale = res.n / np.maximum(res.m, 1)
            sd = np.sqrt(np.maximum(res.largest_sq - res.largest ** 2, 0.0) * (reps / max(reps - 1, 1)))
            largest = (to_canonical(res.largest * scale, g),
                       to_canonical(sd * scale, g) / np.sqrt(reps) if reps > 1 else np.full(g.size, np.nan))
        M = res.M
        j = 0
        for ob in observables:
            if ob.kind == "largest_cluster":
                v = largest
            else:
                c = res.canonical["connected"][j]
                v = (c["value"], c["stderr"])
                j += 1
            vals.setdefault(ob.name, []).append(v)
        vals.setdefault("\0chi", []).append((res.canonical["chi"]["value"], res.canonical["chi"]["stderr"]))
        vals.setdefault("\0largest", []).append(largest)
        if per_real and progress is not None:
            progress(r + 1, R)
    out: dict[str, Any] = {"grid": g[:K], "M": M, "n": n}
    for name, items in vals.items():
        if len(items) == 1:
            value, se = items[0]
        else:  # one pass per realisation: spread over realisations
            arr = np.array([v for v, _ in items])
            value = arr.mean(axis=0)
            se = arr.std(axis=0, ddof=1) / math.sqrt(arr.shape[0])
        out[name.lstrip("\0")] = {"value": np.asarray(value)[:K], "stderr": np.asarray(se)[:K]}
        if name == "\0chi" and fine is not None:
            out["pseudo_critical"] = susceptibility_peak(model, pl, params, *peak, fine, np.asarray(value)[K:])
    if peak is not None and fine is None:
        out["pseudo_critical"] = None
    return out


def _peak_grid(model: Model, pl: Plan, params: Mapping[str, float], var: str | None, lo: float, hi: float,
               points: int = 801) -> np.ndarray | None:
    """``points`` occupation probabilities over the range the axis ``[lo, hi]`` spans."""
    p_lo, p_hi = (occupation(model, pl, dict(params, **({var: lo} if var else {}))),
                  occupation(model, pl, dict(params, **({var: hi} if var else {}))))
    a, b = sorted((p_lo, p_hi))
    return np.linspace(a, b, points) if b > a else None


def susceptibility_peak(model: Model, pl: Plan, params: Mapping[str, float], var: str | None,
                        lo: float, hi: float, grid: np.ndarray, chi: np.ndarray) -> dict | None:
    """The finite-size pseudo-critical point: where the mean finite-cluster size peaks.

    ``chi`` is the canonical curve on ``grid`` (:func:`_peak_grid`, filled by
    :func:`run_percolation`); the peak is refined by a parabola through its neighbours
    and mapped to ``var``.  ``None`` when the peak sits at an end of the range (the
    transition is outside it).  At a finite size the peak lies ``~ size^(-1/nu)`` away
    from the infinite-size threshold; ``semdsl percolate --sizes`` extrapolates.
    """
    i = int(np.argmax(chi))
    if i == 0 or i == grid.size - 1:
        return None
    y0, y1, y2 = chi[i - 1], chi[i], chi[i + 1]
    den = y0 - 2 * y1 + y2
    shift = 0.5 * (y0 - y2) / den if den < 0 else 0.0
    p_star = float(grid[i] + shift * (grid[1] - grid[0]))
    out = {"method": "susceptibility peak (mean finite-cluster size), this size", "p": p_star,
           "chi_max": float(y1)}
    if var is not None:
        x = to_parameter(model, pl, params, var, p_star, lo, hi)
        if x is not None:
            out[var] = x
    return out


def simulate_graph_prediction(runner, pred, axis_vals, R: int, seed: int) -> dict | None:
    """The ``simulation`` method of ``run`` for ``largest_cluster`` / ``connected``
    predictions by Newman-Ziff, or ``None`` when the model's thinning is not one
    occupation probability (see :func:`plan`): the caller then measures compiled
    realisations."""
    a = pred.axis
    obs = pred.observables
    if not obs or not all(ob.kind in NZ_OBSERVABLES for ob in obs):
        return None
    over_param = a is not None and a.kind in ("over", "at") and not a.is_time
    if a is not None and not over_param:
        return None
    var = a.var if over_param else None
    points = ([dict(runner.params, **{var: float(v)}) for v in axis_vals] if over_param
              else [dict(runner.params)])
    pl = plan(runner.model, points, var)
    if not pl.applies:
        return None
    key = pred.span.line if pred.span else 0
    with_peak = over_param and axis_vals is not None and len(axis_vals) > 2
    res = run_percolation(runner.model, pl, points[0], obs, R, seed, key, runner.limits,
                          peak=(var, float(np.min(axis_vals)), float(np.max(axis_vals))) if with_peak else None)
    mode = "bond" if pl.mode == "bond" else "site"
    note = (f"Newman-Ziff {mode} percolation of the undiluted landscape ({res['M']:,} random "
            f"{'edges' if mode == 'bond' else 'nodes'}), {R} realisation(s): every occupation number, "
            f"converted to the occupation probability at each point; stderr over realisations")
    out: dict[str, dict] = {}
    peak = res.get("pseudo_critical")
    for ob in obs:
        v, s = res[ob.name]["value"], res[ob.name]["stderr"]
        entry: dict[str, Any] = {"value": [float(x) for x in v],
                                 "stderr": [None if not np.isfinite(x) else float(x) for x in s],
                                 "realizations": R, "note": note, "_walker_se": np.asarray(s, float),
                                 "_independent": True}
        if peak is not None:
            entry["pseudo_critical"] = peak
        out[ob.name] = entry
    return out


# --------------------------------------------------------------------------- semdsl percolate

def parse_over(text: str) -> tuple[str, float, float, bool, int]:
    """``PARAM=A:B[:log][:K]`` -> (name, A, B, log, K); K defaults to 41."""
    from .errors import Diagnostic, ParameterError, Span
    name, eq, rest = text.partition("=")
    parts = [x.strip() for x in rest.split(":")] if eq else []
    log, K = False, 41
    bad = None
    try:
        if not name.strip() or len(parts) < 2 or len(parts) > 4:
            raise ValueError
        lo, hi = float(parts[0]), float(parts[1])
        for extra in parts[2:]:
            if extra.lower() == "log":
                log = True
            else:
                K = int(extra)
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or K < 2 or (log and lo <= 0):
            bad = ("the range needs A < B (both finite, A > 0 with log) and at least 2 points",)
    except ValueError:
        bad = ("write --over PARAM=A:B[:log][:K], e.g. --over D=0:8000:41 or --over p=0.01:1:log:50",)
    if bad:
        raise ParameterError([Diagnostic(Span("--over", 0, 0, 0, 0), f"cannot read '--over {text}'", bad[0])])
    return name.strip(), lo, hi, log, K


def parse_sizes(text: str) -> tuple[str, list[float]]:
    """``NAME=v1,v2,v3`` -> (name, [v1, v2, v3])."""
    from .errors import Diagnostic, ParameterError, Span
    name, eq, rest = text.partition("=")
    try:
        vals = [float(x) for x in rest.split(",") if x.strip()] if eq else []
        if not name.strip() or not vals or len(set(vals)) != len(vals):
            raise ValueError
    except ValueError:
        raise ParameterError([Diagnostic(Span("--sizes", 0, 0, 0, 0), f"cannot read '--sizes {text}'",
                                         "write --sizes NAME=v1,v2,v3 with distinct numbers, e.g. "
                                         "--sizes L=32,64,128")]) from None
    return name.strip(), sorted(vals)


def _graph_observables(model: Model) -> list:
    return [ob for ob in model.observables.values() if ob.kind in NZ_OBSERVABLES]


def _scaling_exponent(model: Model) -> tuple[float, str, bool]:
    """Exponent x of N in ``largest * N^x`` (size-independent at p_c): beta/(nu d); its
    description; whether the landscape is a planar lattice."""
    for f in model.families.values():
        if f.kind == "graph" and f.generator in ("lattice", "triangular", "honeycomb") and \
                (f.ndim == 2):
            return 5.0 / 96.0, "largest_cluster * N^(5/96) (2-d percolation: beta/(nu d) = (5/36)/(8/3))", True
    return 1.0 / 3.0, "largest_cluster * N^(1/3) (mean-field percolation: S1 ~ N^(2/3) at p_c)", False


def percolate(model: Model, over: str | tuple, sizes: str | tuple | None = None, *, realizations: int = 100,
              seed: int = 1, params: Mapping[str, Any] | None = None, limits: Mapping[str, Any] | None = None,
              progress=None) -> dict:
    """Percolation curves of a model's landscape over a parameter, for one or more sizes.

    ``over`` is ``"PARAM=A:B[:log][:K]"`` (or its parsed tuple); ``sizes`` is
    ``"NAME=v1,v2,..."``: a structural parameter set to each value in turn.  For each
    size: Newman-Ziff curves (``realizations`` passes) of every ``largest_cluster`` and
    ``connected`` observable of the model and of the mean finite-cluster size ``chi``,
    at every axis point, and the pseudo-critical point (peak of ``chi``).  With at least
    three sizes, the threshold in the parameter's own units from the crossings of the
    curves (:func:`semdsl.solvers.percolate.crossing_threshold`): on a planar lattice,
    of the first ``connected`` observable (a spanning pair's probability is
    size-independent at the threshold); otherwise of the largest-cluster fraction
    scaled to be size-independent there, ``S1/N * N^x`` with ``x = beta / (nu d)`` (1/3
    for mean-field graphs, 5/96 for planar lattices).  The theory threshold (a known lattice
    threshold, Molloy-Reed) is reported beside it when the theory method has one.
    """
    from .compiler import compile_model, resolve_params
    from .errors import Diagnostic, ParameterError, Span
    from .solvers import theory
    from .solvers.percolate import crossing_threshold
    from . import __version__
    var, lo, hi, log, K = parse_over(over) if isinstance(over, str) else over
    size_name, size_vals = (parse_sizes(sizes) if isinstance(sizes, str) else sizes) if sizes else (None, [None])

    def fail(where, msg, hint=None):
        raise ParameterError([Diagnostic(Span(where, 0, 0, 0, 0), msg, hint)])
    if var not in model.params:
        fail("--over", f"'{var}' is not a parameter of model {model.name}",
             "parameters: " + ", ".join(model.params) if model.params else None)
    if size_name is not None and size_name not in model.params:
        fail("--sizes", f"'{size_name}' is not a parameter of model {model.name}",
             "parameters: " + ", ".join(model.params) if model.params else None)
    obs = _graph_observables(model)
    axis = np.geomspace(lo, hi, K) if log else np.linspace(lo, hi, K)
    base = dict(params or {})
    curves, blocks = {}, []
    x_exp, x_text, lattice = _scaling_exponent(model)
    # a spanning pair's probability is size-independent at p_c on a lattice; on a random
    # graph two given nodes are connected with probability ~ S^2 -> 0 at p_c for every
    # size, and the crossing is ill-conditioned: there the scaled largest cluster is used
    crossing_ob = next((ob for ob in obs if ob.kind == "connected"), None) if lattice else None
    theory_entry = None
    for i, sv in enumerate(size_vals):
        ps = dict(base)
        if size_name is not None:
            ps[size_name] = sv
        ps[var] = lo
        pr = resolve_params(model, ps)                     # ranges checked (ParameterError)
        resolve_params(model, dict(ps, **{var: hi}))
        points = [dict(pr, **{var: float(v)}) for v in axis]
        pl = plan(model, points, var)
        if not pl.applies:
            fail("--over", f"Newman-Ziff does not apply to '{var}' in model {model.name}: "
                 f"{pl.reason or 'nothing is thinned along the axis'}",
                 "percolate sweeps a parameter that sets the probability of 'with probability' "
                 "clauses (one probability for all thinned edges, or for all thinned nodes)")
        res = run_percolation(model, pl, pr, obs, realizations, seed, key=i, limits=limits, progress=progress,
                              peak=(var, lo, hi))
        block = {"size": sv, "nodes": res["n"], "random_elements": res["M"], "mode": pl.mode,
                 "p": [float(x) for x in res["grid"]], "pseudo_critical": res["pseudo_critical"],
                 "chi": {k: [float(x) for x in res["chi"][k]] for k in ("value", "stderr")}}
        for ob in obs:
            block[ob.name] = {k: [None if not np.isfinite(x) else float(x) for x in res[ob.name][k]]
                              for k in ("value", "stderr")}
        blocks.append(block)
        if crossing_ob is not None:
            c = res[crossing_ob.name]
            curves[_size_key(sv)] = (axis, np.asarray(c["value"]), np.nan_to_num(np.asarray(c["stderr"])))
        else:
            lg, f = res["largest"], res["n"] ** x_exp
            curves[_size_key(sv)] = (axis, lg["value"] * f, np.nan_to_num(lg["stderr"]) * f)
        if theory_entry is None and obs:
            try:
                cm = compile_model(model, pr, seed=seed, **dict(limits or {}))
                tr = theory.predict(model, cm, obs[0], var, axis)
                th = (tr.law or {}).get("threshold") if tr.law else None
                theory_entry = {"observable": obs[0].name, "criterion": (tr.law or {}).get("criterion"),
                                "value": th.get("value") if isinstance(th, dict) else None, "note": tr.note}
            except SemdslErrorBase:
                pass
    threshold: dict[str, Any] = {"value": None}
    if size_name is None or len(size_vals) < 3:
        threshold["note"] = "the crossing estimate needs --sizes with at least 3 values"
    else:
        try:
            ct = crossing_threshold(curves)
            threshold = {"value": float(ct["value"]), "interval": [float(x) for x in ct["interval"]],
                         "crossings": _clean_crossings(ct.get("crossings"), var),
                         "curve": crossing_ob.name if crossing_ob is not None else x_text}
        except ValueError as exc:
            threshold["note"] = f"no crossing estimate: {exc}"
    return {"model": model.name, "file": model.file, "model_hash": model.hash, "seed": int(seed),
            "semdsl_version": __version__, "realizations": int(realizations),
            "axis": {"name": var, "values": [float(x) for x in axis]},
            "sizes": {"name": size_name, "values": [None if v is None else float(v) for v in size_vals]},
            "curves": blocks, "threshold": threshold, "theory": theory_entry}


from .errors import SemdslError as SemdslErrorBase  # noqa: E402


def _size_key(v):
    """Crossing curves are keyed by size; sizes are counts (a side, a node number)."""
    return int(round(v)) if v is not None and float(v).is_integer() else v


def _clean_crossings(cr, var: str):
    """Crossings with their position under the axis parameter's name (not ``p``)."""
    if cr is None:
        return None
    out = []
    for c in cr:
        if isinstance(c, dict):
            out.append({(var if k == "p" else k): (float(v) if isinstance(v, (float, np.floating)) else
                                                   list(v) if isinstance(v, tuple) else v)
                        for k, v in c.items()})
        else:
            out.append(c)
    return out


def percolate_table(res: dict) -> str:
    """The human-readable form of :func:`percolate`'s result."""
    from .runner import _fmt
    var = res["axis"]["name"]
    lines = [f"percolate {res['model']} ({res['file']})  seed {res['seed']}  hash {res['model_hash']}  "
             f"{res['realizations']} realisations per size"]
    for b in res["curves"]:
        head = f"{res['sizes']['name']} = {_fmt(b['size'])}: " if b["size"] is not None else ""
        lines.append("")
        lines.append(f"{head}{b['nodes']:,} nodes, {b['random_elements']:,} random "
                     f"{'edges' if b['mode'] == 'bond' else 'nodes'} ({b['mode']} percolation)")
        names = [k for k in b if isinstance(b[k], dict) and "value" in b[k] and k != "chi"]
        cols = [(var, res["axis"]["values"]), ("p", b["p"])]
        for k in names:
            cols += [(k, b[k]["value"]), ("± stderr", b[k]["stderr"])]
        cols += [("chi", b["chi"]["value"])]
        widths = [max(len(h), 10) for h, _ in cols]
        lines.append("  " + "  ".join(h.rjust(w) for (h, _), w in zip(cols, widths)))
        for i in range(len(res["axis"]["values"])):
            lines.append("  " + "  ".join(_fmt(c[i]).rjust(w) for (_, c), w in zip(cols, widths)))
        pc = b.get("pseudo_critical")
        if pc:
            lines.append(f"  pseudo-critical point: {var} = {_fmt(pc.get(var))} (p = {_fmt(pc['p'])}; "
                         f"{pc['method']})")
        else:
            lines.append("  pseudo-critical point: the susceptibility peaks at an end of the range")
    lines.append("")
    th = res["threshold"]
    if th.get("value") is not None:
        lo, hi = th["interval"]
        lines.append(f"threshold (crossing of {th['curve']} between the two largest sizes): "
                     f"{var}_c = {_fmt(th['value'])}  (interval {_fmt(lo)}..{_fmt(hi)})")
    else:
        lines.append(f"threshold: {th.get('note')}")
    t = res.get("theory")
    if t and t.get("value") is not None:
        lines.append(f"theory ({t['criterion']}): {var}_c = {_fmt(t['value'])}")
    elif t:
        lines.append(f"theory: {t['note']}")
    return "\n".join(lines) + "\n"
