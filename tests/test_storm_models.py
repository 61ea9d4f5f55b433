"""Compiled `.sem` models exported to PRISM and DRN and checked by Storm.

For every model: Storm's expected hitting time of every label (from every state it
built) and, for irreducible chains, its steady state must agree with the same
quantities computed from semdsl's own generator to a relative 1e-6 (Storm runs with
Eigen's sparse LU, see storm_oracle.py; both sides are direct solves, so agreement is
~1e-12 and 1e-6 leaves room for conditioning).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

import semdsl
from semdsl.emit.drn import to_drn
from semdsl.emit.prism import to_prism
from semdsl.solvers.exact import mean_first_passage, stationary_distribution
from storm_oracle import storm_expected_time, storm_steady_state

from conftest import ROOT, build

RTOL = 1e-6

INLINE = {
    "two_state": """
model two_state
param kp = 0.7
param km = 2.3
node A
node B
edge A -> B { rate = kp }
edge B -> A { rate = km }
init A
observable tB = first_passage(B)
observable pA = prob(A)
""",
    "chain_with_families": """
model chain
param beta = 1.5
node h[i in 1..30] { F = 0.5 * sin(i) + i / 30 }
node goal { F = -0.5 }
edge h[i] -- h[i+1] for i in 1..29
edge h[i] -- h[i+3] for i in 1..27 { weight = 2 }
edge h[30] -- goal
rate metropolis(1, beta)
init h[1]
observable t_goal = first_passage(goal)
observable upper = prob(h[20..30])
""".replace("h[20..30]", "where(F > 0.5)"),
    "random_landscape": """
model landscape
param beta = 2
graph g = random_regular(300, 4) { F ~ normal(0, 1) }
node goal { F = -1.5 }
edge g[1] -- goal
edge g[150] -- goal
rate arrhenius(1, beta)
init g[300]
observable hit = first_passage(goal)
observable low = prob(where(F < -0.5))
""",
    "directed_landscape": """
model driven
param beta = 1
graph g = lattice(12, 12, periodic = true) { F ~ uniform(0, 1) }
edge g[i, 1] -> g[i, 12] for i in 1..12 { rate = 3 }
rate glauber(2, beta)
init g[1, 1]
observable corner = first_passage(g[12, 12])
observable row = prob(g[6, *])
""",
}


def _models():
    cases = [pytest.param(text, id=name) for name, text in INLINE.items()]
    for path in sorted((ROOT / "models").glob("*.sem")):
        cases.append(pytest.param(path, id=path.stem))
    return cases


def _compile(src):
    if isinstance(src, Path):
        return semdsl.compile(semdsl.load(src), seed=2)
    return build(src, seed=2)


@pytest.mark.parametrize("src", _models())
def test_storm_agrees_with_semdsl(tmp_path, src):
    cm = _compile(src)
    # every model also gets a label of its own: the lowest-F node (a deep minimum)
    labels = dict(cm.labels)
    labels["lowest_F"] = np.array([int(np.argmin(cm.nodes.attrs["F"]))])
    cm = dataclasses.replace(cm, labels=labels)
    Q = cm.generator
    ncomp, _ = connected_components(Q, directed=True, connection="strong")
    formats = [("drn", to_drn(cm))]
    if cm.n <= 2000:  # Storm builds PRISM programs slowly (superlinear in commands); DRN for large ones
        formats.append(("prism", to_prism(cm)))
    checked = 0
    for kind, text in formats:
        path = tmp_path / f"m.{kind}"
        path.write_text(text)
        for label, ids in cm.labels.items():
            if ids.size == 0:
                continue
            ours = mean_first_passage(Q, ids)
            storm = storm_expected_time(path, kind, label)
            built = ~np.isnan(storm)
            assert built[np.flatnonzero(cm.init)].all()
            np.testing.assert_array_equal(np.isinf(storm[built]), np.isinf(ours[built]))
            fin = built & np.isfinite(ours)
            np.testing.assert_allclose(storm[fin], ours[fin], rtol=RTOL, atol=0)
            checked += 1
        if ncomp == 1:
            pi = stationary_distribution(Q)
            storm_pi = storm_steady_state(path, kind)
            built = ~np.isnan(storm_pi)
            np.testing.assert_allclose(storm_pi[built], pi[built], rtol=RTOL, atol=1e-300)
            checked += 1
    assert checked > 0


def test_random_landscape_is_a_real_test():
    """The few-hundred-node landscape is irreducible, so the steady state is compared too."""
    cm = build(INLINE["random_landscape"], seed=2)
    assert cm.n == 301
    ncomp, _ = connected_components(cm.generator, directed=True, connection="strong")
    assert ncomp == 1
