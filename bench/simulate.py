"""Benchmark: kinetic Monte Carlo (Gillespie) walkers with semdsl's engine.

Measures hop events per second of exact continuous-time random walkers on the
generator of the compile benchmark's model

    graph site = lattice(1000, 1000) { F ~ normal(0, 1) }
    rate arrhenius(1, 2)
    init site[500, 500]

(10^6 nodes, 3,996,000 transitions, ``Q[i, j] = exp(-2 (F_j - F_i))`` for lattice
neighbours; seed 1), built through ``semdsl.compile(semdsl.loads(text))``.  10^4
walkers start from the model's init distribution ``cm.init`` (all on site[500, 500];
``--init uniform`` starts them uniformly over the nodes instead) and run up to one
horizon ``T``.  Contenders, side by side in one run:

1. **semdsl** -- ``semdsl.solvers.simulate.simulate(Q, p0, [T], walkers=10_000,
   seed=..., histogram=False)`` with its default ``chunk`` (what ``semdsl run`` does),
   numba's default number of threads.  ``sim.events`` hops in the wall time of the call
   (``time.perf_counter`` around it; the call's own per-call setup -- generator check,
   CSR cumulative rates -- is inside, and is also shown alone as a ``times=[0]`` call).
   The numba JIT is warmed up first on a 10x10 lattice; the cold compile time is
   measured in a fresh child process with an empty ``NUMBA_CACHE_DIR`` (not with
   ``--quick``).  Median of 3.
2. **hand-written numpy** -- what a user writes in an afternoon: all live walkers
   advanced one hop per array step (arrays ``node``, ``t``); per step ``dt =
   Exp(1)/q[node]``, walkers whose ``t`` passes ``T`` are dropped (compacted), the next
   hop by ``np.searchsorted`` of ``cum_before_row[node] + u * q`` in one global cumulative
   sum of the off-diagonal rates, clipped to the row.  Its per-call preparation (the
   off-diagonal CSR arrays, the cumulative sum, exit rates) is inside the timed region,
   as semdsl's is.  Median of 3, runs interleaved with semdsl's (s, n, s, n, s, n) so
   that load changes on a shared machine hit both alike.
3. **pure Python** -- a per-walker Gillespie loop (``random.expovariate``,
   ``bisect.bisect_right`` on the per-row cumulative rates held in flat Python lists,
   one walker after the other up to ``T``) on the same 10^6-node graph, stopped after
   the walker during which the event count reaches 5e6 (a few seconds; 1e6 with
   ``--quick``).  The ``.tolist()`` preparation is reported separately.  Median of 3.
4. **deeptime** (``deeptime.markov.msm.MarkovStateModel``) -- a discrete-time chain
   sampler: it cannot run at 10^6 states (see below), so it is compared on a 100x100
   lattice of the same model (10^4 states), on the embedded jump chain ``P =
   offdiag(Q) / q`` (row-stochastic), one trajectory of 10^5 steps from the init node
   (``simulate(n_steps + 1, start=...)``: the start is the first element; 2e4 steps
   with ``--quick``).  deeptime 0.5 accepts a ``scipy.sparse`` ``P`` in the
   constructor, but ``simulate`` densifies it (``self.transition_matrix.toarray()``,
   10^8 doubles = 800 MB here, on every call; 8 TB at 10^6 states) and its C++ sampler
   rebuilds a ``std::discrete_distribution`` from the whole dense row at every step,
   so a step costs O(n).  The timed call is the whole ``simulate`` with the sparse
   ``P`` (densification included; the first call, which costs 1-2 s more, is a
   warm-up of 1000 steps reported apart).  For
   information the sampler alone is timed too: the C++ function ``simulate`` ends in,
   ``deeptime.markov._markov_bindings.simulation.trajectory``, on a dense ``P`` already
   in memory (what ``MarkovStateModel(dense P).simulate`` runs; the dense constructor
   itself takes seconds to validate ``P``).  Median of 3.  semdsl runs the same 100x100
   model (CTMC hops of 10^4 walkers; it also draws the waiting times, so it does
   strictly more work per event than a jump-chain step), interleaved with deeptime.

The horizon ``T`` is set by a pilot: semdsl with 1000 walkers at ``T = 1, 4, 16, ...``
until the hops scaled to 10^4 walkers pass the target (10^8 events; 3e7 at 100x100;
5e6 and 3e6 with ``--quick``), then a log-log interpolation.  The naive estimate
``(p0 . q) * walkers * T`` is printed beside the measured count: on this landscape the
walkers relax into low-``F`` traps, so the hop rate falls far below the initial exit
rate.  semdsl is also run once on 1 thread and once with ``chunk = walkers / threads``
(info rows: the parallel speed-up of the default).

Correctness (exit status 1 and MISMATCH if any fails): on a 20x20 lattice of the
same model, the mean number of hops per walker in ``[0, T]`` and the mean of ``F`` at
``T`` (occupation) from semdsl (10 seeds x 2000 walkers; standard errors from the
spread of the 10 batches for the hops, from ``obs_stderr`` for ``F``), from the numpy
kernel (10^4 walkers) and from the pure-Python loop (2000 walkers) are each compared
with the exact values ``p0 . int_0^T e^{Qs} q ds`` and ``p0 e^{QT} F`` (one ``expm`` of
the generator augmented by the exit-rate column), and semdsl with numpy directly:
``|z| < 5``.  deeptime's trajectory must only step along ``P``'s nonzeros.

The ratios the goals are stated in are printed with PASS/FAIL (medians of events/s;
best of runs and per-CPU-second ratios beside); the exit status is 0 whatever they say
(this is a benchmark, not a test) unless a correctness check fails.

Run::

    python bench/simulate.py                  # 1000x1000 (~2 min on 2 cores)
    python bench/simulate.py --quick          # 200x200, fewer events: a smoke test (< 30 s)
    python bench/simulate.py --init uniform   # walkers start uniformly over the nodes
"""

from __future__ import annotations

import argparse
import bisect
import gc
import json
import math
import os
import platform
import random
import statistics
import sys
import time

import numpy as np
import _common
from _common import n_transitions
import scipy
import scipy.sparse as sps

BETA = 2.0
R0 = 1.0
SEED = 1                 # landscape (semdsl.compile seed), as in bench/compile.py
SIM_SEED = 100           # simulation seeds: SIM_SEED + run
PILOT_SEED = 7
REPEATS = 3
WALKERS = 10_000
PILOT_WALKERS = 1_000
TARGET_EVENTS = (1e8, 5e6)       # (full, --quick), main lattice
TARGET_EVENTS_DT = (3e7, 3e6)    # (full, --quick), semdsl on the deeptime lattice
PY_EVENTS = (5_000_000, 1_000_000)   # (full, --quick), pure-Python run
DT_STEPS = (100_000, 20_000)     # (full, --quick), deeptime trajectory steps
DT_WARMUP_STEPS = 1_000
DT_L = 100
CHECK_L = 20
CHECK_T = 10.0
CHECK_BATCHES = 10
CHECK_BATCH_WALKERS = 2_000
CHECK_PY_WALKERS = 2_000
Z_MAX = 5.0
GOAL_NUMPY = 1.5         # semdsl / numpy events per second >= this
GOAL_PYTHON = 50.0       # semdsl / pure Python >= this
WARMUP_L = 10


def sem_text(L: int) -> str:
    return _common.sem_text(L, R0, BETA)


def build(L: int):
    import semdsl
    return semdsl.compile(semdsl.loads(sem_text(L), "bench.sem"), seed=SEED)


def start_distribution(cm, how: str) -> np.ndarray:
    if how == "uniform":
        return np.full(cm.n, 1.0 / cm.n)
    return np.asarray(cm.init, dtype=np.float64)


# ------------------------------------------------------------------------ semdsl
def semdsl_run(Q, p0, T: float, walkers: int, seed: int, **kw) -> dict:
    from semdsl.solvers.simulate import simulate
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    sim = simulate(Q, p0, [T], walkers=walkers, seed=seed, histogram=False, **kw)
    wall = time.perf_counter() - t0
    return dict(events=int(sim.events), wall=wall, cpu=time.process_time() - c0,
                eps=sim.events / wall, own_wall=sim.wall_time)


def choose_horizon(Q, p0, target: float) -> tuple[float, list[tuple[float, float]], float]:
    """Pilot: smallest T = 4^k whose hops (scaled to WALKERS) pass ``target``, then
    log-log interpolation with the previous point.  Returns (T, pilot points, seconds)."""
    from semdsl.solvers.simulate import simulate
    t0 = time.perf_counter()
    pts: list[tuple[float, float]] = []
    T = 1.0
    for _ in range(30):
        sim = simulate(Q, p0, [T], walkers=PILOT_WALKERS, seed=PILOT_SEED, histogram=False)
        pred = sim.events * WALKERS / PILOT_WALKERS
        pts.append((T, pred))
        if pred >= target:
            break
        T *= 4.0
    T1, N1 = pts[-1]
    if len(pts) == 1 or pts[-2][1] <= 0:
        T = T1 * target / max(N1, 1.0)
    else:
        T0, N0 = pts[-2]
        slope = math.log(N1 / N0) / math.log(T1 / T0)
        T = T1 * (target / N1) ** (1.0 / max(slope, 1e-3))
    return float(f"{T:.3g}"), pts, time.perf_counter() - t0


# --------------------------------------------------------------- hand-written numpy
def numpy_prep(Q):
    """Off-diagonal CSR arrays, one global cumulative sum, per-row base and exit rates."""
    Q = sps.csr_matrix(Q)
    n = Q.shape[0]
    rows = np.repeat(np.arange(n), np.diff(Q.indptr))
    off = (Q.indices != rows) & (Q.data > 0)
    rates = Q.data[off]
    indices = Q.indices[off].astype(np.int64)
    counts = np.bincount(rows[off], minlength=n)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    gcum = np.cumsum(rates)
    ext = np.concatenate(([0.0], gcum))
    base = ext[indptr[:-1]]                      # cumulative rate before each row
    width = ext[indptr[1:]] - base               # the row's span in gcum (~ q)
    q = np.bincount(rows[off], weights=rates, minlength=n)   # exact exit rates
    return indptr, indices, gcum, base, width, q


def numpy_walkers(Q, p0, T: float, walkers: int, seed: int, per_walker: bool = False):
    """Vectorised Gillespie: returns (events, node at T, hops per walker) -- the last two
    only with ``per_walker`` (else None)."""
    rng = np.random.default_rng(seed)
    indptr, indices, gcum, base, width, q = numpy_prep(Q)
    cdf = np.cumsum(p0)
    node = np.minimum(np.searchsorted(cdf, rng.random(walkers) * cdf[-1], side="right"), len(cdf) - 1)
    t = np.zeros(walkers)
    ids = np.arange(walkers)
    final = np.empty(walkers, np.int64) if per_walker else None
    hops = np.zeros(walkers, np.int64) if per_walker else None
    events = 0
    with np.errstate(divide="ignore"):
        while node.size:
            t += rng.standard_exponential(node.size) / q[node]     # q = 0: inf, absorbed
            go = t <= T
            if not go.all():
                if per_walker:
                    final[ids[~go]] = node[~go]
                    ids = ids[go]
                node, t = node[go], t[go]
                if not node.size:
                    break
            target = base[node] + rng.random(node.size) * width[node]
            j = np.searchsorted(gcum, target, side="right")
            np.clip(j, indptr[node], indptr[node + 1] - 1, out=j)
            node = indices[j]
            events += node.size
            if per_walker:
                hops[ids] += 1
    return events, final, hops


def numpy_run(Q, p0, T: float, walkers: int, seed: int) -> dict:
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    events, _, _ = numpy_walkers(Q, p0, T, walkers, seed)
    wall = time.perf_counter() - t0
    return dict(events=int(events), wall=wall, cpu=time.process_time() - c0, eps=events / wall)


# ------------------------------------------------------------------ pure Python
def python_prep(Q, p0) -> tuple:
    """Flat Python lists: indptr, indices, per-row cumulative rates, the p0 CDF."""
    indptr, indices, gcum, base, width, q = numpy_prep(Q)
    n = len(indptr) - 1
    rates = np.diff(np.concatenate(([0.0], gcum)))
    rows = np.repeat(np.arange(n), np.diff(indptr))
    pos = np.arange(len(rates)) - indptr[rows]
    cum = rates.copy()                      # per-row running sums, summed in order
    for k in range(1, int(pos.max()) + 1 if pos.size else 1):
        m = np.flatnonzero(pos == k)
        cum[m] = cum[m - 1] + rates[m]
    return indptr.tolist(), indices.tolist(), cum.tolist(), np.cumsum(p0).tolist()


def python_walkers(prep, T: float, max_events: float, max_walkers: int, seed: int, record: bool = False):
    """One walker after the other up to ``T``, until ``max_events`` hops (or ``max_walkers``
    walkers).  Returns (events, walkers run, node at T per walker, hops per walker)."""
    indptr, indices, cum, cdf = prep
    rnd = random.Random(seed)
    expo, unif, bis = rnd.expovariate, rnd.random, bisect.bisect_right
    last = len(cdf) - 1
    total = cdf[-1]
    events = 0
    w = 0
    finals: list[int] = []
    hops: list[int] = []
    while events < max_events and w < max_walkers:
        node = min(bis(cdf, unif() * total), last)
        t = 0.0
        h = 0
        while True:
            lo = indptr[node]
            hi = indptr[node + 1]
            if hi == lo:
                break
            qn = cum[hi - 1]
            t += expo(qn)
            if t > T:
                break
            j = bis(cum, unif() * qn, lo, hi)
            if j >= hi:
                j = hi - 1
            node = indices[j]
            h += 1
        events += h
        w += 1
        if record:
            finals.append(node)
            hops.append(h)
    return events, w, finals, hops


def python_run(prep, T: float, max_events: float, seed: int) -> dict:
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    events, w, _, _ = python_walkers(prep, T, max_events, WALKERS, seed)
    wall = time.perf_counter() - t0
    return dict(events=int(events), wall=wall, cpu=time.process_time() - c0, eps=events / wall, walkers=w)


# ---------------------------------------------------------------------- deeptime
def jump_chain(Q) -> sps.csr_matrix:
    """Embedded jump chain P = offdiag(Q) / q (row-stochastic; no absorbing nodes here)."""
    O = sps.csr_matrix(Q, copy=True)
    O.setdiag(0.0)
    O.eliminate_zeros()
    q = np.asarray(O.sum(axis=1)).ravel()
    return sps.csr_matrix(sps.diags(1.0 / q) @ O)


def deeptime_run(fn, n_steps: int, start: int, seed: int) -> tuple[dict, np.ndarray]:
    """``fn(N, start, seed)`` -> trajectory of N states (the first is ``start``)."""
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    traj = fn(n_steps + 1, start, seed)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    steps = len(traj) - 1
    return dict(events=steps, wall=wall, cpu=cpu, eps=steps / wall), traj


def dense_touched(P) -> np.ndarray:
    """``P`` as a dense array whose pages are all written (no first-touch faults later)."""
    D = np.empty(P.shape)
    D.fill(0.0)
    return P.toarray(out=D)


# ------------------------------------------------------------------- correctness
def exact_reference(Q, p0: np.ndarray, F: np.ndarray, T: float) -> tuple[float, float]:
    """(E[hops in [0, T]], E[F(X_T)]) from expm of [[Q, q], [0, 0]] T."""
    from scipy.linalg import expm
    A = np.asarray(sps.csr_matrix(Q).todense())
    n = A.shape[0]
    q = -np.diag(A).copy()
    aug = np.zeros((n + 1, n + 1))
    aug[:n, :n] = A
    aug[:n, n] = q
    E = expm(aug * T)
    return float(p0 @ E[:n, n]), float(p0 @ E[:n, :n] @ F)


def correctness(how: str) -> tuple[list[str], list[str], dict]:
    from semdsl.solvers.simulate import simulate
    cm = build(CHECK_L)
    Q = cm.generator
    F = np.asarray(cm.nodes.attrs["F"], dtype=np.float64)
    p0 = start_distribution(cm, how)
    T = CHECK_T
    hops_ex, F_ex = exact_reference(Q, p0, F, T)

    # semdsl: batches of walkers with different seeds
    bh, bF, bse = [], [], []
    for b in range(CHECK_BATCHES):
        s = simulate(Q, p0, [T], walkers=CHECK_BATCH_WALKERS, seed=1000 + b, histogram=False, observables=[F])
        bh.append(s.events / CHECK_BATCH_WALKERS)
        bF.append(float(s.obs_mean[0, 0]))
        bse.append(float(s.obs_stderr[0, 0]))
    s_h = float(np.mean(bh))
    s_h_se = float(np.std(bh, ddof=1) / math.sqrt(CHECK_BATCHES))
    s_F = float(np.mean(bF))
    s_F_se = float(math.sqrt(sum(x * x for x in bse)) / CHECK_BATCHES)

    # numpy
    _, fin, hops = numpy_walkers(Q, p0, T, WALKERS, 2000, per_walker=True)
    n_h, n_h_se = float(hops.mean()), float(hops.std(ddof=1) / math.sqrt(WALKERS))
    fv = F[fin]
    n_F, n_F_se = float(fv.mean()), float(fv.std(ddof=1) / math.sqrt(WALKERS))

    # pure Python
    _, w, pf, ph = python_walkers(python_prep(Q, p0), T, math.inf, CHECK_PY_WALKERS, 3000, record=True)
    ph_a, pf_a = np.asarray(ph, float), F[np.asarray(pf, np.int64)]
    p_h, p_h_se = float(ph_a.mean()), float(ph_a.std(ddof=1) / math.sqrt(w))
    p_F, p_F_se = float(pf_a.mean()), float(pf_a.std(ddof=1) / math.sqrt(w))

    lines: list[str] = []
    bad: list[str] = []

    def z_line(what: str, a: float, sa: float, b: float, sb: float, ref: str) -> None:
        se = math.sqrt(sa * sa + sb * sb)
        z = (a - b) / se if se > 0 else (0.0 if a == b else math.inf)
        ok = abs(z) < Z_MAX
        lines.append(f"{'OK' if ok else 'MISMATCH'}  {what}: {a:.5g} +- {sa:.2g} vs {ref} {b:.5g}"
                     + (f" +- {sb:.2g}" if sb else "") + f"   z = {z:+.2f}")
        if not ok:
            bad.append(f"{what}: z = {z:+.2f}")

    lab = f"{CHECK_L}x{CHECK_L}, T = {T:g}"
    z_line(f"hops/walker, semdsl ({CHECK_BATCHES}x{CHECK_BATCH_WALKERS} walkers)", s_h, s_h_se, hops_ex, 0.0, "exact")
    z_line(f"hops/walker, numpy ({WALKERS} walkers)", n_h, n_h_se, hops_ex, 0.0, "exact")
    z_line(f"hops/walker, pure Python ({w} walkers)", p_h, p_h_se, hops_ex, 0.0, "exact")
    z_line("hops/walker, semdsl vs numpy", s_h, s_h_se, n_h, n_h_se, "numpy")
    z_line("E[F(X_T)], semdsl", s_F, s_F_se, F_ex, 0.0, "exact")
    z_line("E[F(X_T)], numpy", n_F, n_F_se, F_ex, 0.0, "exact")
    z_line("E[F(X_T)], pure Python", p_F, p_F_se, F_ex, 0.0, "exact")
    z_line("E[F(X_T)], semdsl vs numpy", s_F, s_F_se, n_F, n_F_se, "numpy")
    return lines, bad, dict(label=lab)


# ----------------------------------------------------------------- JIT child
def jit_child() -> None:
    """Fresh process with an empty NUMBA_CACHE_DIR: import, cold first call, warm call."""
    t0 = time.perf_counter()
    from semdsl.solvers.simulate import simulate
    t_import = time.perf_counter() - t0
    cm = build(WARMUP_L)
    p0 = np.asarray(cm.init, dtype=np.float64)
    t0 = time.perf_counter()
    simulate(cm.generator, p0, [1.0], walkers=100, seed=0, histogram=False)
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    simulate(cm.generator, p0, [1.0], walkers=100, seed=0, histogram=False)
    t_warm = time.perf_counter() - t0
    print(json.dumps(dict(import_s=t_import, cold_s=t_cold, warm_s=t_warm)))


def run_jit_child() -> dict:
    return _common.run_jit_child(__file__, "semdsl-sim-bench-numba-")


def numba_cache_present() -> bool:
    from semdsl.solvers import simulate as mod
    d = os.path.join(os.path.dirname(mod.__file__), "__pycache__")
    try:
        return any(f.startswith("simulate._run_batch") and f.endswith(".nbi") for f in os.listdir(d))
    except OSError:
        return False


# ----------------------------------------------------------------------- helpers
def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def g(x: float) -> str:
    """events per second in millions, 4 significant digits."""
    return f"{x / 1e6:8.4g}"


# ------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="200x200 lattice, fewer events, no cold-JIT child (smoke test, < 30 s)")
    ap.add_argument("--init", choices=("model", "uniform"), default="model",
                    help="walkers start from the model's init (site[L/2, L/2], the default) or uniformly")
    ap.add_argument("--_jit-child", action="store_true", dest="jit_child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        import deeptime  # noqa: F401
    except ImportError:
        print("bench/simulate.py compares with deeptime, which is not installed: pip install '.[bench]'",
              file=sys.stderr)
        return 2
    if args.jit_child:
        jit_child()
        return 0

    qk = 1 if args.quick else 0
    L = 200 if args.quick else 1000
    n = L * L
    target, target_dt = TARGET_EVENTS[qk], TARGET_EVENTS_DT[qk]
    py_events, dt_steps = PY_EVENTS[qk], DT_STEPS[qk]
    init_desc = f"site[{L // 2}, {L // 2}] (the model's init)" if args.init == "model" else "uniform over the nodes"

    from importlib.metadata import version     # versions without importing the packages
    print(f"semdsl simulate benchmark: lattice {L}x{L} ({n:,} nodes, {n_transitions(L):,} transitions), "
          f"rate arrhenius(R0={R0:g}, beta={BETA:g}), F ~ normal(0, 1), seed {SEED}; {WALKERS:,} walkers "
          f"from {init_desc}" + ("   [--quick]" if args.quick else ""))
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"numba {version('numba')}, deeptime {version('deeptime')}; {os.cpu_count()} CPUs "
          f"({len(os.sched_getaffinity(0))} usable), {platform.machine()}, "
          f"load average {os.getloadavg()[0]:.2f} at start")

    # --- cold JIT compile in a fresh process (first: nothing else of ours runs)
    jit = None if args.quick else run_jit_child()

    # --- one-time costs in this process
    t0 = time.perf_counter()
    import numba
    import semdsl  # noqa: F401
    from semdsl.solvers.simulate import simulate
    t_import = time.perf_counter() - t0
    cache_before = numba_cache_present()
    cm_w = build(WARMUP_L)
    pw = np.asarray(cm_w.init, dtype=np.float64)
    t0 = time.perf_counter()
    simulate(cm_w.generator, pw, [1.0], walkers=100, seed=0, histogram=False)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    simulate(cm_w.generator, pw, [1.0], walkers=100, seed=0, histogram=False)
    t_second = time.perf_counter() - t0
    threads = numba.get_num_threads()
    layer = numba.threading_layer()
    print(f"numba: {threads} threads used by semdsl (numba.get_num_threads()), NUMBA_NUM_THREADS "
          f"{numba.config.NUMBA_NUM_THREADS}, threading layer {layer}")
    print()

    t0 = time.perf_counter()
    cm = build(L)
    t_build = time.perf_counter() - t0
    Q = cm.generator
    p0 = start_distribution(cm, args.init)
    q_exit = -Q.diagonal()
    T, pilot, t_pilot = choose_horizon(Q, p0, target)
    setup = semdsl_run(Q, p0, 0.0, WALKERS, SIM_SEED)          # times=[0]: no hop, setup only

    # --- semdsl and numpy, interleaved
    sem_runs: list[dict] = []
    np_runs: list[dict] = []
    for r in range(REPEATS):
        sem_runs.append(semdsl_run(Q, p0, T, WALKERS, SIM_SEED + r))
        np_runs.append(numpy_run(Q, p0, T, WALKERS, SIM_SEED + r))
    # --- info: one thread; one chunk per thread
    numba.set_num_threads(1)
    try:
        sem_1t = semdsl_run(Q, p0, T, WALKERS, SIM_SEED)
    finally:
        numba.set_num_threads(threads)
    chunk_bal = -(-WALKERS // threads)
    import inspect
    chunk_default = int(inspect.signature(simulate).parameters["chunk"].default)
    sem_bal = semdsl_run(Q, p0, T, WALKERS, SIM_SEED, chunk=chunk_bal)

    # --- pure Python
    t0 = time.perf_counter()
    prep = python_prep(Q, p0)
    t_pyprep = time.perf_counter() - t0
    py_runs = [python_run(prep, T, py_events, SIM_SEED + r) for r in range(REPEATS)]
    del prep
    gc.collect()

    # --- deeptime vs semdsl on DT_L x DT_L
    from deeptime.markov.msm import MarkovStateModel
    cm_d = build(DT_L)
    Qd = cm_d.generator
    pd = start_distribution(cm_d, args.init)
    start = int(np.flatnonzero(cm_d.init)[0]) if args.init == "model" else int(
        np.random.default_rng(SIM_SEED).integers(cm_d.n))
    Pd = jump_chain(Qd)
    t0 = time.perf_counter()
    msm = MarkovStateModel(Pd)
    t_msm = time.perf_counter() - t0

    def dt_msm(N, s0, seed):
        return msm.simulate(N, start=s0, seed=seed)
    t0 = time.perf_counter()
    dt_msm(DT_WARMUP_STEPS + 1, start, 0)
    t_dt_first = time.perf_counter() - t0
    Td, pilot_d, t_pilot_d = choose_horizon(Qd, pd, target_dt)
    dt_runs: list[dict] = []
    semd_runs: list[dict] = []
    trajs_ok: list[bool] = []

    def on_P(traj) -> bool:
        return bool(traj[0] == start) and bool(np.all(np.asarray(Pd[traj[:-1], traj[1:]]).ravel() > 0))
    for r in range(REPEATS):
        res, traj = deeptime_run(dt_msm, dt_steps, start, SIM_SEED + r)
        dt_runs.append(res)
        trajs_ok.append(on_P(traj))
        del traj
        semd_runs.append(semdsl_run(Qd, pd, Td, WALKERS, SIM_SEED + r))
    del msm
    gc.collect()
    # info: deeptime's sampler alone, on a dense P already in memory
    from deeptime.markov._markov_bindings import simulation as dt_sim
    t0 = time.perf_counter()
    Dd = dense_touched(Pd)
    t_dense = time.perf_counter() - t0

    def dt_alone(N, s0, seed):
        return dt_sim.trajectory(N=N, start=s0, P=Dd, stop=None, seed=seed)
    dt_alone_runs: list[dict] = []
    for r in range(REPEATS):
        res, traj = deeptime_run(dt_alone, dt_steps, start, SIM_SEED + r)
        dt_alone_runs.append(res)
        trajs_ok.append(on_P(traj))
        del traj
    del Dd
    gc.collect()
    traj_ok = all(trajs_ok)

    # --- correctness
    checks, mismatches, info = correctness(args.init)
    dt_msg = (f"deeptime trajectories ({len(trajs_ok)} x {dt_steps:,} steps) start at {start} and step "
              f"only along nonzeros of P")
    checks.append(("OK  " if traj_ok else "MISMATCH  ") + dt_msg)
    if not traj_ok:
        mismatches.append(dt_msg + ": FALSE")

    # --- report
    W = 58
    print("one-time costs (not in the table)")
    print(f"  {'import numba + semdsl (numpy, scipy were loaded)':{W}} {t_import:8.3f} s")
    if jit is not None:
        print(f"  {'numba JIT compile, fresh process, empty cache (10x10)':{W}} {jit['cold_s']:8.3f} s"
              f"   (then warm {jit['warm_s']:.3f} s; import {jit['import_s']:.3f} s)")
    else:
        print(f"  {'numba JIT compile, fresh process, empty cache':{W}} {'--':>8}     (not measured with --quick)")
    print(f"  {f'first simulate call here, {WARMUP_L}x{WARMUP_L}':{W}} {t_first:8.3f} s   "
          f"(numba on-disk cache {'present: loaded, not compiled' if cache_before else 'absent: compiled'})")
    print(f"  {f'second simulate call, {WARMUP_L}x{WARMUP_L} (warm)':{W}} {t_second:8.3f} s")
    print(f"  {f'.sem text -> Q, {L}x{L} (semdsl.loads + compile)':{W}} {t_build:8.3f} s")
    print(f"  {f'horizon pilot, {L}x{L} ({len(pilot)} semdsl calls, {PILOT_WALKERS} walkers)':{W}} "
          f"{t_pilot:8.3f} s")
    print(f"  {f'pure-Python preparation (.tolist of the CSR arrays)':{W}} {t_pyprep:8.3f} s")
    print(f"  {f'deeptime MarkovStateModel(P sparse), {DT_L}x{DT_L}':{W}} {t_msm:8.3f} s")
    print(f"  {f'deeptime first simulate call ({DT_WARMUP_STEPS} steps, warm-up)':{W}} {t_dt_first:8.3f} s")
    print(f"  {f'dense P for the sampler-alone row ({Pd.shape[0] ** 2 * 8 / 1e6:.0f} MB, written)':{W}} "
          f"{t_dense:8.3f} s")
    print(f"  {f'horizon pilot, {DT_L}x{DT_L}':{W}} {t_pilot_d:8.3f} s")
    print()
    mean_q0 = float(p0 @ q_exit)
    ev_med = statistics.median(r["events"] for r in sem_runs)
    print(f"horizon T = {T:g} (pilot: " + ", ".join(f"T={t:g} -> {N:.3g}" for t, N in pilot) + ")")
    print(f"  events per semdsl run (median) {ev_med:.4g}; naive (p0 . q) * walkers * T = "
          f"{mean_q0:.4g} * {WALKERS} * {T:g} = {mean_q0 * WALKERS * T:.4g}; measured hops per walker per "
          f"unit time {ev_med / WALKERS / T:.4g}")
    print(f"  semdsl per-call setup at {L}x{L} (times=[0]: generator check, CSR cumulative rates, "
          f"no hop): {setup['wall']:.3f} s, inside every timed semdsl call")
    print(f"  deeptime lattice {DT_L}x{DT_L}: semdsl horizon T = {Td:g}; deeptime {dt_steps:,} jump-chain "
          f"steps of one trajectory from node {start}")
    print()

    RW = 9 * REPEATS - 1
    hdr = " ".join(f"{'run ' + str(k + 1):>8}" for k in range(REPEATS))
    print(f"  {'events per second (10^6 /s)':{W}} {hdr} | {'median':>8} | {'wall med':>8} | "
          f"{'CPU med':>8} | {'events med':>10}")
    print(f"  {'-' * W} {'-' * RW} | {'-' * 8} | {'-' * 8} | {'-' * 8} | {'-' * 10}")

    def row(label: str, runs: list[dict], key: str = "eps", note: str = "") -> float:
        vals = [r[key] for r in runs]
        runs_s = " ".join(f"{g(v):>8}" for v in vals)
        med = statistics.median(vals)
        print(f"  {label:{W}} {runs_s:{RW}} | {g(med):>8} | {statistics.median(r['wall'] for r in runs):8.3f} | "
              f"{statistics.median(r['cpu'] for r in runs):8.3f} | "
              f"{statistics.median(r['events'] for r in runs):10.4g}{note}")
        return med

    m_sem = row(f"semdsl simulate, {L}x{L}, {threads} threads", sem_runs)
    m_np = row(f"hand-written numpy, {L}x{L}", np_runs)
    m_py = row(f"pure Python, {L}x{L} (>= {py_events:.0e} events)", py_runs,
               note=f"   ({statistics.median(r['walkers'] for r in py_runs):.0f} walkers)")
    row(f"  info: semdsl, 1 thread (1 run)", [sem_1t])
    row(f"  info: semdsl, chunk = {chunk_bal} (1 per thread; 1 run)", [sem_bal],
        note=f"   (default chunk {chunk_default}: {-(-WALKERS // chunk_default)} chunks)")
    m_semd = row(f"semdsl simulate, {DT_L}x{DT_L}, {threads} threads (CTMC hops)", semd_runs)
    m_dt = row(f"deeptime MSM.simulate, {DT_L}x{DT_L} (jump-chain steps)", dt_runs)
    m_dt_s = row("  info: deeptime sampler alone (dense P in memory)", dt_alone_runs)
    print()
    print(f"correctness ({info['label']}; |z| < {Z_MAX:g})")
    for c in checks:
        print(f"  {c}")
    print()

    def best(runs: list[dict]) -> float:
        return max(r["eps"] for r in runs)

    def per_cpu(runs: list[dict]) -> float:
        return statistics.median(r["events"] / r["cpu"] for r in runs)

    note = f"   [at {L}x{L}; the goals are stated for 1000x1000]" if args.quick else ""
    print("goals (ratios of median events per second)" + note)
    r_np = m_sem / m_np
    print(f"  {'semdsl / hand-written numpy':{W}} {r_np:8.2f}x   goal >= {GOAL_NUMPY:g}x   "
          f"{verdict(r_np >= GOAL_NUMPY)}   (best of runs {best(sem_runs) / best(np_runs):.2f}x, "
          f"per CPU second {per_cpu(sem_runs) / per_cpu(np_runs):.2f}x)")
    r_py = m_sem / m_py
    print(f"  {'semdsl / pure Python':{W}} {r_py:8.1f}x   goal >= {GOAL_PYTHON:g}x    "
          f"{verdict(r_py >= GOAL_PYTHON)}   (best of runs {best(sem_runs) / best(py_runs):.1f}x, "
          f"per CPU second {per_cpu(sem_runs) / per_cpu(py_runs):.1f}x)")
    print(f"  {f'semdsl / deeptime, {DT_L}x{DT_L} (report only)':{W}} {m_semd / m_dt:8.0f}x   "
          f"(deeptime sampler alone: {m_semd / m_dt_s:.0f}x; per CPU second "
          f"{per_cpu(semd_runs) / per_cpu(dt_runs):.0f}x; CTMC hops vs jump-chain steps)")
    print(f"  {'threads used by semdsl':{W}} {threads:8d}    (parallel speed-up over 1 thread: "
          f"{m_sem / sem_1t['eps']:.2f}x; with chunk = {chunk_bal}: {sem_bal['eps'] / sem_1t['eps']:.2f}x)")
    print(f"(load average {os.getloadavg()[0]:.2f} at the end; the machine may be shared, so wall "
          "times include contention)")

    if mismatches:
        print(file=sys.stderr)
        for m in mismatches:
            print(f"MISMATCH: {m}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
