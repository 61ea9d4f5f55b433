"""A grokking sweep on a local Dask cluster of 1 and of 2 workers, against the solver
called directly in a loop.

The sweep: ``models/grokking.sem``'s landscape, ``t_grok`` (the mean first passage
memorise -> generalise) over 24 values of D (1500..16000, log) x 20 disorder
realisations, by simulation with 1000 walkers per task -- 480 tasks, each compiling its
realisation and simulating.  Every contender computes the same 480 tasks:

* direct: ``runner.piece(...)`` in a loop in this process (what the runner does with no
  executor; no store, no scheduler);
* ``semdsl.run(..., workers=1)`` and ``workers=2``: a LocalCluster of single-threaded
  worker processes started by semdsl, warmed first (numba's cached kernels loaded in
  each worker) so the timings are of the sweep, not of process start-up (reported
  apart).

The numbers must be identical in all three (checked).  Goals (issue 7): speed-up of 2
workers over 1 >= 1.7x on 2 cores; overhead per task of the 1-worker cluster against
the direct loop <= 10%.

This process and every worker run numba single-threaded (NUMBA_NUM_THREADS=1), so the
direct loop is one worker's work.  Run: ``python bench/sweep.py`` (needs
``pip install '.[dask]'``).
"""

from __future__ import annotations

import os

os.environ["NUMBA_NUM_THREADS"] = "1"          # before numba is imported

import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import semdsl  # noqa: E402
from semdsl.execute import DaskExecutor  # noqa: E402
from semdsl.runner import _Runner  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POINTS, REALS, WALKERS = 24, 20, 1000


def sweep_model() -> semdsl.Model:
    text = (ROOT / "models" / "grokking.sem").read_text()
    text = re.sub(r"(?m)^predict .*$", "", text)
    text += (f"\npredict t_grok over D in 1500..16000 log points {POINTS} using simulation "
             f"with realizations = {REALS}, walkers = {WALKERS}\n")
    return semdsl.loads(text, file=str(ROOT / "models" / "grokking_sweep.sem"))


#: timings are the best of this many repetitions (the VM's speed drifts by +-10-30%)
REPEATS = 3


def direct(model) -> float:
    items = [(r, k) for r in range(REALS) for k in range(POINTS)]
    _Runner(model, {}, 1, None, None).piece("simulation", 0, 0, 0)     # JIT warm, as in the workers
    best = float("inf")
    for _ in range(REPEATS):
        runner = _Runner(model, {}, 1, None, None)                      # fresh caches, as a new run
        t0 = time.perf_counter()
        for r, k in items:
            runner.piece("simulation", 0, r, k)
        best = min(best, time.perf_counter() - t0)
    return best


def on_cluster(model, workers: int) -> tuple[float, float, dict]:
    t0 = time.perf_counter()
    ex = DaskExecutor(workers=workers)
    start = time.perf_counter() - t0
    try:
        # warm every worker: import semdsl and load numba's cached kernels
        warm = [dict(_spec(model), r=r, k=0, key_hash=f"warm{r}") for r in range(2 * workers)]
        list(ex.map(warm))
        best = float("inf")
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            res = semdsl.run(model, methods=["simulation"], scheduler=ex.client.scheduler.address)
            best = min(best, time.perf_counter() - t0)
        return best, start, json.loads(res.to_json())
    finally:
        ex.close()


def _spec(model) -> dict:
    r = _Runner(model, {}, 1, None, None)
    return r.task_spec("simulation", 0, 0, 0)


def main() -> int:
    model = sweep_model()
    n_tasks = POINTS * REALS
    print(f"grokking sweep: t_grok over {POINTS} values of D x {REALS} realisations, simulation with "
          f"{WALKERS} walkers per task = {n_tasks} tasks (numba single-threaded everywhere)")
    print(f"  (best of {REPEATS} for every contender)")
    t_direct = direct(model)
    print(f"  direct loop (runner.piece in this process)   {t_direct:7.2f} s   {1e3 * t_direct / n_tasks:6.1f} ms/task")
    t_serial = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        ref = json.loads(semdsl.run(model, methods=["simulation"]).to_json())
        t_serial = min(t_serial, time.perf_counter() - t0)
    print(f"  semdsl.run, no cluster                       {t_serial:7.2f} s")
    t1, s1, r1 = on_cluster(model, 1)
    print(f"  LocalCluster, 1 worker                       {t1:7.2f} s   (cluster start {s1:.1f} s, not counted)")
    t2, s2, r2 = on_cluster(model, 2)
    print(f"  LocalCluster, 2 workers                      {t2:7.2f} s   (cluster start {s2:.1f} s, not counted)")
    same = json.dumps(ref, sort_keys=True) == json.dumps(r1, sort_keys=True) == json.dumps(r2, sort_keys=True)
    print(f"  identical numbers (no cluster, 1 and 2 workers): {same}")
    speedup = t1 / t2
    overhead = (t1 - t_direct) / t_direct
    per_task = 1e3 * (t1 - t_direct) / n_tasks
    print("goals")
    print(f"  speed-up 2 workers / 1 worker: {speedup:.2f}x   (goal >= 1.7x) "
          f"{'PASS' if speedup >= 1.7 else 'FAIL'}")
    print(f"  overhead of the 1-worker cluster over the direct loop: {100 * overhead:+.1f}% "
          f"({per_task:+.1f} ms per task)   (goal <= 10%) {'PASS' if overhead <= 0.10 else 'FAIL'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
