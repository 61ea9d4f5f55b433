"""Mutation fuzzing at scale: 10^5 damaged model files, none may crash or hang.

The inputs are those of ``tests/test_fuzz.py`` (the same mutator, ``tests/fuzzing.py``):
every ``models/*.sem``, every ``tests/errors/*.sem`` and a few extra seeds, damaged by
1-3 of bit flips, truncations, token swaps, deleted braces, huge or odd numbers, names
swapped for keywords, unicode (combining marks, RTL marks, emoji, NUL, BOM, line
separators), invalid UTF-8, duplicated / deleted / swapped lines.  Input ``i`` depends
only on ``(--seed, i)``.

Each input is decoded as a model file is read, parsed, formatted (``semdsl fmt`` must
give text that parses to the same tree, and be idempotent), checked and compiled with
small limits (20,000 states, 200,000 transitions), under a per-input alarm
(``--timeout``, default 5 s).  Outcomes:

* ``ok``         -- a compiled model;
* ``error``      -- a SemdslError whose every diagnostic names ``fuzz.sem:LINE:COL`` and
                    quotes that line of the input with a caret under that column;
* ``bad-error``  -- a SemdslError without a usable position (a failure);
* ``format``     -- the formatter changed the tree or is not idempotent (a failure);
* ``exception``  -- any other exception (a failure: a crash with a traceback);
* ``timeout``    -- past the alarm, or a worker silent for 4x the alarm and killed (a
                    failure: a hang).

Failing inputs are written to ``--out`` (default ``fuzz-failures/``) as ``input_N.sem``
(the exact bytes) and ``input_N.txt`` (seed file, mutations, what happened), so that
``semdsl check input_N.sem`` reproduces them.  The last line is ``PASS`` or ``FAIL``;
the exit status is 1 on FAIL.

Run::

    python bench/fuzz.py                  # 10^5 inputs on 2 processes (~2-3 min)
    python bench/fuzz.py -n 2000 --workers 1
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import multiprocessing.connection  # noqa: F401  (mp.connection.wait)
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import fuzzing as F  # noqa: E402  (tests/fuzzing.py: the mutator and the oracle)

FAILURES = ("bad-error", "format", "exception", "timeout")
CHUNK = 250


def worker(seed: int, timeout: float, conn, workdir: str) -> None:
    """Run the chunks of input numbers the parent sends; answer each input at once (a
    pipe per worker, no shared queue: killing a stuck worker cannot jam the others)."""
    os.chdir(workdir)
    corpus = F.seeds()
    F.run_one(b"node a\n", timeout)  # warm up: imports, the grammar
    conn.send(("ready",))
    while True:
        chunk = conn.recv()
        if chunk is None:
            return
        for i in chunk:
            _, data, _ = F.nth_input(seed, i, corpus)
            o = F.run_one(data, timeout)
            conn.send(("input", i, o.kind, o.detail if o.kind in FAILURES else "", o.seconds))
        conn.send(("ready",))


class Worker:
    def __init__(self, ctx, args, workdir: str):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker, args=(args.seed, args.timeout, child, workdir), daemon=True)
        self.proc.start()
        child.close()
        self.chunk: list[int] = []
        self.last = time.monotonic() + 60.0  # start-up grace

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=100_000, help="number of inputs (default 10^5)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the mutator (default 1)")
    ap.add_argument("--start", type=int, default=0, help="first input number (default 0)")
    ap.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds per input (default 5)")
    ap.add_argument("--out", default="fuzz-failures", help="directory for failing inputs")
    args = ap.parse_args(argv)

    corpus = F.seeds()
    workdir = tempfile.mkdtemp(prefix="semdsl-fuzz-")
    F.write_edgelist(Path(workdir))
    indices = list(range(args.start, args.start + args.n))
    pending = collections.deque(indices[k:k + CHUNK] for k in range(0, len(indices), CHUNK))
    ctx = mp.get_context("fork")
    print(f"fuzzing {args.n:,} inputs (seed {args.seed}, from {len(corpus)} seed files) on "
          f"{args.workers} process{'es' if args.workers != 1 else ''}, {args.timeout:g} s per input",
          flush=True)
    t0 = time.perf_counter()
    workers = [Worker(ctx, args, workdir) for _ in range(args.workers)]
    counts: collections.Counter = collections.Counter()
    seen: set[int] = set()
    failures: list[tuple[int, str, str]] = []
    slow: list[tuple[float, int]] = []
    hard = max(4 * args.timeout, 20.0)  # a worker silent this long is stuck out of the alarm's reach
    report_every = max(args.n // 20, 1)

    def record(i: int, kind: str, detail: str, seconds: float = 0.0) -> None:
        nonlocal slow
        if i in seen:
            return
        seen.add(i)
        counts[kind] += 1
        slow.append((seconds, i))
        if len(slow) > 50:
            slow = sorted(slow, reverse=True)[:10]
        if kind in FAILURES:
            failures.append((i, kind, detail))
        if len(seen) % report_every == 0:
            rate = len(seen) / (time.perf_counter() - t0)
            print(f"  {len(seen):>7,} inputs, {rate:,.0f}/s, failures {len(failures)}", flush=True)

    def lost(w: Worker, why: str) -> None:
        """A worker died or hung: its current input is the culprit, the rest goes back."""
        w.stop()
        workers.remove(w)
        rest = [k for k in w.chunk if k not in seen]
        if rest:
            record(rest[0], "timeout" if why == "hung" else "exception",
                   f"the worker stopped answering for {hard:g} s and was killed" if why == "hung"
                   else f"the worker process died (exit status {w.proc.exitcode})")
            if rest[1:]:
                pending.appendleft(rest[1:])
        if pending or len(seen) < args.n:
            workers.append(Worker(ctx, args, workdir))

    while workers and len(seen) < args.n:
        ready = mp.connection.wait([w.conn for w in workers], timeout=1.0)
        now = time.monotonic()
        for w in list(workers):
            if w.conn not in ready:
                continue
            try:
                msg = w.conn.recv()
            except (EOFError, OSError):
                lost(w, "died")
                continue
            w.last = now
            if msg[0] == "input":
                _, i, kind, detail, seconds = msg
                record(i, kind, detail, seconds)
            elif msg[0] == "ready":
                w.chunk = pending.popleft() if pending else []
                w.conn.send(w.chunk or None)
        for w in list(workers):
            if w.chunk and now - w.last > hard:
                lost(w, "hung")
            elif not w.proc.is_alive() and w.conn not in ready:
                lost(w, "died")
    for w in workers:
        try:
            w.conn.send(None)
        except OSError:
            pass
        w.proc.join(timeout=5)
        w.stop()
    elapsed = time.perf_counter() - t0

    n = len(seen)
    print(f"\n{n:,} inputs in {elapsed:.1f} s: {n / elapsed:,.0f} inputs/s on {args.workers} "
          f"process{'es' if args.workers != 1 else ''}")
    for kind in ("ok", "error") + FAILURES:
        label = {"ok": "compiled model", "error": "located error (file:line:col)",
                 "bad-error": "error without a usable location", "format": "fmt round trip broken",
                 "exception": "other exception", "timeout": f"timeout (> {args.timeout:g} s)"}[kind]
        print(f"  {kind:<10} {counts[kind]:>8,}  {label}")
    slow = sorted(slow, reverse=True)[:3]
    print("  slowest: " + ", ".join(f"input {i} {s:.2f} s" for s, i in slow))
    if failures:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        failures.sort()
        for i, kind, detail in failures:
            name, data, done = F.nth_input(args.seed, i, corpus)
            (out / f"input_{i}.sem").write_bytes(data)
            (out / f"input_{i}.txt").write_text(
                f"input {i} of seed {args.seed}, from {name}, mutations {done}\n{kind}\n{detail}\n", "utf-8")
        print(f"\n{len(failures)} failing inputs written to {out}/ (input_N.sem, input_N.txt); the first:")
        for i, kind, detail in failures[:5]:
            name, _, done = F.nth_input(args.seed, i, corpus)
            print(f"--- input {i} (from {name}, {done}): {kind}\n" + "\n".join(detail.strip().split("\n")[-6:]))
    missing = args.n - n
    ok = not failures and missing == 0
    print(f"\n{'PASS' if ok else 'FAIL'}: {n:,} inputs, {len(failures)} failures"
          + (f", {missing} inputs not run" if missing else "")
          + f", {elapsed:.0f} s ({n / elapsed:,.0f} inputs/s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
