"""The ``simulation`` method of ``run``, and the agreement between methods.

Simulation of one prediction: for each disorder realisation, ``walkers`` independent
walkers of the kinetic Monte Carlo engine (:mod:`semdsl.solvers.simulate`) on that
realisation's generator; observables along the sampled times.  Graph observables
(``connected``, ``largest_cluster``, ``min_reachable``) are Monte Carlo over
realisations: each realisation's graph is measured and the realisations averaged.

Standard errors.  A quantile's walker error is the order-statistic one of the engine
(half the spread of the one-sigma binomial rank interval).  With ``R`` realisations the value is the mean of the per-realisation
estimates and ``stderr`` the two-level standard error ``sd_between / sqrt(R)`` (the
between-realisation spread already contains the walker noise); with one realisation it
is the walker standard error.  For the agreement with ``exact``, which uses the *same*
realisations, only the walker noise separates the two: ``z = (sim - exact) /
se_walkers`` with ``se_walkers = sqrt(sum_r se_r^2) / R``.

Agreement.  ``max_abs_z`` over the axis; ``ok`` when it stays below the two-sided
Bonferroni bound for a family-wise false-alarm rate of 1e-3 over the compared points
(``z_crit = Phi^-1(1 - 0.001 / (2 m))``).  For ``first_passage`` over a time axis a
Kolmogorov-Smirnov distance between the simulated first-passage times and the exact
distribution function on the axis grid is reported too (``kstwo`` p-value).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .compiler import attribute_values, resolve_set
from .expr import Scope, numeric, to_sympy
from .pooled import PooledDistribution, lower_quantile

if TYPE_CHECKING:  # pragma: no cover
    from .model import Prediction

DEFAULT_WALKERS = 2000
DEFAULT_T_MAX = 1e6
FAMILY_ALPHA = 1e-3


def _sym(v):
    import sympy as sp
    v = float(v)
    return sp.Integer(int(v)) if v.is_integer() and abs(v) < 2**62 else sp.Float(v, 17)


def simulate_prediction(runner, pred: "Prediction", axis_vals, R: int, seed: int,
                        opt: dict[str, Any], pred_index: int | None = None) -> dict[str, dict]:
    """Simulate one prediction: one task per (realisation, axis point) -- see
    :func:`simulate_piece` -- run through the runner's executor and results store, then
    combined here."""
    from .percolation import simulate_graph_prediction
    a = pred.axis
    obs = pred.observables
    got = simulate_graph_prediction(runner, pred, axis_vals, R, seed)
    if got is not None:
        return got
    W = int(opt.get("walkers", DEFAULT_WALKERS))
    over_param = a is not None and a.kind in ("over", "at") and not a.is_time
    on_time = a is not None and a.is_time and a.kind != "stationary"
    K = len(axis_vals) if axis_vals is not None else 1
    G = len(walker_groups(W))
    cells = [(r, k) for r in range(R) for k in (range(K) if over_param else [0])]
    tasks = [(r, k, g) for r, k in cells for g in range(G)] if G > 1 else cells
    if pred_index is None:
        done = [simulate_piece(runner, pred, axis_vals, *t, seed=seed, opt=opt, R=R) for t in tasks]
    else:
        done = runner.map_tasks("simulation", pred_index, pred, tasks)
    if G > 1:
        B0 = _boot_count(pred, R, on_time, over_param)
        pieces = [_merge_groups(pred, done[i * G:(i + 1) * G], W, B0, R, seed, cell, on_time)
                  for i, cell in enumerate(cells)]
    else:
        pieces = done
    items = cells
    est = {ob.name: np.full((R, K), np.nan) for ob in obs}
    se = {ob.name: np.full((R, K), np.nan) for ob in obs}
    notes: dict[str, str] = {}
    samples: dict[str, list] = {}
    censored = {ob.name: np.zeros(K, dtype=bool) for ob in obs}
    B = _boot_count(pred, R, on_time, over_param)
    reps: dict[str, np.ndarray] = {}
    n_tail = {ob.name: 0 for ob in obs}
    pools = {ob.name: PooledDistribution(R, K) for ob in obs if R > 1 and ob.kind in ("median", "quantile")}
    levels: dict[str, float] = {}
    for (r, k), piece in zip(items, pieces):
        col = slice(None) if not over_param else k
        for ob in obs:
            name = ob.name
            d = piece[name]
            if d.get("note"):
                notes[name] = d["note"]
            if d.get("censored"):
                censored[name][col] = True
                continue
            if "m" not in d:
                continue
            _put(est[name], se[name], r, col, d["m"], d["s"], on_time, over_param)
            if d.get("rep") is not None:
                rep = np.asarray(d["rep"], float)
                if not over_param:
                    reps[name] = rep
                else:
                    reps.setdefault(name, np.full((B, K), np.nan))[:, k] = rep[:, -1] if rep.ndim == 2 else rep
            if d.get("tail"):
                n_tail[name] += 1
            if d.get("fpt") is not None:
                samples.setdefault(name, []).append(np.asarray(d["fpt"], float))
            if name in pools:
                if d.get("pool") is None:
                    del pools[name]            # too large to histogram: per-realisation average
                else:
                    pl = d["pool"]
                    levels[name] = float(pl["q"])
                    pools[name].add_reduced(r, pl["u"], pl["w"], pl["keep"], None if not over_param else [k])
    out: dict[str, dict] = {}
    for ob in obs:
        name = ob.name
        v, s = est[name], se[name]
        fin = np.isfinite(v)
        n_fin = fin.sum(axis=0)
        mean = np.where(n_fin > 0, np.nansum(np.where(fin, v, 0), axis=0) / np.maximum(n_fin, 1), np.nan)
        walker_se = np.sqrt(np.nansum(np.where(fin, s, 0) ** 2, axis=0)) / np.maximum(n_fin, 1)
        walker_se = np.where(np.all(np.isnan(s) | ~fin, axis=0), np.nan, walker_se)
        if R > 1:
            dev = np.where(fin, v - mean, 0.0)
            sd = np.sqrt((dev ** 2).sum(axis=0) / np.maximum(n_fin - 1, 1))
            stderr = np.where(n_fin > 1, sd / np.sqrt(np.maximum(n_fin, 1)), walker_se)
        else:
            stderr = walker_se
        mean = np.where(censored[name], np.nan, mean)
        stderr = np.where(censored[name], np.nan, stderr)
        entry: dict[str, Any] = {"value": [None if not np.isfinite(x) else float(x) for x in mean],
                                 "stderr": [None if not np.isfinite(x) else float(x) for x in stderr],
                                 "walkers": W, "_walker_se": walker_se}
        if R > 1:
            entry["realizations"] = R
            entry["_samples"] = v
        if name in pools:
            from .runner import _pooled_entry
            pooled = _pooled_entry(pools[name], levels[name], v, R, seed, walkers=W)
            if pooled.get("pooled"):
                entry = dict(pooled, walkers=W)
                entry["note"] = (f"quantile of the {R * W} walkers pooled over {R} realisations; stderr: "
                                 "bootstrap over realisations")
        if np.any(~fin) and ob.kind == "first_passage" and not on_time:
            reach = np.where(censored[name], np.nan, n_fin / R)
            entry["finite_fraction"] = [None if not np.isfinite(x) else float(x) for x in reach]
        if n_tail[name] and not notes.get(name):
            notes[name] = (f"in {n_tail[name]} simulation(s) some walkers had not arrived by t_max: their "
                           "remaining time is the exponential tail fitted to the late arrivals "
                           "(quasi-stationary decay; see simrun.censored_mean)")
        if notes.get(name):
            entry["note"] = notes[name] + ("; " + entry["note"] if entry.get("pooled") else "")
        if name in samples:
            entry["_fpt"] = np.concatenate(samples[name])
        if name in reps:
            rp = reps[name]
            gap = ~np.isfinite(rp).all(axis=0) & np.isfinite(mean) & np.isfinite(stderr)
            if gap.any():
                # points without walker replicates (a censored mean with its fitted tail):
                # normal draws with the point's standard error
                rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xB1, len(name))))
                rp = rp.copy()
                rp[:, gap] = mean[gap] + stderr[gap] * rng.standard_normal((rp.shape[0], int(gap.sum())))
            entry["_replicates"] = rp
        if ob.kind == "prob" or (ob.kind == "first_passage" and on_time):
            # a fraction of walkers: compared with exact by a binomial test (see agreement)
            entry["_binomial"] = W * R
        out[name] = entry
    return out


def _boot_count(pred, R: int, on_time: bool, over_param: bool) -> int:
    """Bootstrap replicates over walkers a power-law fit of one realisation needs (several
    realisations: the fit bootstraps over them instead)."""
    return BOOT_REPLICATES if (pred.options.get("fit") == "powerlaw" and (on_time or over_param) and R == 1) else 0


#: walkers simulated by one task; more are split into groups of walkers, each a task
WALKERS_PER_TASK = 50_000
#: at least this many groups when walkers are split: the groups are the bootstrap's
#: resampling unit for a fitted exponent
MIN_GROUPS = 20


def walker_groups(W: int) -> list[int]:
    """Sizes of the walker groups of one (realisation, point): one group up to
    WALKERS_PER_TASK walkers, else at least MIN_GROUPS near-equal groups."""
    if W <= WALKERS_PER_TASK:
        return [W]
    G = max(MIN_GROUPS, -(-W // WALKERS_PER_TASK))
    base, extra = divmod(W, G)
    return [base + (1 if g < extra else 0) for g in range(G)]


def simulate_piece(runner, pred: "Prediction", axis_vals, r: int, k: int, g: int = 0, *, seed: int,
                   opt: dict[str, Any], R: int) -> dict[str, dict]:
    """One task of a simulated prediction: realisation ``r`` (and axis point ``k`` of a
    parameter sweep), ``walkers`` walkers from ``SeedSequence(seed, spawn_key=(r, k,
    line))``.  Returns per observable a dict of plain numbers and arrays (what the
    results store keeps): ``m``, ``s`` (estimate and walker error along the sampled
    times), ``rep`` (bootstrap replicates), ``pool`` (the walker histogram reduced to
    distinct values, for pooled quantiles), ``fpt`` (first-passage samples),
    ``censored`` / ``tail`` flags and ``note``."""
    from .solvers.simulate import simulate
    a = pred.axis
    obs = pred.observables
    W_all = int(opt.get("walkers", DEFAULT_WALKERS))
    sizes = walker_groups(W_all)
    grouped = len(sizes) > 1
    W = sizes[g]
    over_param = a is not None and a.kind in ("over", "at") and not a.is_time
    on_time = a is not None and a.is_time and a.kind != "stationary"
    n_points = len(axis_vals) if over_param else 1
    # a group's statistics are merged with the other groups' (_merge_groups): no
    # bootstrap inside it, raw first-passage times, and histograms for quantiles
    B = 0 if grouped else _boot_count(pred, R, on_time, over_param)
    pooling = R > 1 or grouped
    params = dict(runner.params)
    if over_param:
        params[a.var] = float(axis_vals[k])
    cm = runner.compiled(params, r, seed)
    if on_time:
        times = np.asarray(axis_vals, float)
        t_max = float(opt.get("t_max", times.max()))
    else:
        t_max = float(opt["t_max"]) if "t_max" in opt else _horizon(cm, W, obs, R * n_points)
        # first passages alone: a walker stops at its passage (a sample at t_max
        # would walk it on to t_max for nothing)
        fp_only = all(ob.kind == "first_passage" for ob in obs)
        times = np.array([0.0 if fp_only else t_max])
    values, targets, coords, quant = [], {}, None, []
    need_visited = False
    for ob in obs:
        if ob.kind in ("mean", "median", "quantile"):
            values.append(attribute_values(cm, ob.expr))
            if ob.kind != "mean":
                q = 0.5 if ob.kind == "median" else numeric(to_sympy(
                    ob.q, Scope({kk: _sym(vv) for kk, vv in cm.params.items()}, lets=cm.model.lets)))
                quant.append((len(values) - 1, q))
        elif ob.kind == "prob":
            ind = np.zeros(cm.n)
            ind[resolve_set(cm, ob.sets[0])] = 1.0
            values.append(ind)
        elif ob.kind == "first_passage":
            from .solvers.exact import can_reach
            tgt = resolve_set(cm, ob.sets[0])
            if on_time or can_reach(cm.generator, tgt)[cm.init > 0].any():
                targets[ob.name] = tgt
        elif ob.kind == "msd":
            coords = [cm.nodes.attrs[c] for c in ob.coords]
        elif ob.kind == "visited":
            need_visited = True
    sim = None
    line = pred.span.line if pred.span else 0
    sub_seed = np.random.SeedSequence(seed, spawn_key=(r, k, line) + ((g,) if grouped else ()))
    if values or targets or coords or need_visited:
        sim = simulate(cm.generator, cm.init, times, walkers=W,
                       seed=int(sub_seed.generate_state(1, np.uint64)[0]),
                       targets=targets or None, coords=coords, track_visited=need_visited,
                       observables=values or None, quantiles=quant or None, t_max=t_max,
                       histogram=pooling and bool(quant), replicates=B)
    out: dict[str, dict] = {}
    vi = 0
    for ob in obs:
        name = ob.name
        d: dict[str, Any] = {}
        out[name] = d
        if ob.kind in ("mean", "median", "quantile", "prob"):
            idx = vi
            vi += 1
            if ob.kind in ("mean", "prob"):
                m, s = sim.obs_mean[idx], sim.obs_stderr[idx]
                if B and "obs" in sim.replicates:
                    d["rep"] = sim.replicates["obs"][:, idx, :]
                vals_ = values[idx]
                # W walkers resolve a mean only to (range)/W: a zero sample spread
                # (no walker there yet) is not a zero error
                s = np.maximum(s, (float(vals_.max()) - float(vals_.min())) / W)
            else:
                qi = [j for j, (o, _) in enumerate(quant) if o == idx][0]
                m = sim.quantiles[qi]
                if B and "quantiles" in sim.replicates:
                    d["rep"] = sim.replicates["quantiles"][:, qi, :]
                # distribution-free (order-statistic) error; an observable with few
                # values resolves a quantile only to its gaps, as a mean to range / W
                s = np.maximum(sim.quantile_stderr[qi], _atom_gap(values[idx], m))
                if pooling:
                    d["pool"] = None
                    if sim.counts is not None:
                        u, w, keep = PooledDistribution.reduce(values[idx], sim.counts)
                        d["pool"] = {"u": u, "w": w, "keep": keep, "q": float(quant[qi][1])}
                    if grouped:
                        d["values"] = values[idx]
            d["m"], d["s"] = np.asarray(m, float), np.asarray(s, float)
            if not on_time:
                d["note"] = f"simulated value at t = {t_max:g} (t_max), as an estimate of the stationary value"
        elif ob.kind == "msd":
            d["m"], d["s"] = sim.msd_mean, sim.msd_stderr
            if B and "msd" in sim.replicates:
                d["rep"] = sim.replicates["msd"]
        elif ob.kind == "visited":
            d["m"], d["s"] = sim.visited_mean, sim.visited_stderr
            if B and "visited" in sim.replicates:
                d["rep"] = sim.replicates["visited"]
        elif ob.kind == "first_passage" and name not in targets:
            d["note"] = "the target cannot be reached from init in some realisations (null there)"
        elif ob.kind == "first_passage":
            fpt = np.asarray(sim.first_passage[name], float)
            if on_time:
                cdf = (fpt[:, None] <= times[None, :]).mean(axis=0)
                d["m"] = cdf
                d["s"] = np.sqrt(np.maximum(cdf * (1 - cdf), 1.0 / W) / W)
                d["fpt"] = fpt
                if grouped:
                    d["times"] = times
            elif grouped:
                d["fpt"] = fpt                # the merge decides (censoring needs every walker)
                d["t_max"] = t_max
            else:
                d.update(_fp_summary(fpt, t_max, B, sub_seed))
        else:  # graph observables: Monte Carlo over realisations
            from .runner import _Evaluator
            x, _ = _Evaluator(cm).value(ob, None)
            d["m"], d["s"] = np.array([float(x[0])]), np.array([0.0])
            d["note"] = "Monte Carlo over realisations of the graph"
    return out


def _merge_groups(pred, groups: list[dict], W: int, B: int, R: int, seed: int, cell: tuple,
                  on_time: bool) -> dict[str, dict]:
    """One (realisation, point)'s statistics from its walker groups, in the form of an
    ungrouped task.  Means: the walker-weighted mean, error ``sqrt(sum W_g^2 se_g^2)/W``
    (independent strata).  Quantiles: of the merged walker histogram (every walker),
    order-statistic error on all ``W`` walkers.  First passages: the walkers' times
    together.  Bootstrap replicates for a fit resample whole groups (``MIN_GROUPS`` or
    more)."""
    from .solvers.simulate import _quantile_ranks
    sizes = np.array(walker_groups(W), float)
    G = sizes.size
    r, k = cell
    line = pred.span.line if pred.span else 0
    ss = np.random.SeedSequence(seed, spawn_key=(r, k, line, 0xB2))
    rng = np.random.default_rng(ss)
    draws = rng.integers(0, G, size=(B, G)) if B else None
    out: dict[str, dict] = {}
    for name, first in groups[0].items():
        ds = [gp[name] for gp in groups]
        d: dict[str, Any] = {}
        if first.get("note"):
            d["note"] = first["note"]
        if first.get("censored"):
            d["censored"] = True
        elif "values" in first:                         # a quantile: merge the walker histograms
            f = np.asarray(first["values"], float)
            q = float(first["pool"]["q"])
            U = np.unique(np.concatenate([np.asarray(x["pool"]["u"], float) for x in ds]))
            C = np.zeros((len(first["pool"]["keep"]), U.size))
            per = []
            for x, n in zip(ds, sizes):
                c = np.zeros_like(C)
                keep = np.asarray(x["pool"]["keep"], bool)
                # walker counts are integers: rint undoes the normalisation's round-off
                c[np.flatnonzero(keep)[:, None], np.searchsorted(U, x["pool"]["u"])[None, :]] = \
                    np.rint(np.asarray(x["pool"]["w"], float) * n)
                per.append(c)
                C += c
            m, s = _count_quantile(U, C, q, int(W), _quantile_ranks)
            d["m"], d["s"] = m, np.maximum(s, _atom_gap(f, m))
            tot = C.sum(axis=1, keepdims=True)
            keep = tot[:, 0] > 0
            d["pool"] = {"u": U, "w": (C / np.where(tot > 0, tot, 1.0))[keep], "keep": keep, "q": q}
            if B:
                P = np.stack(per)                          # (G, K, U)
                d["rep"] = np.stack([_count_quantile(U, P[dr].sum(axis=0), q, int(W), None)[0] for dr in draws])
        elif "fpt" in first and not on_time:
            fpt = np.concatenate([np.asarray(x["fpt"], float) for x in ds])
            d.update(_fp_summary(fpt, float(first["t_max"]), B, ss))
        elif "fpt" in first:                            # first-passage distribution over time
            fpt = np.concatenate([np.asarray(x["fpt"], float) for x in ds])
            times = np.asarray(first["times"], float)
            cdf = (fpt[:, None] <= times[None, :]).mean(axis=0)
            d["m"], d["s"], d["fpt"] = cdf, np.sqrt(np.maximum(cdf * (1 - cdf), 1.0 / W) / W), fpt
        elif "m" in first:
            M = np.stack([np.asarray(x["m"], float) for x in ds])
            S = np.stack([np.asarray(x["s"], float) for x in ds])
            w = sizes[:, None] if M.ndim == 2 else sizes
            d["m"] = (M * w).sum(axis=0) / W
            d["s"] = np.sqrt(((S * w) ** 2).sum(axis=0)) / W
            if B:
                cnt = np.zeros((B, G))
                np.add.at(cnt, (np.repeat(np.arange(B), G), draws.ravel()), 1.0)
                cw = cnt * sizes[None, :]
                d["rep"] = (cw @ M.reshape(G, -1)).reshape((B,) + M.shape[1:]) / cw.sum(axis=1).reshape(
                    (B,) + (1,) * (M.ndim - 1))
        out[name] = d
    return out


def _count_quantile(U: np.ndarray, C: np.ndarray, q: float, W: int, ranks) -> tuple[np.ndarray, np.ndarray]:
    """Lower q-quantile of walker counts ``C`` (K, values ``U``) and, with ``ranks``, the
    order-statistic error of ``W`` walkers."""
    def at(level):
        return lower_quantile(U, C, level)
    m = at(q)
    if ranks is None:
        return m, None
    _, r_lo, r_hi = ranks(W, q)
    lo = at(min(1.0, (r_lo + 1) / W))
    hi = at(min(1.0, (r_hi + 1) / W))
    return m, 0.5 * (hi - lo)


def _fp_summary(fpt: np.ndarray, t_max: float, B: int, ss) -> dict:
    """Mean first passage of walkers' times: m, s (and bootstrap ``rep``), the fitted
    exponential tail when some are out, or ``censored`` with the reason in ``note``."""
    W = fpt.size
    hit = np.isfinite(fpt)
    if hit.all():
        d = {"m": np.array([fpt.mean()]), "s": np.array([fpt.std(ddof=1) / math.sqrt(W) if W > 1 else np.nan])}
        if B:
            d["rep"] = _resampled_means(fpt, B, ss)
        return d
    m_, s_, why = censored_mean(fpt, t_max, seed=int(ss.generate_state(2)[1]))
    if m_ is not None:
        return {"m": np.array([m_]), "s": np.array([s_]), "tail": True}
    # not "unreachable": unknown. The point gets no value rather than an average biased
    # towards the fast realisations.
    return {"censored": True,
            "note": (f"{int((~hit).sum())} of {W} walkers had not arrived by t_max = {t_max:g} and {why}: "
                     "points with such walkers have no value (set t_max larger)")}


def _resampled_means(x: np.ndarray, B: int, seed_seq) -> np.ndarray:
    """(B,) means of ``x`` resampled with replacement (multinomial weights)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed_seq.entropy, spawn_key=seed_seq.spawn_key + (0xB0,)))
    w = rng.multinomial(x.size, np.full(x.size, 1.0 / x.size), size=B)
    return (w @ x) / x.size


#: largest share of a simulated mean first-passage time taken from the fitted tail
MAX_TAIL_SHARE = 0.25


def censored_mean(fpt: np.ndarray, t_max: float, min_late: int = 20, seed: int = 0,
                  boot: int = 400) -> tuple[float | None, float | None, str]:
    r"""Mean first-passage time when some walkers are censored at ``t_max``.

    A finite Markov chain's first-passage time has an exponential tail: once the
    walkers still out have relaxed into the quasi-stationary law of the chain killed at
    the target, each arrives at the constant rate :math:`\lambda` (the slowest decay
    rate of the killed generator), whatever it did before.  Then

    .. math:: E[T] = E[\min(T, t_m)] + P(T > t_m) / \lambda,

    with :math:`\lambda` the arrival rate of the late walkers -- arrivals per unit of
    time at risk over :math:`(t_m/2, t_m]` (the exponential model's maximum-likelihood
    estimate).  The assumption is checked: the rate over :math:`(t_m/4, t_m/2]` must agree
    with it within 3 standard errors (a relative error of :math:`1/\sqrt{k}` for ``k``
    arrivals) and rest on at least ``min_late`` arrivals there, otherwise the walkers are
    not yet in the tail and there is no value.
    Also no value with fewer than ``min_late`` late arrivals, with half the walkers
    out, or when the extrapolated part ``f / lambda`` would exceed ``MAX_TAIL_SHARE``
    (25%) of the mean: the rate check has little power against a slow drift, and the
    cap bounds what such a drift can do.  The standard error is a bootstrap over walkers (``boot`` resamples drawn from
    ``seed``): the restricted mean, the censored fraction and the rate are correlated
    (a walker still out raises the first two), which the delta method would miss.

    Returns ``(mean, stderr, "")`` or ``(None, None, reason)``.
    """
    W = fpt.size
    out = ~np.isfinite(fpt)
    f = out.mean()
    if f > 0.5:
        return None, None, "more than half of them were still out"
    capped = np.where(out, t_max, np.minimum(fpt, t_max))

    def parts(a, b):
        risk = capped > a                  # still out at a (the censored ones included)
        arrive = (risk & (capped <= b) & ~out).astype(float)
        exposure = np.where(risk, np.minimum(capped, b) - a, 0.0)
        return arrive, exposure
    arr1, exp1 = parts(t_max / 2, t_max)
    k, E = int(arr1.sum()), float(exp1.sum())
    if k < min_late or E <= 0:
        return None, None, f"only {k} arrived late enough to fit the exponential tail"
    lam = k / E
    arr0, exp0 = parts(t_max / 4, t_max / 2)
    k0, E0 = int(arr0.sum()), float(exp0.sum())
    if k0 < min_late or E0 <= 0:
        # arrivals bunched late: a rising rate (a long path still being walked), not a tail
        return None, None, (f"only {k0} arrived over (t_max/4, t_max/2], too few to check that the "
                            "arrival rate had settled")
    lam0 = k0 / E0
    if abs(lam0 - lam) > 3 * math.hypot(lam0 / math.sqrt(k0), lam / math.sqrt(k)):
        return None, None, ("their arrival rate was still changing (not yet the exponential tail: "
                            f"{lam0:.3g} over (t_max/4, t_max/2] against {lam:.3g} over (t_max/2, t_max])")
    mean = float(capped.mean() + f / lam)
    if f / lam > MAX_TAIL_SHARE * mean:
        # the hazard check cannot see a slow drift of the rate; keep the extrapolated
        # part small enough that a 30% error in the rate moves the mean < 8%
        return None, None, (f"the extrapolated tail would be {100 * f / lam / mean:.0f}% of the mean "
                            f"(at most {100 * MAX_TAIL_SHARE:.0f}% is extrapolated)")
    rng = np.random.default_rng(seed)
    boot = int(min(boot, max(50, 8_000_000 // W)))                # bounded memory
    idx = rng.integers(0, W, size=(boot, W))                     # resampled walkers
    kb, Eb = arr1[idx].sum(axis=1), exp1[idx].sum(axis=1)
    ok = (kb > 0) & (Eb > 0)
    mb = capped[idx].mean(axis=1) + out[idx].mean(axis=1) * Eb / np.where(ok, kb, 1.0)
    se = float(np.std(mb[ok], ddof=1)) if ok.sum() > 10 else float("nan")
    return mean, se, ""


EVENT_BUDGET = 2e8
#: bootstrap replicates over walker chunks behind a simulated power-law fit's interval
BOOT_REPLICATES = 400


def _horizon(cm, W: int, obs, calls: int = 1) -> float:
    """Simulated time for a value without a time axis (``t_max`` not given).

    Stationary values: 20 relaxation times (the slowest mode of the generator), so the
    transient has decayed by e^-20; first passages: as long as the event budget allows.
    Both are capped so that about 2e8 hops are simulated; the note says when the cap
    bound a stationary estimate.
    """
    from .solvers import exact
    q = float(cm.init @ cm.exit_rates) or float(cm.exit_rates.max()) or 1.0
    cap = max(EVENT_BUDGET / max(calls, 1), 1e6) / (W * max(q, 1e-300))
    if all(ob.kind == "first_passage" or ob.kind in ("connected", "largest_cluster", "min_reachable")
           for ob in obs):
        return float(min(DEFAULT_T_MAX, cap))
    try:
        ts = exact.spectrum(cm.generator, 1).timescales
        t_relax = float(np.max(ts)) if len(ts) else 1.0 / q
    except Exception:  # no resolvable slow mode: fall back to the event budget
        t_relax = cap / 20
    return float(min(20 * t_relax, cap))


def _atom_gap(f: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The larger gap between ``x`` and its neighbouring distinct values of ``f``.

    An observable with few values has a quantile that jumps between neighbouring
    values whenever its distribution function passes near the level: a sample
    quantile one value away from the exact one is then normal, and the order-statistic
    error (0 when both ends of the rank interval fall on one value) would call it an
    infinite deviation.  The gap is the quantile's resolution, as ``range / W`` is the
    mean's.
    """
    u = np.unique(f)
    x = np.asarray(x, float)
    if u.size < 2:
        return np.zeros_like(x)
    i = np.clip(np.searchsorted(u, x), 0, u.size - 1)
    left = np.where(i > 0, u[i] - u[np.maximum(i - 1, 0)], 0.0)
    right = np.where(i < u.size - 1, u[np.minimum(i + 1, u.size - 1)] - u[i], 0.0)
    return np.maximum(left, right)


def _put(est, se, r, col, m, s, on_time, over_param):
    m = np.asarray(m, float)
    s = np.asarray(s, float)
    if over_param:
        est[r, col], se[r, col] = m[-1], s[-1]
    else:
        est[r, :], se[r, :] = m, s


def agreement(methods: dict[str, dict], n_compared_total: int | None = None) -> dict[str, dict]:
    """z-scores of simulation against exact (and theory where it has numbers)."""
    from scipy.stats import norm, kstwo
    sim = methods.get("simulation", {})
    out: dict[str, dict] = {}
    for name, s_entry in sim.items():
        sv = s_entry.get("value")
        if sv is None:
            continue
        se = np.asarray(s_entry.get("_walker_se", s_entry.get("stderr")), float)
        sv = np.array([np.nan if x is None else x for x in sv], float)
        res: dict[str, Any] = {}
        worst = 0.0
        m_total = 0
        for ref in ("exact", "theory"):
            e = methods.get(ref, {}).get(name)
            if not e or e.get("value") is None:
                continue
            ev = np.array([np.nan if x is None else x for x in e["value"]], float)
            if ev.shape != sv.shape:
                continue
            ok = np.isfinite(ev) & np.isfinite(sv)
            if se.shape == sv.shape:
                ok &= np.isfinite(se)
            if not ok.any():
                continue
            diff = sv[ok] - ev[ok]
            s = se[ok] if se.shape == sv.shape else np.full(ok.sum(), np.nan)
            if s_entry.get("_independent") and e.get("stderr") is not None:
                # drawn independently of the reference's realisations (Newman-Ziff makes its
                # own occupation orders): both sampling errors separate the two
                es = np.array([np.nan if x is None else x for x in e["stderr"]], float)
                if es.shape == sv.shape:
                    s = np.hypot(s, np.nan_to_num(es[ok]))
            if s_entry.get("_binomial") and np.all((ev[ok] >= -1e-12) & (ev[ok] <= 1 + 1e-12)):
                z = _binomial_z(sv[ok], ev[ok], int(s_entry["_binomial"]))
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    # equal to round-off is agreement, whatever the (tiny) error says
                    z = np.where(np.abs(diff) <= 1e-9 * (1 + np.abs(ev[ok])), 0.0,
                                 np.where(s > 0, diff / s, np.inf))
            z = np.nan_to_num(z, nan=0.0, posinf=np.inf, neginf=-np.inf)
            full = np.full(sv.shape, np.nan)
            full[ok] = z
            # one entry per axis point (null where a point was not compared)
            res[f"z_vs_{ref}"] = [None if not np.isfinite(x) and not np.isinf(x) else float(x) for x in full]
            res[f"max_abs_z_vs_{ref}"] = float(np.max(np.abs(z)))
            if ref == "exact":
                worst = max(worst, float(np.max(np.abs(z))))
                m_total += int(ok.sum())
        if not res:
            continue
        m = n_compared_total or max(m_total, 1)
        z_crit = float(norm.isf(FAMILY_ALPHA / (2 * m)))
        res["max_abs_z"] = worst
        res["z_crit"] = z_crit
        res["ok"] = bool(worst <= z_crit)
        fpt = s_entry.get("_fpt")
        e = methods.get("exact", {}).get(name)
        if fpt is not None and e is not None and e.get("value") is not None:
            ev = np.array([np.nan if x is None else x for x in e["value"]], float)
            ok = np.isfinite(ev) & np.isfinite(sv)
            if ok.any():
                D = float(np.max(np.abs(sv[ok] - ev[ok])))
                n = int(np.asarray(fpt).size)
                p = float(kstwo.sf(D, n))
                # on a grid of axis points the statistic is a lower bound of the full KS
                # distance, so the p-value is conservative towards "agree"
                res["ks"] = {"statistic": D, "p_value": p, "samples": n, "grid": "axis points"}
                res["ok"] = bool(res["ok"] and p > FAMILY_ALPHA / max(m, 1))
        out[name] = res
    for entry in sim.values():
        entry.pop("_walker_se", None)
        entry.pop("_fpt", None)
        entry.pop("_binomial", None)
        entry.pop("_independent", None)
    return out


def _binomial_z(frac, p0, n: int) -> np.ndarray:
    """Normal-equivalent z of an observed fraction of ``n`` walkers against ``p0``.

    A fraction of walkers (``prob``, a first-passage distribution function) is a
    binomial count; its Gaussian z with the *sample* error fails where few walkers are
    expected (0.7% of 1000 walkers: 7 expected, 1 observed gives z = -5.8 with the
    sample error, a p-value of 0.012 in truth).  The exact two-sided binomial tail
    under ``p0`` (twice the smaller tail, capped at 1) is converted to the z with the
    same two-sided probability, signed by the deviation.  With several disorder
    realisations the count is a sum of binomials with different ``p_r``, whose variance
    is at most the binomial one at the mean ``p0``: the test is then conservative.
    """
    from scipy.stats import binom, norm
    k = np.rint(np.asarray(frac, float) * n)
    p0 = np.clip(np.asarray(p0, float), 0.0, 1.0)
    lower = binom.cdf(k, n, p0)
    upper = binom.sf(k - 1, n, p0)
    pval = np.minimum(1.0, 2.0 * np.minimum(lower, upper))
    z = norm.isf(pval / 2.0)
    z = np.where(pval >= 1.0, 0.0, z)
    return np.sign(k - n * p0) * z
