r"""Newman--Ziff percolation: every occupation number of a realisation in one pass.

Method
------
Newman & Ziff (PRL 85, 4104 (2000); PRE 64, 016706 (2001)) observed that the
clusters of a percolation configuration with ``m`` occupied elements are obtained
from those with ``m - 1`` by adding *one* element -- so if the elements (edges for
bond percolation, nodes for site percolation) are occupied one at a time in a
uniformly random order, a single union--find pass gives an observable ``Q_m`` at
**every** occupation number ``m = 0 .. M`` in time ``O(M alpha(M))``, instead of one
connected-components computation per value of ``m`` or ``p``.  Because the order is
a uniform random permutation, the first ``m`` elements are a uniform random
``m``-subset: ``Q_m`` so obtained is an unbiased sample of the *microcanonical*
ensemble (exactly ``m`` occupied elements).

:func:`newman_ziff` runs ``realizations`` independent passes.  Each pass is one
numba kernel: a Fisher--Yates shuffle of the random elements, then union--find with
path halving and union by size on one ``int32`` array (a node's parent, or minus the
cluster size for a root), reading the shuffled elements sequentially so that the only
random memory accesses are the finds'.  Per occupation number it records

* ``S1[m]``, the size of the largest cluster (clusters only grow, so a running
  maximum over merges is exact);
* :math:`\sum_c s_c^2` over all clusters, maintained incrementally: a merge of
  clusters of sizes ``a`` and ``b`` adds :math:`(a+b)^2 - a^2 - b^2 = 2ab`; in site
  mode occupying a node first adds a new cluster of size 1 (adds 1);
* for every pair ``(A_j, B_j)`` of node sets in ``pairs``: the first occupation
  number at which one cluster contains a node of ``A_j`` and a node of ``B_j``.  Every
  root carries a 64-bit mask (bit ``2j``: "contains a node of ``A_j``", bit ``2j+1``:
  "... of ``B_j``"); the masks are OR-ed on union and a pair is connected when both of
  its bits are set in one root -- so at most 32 pairs.  Spanning of a lattice is
  such a pair (left column, right column).

From these, averaged over realisations (memory ``O(M)``, not ``O(R M)``):

* ``largest[m]`` -- mean of ``S1/n`` (the order parameter; ``n`` = all nodes, also in
  site mode), and ``largest_sq[m]``, the mean of ``(S1/n)^2`` (its variance gives
  error bars and the Binder-type ratios);
* ``chi[m]`` -- mean of :math:`(\sum_c s_c^2 - S_1^2)/n`, the *mean finite-cluster
  size* (susceptibility) in Newman & Ziff's definition: the second moment of the
  cluster-size distribution per node with the largest cluster removed.  It peaks at
  the percolation threshold (where it diverges for ``n -> inf``).  If two clusters
  tie for the largest, only one is removed;
* ``connected[j, m]`` -- the fraction of realisations in which pair ``j`` is
  connected at occupation number ``m`` (the cumulative histogram of the
  first-connection numbers: a pair once connected stays connected).

Modes
-----
``mode="bond"``: all ``n`` nodes are present; the random elements are the edges
(self-loops are dropped: occupying one never changes a cluster, so the canonical
ensemble is the same).  ``always`` marks edges that are present with probability 1
(e.g. the certain edges of a model where others are diluted): they are unioned
before the pass and are not random elements, so ``M`` counts only the others.

``mode="site"``: the random elements are the ``n`` nodes; an edge is active when both
ends are occupied (each newly occupied node is unioned with its occupied neighbours,
read from a CSR adjacency built once).  Cluster sizes count occupied nodes only, and
a pair is connected only through occupied nodes.

Canonical ensemble
------------------
With each of the ``M`` elements present independently with probability ``p``, the
number occupied is binomial, so (Newman & Ziff 2001, eq. 2)

.. math:: Q(p) = \sum_{m=0}^{M} \binom{M}{m} p^m (1-p)^{M-m} Q_m .

:func:`to_canonical` evaluates it for a microcanonical curve.  The binomial weights
are computed in a numba kernel by the ratio recurrence
:math:`w_{m+1}/w_m = \frac{M-m}{m+1}\frac{p}{1-p}` outward from the mode (starting at
1) over the window ``mean +- (12 sd + 25)`` clipped to ``[0, M]``, then normalised to
sum 1: the binomial mass outside that window is below ``1e-16`` (Chernoff), the
recurrence's rounding error is ``O(window * eps)`` (``< 1e-11`` relative for ``M``
of order ``10^6``), and no log-gamma or pmf table of size ``M`` is needed, so the
cost is ``O(len(grid) * sqrt(M))``.  ``p = 0`` and ``p = 1`` give ``Q_0`` and ``Q_M``
exactly.

With ``grid``, :func:`newman_ziff` converts *each realisation's* curves (``S1/n``,
``chi`` and the connection indicators) onto the grid and accumulates their mean and
sample variance over realisations with Welford's algorithm, so every canonical value
comes with a standard error (sample standard deviation over realisations /
sqrt(R)).  For the connection indicator, a step function ``1[m >= first_j]``, the
conversion is the binomial tail mass ``P(Bin(M, p) >= first_j)``.

Random numbers and reproducibility
----------------------------------
Realisation ``r`` shuffles the random elements (a copy of them in input order) with
Fisher--Yates driven by its own xoshiro256** generator (as in
:mod:`semdsl.solvers.simulate`), whose 256-bit state is
``np.random.SeedSequence(seed).spawn(R)[r].generate_state(4, uint64)``; the bounded
integers are drawn by Lemire's multiply-shift method with rejection, so the order is
exactly uniform.  Spawned children depend only on ``(seed, r)``, so realisation ``r``
is the same whatever ``R`` is, and the result depends on ``(seed, realizations)``
and the graph only.  :func:`realization_order` returns the order a realisation uses.

Performance
-----------
The pass is bound by cache misses: the shuffle's swaps and the finds touch random
addresses.  Both are known some iterations ahead (the shuffle's indices are drawn 16
steps early from the same stream, the pass reads the shuffled edges in order), so
they are software-prefetched (``llvm.prefetch``); the union loop does only the union
and two integer stores, the floating-point accumulation runs in a second streaming
loop, and the tests for pairs are hoisted out of the loops -- every extra branch or
store in the union loop cost up to 3x.  The shuffle inside numba is also ~5x faster
than ``Generator.permutation`` plus a gather.  Bond percolation on a 1000x1000 lattice
(2x10^6 edges, every occupation number, plus the conversion onto 100 ``p``) takes
~0.1 s warm -- about 1/70 of one ``scipy.sparse.csgraph.connected_components`` sweep
over 100 values of ``p`` (``bench/percolate.py``).  The first call in a process is
slower (~0.2-0.4 s) while the ~150 MB of fresh arrays is faulted in.

Threshold estimates
-------------------
:func:`crossing_threshold` estimates ``p_c`` from the crossings of a size-dependent
crossing (e.g. spanning) probability for successive system sizes, and
:func:`data_collapse` the correlation-length exponent ``nu`` by collapsing the curves
against :math:`(p - p_c) L^{1/\nu}`.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass, field
from typing import Callable

import llvmlite.binding as _llvm
import numpy as np
from llvmlite import ir as _ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .simulate import _next_u64

__all__ = ["Percolation", "newman_ziff", "single_realization", "to_canonical", "crossing_threshold",
           "data_collapse", "square_lattice", "realization_order", "MAX_PAIRS"]

#: At most this many node-set pairs (two bits each of a 64-bit root mask).
MAX_PAIRS = 32
#: Binomial window: ``mean +- (_WINDOW_SD * sd + _WINDOW_ADD)``.
_WINDOW_SD = 12.0
_WINDOW_ADD = 25.0
#: Look-ahead (in elements) of the software prefetches in the shuffle and the bond pass.
_AHEAD = 16
# llvm.prefetch is overloaded on the pointer type: "p0" with opaque pointers (LLVM >= 15)
_PREFETCH = "llvm.prefetch.p0" if _llvm.llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"


# --------------------------------------------------------------------------- union-find


@njit(inline="always", cache=True)
def _bounded(s, bound):
    """Uniform integer in ``[0, bound)`` for ``1 <= bound < 2**32`` from xoshiro state ``s``:
    Lemire's multiply-shift with rejection (exactly uniform, no division in the common case)."""
    b = np.uint64(bound)
    x = (_next_u64(s) >> np.uint64(32)) * b
    low = x & np.uint64(0xFFFFFFFF)
    if low < b:
        t = (np.uint64(0x100000000) - b) % b
        while low < t:
            x = (_next_u64(s) >> np.uint64(32)) * b
            low = x & np.uint64(0xFFFFFFFF)
    return np.int64(x >> np.uint64(32))


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Hint the CPU to fetch ``arr[idx]`` into cache (``llvm.prefetch``, read, high
    locality); no effect on results.  The pass and the shuffle are bound by cache misses
    at addresses known some iterations ahead, so prefetching them overlaps the misses
    (~1.5x on a 10^6-node lattice)."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty, idxty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        if isinstance(idxty, types.BaseTuple):
            idx = [context.cast(builder, x, t, types.intp)
                   for x, t in zip(cgutils.unpack_tuple(builder, args[1]), idxty)]
        else:
            idx = [context.cast(builder, args[1], idxty, types.intp)]
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx, wraparound=False)
        i8p = _ir.IntType(8).as_pointer()
        i32 = _ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, _ir.FunctionType(_ir.VoidType(), [i8p, i32, i32, i32]),
                                            _PREFETCH)
        builder.call(fn, [builder.bitcast(ptr, i8p), _ir.Constant(i32, 0), _ir.Constant(i32, 3),
                          _ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return sig, codegen


@njit(inline="always", cache=True)
def _shuffle(a, s):
    """Fisher--Yates shuffle of the 1-D array ``a`` in place (xoshiro state ``s``): for
    ``i = len - 1 .. 1`` swap ``a[i]`` with ``a[j]``, ``j`` uniform in ``0..i``.  The ``j``
    are drawn ``_AHEAD`` steps early (same random stream, same order, so the same
    permutation) so that ``a[j]`` can be prefetched."""
    M = a.shape[0]
    buf = np.empty(_AHEAD, np.int64)
    for k in range(min(_AHEAD, M - 1)):
        j = _bounded(s, M - k)
        buf[k] = j
        _prefetch(a, j)
    k = 0
    for i in range(M - 1, 0, -1):
        slot = k % _AHEAD
        j = buf[slot]
        if i - _AHEAD >= 1:
            jj = _bounded(s, i - _AHEAD + 1)
            buf[slot] = jj
            _prefetch(a, jj)
        tmp = a[i]
        a[i] = a[j]
        a[j] = tmp
        k += 1


@njit(inline="always", cache=True)
def _shuffle_rows(a, s):
    """:func:`_shuffle` of the rows of the (M, 2) array ``a``: the same permutation as
    :func:`_shuffle` on an array of length M with the same state."""
    M = a.shape[0]
    buf = np.empty(_AHEAD, np.int64)
    for k in range(min(_AHEAD, M - 1)):
        j = _bounded(s, M - k)
        buf[k] = j
        _prefetch(a, (j, 0))
    k = 0
    for i in range(M - 1, 0, -1):
        slot = k % _AHEAD
        j = buf[slot]
        if i - _AHEAD >= 1:
            jj = _bounded(s, i - _AHEAD + 1)
            buf[slot] = jj
            _prefetch(a, (jj, 0))
        t0 = a[i, 0]
        t1 = a[i, 1]
        a[i, 0] = a[j, 0]
        a[i, 1] = a[j, 1]
        a[j, 0] = t0
        a[j, 1] = t1
        k += 1


@njit(cache=True)
def _shuffled(elems, s):
    """A shuffled copy of ``elems`` (the order a realisation with xoshiro state ``s`` uses)."""
    out = elems.copy()
    _shuffle(out, s.copy())
    return out


@njit(inline="always", cache=True)
def _find(ps, x):
    """Root of ``x``.  ``ps[x] >= 0`` is the parent of ``x``; a root holds ``-size``.
    Path halving: every node on the path is re-pointed to its grandparent."""
    while ps[x] >= 0:
        p = ps[x]
        g = ps[p]
        if g < 0:
            return p
        ps[x] = g
        x = g
    return x


@njit(inline="always", cache=True)
def _record_hits(mask, done, first, m):
    """Pairs whose two bits are both set in ``mask`` and that were not connected yet:
    set their first-connection number to ``m``; returns the updated ``done`` mask."""
    hit = mask & (mask >> np.uint64(1)) & np.uint64(0x5555555555555555) & ~done
    if hit != np.uint64(0):
        j = 0
        h = hit
        while h != np.uint64(0):
            if h & np.uint64(1):
                first[j] = m
            h >>= np.uint64(2)
            j += 1
        done |= hit
    return done


@njit(inline="always", cache=True)
def _merge(ps, ra, rb, big, ssq):
    """Link the distinct roots ``ra``, ``rb`` by size; returns the surviving root, the
    absorbed one and the updated ``(largest cluster, sum of squared sizes)``: a merge
    of sizes ``a, b`` adds ``2ab`` to the sum of squares."""
    sa = -np.int64(ps[ra])
    sb = -np.int64(ps[rb])
    if sa < sb:
        ra, rb = rb, ra
    ps[rb] = ra
    s = sa + sb
    ps[ra] = -s
    if s > big:
        big = s
    return ra, rb, big, ssq + 2 * sa * sb


@njit(inline="always", cache=True)
def _union(ps, a, b, big, ssq):
    """Union by size of the clusters of ``a`` and ``b``; returns ``(largest, sum of squares)``."""
    ra = _find(ps, a)
    rb = _find(ps, b)
    if ra != rb:
        ra, rb, big, ssq = _merge(ps, ra, rb, big, ssq)
    return big, ssq


@njit(inline="always", cache=True)
def _union_pairs(ps, rmask, a, b, big, ssq, done, first, m):
    """:func:`_union` that also ORs the pair masks of the two roots and records the
    pairs connected by this merge (``done[0]``: uint64, bit ``2j`` set once pair ``j``
    is connected)."""
    ra = _find(ps, a)
    rb = _find(ps, b)
    if ra != rb:
        ra, rb, big, ssq = _merge(ps, ra, rb, big, ssq)
        mk = rmask[ra] | rmask[rb]
        rmask[ra] = mk
        if mk != np.uint64(0):
            done[0] = _record_hits(mk, done[0], first, m)
    return big, ssq


@njit(inline="always", cache=True)
def _accumulate(n, s1, sq, acc_l, acc_l2, acc_chi):
    """Second, streaming loop of a pass: from ``S1[m]`` and ``sum s^2[m]`` add ``S1/n``,
    ``(S1/n)^2`` and ``chi = (sum s^2 - S1^2)/n`` to the accumulators."""
    inv_n = 1.0 / n
    for m in range(s1.shape[0]):
        b = np.int64(s1[m])
        f = b * inv_n
        acc_l[m] += f
        acc_l2[m] += f * f
        acc_chi[m] += (sq[m] - b * b) * inv_n


# The passes keep the union loop minimal -- union, then two stores -- and move the
# floating-point bookkeeping to a second streaming loop, with the "pairs or not" test
# hoisted out of the loops: extra work or branches in the union loop cost up to 3x,
# because the loop's speed comes from the CPU overlapping the cache misses of
# successive iterations' finds.


@njit(cache=True)
def _bond_pass(n, edges, rng, fixed, node_mask, ps, rmask, first, s1, sq, acc_l, acc_l2, acc_chi):
    """One bond realisation.

    ``edges`` (M x 2, int32) is the working copy of the random edges: shuffled in
    place by Fisher--Yates with the xoshiro256** state ``rng`` when ``rng`` is not
    empty (otherwise used in the given order), then read sequentially -- so the only
    random memory accesses of the pass are the union--find's.  The ``fixed``
    (always-present) edges are unioned first.  ``rmask`` is empty when there are no
    pairs (``node_mask`` is then ignored).

    Writes ``s1[m]`` (largest cluster) and ``sq[m]`` (sum of squared sizes) for
    ``m = 0 .. M``, ``first[j]`` (left at its input value, ``M + 1``, if pair ``j`` is
    never connected), and accumulates as :func:`_accumulate`.
    """
    if rng.shape[0] > 0:
        _shuffle_rows(edges, rng)
    M = edges.shape[0]
    big = np.int64(1)                # largest cluster
    ssq = np.int64(n)                # sum of squared cluster sizes
    done = np.zeros(1, np.uint64)
    for i in range(n):
        ps[i] = -1
    if rmask.shape[0] == 0:
        for k in range(fixed.shape[0]):
            big, ssq = _union(ps, fixed[k, 0], fixed[k, 1], big, ssq)
        s1[0] = big
        sq[0] = ssq
        for t in range(M):
            if t + _AHEAD < M:
                _prefetch(ps, edges[t + _AHEAD, 0])
                _prefetch(ps, edges[t + _AHEAD, 1])
            big, ssq = _union(ps, edges[t, 0], edges[t, 1], big, ssq)
            s1[t + 1] = big
            sq[t + 1] = ssq
    else:
        for i in range(n):
            mk = node_mask[i]
            rmask[i] = mk
            if mk != np.uint64(0):
                done[0] = _record_hits(mk, done[0], first, 0)
        for k in range(fixed.shape[0]):
            big, ssq = _union_pairs(ps, rmask, fixed[k, 0], fixed[k, 1], big, ssq, done, first, 0)
        s1[0] = big
        sq[0] = ssq
        for t in range(M):
            if t + _AHEAD < M:
                _prefetch(ps, edges[t + _AHEAD, 0])
                _prefetch(ps, edges[t + _AHEAD, 1])
            big, ssq = _union_pairs(ps, rmask, edges[t, 0], edges[t, 1], big, ssq, done, first, t + 1)
            s1[t + 1] = big
            sq[t + 1] = ssq
    _accumulate(n, s1, sq, acc_l, acc_l2, acc_chi)


@njit(cache=True)
def _site_pass(n, nodes, rng, indptr, indices, node_mask, ps, rmask, first, s1, sq,
               acc_l, acc_l2, acc_chi):
    """One site realisation: ``nodes`` (the working copy of ``0 .. n-1``, shuffled in
    place when ``rng`` is not empty) are occupied in order, each joined to its
    occupied neighbours (CSR ``indptr``/``indices``).  Every node starts as a root of
    size 1 in ``ps`` but is only ever unioned once occupied, so cluster sizes count
    occupied nodes only.  Occupying a node adds a cluster of size 1 (``+1`` to the sum
    of squares).  Outputs as :func:`_bond_pass`."""
    if rng.shape[0] > 0:
        _shuffle(nodes, rng)
    big = np.int64(0)                # largest cluster
    ssq = np.int64(0)                # sum of squared cluster sizes
    done = np.zeros(1, np.uint64)
    occupied = np.zeros(n, np.bool_)
    for i in range(n):
        ps[i] = -1
    s1[0] = 0
    sq[0] = 0
    pairs = rmask.shape[0] > 0
    for t in range(nodes.shape[0]):
        i = nodes[t]
        occupied[i] = True
        ssq += 1
        if big < 1:
            big = np.int64(1)
        if pairs:
            mk = node_mask[i]
            rmask[i] = mk
            if mk != np.uint64(0):
                done[0] = _record_hits(mk, done[0], first, t + 1)
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                if occupied[j]:
                    big, ssq = _union_pairs(ps, rmask, i, j, big, ssq, done, first, t + 1)
        else:
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                if occupied[j]:
                    big, ssq = _union(ps, i, j, big, ssq)
        s1[t + 1] = big
        sq[t + 1] = ssq
    _accumulate(n, s1, sq, acc_l, acc_l2, acc_chi)


# --------------------------------------------------------------------------- canonical


@njit(inline="always", cache=True)
def _window(M, p):
    """``(lo, mode, hi)`` of the binomial window (inclusive bounds)."""
    if p <= 0.0:
        return 0, 0, 0
    if p >= 1.0:
        return M, M, M
    mu = M * p
    half = _WINDOW_SD * math.sqrt(mu * (1.0 - p)) + _WINDOW_ADD
    lo = max(0, int(math.floor(mu - half)))
    hi = min(M, int(math.ceil(mu + half)))
    mode = min(M, max(0, int(math.floor((M + 1) * p))))
    mode = min(max(mode, lo), hi)
    return lo, mode, hi


@njit(inline="always", cache=True)
def _weights(M, p):
    """Normalised binomial weights ``w[k]`` of ``m = lo + k`` over the window of
    :func:`_window`: the ratio recurrence ``w(m+1)/w(m) = (M-m)/(m+1) * p/(1-p)`` outward
    from the mode (which gets 1), then division by the sum.  Returns ``(lo, w)``."""
    lo, mode, hi = _window(M, p)
    w = np.empty(hi - lo + 1)
    w[mode - lo] = 1.0
    if lo < hi:
        r_up = p / (1.0 - p)
        r_dn = (1.0 - p) / p
        x = 1.0
        for m in range(mode, hi):
            x *= (M - m) / (m + 1.0) * r_up
            w[m + 1 - lo] = x
        x = 1.0
        for m in range(mode, lo, -1):
            x *= m / (M - m + 1.0) * r_dn
            w[m - 1 - lo] = x
        total = 0.0
        for k in range(w.shape[0]):
            total += w[k]
        for k in range(w.shape[0]):
            w[k] /= total
    return lo, w


@njit(inline="always", cache=True)
def _tails(lo, w, firsts, out_conn, g):
    """``out_conn[j, g]`` = weight of ``m >= firsts[j]`` (the canonical value of the step
    function ``1[m >= first_j]``: a binomial tail)."""
    for j in range(firsts.shape[0]):
        acc = 0.0
        for k in range(max(firsts[j] - lo, 0), w.shape[0]):
            acc += w[k]
        out_conn[j, g] = acc


@njit(cache=True)
def _convolve(curves, grid, firsts, out, out_conn):
    """Binomial average of each row of ``curves`` (K x (M+1)) at each ``p`` of ``grid``
    into ``out`` (K x G), and of the step functions ``1[m >= firsts[j]]`` into
    ``out_conn`` (J x G)."""
    M = curves.shape[1] - 1
    for g in range(grid.shape[0]):
        lo, w = _weights(M, grid[g])
        for c in range(curves.shape[0]):
            acc = 0.0
            for k in range(w.shape[0]):
                acc += w[k] * curves[c, lo + k]
            out[c, g] = acc
        _tails(lo, w, firsts, out_conn, g)


@njit(cache=True)
def _convolve_pass(s1, sq, n, grid, firsts, out, out_conn):
    """:func:`_convolve` of one realisation's ``S1/n`` (into ``out[0]``) and
    ``chi = (sum s^2 - S1^2)/n`` (``out[1]``), computed on the fly from the integer
    ``s1``, ``sq`` (no float copies of the curves), and of its connection steps."""
    M = s1.shape[0] - 1
    inv_n = 1.0 / n
    for g in range(grid.shape[0]):
        lo, w = _weights(M, grid[g])
        a0 = 0.0
        a1 = 0.0
        for k in range(w.shape[0]):
            b = np.int64(s1[lo + k])
            a0 += w[k] * b
            a1 += w[k] * (sq[lo + k] - b * b)
        out[0, g] = a0 * inv_n
        out[1, g] = a1 * inv_n
        _tails(lo, w, firsts, out_conn, g)


def _grid_array(grid, what: str = "grid") -> np.ndarray:
    g = np.atleast_1d(np.asarray(grid, dtype=np.float64))
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array of occupation probabilities")
    if not np.all(np.isfinite(g)) or np.any(g < 0.0) or np.any(g > 1.0):
        raise ValueError(f"{what} values must be probabilities in [0, 1]")
    return g


def to_canonical(Q_m, p_grid) -> np.ndarray:
    r"""Canonical average :math:`Q(p) = \sum_m \binom{M}{m} p^m (1-p)^{M-m} Q_m`.

    Parameters
    ----------
    Q_m : array_like (M + 1,) or (K, M + 1)
        Microcanonical curve(s) over the occupation numbers ``m = 0 .. M`` (last axis).
    p_grid : array_like (G,)
        Occupation probabilities in ``[0, 1]``.

    Returns
    -------
    ndarray (G,) or (K, G)
        The binomial (Newman & Ziff 2001, eq. 2) average at each ``p``; weights over
        ``mean +- (12 sd + 25)``, normalised (see the module docstring).
    """
    q = np.asarray(Q_m, dtype=np.float64)
    if q.ndim not in (1, 2) or q.shape[-1] == 0:
        raise ValueError("Q_m must be a non-empty 1-D curve over m = 0..M (or a 2-D stack of curves)")
    if not np.all(np.isfinite(q)):
        raise ValueError("Q_m has non-finite values")
    g = _grid_array(p_grid, "p_grid")
    q2 = np.ascontiguousarray(np.atleast_2d(q))
    out = np.empty((q2.shape[0], g.size))
    _convolve(q2, g, np.empty(0, np.int64), out, np.empty((0, g.size)))
    return out[0] if q.ndim == 1 else out


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class Percolation:
    r"""Result of :func:`newman_ziff`.

    Attributes
    ----------
    n : int
        Number of nodes (the denominator of ``largest`` and ``chi``, also in site mode).
    M : int
        Number of random elements: edges that are neither self-loops nor ``always``
        (bond mode), or ``n`` (site mode).
    mode : {"bond", "site"}
    realizations, seed : int
    m : ndarray (M + 1,) int64
        Occupation numbers ``0 .. M``; ``m / M`` is the occupied fraction.
    largest : ndarray (M + 1,)
        Mean over realisations of ``S1[m] / n``, the largest-cluster fraction with
        exactly ``m`` random elements occupied.
    largest_sq : ndarray (M + 1,)
        Mean of ``(S1[m] / n)^2``; ``largest_sq - largest**2`` is the variance over
        realisations (the standard error of ``largest`` is
        ``sqrt(var / (R - 1))`` with the sample correction).
    chi : ndarray (M + 1,)
        Mean of :math:`(\sum_c s_c^2 - S_1^2) / n`: the mean finite-cluster size
        (susceptibility, Newman & Ziff's definition).
    connected : ndarray (len(pairs), M + 1)
        Fraction of realisations in which pair ``j`` is connected at occupation ``m``.
    grid : ndarray (G,) or None
        Occupation probabilities of the canonical curves.
    canonical : dict or None
        With ``grid``: ``{"largest": {"value", "stderr"}, "chi": {...},
        "connected": [{...} per pair]}``, arrays over ``grid``; the canonical average
        of each realisation's curve, then mean and standard error (sample standard
        deviation over realisations / sqrt(R); ``nan`` for ``R = 1``).
    n_always : int
        Number of ``always`` (certain) edges unioned before every pass.
    wall_time : float
        Seconds, including the canonical conversion.
    """

    n: int
    M: int
    mode: str
    realizations: int
    seed: int
    m: np.ndarray = field(repr=False)
    largest: np.ndarray = field(repr=False)
    largest_sq: np.ndarray = field(repr=False)
    chi: np.ndarray = field(repr=False)
    connected: np.ndarray = field(repr=False)
    grid: np.ndarray | None = field(default=None, repr=False)
    canonical: dict | None = field(default=None, repr=False)
    n_always: int = 0
    wall_time: float = 0.0

    @property
    def fraction(self) -> np.ndarray:
        """Occupied fraction ``m / M`` of the random elements (``0`` when ``M = 0``)."""
        return self.m / self.M if self.M > 0 else np.zeros(1)

    @property
    def largest_stderr(self) -> np.ndarray:
        """Standard error of ``largest`` over realisations (``nan`` for one realisation)."""
        R = self.realizations
        if R < 2:
            return np.full_like(self.largest, np.nan)
        var = np.maximum(self.largest_sq - self.largest ** 2, 0.0) * (R / (R - 1))
        return np.sqrt(var / R)


# --------------------------------------------------------------------------- validation


def _int_scalar(x, what: str, minimum: int) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {x!r}")
    return int(x)


def _edge_arrays(n: int, u, v) -> tuple[np.ndarray, np.ndarray]:
    ua = np.asarray(u)
    va = np.asarray(v)
    for a, name in ((ua, "u"), (va, "v")):
        if a.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array of node indices, got shape {a.shape}")
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name} must be an integer array of node indices, got dtype {a.dtype}")
    if ua.shape != va.shape:
        raise ValueError(f"u and v must have the same length, got {ua.size} and {va.size}")
    for a, name in ((ua, "u"), (va, "v")):
        if a.size and (a.min() < 0 or a.max() >= n):
            raise ValueError(f"{name} has node indices out of range 0..{n - 1}")
    return ua, va


def _pairs_of(ua: np.ndarray, va: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """(K, 2) int32 array of the edges selected by ``keep`` (all if None), built in place
    (fresh memory is costly to touch at 10^6-10^7 edges: no temporaries when all are kept)."""
    k = ua.size if keep is None else int(np.count_nonzero(keep))
    out = np.empty((k, 2), np.int32)
    if keep is None:
        out[:, 0] = ua
        out[:, 1] = va
    else:
        out[:, 0] = ua[keep]
        out[:, 1] = va[keep]
    return out


def _id_set(ids, n: int, what: str) -> np.ndarray:
    a = np.asarray(ids)
    if a.dtype == np.bool_:
        if a.shape != (n,):
            raise ValueError(f"{what}: boolean mask must have shape ({n},), got {a.shape}")
        a = np.flatnonzero(a)
    else:
        a = a.ravel()
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{what}: node ids must be integers (or a boolean mask over the nodes)")
        if a.size and (a.min() < 0 or a.max() >= n):
            raise ValueError(f"{what}: node id out of range 0..{n - 1}")
    if a.size == 0:
        raise ValueError(f"{what} is empty")
    return a.astype(np.int64)


def _pair_masks(pairs, n: int) -> tuple[np.ndarray, int]:
    pairs = list(pairs or [])
    if len(pairs) > MAX_PAIRS:
        raise ValueError(f"at most {MAX_PAIRS} pairs are supported, got {len(pairs)}")
    if not pairs:
        return np.zeros(0, np.uint64), 0          # not read by the passes
    mask = np.zeros(n, np.uint64)
    for j, pr in enumerate(pairs):
        try:
            A, B = pr
        except (TypeError, ValueError):
            raise ValueError(f"pairs[{j}] must be a pair (ids_A, ids_B) of node-id arrays") from None
        ia = _id_set(A, n, f"pairs[{j}] set A")
        ib = _id_set(B, n, f"pairs[{j}] set B")
        mask[ia] |= np.uint64(1) << np.uint64(2 * j)
        mask[ib] |= np.uint64(1) << np.uint64(2 * j + 1)
    return mask, len(pairs)


def _csr(n: int, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric CSR adjacency (both directions; self-loops dropped) via a stable argsort."""
    keep = u != v
    src = np.concatenate([u[keep], v[keep]])
    dst = np.concatenate([v[keep], u[keep]])
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst[order].astype(np.int32)


class _Prepared:
    """Validated inputs of one run (shared by :func:`newman_ziff` and :func:`single_realization`)."""

    def __init__(self, n, u, v, mode, pairs, always):
        self.n = _int_scalar(n, "n", 1)
        if self.n >= 2 ** 31 - 1:
            raise ValueError(f"n must be < 2**31 - 1 (int32 union-find), got {n}")
        if mode not in ("bond", "site"):
            raise ValueError(f"mode must be 'bond' or 'site', got {mode!r}")
        self.mode = mode
        eu, ev = _edge_arrays(self.n, u, v)
        self.node_mask, self.n_pairs = _pair_masks(pairs, self.n)
        self.n_always = 0
        if mode == "bond":
            loop = eu == ev
            fixed = None
            if always is not None:
                fixed = np.asarray(always)
                if fixed.dtype != np.bool_ or fixed.shape != eu.shape:
                    raise ValueError(f"always must be a boolean mask over the {eu.size} edges, "
                                     f"got dtype {fixed.dtype} shape {fixed.shape}")
            if fixed is None and not loop.any():
                self.elems = _pairs_of(eu, ev, None)
                self.fixed = np.empty((0, 2), np.int32)
            else:
                fixed = np.zeros(eu.size, bool) if fixed is None else fixed
                self.elems = _pairs_of(eu, ev, ~fixed & ~loop)
                self.fixed = _pairs_of(eu, ev, fixed & ~loop)
            self.n_always = int(self.fixed.shape[0])
        else:
            if always is not None:
                raise ValueError("always (certain edges) is only meaningful in bond mode")
            self.indptr, self.indices = _csr(self.n, eu.astype(np.int64), ev.astype(np.int64))
            self.elems = np.arange(self.n, dtype=np.int32)
        self.M = int(self.elems.shape[0])
        if self.M >= 2 ** 32:
            raise ValueError(f"at most 2**32 - 1 random elements are supported, got {self.M}")
        # scratch, reused across realisations
        self.work = np.empty_like(self.elems)
        self.ps = np.empty(self.n, np.int32)
        self.rmask = np.empty(self.n if self.n_pairs else 0, np.uint64)

    def run(self, rng, first, s1, sq, acc_l, acc_l2, acc_chi, order=None):
        """One pass: shuffled by xoshiro state ``rng`` (uint64[4]), or in ``order`` if given."""
        if order is None:
            np.copyto(self.work, self.elems)
        else:
            self.work[:] = self.elems[order]
            rng = np.empty(0, np.uint64)
        first[:] = self.M + 1
        if self.mode == "bond":
            _bond_pass(self.n, self.work, rng, self.fixed, self.node_mask, self.ps, self.rmask, first,
                       s1, sq, acc_l, acc_l2, acc_chi)
        else:
            _site_pass(self.n, self.work, rng, self.indptr, self.indices, self.node_mask, self.ps,
                       self.rmask, first, s1, sq, acc_l, acc_l2, acc_chi)


# --------------------------------------------------------------------------- drivers


def _streams(seed: int, R: int) -> np.ndarray:
    """xoshiro256** states (R x 4) of the realisations: ``SeedSequence(seed).spawn(R)``."""
    states = np.empty((R, 4), np.uint64)
    for r, ch in enumerate(np.random.SeedSequence(seed).spawn(R)):
        st = ch.generate_state(4, np.uint64)
        if not st.any():
            st[0] = np.uint64(1)
        states[r] = st
    return states


def single_realization(n, u, v, order, *, mode: str = "bond", pairs=None, always=None) -> dict:
    """One Newman--Ziff pass with a given occupation order (for tests and inspection).

    Parameters
    ----------
    n, u, v, mode, pairs, always
        As in :func:`newman_ziff`.
    order : array_like (M,)
        A permutation of the random elements: of ``0 .. M-1`` indexing the random
        edges (``u, v`` with self-loops and ``always`` edges removed, in input order)
        in bond mode, of the nodes in site mode.

    Returns
    -------
    dict
        ``"largest"`` (int64, ``M + 1``: ``S1[m]``), ``"sum_sq"`` (int64: sum of
        squared cluster sizes), ``"first"`` (int64 per pair: first occupation number
        at which the pair is connected, ``M + 1`` if never), ``"M"``.
    """
    prep = _Prepared(n, u, v, mode, pairs, always)
    order = np.asarray(order)
    if order.shape != (prep.M,) or (order.size and not np.issubdtype(order.dtype, np.integer)):
        raise ValueError(f"order must be an integer permutation of the {prep.M} random elements")
    order = order.astype(np.int64)
    if not np.array_equal(np.sort(order), np.arange(prep.M)):
        raise ValueError(f"order must be a permutation of 0..{prep.M - 1}")
    s1 = np.empty(prep.M + 1, np.int32)
    sq = np.empty(prep.M + 1, np.int64)
    first = np.empty(prep.n_pairs, np.int64)
    z = np.zeros(prep.M + 1)
    prep.run(None, first, s1, sq, z, z.copy(), z.copy(), order=order)
    return {"largest": s1.astype(np.int64), "sum_sq": sq, "first": first, "M": prep.M}


def realization_order(n, u, v, *, mode: str = "bond", seed: int = 0, index: int = 0,
                      always=None) -> np.ndarray:
    """The occupation order that realisation ``index`` of :func:`newman_ziff` with this
    ``seed`` uses (whatever its ``realizations`` > ``index``), as a permutation of the
    random elements for :func:`single_realization`."""
    prep = _Prepared(n, u, v, mode, None, always)
    index = _int_scalar(index, "index", 0)
    state = _streams(_int_scalar(seed, "seed", 0), index + 1)[index]
    return _shuffled(np.arange(prep.M, dtype=np.int64), state)


def newman_ziff(n, u, v, *, mode: str = "bond", realizations: int = 1, seed: int = 0, grid=None,
                pairs=None, always=None, progress: Callable[[int, int], object] | None = None) -> Percolation:
    """Newman--Ziff site or bond percolation on a graph, at every occupation number.

    Parameters
    ----------
    n : int >= 1
        Number of nodes ``0 .. n-1``.
    u, v : int arrays (E,)
        Undirected edges ``u[k] -- v[k]``; self-loops are ignored, parallel edges allowed
        (each is a separate random element in bond mode).
    mode : {"bond", "site"}
        Occupy edges (all nodes present) or nodes (edges active between occupied ends).
    realizations : int >= 1
        Independent random orders.
    seed : int >= 0
        Seed of :class:`numpy.random.SeedSequence`; realisation ``r`` uses child ``r``
        of ``spawn(realizations)`` (see the module docstring).
    grid : array_like of probabilities in [0, 1], optional
        Also return canonical curves (and standard errors) at these ``p``.
    pairs : list of (ids_A, ids_B), optional
        Up to 32 pairs of node sets (integer ids or boolean masks over nodes, non-empty);
        for each, the fraction of realisations in which some cluster contains a node of
        ``A`` and a node of ``B`` (of occupied nodes, in site mode) is recorded.
    always : bool array (E,), optional
        Bond mode: edges present with probability 1, unioned before every pass and not
        among the ``M`` random elements.
    progress : callable(done, total), optional
        Called after each realisation.

    Returns
    -------
    Percolation
    """
    start = _time.perf_counter()
    R = _int_scalar(realizations, "realizations", 1)
    seed = _int_scalar(seed, "seed", 0)
    g = None if grid is None else _grid_array(grid)
    if progress is not None and not callable(progress):
        raise ValueError("progress must be a callable(done, total) or None")
    prep = _Prepared(n, u, v, mode, pairs, always)
    n, M, J = prep.n, prep.M, prep.n_pairs

    first = np.empty(J, np.int64)
    s1 = np.empty(M + 1, np.int32)       # largest cluster (n < 2**31)
    sq = np.empty(M + 1, np.int64)       # sum of squared cluster sizes
    acc_l = np.zeros(M + 1)
    acc_l2 = np.zeros(M + 1)
    acc_chi = np.zeros(M + 1)
    firsts = np.empty((R, J), np.int64)   # first-connection numbers (M + 1: never)
    if g is not None:
        can = np.empty((2, g.size))
        can_conn = np.empty((J, g.size))
        w_mean = np.zeros((2 + J, g.size))
        w_m2 = np.zeros((2 + J, g.size))
    states = _streams(seed, R)
    for r in range(R):
        prep.run(states[r], first, s1, sq, acc_l, acc_l2, acc_chi)
        firsts[r] = first
        if g is not None:
            _convolve_pass(s1, sq, n, g, first, can, can_conn)
            x = np.concatenate([can, can_conn])
            d = x - w_mean
            w_mean += d / (r + 1)
            w_m2 += d * (x - w_mean)
        if progress is not None:
            progress(r + 1, R)

    # in place: no fresh (costly to touch) output arrays
    largest, largest_sq, chi = acc_l, acc_l2, acc_chi
    for a in (largest, largest_sq, chi):
        a /= R
    # fraction connected at m = cumulative histogram of the first-connection numbers
    connected = np.empty((J, M + 1))
    for j in range(J):
        np.cumsum(np.bincount(firsts[:, j], minlength=M + 2)[:M + 1], out=connected[j])
    connected /= R
    canonical = None
    if g is not None:
        if R > 1:
            se = np.sqrt(np.maximum(w_m2, 0.0) / (R - 1) / R)
        else:
            se = np.full_like(w_mean, np.nan)

        def entry(i):
            return {"value": w_mean[i].copy(), "stderr": se[i].copy()}
        canonical = {"largest": entry(0), "chi": entry(1), "connected": [entry(2 + j) for j in range(J)]}
    return Percolation(n=n, M=M, mode=prep.mode, realizations=R, seed=seed, m=np.arange(M + 1),
                       largest=largest, largest_sq=largest_sq, chi=chi, connected=connected, grid=g,
                       canonical=canonical, n_always=prep.n_always, wall_time=_time.perf_counter() - start)


# --------------------------------------------------------------------------- lattices


def square_lattice(rows: int, cols: int | None = None) -> tuple[int, np.ndarray, np.ndarray]:
    """Open square lattice ``rows x cols``: ``(n, u, v)`` with node ``(i, j) -> i*cols + j``
    (C order); the horizontal edges first, then the vertical ones."""
    rows = _int_scalar(rows, "rows", 1)
    cols = rows if cols is None else _int_scalar(cols, "cols", 1)
    idx = np.arange(rows * cols, dtype=np.int64).reshape(rows, cols)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return rows * cols, u, v


# --------------------------------------------------------------------------- thresholds


def _curve_set(curves: dict, min_sizes: int) -> tuple[list[int], np.ndarray, list[np.ndarray], list[np.ndarray]]:
    if not isinstance(curves, dict) or len(curves) < min_sizes:
        got = len(curves) if isinstance(curves, dict) else type(curves).__name__
        raise ValueError(f"need curves for at least {min_sizes} system sizes, got {got}")
    sizes = sorted(curves)
    for L in sizes:
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 1:
            raise ValueError(f"system sizes must be positive integers, got {L!r}")
    grid = None
    vals, ses = [], []
    for L in sizes:
        try:
            x, y, s = curves[L]
        except (TypeError, ValueError):
            raise ValueError(f"curves[{L}] must be a tuple (grid, value, stderr)") from None
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        s = np.zeros_like(y) if s is None else np.asarray(s, np.float64)
        if x.ndim != 1 or x.size < 2 or y.shape != x.shape or s.shape != x.shape:
            raise ValueError(f"curves[{L}]: grid, value and stderr must be 1-D arrays of one length >= 2")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError(f"curves[{L}]: grid and value must be finite")
        if np.any(np.diff(x) <= 0):
            raise ValueError(f"curves[{L}]: grid must be strictly increasing")
        if grid is None:
            grid = x
        elif x.shape != grid.shape or not np.allclose(x, grid, rtol=0, atol=1e-12):
            raise ValueError("all curves must be given on a common grid")
        vals.append(y)
        ses.append(np.where(np.isfinite(s), s, 0.0))
    return [int(L) for L in sizes], grid, vals, ses


def _crossing(x, y1, s1, y2, s2, level):
    """The crossing of ``y1`` and ``y2`` (linear interpolation of their difference
    between grid points where it changes sign) closest to ``level`` (default: the
    midpoint of the two curves' common range).  ``None`` if they never cross."""
    d = y2 - y1
    cand = np.flatnonzero((d[:-1] == 0) | (np.sign(d[:-1]) * np.sign(d[1:]) < 0))
    if cand.size == 0:
        return None
    if level is None:
        lo = max(y1.min(), y2.min())
        hi = min(y1.max(), y2.max())
        level = 0.5 * (lo + hi)
    best = None
    for k in cand:
        dx = x[k + 1] - x[k]
        t = 0.0 if d[k] == 0 else d[k] / (d[k] - d[k + 1])
        p = x[k] + t * dx
        val = 0.5 * ((1 - t) * (y1[k] + y2[k]) + t * (y1[k + 1] + y2[k + 1]))
        slope = (d[k + 1] - d[k]) / dx
        e1 = (1 - t) * s1[k] + t * s1[k + 1]
        e2 = (1 - t) * s2[k] + t * s2[k + 1]
        sig = math.sqrt(e1 * e1 + e2 * e2) / abs(slope) if slope != 0 else math.inf
        score = abs(val - level)
        if best is None or score < best[0]:
            best = (score, {"p": float(p), "stderr": float(sig), "value": float(val),
                            "slope_difference": float(slope)})
    return best[1]


def crossing_threshold(curves: dict, level: float | None = None) -> dict:
    r"""Percolation threshold from the crossings of finite-size curves.

    A crossing (e.g. spanning, or pair-connection) probability :math:`R_L(p)` has the
    finite-size scaling form :math:`R_L(p) = \Phi((p - p_c) L^{1/\nu}) + \dots`: curves of
    different sizes ``L`` cross near ``p_c``, with a shift of the crossing of two sizes
    that vanishes as a power of ``L`` (the corrections to scaling), and they become steeper
    with ``L``.

    For each pair of *successive* sizes the crossing is found where the difference
    :math:`R_{L'} - R_L` changes sign between grid points, by linear interpolation; if it
    changes sign several times (statistical noise where both curves are near 0 or 1),
    the crossing whose curve value is closest to ``level`` is taken (default: the
    midpoint of the curves' common range, i.e. where both are at intermediate values).
    Its standard error propagates the curves' standard errors through the crossing:
    :math:`\sigma_p = \sqrt{se_1^2 + se_2^2} / |R'_{L'} - R'_L|` (slope difference from
    the same two grid points).

    The estimate (``"value"``) is the crossing of the **two largest sizes**: the
    finite-size shift decreases with ``L``, so it is the least biased crossing, and its
    statistical error is also the smallest when the curves have comparable standard
    errors (the slope difference grows like :math:`L^{1/\nu}`).  Averaging with the
    smaller sizes' crossings would trade that bias for little variance.  The interval
    covers all the successive crossings with two standard errors each,
    ``(min_k (p_k - 2 sigma_k), max_k (p_k + 2 sigma_k))``, so it reflects both the
    statistical error and the drift of the crossings with size (a systematic error
    indicator).

    Parameters
    ----------
    curves : dict L -> (grid, value, stderr)
        At least 3 system sizes, on a common strictly increasing grid (``stderr`` may
        be ``None``: zero); e.g. ``(p.grid, c["value"], c["stderr"])`` from
        ``newman_ziff(...).canonical["connected"][0]``.
    level : float, optional
        Curve value near which to choose among several sign changes.

    Returns
    -------
    dict
        ``"value"`` (float), ``"interval"`` (lo, hi), ``"crossings"`` (per successive
        pair: ``{"sizes": (L, L'), "p", "stderr", "value", "slope_difference"}``),
        ``"sizes"`` (sorted).
    """
    sizes, x, vals, ses = _curve_set(curves, 3)
    crossings = []
    for k in range(len(sizes) - 1):
        c = _crossing(x, vals[k], ses[k], vals[k + 1], ses[k + 1], level)
        if c is None:
            raise ValueError(f"the curves of sizes {sizes[k]} and {sizes[k + 1]} do not cross on the grid "
                             f"[{x[0]:g}, {x[-1]:g}]; widen the grid or check the observable")
        c["sizes"] = (sizes[k], sizes[k + 1])
        crossings.append(c)
    lo = min(c["p"] - 2 * c["stderr"] for c in crossings)
    hi = max(c["p"] + 2 * c["stderr"] for c in crossings)
    return {"value": crossings[-1]["p"], "interval": (float(lo), float(hi)), "crossings": crossings,
            "sizes": sizes}


def data_collapse(curves: dict, p_c: float, nu_grid, *, window: tuple[float, float] = (0.1, 0.9)) -> dict:
    r"""Correlation-length exponent from the best collapse of finite-size curves.

    With the scaling form :math:`R_L(p) = \Phi((p - p_c) L^{1/\nu})`, the curves of all
    sizes fall on one line when plotted against :math:`x = (p - p_c) L^{1/\nu}` with the
    right :math:`\nu`.  For each candidate :math:`\nu` the quality is measured as in
    Houdayer & Hartmann (PRB 70, 014418 (2004)), simplified: at every grid point of
    every curve whose value is inside ``window`` (as a fraction of the curves' common
    range -- the saturated tails carry no information and would dilute the measure),
    the other curves are interpolated linearly at the same ``x`` (when it lies inside
    their range), and the squared deviations from the mean of the curves there,
    divided by ``sum of squared standard errors + 1e-12``, are averaged.  ``nu`` is the
    minimiser over ``nu_grid``, refined by a parabola through the three best points.

    Parameters
    ----------
    curves : dict L -> (grid, value, stderr)
        At least 2 system sizes on a common grid.
    p_c : float
        The threshold (e.g. from :func:`crossing_threshold`).
    nu_grid : array_like
        Candidate exponents, > 0.
    window : (lo, hi)
        Range of curve values (fraction of the common range) used in the measure.

    Returns
    -------
    dict
        ``"nu"`` (float), ``"nu_grid"``, ``"cost"`` (per candidate; ``inf`` where no
        points overlap).
    """
    sizes, x, vals, ses = _curve_set(curves, 2)
    nus = np.atleast_1d(np.asarray(nu_grid, np.float64))
    if nus.ndim != 1 or nus.size == 0 or not np.all(np.isfinite(nus)) or np.any(nus <= 0):
        raise ValueError("nu_grid must be a non-empty 1-D array of positive exponents")
    ymin = max(y.min() for y in vals)
    ymax = min(y.max() for y in vals)
    lo = ymin + window[0] * (ymax - ymin)
    hi = ymin + window[1] * (ymax - ymin)
    cost = np.full(nus.size, np.inf)
    for i, nu in enumerate(nus):
        xs = [(x - p_c) * float(L) ** (1.0 / nu) for L in sizes]
        total, count = 0.0, 0
        for a in range(len(sizes)):
            sel = (vals[a] >= lo) & (vals[a] <= hi)
            for xp in xs[a][sel]:
                ys, es = [], []
                for b in range(len(sizes)):
                    if xs[b][0] <= xp <= xs[b][-1]:
                        ys.append(np.interp(xp, xs[b], vals[b]))
                        es.append(np.interp(xp, xs[b], ses[b]))
                if len(ys) < 2:
                    continue
                ys = np.array(ys)
                total += float(np.sum((ys - ys.mean()) ** 2)) / (float(np.sum(np.square(es))) + 1e-12)
                count += 1
        if count:
            cost[i] = total / count
    k = int(np.argmin(cost))
    nu = float(nus[k])
    if 0 < k < nus.size - 1 and np.all(np.isfinite(cost[k - 1:k + 2])):
        a, b, c = cost[k - 1:k + 2]
        x0, x1, x2 = nus[k - 1:k + 2]
        den = (x0 - x1) * (x0 - x2) * (x1 - x2)
        A = (x2 * (b - a) + x1 * (a - c) + x0 * (c - b)) / den
        B = (x2 * x2 * (a - b) + x1 * x1 * (c - a) + x0 * x0 * (b - c)) / den
        if A > 0:
            nu = float(min(max(-B / (2 * A), x0), x2))
    return {"nu": nu, "nu_grid": nus, "cost": cost}
