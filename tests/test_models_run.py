"""Every example model runs its exact and theory predictions (LANGUAGE.md section 4 shape).

The models' default sizes are small enough for the suite (each runs in seconds); the
numbers are checked where the model's header promises a closed form or a known law.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import semdsl

from conftest import ROOT

MODELS = sorted((ROOT / "models").glob("*.sem"))


@pytest.fixture(scope="module")
def results():
    cache = {}

    def get(stem):
        if stem not in cache:
            cache[stem] = semdsl.run(ROOT / "models" / f"{stem}.sem", methods=["exact", "theory"])
        return cache[stem]
    return get


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_exact_and_theory_run(path, results):
    res = results(path.stem)
    doc = json.loads(res.to_json())
    assert len(doc["predictions"]) == len(semdsl.load(path).predictions)
    for pred in doc["predictions"]:
        npts = len(pred["axis"]["values"]) if pred["axis"] else 1
        for method in ("exact", "theory"):
            for obs, entry in pred.get(method, {}).items():
                assert isinstance(entry["value"], list) and len(entry["value"]) == npts
                if method == "theory":
                    assert entry["note"], "theory always says which result it used, or that none applies"
                if entry.get("fit"):
                    assert entry["fit"]["kind"] in ("powerlaw", "threshold")


def test_random_walk_msd_exponent_is_one(results):
    fit = results("random_walk")[0].methods["exact"]["spread"]["fit"]
    assert fit["exponent"] == pytest.approx(1.0, abs=1e-3)
    theory = results("random_walk")[0].methods["theory"]["spread"]["value"]
    exact = results("random_walk")[0].methods["exact"]["spread"]["value"]
    t = np.array(results("random_walk")[0].axis["values"])
    # <r^2> = 4 t on the infinite lattice: exact while the 101x101 box is not felt (t <= 10:
    # reflections are ~exp(-50^2/(4*2t)) away), within theory's stated 1% up to t = 100
    early = t <= 10
    np.testing.assert_allclose(np.array(exact)[early], np.array(theory)[early], rtol=1e-9)
    np.testing.assert_allclose(exact, theory, rtol=1e-2)


def test_trap_typical_and_mean_laws(results):
    p = results("trap")[0]
    mu = 0.5
    typ = p.methods["exact"]["typical"]["fit"]
    mean = p.methods["exact"]["ensemble"]["fit"]
    # the median follows t^-mu, the mean is visibly flatter (mu - 1/ln t over the window)
    assert abs(-typ["exponent"] - mu) < 0.06
    assert -mean["exponent"] < -typ["exponent"] - 0.05
    assert p.methods["theory"]["typical"]["law"]["mu"] == pytest.approx(mu)


def test_grokking_threshold_from_percolation_theory(results):
    linked = results("grokking")[2].methods["theory"]["linked"]
    thr = linked["law"]["threshold"]
    assert thr["param"] == "D" and thr["value"] == pytest.approx(1000 * 202 / 203, rel=0.02)
