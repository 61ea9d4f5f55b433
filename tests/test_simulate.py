"""Tests of the kinetic Monte Carlo engine (semdsl.solvers.simulate).

Statistical tolerances are 5 standard errors: for a Gaussian estimator a single
comparison fails with probability ~6e-7, so even the ~30 comparisons of a time
series fail together with probability < 2e-5 -- and all seeds are fixed, so the
tests are deterministic anyway; the 5-sigma band only guards against a seed that
happens to be unlucky while keeping real biases (a wrong rate, an off-by-one
sample time) visible.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

import semdsl
from semdsl.solvers import exact
from semdsl.solvers.simulate import (_ZFE, _ZKE, _ZWE, ZIG_R, Simulation, _exponential_draws, _xoshiro_outputs,
                                     simulate)

from conftest import ROOT, build


def chain(n, fwd, back):
    """Birth-death chain 0..n-1 with arrays (or scalars) of forward/backward rates."""
    fwd = np.broadcast_to(np.asarray(fwd, float), (n - 1,))
    back = np.broadcast_to(np.asarray(back, float), (n - 1,))
    Q = sp.diags([fwd, back], [1, -1], shape=(n, n)).tolil()
    Q.setdiag(-np.asarray(Q.sum(axis=1)).ravel())
    return Q.tocsr()


def delta(n, i):
    p = np.zeros(n)
    p[i] = 1.0
    return p


def test_xoshiro256starstar_reference_outputs():
    # Reference outputs of xoshiro256** (Blackman & Vigna's C code) from state {1, 2, 3, 4}.
    out = _xoshiro_outputs(np.array([1, 2, 3, 4], np.uint64), 4)
    assert list(out) == [11520, 0, 1509978240, 1215971899390074240]


def test_ziggurat_exponential_is_exp1():
    """The holding-time sampler against Exp(1): KS on 2e6 draws, chi-square on 2000
    bins of [0, 10] with 1e7 draws, and the tail beyond the base layer's edge ZIG_R
    (where a wrong tail would show): P(X > 8) = e^-8 to 5 binomial SE."""
    st = np.random.SeedSequence(11).generate_state(4, np.uint64)
    n = 10_000_000
    x = _exponential_draws(st, n, _ZKE, _ZWE, _ZFE)
    assert stats.kstest(x[:2_000_000], "expon").pvalue > 1e-4
    edges = np.linspace(0, 10, 2001)
    h, _ = np.histogram(x, edges)
    e = n * (np.exp(-edges[:-1]) - np.exp(-edges[1:]))
    chi2 = ((h - e) ** 2 / e).sum()
    assert stats.chi2.sf(chi2, 1999) > 1e-4
    for c in (ZIG_R, 8.0, 10.0):
        pt = np.exp(-c)
        assert abs((x > c).mean() - pt) <= 5 * np.sqrt(pt * (1 - pt) / n)
    assert abs(x.mean() - 1) <= 5 / np.sqrt(n) and abs(x.var() - 1) <= 5 * np.sqrt(8 / n)


def test_two_state_occupation_matches_closed_form():
    cm = semdsl.load(ROOT / "models" / "two_state.sem").compile()
    times = np.linspace(0, 3, 31)
    W = 20000
    sim = simulate(cm.generator, cm.init, times, walkers=W, seed=3, observables=[np.array([0.0, 1.0])])
    pB = (1 / 3) * (1 - np.exp(-3 * times))
    se = np.sqrt(pB * (1 - pB) / W)  # binomial standard error of an occupation fraction
    emp = sim.counts[:, 1] / W
    assert np.all(np.abs(emp - pB) <= 5 * se + 1e-12)
    # the generic estimator is the same thing through an indicator array
    np.testing.assert_allclose(sim.obs_mean[0], emp, atol=1e-12)
    assert np.all(np.abs(sim.obs_stderr[0] - se) <= 0.1 * se + 1e-12)
    np.testing.assert_array_equal(sim.counts.sum(axis=1), W)


def test_first_passage_two_state_mean_and_ks():
    cm = semdsl.load(ROOT / "models" / "two_state.sem").compile()
    W = 20000
    sim = simulate(cm.generator, cm.init, [0.0, 1.0], walkers=W, seed=5, targets={"B": [1]}, t_max=60.0)
    T = sim.first_passage["B"]
    assert T.shape == (W,)
    # P(T > 60) = e^-60: nothing is censored
    assert sim.censored["B"] == 0
    se = T.std(ddof=1) / np.sqrt(W)
    assert abs(T.mean() - 1.0) <= 5 * se  # mean first passage 1/k_plus = 1
    # empirical distribution vs the exact CDF of semdsl's solver (interpolated on a fine grid)
    grid = np.linspace(0, 25, 2001)
    cdf = exact.first_passage(cm.generator, cm.init, [1], grid).cdf
    assert stats.kstest(T, lambda x: np.interp(x, grid, cdf)).pvalue > 1e-3


def test_first_passage_chain_cdf_and_censoring():
    n = 6
    Q = chain(n, 1.0, 0.7)
    p0 = delta(n, 0)
    W = 20000
    t_max = 8.0
    sim = simulate(Q, p0, [0.0], walkers=W, seed=11, targets={"end": [n - 1], "start": [0]}, t_max=t_max)
    T = sim.first_passage["end"]
    # starting on the target gives 0
    assert np.all(sim.first_passage["start"] == 0.0)
    assert sim.censored["start"] == 0
    fp = exact.first_passage(Q, p0, [n - 1], [t_max])
    # censored fraction = survival at t_max (binomial, 5 SE)
    S = fp.survival[0]
    assert abs(sim.censored["end"] / W - S) <= 5 * np.sqrt(S * (1 - S) / W)
    assert np.all(T[np.isfinite(T)] <= t_max)
    # KS on the uncensored part against the exact CDF conditioned on T <= t_max
    grid = np.linspace(0, t_max, 2001)
    cdf = exact.first_passage(Q, p0, [n - 1], grid).cdf
    fin = T[np.isfinite(T)]
    assert stats.kstest(fin, lambda x: np.interp(x, grid, cdf) / cdf[-1]).pvalue > 1e-3
    # with a long horizon the mean matches the exact mean first passage
    sim2 = simulate(Q, p0, [0.0], walkers=W, seed=12, targets={"end": [n - 1]}, t_max=1e4)
    T2 = sim2.first_passage["end"]
    assert sim2.censored["end"] == 0
    assert abs(T2.mean() - fp.mean) <= 5 * T2.std(ddof=1) / np.sqrt(W)


def test_observables_and_quantiles_vs_exact_transient():
    rng = np.random.default_rng(0)
    n = 7
    A = rng.random((n, n)) * (rng.random((n, n)) < 0.6)
    np.fill_diagonal(A, 0)
    Q = sp.csr_matrix(A - np.diag(A.sum(axis=1)))
    p0 = rng.random(n)
    p0 /= p0.sum()
    F = rng.normal(size=n)
    ind = np.isin(np.arange(n), [1, 3]).astype(float)
    times = np.array([0.0, 0.1, 0.5, 1.0, 3.0])
    W = 20000
    sim = simulate(Q, p0, times, walkers=W, seed=2, observables=[F, ind], quantiles=[(0, 0.5), (0, 0.0), (1, 1.0)])
    P = exact.transient(Q, p0, times).P
    for o, f in enumerate([F, ind]):
        m = P @ f
        sd = np.sqrt(np.maximum(P @ f**2 - m**2, 0))
        assert np.all(np.abs(sim.obs_mean[o] - m) <= 5 * sd / np.sqrt(W) + 1e-12)
    # quantiles equal the empirical quantiles of the stored sample
    for k in range(len(times)):
        sample = np.repeat(F, sim.counts[k])
        assert sim.quantiles[0, k] == np.quantile(sample, 0.5, method="inverted_cdf")
        assert sim.quantiles[1, k] == pytest.approx(sample.min())
        assert sim.quantiles[2, k] == pytest.approx(np.repeat(ind, sim.counts[k]).max())
    # the lower-quantile convention of the exact solver: a 7-valued F at W = 20000 walkers
    # gives the exact median unless P(t) puts F's distribution function within a few
    # standard errors of 1/2 -- then the quantile standard error is half the gap
    ex = exact.quantile(P, F, 0.5)
    for k in range(len(times)):
        if sim.quantiles[0, k] != ex[k]:
            assert abs(sim.quantiles[0, k] - ex[k]) <= 5 * sim.quantile_stderr[0, k]
    # occupation histogram vs P(t): every entry within 5 binomial SE
    emp = sim.counts / W
    assert np.all(np.abs(emp - P) <= 5 * np.sqrt(P * (1 - P) / W) + 1e-12)


def test_quantile_standard_error_is_calibrated():
    """A continuous observable: the reported quantile standard error matches the spread
    of the estimate over independent seeds, and the z-scores against the exact quantile
    are standard normal.  No edges, so every walker stays on its initial node: the
    sample is i.i.d. from p0.  With 300 seeds the sample standard deviation of the
    estimate is known to ~4% (1/sqrt(2*300)) and the mean reported error (itself noisy,
    an order-statistic spacing) to a few %: 20% bands are > 4 sigma wide."""
    n, W, reps = 20_000, 400, 300
    rng = np.random.default_rng(5)
    F = rng.normal(size=n)
    Q = sp.csr_matrix((n, n))
    p0 = np.full(n, 1.0 / n)
    for q in (0.5, 0.9):
        est, se = np.empty(reps), np.empty(reps)
        for i in range(reps):
            sim = simulate(Q, p0, [1.0], walkers=W, seed=100 + i, observables=[F], quantiles=[(0, q)],
                           histogram=False)
            est[i], se[i] = sim.quantiles[0, 0], sim.quantile_stderr[0, 0]
        true = float(exact.quantile(p0, F, q))
        sd = est.std(ddof=1)
        asym = np.sqrt(q * (1 - q) / W) / stats.norm.pdf(stats.norm.ppf(q))
        assert abs(sd / asym - 1) < 0.2
        assert abs(se.mean() / sd - 1) < 0.2
        z = (est - true) / se
        assert abs(z.mean()) < 0.25 and 0.75 < z.std() < 1.3


def test_msd_on_square_lattice_is_4t():
    cm = build("graph g = lattice(101, 101)\nrate uniform(1)\ninit g[51, 51]\n")
    x, y = cm.nodes.attrs["x"], cm.nodes.attrs["y"]
    times = np.array([0.0, 0.5, 1.0, 2.0, 5.0, 10.0])
    sim = simulate(cm.generator, cm.init, times, walkers=8000, seed=4, coords=[x, y], track_visited=True)
    # rate 1 per edge, 4 neighbours: <r^2> = 4 t while the walker is far from the
    # boundary (50 sites away; sqrt(4 * 10) ~ 6)
    assert sim.msd_mean[0] == 0 and sim.msd_stderr[0] == 0
    assert np.all(np.abs(sim.msd_mean[1:] - 4 * times[1:]) <= 5 * sim.msd_stderr[1:])
    assert np.all(np.diff(sim.visited_mean) > 0)
    assert sim.visited_mean[0] == 1


def _distinct_visited_exact(n, start, rate, times):
    """E[# distinct sites] on the path 0..n-1 (rate ``rate`` to each neighbour), by brute force:
    the visited set is an interval [a, b] containing the walker x, so (a, b, x) is a CTMC."""
    states = [(a, b, x) for a in range(n) for b in range(a, n) for x in range(a, b + 1)]
    idx = {s: i for i, s in enumerate(states)}
    Q = np.zeros((len(states), len(states)))
    for (a, b, x), i in idx.items():
        for y in (x - 1, x + 1):
            if 0 <= y < n:
                Q[i, idx[(min(a, y), max(b, y), y)]] += rate
    Q -= np.diag(Q.sum(axis=1))
    p0 = np.zeros(len(states))
    p0[idx[(start, start, start)]] = 1
    size = np.array([b - a + 1 for a, b, _ in states], float)
    P = exact.transient(sp.csr_matrix(Q), p0, times).P
    m = P @ size
    return m, np.sqrt(np.maximum(P @ size**2 - m**2, 0))


def test_distinct_sites_visited_vs_brute_force():
    n, start = 9, 4
    times = np.array([0.0, 0.3, 1.0, 2.0, 4.0, 8.0, 20.0])
    W = 20000
    sim = simulate(chain(n, 1.0, 1.0), delta(n, start), times, walkers=W, seed=8, track_visited=True, chunk=1000)
    m, sd = _distinct_visited_exact(n, start, 1.0, times)
    assert np.all(np.abs(sim.visited_mean - m) <= 5 * sd / np.sqrt(W) + 1e-12)
    assert np.all(sim.visited_mean <= n)
    # per walker: distinct sites <= hops + 1, so the mean is bounded by events / W + 1
    assert sim.visited_mean[-1] <= sim.events / W + 1


def _same(a: Simulation, b: Simulation):
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.obs_mean, b.obs_mean)
    np.testing.assert_array_equal(a.obs_stderr, b.obs_stderr)
    np.testing.assert_array_equal(a.msd_mean, b.msd_mean)
    np.testing.assert_array_equal(a.visited_mean, b.visited_mean)
    np.testing.assert_array_equal(a.quantiles, b.quantiles)
    for k in a.first_passage:
        np.testing.assert_array_equal(a.first_passage[k], b.first_passage[k])
    assert a.events == b.events


def test_reproducible_and_thread_count_independent():
    n = 30
    Q = chain(n, 1.0, 0.8)
    x = np.arange(n, dtype=float)
    kw = dict(walkers=5000, targets={"far": [n - 1]}, coords=[x], track_visited=True, observables=[x],
              quantiles=[(0, 0.5)], chunk=256)
    times = np.geomspace(0.01, 50, 20)
    old = numba.get_num_threads()
    try:
        a = simulate(Q, delta(n, 0), times, seed=42, **kw)
        b = simulate(Q, delta(n, 0), times, seed=42, **kw)
        numba.set_num_threads(1)
        c = simulate(Q, delta(n, 0), times, seed=42, **kw)
    finally:
        numba.set_num_threads(old)
    _same(a, b)
    _same(a, c)
    d = simulate(Q, delta(n, 0), times, seed=43, **kw)
    assert not np.array_equal(a.counts, d.counts)
    assert not np.array_equal(a.first_passage["far"], d.first_passage["far"])


def test_absorbing_nodes():
    # 0 -> 1 (rate 2), 1 -> 2 (rate 1), 2 absorbing; node 3 isolated (absorbing, never reached)
    Q = sp.csr_matrix(np.array([[-2.0, 2, 0, 0], [0, -1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]))
    W = 3000
    sim = simulate(Q, delta(4, 0), [0.0, 1.0, 100.0], walkers=W, seed=1, targets={"iso": [3], "end": [2]})
    assert sim.counts[-1, 2] == W  # P(not absorbed by t = 100) ~ 1e-42
    assert sim.events == 2 * W  # exactly two hops each, none after absorption
    assert sim.censored["iso"] == W and np.all(np.isinf(sim.first_passage["iso"]))
    assert sim.censored["end"] == 0
    # walkers starting on an absorbing node never move
    s2 = simulate(Q, delta(4, 3), [0.0, 5.0], walkers=100, seed=1)
    assert s2.events == 0 and np.all(s2.counts[:, 3] == 100)


def test_log_times_to_1e7_on_trap_chain():
    # a trap-like chain: level i is left forward at rate 10^(-i/4), backward 10x slower
    n = 30
    fwd = 10.0 ** (-np.arange(n - 1) / 4)
    Q = chain(n, fwd, fwd / 10)
    times = np.geomspace(1e-2, 1e7, 400)
    W = 2000
    sim = simulate(Q, delta(n, 0), times, walkers=W, seed=9, observables=[np.arange(n, dtype=float)],
                   targets={"deep": [n - 1]}, track_visited=True)
    assert sim.events > W
    np.testing.assert_array_equal(sim.counts.sum(axis=1), W)
    assert np.all(np.diff(sim.obs_mean[0]) > -5 * (sim.obs_stderr[0][1:] + sim.obs_stderr[0][:-1]))
    assert sim.obs_mean[0][-1] > sim.obs_mean[0][0]
    # no per-time per-walker storage without quantiles; a huge-K request without histogram still runs
    big = simulate(Q, delta(n, 0), np.geomspace(1e-3, 1e7, 200_000), walkers=64, seed=1, histogram=False,
                   observables=[np.arange(n, dtype=float)], chunk=16)
    assert big.counts is None and big.obs_mean.shape == (1, 200_000) and big.events > 0


def test_validation():
    Q = chain(3, 1.0, 1.0)
    p0 = delta(3, 0)
    with pytest.raises(ValueError, match="walkers"):
        simulate(Q, p0, [1.0], walkers=0, seed=1)
    with pytest.raises(ValueError, match="finite"):
        simulate(Q, p0, [np.nan], walkers=1, seed=1)
    with pytest.raises(ValueError, match=">= 0"):
        simulate(Q, p0, [-1.0], walkers=1, seed=1)
    with pytest.raises(ValueError, match="sorted"):
        simulate(Q, p0, [2.0, 1.0], walkers=1, seed=1)
    with pytest.raises(ValueError, match="sum to 1"):
        simulate(Q, p0 * 2, [1.0], walkers=1, seed=1)
    with pytest.raises(ValueError, match="p0"):
        simulate(Q, [-0.5, 1.5, 0], [1.0], walkers=1, seed=1)
    with pytest.raises(ValueError, match="rows must sum to 0"):
        simulate(sp.csr_matrix(np.ones((3, 3))), p0, [1.0], walkers=1, seed=1)
    with pytest.raises(ValueError, match="quantile"):
        simulate(Q, p0, [1.0], walkers=1, seed=1, quantiles=[(0, 0.5)])
    with pytest.raises(ValueError, match="walkers \\* len\\(times\\)"):
        simulate(Q, p0, np.linspace(0, 1, 1000), walkers=100_000, seed=1, observables=[np.ones(3)],
                 quantiles=[(0, 0.5)])
    with pytest.raises(ValueError, match="out of range"):
        simulate(Q, p0, [1.0], walkers=1, seed=1, targets={"x": [5]})
