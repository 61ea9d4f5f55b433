"""Quantiles over disorder realisations are those of the pooled ensemble (semdsl.pooled)."""

from __future__ import annotations

import numpy as np
import pytest

import semdsl
from semdsl.pooled import PooledDistribution


def test_pooled_median_is_the_mixture_median_not_the_average_of_medians():
    pool = PooledDistribution(R=2, K=1)
    pool.add(0, [1.0, 2.0, 3.0], [[1.0, 0.0, 0.0]])
    pool.add(1, [1.0, 2.0, 3.0], [[0.0, 0.0, 1.0]])
    assert pool.quantile(0.5)[0] == 1.0          # lower median of {1: 1/2, 3: 1/2}
    assert pool.quantile(0.6)[0] == 3.0
    assert pool.quantile(0.0)[0] == 1.0 and pool.quantile(1.0)[0] == 3.0


@pytest.mark.parametrize("seed", range(20))
def test_pooled_quantile_of_equal_samples_is_the_quantile_of_all_samples(seed):
    """R realisations of W walkers each, given as histograms over nodes with their own
    values: the pooled quantile is numpy's inverted_cdf quantile of all R*W values."""
    rng = np.random.default_rng(seed)
    R, K, W = int(rng.integers(2, 6)), 4, int(rng.integers(5, 60))
    pool = PooledDistribution(R, K)
    allv = [[] for _ in range(K)]
    for r in range(R):
        n = int(rng.integers(3, 9))
        vals = rng.integers(0, 6, n) / 2.0                  # few values, shared between realisations
        counts = np.zeros((K, n))
        for k in range(K):
            nodes = rng.integers(0, n, W)
            np.add.at(counts[k], nodes, 1)
            allv[k].extend(vals[nodes])
        pool.add(r, vals, counts)
    for q in (0.1, 0.25, 0.5, 0.9):
        want = [np.quantile(np.array(a), q, method="inverted_cdf") for a in allv]
        np.testing.assert_array_equal(pool.quantile(q), want)


def test_bootstrap_of_identical_realisations_has_no_spread_and_columns_are_independent():
    pool = PooledDistribution(R=3, K=2)
    for r in range(3):
        pool.add(r, [0.0, 1.0], [0.3, 0.7], cols=[0])
        pool.add(r, [5.0, 7.0], [0.9, 0.1], cols=[1])
    reps = pool.replicates(0.5, 50, seed=1)
    assert np.all(reps[:, 0] == 1.0) and np.all(reps[:, 1] == 5.0)
    # the walker error of a few-valued quantile is at least the gap to its neighbour
    se = pool.walker_se(0.5, walkers=100)
    assert se[0] >= 1.0 and se[1] >= 2.0


def test_a_point_without_realisations_is_nan():
    pool = PooledDistribution(R=2, K=2)
    pool.add(0, [1.0], [[1.0]], cols=[0])
    q = pool.quantile(0.5)
    assert q[0] == 1.0 and np.isnan(q[1])


TRAPS = """
model traps
param L = 6 in 2..100
node s[n in 1..L] { F = 1 / n }
edge s[n] -> s[n + 1] for n in 1..L - 1 { B ~ exponential(rate = 0.7) }
rate barrier(1, 1)
init s[1]
observable typical = median(F)
observable mean_F = mean(F)
predict typical, mean_F over t in 0.5..50 log points 8 using exact, simulation with walkers = 400, realizations = 12
"""


def test_run_pools_quantiles_over_realisations_in_exact_and_simulation(tmp_path):
    """One chain of barriers per realisation: each landscape's median is a different
    step function, and the pooled median agrees between exact and simulation."""
    f = tmp_path / "traps.sem"
    f.write_text(TRAPS)
    res = semdsl.run(f, seed=3)
    p = res[0]
    ex, si = p.methods["exact"]["typical"], p.methods["simulation"]["typical"]
    assert ex["pooled"] and si["pooled"] and ex["realizations"] == 12
    assert len(ex["stderr"]) == 8 and all(s is not None for s in ex["stderr"])
    assert p.agreement["typical"]["ok"], p.agreement["typical"]
    # the same realisations, recomputed by hand: compile each, pool P(t)
    from semdsl.compiler import attribute_values, compile_model
    from semdsl.solvers import exact
    model = semdsl.load(f)
    t = np.array(p.axis["values"])
    pool = PooledDistribution(12, t.size)
    meds = []
    for r in range(12):
        cm = compile_model(model, {"L": 6}, seed=3, realization=r)
        P = exact.transient(cm.generator, cm.init, t).P
        pool.add(r, attribute_values(cm, model.observables["typical"].expr), P)
        meds.append(exact.quantile(P, attribute_values(cm, model.observables["typical"].expr), 0.5))
    np.testing.assert_array_equal(ex["value"], pool.quantile(0.5))
    # and it is not the average of the twelve medians (which lies between levels)
    assert not np.allclose(np.mean(meds, axis=0), ex["value"])
    # the mean is unchanged by pooling: the average of the means
    assert p.methods["exact"]["mean_F"].get("pooled") is None
