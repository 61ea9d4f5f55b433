"""The resumable results store: one SQLite file holding every finished task's result.

A run is cut into tasks (one realisation, one point of a sweep, one method); each
finished task's result is written here at once, keyed by the model's hash, the
parameter values, the seed, the method, the semdsl version and the task's id within
the run.  Re-running the same command reads the finished tasks instead of computing
them again, so an interrupted run resumes where it stopped.

Design
------
* SQLite from the standard library, in WAL journal mode with a 30 s busy timeout, so
  several processes on one machine (Dask workers, the client) can write one file.
  Every :meth:`Store.put` is its own transaction: a killed process loses nothing it
  had already put, and the file stays consistent (SQLite's journal).
* Results are stored as JSON text (:func:`encode`, :func:`decode`): nested dicts,
  lists, numbers, strings and NumPy arrays, bit for bit (NaN, infinities and -0.0
  included).  Reading a store only ever parses JSON, so a file from elsewhere cannot run code.
* Every statement is a constant SQL string with ``?`` placeholders; no value is ever
  formatted into SQL.
* The first result written for a key is kept (``INSERT OR IGNORE``): tasks are
  deterministic, so a rerun would write the same thing.

Example
-------
>>> from semdsl.store import Store, TaskKey, canonical_params
>>> key = TaskKey("ab12", "grokking", canonical_params({"D": 2500}), 1, "exact", "0.1.0", "line=93 D=1500")
>>> with Store("results/store.sqlite") as store:          # doctest: +SKIP
...     if key not in store:
...         store.put(key, {"t": [1.0, 2.0]}, seconds=0.5)
...     store.get(key)
{'t': [1.0, 2.0]}
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sqlite3
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from .errors import Diagnostic, SemdslError, Span

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "TaskKey", "canonical_params", "decode", "encode"]

SCHEMA_VERSION = 1

#: rows fetched per query in :meth:`Store.get_many`
CHUNK = 500

_SQLITE_MAGIC = b"SQLite format 3\x00"
_KEY_FIELDS = ("model_hash", "model", "params", "seed", "method", "version", "task")
_ROW_FIELDS = _KEY_FIELDS + ("finished", "seconds")
_MARKERS = ("__ndarray__", "__float__", "__complex__", "__dict__")
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


class StoreError(SemdslError):
    """A results store that cannot be used: missing, not a semdsl store, locked, read-only.

    A :class:`~semdsl.errors.SemdslError`, so the command line reports it as
    ``FILE: error: message`` with a hint and exits with status 1.

    Parameters
    ----------
    message : str
        What is wrong, for users.
    hint : str, optional
        What to do about it.
    file : str, optional
        The store's path, shown first.
    """

    def __init__(self, message: str, hint: str | None = None, file: str | os.PathLike | None = None):
        self.message = message
        self.hint = hint
        self.file = None if file is None else str(file)
        super().__init__([Diagnostic(Span(self.file or "semdsl", 0, 0, 0, 0), message, hint)])


# ---------------------------------------------------------------- JSON encoding

def _nan_text(bits: int, canonical: int, width: int) -> str:
    return "NaN" if bits == canonical else f"NaN:{bits:0{width}x}"


_F64_NAN_BITS = struct.unpack("<Q", struct.pack("<d", float("nan")))[0]


def _float_token(x: float) -> str:
    """The string for a non-finite float: 'NaN' (or 'NaN:<bits>' for another NaN), '±Infinity'."""
    if math.isnan(x):
        return _nan_text(struct.unpack("<Q", struct.pack("<d", x))[0], _F64_NAN_BITS, 16)
    return "Infinity" if x > 0 else "-Infinity"


def _token_float(s: str) -> float:
    if s == "NaN":
        return float("nan")
    if s == "Infinity":
        return math.inf
    if s == "-Infinity":
        return -math.inf
    if s.startswith("NaN:"):
        return struct.unpack("<d", struct.pack("<Q", int(s[4:], 16)))[0]
    raise ValueError(f"not a float token: {s!r}")


_UINT_OF = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _float_data(a: np.ndarray) -> list:
    """Flat list of a native-order float array; non-finite values as string tokens."""
    flat = a.ravel()
    data = flat.tolist()
    bad = np.flatnonzero(~np.isfinite(flat))
    if bad.size:
        bits = flat.view(_UINT_OF[flat.dtype.itemsize])
        canonical = int(np.array(np.nan, dtype=flat.dtype).view(_UINT_OF[flat.dtype.itemsize]))
        width = 2 * flat.dtype.itemsize
        for i in bad.tolist():
            x = flat[i]
            data[i] = (_nan_text(int(bits[i]), canonical, width) if x != x
                       else "Infinity" if x > 0 else "-Infinity")
    return data


def _float_array(data: list, dtype: np.dtype) -> np.ndarray:
    """Inverse of :func:`_float_data` (``dtype`` native-order float)."""
    special = [i for i, x in enumerate(data) if isinstance(x, str)]
    if not special:
        return np.array(data, dtype=dtype)
    tokens = {i: data[i] for i in special}
    data = list(data)
    for i in special:
        data[i] = 0.0
    out = np.array(data, dtype=dtype)
    bits = out.view(_UINT_OF[dtype.itemsize])
    for i, s in tokens.items():
        if s.startswith("NaN:"):
            bits[i] = int(s[4:], 16)
        else:
            out[i] = _token_float(s)
    return out


def _encode_array(a: np.ndarray) -> dict:
    dt = a.dtype
    kind = dt.kind
    shape = list(a.shape)
    if kind in "biu":
        data = a.ravel().tolist()
    elif kind in "fc":
        if dt.itemsize // (2 if kind == "c" else 1) not in _UINT_OF:
            raise TypeError(f"cannot store {dt} arrays exactly as JSON (use float64)")
        native = a.astype(dt.newbyteorder("="), copy=False)
        if kind == "c":
            native = np.ascontiguousarray(native.ravel()).view(native.real.dtype)
        data = _float_data(native)
    elif kind == "U":
        data = a.ravel().tolist()
    else:
        raise TypeError(f"cannot store a NumPy array of dtype {dt} (kind {kind!r}) as JSON")
    return {"__ndarray__": dt.str, "shape": shape, "data": data}


def _decode_array(obj: dict) -> np.ndarray:
    dt = np.dtype(obj["__ndarray__"])
    shape = tuple(int(n) for n in obj["shape"])
    data = obj["data"]
    if dt.kind in "fc":
        native = dt.newbyteorder("=")
        part = native if dt.kind == "f" else np.dtype(f"f{native.itemsize // 2}")
        flat = _float_array(data, part)
        if dt.kind == "c":
            flat = flat.view(native)
        return flat.astype(dt, copy=False).reshape(shape)
    if dt.kind not in "biuU":
        raise ValueError(f"unsupported stored array dtype {dt}")
    return np.array(data, dtype=dt).reshape(shape)


def _to_json(obj: Any) -> Any:
    """The JSON-ready form of a result (see :func:`encode`)."""
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        if isinstance(obj, np.floating) and np.dtype(type(obj)).itemsize > 8:
            raise TypeError(f"cannot store {type(obj).__name__} exactly as JSON (use float64)")
        x = float(obj)
        return x if math.isfinite(x) else {"__float__": _float_token(x)}
    if isinstance(obj, (complex, np.complexfloating)):
        z = complex(obj)
        return {"__complex__": [_to_json(z.real), _to_json(z.imag)]}
    if isinstance(obj, np.ndarray):
        return _encode_array(obj)
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"dict keys must be str to be stored as JSON, got {type(k).__name__} {k!r}")
            out[str(k)] = _to_json(v)
        return {"__dict__": out} if any(m in out for m in _MARKERS) else out
    if isinstance(obj, (list, tuple)):
        return [_to_json(v) for v in obj]
    raise TypeError(f"cannot store a {type(obj).__name__} as JSON: {obj!r:.80}")


def _from_json(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            return _decode_array(obj)
        if len(obj) == 1:
            if "__float__" in obj:
                return _token_float(obj["__float__"])
            if "__complex__" in obj:
                re, im = (_from_json(v) for v in obj["__complex__"])
                return complex(re, im)
            if "__dict__" in obj:
                return {k: _from_json(v) for k, v in obj["__dict__"].items()}
        return {k: _from_json(v) for k, v in obj.items()}
    return obj


def encode(obj: Any) -> str:
    """JSON text of a result, exact and strict (no NaN/Infinity tokens).

    Parameters
    ----------
    obj
        Nested dict (str keys) / list / tuple / str / int / float / bool / None, NumPy
        scalars and arrays (bool, int, uint, float16/32/64, complex64/128, str).

    Returns
    -------
    str
        Compact JSON.  An array becomes ``{"__ndarray__": dtype.str, "shape": [...],
        "data": [flat, C order]}``; a non-finite float ``"NaN"``, ``"Infinity"``,
        ``"-Infinity"`` inside a float array's data and ``{"__float__": "NaN"}`` on its
        own (a NaN with another bit pattern as ``"NaN:<hex bits>"``); a complex
        ``{"__complex__": [re, im]}``; a dict that itself has one of these marker keys
        is wrapped as ``{"__dict__": {...}}``.  Floats are written by ``repr``, so
        ``decode(encode(x))`` gives bit-identical values (-0.0 included).

    Raises
    ------
    TypeError
        For a non-str dict key, an object, datetime or structured array, or any other
        type.
    """
    return json.dumps(_to_json(obj), separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def decode(text: str) -> Any:
    """The result encoded in ``text`` by :func:`encode` (tuples come back as lists)."""
    return _from_json(json.loads(text))


# ---------------------------------------------------------------- keys

def _param_value(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if v is None or isinstance(v, str):
        return None if v is None else str(v)
    if isinstance(v, (int, np.integer)):
        v = int(v)
        return float(v) if abs(v) <= 2 ** 53 else v
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if not math.isfinite(x):
            return _float_token(x)
        return 0.0 if x == 0 else x
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_param_value(x) for x in (v.tolist() if isinstance(v, np.ndarray) else v)]
    raise TypeError(f"parameter value {v!r} is not a number or a string")


def canonical_params(params: Mapping[str, float] | None) -> str:
    """Canonical JSON of parameter values: keys sorted, compact, floats by ``repr``.

    Integers are written as floats (``{"D": 2500}`` and ``{"D": 2500.0}`` give the same
    key), ``-0.0`` as ``0.0`` and non-finite values as ``"NaN"``/``"Infinity"``/
    ``"-Infinity"``, so equal parameter values always give equal keys.

    >>> canonical_params({"beta": 0.1, "D": 2500})
    '{"D":2500.0,"beta":0.1}'
    """
    items = {}
    for k, v in (params or {}).items():
        if not isinstance(k, str):
            raise TypeError(f"parameter names must be str, got {k!r}")
        items[str(k)] = _param_value(v)
    return json.dumps(items, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


@dataclass(frozen=True)
class TaskKey:
    """What identifies one finished task's result.

    Attributes
    ----------
    model_hash : str
        Hex digest of the model source.
    model : str
        The model's name (for listing; not part of the primary key).
    params : str
        Canonical JSON of the parameter values (:func:`canonical_params`).
    seed : int
        The run's seed (64-bit signed).
    method : str
        ``"exact"``, ``"simulation"``, ``"theory"``, ...
    version : str
        The semdsl version (may include a code hash).
    task : str
        The task's id within the run, e.g. ``"line=78 r=3 N=1000.0 walkers=2000"``.
    """

    model_hash: str
    model: str
    params: str
    seed: int
    method: str
    version: str
    task: str

    def __post_init__(self) -> None:
        for f in ("model_hash", "model", "params", "method", "version", "task"):
            v = getattr(self, f)
            if not isinstance(v, str):
                raise TypeError(f"TaskKey.{f} must be str, got {type(v).__name__} {v!r}")
            if type(v) is not str:
                object.__setattr__(self, f, str(v))
        seed = self.seed
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"TaskKey.seed must be an int, got {type(seed).__name__} {seed!r}")
        seed = int(seed)
        if not _INT64[0] <= seed <= _INT64[1]:
            raise ValueError(f"TaskKey.seed {seed} does not fit a 64-bit signed integer")
        object.__setattr__(self, "seed", seed)

    def values(self) -> tuple:
        """The fields in table order."""
        return tuple(getattr(self, f) for f in _KEY_FIELDS)


# ---------------------------------------------------------------- SQL
#
# Every statement below is a literal string with ``?`` or ``:name`` placeholders, written
# inside its ``execute`` call (tests/test_store.py checks this).  Optional filters use
# ``(:x IS NULL OR col = :x)``, so that no SQL text ever depends on a value.

def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_FILTER_NAMES = ("model", "model_hash", "method", "seed", "version")


def _filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(filters) - set(_FILTER_NAMES))
    if unknown:
        raise TypeError(f"unknown filter {unknown[0]!r}; choose from {', '.join(_FILTER_NAMES)}")
    out = {name: filters.get(name) for name in _FILTER_NAMES}
    if out["seed"] is not None:
        out["seed"] = int(out["seed"])
    for name in ("model", "model_hash", "method", "version"):
        if out[name] is not None:
            out[name] = str(out[name])
    return out


#: connections inherited through fork: kept alive, never used or closed in the child
_INHERITED: list = []


def _reopen(path: str, readonly: bool) -> "Store":
    return Store(path, readonly=readonly)


class Store:
    """A results store: one SQLite file of finished tasks' results.

    Parameters
    ----------
    path : str or os.PathLike
        The SQLite file; it and its parent directories are created when missing.
    readonly : bool
        Open for reading only; a missing file is then a :class:`StoreError`.

    Raises
    ------
    StoreError
        The file is missing (``readonly``), is not SQLite, or is an SQLite database
        that is not a semdsl store (other tables, or another schema version).

    Notes
    -----
    One :class:`Store` may be shared by the threads of a process (calls are
    serialised); each process opens its own connection (a store passed to a forked or
    spawned process reopens the file there).  Several processes may write one file.
    """

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = bool(readonly)
        self._lock = threading.RLock()
        self._con: sqlite3.Connection | None = None
        self._pid = -1
        self._json1: bool | None = None
        self._connect()

    # -- connection ------------------------------------------------------------------

    def _error(self, message: str, hint: str | None = None) -> StoreError:
        return StoreError(message, hint, self.path)

    def _not_store(self, why: str) -> StoreError:
        return self._error(f"not a semdsl results store ({why})",
                           "give the file written by 'semdsl run --store', or a new path")

    def _connect(self) -> None:
        p = self.path
        if p.exists() and not p.is_file():
            raise self._error("the results store path is not a file", "give the path of a .sqlite file")
        if not p.exists():
            if self.readonly:
                raise self._error("no such results store",
                                  "check the path; 'semdsl run FILE --store STORE' creates one")
        else:
            try:
                with open(p, "rb") as fh:
                    head = fh.read(len(_SQLITE_MAGIC))
            except OSError as exc:
                raise self._error(f"cannot read the results store: {exc.strerror or exc}") from None
            if head and head != _SQLITE_MAGIC:
                raise self._not_store("not an SQLite database")
            if not head and self.readonly:
                raise self._not_store("an empty file")
        try:
            if self.readonly:
                con = sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True, timeout=30.0,
                                      isolation_level=None, check_same_thread=False)
            else:
                p.parent.mkdir(parents=True, exist_ok=True)
                con = sqlite3.connect(str(p), timeout=30.0, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise self._error(f"cannot open the results store: {exc}") from None
        try:
            con.execute("PRAGMA busy_timeout = 30000")
            self._prepare(con)
        except sqlite3.DatabaseError as exc:
            con.close()
            if isinstance(exc, sqlite3.OperationalError):
                raise self._error(f"cannot open the results store: {exc}") from None
            raise self._not_store(str(exc)) from None
        except BaseException:
            con.close()
            raise
        self._con, self._pid = con, os.getpid()

    def _prepare(self, con: sqlite3.Connection) -> None:
        """Check an existing store's schema, or create it in an empty database (WAL mode)."""
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and not {"meta", "tasks"} <= tables:  # someone else's database: leave it untouched
            raise self._not_store("an SQLite database with other tables")
        if not tables:
            if self.readonly:
                raise self._not_store("an empty database")
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("BEGIN IMMEDIATE")
            try:  # another process may have created it meanwhile: IF NOT EXISTS, OR IGNORE
                con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                con.execute(
                    "CREATE TABLE IF NOT EXISTS tasks ("
                    " model_hash TEXT NOT NULL, model TEXT NOT NULL, params TEXT NOT NULL,"
                    " seed INTEGER NOT NULL, method TEXT NOT NULL, version TEXT NOT NULL,"
                    " task TEXT NOT NULL, result TEXT NOT NULL, finished TEXT NOT NULL, seconds REAL,"
                    " PRIMARY KEY (model_hash, params, seed, method, version, task))")
                con.execute("CREATE INDEX IF NOT EXISTS tasks_model ON tasks (model, method)")
                con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                            (str(SCHEMA_VERSION),))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            raise self._not_store("no schema version")
        if str(row[0]) != str(SCHEMA_VERSION):
            raise self._error(f"results store schema version {row[0]}; this semdsl reads version "
                              f"{SCHEMA_VERSION}", "use the semdsl that wrote it, or a new --store path")
        cols = {r[1] for r in con.execute("SELECT * FROM pragma_table_info('tasks')")}
        if cols != set(_KEY_FIELDS) | {"result", "finished", "seconds"}:
            raise self._not_store("its tasks table has other columns")
        if not self.readonly:
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = NORMAL")  # WAL: durable when a process dies

    @property
    def _db(self) -> sqlite3.Connection:
        if self._con is None:
            raise self._error("the results store is closed")
        if self._pid != os.getpid():  # inherited through fork: never use (or close) it here
            _INHERITED.append(self._con)
            self._con = None
            self._connect()
        return self._con  # type: ignore[return-value]

    def __reduce__(self):
        # a store sent to another process (Dask, multiprocessing) reopens the file there
        return (_reopen, (str(self.path), self.readonly))

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, with SQLite errors turned into :class:`StoreError`."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise self._error(f"results store query failed: {exc}",
                                  "another process may hold a long write lock, or the disk is full"
                                  if isinstance(exc, sqlite3.OperationalError) else None) from None

    # -- reading and writing --------------------------------------------------------

    def get(self, key: TaskKey) -> Any | None:
        """The decoded result stored for ``key``, or None."""
        with self._cursor() as db:
            row = db.execute(
                "SELECT result FROM tasks WHERE model_hash = ? AND params = ? AND seed = ? AND method = ?"
                " AND version = ? AND task = ?", _key_params(key)).fetchone()
        return None if row is None else decode(row[0])

    def _has_json1(self) -> bool:
        if self._json1 is None:
            try:
                with self._lock:
                    self._db.execute("SELECT value FROM json_each('[1]')").fetchall()
                self._json1 = True
            except sqlite3.Error:
                self._json1 = False
        return self._json1

    def get_many(self, keys: Sequence[TaskKey]) -> dict[TaskKey, Any]:
        """The decoded results of those ``keys`` that are stored.

        One query per 500 distinct keys: they go in as one JSON parameter, matched
        through the primary key (per-key queries if SQLite lacks its JSON functions).

        Returns
        -------
        dict
            The stored keys only, each mapped to its decoded result.
        """
        index: dict[tuple, list[TaskKey]] = {}
        for k in keys:
            index.setdefault(_key_params(k), []).append(k)
        unique = list(index)
        found: dict[TaskKey, Any] = {}
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start:start + CHUNK]
            with self._cursor() as db:
                if self._has_json1():
                    rows = db.execute(
                        "SELECT t.model_hash, t.params, t.seed, t.method, t.version, t.task, t.result"
                        " FROM json_each(?) AS j CROSS JOIN tasks AS t"
                        " ON t.model_hash = json_extract(j.value, '$[0]')"
                        " AND t.params = json_extract(j.value, '$[1]')"
                        " AND t.seed = json_extract(j.value, '$[2]')"
                        " AND t.method = json_extract(j.value, '$[3]')"
                        " AND t.version = json_extract(j.value, '$[4]')"
                        " AND t.task = json_extract(j.value, '$[5]')",
                        (json.dumps(chunk, ensure_ascii=False),)).fetchall()
                else:
                    rows = []
                    for kp in chunk:
                        r = db.execute(
                            "SELECT result FROM tasks WHERE model_hash = ? AND params = ? AND seed = ?"
                            " AND method = ? AND version = ? AND task = ?", kp).fetchone()
                        if r is not None:
                            rows.append((*kp, r[0]))
            for *kp, text in rows:
                value = decode(text)
                for k in index.get(tuple(kp), ()):
                    found[k] = value
        return found

    def put(self, key: TaskKey, result: Any, *, seconds: float | None = None) -> None:
        """Store ``result`` for ``key`` and commit at once; a stored key keeps its first result.

        Parameters
        ----------
        key : TaskKey
        result
            Anything :func:`encode` takes.
        seconds : float, optional
            The task's compute time.

        Raises
        ------
        TypeError
            ``result`` cannot be encoded; nothing is written.
        StoreError
            The store is read-only, or the write failed (disk full, locked for 30 s).
        """
        kp = _key_params(key)
        if self.readonly:
            raise self._error("the results store is open read-only")
        text = encode(result)
        secs = None if seconds is None else float(seconds)
        if secs is not None and not math.isfinite(secs):
            secs = None
        with self._cursor() as db:
            db.execute(
                "INSERT OR IGNORE INTO tasks (model_hash, params, seed, method, version, task, model,"
                " result, finished, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*kp, key.model, text, _now(), secs))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, TaskKey):
            return False
        with self._cursor() as db:
            return db.execute(
                "SELECT 1 FROM tasks WHERE model_hash = ? AND params = ? AND seed = ? AND method = ?"
                " AND version = ? AND task = ? LIMIT 1", _key_params(key)).fetchone() is not None

    def __len__(self) -> int:
        with self._cursor() as db:
            return int(db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])

    # -- listing and export ---------------------------------------------------------

    def runs(self, **filters: Any) -> list[dict]:
        """One row per run: (model hash, model, parameters, seed, method, version).

        Parameters
        ----------
        **filters
            ``model``, ``model_hash`` (a prefix is enough), ``method``, ``seed``,
            ``version``.

        Returns
        -------
        list of dict
            Keys ``model_hash``, ``model``, ``params`` (canonical JSON text), ``seed``,
            ``method``, ``version``, ``tasks`` (count), ``first`` and ``last`` (finished
            times, ISO 8601 UTC) and ``seconds`` (total compute time; None if unknown),
            oldest run first.
        """
        with self._cursor() as db:
            rows = db.execute(
                "SELECT model_hash, model, params, seed, method, version, COUNT(*), MIN(finished),"
                " MAX(finished), SUM(seconds) FROM tasks"
                " WHERE (:model IS NULL OR model = :model)"
                " AND (:model_hash IS NULL OR substr(model_hash, 1, length(:model_hash)) = :model_hash)"
                " AND (:method IS NULL OR method = :method) AND (:seed IS NULL OR seed = :seed)"
                " AND (:version IS NULL OR version = :version)"
                " GROUP BY model_hash, model, params, seed, method, version"
                " ORDER BY MIN(finished), model, method", _filters(filters)).fetchall()
        names = ("model_hash", "model", "params", "seed", "method", "version", "tasks", "first", "last", "seconds")
        return [dict(zip(names, r)) for r in rows]

    def tasks(self, *, with_results: bool = False, **filters: Any) -> list[dict]:
        """One row per stored task, oldest first.

        Parameters
        ----------
        with_results : bool
            Add ``"result"``, the decoded result.
        **filters
            ``model``, ``model_hash`` (a prefix is enough), ``method``, ``seed``,
            ``version``.

        Returns
        -------
        list of dict
            The key fields of :class:`TaskKey`, ``finished`` (ISO 8601 UTC) and
            ``seconds``; ``TaskKey(**{f.name: row[f.name] for f in dataclasses.fields(TaskKey)})``
            rebuilds a key.
        """
        if with_results:
            return [dict(zip(_ROW_FIELDS, r[:-1]), result=decode(r[-1])) for r in self._iter_rows(filters)]
        with self._cursor() as db:
            rows = db.execute(
                "SELECT model_hash, model, params, seed, method, version, task, finished, seconds FROM tasks"
                " WHERE (:model IS NULL OR model = :model)"
                " AND (:model_hash IS NULL OR substr(model_hash, 1, length(:model_hash)) = :model_hash)"
                " AND (:method IS NULL OR method = :method) AND (:seed IS NULL OR seed = :seed)"
                " AND (:version IS NULL OR version = :version)"
                " ORDER BY finished, model_hash, params, seed, method, version, task",
                _filters(filters)).fetchall()
        return [dict(zip(_ROW_FIELDS, r)) for r in rows]

    def _iter_rows(self, filters: Mapping[str, Any]) -> Iterator[tuple]:
        """Rows with the result's JSON text last, streamed (the lock is held meanwhile)."""
        params = _filters(filters)
        with self._cursor() as db:
            cur = db.execute(
                "SELECT model_hash, model, params, seed, method, version, task, finished, seconds, result"
                " FROM tasks WHERE (:model IS NULL OR model = :model)"
                " AND (:model_hash IS NULL OR substr(model_hash, 1, length(:model_hash)) = :model_hash)"
                " AND (:method IS NULL OR method = :method) AND (:seed IS NULL OR seed = :seed)"
                " AND (:version IS NULL OR version = :version)"
                " ORDER BY finished, model_hash, params, seed, method, version, task", params)
            while True:
                batch = cur.fetchmany(256)
                if not batch:
                    break
                yield from batch

    def export_json(self, out: str | os.PathLike | io.TextIOBase, **filters: Any) -> int:
        """Write every task (or those matching ``filters``) as one JSON list.

        Each element holds the key fields, ``finished``, ``seconds`` and ``result``: the
        stored JSON value itself, arrays as ``{"__ndarray__", "shape", "data"}`` (strict
        JSON; ``decode(json.dumps(row["result"]))`` gives the result back exactly).

        Parameters
        ----------
        out : path or text file
            Where to write (parent directories are created).

        Returns
        -------
        int
            The number of tasks written.
        """
        with _open_out(out, newline=None) as fh:
            n = 0
            fh.write("[")
            for r in self._iter_rows(filters):
                row = dict(zip(_ROW_FIELDS, r[:-1]))
                text = json.dumps(row, ensure_ascii=False, allow_nan=False)
                fh.write(("\n" if n == 0 else ",\n") + text[:-1] + ', "result": ' + r[-1] + "}")
                n += 1
            fh.write("\n]\n" if n else "]\n")
        return n

    def export_csv(self, out: str | os.PathLike | io.TextIOBase, **filters: Any) -> int:
        """Write one CSV row per task: key fields, finished, seconds and the result as JSON text.

        Returns
        -------
        int
            The number of tasks written.
        """
        with _open_out(out, newline="") as fh:
            w = csv.writer(fh)
            w.writerow(list(_ROW_FIELDS) + ["result"])
            n = 0
            for r in self._iter_rows(filters):
                w.writerow(["" if v is None else v for v in r])
                n += 1
        return n

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._con is not None and self._pid == os.getpid():
                self._con.close()
            self._con = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}{', readonly=True' if self.readonly else ''})"


def _key_params(key: TaskKey) -> tuple:
    """The primary-key fields of ``key`` (``model`` is not part of the key)."""
    if not isinstance(key, TaskKey):
        raise TypeError(f"expected a TaskKey, got {type(key).__name__}")
    return (key.model_hash, key.params, key.seed, key.method, key.version, key.task)


class _open_out:
    """Context manager: a path opened for writing (closed after), or a file left open."""

    def __init__(self, out: Any, newline: str | None):
        self.out, self.newline, self.fh = out, newline, None

    def __enter__(self):
        if hasattr(self.out, "write"):
            return self.out
        p = Path(self.out)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(p, "w", encoding="utf-8", newline=self.newline)
        return self.fh

    def __exit__(self, *exc) -> None:
        if self.fh is not None:
            self.fh.close()

