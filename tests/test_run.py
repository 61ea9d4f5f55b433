"""`semdsl run` / `semdsl.run` and `semdsl solve`: numbers against closed forms, the JSON
shape of LANGUAGE.md section 4, disorder averaging, sweeps."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import semdsl
from semdsl.cli import main
from semdsl.runner import rate_only_parameters

from conftest import ROOT

TWO = ROOT / "models" / "two_state.sem"


def test_two_state_run_matches_closed_forms():
    res = semdsl.run(TWO, methods=["exact"])
    kp, km = 1.0, 2.0
    p = res[0]
    t = np.array(p.axis["values"])
    expect = kp / (kp + km) * (1 - np.exp(-(kp + km) * t))
    np.testing.assert_allclose(p.methods["exact"]["pB"]["value"], expect, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(p.methods["exact"]["energy"]["value"], expect, rtol=1e-8, atol=1e-12)
    # first passage over t is the distribution function P(T <= t) = 1 - exp(-k+ t)
    p = res[1]
    t = np.array(p.axis["values"])
    np.testing.assert_allclose(p.methods["exact"]["t_AB"]["value"], 1 - np.exp(-kp * t), rtol=1e-8, atol=1e-12)
    # without an axis: the mean, 1/k+
    assert res[2].methods["exact"]["t_AB"]["value"] == [pytest.approx(1 / kp, rel=1e-12)]
    assert res[3].methods["exact"]["pB"]["value"] == [pytest.approx(kp / (kp + km), rel=1e-12)]
    sweep = res[4]
    k = np.array(sweep.axis["values"])
    np.testing.assert_allclose(sweep.methods["exact"]["pB"]["value"], k / (k + km), rtol=1e-10)


def test_parameters_bind_by_keyword_and_load():
    a = semdsl.run(TWO, k_plus=3, methods=["exact"])
    b = semdsl.run(semdsl.load(TWO, k_plus=3), methods=["exact"])
    assert a.params["k_plus"] == 3 == b.params["k_plus"]
    assert a[2].methods["exact"]["t_AB"]["value"] == [pytest.approx(1 / 3)]
    assert a.to_dict()["predictions"] == b.to_dict()["predictions"]


def test_json_shape_is_the_contract():
    doc = json.loads(semdsl.run(TWO, methods=["exact"]).to_json())
    assert {"model", "seed", "params", "predictions", "model_hash", "semdsl_version"} <= set(doc)
    first = doc["predictions"][0]
    assert first["observables"] == ["pB", "energy"]
    assert first["axis"]["name"] == "t" and len(first["axis"]["values"]) == 31
    assert isinstance(first["exact"]["pB"]["value"], list)
    no_axis = doc["predictions"][2]
    assert no_axis["axis"] is None and len(no_axis["exact"]["t_AB"]["value"]) == 1


UNREACHABLE = """
model maze
param p = 0.5
node start
node goal
node h[i in 1..6]
edge start -- h[1]
edge h[i] -- h[i+1] for i in 1..5 with probability p
edge h[6] -- goal
init start
observable t_hit = first_passage(goal)
predict t_hit using exact with realizations = 40
"""


def test_unreachable_target_is_null_with_finite_fraction():
    res = semdsl.run(semdsl.loads(UNREACHABLE), methods=["exact"], seed=3)
    entry = res[0].methods["exact"]["t_hit"]
    ff = entry["finite_fraction"][0]
    # the chain is connected with probability p^5 = 1/32: binomial(40, 1/32) realisations
    assert 0 <= ff <= 1 and ff == pytest.approx(round(ff * 40) / 40)
    assert (entry["value"][0] is None) == (ff == 0)
    if entry["value"][0] is not None:
        assert entry["value"][0] > 0
    blocked = semdsl.run(semdsl.loads(UNREACHABLE), {"p": 0}, methods=["exact"])
    e = blocked[0].methods["exact"]["t_hit"]
    assert e["value"] == [None] and e["finite_fraction"] == [0.0]


def test_disorder_average_reports_spread_and_stderr():
    src = """
model glass
graph g = lattice(6, 6) { F ~ normal(0, 1) }
rate arrhenius(1, 2)
init g[1, 1]
observable t_hit = first_passage(g[6, 6])
predict t_hit using exact with realizations = 8
"""
    res = semdsl.run(semdsl.loads(src), methods=["exact"], seed=5)
    e = res[0].methods["exact"]["t_hit"]
    assert e["realizations"] == 8 and e["spread"][0] > 0
    assert e["stderr"][0] == pytest.approx(e["spread"][0] / math.sqrt(8))
    # the same seed gives the same numbers
    again = semdsl.run(semdsl.loads(src), methods=["exact"], seed=5)
    assert again[0].methods["exact"]["t_hit"] == e


def test_sweep_over_a_rate_law_parameter_keeps_the_graph():
    src = """
model sweep
param beta = 1 in 0..10
graph g = lattice(8, 8) { F ~ normal(0, 1) }
rate metropolis(1, beta)
init g[1, 1]
observable low = prob(where(F < 0))
predict low stationary over beta in 0.5..4 points 5 using exact
""".replace(" stationary", "")
    m = semdsl.loads(src)
    assert rate_only_parameters(m) == {"beta"}
    res = semdsl.run(m, methods=["exact"])
    got = res[0].methods["exact"]["low"]["value"]
    # stationary of metropolis is Boltzmann exp(-beta F): recompute from a full compile
    for beta, v in zip(res[0].axis["values"], got):
        cm = semdsl.compile(m, {"beta": beta})
        F = cm.nodes.attrs["F"]
        w = np.exp(-beta * (F - F.min()))
        assert v == pytest.approx(w[F < 0].sum() / w.sum(), rel=1e-9)


def test_cli_run_table_json_and_output(tmp_path, capsys):
    assert main(["run", str(TWO), "--method", "exact"]) == 0
    out = capsys.readouterr().out
    assert "pB [exact]" in out and "line 43" in out
    assert main(["run", str(TWO), "--method", "exact", "--json", "-o", str(tmp_path / "r")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "two_state"
    files = sorted(p.name for p in (tmp_path / "r").iterdir())
    assert "results.json" in files and sum(f.endswith(".csv") for f in files) == 5


def test_cli_solve(capsys):
    assert main(["solve", str(TWO), "--stationary", "--mfpt", "B", "--spectrum", "1", "--kemeny"]) == 0
    out = capsys.readouterr().out
    assert "0.6666666667" in out and "mean first passage to B: 1" in out
    assert "timescale 0.3333333333" in out
    assert "Kemeny constant: 0.3333333333" in out


def test_cli_solve_symbolic(capsys):
    assert main(["solve", str(TWO), "--symbolic", "--latex"]) == 0
    out = capsys.readouterr().out
    assert "pi[B] = k_plus/(k_minus + k_plus)" in out
    assert "mean first passage to B from init: 1/k_plus" in out
    assert r"\frac{k_{plus}}{k_{minus} + k_{plus}}" in out


def test_solve_set_errors_point_into_the_text(capsys):
    assert main(["solve", str(TWO), "--mfpt", "Bb"]) == 1
    err = capsys.readouterr().err
    assert "unknown node 'Bb' (did you mean 'B'?)" in err and "^^" in err


def test_symbolic_gamblers_ruin_is_refused_politely(capsys):
    assert main(["solve", str(ROOT / "models" / "gamblers_ruin.sem"), "--symbolic"]) == 1
    assert "up to 12 nodes" in capsys.readouterr().err


def test_symbolic_mfpt_on_a_driven_ring_matches_numbers():
    """8 nodes, rates a clockwise and b anticlockwise: closed form vs the sparse solve."""
    import sympy as sp
    from semdsl.solvers.symbolic import solve_symbolic
    m = semdsl.load(ROOT / "tests" / "data" / "ring8.sem")
    cm = m.compile()
    res = solve_symbolic(cm, {"r[5]": cm.sets["r[5]"]})
    a, b = res.symbols["a"], res.symbols["b"]
    T = res.mfpt["r[5]"]
    assert sp.simplify(T.subs(b, a) - 8 / a) == 0  # symmetric: d(n-d) steps at rate 2a
    for av, bv in ((1.0, 2.0), (0.3, 5.0)):
        num = semdsl.compile(m, {"a": av, "b": bv}).first_passage("r[5]").mean
        assert float(T.subs({a: av, b: bv})) == pytest.approx(num, rel=1e-10)
    assert all(sp.simplify(p - sp.Rational(1, 8)) == 0 for p in res.stationary)


def test_sweep_of_a_non_structural_parameter_keeps_the_landscape(monkeypatch):
    """Sweeping `a` (read by node attributes) builds families and edges once per
    realisation; only attributes and rates are evaluated at each point."""
    from semdsl import compiler
    src = """
model keep
param a = 1 in 0..10
param p = 0.3
node h[i in 1..30] { F = a * sin(i) }
edge h[i] -- h[j] for i in 1..30, j in 1..30 if i < j with probability p
rate metropolis(1, 1)
init h[1]
observable low = mean(F)
predict low over a in 0.5..2 points 4 using exact with realizations = 2
"""
    calls = {"family": 0, "edges": 0}
    real_family, real_edges = compiler._Compiler.build_family, compiler._Compiler.edge_structure

    def family(self, *args):
        calls["family"] += 1
        return real_family(self, *args)

    def edges(self, *args):
        calls["edges"] += 1
        return real_edges(self, *args)
    monkeypatch.setattr(compiler._Compiler, "build_family", family)
    monkeypatch.setattr(compiler._Compiler, "edge_structure", edges)
    m = semdsl.loads(src)
    assert not m.params["a"].structural and m.params["p"].structural
    res = semdsl.run(m, methods=["exact"], seed=4)
    assert calls == {"family": 2, "edges": 2}   # one per realisation, not per point
    monkeypatch.undo()
    # and the numbers equal those of independent full compiles
    got = np.array(res[0].methods["exact"]["low"]["value"])
    want = []
    for a in res[0].axis["values"]:
        vals = []
        for r in range(2):
            cm = semdsl.compile(m, {"a": a}, seed=4, realization=r)
            vals.append(float(cm.stationary().pi @ cm.nodes.attrs["F"]))
        want.append(np.mean(vals))
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_run_honours_limits(capsys):
    assert main(["run", str(TWO), "--max-states", "1"]) == 1
    assert "above the limit of 1" in capsys.readouterr().err
