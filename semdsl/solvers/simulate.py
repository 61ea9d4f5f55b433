r"""Kinetic Monte Carlo: exact continuous-time Gillespie walkers on a CTMC generator.

:func:`simulate` runs ``walkers`` independent walkers on the generator ``Q``
(``Q[i, j]`` = rate ``i -> j``; only the off-diagonal entries are used, the exit
rate of node ``i`` is :math:`q_i = \sum_{j \ne i} Q_{ij}`).  A walker on ``i`` waits
an exponential time of rate :math:`q_i` and then hops to ``j`` with probability
:math:`Q_{ij}/q_i`, drawn by a binary search in the row's cumulative rates (the CSR
cumulative sums are computed once).  A node with :math:`q_i = 0` is absorbing.

What is recorded, at every sample time :math:`t_k` (the node occupied at
:math:`t_k` is the one entered at the last hop at or before :math:`t_k`):

* the occupation histogram ``counts[k, i]`` (when ``n * len(times) <= 5e7``);
* for every node-valued array ``f`` in ``observables``: the mean over walkers of
  ``f(X(t_k))`` and its standard error (``prob(set)`` is the mean of an indicator);
* optional quantiles of one of those observables over walkers (the per-walker
  node matrix ``walkers x len(times)`` is then kept, so it must be ``<= 5e7``);
* with ``coords``: the squared displacement :math:`\sum_c (x_c(t) - x_c(0))^2`,
  mean and standard error;
* with ``track_visited``: the number of distinct nodes visited so far, mean and
  standard error (a per-chunk boolean scratch array of size ``n``, reset through
  the list of nodes the walker visited);
* for every target set: the first-passage time of each walker (``0`` if it starts
  on the target), ``inf`` when censored at ``t_max``.

No trajectories are stored: memory is O(walkers + nodes + len(times)) apart from
the optional histogram / quantile matrices above.

Random numbers and reproducibility
----------------------------------
Walkers are grouped in chunks of ``chunk`` consecutive walkers; chunk ``c`` gets
its own xoshiro256** generator (Blackman & Vigna) whose 256-bit state is
``np.random.SeedSequence(seed).spawn(n_chunks)[c].generate_state(4, uint64)``.
Uniforms are ``(x >> 11) * 2**-53`` in ``[0, 1)``; the holding time is ``E / q_i``
with ``E ~ Exp(1)`` from a 256-layer ziggurat (Marsaglia & Tsang; one 64-bit draw and
no logarithm in ~99% of the draws -- the logarithm sat on every hop's critical path
and cost a third of the hop).  The default chunk of 512 walkers splits the usual
10^3..10^5 walkers into enough chunks to keep both cores busy to the end.  Chunks are run in parallel with ``numba.prange``; each
chunk writes only its own accumulators (Welford mean / M2 per sample time) and
they are merged in chunk order (Chan's formula), so the output depends on
``(seed, walkers, chunk)`` only -- not on the number of threads or on scheduling.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import njit, prange

from .exact import as_generator

__all__ = ["Simulation", "simulate", "MAX_MATRIX"]

#: Largest ``n * len(times)`` for the histogram and ``walkers * len(times)`` for quantiles.
MAX_MATRIX = 50_000_000
#: Elements of the per-batch node buffer used to build the histogram.
_BATCH_BUFFER = 16_000_000
_U53 = 1.0 / 9007199254740992.0


# --------------------------------------------------------------------------- RNG


@njit(inline="always", cache=True)
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(inline="always", cache=True)
def _next_u64(s):
    """xoshiro256**: advance the 4-word state ``s`` in place, return 64 random bits."""
    s0 = s[0]
    s1 = s[1]
    s2 = s[2]
    s3 = s[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    return result


@njit(inline="always", cache=True)
def _uniform(s):
    """Uniform double in [0, 1) from the top 53 bits."""
    return np.float64(_next_u64(s) >> np.uint64(11)) * _U53


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Marsaglia & Tsang's 256-layer ziggurat for Exp(1), scaled to 53-bit integers.

    The recurrence of Marsaglia & Tsang (J. Stat. Softw. 5(8), 2000), with the
    layer's uniform integer taken as 53 bits (as numpy's ``standard_exponential``
    does) instead of 32: ``ke`` are the acceptance bounds, ``we`` the widths per
    unit integer, ``fe`` the density at the layer edges.
    """
    m = 2.0 ** 53
    de = ZIG_R
    te = de
    ve = 3.949659822581572e-3            # area of each of the 256 layers
    q = ve / math.exp(-de)
    ke = np.zeros(256, np.uint64)
    we = np.zeros(256)
    fe = np.zeros(256)
    ke[0] = np.uint64((de / q) * m)
    we[0] = q / m
    we[255] = de / m
    fe[0] = 1.0
    fe[255] = math.exp(-de)
    for i in range(254, 0, -1):
        de = -math.log(ve / de + math.exp(-de))
        ke[i + 1] = np.uint64((de / te) * m)
        te = de
        fe[i] = math.exp(-de)
        we[i] = de / m
    return ke, we, fe


#: right edge of the ziggurat's base layer (the tail beyond it is sampled exactly)
ZIG_R = 7.697117470131487
_ZKE, _ZWE, _ZFE = _ziggurat_tables()


@njit(inline="always", cache=True)
def _exponential(s, ke, we, fe):
    """Exp(1) by the ziggurat: one 64-bit draw and no logarithm in ~99% of the calls.

    Of the 64 bits, 8 pick the layer and 53 the abscissa; the wedge is accepted
    against the exact density and the base layer's tail (beyond ``ZIG_R``) is
    ``ZIG_R + Exp(1)`` by inversion -- the law is exactly Exp(1) up to the 53-bit grid.
    """
    while True:
        ri = _next_u64(s) >> np.uint64(3)
        idx = np.int64(ri & np.uint64(0xFF))
        ri >>= np.uint64(8)
        x = np.float64(ri) * we[idx]
        if ri < ke[idx]:
            return x
        if idx == 0:
            return ZIG_R - np.log(1.0 - _uniform(s))
        if (fe[idx - 1] - fe[idx]) * _uniform(s) + fe[idx] < np.exp(-x):
            return x


@njit(cache=True)
def _exponential_draws(state, count, ke, we, fe):
    """``count`` Exp(1) draws from ``state`` (for the tests of the sampler)."""
    s = state.copy()
    out = np.empty(count)
    for i in range(count):
        out[i] = _exponential(s, ke, we, fe)
    return out


@njit(cache=True)
def _xoshiro_outputs(state, count):
    """First ``count`` outputs from ``state`` (for tests against the reference)."""
    s = state.copy()
    out = np.empty(count, np.uint64)
    for i in range(count):
        out[i] = _next_u64(s)
    return out


# --------------------------------------------------------------------------- kernel


@njit(inline="always", cache=True)
def _pick(cum, lo, hi, r):
    """First index ``j`` in ``[lo, hi)`` with ``cum[j] > r`` (``r < cum[hi - 1]``).

    Short rows (lattices, sparse graphs) by a branch-free count, which the processor
    does not mispredict; long rows by bisection.
    """
    if hi - lo <= 8:
        c = lo
        for j in range(lo, hi - 1):
            c += cum[j] <= r
        return c
    return _search(cum, lo, hi, r)


@njit(inline="always", cache=True)
def _search(cum, lo, hi, r):
    """First index ``j`` in ``[lo, hi)`` with ``cum[j] > r`` (``r < cum[hi - 1]``)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[mid] > r:
            hi = mid
        else:
            lo = mid + 1
    return lo


#: walkers advanced in turn by one thread: their hops' memory and arithmetic latencies
#: overlap (a hop depends on the previous one, so a single walker leaves the core idle)
LANES = 4


@njit(inline="always", cache=True)
def _start_walker(s, w, g, init_cdf, n, tmask, fpt, lane_node, lane_node0, lane_t, lane_k,
                  lane_unhit, lane_w, track_visited, seen, seen_list, lane_nseen):
    r = _uniform(s) * init_cdf[n - 1]
    node = _search(init_cdf, 0, n, r)
    if node >= n:
        node = n - 1
    lane_w[g] = w
    lane_node[g] = node
    lane_node0[g] = node
    lane_t[g] = 0.0
    lane_k[g] = 0
    if track_visited:
        seen[node] = True
        seen_list[0] = node
        lane_nseen[g] = 1
    unhit = 0
    for j in range(tmask.shape[0]):
        if tmask[j, node]:
            fpt[j, w] = 0.0
        else:
            fpt[j, w] = np.inf
            unhit += 1
    lane_unhit[g] = unhit


@njit(parallel=True, nogil=True, cache=True)
def _run_batch(indptr, indices, cum, init_cdf, times, t_max, states, c0, chunk, w0, walkers,
               obs, coords, tmask, track_visited, store_nodes, node_out, node_row0, fpt,
               obs_mean, obs_m2, msd_mean, msd_m2, vis_mean, vis_m2, events, zke, zwe, zfe, inv_q):
    """Advance the chunks ``c0 .. c0 + states.shape[0] - 1`` (walkers from ``w0``).

    Each chunk writes only its own rows of the accumulators (``obs_mean[b]``, ...),
    of ``node_out`` and of ``fpt``, so the result does not depend on threads.  Inside a
    chunk ``LANES`` walkers take turns, one hop each (one lane with ``track_visited``:
    its scratch array is per walker); a lane whose walker is done starts the chunk's
    next walker.  The chunk's stream is drawn in that fixed order, and the Welford
    updates of each sample time count their own walkers.
    """
    nb = states.shape[0]
    K = times.shape[0]
    n = init_cdf.shape[0]
    n_obs = obs.shape[0]
    n_coord = coords.shape[0]
    n_targ = tmask.shape[0]
    G = 1 if track_visited else LANES
    for b in prange(nb):
        s = states[b].copy()
        first = w0 + b * chunk
        last = min(first + chunk, walkers)
        if track_visited:
            seen = np.zeros(n, np.bool_)
            seen_list = np.empty(n, np.int64)
        else:
            seen = np.zeros(0, np.bool_)
            seen_list = np.empty(0, np.int64)
        cnt = np.zeros(K)
        lane_w = np.full(G, -1, np.int64)
        lane_node = np.zeros(G, np.int64)
        lane_node0 = np.zeros(G, np.int64)
        lane_t = np.zeros(G)
        lane_k = np.zeros(G, np.int64)
        lane_unhit = np.zeros(G, np.int64)
        lane_nseen = np.zeros(G, np.int64)
        nxt = first
        active = 0
        for g in range(G):
            if nxt < last:
                _start_walker(s, nxt, g, init_cdf, n, tmask, fpt, lane_node, lane_node0, lane_t, lane_k,
                              lane_unhit, lane_w, track_visited, seen, seen_list, lane_nseen)
                nxt += 1
                active += 1
        n_ev = 0
        while active > 0:
            for g in range(G):
                w = lane_w[g]
                if w < 0:
                    continue
                node = lane_node[g]
                t = lane_t[g]
                k = lane_k[g]
                lo = indptr[node]
                hi = indptr[node + 1]
                q = cum[hi - 1] if hi > lo else 0.0
                if q > 0.0:
                    tn = t + _exponential(s, zke, zwe, zfe) * inv_q[node]
                else:
                    tn = np.inf
                # record every sample time in [t, tn)
                while k < K and times[k] < tn:
                    cnt[k] += 1.0
                    nl = cnt[k]
                    for o in range(n_obs):
                        x = obs[o, node]
                        d = x - obs_mean[b, k, o]
                        obs_mean[b, k, o] += d / nl
                        obs_m2[b, k, o] += d * (x - obs_mean[b, k, o])
                    if n_coord > 0:
                        node0 = lane_node0[g]
                        x = 0.0
                        for c in range(n_coord):
                            dx = coords[c, node] - coords[c, node0]
                            x += dx * dx
                        d = x - msd_mean[b, k]
                        msd_mean[b, k] += d / nl
                        msd_m2[b, k] += d * (x - msd_mean[b, k])
                    if track_visited:
                        x = np.float64(lane_nseen[g])
                        d = x - vis_mean[b, k]
                        vis_mean[b, k] += d / nl
                        vis_m2[b, k] += d * (x - vis_mean[b, k])
                    if store_nodes:
                        node_out[w - node_row0, k] = node
                    k += 1
                unhit = lane_unhit[g]
                done = tn == np.inf or (k >= K and not (unhit > 0 and tn <= t_max))
                if not done:
                    # hop
                    jj = _pick(cum, lo, hi, _uniform(s) * q)
                    node = np.int64(indices[jj])
                    n_ev += 1
                    if track_visited and not seen[node]:
                        seen[node] = True
                        seen_list[lane_nseen[g]] = node
                        lane_nseen[g] += 1
                    if unhit > 0 and tn <= t_max:
                        for j in range(n_targ):
                            if tmask[j, node] and fpt[j, w] == np.inf:
                                fpt[j, w] = tn
                                unhit -= 1
                    lane_node[g] = node
                    lane_t[g] = tn
                    lane_k[g] = k
                    lane_unhit[g] = unhit
                    continue
                # walker w is done: free its scratch, start the next one in this lane
                if track_visited:
                    for i in range(lane_nseen[g]):
                        seen[seen_list[i]] = False
                if nxt < last:
                    _start_walker(s, nxt, g, init_cdf, n, tmask, fpt, lane_node, lane_node0, lane_t,
                                  lane_k, lane_unhit, lane_w, track_visited, seen, seen_list, lane_nseen)
                    nxt += 1
                else:
                    lane_w[g] = -1
                    active -= 1
        events[b] = n_ev


@njit(parallel=True, cache=True)
def _histogram(nodes, counts):
    """``counts[k, nodes[w, k]] += 1`` (parallel over time columns: no races)."""
    W, K = nodes.shape
    for k in prange(K):
        for w in range(W):
            counts[k, nodes[w, k]] += 1


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class Simulation:
    r"""Result of :func:`simulate`.

    Attributes
    ----------
    times : ndarray (K,)
    walkers, seed, chunk : int
    counts : ndarray (K, n) int64 or None
        Occupation histogram (``None`` when ``n * K > 5e7`` or not requested).
    obs_mean, obs_stderr : ndarray (len(observables), K)
        Mean over walkers of each observable at each time, and its standard error
        (sample standard deviation / sqrt(walkers); ``nan`` for one walker).
    quantiles : ndarray (len(quantile_spec), K) or None
        Lower (``inverted_cdf``) sample quantiles, the convention of
        :func:`semdsl.solvers.exact.quantile`.
    quantile_spec : tuple of (observable index, level)
    quantile_stderr : ndarray (len(quantile_spec), K) or None
        Distribution-free standard error of each quantile: half the distance between
        the order statistics at ranks :math:`Wq \mp \sqrt{Wq(1-q)}` (the binomial
        one-sigma interval of the rank; for a continuous law this tends to the
        asymptotic :math:`\sqrt{q(1-q)/W}/f(x_q)`).  For an observable taking few
        values it is 0 when both ranks fall on the same value, and half the gap when
        the quantile sits near a jump of the distribution function.
    msd_mean, msd_stderr : ndarray (K,) or None
        Squared displacement (with ``coords``).
    visited_mean, visited_stderr : ndarray (K,) or None
        Distinct nodes visited (with ``track_visited``).
    first_passage : dict name -> ndarray (walkers,)
        First-passage time of each walker, ``inf`` when censored.
    censored : dict name -> int
    t_max : float
        Censoring time of the first passages.
    replicates : dict
        With ``replicates = B``: bootstrap replicates over walkers -- ``"obs"`` (B,
        n_obs, K), ``"msd"`` and ``"visited"`` (B, K), ``"quantiles"`` (B, n_q, K) --
        each the statistic recomputed on the chunks of walkers resampled with
        replacement (chunks are independent streams, so they are the resampling unit);
        the spread of a derived number over the replicates (a fitted exponent) is its
        walker error.
    events : int
        Total number of hops.
    wall_time : float
        Seconds.
    """

    times: np.ndarray
    walkers: int
    seed: int
    chunk: int
    counts: np.ndarray | None
    obs_mean: np.ndarray
    obs_stderr: np.ndarray
    quantiles: np.ndarray | None
    quantile_spec: tuple
    quantile_stderr: np.ndarray | None
    msd_mean: np.ndarray | None
    msd_stderr: np.ndarray | None
    visited_mean: np.ndarray | None
    visited_stderr: np.ndarray | None
    first_passage: dict = field(repr=False)
    censored: dict = field(default_factory=dict)
    t_max: float = 0.0
    events: int = 0
    wall_time: float = 0.0
    replicates: dict = field(default_factory=dict, repr=False)

    @property
    def occupation(self) -> np.ndarray | None:
        """``counts / walkers``: the empirical ``P(t_k)``."""
        return None if self.counts is None else self.counts / self.walkers

    @property
    def events_per_second(self) -> float:
        return self.events / self.wall_time if self.wall_time > 0 else float("nan")


# --------------------------------------------------------------------------- driver


def _node_array(a, n: int, what: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.shape != (n,):
        raise ValueError(f"{what} must be an array over the {n} nodes, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} has non-finite values")
    return a


def _target_mask(ids, n: int, name: str) -> np.ndarray:
    a = np.asarray(ids)
    if a.dtype == np.bool_:
        if a.shape != (n,):
            raise ValueError(f"target {name!r}: boolean mask must have shape ({n},), got {a.shape}")
        return a.astype(np.uint8)
    a = a.ravel()
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"target {name!r}: node indices must be integers or a boolean mask")
    a = a.astype(np.int64)
    if a.size and (a.min() < 0 or a.max() >= n):
        raise ValueError(f"target {name!r}: node index out of range 0..{n - 1}")
    m = np.zeros(n, np.uint8)
    m[a] = 1
    return m


def _merge(mean, m2, counts):
    """Chan's parallel merge over axis 0, in order: returns (mean, M2)."""
    tot_n = 0.0
    tot_mean = np.zeros(mean.shape[1:])
    tot_m2 = np.zeros(mean.shape[1:])
    for b in range(mean.shape[0]):
        nb = float(counts[b])
        if nb == 0:
            continue
        nn = tot_n + nb
        d = mean[b] - tot_mean
        tot_mean = tot_mean + d * (nb / nn)
        tot_m2 = tot_m2 + m2[b] + d * d * (tot_n * nb / nn)
        tot_n = nn
    return tot_mean, tot_m2


def simulate(Q, p0, times, *, walkers: int, seed: int, targets: dict | None = None,
             coords: list | None = None, track_visited: bool = False, t_max: float | None = None,
             chunk: int = 512, observables: list | None = None, quantiles: list | None = None,
             histogram: bool = True, replicates: int = 0) -> Simulation:
    """Run ``walkers`` exact Gillespie walkers on generator ``Q`` from ``p0``.

    Parameters
    ----------
    Q : sparse or dense (n, n)
        CTMC generator, ``Q[i, j]`` = rate ``i -> j``.
    p0 : array_like (n,)
        Initial distribution.
    times : array_like (K,)
        Sample times, finite, ``>= 0``, non-decreasing (e.g. log-spaced).
    walkers : int >= 1
    seed : int
        Seed of :class:`numpy.random.SeedSequence` (see the module docstring).
    targets : dict name -> node indices (or boolean mask), optional
        First-passage targets.
    coords : list of arrays over nodes, optional
        Coordinates for the squared displacement.
    track_visited : bool
        Record the number of distinct nodes visited.
    t_max : float, optional
        Censoring time of first passages (default ``times[-1]``); walkers keep
        running past ``times[-1]`` up to ``t_max`` while a target is unhit.
    chunk : int
        Walkers per chunk (per random stream); the output depends on it.
    observables : list of arrays over nodes, optional
        ``f`` whose mean and standard error over walkers is returned per time.
    quantiles : list of (observable index, level), optional
        Quantiles over walkers of ``observables[index]`` per time (``level`` in
        [0, 1]); needs ``walkers * len(times) <= 5e7``.
    histogram : bool
        Return the occupation histogram when ``n * len(times) <= 5e7``.
    replicates : int
        Also return this many bootstrap replicates over chunks of walkers (see
        :class:`Simulation`); 0 for none.
    """
    start = _time.perf_counter()
    # ---- validation
    if isinstance(walkers, bool) or not isinstance(walkers, (int, np.integer)) or walkers < 1:
        raise ValueError(f"walkers must be an integer >= 1, got {walkers!r}")
    walkers = int(walkers)
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be an integer >= 1, got {chunk!r}")
    chunk = int(chunk)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    Qc = as_generator(Q)  # ValueError if not a generator
    n = Qc.shape[0]
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if times.ndim != 1 or times.size == 0:
        raise ValueError("times must be a non-empty 1-D array")
    if not np.all(np.isfinite(times)) or np.any(times < 0):
        raise ValueError("times must be finite and >= 0")
    if np.any(np.diff(times) < 0):
        raise ValueError("times must be sorted in non-decreasing order")
    K = times.size
    p0 = np.asarray(p0, dtype=np.float64).ravel()
    if p0.shape != (n,):
        raise ValueError(f"p0 must have {n} entries (one per node), got {p0.size}")
    if not np.all(np.isfinite(p0)) or np.any(p0 < 0):
        raise ValueError("p0 must be finite and non-negative")
    if abs(p0.sum() - 1.0) > 1e-8:
        raise ValueError(f"p0 must sum to 1, sums to {p0.sum()!r}")
    if t_max is None:
        t_max = float(times[-1])
    t_max = float(t_max)
    if not (np.isfinite(t_max) and t_max >= 0):
        raise ValueError(f"t_max must be finite and >= 0, got {t_max!r}")
    targets = dict(targets or {})
    names = list(targets)
    tmask = np.zeros((len(names), n), np.uint8)
    for j, name in enumerate(names):
        tmask[j] = _target_mask(targets[name], n, name)
    coords = list(coords or [])
    carr = np.zeros((len(coords), n))
    for c, x in enumerate(coords):
        carr[c] = _node_array(x, n, f"coords[{c}]")
    observables = list(observables or [])
    oarr = np.zeros((len(observables), n))
    for o, f in enumerate(observables):
        oarr[o] = _node_array(f, n, f"observables[{o}]")
    quantiles = [tuple(q) for q in (quantiles or [])]
    for q in quantiles:
        if len(q) != 2 or not (0 <= int(q[0]) < len(observables)) or not (0.0 <= float(q[1]) <= 1.0):
            raise ValueError(f"quantile spec {q!r}: need (observable index in 0..{len(observables) - 1}, level in [0, 1])")
    if quantiles and walkers * K > MAX_MATRIX:
        raise ValueError(f"quantiles need the walkers x times matrix: walkers * len(times) = {walkers * K} "
                         f"exceeds {MAX_MATRIX}; use fewer walkers or times")
    want_hist = bool(histogram) and n * K <= MAX_MATRIX
    store_nodes = want_hist or bool(quantiles)

    # ---- CSR off-diagonal cumulative rates, computed once
    rows = np.repeat(np.arange(n), np.diff(Qc.indptr))
    off = (Qc.indices != rows) & (Qc.data > 0)
    indices = Qc.indices[off].astype(np.int32 if n < 2**31 else np.int64)  # half the memory traffic
    rates = Qc.data[off]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows[off], minlength=n), out=indptr[1:])
    # per-row cumulative sums: the last entry of a row is its exit rate
    cum = _row_cumsum(indptr, rates)
    exit_q = np.zeros(n)
    has = indptr[1:] > indptr[:-1]
    exit_q[has] = cum[indptr[1:][has] - 1]
    with np.errstate(divide="ignore"):
        inv_q = np.where(exit_q > 0, 1.0 / exit_q, 0.0)   # a multiply per hop, not a divide
    init_cdf = np.cumsum(p0)

    # ---- streams and batches
    n_chunks = -(-walkers // chunk)
    children = np.random.SeedSequence(seed).spawn(n_chunks)
    states = np.empty((n_chunks, 4), np.uint64)
    for c, ch in enumerate(children):
        st = ch.generate_state(4, np.uint64)
        if not st.any():
            st[0] = np.uint64(1)
        states[c] = st
    per_chunk = max(1, K * (2 * len(observables) + 4))
    B = max(1, min(n_chunks, 8_000_000 // per_chunk))
    if want_hist and not quantiles:
        B = max(1, min(B, _BATCH_BUFFER // (chunk * K)))
    n_obs, n_targ = len(observables), len(names)
    fpt = np.empty((n_targ, walkers))
    counts = np.zeros((K, n), np.int64) if want_hist else None
    nodes_all = np.empty((walkers, K), np.int32) if quantiles else None
    chunk_sizes = np.array([min(chunk, walkers - c * chunk) for c in range(n_chunks)], float)
    per_chunk: dict[str, list] = {"obs": [], "msd": [], "vis": []}
    tot = {"obs": [0.0, np.zeros((K, n_obs)), np.zeros((K, n_obs))],
           "msd": [0.0, np.zeros(K), np.zeros(K)], "vis": [0.0, np.zeros(K), np.zeros(K)]}
    total_events = 0
    do_msd = len(coords) > 0
    for c0 in range(0, n_chunks, B):
        nb = min(B, n_chunks - c0)
        w0 = c0 * chunk
        w1 = min(walkers, (c0 + nb) * chunk)
        om, o2 = np.zeros((nb, K, n_obs)), np.zeros((nb, K, n_obs))
        mm = np.zeros((nb, K if do_msd else 0))
        m2 = np.zeros_like(mm)
        vm = np.zeros((nb, K if track_visited else 0))
        v2 = np.zeros_like(vm)
        ev = np.zeros(nb, np.int64)
        if quantiles:
            node_out, row0 = nodes_all, 0
        elif want_hist:
            node_out, row0 = np.empty((w1 - w0, K), np.int32), w0
        else:
            node_out, row0 = np.empty((0, 0), np.int32), 0
        old_chunksize = numba.set_parallel_chunksize(1)   # chunks to threads one at a time:
        try:                                              # walkers differ in cost (traps)
            _run_batch(indptr, indices, cum, init_cdf, times, t_max, states[c0:c0 + nb], c0, chunk, w0, walkers,
                       oarr, carr, tmask, bool(track_visited), store_nodes, node_out, row0, fpt,
                       om, o2, mm, m2, vm, v2, ev, _ZKE, _ZWE, _ZFE, inv_q)
        finally:
            numba.set_parallel_chunksize(old_chunksize)
        total_events += int(ev.sum())
        if want_hist and not quantiles:
            _histogram(node_out, counts)
        sizes = chunk_sizes[c0:c0 + nb]
        for key, (a, a2) in (("obs", (om, o2)), ("msd", (mm, m2)), ("vis", (vm, v2))):
            if a.size == 0 and key != "obs":
                continue
            if replicates:
                per_chunk[key].append(a.copy())
            bm, bm2 = _merge(a, a2, sizes)
            acc = tot[key]
            nn, nbt = acc[0], float(sizes.sum())
            d = bm - acc[1]
            acc[1] = acc[1] + d * (nbt / (nn + nbt))
            acc[2] = acc[2] + bm2 + d * d * (nn * nbt / (nn + nbt))
            acc[0] = nn + nbt
    if quantiles and want_hist:
        _histogram(nodes_all, counts)

    def finish(key):
        _, mean, M2 = tot[key]
        if walkers > 1:
            se = np.sqrt(np.maximum(M2, 0.0) / (walkers - 1) / walkers)
        else:
            se = np.full_like(mean, np.nan)
        return mean, se

    om, ose = finish("obs")
    msd = finish("msd") if do_msd else (None, None)
    vis = finish("vis") if track_visited else (None, None)
    qarr = qse = None
    if quantiles:
        qarr = np.empty((len(quantiles), K))
        qse = np.empty((len(quantiles), K))
        step = max(1, MAX_MATRIX // (4 * walkers))
        for i, (o, lev) in enumerate(quantiles):
            f = oarr[int(o)]
            r_hat, r_lo, r_hi = _quantile_ranks(walkers, float(lev))
            for k0 in range(0, K, step):
                srt = np.sort(f[nodes_all[:, k0:k0 + step]], axis=0)
                qarr[i, k0:k0 + step] = srt[r_hat]
                qse[i, k0:k0 + step] = 0.5 * (srt[r_hi] - srt[r_lo])
    reps: dict[str, np.ndarray] = {}
    if replicates:
        reps = _bootstrap(per_chunk, chunk_sizes, int(replicates), seed, nodes_all, quantiles, oarr)
    fp = {name: fpt[j] for j, name in enumerate(names)}
    cens = {name: int(np.isinf(fpt[j]).sum()) for j, name in enumerate(names)}
    return Simulation(replicates=reps, times=times, walkers=walkers, seed=seed, chunk=chunk, counts=counts,
                      obs_mean=om.T.copy(), obs_stderr=ose.T.copy(), quantiles=qarr, quantile_stderr=qse,
                      quantile_spec=tuple(quantiles), msd_mean=msd[0], msd_stderr=msd[1],
                      visited_mean=vis[0], visited_stderr=vis[1], first_passage=fp, censored=cens,
                      t_max=t_max, events=total_events, wall_time=_time.perf_counter() - start)


def _bootstrap(per_chunk, chunk_sizes, B, seed, nodes_all, quantiles, oarr) -> dict[str, np.ndarray]:
    """Bootstrap replicates over chunks of walkers (the independent streams).

    Replicate ``b`` draws ``n_chunks`` chunks with replacement; means are the
    size-weighted means of the drawn chunks' means, quantiles the lower quantiles of
    the drawn chunks' walkers.  The draws come from the simulation's seed.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xB007,)))
    n_chunks = chunk_sizes.size
    draw = rng.integers(0, n_chunks, size=(B, n_chunks))
    wts = np.zeros((B, n_chunks))
    np.add.at(wts, (np.repeat(np.arange(B), n_chunks), draw.ravel()), 1.0)
    wts *= chunk_sizes[None, :]
    wts /= wts.sum(axis=1, keepdims=True)
    out: dict[str, np.ndarray] = {}
    for key, name in (("obs", "obs"), ("msd", "msd"), ("vis", "visited")):
        if not per_chunk[key]:
            continue
        m = np.concatenate(per_chunk[key])                  # (n_chunks, K[, n_obs])
        if m.size == 0:
            continue
        r = np.tensordot(wts, m, axes=(1, 0))              # (B, K[, n_obs])
        out[name] = np.moveaxis(r, -1, 1) if r.ndim == 3 else r
    if quantiles and nodes_all is not None:
        W, K = nodes_all.shape
        starts = np.concatenate([[0], np.cumsum(chunk_sizes)[:-1]]).astype(np.int64)
        Bq = int(max(20, min(B, MAX_MATRIX // max(W * K, 1))))
        q = np.empty((Bq, len(quantiles), K))
        for b in range(Bq):
            rows = np.concatenate([np.arange(starts[c], starts[c] + int(chunk_sizes[c])) for c in draw[b]])
            sub = nodes_all[rows]
            for i, (o, lev) in enumerate(quantiles):
                q[b, i] = np.quantile(oarr[int(o)][sub], float(lev), axis=0, method="inverted_cdf")
        out["quantiles"] = q
    return out


def _quantile_ranks(W: int, q: float) -> tuple[int, int, int]:
    """0-based ranks of the lower q-quantile and of its one-sigma binomial interval."""
    r_hat = max(1, math.ceil(W * q - 1e-9)) - 1
    d = math.sqrt(W * q * (1.0 - q))
    r_lo = min(max(0, math.floor(W * q - d) - 1), r_hat)
    r_hi = max(min(W - 1, math.floor(W * q + d)), r_hat)
    if r_hi == r_lo and W > 1:  # q = 0 or 1: the neighbouring order statistic
        r_hi, r_lo = (min(W - 1, r_hat + 1), r_lo) if r_hat == 0 else (r_hi, max(0, r_hat - 1))
    return r_hat, r_lo, r_hi


@njit(cache=True)
def _row_cumsum(indptr, rates):
    out = np.empty_like(rates)
    for i in range(indptr.shape[0] - 1):
        acc = 0.0
        for j in range(indptr[i], indptr[i + 1]):
            acc += rates[j]
            out[j] = acc
    return out
