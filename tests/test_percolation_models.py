"""Percolation of model files: `with probability` clauses to Newman-Ziff
(semdsl.percolation), `semdsl percolate`, the headline numbers of `run`, and the
censored-walker estimator of simulated mean first-passage times.

Statistical comparisons use 5 standard errors (see test_simulate.py for why); every
seed is fixed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import semdsl
from semdsl import percolation as P
from semdsl.cli import main
from semdsl.compiler import compile_model, resolve_params
from semdsl.simrun import censored_mean
from semdsl.solvers import exact

from conftest import ROOT

ER = """
model er "Erdos-Renyi landscape with two marked nodes"
param n = 40 in 2..10000
param c = 2 in 0..100
node a { F = 1 }
node b { F = 0 }
node h[i in 1..n] { F = 2 }
edge h[i] -- h[j] for i in 1..n, j in 1..n if i < j with probability min(1, c / n)
edge a -- h[i] for i in 1..n with probability min(1, c / n)
edge b -- h[i] for i in 1..n with probability min(1, c / n)
rate uniform(1)
init a
observable linked = connected(a, b)
observable giant = largest_cluster()
predict linked, giant over c in 0.5..4 points 8 using simulation with realizations = 400
"""


def _points(model, var, values):
    base = resolve_params(model)
    return [dict(base, **{var: float(v)}) for v in values]


def test_plan_recognises_bond_site_and_refuses_the_rest():
    grok = semdsl.load(ROOT / "models" / "grokking.sem")
    pl = P.plan(grok, _points(grok, "D", [0, 2000, 8000]), "D")
    assert pl.applies and pl.mode == "bond" and len(pl.statements) == 4
    assert pl.p == pytest.approx([0.0, 0.01, 0.04])
    # D_c from p_c = 1/n in D's units: D = n * D1 * p
    assert P.to_parameter(grok, pl, resolve_params(grok), "D", 1 / 200, 0, 8000) == pytest.approx(1000, rel=1e-9)

    perc = semdsl.load(ROOT / "models" / "percolation.sem")
    assert P.plan(perc, _points(perc, "p", [0.3, 0.6]), "p").mode == "bond"   # q = 1: not thinned
    assert P.plan(perc, _points(perc, "q", [0.3, 0.6]), "q").mode == "site"
    both = P.plan(perc, [dict(resolve_params(perc), p=0.5, q=0.5)])
    assert not both.applies and "both edges and nodes" in both.reason

    emerg = semdsl.load(ROOT / "models" / "emergence.sem")
    pl = P.plan(emerg, _points(emerg, "N", [1e3, 1e6]), "N")
    assert not pl.applies and "changes the landscape itself" in pl.reason

    two = semdsl.loads(ER.replace("edge b -- h[i] for i in 1..n with probability min(1, c / n)",
                                  "edge b -- h[i] for i in 1..n with probability min(1, c / (2 * n))"))
    pl = P.plan(two, _points(two, "c", [1, 2]), "c")
    assert not pl.applies and "differ" in pl.reason
    loopvar = semdsl.loads(ER.replace("if i < j with probability min(1, c / n)",
                                      "if i < j with probability min(1, c / (n + i))"))
    pl = P.plan(loopvar, _points(loopvar, "c", [1, 2]), "c")
    assert not pl.applies and "not a number of the parameters alone" in pl.reason


def test_undiluted_compile_records_probabilities():
    grok = semdsl.load(ROOT / "models" / "grokking.sem")
    cm = compile_model(grok, {"D": 2000}, undiluted=True)
    n = 200
    assert cm.edge_src.size == n * (n - 1) // 2 + 2 * n + 1      # every candidate edge
    assert np.all(cm.edge_prob == 0.01) and np.all(cm.node_prob == 1)
    thinned = compile_model(grok, {"D": 2000})
    assert thinned.edge_prob is None and thinned.edge_src.size < cm.edge_src.size


def test_newman_ziff_matches_monte_carlo_over_thinned_realisations():
    """The Newman-Ziff curves of a model against the old way: compile R thinned
    realisations at each point and measure each graph (independent draws)."""
    model = semdsl.loads(ER)
    cs = np.array([0.5, 1.0, 2.0, 4.0])
    pts = _points(model, "c", cs)
    pl = P.plan(model, pts, "c")
    R = 400
    obs = [model.observables["linked"], model.observables["giant"]]
    nz = P.run_percolation(model, pl, pts[0], obs, R, seed=3)
    for k, c in enumerate(cs):
        link, giant = [], []
        for r in range(R):
            cm = compile_model(model, {"c": c}, seed=7, realization=r)
            a, b = cm.nodes.find("a"), cm.nodes.find("b")
            link.append(exact.connected_sets(cm.edge_src, cm.edge_dst, cm.n, [a], [b]))
            giant.append(exact.largest_cluster_fraction(cm.edge_src, cm.edge_dst, cm.n))
        for name, mc in (("linked", np.array(link, float)), ("giant", np.array(giant))):
            se = np.hypot(mc.std(ddof=1) / np.sqrt(R), nz[name]["stderr"][k])
            assert abs(mc.mean() - nz[name]["value"][k]) <= 5 * se + 1e-12, (name, c)


def test_site_mode_is_a_fraction_of_the_nodes_that_exist():
    perc = semdsl.load(ROOT / "models" / "percolation.sem", L=12)
    qs = np.array([0.5, 0.6, 0.8])
    pts = [dict(resolve_params(perc, {"L": 12}), q=float(q)) for q in qs]
    pl = P.plan(perc, pts, "q")
    R = 300
    nz = P.run_percolation(perc, pl, pts[0], [perc.observables["giant"], perc.observables["span"]], R, seed=5)
    for k, q in enumerate(qs):
        g = []
        for r in range(R):
            cm = compile_model(perc, {"L": 12, "q": q}, seed=11, realization=r)
            g.append(exact.largest_cluster_fraction(cm.edge_src, cm.edge_dst, cm.n))
        g = np.array(g)
        se = np.hypot(g.std(ddof=1) / np.sqrt(R), nz["giant"]["stderr"][k])
        assert abs(g.mean() - nz["giant"]["value"][k]) <= 5 * se


def test_run_uses_newman_ziff_and_reports_the_pseudo_critical_point():
    res = semdsl.run(semdsl.loads(ER, n=100))
    entry = res[0].methods["simulation"]["linked"]
    assert "Newman-Ziff bond percolation" in entry["note"]
    assert len(entry["value"]) == len(entry["stderr"]) == 8
    pc = entry["pseudo_critical"]
    # finite n: the susceptibility peaks a little above the Molloy-Reed c_c = 1
    assert 0.9 < pc["c"] < 1.6 and pc["p"] == pytest.approx(pc["c"] / 100, rel=1e-6)
    assert any(line.startswith("c_c = ") and "susceptibility peak" in line for line in res.headlines())


def test_percolate_command_bond_square_lattice(capsys):
    assert main(["percolate", str(ROOT / "models" / "percolation.sem"), "--over", "p=0.4:0.6:41",
                 "--sizes", "L=32,64,128", "--realizations", "300", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    th = doc["threshold"]
    # crossing of the spanning probabilities; the interval covers the successive
    # crossings with two standard errors each
    assert abs(th["value"] - 0.5) < 0.01 and th["interval"][0] < 0.5 < th["interval"][1]
    assert doc["theory"]["value"] == 0.5
    assert [b["size"] for b in doc["curves"]] == [32, 64, 128]
    for b in doc["curves"]:
        assert len(b["span"]["value"]) == 41 and b["mode"] == "bond"
        assert abs(b["pseudo_critical"]["p"] - 0.5) < 0.05


def test_percolate_command_grokking_threshold_in_data_units(capsys):
    """Mean-field crossing of S1 N^(-2/3) across n: D_c near Molloy-Reed's n D1 p_c = 1000
    (finite-size corrections of a few % at these n)."""
    assert main(["percolate", str(ROOT / "models" / "grokking.sem"), "--over", "D=500:2000:31",
                 "--sizes", "n=100,200,400", "--realizations", "200"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("threshold"))
    dc = float(line.split("D_c = ")[1].split()[0])
    assert 900 < dc < 1100
    assert "theory (Molloy-Reed): D_c = " in out


@pytest.mark.parametrize("args, message", [
    (["--over", "N=1e3:1e7:log:5"], "changes the landscape itself"),
    (["--over", "p=0.4"], "cannot read '--over p=0.4'"),
    (["--over", "x=0:1"], "'x' is not a parameter"),
    (["--over", "p=0.4:0.6", "--sizes", "L=a,b"], "cannot read '--sizes L=a,b'"),
    (["--over", "p=0:2"], "outside its range"),
])
def test_percolate_command_errors(args, message, capsys):
    model = "emergence.sem" if args[1].startswith("N=") else "percolation.sem"
    assert main(["percolate", str(ROOT / "models" / model)] + args) == 1
    err = capsys.readouterr().err
    assert message in err and "hint:" in err and "Traceback" not in err


def test_emergence_headline_brackets_n_c():
    res = semdsl.run(ROOT / "models" / "emergence.sem", methods=["exact"])
    heads = res.headlines()
    # N_c = N0 2^(K+1) = 512000 lies between the axis points that bracket the jump
    brackets = [l for l in heads if l.startswith("N_c in (")]
    assert len(brackets) == 2
    for l in brackets:
        lo, hi = (float(x) for x in l.split("(")[1].split("]")[0].split(","))
        assert lo < 512000 <= hi and hi / lo < 1.002 and "(bisection)" in l   # refined from (501187, 630957]


def test_censored_mean_recovers_an_exponential_tail():
    """Exp(1) censored at t_max = 2 (13.5% out): the tail estimator is unbiased (its z
    over 200 samples is standard normal); a distribution whose hazard is still changing
    (a sum of two exponentials, censored early) is refused."""
    rng = np.random.default_rng(4)
    z = []
    for _ in range(200):
        t = rng.exponential(1.0, 4000)
        t[t > 2.0] = np.inf
        m, s, why = censored_mean(t, 2.0)
        assert m is not None, why
        z.append((m - 1.0) / s)
    z = np.array(z)
    assert abs(z.mean()) < 5 / np.sqrt(z.size) and 0.8 < z.std() < 1.2
    t = rng.exponential(1.0, 20000) + rng.exponential(1.0, 20000)   # hazard t/(1+t) still grows
    t[t > 2.0] = np.inf
    m, s, why = censored_mean(t, 2.0)
    assert m is None and "still changing" in why


TREE = """
model tr "bond percolation of a ternary tree"
param p = 0.5 in 0..1
graph g = tree(3, 5) with probability p
rate uniform(1)
init uniform
observable link = connected(g[1], g[300])
observable big = largest_cluster()
predict link, big over p in 0.35..0.95 points 7 using theory, simulation with realizations = 2000
"""


def test_tree_theory_is_exact_and_matches_newman_ziff():
    """One path between two nodes of a tree: P(connected) = p^d exactly (node 300 is at
    depth 5 below the root g[1]); the Bethe-lattice threshold 1/(z - 1) = 1/3."""
    res = semdsl.run(semdsl.loads(TREE))
    p = np.array(res[0].axis["values"])
    th = res[0].methods["theory"]["link"]
    assert th["law"]["distance"] == 5
    np.testing.assert_allclose(th["value"], p ** 5, rtol=1e-12)
    assert th["law"]["p_c"] == pytest.approx(1 / 3, rel=1e-12)   # the axis starts above it
    sim = res[0].methods["simulation"]["link"]
    z = (np.array(sim["value"]) - p ** 5) / np.array(sim["stderr"])
    assert np.all(np.abs(z) < 5)
    assert res[0].methods["theory"]["big"]["value"] is None or all(
        v is None for v in res[0].methods["theory"]["big"]["value"])
