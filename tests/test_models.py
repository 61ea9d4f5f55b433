"""Every example model: documented, checks without errors, compiles to a generator,
and what its header promises about the landscape holds."""

from __future__ import annotations

import math

import numpy as np
import pytest

import semdsl
from semdsl.analysis import check_report
from semdsl.cli import main
from semdsl.solvers.exact import mean_first_passage

from conftest import ROOT

MODELS = sorted((ROOT / "models").glob("*.sem"))
REQUIRED = {"grokking", "emergence", "trap", "scaling", "random_walk", "percolation"}


def test_the_six_kinds_are_shipped():
    assert REQUIRED <= {p.stem for p in MODELS}


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_model_checks_and_compiles(path, capsys):
    text = path.read_text()
    head = text.split("\n\n")[0]
    assert head.startswith("#") and ("PHYSICS.md" in head or "claim" in head.lower()), \
        "each model starts with a header saying what it models and which claim it speaks to"
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok: no errors" in out
    cm = semdsl.compile(semdsl.load(path), seed=1)
    assert semdsl.is_generator(cm.generator) and semdsl.is_distribution(cm.init)
    assert cm.model.predictions, "an example model makes predictions"


def test_two_state_closed_forms():
    cm = semdsl.compile(semdsl.load(ROOT / "models" / "two_state.sem"))
    q = cm.generator.toarray()
    kp, km = q[0, 1], q[1, 0]
    ids = cm.labels[next(k for k, ob in cm.model.observables.items() if ob.kind == "first_passage")]
    m = mean_first_passage(cm.generator, ids)
    assert m[0] == pytest.approx(1 / kp, rel=1e-12)


def test_gamblers_ruin_closed_form():
    cm = semdsl.compile(semdsl.load(ROOT / "models" / "gamblers_ruin.sem"))
    rep = check_report(cm)
    assert rep.absorbing_count == 2  # both ends, by design


def test_grokking_is_a_percolation_landscape():
    m = semdsl.load(ROOT / "models" / "grokking.sem")
    assert m.params["D"].structural
    low = semdsl.compile(m, {"D": 200}, seed=3)
    high = semdsl.compile(m, {"D": 8000}, seed=3)
    # mean degree c = D/D1 on n + 2 nodes, edges kept with probability c/n
    n = int(high.params["n"])
    for cm in (low, high):
        c = cm.params["D"] / cm.params["D1"]
        pairs = (n + 2) * (n + 1) / 2
        p = min(1, c / n)
        assert abs(cm.edge_src.size - pairs * p) < 5 * math.sqrt(pairs * p * (1 - p))
