"""Where the tasks of a sweep run: in this process, on local worker processes, or on a
Dask cluster -- with the same numbers everywhere.

A sweep (a ``predict`` statement's axis over a parameter, its disorder realisations)
is cut into independent tasks: one (method, realisation, axis point) each.  A task
carries only what identifies it -- the model's source, the parameter overrides, the
seed, the prediction's index and ``(r, k)`` -- and draws its random numbers from
``SeedSequence(seed, spawn_key=(r, k, line))``, so its result does not depend on which
process runs it, in which order, or how many run at once (the simulation engine's
results do not depend on its thread count either).

Executors
---------
``None`` (the default, one worker)
    Tasks run here, in order, on the live runner: no process start-up, no copies.
:class:`DaskExecutor`
    ``DaskExecutor(workers=N)`` starts a ``dask.distributed.LocalCluster`` of ``N``
    single-threaded worker processes (the embedded local default for ``--workers N``);
    ``DaskExecutor(address="tcp://host:8786")`` sends the same tasks to an existing
    cluster (``--scheduler``).  Results come back to this process as they finish, so
    the results store (:mod:`semdsl.store`) is written by one process only; a worker
    that dies has its tasks rerun elsewhere by the scheduler, with identical results.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

from .errors import Diagnostic, ParameterError, Span

#: batches of tasks sent per worker (more balance the load, fewer cut the round trips)
BATCHES_PER_WORKER = 8

#: worker-side cache of runners, keyed by what defines one
_RUNNERS: dict[tuple, Any] = {}


def _no_dask(flag: str) -> ParameterError:
    return ParameterError([Diagnostic(
        Span(flag, 0, 0, 0, 0), f"{flag} needs dask.distributed, which is not installed",
        hint='pip install "semdsl[dask]" (or pip install "dask[distributed]")')])


class DaskExecutor:
    """Run tasks on a Dask cluster: a new local one (``workers``) or an existing one
    (``address``).  Use as a context manager, or call :meth:`close`."""

    def __init__(self, workers: int | None = None, address: str | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise _no_dask("--scheduler" if address else "--workers") from None
        self.cluster = None
        if address:
            try:
                self.client = Client(address, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise ParameterError([Diagnostic(
                    Span("--scheduler", 0, 0, 0, 0), f"cannot reach the Dask scheduler at {address}: {exc}",
                    hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`, "
                         "or drop --scheduler to run locally")]) from None
        else:
            n = int(workers or 1)
            if n < 1:
                raise ParameterError([Diagnostic(Span("--workers", 0, 0, 0, 0),
                                                 f"--workers must be at least 1, got {n}")])
            # one thread per worker process: the processes are the parallelism, and
            # numba's threads inside each would only compete for the same cores
            import dask
            # no statistical profiler in the workers: it samples every thread's stack
            # every 10 ms, which costs tasks of a few milliseconds a measurable share
            # and glibc's default trimming: Dask's MALLOC_TRIM_THRESHOLD_ = 64 KiB returns
            # freed memory to the system at once, so every task's fresh arrays page-fault
            # again (measured: tasks 37% slower in a worker than in this process)
            environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
                       if k != "MALLOC_TRIM_THRESHOLD_"}
            with dask.config.set({"distributed.worker.profile.enabled": False,
                                  "distributed.nanny.pre-spawn-environ": environ}):
                self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=40,
                                            env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                                 "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"})
            self.client = Client(self.cluster)
        self.workers = n if not address else len(self.client.scheduler_info().get("workers", {}))

    def map(self, specs: list[dict]) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, result)`` for every spec as its batch finishes.

        Tasks go to the cluster in batches of consecutive tasks, about
        ``BATCHES_PER_WORKER`` per worker: a scheduler hands a single-threaded worker
        one Dask task at a time, and the round trip per task (several ms) would double
        the cost of millisecond tasks.  A batch's results arrive together; a worker
        killed mid-batch loses only that unfinished batch, which the scheduler reruns."""
        from distributed import as_completed
        n = len(specs)
        per = max(1, -(-n // (max(self.workers, 1) * BATCHES_PER_WORKER)))
        futures = {}
        for b0 in range(0, n, per):
            batch = specs[b0:b0 + per]
            fut = self.client.submit(run_tasks, batch, key=f"semdsl-{batch[0]['key_hash']}-{b0}-{len(batch)}",
                                     pure=False, retries=2)
            futures[fut] = b0
        for fut in as_completed(futures):
            b0 = futures[fut]
            for j, res in enumerate(fut.result()):
                yield b0 + j, res

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_executor(workers: int | None = None, scheduler: str | None = None) -> DaskExecutor | None:
    """``None`` (run here) for one local worker, else a :class:`DaskExecutor`."""
    if scheduler:
        return DaskExecutor(address=scheduler)
    if workers is not None and int(workers) > 1:
        return DaskExecutor(workers=int(workers))
    if workers is not None and int(workers) < 1:
        raise ParameterError([Diagnostic(Span("--workers", 0, 0, 0, 0),
                                         f"--workers must be at least 1, got {workers}")])
    return None


def run_tasks(specs: list[dict]) -> list:
    """Compute a batch of tasks in a worker process, in order."""
    return [run_task(spec) for spec in specs]


def run_task(spec: dict) -> Any:
    """Compute one task in a worker process (see :meth:`semdsl.runner._Runner.piece`)."""
    from . import loads
    from .runner import _Runner
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    rk = (spec["model_hash"], spec["params_json"], spec["seed"], spec["limits_json"], spec["extras_json"])
    runner = _RUNNERS.get(rk)
    if runner is None:
        model = loads(spec["source"], file=spec["file"])
        runner = _Runner(model, spec["params"], spec["seed"], None, None, limits=spec["limits"])
        for k, v in spec["extras"].items():
            setattr(runner, k, v)
        if len(_RUNNERS) > 8:
            _RUNNERS.clear()
        _RUNNERS[rk] = runner
    return runner.piece(spec["method"], spec["pred_index"], spec["r"], spec["k"], spec.get("g", 0))
