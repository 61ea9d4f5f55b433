"""Exact (direct sparse) solvers for finite continuous-time Markov chains.

All functions take a generator ``Q`` as a ``scipy.sparse`` matrix (any format;
dense arrays are accepted too) with ``Q[i, j]`` the rate of the transition
``i -> j`` for ``i != j`` and ``Q[i, i] = -sum_{j != i} Q[i, j]``, and solve the
defining linear systems with a sparse LU factorisation (SuperLU through
:func:`scipy.sparse.linalg.splu`, minimum-degree ordering on ``A^T + A``).
"Exact" means "no iteration and no truncation": the results are exact up to
floating-point round-off and the conditioning of the system.  Fill-in, and
so time and memory, grow quickly on expander-like graphs (random graphs with
~10^4 states already need seconds and ~10^7 LU entries); lattice-like graphs
of 10^5-10^6 states are fine.

Functions
---------
:func:`stationary_distribution`
    ``pi`` with ``pi Q = 0``, ``sum(pi) = 1`` for an irreducible chain.
:func:`mean_first_passage`
    expected hitting time of a target set from every state.

Graph helpers (:func:`transition_graph`, :func:`can_reach`,
:func:`reach_surely`) are public because further solvers (committors,
absorption probabilities, ...) need the same qualitative precomputations.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla

__all__ = [
    "as_generator",
    "transition_graph",
    "can_reach",
    "reach_surely",
    "stationary_distribution",
    "mean_first_passage",
]

#: Relative tolerance for the row sums of a generator (relative to the
#: largest exit rate of the row).
ROW_SUM_RTOL = 1e-9


def as_generator(Q, *, check: bool = True) -> sp.csr_matrix:
    """Return ``Q`` as a canonical float64 CSR matrix, checking that it is a generator.

    :param Q: square sparse or dense matrix.
    :param check: verify that off-diagonal entries are finite and ``>= 0`` and
        that every row sums to zero up to :data:`ROW_SUM_RTOL` times the row's
        exit rate.
    :raises ValueError: if ``Q`` is not a CTMC generator.
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
    """Boolean adjacency matrix (CSR) of the positive off-diagonal rates of ``Q``: ``A[i, j]`` iff ``i -> j``."""
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
    """Boolean mask of the states from which ``target`` is reachable with positive probability (target included)."""
    A = transition_graph(Q)
    return _reached_from(A.T.tocsr(), _as_states(target, A.shape[0]))


def reach_surely(Q, target) -> np.ndarray:
    """Boolean mask of the states from which ``target`` is reached with probability 1 (target included).

    A state reaches the target surely iff it cannot reach, without passing
    through the target, a state from which the target is unreachable.
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


def stationary_distribution(Q) -> np.ndarray:
    """Stationary distribution ``pi`` of an irreducible CTMC: ``pi Q = 0``, ``sum(pi) = 1``.

    Solved directly: fixing ``pi_k = 1`` for the state ``k`` with the largest
    exit rate, the remaining equations ``pi Q[:, j] = 0`` (``j != k``) form the
    non-singular system ``Q[-k, -k]^T x = -Q[k, -k]^T``, which is factorised
    with SuperLU; the result is then normalised.  Round-off negatives (if any)
    are clipped to 0 before normalising.

    :param Q: generator (``n x n``).
    :returns: float64 array of length ``n``.
    :raises ValueError: if ``Q`` is not a generator or the chain is not
        irreducible (more than one strongly connected component).
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
    k = int(np.argmin(Q.diagonal()))  # largest exit rate
    keep = np.arange(n) != k
    QT = Q.T.tocsc()
    A = QT[keep][:, keep].tocsc()
    b = -QT[keep][:, [k]].toarray().ravel()
    x = _lu_solve(A, b)
    pi = np.empty(n)
    pi[keep] = x
    pi[k] = 1.0
    np.maximum(pi, 0.0, out=pi)
    return pi / pi.sum()


def mean_first_passage(Q, target) -> np.ndarray:
    """Expected hitting time of the set ``target`` from every state.

    ``m[i] = E_i[inf{t >= 0 : X_t in target}]``: 0 on the target, ``inf``
    where the target is reached with probability < 1, and elsewhere the
    solution of ``-Q_AA m_A = 1`` on the set ``A`` of non-target states that
    reach the target surely (transitions out of ``A`` only lead into ``A`` or
    the target, so ``Q_AA`` is a non-singular sub-generator).

    :param Q: generator (``n x n``).
    :param target: integer array of target state ids (an empty target gives
        ``inf`` everywhere).
    :returns: float64 array of length ``n``.
    """
    Q = as_generator(Q)
    n = Q.shape[0]
    target = _as_states(target, n)
    m = np.full(n, np.inf)
    m[target] = 0.0
    if target.size == 0:
        return m
    sure = reach_surely(Q, target)
    sure[target] = False
    A = np.flatnonzero(sure)
    if A.size:
        Q_AA = Q[A][:, A].tocsc()
        m[A] = _lu_solve(-Q_AA, np.ones(A.size))
    return m
