"""Sweeps as tasks (issue 7): the same numbers serially, on a local Dask cluster and
after interruptions; the results store resumes; progress bars stay off the pipes."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import semdsl
from semdsl.cli import main
from semdsl.progress import Reporter
from semdsl.simrun import walker_groups
from semdsl.store import Store

distributed = pytest.importorskip("distributed")

MODEL = """
model traps "a chain of random barriers"
param L = 12 in 2..100
param R0 = 1 in 0.01..100
node s[n in 1..L] { F = 1 / n }
edge s[n] -> s[n + 1] for n in 1..L - 1 { B ~ exponential(rate = 0.7) }
rate barrier(R0, 1)
init s[1]
observable typical = median(F)
observable t_end = first_passage(where(F < 1 / (L - 0.5)))
predict t_end over R0 in 0.5..2 points 4 using exact, simulation with walkers = WALKERS, realizations = REALS
predict typical over t in 0.5..50 log points 8 using exact, simulation with walkers = 300, realizations = 6
"""


def model_file(tmp_path, walkers=300, reals=5, name="traps.sem"):
    f = tmp_path / name
    f.write_text(MODEL.replace("WALKERS", str(walkers)).replace("REALS", str(reals)))
    return f


def stored(path) -> int:
    """Tasks in a store another process is writing (0 while it does not exist yet)."""
    if not path.exists():
        return 0
    try:
        with Store(path) as st:
            return len(st)
    except Exception:               # created but not yet initialised by the writer
        return 0


def canonical(res) -> str:
    return json.dumps(res.to_dict() if hasattr(res, "to_dict") else res, sort_keys=True)


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster
    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                     silence_logs=50, env={"NUMBA_NUM_THREADS": "1"})
    yield c
    c.close()


def test_store_resumes_with_identical_numbers(tmp_path):
    f = model_file(tmp_path)
    store = tmp_path / "s.sqlite"
    a = semdsl.run(f, store=store)
    n_tasks = 2 * (4 * 5) + 2 * 6            # exact + simulation, per (realisation, point)
    assert a.tasks == {"computed": n_tasks, "from_store": 0}
    with Store(store) as st:
        assert len(st) == n_tasks
    b = semdsl.run(f, store=store)
    assert b.tasks == {"computed": 0, "from_store": n_tasks}
    assert canonical(a) == canonical(b) == canonical(semdsl.run(f))
    # another seed or parameter value is another set of tasks
    c = semdsl.run(f, {"L": 10}, store=store)
    assert c.tasks["from_store"] == 0


def test_a_local_cluster_gives_the_serial_numbers(tmp_path, cluster):
    f = model_file(tmp_path)
    serial = semdsl.run(f, seed=5)
    on_cluster = semdsl.run(f, seed=5, scheduler=cluster.scheduler_address)
    assert canonical(serial) == canonical(on_cluster)


def test_a_killed_worker_loses_no_finished_task_and_changes_no_number(tmp_path, cluster):
    """One of the two workers is killed (SIGKILL) mid-sweep: the scheduler reruns its
    task elsewhere, finished tasks are already in the store, and the final numbers are
    those of an uninterrupted serial run."""
    from distributed import Client
    f = model_file(tmp_path, walkers=30000, reals=12)
    store = tmp_path / "k.sqlite"
    with Client(cluster.scheduler_address) as client:
        pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed = threading.Event()

    def killer():
        deadline = time.time() + 120
        while time.time() < deadline and not killed.is_set():
            if stored(store) >= 8:
                os.kill(victim, signal.SIGKILL)
                killed.set()
                return
            time.sleep(0.02)

    th = threading.Thread(target=killer)
    th.start()
    res = semdsl.run(f, scheduler=cluster.scheduler_address, store=store)
    th.join()
    assert killed.is_set(), "the sweep finished before a worker could be killed"
    assert res.tasks["computed"] == 2 * 4 * 12 + 2 * 6
    assert canonical(res) == canonical(semdsl.run(f))
    # the nanny restarts the worker: the cluster is whole again for the next test
    with Client(cluster.scheduler_address) as client:
        client.wait_for_workers(2, timeout=60)


def test_a_killed_run_resumes_from_the_store(tmp_path):
    """`semdsl run` killed mid-sweep (SIGKILL): rerunning the same command reads every
    task finished before the kill and ends with the numbers of an uninterrupted run."""
    f = model_file(tmp_path, walkers=30000, reals=20)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "semdsl", "run", str(f), "-o", str(out), "--json"]
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    store = out / "store.sqlite"
    deadline = time.time() + 180
    n_before = 0
    while time.time() < deadline and proc.poll() is None:
        n_before = stored(store)
        if n_before >= 10:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    with Store(store) as st:
        kept = len(st)
    assert kept >= n_before >= 10
    done = subprocess.run(cmd[:-1], capture_output=True, text=True, env=env, timeout=600)   # tables, not --json
    assert done.returncode == 0, done.stderr
    total = 2 * 4 * 20 + 2 * 6
    assert f"tasks: {total - kept} computed, {kept} read from {store}" in done.stderr
    assert json.loads((out / "results.json").read_text()) == json.loads(semdsl.run(f).to_json())


def test_progress_bars_only_on_terminals():
    quiet = Reporter(stream=io.StringIO())          # not a terminal: silent
    assert not quiet.enabled
    stream = io.StringIO()
    loud = Reporter(enabled=True, stream=stream)
    with loud.bar("line 3: simulation", 5) as bar:
        for _ in range(5):
            bar.advance()
    assert "line 3: simulation" in stream.getvalue()


def test_bad_execution_options_are_user_errors(tmp_path, capsys):
    f = model_file(tmp_path)
    assert main(["run", str(f), "--workers", "0", "--no-store"]) == 1
    err = capsys.readouterr().err
    assert "--workers must be at least 1" in err and "Traceback" not in err
    t0 = time.time()
    assert main(["run", str(f), "--scheduler", "tcp://127.0.0.1:1", "--no-store"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler" in err and "hint" in err and "Traceback" not in err
    assert time.time() - t0 < 60


def test_many_walkers_are_split_into_group_tasks(tmp_path, cluster):
    """60000 walkers per (realisation, point) become MIN_GROUPS tasks of 3000: their
    merged statistics agree with exact, and a cluster gives the same numbers."""
    f = model_file(tmp_path, walkers=60000, reals=2)
    res = semdsl.run(f, seed=2)
    G = len(walker_groups(60000))
    assert G == 20
    assert res.tasks["computed"] == 4 * 2 * (1 + G) + 2 * 6
    p = res[0]
    assert p.methods["simulation"]["t_end"]["walkers"] == 60000
    assert p.agreement["t_end"]["ok"], p.agreement["t_end"]
    assert canonical(res) == canonical(semdsl.run(f, seed=2, scheduler=cluster.scheduler_address))


def test_group_merge_of_a_quantile_and_a_fitted_exponent(tmp_path, monkeypatch):
    """Forced small groups (20 of 150 walkers) on a time axis with a fit: the merged
    median is the median of all walkers (so it agrees with exact), and the fit's
    interval is a bootstrap over the groups."""
    import semdsl.simrun as SR
    monkeypatch.setattr(SR, "WALKERS_PER_TASK", 1000)
    f = tmp_path / "g.sem"
    f.write_text(MODEL.replace("WALKERS", "300").replace("REALS", "1").replace(
        "predict typical over t in 0.5..50 log points 8 using exact, simulation with walkers = 300, realizations = 6",
        "predict typical, t_end over t in 0.5..50 log points 8 using exact, simulation with walkers = 3000, fit = powerlaw"))
    res = semdsl.run(f, seed=4)
    p = res[1]
    for name in ("typical", "t_end"):
        assert p.agreement[name]["ok"], (name, p.agreement[name])
    assert p.methods["simulation"]["typical"]["fit"]["method"].startswith(("bootstrap (replicates)", "local-slope"))


def test_progress_callback_for_realisation_counters():
    stream = io.StringIO()
    cb = Reporter(enabled=True, stream=stream).callback("Newman-Ziff passes")
    for i in range(1, 11):
        cb(i, 10)
    assert "Newman-Ziff passes" in stream.getvalue()
    assert Reporter(enabled=False).callback("x") is None
