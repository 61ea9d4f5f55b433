"""Storm cross-checks of the PRISM/DRN emitters and of the exact sparse solvers.

Each generator is built directly with scipy, wrapped in a minimal stand-in for
``CompiledModel`` (a ``SimpleNamespace`` with ``generator``, ``init``,
``labels``, ``model_name``, ``nodes``), exported with ``to_prism`` (PRISM
``[]`` commands, read in compatibility mode, and Storm ``<>`` Markovian
commands, read without it) and ``to_drn``, and read back with stormpy.  Storm's
steady state and expected hitting times must agree with
``stationary_distribution`` / ``mean_first_passage`` (and with closed forms
where there are some) to relative 1e-6.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import scipy.sparse as sp
import stormpy

from semdsl.emit.drn import to_drn
from semdsl.emit.prism import to_prism
from semdsl.solvers.exact import mean_first_passage, reach_surely, stationary_distribution
from storm_oracle import (
    load_storm_model,
    storm_expected_time,
    storm_long_run_probability,
    storm_steady_state,
)

RTOL = 1e-6

# (file kind for the oracle, emitter, oracle keyword arguments)
FORMATS = {
    "prism": ("prism", lambda cm: to_prism(cm), {"prism_compatibility": True}),
    "prism-markovian": ("prism", lambda cm: to_prism(cm, markovian=True), {"prism_compatibility": False}),
    "drn": ("drn", to_drn, {}),
}


# --------------------------------------------------------------------------- models


class _Nodes:
    def __init__(self, names):
        self._names = list(names)

    def names(self):
        return list(self._names)


def generator_from_rates(rows, cols, rates, n) -> sp.csr_matrix:
    """Generator with Q[i, j] = sum of the given rates i -> j and diagonal -(row sum)."""
    W = sp.csr_matrix((np.asarray(rates, float), (np.asarray(rows), np.asarray(cols))), shape=(n, n))
    W.sum_duplicates()
    W.setdiag(0)
    W.eliminate_zeros()
    return (W - sp.diags(np.asarray(W.sum(axis=1)).ravel())).tocsr()


def make_cm(Q, labels, *, init=None, name="test", names=None, with_names=True):
    """Stand-in for CompiledModel; ``with_names=False`` gives ``nodes=None`` (the emitters' large-model path)."""
    n = Q.shape[0]
    if init is None:
        init = np.zeros(n)
        init[0] = 1.0
    return types.SimpleNamespace(
        generator=Q,
        init=np.asarray(init, dtype=float),
        labels={k: np.asarray(v, dtype=np.int64) for k, v in labels.items()},
        model_name=name,
        nodes=_Nodes(names if names is not None else [f"v[{i}]" for i in range(n)]) if with_names else None,
    )


def two_state(k_plus=0.7, k_minus=2.3):
    """A <-> B with A -> B at rate k_plus and B -> A at rate k_minus."""
    Q = generator_from_rates([0, 1], [1, 0], [k_plus, k_minus], 2)
    return make_cm(Q, {"A": [0], "B": [1]}, name="two_state", names=["A", "B"])


def birth_death(n=20, seed=1):
    rng = np.random.default_rng(seed)
    birth = rng.uniform(0.5, 2.0, n - 1)  # i -> i+1
    death = rng.uniform(0.5, 2.0, n - 1)  # i+1 -> i
    i = np.arange(n - 1)
    Q = generator_from_rates(np.r_[i, i + 1], np.r_[i + 1, i], np.r_[birth, death], n)
    cm = make_cm(Q, {"top": [n - 1], "bottom": [0], "upper_half": np.arange(n // 2, n)}, name="birth_death")
    return cm, birth, death


def ring(n=24, rate=1.3):
    i = np.arange(n)
    Q = generator_from_rates(np.r_[i, i], np.r_[(i + 1) % n, (i - 1) % n], np.full(2 * n, rate), n)
    labels = {"origin": [0], "far": [n // 2 - 1, n // 2, n // 2 + 1]}
    return make_cm(Q, labels, init=np.eye(n)[n // 2], name="ring", with_names=False), rate


def landscape(n=300, *, symmetric=True, seed=12345, R0=2.0, beta=1.5, with_names=True):
    """Random strongly connected graph with Arrhenius rates R0*exp(-beta*(F_j - F_i)), F ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=n)
    src = rng.integers(0, n, 3 * n)
    dst = rng.integers(0, n, 3 * n)
    perm = rng.permutation(n)  # a Hamiltonian cycle makes the graph strongly connected
    src = np.r_[src, perm]
    dst = np.r_[dst, np.roll(perm, -1)]
    if symmetric:
        src, dst = np.r_[src, dst], np.r_[dst, src]
    keep = src != dst
    pairs = np.unique(np.c_[src[keep], dst[keep]], axis=0)
    src, dst = pairs[:, 0], pairs[:, 1]
    Q = generator_from_rates(src, dst, R0 * np.exp(-beta * (F[dst] - F[src])), n)
    basin = np.sort(np.argsort(F)[:5])
    labels = {"basin": basin, "block": np.r_[10:41, 100:106, 299], "single": [150]}
    names = [f"site[{i // 20}, {i % 20}]" for i in range(n)]
    return make_cm(Q, labels, name="landscape", names=names, with_names=with_names), F, beta


def write(tmp_path, cm, fmt):
    kind, emit, opts = FORMATS[fmt]
    path = tmp_path / f"{cm.model_name}.{'drn' if kind == 'drn' else 'prism'}"
    path.write_text(emit(cm))
    return path, kind, opts


def check_against_storm(tmp_path, cm, fmt, *, irreducible=True):
    """Storm's steady state / LRA / hitting times agree with the exact solvers for every label."""
    path, kind, opts = write(tmp_path, cm, fmt)
    Q = cm.generator
    if irreducible:
        pi = stationary_distribution(Q)
        np.testing.assert_allclose(storm_steady_state(path, kind, **opts), pi, rtol=RTOL, atol=0)
    for label, ids in cm.labels.items():
        m = mean_first_passage(Q, ids)
        np.testing.assert_allclose(storm_expected_time(path, kind, label, **opts), m, rtol=RTOL, atol=0)
        if irreducible:
            lra = storm_long_run_probability(path, kind, label, **opts)
            np.testing.assert_allclose(lra, np.full(Q.shape[0], pi[ids].sum()), rtol=RTOL, atol=0)


# --------------------------------------------------------------------------- closed forms


def test_two_state_closed_form():
    k_plus, k_minus = 0.7, 2.3
    cm = two_state(k_plus, k_minus)
    pi = stationary_distribution(cm.generator)
    np.testing.assert_allclose(pi, [k_minus / (k_plus + k_minus), k_plus / (k_plus + k_minus)], rtol=1e-12)
    np.testing.assert_allclose(mean_first_passage(cm.generator, [1]), [1 / k_plus, 0.0], rtol=1e-12)
    np.testing.assert_allclose(mean_first_passage(cm.generator, [0]), [0.0, 1 / k_minus], rtol=1e-12)


def birth_death_closed_form(birth, death):
    n = birth.size + 1
    w = np.concatenate(([1.0], np.cumprod(birth / death)))  # pi_i ∝ prod_{j<i} birth_j / death_j
    pi = w / w.sum()
    # expected time to go from j to j + 1: (sum_{k<=j} pi_k) / (pi_j birth_j); hitting n-1 from i: sum_{j>=i}
    step = np.cumsum(pi)[:-1] / (pi[:-1] * birth)
    to_top = np.concatenate((np.cumsum(step[::-1])[::-1], [0.0]))
    assert to_top.size == n
    return pi, to_top


def test_birth_death_closed_form():
    cm, birth, death = birth_death()
    pi, to_top = birth_death_closed_form(birth, death)
    np.testing.assert_allclose(stationary_distribution(cm.generator), pi, rtol=1e-10)
    np.testing.assert_allclose(mean_first_passage(cm.generator, [19]), to_top, rtol=1e-10)


def test_ring_closed_form():
    cm, rate = ring()
    n = cm.generator.shape[0]
    k = np.arange(n)
    np.testing.assert_allclose(stationary_distribution(cm.generator), np.full(n, 1 / n), rtol=1e-12)
    np.testing.assert_allclose(mean_first_passage(cm.generator, [0]), k * (n - k) / (2 * rate), rtol=1e-10)


def test_landscape_detailed_balance():
    cm, F, beta = landscape(symmetric=True)
    w = np.exp(-2 * beta * (F - F.min()))  # reversible: pi_i k_ij = pi_j k_ji gives pi ∝ exp(-2 beta F)
    np.testing.assert_allclose(stationary_distribution(cm.generator), w / w.sum(), rtol=1e-9)


# --------------------------------------------------------------------------- Storm agreement


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_two_state_storm(tmp_path, fmt):
    k_plus, k_minus = 0.7, 2.3
    cm = two_state(k_plus, k_minus)
    path, kind, opts = write(tmp_path, cm, fmt)
    np.testing.assert_allclose(
        storm_steady_state(path, kind, **opts), [k_minus / (k_plus + k_minus), k_plus / (k_plus + k_minus)], rtol=RTOL
    )
    np.testing.assert_allclose(storm_expected_time(path, kind, "B", **opts), [1 / k_plus, 0.0], rtol=RTOL)
    np.testing.assert_allclose(storm_expected_time(path, kind, "A", **opts), [0.0, 1 / k_minus], rtol=RTOL)
    check_against_storm(tmp_path, cm, fmt)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_birth_death_storm(tmp_path, fmt):
    cm, birth, death = birth_death()
    pi, to_top = birth_death_closed_form(birth, death)
    path, kind, opts = write(tmp_path, cm, fmt)
    np.testing.assert_allclose(storm_steady_state(path, kind, **opts), pi, rtol=RTOL)
    np.testing.assert_allclose(storm_expected_time(path, kind, "top", **opts), to_top, rtol=RTOL)
    check_against_storm(tmp_path, cm, fmt)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_ring_storm(tmp_path, fmt):
    cm, rate = ring()
    n = cm.generator.shape[0]
    k = np.arange(n)
    path, kind, opts = write(tmp_path, cm, fmt)
    np.testing.assert_allclose(storm_expected_time(path, kind, "origin", **opts), k * (n - k) / (2 * rate), rtol=RTOL)
    check_against_storm(tmp_path, cm, fmt)


@pytest.mark.parametrize("with_names", [True, False], ids=["names", "nonames"])
@pytest.mark.parametrize("symmetric", [True, False], ids=["reversible", "nonreversible"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_landscape_storm(tmp_path, fmt, symmetric, with_names):
    cm, F, beta = landscape(symmetric=symmetric, with_names=with_names)
    check_against_storm(tmp_path, cm, fmt)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_trap_gives_infinite_times(tmp_path, fmt):
    """0 <-> 1 -> 2 -> 3 (absorbing) and 2 -> 4 (absorbing): hitting 3 is not sure from 0, 1, 2."""
    Q = generator_from_rates([0, 1, 1, 2, 2], [1, 0, 2, 3, 4], [1.0, 2.0, 0.5, 3.0, 1.0], 5)
    cm = make_cm(Q, {"goal": [3], "any_end": [3, 4], "start": [0]}, with_names=False)
    m = mean_first_passage(Q, [3])
    assert np.all(np.isinf(m[[0, 1, 2, 4]])) and m[3] == 0
    assert np.all(np.isfinite(mean_first_passage(Q, [3, 4])))
    np.testing.assert_array_equal(reach_surely(Q, [3, 4]), np.ones(5, bool))
    check_against_storm(tmp_path, cm, fmt, irreducible=False)
    with pytest.raises(ValueError, match="not irreducible"):
        stationary_distribution(Q)


# --------------------------------------------------------------------------- file format details


def test_prism_plain_commands_need_compatibility_mode(tmp_path):
    cm = two_state()
    path = tmp_path / "plain.prism"
    path.write_text(to_prism(cm))
    with pytest.raises(RuntimeError, match="probabilistic commands"):
        stormpy.parse_prism_program(str(path))
    path.write_text(to_prism(cm, markovian=True))
    stormpy.parse_prism_program(str(path))  # Storm's Markovian commands parse without -pc


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_labels_and_initial_states(tmp_path, fmt):
    cm, F, beta = landscape(symmetric=True)
    init = np.zeros(cm.generator.shape[0])
    init[[3, 4, 5, 77]] = [0.1, 0.2, 0.3, 0.4]
    cm.init = init
    path, kind, opts = write(tmp_path, cm, fmt)
    model, node_of_state, n = load_storm_model(path, kind, **opts)
    assert n == 300 and model.nr_states == 300
    assert sorted(node_of_state.tolist()) == list(range(300))
    assert sorted(node_of_state[list(model.initial_states)].tolist()) == [3, 4, 5, 77]
    for label, ids in cm.labels.items():
        states = list(model.labeling.get_states(label))
        assert sorted(node_of_state[states].tolist()) == ids.tolist()
    # hitting time from cm.init = init-weighted average of the per-state values
    m = storm_expected_time(path, kind, "basin", **opts)
    assert init @ m == pytest.approx(init @ mean_first_passage(cm.generator, cm.labels["basin"]), rel=RTOL)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_rates_read_back(tmp_path, fmt):
    """DRN rates and exit rates are read back bit-exactly; Storm's PRISM front end is within a few ulp."""
    cm, F, beta = landscape(symmetric=False)
    Q = cm.generator
    path, kind, opts = write(tmp_path, cm, fmt)
    model, node_of_state, n = load_storm_model(path, kind, **opts)
    rows, cols, vals = [], [], []
    matrix = model.transition_matrix
    for s in range(model.nr_states):
        for entry in matrix.get_row(s):
            rows.append(node_of_state[s])
            cols.append(node_of_state[entry.column])
            vals.append(entry.value)
    S = sp.csr_matrix((vals, (rows, cols)), shape=Q.shape)
    W = Q - sp.diags(Q.diagonal())
    W.eliminate_zeros()
    assert (S != 0).nnz == W.nnz and ((S != 0) != (W != 0)).nnz == 0
    exit_rates = np.asarray(model.exit_rates)[np.argsort(node_of_state)]
    if kind == "drn":
        assert (S != W).nnz == 0
        # "!r" is the row sum of the written rates (summation order may differ from scipy's)
        np.testing.assert_allclose(exit_rates, np.asarray(W.sum(axis=1)).ravel(), rtol=1e-15)
    else:
        diff = abs(S - W)
        assert np.all(diff.data <= 4 * np.spacing(abs(W[diff.nonzero()].A1)))
        np.testing.assert_allclose(exit_rates, -Q.diagonal(), rtol=1e-14)


def test_emitters_reject_bad_input():
    cm = two_state()
    cm.labels = {"init": np.array([0])}
    with pytest.raises(ValueError, match="reserved"):
        to_prism(cm)
    with pytest.raises(ValueError, match="reserved"):
        to_drn(cm)
    cm.labels = {"x": np.array([5])}
    with pytest.raises(ValueError, match="outside"):
        to_drn(cm)
    cm.labels = {}
    cm.generator = sp.csr_matrix(np.array([[-1.0, -1.0], [1.0, -1.0]]))
    with pytest.raises(ValueError, match="negative"):
        to_prism(cm)


def _three_state():
    # explicit zero and non-canonical input must not leak into the files
    Q = sp.csr_matrix(
        (np.array([-5.0, 2.0, 3.0, 0.0, 1.5, -1.5, 0.0]), np.array([0, 1, 2, 0, 0, 1, 2]), np.array([0, 3, 6, 7])), shape=(3, 3)
    )
    return make_cm(Q, {"goal": [1, 2], "start": [0]}, name="tiny", names=["a", "b[1]", "c%"])


def test_prism_text():
    assert to_prism(_three_state()) == (
        "// semdsl model tiny: continuous-time random walk, 3 states, 3 transitions\n"
        "// generated by semdsl.emit.prism; state variable s = semdsl node id\n"
        "// rate commands in PRISM syntax: Storm needs PRISM compatibility mode (-pc / prism_compatibility=True)\n"
        "\n"
        "ctmc\n"
        "\n"
        "module tiny\n"
        "  s : [0..2] init 0;\n"
        "\n"
        "  [] s=0 -> 2:(s'=1) + 3:(s'=2);  // a\n"
        "  [] s=1 -> 1.5:(s'=0);  // b[1]\n"
        "endmodule\n"
        "\n"
        'label "goal" = (s>=1 & s<=2);\n'
        'label "start" = s=0;\n'
    )
    cm = _three_state()
    cm.nodes = None
    cm.init = np.array([0.25, 0.0, 0.75])
    text = to_prism(cm, markovian=True)
    assert "  <> s=0 -> 2:(s'=1) + 3:(s'=2);\n  <> s=1 -> 1.5:(s'=0);\nendmodule\n" in text
    assert "  s : [0..2];\n" in text
    assert "\ninit\n  s=0 | s=2\nendinit\n" in text
    assert "// init_weight s=0 0.25\n// init_weight s=2 0.75\n" in text


def test_drn_text():
    assert to_drn(_three_state()) == (
        "// semdsl model tiny: continuous-time random walk, 3 states, 3 transitions\n"
        "// generated by semdsl.emit.drn; Storm state i = semdsl node i; values are rates, '!r' is the exit rate\n"
        "@type: CTMC\n"
        "@value_type: double\n"
        "@parameters\n"
        "\n"
        "@reward_models\n"
        "\n"
        "@nr_states\n"
        "3\n"
        "@nr_choices\n"
        "3\n"
        "@model\n"
        "state 0 !5 init start\n"
        "// node: a\n"
        "\taction 0\n"
        "\t\t1 : 2\n"
        "\t\t2 : 3\n"
        "state 1 !1.5 goal\n"
        "// node: b[1]\n"
        "\taction 0\n"
        "\t\t0 : 1.5\n"
        "state 2 !0 goal\n"
        "// node: c%\n"
        "\taction 0\n"
    )
