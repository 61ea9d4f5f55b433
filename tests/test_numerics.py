"""Numerical faults: huge rate ratios, near-absorbing states, stiff transients, exp over- and
underflow, reducible chains.  Each case either gives the right answer (against a closed form
or a high-precision reference, with the tolerance the method promises) or a clear error that
says what to change -- never a traceback, a hang or a silently wrong number.

Tolerances
----------
* Stationary laws by detailed balance (log space) and the subtraction-free (GTH) elimination
  are accurate entry by entry to a few ulps times the number of states: relative 1e-12 on
  2-25 states, whatever the rate ratio.
* Hitting times from the refined solver carry a componentwise backward error <= 1e-12 in
  the rates; for an M-matrix that bounds the relative error by ~2m x 1e-12 (O'Cinneide),
  and GTH is accurate to a few ulps: relative 1e-10 covers both with room.
* Transient answers are checked against their own reported total-variation bound
  (``error_bounds``): a probability is off by at most the TV distance.
"""

from __future__ import annotations

import math
import signal
import textwrap
import warnings
from contextlib import contextmanager

import mpmath
import numpy as np
import pytest
import scipy.sparse as sp

import semdsl
from semdsl.analysis import check_report
from semdsl.cli import main
from semdsl.errors import NumericalError
from semdsl.solvers import exact as E

from conftest import build


@contextmanager
def deadline(seconds: int):
    """Fail (instead of hanging the suite) if the block takes longer than ``seconds``."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@contextmanager
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def generator(W) -> sp.csr_matrix:
    W = sp.csr_matrix(W, dtype=float)
    W.setdiag(0)
    W.eliminate_zeros()
    return (W - sp.diags(np.asarray(W.sum(axis=1)).ravel())).tocsr()


def two_state(k_plus: float, k_minus: float) -> sp.csr_matrix:
    return generator([[0.0, k_plus], [k_minus, 0.0]])


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


TWO_STATE = """\
model walk
param beta = 700
node a {{ F = 0 }}
node b {{ F = 1 }}
edge a -- b
rate {law}(1, beta)
init a
observable pb = prob(b)
observable tb = first_passage(b)
predict pb stationary using exact
predict tb using exact
"""


# ----------------------------------------------------------------------------- rate ratio e^-700


def test_ratio_e700_two_state_stationary_and_mean_first_passage():
    """metropolis(1, 700) with dF = 1: k+ = e^-700 ~ 1e-304 against k- = 1."""
    cm = build(TWO_STATE.format(law="metropolis"))
    kp = math.exp(-700.0)
    assert cm.generator[0, 1] == pytest.approx(kp, rel=1e-15)
    st = cm.stationary()
    assert st.pi[1] == pytest.approx(kp / (1.0 + kp), rel=1e-12)
    assert st.pi[0] == pytest.approx(1.0, rel=1e-15)
    fp = cm.first_passage("b")
    assert fp.mean == pytest.approx(1.0 / kp, rel=1e-12)  # e^700 = 1.01e304
    assert fp.second_moment == math.inf and "E[T^2] exceeds the largest double" in fp.note
    res = semdsl.run(semdsl.loads(TWO_STATE.format(law="metropolis"), "t.sem"))
    assert res.predictions[0].methods["exact"]["pb"]["value"][0] == pytest.approx(kp / (1.0 + kp), rel=1e-12)
    assert res.predictions[1].methods["exact"]["tb"]["value"][0] == pytest.approx(1.0 / kp, rel=1e-12)


def test_ratio_e1400_arrhenius_is_exact_in_log_space():
    """arrhenius(1, 700): rates e^-700 and e^+700, pi_b / pi_a = e^-1400, below the double range.

    Before: the stationary solve failed with "numerically singular" and leaked RuntimeWarnings.
    Now: detailed balance in log space gives pi = [1, 0] (0 is e^-1400 correctly rounded).
    """
    cm = build(TWO_STATE.format(law="arrhenius"))
    with _no_warnings():
        st = cm.stationary()
    assert st.pi.tolist() == [1.0, 0.0]
    assert st.method.startswith("detailed balance")
    fp = cm.first_passage("b")
    assert fp.mean == pytest.approx(math.exp(700.0), rel=1e-12)


def test_mean_beyond_the_double_range_is_inf_with_a_reason():
    """metropolis(1, 740): k+ = e^-740 is subnormal and 1/k+ overflows: inf with a note, a warning in check."""
    text = TWO_STATE.format(law="metropolis").replace("beta = 700", "beta = 740")
    cm = build(text)
    fp = cm.first_passage("b")
    assert fp.mean == math.inf and "exceeds the largest double" in fp.missed and "lower beta" in fp.missed
    res = semdsl.run(semdsl.loads(text, "t.sem"))
    entry = res.predictions[1].methods["exact"]["tb"]
    assert entry["value"] == [None] and "exceeds the largest double" in entry["note"]
    rep = check_report(cm)
    text_w = "\n".join(w.render() for w in rep.warnings)
    assert "rates of the law underflow" in text_w and "subnormal" in text_w
    assert any(w.span is not None and w.span.line == 6 for w in rep.warnings)  # the rate statement


def test_underflow_to_zero_is_reported_by_check():
    """metropolis(1, 800): the uphill rate e^-800 is exactly 0, the hop disappears; check says so."""
    cm = build(TWO_STATE.format(law="metropolis").replace("beta = 700", "beta = 800"))
    rep = check_report(cm)
    w = next(w for w in rep.warnings if "underflow" in w.message)
    assert "underflowed to 0" in w.message and "a -> b" in w.message and w.span.line == 6
    assert "lower beta or rescale F" in w.hint
    fp = cm.first_passage("b")
    assert fp.mean is None and "cannot be reached" in fp.missed


def test_exp_overflow_is_an_error_with_a_hint(tmp_path, capsys):
    """arrhenius(1, 800): e^800 is not a double.  Decision: an error, not log-space rates --
    the generator is a matrix of doubles that Storm, the simulator and every export read."""
    f = tmp_path / "t.sem"
    f.write_text(TWO_STATE.format(law="arrhenius").replace("beta = 700", "beta = 800"))
    rc, out, err = run_cli(capsys, "run", str(f), "--no-store")
    assert rc == 1
    assert f"{f}:5:1: error: the rate of b -> a is infinite" in err  # downhill: e^+800
    assert "exp overflows past 709" in err and "rescale F or beta" in err


# ----------------------------------------------------------------------------- near-absorbing


@pytest.mark.parametrize("eps", [1e-10, 1e-15, 1e-17, 1e-20, 1e-300])
def test_nearly_closed_set_hitting_time(eps):
    """0 <-> 1 at rate 1, 1 -> 2 (the target) at eps: E_0[T] = 1 + 2/eps, E_1[T] = 2/eps.

    Before: plain LU lost eps against 1 + eps in the diagonal -- relative error 8e-8 at
    eps = 1e-10, 10% at 1e-15 (silently), "Factor is exactly singular" below 1e-16.
    """
    Q = generator([[0, 1, 0], [1, 0, eps], [0, 0, 0]])
    fp = E.first_passage(Q, [1, 0, 0], [2])
    assert fp.mean == pytest.approx(1.0 + 2.0 / eps, rel=1e-12)
    m = E.mean_first_passage(Q, [2])
    np.testing.assert_allclose(m, [1.0 + 2.0 / eps, 2.0 / eps, 0.0], rtol=1e-12)
    q = E.committor(Q, [0], [2])  # P_1(hit 2 before 0) = eps / (1 + eps)
    assert q[1] == pytest.approx(eps / (1.0 + eps), rel=1e-12)


def test_near_absorbing_state_stationary_law():
    """0 <-> 1 <-> 2 with 2 -> 1 at 1e-12: pi ~ (1, 1, 1e12), relative accuracy per entry."""
    eps = 1e-12
    Q = generator([[0, 1, 0], [1, 0, 1], [0, eps, 0]])
    exact = np.array([eps, eps, 1.0]) / (1.0 + 2.0 * eps)
    np.testing.assert_allclose(E.stationary(Q).pi, exact, rtol=1e-12)
    # not reversible (a cycle with a slow return): the elimination, not detailed balance
    Qc = generator([[0, 1, 0], [0.5, 0, eps], [1, 0, 0]])
    st = E.stationary(Qc)
    # balance: pi0 = pi2 + 0.5 pi1, pi1 (0.5 + eps) = pi0, pi2 = eps pi1
    p1 = 1.0 / (1.5 + 2.0 * eps)
    np.testing.assert_allclose(st.pi, [p1 * (0.5 + eps), p1, eps * p1], rtol=1e-12)


LONG = """\
model long
param n = 1200
param k = 1e-12
node h[i in 1..n]
edge h[i] -- h[i + 1] for i in 1..n - 2
edge h[n - 1] -> h[n] { rate = k }
rate uniform(1)
init h[1]
observable t_end = first_passage(h[n])
predict t_end using exact
"""


def test_large_nearly_closed_set_by_refinement():
    """1199 states (above the dense elimination's bound) left at rate 1e-12: sparse LU is off by
    4e-5, iterative refinement with the cancellation-free residual makes it exact.
    E_1[T] = m(m-1)/2 + m/k with m = n - 1 (the walk reaches h[m], then leaves it with
    probability k/(1+k) per visit, each return taking m - 1)."""
    cm = build(LONG)
    m, k = 1199, 1e-12
    fp = cm.first_passage("h[1200]")
    assert fp.mean == pytest.approx(m * (m - 1) / 2 + m / k, rel=1e-12)
    assert "refinement" in fp.note and not fp.caveat


def test_hopelessly_closed_set_is_a_clear_error(tmp_path, capsys):
    """k = 1e-20 on 1199 states: LU is singular, too many states for the dense elimination: the
    error points at the rate statement, names the rates and says what to change; exit 1."""
    f = tmp_path / "long.sem"
    f.write_text(LONG)
    rc, out, err = run_cli(capsys, "run", str(f), "--set", "k=1e-20", "--no-store")
    assert rc == 1
    assert f"{f}:7:1: error: the hitting-time system of 1,199 states is too ill-conditioned" in err
    assert "exit rates from the set down to 1e-20" in err
    assert "hint: lower beta or rescale F (or the rates)" in err
    assert f"{f}:10:1: note: while computing t_end" in err
    with pytest.raises(NumericalError, match="too ill-conditioned"):
        build(LONG, {"k": 1e-20}).first_passage("h[1200]")


# ----------------------------------------------------------------------------- non-reversible, wide rates


def _reference_stationary(W: np.ndarray) -> np.ndarray:
    """pi of the rate matrix W in mpmath, the diagonal computed in high precision too."""
    n = W.shape[0]
    logs = np.log10(W[W > 0])
    mpmath.mp.dps = 40 + 2 * int(logs.max() - logs.min())
    A = mpmath.matrix(n, n)
    for i in range(n):
        for j in range(n):
            if i != j:
                A[j, i] = mpmath.mpf(W[i, j])
        A[i, i] = -mpmath.fsum(mpmath.mpf(W[i, j]) for j in range(n) if j != i)
    for j in range(n):
        A[n - 1, j] = 1
    x = mpmath.lu_solve(A, mpmath.matrix([0] * (n - 1) + [1]))
    return np.array([float(v) for v in x])


@pytest.mark.parametrize("seed", range(6))
def test_non_reversible_wide_rates_are_accurate_entry_by_entry(seed):
    """Random non-reversible chains with rates over up to 100 decades.  Before: sparse LU passed
    its normwise residual test with entries wrong by 20% (and 3e-5 in absolute value), or
    failed with "numerically singular"; now the subtraction-free elimination is used."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 20))
    span = [5, 20, 50][seed % 3]
    W = np.where(rng.random((n, n)) < 0.3, 10.0 ** rng.uniform(-span, span, (n, n)), 0.0)
    np.fill_diagonal(W, 0.0)
    W[np.arange(n), (np.arange(n) + 1) % n] = 10.0 ** rng.uniform(-span, span, n)  # irreducible
    st = E.stationary(generator(W))
    ref = _reference_stationary(W)
    big = ref > 1e-290
    np.testing.assert_allclose(st.pi[big], ref[big], rtol=1e-11)
    assert np.all(st.pi[~big] < 1e-280)


def _large_random_chain(span: float, seed: int = 3, n: int = 1500) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    rows = np.concatenate((np.repeat(np.arange(n), 3), np.arange(n)))
    cols = np.concatenate((rng.integers(0, n, 3 * n), (np.arange(n) + 1) % n))
    vals = 10.0 ** rng.uniform(-span, span, rows.size)
    keep = rows != cols
    return generator(sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n, n)))


def test_large_non_reversible_wide_rates_say_what_they_cannot_certify():
    """Above the elimination's bound (1500 states), a non-reversible chain with rates over 8 decades
    is solved by sparse LU; no residual can certify a small probability hanging on rare transitions
    between well-balanced groups, and the result says so (``caveat``, ``caution:`` in the note)."""
    st = E.stationary(_large_random_chain(4))
    assert "not certified entry by entry" in st.caveat and "caution:" in st.note
    np.testing.assert_allclose(st.pi.sum(), 1.0, rtol=1e-14)


def test_large_non_reversible_unbalanced_is_refused():
    """Rates over 20 decades: some state balances its flux only to 3e-6 -- refused, saying what to change."""
    with pytest.raises(NumericalError) as err:
        E.stationary(_large_random_chain(10))
    msg = str(err.value)
    assert "not accurate entry by entry" in msg and "balances its probability flux only to" in msg
    assert "hint: lower beta or rescale F (or the rates)" in msg


# ----------------------------------------------------------------------------- stiff transients


def test_stiff_two_state_transient_over_twenty_decades():
    """k+ = 1e8, k- = 1e-8: p_B(t) = k+/(k+ + k-) (1 - exp(-(k+ + k-) t)), t in 1e-10..1e10."""
    kp, km = 1e8, 1e-8
    t = np.logspace(-10, 10, 41)
    with deadline(60):
        tr = E.transient(two_state(kp, km), [1.0, 0.0], t)
    lam = kp + km
    pB = kp / lam * -np.expm1(-lam * t)
    pA = km / lam + kp / lam * np.exp(-lam * t)
    assert tr.error_bound <= 1e-10
    # a probability is off by at most the total-variation distance (plus rounding of the closed form)
    assert np.all(np.abs(tr.P[:, 1] - pB) <= tr.error_bounds + 4e-16)
    assert np.all(np.abs(tr.P[:, 0] - pA) <= tr.error_bounds + 4e-16)
    np.testing.assert_allclose(tr.P[:, 1], pB, rtol=1e-8)  # p_B >= 0.01 here


def test_stiff_dense_chain_against_high_precision_expm():
    """Six states, rates log-uniform in 1e-8..1e8, t in 1e-6..1e6, against mpmath's expm at 50 digits
    (the diagonal recomputed in high precision: the float64 rows do not sum to 0 exactly, and
    over t = 1e6 that alone moves probabilities by 1e-10)."""
    rng = np.random.default_rng(1)
    n = 6
    W = np.where(rng.random((n, n)) < 0.7, 10.0 ** rng.uniform(-8, 8, (n, n)), 0.0)
    np.fill_diagonal(W, 0.0)
    mpmath.mp.dps = 50
    Qm = mpmath.matrix(n, n)
    for i in range(n):
        for j in range(n):
            if i != j:
                Qm[i, j] = mpmath.mpf(W[i, j])
        Qm[i, i] = -mpmath.fsum(Qm[i, j] for j in range(n) if j != i)
    t = np.logspace(-6, 6, 13)
    p0 = np.eye(n)[0]
    tr = E.transient(generator(W), p0, t)
    for k, tk in enumerate(t):
        ref = np.array([float(v) for v in (mpmath.matrix([p0.tolist()]) * mpmath.expm(Qm * tk))], dtype=float)
        assert np.abs(tr.P[k] - ref).max() <= tr.error_bounds[k] + 1e-15, tk


def test_huge_times_do_not_hang():
    """q t up to 1e300: before, the Poisson-window bisection looped forever once q t > 2^53."""
    kp = math.exp(-300.0)
    with deadline(30):
        tr = E.transient(two_state(kp, 1.0), [1.0, 0.0], [1.0, 1e16, 1e20, 1e300])
        cyc = E.transient(generator([[0, 1e-300, 0], [0, 0, 1], [1, 0, 0]]), [1.0, 0, 0], [1e20, 1e300])
        fp = E.first_passage(generator([[0, 1, 0], [0, 0, 1e-8], [0, 0, 0]]), [1.0, 0, 0], [2],
                             times=[1e3, 1e12, 1e300])
    np.testing.assert_allclose(tr.P[1:, 1], kp / (1 + kp), rtol=1e-12)
    assert np.abs(cyc.P - [1.0, 0.0, 0.0]).max() <= cyc.error_bound + 1e-15
    assert fp.cdf[-1] == pytest.approx(1.0, abs=1e-10)
    for engine in ("uniformization", "expm_multiply"):  # explicit engines refuse, saying why
        with pytest.raises(NumericalError, match="use method='auto' or 'krylov'"):
            E.transient(two_state(1.0, 1.0), [1.0, 0.0], [1e20], method=engine)


# ----------------------------------------------------------------------------- reducible chains


REDUCIBLE = """\
model red
node s
node a1
node a2
node b
node c
edge s -> a1 { rate = 1 }
edge s -> b { rate = 3 }
edge a1 -- a2
rate uniform(1)
init s
observable pa = prob({a1, a2})
observable pb = prob(b)
observable tb = first_passage(b)
observable tc = first_passage(c)
predict pa, pb stationary using exact
predict tb, tc using exact
"""


def test_reducible_chain_names_its_classes():
    """Two closed classes reached from s ({a1, a2} w.p. 1/4, {b} w.p. 3/4), one never reached ({c})."""
    cm = build(REDUCIBLE)
    st = cm.stationary()
    np.testing.assert_allclose(st.pi, [0, 0.125, 0.125, 0.75, 0], atol=1e-15)
    res = semdsl.run(semdsl.loads(REDUCIBLE, "t.sem"))
    ex = res.predictions[0].methods["exact"]
    assert ex["pa"]["value"][0] == pytest.approx(0.25, rel=1e-14)
    note = ex["pa"]["note"]
    assert "3 closed classes" in note and "{b} with probability 0.75" in note
    assert "{a1, a2} (2 nodes) with probability 0.25" in note and "never in {c}" in note
    assert "transient node {s}" in note and "depends on where the walk starts" in note
    rep = check_report(cm)
    text = "\n".join(w.render() for w in rep.warnings)
    assert "ends in one of 2 closed classes" in text and "{a1, a2} (2 nodes), {b}" in text
    assert "disconnected parts (sizes 4, 1): {s, a1, a2, b} (4 nodes); {c}" in text
    assert rep.closed_classes[0] == {"size": 2, "nodes": ["a1", "a2"], "reached_from_init": True}
    assert rep.closed_classes[-1] == {"size": 1, "nodes": ["c"], "reached_from_init": False}
    with pytest.raises(NumericalError, match=r"\{a1, a2\} \(2 nodes\), \{b\}, \{c\}"):
        E.stationary(cm.generator, names=cm.nodes.name)


def test_missed_target_explains_the_null():
    """b is hit with probability 3/4 (the walk can be caught in {a1, a2}); c never: null, with the reason."""
    res = semdsl.run(semdsl.loads(REDUCIBLE, "t.sem"))
    ex = res.predictions[1].methods["exact"]
    assert ex["tb"]["value"] == [None] and ex["tc"]["value"] == [None]
    assert "reached with probability 0.75 only" in ex["tb"]["note"]
    assert "caught instead in {a1, a2} (2 nodes), which it never leaves" in ex["tb"]["note"]
    assert "E[T | T < inf] = 0.25" in ex["tb"]["note"]
    assert "the target {c} cannot be reached from the start {s}" in ex["tc"]["note"]
    fp = build(REDUCIBLE).first_passage("b")
    assert fp.finite_fraction == pytest.approx(0.75, rel=1e-14)
    assert fp.conditional_mean == pytest.approx(0.25, rel=1e-14)  # the exit time of s, 1/(1 + 3)


def test_reducible_cli_solve_and_check(tmp_path, capsys):
    f = tmp_path / "red.sem"
    f.write_text(REDUCIBLE)
    rc, out, err = run_cli(capsys, "solve", str(f), "--stationary", "--mfpt", "b")
    assert rc == 0
    assert "never in {c}" in out and "which it never leaves" in out
    rc, out, err = run_cli(capsys, "check", str(f))
    assert rc == 0 and "the chain is reducible" in err


def test_no_warnings_leak_from_the_solvers():
    """The cases that used to print RuntimeWarnings (overflow in GMRES, divide by zero) stay quiet."""
    cm = build(TWO_STATE.format(law="arrhenius").replace("beta = 700", "beta = 709"))
    with _no_warnings():
        st = cm.stationary()
        fp = cm.first_passage("b")
    assert st.pi.tolist() == [1.0, 0.0] and fp.mean == pytest.approx(math.exp(709.0), rel=1e-12)


def test_stationary_distribution_rejects_reducible_and_agrees_otherwise():
    Q = generator([[0, 2.0], [1.0, 0]])
    np.testing.assert_allclose(E.stationary_distribution(Q), [1 / 3, 2 / 3], rtol=1e-15)
    with pytest.raises(ValueError, match="not irreducible"):
        E.stationary_distribution(generator([[0, 1.0], [0, 0]]))


def test_large_gth_is_bounded_and_documented():
    assert E.GTH_MAX_STATES == 1000
    text = textwrap.dedent(E.__doc__)
    assert "subtraction-free" in text and "GTH_MAX_STATES" in text
