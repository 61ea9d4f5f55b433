"""Storm cross-checks of :mod:`semdsl.solvers.exact` on random landscapes.

Three landscapes of a few hundred nodes with different rate laws -- a random
undirected graph with Arrhenius rates (reversible), a random directed graph with
Metropolis rates (not reversible), and a compiled ``.sem`` lattice with Glauber
rates -- are exported with :func:`semdsl.emit.drn.to_drn` and read by Storm
(stormpy 2.0).  Storm's steady state (``compute_steady_state_distribution``),
expected hitting times (``T=? [F "label"]``) and time-bounded reachability
(``P=? [F<=t "label"]``) must agree with :func:`stationary`,
:func:`first_passage` (``per_state_mean``, ``mean``) and ``first_passage(...).cdf``
to relative 1e-6.

Storm environments: untimed properties use Eigen's sparse LU (see
``storm_oracle.py``).  Time-bounded CTMC properties refuse ``force_exact``
("Exact computations not possible for bounded until probabilities"), so they
use a default ``stormpy.Environment()``.  stormpy 2.0 exposes no time-bounded
precision on the environment (its ``SolverEnvironment`` has only
``force_exact``, ``force_soundness``, the equation-solver type, ``min_max`` and
``native``); Storm's process-wide option ``--timebounded:precision`` can be set
through ``stormpy.developer.set_from_exploded_string`` but changes nothing
measurable in ``P=? [F<=t]`` on CTMCs (even 0.9 with ``--timebounded:absolute``
gives bit-identical results), and the default already agrees with ours to
~1e-11 relative, so no global Storm setting is touched here.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import scipy.sparse as sp
import stormpy

import semdsl
import semdsl.solvers.exact as E
from semdsl.emit.drn import to_drn
from storm_oracle import load_storm_model, storm_expected_time, storm_steady_state

RTOL = 1e-6


class _Nodes:
    def __init__(self, n):
        self.n = n

    def names(self):
        return [f"v[{i}]" for i in range(self.n)]


def _generator(src, dst, rates, n) -> sp.csr_matrix:
    W = sp.csr_matrix((rates, (src, dst)), shape=(n, n))
    W.sum_duplicates()
    return (W - sp.diags(np.asarray(W.sum(axis=1)).ravel())).tocsr()


def _model(Q, F, name, seed):
    rng = np.random.default_rng(seed)
    n = Q.shape[0]
    init = np.zeros(n)
    init[rng.choice(n, 3, replace=False)] = [0.5, 0.3, 0.2]
    labels = {"low": np.sort(np.argsort(F)[:6]), "patch": np.sort(rng.choice(n, 12, replace=False))}
    return types.SimpleNamespace(generator=Q, init=init, labels=labels, model_name=name, nodes=_Nodes(n))


def arrhenius_landscape(n=300, beta=1.0, seed=21):
    """Random undirected graph (a Hamiltonian cycle keeps it connected), R = exp(-beta (F_j - F_i))."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=n)
    perm = rng.permutation(n)
    s = np.r_[rng.integers(0, n, 2 * n), perm]
    d = np.r_[rng.integers(0, n, 2 * n), np.roll(perm, -1)]
    s, d = np.r_[s, d], np.r_[d, s]
    pairs = np.unique(np.c_[s, d][s != d], axis=0)
    s, d = pairs[:, 0], pairs[:, 1]
    return _model(_generator(s, d, np.exp(-beta * (F[d] - F[s])), n), F, "arrhenius", seed)


def metropolis_directed(n=250, beta=2.0, seed=22):
    """Random directed graph plus a directed cycle (strongly connected), R = min(1, exp(-beta dF))."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=n)
    perm = rng.permutation(n)
    s = np.r_[rng.integers(0, n, 3 * n), perm]
    d = np.r_[rng.integers(0, n, 3 * n), np.roll(perm, -1)]
    pairs = np.unique(np.c_[s, d][s != d], axis=0)
    s, d = pairs[:, 0], pairs[:, 1]
    return _model(_generator(s, d, np.minimum(1.0, np.exp(-beta * (F[d] - F[s]))), n), F, "metropolis", seed)


GLAUBER_SEM = """
model glauber_lattice "Glauber walk on a rugged 16 x 16 lattice"
param beta = 1.3 in 0..10
graph site = lattice(16, 16) { F ~ normal(0, 1) }
rate glauber(2, beta)
init site[8, 8]
observable low = first_passage(where(F < -1.3))
observable patch = prob({site[1, 1], site[1, 2], site[2, 1], site[16, 16]})
"""


def glauber_lattice():
    return semdsl.compile(semdsl.loads(GLAUBER_SEM, "glauber.sem"), seed=5)


MODELS = {"arrhenius": arrhenius_landscape, "metropolis-directed": metropolis_directed, "glauber-sem": glauber_lattice}


@pytest.fixture(scope="module", params=list(MODELS))
def exported(request, tmp_path_factory):
    cm = MODELS[request.param]()
    path = tmp_path_factory.mktemp(request.param) / f"{cm.model_name}.drn"
    path.write_text(to_drn(cm))
    return cm, path


def storm_bounded_reachability(path, label: str, t: float) -> np.ndarray:
    """``P=? [F<=t "label"]`` from every state (default environment: bounded until refuses force_exact)."""
    model, node_of_state, n = load_storm_model(path, "drn")
    result = stormpy.model_checking(model, stormpy.parse_property(f'P=? [F<={t!r} "{label}"]'), environment=stormpy.Environment())
    out = np.full(n, np.nan)
    out[node_of_state] = np.asarray(result.get_value_vector(), dtype=np.float64)
    return out


def test_steady_state_agrees_with_storm(exported):
    cm, path = exported
    st = E.stationary(cm.generator)
    assert not st.reducible and ("direct" in st.method or "detailed balance" in st.method)
    np.testing.assert_allclose(storm_steady_state(path, "drn"), st.pi, rtol=RTOL, atol=0)


def test_expected_hitting_times_agree_with_storm(exported):
    cm, path = exported
    for label, ids in cm.labels.items():
        fp = E.first_passage(cm.generator, cm.init, ids)
        storm = storm_expected_time(path, "drn", label)
        np.testing.assert_allclose(storm, fp.per_state_mean, rtol=RTOL, atol=0)
        assert fp.mean == pytest.approx(cm.init @ storm, rel=RTOL)
        # E[T] = sum_i p0_i E_i[T]; the second moment has no Storm counterpart but must exceed E[T]^2
        assert fp.second_moment > fp.mean**2


def test_time_bounded_reachability_agrees_with_storm(exported):
    cm, path = exported
    Q, n = cm.generator, cm.generator.shape[0]
    rng = np.random.default_rng(0)
    starts = np.sort(rng.choice(np.setdiff1d(np.arange(n), cm.labels["low"]), 12, replace=False))
    m = E.mean_first_passage(Q, cm.labels["low"])
    times = np.median(m[starts]) * np.array([0.2, 1.0, 3.0])  # P(T <= t) between ~1e-3 and ~1
    storm = np.column_stack([storm_bounded_reachability(path, "low", float(t)) for t in times])
    for i in starts:
        p0 = np.zeros(n)
        p0[i] = 1.0
        fp = E.first_passage(Q, p0, cm.labels["low"], times=times, tol=1e-12)
        assert fp.cdf_error_bound <= 1e-10  # far below the 1e-6 comparison (round-off included)
        assert storm[i].min() > 1e-5  # relative agreement below is meaningful
        np.testing.assert_allclose(fp.cdf, storm[i], rtol=RTOL, atol=0)
        np.testing.assert_allclose(fp.survival, 1.0 - storm[i], rtol=RTOL, atol=0)
    # from the initial distribution: the init-weighted mixture of Storm's per-state values
    fp = E.first_passage(Q, cm.init, cm.labels["low"], times=times, tol=1e-12)
    np.testing.assert_allclose(fp.cdf, cm.init @ storm, rtol=RTOL, atol=0)
