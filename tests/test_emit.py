"""Emitters read back by independent readers: scipy (npz), csv, json, networkx (GraphML)."""

from __future__ import annotations

import csv
import io
import json

import networkx as nx
import numpy as np
import scipy.sparse as sps

from semdsl.cli import main
from semdsl.emit import formats

from conftest import build

SMALL = """
model small "a chain with a trap"
param beta = 2
param R0 = 1
node h[i in 1..5] { F = 1 / i; F_test = i }
node trap { F = -1 }
edge h[i] -- h[i+1] for i in 1..4
edge h[5] -- trap { weight = 2 }
rate arrhenius(R0, beta)
init h[1]
observable caught = prob(trap)
"""


def test_matrix_round_trip(tmp_path):
    cm = build(SMALL)
    paths = formats.write_matrix(cm, tmp_path / "m.npz")
    Q = sps.load_npz(paths[0])
    assert (abs(Q - cm.generator)).max() == 0
    rows = list(csv.DictReader(io.StringIO(paths[1].read_text())))
    assert [r["name"] for r in rows] == ["h[1]", "h[2]", "h[3]", "h[4]", "h[5]", "trap"]
    assert float(rows[2]["F"]) == 1 / 3 and float(rows[0]["init"]) == 1.0


def test_json_round_trip():
    cm = build(SMALL)
    doc = json.loads(formats.emit_json(cm))
    assert doc["model"] == "small" and doc["seed"] == 1 and doc["params"] == {"beta": 2, "R0": 1}
    assert doc["model_hash"] == cm.model.hash and doc["semdsl_version"]
    t = doc["transitions"]
    Q = sps.csr_matrix((t["rate"], (t["src"], t["dst"])), shape=(cm.n, cm.n))
    off = cm.generator - sps.diags(cm.generator.diagonal())
    assert abs(Q - off).max() == 0
    assert doc["sets"]["caught"] == [5]


def test_graphml_read_by_networkx(tmp_path):
    cm = build(SMALL)
    p = tmp_path / "m.graphml"
    p.write_text(formats.emit_graphml(cm))
    g = nx.read_graphml(p)
    assert g.number_of_nodes() == cm.n and g.number_of_edges() == cm.n_transitions
    A = nx.to_scipy_sparse_array(g, nodelist=[f"n{i}" for i in range(cm.n)], weight="rate")
    off = cm.generator - sps.diags(cm.generator.diagonal())
    np.testing.assert_allclose(A.toarray(), off.toarray(), rtol=1e-15)
    assert g.nodes["n5"]["name"] == "trap" and g.nodes["n5"]["F"] == -1.0


def test_dot_lists_every_transition():
    cm = build(SMALL)
    text = formats.emit_dot(cm)
    assert text.startswith('digraph "small"') and text.count(" -> ") == cm.n_transitions


def test_master_small_is_per_node_and_symbolic():
    text = formats.emit_master(build(SMALL))
    assert "# symbolic parameters: beta, R0" in text
    assert "dP[trap]/dt = " in text and "2*R0*P[h[5]]" in text


def test_master_large_is_family_level():
    text = formats.emit_master(build("graph g = lattice(40, 40)\nrate metropolis(1, 2)\n"))
    assert "per-node equations are omitted" in text
    assert "graph g = lattice(40, 40): 1,600 nodes" in text
    assert "min(1, exp(-2 * (F_j - F_i)))" in text


def test_latex():
    tex = formats.emit_latex(build(SMALL))
    assert tex.count(r"\begin{align}") == 1 and r"\frac{d}{d t} P_{trap}" in tex


def test_cli_compile_writes_each_format(tmp_path, capsys):
    model = tmp_path / "small.sem"
    model.write_text(SMALL)
    for fmt in ("master", "latex", "prism", "drn", "json", "graphml", "dot"):
        out = tmp_path / f"out.{fmt}"
        assert main(["compile", str(model), "--emit", fmt, "-o", str(out), "--set", "beta=1"]) == 0
        assert out.stat().st_size > 0
    assert main(["compile", str(model), "--emit", "matrix", "-o", str(tmp_path / "q.npz")]) == 0
    assert (tmp_path / "q.nodes.csv").exists()
    assert main(["compile", str(model), "--emit", "master", "--numeric"]) == 0
    out = capsys.readouterr().out
    assert "symbolic parameters: none" in out


def test_cli_check_json(tmp_path, capsys):
    model = tmp_path / "small.sem"
    model.write_text(SMALL)
    assert main(["check", str(model), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["nodes"] == 6 and rep["detailed_balance"] is True
    assert "exp(-4 F)" in rep["detailed_balance_reason"]


def test_cli_help_reads_well(capsys):
    import pytest
    with pytest.raises(SystemExit) as ei:
        main(["--help"])
    assert ei.value.code == 0
    out = capsys.readouterr().out
    for word in ("check", "compile", "examples:", "exit status"):
        assert word in out
