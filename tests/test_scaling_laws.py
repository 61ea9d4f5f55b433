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


@pytest.mark.parametrize("mu", [0.3, 0.5, 0.8, 1.5])
def test_trap_mean_exponent_matches_its_own_law(mu):
    """The ensemble mean over ten landscapes against theory's renewal solution with the
    model's own waiting law (valley exit time averaged over the barrier law), over the
    simulation's fitted window; mu = 1.5 is past the crossover to exponent 1.

    The median is not asserted: the runner averages each landscape's median, while
    theory gives the median of the disorder-averaged law -- different quantities for a
    few-valued F (see issue 6's note)."""
    res = semdsl.run(ROOT / "models" / "trap.sem", {"mu": mu}, methods=["simulation", "theory"])
    p = res[0]
    fit = p.methods["simulation"]["ensemble"]["fit"]
    assert fit["method"] == "bootstrap", fit          # over the 10 realisations
    assert fit["contains_theory"], fit
    assert p.methods["theory"]["ensemble"]["law"]["waiting_law"] == "model valley exit time"
    typ, ens = (p.methods["simulation"][n]["fit"]["exponent"] for n in ("typical", "ensemble"))
    heads = "\n".join(res.headlines())
    if mu < 1:
        assert ens > typ + 0.05            # the mean decays visibly more slowly (log correction)
        assert "the paper's law" in heads and "NOT the paper's pure power law" in heads
    else:
        assert p.methods["theory"]["ensemble"]["law"]["exponent"] == -1.0
        assert abs(ens + 1) < 0.1 and "exponent 1" in heads


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
