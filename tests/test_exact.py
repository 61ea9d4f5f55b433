"""Closed-form checks of the exact solvers in :mod:`semdsl.solvers.exact`.

Every expected value below is derived by hand (comments give the derivation) or
computed by an independent route (dense ``scipy.linalg.expm``, mpmath at 60
digits, brute-force loops).  Tolerances: linear-system answers (sparse LU on
chains of <= 300 states with rates within a few decades) are good to ~1e-14
relative, so 1e-10 leaves a wide margin; transient answers are compared at the
engine's own truncation tolerance plus round-off.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

import semdsl.solvers.exact as E
from semdsl.errors import NumericalError


def gen(rows, cols, rates, n) -> sp.csr_matrix:
    """Generator with Q[i, j] = rate i -> j (duplicates summed) and diagonal -(row sum)."""
    W = sp.csr_matrix((np.asarray(rates, float), (np.asarray(rows), np.asarray(cols))), shape=(n, n))
    W.setdiag(0)
    W.eliminate_zeros()
    return (W - sp.diags(np.asarray(W.sum(axis=1)).ravel())).tocsr()


def two_state(kp, km):
    return gen([0, 1], [1, 0], [kp, km], 2)


def chain_1d(n, right, left):
    """States 0..n-1, i -> i+1 at right[i], i+1 -> i at left[i]."""
    i = np.arange(n - 1)
    return gen(np.r_[i, i + 1], np.r_[i + 1, i], np.r_[right, left], n)


def ring(n, rate=1.0):
    i = np.arange(n)
    return gen(np.r_[i, i], np.r_[(i + 1) % n, (i - 1) % n], np.full(2 * n, rate), n)


def random_chain(n, seed, density=0.15, spread=1.0):
    """Random strongly connected chain (Hamiltonian cycle + random arcs), rates lognormal(0, spread)."""
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)) < density
    perm = rng.permutation(n)
    A[perm, np.roll(perm, -1)] = True
    np.fill_diagonal(A, False)
    r, c = np.nonzero(A)
    return gen(r, c, np.exp(spread * rng.normal(size=r.size)), n)


def point(n, i):
    p = np.zeros(n)
    p[i] = 1.0
    return p


def tv(a, b):
    return 0.5 * np.abs(np.asarray(a) - np.asarray(b)).sum(axis=-1)


# --------------------------------------------------------------------------- two states


K_PLUS, K_MINUS = 0.7, 2.3
T_GRID = np.array([3.0, 0.0, 1e-9, 0.1, 1.0, 0.1, 50.0])  # unsorted, repeated, t = 0


@pytest.mark.parametrize("method", ["uniformization", "expm_multiply", "krylov", "auto"])
def test_two_state_transient(method):
    # p_B(t) = k+/(k+ + k-) (1 - exp(-(k+ + k-) t)) from A (PHYSICS.md)
    Q = two_state(K_PLUS, K_MINUS)
    res = E.transient(Q, [1.0, 0.0], T_GRID, method=method, tol=1e-13)
    pB = K_PLUS / (K_PLUS + K_MINUS) * -np.expm1(-(K_PLUS + K_MINUS) * T_GRID)
    np.testing.assert_array_equal(res.times, T_GRID)
    assert res.P.shape == (T_GRID.size, 2)
    # uniformization/Krylov truncate at TV 1e-13; round-off over <= 200 products adds ~1e-14
    np.testing.assert_allclose(res.P[:, 1], pB, rtol=0, atol=2e-13)
    np.testing.assert_allclose(res.P.sum(axis=1), 1.0, rtol=0, atol=1e-13)
    assert res.P[1, 1] == 0.0 and res.P[1, 0] == 1.0  # t = 0 is p0 exactly
    assert res.method == method if method != "auto" else res.method == "uniformization"
    assert np.all(tv(res.P, np.c_[1 - pB, pB]) <= res.error_bounds + 1e-14)


def test_two_state_first_passage():
    # T_{A->B} ~ Exp(k+): E[T] = 1/k+, E[T^2] = 2/k+^2, P(T <= t) = 1 - exp(-k+ t)
    Q = two_state(K_PLUS, K_MINUS)
    t = np.array([2.0, 0.0, 0.5, 10.0])
    fp = E.first_passage(Q, [1.0, 0.0], [1], times=t, tol=1e-13)
    assert fp.finite_fraction == 1.0
    assert fp.mean == pytest.approx(1 / K_PLUS, rel=1e-14)
    assert fp.second_moment == pytest.approx(2 / K_PLUS**2, rel=1e-14)
    assert fp.conditional_mean == pytest.approx(1 / K_PLUS, rel=1e-14)
    np.testing.assert_allclose(fp.cdf, -np.expm1(-K_PLUS * t), rtol=0, atol=2e-13)
    # the survival is summed directly, so it keeps its relative accuracy in the tail (e^-7 here)
    np.testing.assert_allclose(fp.survival, np.exp(-K_PLUS * t), rtol=1e-11)
    np.testing.assert_allclose(fp.per_state_mean, [1 / K_PLUS, 0.0], rtol=1e-14)
    # mass already on the target has T = 0
    fp = E.first_passage(Q, [0.25, 0.75], [1])
    assert fp.mean == pytest.approx(0.25 / K_PLUS, rel=1e-14)


# --------------------------------------------------------------------------- stationary


def test_birth_death_stationary_product_formula():
    # detailed balance along a path: pi_{i+1} / pi_i = birth_i / death_i
    rng = np.random.default_rng(7)
    n = 40
    birth, death = rng.uniform(0.2, 3.0, n - 1), rng.uniform(0.2, 3.0, n - 1)
    Q = chain_1d(n, birth, death)
    w = np.concatenate(([1.0], np.cumprod(birth / death)))
    st = E.stationary(Q)
    # LU round-off on 40 states, then cumulative products in the reference: 1e-10 is generous
    np.testing.assert_allclose(st.pi, w / w.sum(), rtol=1e-10)
    assert not st.reducible and not st.depends_on_init
    assert len(st.closed_classes) == 1 and st.closed_classes[0].size == n
    assert ("direct" in st.method or "detailed balance" in st.method) and st.residual < 1e-13
    # two exact routes (tree potential: a sum of 40 log-ratios; LU): each ~40 eps relative
    np.testing.assert_allclose(st.pi, E.stationary_distribution(Q), rtol=1e-10)


def test_landscape_detailed_balance():
    # Arrhenius on an undirected graph: pi_i k_ij = pi_j k_ji gives pi ~ exp(-2 beta F)
    rng = np.random.default_rng(3)
    n, beta = 300, 1.5
    F = rng.normal(size=n)
    s, d = rng.integers(0, n, 4 * n), rng.integers(0, n, 4 * n)
    perm = rng.permutation(n)
    s, d = np.r_[s, perm], np.r_[d, np.roll(perm, -1)]
    s, d = np.r_[s, d], np.r_[d, s]
    pairs = np.unique(np.c_[s, d][s != d], axis=0)
    Q = gen(pairs[:, 0], pairs[:, 1], np.exp(-beta * (F[pairs[:, 1]] - F[pairs[:, 0]])), n)
    w = np.exp(-2 * beta * (F - F.min()))
    np.testing.assert_allclose(E.stationary(Q).pi, w / w.sum(), rtol=1e-10)


def reducible_chain():
    """Closed {0, 1} (0->1: 2, 1->0: 1), closed {4, 5} (4->5: 1, 5->4: 3), transient 2, 3.

    2 -> 0 (1), 2 -> 3 (1), 3 -> 2 (1), 3 -> 4 (2).  Absorption in {0, 1}:
    h2 = 1/2 + h3/2, h3 = h2/3  =>  h2 = 3/5, h3 = 1/5.  Class distributions
    (1/3, 2/3) and (3/4, 1/4).
    """
    return gen([0, 1, 4, 5, 2, 2, 3, 3], [1, 0, 5, 4, 0, 3, 2, 4], [2, 1, 1, 3, 1, 1, 1, 2], 6)


def test_reducible_mixture_weights():
    Q = reducible_chain()
    st = E.stationary(Q, point(6, 2))
    np.testing.assert_allclose(st.weights, [3 / 5, 2 / 5], rtol=1e-14)
    np.testing.assert_allclose(st.pi, [0.2, 0.4, 0, 0, 0.3, 0.1], rtol=1e-14, atol=1e-16)
    assert st.reducible and st.depends_on_init
    assert [c.tolist() for c in st.closed_classes] == [[0, 1], [4, 5]]
    # spread p0: half on state 3 (1/5 into {0, 1}), half already in {4, 5}
    p0 = 0.5 * point(6, 3) + 0.5 * point(6, 5)
    st = E.stationary(Q, p0)
    np.testing.assert_allclose(st.weights, [0.1, 0.9], rtol=1e-14)
    np.testing.assert_allclose(st.pi, [0.1 / 3, 0.2 / 3, 0, 0, 0.9 * 0.75, 0.9 * 0.25], rtol=1e-14, atol=1e-16)


def test_reducible_without_p0_is_an_error():
    with pytest.raises(NumericalError) as err:
        E.stationary(reducible_chain())
    msg = str(err.value)
    assert "2 closed classes" in msg and "initial state" in msg
    assert "[0, 1]" in msg and "[4, 5]" in msg and "p0" in msg


def test_one_closed_class_needs_no_p0():
    # 0 -> 1 <-> 2: state 0 is transient, {1, 2} closed: unique answer
    st = E.stationary(gen([0, 1, 2], [1, 2, 1], [1.0, 1.0, 3.0], 3))
    np.testing.assert_allclose(st.pi, [0, 0.75, 0.25], rtol=1e-14, atol=1e-16)
    assert st.reducible and not st.depends_on_init


def test_stationary_iterative_fallback(monkeypatch):
    Q = random_chain(200, seed=11, density=0.03, spread=2.0)
    direct = E.stationary(Q)

    def broken(A, *, transpose=False):
        raise RuntimeError("Factor is exactly singular")

    monkeypatch.setattr(E, "_factorize", broken)
    st = E.stationary(Q)
    assert "GMRES" in st.method and "direct solve failed" in st.method
    assert st.residual <= E.STATIONARY_RESIDUAL_RTOL
    # the flux residual 1e-10 bounds the relative error by ~1e-10 x condition; 1e-7 is generous
    np.testing.assert_allclose(st.pi, direct.pi, rtol=1e-7)


# --------------------------------------------------------------------------- gambler's ruin, rings, committors


N_RUIN = 10


def gamblers_ruin(N=N_RUIN):
    """0..N, absorbing ends, interior steps +-1 at rate 1/2 each: one jump per unit time on average."""
    i = np.arange(1, N)
    return gen(np.r_[i, i], np.r_[i + 1, i - 1], np.full(2 * i.size, 0.5), N + 1)


def test_gamblers_ruin():
    N = N_RUIN
    Q = gamblers_ruin(N)
    i = np.arange(N + 1)
    # win probability i/N (martingale); the same as the committor to N against 0
    np.testing.assert_allclose(E.committor(Q, [0], [N]), i / N, rtol=1e-13, atol=1e-15)
    for start in (1, 3, 5, 9):
        p0 = point(N + 1, start)
        # duration: the jump chain needs i(N - i) steps on average, each lasting Exp(1)
        fp = E.first_passage(Q, p0, [0, N])
        assert fp.mean == pytest.approx(start * (N - start), rel=1e-12)
        # hitting N alone: P = i/N, E[T | T < inf] = (N^2 - i^2)/3 (walk conditioned to win)
        fp = E.first_passage(Q, p0, [N])
        assert fp.finite_fraction == pytest.approx(start / N, rel=1e-13)
        assert fp.mean is None and fp.second_moment is None
        assert fp.conditional_mean == pytest.approx((N**2 - start**2) / 3, rel=1e-12)
    np.testing.assert_array_equal(E.first_passage(Q, point(N + 1, 4), [N]).per_state_mean[:N], np.inf)


def test_ring_mean_first_passage():
    # unit rate each way: total rate 2, so each jump takes 1/2 on average; a symmetric
    # walk needs d(n - d) jumps to hit a point at distance d, i.e. d(n - d)/2 time units
    n = 15
    Q = ring(n, 1.0)
    d = np.arange(n)
    fp = E.first_passage(Q, point(n, 4), [0])
    np.testing.assert_allclose(fp.per_state_mean, d * (n - d) / 2, rtol=1e-12)
    assert fp.mean == pytest.approx(4 * 11 / 2, rel=1e-12)
    # rate 1/2 each way gives the step-count form d(n - d)
    assert E.first_passage(ring(n, 0.5), point(n, 6), [0]).mean == pytest.approx(6 * 9, rel=1e-12)


def test_committor_linear_on_a_symmetric_chain():
    # equal rates both ways: q is harmonic for the simple symmetric walk, hence linear
    n = 25
    Q = chain_1d(n, np.full(n - 1, 1.7), np.full(n - 1, 1.7))
    q = E.committor(Q, [0], [n - 1])
    np.testing.assert_allclose(q, np.arange(n) / (n - 1), rtol=1e-12, atol=1e-15)
    # general birth-death (i -> i+1 at b_i, i -> i-1 at d_{i-1}): harmonic at i means
    # b_i (q_{i+1} - q_i) = d_{i-1} (q_i - q_{i-1}), so the increments are r_j = prod_{k=1..j} d_{k-1}/b_k
    rng = np.random.default_rng(2)
    b, dd = rng.uniform(0.5, 2, n - 1), rng.uniform(0.5, 2, n - 1)
    r = np.concatenate(([1.0], np.cumprod(dd[:-1] / b[1:])))
    expected = np.concatenate(([0.0], np.cumsum(r))) / r.sum()
    np.testing.assert_allclose(E.committor(chain_1d(n, b, dd), [0], [n - 1]), expected, rtol=1e-12, atol=1e-15)


def test_committor_unreachable_is_nan():
    # 0 <-> 1 -> 2 (B); 3 <-> 4 can reach neither A = {0} nor B = {2}
    Q = gen([0, 1, 1, 3, 4], [1, 0, 2, 4, 3], [1.0, 1.0, 1.0, 1.0, 1.0], 5)
    q = E.committor(Q, [0], [2])
    np.testing.assert_allclose(q[:3], [0, 0.5, 1], rtol=1e-14)
    assert np.all(np.isnan(q[3:]))
    with pytest.raises(ValueError, match="disjoint"):
        E.committor(Q, [0, 1], [1])


# --------------------------------------------------------------------------- unreachable targets


def test_unreachable_target():
    """0 <-> 1 (1, 2), 1 -> 2 (0.5), 2 -> 3 (3, target), 2 -> 4 (1, trap).

    From 0 the walk reaches 2 surely, then hits 3 w.p. 3/4.  Time to reach 2:
    m0 = 1 + m1, m1 = 1/2.5 + (2/2.5) m0  =>  m0 = 7; plus Exp(4) at 2 (independent
    of the exit taken): E[T | T < inf] = 7.25.
    """
    Q = gen([0, 1, 1, 2, 2], [1, 0, 2, 3, 4], [1.0, 2.0, 0.5, 3.0, 1.0], 5)
    fp = E.first_passage(Q, point(5, 0), [3], times=[1.0, 10.0, 1e4])
    assert fp.mean is None and fp.second_moment is None
    assert fp.finite_fraction == pytest.approx(0.75, rel=1e-14)
    assert fp.conditional_mean == pytest.approx(7.25, rel=1e-13)
    assert fp.cdf[-1] == pytest.approx(0.75, rel=1e-12)  # P(T <= inf) = P(T < inf)
    np.testing.assert_allclose(fp.cdf + fp.survival, 1.0, rtol=1e-12)
    assert np.all(np.diff(fp.cdf) > 0)
    assert "infinite" in fp.note
    # an empty target is never hit
    fp = E.first_passage(Q, point(5, 0), [], times=[1.0])
    assert fp.finite_fraction == 0.0 and fp.mean is None and fp.conditional_mean is None and fp.cdf[0] == 0.0


def test_numerically_sure_target():
    # 0 -> 1 (target) at rate 1, 0 -> 2 (trap) at 1e-14: P(T < inf) = 1/(1 + 1e-14) >= 1 - 1e-12, so the
    # mean is reported -- as E[T | T < inf] = 1/(1 + 1e-14), and the note says so
    Q = gen([0, 0], [1, 2], [1.0, 1e-14], 3)
    fp = E.first_passage(Q, point(3, 0), [1])
    assert fp.finite_fraction == pytest.approx(1 / (1 + 1e-14), rel=1e-15)
    assert fp.mean == pytest.approx(1 / (1 + 1e-14), rel=1e-14)
    assert fp.second_moment == pytest.approx(2 / (1 + 1e-14) ** 2, rel=1e-14)
    assert "E[T | T < inf]" in fp.note
    assert np.isinf(fp.per_state_mean[0])  # per state, the graph decides: not sure


# --------------------------------------------------------------------------- spectra and Kemeny


def test_ring_spectrum():
    # circulant: eigenvalues -2 (1 - cos(2 pi k / n)), k = 1..n-1 (pairs k, n - k)
    n = 24
    expected = np.sort(-2 * (1 - np.cos(2 * np.pi * np.arange(1, n) / n)))[::-1]
    for method in ("dense", "sparse"):
        sp_ = E.spectrum(ring(n), k=7, method=method)
        np.testing.assert_allclose(sp_.eigenvalues.real, expected[:7], rtol=1e-10)
        np.testing.assert_allclose(sp_.eigenvalues.imag, 0.0, atol=1e-10)
        np.testing.assert_allclose(sp_.timescales, -1 / expected[:7], rtol=1e-10)


def test_spectrum_skips_one_zero_per_closed_class():
    # two disjoint rings: zeros twice; the slow modes are both rings' slowest
    Q = sp.block_diag((ring(10), ring(6))).tocsr()
    lam = E.spectrum(Q, k=4, method="dense").eigenvalues.real
    slow10, slow6 = -2 * (1 - np.cos(2 * np.pi / 10)), -2 * (1 - np.cos(2 * np.pi / 6))
    np.testing.assert_allclose(lam, [slow10, slow10, slow6, slow6], rtol=1e-10)
    lam = E.spectrum(Q, k=4, method="sparse").eigenvalues.real
    np.testing.assert_allclose(lam, [slow10, slow10, slow6, slow6], rtol=1e-8)


def test_spectrum_dense_and_sparse_agree():
    Q = random_chain(300, seed=5, density=0.02)
    a = E.spectrum(Q, k=5, method="dense").eigenvalues
    b = E.spectrum(Q, k=5, method="sparse").eigenvalues
    # sort conjugate pairs the same way before comparing
    key = lambda z: np.lexsort((z.imag, -z.real))  # noqa: E731
    np.testing.assert_allclose(a[key(a)], b[key(b)], rtol=1e-8)


def test_kemeny_complete_graph():
    # K_n with unit rates: Q = J - n I, eigenvalues -n (n - 1 times) and 0: K = (n - 1)/n
    for n in (2, 5, 9):
        r, c = np.nonzero(~np.eye(n, dtype=bool))
        Q = gen(r, c, np.ones(r.size), n)
        for method in ("eigen", "fundamental"):
            assert E.kemeny_constant(Q, method=method) == pytest.approx((n - 1) / n, rel=1e-12)


def test_kemeny_random_chain_is_independent_of_start():
    n = 30
    Q = random_chain(n, seed=4, density=0.2)
    pi = E.stationary(Q).pi
    M = np.column_stack([E.mean_first_passage(Q, [j]) for j in range(n)])  # M[i, j] = m_ij, m_ii = 0
    K_rows = M @ pi
    k_eig = E.kemeny_constant(Q, method="eigen")
    k_fun = E.kemeny_constant(Q, method="fundamental")
    assert k_eig == pytest.approx(k_fun, rel=1e-11)
    np.testing.assert_allclose(K_rows, k_eig, rtol=1e-11)


def test_kemeny_needs_irreducible():
    with pytest.raises(NumericalError, match="irreducible"):
        E.kemeny_constant(reducible_chain())


# --------------------------------------------------------------------------- stiffness and error bounds


def mp_expm_rows(Q, p0, times, dps=60):
    """p0 exp(Q t) in mpmath at `dps` digits (reference for small stiff chains).

    The diagonal is recomputed in mpmath from the off-diagonal rates: the float
    diagonal -(2e6 + 1e-6) is off by ~1e-10, which leaks mass visibly by t ~ 1e9.
    """
    with mpmath.workdps(dps):
        dense = np.asarray(Q.toarray())
        M = mpmath.matrix(dense.shape[0])
        for i in range(dense.shape[0]):
            for j in range(dense.shape[0]):
                if i != j:
                    M[i, j] = mpmath.mpf(float(dense[i, j]))
            M[i, i] = -mpmath.fsum(M[i, j] for j in range(dense.shape[0]) if j != i)
        p = mpmath.matrix([list(map(float, p0))])
        return np.array([[float(x) for x in (p * mpmath.expm(M * mpmath.mpf(float(t))))] for t in times])


def test_stiff_two_state_closed_form():
    # rates 1e6 and 1e-6 (12 decades): p_B(t) from 1e-9 to 1e9 (q t up to 1e15)
    kp, km = 1e6, 1e-6
    t = np.logspace(-9, 9, 19)
    pB = kp / (kp + km) * -np.expm1(-(kp + km) * t)
    res = E.transient(two_state(kp, km), [1.0, 0.0], t, tol=1e-12)
    assert res.method.startswith("uniformization+")
    # TV tolerance 1e-12 (absolute), and 1e-10 relative where p_B is not small
    np.testing.assert_allclose(res.P[:, 1], pB, rtol=1e-10, atol=1e-12)
    # p_A ends at k-/(k+ + k-) = 1e-12: absolute accuracy at the truncation tolerance
    np.testing.assert_allclose(res.P[:, 0], 1 - pB, rtol=0, atol=1e-12)
    assert np.all(tv(res.P, np.c_[1 - pB, pB]) <= res.error_bounds + 1e-15)
    # expm_multiply agrees where its cost (~6 q t products) is reasonable
    short = t[t <= 1e-3]
    P = E.transient(two_state(kp, km), [1.0, 0.0], short, method="expm_multiply").P
    np.testing.assert_allclose(P[:, 1], pB[: short.size], rtol=1e-10, atol=1e-13)


STIFF3 = dict(rows=[0, 1, 1, 2], cols=[1, 0, 2, 1], rates=[1e6, 2e6, 1e-6, 3e-6])


def test_stiff_three_state_all_engines():
    """A <-> B fast (1e6 / 2e6), B <-> C slow (1e-6 / 3e-6): relaxation times 3.3e-7 and 3e5.

    Reference: mpmath at 60 digits.  Short times (q t <= 200): every engine to
    1e-13.  Long times: double precision itself is the limit -- the shifted
    systems I - gamma Q^T keep the "1" of their diagonal 1 + gamma q only to
    ~1e-16 gamma q -- so the Krylov engine reports a bound that grows like
    1e-17 q t, the answer must lie within it, and where it exceeds 1e-6 the call
    raises instead of answering.  Once the slow mode has relaxed (t >= 1e7) the
    reversible chain's spectral-gap bound certifies the stationary distribution.
    """
    Q = gen(STIFF3["rows"], STIFF3["cols"], STIFF3["rates"], 3)
    p0 = [1.0, 0.0, 0.0]
    short = np.array([1e-8, 1e-7, 1e-6, 1e-4])
    ref = mp_expm_rows(Q, p0, short)
    for method in ("uniformization", "expm_multiply", "krylov", "auto"):
        res = E.transient(Q, p0, short, method=method, tol=1e-13)
        np.testing.assert_allclose(res.P, ref, rtol=1e-9, atol=2e-13)
    long = np.array([1e-2, 1.0, 100.0, 1e4, 1e7, 1e9])
    ref = mp_expm_rows(Q, p0, long)
    res = E.transient(Q, p0, long)
    assert np.all(tv(res.P, ref) <= res.error_bounds)
    assert res.error_bounds[-2:].max() < 1e-10 and res.method.endswith("stationary")
    assert res.error_bound > 1e-10 and "round-off" in res.note  # honest about t = 1e4
    np.testing.assert_allclose(res.P[-1], [0.6, 0.3, 0.1], rtol=1e-12)
    with pytest.raises(NumericalError, match="too stiff"):
        E.transient(Q, p0, [1e6])  # mid-relaxation: ~1e-4 is all double precision gives


@pytest.mark.parametrize("tol", [1e-4, 1e-8, 1e-12])
def test_uniformization_error_bound_is_honoured(tol):
    n = 40
    Q = random_chain(n, seed=1, density=0.2)
    p0 = np.random.default_rng(0).dirichlet(np.ones(n))
    t = np.array([0.05, 0.5, 2.0, 8.0])
    exact = np.array([p0 @ sla.expm(Q.toarray() * ti) for ti in t])  # non-stiff: accurate to ~1e-15
    res = E.transient(Q, p0, t, method="uniformization", tol=tol)
    err = tv(res.P, exact)
    assert np.all(res.error_bounds <= tol)
    assert np.all(err <= res.error_bounds + 1e-14)
    if tol == 1e-4:
        assert err.max() > 1e-9  # the truncation is real: the bound is not vacuous
    krylov = E.transient(Q, p0, t, method="krylov", tol=tol)
    assert np.all(tv(krylov.P, exact) <= krylov.error_bounds + 1e-14)
    assert np.all(tv(E.transient(Q, p0, t, method="expm_multiply").P, exact) <= 1e-13)


def test_uniformization_sweep_and_steps_agree():
    # a dense time grid at large q t is stepped time to time; a sparse one is one sweep
    Q = random_chain(30, seed=9, density=0.2)
    p0 = point(30, 3)
    dense = np.linspace(0.0, 200.0, 81)
    a = E.transient(Q, p0, dense, method="uniformization", tol=1e-12)
    b = E.transient(Q, p0, dense, method="expm_multiply")
    assert "stepped" in a.note
    assert np.all(tv(a.P, b.P) <= a.error_bounds + 1e-12)


def test_transient_refuses_hopeless_uniformization():
    with pytest.raises(NumericalError, match="Poisson terms"):
        E.transient(two_state(1e6, 1.0), [1.0, 0.0], [1e3], method="uniformization")
    with pytest.raises(NumericalError, match="expm_multiply"):
        E.transient(two_state(1e6, 1.0), [1.0, 0.0], [1e3], method="expm_multiply")


def test_transient_input_validation():
    Q = two_state(1.0, 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        E.transient(Q, [1.0, 0.0], [-1.0])
    with pytest.raises(ValueError, match="sum"):
        E.transient(Q, [0.5, 0.6], [1.0])
    with pytest.raises(ValueError, match="method"):
        E.transient(Q, [1.0, 0.0], [1.0], method="magic")
    with pytest.raises(ValueError, match="generator"):
        E.transient(sp.csr_matrix(np.array([[1.0, -1.0], [0.0, 0.0]])), [1.0, 0.0], [1.0])
    # no transitions at all: P(t) = p0
    res = E.transient(sp.csr_matrix((3, 3)), [0.2, 0.3, 0.5], [0.0, 5.0])
    np.testing.assert_array_equal(res.P, [[0.2, 0.3, 0.5]] * 2)


def test_inputs_are_not_mutated():
    Q = random_chain(20, seed=3)
    Q0 = Q.copy()
    p0 = point(20, 2)
    t = np.array([1.0, 0.5])
    E.transient(Q, p0, t)
    E.stationary(Q, p0)
    E.first_passage(Q, p0, [5, 6], times=t)
    E.msd(Q, p0, [np.arange(20.0)], t)
    assert (Q != Q0).nnz == 0 and np.array_equal(Q.data, Q0.data)
    np.testing.assert_array_equal(p0, point(20, 2))
    np.testing.assert_array_equal(t, [1.0, 0.5])


# --------------------------------------------------------------------------- observables


def test_msd_of_a_lattice_walk():
    # 1D walk with rate D each way: x(t) - x(0) has variance 2 D t until the walls matter
    n, D = 201, 0.7
    Q = chain_1d(n, np.full(n - 1, D), np.full(n - 1, D))
    t = np.array([0.5, 2.0, 10.0, 20.0])  # rms <= 5.3 sites, walls 100 sites away
    x = np.arange(n, dtype=float)
    # tol is an l1 tolerance on P(t); the neglected Poisson tail is walkers that jumped more than
    # usual, i.e. farther, so the relative msd error can exceed tol: 1e-12 gives ~1e-11 here
    np.testing.assert_allclose(E.msd(Q, point(n, 100), [x], t, tol=1e-12), 2 * D * t, rtol=1e-10)
    # 2D: coordinates add up (a 41 x 41 lattice with rate D per bond direction, centre start)
    L = 41
    idx = np.arange(L * L).reshape(L, L)
    s = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    d = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    Q2 = gen(np.r_[s, d], np.r_[d, s], np.full(2 * s.size, D), L * L)
    xx, yy = np.divmod(np.arange(L * L), L)
    got = E.msd(Q2, point(L * L, idx[20, 20]), [xx, yy], [0.1, 1.0], tol=1e-12)
    np.testing.assert_allclose(got, 4 * D * np.array([0.1, 1.0]), rtol=1e-10)


def test_msd_spread_initial_distribution():
    # E|x(t) - x(0)|^2 = sum_j p0_j E_j|x(t) - x_j|^2: compare the d + 1 propagation formula
    # with a loop over starts and with dense matrix exponentials
    n = 12
    Q = random_chain(n, seed=8, density=0.3)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=n) * 5 + 40, rng.normal(size=n)
    p0 = rng.dirichlet(np.ones(n))
    t = np.array([0.0, 0.3, 1.0, 4.0])
    got = E.msd(Q, p0, [x, y], t, tol=1e-13)
    loop = sum(p0[j] * E.msd(Q, point(n, j), [x, y], t, tol=1e-13) for j in range(n))
    r2 = (x[None, :] - x[:, None]) ** 2 + (y[None, :] - y[:, None]) ** 2  # r2[j, k] = |x_k - x_j|^2
    dense = np.array([np.sum(p0[:, None] * sla.expm(Q.toarray() * ti) * r2) for ti in t])
    # tol 1e-13 relative to E|x(0) - mean|^2 ~ 25: absolute errors ~1e-11
    np.testing.assert_allclose(got, dense, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(loop, dense, rtol=1e-9, atol=1e-9)
    assert got[0] == pytest.approx(0.0, abs=1e-9)


def brute_quantile(row, values, q):
    """Smallest value v with sum_{values <= v} row / sum(row) >= q (q = 0: smallest value with mass)."""
    total = sum(row)
    for v in sorted(set(values)):
        mass = sum(p for p, w in zip(row, values) if w <= v)
        if (q == 0 and mass > 0) or (q > 0 and mass >= q * total):
            return v
    return max(values)


def test_weighted_quantile_against_brute_force():
    rng = np.random.default_rng(5)
    n, K = 30, 8
    values = rng.integers(0, 10, n).astype(float)  # ties on purpose
    P = rng.random((K, n)) * (rng.random((K, n)) < 0.6)  # some zero entries
    P[0] = 0.0
    P[0, 7] = 1.0  # a point mass
    P /= P.sum(axis=1, keepdims=True)
    for q in (0.0, 0.13, 0.5, 0.77, 0.999, 1.0):
        got = E.quantile(P, values, q)
        expected = [brute_quantile(P[k].tolist(), values.tolist(), q) for k in range(K)]
        np.testing.assert_array_equal(got, expected)
    assert E.quantile(P[3], values, 0.5) == brute_quantile(P[3].tolist(), values.tolist(), 0.5)


def test_expect_and_prob():
    P = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(E.expect(P, [1.0, 2.0, 4.0]), [2.8, 1.0])
    np.testing.assert_allclose(E.prob(P, [2, 1, 2]), [0.8, 0.0])
    assert E.prob(P[0], [0]) == pytest.approx(0.2)


# --------------------------------------------------------------------------- graph observables


def test_graph_observables():
    # components {0, 1, 2, 3}, {5, 6}, singletons 4, 7, 8, 9
    src, dst = [0, 1, 3, 6], [1, 2, 2, 5]
    assert E.largest_cluster_fraction(src, dst, 10) == pytest.approx(0.4)
    assert E.largest_cluster_fraction([], [], 4) == pytest.approx(0.25)
    assert E.connected_sets(src, dst, 10, [0, 9], [3])
    assert not E.connected_sets(src, dst, 10, [0, 1], [5, 4])
    assert not E.connected_sets(src, dst, 10, [], [5])
    # Erdos-Renyi at mean degree 2: giant component S = 1 - exp(-2 S) = 0.7968 (PHYSICS.md)
    rng = np.random.default_rng(0)
    n = 200_000
    m = n  # mean degree 2m/n = 2
    frac = E.largest_cluster_fraction(rng.integers(0, n, m), rng.integers(0, n, m), n)
    assert frac == pytest.approx(0.7968, abs=0.01)


def test_min_reachable_follows_directed_hops():
    # 0 -> 1 -> 2, 3 -> 0, 4 isolated
    Q = gen([0, 1, 3], [1, 2, 0], [1.0, 1.0, 1.0], 5)
    values = np.array([5.0, 4.0, 3.0, 1.0, 0.0])
    assert E.min_reachable(Q, point(5, 0), values) == 3.0
    assert E.min_reachable(Q, point(5, 3), values) == 1.0
    assert E.min_reachable(Q, point(5, 2), values) == 3.0
    assert E.min_reachable(Q, 0.5 * point(5, 2) + 0.5 * point(5, 4), values) == 0.0


def test_reversible_shortcut_and_direct_solve_agree():
    """A reversible landscape takes the detailed-balance path (no factorisation); breaking
    reversibility by one directed edge forces the direct solve; both solve pi Q = 0."""
    import scipy.sparse as sps
    from semdsl.solvers.exact import stationary
    rng = np.random.default_rng(7)
    n = 400
    F = rng.normal(size=n)
    i = np.arange(n - 1)
    rows = np.concatenate([i, i + 1, rng.integers(0, n, 300)])
    cols = np.concatenate([i + 1, i, rng.integers(0, n, 300)])
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    rows, cols = np.concatenate([rows, cols]), np.concatenate([cols, rows])   # symmetric graph
    rates = np.minimum(1.0, np.exp(-2.0 * (F[cols] - F[rows])))              # Metropolis
    W = sps.csr_matrix((rates, (rows, cols)), shape=(n, n))
    W.sum_duplicates()
    Q = W - sps.diags(np.asarray(W.sum(axis=1)).ravel())
    st = stationary(Q)
    assert "detailed balance" in st.method
    boltz = np.exp(-2.0 * (F - F.max()))
    np.testing.assert_allclose(st.pi, boltz / boltz.sum(), rtol=1e-10)
    W2 = W.tolil()
    W2[0, n - 1] = 0.5                                                        # one driven edge
    W2 = W2.tocsr()
    Q2 = W2 - sps.diags(np.asarray(W2.sum(axis=1)).ravel())
    st2 = stationary(Q2)
    assert "detailed balance" not in st2.method
    assert np.abs(st2.pi @ Q2).max() < 1e-12 * np.abs(Q2).max()
