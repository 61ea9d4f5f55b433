"""Scaling laws of the trap model (issue 6, in part): which quantity follows which law,
fit intervals from bootstraps over walkers or realisations, theory over the same window.

Every check compares a simulated exponent's 95% bootstrap interval with theory's
exponent for the same quantity over the same fitted window (a bootstrap interval fails
to cover in 5% of seeds; the seeds are fixed)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import semdsl
from semdsl.solvers.fit import fit_powerlaw
from semdsl.solvers.simulate import simulate

from conftest import ROOT


#: two-sided 1e-3 normal quantile: eight exponent checks (median and mean for four mu)
#: at a family-wise false-alarm rate under 1%
Z_FAMILY = 3.29


@pytest.mark.parametrize("mu", [0.3, 0.5, 0.8, 1.5])
def test_trap_exponents_match_their_own_laws(mu):
    """Median and mean over forty landscapes against theory's renewal solution with the
    model's own waiting law (valley exit time averaged over the barrier law), each over
    the simulation fit's window; mu = 1.5 is past the crossover to exponent 1.

    The median over realisations is that of the pooled walkers, the median of the
    disorder-averaged law that theory gives (semdsl.pooled).  The error of an exponent
    is its bootstrap over the forty landscapes (95% half-width / 1.96)."""
    res = semdsl.run(ROOT / "models" / "trap.sem", {"mu": mu}, methods=["simulation", "theory"])
    p = res[0]
    for name in ("typical", "ensemble"):
        fit = p.methods["simulation"][name]["fit"]
        assert fit["method"].startswith("bootstrap"), fit          # over the 40 realisations
        sigma = (fit["ci95"][1] - fit["ci95"][0]) / (2 * 1.96)
        assert abs(fit["exponent"] - fit["theory_exponent"]) < Z_FAMILY * sigma, (name, fit)
    assert p.methods["simulation"]["typical"]["pooled"] is True
    assert p.methods["theory"]["ensemble"]["law"]["waiting_law"] == "model valley exit time"
    typ, ens = (p.methods["simulation"][n]["fit"]["exponent"] for n in ("typical", "ensemble"))
    heads = "\n".join(res.headlines())
    if mu < 1:
        assert ens > typ + 0.05            # the mean decays visibly more slowly (log correction)
        assert "the paper's law" in heads and "NOT the paper's pure power law" in heads
    else:
        assert p.methods["theory"]["ensemble"]["law"]["exponent"] == -1.0
        assert abs(ens + 1) < 0.1 and abs(typ + 1) < 0.1 and "exponent 1" in heads


def test_replicates_carry_the_walker_error_of_an_exponent():
    """One realisation: the fit's interval is a bootstrap over walker chunks.  A pure
    diffusion's MSD on a ring is 2t exactly, so the interval must hold slope 1, and its
    width must match the spread of exponents over independent seeds."""
    n = 4000
    Q = sp.diags([np.ones(n - 1), np.ones(n - 1)], [1, -1]).tolil()
    Q[0, n - 1] = Q[n - 1, 0] = 1.0
    Q.setdiag(-np.asarray(Q.sum(axis=1)).ravel())
    Q = Q.tocsr()
    x = np.arange(n, dtype=float)
    p0 = np.zeros(n)
    p0[n // 2] = 1.0
    t = np.geomspace(1, 100, 12)
    slopes, widths = [], []
    for seed in range(12):
        s = simulate(Q, p0, t, walkers=4000, seed=seed, coords=[x], replicates=400, histogram=False)
        f = fit_powerlaw(t, s.msd_mean, replicates=s.replicates["msd"], x_range=(1, 100))
        assert f["method"] == "bootstrap (replicates)"
        slopes.append(f["exponent"])
        widths.append(f["ci95"][1] - f["ci95"][0])
    slopes = np.array(slopes)
    # 95% interval ~ 3.92 sigma wide; the seeds' spread estimates sigma to ~20% (12 seeds)
    assert 0.6 < np.mean(widths) / (3.92 * slopes.std(ddof=1)) < 1.6
    assert abs(slopes.mean() - 1) < 4 * slopes.std(ddof=1) / np.sqrt(slopes.size)


def test_deterministic_curve_interval_is_its_local_slope_range():
    x = np.geomspace(1, 1e4, 41)
    y = x ** -0.5 * (1 + 0.5 * np.log(x))          # a log-corrected power law, no noise
    f = fit_powerlaw(x, y, x_range=(1, 1e4), deterministic=True)
    assert f["method"].startswith("local-slope range")
    lo, hi = f["ci95"]
    loc = np.gradient(np.log(y), np.log(x))
    assert lo <= f["exponent"] <= hi and lo < loc.max() and hi > loc.min()
    assert hi - lo > 0.1                               # the curvature shows


def test_identical_replicates_fall_back_to_the_local_slope_range():
    """A median of a few-valued observable can come out the same in every replicate: a
    zero-width 'bootstrap interval' would be false precision."""
    x = np.geomspace(1, 1e3, 20)
    y = x ** -1.0 * (1 + 0.2 * np.log(x))
    f = fit_powerlaw(x, y, replicates=np.tile(y, (50, 1)), x_range=(1, 1e3))
    assert f["method"].startswith("local-slope range") and "identical" in f["warning"]
    assert f["ci95"][1] - f["ci95"][0] > 0.05


# ---------------------------------------------------------------- scaling.sem: F(N), F(D)
@pytest.fixture(scope="module")
def scaling_runs():
    return {back: semdsl.run(ROOT / "models" / "scaling.sem", {"back": back}) for back in (0, 1)}


@pytest.mark.parametrize("back, d_w", [(0, 1.0), (1, 2.0)])
def test_size_law_exponent_is_minus_one_over_df_alpha(scaling_runs, back, d_w):
    """t_reach over N: route lengths l = round(64 (1000/N)^(1/2)) give d_f = 2 (to the
    rounding, < 0.5% here); ballistic chains have alpha = 1, unbiased ones 1/2, so the
    law's exponent is -0.5 and -1.  Theory's values are the chains' closed form and must
    equal exact linear algebra; the measured exponents inside the validity range agree
    with the law to its stated tolerance."""
    p = scaling_runs[back][1]
    th = p.methods["theory"]["t_reach"]
    law = th["law"]
    assert law["kind"] == "exploration" and law["d_w"] == d_w
    assert law["d_f"] == pytest.approx(2.0, rel=0.005)
    assert law["exponent"] == pytest.approx(-d_w / 2, rel=0.005)
    lo, hi = law["valid"]
    assert lo == 1000 and 50000 < hi < 70000              # l >= 8 needs N <= 64000
    np.testing.assert_allclose(th["value"], p.methods["exact"]["t_reach"]["value"], rtol=1e-9)
    for m in ("exact", "simulation"):
        fit = p.methods[m]["t_reach"]["fit"]
        assert lo <= fit["range"][0] and fit["range"][1] <= hi * (1 + 1e-9)
        assert fit["contains_law"], (m, fit)
    heads = "\n".join(scaling_runs[back].headlines())
    assert "t_reach over N" in heads and "agree" in heads


def test_data_law_exponent_is_minus_one_below_dk(scaling_runs):
    p = scaling_runs[0][2]
    law = p.methods["theory"]["t_reach"]["law"]
    # gamma = D/(D + Dk): local exponent -Dk/(D + Dk), -0.9999 at D = 10, within 5% to D = Dk/19
    assert law["exponent"] == pytest.approx(-1e5 / (10 + 1e5), rel=1e-3)
    assert law["valid"] == [10.0, 3000.0]
    sim = p.methods["simulation"]["t_reach"]
    assert all(v is not None for v in sim["value"])           # t_max covers every point
    assert sim["fit"]["method"] == "bootstrap (replicates)"   # walkers resampled per point
    assert sim["fit"]["contains_law"] and sim["fit"]["contains_theory"], sim["fit"]
    assert p.agreement["t_reach"]["ok"]


def test_route_time_closed_form_matches_linear_algebra():
    from semdsl.solvers.exact import first_passage
    from semdsl.solvers.theory import _route_time
    for l, a, b in [(1, 2.0, 0.0), (7, 1.5, 0.0), (9, 1.0, 1.0), (12, 2.0, 0.7)]:
        n = l + 1                     # node l is the exit's target
        Q = sp.lil_matrix((n, n))
        for k in range(l):
            Q[k, k + 1] = a
            if k > 0:
                Q[k, k - 1] = b
        Q.setdiag(-np.asarray(Q.sum(axis=1)).ravel())
        p0 = np.zeros(n)
        p0[0] = 1
        fp = first_passage(Q.tocsr(), p0, np.array([l]), None)
        assert _route_time(np.array([l]), a, b)[0] == pytest.approx(fp.mean, rel=1e-10)


def test_exploration_theory_declines_landscapes_it_does_not_describe(tmp_path):
    from semdsl.solvers.theory import predict
    climbing = tmp_path / "c.sem"
    climbing.write_text("""model c
param N = 3 in 1..10
node c[n in 1..4] { F = 1 / n }
edge c[n] -- c[n + 1] for n in 1..3
rate = 1
init c[1]
observable tp = first_passage(where(F <= 0.26))
predict tp over N in 1..3 points 3 using theory
""")
    mc = semdsl.load(climbing)
    r = predict(mc, mc.compile(), "tp", "N", [1, 2, 3])
    assert r.value is None and "climb in F" in r.note
    branched = tmp_path / "b.sem"
    branched.write_text("""model b
param N = 3 in 1..10
node c[n in 1..3, k in 1..3] { F = 1 / n }
edge c[n, 1] -> c[n, k] for n in 1..3, k in 2..3
edge c[n, 3] -> c[n + 1, 1] for n in 1..2
rate = 1
init c[1, 1]
observable tp = first_passage(where(F <= 0.34))
predict tp over N in 1..3 points 3 using theory
""")
    mb = semdsl.load(branched)
    r = predict(mb, mb.compile(), "tp", "N", [1, 2, 3])
    assert r.value is None and "not a chain" in r.note
