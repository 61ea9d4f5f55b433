"""The resumable results store (semdsl/store.py) and ``semdsl results``."""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import multiprocessing as mp
import os
import signal
import sqlite3
import struct
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from semdsl.cli import main
from semdsl.errors import SemdslError
from semdsl.store import (SCHEMA_VERSION, Store, StoreError, TaskKey, canonical_params, decode,
                          encode)

STORE_SRC = Path(__file__).resolve().parent.parent / "semdsl" / "store.py"
EVIL = "'; DROP TABLE tasks; --"


def key(i: int = 0, *, model: str = "m", method: str = "exact", seed: int = 1, version: str = "0.1.0",
        model_hash: str = "abc123", params: dict | None = None) -> TaskKey:
    return TaskKey(model_hash, model, canonical_params(params or {"D": 2500}), seed, method, version,
                   f"line=7 i={i}")


# ------------------------------------------------------------------ exact comparison

def same(a, b) -> bool:
    """Structural equality, bit for bit: floats by their bits, arrays by dtype, shape and bytes."""
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes())
    if isinstance(a, (list, tuple)):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return type(b) is float and struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, (bool, np.bool_)):
        return type(b) is bool and bool(a) == b
    if isinstance(a, (int, np.integer)):
        return type(b) is int and int(a) == b
    if isinstance(a, np.floating):
        return same(float(a), b)
    return type(a) is type(b) and a == b


# ------------------------------------------------------------------ encode / decode

float_arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                          elements=st.floats(allow_nan=True, allow_infinity=True))
int_arrays = hnp.arrays(st.sampled_from([np.int64, np.int32]), hnp.array_shapes(min_dims=1, max_dims=2, max_side=4),
                        elements=st.integers(-2 ** 31, 2 ** 31 - 1))
bool_arrays = hnp.arrays(np.bool_, hnp.array_shapes(max_dims=2, max_side=4))
keys = st.one_of(st.text(max_size=8), st.sampled_from(["__ndarray__", "__float__", "__dict__", "shape", "data"]))
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                   st.text(max_size=10), float_arrays, int_arrays, bool_arrays)
results = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner), st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(results)
def test_encode_decode_roundtrip_property(obj):
    text = encode(obj)
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON token {c}"))
    assert same(obj, decode(text))


def nan_with_bits(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


@pytest.mark.parametrize("obj", [
    np.array([1.0, -0.0, 0.0, np.nan, np.inf, -np.inf, 5e-324, 1.7976931348623157e308, 0.1]),
    np.array([nan_with_bits(0xFFF8000000000000), nan_with_bits(0x7FF0000000000001), nan_with_bits(0x7FF8DEADBEEF0001)]),
    np.array(-0.0), np.zeros((0, 3)), np.arange(12, dtype=np.int64).reshape(3, 4).T,
    np.array([2 ** 62, -2 ** 62], dtype=np.int64), np.array([1, 2], dtype=np.int32),
    np.array([True, False]), np.array([[1.5, np.nan]], dtype=np.float32), np.array([np.nan, 1.0], dtype=">f8"),
    np.array([np.inf], dtype=np.float16), np.array([1 + 2j, complex(np.nan, -0.0)]),
    np.array([3, 4], dtype=np.uint64), np.array(["ab", ""]),
    -0.0, math.nan, -math.inf, nan_with_bits(0xFFF8000000000000), 0.1, 2 ** 80, -7, True, None, "", "naïve ✓",
    {"__ndarray__": "<f8", "shape": [1], "data": [1.0]}, {"__float__": "NaN"}, {"__dict__": {"a": 1}}, {},
    {"a": (1, [2.0, {"b": np.array([np.nan])}])}, 1 + 2j,
])
def test_encode_decode_explicit(obj):
    back = decode(encode(obj))
    assert same(obj, back) if not isinstance(obj, complex) else (back == obj)


def test_encode_numpy_scalars_and_format():
    obj = {"i": np.int64(3), "f": np.float64(-0.0), "b": np.bool_(True), "g": np.float32(0.5)}
    back = decode(encode(obj))
    assert back == {"i": 3, "f": 0.0, "b": True, "g": 0.5}
    assert math.copysign(1, back["f"]) == -1 and type(back["i"]) is int and type(back["b"]) is bool
    text = encode({"x": np.array([1.0, np.nan, -np.inf])})
    assert json.loads(text) == {"x": {"__ndarray__": "<f8", "shape": [3], "data": [1.0, "NaN", "-Infinity"]}}
    assert decode(encode((1, (2, 3)))) == [1, [2, 3]]


@pytest.mark.parametrize("bad", [{1: 2}, {"a": {(1, 2): 3}}, np.array([object()], dtype=object),
                                 np.array(["2024-01-01"], dtype="datetime64[D]"), {1, 2}, object(),
                                 np.zeros(2, dtype=[("a", "f8")])])
def test_encode_rejects(bad):
    with pytest.raises(TypeError):
        encode(bad)


def test_canonical_params():
    assert canonical_params({"beta": 0.1, "D": 2500}) == '{"D":2500.0,"beta":0.1}'
    assert canonical_params({"D": 2500}) == canonical_params({"D": 2500.0}) == canonical_params({"D": np.int64(2500)})
    assert canonical_params({"a": 1.0, "b": 2.0}) == canonical_params({"b": 2.0, "a": 1.0})
    assert canonical_params({"x": 0.1 + 0.2}) == '{"x":0.30000000000000004}'
    assert canonical_params({"x": -0.0}) == canonical_params({"x": 0.0})
    assert canonical_params({}) == canonical_params(None) == "{}"
    assert json.loads(canonical_params({"x": math.inf})) == {"x": "Infinity"}


def test_taskkey_validation():
    k = TaskKey("h", "m", "{}", np.int64(3), "exact", "v", "t")
    assert k.seed == 3 and type(k.seed) is int
    with pytest.raises(TypeError):
        TaskKey("h", "m", "{}", 1.5, "exact", "v", "t")
    with pytest.raises(TypeError):
        TaskKey("h", "m", {"D": 1}, 1, "exact", "v", "t")
    with pytest.raises(ValueError):
        TaskKey("h", "m", "{}", 2 ** 64, "exact", "v", "t")
    assert TaskKey("h", "m", "{}", 1, "exact", "v", "t") == TaskKey("h", "m", "{}", 1, "exact", "v", "t")


# ------------------------------------------------------------------ the store

def test_put_get_len_contains(tmp_path):
    path = tmp_path / "deep" / "dir" / "store.sqlite"
    with Store(path) as s:
        assert s.path == path and path.exists() and len(s) == 0
        assert s.get(key(0)) is None and key(0) not in s and "nonsense" not in s
        r = {"value": np.array([1.0, np.nan, -0.0]), "n": 3, "note": None}
        s.put(key(0), r, seconds=1.25)
        assert key(0) in s and len(s) == 1 and same(r, s.get(key(0)))
        s.put(key(1), [1, 2])
        assert len(s) == 2 and key(2) not in s
        assert key(0, seed=2) not in s and key(0, method="simulation") not in s
        assert key(0, version="0.2.0") not in s and key(0, params={"D": 2501}) not in s
        assert key(0, model_hash="abc124") not in s


def test_first_write_wins(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        s.put(key(0), {"v": 1.0}, seconds=2.0)
        s.put(key(0), {"v": 2.0}, seconds=3.0)
        assert s.get(key(0)) == {"v": 1.0} and len(s) == 1
        assert s.tasks()[0]["seconds"] == 2.0


def test_put_bad_result_writes_nothing(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        with pytest.raises(TypeError):
            s.put(key(0), {"x": object()})
        assert len(s) == 0
        with pytest.raises(TypeError):
            s.put("not a key", 1)


def test_get_many_chunks_and_fallback(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        for i in range(0, 1200, 2):
            s.put(key(i), {"i": i, "a": np.full(2, float(i))})
        wanted = [key(i) for i in range(1200)] + [key(4), key(5)]
        statements = []
        s._con.set_trace_callback(statements.append)
        got = s.get_many(wanted)
        s._con.set_trace_callback(None)
        assert set(got) == {key(i) for i in range(0, 1200, 2)}
        assert all(got[key(i)]["i"] == i and same(np.full(2, float(i)), got[key(i)]["a"]) for i in range(0, 1200, 2))
        assert sum("CROSS JOIN tasks" in q for q in statements) == 3  # 1200 distinct keys / 500
        assert s.get_many([]) == {}
        s._json1 = False  # an SQLite without JSON functions: per-key queries, same answer
        got2 = s.get_many(wanted)
        assert got2.keys() == got.keys() and all(same(got[k], got2[k]) for k in got)


def test_persistence_across_reopen(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        s.put(key(0), {"x": np.array([np.inf])})
    with Store(path) as s:
        assert same({"x": np.array([np.inf])}, s.get(key(0)))
        s.put(key(1), 7)
    with Store(path, readonly=True) as s:
        assert len(s) == 2 and s.get(key(1)) == 7
        with pytest.raises(StoreError, match="read-only"):
            s.put(key(2), 1)


def test_closed_store(tmp_path):
    s = Store(tmp_path / "s.sqlite")
    s.close()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.get(key(0))


def test_missing_readonly_and_not_a_store(tmp_path):
    missing = tmp_path / "nope.sqlite"
    with pytest.raises(StoreError, match="no such results store") as e:
        Store(missing, readonly=True)
    assert str(missing) in str(e.value) and not missing.exists()
    assert isinstance(e.value, SemdslError)

    text = tmp_path / "notes.txt"
    text.write_text("hello, not a database\n" * 10)
    for ro in (False, True):
        with pytest.raises(StoreError, match="not a semdsl results store") as e:
            Store(text, readonly=ro)
        assert str(text) in str(e.value)
    assert text.read_text() == "hello, not a database\n" * 10

    with pytest.raises(StoreError, match="not a file"):
        Store(tmp_path)

    other = tmp_path / "other.sqlite"  # someone else's SQLite database: refused and left untouched
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()
    before = other.read_bytes()
    for ro in (False, True):
        with pytest.raises(StoreError, match="other tables"):
            Store(other, readonly=ro)
    assert other.read_bytes() == before

    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(StoreError):
        Store(empty, readonly=True)
    with Store(empty) as s:  # an empty file may become a store
        s.put(key(0), 1)
        assert len(s) == 1


def test_schema_version_mismatch(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="schema version"):
        Store(path)


def test_injection_looking_values_verbatim(tmp_path):
    k = TaskKey(EVIL, EVIL, canonical_params({EVIL: 1.0}), 1, EVIL, EVIL, EVIL)
    with Store(tmp_path / "s.sqlite") as s:
        s.put(k, {EVIL: EVIL})
        s.put(key(0), 1)
        assert s.get(k) == {EVIL: EVIL} and len(s) == 2
        rows = s.tasks(model=EVIL)
        assert len(rows) == 1 and all(rows[0][f] == EVIL for f in ("model_hash", "model", "method", "version", "task"))
        assert json.loads(rows[0]["params"]) == {EVIL: 1.0}
        assert s.tasks(model_hash=EVIL[:3])[0]["task"] == EVIL
        assert s.tasks(model_hash="%") == [] and s.tasks(model_hash="_") == []  # no LIKE wildcards
        assert [r["model"] for r in s.runs(method=EVIL)] == [EVIL]
        assert s.get_many([k, key(0)]) == {k: {EVIL: EVIL}, key(0): 1}
        assert {r[0] for r in s._con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} >= {"tasks", "meta"}


def test_runs_and_tasks_filters(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        for i in range(3):
            s.put(key(i, model="grok", model_hash="aaaa1111"), i, seconds=0.5)
            s.put(key(i, model="grok", model_hash="aaaa1111", seed=2), i, seconds=0.25)
        s.put(key(0, model="grok", model_hash="aaaa1111", method="simulation"), {"x": 1})
        s.put(key(0, model="trap", model_hash="bbbb2222", version="0.2.0"), 1.5)
        runs = s.runs()
        assert len(runs) == 4
        r = next(r for r in runs if r["model"] == "grok" and r["seed"] == 1 and r["method"] == "exact")
        assert r["tasks"] == 3 and r["seconds"] == pytest.approx(1.5) and r["model_hash"] == "aaaa1111"
        assert r["first"] <= r["last"] and r["last"].endswith("Z") and "T" in r["first"]
        assert json.loads(r["params"]) == {"D": 2500.0} and r["version"] == "0.1.0"
        assert next(r for r in runs if r["method"] == "simulation")["seconds"] is None
        assert {r["model"] for r in s.runs(model="trap")} == {"trap"}
        assert len(s.runs(model="grok")) == 3 and len(s.runs(seed=2)) == 1
        assert len(s.runs(model_hash="aaaa")) == 3 and len(s.runs(model_hash="aaaa1111x")) == 0

        assert len(s.tasks()) == 8
        assert len(s.tasks(model="grok")) == 7 and len(s.tasks(model="grok", method="exact")) == 6
        assert len(s.tasks(method="simulation")) == 1 and len(s.tasks(seed=2)) == 3
        assert len(s.tasks(model_hash="bbbb")) == 1 and s.tasks(model="nobody") == []
        assert len(s.tasks(version="0.2.0")) == 1
        rows = s.tasks(method="exact", seed=2, with_results=True)
        assert sorted(r["result"] for r in rows) == [0, 1, 2]
        assert set(rows[0]) == {f.name for f in fields(TaskKey)} | {"finished", "seconds", "result"}
        k = TaskKey(**{f.name: rows[0][f.name] for f in fields(TaskKey)})
        assert k in s and s.get(k) == rows[0]["result"]
        with pytest.raises(TypeError, match="unknown filter"):
            s.tasks(colour="red")


def test_export_json_and_csv(tmp_path):
    data = {key(0): {"v": np.array([1.0, np.nan, -np.inf, -0.0])}, key(1): [1, "a"], key(2, method="theory"): None}
    with Store(tmp_path / "s.sqlite") as s:
        for k, v in data.items():
            s.put(k, v, seconds=0.5)
        out = tmp_path / "out" / "all.json"
        assert s.export_json(out) == 3
        rows = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))
        assert len(rows) == 3
        for row in rows:
            k = TaskKey(**{f.name: row[f.name] for f in fields(TaskKey)})
            assert same(data[k], decode(json.dumps(row["result"]))) and row["seconds"] == 0.5
        buf = io.StringIO()
        assert s.export_json(buf, method="theory") == 1 and len(json.loads(buf.getvalue())) == 1
        buf = io.StringIO()
        assert s.export_json(buf, model="none") == 0 and json.loads(buf.getvalue()) == []

        out = tmp_path / "all.csv"
        assert s.export_csv(out) == 3
        with open(out, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 3 and list(rows[0]) == ["model_hash", "model", "params", "seed", "method", "version",
                                                     "task", "finished", "seconds", "result"]
        for row in rows:
            k = TaskKey(row["model_hash"], row["model"], row["params"], int(row["seed"]), row["method"],
                        row["version"], row["task"])
            assert same(data[k], decode(row["result"])) and float(row["seconds"]) == 0.5


def test_threads_share_one_store(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        def work(t):
            for i in range(50):
                s.put(key(1000 * t + i), i)
                assert s.get(key(1000 * t + i)) == i
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(s) == 200


# ------------------------------------------------------------------ several processes

def _writer(store_or_path, offset: int, n: int) -> None:
    s = store_or_path if isinstance(store_or_path, Store) else Store(store_or_path)
    for i in range(n):
        s.put(key(offset + i), {"i": offset + i, "a": np.arange(20.0) + i})
    s.close()


def _endless_writer(path: str, conn) -> None:
    s = Store(path)
    big = np.random.default_rng(0).random(20_000)  # ~400 kB a result: kills land mid-write
    i = 0
    while True:
        s.put(key(i), {"i": i, "a": big})
        conn.send(i)
        i += 1


def _put_then_exit(path: str, n: int) -> None:
    s = Store(path)
    for i in range(n):
        s.put(key(i), i)
    os._exit(3)  # no close, no cleanup


def test_two_processes_write_one_file(tmp_path):
    path = tmp_path / "s.sqlite"
    ctx = mp.get_context("spawn")
    t0 = time.perf_counter()
    # one gets the path, the other a Store object (it reopens the file in the child)
    procs = [ctx.Process(target=_writer, args=(str(path), 0, 200)),
             ctx.Process(target=_writer, args=(Store(path), 10_000, 200))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with Store(path, readonly=True) as s:
        assert len(s) == 400
        got = s.get_many([key(i) for i in range(200)] + [key(10_000 + i) for i in range(200)])
        assert len(got) == 400 and got[key(10_199)]["i"] == 10_199
    assert time.perf_counter() - t0 < 120


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_forked_child_reopens(tmp_path):
    s = Store(tmp_path / "s.sqlite")
    s.put(key(0), 0)
    p = mp.get_context("fork").Process(target=_writer, args=(s, 1, 5))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    s.put(key(99), 99)  # the parent's connection still works
    assert len(s) == 7 and s.get(key(5))["i"] == 5
    s.close()


def test_process_exit_without_close(tmp_path):
    path = tmp_path / "s.sqlite"
    p = mp.get_context("spawn").Process(target=_put_then_exit, args=(str(path), 40))
    p.start()
    p.join(60)
    assert p.exitcode == 3
    with Store(path) as s:
        assert len(s) == 40 and all(key(i) in s for i in range(40))


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_way_loses_nothing_put(tmp_path):
    path = tmp_path / "s.sqlite"
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_endless_writer, args=(str(path), send))
    p.start()
    send.close()
    acked = []
    deadline = time.monotonic() + 120
    while len(acked) < 25 and time.monotonic() < deadline:
        if recv.poll(1):
            acked.append(recv.recv())
    os.kill(p.pid, signal.SIGKILL)
    p.join(30)
    assert p.exitcode == -signal.SIGKILL
    while recv.poll(0.2):  # acknowledgements sent just before the kill
        try:
            acked.append(recv.recv())
        except EOFError:
            break
    assert len(acked) >= 25
    with Store(path) as s:
        assert s._con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        got = s.get_many([key(i) for i in acked])
        assert set(got) == {key(i) for i in acked}
        assert all(got[key(i)]["i"] == i and got[key(i)]["a"].shape == (20_000,) for i in acked)
        s.put(key(-1), "after")  # still writable
        assert s.get(key(-1)) == "after"


# ------------------------------------------------------------------ no pickle, constant SQL

def test_store_source_uses_constant_sql_and_no_pickle():
    src = STORE_SRC.read_text()
    assert "pickle" not in src and "marshal" not in src and "eval(" not in src
    tree = ast.parse(src)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr in ("execute", "executemany", "executescript")]
    assert len(calls) >= 10
    for c in calls:
        assert c.args, f"line {c.lineno}: execute without SQL"
        first = c.args[0]
        assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
            f"line {c.lineno}: the SQL of execute() must be a literal string, not {ast.dump(first)[:80]}")
        assert c.func.attr != "executescript", f"line {c.lineno}: executescript takes no parameters"


# ------------------------------------------------------------------ semdsl results

@pytest.fixture
def filled(tmp_path) -> Path:
    path = tmp_path / "runs" / "store.sqlite"
    with Store(path) as s:
        for i in range(3):
            s.put(key(i, model="grokking", model_hash="0123456789abcdef"), {"v": np.array([1.0, np.nan])}, seconds=0.5)
        s.put(key(0, model="trap", method="simulation"), 1.0)
    return path


def test_cli_results_lists(filled, capsys):
    assert main(["results", str(filled)]) == 0
    out = capsys.readouterr().out
    assert "4 tasks stored; 2 runs" in out and "grokking" in out and "trap" in out and "0123456789ab" in out
    assert main(["results", str(filled), "--tasks", "--model", "grokking"]) == 0
    out = capsys.readouterr().out
    assert "3 tasks of model grokking" in out and "line=7 i=2" in out and "trap" not in out.split("\n", 1)[1]
    assert main(["results", str(filled), "--method", "nothing"]) == 0
    assert "0 runs" in capsys.readouterr().out


def test_cli_results_json(filled, capsys):
    assert main(["results", str(filled), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in runs} == {"grokking", "trap"} and runs[0]["params"] == {"D": 2500.0}
    assert main(["results", str(filled), "--json", "--tasks", "--method", "simulation"]) == 0
    tasks = json.loads(capsys.readouterr().out)
    assert len(tasks) == 1 and tasks[0]["model"] == "trap" and "result" not in tasks[0]


def test_cli_results_export(filled, tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["results", str(filled), "--export", str(out)]) == 0
    assert "wrote 4 tasks" in capsys.readouterr().err
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and same({"v": np.array([1.0, np.nan])}, decode(rows[0]["result"]))
    out = tmp_path / "sub" / "x.json"
    assert main(["results", str(filled), "--export", str(out), "--model", "trap"]) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 1 and rows[0]["result"] == 1.0


def test_cli_results_errors(filled, tmp_path, capsys):
    assert main(["results", str(filled), "--export", str(tmp_path / "x.txt")]) == 1
    err = capsys.readouterr().err
    assert "unknown format '.txt'" in err and "hint:" in err and "Traceback" not in err
    assert not (tmp_path / "x.txt").exists()

    missing = tmp_path / "missing.sqlite"
    assert main(["results", str(missing)]) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and "no such results store" in err and "hint:" in err and "Traceback" not in err
    assert not missing.exists()

    junk = tmp_path / "junk.sqlite"
    junk.write_text("junk")
    assert main(["results", str(junk)]) == 1
    err = capsys.readouterr().err
    assert "not a semdsl results store" in err and "Traceback" not in err


def test_cli_results_help(capsys):
    with pytest.raises(SystemExit):
        main(["results", "--help"])
    out = capsys.readouterr().out
    assert "--export" in out and "--tasks" in out


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
