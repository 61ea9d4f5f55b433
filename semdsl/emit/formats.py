"""Emitters for ``semdsl compile --emit``: master, latex, matrix, json, graphml, dot.

PRISM and DRN (Storm's explicit format) live in :mod:`semdsl.emit.prism` and
:mod:`semdsl.emit.drn`.  Text formats are built from whole arrays (``np.char`` and
one ``join``), so a 10^6-node model exports in seconds.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp_sparse
import sympy as sp

from .. import __version__

if TYPE_CHECKING:  # pragma: no cover
    from ..compiler import CompiledModel

PER_NODE_LIMIT = 400


def provenance(cm: "CompiledModel") -> dict[str, Any]:
    """What identifies a compiled model: name, source hash, parameters, seed, version."""
    return {"model": cm.model.name, "file": cm.model.file, "model_hash": cm.model.hash,
            "params": {k: _jnum(v) for k, v in cm.params.items()}, "seed": cm.seed,
            "realization": cm.realization, "semdsl_version": __version__}


def _jnum(v: float):
    v = float(v)
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


# ------------------------------------------------------------------ master, latex
def emit_master(cm: "CompiledModel", symbolic=True) -> str:
    """The master equation, readably: per node for small models, family form otherwise."""
    me = cm.master_equation(symbolic=symbolic, max_nodes=PER_NODE_LIMIT)
    out = [f"# master equation of model '{cm.model.name}' "
           f"({cm.n:,} nodes, {cm.n_transitions:,} transitions)"]
    syms = ", ".join(me.symbols) or "none"
    fixed = ", ".join(f"{k} = {_jnum(v)}" for k, v in cm.params.items() if k not in me.symbols)
    out.append(f"# symbolic parameters: {syms}" + (f"; numbers: {fixed}" if fixed else ""))
    out.append(f"# seed {cm.seed}; model hash {cm.model.hash}")
    out.append("")
    out.append("dP_i/dt = sum_j ( R(j -> i) P_j - R(i -> j) P_i )")
    out.append(me.law_text)
    own = cm.edge_attrs.get("rate")
    if own is not None and (~np.isnan(own)).any():
        k = int((~np.isnan(own)).sum())
        out.append(f"({k:,} edge{'s' if k > 1 else ''} give their own rate, times their weight)")
    out.append("")
    if me.per_node:
        for name, eq in zip(me.node_names, me.equations):
            out.append(f"dP[{name}]/dt = {_plain(eq.rhs, me)}")
    else:
        out.append("per-node equations are omitted above "
                   f"{PER_NODE_LIMIT} nodes; the landscape is:")
        out += ["  " + line for line in me.summary]
    return "\n".join(out) + "\n"


def _plain(expr: sp.Expr, me) -> str:
    s = sp.sstr(expr)
    for P, name in zip(me.probabilities, me.node_names):
        s = s.replace(sp.sstr(P), f"P[{name}]")
    return s


def emit_latex(cm: "CompiledModel", symbolic=True) -> str:
    me = cm.master_equation(symbolic=symbolic, max_nodes=PER_NODE_LIMIT)
    lines = [r"% master equation of model " + cm.model.name.replace("_", r"\_"),
             r"\begin{align}",
             r"\frac{dP_i}{dt} &= \sum_j \left( R_{ji} P_j - R_{ij} P_i \right), \qquad "
             r"R_{ij} = " + sp.latex(me.law) + r" \\"]
    if me.per_node:
        body = [sp.latex(eq.lhs) + " &= " + sp.latex(eq.rhs) for eq in me.equations]
        lines.append(" \\\\\n".join(body))
    lines.append(r"\end{align}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ matrix
def write_matrix(cm: "CompiledModel", path: str | Path) -> list[Path]:
    """Write the generator as ``.npz`` (scipy.sparse format) and the node table as CSV.

    Returns the written paths: ``OUT.npz`` and ``OUT.nodes.csv``.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    sp_sparse.save_npz(path, cm.generator.tocsr(), compressed=True)
    table = path.with_suffix(".nodes.csv")
    table.write_text(node_table_csv(cm))
    return [path, table]


def node_table_csv(cm: "CompiledModel") -> str:
    nodes = cm.nodes
    attrs = sorted(nodes.attrs)
    k = nodes.index.shape[1]
    header = ["id", "name", "family"] + [f"i{j + 1}" for j in range(k)] + attrs + ["init"]
    fams = np.array([f.name for f in nodes.families], dtype=object)[nodes.family]
    cols = [np.arange(nodes.n).astype(str), np.char.add(np.char.add('"', nodes.names().astype(str)), '"'),
            fams.astype(str)]
    cols += [nodes.index[:, j].astype(str) for j in range(k)]
    cols += [_fmt_floats(nodes.attrs[a]) for a in attrs]
    cols += [_fmt_floats(cm.init)]
    return ",".join(header) + "\n" + _join_rows(cols, ",")


def _fmt_floats(a: np.ndarray) -> np.ndarray:
    return np.char.mod("%.17g", np.asarray(a, dtype=float))


def _join_rows(cols: list[np.ndarray], sep: str) -> str:
    if not cols or cols[0].size == 0:
        return ""
    row = cols[0].astype(object)
    for c in cols[1:]:
        row = row + sep + c.astype(object)
    return "\n".join(row.tolist()) + "\n"


# ------------------------------------------------------------------ json
def emit_json(cm: "CompiledModel") -> str:
    """The compiled model as one JSON object: provenance, nodes, transitions, sets."""
    nodes = cm.nodes
    Q = cm.generator.tocoo()
    off = Q.row != Q.col
    doc = provenance(cm)
    doc.update({
        "n_nodes": cm.n, "n_transitions": int(off.sum()),
        "nodes": {"name": nodes.names().tolist(),
                  "family": [f.name for f in nodes.families],
                  "family_of": nodes.family.tolist(),
                  "attrs": {k: v.tolist() for k, v in sorted(nodes.attrs.items())}},
        "transitions": {"src": Q.row[off].tolist(), "dst": Q.col[off].tolist(),
                        "rate": Q.data[off].tolist()},
        "init": {"ids": np.flatnonzero(cm.init).tolist(), "p": cm.init[cm.init > 0].tolist()},
        "sets": {k: v.tolist() for k, v in cm.labels.items()},
    })
    return json.dumps(doc, allow_nan=False)


# ------------------------------------------------------------------ graphml, dot
def _xml_escape(a: np.ndarray) -> np.ndarray:
    a = np.char.replace(a.astype(str), "&", "&amp;")
    a = np.char.replace(a, "<", "&lt;")
    a = np.char.replace(a, ">", "&gt;")
    return np.char.replace(a, '"', "&quot;")


def emit_graphml(cm: "CompiledModel") -> str:
    """GraphML (directed): nodes with their attributes, one edge per transition with its rate."""
    nodes = cm.nodes
    attrs = sorted(nodes.attrs)
    buf = io.StringIO()
    buf.write('<?xml version="1.0" encoding="UTF-8"?>\n'
              '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n')
    buf.write('  <key id="name" for="node" attr.name="name" attr.type="string"/>\n')
    for k, a in enumerate(attrs):
        buf.write(f'  <key id="a{k}" for="node" attr.name="{a}" attr.type="double"/>\n')
    buf.write('  <key id="rate" for="edge" attr.name="rate" attr.type="double"/>\n')
    buf.write(f'  <graph id="{cm.model.name}" edgedefault="directed">\n')
    ids = np.arange(nodes.n).astype(str)
    cols = [np.char.add(np.char.add('    <node id="n', ids), '"><data key="name">'),
            _xml_escape(nodes.names()), np.full(nodes.n, "</data>")]
    for k, a in enumerate(attrs):
        cols.append(np.char.add(np.char.add(f'<data key="a{k}">', _fmt_floats(nodes.attrs[a])), "</data>"))
    cols.append(np.full(nodes.n, "</node>"))
    buf.write(_join_rows(cols, ""))
    Q = cm.generator.tocoo()
    off = Q.row != Q.col
    r, c, v = Q.row[off], Q.col[off], Q.data[off]
    ecols = [np.char.add('    <edge source="n', r.astype(str)), np.char.add('" target="n', c.astype(str)),
             np.char.add('"><data key="rate">', _fmt_floats(v)), np.full(r.size, "</data></edge>")]
    buf.write(_join_rows(ecols, ""))
    buf.write("  </graph>\n</graphml>\n")
    return buf.getvalue()


def emit_dot(cm: "CompiledModel") -> str:
    """Graphviz DOT: undirected edges once (``--``, labelled with both rates), directed as ``->``."""
    nodes = cm.nodes
    names = nodes.names().astype(str)
    q = np.char.replace(names, '"', r'\"')
    out = [f'digraph "{cm.model.name}" {{', '  node [shape=circle, fontsize=10];']
    F = nodes.attrs["F"]
    out.append(_join_rows([np.char.add('  n', np.arange(nodes.n).astype(str)),
                           np.char.add(np.char.add(' [label="', q), '\\nF='),
                           np.char.add(np.char.mod("%.4g", F), '"];')], "").rstrip("\n"))
    Q = cm.generator.tocoo()
    off = Q.row != Q.col
    r, c, v = Q.row[off], Q.col[off], Q.data[off]
    out.append(_join_rows([np.char.add("  n", r.astype(str)), np.char.add(" -> n", c.astype(str)),
                           np.char.add(np.char.add(' [label="', np.char.mod("%.4g", v)), '"];')],
                          "").rstrip("\n"))
    out.append("}")
    return "\n".join(x for x in out if x) + "\n"
