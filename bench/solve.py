"""Benchmark: solving a ``.sem`` model with semdsl's exact solvers vs Storm (stormpy).

Compares, side by side in one run, four ways of getting the stationary distribution
and one mean first-passage time of the model

    graph g = lattice(316, 316) { F ~ normal(0, 1) }
    rate metropolis(1, 2)
    init g[1, 1]
    observable hit = first_passage(g[316, 316])

(99,856 states, 398,160 transitions; seed 1):

1. **semdsl** -- ``semdsl.loads`` (parse + check) and ``semdsl.compile`` from the
   ``.sem`` text, then ``semdsl.solvers.exact.stationary_distribution(Q)`` and
   ``semdsl.solvers.exact.mean_first_passage(Q, cm.labels["hit"])``, read at g[1, 1].
   ``--api new`` uses ``stationary(Q).pi`` and ``first_passage(Q, cm.init, target)``
   instead, when exact.py has them.  Each run is timed after a warm-up on a 10x10
   lattice in the same process (the import and the cold first call are reported
   separately).
2. **Storm best** -- the model exported once with ``semdsl.emit.drn.to_drn`` and
   written to a file (that time is reported but NOT counted for Storm), then
   ``stormpy.build_model_from_drn`` + ``stormpy.analysis.compute_steady_state_distribution``
   + ``T=? [F "hit"]`` (``stormpy.model_checking``, all states), both with the
   environment of ``tests/storm_oracle.py`` -- Eigen linear equation solver with
   ``force_exact = True``, which makes Storm use Eigen's sparse LU (a direct solve) --
   plus ``env.modelchecker().steady_state_distribution_algorithm =
   EXPECTED_VISITING_TIMES``.  Of Storm's steady-state algorithms (AUTOMATIC,
   EQUATION_SYSTEM, EXPECTED_VISITING_TIMES, CLASSIC) this is the fastest here by far:
   0.8 s against ~15.5 s for the three others at 316x316, with the same answer to
   ~2e-9; it is the goal's reference.
3. **Storm Eigen** -- as 2 but with the steady-state algorithm left at AUTOMATIC
   (which picks the equation-system method): the oracle environment as is.  Report only.
4. **Storm default** -- the same calls with Storm's default environment (sound:
   topological solver + optimistic value iteration, precision 1e-6).  Report only.

Every run is a fresh child process (this script re-run with an internal flag), so
that a run can be killed at a time cap and peak memory is per side; importing semdsl
or stormpy there is not counted.  The caps: Storm default ``--cap`` (300 s; 60 s
with ``--quick``), semdsl ``--semdsl-cap`` (1200 s; 300 s with ``--quick``), Storm
best and Storm Eigen 3600 s.  A killed run is reported as "> cap" with the stages it finished.  The
runs are interleaved (semdsl, Storm best, Storm Eigen, Storm default, semdsl, ...) so that load
changes on a shared machine hit all sides alike.  Median of 3 runs per side, except
that a side whose first run takes more than 60 s (or is killed) is run once, and the
table says so.

Correctness: the largest relative difference ``|a - b| / max(|a|, |b|)`` between
semdsl and Storm best over the stationary vector (entries where either is > 1e-300)
and for the hitting time from g[1, 1] are printed.  Exit status 1 if either exceeds
1e-6 (MISMATCH), 3 if one of them could not be checked because semdsl was killed at
its cap, 0 otherwise whatever the goal says (this is a benchmark, not a test).

Run::

    python bench/solve.py             # 316x316 (~10^5 states)
    python bench/solve.py --quick     # 100x100, a smoke test
    python bench/solve.py --profile   # additionally cProfile one semdsl solve (capped too)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

T_START = time.perf_counter()   # (a child's clock: when it started, roughly)

import numpy as np  # noqa: E402
from _common import n_transitions  # noqa: E402
import scipy  # noqa: E402

SEED = 1
R0 = 1.0
BETA = 2.0
REPEATS = 3
SLOW_RUN_S = 60.0           # a side whose first run takes longer is run once
STORM_DEFAULT_CAP_S = (300.0, 60.0)    # (full, --quick): kill a Storm default run after this long
SEMDSL_CAP_S = (1200.0, 300.0)         # (full, --quick): kill a semdsl run after this long
STORM_BEST_CAP_S = 3600.0   # generous safety cap: the reference must finish
RTOL = 1e-6                 # semdsl vs Storm best
TINY = 1e-300               # stationary entries compared
GOAL = 0.5                  # semdsl / Storm best <= this
WARMUP_L = 10
MARK = "@@solve-bench "     # prefix of the children's JSON lines (Storm logs to stdout too)
SEMDSL_STAGES = ("parse+check", "compile", "stationary", "first passage")
STORM_STAGES = ("build (DRN)", "steady state", "T=? [F hit]")


def sem_text(L: int) -> str:
    return (f"graph g = lattice({L}, {L}) {{ F ~ normal(0, 1) }}\n"
            f"rate metropolis({R0:g}, {BETA:g})\n"
            f"init g[1, 1]\n"
            f"observable hit = first_passage(g[{L}, {L}])\n")




def maxrss_bytes() -> int:
    """Peak resident set size of this process.

    ``VmHWM`` from /proc/self/status, which starts afresh at exec; ``ru_maxrss`` does
    not (a child started by ``subprocess`` would report the parent's peak).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


# ------------------------------------------------------------------- children
def emit(**kw) -> None:
    """Child -> parent: one JSON line (stage lines are read back if the run is killed)."""
    print(MARK + json.dumps(kw), flush=True)


class Stages:
    """Times named stages; reports each as it finishes."""

    def __init__(self, report: bool = True):
        self.times: dict[str, float] = {}
        self.report = report
        if report:
            emit(begin=time.perf_counter() - T_START)   # imports and warm-up are over

    def run(self, name: str, fn):
        t0 = time.perf_counter()
        out = fn()
        self.times[name] = time.perf_counter() - t0
        if self.report:
            emit(stage=name, seconds=self.times[name])
        return out


def solver_hash() -> str:
    """Short hash of semdsl/solvers/exact.py: the solvers may be edited while the benchmark runs."""
    import hashlib
    from semdsl.solvers import exact
    with open(exact.__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def have_new_api() -> bool:
    from semdsl.solvers import exact
    return callable(getattr(exact, "stationary", None)) and callable(getattr(exact, "first_passage", None))


def semdsl_solve(L: int, api: str, st: Stages, on_pi=None):
    """.sem text -> (pi, hitting times from every state, id of g[1, 1])."""
    import semdsl
    from semdsl.solvers import exact
    text = sem_text(L)
    model = st.run("parse+check", lambda: semdsl.loads(text, "bench.sem"))
    cm = st.run("compile", lambda: semdsl.compile(model, seed=SEED))
    Q, target = cm.generator, cm.labels["hit"]
    if api == "new":
        pi = st.run("stationary", lambda: exact.stationary(Q).pi)
        if on_pi:
            on_pi(pi)
        m = st.run("first passage", lambda: exact.first_passage(Q, cm.init, target).per_state_mean)
    else:
        pi = st.run("stationary", lambda: exact.stationary_distribution(Q))
        if on_pi:
            on_pi(pi)
        m = st.run("first passage", lambda: exact.mean_first_passage(Q, target))
    return pi, m, int(np.flatnonzero(np.asarray(cm.init))[0])


def semdsl_child(L: int, api: str, out: str | None, profile: bool) -> None:
    t0 = time.perf_counter()
    import semdsl  # noqa: F401
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    semdsl_solve(WARMUP_L, api, Stages(report=False))
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    semdsl_solve(WARMUP_L, api, Stages(report=False))
    t_warm = time.perf_counter() - t0
    base = maxrss_bytes()
    st = Stages()
    save_pi = (lambda pi: np.save(out + ".pi.npy", pi)) if out else None  # outside the stage timings
    gc.collect()
    pr = None
    if profile:
        import cProfile
        pr = cProfile.Profile(time.process_time)   # CPU time: the machine may be shared
        pr.enable()
    c0 = time.process_time()
    pi, m, _ = semdsl_solve(L, api, st, save_pi)
    cpu = time.process_time() - c0
    prof = ""
    if pr is not None:
        import io
        import pstats
        pr.disable()
        buf = io.StringIO()
        pstats.Stats(pr, stream=buf).sort_stats("cumulative").print_stats(15)
        prof = buf.getvalue().rstrip()
    if out:
        np.savez(out, pi=pi, T=m)
    emit(stages=st.times, total=sum(st.times.values()), cpu=cpu, import_s=t_import, cold_small=t_cold,
         warm_small=t_warm, baseline=base, peak=maxrss_bytes(), profile=prof)


def storm_child(mode: str, drn: str, out: str | None) -> None:
    t0 = time.perf_counter()
    import stormpy
    from stormpy import environments
    t_import = time.perf_counter() - t0
    base = maxrss_bytes()
    if mode in ("best", "eigen"):
        env = stormpy.Environment()
        env.solver().set_linear_equation_solver_type(environments.EquationSolverType.EIGEN)
        env.solver().force_exact = True     # -> Eigen's SparseLU
        if mode == "best":
            env.modelchecker().steady_state_distribution_algorithm = \
                environments.SteadyStateDistributionAlgorithm.EXPECTED_VISITING_TIMES
        kw = {"environment": env}
    else:
        kw = {}                              # stormpy.environments.default
    prop = stormpy.parse_property('T=? [F "hit"]')
    st = Stages()
    gc.collect()
    c0 = time.process_time()
    model = st.run(STORM_STAGES[0], lambda: stormpy.build_model_from_drn(drn))
    ss = st.run(STORM_STAGES[1], lambda: stormpy.analysis.compute_steady_state_distribution(model, **kw))
    if out:
        np.save(out + ".pi.npy", np.asarray(ss.get_value_vector(), dtype=np.float64))
    res = st.run(STORM_STAGES[2], lambda: stormpy.model_checking(model, prop, **kw))
    cpu = time.process_time() - c0
    if model.model_type != stormpy.models.ModelType.CTMC:
        raise SystemExit(f"{drn}: expected a CTMC, Storm built a {model.model_type}")
    if not res.is_result_for_all_states:
        raise SystemExit("Storm returned T=? for a subset of states only")
    if out:
        np.savez(out, pi=np.asarray(ss.get_value_vector(), dtype=np.float64),
                 T=np.asarray(res.get_value_vector(), dtype=np.float64))
    emit(stages=st.times, total=sum(st.times.values()), cpu=cpu, import_s=t_import, baseline=base,
         peak=maxrss_bytes(), states=int(model.nr_states), transitions=int(model.nr_transitions))


def run_child(flags: list[str], cap: float) -> dict:
    """One run in a child process.  A run killed after ``cap`` seconds gives
    ``{"killed": True, "cap": cap, "done": {stage: seconds}, "timed": seconds}``: the stages it had
    finished, and how long its timed region (after imports and warm-up) had run."""
    cmd = [sys.executable, os.path.abspath(__file__)] + flags
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=cap)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        done = [json.loads(ln[len(MARK):]) for ln in out.splitlines() if ln.startswith(MARK)]
        begin = [d["begin"] for d in done if "begin" in d]
        return {"killed": True, "cap": cap, "done": {d["stage"]: d["seconds"] for d in done if "stage" in d},
                "timed": cap - begin[0] if begin else 0.0}
    final = [ln for ln in p.stdout.splitlines() if ln.startswith(MARK) and '"total"' in ln]
    if p.returncode != 0 or not final:
        raise RuntimeError(f"child {' '.join(flags)} failed with status {p.returncode}:\n"
                           f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return json.loads(final[-1][len(MARK):])


# -------------------------------------------------------------------- reporting
def rel_diff(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, int]:
    """Largest |a - b| / max(|a|, |b|) (over ``mask``; equal infinities count as 0), and where."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    idx = np.arange(a.size) if mask is None else np.flatnonzero(mask)
    if idx.size == 0:
        return 0.0, -1
    x, y = a[idx], b[idx]
    same = x == y                                 # also equal infinities
    scale = np.maximum(np.abs(x), np.abs(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(same, 0.0, np.abs(x - y) / np.where(scale > 0, scale, 1.0))
    rel = np.where(np.isnan(rel), np.inf, rel)
    k = int(np.argmax(rel))
    return float(rel[k]), int(idx[k])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def mb(b: float) -> str:
    return f"{b / 1e6:.0f} MB"


class Side:
    """The runs of one contender."""

    def __init__(self, name: str, stages: tuple[str, ...], cap: float, mode: str):
        self.name, self.stage_names, self.cap, self.mode = name, stages, cap, mode
        self.runs: list[dict] = []
        self.killed: dict | None = None

    def more(self) -> bool:
        if self.killed is not None:
            return False
        return not self.runs or (len(self.runs) < REPEATS and self.runs[0]["total"] <= SLOW_RUN_S)

    def add(self, r: dict) -> None:
        if r.get("killed"):
            self.killed = r
        else:
            self.runs.append(r)

    def totals(self) -> list[float]:
        return [r["total"] for r in self.runs]

    def median(self) -> float | None:
        return statistics.median(self.totals()) if self.runs else None

    def cpu_median(self) -> float | None:
        return statistics.median(r["cpu"] for r in self.runs) if self.runs else None


# ------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100x100 instead of 316x316 (smoke test)")
    ap.add_argument("--api", choices=("old", "new"), default="new",
                    help="semdsl solver functions: stationary_distribution + mean_first_passage (old) "
                         "or stationary + first_passage (new, the default: what semdsl run uses)")
    ap.add_argument("--cap", type=float, default=None,
                    help="kill a Storm default-environment run after this many seconds "
                         f"(default {STORM_DEFAULT_CAP_S[0]:g}; {STORM_DEFAULT_CAP_S[1]:g} with --quick)")
    ap.add_argument("--semdsl-cap", type=float, default=None,
                    help=f"kill a semdsl run after this many seconds "
                         f"(default {SEMDSL_CAP_S[0]:g}; {SEMDSL_CAP_S[1]:g} with --quick)")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile (CPU time) one more semdsl solve; print the top entries by cumulative time")
    ap.add_argument("--_child", choices=("semdsl", "best", "eigen", "default"), dest="child",
                    help=argparse.SUPPRESS)
    ap.add_argument("--_L", dest="L", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--_drn", dest="drn", help=argparse.SUPPRESS)
    ap.add_argument("--_out", dest="out", help=argparse.SUPPRESS)
    ap.add_argument("--_profile", dest="child_profile", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child == "semdsl":
        semdsl_child(args.L, args.api, args.out, args.child_profile)
        return 0
    if args.child:
        storm_child(args.child, args.drn, args.out)
        return 0

    q = 1 if args.quick else 0
    L = 100 if args.quick else 316
    n = L * L
    cap_default = args.cap if args.cap is not None else STORM_DEFAULT_CAP_S[q]
    cap_semdsl = args.semdsl_cap if args.semdsl_cap is not None else SEMDSL_CAP_S[q]
    from importlib.metadata import version     # versions without importing the packages
    print(f"semdsl solve benchmark: lattice {L}x{L} ({n:,} states, {n_transitions(L):,} transitions), "
          f"rate metropolis(R0={R0:g}, beta={BETA:g}), F ~ normal(0, 1), seed {SEED}; "
          f"stationary distribution + mean first-passage time g[1, 1] -> g[{L}, {L}]"
          + ("   [--quick]" if args.quick else ""))
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"stormpy {version('stormpy')}; {os.cpu_count()} CPUs, {platform.machine()}, "
          f"load average {os.getloadavg()[0]:.2f} at start")

    import semdsl
    from semdsl.emit.drn import to_drn
    exact_hash = solver_hash()
    new_api = have_new_api()
    if args.api == "new" and not new_api:
        print("semdsl.solvers.exact has no stationary/first_passage: --api new is not available", file=sys.stderr)
        return 2
    if args.api == "new":
        api_desc = "exact.stationary(Q).pi + exact.first_passage(Q, cm.init, target).per_state_mean"
    else:
        api_desc = "exact.stationary_distribution(Q) + exact.mean_first_passage(Q, target)"
    print(f"semdsl solvers: {api_desc}"
          + ("" if args.api == "new" or not new_api else "   (exact.py also has stationary/first_passage: --api new)"))
    print(f"semdsl/solvers/exact.py sha256 {exact_hash} (each semdsl run imports it afresh)")
    print(f"caps: semdsl {cap_semdsl:g} s, Storm best and Storm Eigen {STORM_BEST_CAP_S:g} s, "
          f"Storm default {cap_default:g} s per run")
    print()

    tmpdir = tempfile.mkdtemp(prefix="semdsl-solve-bench-")
    try:
        # --- the DRN file Storm reads (not counted for Storm)
        drn = os.path.join(tmpdir, f"lattice{L}.drn")
        cm = semdsl.compile(semdsl.loads(sem_text(L), "bench.sem"), seed=SEED)
        t0 = time.perf_counter()
        text = to_drn(cm)
        t1 = time.perf_counter()
        with open(drn, "w") as f:
            f.write(text)
        t2 = time.perf_counter()
        t_to_drn, t_write, drn_bytes = t1 - t0, t2 - t1, len(text)
        init = int(np.flatnonzero(np.asarray(cm.init))[0])          # g[1, 1]
        del text, cm
        gc.collect()

        # --- interleaved runs, each in a fresh process
        sem = Side("semdsl", SEMDSL_STAGES, cap_semdsl, "semdsl")
        best = Side("Storm best", STORM_STAGES, STORM_BEST_CAP_S, "best")
        eigen = Side("Storm Eigen", STORM_STAGES, STORM_BEST_CAP_S, "eigen")
        default = Side("Storm default", STORM_STAGES, cap_default, "default")
        sides = (sem, best, eigen, default)
        outs = {s.name: os.path.join(tmpdir, f"out{k}") for k, s in enumerate(sides)}

        def flags(side: Side, first: bool) -> list[str]:
            f = ["--_child", side.mode]
            f += ["--_L", str(L), "--api", args.api] if side is sem else ["--_drn", drn]
            return f + (["--_out", outs[side.name]] if first else [])

        for k in range(REPEATS):
            for side in sides:
                if side.more():
                    side.add(run_child(flags(side, k == 0), side.cap))
        if best.killed:
            raise RuntimeError(f"Storm best did not finish within {STORM_BEST_CAP_S:g} s "
                               f"(finished stages: {best.killed['done']})")

        def load(side: Side):
            p = outs[side.name]
            if os.path.exists(p + ".npz"):
                d = np.load(p + ".npz")
                return d["pi"], d["T"]
            if os.path.exists(p + ".pi.npy"):                  # killed after the stationary stage
                return np.load(p + ".pi.npy"), None
            return None, None

        pi, m = load(sem)
        pi_b, T_b = load(best)
        others = {side.name: load(side) for side in (eigen, default)}

        prof = None
        if args.profile:
            prof = run_child(["--_child", "semdsl", "--_L", str(L), "--api", args.api, "--_profile"], cap_semdsl)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    # --- correctness
    mismatches: list[str] = []
    unchecked: list[str] = []
    checks: list[str] = []

    def check(what: str, d: float, extra: str = "") -> None:
        ok = d <= RTOL
        checks.append(f"{'OK' if ok else 'MISMATCH'}  semdsl vs Storm best, {what}: max relative difference "
                      f"{d:.2e} {'<=' if ok else '>'} {RTOL:g}" + (f"   ({extra})" if extra else ""))
        if not ok:
            mismatches.append(f"{what}: {d:.3e} > {RTOL:g}")

    if pi is not None and pi.shape != pi_b.shape:
        mismatches.append(f"Storm best has {pi_b.size} states, semdsl {pi.size}")
        checks.append(f"MISMATCH  {mismatches[-1]}")
    else:
        if pi is None:
            unchecked.append("stationary vector")
            checks.append("NOT CHECKED  stationary vector: semdsl was killed before it")
        else:
            mask = (np.abs(pi) > TINY) | (np.abs(pi_b) > TINY)
            d_pi, k_pi = rel_diff(pi, pi_b, mask)
            check(f"stationary vector ({int(mask.sum()):,} entries > {TINY:g})", d_pi, f"worst at state {k_pi}")
        if m is None:
            unchecked.append("hitting time")
            checks.append(f"NOT CHECKED  mean first-passage time from g[1, 1]: semdsl was killed before it "
                          f"(Storm best: {T_b[init]:.10g})")
        else:
            d_T, _ = rel_diff(m[init:init + 1], T_b[init:init + 1])
            check(f"mean first-passage time from g[1, 1] ({m[init]:.10g} vs {T_b[init]:.10g})", d_T)
            d_all, k_all = rel_diff(m, T_b)
            checks.append(f"info  semdsl vs Storm best, hitting time from every state: max relative difference "
                          f"{d_all:.2e} (at state {k_all})")
        for name, (pi_o, T_o) in others.items():
            if pi is None or pi_o is None:
                continue
            dd = rel_diff(pi, pi_o, (np.abs(pi) > TINY) | (np.abs(pi_o) > TINY))[0]
            msg = f"info  semdsl vs {name}: stationary {dd:.2e}"
            if m is not None and T_o is not None:
                msg += f", hitting time from g[1, 1] {rel_diff(m[init:init + 1], T_o[init:init + 1])[0]:.2e}"
            checks.append(msg + (" (default precision is 1e-6)" if name == "Storm default" else "")
                          + "; not checked")

    # --- report
    W = 52
    r0 = sem.runs[0] if sem.runs else None
    print("one-time costs (not in the table)")
    if r0:
        print(f"  {'import semdsl (in each semdsl child)':{W}} {r0['import_s']:8.3f} s")
        print(f"  {f'first semdsl solve, {WARMUP_L}x{WARMUP_L} (cold: grammar etc.)':{W}} {r0['cold_small']:8.3f} s")
        print(f"  {f'second semdsl solve, {WARMUP_L}x{WARMUP_L} (warm)':{W}} {r0['warm_small']:8.3f} s")
    print(f"  {'import stormpy (in each Storm child)':{W}} {best.runs[0]['import_s']:8.3f} s")
    print(f"  {'semdsl.emit.drn.to_drn (NOT counted for Storm)':{W}} {t_to_drn:8.3f} s   "
          f"({drn_bytes / 1e6:.1f} MB of text)")
    print(f"  {'writing the DRN file (NOT counted for Storm)':{W}} {t_write:8.3f} s")
    print()

    RW = 9 * REPEATS - 1
    hdr = " ".join(f"{'run ' + str(k + 1):>8}" for k in range(REPEATS))
    print(f"  {'wall time (s), time.perf_counter':{W}} {hdr} | {'median':>8} | {'CPU med':>8}")
    print(f"  {'-' * W} {'-' * RW} | {'-' * 8} | {'-' * 8}")

    def row(label: str, ts: list[float], cpu: str = "", note: str = "") -> None:
        runs = " ".join(f"{t:8.3f}" for t in ts)
        print(f"  {label:{W}} {runs:{RW}} | {statistics.median(ts):8.3f} | {cpu:>8}{note}")

    def side_rows(side: Side, total_label: str) -> None:
        runs = side.runs
        kd = side.killed["done"] if side.killed else {}
        for key in side.stage_names:
            ts = [r["stages"][key] for r in runs] + ([kd[key]] if key in kd else [])
            if ts:
                row(f"  {side.name}  {key}", ts)
            elif side.killed:
                left = side.killed["timed"] - sum(kd.values())
                print(f"  {f'  {side.name}  {key}':{W}} {'(killed)':>{RW}} | {'> ' + format(left, '.0f'):>8} |")
                break
        if runs:
            note = ""
            if side.killed:
                note = f"   (run {len(runs) + 1} killed at {side.cap:g} s)"
            elif len(runs) == 1:
                note = f"   (1 run: it took > {SLOW_RUN_S:g} s)"
            row(f"{side.name}  {total_label}", side.totals(), f"{side.cpu_median():.3f}", note)
        else:
            print(f"  {f'{side.name}  {total_label}':{W}} {f'(killed at the {side.cap:g} s cap)':>{RW}} | "
                  f"{'> ' + format(side.killed['timed'], '.0f'):>8} |")

    side_rows(sem, "TOTAL .sem text -> pi, E[T]")
    side_rows(best, "TOTAL (SparseLU, visiting times)")
    side_rows(eigen, "TOTAL (SparseLU, automatic)")
    side_rows(default, "TOTAL (default environment)")
    print()
    print("correctness")
    for c in checks:
        print(f"  {c}")
    print()
    print("memory (peak resident set size of each child, VmHWM; MB = 10^6 bytes)")
    for side in sides:
        if side.runs:
            print(f"  {f'{side.name}: peak / after imports':{W}} {mb(max(r['peak'] for r in side.runs)):>10}"
                  f" / {mb(side.runs[0]['baseline'])}")
        else:
            print(f"  {f'{side.name}: peak / after imports':{W}} {'(killed)':>10}")
    print()

    note = f"   [at {L}x{L}; the goal is stated for 316x316]" if args.quick else ""
    print("goal" + note)
    ms, mbst = sem.median(), best.median()
    label = "semdsl / Storm best (medians)"
    if ms is not None:
        r = ms / mbst
        print(f"  {label:{W}} {r:8.3f}x   goal <= {GOAL:g}x   {verdict(r <= GOAL)}"
              f"   (best of runs {min(sem.totals()) / min(best.totals()):.3f}x, CPU medians "
              f"{sem.cpu_median() / best.cpu_median():.3f}x)")
    else:
        r = sem.killed["timed"] / mbst
        print(f"  {label:{W}} > {r:6.1f}x   goal <= {GOAL:g}x   FAIL   (semdsl killed at its {cap_semdsl:g} s cap, "
              f"{sem.killed['timed']:.0f} s into the timed solve)")
    for side in (eigen, default):
        label = f"semdsl / {side.name} (medians; report only)"
        mo = side.median()
        if ms is not None and mo is not None:
            print(f"  {label:{W}} {ms / mo:8.3f}x")
        elif ms is not None:
            print(f"  {label:{W}} < {ms / side.killed['timed']:6.3f}x   ({side.name} killed at its "
                  f"{side.cap:g} s cap)")
        elif mo is not None:
            print(f"  {label:{W}} > {sem.killed['timed'] / mo:6.3f}x   (semdsl killed at its {cap_semdsl:g} s cap)")
        else:
            print(f"  {label:{W}}        ?   (both killed: semdsl at {cap_semdsl:g} s, {side.name} at "
                  f"{side.cap:g} s)")
    print(f"(load average {os.getloadavg()[0]:.2f} at the end; the machine may be shared, so wall times "
          "include contention)")
    if solver_hash() != exact_hash:
        print(f"WARNING: semdsl/solvers/exact.py changed during the benchmark (sha256 now {solver_hash()}): "
              "the semdsl runs may have timed different code")

    if prof is not None:
        print()
        if prof.get("killed"):
            print(f"cProfile: the profiled semdsl solve was killed after {cap_semdsl:g} s")
        else:
            print(f"cProfile (timer: CPU time) of one semdsl solve at {L}x{L}, top 15 by cumulative time")
            print(prof["profile"])

    if mismatches or unchecked:
        print(file=sys.stderr)
        for msg in mismatches:
            print(f"MISMATCH: {msg}", file=sys.stderr)
        for what in unchecked:
            print(f"NOT CHECKED: {what} (semdsl killed at its cap)", file=sys.stderr)
        return 1 if mismatches else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
