"""`semdsl check`'s facts: detailed balance (and its Boltzmann form), components,
absorbing nodes, reachability."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sps
import scipy.sparse.linalg as spla

from semdsl.analysis import check_report, detailed_balance, reachable

from conftest import build


def stationary(Q) -> np.ndarray:
    """Independent of semdsl's solvers: replace one balance equation by the normalisation."""
    A = sps.csr_matrix(Q).T.tolil()
    n = A.shape[0]
    A[0, :] = np.ones(n)
    b = np.zeros(n)
    b[0] = 1.0
    return spla.spsolve(A.tocsc(), b)


RANDOM_LANDSCAPE = """
param beta = 2
graph g = erdos_renyi(300, mean_degree = 6) { F ~ normal(0, 1) }
rate {law}
"""


# R_ij / R_ji = exp(-k beta (F_j - F_i)): the symmetric Arrhenius form of the paper puts
# the whole difference in both directions (k = 2); Metropolis, Glauber and the barrier law
# split it (k = 1).  So pi ~ exp(-k beta F).
@pytest.mark.parametrize("law, k", [("arrhenius(1, beta)", 2), ("metropolis(0.5, beta)", 1),
                                    ("glauber(1, beta)", 1), ("barrier(1, beta)", 1)])
def test_detailed_balance_gives_the_boltzmann_form(law, k):
    cm = build(RANDOM_LANDSCAPE.replace("{law}", law), seed=4)
    db = detailed_balance(cm)
    assert db.holds, db.reason
    # restrict to the giant component, where the stationary law is unique
    from scipy.sparse.csgraph import connected_components
    _, lab = connected_components(cm.generator, directed=False)
    giant = np.flatnonzero(lab == np.bincount(lab).argmax())
    Qg = cm.generator[giant][:, giant]
    Qg = Qg - sps.diags(np.asarray(Qg.sum(axis=1)).ravel())
    pi = stationary(Qg)
    F = cm.nodes.attrs["F"][giant]
    boltz = np.exp(-k * 2 * (F - F.min()))
    boltz /= boltz.sum()
    # pi spans ~10 decades here (exp(-4 F), F ~ N(0,1)); LU's backward error ~1e-16 times
    # that range bounds the relative error of the smallest entries: allow 1e-6.
    np.testing.assert_allclose(pi, boltz, rtol=1e-6)
    # and the potential semdsl found is log of that form, up to a constant per component
    assert db.boltzmann_factor == pytest.approx(2 * k)
    phi = db.log_pi[giant]
    np.testing.assert_allclose(phi - phi[0], np.log(boltz) - np.log(boltz[0]), atol=1e-9)


def test_a_driven_cycle_breaks_detailed_balance():
    cm = build("""
node a
node b
node c
edge a -- b { weight = 2 }
edge b -- c
edge c -- a
""")
    assert detailed_balance(cm).holds  # symmetric weights: fine
    cm = build("""
node a
node b
node c
edge a -> b { rate = 2 }
edge b -> a { rate = 1 }
edge b -> c { rate = 1 }
edge c -> b { rate = 1 }
edge c -> a { rate = 1 }
edge a -> c { rate = 1 }
""")
    db = detailed_balance(cm)
    assert not db.holds and "Kolmogorov" in db.reason
    cm = build("node a\nnode b\nedge a -> b\n")
    db = detailed_balance(cm)
    assert not db.holds and "a -> b has no reverse" in db.reason


def test_detailed_balance_on_a_large_lattice_is_array_work():
    cm = build("graph g = lattice(300, 300) { F ~ normal(0, 1) }\nrate arrhenius(1, 2)\n")
    db = detailed_balance(cm)
    assert db.holds
    F = cm.nodes.attrs["F"]
    np.testing.assert_allclose(db.log_pi - db.log_pi[0], -4 * (F - F[0]), atol=1e-8)
    assert db.boltzmann_factor == pytest.approx(4)


def test_report_warns_about_parts_absorbing_nodes_and_unreachable_targets():
    cm = build("""
node a
node b
node c
node d
edge a -> b
edge c -- d
init a
observable hit = first_passage(c)
""")
    rep = check_report(cm)
    assert rep.components == 2 and rep.largest_component == 2
    assert rep.absorbing == ["b"] and rep.absorbing_count == 1
    assert rep.unreachable_from_init == 2
    assert rep.unreachable_targets == ["hit"]
    text = "\n".join(w.render() for w in rep.warnings)
    assert "2 disconnected parts" in text and "absorbing" in text
    assert "cannot be reached from init" in text


def test_reachable_follows_direction():
    A = sps.csr_matrix(([1, 1], ([0, 1], [1, 2])), shape=(4, 4))
    np.testing.assert_array_equal(reachable(A, np.array([1])), [False, True, True, False])


def test_report_names_structural_parameters():
    cm = build("param L = 5\nparam beta = 1\ngraph g = lattice(L, L)\nrate arrhenius(1, beta)\n")
    rep = check_report(cm)
    kinds = {p["name"]: p["structural"] for p in rep.params}
    assert kinds == {"L": True, "beta": False}
    assert rep.nodes == 25 and rep.edges == 40 and rep.transitions == 80
