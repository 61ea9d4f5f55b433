"""Quantiles over disorder realisations: the quantile of the pooled ensemble.

With ``realizations = R`` a mean is the same whether one averages the R per-landscape
means or takes the mean of all (landscape, walker) pairs together.  A quantile is not:
the average of R per-landscape medians is a different number from the median of the
pooled ensemble, and for an observable with few values (``F = 1/n``) the two differ by
a fraction of a level, enough to move a fitted exponent.  Theory describes the
disorder-averaged law, so semdsl defines every statistic over realisations as a
statistic of the pooled ensemble: the distribution of the observable is the average of
the R per-realisation distributions (each realisation weighs 1/R), and ``median(F)``
is the lower median of that mixture.  Exact and simulation use the same definition
(exact: each realisation's ``P(t)``; simulation: each realisation's walker histogram).

Errors.  The disorder-and-walker error of a pooled quantile is the spread of its
bootstrap over realisations (realisations resampled with replacement, the quantile of
the resampled mixture recomputed); the replicates also feed power-law fits.  The walker
error alone (what separates simulation from exact on the same realisations) is the
order-statistic one of the ``N = R * walkers`` pooled walkers: half the distance
between the quantiles at ``q -+ sqrt(q (1 - q) / N)``, floored at the gap to the
neighbouring value, as for one realisation (:func:`semdsl.simrun._atom_gap`).
Stratified sampling (W walkers in each realisation) has at most the variance of N
independent draws from the mixture, so this error is conservative.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: largest realisations x points x distinct values held for the bootstrap
MAX_POOL = 20_000_000


def lower_quantile(U: np.ndarray, weights: np.ndarray, q: float) -> np.ndarray:
    """Lower (``inverted_cdf``) q-quantile of the sorted values ``U`` under each row of
    non-negative ``weights`` (..., len(U)): the smallest value whose cumulative weight
    reaches ``q`` of the row's total."""
    cum = np.cumsum(weights, axis=-1)
    total = cum[..., -1:]
    below = (cum <= 0.0) if q == 0.0 else (cum < q * total * (1 - 1e-12))
    return U[np.minimum(below.sum(axis=-1), U.size - 1)]


class PooledDistribution:
    """Per-realisation distributions of one observable over ``K`` axis points.

    ``add(r, values, P, cols)`` records realisation ``r``'s probabilities ``P``
    (rows: the axis points ``cols``; columns: nodes, with the observable's ``values``).
    Rows are normalised, so walker counts can be passed as they are.
    """

    def __init__(self, R: int, K: int):
        self.R, self.K = int(R), int(K)
        self.parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self._stack = None

    @staticmethod
    def reduce(values, P) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One realisation's rows as (distinct values, normalised weights of each row over
        them, rows that carry probability) -- what a task sends back."""
        v = np.asarray(values, float).ravel()
        P = np.atleast_2d(np.asarray(P, float))
        u, inv = np.unique(v, return_inverse=True)
        ind = sp.csr_matrix((np.ones(v.size), (np.arange(v.size), inv)), shape=(v.size, u.size))
        w = np.asarray((ind.T @ np.maximum(P, 0.0).T).T)           # (rows, distinct values)
        tot = w.sum(axis=1, keepdims=True)
        keep = tot[:, 0] > 0
        w = np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 0.0)
        return u, w[keep], keep

    def add(self, r: int, values, P, cols=None) -> None:
        """Record realisation ``r``'s rows ``P`` (over nodes with ``values``) at the axis
        points ``cols`` (all points when None)."""
        self.add_reduced(r, *self.reduce(values, P), cols)

    def add_reduced(self, r: int, u, w, keep, cols=None) -> None:
        """Record the output of :meth:`reduce`."""
        cols = np.arange(self.K) if cols is None else np.atleast_1d(np.asarray(cols, int))
        keep = np.asarray(keep, bool)
        self.parts.append((int(r), cols[keep], np.asarray(u, float), np.asarray(w, float)))
        self._stack = None

    def fits(self) -> bool:
        """Whether the (R, K, distinct values) array stays within MAX_POOL entries."""
        if not self.parts:
            return True
        U = np.unique(np.concatenate([u for _, _, u, _ in self.parts]))
        return self.R * self.K * U.size <= MAX_POOL

    # -- the mixture as an array (R, K, U) over the union U of the values seen
    def _arrays(self):
        if self._stack is None:
            U = np.unique(np.concatenate([u for _, _, u, _ in self.parts])) if self.parts else np.zeros(0)
            M = np.zeros((self.R, self.K, U.size))
            have = np.zeros((self.R, self.K), bool)
            for r, cols, u, w in self.parts:
                j = np.searchsorted(U, u)
                M[r, cols[:, None], j[None, :]] += w
                have[r, cols] = True
            self._stack = (U, M, have)
        return self._stack

    def _quantile_of(self, weights: np.ndarray, present: np.ndarray, q: float) -> np.ndarray:
        U = self._arrays()[0]
        if not U.size:
            return np.full(np.shape(weights)[:-1], np.nan)
        return np.where(present, lower_quantile(U, weights, q), np.nan)

    def quantile(self, q: float) -> np.ndarray:
        """Lower ``q``-quantile of the pooled distribution at each axis point (nan where
        no realisation has a value)."""
        U, M, have = self._arrays()
        return self._quantile_of(M.sum(axis=0), have.any(axis=0), float(q))

    def realizations_at(self) -> np.ndarray:
        return self._arrays()[2].sum(axis=0)

    def replicates(self, q: float, B: int, seed) -> np.ndarray:
        """(B, K) pooled quantiles of realisation-resampled mixtures."""
        U, M, have = self._arrays()
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xB00C,)))
        out = np.empty((int(B), self.K))
        for b in range(int(B)):
            c = np.bincount(rng.integers(0, self.R, self.R), minlength=self.R).astype(float)
            w = np.tensordot(c, M, axes=(0, 0))
            out[b] = self._quantile_of(w, (c[:, None] * have).sum(axis=0) > 0, float(q))
        return out

    def walker_se(self, q: float, walkers: int) -> np.ndarray:
        """Order-statistic error of the pooled quantile from ``walkers`` per realisation,
        floored at the gap to the neighbouring value."""
        U, M, have = self._arrays()
        n = np.maximum(have.sum(axis=0), 1) * float(walkers)
        d = np.sqrt(q * (1 - q) / n)
        w = M.sum(axis=0)
        lo = np.array([self._quantile_of(w[k], have[:, k].any(), max(0.0, q - d[k])) for k in range(self.K)])
        hi = np.array([self._quantile_of(w[k], have[:, k].any(), min(1.0, q + d[k])) for k in range(self.K)])
        se = 0.5 * (hi - lo)
        from .simrun import _atom_gap
        return np.maximum(se, _atom_gap(U, np.nan_to_num(self.quantile(q))))
