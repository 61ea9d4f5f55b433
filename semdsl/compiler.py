"""Checked model + parameter values + seed -> :class:`CompiledModel`.

Everything here works on whole arrays: node families are enumerated with
``np.indices``, conditions, attributes, edge endpoints and rates are sympy expressions
(built by :mod:`semdsl.expr` from the parse tree) evaluated by ``lambdify`` over all
members at once, dilution draws one uniform number per candidate, and the generator
is assembled as a ``scipy.sparse`` matrix.  There is no Python loop over nodes or edges.

Conventions
-----------
* ``Q[i, j]`` (``i != j``) is the rate of the hop ``i -> j``; ``Q[i, i] = -sum_j Q[i, j]``.
  The master equation is ``dP/dt = Q^T P``, i.e. ``dP_i/dt = sum_j (R_ji P_j - R_ij P_i)``.
* Node indices are 1-based and inclusive, as written (``h[i in 1..40]``); generated
  families are indexed ``1..L`` along each dimension.
* Attributes a family does not define are 0 (``F`` included, as LANGUAGE.md says);
  ``semdsl check`` warns when an observable or the rate law reads such an attribute.
* Random draws: each statement draws from
  ``SeedSequence(seed, spawn_key=(realization, key, purpose))`` where ``key`` identifies the
  statement (a family by its name, an edge statement by its text), so a realisation is
  fixed by (seed, realization) and adding or editing one statement leaves the others'
  draws alone.
"""

from __future__ import annotations

import math
import os
import re
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np
import scipy.sparse as sp_sparse
import sympy as sp

from . import syntax as S
from .errors import (CompileError, Diagnostic, LimitError, ParameterError, SemdslError, Span,
                     did_you_mean)
from .expr import ExprError, Scope, evaluate, numeric, to_sympy, walk
from .format import format_expr
from .generators import GENERATORS, GeneratedGraph, GeneratorArgError
from .model import LAW_SYMBOLS, Family, Model, Observable, SetSpec, law_expression

DEFAULT_MAX_STATES = 50_000_000
DEFAULT_MAX_TRANSITIONS = 400_000_000
#: most candidates one `for` statement may enumerate (a bound on time: candidates are
#: processed in chunks of CANDIDATE_CHUNK, so memory follows the edges kept); with
#: geometric skipping, the candidates drawn (about p x the candidate space) count
MAX_FOR_CANDIDATES = 200_000_000
#: candidates of a `for` statement evaluated at once (memory ~ 100 bytes each)
CANDIDATE_CHUNK = 1 << 20
#: above this many candidates, a `with probability` that does not depend on the `for`
#: variables is sampled by geometric skipping (below, the old per-candidate draws, so
#: small models keep their exact random streams)
SKIP_MIN_CANDIDATES = 1_000_000
#: a compile whose memory estimate exceeds this is announced (the CLI prints it)
MEMORY_NOTICE_BYTES = 1_000_000_000
#: environment variable holding the memory limit (set by the CLI's --max-memory, so
#: worker processes started by the run inherit it)
MEMORY_ENV = "SEMDSL_MAX_MEMORY"
#: models up to this many nodes get a per-node symbolic master equation
SYMBOLIC_NODE_LIMIT = 400
FOR_PREFIX = "\0for:"
PROB_KEY = "\0prob"  # per-edge keep probability, recorded only when compiling undiluted


# ----------------------------------------------------------------- compiled data
@dataclass(frozen=True)
class FamilyTable:
    """Where one node family lives in the global node numbering.

    ``lookup`` is a dense array over the family's index grid (``shape``, starting at
    ``lo``) giving the global node id of each member, or -1 where the member does
    not exist (removed by ``if`` or dilution).
    """

    name: str
    kind: str
    lo: tuple[int, ...]
    shape: tuple[int, ...]
    lookup: np.ndarray
    start: int
    stop: int
    index_names: tuple[str, ...] = ()
    generator: str | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return self.stop - self.start

    def ids(self, idx: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Global ids of members with 1-based index arrays ``idx``; (ids, in_range)."""
        if self.ndim == 0:
            n = len(idx[0]) if idx else 1
            return np.full(n, self.lookup[0] if self.lookup.size else -1), np.ones(n, bool)
        inr = np.ones(len(idx[0]), dtype=bool)
        flat = np.zeros(len(idx[0]), dtype=np.int64)
        for k, (a, lo, n) in enumerate(zip(idx, self.lo, self.shape)):
            off = a - lo
            inr &= (off >= 0) & (off < n)
            flat = flat * n + np.where(inr, off, 0)
        out = np.where(inr, self.lookup[flat] if self.lookup.size else -1, -1)
        return out, inr


@dataclass(frozen=True)
class NodeTable:
    """All nodes: family membership, index tuples and attribute arrays."""

    families: tuple[FamilyTable, ...]
    family: np.ndarray          # int32 (n,)
    index: np.ndarray           # int64 (n, kmax), 0-padded
    attrs: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return int(self.family.shape[0])

    def family_table(self, name: str) -> FamilyTable:
        for f in self.families:
            if f.name == name:
                return f
        raise KeyError(name)

    def name(self, i: int) -> str:
        fam = self.families[int(self.family[i])]
        if fam.ndim == 0:
            return fam.name
        return f"{fam.name}[{', '.join(str(int(v)) for v in self.index[i, :fam.ndim])}]"

    def names(self) -> np.ndarray:
        """Every node's name (``memorize``, ``h[3]``, ``site[10, 2]``), built per family with arrays."""
        out = np.empty(self.n, dtype=object)
        for fam in self.families:
            if fam.size == 0:
                continue
            sl = slice(fam.start, fam.stop)
            if fam.ndim == 0:
                out[sl] = fam.name
                continue
            parts = [self.index[sl, k].astype(str) for k in range(fam.ndim)]
            joined = parts[0]
            for p in parts[1:]:
                joined = np.char.add(np.char.add(joined, ", "), p)
            out[sl] = np.char.add(np.char.add(fam.name + "[", joined), "]").astype(object)
        return out

    def find(self, name: str) -> int:
        """Global id of a node by its name (``h[3]``); raises KeyError."""
        base, _, rest = name.partition("[")
        fam = self.family_table(base.strip())
        if not rest:
            ids, _ = fam.ids([])
            if fam.ndim or ids[0] < 0:
                raise KeyError(name)
            return int(ids[0])
        vals = [int(v) for v in rest.rstrip("]").split(",")]
        ids, inr = fam.ids([np.array([v]) for v in vals])
        if ids[0] < 0:
            raise KeyError(name)
        return int(ids[0])


@dataclass(frozen=True)
class CompiledModel:
    """A model with numbers: nodes, transitions, the generator, the start.

    Attributes
    ----------
    generator : scipy.sparse.csr_matrix
        ``Q`` with ``Q[i, j]`` the rate ``i -> j`` and rows summing to zero.
    src, dst, rates : ndarray
        The transitions (one per direction of an undirected edge; parallel edges are
        listed separately and summed in ``generator``).
    edge_src, edge_dst : ndarray
        The realised edges as declared (undirected ones once), for graph observables.
    init : ndarray
        The initial distribution.
    labels : dict[str, ndarray]
        Node sets named after the observables that use them (exported to PRISM/DRN).
    """

    model: Model
    params: dict[str, float]
    seed: int
    realization: int
    nodes: NodeTable
    src: np.ndarray
    dst: np.ndarray
    rates: np.ndarray
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_directed: np.ndarray
    edge_attrs: dict[str, np.ndarray]
    edge_for: dict[str, np.ndarray]     # values of `for` variables per edge (NaN elsewhere)
    edge_stmt: np.ndarray               # statement number of each edge
    generator: sp_sparse.csr_matrix
    init: np.ndarray
    labels: dict[str, np.ndarray]
    sets: dict[str, np.ndarray]
    symbolic_rates: tuple[sp.Expr, dict[str, sp.Symbol]] | None = field(default=None, repr=False)
    family_attr_exprs: dict[str, dict[str, sp.Expr | None]] = field(default_factory=dict, repr=False)
    transition_edge: np.ndarray | None = field(default=None, repr=False)  # edge id of each transition
    #: compiled with ``undiluted=True``: every candidate edge / node is present, and
    #: these give the probability with which the model keeps it (1 where certain)
    edge_prob: np.ndarray | None = field(default=None, repr=False)
    node_prob: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return self.nodes.n

    @property
    def n_transitions(self) -> int:
        """Distinct hops i -> j (i != j) with a positive rate; parallel edges count once."""
        Q = self.generator
        rows = np.repeat(np.arange(Q.shape[0]), np.diff(Q.indptr))
        return int(np.count_nonzero((Q.indices != rows) & (Q.data != 0)))

    @property
    def model_name(self) -> str:
        return self.model.name

    @property
    def exit_rates(self) -> np.ndarray:
        return -self.generator.diagonal()

    # ---- exact quantities (semdsl.solvers.exact), for notebooks
    def stationary(self):
        """Stationary distribution ``pi Q = 0`` (mixture over closed classes reached from init)."""
        from .solvers import exact
        return exact.stationary(self.generator, self.init)

    def transient(self, times):
        """``P(t) = init exp(Q t)`` at the given times (a Transient result with ``.P``)."""
        from .solvers import exact
        return exact.transient(self.generator, self.init, np.atleast_1d(np.asarray(times, float)))

    def first_passage(self, target, times=None):
        """Hitting time of ``target`` (a set text such as ``"h[*]"``, or ids) from init."""
        from .solve import set_ids
        from .solvers import exact
        return exact.first_passage(self.generator, self.init, set_ids(self, target), times)

    def committor(self, A, B) -> np.ndarray:
        """``q_i = P(hit B before A | start at i)``."""
        from .solve import set_ids
        from .solvers import exact
        return exact.committor(self.generator, set_ids(self, A), set_ids(self, B))

    def spectrum(self, k: int = 6):
        """The ``k`` slowest relaxation modes and their timescales ``-1/Re(lambda)``."""
        from .solvers import exact
        return exact.spectrum(self.generator, k)

    def kemeny_constant(self) -> float:
        """``K = sum_j pi_j m_ij``, the same from every start ``i``."""
        from .solvers import exact
        return exact.kemeny_constant(self.generator)

    def master_equation(self, symbolic: Iterable[str] | bool = True, max_nodes: int = SYMBOLIC_NODE_LIMIT):
        """The master equation ``dP_i/dt = sum_j (R_ji P_j - R_ij P_i)`` as sympy objects.

        See :func:`semdsl.master.master_equation`.
        """
        from .master import master_equation
        return master_equation(self, symbolic=symbolic, max_nodes=max_nodes)


# ------------------------------------------------------------------ invariants
def is_generator(Q, atol: float = 1e-9) -> bool:
    """True when ``Q`` is a CTMC generator: finite, off-diagonal >= 0, rows sum to 0.

    The row-sum test is relative to the row's exit rate (``atol`` times it, at least
    ``atol``).  Works on the CSR arrays with per-row reductions (no COO copy).
    """
    Q = sp_sparse.csr_matrix(Q)
    n = Q.shape[0]
    if Q.shape[0] != Q.shape[1]:
        return False
    data = Q.data
    if not np.all(np.isfinite(data)):
        return False
    if n == 0:
        return True
    diag = Q.diagonal()
    nonempty = np.diff(Q.indptr) > 0
    starts = Q.indptr[:-1][nonempty]
    rowsum = np.zeros(n)
    negsum = np.zeros(n)
    if data.size:
        rowsum[nonempty] = np.add.reduceat(data, starts)
        negsum[nonempty] = np.add.reduceat(np.minimum(data, 0.0), starts)
    # the only negative entry of a row may be its diagonal (a sum of one number is exact)
    if not np.array_equal(negsum, np.minimum(diag, 0.0)):
        return False
    exit_ = rowsum - diag
    return bool(np.all(np.abs(rowsum) <= atol * np.maximum(exit_, 1.0)))


def is_distribution(p, atol: float = 1e-9) -> bool:
    p = np.asarray(p, dtype=float)
    return bool(p.ndim == 1 and np.all(np.isfinite(p)) and np.all(p >= -atol)
                and abs(p.sum() - 1.0) <= atol * max(1, p.size) ** 0.5)


# -------------------------------------------------------------------- parameters
def parse_assignments(items: Iterable[str]) -> dict[str, float]:
    """``["D=2500", "beta=2"]`` (command-line ``--set``) -> ``{"D": 2500.0, ...}``.

    Values are numbers (``1e3``, ``0.5``), ``true``/``false``; nothing is evaluated.
    """
    out: dict[str, float] = {}
    diags = []
    for item in items:
        name, eq, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if name in out:
            diags.append(Diagnostic(Span("--set", 0, 0, 0, 0), f"{name} is set twice",
                                    "give each parameter one value"))
            continue
        if not eq or not name:
            diags.append(Diagnostic(Span("--set", 0, 0, 0, 0), f"cannot read '--set {item}'",
                                    "write --set NAME=VALUE, e.g. --set D=2500"))
            continue
        if value.lower() in ("true", "false"):
            out[name] = 1.0 if value.lower() == "true" else 0.0
            continue
        try:
            out[name] = float(value)
        except ValueError:
            diags.append(Diagnostic(Span("--set", 0, 0, 0, 0),
                                    f"the value of {name} must be a number, got '{value}'",
                                    "write --set NAME=VALUE with a plain number"))
            continue
        if not math.isfinite(out[name]):
            diags.append(Diagnostic(Span("--set", 0, 0, 0, 0), f"{name} = {value} is not finite"))
    if diags:
        raise ParameterError(diags)
    return out


def resolve_params(model: Model, overrides: Mapping[str, Any] | None = None,
                   symbolic: Iterable[str] = ()) -> dict[str, float]:
    """Numbers for every parameter: overrides, else defaults (which may use earlier ones).

    Raises :class:`ParameterError` for a name that is no parameter (with a suggestion),
    a value outside the declared range, or a non-finite value.
    """
    overrides = {**model.overrides, **dict(overrides or {})}
    src = {model.file: model.source}
    diags = []
    for k in overrides:
        if k not in model.params:
            diags.append(Diagnostic(Span("--set", 0, 0, 0, 0),
                                    f"'{k}' is not a parameter of model '{model.name}'"
                                    f"{did_you_mean(k, model.params)}",
                                    "parameters: " + (", ".join(model.params) or "(none)")))
    values: dict[str, float] = {}
    scope_names: dict[str, sp.Expr] = {}
    lets = model.lets
    for name, p in model.params.items():
        try:
            if name in overrides:
                v = overrides[name]
                if isinstance(v, bool):
                    v = float(v)
                v = float(v)
            else:
                v = numeric(to_sympy(p.default, Scope(scope_names, lets=lets)), f"the default of {name}")
        except (ExprError, ValueError, TypeError, OverflowError, ZeroDivisionError) as exc:
            diags.append(Diagnostic(p.span, f"cannot evaluate parameter '{name}': {exc}"))
            continue
        if not math.isfinite(v):
            diags.append(Diagnostic(p.span, f"parameter '{name}' = {v} is not finite",
                                    "check the default or the --set value"))
            continue
        if p.lo is not None:
            try:
                lo = numeric(to_sympy(p.lo, Scope(scope_names, lets=lets)))
                hi = numeric(to_sympy(p.hi, Scope(scope_names, lets=lets)))
            except (ExprError, ValueError) as exc:
                diags.append(Diagnostic(p.span, f"cannot evaluate the range of '{name}': {exc}"))
                continue
            if not lo <= v <= hi:
                how = "--set" if name in overrides else "its default"
                span = Span("--set", 0, 0, 0, 0) if name in overrides else p.span
                diags.append(Diagnostic(span, f"parameter '{name}' = {_g(v)} is outside its range "
                                        f"{_g(lo)}..{_g(hi)} ({how})",
                                        f"choose {name} in {_g(lo)}..{_g(hi)}, or widen "
                                        f"the range at {model.file}:{p.span.line}"))
                continue
        values[name] = v
        scope_names[name] = sp.Float(v, 17) if not float(v).is_integer() else sp.Integer(int(v))
    if diags:
        raise ParameterError(diags, src)
    return values


def _g(v: float) -> str:
    return f"{v:.10g}"


# ------------------------------------------------------------------ memory limits
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
_BYTES_RE = re.compile(r"^\s*((?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([kmgt]i?)?b?\s*$", re.I)


def parse_bytes(text: str | int | float, what: str = "--max-memory") -> int:
    """``4GB``, ``512MB``, ``1.5G``, ``2GiB``, ``1e9`` or a plain number of bytes -> bytes.

    Decimal units (kB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB,
    TiB) powers of 1024.  Raises :class:`ParameterError`.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        m = _BYTES_RE.match(str(text))
        if not m:
            raise ParameterError([Diagnostic(Span(what, 0, 0, 0, 0),
                                             f"cannot read '{text}' as an amount of memory",
                                             "write bytes or a size with a unit: 4GB, 512MB, 2GiB")])
        value = float(m.group(1)) * _UNITS[(m.group(2) or "").lower()]
    if not math.isfinite(value) or value <= 0:
        raise ParameterError([Diagnostic(Span(what, 0, 0, 0, 0),
                                         f"{what} must be a positive amount of memory, got '{text}'")])
    return int(value)


def _count(n: float) -> str:
    """``850``, ``9,999``, ``1.0e6``: a count as the memory line prints it."""
    if n < 10_000:
        return f"{int(n):,}"
    mant, _, exp = f"{n:.1e}".partition("e")
    return f"{mant}e{int(exp)}"


def format_bytes(n: float) -> str:
    """``3.2 GB``, ``850 MB``, ``12 kB`` (decimal units)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            v = n / size
            return f"{v:.1f} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{int(n)} B"


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None  # missing, unreadable, or "max" (no limit)


def _stat_value(path: str, key: str) -> int:
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                k, _, v = line.partition(" ")
                if k == key:
                    return int(v)
    except (OSError, ValueError):
        pass
    return 0


def available_memory() -> int | None:
    """Bytes this process may still allocate: ``MemAvailable`` of ``/proc/meminfo``
    (else ``os.sysconf``), lowered to a container's cgroup limit minus its usage
    (reclaimable page cache counted as free).  None when nothing can be read."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            avail = None
    for limit_file, usage_file, stat_file, cache_key in (
            ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current",
             "/sys/fs/cgroup/memory.stat", "inactive_file"),
            ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes",
             "/sys/fs/cgroup/memory/memory.stat", "total_inactive_file")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is None or usage is None or limit >= 2**60:
            continue
        free = max(limit - usage + _stat_value(stat_file, cache_key), 0)
        avail = free if avail is None else min(avail, free)
    return avail


_limit_defaults: dict[str, Any] = {"max_memory": None, "notice": None}
#: (bytes, lines) of edge-list files, by (path, size, modification time): a sweep
#: that recompiles reads each file's line count once
_FILE_LINES: dict[tuple[str, int, int], tuple[int, int]] = {}


@contextmanager
def compile_limits(max_memory: str | int | None = None,
                   notice: Callable[[str], None] | None = None) -> Iterator[None]:
    """Defaults for every compile inside the block (the command line's ``--max-memory``).

    ``max_memory`` (bytes, or text such as ``4GB``) replaces the available memory as
    the refusal threshold; it is also put in the environment (``SEMDSL_MAX_MEMORY``)
    so that worker processes started inside the block inherit it.  ``notice`` is
    called with a one-line message (``estimated memory 3.2 GB for 1.0e+06 states,
    8.0e+06 transitions``) before any compile whose estimate exceeds
    ``MEMORY_NOTICE_BYTES``.
    """
    limit = parse_bytes(max_memory) if max_memory is not None else None
    saved = dict(_limit_defaults)
    saved_env = os.environ.get(MEMORY_ENV)
    _limit_defaults.update(max_memory=limit, notice=notice)
    if limit is not None:
        os.environ[MEMORY_ENV] = str(limit)
    try:
        yield
    finally:
        _limit_defaults.clear()
        _limit_defaults.update(saved)
        if limit is not None:
            if saved_env is None:
                os.environ.pop(MEMORY_ENV, None)
            else:
                os.environ[MEMORY_ENV] = saved_env


def memory_limit(max_memory: str | int | None = None) -> tuple[int | None, str]:
    """(bytes, where the number comes from): the argument, else :func:`compile_limits`'s,
    else ``$SEMDSL_MAX_MEMORY``, else the memory available now."""
    if max_memory is not None:
        return parse_bytes(max_memory), "the limit"
    if _limit_defaults["max_memory"] is not None:
        return int(_limit_defaults["max_memory"]), "the --max-memory limit"
    env = os.environ.get(MEMORY_ENV)
    if env:
        try:
            return parse_bytes(env, MEMORY_ENV), f"the {MEMORY_ENV} limit"
        except ParameterError:
            pass
    return available_memory(), "the memory available"


#: bytes per state, per realised edge and per transition of a compile, measured with
#: tracemalloc on lattices, chains and dense families (peak over the whole compile:
#: index grids, attribute columns, edge columns, transition lists, rates and the
#: generator's assembly, which briefly holds COO and CSR copies together)
BYTES_PER_STATE = 130
BYTES_PER_STATE_COLUMN = 8      # each attribute or index column, per state
BYTES_PER_EDGE = 40
BYTES_PER_EDGE_COLUMN = 8       # each edge attribute or `for` variable, per edge
BYTES_PER_TRANSITION = 80
BYTES_PER_CANDIDATE = 120       # a chunk of `for` candidates being evaluated


def memory_estimate(states: float, edges: float, transitions: float,
                    state_columns: int = 1, edge_columns: int = 2, candidates: float = 0) -> float:
    """Peak bytes of compiling a model of this size (see ``BYTES_PER_*``);
    ``candidates`` is the largest chunk of ``for`` candidates evaluated at once."""
    return (states * (BYTES_PER_STATE + BYTES_PER_STATE_COLUMN * state_columns)
            + edges * (BYTES_PER_EDGE + BYTES_PER_EDGE_COLUMN * edge_columns)
            + transitions * BYTES_PER_TRANSITION + candidates * BYTES_PER_CANDIDATE)


def _geometric_positions(rng: np.random.Generator, M: int, p: float,
                         block: int = CANDIDATE_CHUNK) -> Iterator[np.ndarray]:
    """Positions in ``[0, M)`` kept by ``M`` independent Bernoulli(``p``) trials, in order.

    Geometric skipping: the gaps between successive kept trials are independent
    Geometric(``p``) (support 1, 2, ...), so their cumulative sums are the kept
    positions.  Gaps are drawn in blocks sized to the expected remainder (at most
    ``block``), so memory is O(block) and time O(p M), never O(M).  Partial sums are
    located in float64 first, so the exact int64 sums never overflow (M < 2**62;
    numpy caps a gap at 2**63 - 1).
    """
    pos = -1                                   # last kept position
    while True:
        remaining = M - 1 - pos                # trials after it
        if remaining <= 0:
            return
        mu = remaining * p
        size = int(min(block, mu + 6.0 * math.sqrt(mu) + 16))
        gaps = rng.geometric(p, size)
        approx = np.cumsum(gaps, dtype=np.float64)
        k = int(np.searchsorted(approx, remaining * (1 + 1e-9) + 2, side="right"))
        cum = np.cumsum(gaps[:k])             # exact, each partial sum < 2**63
        cut = int(np.searchsorted(cum, remaining, side="right"))
        if cut:
            yield cum[:cut] + pos
        if cut < size:
            return
        pos += int(cum[-1])


# -------------------------------------------------------------------- compiling
class _Compiler:
    def __init__(self, model: Model, params: dict[str, float], seed: int, realization: int,
                 max_states: int | None, max_transitions: int | None, allow_path: Iterable[str],
                 undiluted: bool = False, max_memory: str | int | None = None):
        self.model = model
        self.max_memory = max_memory
        self._plans: dict[int, dict] = {}
        self.params = params
        self.seed = int(seed)
        self.realization = int(realization)
        self.max_states = DEFAULT_MAX_STATES if max_states is None else int(max_states)
        self.max_transitions = DEFAULT_MAX_TRANSITIONS if max_transitions is None else int(max_transitions)
        self.allow_path = [Path(p).resolve() for p in allow_path]
        #: structure (members, kept edges) reused across compiles that differ only in
        #: non-structural parameters (see compile_model's ``structure_cache``)
        self.structure_cache: dict | None = None
        self.undiluted = bool(undiluted)
        self.structure_key = (tuple(sorted((k, v) for k, v in params.items()
                                           if model.params[k].structural)),
                              int(seed), int(realization), self.undiluted)
        self.sources = {model.file: model.source}
        self.pnames = {k: (sp.Integer(int(v)) if float(v).is_integer() and abs(v) < 2**62
                           else sp.Float(v, 17)) for k, v in params.items()}
        self.diags: list[Diagnostic] = []
        # statement positions (for per-statement random streams)
        self.stmt_index = {id(s): k for k, s in enumerate(model.syntax.statements)} if model.syntax else {}

    # ---- helpers
    def fail(self, span, message, hint=None, cls=CompileError):
        raise cls([Diagnostic(span, message, hint)], self.sources)

    def stream_key(self, stmt) -> int:
        """A statement's random-stream key: stable when other statements are added or moved.

        Families are keyed by their name; edge statements by their head text
        (``edge h[i] -- h[j]``) and how many identical heads precede them.
        """
        if isinstance(stmt, (S.NodeStmt, S.GraphStmt)):
            text = "family:" + stmt.name.value
        elif isinstance(stmt, S.EdgeStmt):
            keys = self.__dict__.get("_edge_stream_text")
            if keys is None:  # every edge statement's text, once (not once per statement)
                keys, count = {}, {}
                for s in (self.model.syntax.statements if self.model.syntax else ()):
                    if isinstance(s, S.EdgeStmt):
                        h = f"edge:{format_expr(s.src)} {s.op} {format_expr(s.dst)}"
                        keys[id(s)] = f"{h}#{count.get(h, 0)}"
                        count[h] = count.get(h, 0) + 1
                self._edge_stream_text = keys
            text = keys.get(id(stmt))
            if text is None:
                text = f"edge:{format_expr(stmt.src)} {stmt.op} {format_expr(stmt.dst)}#0"
        else:
            text = "other"
        return zlib.crc32(text.encode("utf-8"))

    def rng(self, stmt, purpose: int) -> np.random.Generator:
        key = self.stream_key(stmt)
        return np.random.default_rng(np.random.SeedSequence(
            self.seed, spawn_key=(self.realization, key, purpose)))

    def sym(self, e, names: Mapping[str, sp.Expr] | None = None, attrs=None) -> sp.Expr:
        scope_names = dict(self.pnames)
        if names:
            scope_names.update(names)
        try:
            return to_sympy(e, Scope(scope_names, attrs=attrs, lets=self.model.lets))
        except ExprError as exc:
            self.fail(getattr(exc.node, "span", None), exc.message, exc.hint)

    def number(self, e, what: str) -> float:
        try:
            v = numeric(self.sym(e), what)
        except ValueError as exc:
            self.fail(getattr(e, "span", None), str(exc))
        except (OverflowError, ZeroDivisionError) as exc:
            self.fail(getattr(e, "span", None), f"{what}: {exc}")
        if not math.isfinite(v):
            self.fail(getattr(e, "span", None), f"{what} is not a finite number ({_g(v)})",
                      "check for a division by zero or an overflow")
        return v

    def integer(self, e, what: str, minimum: int | None = None) -> int:
        v = self.number(e, what)
        if not math.isfinite(v) or abs(v - round(v)) > 1e-9 * max(1.0, abs(v)):
            self.fail(getattr(e, "span", None), f"{what} must be a whole number, got {_g(v)}",
                      "index ranges and sizes are integers")
        if abs(v) > 2.0 ** 53:  # past 2^53 a double no longer holds every integer
            self.fail(getattr(e, "span", None), f"{what} is too large: {_g(v)} (at most 2^53 = "
                      "9.007e15 in absolute value)", "index ranges and sizes are integers of that size")
        iv = int(round(v))
        if minimum is not None and iv < minimum:
            self.fail(getattr(e, "span", None), f"{what} must be at least {minimum}, got {iv}")
        return iv

    def array(self, e, values: Mapping[str, np.ndarray], n: int, what: str,
              attrs: Mapping[tuple[str, str], np.ndarray] | None = None, dtype=float) -> np.ndarray:
        """Evaluate ``e`` for ``n`` items, names bound to arrays (indices, attributes)."""
        syms = {k: sp.Symbol(f"v_{k}") for k in values}
        asyms = {k: sp.Symbol(f"a_{k[0]}_{k[1]}") for k in (attrs or {})}
        expr = self.sym(e, syms, asyms if attrs is not None else None)
        bind = {syms[k]: v for k, v in values.items()}
        bind.update({asyms[k]: v for k, v in (attrs or {}).items()})
        try:
            out = evaluate(expr, bind, n)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
            self.fail(getattr(e, "span", None), f"cannot evaluate {what}: {exc}")
        return out

    def probability(self, e, values, n, what, attrs=None) -> np.ndarray:
        p = self.array(e, values, n, what, attrs)
        bad = ~np.isfinite(p) | (p < 0) | (p > 1)
        if bad.any():
            k = int(np.argmax(bad))
            self.fail(e.span, f"{what} must lie in 0..1, got {_g(float(p[k]))}",
                      "a probability is a number between 0 and 1")
        return p

    # ---- node families
    def family_size_estimate(self, fam: Family) -> tuple[int, int]:
        """(nodes, undirected edges) upper bounds, computed without allocating."""
        if fam.kind == "node":
            n = 1
            for d in fam.indexes:
                lo = self.integer(d.lo, f"the lower end of index '{d.var.value}'")
                hi = self.integer(d.hi, f"the upper end of index '{d.var.value}'")
                n *= max(hi - lo + 1, 0)
            return n, 0
        args = {k: v for k, v in fam.gen_args}
        g = fam.generator

        def I(name, minimum=None):
            return self.integer(args[name], f"'{name}' of {g}", minimum)
        if g == "lattice":
            dims = [self.integer(d, "a lattice dimension", 1) for d in fam.gen_dims]
            n = math.prod(dims)
            return n, n * len(dims)
        if g in ("triangular", "honeycomb"):
            n = I("L1", 1) * I("L2", 1)
            return n, 3 * n
        if g == "sierpinski":
            lv = I("level", 0)
            if lv > 40:
                return 10**30, 10**30
            return 3 * (3**lv + 1) // 2, 3 ** (lv + 1)
        if g == "tree":
            b, d = I("branching", 1), I("depth", 0)
            if d * math.log2(max(b, 2)) > 100:
                return 10**30, 10**30
            n = sum(b**k for k in range(d + 1))
            return n, n - 1
        if g == "erdos_renyi":
            n = I("n", 1)
            if "mean_degree" in args:
                c = self.number(args["mean_degree"], "mean_degree")
            else:
                c = self.number(args["p"], "p") * (n - 1)
            return n, int(n * max(c, 0) / 2 * 1.1 + 100)
        if g == "random_regular":
            n, k = I("n", 1), I("k", 0)
            return n, n * k // 2
        if g == "edgelist" and "path" in args:
            return 0, self.edgelist_lines(args["path"])[1]  # nodes: checked while reading
        return 0, 0

    def edgelist_lines(self, v) -> tuple[int, int]:
        """(bytes, lines) of an edge-list file: at most one edge per line.  Read in
        blocks (memory O(1)); the path is checked first (see :meth:`resolve_path`)."""
        path = self.resolve_path(v)
        try:
            st = os.stat(path)
            key = (path, st.st_size, st.st_mtime_ns)
        except OSError:
            key = (path, -1, -1)
        got = _FILE_LINES.get(key)
        if got is None:
            size, lines = 0, 0
            try:
                with open(path, "rb") as fh:
                    while True:
                        block = fh.read(1 << 24)
                        if not block:
                            break
                        size += len(block)
                        lines += block.count(b"\n")
                        last = block[-1:]
                lines += size > 0 and last != b"\n"
            except OSError as exc:
                self.fail(v.span, f"cannot read '{v.value}': {exc.strerror or exc}")
            if len(_FILE_LINES) > 256:
                _FILE_LINES.clear()
            got = _FILE_LINES[key] = (size, lines)
        return got

    def build_family(self, fam: Family, stmt) -> dict:
        """Enumerate one family: members (index arrays), attributes, own edges."""
        if fam.kind == "node":
            lo = [self.integer(d.lo, f"the lower end of index '{d.var.value}'") for d in fam.indexes]
            hi = [self.integer(d.hi, f"the upper end of index '{d.var.value}'") for d in fam.indexes]
            shape = tuple(max(h - l + 1, 0) for l, h in zip(lo, hi))
            total = math.prod(shape) if shape else 1
            if shape:
                grid = np.indices(shape, dtype=np.int64).reshape(len(shape), -1)
                idx = [grid[k] + lo[k] for k in range(len(shape))]
            else:
                idx = []
            names = {d.var.value: idx[k].astype(float) for k, d in enumerate(fam.indexes)}
            keep = np.ones(total, dtype=bool)
            if fam.cond is not None:
                keep &= self.array(fam.cond, names, total, f"the condition of node '{fam.name}'") != 0
            node_prob = None
            if fam.prob is not None:
                p = self.probability(fam.prob, names, total, f"the probability of node '{fam.name}'")
                if self.undiluted:
                    node_prob = p
                else:
                    keep &= self.rng(stmt, 1).random(total) < p
            return dict(lo=tuple(lo), shape=shape, idx=idx, keep=keep, base_attrs=names,
                        index_names=tuple(d.var.value for d in fam.indexes), edges=None,
                        edge_attrs={}, node_prob=node_prob, edge_prob=None)
        # generated family
        spec = GENERATORS[fam.generator]
        args = {k: v for k, v in fam.gen_args}
        kwargs: dict[str, Any] = {}
        pos: list[Any] = []
        if fam.generator == "lattice":
            pos = [self.integer(d, "a lattice dimension", 1) for d in fam.gen_dims]
        for k, v in args.items():
            if k == "periodic":
                kwargs[k] = bool(v.value) if isinstance(v, S.Bool) else bool(self.number(v, k))
            elif k == "path":
                kwargs[k] = self.resolve_path(v)
            elif k in ("mean_degree", "p"):
                kwargs[k] = self.number(v, k)
            elif k == "header":
                kwargs[k] = bool(self.number(v, k))
            else:
                kwargs[k] = self.integer(v, f"'{k}' of {fam.generator}")
        if spec.random:
            kwargs["rng"] = self.rng(stmt, 2)
        try:
            g: GeneratedGraph = spec.func(*pos, max_nodes=self.max_states, **kwargs)
        except GeneratorArgError as exc:
            span = fam.span
            if exc.arg:
                for k, v in fam.gen_args:
                    if k == exc.arg and hasattr(v, "span"):
                        span = v.span
            hint = None
            if "max_nodes" in str(exc) or "exceed" in str(exc):
                self.fail(span, str(exc), "raise --max-states if the machine has the memory",
                          cls=LimitError)
            self.fail(span, f"{fam.generator}: {exc}", hint)
        keep = np.ones(g.n, dtype=bool)
        node_prob = edge_prob = None
        if fam.site_prob is not None:
            q = self.probability(fam.site_prob, {}, 1, f"the site probability of graph '{fam.name}'")[0]
            if self.undiluted:
                node_prob = np.full(g.n, q)
            else:
                keep &= self.rng(stmt, 3).random(g.n) < q
        esrc, edst = g.src, g.dst
        eattrs = dict(getattr(g, "edge_attrs", {}) or {})
        if fam.prob is not None:
            p = self.probability(fam.prob, {}, 1, f"the bond probability of graph '{fam.name}'")[0]
            if self.undiluted:
                edge_prob = np.full(esrc.size, p)
            else:
                kept = self.rng(stmt, 4).random(esrc.size) < p
                esrc, edst = esrc[kept], edst[kept]
                eattrs = {k: v[kept] for k, v in eattrs.items()}
        if edge_prob is not None:
            eattrs[PROB_KEY] = edge_prob
        idx = [g.index[:, k] for k in range(g.index.shape[1])]
        return dict(lo=(1,) * len(g.shape), shape=tuple(g.shape), idx=idx, keep=keep,
                    base_attrs={k: np.asarray(v, float) for k, v in g.attrs.items()},
                    index_names=(), edges=(esrc, edst), edge_attrs=eattrs, node_prob=node_prob)

    def resolve_path(self, v) -> str:
        try:
            return self._resolve_path(v)
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte, ...
            why = getattr(exc, "strerror", None) or str(exc)
            self.fail(v.span, f"cannot use '{_clip(v.value)}' as a file name: {why}",
                      'write the name of a file beside the model, e.g. edgelist("landscape.csv")')

    def _resolve_path(self, v) -> str:
        raw = v.value
        base = Path(self.model.file).resolve().parent if self.model.file not in ("<string>", "") \
            else Path.cwd().resolve()
        p = (base / raw).resolve()  # symbolic links and '..' resolved before the check
        allowed = [base] + self.allow_path
        if not any(p == a or a in p.parents for a in allowed):
            via = "" if Path(os.path.normpath(base / raw)) == p else f" (it resolves to {p})"
            self.fail(v.span, f"'{raw}' is outside the model's directory{via}",
                      "model files may read files beside them; pass --allow-path DIR to permit another folder")
        if not p.exists():
            self.fail(v.span, f"no such file '{raw}' (looked in {_display_dir(base)})")
        if not p.is_file():
            self.fail(v.span, f"'{raw}' is not a regular file",
                      "name a text file of edges (a directory, device or pipe cannot be read)")
        return str(p)

    def family_attrs(self, fam: Family, members: dict, keep_idx: np.ndarray) -> tuple[dict, dict]:
        """Evaluate a family's attribute block for its kept members."""
        n = keep_idx.size
        everything = keep_idx.size == members["keep"].size
        base = {k: (v if everything else v[keep_idx]) for k, v in members["base_attrs"].items()}
        out = dict(base) if fam.kind == "graph" else {}
        sym_exprs: dict[str, sp.Expr | None] = {}
        values = dict(base)
        stmt = self._stmt_of(fam)
        for k, item in enumerate(fam.attrs):
            name = item.name.value
            if isinstance(item, S.AttrAssign):
                arr = self.array(item.value, values, n, f"attribute '{name}' of '{fam.name}'")
                syms = {v: sp.Symbol(v) for v in values}
                sym_exprs[name] = self.sym(item.value, syms)
            else:
                arr = self.sample(item.dist, values, n, self.rng(stmt, 100 + k),
                                  f"attribute '{name}' of '{fam.name}'")
                sym_exprs[name] = None
            bad = ~np.isfinite(np.asarray(arr, float))
            if bad.any():
                # NaN or inf in an attribute would turn every mean or rate reading it into
                # NaN without saying why (i / 0, log of 0, an overflowing power)
                first = int(np.flatnonzero(bad)[0])
                where = ", ".join(f"{iname} = {_g(float(base[iname][first]))}" for iname in members["index_names"])
                span = item.value.span if isinstance(item, S.AttrAssign) else item.dist.span
                self.fail(span, f"attribute '{name}' of '{fam.name}' is {_g(float(np.asarray(arr, float)[first]))} "
                          f"for {int(bad.sum())} of {n} nodes" + (f" (first at {where})" if where else ""),
                          "an attribute must be a finite number at every node: check divisions by zero, "
                          "logarithms of 0 and powers that overflow")
            out[name] = arr
            values[name] = arr
        for iname in members["index_names"]:
            out[iname] = base[iname]
        return out, sym_exprs

    def _stmt_of(self, fam: Family):
        index = self.__dict__.get("_family_stmts")
        if index is None:  # built once: a file of 10^4 families must not take 10^8 steps
            index = {}
            for s in (self.model.syntax.statements if self.model.syntax else ()):
                if isinstance(s, (S.NodeStmt, S.GraphStmt)):
                    index.setdefault(s.name.value, s)
            self._family_stmts = index
        return index.get(fam.name)

    def sample(self, dist: S.Call, values, n, rng: np.random.Generator, what: str) -> np.ndarray:
        from .model import DISTRIBUTIONS
        name = dist.func.value
        positional, alts = DISTRIBUTIONS[name]
        kw = {k.name.value: k.value for k in dist.kwargs}
        args = dict(zip(positional, dist.args))
        args.update(kw)
        a = {k: self.array(v, values, n, f"'{k}' of {name}") for k, v in args.items()}

        def need(cond, k, msg):
            if not np.all(cond):
                node = args[k]
                self.fail(getattr(node, "span", dist.span), f"{name}: {msg}, got {_g(float(a[k][np.argmin(cond)]))}",
                          f"in {what}")
        for k, v in a.items():
            need(np.isfinite(v), k, f"'{k}' must be finite")
        if name == "uniform":
            need(a["b"] >= a["a"], "b", "needs a <= b")
            return rng.uniform(a["a"], a["b"], n)
        if name == "normal":
            need(a["sd"] >= 0, "sd", "sd must be >= 0")
            return rng.normal(a["mean"], a["sd"], n)
        if name == "exponential":
            if "mean" in a:
                need(a["mean"] > 0, "mean", "mean must be > 0")
                return rng.exponential(a["mean"], n)
            need(a["rate"] > 0, "rate", "rate must be > 0")
            return rng.exponential(1.0 / a["rate"], n)
        if name == "gamma":
            need(a["shape"] > 0, "shape", "shape must be > 0")
            need(a["scale"] > 0, "scale", "scale must be > 0")
            return rng.gamma(a["shape"], a["scale"], n)
        if name == "lognormal":
            need(a["sigma"] >= 0, "sigma", "sigma must be >= 0")
            return rng.lognormal(a["mu"], a["sigma"], n)
        raise AssertionError(name)  # pragma: no cover

    # ---- the whole model
    def check_sizes(self, fams: list[Family]) -> float:
        """Refuse, before allocating anything, a model above --max-states,
        --max-transitions or the memory available; announce a large one.

        Counts are upper estimates from the declarations alone: index grids (before
        their ``if``), generators' closed-form sizes, and for edge statements the
        ``for`` space times the fraction passing the ``if`` times the probability (plus
        5 sigma).  Returns the memory estimate in bytes.
        """
        m = self.model
        est_nodes, est_edges, est_trans = 0, 0, 0
        node_share: list[tuple[int, Span]] = []
        trans_share: list[tuple[int, Span]] = []
        mem_share: list[tuple[float, Span]] = []
        state_cols = {"F", "degree"}
        edge_cols = {"weight", "B"} | ({PROB_KEY} if self.undiluted else set())
        kmax = 0
        chunk = 0
        est_file = 0
        for f in fams:
            n, e = self.family_size_estimate(f)
            est_nodes += n
            est_edges += e
            est_trans += 2 * e
            node_share.append((n, f.span))
            trans_share.append((2 * e, f.span))
            state_cols |= {a.name.value for a in f.attrs} | set(f.gen_attrs)
            state_cols |= {d.var.value for d in f.indexes}
            kmax = max(kmax, f.ndim or 0, len(f.gen_dims))
            mem = memory_estimate(n, e, 2 * e, 4, 2)
            if f.generator == "edgelist" and "path" in dict(f.gen_args):
                # reading: the file's bytes, its lines as a fixed-width array, columns
                size, lines = self.edgelist_lines(dict(f.gen_args)["path"])
                mem += 8 * size + memory_estimate(lines, 0, 0, 4)
                est_file += 8 * size + memory_estimate(lines, 0, 0, 4)
            mem_share.append((mem, f.span))
        for e in m.edges:
            plan = self.edge_plan(e)
            if plan["drawn"] > MAX_FOR_CANDIDATES:
                if plan["skip"]:
                    msg = (f"this edge statement draws about {plan['drawn']:,} of its {plan['M']:,} candidate "
                           f"edges before its 'if' (limit {MAX_FOR_CANDIDATES:,})")
                    hint = ("put the condition into the indices (edge h[i] -- h[i+1] for i in ..) or "
                            "lower the probability")
                else:
                    msg = (f"this edge statement enumerates {plan['M']:,} candidate edges "
                           f"(limit {MAX_FOR_CANDIDATES:,})")
                    hint = "narrow the for ranges or use a graph generator such as erdos_renyi"
                self.fail(e.stmt.span, msg, hint, LimitError)
            k, t = plan["kept"], plan["kept"] * (1 if e.directed else 2)
            chunk = max(chunk, min(plan["drawn"], CANDIDATE_CHUNK))
            est_edges += k
            est_trans += t
            trans_share.append((t, e.stmt.span))
            edge_cols |= {a.name.value for a in e.stmt.attrs} | {FOR_PREFIX + d.var.value for d in e.stmt.fors}
            mem_share.append((memory_estimate(0, k, t, 0, 2 + len(e.stmt.fors) + len(e.stmt.attrs),
                                              min(plan["drawn"], CANDIDATE_CHUNK)), e.stmt.span))
        if est_nodes > self.max_states:
            self.fail(max(node_share, key=lambda x: x[0])[1],
                      f"the model has {est_nodes:,} states, above the limit of {self.max_states:,}",
                      "raise --max-states (memory ~ 100 bytes per state) or shrink the model", LimitError)
        if est_trans > self.max_transitions and est_edges > 0:
            self.fail(max(trans_share, key=lambda x: x[0])[1],
                      f"the model has up to {est_trans:,} transitions, above the limit of "
                      f"{self.max_transitions:,}",
                      "raise --max-transitions (memory ~ 40 bytes per transition) or shrink the model",
                      LimitError)
        est_bytes = memory_estimate(est_nodes, est_edges, est_trans, len(state_cols) + kmax, len(edge_cols),
                                    chunk) + est_file
        limit, source = memory_limit(self.max_memory)
        what = f"{_count(est_nodes)} states, {_count(est_trans)} transitions"
        if limit is not None and est_bytes > limit:
            span = max(mem_share, key=lambda x: x[0])[1] if mem_share else None
            self.fail(span, f"compiling this model needs an estimated {format_bytes(est_bytes)} of memory "
                      f"({what}), more than {source} ({format_bytes(limit)})",
                      "shrink this statement (its ranges, sizes or probability), or raise the limit with "
                      "--max-memory if the machine has the memory", LimitError)
        notice = _limit_defaults.get("notice")
        if notice is not None and est_bytes > MEMORY_NOTICE_BYTES:
            notice(f"{_display_file(m.file)}: estimated memory {format_bytes(est_bytes)} for {what}")
        self.memory_estimate = est_bytes
        return est_bytes

    def run(self) -> CompiledModel:
        m = self.model
        fams = list(m.families.values())
        stmts = {f.name: self._stmt_of(f) for f in fams}
        # 1. size estimates before allocating anything
        self.check_sizes(fams)

        # 2. families -> node table
        tables: list[FamilyTable] = []
        fam_attrs: list[dict[str, np.ndarray]] = []
        fam_edges: list[tuple[np.ndarray, np.ndarray, dict]] = []
        sym_attr_exprs: dict[str, dict] = {}
        start = 0
        kmax = 0
        node_prob_parts: list[tuple[int, np.ndarray]] = []
        for f in fams:
            members = dict(self._structure(("family", f.name),
                                           lambda f=f: self.build_family(f, stmts[f.name])))
            keep_idx = np.flatnonzero(members["keep"])
            n = keep_idx.size
            lookup = np.full(members["keep"].size, -1, dtype=np.int64)
            lookup[keep_idx] = np.arange(start, start + n, dtype=np.int64)
            attrs, sym_exprs = self.family_attrs(f, members, keep_idx)
            if members.get("node_prob") is not None:
                node_prob_parts.append((start, np.asarray(members["node_prob"], float)[keep_idx]))
            sym_attr_exprs[f.name] = sym_exprs
            tables.append(FamilyTable(f.name, f.kind, tuple(members["lo"]), tuple(members["shape"]),
                                      lookup, start, start + n, members["index_names"], f.generator))
            fam_attrs.append(attrs)
            idx_kept = ([a for a in members["idx"]] if n == members["keep"].size
                        else [a[keep_idx] for a in members["idx"]])
            kmax = max(kmax, len(idx_kept))
            members["idx_kept"] = idx_kept
            if members["edges"] is not None:
                es, ed = members["edges"]
                if n == members["keep"].size:  # nothing removed: ids are an offset
                    fam_edges.append((es + start, ed + start, dict(members["edge_attrs"])))
                else:
                    gl = lookup[es], lookup[ed]
                    ok = (gl[0] >= 0) & (gl[1] >= 0)
                    fam_edges.append((gl[0][ok], gl[1][ok],
                                      {k: v[ok] for k, v in members["edge_attrs"].items()}))
            members.clear()
            members["idx_kept"] = idx_kept
            start += n
            fam_attrs[-1]["__idx__"] = idx_kept  # type: ignore[assignment]
        n_nodes = start
        if n_nodes == 0:
            self.fail(fams[0].span if fams else Span(m.file, 1, 1, 1, 2),
                      "the state space is empty: no node exists with these parameters"
                      if fams else "the model declares no nodes",
                      "check the 'if' conditions, index ranges and probabilities"
                      if fams else "declare nodes with 'node NAME' or 'graph NAME = lattice(...)'")
        family = np.empty(n_nodes, dtype=np.int32)
        index = np.zeros((n_nodes, kmax), dtype=np.int64)
        all_names = sorted({k for a in fam_attrs for k in a if k != "__idx__"} | {"F"})
        attrs = {k: np.zeros(n_nodes) for k in all_names}
        for fi, (t, a) in enumerate(zip(tables, fam_attrs)):
            sl = slice(t.start, t.stop)
            family[sl] = fi
            for k, col in enumerate(a.pop("__idx__")):
                index[sl, k] = col
            for k, v in a.items():
                attrs[k][sl] = v
        nodes = NodeTable(tuple(tables), family, index, attrs)

        # 3. edges
        e_src, e_dst, e_dir, e_attr, e_stmt = [], [], [], [], []
        gi = 0
        for f in fams:
            if f.kind != "graph":
                continue
            s, d, ea = fam_edges[gi]
            gi += 1
            stmt = stmts[f.name]
            e_src.append(s); e_dst.append(d); e_dir.append(np.zeros(s.size, bool))
            e_attr.append(ea); e_stmt.append(np.full(s.size, self.stmt_index.get(id(stmt), -1), np.int32))
        for e in m.edges:
            s, d, ea = self.build_edges(e, nodes)
            e_src.append(s); e_dst.append(d); e_dir.append(np.full(s.size, e.directed))
            e_attr.append(ea); e_stmt.append(np.full(s.size, self.stmt_index.get(id(e.stmt), -1), np.int32))
        edge_src = _cat(e_src, np.int64)
        edge_dst = _cat(e_dst, np.int64)
        edge_dir = _cat(e_dir, bool)
        edge_stmt = _cat(e_stmt, np.int32)
        ne = edge_src.size
        enames = sorted({k for a in e_attr for k in a})
        edge_attrs: dict[str, np.ndarray] = {}
        defaults = {"weight": 1.0, "B": 0.0}
        edge_for: dict[str, np.ndarray] = {}
        if self.undiluted:
            defaults[PROB_KEY] = 1.0
        for k in set(enames) | {"weight", "B"}:
            is_for = k.startswith(FOR_PREFIX)
            col = np.full(ne, defaults.get(k, np.nan if (k == "rate" or is_for) else 0.0))
            pos = 0
            for s, a in zip(e_src, e_attr):
                if k in a:
                    col[pos:pos + s.size] = a[k]
                pos += s.size
            if is_for:
                edge_for[k[len(FOR_PREFIX):]] = col
            else:
                edge_attrs[k] = col
        edge_prob = node_prob = None
        if self.undiluted:
            edge_prob = edge_attrs.pop(PROB_KEY, np.ones(ne))
            node_prob = np.ones(n_nodes)
            for s0, pr in node_prob_parts:
                node_prob[s0:s0 + pr.size] = pr
        # degree: each edge counts once at each endpoint (self-loops were dropped)
        degree = (np.bincount(edge_src, minlength=n_nodes) + np.bincount(edge_dst, minlength=n_nodes)).astype(float)
        nodes.attrs["degree"] = degree

        # 4. transitions: both directions of undirected edges
        und = ~edge_dir
        t_src = np.concatenate([edge_src, edge_dst[und]])
        t_dst = np.concatenate([edge_dst, edge_src[und]])
        t_eid = np.concatenate([np.arange(ne), np.flatnonzero(und)])
        if t_src.size > self.max_transitions:
            stmt_ids, counts = np.unique(edge_stmt, return_counts=True)
            worst = int(stmt_ids[np.argmax(counts)]) if counts.size else -1
            stmts_all = m.syntax.statements if m.syntax else ()
            span = stmts_all[worst].span if 0 <= worst < len(stmts_all) else None
            self.fail(span, f"the model has {t_src.size:,} transitions, above the limit of "
                      f"{self.max_transitions:,}", "raise --max-transitions or shrink the model", LimitError)
        self.check_law_arguments()
        rates, sym = self.rates(nodes, t_src, t_dst, t_eid, edge_attrs, edge_stmt)
        Q = assemble_generator(t_src, t_dst, rates, n_nodes)

        # 5. init, sets
        init = self.initial(nodes)
        sets, labels = {}, {}
        for ob in m.observables.values():
            self.collect_sets(ob, nodes, sets, labels)
        for p in m.predictions:
            for ob in p.observables:
                self.collect_sets(ob, nodes, sets, labels)
        self.check_predictions()
        cm = CompiledModel(model=m, params=dict(self.params), seed=self.seed,
                           realization=self.realization, nodes=nodes, src=t_src, dst=t_dst,
                           rates=rates, edge_src=edge_src, edge_dst=edge_dst, edge_directed=edge_dir,
                           edge_attrs=edge_attrs, edge_for=edge_for, edge_stmt=edge_stmt, generator=Q, init=init, labels=labels, sets=sets,
                           symbolic_rates=sym, family_attr_exprs=sym_attr_exprs,
                           transition_edge=t_eid, edge_prob=edge_prob, node_prob=node_prob)
        if not is_generator(Q):
            self.fail(None, "internal error: the assembled matrix is not a generator")
        return cm

    def _structure(self, key, build):
        """``build()``, cached per structural parameter values, seed and realisation."""
        if self.structure_cache is None:
            return build()
        full = (self.model.hash,) + tuple(key) + self.structure_key
        got = self.structure_cache.get(full)
        if got is None:
            got = build()
            _freeze(got)  # shared between compiled models: never written to
            self.structure_cache[full] = got
        return got

    def build_edges(self, e, nodes: NodeTable):
        st = e.stmt
        k = self.stmt_index.get(id(st), -1)
        s, d, vars_ = self._structure(("edges", k), lambda: self.edge_structure(e, nodes))
        return self.edge_attributes(st, nodes, s, d, vars_)

    # ---- edge statements
    def for_grid(self, st) -> tuple[list[int], tuple[int, ...], int]:
        """(lower ends, shape, number of candidates) of a statement's ``for`` ranges."""
        lo = [self.integer(d.lo, f"the lower end of '{d.var.value}'") for d in st.fors]
        hi = [self.integer(d.hi, f"the upper end of '{d.var.value}'") for d in st.fors]
        shape = tuple(max(h - l + 1, 0) for l, h in zip(lo, hi))
        return lo, shape, math.prod(shape)

    def for_values(self, st, lo, shape, lin: np.ndarray) -> dict[str, np.ndarray]:
        """The ``for`` variables of candidates given by their C-order linear index."""
        cols = np.unravel_index(lin, shape) if len(shape) > 1 else (lin,)
        return {d.var.value: (c + lo[k]).astype(float) for k, (d, c) in enumerate(zip(st.fors, cols))}

    def constant_probability(self, st) -> float | None:
        """A statement's ``with probability`` when it does not depend on the ``for``
        variables (None when it does, or when there is none)."""
        if st.prob is None:
            return None
        loop = {d.var.value: sp.Symbol(f"v_{d.var.value}") for d in st.fors}
        expr = self.sym(st.prob, loop)
        if expr.free_symbols & set(loop.values()):
            return None
        return float(self.probability(st.prob, {}, 1, "the edge probability")[0])

    def condition_fraction(self, st, lo, shape, M: int) -> float:
        """An upper estimate of the fraction of candidates passing the ``if``: exact on
        up to 65,536 candidates, else from a fixed sample of 65,536 (plus 4 sigma)."""
        if st.cond is None or M == 0:
            return 1.0
        k = min(M, 65_536)
        lin = (np.arange(M, dtype=np.int64) if M <= k else
               np.random.default_rng(0x5E3D).integers(0, M, size=k, dtype=np.int64))
        try:
            ok = self.array(st.cond, self.for_values(st, lo, shape, lin), k, "the edge condition") != 0
        except SemdslError:
            return 1.0  # reported where the edges are built
        f = float(ok.mean())
        if M <= k:
            return f
        return min(1.0, f + 4.0 * math.sqrt(f * (1 - f) / k) + 4.0 / k)

    def edge_plan(self, e) -> dict:
        """How one edge statement will be built, and how large it gets (before building).

        ``kept`` is an upper estimate of its realised edges; ``drawn`` the candidates
        it enumerates (the whole ``for`` space, or about ``p`` times it when skipping).
        """
        st = e.stmt
        got = self._plans.get(id(st))
        if got is not None:
            return got
        if not st.fors:
            plan = dict(lo=[], shape=(), M=1, skip=False, p=None, kept=1, drawn=1)
        else:
            lo, shape, M = self.for_grid(st)
            if M >= 2**62:
                self.fail(st.span, f"this edge statement has {M:.3g} candidate edges, more than can "
                          "be enumerated", "narrow the for ranges or use a graph generator such as "
                          "erdos_renyi", LimitError)
            p = None if self.undiluted else self.constant_probability(st)
            skip = p is not None and p < 1 and M > SKIP_MIN_CANDIDATES
            f = self.condition_fraction(st, lo, shape, M)
            if p is not None:
                mu = M * f * p
                kept = mu + 5.0 * math.sqrt(mu * (1 - p)) + 1.0
            else:
                kept = M * f
            drawn = M * p + 5.0 * math.sqrt(M * p) + 1.0 if skip else M
            plan = dict(lo=lo, shape=shape, M=M, skip=skip, p=p,
                        kept=int(min(math.ceil(kept), M)), drawn=int(min(math.ceil(drawn), M)))
        self._plans[id(st)] = plan
        return plan

    def edge_structure(self, e, nodes: NodeTable):
        """The realised edges of one statement: ends and ``for`` values (structural only).

        The ``for`` space is processed in chunks of ``CANDIDATE_CHUNK`` candidates
        (C order, the last variable fastest), so memory follows the edges kept, not the
        candidates.  A ``with probability`` P keeps each candidate independently:

        * up to ``SKIP_MIN_CANDIDATES`` candidates, or when P depends on the ``for``
          variables, one uniform number is drawn per candidate that passes the ``if``
          (stream ``(statement, 5)``, drawn chunk after chunk: the same numbers as one
          draw over all candidates, so results do not depend on the chunk size);
        * above, with P a constant, the kept candidates are drawn directly by geometric
          skipping (stream ``(statement, 6)``) over the whole ``for`` space and the
          ``if`` is applied to them alone.  Thinning and filtering commute: each
          candidate is kept independently with the same P whatever the others do, so
          "thin all, then filter" and "filter, then thin the survivors" give the same
          law of the kept set (every passing candidate kept independently with
          probability P).  The law is identical to the per-candidate draws; the
          random stream is not, so a given seed gives another (equally likely) graph.
          Time and memory follow P x candidates, not the candidates.

        Only candidates that are kept are checked for whole-number indices when
        skipping (a candidate that is never drawn is never looked at).
        """
        st = e.stmt
        if not st.fors:
            rng = self.rng(st, 5) if st.prob is not None and not self.undiluted else None
            return self._edge_candidates(st, nodes, {}, 1, rng, thinned=False)
        plan = self.edge_plan(e)
        lo, shape, M = plan["lo"], plan["shape"], plan["M"]
        parts: list[tuple[np.ndarray, np.ndarray, dict]] = []
        if plan["skip"]:
            if plan["p"] > 0:
                rng = self.rng(st, 6)
                for lin in _geometric_positions(rng, M, plan["p"]):
                    parts.append(self._edge_candidates(st, nodes, self.for_values(st, lo, shape, lin),
                                                       lin.size, None, thinned=True))
        else:
            rng = self.rng(st, 5) if st.prob is not None and not self.undiluted else None
            for a in range(0, M, CANDIDATE_CHUNK):
                lin = np.arange(a, min(M, a + CANDIDATE_CHUNK), dtype=np.int64)
                parts.append(self._edge_candidates(st, nodes, self.for_values(st, lo, shape, lin),
                                                   lin.size, rng, thinned=False))
        if not parts:
            return (np.zeros(0, np.int64), np.zeros(0, np.int64),
                    {d.var.value: np.zeros(0) for d in st.fors})
        if len(parts) == 1:
            return parts[0]
        keys = list(dict.fromkeys(k for _, _, v in parts for k in v))
        return (np.concatenate([s for s, _, _ in parts]), np.concatenate([d for _, d, _ in parts]),
                {k: np.concatenate([v.get(k, np.zeros(s.size)) for s, _, v in parts]) for k in keys})

    def _edge_candidates(self, st, nodes: NodeTable, vars_: dict[str, np.ndarray], total: int,
                         rng: np.random.Generator | None, thinned: bool):
        """Edges among ``total`` candidates with ``for`` values ``vars_``: the ``if``,
        the ends (dropping missing members and self-loops), then the thinning (a
        uniform draw per candidate passing the ``if``, unless ``thinned`` already)."""
        fors = st.fors
        if st.cond is not None and total:
            keep = self.array(st.cond, vars_, total, "the edge condition") != 0
            if not keep.all():
                vars_ = {k: v[keep] for k, v in vars_.items()}
                total = int(keep.sum())
        ends = []
        for ref, role in ((st.src, "source"), (st.dst, "target")):
            fam = nodes.family_table(ref.name.value)
            if fam.ndim == 0:
                ids = np.full(total, fam.lookup[0] if fam.lookup.size else -1, dtype=np.int64)
            else:
                idx = []
                for k, sub in enumerate(ref.subs):
                    v = self.array(sub, vars_, total, f"index {k + 1} of the edge {role}")
                    r = np.rint(v)
                    bad = ~np.isfinite(v) | (np.abs(v - r) > 1e-9)
                    if bad.any():
                        j = int(np.argmax(bad))
                        self.fail(sub.span, f"the edge {role} index evaluates to {_g(float(v[j]))}, "
                                  "not a whole number", "node indices are integers")
                    idx.append(r.astype(np.int64))
                ids, inr = fam.ids(idx)
                if not fors and not inr.all():
                    vals = ", ".join(str(int(a[0])) for a in idx)
                    ranges = ", ".join(f"{l}..{l + s - 1}" for l, s in zip(fam.lo, fam.shape))
                    self.fail(ref.span, f"index out of range: {ref.name.value}[{vals}] "
                              f"(declared {ref.name.value}[{ranges}])",
                              "an edge outside a for clause must name an existing member")
            ends.append(ids)
        s, d = ends
        ok = (s >= 0) & (d >= 0) & (s != d)
        if st.prob is not None and total and not thinned:
            p = self.probability(st.prob, vars_, total, "the edge probability")
            if self.undiluted:
                vars_ = dict(vars_)
                vars_[PROB_KEY] = p
            else:
                ok &= rng.random(total) < p
        if ok.all():
            return s, d, vars_
        return s[ok], d[ok], {k: v[ok] for k, v in vars_.items()}

    def edge_attributes(self, st, nodes: NodeTable, s, d, vars_):
        """Attributes of the realised edges (may depend on non-structural parameters)."""
        m = s.size
        node_attr_arrays = {}
        eattrs: dict[str, np.ndarray] = {}
        used_attr = {(n.obj.value, n.attr.value) for a in st.attrs for n in walk(getattr(a, "value", None) or a.dist)
                     if isinstance(n, S.Attribute)}
        for (o, a) in used_attr:
            if o in ("src", "dst"):
                col = nodes.attrs.get(a)
                if col is None:
                    col = np.zeros(nodes.n)
                node_attr_arrays[(o, a)] = col[s if o == "src" else d]
        values = {k: v for k, v in vars_.items() if k != PROB_KEY}
        for k, item in enumerate(st.attrs):
            name = item.name.value
            attrs_now = dict(node_attr_arrays)
            attrs_now.update({("edge", kk): vv for kk, vv in eattrs.items()})
            if isinstance(item, S.AttrAssign):
                arr = self.array(item.value, values, m, f"edge attribute '{name}'", attrs=attrs_now)
            else:
                arr = self.sample(item.dist, values, m, self.rng(st, 200 + k), f"edge attribute '{name}'")
            eattrs[name] = arr
            values[name] = arr
        if "weight" in eattrs:
            w = eattrs["weight"]
            bad = ~np.isfinite(w) | (w < 0)
            if bad.any():
                j = int(np.argmax(bad))
                item = next(a for a in st.attrs if a.name.value == "weight")
                self.fail(item.span, f"edge weight {_g(float(w[j]))} on {nodes.name(int(s[j]))} "
                          f"{st.op} {nodes.name(int(d[j]))} is not a non-negative number",
                          "weight is an edge multiplicity >= 0")
        for k, v in vars_.items():
            eattrs[k if k == PROB_KEY else f"{FOR_PREFIX}{k}"] = v
        return s, d, eattrs

    def rates(self, nodes: NodeTable, t_src, t_dst, t_eid, edge_attrs, edge_stmt):
        """Rates of all transitions from the law (or each edge's own ``rate``)."""
        m = self.model
        law = m.rate
        F_s, F_d, w, B = LAW_SYMBOLS
        if law.law is not None:
            args = {k: self.sym(v) for k, v in law.args}
            expr = law_expression(law.law, args.get("R0", sp.Integer(1)), args.get("beta", sp.Integer(1)))
            # gather only what the law reads; a weight column of ones is the number 1
            weight = edge_attrs["weight"]
            if weight.size and np.all(weight == 1.0):
                expr_num = expr.subs(w, 1)
            else:
                expr_num = expr
            free = expr_num.free_symbols
            F = nodes.attrs["F"]
            lazy = {F_s: lambda: F[t_src], F_d: lambda: F[t_dst],
                    w: lambda: weight[t_eid], B: lambda: edge_attrs["B"][t_eid]}
            bind = {s: make() for s, make in lazy.items() if s in free}
            rates = evaluate(expr_num, bind, t_src.size)
            sym = (expr, {"F_src": F_s, "F_dst": F_d, "w": w, "B": B})
        else:
            used = {(n.obj.value, n.attr.value) for n in walk(law.expr) if isinstance(n, S.Attribute)}
            asyms = {k: sp.Symbol(f"{k[0]}.{k[1]}") for k in used}
            expr = self.sym(law.expr, attrs=asyms) * w
            bind: dict = {w: edge_attrs["weight"][t_eid]}
            for (o, a), s in asyms.items():
                if o == "edge":
                    col = edge_attrs.get(a)
                    if col is None:
                        col = np.zeros(edge_attrs["weight"].size)
                    bind[s] = col[t_eid]
                else:
                    col = nodes.attrs.get(a, np.zeros(nodes.n))
                    bind[s] = col[t_src if o == "src" else t_dst]
            rates = evaluate(expr, bind, t_src.size)
            sym = (expr, {f"{o}.{a}": s for (o, a), s in asyms.items()} | {"w": w})
        own = edge_attrs.get("rate")
        if own is not None:
            o = own[t_eid]
            has = ~np.isnan(o)
            rates = np.where(has, o * edge_attrs["weight"][t_eid], rates)
        bad = ~np.isfinite(rates) | (rates < 0)
        if bad.any():
            self.report_bad_rates(nodes, rates, bad, t_src, t_dst, t_eid, edge_attrs, edge_stmt)
        return rates, sym

    def check_law_arguments(self) -> None:
        """A rate law's own arguments: R0 >= 0 and finite, beta finite (before any edge)."""
        law = self.model.rate
        if law.law is None:
            return
        diags = []
        for k, v in law.args:
            try:
                val = numeric(self.sym(v), k)
            except ValueError:
                continue  # depends on something without a number: checked per edge
            if not math.isfinite(val):
                diags.append(Diagnostic(getattr(v, "span", law.span), f"{k} of {law.law} is not finite"))
            elif k == "R0" and val < 0:
                diags.append(Diagnostic(getattr(v, "span", law.span),
                                        f"R0 of {law.law} is negative ({_g(val)})",
                                        "R0 is a rate prefactor: it must be >= 0"))
        if diags:
            raise CompileError(diags, self.sources)

    def report_bad_rates(self, nodes, rates, bad, t_src, t_dst, t_eid, edge_attrs, edge_stmt):
        """One error per edge statement with a negative, NaN or infinite rate, in line order."""
        m = self.model
        law = m.rate
        stmts = m.syntax.statements if m.syntax else ()
        own = edge_attrs.get("rate")
        has_own = ~np.isnan(own[t_eid]) if own is not None else np.zeros(t_src.size, bool)
        idx = np.flatnonzero(bad)
        st_of = edge_stmt[t_eid[idx]]
        diags = []
        for k in np.unique(st_of):
            sel = idx[st_of == k]
            j = int(sel[0])
            v = float(rates[j])
            kind = "NaN" if np.isnan(v) else ("infinite" if np.isinf(v) else f"negative ({_g(v)})")
            stmt = stmts[int(k)] if 0 <= int(k) < len(stmts) else None
            edge = f"{nodes.name(int(t_src[j]))} -> {nodes.name(int(t_dst[j]))}"
            more = f" ({sel.size} transitions of this statement in all)" if sel.size > 1 else ""
            span = stmt.span if stmt is not None else law.span
            if has_own[j] and isinstance(stmt, S.EdgeStmt):
                item = next((a for a in stmt.attrs if a.name.value == "rate"), None)
                span = item.span if item is not None else span
                source = "its own rate"
            elif law.law is None:
                source = f"rate = {format_expr(law.expr)}"
            else:
                source = law.describe()
            if np.isnan(v):
                hint = (f"{source} is undefined for this edge (0/0, a log or sqrt of a negative "
                        "number, or inf - inf)")
            elif np.isinf(v):
                hint = f"{source} overflows a double for this edge"
                if law.law in ("arrhenius", "metropolis", "glauber", "barrier"):
                    F = nodes.attrs["F"]
                    dF = float(F[t_dst[j]] - F[t_src[j]])
                    hint += (f" (F[dst] - F[src] = {_g(dF)}; exp overflows past 709): "
                             "rescale F or beta")
            else:
                hint = f"{source} is negative for this edge; a rate must be >= 0"
            diags.append(Diagnostic(span, f"the rate of {edge} is {kind}{more}", hint))
        diags.sort(key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0))
        raise CompileError(diags, self.sources)

    def initial(self, nodes: NodeTable) -> np.ndarray:
        m = self.model
        init = m.init
        n = nodes.n
        p = np.zeros(n)
        if init.kind == "uniform":
            p[:] = 1.0 / n
            return p
        if init.kind == "boltzmann":
            beta = self.number(init.beta, "beta of init boltzmann")
            F = nodes.attrs["F"]
            with np.errstate(over="ignore"):
                w = np.exp(-beta * (F - F.min() if beta >= 0 else F - F.max()))
            return w / w.sum()
        if init.kind == "set":
            ids = self.resolve_set(init.target, nodes, exist_required=True)
            if ids.size == 0:
                self.fail(init.target.span, f"init '{init.target.text}' names no existing node",
                          "in this realisation (seed, parameters) an 'if' or a dilution removed it; "
                          "start from a set (init g[*]) or init uniform")
            p[ids] = 1.0 / ids.size
            return p
        total = 0.0
        diags = []
        for s, v in init.weights:
            ids = self.resolve_set(s, nodes, exist_required=True)
            val = self.number(v, "an init probability")
            if not (0 <= val <= 1):
                diags.append(Diagnostic(v.span, f"an init probability must lie in 0..1, got {_g(val)}",
                                        "init { a = 0.25, b = 0.75 }: probabilities that add up to 1"))
            if ids.size == 0:
                diags.append(Diagnostic(s.span, f"init '{s.text}' names no existing node",
                                        "with these parameters the node was removed"))
            p[ids] += val
            total += val
        if not diags and abs(total - 1.0) > 1e-9:
            diags.append(Diagnostic(init.span, f"the init probabilities sum to {_g(total)}, not 1",
                                    "make them add up to 1"))
        if diags:
            raise CompileError(diags, self.sources)
        return p

    def resolve_set(self, spec: SetSpec, nodes: NodeTable, exist_required: bool = False) -> np.ndarray:
        """Node ids of a set (sorted, unique)."""
        if spec.kind == "literal":
            parts = [self.resolve_set(e, nodes, exist_required) for e in spec.elems]
            return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        if spec.kind == "where":
            values = {k: v for k, v in nodes.attrs.items()}
            mask = self.array(spec.cond, values, nodes.n, "the where() condition") != 0
            return np.flatnonzero(mask).astype(np.int64)
        fam = nodes.family_table(spec.family)
        if spec.kind == "family":
            return np.arange(fam.start, fam.stop, dtype=np.int64)
        axes = []
        for k, sub in enumerate(spec.subs):
            if sub is None:
                axes.append(np.arange(fam.lo[k], fam.lo[k] + fam.shape[k]))
            else:
                v = self.number(sub, f"index {k + 1} of {spec.text}")
                if abs(v - round(v)) > 1e-9:
                    self.fail(sub.span, f"index {_g(v)} is not a whole number")
                iv = int(round(v))
                if not fam.lo[k] <= iv < fam.lo[k] + fam.shape[k]:
                    self.fail(sub.span, f"index out of range in {spec.text}: {iv} is outside "
                              f"{fam.lo[k]}..{fam.lo[k] + fam.shape[k] - 1}",
                              f"'{spec.family}' has indices "
                              + ", ".join(f"{l}..{l + s - 1}" for l, s in zip(fam.lo, fam.shape)))
                axes.append(np.array([iv]))
        if fam.ndim == 0:
            ids = fam.lookup.copy()
        else:
            mesh = np.meshgrid(*axes, indexing="ij")
            ids, _ = fam.ids([g.ravel() for g in mesh])
        return np.unique(ids[ids >= 0]).astype(np.int64)

    def check_predictions(self) -> None:
        """Numbers in predict statements: axes, options, quantile levels (all problems at once)."""
        m = self.model
        diags: list[Diagnostic] = []

        def num(e, what):
            try:
                v = numeric(self.sym(e), what)
            except (ValueError, ExprError, CompileError) as exc:
                diags.append(Diagnostic(getattr(e, "span", None), f"cannot evaluate {what}: {exc}"))
                return None
            if not math.isfinite(v):
                diags.append(Diagnostic(getattr(e, "span", None), f"{what} is not finite"))
                return None
            return v

        seen_q: set[int] = set()
        for p in m.predictions:
            for ob in p.observables:
                if ob.q is not None and id(ob) not in seen_q:
                    seen_q.add(id(ob))
                    q = num(ob.q, "the quantile level")
                    if q is not None and not 0 <= q <= 1:
                        diags.append(Diagnostic(ob.q.span, f"quantile level must lie in 0..1, got {_g(q)}",
                                                "quantile(F, 0.5) is the median"))
            for name, e in p.options.items():
                if name == "fit":
                    continue
                v = num(e, f"option '{name}'")
                if v is None:
                    continue
                if name in ("walkers", "realizations") and (v < 1 or v != int(v)):
                    diags.append(Diagnostic(e.span, f"{name} must be a positive whole number, got {_g(v)}"))
                elif name == "seed" and (v < 0 or v != int(v)):
                    diags.append(Diagnostic(e.span, f"seed must be a whole number >= 0, got {_g(v)}"))
                elif name == "t_max" and v <= 0:
                    diags.append(Diagnostic(e.span, f"t_max must be > 0, got {_g(v)}"))
            a = p.axis
            if a is None or a.kind == "stationary":
                continue
            if a.kind == "at":
                v = num(a.value, "the axis value")
                if v is not None and a.is_time and v < 0:
                    diags.append(Diagnostic(a.value.span, f"time must be >= 0, got {_g(v)}"))
                if v is not None and not a.is_time:
                    self._param_axis_range(a.var, v, v, a.value.span, diags)
                continue
            lo, hi = num(a.lo, "the start of the axis"), num(a.hi, "the end of the axis")
            pts = num(a.points, "points") if a.points is not None else None
            if pts is not None and (pts < 1 or pts != int(pts)):
                diags.append(Diagnostic(a.points.span, f"points must be a whole number >= 1, got {_g(pts)}"))
            if lo is None or hi is None:
                continue
            span = Span(a.lo.span.file, a.lo.span.line, a.lo.span.column, a.hi.span.end_line,
                        a.hi.span.end_column)
            if hi < lo or (hi == lo and (pts or 2) > 1):
                diags.append(Diagnostic(span, f"the axis range {_g(lo)}..{_g(hi)} is empty or reversed",
                                        "write A..B with A < B"))
            elif a.log and lo <= 0:
                diags.append(Diagnostic(a.lo.span, f"a log axis must start above 0, got {_g(lo)}",
                                        "start at a small positive value, e.g. 0.01"))
            elif a.is_time and lo < 0:
                diags.append(Diagnostic(a.lo.span, f"time must be >= 0, got {_g(lo)}"))
            if p.options.get("fit") and pts is not None and pts < 3:
                diags.append(Diagnostic(a.points.span, f"a fit needs at least 3 points, got {_g(pts)}"))
            if not a.is_time:
                self._param_axis_range(a.var, lo, hi, span, diags)
        if diags:
            raise CompileError(diags, self.sources)

    def _param_axis_range(self, var, lo, hi, span, diags) -> None:
        param = self.model.params.get(var)
        if param is None or param.lo is None:
            return
        plo = numeric(self.sym(param.lo))
        phi = numeric(self.sym(param.hi))
        if lo < plo or hi > phi:
            diags.append(Diagnostic(span, f"the sweep {_g(lo)}..{_g(hi)} leaves the range of "
                                    f"'{var}' ({_g(plo)}..{_g(phi)})",
                                    f"sweep inside {_g(plo)}..{_g(phi)} or widen the range at line "
                                    f"{param.span.line}"))

    def collect_sets(self, ob: Observable, nodes, sets, labels):
        for k, s in enumerate(ob.sets):
            ids = self.resolve_set(s, nodes)
            sets[s.text] = ids
            label = ob.name if len(ob.sets) == 1 else f"{ob.name}_{'ab'[k]}"
            labels[_label_name(label)] = ids


def _freeze(x) -> None:
    """Make every array inside ``x`` (dicts, lists, tuples) read-only."""
    if isinstance(x, np.ndarray):
        x.flags.writeable = False
    elif isinstance(x, dict):
        for v in x.values():
            _freeze(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _freeze(v)


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    """Concatenate, without a copy when there is one part."""
    if not parts:
        return np.zeros(0, dtype)
    if len(parts) == 1:
        return np.asarray(parts[0], dtype=dtype)
    return np.concatenate(parts).astype(dtype, copy=False)


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."


def _display_dir(path: Path) -> str:
    """A directory as the user would type it: relative to the working directory if below it."""
    try:
        rel = path.relative_to(Path.cwd().resolve())
        return str(rel) if str(rel) != "." else "."
    except ValueError:
        return str(path)


def _display_file(name: str) -> str:
    try:
        rel = Path(name).resolve().relative_to(Path.cwd().resolve())
        return str(rel)
    except (ValueError, OSError):
        return str(name)


def _label_name(text: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in text)
    if not out or out[0].isdigit():
        out = "l_" + out
    return out


def assemble_generator(src: np.ndarray, dst: np.ndarray, rates: np.ndarray, n: int) -> sp_sparse.csr_matrix:
    """``Q`` from transition lists: off-diagonal rates (parallel ones summed), diagonal = -row sum."""
    exit_ = np.bincount(src, weights=rates, minlength=n)
    rows = np.concatenate([src, np.arange(n)])
    cols = np.concatenate([dst, np.arange(n)])
    vals = np.concatenate([rates, -exit_])
    Q = sp_sparse.csr_matrix((vals, (rows, cols)), shape=(n, n))
    Q.sum_duplicates()
    Q.sort_indices()
    return Q


def attribute_values(cm: CompiledModel, expr) -> np.ndarray:
    """Evaluate an attribute expression (``F``, ``F_train + F_test``) on every node."""
    names: dict[str, sp.Expr] = {k: (sp.Integer(int(v)) if float(v).is_integer() and abs(v) < 2**62
                                     else sp.Float(v, 17)) for k, v in cm.params.items()}
    attr_syms = {a: sp.Symbol(f"attr_{a}") for a in cm.nodes.attrs}
    names.update(attr_syms)
    try:
        e = to_sympy(expr, Scope(names, lets=cm.model.lets))
    except ExprError as exc:
        raise CompileError([Diagnostic(getattr(exc.node, "span", None), exc.message, exc.hint)],
                           {cm.model.file: cm.model.source})
    values = {attr_syms[a]: cm.nodes.attrs[a] for a in cm.nodes.attrs if attr_syms[a] in e.free_symbols}
    return evaluate(e, values, cm.n)


def resolve_set(cm: CompiledModel, spec: SetSpec) -> np.ndarray:
    """Node ids of a set of the model, for this compiled realisation."""
    ids = cm.sets.get(spec.text)
    if ids is not None:
        return ids
    c = _Compiler(cm.model, cm.params, cm.seed, cm.realization, None, None, ())
    return c.resolve_set(spec, cm.nodes)


def compile_model(model: Model, params: Mapping[str, Any] | None = None, seed: int = 1,
                  realization: int = 0, *, max_states: int | None = None,
                  max_transitions: int | None = None, allow_path: Iterable[str] = (),
                  structure_cache: dict | None = None, undiluted: bool = False,
                  max_memory: str | int | None = None) -> CompiledModel:
    """Compile a checked model with parameter values and a seed.

    Parameters
    ----------
    model : Model
        From :func:`semdsl.semantics.check` (or :func:`semdsl.load`).
    params : mapping, optional
        Overrides of parameter defaults (``{"D": 2500}``); checked against the ranges.
    seed, realization : int
        Every random draw comes from ``SeedSequence(seed, spawn_key=(realization, ...))``.
    max_states, max_transitions : int, optional
        Refuse (before allocating) models larger than this.
    max_memory : int or str, optional
        Refuse (before allocating) a compile whose memory estimate exceeds this many
        bytes (``"4GB"`` also works); by default the limit of :func:`compile_limits`,
        else ``$SEMDSL_MAX_MEMORY``, else the memory available now.
    structure_cache : dict, optional
        Pass the same dict to several compiles (a parameter sweep): node families and
        realised edges are built once per structural parameter values, seed and
        realisation; only attributes and rates are evaluated again.
    undiluted : bool
        Keep every candidate edge and node that a ``with probability`` clause (or a
        generated graph's bond / site probability) would thin out, and record the
        probabilities in ``edge_prob`` / ``node_prob`` instead: the input of the
        Newman-Ziff percolation engine, which does the thinning itself.

    Returns
    -------
    CompiledModel
    """
    values = resolve_params(model, params)
    c = _Compiler(model, values, seed, realization, max_states, max_transitions, allow_path, undiluted,
                  max_memory)
    c.structure_cache = structure_cache
    return c.run()
