"""`semdsl verify`: simulation against exact and theory, for every example model; and a
deliberately wrong simulation must be caught."""

from __future__ import annotations

import numpy as np
import pytest

import semdsl
from semdsl import simrun
from semdsl.cli import main

from conftest import ROOT

MODELS = sorted((ROOT / "models").glob("*.sem"))


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_every_model_verifies(path, capsys):
    # modest walker and realisation counts keep the suite quick; the bound accounts for
    # every compared point (Bonferroni, family-wise false-alarm rate 1e-3)
    assert main(["verify", str(path), "--walkers", "1000", "--realizations", "3"]) == 0
    assert "verify: all agree" in capsys.readouterr().out


def test_a_wrong_rate_in_the_simulation_is_caught(monkeypatch, capsys):
    real = simrun.simulate_prediction

    def perturbed(runner, pred, axis_vals, R, seed, opt, *rest):
        import semdsl.solvers.simulate as S
        true_simulate = S.simulate

        def wrong(Q, *args, **kwargs):
            Q = Q.tocsr(copy=True)
            Q = Q.tolil()
            Q[0, 1] *= 1.3                     # A -> B 30% faster, in the simulation only
            Q[0, 0] = -(Q[0, 1])
            return true_simulate(Q.tocsr(), *args, **kwargs)
        monkeypatch.setattr(S, "simulate", wrong)
        try:
            return real(runner, pred, axis_vals, R, seed, opt, *rest)
        finally:
            monkeypatch.setattr(S, "simulate", true_simulate)
    monkeypatch.setattr(simrun, "simulate_prediction", perturbed)
    assert main(["verify", str(ROOT / "models" / "two_state.sem"), "--walkers", "20000"]) == 1
    assert "DISAGREE" in capsys.readouterr().out


def test_run_fills_simulation_and_agreement():
    res = semdsl.run(ROOT / "models" / "two_state.sem", walkers=4000)
    p = res[0]
    sim = p.methods["simulation"]["pB"]
    assert len(sim["value"]) == len(sim["stderr"]) == 31
    ag = p.agreement["pB"]
    assert ag["ok"] and ag["max_abs_z"] <= ag["z_crit"]
    fp = res[1].agreement["t_AB"]
    assert fp["ks"]["samples"] == 4000 and fp["ks"]["p_value"] > 1e-3
