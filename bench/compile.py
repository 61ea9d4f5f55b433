"""Benchmark: compiling a ``.sem`` model to a sparse CTMC generator.

Compares, side by side in one run, three ways of building the generator ``Q`` of the
model

    graph site = lattice(1000, 1000) { F ~ normal(0, 1) }
    rate arrhenius(1, 2)
    init site[500, 500]

(10^6 nodes, 3,996,000 transitions, ``Q[i, j] = exp(-2 (F_j - F_i))`` for lattice
neighbours, diagonal = -row sum):

1. **semdsl** -- ``semdsl.loads`` (parse + check) then ``semdsl.compile``, timed
   in-process after a warm-up on a 10x10 lattice (the cold first call and the import
   are reported separately); median of 3 runs.
2. **hand-written numpy/scipy** -- neighbour pairs by slicing the grid index array,
   vectorised Arrhenius rates, one ``scipy.sparse.csr_matrix((data, (row, col)))``
   with the diagonal included; median of 3, the runs interleaved with semdsl's so that
   load changes on a shared machine affect both.  The matrix is rebuilt from semdsl's own
   ``F`` (``cm.nodes.attrs["F"]``) and must equal semdsl's (same sparsity, values to
   1e-12 relative) -- otherwise the script prints MISMATCH and exits with status 1.
3. **networkx** -- ``grid_2d_graph``, ``F`` as node attributes, a ``DiGraph`` with
   ``rate`` edge attributes, ``to_scipy_sparse_array(weight="rate")`` minus the row
   sums on the diagonal.  Timed at 200x200 and 400x400 (median of 3 each) and
   extrapolated to 10^6 nodes by a linear fit in the node count n; ``--full`` also
   measures 1000x1000 (one run; several GB of memory).  The 200x200 runs are fed
   semdsl's 200x200 ``F`` and their matrix is checked against semdsl's, mapped by grid
   coordinates (networkx numbers the nodes ``(i, j)`` its own way).
4. **peak memory** of the semdsl compile at 10^6 nodes, measured in a fresh child
   process (this script re-run with an internal flag) from
   ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, next to the peak after imports only.
   The child's compile is also the cold first-call time at full size.

Timed regions include drawing ``F`` (semdsl draws it too).  The ratios the project's
goals are stated in are printed with PASS/FAIL; the exit status is 0 whatever they
say (this is a benchmark, not a test) unless the matrices differ.

Run::

    python bench/compile.py            # 1000x1000, networkx extrapolated (~1-2 min)
    python bench/compile.py --quick    # 300x300 only (networkx: 1 run), a smoke test
    python bench/compile.py --full     # also networkx at 1000x1000 (slow, several GB)
    python bench/compile.py --profile  # additionally cProfile one semdsl compile
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable

import numpy as np
import _common
from _common import n_transitions
import scipy
import scipy.sparse as sps

BETA = 2.0
R0 = 1.0
SEED = 1
REPEATS = 5
RTOL = 1e-12
MEM_GOAL_GB = 1.5
SLOWDOWN_GOAL = 3.0      # semdsl / hand-written <= this
SPEEDUP_GOAL = 10.0      # networkx / semdsl >= this
WARMUP_L = 10
NX_COMPARE_L = 200


def sem_text(L: int) -> str:
    return _common.sem_text(L, R0, BETA)


# ----------------------------------------------------------------------- semdsl
def semdsl_build(L: int, stages: dict | None = None):
    """.sem text -> CompiledModel; ``stages`` receives the parse+check and compile times."""
    import semdsl
    text = sem_text(L)
    t0 = time.perf_counter()
    model = semdsl.loads(text, "bench.sem")
    t1 = time.perf_counter()
    cm = semdsl.compile(model, seed=SEED)
    t2 = time.perf_counter()
    if stages is not None:
        stages["parse+check"] = t1 - t0
        stages["compile"] = t2 - t1
    return cm


# ------------------------------------------------------------------ hand-written
def handwritten_generator(L: int, F: np.ndarray | None = None) -> sps.csr_matrix:
    """What a competent numpy/scipy user writes for the same model."""
    n = L * L
    if F is None:
        F = np.random.default_rng(SEED).normal(0.0, 1.0, n)
    idx = np.arange(n, dtype=np.int64).reshape(L, L)           # C order: (i, j) -> i*L + j
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])  # right and down neighbours
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    rates = R0 * np.exp(-BETA * (F[dst] - F[src]))
    exit_rates = np.bincount(src, weights=rates, minlength=n)
    diag = np.arange(n, dtype=np.int64)
    return sps.csr_matrix((np.concatenate([rates, -exit_rates]),
                           (np.concatenate([src, diag]), np.concatenate([dst, diag]))),
                          shape=(n, n))


# ---------------------------------------------------------------------- networkx
def networkx_generator(L: int, F_grid: np.ndarray | None = None):
    """networkx route; returns (Q, nodelist) with nodelist[k] = (i, j), 0-based."""
    import networkx as nx
    G = nx.grid_2d_graph(L, L)
    if F_grid is None:
        F_grid = np.random.default_rng(SEED).normal(0.0, 1.0, (L, L))
    nx.set_node_attributes(G, {v: float(F_grid[v]) for v in G}, "F")
    D = nx.DiGraph()
    D.add_nodes_from(G.nodes(data=True))
    Fv = nx.get_node_attributes(G, "F")

    def both_directions():
        for u, v in G.edges():
            d = Fv[v] - Fv[u]
            yield u, v, {"rate": R0 * math.exp(-BETA * d)}
            yield v, u, {"rate": R0 * math.exp(BETA * d)}
    D.add_edges_from(both_directions())
    nodelist = list(D)
    A = nx.to_scipy_sparse_array(D, nodelist=nodelist, weight="rate", format="csr")
    Q = sps.csr_matrix(A - sps.diags_array(np.asarray(A.sum(axis=1)).ravel()))
    return Q, nodelist


# ----------------------------------------------------------------------- helpers
#: CPU time (user + system, time.process_time) of every timed call, by label; the machine
#: may be shared, and wall >> CPU means the run waited for a core
CPU: dict[str, list[float]] = {}


def timed(fn: Callable[[], object], repeats: int = REPEATS, label: str = "") -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeats):
        out = None
        gc.collect()
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        CPU.setdefault(label, []).append(time.process_time() - c0)
    return times, out


def canonical(Q) -> sps.csr_matrix:
    Q = sps.csr_matrix(Q, copy=True)
    Q.sum_duplicates()
    Q.sort_indices()
    return Q


def compare(A, B, what: str) -> tuple[bool, str]:
    """Same shape, same stored pattern, values equal to RTOL relative."""
    A, B = canonical(A), canonical(B)
    if A.shape != B.shape:
        return False, f"{what}: shapes differ {A.shape} vs {B.shape}"
    if not (np.array_equal(A.indptr, B.indptr) and np.array_equal(A.indices, B.indices)):
        pa = sps.csr_matrix((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)
        pb = sps.csr_matrix((np.ones(B.nnz), B.indices, B.indptr), shape=B.shape)
        ndiff = (pa != pb).nnz
        return False, f"{what}: sparsity differs (nnz {A.nnz:,} vs {B.nnz:,}, {ndiff:,} positions differ)"
    scale = np.maximum(np.abs(A.data), np.abs(B.data))
    diff = np.abs(A.data - B.data)
    rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
    worst = float(rel.max()) if rel.size else 0.0
    msg = f"{what}: same sparsity (nnz {A.nnz:,}), max relative difference {worst:.1e}"
    if worst > RTOL:
        msg += f" > {RTOL:g} at {int((rel > RTOL).sum()):,} entries"
    return worst <= RTOL, msg


def permute_to_semdsl(Q: sps.csr_matrix, nodelist, L: int) -> sps.csr_matrix:
    """networkx node order -> semdsl ids: node (i, j) (0-based) is i*L + j."""
    perm = np.array([i * L + j for i, j in nodelist], dtype=np.int64)
    coo = Q.tocoo()
    return sps.csr_matrix((coo.data, (perm[coo.row], perm[coo.col])), shape=Q.shape)


def maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def gb(b: float) -> str:
    return f"{b / 1e9:.3f} GB"


def mb(b: float) -> str:
    return f"{b / 1e6:.0f} MB"


RUN_HEADER = " ".join(f"{'run ' + str(k + 1):>7}" for k in range(REPEATS))


def fmt_runs(ts: list[float]) -> str:
    return " ".join(f"{t:7.3f}" for t in ts)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# ----------------------------------------------------------------- memory child
def memory_child(L: int) -> None:
    """Runs in a fresh process: imports, then one cold compile; prints a JSON line."""
    t0 = time.perf_counter()
    import semdsl  # noqa: F401  (numpy, scipy, sympy come with it)
    t_import = time.perf_counter() - t0
    base = maxrss_bytes()
    stages: dict = {}
    c0 = time.process_time()
    t0 = time.perf_counter()
    cm = semdsl_build(L, stages)
    t_cold = time.perf_counter() - t0
    c_cold = time.process_time() - c0
    peak = maxrss_bytes()
    Q = cm.generator
    q_bytes = Q.data.nbytes + Q.indices.nbytes + Q.indptr.nbytes
    print(json.dumps(dict(L=L, import_s=t_import, baseline=base, peak=peak, cold_s=t_cold, cold_cpu=c_cold,
                          cold_stages=stages, q_bytes=q_bytes, nnz=int(Q.nnz))))


def run_memory_child(L: int) -> dict:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--_memory-child", str(L)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"memory child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="300x300 only (smoke test)")
    g.add_argument("--full", action="store_true", help="also time networkx at 1000x1000")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile (CPU time) one warm semdsl compile; print the top 10 cumulative entries")
    ap.add_argument("--_memory-child", type=int, default=None, dest="memory_child",
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child is not None:
        memory_child(args.memory_child)
        return 0

    L = 300 if args.quick else 1000
    n = L * L
    nx_sizes = [L] if args.quick else [200, 400] + ([1000] if args.full else [])
    cmp_L = L if args.quick else NX_COMPARE_L
    mismatches: list[str] = []

    from importlib.metadata import version     # versions without importing the packages
    print(f"semdsl compile benchmark: lattice {L}x{L} ({n:,} nodes, {n_transitions(L):,} transitions), "
          f"rate arrhenius(R0={R0:g}, beta={BETA:g}), seed {SEED}"
          + ("   [--quick]" if args.quick else "   [--full]" if args.full else ""))
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"sympy {version('sympy')}, networkx {version('networkx')}; {os.cpu_count()} CPUs, "
          f"{platform.machine()}, load average {os.getloadavg()[0]:.2f} at start")
    print()

    # --- peak memory + cold full-size call, in a fresh process (first: nothing else of ours runs)
    mem = run_memory_child(L)

    # --- one-time costs in this process
    t0 = time.perf_counter()
    import semdsl
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    semdsl_build(WARMUP_L)
    t_cold_small = time.perf_counter() - t0
    t0 = time.perf_counter()
    semdsl_build(WARMUP_L)
    t_warm_small = time.perf_counter() - t0

    # --- semdsl and hand-written, median of 3 each, runs interleaved (s, h, s, h, s, h)
    #     so that load changes on a shared machine hit both alike
    stage_runs: list[dict] = []

    def sem():
        st: dict = {}
        cm = semdsl_build(L, st)
        stage_runs.append(st)
        return cm
    t_sem: list[float] = []
    t_hand: list[float] = []
    cm = None
    for _ in range(REPEATS):
        cm = None
        ts, cm = timed(sem, 1, label="semdsl")
        t_sem += ts
        th, Qh = timed(lambda: handwritten_generator(L), 1, label="hand")
        t_hand += th
        del Qh
    med_sem = statistics.median(t_sem)
    med_hand = statistics.median(t_hand)

    # the hand-written matrix from semdsl's own F must equal semdsl's
    ok, msg = compare(cm.generator, handwritten_generator(L, cm.nodes.attrs["F"]),
                      f"semdsl vs hand-written, {L}x{L}")
    if not ok:
        mismatches.append(msg)
    cmp_msgs = [("OK  " if ok else "MISMATCH  ") + msg]
    sem_nnz = int(cm.generator.nnz)
    del cm
    gc.collect()

    # --- networkx
    # at the comparison size the timed runs are fed semdsl's F (drawing it is < 1 ms of
    # several seconds), so the last timed run doubles as the correctness check
    cm_c = semdsl_build(cmp_L)
    F_grid = cm_c.nodes.attrs["F"].reshape(cmp_L, cmp_L).copy()
    nx_times: dict[int, list[float]] = {}
    for Ln in nx_sizes:
        reps = 1 if (Ln >= 1000 or args.quick) else REPEATS
        F_in = F_grid if Ln == cmp_L else None
        ts, out = timed(lambda: networkx_generator(Ln, F_in), reps, label=f"nx{Ln}")
        nx_times[Ln] = ts
        if Ln == cmp_L:
            Qn, nodelist = out
        del out
        gc.collect()
    ok, msg = compare(cm_c.generator, permute_to_semdsl(Qn, nodelist, cmp_L),
                      f"semdsl vs networkx, {cmp_L}x{cmp_L} (mapped by grid coordinates)")
    if not ok:
        mismatches.append(msg)
    cmp_msgs.append(("OK  " if ok else "MISMATCH  ") + msg)
    del cm_c, Qn, nodelist
    gc.collect()

    sizes = np.array([Ln * Ln for Ln in nx_sizes], float)
    meds = np.array([statistics.median(nx_times[Ln]) for Ln in nx_sizes])
    if L in nx_times:
        nx_at_n, nx_how = statistics.median(nx_times[L]), "measured"
    else:
        nx_how = "extrapolated"
    fit = None
    if len(nx_sizes) >= 2:
        fit = np.polyfit(sizes, meds, 1)        # t = b*n + a
        extrap = float(np.polyval(fit, n))
        if L not in nx_times:
            nx_at_n = extrap

    # --- report
    W = 58
    print("one-time costs (not in the medians below)")
    print(f"  {'import semdsl (with sympy, lark; numpy, scipy were loaded)':{W}} {t_import:8.3f} s")
    print(f"  {f'first call, {WARMUP_L}x{WARMUP_L} lattice (cold: grammar etc.)':{W}} {t_cold_small:8.3f} s")
    print(f"  {f'second call, {WARMUP_L}x{WARMUP_L} lattice (warm)':{W}} {t_warm_small:8.3f} s")
    print(f"  {f'cold first call at {L}x{L}, fresh process':{W}} {mem['cold_s']:8.3f} s"
          f"   (parse+check {mem['cold_stages']['parse+check']:.3f} s, "
          f"compile {mem['cold_stages']['compile']:.3f} s; CPU {mem['cold_cpu']:.3f} s)")
    print()
    print(f"  {'wall time (s), time.perf_counter':{W}} {RUN_HEADER} | {'median':>8}"
          f" | {'CPU med':>8}")
    print(f"  {'-' * W} {'-' * (8 * REPEATS - 1)} | {'-' * 8} | {'-' * 8}")

    def cpu(label: str) -> str:
        return f" | {statistics.median(CPU[label]):8.3f}" if CPU.get(label) else f" | {'':8}"

    pc = [s["parse+check"] for s in stage_runs]
    co = [s["compile"] for s in stage_runs]
    print(f"  {'semdsl  parse + check (loads)':{W}} {fmt_runs(pc)} | {statistics.median(pc):8.3f}{cpu('')}")
    print(f"  {'semdsl  compile':{W}} {fmt_runs(co)} | {statistics.median(co):8.3f}{cpu('')}")
    print(f"  {f'semdsl  .sem text -> Q, {L}x{L}':{W}} {fmt_runs(t_sem)} | {med_sem:8.3f}{cpu('semdsl')}")
    print(f"  {f'hand-written numpy/scipy, {L}x{L}':{W}} {fmt_runs(t_hand)} | {med_hand:8.3f}{cpu('hand')}")
    for Ln in nx_sizes:
        ts = nx_times[Ln]
        pad = " " * (8 * (REPEATS - len(ts)))
        print(f"  {f'networkx, {Ln}x{Ln}':{W}} {fmt_runs(ts)}{pad} | {statistics.median(ts):8.3f}"
              + cpu(f"nx{Ln}") + ("   (1 run)" if len(ts) == 1 else ""))
    if fit is not None:
        label = f"networkx, {L}x{L} EXTRAPOLATED"
        print(f"  {label:{W}} {'':{8 * REPEATS - 1}} | {extrap:8.3f} | {'':8}   linear fit t = a + b*n over n = "
              + ", ".join(f"{int(s):,}" for s in sizes)
              + f": a = {fit[1]:.3f} s, b = {fit[0] * 1e6:.3f} us/node")
        if L in nx_times:
            print(f"  {'':{W}} {'':{8 * REPEATS - 1}}   (the ratio below uses the measured {L}x{L} time)")
    print()
    print("correctness")
    for m in cmp_msgs:
        print(f"  {m}")
    print()
    print("memory (fresh child process, ru_maxrss; GB = 10^9 bytes)")
    print(f"  {'peak after imports only':{W}} {mb(mem['baseline']):>10}")
    print(f"  {f'peak after cold compile, {L}x{L}':{W}} {gb(mem['peak']):>10}")
    print(f"  {'increment due to the compile':{W}} {gb(mem['peak'] - mem['baseline']):>10}")
    q_label = f"the CSR generator itself (nnz {mem['nnz']:,})"
    print(f"  {q_label:{W}} {mb(mem['q_bytes']):>10}")
    print()

    # best-of-N is the ratio of record: on a shared machine the minimum is the run least
    # disturbed by other work (timeit's convention); the median ratio is printed beside it
    r_hand = min(t_sem) / min(t_hand)
    r_hand_med = med_sem / med_hand
    r_nx = nx_at_n / min(t_sem)
    peak_gb = mem["peak"] / 1e9
    note = f"   [at {L}x{L}; the goals are stated for 1000x1000]" if args.quick else ""
    print("goals" + note)
    r_hand_cpu = statistics.median(CPU["semdsl"]) / statistics.median(CPU["hand"])
    print(f"  {'semdsl / hand-written time (best of runs)':{W}} {r_hand:8.2f}x   goal <= {SLOWDOWN_GOAL:g}x    "
          f"{verdict(r_hand <= SLOWDOWN_GOAL)}   (medians {r_hand_med:.2f}x, CPU medians {r_hand_cpu:.2f}x)")
    print(f"  {f'networkx ({nx_how}) / semdsl time':{W}} {r_nx:8.1f}x   goal >= {SPEEDUP_GOAL:g}x   "
          f"{verdict(r_nx >= SPEEDUP_GOAL)}")
    print(f"  {'peak memory of the compile (whole process)':{W}} {peak_gb:8.3f} GB goal <= {MEM_GOAL_GB:g} GB "
          f"{verdict(peak_gb <= MEM_GOAL_GB)}")

    print(f"(load average {os.getloadavg()[0]:.2f} at the end; the machine is shared, so wall "
          "times include contention)")

    if args.profile:
        import cProfile
        import io
        import pstats
        gc.collect()
        pr = cProfile.Profile(time.process_time)   # CPU time: the machine may be shared
        pr.enable()
        semdsl_build(L)
        pr.disable()
        buf = io.StringIO()
        pstats.Stats(pr, stream=buf).sort_stats("cumulative").print_stats(10)
        print()
        print(f"cProfile (timer: CPU time) of one warm semdsl .sem -> Q at {L}x{L}, "
              "top 10 by cumulative time")
        print(buf.getvalue().rstrip())

    if mismatches:
        print(file=sys.stderr)
        for m in mismatches:
            print(f"MATRIX MISMATCH: {m}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
