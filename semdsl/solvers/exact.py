"""Exact (direct sparse) solvers for finite continuous-time Markov chains.

All functions take a generator ``Q`` as a ``scipy.sparse`` matrix (any format;
dense arrays are accepted too) with ``Q[i, j]`` the rate of the transition
``i -> j`` for ``i != j`` and ``Q[i, i] = -sum_{j != i} Q[i, j]``; the master
equation is ``dP/dt = Q^T P`` (row vector ``P(t) = p0 exp(Q t)``).  Linear
systems are solved with a sparse LU factorisation (SuperLU through
:func:`scipy.sparse.linalg.splu`, minimum-degree ordering on ``A^T + A``).
"Exact" means "no Monte Carlo": linear-system answers are exact up to
floating-point round-off and the conditioning of the system, and every
truncated expansion (transient solutions) reports a bound on what it dropped.
Fill-in, and so time and memory, grow quickly on expander-like graphs (random
graphs with ~10^4 states already need seconds and ~10^7 LU entries);
lattice-like graphs of 10^5-10^6 states are fine.  Nothing loops over states or
transitions in Python; the only Python loops run over Poisson terms, Krylov
steps, output times or closed classes.

Functions
---------
:func:`stationary_distribution`
    ``pi`` with ``pi Q = 0``, ``sum(pi) = 1`` for an irreducible chain.
:func:`mean_first_passage`
    expected hitting time of a target set from every state.
:func:`transient`
    ``P(t) = p0 exp(Q t)`` on a set of times (uniformization with a rigorous
    truncation bound, :func:`scipy.sparse.linalg.expm_multiply`, or a
    shift-and-invert Krylov method for stiff chains at long times).
:func:`stationary`
    stationary distribution of any chain (closed classes, absorption weights
    from ``p0``), with an iterative fallback.
:func:`first_passage`
    hitting-time statistics from ``p0``: ``P(T < inf)``, ``E[T]``, ``E[T^2]``,
    ``E[T | T < inf]``, and the distribution ``P(T <= t)``.
:func:`committor`, :func:`spectrum`, :func:`kemeny_constant`
    forward committor, slowest relaxation modes, Kemeny's constant.
:func:`largest_cluster_fraction`, :func:`connected_sets`, :func:`min_reachable`
    graph observables of a realised landscape.
:func:`expect`, :func:`prob`, :func:`quantile`, :func:`msd`
    observables along a transient solution (vectorised over times).

Graph helpers (:func:`transition_graph`, :func:`can_reach`,
:func:`reach_surely`) are public because the solvers share the same
qualitative precomputations.

Numerical safeguards: stationary laws of reversible classes come from detailed
balance in log space (any rate ratio, e.g. ``e^-1400``); non-reversible classes
whose rates span more than :data:`GTH_RATE_RATIO` are solved by the
subtraction-free (GTH) elimination up to :data:`GTH_MAX_STATES` states, others by
sparse LU checked state by state.  Hitting-time, committor and absorption systems
are solved by sparse LU refined until a componentwise backward error in the rates
is below :data:`HITTING_BACKWARD_RTOL` (nearly closed sets -- deep traps, high
barriers -- defeat plain LU), with the same elimination as fallback.  Values
beyond the double range are ``inf`` with a note, never an error about singularity.
Poisson windows are not searched beyond ``q t = 2^50`` (such times go to the
Krylov engine or the stationary tail).

Errors: malformed input (not a generator, a ``p0`` that is not a probability
vector, out-of-range state ids) raises :class:`ValueError`; a well-formed
problem whose answer is not unique, infinite in a way the return type cannot
express, or not computable to the promised accuracy raises
:class:`semdsl.errors.NumericalError` with a message that says why and what to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla
import scipy.special as special

from semdsl.errors import Diagnostic, NumericalError

__all__ = [
    "as_generator",
    "transition_graph",
    "can_reach",
    "reach_surely",
    "stationary_distribution",
    "mean_first_passage",
    "Transient",
    "transient",
    "Stationary",
    "stationary",
    "FirstPassage",
    "first_passage",
    "committor",
    "Spectrum",
    "spectrum",
    "kemeny_constant",
    "largest_cluster_fraction",
    "connected_sets",
    "min_reachable",
    "expect",
    "prob",
    "quantile",
    "msd",
]

#: Relative tolerance for the row sums of a generator (relative to the
#: largest exit rate of the row).
ROW_SUM_RTOL = 1e-9


def as_generator(Q, *, check: bool = True) -> sp.csr_matrix:
    r"""Return ``Q`` as a canonical float64 CSR copy, checking that it is a generator.

    A generator has :math:`Q_{ij} \ge 0` for :math:`i \ne j` and
    :math:`\sum_j Q_{ij} = 0` (checked to :data:`ROW_SUM_RTOL` times the exit
    rate :math:`q_i = \sum_{j \ne i} Q_{ij}`).

    Parameters
    ----------
    Q : sparse or dense (n, n)
        Square matrix (not modified: a copy is returned).
    check : bool
        Verify finiteness, signs and row sums.

    Returns
    -------
    scipy.sparse.csr_matrix

    Raises
    ------
    ValueError
        If ``Q`` is not square, empty, or (with ``check``) not a CTMC generator.
    """
    Q = sp.csr_matrix(Q, dtype=np.float64, copy=True)
    Q.sum_duplicates()
    n, n2 = Q.shape
    if n != n2:
        raise ValueError(f"generator must be square, got shape {Q.shape}")
    if n == 0:
        raise ValueError("generator has no states")
    if check:
        if not np.all(np.isfinite(Q.data)):
            raise ValueError("generator has non-finite entries")
        rows = np.repeat(np.arange(n), np.diff(Q.indptr))
        off = Q.indices != rows
        if np.any(Q.data[off] < 0):
            raise ValueError("generator has negative off-diagonal rates")
        exit_rates = np.bincount(rows[off], weights=Q.data[off], minlength=n)
        row_sums = np.bincount(rows, weights=Q.data, minlength=n)
        bad = np.abs(row_sums) > ROW_SUM_RTOL * np.maximum(exit_rates, np.finfo(float).tiny)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"generator rows must sum to 0: row {i} sums to {row_sums[i]!r} (exit rate {exit_rates[i]!r}); "
                f"{int(bad.sum())} bad row(s)"
            )
    return Q


def transition_graph(Q) -> sp.csr_matrix:
    r"""Adjacency matrix of the transitions: :math:`A_{ij} = 1` iff :math:`i \ne j` and :math:`Q_{ij} > 0`.

    Parameters
    ----------
    Q : sparse or dense (n, n)

    Returns
    -------
    scipy.sparse.csr_matrix of int8
    """
    Q = sp.csr_matrix(Q)
    n = Q.shape[0]
    rows = np.repeat(np.arange(n), np.diff(Q.indptr))
    keep = (Q.indices != rows) & (Q.data > 0)
    return sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.int8), Q.indices[keep], np.concatenate(([0], np.cumsum(np.bincount(rows[keep], minlength=n))))),
        shape=Q.shape,
    )


def _reached_from(graph: sp.csr_matrix, sources: np.ndarray) -> np.ndarray:
    """Boolean mask of the nodes reachable in ``graph`` from any of ``sources`` (sources included)."""
    n = graph.shape[0]
    reached = np.zeros(n, dtype=bool)
    sources = np.asarray(sources, dtype=np.int64)
    if sources.size == 0:
        return reached
    # One breadth-first search from a virtual super-source (node n) linked to all sources.
    g = sp.csr_matrix(graph)
    indptr = np.concatenate((g.indptr, [g.indptr[-1] + sources.size]))
    indices = np.concatenate((g.indices, sources))
    aug = sp.csr_matrix((np.ones(indices.size, dtype=np.int8), indices, indptr), shape=(n + 1, n + 1))
    order = csgraph.breadth_first_order(aug, n, directed=True, return_predecessors=False)
    reached[order[order < n]] = True
    return reached


def can_reach(Q, target) -> np.ndarray:
    r"""States from which ``target`` is hit with positive probability: :math:`\{i : P_i(T_B < \infty) > 0\}` (``B`` included).

    One breadth-first search on the reversed transition graph.

    Parameters
    ----------
    Q : sparse or dense (n, n)
    target : array_like of int

    Returns
    -------
    ndarray of bool (n,)
    """
    A = transition_graph(Q)
    return _reached_from(A.T.tocsr(), _as_states(target, A.shape[0]))


def reach_surely(Q, target) -> np.ndarray:
    r"""States from which ``target`` is hit with probability 1: :math:`\{i : P_i(T_B < \infty) = 1\}` (``B`` included).

    A state reaches the target surely iff it cannot reach, without passing
    through the target, a state from which the target is unreachable (two
    breadth-first searches; decided on the graph, no arithmetic).

    Parameters
    ----------
    Q : sparse or dense (n, n)
    target : array_like of int

    Returns
    -------
    ndarray of bool (n,)
    """
    A = transition_graph(Q)
    n = A.shape[0]
    target = _as_states(target, n)
    is_target = np.zeros(n, dtype=bool)
    is_target[target] = True
    never = ~_reached_from(A.T.tocsr(), target)  # probability 0 of ever hitting the target
    # Remove the edges leaving the target, then search backwards from the "never" states.
    A_cut = A.copy()
    A_cut.data[np.repeat(is_target, np.diff(A.indptr))] = 0
    A_cut.eliminate_zeros()
    risky = _reached_from(A_cut.T.tocsr(), np.flatnonzero(never))
    return ~risky | is_target


def _as_states(states, n: int) -> np.ndarray:
    states = np.unique(np.asarray(states, dtype=np.int64).ravel())
    if states.size and (states[0] < 0 or states[-1] >= n):
        raise ValueError(f"state ids must lie in [0, {n - 1}]")
    return states


def _lu_solve(A, b: np.ndarray) -> np.ndarray:
    """Solve ``A x = b`` with SuperLU.

    The column ordering is minimum degree on the pattern of ``A^T + A``
    (``MMD_AT_PLUS_A``): the transition graphs of random walks are mostly
    structurally symmetric, and on them this ordering gives about half the
    fill-in of SuperLU's default ``COLAMD`` (and is 2-3x faster).
    """
    return spla.splu(sp.csc_matrix(A), permc_spec="MMD_AT_PLUS_A").solve(b)


def _lu_solve_rows(A, b: np.ndarray) -> np.ndarray:
    """Solve ``A x = b`` for a *row*-diagonally dominant ``A`` (such as ``-Q_SS``) by factorising ``A^T``.

    SuperLU pivots within columns.  ``A^T`` is column-diagonally dominant, so
    threshold partial pivoting keeps the diagonal pivots of the fill-reducing
    ordering (and elimination without row exchanges is stable); on ``A`` itself
    a state entered by faster rates than it leaves by forces off-diagonal pivots
    and the fill-in explodes (100x slower on a 100 x 100 Metropolis lattice).
    """
    return _factorize(A, transpose=True).solve(b)


def stationary_distribution(Q) -> np.ndarray:
    r"""Stationary distribution of an irreducible CTMC: :math:`\pi Q = 0`, :math:`\sum_i \pi_i = 1`.

    Solved as :func:`stationary` does (detailed balance in log space, subtraction-free
    elimination, or sparse LU checked state by state), which also handles reducible
    chains; this function insists on irreducibility.

    Parameters
    ----------
    Q : sparse or dense (n, n)
        Generator.

    Returns
    -------
    ndarray (n,)

    Raises
    ------
    ValueError
        If ``Q`` is not a generator or the chain is not irreducible (more than
        one strongly connected component).
    """
    Q = as_generator(Q)
    n = Q.shape[0]
    if n == 1:
        return np.ones(1)
    ncomp, comp = csgraph.connected_components(transition_graph(Q), directed=True, connection="strong")
    if ncomp != 1:
        sizes = np.bincount(comp)
        raise ValueError(
            f"the chain is not irreducible: its transition graph has {ncomp} strongly connected components "
            f"(largest {sizes.max()} of {n} states); the stationary distribution is not unique"
        )
    return stationary(Q).pi


def mean_first_passage(Q, target) -> np.ndarray:
    r"""Expected hitting time of the set ``target`` from every state.

    :math:`m_i = E_i[\inf\{t \ge 0 : X_t \in B\}]`: 0 on the target, ``inf``
    where the target is reached with probability < 1, and elsewhere the
    solution of :math:`-Q_{AA} m_A = 1` on the set ``A`` of non-target states that
    reach the target surely (transitions out of ``A`` only lead into ``A`` or
    the target, so :math:`Q_{AA}` is a non-singular sub-generator), accurate entry by
    entry also when the set is nearly closed (see :class:`_HittingSystem`).  Times
    beyond the double range are ``inf``.
    :func:`first_passage` adds moments, absorption probabilities and the
    distribution from an initial distribution.

    Parameters
    ----------
    Q : sparse or dense (n, n)
        Generator.
    target : array_like of int
        Target state ids (an empty target gives ``inf`` everywhere).

    Returns
    -------
    ndarray (n,)
    """
    Qc, _ = _canonical(Q)
    n = Qc.shape[0]
    target = _as_states(target, n)
    m = np.full(n, np.inf)
    m[target] = 0.0
    if target.size == 0:
        return m
    sure = reach_surely(Qc, target)
    sure[target] = False
    A = np.flatnonzero(sure)
    if A.size:
        m[A] = np.maximum(_HittingSystem(Qc, A, "hitting-time").solve(np.ones(A.size)), 0.0)
    return m


# =========================================================================== shared machinery

#: ``transient(method="auto")`` uses uniformization for every output time whose
#: Poisson window ends below this many terms (about ``q t + 7 sqrt(q t)``): the cost
#: is one sparse product per term, and the accumulated round-off (about
#: ``terms * 1e-16``) stays below the default tolerance.  Later times go to the
#: Krylov engine, whose cost does not grow with ``q t``.
UNIF_MAX_TERMS = 100_000
#: cost of one Krylov step in sparse products (one LU of ``I - gamma Q^T`` about every
#: other step plus 20-40 triangular solves; measured 1500-5000 on a 316 x 316 lattice);
#: ``auto`` hands a time to the Krylov engine when that is cheaper than more Poisson terms
KRYLOV_STEP_COST = 4000
#: below this l1 tolerance (TV 5e-11) ``auto`` uniformizes as far as UNIF_MAX_TERMS allows:
#: the Krylov engine's measured round-off (a few 1e-14 per step, more on stiff chains)
#: would use up the budget
KRYLOV_MIN_TOL = 1e-10
#: an explicit ``method="uniformization"`` refuses problems that need more terms
UNIF_HARD_MAX_TERMS = 50_000_000
#: an explicit ``method="expm_multiply"`` refuses problems that need more (estimated)
#: sparse products; its cost is about ``6 ||Q||_1 t_max`` products
EXPM_HARD_MAX_MATVECS = 50_000_000
#: dense eigen-solvers (``spectrum``, ``kemeny_constant``) are used up to this many states
DENSE_MAX_STATES = 2000
#: largest relative flux residual ``||pi Q||_1 / sum_i pi_i q_i`` accepted from a stationary solve
STATIONARY_RESIDUAL_RTOL = 1e-10
#: a probability vector must sum to 1 within this
PROB_SUM_ATOL = 1e-9
#: ``first_passage`` treats ``P(T < inf) >= 1 - SURE_ATOL`` as sure
SURE_ATOL = 1e-12
#: Krylov engine: largest subspace dimension per step; shift ``gamma`` / step length
#: for a new factorisation, and the range of that ratio in which a cached one is reused
#: (measured: about 18 vectors per step for tol 1e-10 anywhere in 0.03..0.1, and
#: twice as many outside 0.01..0.3)
KRYLOV_MAX_DIM = 40
KRYLOV_GAMMA_RATIO = 0.07
KRYLOV_GAMMA_RANGE = (0.02, 0.2)
#: a transient answer whose error bound (total variation) exceeds this raises NumericalError;
#: between ``tol`` and this, the answer is returned with a note
TRANSIENT_MAX_ERROR = 1e-6
#: the Krylov engine gives up (NumericalError) rather than take more steps than this, or
#: halve one step more often (a budget below the round-off floor of its bound is not
#: reached by smaller steps)
KRYLOV_MAX_STEPS = 2000
KRYLOV_MAX_HALVINGS = 8
#: sparse shift-invert eigen-solver: most zero eigenvalues (closed classes) it is asked to skip
SPARSE_EIG_MAX_CLASSES = 16
#: ``kemeny_constant(method="fundamental")``: largest estimated flop count of its O(n) solves
KEMENY_MAX_FLOPS = 2e11

#: ``_poisson_windows`` bisects on integers stored as doubles: above this mean
#: (``q t``) it does not try (the window would need more than 10^15 terms anyway)
POISSON_MAX_LAM = 2.0**50
POISSON_HUGE_R = 2**62

TRANSIENT_METHODS = ("auto", "uniformization", "expm_multiply", "krylov")
_UNIT_ROUNDOFF = 2.0**-53


def _numerical_error(message: str, hint: str | None = None) -> NumericalError:
    return NumericalError([Diagnostic(None, message, hint)])


def _canonical(Q) -> tuple[sp.csr_matrix, np.ndarray]:
    """Validated CSR copy of ``Q`` with the diagonal recomputed as ``-(off-diagonal row sum)``, and the exit rates.

    :func:`as_generator` accepts rows that sum to zero within :data:`ROW_SUM_RTOL`;
    recomputing the diagonal makes uniformized matrices stochastic to one rounding,
    so that no mass leaks over 10^5 products.
    """
    Q = as_generator(Q)
    n = Q.shape[0]
    rows = np.repeat(np.arange(n), np.diff(Q.indptr))
    off = (Q.indices != rows) & (Q.data != 0)
    counts = np.bincount(rows[off], minlength=n)
    W = sp.csr_matrix((Q.data[off], Q.indices[off], np.concatenate(([0], np.cumsum(counts)))), shape=(n, n))
    exit_rates = np.bincount(rows[off], weights=Q.data[off], minlength=n).astype(np.float64)
    Qc = (W - sp.diags(exit_rates)).tocsr()
    Qc.sum_duplicates()
    Qc.sort_indices()
    return Qc, exit_rates


def _as_distribution(p0, n: int, name: str = "p0") -> np.ndarray:
    """``p0`` as a fresh float64 probability vector of length ``n`` (entries >= 0, sum 1 within PROB_SUM_ATOL)."""
    p = np.asarray(p0.toarray() if sp.issparse(p0) else p0, dtype=np.float64).ravel().copy()
    if p.shape != (n,):
        raise ValueError(f"{name} must have one entry per state ({n}), got {p.size}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} has non-finite entries")
    if np.any(p < 0):
        raise ValueError(f"{name} has negative entries (smallest {p.min()!r})")
    total = p.sum()
    if abs(total - 1.0) > PROB_SUM_ATOL:
        raise ValueError(f"{name} must be a probability vector summing to 1, it sums to {total!r}")
    return p


def _as_times(times) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times as a fresh 1-D float array, sorted unique times, index of each time in the unique array)."""
    t = np.array(times, dtype=np.float64, copy=True)
    if t.ndim == 0:
        t = t.reshape(1)
    if t.ndim != 1:
        raise ValueError(f"times must be a scalar or a 1-D array, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError("times must be finite")
    if np.any(t < 0):
        raise ValueError(f"times must be >= 0 (smallest {t.min()!r})")
    uniq, inverse = np.unique(t, return_inverse=True)
    return t, uniq, inverse.ravel()


def _check_tol(tol) -> float:
    tol = float(tol)
    if not (1e-300 <= tol < 0.5):
        raise ValueError(f"tol must lie in [1e-300, 0.5), got {tol!r}")
    return tol


class _TransposedLU:
    """Solves ``A x = b`` with the LU factors of ``A^T`` (``trans="T"``)."""

    def __init__(self, lu):
        self.lu = lu
        self.L, self.U = lu.L, lu.U

    def solve(self, b):
        return self.lu.solve(b, trans="T")


def _factorize(A, *, transpose: bool = False):
    """SuperLU factorisation of ``A`` (ordering as in :func:`_lu_solve`); RuntimeError if exactly singular.

    ``transpose=True`` factorises ``A^T`` instead and returns an object whose
    ``solve`` still solves ``A x = b``: use it for row-diagonally dominant
    matrices (``-Q_SS``), see :func:`_lu_solve_rows`.  Column-dominant ones
    (``Q^T`` blocks, ``I - gamma Q^T``) are factorised as they are.
    """
    if transpose:
        return _TransposedLU(spla.splu(sp.csc_matrix(A.T), permc_spec="MMD_AT_PLUS_A"))
    return spla.splu(sp.csc_matrix(A), permc_spec="MMD_AT_PLUS_A")


def _submatrix(M: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> sp.csr_matrix:
    return M[rows][:, cols]


@dataclass(frozen=True)
class _Classes:
    """Communicating-class structure: strongly connected components and the closed ones among them."""

    ncomp: int
    comp: np.ndarray  # strongly connected component of each state
    closed_states: np.ndarray  # sorted ids of the states that lie in closed classes
    closed_label: np.ndarray  # class number (0..r-1) of each closed state; classes numbered by smallest member
    r: int  # number of closed classes

    def members(self) -> list[np.ndarray]:
        order = np.argsort(self.closed_label, kind="stable")
        counts = np.bincount(self.closed_label, minlength=self.r)
        return np.split(self.closed_states[order], np.cumsum(counts)[:-1])


def _classes(Qc: sp.csr_matrix) -> _Classes:
    G = transition_graph(Qc)
    n = G.shape[0]
    ncomp, comp = csgraph.connected_components(G, directed=True, connection="strong")
    rows = np.repeat(np.arange(n), np.diff(G.indptr))
    leaving = comp[rows] != comp[G.indices]
    is_open = np.zeros(ncomp, dtype=bool)
    is_open[comp[rows[leaving]]] = True
    closed_states = np.flatnonzero(~is_open[comp])
    labels = comp[closed_states]
    uniq, first = np.unique(labels, return_index=True)
    relabel = np.empty(ncomp, dtype=np.int64)
    relabel[uniq[np.argsort(first)]] = np.arange(uniq.size)
    return _Classes(int(ncomp), comp, closed_states, relabel[labels], int(uniq.size))


def _namer(names):
    """``names`` (None, a sequence indexed by state id, or a callable) as a function of a state id."""
    if names is None:
        return lambda i: str(int(i))
    if callable(names):
        return lambda i: str(names(int(i)))
    return lambda i: str(names[int(i)])


def _name_set(ids, names=None, show: int = 5) -> str:
    """``{a1, a2, ...} (12 nodes)``: up to ``show`` members by name, and the size when it is not 1 (``[0, 1, ...]`` by id without names)."""
    ids = np.asarray(ids, dtype=np.int64).ravel()
    name = _namer(names)
    inner = ", ".join(name(i) for i in ids[:show]) + (", ..." if ids.size > show else "")
    if names is None:  # state ids, as a list
        return "[" + inner + "]" + (f" ({ids.size:,} states)" if ids.size != 1 else "")
    return "{" + inner + "}" + (f" ({ids.size:,} nodes)" if ids.size != 1 else "")


def _describe_classes(members: list[np.ndarray], limit: int = 4, show: int = 5, names=None) -> str:
    parts = [_name_set(m, names, show) for m in members[:limit]]
    if len(members) > limit:
        parts.append(f"and {len(members) - limit} more")
    return ", ".join(parts)


# =========================================================================== subtraction-free elimination

#: the dense subtraction-free (Grassmann-Taksar-Heyman) elimination is used up to this many
#: states: O(m^3) time and O(m^2) memory (about 1 s and 8 MB at 1000 states); larger systems
#: rely on sparse LU with the componentwise checks below, and say so when those fail
GTH_MAX_STATES = 1000
#: a hitting-time solve ``(-Q_SS) x = b`` is accepted when its componentwise backward error in
#: the rates (every rate, exit rate and right-hand side entry perturbed by at most this,
#: relatively, makes ``x`` exact) is at most this
HITTING_BACKWARD_RTOL = 1e-12
#: most steps of iterative refinement before giving up on sparse LU
REFINE_MAX_STEPS = 10
#: a hitting-time solve too large for the elimination and not certified by its backward error
#: is returned with a note when its estimated relative error is below this; above it NumericalError
HITTING_UNCERTIFIED_MAX = 1e-6
#: ... and without a note below this estimated relative error (see ``_HittingSystem.forward_error``)
HITTING_FERR_QUIET = 1e-8
#: a stationary law from sparse LU is accepted when every state balances its in- and out-flux
#: to this (relative): ``|in_j - out_j| <= rtol (in_j + out_j)``; a normwise residual would not
#: see a small probability that is wrong by a large factor
STATIONARY_BALANCE_RTOL = 1e-10
#: ... and is still returned, with a note giving its accuracy, up to this imbalance (the relative
#: error of an entry is about twice its state's imbalance); beyond it NumericalError
STATIONARY_BALANCE_MAX = 1e-6
#: a non-reversible closed class whose rates span more than this ratio is solved by the
#: subtraction-free elimination when it is small enough: sparse LU's error on a small
#: probability grows like round-off times the ratio, and no residual test can bound it
GTH_RATE_RATIO = 1e6


def _state_reduction(A: np.ndarray, e: np.ndarray) -> np.ndarray:
    """In-place subtraction-free elimination of the M-matrix ``M = diag(A 1 + e) - A`` (``A >= 0`` off-diagonal).

    States are eliminated from the last to the first.  Eliminating ``k`` replaces the
    rates among the remaining states by those of the censored chain,
    ``A_ij += A_ik A_kj / d_k``, and their exit rates by ``e_i += A_ik e_k / d_k``,
    where the pivot ``d_k = sum_{j<k} A_kj + e_k`` is *recomputed as a sum of
    non-negative numbers* instead of being updated by subtraction (Grassmann, Taksar
    and Heyman 1985).  Every operation adds, multiplies or divides non-negative
    numbers, so each entry keeps a relative accuracy of a few units of round-off
    times ``m``, whatever the ratio of the rates (1e-300 next to 1 is fine).  The
    diagonal of ``A`` is ignored and left holding garbage.  Afterwards ``A[:k, k]`` and
    ``A[k, :k]`` hold the rates into and out of ``k`` at its elimination; the pivots
    are returned (``d_0`` is the first state's exit rate in the end: 0 for a closed
    class).  Ratios ``A_kj / d_k <= 1``, so nothing overflows that the rates themselves
    do not.
    """
    m = A.shape[0]
    d = np.zeros(m)
    e = np.array(e, dtype=np.float64, copy=True)
    buf = np.empty(max(m - 1, 0) ** 2)
    with np.errstate(under="ignore"):
        for k in range(m - 1, 0, -1):  # loop over eliminated states (dense, m <= GTH_MAX_STATES)
            row = A[k, :k]
            dk = float(row.sum()) + float(e[k])
            d[k] = dk
            if dk <= 0.0:
                continue  # k cannot leave (only possible for a closed class's last state)
            col = A[:k, k]
            t = buf[: k * k].reshape(k, k)
            np.multiply(col[:, None], row[None, :] / dk, out=t)
            A[:k, :k] += t
            if e[k] > 0.0:
                e[:k] += col * (e[k] / dk)
    if m:
        d[0] = e[0]
    return d


class _GTHSolver:
    """``(diag(W 1 + e) - W) x = b`` for ``b >= 0`` by :func:`_state_reduction` (dense, subtraction-free)."""

    method = "subtraction-free elimination (GTH, dense)"

    def __init__(self, W: sp.spmatrix, e: np.ndarray):
        A = W.toarray()
        np.fill_diagonal(A, 0.0)
        self.A = A
        self.d = _state_reduction(A, e)
        if self.d[0] <= 0.0:
            raise _numerical_error("the hitting-time system is singular: some states cannot leave the set")

    def solve(self, b: np.ndarray) -> np.ndarray:
        A, d = self.A, self.d
        m = d.size
        b = np.array(b, dtype=np.float64, copy=True)
        x = np.empty(m)
        # values beyond the double range become inf (never NaN: a zero rate times inf counts as 0)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            for k in range(m - 1, 0, -1):  # forward: fold each eliminated state's right-hand side into the rest
                if b[k] != 0.0:
                    f = b[k] / d[k]
                    col = A[:k, k]
                    b[:k] += col * f if math.isfinite(f) else np.where(col > 0, np.inf, 0.0)
            x[0] = b[0] / d[0]
            for k in range(1, m):  # back substitution (sums of non-negative terms)
                row, xs = A[k, :k], x[:k]
                fin = np.isfinite(xs)
                if fin.all():
                    dot = row @ xs
                elif np.any(row[~fin] > 0):
                    dot = np.inf
                else:
                    dot = row[fin] @ xs[fin]
                x[k] = (b[k] + dot) / d[k]
        return x


def _gth_stationary(W: sp.spmatrix) -> np.ndarray:
    """Stationary law of one irreducible class from its rate matrix (dense GTH; relative accuracy per entry).

    ``pi_k = sum_{i<k} pi_i A_ik / d_k`` after :func:`_state_reduction` with no exits;
    the recursion runs on ``log pi`` (a log-sum-exp per state), so ratios beyond the
    double range underflow to 0 only in the final normalisation.
    """
    A = W.toarray()
    np.fill_diagonal(A, 0.0)
    m = A.shape[0]
    d = _state_reduction(A, np.zeros(m))
    logpi = np.full(m, -np.inf)
    logpi[0] = 0.0
    with np.errstate(divide="ignore", under="ignore"):
        logA = np.log(A)
        for k in range(1, m):  # loop over states (dense, m <= GTH_MAX_STATES)
            logpi[k] = special.logsumexp(logpi[:k] + logA[:k, k]) - math.log(d[k])
    with np.errstate(under="ignore"):
        pi = np.exp(logpi - logpi.max())
    return pi / pi.sum()


def _off_diagonal(Qc: sp.csr_matrix) -> sp.csr_matrix:
    W = Qc - sp.diags(Qc.diagonal())
    W = sp.csr_matrix(W)
    W.eliminate_zeros()
    return W


class _HittingSystem:
    """Accurate solves of ``(-Q_SS) x = b`` (``b >= 0``): hitting probabilities, hitting-time moments, committors.

    ``-Q_SS = diag(W 1 + e) - W`` with ``W`` the rates within ``S`` and ``e`` the rates
    out of ``S`` (computed directly, not as ``q - W 1``).  Its diagonal is a sum of
    rates, and when ``S`` is nearly closed (exits ``e`` many decades below the rates
    within ``S``: a deep trap, a high barrier) elimination by subtraction cancels the
    exits away and plain LU gives answers wrong in every digit, or a singular factor.

    Each solve therefore starts from sparse LU of ``-Q_SS`` and refines it with the
    residual written without that cancellation, ``r_i = b_i - sum_j W_ij (x_i - x_j) -
    e_i x_i``, until the componentwise backward error (the largest relative change of
    the rates, exits and ``b`` that makes ``x`` exact) is below
    :data:`HITTING_BACKWARD_RTOL`; for an M-matrix this bounds the relative error of
    every entry (by about ``2 m`` times it, O'Cinneide's bound).  Where the solution is
    too flat next to its size for doubles to resolve its differences, that floor cannot be
    reached, and a first-order forward-error estimate decides instead
    (:meth:`forward_error`).  If the LU is too poor (or singular), systems of at most
    :data:`GTH_MAX_STATES` states are solved by subtraction-free elimination
    (:class:`_GTHSolver`), which is accurate entry by entry; larger ones are returned with a
    note when the estimate is below :data:`HITTING_UNCERTIFIED_MAX`, and otherwise raise
    :class:`NumericalError` saying why and what to change.
    """

    def __init__(self, Qc: sp.csr_matrix, S: np.ndarray, what: str, names=None):
        n = Qc.shape[0]
        self.S = S
        self.m = S.size
        self.what = what
        self.names = names
        Woff = _off_diagonal(Qc)
        inside = np.zeros(n, dtype=bool)
        inside[S] = True
        WS = Woff[S]
        self.e = np.asarray(WS @ (~inside).astype(np.float64)).ravel()
        self.W = sp.csr_matrix(WS[:, S])
        self.W.sort_indices()
        self._rows = np.repeat(np.arange(self.m), np.diff(self.W.indptr))
        self.lu = None
        self.gth = None
        self.steps = 0
        self.backward = 0.0
        self.last_note = ""
        self.ferr = 0.0
        self.method = "direct sparse LU (SuperLU)"
        if self.m <= 0:
            return
        try:
            M = sp.diags(np.asarray(self.W.sum(axis=1)).ravel() + self.e) - self.W
            self.lu = _factorize(M.tocsc(), transpose=True)
        except (RuntimeError, MemoryError) as exc:
            self._fallback(f"sparse LU failed ({exc})")

    def _fallback(self, why: str):
        if self.m > GTH_MAX_STATES:
            raise self._too_hard(why)
        self.gth = _GTHSolver(self.W, self.e)
        self.method = f"{_GTHSolver.method}, after {why}"

    def _too_hard(self, why: str) -> NumericalError:
        e = self.e[self.e > 0]
        W = self.W.data
        spread = ""
        if e.size and W.size:
            spread = f" (exit rates from the set down to {e.min():.3g}, rates within it up to {W.max():.3g})"
        return _numerical_error(
            f"the {self.what} system of {self.m:,} states is too ill-conditioned for sparse LU: {why}; "
            f"the walk leaves the set of non-target states almost never compared with how fast it moves "
            f"inside it{spread}",
            "lower beta or rescale F (or the rates) so that they span fewer decades, or use a model "
            f"with at most {GTH_MAX_STATES} such states (solved by subtraction-free elimination)",
        )

    def apply(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(-Q_SS) x`` without cancellation, and the sum of the absolute values of its terms."""
        W, rows = self.W, self._rows
        with np.errstate(over="ignore", invalid="ignore"):
            terms = W.data * (x[rows] - x[W.indices])
            y = np.bincount(rows, weights=terms, minlength=self.m) + self.e * x
            mag = np.bincount(rows, weights=np.abs(terms), minlength=self.m) + self.e * np.abs(x)
        return y, mag

    def backward_error(self, x: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray]:
        """Componentwise backward error ``max_i |r_i| / (sum_j |W_ij (x_i - x_j)| + e_i |x_i| + |b_i|)`` and ``r``."""
        y, mag = self.apply(x)
        r = b - y
        scale = mag + np.abs(b)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(scale > 0, np.abs(r) / np.where(scale > 0, scale, 1.0), np.where(r == 0, 0.0, np.inf))
        if not np.all(np.isfinite(x)):
            return np.inf, r
        return float(w.max()) if w.size else 0.0, r

    def forward_error(self, x: np.ndarray, r: np.ndarray, x0: np.ndarray) -> float:
        """Estimated largest relative error of ``x``: ``max_i (M^-1 (|r| + u |M| |x|))_i / |x_i|``.

        ``M^-1 >= 0`` for an M-matrix, so ``M^-1 |r|`` bounds the error to first order; the
        term ``u |M| |x|`` adds the rounding of ``x`` itself and of the residual (where ``x``
        is nearly constant next to its size its differences are resolved only to that).  The
        solve uses the LU factors, so the estimate is trusted only when the LU answer ``x0``
        was within 1% of the refined one; otherwise it is ``inf``.
        """
        ax = np.abs(x)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if not np.all(np.isfinite(x)) or np.max(np.abs(x0 - x) / np.maximum(ax, np.finfo(float).tiny)) > 1e-2:
                return np.inf
            W, rows = self.W, self._rows
            rep = np.bincount(rows, weights=W.data * (ax[rows] + ax[W.indices]), minlength=self.m) + self.e * ax
            z = self.lu.solve(np.abs(r) + _UNIT_ROUNDOFF * rep)
            if np.any(z < 0) or not np.all(np.isfinite(z)):
                return np.inf
            nz = ax > 0
            return float(np.max(z[nz] / ax[nz])) if np.any(nz) else 0.0

    def solve(self, b: np.ndarray, *, strict: bool = True) -> np.ndarray:
        """``x`` with ``(-Q_SS) x = b``; ``last_note`` says when it is not certified.

        Sparse LU, then iterative refinement while it pays (the backward error halves).
        Accepted at once when the componentwise backward error is at most
        :data:`HITTING_BACKWARD_RTOL`; otherwise by the forward-error estimate
        (:meth:`forward_error`): up to :data:`HITTING_FERR_QUIET` (1e-10 for systems
        small enough for the subtraction-free elimination, which takes over above it),
        with a note up to :data:`HITTING_UNCERTIFIED_MAX`, else NumericalError (or the
        answer with a note, ``strict=False``).
        """
        b = np.asarray(b, dtype=np.float64)
        self.last_note = ""
        if self.m == 0:
            return np.zeros(0)
        if self.gth is None:
            with np.errstate(over="ignore", invalid="ignore"):
                x = self.lu.solve(b)
            if not np.all(np.isfinite(x)):
                if self.m > GTH_MAX_STATES and np.all(np.isfinite(b)):
                    raise _numerical_error(
                        f"the {self.what} system of {self.m:,} states gave values beyond the double range "
                        "(hitting times above 1.8e308, or a numerically singular system)",
                        "lower beta or rescale F (or the rates): the answer needs rates that span fewer decades",
                    )
                self._fallback("sparse LU gave non-finite values")
                return self.solve(b, strict=strict)
            x0 = x
            omega, r = self.backward_error(x, b)
            best = (omega, x, r)
            steps = stall = 0
            while omega > HITTING_BACKWARD_RTOL and steps < REFINE_MAX_STEPS and stall < 2:
                with np.errstate(over="ignore", invalid="ignore"):
                    x = x + self.lu.solve(r)
                steps += 1
                omega, r = self.backward_error(x, b)
                stall = 0 if omega < 0.5 * best[0] else stall + 1
                if omega < best[0]:
                    best = (omega, x, r)
            omega, x, r = best
            self.steps = max(self.steps, steps)
            if steps and "refinement" not in self.method:
                self.method += " with iterative refinement"
            if omega <= HITTING_BACKWARD_RTOL:
                self.backward = max(self.backward, omega)
                return x
            ferr = self.forward_error(x, r, x0)
            small = self.m <= GTH_MAX_STATES
            if ferr <= (1e-10 if small else HITTING_FERR_QUIET):
                self.backward = max(self.backward, omega)
                self.ferr = max(self.ferr, ferr)
                return x
            why = (f"sparse LU with {steps} refinement step(s) reached a componentwise backward error "
                   f"of {omega:.2g} (estimated relative error {ferr:.2g})")
            if not small:
                if ferr <= HITTING_UNCERTIFIED_MAX or not strict:
                    self.last_note = (f"{self.what} values certified only to about {ferr:.1g} relative"
                                      if ferr <= HITTING_UNCERTIFIED_MAX else
                                      f"{self.what} values not certified ({why})")
                    self.backward = max(self.backward, omega)
                    self.ferr = max(self.ferr, ferr)
                    return x
            self._fallback(why)
        x = self.gth.solve(b)
        omega, _ = self.backward_error(x, b)
        self.backward = max(self.backward, omega if np.isfinite(omega) else 0.0)
        return x


# =========================================================================== Poisson weights


def _poisson_windows(lams: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truncation points of Poisson(lam) for each ``lam > 0`` (Fox-Glynn style).

    Returns integer arrays ``L <= R`` and the neglected masses
    ``delta = P(N < L) + P(N > R)``, where ``L`` is the largest and ``R`` the
    smallest integer with ``P(N < L) <= eps/2`` and ``P(N > R) <= eps/2``.  The
    tail masses are exact (regularised incomplete gamma functions,
    :func:`scipy.special.pdtr` / :func:`scipy.special.pdtrc`), so ``delta <= eps``
    is a rigorous statement, not Fox and Glynn's analytic over-estimate.  Both
    points are found by a vectorised bisection; both are non-decreasing in ``lam``.

    ``lam`` above :data:`POISSON_MAX_LAM` (where the bisection's integers would no
    longer be exact doubles) gets the sentinel window ``L = 0``,
    ``R = POISSON_HUGE_R``, ``delta = 1``: far more terms than any engine accepts,
    so such times always go to the Krylov engine, the relaxed tail, or an error.
    """
    lams = np.asarray(lams, dtype=np.float64)
    huge = lams > POISSON_MAX_LAM
    if np.any(huge):
        L = np.zeros(lams.shape, dtype=np.int64)
        R = np.full(lams.shape, POISSON_HUGE_R, dtype=np.int64)
        delta = np.ones(lams.shape)
        if np.any(~huge):
            L[~huge], R[~huge], delta[~huge] = _poisson_windows(lams[~huge], eps)
        return L, R, delta
    half = eps / 2.0
    # R: smallest R >= 0 with P(N > R) <= half.  Invariant: P(N > lo) > half (lo = -1 is a sentinel), P(N > hi) <= half.
    lo = np.full(lams.shape, -1.0)
    hi = np.ceil(lams + 40.0 * np.sqrt(lams) + 800.0)
    for _ in range(64):
        bad = special.pdtrc(hi, lams) > half
        if not bad.any():
            break
        hi[bad] *= 2.0
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2.0)
        ok = special.pdtrc(np.maximum(mid, 0.0), lams) <= half
        ok &= mid >= 0
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    R = hi
    # L: largest L >= 0 with P(N <= L - 1) <= half.  Invariant: lo valid, hi invalid (P(N <= R) > half).
    lo = np.zeros(lams.shape)
    hi = R + 1.0
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2.0)
        ok = (mid < 1) | (special.pdtr(np.maximum(mid - 1.0, 0.0), lams) <= half)
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    L = lo
    lower = np.where(L >= 1, special.pdtr(np.maximum(L - 1.0, 0.0), lams), 0.0)
    delta = lower + special.pdtrc(R, lams)
    return L.astype(np.int64), R.astype(np.int64), delta


def _poisson_weights(lam: float, L: int, R: int) -> np.ndarray:
    """Poisson(lam) probabilities of ``L..R``, normalised to sum 1.

    Log-ratios ``log(w_{k+1}/w_k) = log(lam/(k+1))`` are summed outward from the
    mode, so nothing under- or overflows and the relative error stays ~1e-13 even
    for ``lam ~ 1e8`` (``exp(-lam) lam^k / k!`` itself would underflow).
    """
    M = int(min(max(math.floor(lam), L), R))
    logw = np.zeros(R - L + 1)
    if R > M:
        logw[M - L + 1:] = np.cumsum(np.log(lam / np.arange(M + 1, R + 1, dtype=np.float64)))
    if M > L:
        logw[: M - L] = -np.cumsum(np.log(lam / np.arange(M, L, -1, dtype=np.float64)))[::-1]
    w = np.exp(logw)
    return w / w.sum()


# =========================================================================== transient engines


def _project(v: np.ndarray, proj: np.ndarray | None) -> np.ndarray:
    return v if proj is None else proj.T @ v


def _uniformized_transpose(Qc: sp.csr_matrix, exit_rates: np.ndarray, Lam: float) -> sp.csr_matrix:
    """``I + Q^T / Lam``: the transpose of the uniformized (row-stochastic) jump matrix."""
    off = Qc - sp.diags(Qc.diagonal())
    return (off.T / Lam + sp.diags(np.clip(1.0 - exit_rates / Lam, 0.0, 1.0))).tocsr()


def _unif_pass(PT, V, lams, eps, proj, keep_last=False):
    """One sweep ``v_m = (P^T)^m V``, ``m = 0..max R``, accumulating ``sum_m w_k(m) v_m`` for every ``lam_k``.

    ``lams`` sorted ascending and > 0.  Returns ``(out (K, c, b), delta (K,), last)``
    where ``last`` is the unprojected result for the largest ``lam`` (if ``keep_last``).
    """
    K = lams.size
    L, R, delta = _poisson_windows(lams, eps)
    width = R - L + 1
    W = np.zeros((K, int(width.max())))
    for k in range(K):  # one vectorised call per output time
        W[k, : width[k]] = _poisson_weights(float(lams[k]), int(L[k]), int(R[k]))
    n, b = V.shape
    c = n if proj is None else proj.shape[1]
    out = np.zeros((K, c, b))
    last = np.zeros((n, b)) if keep_last else None
    v = np.array(V, dtype=np.float64, copy=True)
    for m in range(int(R[-1]) + 1):  # loop over Poisson terms, not states
        if m:
            v = PT @ v
        klo = int(np.searchsorted(R, m, side="left"))
        khi = int(np.searchsorted(L, m, side="right"))
        if klo >= khi:
            continue
        w = W[np.arange(klo, khi), m - L[klo:khi]]
        pv = _project(v, proj)
        if khi - klo == 1:
            out[klo] += w[0] * pv
        else:
            out[klo:khi] += w[:, None, None] * pv
        if keep_last and khi == K:
            last += w[-1] * v
    return out, delta, last


def _uniformization(Qc, exit_rates, V, ts, tol_l1, proj, keep_last=False):
    """Uniformization for sorted times ``ts > 0``.

    ``P(t) = sum_m Poisson(m; Lam t) p0 P^m`` with ``P = I + Q/Lam``, ``Lam`` the
    largest exit rate.  With the weights of the window ``[L, R]`` renormalised to
    sum 1 and every ``p0 P^m`` a vector of l1 norm ``<= ||p0||_1``, the l1 error
    is at most ``2 delta ||p0||_1`` (``delta`` = neglected Poisson mass), i.e. a
    total-variation error ``<= delta`` for a probability vector.  Either one sweep
    serves all times (each time gets its own window and its own ``delta``) or, when
    cheaper (dense time grids at large ``Lam t``), the solution is stepped from one
    time to the next with ``eps / K`` per step (the bounds then add up; ``exp(Qt)``
    is an l1 contraction, so earlier errors do not grow).
    """
    Lam = float(exit_rates.max())
    PT = _uniformized_transpose(Qc, exit_rates, Lam)
    n, b = V.shape
    K = ts.size
    eps = tol_l1 / 2.0
    lams = Lam * ts
    L1, R1, _ = _poisson_windows(lams, eps)
    cost_sweep = float(R1[-1]) * PT.nnz + float((R1 - L1 + 1).sum()) * n
    cost_steps = np.inf
    if K > 1:
        steps = np.diff(np.concatenate(([0.0], lams)))
        L2, R2, _ = _poisson_windows(steps, eps / K)
        cost_steps = float(R2.sum()) * PT.nnz + float((R2 - L2 + 1).sum()) * n
    if cost_sweep <= cost_steps:
        out, delta, last = _unif_pass(PT, V, lams, eps, proj, keep_last)
        note = f"uniformization at rate {Lam:.6g}: one sweep of {int(R1[-1])} terms"
        return out, 2.0 * delta, last, note
    c = n if proj is None else proj.shape[1]
    out = np.zeros((K, c, b))
    bounds = np.zeros(K)
    v = np.array(V, dtype=np.float64, copy=True)
    acc = 0.0
    for k in range(K):
        o, d, _ = _unif_pass(PT, v, steps[k : k + 1], eps / K, None)
        v = o[0]
        acc += 2.0 * float(d[0])
        bounds[k] = acc
        out[k] = _project(v, proj)
    note = f"uniformization at rate {Lam:.6g}: stepped between {K} times, {int(R2.sum())} terms in all"
    return out, bounds, (v if keep_last else None), note


def _expm_engine(Qc, V, ts, proj):
    """:func:`scipy.sparse.linalg.expm_multiply` on ``Q^T`` (Al-Mohy & Higham's truncated Taylor series).

    A uniform grid goes through scipy's grid algorithm in one call; any other set
    of times is stepped from one time to the next.  The reported bound is the
    nominal one of the algorithm's backward-error analysis: the result is
    ``exp(t (Q^T + E)) p0`` with ``||E||_1 <= u ||Q^T||_1`` (``u = 2^-53``), hence
    an l1 error ``<= u ||Q^T||_1 t ||p0||_1`` to first order (norms are estimated
    by the algorithm, and round-off is not included).
    """
    A = Qc.T.tocsr()
    traceA = float(A.diagonal().sum())
    norm1 = float(abs(A).sum(axis=0).max())
    estimate = 6.0 * norm1 * float(ts[-1]) + 60.0 * ts.size
    if estimate > EXPM_HARD_MAX_MATVECS:
        raise _numerical_error(
            f"expm_multiply would need about {estimate:.3g} sparse products (||Q||_1 t_max = {norm1 * ts[-1]:.3g}); "
            "its cost grows linearly with the fastest rate times the time",
            "use method='auto' or 'krylov', whose cost does not grow with q t",
        )
    n, b = V.shape
    K = ts.size
    c = n if proj is None else proj.shape[1]
    out = np.zeros((K, c, b))
    uniform = K >= 3 and np.allclose(np.diff(ts), (ts[-1] - ts[0]) / (K - 1), rtol=1e-12, atol=0.0)
    if uniform:
        res = spla.expm_multiply(A, V, start=float(ts[0]), stop=float(ts[-1]), num=K, endpoint=True, traceA=traceA)
        for k in range(K):
            out[k] = _project(res[k], proj)
        how = f"expm_multiply on a uniform grid of {K} times"
    else:
        v = np.array(V, dtype=np.float64, copy=True)
        t_prev = 0.0
        for k in range(K):
            dt = float(ts[k] - t_prev)
            v = spla.expm_multiply(A * dt, v, traceA=traceA * dt)
            out[k] = _project(v, proj)
            t_prev = float(ts[k])
        how = f"expm_multiply stepped between {K} times"
    return out, _UNIT_ROUNDOFF * norm1 * ts, how


class _ShiftInvert:
    """LU factors of ``I - gamma A`` for the Krylov engine (the two most recent shifts are kept)."""

    def __init__(self, A: sp.csr_matrix):
        self.A = A
        self.I = sp.identity(A.shape[0], format="csr")
        self.cache: dict[float, object] = {}
        self.count = 0

    def pick(self, dt: float) -> float:
        """A shift for a step ``dt``: a cached one within ``KRYLOV_GAMMA_RANGE * dt``, else a new power of 2 near ``0.07 dt``."""
        lo, hi = KRYLOV_GAMMA_RANGE
        ok = [g for g in self.cache if lo * dt <= g <= hi * dt]
        if ok:
            return min(ok, key=lambda g: abs(math.log(g / (KRYLOV_GAMMA_RATIO * dt))))
        return 2.0 ** round(math.log2(KRYLOV_GAMMA_RATIO * dt))

    def get(self, gamma: float):
        if gamma not in self.cache:
            if len(self.cache) >= 2:
                self.cache.pop(next(iter(self.cache)))
            try:
                self.cache[gamma] = _factorize(self.I - gamma * self.A)
            except (RuntimeError, MemoryError) as exc:
                raise _numerical_error(
                    f"the Krylov engine could not factorise I - gamma Q^T (gamma = {gamma:.3g}): {exc}",
                    "use method='uniformization' or 'expm_multiply' (no factorisation, cost ~ q t)",
                ) from exc
            self.count += 1
        return self.cache[gamma]


def _rd_projection(Hm: np.ndarray, gamma: float, dt: float, resolution: float, rounding: float):
    """``exp(dt A_m) e_1`` and ``int_0^dt |e_m^T H_m^{-1} exp(s A_m) e_1| ds`` for ``A_m = (I - H_m^{-1}) / gamma``.

    Works on the eigen-decomposition ``H_m = X diag(mu) X^{-1}`` instead of forming
    ``H_m^{-1}``: a fast mode of the chain (rate ``>> 1/gamma``) appears as a tiny Ritz
    value ``mu ~ 1/(gamma q)``, possibly below round-off, and inverting ``H_m``
    would amplify its rounding error by ``(gamma q)^2``.  Mode by mode,
    ``exp(dt (1 - 1/mu)/gamma)`` is harmless (it is 0 for tiny ``mu``); modes with
    ``|mu| <= resolution`` are treated as infinitely fast (their contribution to
    the residual integral is its limit, ``gamma |x_m w|``).  The rest of the
    integral is a trapezoidal sum of ``|g|`` on a geometric grid reaching well
    inside the fastest resolved decay.  Ritz values may exceed 1 by ``rounding`` (the
    accuracy of ``H_m``); such modes are propagated without growth.  Returns
    ``(z, integral)``, or ``None`` if ``X`` is ill-conditioned or a mode grows
    beyond rounding.
    """
    m = Hm.shape[0]
    mu, X = np.linalg.eig(Hm)
    if not np.all(np.isfinite(mu)) or np.linalg.cond(X) > 1e10:
        return None
    e1 = np.zeros(m)
    e1[0] = 1.0
    w = np.linalg.solve(X, e1)  # X^{-1} e_1
    xm = X[m - 1, :]  # e_m^T X
    fast = np.abs(mu) <= resolution
    safe_mu = np.where(fast, 1.0, mu)
    a = (1.0 - 1.0 / safe_mu) / gamma  # eigenvalues of A_m
    growth = np.where(fast, 0.0, a.real * dt)
    if np.any(growth > rounding * dt / gamma):
        return None
    # a Ritz value within rounding of a non-growing one (the stationary value 1 computed as
    # 1 + 1e-12) is taken as non-growing; what this rounding does to the mass shows in the
    # caller's mass defect
    re = np.minimum(a.real, 0.0)
    with np.errstate(under="ignore"):
        f = np.where(fast, 0.0, np.exp(re * dt + 1j * a.imag * dt))
        z = (X @ (f * w)).real
        c = np.where(fast, 0.0, xm / safe_mu * w)
        # |g| integrated by the trapezoidal rule on a geometric grid that starts well inside the
        # fastest resolved decay (g is a sum of exponentials: the sum keeps their cancellations,
        # which a mode-by-mode triangle inequality would lose)
        rate = float(np.max(np.abs(a[~fast]))) if np.any(~fast) else 0.0
        start = min(1e-3 / rate, 1e-3 * dt) if rate > 0 else 1e-3 * dt
        grid = np.concatenate(([0.0], np.geomspace(start, dt, 160)))
        g = (np.exp(np.outer(grid, re + 1j * a.imag)) @ c).real
        absg = np.abs(g)
        integral = float(0.5 * np.sum((absg[1:] + absg[:-1]) * np.diff(grid))) + float(np.sum(gamma * np.abs(xm * w)[fast]))
    return z, integral


def _krylov_step(A, lu, v, dt, gamma, tol_abs):
    """``exp(dt A) v`` in the rational Krylov space of ``Z = (I - gamma A)^{-1}``, with an a-posteriori l1 bound.

    Arnoldi on ``Z`` gives ``Z V_m = V_m H_m + h v_{m+1} e_m^T`` and the
    approximation ``u(s) = beta V_m exp(s A_m) e_1`` with ``A_m = (I - H_m^{-1})/gamma``.
    Its residual is exactly ``r(s) = u' - A u = -(beta h / gamma) (I - gamma A) v_{m+1}
    g(s)`` with ``g(s) = e_m^T H_m^{-1} exp(s A_m) e_1``, and because ``exp(s A)``
    (``A = Q^T``) is an l1 contraction the error obeys ``||exp(dt A) v - u(dt)||_1 <=
    int_0^dt ||r(s)||_1 ds`` (see :func:`_rd_projection` for the integral).  That
    bound assumes exact arithmetic; the round-off it leaves out is measured by
    the mass defect ``|sum(y) - sum(v)|`` (exact propagation conserves the sum).
    Returns ``(y, bound, defect)``, or ``None`` if ``KRYLOV_MAX_DIM`` vectors do
    not bring the bound below ``tol_abs``.
    """
    n = v.size
    beta = float(np.linalg.norm(v))
    if beta == 0.0:
        return v.copy(), 0.0
    mass = float(v.sum())
    shift_scale = 1.0 + gamma * float(abs(A).sum(axis=0).max())  # ||I - gamma A||_1: the solves' error scale
    m_max = min(KRYLOV_MAX_DIM, n)
    Vb = np.empty((m_max + 1, n))
    H = np.zeros((m_max + 1, m_max))
    Vb[0] = v / beta
    for j in range(m_max):
        w = lu.solve(Vb[j])
        basis = Vb[: j + 1]
        h = basis @ w
        w -= basis.T @ h
        h2 = basis @ w  # classical Gram-Schmidt, twice
        w -= basis.T @ h2
        h += h2
        hn = float(np.linalg.norm(w))
        H[: j + 1, j] = h
        H[j + 1, j] = hn
        m = j + 1
        breakdown = hn <= 1e-13 * max(float(np.abs(h).max()), np.finfo(float).tiny) or m == n
        if not breakdown:
            Vb[m] = w / hn
        Hm = H[:m, :m]
        res = _rd_projection(
            Hm, gamma, dt, 64.0 * _UNIT_ROUNDOFF * max(float(np.abs(Hm).max()), 1.0), 64.0 * _UNIT_ROUNDOFF * shift_scale
        )
        if res is None:
            if breakdown:
                break
            continue
        z, integral = res
        if breakdown:  # invariant subspace: the projection is exact up to round-off
            bound = 0.0
        else:
            vn = Vb[m]
            rnorm = float(np.abs(vn - gamma * (A @ vn)).sum())
            bound = beta * hn / gamma * rnorm * integral
        if bound <= tol_abs and np.all(np.isfinite(z)):
            y = beta * (Vb[:m].T @ z)
            return y, bound, abs(float(y.sum()) - mass)
        if breakdown:
            break
    return None


def _krylov(Qc, V, t0, ts, tol_l1, proj):
    """Shift-and-invert Krylov engine: steps from ``t0`` through the sorted times ``ts``.

    Each step ``dt`` uses a shift ``gamma`` between ``0.02 dt`` and ``0.2 dt`` (a new
    one is a power of 2 near ``0.07 dt``; the two most recent factorisations of
    ``I - gamma Q^T`` are kept and reused) and gets an l1 budget of
    ``tol * ||v||_1 / K`` (shared in proportion to the step lengths); a step whose
    Krylov space does not reach its budget within ``KRYLOV_MAX_DIM`` vectors is
    halved (NumericalError beyond :data:`KRYLOV_MAX_STEPS` steps).  The bound
    reported for a step is its truncation bound plus four times its measured
    mass defect (an estimate of the round-off the truncation bound leaves out:
    on stiff chains the round-off error is mostly a mass defect plus a comparable
    error in the slow modes); bounds add up over steps (l1 contraction).

    Round-off is the real limit on stiff chains: the diagonal ``1 + gamma q_j`` of a
    state with a fast exit rate ``q_j`` keeps the "1" -- the only place where
    conservation of probability lives -- to ``u gamma q_j`` only, so each solve
    loses about that much mass.  Summed over the steps this is about
    ``0.07 u q t`` whatever the step size (``gamma ~ 0.07 dt``): it is reported in
    the bound, not hidden, and smaller steps would not help.
    """
    A = Qc.T.tocsr()
    n, b = V.shape
    K = ts.size
    c = n if proj is None else proj.shape[1]
    out = np.zeros((K, c, b))
    bounds = np.zeros(K)
    lus = _ShiftInvert(A)
    v = np.array(V, dtype=np.float64, copy=True)
    norms = np.abs(v).sum(axis=0)
    acc = np.zeros(b)
    t_cur = float(t0)
    nsteps = 0
    max_defect = 0.0
    step_hint = np.inf  # longest step that has worked lately (round-off limits it on stiff chains)
    for k in range(K):
        total = float(ts[k]) - t_cur
        for col in range(b):
            if norms[col] == 0.0:
                continue
            budget = tol_l1 * norms[col] / K
            done, step = 0.0, min(total, 2.0 * step_hint)
            limited = step < total
            halvings = 0
            y = v[:, col]
            while done < total * (1.0 - 1e-15):
                h = min(step, total - done)
                gamma = lus.pick(h)
                share = budget * h / total
                res = _krylov_step(A, lus.get(gamma), y, h, gamma, share)
                if res is None:
                    step = h / 2.0
                    limited = True
                    halvings += 1
                    if halvings > KRYLOV_MAX_HALVINGS or nsteps + (total - done) / step > KRYLOV_MAX_STEPS:
                        raise _numerical_error(
                            f"the Krylov engine does not converge between t = {t_cur:.6g} and t = {ts[k]:.6g} "
                            f"(tolerance {share:.2g} per step not reached after {halvings - 1} halvings of the step)",
                            "use method='uniformization' (rigorous, cost ~ q t) or increase tol",
                        )
                    continue
                y, bnd, defect = res
                acc[col] += bnd + 4.0 * defect
                max_defect = max(max_defect, defect / norms[col])
                done += h
                nsteps += 1
                step_hint = h if limited else np.inf
            v[:, col] = y
        t_cur = float(ts[k])
        out[k] = _project(v, proj)
        bounds[k] = float(np.max(acc / np.where(norms > 0, norms, 1.0)))
    note = (
        f"shift-and-invert Krylov: {nsteps} step(s), {lus.count} factorisation(s) of I - gamma Q^T, "
        f"largest mass defect per step {max_defect:.2g}"
    )
    return out, bounds, v, note


def _relaxed_tail(Qc, exit_rates, V, ts, tol_l1):
    """For a reversible irreducible chain: the times from which ``exp(t Q^T) V`` is its limit to within ``tol_l1 / 2``.

    Detailed balance makes ``exp(t Q^T)`` self-adjoint in the inner product
    weighted by ``1/pi``, so for ``d = v - pi sum(v)``
    ``||exp(t Q^T) v - pi sum(v)||_1 <= ||exp(t Q^T) d||_{1/pi} <= ||d||_{1/pi} exp(-g t)``
    (Cauchy-Schwarz, then the spectral gap ``g = -Re lambda_2``, taken with a 10%
    safety margin for its rounding error).  Returns ``(k0, pi, bound, gap)`` -- every
    ``ts[k] >= ts[k0]`` is within the tolerance, ``bound(t)`` gives the relative l1
    bound -- or ``None`` when the chain is not irreducible and reversible or the gap
    is not resolved.
    """
    n = Qc.shape[0]
    cl = _classes(Qc)
    if cl.ncomp != 1 or n < 2:
        return None
    try:
        pi = _closed_class_distributions(Qc, exit_rates, cl)[0]
        if np.any(pi <= 0):
            return None
        flux = (sp.diags(pi) @ (Qc - sp.diags(Qc.diagonal()))).tocsr()
        diff = abs(flux - flux.T).tocsr()
        scale = (abs(flux) + abs(flux.T)).tocsr()
        if diff.nnz and np.any(diff.data > 1e-9 * np.asarray(scale[diff.nonzero()]).ravel()):
            return None
        lam = spectrum(Qc, k=1).eigenvalues
    except NumericalError:
        return None
    gap = 0.9 * float(-lam.real[0])
    if not gap > 1e3 * _UNIT_ROUNDOFF * float(exit_rates.max()):
        return None
    dev = V - pi[:, None] * V.sum(axis=0)
    E = np.sqrt((dev**2 / pi[:, None]).sum(axis=0)) / np.maximum(np.abs(V).sum(axis=0), np.finfo(float).tiny)

    floor = 4.0 * n * _UNIT_ROUNDOFF  # pi itself is only known to round-off

    def bound(t):
        return float(E.max() * math.exp(-gap * float(t))) + floor

    need = tol_l1 / 2.0
    t_star = max(0.0, math.log(max(float(E.max()), need) / need) / gap)
    return int(np.searchsorted(ts, t_star, side="left")), pi, bound, gap / 0.9


def _propagate(Qc, exit_rates, V, ts, *, method, tol_l1, proj=None):
    """``exp(t Q^T) V`` for the sorted unique times ``ts >= 0`` (``V`` is ``n x b``).

    Returns ``(out, bounds, method, notes)``: ``out[k] = proj^T exp(ts[k] Q^T) V``
    (``c x b``, ``c = n`` without ``proj``), ``bounds[k]`` a bound on the l1 error
    relative to ``||V||_1`` (column-wise maximum).
    """
    n, b = V.shape
    c = n if proj is None else proj.shape[1]
    K = ts.size
    out = np.zeros((K, c, b))
    bounds = np.zeros(K)
    Lam = float(exit_rates.max())
    pos = ts > 0
    out[~pos] = _project(V, proj)
    if not pos.any():
        return out, bounds, "none", "all times are 0"
    if Lam == 0.0:
        out[:] = _project(V, proj)
        return out, bounds, "none", "the chain has no transitions: P(t) = p0"
    tp = ts[pos]
    engine = method
    if method in ("auto", "auto_no_tail"):
        # uniformization for the first nu times, Krylov steps for the rest: the nu that minimises
        # (Poisson terms of the sweep) + KRYLOV_STEP_COST * (Krylov steps), with at most UNIF_MAX_TERMS terms
        _, R, _ = _poisson_windows(Lam * tp, tol_l1 / 2.0)
        nmax = int(np.searchsorted(R, UNIF_MAX_TERMS, side="right"))
        cost = np.concatenate(([0.0], R[:nmax].astype(np.float64))) + KRYLOV_STEP_COST * (tp.size - np.arange(nmax + 1))
        nu = int(np.argmin(cost[::-1]))
        nu = nmax - nu  # ties go to more uniformization (rigorous a-priori bound)
        if tol_l1 < KRYLOV_MIN_TOL:  # below the Krylov engine's round-off floor: uniformize as far as allowed
            nu = nmax
        engine = "uniformization" if nu == tp.size else ("krylov" if nu == 0 else "uniformization+krylov")
    else:
        nu = tp.size
    tail = None
    if method == "auto" and nu < tp.size:
        tail = _relaxed_tail(Qc, exit_rates, V, tp, tol_l1)
        if tail is not None and tail[0] < tp.size:
            k0 = max(tail[0], nu)
            pi, relax = tail[1], tail[2]
            o_tail = np.stack([_project(pi[:, None] * V.sum(axis=0), proj)] * (tp.size - k0))
            b_tail = np.array([relax(t) for t in tp[k0:]])
            head_out, head_b, head_engine, head_note = (
                _propagate(Qc, exit_rates, V, tp[:k0], method="auto_no_tail", tol_l1=tol_l1 / 2.0, proj=proj)
                if k0 > 0
                else (np.zeros((0, c, b)), np.zeros(0), "", "")
            )
            out[pos] = np.concatenate((head_out, o_tail))
            bounds[pos] = np.concatenate((head_b, b_tail))
            engine = (head_engine + "+" if head_engine else "") + "stationary"
            note = (head_note + "; " if head_note else "") + (
                f"from t = {tp[k0]:.6g} on: the stationary distribution (reversible chain, spectral gap "
                f"{tail[3]:.3g}; relaxation bound {b_tail[0]:.2g})"
            )
            return out, bounds, engine, note
    if engine == "uniformization":
        _, R, _ = _poisson_windows(Lam * tp[-1:], tol_l1 / 2.0)
        if R[-1] > UNIF_HARD_MAX_TERMS:
            raise _numerical_error(
                f"uniformization would need {int(R[-1]):,} Poisson terms (q t_max = {Lam * tp[-1]:.3g})",
                "use method='auto' or 'krylov' for stiff chains or long times",
            )
        o, bd, _, note = _uniformization(Qc, exit_rates, V, tp, tol_l1, proj)
    elif engine == "expm_multiply":
        o, bd, note = _expm_engine(Qc, V, tp, proj)
    elif engine == "krylov" and method == "krylov":
        o, bd, _, note = _krylov(Qc, V, 0.0, tp, tol_l1, proj)
    else:  # auto: uniformization up to the last cheap time, Krylov from there (tolerance split in halves)
        try:
            if nu:
                o1, b1, last, note1 = _uniformization(Qc, exit_rates, V, tp[:nu], tol_l1 / 2.0, proj, keep_last=True)
                o2, b2, _, note2 = _krylov(Qc, last, float(tp[nu - 1]), tp[nu:], tol_l1 / 2.0, proj)
                o = np.concatenate((o1, o2))
                bd = np.concatenate((b1, b2 + b1[-1]))
                note = f"{note1} up to t = {tp[nu - 1]:.6g}; then {note2}"
            else:
                o, bd, _, note = _krylov(Qc, V, 0.0, tp, tol_l1, proj)
        except NumericalError as exc:
            _, R, _ = _poisson_windows(Lam * tp[-1:], tol_l1 / 2.0)
            if R[-1] > UNIF_HARD_MAX_TERMS:
                raise
            reason = exc.diagnostics[0].message
            o, bd, _, note = _uniformization(Qc, exit_rates, V, tp, tol_l1, proj)
            engine = "uniformization"
            note = f"{note} (the Krylov engine failed: {reason})"
    out[pos] = o
    bounds[pos] = bd
    return out, bounds, engine, note


# =========================================================================== transient


@dataclass(frozen=True)
class Transient:
    """Result of :func:`transient`.

    Attributes
    ----------
    times : ndarray
        The requested times, in the order given.
    P : ndarray
        ``len(times) x n``: row ``k`` is ``P(times[k])``.
    method : str
        Engine used: ``"uniformization"``, ``"expm_multiply"``, ``"krylov"``,
        ``"uniformization+krylov"`` or ``"none"`` (all times 0 / no transitions).
    error_bound : float
        Bound on the total-variation distance ``max_k TV(P_k, exact)`` (see
        :func:`transient` for what it covers).
    error_bounds : ndarray
        The bound for each time.
    note : str
        What was done, and any clipping of negative round-off larger than ``tol``.
    """

    times: np.ndarray
    P: np.ndarray
    method: str
    error_bound: float
    error_bounds: np.ndarray = field(repr=False)
    note: str = ""


def transient(Q, p0, times, *, method: str = "auto", tol: float = 1e-10) -> Transient:
    r"""Transient distribution :math:`P(t) = p_0 \exp(Q t)` (the solution of :math:`dP/dt = Q^T P`).

    Parameters
    ----------
    Q : sparse or dense (n, n)
        Generator, ``Q[i, j]`` = rate ``i -> j``.
    p0 : array_like (n,)
        Initial distribution (non-negative, sums to 1).
    times : float or array_like
        Times ``>= 0`` in any order (log-spaced, unsorted, repeated, ``0`` allowed);
        the rows of the result follow this order.
    method : {"auto", "uniformization", "expm_multiply", "krylov"}
        ``"uniformization"``:
        :math:`P(t) = \sum_{m=L}^{R} \mathrm{Pois}(m; \Lambda t)\, p_0 (I + Q/\Lambda)^m`
        with :math:`\Lambda = \max_i q_i`; ``L`` and ``R`` are chosen (Fox-Glynn style,
        from exact Poisson tails) so that the neglected Poisson mass ``delta``
        is ``<= tol``, and the kept weights are renormalised, which bounds the
        total-variation error by ``delta``.  All terms are non-negative (no
        cancellation, accurate on stiff chains); the cost is about
        :math:`\Lambda t_{max}` sparse products.
        ``"expm_multiply"``: :func:`scipy.sparse.linalg.expm_multiply` on ``Q^T``
        (one call for a uniform grid, else stepped through the sorted times); its
        bound is the nominal backward-error one, :math:`u \|Q\|_1 t / 2`.  Its cost is
        about :math:`6 \|Q\|_1 t` products, several times that of uniformization.
        ``"krylov"``: shift-and-invert (rational) Krylov steps,
        :math:`\exp(t Q^T) v \approx \beta V_m \exp(t (I - H_m^{-1})/\gamma) e_1` in the
        Krylov space of :math:`(I - \gamma Q^T)^{-1}`, with an a-posteriori bound from the
        exact residual; the cost does not grow with :math:`\Lambda t`, so it is the
        engine for stiff chains (rates over many decades) at long times.
        ``"auto"``: uniformization for the earlier times, Krylov steps for the later
        ones (starting from the last uniformized solution; the tolerance is split
        between the two): the split minimises the estimated cost, counting a Krylov
        step as :data:`KRYLOV_STEP_COST` (2000) sparse products, and uniformization
        never goes beyond :data:`UNIF_MAX_TERMS` (1e5) Poisson terms.  Moderate
        ``q t_max`` therefore gives pure uniformization (with its rigorous bound).
    tol : float
        Total-variation tolerance of the truncation (uniformization, Krylov).

    Returns
    -------
    Transient
        ``P`` is ``len(times) x n``; ``error_bound`` bounds the total-variation
        error of every row from truncation (uniformization: rigorous, from exact
        Poisson tails; Krylov: from the residual, integrated by quadrature;
        expm_multiply: nominal).  Floating-point round-off is not included (about
        ``1e-16`` per sparse product).  Negative round-off is clipped to 0;
        ``note`` says so if any entry was below ``-tol``.

    Raises
    ------
    ValueError
        If ``Q`` is not a generator, ``p0`` not a probability vector, a time is
        negative or not finite, or ``method``/``tol`` are invalid.
    NumericalError
        If the chosen engine cannot reach the accuracy or would need an
        unreasonable number of products, or the result lost more than 1e-6 of
        its mass.
    """
    if method not in TRANSIENT_METHODS:
        raise ValueError(f"method must be one of {TRANSIENT_METHODS}, got {method!r}")
    tol = _check_tol(tol)
    Qc, exit_rates = _canonical(Q)
    n = Qc.shape[0]
    p = _as_distribution(p0, n)
    t, uniq, inverse = _as_times(times)
    out, bounds, used, note = _propagate(Qc, exit_rates, p[:, None], uniq, method=method, tol_l1=2.0 * tol)
    P = out[:, :, 0][inverse]
    error_bounds = 0.5 * bounds[inverse]
    notes = [note]
    accuracy_note = _accuracy_check(error_bounds, t, tol, exit_rates, "total variation")
    P, clip_note = _clip_distribution_rows(P, tol, error_bounds)
    notes += [x for x in (accuracy_note, clip_note) if x]
    return Transient(
        times=t,
        P=P,
        method=used,
        error_bound=float(error_bounds.max()) if error_bounds.size else 0.0,
        error_bounds=error_bounds,
        note="; ".join(notes),
    )


def _accuracy_check(bounds: np.ndarray, times: np.ndarray, tol: float, exit_rates: np.ndarray, what: str) -> str:
    """NumericalError if an error bound exceeds :data:`TRANSIENT_MAX_ERROR`; a note if it exceeds ``tol``."""
    if not bounds.size:
        return ""
    k = int(np.argmax(bounds))
    worst = float(bounds[k])
    if worst > max(tol, TRANSIENT_MAX_ERROR):
        raise _numerical_error(
            f"the transient solution at t = {times[k]:.6g} is only good to {worst:.2g} in {what} (asked for {tol:.2g}): "
            f"the chain is too stiff at this time (fastest exit rate {float(exit_rates.max()):.3g}; round-off in the "
            "propagation grows like 1e-17 x rate x time)",
            "for times beyond the slowest relaxation use stationary() (spectrum() gives the relaxation times), "
            "or shorten the time axis",
        )
    if worst > tol:
        return (
            f"accuracy limited by round-off: error bound up to {worst:.2g} ({what}) "
            f"at t = {times[k]:.6g}, above tol = {tol:.2g}"
        )
    return ""


def _clip_distribution_rows(P: np.ndarray, tol: float, bounds: np.ndarray) -> tuple[np.ndarray, str]:
    """Clip negative round-off of probability rows to 0; raise if a row's mass defect exceeds its error bound."""
    note = ""
    if P.size:
        low = float(P.min())
        if low < 0.0:
            if -low > tol:
                note = f"clipped negative entries down to {low:.3g} (below -tol = {-tol:.3g}) to 0"
            np.maximum(P, 0.0, out=P)
        mass_err = np.abs(P.sum(axis=1) - 1.0)
        bad = mass_err > 2.0 * bounds + 1e-9  # |sum P - 1| <= ||P - exact||_1 <= 2 TV bound (+ round-off)
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            raise _numerical_error(
                f"the transient solution loses {mass_err[k]:.3g} of its probability, more than its error bound allows "
                f"({bounds[k]:.2g} in total variation)",
                "the chain is too stiff for this engine at these times; try method='auto'",
            )
    return P, note


# =========================================================================== stationary


@dataclass(frozen=True)
class Stationary:
    """Result of :func:`stationary`.

    Attributes
    ----------
    pi : ndarray
        Stationary distribution (length ``n``); zero on transient states.
    method : str
        How the stationary laws were found (detailed balance, subtraction-free
        elimination, direct sparse LU with or without iterative refinement, or GMRES
        with an ILU or Jacobi preconditioner).
    closed_classes : list of ndarray
        State ids of each closed (recurrent) communicating class, numbered by
        their smallest member.
    reducible : bool
        More than one strongly connected component.
    depends_on_init : bool
        More than one closed class: ``pi`` is the ``p0``-weighted mixture.
    note : str
        What was done.
    weights : ndarray
        Mixture weight of each closed class (probability of ending in it).
    residual : float
        Largest relative flux residual ``||(pi_c Q)||_1 / sum_i pi_c,i q_i`` over the classes
        (for detailed balance and the subtraction-free elimination: the largest relative
        imbalance of a transition's or a state's flux, a componentwise measure).
    caveat : str
        Non-empty when the answer is returned but not certified entry by entry (a large
        non-reversible chain whose rates span many decades); ``note`` includes it.
    """

    pi: np.ndarray
    method: str
    closed_classes: list
    reducible: bool
    depends_on_init: bool
    note: str
    weights: np.ndarray = field(repr=False, default=None)
    residual: float = 0.0
    caveat: str = ""


def _robust_solve(A: sp.csc_matrix, rhs: np.ndarray, residual_of, what: str):
    """Solve ``A x = rhs``: SuperLU, iterative refinement, then GMRES (ILU, else Jacobi preconditioner).

    ``residual_of(x)`` returns the relative residual that decides acceptance
    (``<= STATIONARY_RESIDUAL_RTOL``).  Returns ``(x, method, residual)``.
    """
    x = None
    why = ""
    try:
        lu = _factorize(A)
        with np.errstate(all="ignore"):
            x = lu.solve(rhs)
            res = residual_of(x)
        if res <= STATIONARY_RESIDUAL_RTOL:
            return x, "direct sparse LU (SuperLU)", res
        for _ in range(2):
            with np.errstate(all="ignore"):
                x = x + lu.solve(rhs - A @ x)
                res = residual_of(x)
            if res <= STATIONARY_RESIDUAL_RTOL:
                return x, "direct sparse LU (SuperLU) with iterative refinement", res
        why = f"direct solve residual {res:.2g}"
    except (RuntimeError, MemoryError) as exc:
        why = f"direct solve failed ({exc})"
    n = A.shape[0]
    x0 = x if x is not None and np.all(np.isfinite(x)) else None
    try:
        ilu = spla.spilu(sp.csc_matrix(A), drop_tol=1e-10, fill_factor=20)
        M = spla.LinearOperator(A.shape, matvec=ilu.solve)
        prec = "ILU"
    except (RuntimeError, MemoryError):
        d = A.diagonal()
        M = spla.LinearOperator(A.shape, matvec=lambda v: v / d)
        prec = "Jacobi"
    with np.errstate(all="ignore"):  # a diverging iteration is judged by its residual, not by warnings
        x, info = spla.gmres(A, rhs, x0=x0, rtol=1e-14, atol=0.0, restart=min(100, n), maxiter=50, M=M)
        res = residual_of(x) if np.all(np.isfinite(x)) else np.inf
    if res <= STATIONARY_RESIDUAL_RTOL:
        return x, f"GMRES with {prec} preconditioner ({why})", res
    raise _numerical_error(
        f"could not solve for the {what}: {why}; GMRES ({prec}) reached relative residual {res:.2g} "
        f"(need <= {STATIONARY_RESIDUAL_RTOL:g})",
        "the chain is numerically singular at this precision (rates spanning too many decades?)",
    )


def _reversible_distribution(Qc, states, lab, r):
    """``(pi, balance)`` from detailed balance, when the closed classes satisfy it; else None.

    ``pi_i R_ij = pi_j R_ji`` fixes ``log pi`` along a spanning tree of each class
    (pointer doubling in :func:`semdsl.analysis._potential`, O(n log depth));
    Kolmogorov's criterion is then checked on every transition.  No linear system is
    factorised, so a reversible landscape's stationary law costs a few array passes.
    Everything happens in log space, so rate ratios beyond the double range (``e^-1400``)
    are fine: probabilities below 1e-308 of the largest underflow to 0, their correctly
    rounded value.  ``balance`` is the largest relative violation of detailed balance
    over the transitions, ``max |pi_i R_ij / (pi_j R_ji) - 1|`` (a componentwise check).
    """
    from ..analysis import _potential
    n = Qc.shape[0]
    sub = _submatrix(Qc, states, states).tocoo()
    off = sub.row != sub.col
    rows, cols, vals = sub.row[off], sub.col[off], sub.data[off]
    keep = vals > 0
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    m = states.size
    if rows.size == 0:
        return None
    R = sp.csr_matrix((vals, (rows, cols)), shape=(m, m))
    rev = np.asarray(R[cols, rows]).ravel()
    if np.any(rev <= 0):
        return None
    lr = np.log(vals) - np.log(rev)
    LR = sp.csr_matrix((lr, (rows, cols)), shape=(m, m))
    adj = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(m, m))
    phi = _potential(adj, LR)
    mismatch = np.abs(phi[cols] - phi[rows] - lr)
    if np.any(mismatch > 1e-9 * (1.0 + np.abs(lr) + np.abs(phi[rows]))):
        return None
    # detailed balance checked in log space, edge by edge: pi_i R_ij / (pi_j R_ji) = exp(mismatch); the
    # rounding of the log-space sums themselves (a few ulps of |phi|) is allowed on top of the tolerance
    rounding = 16.0 * _UNIT_ROUNDOFF * (1.0 + np.abs(lr) + np.abs(phi[rows]) + np.abs(phi[cols]))
    if np.any(mismatch - rounding > STATIONARY_RESIDUAL_RTOL):
        return None
    top = np.full(r, -np.inf)
    np.maximum.at(top, lab, phi)
    with np.errstate(under="ignore"):
        w = np.exp(phi - top[lab])
    tot = np.bincount(lab, weights=w, minlength=r)
    out = np.zeros(n)
    out[states] = w / tot[lab]
    return out, float(np.expm1(mismatch.max())) if mismatch.size else 0.0


def _closed_class_distributions(Qc, exit_rates, cl: _Classes, names=None):
    """Stationary distribution of every closed class at once (length-``n`` array, each class summing to 1).

    The closed classes do not communicate, so ``Q`` restricted to their union is
    block diagonal.  One state per class (its largest exit rate) is pinned to 1 and
    the remaining equations ``(pi Q)_j = 0`` form one non-singular sparse system
    ``Q^T[U, U] x = -Q^T[U, pins] 1`` for all classes together.
    """
    n = Qc.shape[0]
    states, lab, r = cl.closed_states, cl.closed_label, cl.r
    order = np.lexsort((-exit_rates[states], lab))
    first = np.searchsorted(lab[order], np.arange(r))
    pins = states[order[first]]
    is_pin = np.zeros(n, dtype=bool)
    is_pin[pins] = True
    unknown = states[~is_pin[states]]
    class_of = np.full(n, -1, dtype=np.int64)
    class_of[states] = lab
    QT = Qc.T.tocsr()

    def assemble(x):
        val = np.zeros(n)
        val[pins] = 1.0
        val[unknown] = x
        np.maximum(val, 0.0, out=val)
        tot = np.bincount(lab, weights=val[states], minlength=r)
        val[states] /= tot[lab]
        return val

    def residual_of(x):
        val = assemble(x)
        if not np.all(np.isfinite(val)):
            return np.inf
        flux = QT @ val
        res = np.bincount(lab, weights=np.abs(flux[states]), minlength=r)
        scale = np.bincount(lab, weights=val[states] * exit_rates[states], minlength=r)
        rel = np.divide(res, scale, out=np.zeros(r), where=scale > 0)
        return float(rel.max()) if r else 0.0

    if unknown.size == 0:
        return assemble(np.zeros(0)), "trivial (singleton classes)", 0.0, ""
    guess = _reversible_distribution(Qc, states, lab, r)
    if guess is not None:
        return guess[0], "detailed balance (potential on a spanning tree, no factorisation)", guess[1], ""
    sizes = np.bincount(lab, minlength=r)
    big = sizes > 1
    W = _off_diagonal(Qc)
    inner = _submatrix(W, states, states).data
    ratio = float(inner.max() / inner.min()) if inner.size else 1.0
    if ratio > GTH_RATE_RATIO and int(sizes[big].sum()) <= GTH_MAX_STATES:
        # rates over many decades: sparse LU could cancel small probabilities away, and no residual
        # would show it (a weak link between two well-balanced groups); the subtraction-free
        # elimination is accurate entry by entry
        val = assemble(np.zeros(unknown.size))
        for c in np.flatnonzero(big):  # loop over closed classes
            ids = states[lab == c]
            val[ids] = _gth_stationary(W[ids][:, ids])
        bal, _ = _balance(W, val, exit_rates, states, lab, r)
        return val, f"subtraction-free elimination (GTH, dense; rates span a ratio of {ratio:.2g})", float(bal.max()), ""
    A = _submatrix(QT, unknown, unknown).tocsc()
    rhs = -np.asarray(_submatrix(QT, unknown, pins).sum(axis=1)).ravel()
    # sparse LU, refined until every state balances its flux (a componentwise check)
    val, method, res = None, "", np.inf
    try:
        lu = _factorize(A)
        with np.errstate(over="ignore", invalid="ignore"):
            x = lu.solve(rhs)
        steps, best = 0, None
        while np.all(np.isfinite(x)):
            cand = assemble(x)
            b_now, _ = _balance(W, cand, exit_rates, states, lab, r)
            if best is None or b_now.max() < best[0].max():
                best = (b_now, cand, x, steps)
            if b_now.max() <= STATIONARY_BALANCE_RTOL or steps >= REFINE_MAX_STEPS or best[3] < steps:
                break  # accepted, or refinement stopped improving
            with np.errstate(over="ignore", invalid="ignore"):
                x = x + lu.solve(rhs - A @ x)
            steps += 1
        if best is not None:
            bal, val, x, steps = best
            res = residual_of(x)
            method = "direct sparse LU (SuperLU)" + (f" with {steps} step(s) of iterative refinement" if steps else "")
    except (RuntimeError, MemoryError):
        pass
    failure = None
    if val is None:  # LU failed outright: GMRES (accepted normwise by _robust_solve, then judged state by state)
        try:
            x, method, res = _robust_solve(A, rhs, residual_of, "stationary distribution")
            val = assemble(x)
            bal, _ = _balance(W, val, exit_rates, states, lab, r)
        except NumericalError as exc:
            failure = exc
            val = assemble(np.zeros(unknown.size))
            bal = np.where(big, np.inf, 0.0)
            method = "sparse LU and GMRES failed"
    bad = np.flatnonzero(bal > STATIONARY_BALANCE_RTOL)
    if bad.size == 0:
        caveat = ""
        if ratio > GTH_RATE_RATIO:
            caveat = (f"the chain is not reversible and its rates span a ratio of {ratio:.2g}: every state balances "
                      f"its flux to {float(bal.max()):.1g}, but a small probability that hangs on rare transitions "
                      "between well-balanced groups of states is not certified entry by entry (too many states "
                      f"for the subtraction-free elimination, at most {GTH_MAX_STATES})")
        return val, method, res, caveat
    if int(sizes[bad].sum()) <= GTH_MAX_STATES:
        for c in bad:  # loop over the closed classes that failed the check
            ids = states[lab == c]
            val[ids] = _gth_stationary(W[ids][:, ids])
        bal, _ = _balance(W, val, exit_rates, states, lab, r)
        return val, f"{method}; subtraction-free elimination (GTH, dense) for {bad.size} class(es) it left inaccurate", \
            float(bal.max()), ""
    if failure is not None:
        raise failure
    if np.all(bal <= STATIONARY_BALANCE_MAX):
        return val, method, res, (f"small probabilities are uncertain by {2.0 * float(bal.max()):.1g} relative or more: "
                                  f"some state balances its probability flux only to {float(bal.max()):.1g} (rates "
                                  f"over a ratio of {ratio:.2g}, too many states for the subtraction-free elimination)")
    _, worst = _balance(W, val, exit_rates, states, lab, r)
    c = int(bad[np.argmax(bal[bad])])
    raise _numerical_error(
        f"the stationary distribution of a closed class of {int(sizes[c]):,} states is not accurate entry by entry: "
        f"{_namer(names)(worst[c])} balances its probability flux only to a relative {bal[c]:.2g} "
        f"(rates from {float(W.data.min()):.3g} to {float(W.data.max()):.3g}); small probabilities would be wrong",
        "lower beta or rescale F (or the rates) so that they span fewer decades, or use a model whose "
        f"non-reversible closed classes have at most {GTH_MAX_STATES} states (solved by subtraction-free elimination)",
    )


def _balance(W, val, exit_rates, states, lab, r):
    """Largest relative flux imbalance ``|in_j - out_j| / (in_j + out_j)`` per closed class, and the worst state of each.

    States whose fluxes are below 1e-280 (probabilities near the bottom of the double
    range) are not judged: their values are only known to within underflow.
    """
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        inflow = np.asarray(W.T @ val).ravel()[states]
        outflow = val[states] * exit_rates[states]
        tot = inflow + outflow
        omega = np.where(tot > 1e-280, np.abs(inflow - outflow) / np.where(tot > 0, tot, 1.0), 0.0)
    bal = np.zeros(r)
    np.maximum.at(bal, lab, omega)
    worst = np.zeros(r, dtype=np.int64)
    order = np.lexsort((omega, lab))
    last = np.searchsorted(lab[order], np.arange(r), side="right") - 1
    worst[:] = states[order[np.maximum(last, 0)]]
    return bal, worst


def _absorption_weights(Qc, cl: _Classes, T: np.ndarray, pT: np.ndarray) -> np.ndarray:
    """Probability of ending in each closed class for the mass ``pT`` on the transient states ``T``.

    Up to 32 classes: one accurate hitting solve per class, ``(-Q_TT) a_c = Q_{T,C_c} 1``
    (:class:`_HittingSystem`, non-negative right-hand sides), and ``w_c = pT . a_c``.
    More classes: one transposed sparse LU solve for the expected time spent in each
    transient state, ``(-Q_TT)^T g = pT``, and the flux ``g Q_{T,C}`` into the classes.
    """
    into = _submatrix(Qc, T, cl.closed_states)
    if cl.r <= 32:
        system = _HittingSystem(Qc, T, "absorption-probability")
        lab = cl.closed_label
        out = np.zeros(cl.r)
        for c in range(cl.r):  # loop over closed classes
            rhs = np.asarray(into[:, lab == c].sum(axis=1)).ravel()
            if np.any(rhs > 0):
                out[c] = float(pT @ np.clip(system.solve(rhs), 0.0, 1.0))
        return out
    try:
        lu = _factorize((-_submatrix(Qc, T, T)).T)
    except (RuntimeError, MemoryError) as exc:
        raise _numerical_error(f"could not factorise the transient block for the absorption weights: {exc}",
                               "lower beta or rescale F (or the rates) so that they span fewer decades") from exc
    g = lu.solve(pT)
    flux = into.T @ g
    return np.bincount(cl.closed_label, weights=flux, minlength=cl.r)


def stationary(Q, p0=None, *, names=None) -> Stationary:
    r"""Stationary distribution of any finite CTMC: :math:`\pi Q = 0`, :math:`\sum_i \pi_i = 1`.

    Irreducible chain: :math:`\pi` is unique.  A reversible chain gets it from
    detailed balance, in log space (any rate ratio; probabilities below 1e-308 of the
    largest underflow to 0), accepted when every transition balances to 1e-10.  A
    non-reversible one whose rates span more than :data:`GTH_RATE_RATIO` and that has at
    most :data:`GTH_MAX_STATES` states is solved by the subtraction-free GTH elimination
    (relative accuracy per entry).  Otherwise one state ``k`` (largest exit rate) is
    pinned, :math:`\pi_k = 1`, and :math:`Q^T_{-k,-k} x = -Q^T_{-k,k}` is solved by sparse
    LU, refined until every state balances its in- and out-flux to
    :data:`STATIONARY_BALANCE_RTOL`; classes left unbalanced are redone by GTH when
    small enough, returned with a ``caveat`` up to :data:`STATIONARY_BALANCE_MAX`, and
    refused (NumericalError, saying what to change) beyond.  If LU fails outright,
    GMRES with an ILU (or Jacobi) preconditioner is tried (normwise residual
    :math:`\|\pi Q\|_1 / \sum_i \pi_i q_i \le 10^{-10}`).  ``method`` says what was used.

    Reducible chain: the closed (recurrent) classes ``C_1..C_r`` are the strongly
    connected components of the transition graph with no transition leaving them
    (:func:`scipy.sparse.csgraph.connected_components`); each has its own
    stationary distribution :math:`\pi^{(c)}` (one block-diagonal solve for all of
    them).  Every stationary distribution is a mixture
    :math:`\pi = \sum_c w_c \pi^{(c)}`; started from ``p0`` the chain ends in
    class ``c`` with probability :math:`w_c = \sum_{j \in C_c} (p_{0,j} + f_j)`, where
    :math:`f = g\, Q_{T,C}` is the flux out of the transient states ``T`` and ``g``
    solves :math:`(-Q_{TT})^T g = p_{0,T}` (expected time spent in each transient state;
    with at most 32 classes the absorption probabilities are solved class by class
    instead, by the accurate hitting-time solver).  ``note`` names the classes (with
    ``names``), their weights and the transient states.

    Parameters
    ----------
    Q : sparse or dense (n, n)
        Generator.
    p0 : array_like (n,), optional
        Initial distribution; needed when there is more than one closed class.
    names : sequence or callable, optional
        Node names by state id (``cm.nodes.name``), used in notes and errors.

    Returns
    -------
    Stationary

    Raises
    ------
    NumericalError
        With more than one closed class and no ``p0`` (the answer depends on the
        initial state; the message names the classes), or when no solver
        reaches the residual tolerance.
    ValueError
        Malformed ``Q`` or ``p0``.
    """
    Qc, exit_rates = _canonical(Q)
    n = Qc.shape[0]
    p = None if p0 is None else _as_distribution(p0, n)
    cl = _classes(Qc)
    members = cl.members()
    reducible = cl.ncomp > 1
    if cl.r > 1 and p is None:
        raise _numerical_error(
            f"the chain is reducible: it has {cl.r} closed classes (sets of states it never leaves): "
            f"{_describe_classes(members, names=names)}; its stationary distribution depends on the initial state",
            "pass p0 to weight each class by the probability of ending in it",
        )
    base, method, res, caveat = _closed_class_distributions(Qc, exit_rates, cl, names)
    transient_states = np.setdiff1d(np.arange(n), cl.closed_states, assume_unique=True)
    if cl.r == 1:
        weights = np.ones(1)
    else:
        weights = np.bincount(cl.closed_label, weights=p[cl.closed_states], minlength=cl.r)
        pT = p[transient_states]
        if transient_states.size and np.any(pT > 0):
            weights = weights + _absorption_weights(Qc, cl, transient_states, pT)
        if not np.all(np.isfinite(weights)) or abs(weights.sum() - 1.0) > 1e-8:
            raise _numerical_error(
                f"absorption weights into the {cl.r} closed classes sum to {weights.sum()!r}, not 1",
                "the transient part of the chain is numerically singular: lower beta or rescale F (or the rates) "
                "so that they span fewer decades",
            )
        weights = np.maximum(weights, 0.0)
        weights /= weights.sum()
    class_of = np.full(n, -1, dtype=np.int64)
    class_of[cl.closed_states] = cl.closed_label
    pi = np.zeros(n)
    pi[cl.closed_states] = base[cl.closed_states] * weights[cl.closed_label]
    unit = "node" if names is not None else "state"
    tail = f"{method}, relative flux residual {res:.2g}" + (f"; caution: {caveat}" if caveat else "")
    if not reducible:
        note = f"irreducible chain; {tail}"
    else:
        nt = transient_states.size
        transient_text = (f"{nt:,} transient {unit}{'s' if nt != 1 else ''} {_name_set(transient_states, names)} "
                          f"carr{'y' if nt != 1 else 'ies'} no mass" if nt else "no transient states")
        if cl.r == 1:
            note = (f"reducible chain: every walk ends in the closed class {_name_set(members[0], names)}; "
                    f"{transient_text}; {tail}")
        else:
            order = np.argsort(-weights, kind="stable")
            hit = [c for c in order if weights[c] > 0]
            missed = [c for c in order if weights[c] == 0]
            shown = ", ".join(f"{_name_set(members[c], names)} with probability {weights[c]:.6g}" for c in hit[:4])
            if len(hit) > 4:
                shown += f" and {len(hit) - 4} more"
            note = (f"reducible chain: {cl.r} closed classes (sets of {unit}s the walk never leaves); from the initial "
                    f"distribution it ends in {shown}")
            if missed:
                note += f"; never in {_describe_classes([members[c] for c in missed], limit=3, names=names)}"
            note += (f"; the stationary law is this mixture, so it depends on where the walk starts; "
                     f"{transient_text}; {tail}")
    return Stationary(
        pi=pi,
        method=method,
        closed_classes=members,
        reducible=bool(reducible),
        depends_on_init=bool(cl.r > 1),
        note=note,
        weights=weights,
        residual=float(res),
        caveat=caveat,
    )


# =========================================================================== first passage


@dataclass(frozen=True)
class FirstPassage:
    """Result of :func:`first_passage` (``T`` = hitting time of the target from ``p0``).

    Attributes
    ----------
    mean : float or None
        ``E[T]``; ``None`` when ``P(T = inf) > 1e-12`` (the mean is infinite);
        ``inf`` when it exceeds the double range.
    second_moment : float or None
        ``E[T^2]`` (``None`` when ``mean`` is).
    finite_fraction : float
        ``P(T < inf)``.
    cdf, survival : ndarray or None
        ``P(T <= t)`` and ``P(T > t)`` at ``times`` (``None`` without times).
    times : ndarray or None
    per_state_mean : ndarray
        ``E_i[T]`` from every state (``inf`` where the target is missed with
        positive probability, 0 on the target).
    conditional_mean : float or None
        ``E[T | T < inf]`` (``None`` if ``P(T < inf) = 0``).
    note : str
    cdf_error_bound : float
        Bound on the error of ``cdf`` and ``survival`` (0 without times).
    cdf_method : str
        Transient engine used for the distribution.
    missed : str
        Why ``mean`` is ``None`` or infinite, in words (where the walk gets caught
        instead of reaching the target, named with ``names``); empty otherwise.
    caveat : str
        Non-empty when ``finite_fraction`` or the mean is returned without being
        certified entry by entry (a large, nearly closed set of states).
    """

    mean: float | None
    second_moment: float | None
    finite_fraction: float
    cdf: np.ndarray | None
    survival: np.ndarray | None
    times: np.ndarray | None
    per_state_mean: np.ndarray = field(repr=False)
    conditional_mean: float | None = None
    note: str = ""
    cdf_error_bound: float = 0.0
    cdf_method: str = ""
    missed: str = ""
    caveat: str = ""


def first_passage(Q, p0, target, times=None, *, method: str = "auto", tol: float = 1e-10, names=None) -> FirstPassage:
    r"""Statistics of the hitting time :math:`T = \inf\{t \ge 0 : X_t \in B\}` of ``target`` ``B`` from ``p0``.

    With ``S`` the non-target states from which ``B`` can be reached, one
    factorisation of :math:`-Q_{SS}` (non-singular: every state of ``S`` can leave ``S``;
    sparse LU refined to a componentwise backward error below
    :data:`HITTING_BACKWARD_RTOL`, or the subtraction-free elimination when the set is
    nearly closed -- see :class:`_HittingSystem`) gives

    * the absorption probabilities :math:`h_i = P_i(T < \infty)`:
      :math:`-Q_{SS} h_S = Q_{SB} 1`, :math:`h = 1` on ``B``, 0 where ``B`` is unreachable;
    * :math:`u_i = E_i[T; T < \infty]`: :math:`-Q_{SS} u_S = h_S` (the h-transform:
      a state's holding time counts only on paths that do reach ``B``);
    * :math:`v_i = E_i[T^2; T < \infty]`: :math:`-Q_{SS} v_S = 2 u_S`.

    Then ``finite_fraction`` :math:`= p_0 \cdot h`, ``conditional_mean``
    :math:`= p_0 \cdot u / p_0 \cdot h`.  If ``finite_fraction >= 1 - 1e-12``,
    ``mean`` :math:`= E[T]` and ``second_moment`` :math:`= E[T^2]` (exactly
    :math:`p_0 \cdot u` and :math:`p_0 \cdot v` when every state in the support of
    ``p0`` reaches ``B`` surely, which is decided on the graph; otherwise the
    conditional moments, and ``note`` says so); else both are ``None``
    (infinite), and ``missed`` says where the walk gets caught instead (closed
    classes named with ``names``).  A mean beyond the double range (1.8e308) is
    ``inf``, with ``missed`` saying so; a second moment beyond it is ``inf`` with a
    note.  ``per_state_mean`` is :math:`E_i[T]` (``inf`` where not sure), as
    :func:`mean_first_passage`.

    With ``times``, ``cdf(t)`` :math:`= P(T \le t)` is the mass absorbed in ``B``
    by time ``t`` when ``B`` is made absorbing, from :func:`transient`'s engines on
    the chain restricted to ``S`` plus one absorbing state for ``B`` and one for
    the states that cannot reach ``B``; ``survival`` :math:`= P(T > t)` is summed
    directly (not as ``1 - cdf``), so small tails keep their relative accuracy.

    Parameters
    ----------
    Q : sparse or dense (n, n)
        Generator.
    p0 : array_like (n,)
        Initial distribution; mass already on ``B`` has ``T = 0``.
    target : array_like of int
        State ids of ``B`` (may be empty: then ``T = inf``).
    times : array_like, optional
        Times at which to evaluate the distribution function.
    method, tol
        Passed to the transient engines (see :func:`transient`).
    names : sequence or callable, optional
        Node names by state id (``cm.nodes.name``), used in ``missed``.

    Returns
    -------
    FirstPassage

    Raises
    ------
    NumericalError
        If a solve fails or gives non-finite values.
    """
    if method not in TRANSIENT_METHODS:
        raise ValueError(f"method must be one of {TRANSIENT_METHODS}, got {method!r}")
    tol = _check_tol(tol)
    Qc, exit_rates = _canonical(Q)
    n = Qc.shape[0]
    p = _as_distribution(p0, n)
    B = _as_states(target, n)
    is_B = np.zeros(n, dtype=bool)
    is_B[B] = True
    reach = can_reach(Qc, B) if B.size else np.zeros(n, dtype=bool)
    S = np.flatnonzero(reach & ~is_B)
    sure = reach_surely(Qc, B) if B.size else np.zeros(n, dtype=bool)
    h = is_B.astype(np.float64)
    u = np.zeros(n)
    v = np.zeros(n)
    solve_note = caveat = ""
    if S.size:
        system = _HittingSystem(Qc, S, "hitting-time", names)
        into_B = np.asarray(_submatrix(Qc, S, B).sum(axis=1)).ravel()
        if np.all(sure[S]):
            hS = np.ones(S.size)  # decided on the graph: exact
        else:
            hS = np.clip(system.solve(into_B), 0.0, 1.0)
            hS[sure[S]] = 1.0
        solve_notes = [system.last_note]
        uS = system.solve(hS)
        solve_notes.append(system.last_note)
        caveat = "; ".join(x for x in solve_notes if x)
        if np.all(np.isfinite(uS)):
            vS = system.solve(2.0 * uS, strict=False)
            solve_notes.append(system.last_note and f"second moment: {system.last_note}")
        else:
            vS = np.full(S.size, np.inf)
        if np.any(np.isnan(hS)) or np.any(np.isnan(uS)) or np.any(np.isnan(vS)):
            raise _numerical_error("the hitting-time system gave undefined values (numerically singular)",
                                   "lower beta or rescale F (or the rates) so that they span fewer decades")
        h[S], u[S], v[S] = hS, np.maximum(uS, 0.0), np.maximum(vS, 0.0)
        solve_note = "; ".join([f"{system.method}, componentwise backward error {system.backward:.2g}"
                                + (f" (estimated relative error {system.ferr:.2g})" if system.ferr else "")]
                               + [x for x in solve_notes if x])
    with np.errstate(over="ignore", invalid="ignore"):
        finite = float(min(p @ h, 1.0))
        pu, pv = float(p @ u), float(p @ v)
    per_state = np.where(sure, u, np.inf)
    per_state[B] = 0.0
    cond = pu / finite if finite > 0 else None
    structurally_sure = not np.any(p[~sure] > 0)
    notes = []
    missed = ""
    if structurally_sure:
        finite = 1.0
        mean, second = pu, pv
        notes.append("every state in the support of p0 reaches the target surely")
    elif finite >= 1.0 - SURE_ATOL:
        mean, second = cond, pv / finite
        notes.append(
            f"P(T = inf) = {1.0 - finite:.2g} <= {SURE_ATOL:g}: mean and second_moment are E[T | T < inf] and E[T^2 | T < inf]"
        )
    else:
        mean = second = None
        notes.append(f"P(T = inf) = {1.0 - finite:.6g}: the mean hitting time is infinite; conditional_mean is E[T | T < inf]")
        missed = _why_missed(Qc, p, B, reach, finite, cond, names)
    if mean is not None and not math.isfinite(mean):
        missed = ("the mean hitting time exceeds the largest double (1.8e308), so it is reported as infinite; "
                  f"the slowest exit rate is {float(exit_rates[exit_rates > 0].min()):.3g}: lower beta or rescale F "
                  "for a finite number")
        notes.append(missed)
    elif second is not None and not math.isfinite(second):
        notes.append("E[T^2] exceeds the largest double (1.8e308): second_moment is inf")
    if solve_note:
        notes.append(solve_note)
    cdf = survival = t_out = None
    bound, used = 0.0, ""
    if times is not None:
        t_out, uniq, inverse = _as_times(times)
        m = S.size
        Qlump, plump = _lumped_absorbing_chain(Qc, exit_rates, S, B, reach, p)
        proj = np.zeros((m + 2, 2))
        proj[m, 0] = 1.0  # absorbed in the target
        proj[:m, 1] = 1.0  # still searching ...
        proj[m + 1, 1] = 1.0  # ... or lost for good
        lump_exit = -Qlump.diagonal()
        out, bounds, used, tnote = _propagate(
            Qlump, lump_exit, plump[:, None], uniq, method=method, tol_l1=2.0 * tol, proj=proj
        )
        cdf = np.clip(out[:, 0, 0], 0.0, 1.0)[inverse]
        survival = np.clip(out[:, 1, 0], 0.0, 1.0)[inverse]
        bound = float(0.5 * bounds.max()) if bounds.size else 0.0
        notes.append(f"distribution: {tnote}")
        accuracy_note = _accuracy_check(0.5 * bounds, uniq, tol, lump_exit, "cdf")
        if accuracy_note:
            notes.append(accuracy_note)
    return FirstPassage(
        mean=mean,
        second_moment=second,
        finite_fraction=finite,
        cdf=cdf,
        survival=survival,
        times=t_out,
        per_state_mean=per_state,
        conditional_mean=cond,
        note="; ".join(notes),
        cdf_error_bound=bound,
        cdf_method=used,
        missed=missed,
        caveat=caveat,
    )


def _why_missed(Qc, p, B, reach, finite, cond, names) -> str:
    """Why ``T = inf`` has positive probability from ``p``: where the walk gets stuck, by name."""
    start = np.flatnonzero(p > 0)
    seen = _reached_from(transition_graph(Qc), start)
    if B.size == 0:
        return "the target set is empty"
    if not np.any(seen & reach):
        return (f"the target {_name_set(B, names)} cannot be reached from the start "
                f"{_name_set(start, names)}: the walk stays among {_name_set(np.flatnonzero(seen), names)}")
    cl = _classes(Qc)
    traps = [c for c in cl.members() if seen[c[0]] and not reach[c[0]]]
    where = ", ".join(_name_set(c, names) for c in traps[:3]) + (f" and {len(traps) - 3} more" if len(traps) > 3 else "")
    text = f"the target {_name_set(B, names)} is reached with probability {finite:.6g} only"
    if traps:
        text += f": the walk can be caught instead in {where}, which it never leaves"
    text += "; the mean hitting time is infinite"
    if cond is not None:
        text += f" (E[T | T < inf] = {cond:.6g})"
    return text


def _lumped_absorbing_chain(Qc, exit_rates, S, B, reach, p):
    """Generator on ``S`` + [target, lost] (both absorbing) and the lumped initial distribution."""
    m = S.size
    QSS = _submatrix(Qc, S, S)
    into_B = np.asarray(_submatrix(Qc, S, B).sum(axis=1)).ravel()
    off_S = QSS - sp.diags(QSS.diagonal())
    within = np.asarray(off_S.sum(axis=1)).ravel()
    lost = np.maximum(exit_rates[S] - within - into_B, 0.0)
    rows = np.concatenate((np.arange(m), np.arange(m)))
    cols = np.concatenate((np.full(m, m), np.full(m, m + 1)))
    extra = sp.csr_matrix((np.concatenate((into_B, lost)), (rows, cols)), shape=(m + 2, m + 2))
    off = sp.block_diag((off_S, sp.csr_matrix((2, 2)))).tocsr() + extra
    off.eliminate_zeros()
    out_rate = np.asarray(off.sum(axis=1)).ravel()
    Qlump = (off - sp.diags(out_rate)).tocsr()
    plump = np.concatenate((p[S], [p[B].sum(), p[~reach].sum()]))
    return Qlump, plump


# =========================================================================== committor


def committor(Q, A, B) -> np.ndarray:
    r"""Forward committor :math:`q_i = P_i(\text{hit } B \text{ before } A)`.

    :math:`q = 0` on ``A``, :math:`q = 1` on ``B``; on the set ``S`` of other states
    from which ``A`` or ``B`` can be reached it solves
    :math:`-Q_{SS} q_S = Q_{SB} 1` (sparse LU; non-singular because every state of
    ``S`` can leave ``S``).  If from some state the walk can also get lost (reach
    states that lead to neither set), :math:`q_i` is still the probability of
    hitting ``B`` first, and :math:`q_i + P_i(\text{hit } A \text{ first}) < 1`.
    States that can reach neither ``A`` nor ``B`` get ``NaN`` (the question has
    no answer there).

    Parameters
    ----------
    Q : sparse or dense (n, n)
        Generator.
    A, B : array_like of int
        Disjoint sets of state ids.

    Returns
    -------
    ndarray (n,)

    Raises
    ------
    ValueError
        If ``A`` and ``B`` overlap or ids are out of range.
    NumericalError
        If the linear system cannot be factorised.
    """
    Qc, _ = _canonical(Q)
    n = Qc.shape[0]
    A = _as_states(A, n)
    B = _as_states(B, n)
    if np.intersect1d(A, B).size:
        raise ValueError("committor: A and B must be disjoint")
    ends = np.zeros(n, dtype=bool)
    ends[A] = True
    ends[B] = True
    reach = can_reach(Qc, np.flatnonzero(ends)) if ends.any() else np.zeros(n, dtype=bool)
    S = np.flatnonzero(reach & ~ends)
    q = np.full(n, np.nan)
    q[A] = 0.0
    q[B] = 1.0
    if S.size:
        rhs = np.asarray(_submatrix(Qc, S, B).sum(axis=1)).ravel() if B.size else np.zeros(S.size)
        qS = _HittingSystem(Qc, S, "committor").solve(rhs)
        if not np.all(np.isfinite(qS)):
            raise _numerical_error("the committor system gave non-finite values (numerically singular)",
                                   "lower beta or rescale F (or the rates) so that they span fewer decades")
        q[S] = np.clip(qS, 0.0, 1.0)
    return q


# =========================================================================== spectrum


@dataclass(frozen=True)
class Spectrum:
    """Result of :func:`spectrum`.

    Attributes
    ----------
    eigenvalues : ndarray (complex)
        The slowest non-stationary eigenvalues of ``Q``, by increasing ``|Re|``.
    timescales : ndarray
        Relaxation times ``-1 / Re(lambda)``.
    method : str
    note : str
    """

    eigenvalues: np.ndarray
    timescales: np.ndarray
    method: str
    note: str = ""


def _sort_modes(lam: np.ndarray) -> np.ndarray:
    return lam[np.lexsort((np.abs(lam.imag), -lam.real))]


def spectrum(Q, k: int = 6, *, method: str = "auto") -> Spectrum:
    r"""The ``k`` slowest relaxation modes of the chain.

    All eigenvalues :math:`\lambda` of a generator have :math:`\mathrm{Re}\,\lambda \le 0`,
    and 0 has multiplicity ``r`` = number of closed classes (one stationary
    distribution each).  Returned are the ``k`` eigenvalues with the smallest
    :math:`|\mathrm{Re}\,\lambda|` after removing those ``r`` zeros (the ``r``
    eigenvalues of smallest modulus), and the relaxation times
    :math:`\tau = -1/\mathrm{Re}\,\lambda`; a complex pair counts as two modes.

    ``method="dense"`` (default for ``n <= 2000``): all eigenvalues by
    :func:`scipy.linalg.eigvals`; absolute accuracy about :math:`10^{-16} \|Q\|`,
    so modes slower than that are not resolved (``note`` warns).
    ``method="sparse"`` (default above): :func:`scipy.sparse.linalg.eigs` on
    :math:`Q^T` in shift-invert mode with :math:`\sigma = -10^{-8} \max_i q_i`, which
    finds the ``k + r`` eigenvalues *nearest 0 in modulus* (relative accuracy
    also for very slow modes); for a strongly non-reversible chain a mode with
    small ``|Re|`` but large ``|Im|`` can be missed.

    Parameters
    ----------
    Q : sparse or dense (n, n)
    k : int
        Number of modes (``1 <= k``, ``k + r < n - 1`` for the sparse method).
    method : {"auto", "dense", "sparse"}

    Returns
    -------
    Spectrum

    Raises
    ------
    NumericalError
        Too few non-stationary modes, ARPACK not converging, or more than
        :data:`SPARSE_EIG_MAX_CLASSES` closed classes for the sparse method.
    """
    if method not in ("auto", "dense", "sparse"):
        raise ValueError(f"method must be 'auto', 'dense' or 'sparse', got {method!r}")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    Qc, exit_rates = _canonical(Q)
    n = Qc.shape[0]
    r = _classes(Qc).r
    if k > n - r:
        raise _numerical_error(f"asked for {k} modes but the chain has only {n - r} non-stationary eigenvalues")
    qmax = float(exit_rates.max())
    if method == "auto":
        method = "dense" if n <= DENSE_MAX_STATES else "sparse"
    notes = []
    if method == "dense":
        lam = _sort_modes(sla.eigvals(Qc.toarray()))
        lam = lam[np.argsort(np.abs(lam), kind="stable")]
        zeros, rest = lam[:r], _sort_modes(lam[r:])
        how = "dense eigvals"
        resolution = 1e3 * _UNIT_ROUNDOFF * max(qmax, np.finfo(float).tiny) * 2.0
    else:
        if r > SPARSE_EIG_MAX_CLASSES:
            raise _numerical_error(
                f"the chain has {r} closed classes; the sparse eigen-solver would have to skip {r} zero eigenvalues",
                "compute the spectrum of each class (or of a smaller model) separately",
            )
        nev = k + r
        if nev >= n - 1:
            raise _numerical_error(f"k + (number of closed classes) = {nev} must be < n - 1 = {n - 1} for the sparse method")
        sigma = -1e-8 * qmax
        try:
            lam = spla.eigs(Qc.T.tocsc(), k=nev, sigma=sigma, which="LM", return_eigenvectors=False, tol=0)
        except spla.ArpackNoConvergence as exc:
            raise _numerical_error(f"ARPACK did not converge for the {nev} eigenvalues nearest 0: {exc}") from exc
        except RuntimeError as exc:
            raise _numerical_error(f"shift-invert eigen-solve failed: {exc}") from exc
        lam = lam[np.argsort(np.abs(lam), kind="stable")]
        zeros, rest = lam[:r], _sort_modes(lam[r:])
        how = f"sparse eigs, shift-invert sigma = {sigma:.3g}"
        resolution = 1e3 * _UNIT_ROUNDOFF * max(qmax, np.finfo(float).tiny) * 1e-8
    if zeros.size and np.abs(zeros).max() > 1e-6 * max(qmax, np.finfo(float).tiny):
        notes.append(f"the {r} eigenvalue(s) taken as the stationary zeros reach |lambda| = {np.abs(zeros).max():.3g}")
    lam = rest[:k]
    if lam.size and np.abs(lam).min() < resolution:
        notes.append(
            f"the slowest mode(s) are below the solver's resolution (~{resolution:.2g}); use method='sparse'"
        )
    with np.errstate(divide="ignore"):
        tau = np.where(lam.real < 0, -1.0 / np.minimum(lam.real, -np.finfo(float).tiny), np.inf)
    return Spectrum(eigenvalues=lam, timescales=tau, method=how, note="; ".join(notes))


# =========================================================================== Kemeny's constant


def kemeny_constant(Q, *, method: str = "auto") -> float:
    r"""Kemeny's constant :math:`K = \sum_j \pi_j m_{ij}` of an irreducible chain (the same for every ``i``).

    ``m_ij`` is the mean first-passage time ``i -> j`` (``m_ii = 0``).  With the
    deviation matrix :math:`D = \int_0^\infty (e^{Qt} - 1\pi)\,dt`,
    :math:`m_{ij} = (D_{jj} - D_{ij})/\pi_j`, so :math:`K = \mathrm{tr}\,D =
    \sum_{k \ge 2} -1/\lambda_k` over the non-zero eigenvalues of ``Q``.

    ``method="eigen"`` (default for ``n <= 2000``): the eigenvalue sum (dense).
    ``method="fundamental"`` (default above): with ``k`` a fixed state and
    :math:`G = (-Q_{-k,-k})^{-1}` (expected time in ``j`` before hitting ``k``),
    :math:`D = (I - 1\pi) \tilde G (I - 1\pi)` (``G`` padded with zeros), hence
    :math:`K = \mathrm{tr}\,G - \sum_i \pi_i m_{ik}`; the trace needs one solve per
    state with the LU of :math:`-Q_{-k,-k}` (there is no exact shortcut: ``K``
    is the trace of an inverse), so it refuses problems above
    :data:`KEMENY_MAX_FLOPS` estimated flops.

    Returns
    -------
    float

    Raises
    ------
    NumericalError
        If the chain is not irreducible (``K`` is infinite), or the
        fundamental-matrix method would be too expensive.
    """
    if method not in ("auto", "eigen", "fundamental"):
        raise ValueError(f"method must be 'auto', 'eigen' or 'fundamental', got {method!r}")
    Qc, exit_rates = _canonical(Q)
    n = Qc.shape[0]
    cl = _classes(Qc)
    if cl.ncomp != 1:
        raise _numerical_error(
            f"Kemeny's constant needs an irreducible chain; this one has {cl.ncomp} strongly connected components "
            f"({cl.r} closed), so some mean first-passage times are infinite"
        )
    if n == 1:
        return 0.0
    if method == "auto":
        method = "eigen" if n <= DENSE_MAX_STATES else "fundamental"
    if method == "eigen":
        lam = sla.eigvals(Qc.toarray())
        lam = lam[np.argsort(np.abs(lam))][1:]
        return float(np.real(np.sum(-1.0 / lam)))
    pi_res = _closed_class_distributions(Qc, exit_rates, cl)
    pi = pi_res[0]
    kk = int(np.argmax(exit_rates))
    keep = np.flatnonzero(np.arange(n) != kk)
    M = (-_submatrix(Qc, keep, keep)).tocsc()
    try:
        lu = _factorize(M, transpose=True)
    except (RuntimeError, MemoryError) as exc:
        raise _numerical_error(f"could not factorise -Q without state {kk}: {exc}") from exc
    flops = 2.0 * (lu.L.nnz + lu.U.nnz) * (n - 1)
    if flops > KEMENY_MAX_FLOPS:
        raise _numerical_error(
            f"Kemeny's constant of this {n}-state chain needs {n - 1} solves (~{flops:.2g} flops)",
            "it is the trace of an inverse; use a smaller model",
        )
    m_k = lu.solve(np.ones(n - 1))
    trace = 0.0
    block = 256
    for start in range(0, n - 1, block):  # loop over blocks of unit vectors
        stop = min(start + block, n - 1)
        E = np.zeros((n - 1, stop - start))
        E[np.arange(start, stop), np.arange(stop - start)] = 1.0
        X = lu.solve(E)
        trace += float(X[np.arange(start, stop), np.arange(stop - start)].sum())
    return float(trace - pi[keep] @ m_k)


# =========================================================================== graph observables


def _edges(edge_src, edge_dst, n: int) -> tuple[np.ndarray, np.ndarray]:
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    s = np.asarray(edge_src, dtype=np.int64).ravel()
    d = np.asarray(edge_dst, dtype=np.int64).ravel()
    if s.shape != d.shape:
        raise ValueError(f"edge_src and edge_dst differ in length ({s.size} vs {d.size})")
    if s.size and (min(s.min(), d.min()) < 0 or max(s.max(), d.max()) >= n):
        raise ValueError(f"edge endpoints must lie in [0, {n - 1}]")
    return s, d


def _undirected_components(edge_src, edge_dst, n: int) -> np.ndarray:
    s, d = _edges(edge_src, edge_dst, n)
    G = sp.csr_matrix((np.ones(s.size, dtype=np.int8), (s, d)), shape=(int(n), int(n)))
    return csgraph.connected_components(G, directed=True, connection="weak")[1]


def largest_cluster_fraction(edge_src, edge_dst, n: int) -> float:
    r"""Fraction of all ``n`` nodes in the largest connected component: :math:`\max_c |C_c| / n`.

    Connectivity is undirected (an edge joins its endpoints whatever its
    direction); isolated nodes are components of size 1.

    Parameters
    ----------
    edge_src, edge_dst : array_like of int
        Endpoints of the realised edges.
    n : int
        Number of nodes.

    Returns
    -------
    float
    """
    comp = _undirected_components(edge_src, edge_dst, n)
    return float(np.bincount(comp).max() / int(n))


def connected_sets(edge_src, edge_dst, n: int, A, B) -> bool:
    r"""Whether some node of ``A`` lies in the same connected component as some node of ``B``.

    :math:`\exists a \in A, b \in B` joined by a path of edges (undirected
    connectivity); ``False`` if either set is empty.

    Parameters
    ----------
    edge_src, edge_dst : array_like of int
    n : int
    A, B : array_like of int

    Returns
    -------
    bool
    """
    comp = _undirected_components(edge_src, edge_dst, n)
    A = _as_states(A, int(n))
    B = _as_states(B, int(n))
    return bool(np.intersect1d(comp[A], comp[B]).size)


def min_reachable(Q, p0, values) -> float:
    r"""Smallest value over the nodes reachable from the support of ``p0``: :math:`\min\{v_j : i \to^* j, p_{0,i} > 0\}`.

    Reachability follows the positive rates of ``Q`` (directed hops, any number,
    starting nodes included).  ``NaN`` values propagate.

    Parameters
    ----------
    Q : sparse or dense (n, n)
    p0 : array_like (n,)
    values : array_like (n,)

    Returns
    -------
    float
    """
    Qc, _ = _canonical(Q)
    n = Qc.shape[0]
    p = _as_distribution(p0, n)
    vals = np.asarray(values, dtype=np.float64).ravel()
    if vals.shape != (n,):
        raise ValueError(f"values must have one entry per state ({n}), got {vals.size}")
    reached = _reached_from(transition_graph(Qc), np.flatnonzero(p > 0))
    return float(np.min(vals[reached]))


# =========================================================================== observables along a transient


def _as_rows(P) -> tuple[np.ndarray, bool]:
    P = np.asarray(P, dtype=np.float64)
    if P.ndim == 1:
        return P[None, :], True
    if P.ndim != 2:
        raise ValueError(f"P must be 1-D (one distribution) or 2-D (one per time), got shape {P.shape}")
    return P, False


def expect(P, values) -> np.ndarray:
    r"""Expectation of ``values`` under each row of ``P``: :math:`E_t[v] = \sum_i P_i(t) v_i`.

    Parameters
    ----------
    P : array_like (K, n) or (n,)
        Distributions (e.g. :attr:`Transient.P`).
    values : array_like (n,)

    Returns
    -------
    ndarray (K,) (a 0-d array for 1-D ``P``)
    """
    rows, single = _as_rows(P)
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size != rows.shape[1]:
        raise ValueError(f"values must have {rows.shape[1]} entries, got {v.size}")
    out = rows @ v
    return out[0] if single else out


def prob(P, ids) -> np.ndarray:
    r"""Probability of the set ``ids`` under each row of ``P``: :math:`\sum_{i \in ids} P_i(t)` (duplicates count once).

    Returns
    -------
    ndarray (K,) (a 0-d array for 1-D ``P``)
    """
    rows, single = _as_rows(P)
    idx = _as_states(ids, rows.shape[1])
    out = rows[:, idx].sum(axis=1)
    return out[0] if single else out


def quantile(P, values, q: float) -> np.ndarray:
    r"""Weighted lower ``q``-quantile of ``values`` under each row of ``P``.

    With :math:`F_t(v) = \sum_{i: v_i \le v} P_i(t) / \sum_i P_i(t)`, the result is
    the smallest value ``v`` (among ``values``) with :math:`F_t(v) \ge q` — the
    lower (``inverted_cdf``) convention: no interpolation, ties handled by
    value; ``q = 0.5`` is the lower median.  ``q = 0`` gives the smallest value
    carrying positive probability.  ``values`` is sorted once; each row's
    cumulative sums are searched at once (vectorised over times).  Negative
    round-off in ``P`` is treated as 0.

    Parameters
    ----------
    P : array_like (K, n) or (n,)
    values : array_like (n,)
    q : float in [0, 1]

    Returns
    -------
    ndarray (K,) (a 0-d array for 1-D ``P``)
    """
    rows, single = _as_rows(P)
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size != rows.shape[1]:
        raise ValueError(f"values must have {rows.shape[1]} entries, got {v.size}")
    q = float(q)
    if not (0.0 <= q <= 1.0):
        raise ValueError(f"q must lie in [0, 1], got {q!r}")
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(np.maximum(rows[:, order], 0.0), axis=1)
    total = cum[:, -1:]
    if np.any(total <= 0):
        raise ValueError("a row of P carries no probability")
    below = (cum <= 0.0) if q == 0.0 else (cum < q * total)
    idx = np.minimum(below.sum(axis=1), v.size - 1)
    out = v[order][idx]
    return out[0] if single else out


def msd(Q, p0, coords, times, *, method: str = "auto", tol: float = 1e-10) -> np.ndarray:
    r"""Mean squared displacement :math:`E|x(t) - x(0)|^2` with :math:`X_0 \sim p_0`.

    Point-mass ``p0`` at ``x_0``: :math:`\mathrm{msd}(t) = P(t) \cdot |x - x_0|^2` (one
    propagation, all terms non-negative).  Spread ``p0``:

    .. math::
        E|x(t)|^2 - 2 \sum_d E[x_d(t) x_d(0)] + E|x(0)|^2, \qquad
        E[x_d(t) x_d(0)] = \sum_j p_{0,j} x_{d,j} (e^{Qt} x_d)_j
                         = (p_0 \circ x_d)\, e^{Qt} \cdot x_d ,

    i.e. the backward solution :math:`e^{Qt} x_d` paired with :math:`p_0 \circ x_d`,
    evaluated as the forward propagation of the (signed) row vector
    :math:`p_0 \circ x_d` -- the same number, and the same ``d + 1`` propagations
    for any ``p0`` (no loop over its support).  Coordinates are first centred on
    their ``p0``-mean (the displacement does not change) to limit cancellation;
    the absolute error is then about ``tol * E|x(0) - mean|^2`` (pass a smaller
    ``tol`` for a wide ``p0`` at short times; the point-mass form has no
    cancellation).

    Parameters
    ----------
    Q : sparse or dense (n, n)
    p0 : array_like (n,)
    coords : sequence of array_like (n,)
        One array per dimension (``x``, ``y``, ...).
    times : float or array_like
    method : str
        Transient engine (see :func:`transient`).
    tol : float
        Relative l1 tolerance of each propagation.

    Returns
    -------
    ndarray (len(times),)
    """
    if method not in TRANSIENT_METHODS:
        raise ValueError(f"method must be one of {TRANSIENT_METHODS}, got {method!r}")
    tol = _check_tol(tol)
    Qc, exit_rates = _canonical(Q)
    n = Qc.shape[0]
    p = _as_distribution(p0, n)
    if isinstance(coords, np.ndarray) and coords.ndim == 1:
        coords = [coords]
    X = np.column_stack([np.asarray(x, dtype=np.float64).ravel() for x in coords]) if len(coords) else None
    if X is None or X.shape[0] != n:
        raise ValueError(f"coords must be a non-empty list of arrays of length {n}")
    if not np.all(np.isfinite(X)):
        raise ValueError("coords must be finite")
    t, uniq, inverse = _as_times(times)
    support = np.flatnonzero(p > 0)
    if support.size == 1:
        r2 = ((X - X[support[0]]) ** 2).sum(axis=1)
        out, bounds, _, _ = _propagate(Qc, exit_rates, p[:, None], uniq, method=method, tol_l1=tol, proj=r2[:, None])
        res = out[:, 0, 0]
    else:
        Xc = X - p @ X
        d = Xc.shape[1]
        V = np.column_stack([p] + [p * Xc[:, i] for i in range(d)])
        proj = np.column_stack([(Xc**2).sum(axis=1)] + [Xc[:, i] for i in range(d)])
        out, bounds, _, _ = _propagate(Qc, exit_rates, V, uniq, method=method, tol_l1=tol, proj=proj)
        cross = sum(out[:, 1 + i, 1 + i] for i in range(d))
        res = out[:, 0, 0] - 2.0 * cross + float(p @ (Xc**2).sum(axis=1))
    _accuracy_check(bounds, uniq, max(tol, TRANSIENT_MAX_ERROR), exit_rates, "relative l1 error of the propagation")
    return np.maximum(res, 0.0)[inverse]
