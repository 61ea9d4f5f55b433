r"""Measurements of a compiled landscape: fractal, walk and spectral dimensions.

Every measurement returns a JSON-friendly dict (floats, ints, strings, lists, None)::

    {"quantity": "d_f", "value": 1.89, "ci95": [1.85, 1.93], "method": "mass_radius",
     "range": [lo, hi], "points": k, "warning": None | str, "note": "d_f = 1.89 ...",
     "fit": {...the fit_powerlaw result...}, ...method-specific extras}

``range`` is the fitted window on the fit's own axis (radius, time, eigenvalue, box
size) and ``points`` the number of points in it.  ``value`` is None (and ``warning``
says why) when the fit could not be made.  The power laws are fitted with
:func:`semdsl.solvers.fit.fit_powerlaw` (straight line on log-log axes; automatic
window, see there); the 95% intervals come from a bootstrap over *independent
curves* -- per-centre mass curves, per-chunk-of-walkers MSD curves, per-start
return-probability curves -- never from the scatter of the points of one curve,
except for the eigenvalue counting function, which has no sampling noise (its
interval is the systematic one described next).  When there is no sampling noise at
all -- an exact solution, an eigenvalue count, or identical curves from equivalent
centres of a regular lattice -- ``ci95`` is ``value +- |drift|``, where ``drift`` is
the difference between the values fitted on the upper and the lower half (in log
scale) of the window: the curvature left in the window, a systematic error estimate
(``"interval": "drift"``; the fit's own interval is kept as ``ci95_fit``).  With
sampling noise ``ci95`` is the bootstrap interval, and ``warning`` says when the drift
is larger than its width.

Geometry
--------
*Coordinates.*  Lattice-like generators give their nodes coordinate attributes
``x``, ``y`` (, ``z``).  ``coords=None`` ("auto") uses those present in the model;
``coords=False`` ignores them; a list of attribute names or of arrays over the nodes
gives others.  Coordinates are *usable* as distances only when they follow the edges:
if some edge is more than :data:`WRAP_FACTOR` times the median edge length (periodic
boundaries, long-range edges) the Euclidean metric is not used automatically.

*Metric.*  ``metric="auto"`` is the Euclidean distance when coordinates are usable,
else the graph (hop) distance from breadth-first search
(:func:`scipy.sparse.csgraph.shortest_path` with ``unweighted=True``).  The two agree
in scaling on lattices, but **not on fractals embedded in space**: the number of
nodes within *graph* distance ``l`` grows as ``l^(d_f / d_min)``, where ``d_min`` is
the exponent of the shortest path (``d_min ~ 1.13`` on 2-D percolation clusters, so
graph distance gives the "chemical" dimension ``~1.68`` there, not ``d_f = 91/48``);
likewise the graph-distance MSD gives ``d_w / d_min``.

*Bulk.*  Measurements are made around nodes far from the boundary, and only at scales
that do not reach it.  The *depth* of a node is its distance to the boundary: with
usable coordinates, the distance to the faces of the bounding box of the (kept)
nodes (divided by the longest edge for the graph metric: a graph ball of radius ``r``
stays inside Euclidean radius ``r * h_max``); without, the graph distance to the
nodes of less than the most common degree, when those are at most half the graph and
some node is at least 8 hops from them (the boundary of a lattice); otherwise (no
recognisable boundary: a torus, a random graph) half the eccentricity of the centre.
Centres and start nodes are drawn at random (seeded) among the nodes whose depth is at
least :data:`BULK_FRACTION` of the largest.

Measurements
------------
:func:`fractal_dimension`
    ``d_f`` from the mass--radius relation ``M(r) ~ r^d_f`` (nodes within distance
    ``r`` of a centre, averaged over centres, radii up to the smallest depth of the
    centres; bootstrap over centres; several realisations may be pooled) or from box
    counting ``N(eps) ~ eps^-d_f`` (coordinates only; bootstrap over grid offsets).
:func:`walk_dimension`
    ``d_w`` from ``<r^2>(t) ~ t^(2/d_w)`` with the KMC engine, until
    ``sqrt(<r^2>)`` reaches :data:`WALK_EXTENT` times the start's depth (half the
    distance to the boundary: a quarter of the linear size for a central start);
    bootstrap over :data:`CHUNKS` independent chunks of walkers.
:func:`spectral_dimension`
    ``d_s`` from the return probability ``P_0(t) ~ t^(-d_s/2)`` (exact transient
    solution for up to :data:`EXACT_MAX_NODES` nodes, else simulation) and/or from the
    counting function of the lowest eigenvalues ``N(lambda) ~ lambda^(d_s/2)``.
:func:`distinct_sites`
    mean number of distinct nodes visited ``S(t)`` (with standard errors).
:func:`measure`
    all of them, for ``semdsl measure FILE``.

Subsets
-------
``nodes=`` restricts a measurement to a set of nodes: a boolean mask or node ids over
the model's nodes, or ``"largest"`` (the largest connected component of the graph).
The graph is then the subgraph they induce, and the walk is the model's walk with the
transitions leaving the set removed (reflected at its border; the set's exit rates are
recomputed from the remaining transitions).

The graph of a model is the union of its declared edges (``edge_src``, ``edge_dst``)
and of the support of its generator, made undirected.  Nothing loops over nodes or
edges in Python: the loops run over centres, chunks, start nodes, radii or box sizes.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla

from semdsl.errors import NumericalError

from .exact import stationary_distribution, transient
from .fit import fit_powerlaw
from .simulate import simulate

__all__ = [
    "fractal_dimension",
    "walk_dimension",
    "spectral_dimension",
    "distinct_sites",
    "measure",
    "largest_component",
    "QUANTITIES",
    "BULK_FRACTION",
    "WALK_EXTENT",
    "RETURN_EXTENT",
    "EXACT_MAX_NODES",
    "CHUNKS",
]

#: what :func:`measure` knows
QUANTITIES = ("d_f", "d_w", "d_s")
#: coordinate attributes looked for by ``coords=None``
COORD_ATTRS = ("x", "y", "z")
#: an edge longer than this many median edge lengths means the coordinates are not distances
WRAP_FACTOR = 2.5
#: centres / start nodes are drawn among nodes at least this fraction of the deepest's depth
BULK_FRACTION = 0.75
#: walk dimension: keep times with sqrt(MSD) <= WALK_EXTENT * depth of the start
WALK_EXTENT = 0.5
#: return probability: keep times with sqrt(MSD) <= RETURN_EXTENT * depth of the start (the
#: reflected image's weight is then ~exp(-1 / (4 RETURN_EXTENT^2)) per axis: e^-4 ~ 2%
#: at this setting for the probability, far less for its log-slope)
RETURN_EXTENT = 0.25
#: exact transient solutions up to this many nodes (one ``len(times) x n`` matrix per start)
EXACT_MAX_NODES = 200_000
#: independent chunks of walkers (rows of the bootstrap) in the walk measurements
CHUNKS = 20
#: each simulate call splits its walkers into this many engine chunks (threads); fixed,
#: so the output does not depend on the machine's number of cores
SUBCHUNKS = 4
#: walkers of the pilot runs that find the time horizon
PILOT_WALKERS = 64
#: the pilot gives up (and the horizon is capped) beyond this many hops in one run
PILOT_MAX_HOPS = 5e7
#: bytes allowed for the Lanczos basis of the eigenvalue method (ncv x n doubles)
EIGEN_MEMORY = 2.5e8
#: smallest usable span of a fit: the largest radius / time must be this many times the smallest
MIN_SPAN = 4.0


# ====================================================================== preparation


@dataclass
class _Landscape:
    """A compiled model restricted to a node set: graph, generator and geometry."""

    name: str
    n_total: int
    ids: np.ndarray                 # model ids of the kept nodes (sorted)
    adj: sp.csr_matrix              # undirected 0/1 adjacency on the kept nodes
    Q: sp.csr_matrix                # generator on the kept nodes
    init: np.ndarray                # the model's initial law restricted (may be all 0)
    coords: np.ndarray | None       # (D, m) usable coordinates, or None
    coord_names: list
    coord_note: str                 # why coordinates are not used (when they are not)
    h: float                        # median edge length (coordinate units; 1 without)
    h_max: float                    # longest edge (coordinate units; 1 without)
    n_components: int
    labels: np.ndarray

    @property
    def m(self) -> int:
        return int(self.ids.size)

    @property
    def connected(self) -> bool:
        return self.n_components == 1


def _check_model(cm) -> None:
    for attr in ("generator", "nodes", "edge_src", "edge_dst", "init"):
        if not hasattr(cm, attr):
            raise ValueError("expected a compiled model (semdsl.compile(...)), got "
                             f"{type(cm).__name__} without '{attr}'")


def _full_adjacency(cm) -> sp.csr_matrix:
    """Undirected 0/1 adjacency: declared edges plus the generator's transitions."""
    n = int(cm.n)
    Q = sp.csr_matrix(cm.generator)
    Qc = Q.tocoo()
    off = (Qc.row != Qc.col) & (Qc.data != 0)
    es = np.asarray(cm.edge_src, np.int64).ravel()
    ed = np.asarray(cm.edge_dst, np.int64).ravel()
    r = np.concatenate([es, ed, Qc.row[off], Qc.col[off]])
    c = np.concatenate([ed, es, Qc.col[off], Qc.row[off]])
    keep = r != c
    A = sp.csr_matrix((np.ones(int(keep.sum()), np.int8), (r[keep], c[keep])), shape=(n, n))
    A.sum_duplicates()
    A.data[:] = 1
    return A


def largest_component(cm) -> np.ndarray:
    """Model ids of the largest connected component of the (undirected) graph of ``cm``."""
    _check_model(cm)
    A = _full_adjacency(cm)
    _, lab = csgraph.connected_components(A, directed=False)
    big = int(np.argmax(np.bincount(lab)))
    return np.flatnonzero(lab == big)


def _node_ids(nodes, n: int, A: sp.csr_matrix | None) -> np.ndarray:
    if nodes is None:
        return np.arange(n)
    if isinstance(nodes, str):
        if nodes != "largest":
            raise ValueError(f"nodes must be None, 'largest', a boolean mask or node ids, got {nodes!r}")
        _, lab = csgraph.connected_components(A, directed=False)
        return np.flatnonzero(lab == int(np.argmax(np.bincount(lab))))
    a = np.asarray(nodes)
    if a.dtype == np.bool_:
        if a.shape != (n,):
            raise ValueError(f"a node mask must have shape ({n},), got {a.shape}")
        ids = np.flatnonzero(a)
    else:
        a = a.ravel()
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise ValueError("nodes must be a boolean mask or integer node ids")
        ids = np.unique(a.astype(np.int64))
        if ids.size and (ids[0] < 0 or ids[-1] >= n):
            raise ValueError(f"node id out of range 0..{n - 1}")
    if ids.size == 0:
        raise ValueError("the node set is empty")
    return ids


def _coordinates(cm, coords, ids: np.ndarray) -> tuple[np.ndarray | None, list, str]:
    """(D, m) coordinates of the kept nodes, their names, and a note when there are none."""
    n = int(cm.n)
    attrs = getattr(cm.nodes, "attrs", {}) or {}
    if coords is False:
        return None, [], "coordinates disabled (coords=False)"
    auto = coords is None
    if auto:
        names = [a for a in COORD_ATTRS if a in attrs]
        if not names:
            return None, [], "the model has no x/y/z node attributes"
        arrays = [np.asarray(attrs[a], np.float64) for a in names]
    else:
        if isinstance(coords, (str, bytes)) or not hasattr(coords, "__len__") or len(coords) == 0:
            raise ValueError("coords must be None, False, or a non-empty list of attribute names or arrays")
        names, arrays = [], []
        for k, c in enumerate(coords):
            if isinstance(c, str):
                if c not in attrs:
                    raise ValueError(f"coords: the model has no node attribute {c!r} "
                                     f"(has: {', '.join(sorted(attrs)) or 'none'})")
                names.append(c)
                arrays.append(np.asarray(attrs[c], np.float64))
            else:
                arr = np.asarray(c, np.float64)
                if arr.shape != (n,):
                    raise ValueError(f"coords[{k}] must be an array over the {n} nodes, got shape {arr.shape}")
                names.append(f"coords[{k}]")
                arrays.append(arr)
    X = np.vstack([a.reshape(1, -1) for a in arrays])
    if X.shape[1] != n:
        raise ValueError(f"coordinate attributes have {X.shape[1]} entries for {n} nodes")
    X = X[:, ids]
    if not np.all(np.isfinite(X)):
        if auto:
            return None, names, f"the coordinates ({', '.join(names)}) are not finite on every node"
        raise ValueError("coords have non-finite values on the selected nodes")
    return X, names, ""


def _prepare(cm, nodes=None, coords=None) -> _Landscape:
    _check_model(cm)
    n = int(cm.n)
    if n < 1:
        raise ValueError("the model has no nodes")
    A_full = _full_adjacency(cm)
    ids = _node_ids(nodes, n, A_full)
    A = A_full[ids][:, ids].tocsr() if ids.size < n else A_full
    # generator restricted to the set: transitions leaving it are dropped, exits recomputed
    Q = sp.csr_matrix(cm.generator, dtype=np.float64)
    if ids.size < n:
        Q = Q[ids][:, ids].tocsr()
    Q = Q.tocoo()
    off = (Q.row != Q.col) & (Q.data > 0)
    rows, cols, vals = Q.row[off], Q.col[off], Q.data[off]
    m = ids.size
    exit_q = np.bincount(rows, weights=vals, minlength=m)
    Qs = sp.csr_matrix((np.concatenate([vals, -exit_q]),
                        (np.concatenate([rows, np.arange(m)]), np.concatenate([cols, np.arange(m)]))),
                       shape=(m, m))
    Qs.sum_duplicates()
    init = np.asarray(cm.init, np.float64).ravel()[ids]
    X, names, note = _coordinates(cm, coords, ids)
    h = h_max = 1.0
    if X is not None:
        Au = sp.triu(A, k=1).tocoo()
        if Au.nnz == 0:
            X, note = None, "the node set has no edges, so the coordinates have no length scale"
        else:
            lengths = np.sqrt(((X[:, Au.row] - X[:, Au.col]) ** 2).sum(axis=0))
            pos = lengths[lengths > 0]
            if pos.size == 0:
                X, note = None, "every edge has length 0 in the coordinates"
            else:
                h = float(np.median(pos))
                h_max = float(lengths.max())
                if h_max > WRAP_FACTOR * h:
                    note = (f"the coordinates ({', '.join(names)}) do not follow the edges: an edge is "
                            f"{h_max / h:.3g} times the median edge length (periodic boundaries or "
                            "long-range edges)")
                    X = None
                    h = h_max = 1.0
    ncomp, labels = csgraph.connected_components(A, directed=False)
    name = getattr(getattr(cm, "model", None), "name", None) or "model"
    return _Landscape(name=str(name), n_total=n, ids=ids, adj=A, Q=Qs, init=init, coords=X,
                      coord_names=names, coord_note=note, h=h, h_max=h_max,
                      n_components=int(ncomp), labels=labels)


def _metric(L: _Landscape, metric: str) -> str:
    if metric not in ("auto", "euclidean", "graph"):
        raise ValueError(f"metric must be 'auto', 'euclidean' or 'graph', got {metric!r}")
    if metric == "auto":
        return "euclidean" if L.coords is not None else "graph"
    if metric == "euclidean" and L.coords is None:
        raise ValueError(f"the Euclidean metric needs coordinates: {L.coord_note}")
    return metric


def _need_connected(L: _Landscape, what: str) -> None:
    if not L.connected:
        raise ValueError(
            f"{what} needs a connected graph, but the selected nodes form {L.n_components} connected "
            "components; pass nodes='largest' (or a mask of one component)")


# ====================================================================== bulk and distances


def _depth(L: _Landscape, metric: str) -> np.ndarray | None:
    """Distance of every kept node to the boundary (metric units), or None if there is none."""
    if L.coords is not None:
        X = L.coords
        lo, hi = X.min(axis=1), X.max(axis=1)
        dims = np.flatnonzero(hi - lo > 0)
        if dims.size == 0:
            d = np.zeros(L.m)
        else:
            d = np.minimum(X[dims] - lo[dims, None], hi[dims, None] - X[dims]).min(axis=0)
        return d if metric == "euclidean" else d / L.h_max
    deg = np.diff(L.adj.indptr)
    low = deg < int(np.bincount(deg).argmax())       # below the most common degree
    nb = int(low.sum())
    if nb == 0 or nb > L.m / 2:
        return None
    # multi-source BFS from the low-degree nodes: one extra node joined to all of them
    m = L.m
    src = np.flatnonzero(low)
    ext = sp.bmat([[L.adj, sp.csr_matrix((np.ones(nb, np.int8), (src, np.zeros(nb, np.int64))), shape=(m, 1))],
                   [sp.csr_matrix((np.ones(nb, np.int8), (np.zeros(nb, np.int64), src)), shape=(1, m)), None]],
                  format="csr")
    d = csgraph.shortest_path(ext, unweighted=True, directed=False, indices=[m])[0, :m] - 1.0
    d[~np.isfinite(d)] = 0.0
    # a boundary is a thin shell around a bulk; low-degree nodes everywhere (dangling ends
    # of a random structure) are not one
    return d if d.max() >= 2 * MIN_SPAN else None


def _graph_distances(L: _Landscape, sources: np.ndarray) -> np.ndarray:
    return csgraph.shortest_path(L.adj, unweighted=True, directed=False, indices=np.asarray(sources))


def _distances(L: _Landscape, sources: np.ndarray, metric: str) -> np.ndarray:
    """(len(sources), m) distances from each source (inf where unreachable)."""
    sources = np.asarray(sources, np.int64)
    if metric == "graph":
        return _graph_distances(L, sources)
    X = L.coords
    out = np.empty((sources.size, L.m))
    for k, s in enumerate(sources):   # one vectorised row per source
        out[k] = np.sqrt(((X - X[:, s:s + 1]) ** 2).sum(axis=0))
    return out


def _pick_bulk(L: _Landscape, metric: str, count: int, rng: np.random.Generator,
               depth: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, str]:
    """``count`` random bulk nodes, their depth and how the depth was defined."""
    if depth is not None:
        dmax = float(depth.max())
        if dmax <= 0:
            raise ValueError("every selected node lies on the boundary: there is no bulk to measure in")
        eligible = np.flatnonzero(depth >= BULK_FRACTION * dmax)
        k = min(count, eligible.size)
        pick = np.sort(rng.choice(eligible, size=k, replace=False))
        how = "distance to the bounding box" if L.coords is not None else \
            "graph distance to the nodes of less than the most common degree"
        return pick, depth[pick], how
    k = min(count, L.m)
    pick = np.sort(rng.choice(L.m, size=k, replace=False))
    D = _graph_distances(L, pick)
    D[~np.isfinite(D)] = -1
    return pick, np.floor(D.max(axis=1) / 2.0), "half the eccentricity (no boundary recognised)"


def _starts(L: _Landscape, metric: str, starts, count: int, rng, depth) -> tuple[np.ndarray, np.ndarray, str]:
    """Start nodes (kept-node indices), their depth (metric units), and how they were chosen."""
    if starts is None:
        nz = np.flatnonzero(L.init > 0)
        if nz.size == 1:
            s = nz
            d = depth[s] if depth is not None else _pick_depth_ecc(L, s)
            dref = float(depth.max()) if depth is not None else float(d[0])
            if d[0] > 0 and d[0] >= 0.5 * dref:
                return s, d, "the model's initial node"
        starts = count
    if isinstance(starts, (int, np.integer)) and not isinstance(starts, bool):
        if starts < 1:
            raise ValueError(f"starts must be >= 1, got {starts}")
        pick, d, how = _pick_bulk(L, metric, int(starts), rng, depth)
        return pick, d, f"{pick.size} random bulk node(s) ({how})"
    a = np.asarray(starts).ravel()
    if a.size == 0 or not np.issubdtype(a.dtype, np.integer):
        raise ValueError("starts must be None, a count, or model node ids")
    pos = np.searchsorted(L.ids, a)
    ok = (pos < L.m) & (L.ids[np.minimum(pos, L.m - 1)] == a)
    if not np.all(ok):
        raise ValueError(f"start node {int(a[~ok][0])} is not among the selected nodes")
    d = depth[pos] if depth is not None else _pick_depth_ecc(L, pos)
    if np.any(d <= 0):
        raise ValueError(f"start node {int(a[np.argmin(d)])} lies on the boundary (depth 0)")
    return pos, d, "given start nodes"


def _pick_depth_ecc(L: _Landscape, nodes: np.ndarray) -> np.ndarray:
    D = _graph_distances(L, nodes)
    D[~np.isfinite(D)] = -1
    return np.floor(D.max(axis=1) / 2.0)


def _soft_mass(dist: np.ndarray, radii: np.ndarray, h: float) -> np.ndarray:
    """``sum_i clip((r - d_i)/h + 1/2, 0, 1)``: nodes within ``r``, each spread over a shell ``h`` wide.

    A node at distance ``d`` stands for the radial cell ``[d - h/2, d + h/2]`` (the
    continuity correction of a discrete distance): at ``r = m + 1/2`` in graph distance
    this is exactly the number of nodes within ``m`` hops, and it removes the staircase
    (and, on a square lattice, the ``O(1/r)`` term of ``2m^2 + 2m + 1``) from the log-slopes.
    """
    d = np.sort(dist[np.isfinite(dist) & (dist <= radii[-1] + h)])
    cs = np.concatenate([[0.0], np.cumsum(d)])
    lo = np.searchsorted(d, radii - h / 2, side="right")
    hi = np.searchsorted(d, radii + h / 2, side="left")
    inside = (hi - lo) * (radii / h + 0.5) - (cs[hi] - cs[lo]) / h
    return lo + inside


# ====================================================================== results


def _jsonable(x):
    """Plain Python: numpy scalars/arrays to floats/ints/lists, non-finite floats to None."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if math.isfinite(v) else None
    return x


def _join(parts) -> str | None:
    parts = [p for p in parts if p]
    return "; ".join(dict.fromkeys(parts)) if parts else None


def _g(v, digits: int = 3) -> str:
    return "?" if v is None else f"{v:.{digits}g}"


def _ci_str(ci) -> str:
    return f"[{_g(ci[0])}, {_g(ci[1])}]"


def _transform(fit: dict, f) -> tuple[float | None, list]:
    """Apply a monotone map ``f`` to the exponent and its interval (sorted)."""
    a = fit.get("exponent")
    if a is None:
        return None, [None, None]
    lo, hi = fit["ci95"]
    try:
        v = f(a)
        ci = [None, None] if lo is None else sorted([f(lo), f(hi)])
    except ZeroDivisionError:
        return None, [None, None]
    return v, ci


def _degenerate(samples: np.ndarray) -> bool:
    """True when all rows are (numerically) the same curve."""
    if samples is None or samples.shape[0] < 2:
        return False
    scale = np.abs(samples).max(axis=0)
    return bool(np.all(np.ptp(samples, axis=0) <= 1e-9 * np.maximum(scale, 1e-300)))


def _halves(x: np.ndarray, rng: list) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Columns of the fit window and the masks of its lower and upper half (in log x)."""
    if rng[0] is None:
        return None
    cols = np.flatnonzero((x >= rng[0]) & (x <= rng[1]))
    if cols.size < 6:
        return None
    lx = np.log(x[cols])
    mid = 0.5 * (lx[0] + lx[-1])
    a, b = lx <= mid, lx >= mid
    if a.sum() < 3 or b.sum() < 3:
        return None
    return cols, a, b


def _slopes(lx: np.ndarray, LY: np.ndarray) -> np.ndarray:
    """Least-squares slopes of the rows of ``LY`` against ``lx``."""
    dx = lx - lx.mean()
    return (LY * dx).sum(axis=-1) / (dx * dx).sum()


def _result(quantity: str, method: str, x, y, fit: dict, f, noise_free: bool, warn: list,
            samples: np.ndarray | None = None, seed: int = 0) -> dict:
    """The common fields, from a power-law fit of ``y(x)`` whose exponent ``a`` gives ``f(a)``.

    ``drift`` is ``f(upper-half exponent) - f(lower-half exponent)`` over the fit window.
    For noise-free curves (exact solutions, eigenvalue counts, or every bootstrap row the
    same curve) a sampling interval is meaningless, and ``ci95`` is ``value +- |drift|``:
    the curvature of the log-log curve inside the window, a systematic error estimate
    (``interval = "drift"``).  Otherwise ``ci95`` is the fit's interval (``"bootstrap"``,
    ``"wls"`` or ``"ols"``); with ``samples`` the drift's own bootstrap standard error is
    ``drift_stderr``, and a warning says when the drift is both significant (beyond 3
    standard errors) and larger than the interval's half-width.  ``ci95_fit`` is always
    the fit's own interval.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    value, ci_fit = _transform(fit, f)
    hv = _halves(x, fit.get("range", [None, None]))
    drift = drift_se = None
    if hv is not None and value is not None and np.all(y[hv[0]] > 0):
        cols, a, b = hv
        lx, ly = np.log(x[cols]), np.log(y[cols])
        try:
            drift = float(f(_slopes(lx[b], ly[b])) - f(_slopes(lx[a], ly[a])))
            if samples is not None and samples.shape[0] >= 2 and not noise_free:
                gen = np.random.default_rng(seed)
                R = samples.shape[0]
                sub = samples[:, cols]
                means = sub[gen.integers(0, R, size=(400, R))].mean(axis=1)
                ok = np.all(means > 0, axis=1)
                if ok.sum() >= 100:
                    LY = np.log(means[ok])
                    with np.errstate(divide="ignore", invalid="ignore"):
                        d = f(_slopes(lx[b], LY[:, b])) - f(_slopes(lx[a], LY[:, a]))
                    d = d[np.isfinite(d)]
                    if d.size >= 100:
                        drift_se = float(np.std(d, ddof=1))
        except ZeroDivisionError:
            drift = None
    warn = list(warn)
    if noise_free and drift is not None:
        ci, interval = [value - abs(drift), value + abs(drift)], "drift"
    else:
        ci, interval = ci_fit, fit.get("method")
        if (drift is not None and ci[0] is not None and abs(drift) > 0.5 * (ci[1] - ci[0])
                and (drift_se is None or abs(drift) > 3 * drift_se)):
            warn.append(f"the local exponent drifts by {drift:+.3g} across the fit window"
                        + (f" ({abs(drift) / drift_se:.1f} standard errors)" if drift_se else "")
                        + ", more than the half-width of the statistical interval: a systematic error "
                        "(crossover, finite size) may dominate")
    fit_warn = (fit.get("warning") or "").split("; ")
    if interval == "drift":   # the least-squares caveat is moot: that interval is not the one reported
        fit_warn = [w for w in fit_warn if not w.startswith("the interval assumes independent scatter")]
    return {"quantity": quantity, "value": value, "ci95": ci, "method": method, "interval": interval,
            "range": fit.get("range", [None, None]), "points": fit.get("points", 0),
            "warning": _join(fit_warn + warn), "ci95_fit": ci_fit, "drift": drift,
            "drift_stderr": drift_se, "fit": fit}


# ====================================================================== fractal dimension


def _as_models(cm) -> list:
    if isinstance(cm, (list, tuple)):
        if not cm:
            raise ValueError("no compiled models given")
        return list(cm)
    return [cm]


def _nodes_per_model(nodes, k: int) -> list:
    if k == 1:
        return [nodes]
    if nodes is None or isinstance(nodes, str):
        return [nodes] * k
    if isinstance(nodes, (list, tuple)) and len(nodes) == k:
        return list(nodes)
    raise ValueError(f"with {k} realisations, nodes must be None, 'largest', or a list of {k} node specs")


def fractal_dimension(cm, *, method: str = "auto", coords=None, nodes=None, centers=16, seed: int = 0,
                      metric: str = "auto", radii: int = 32, boxes: int = 8, x_range=None) -> dict:
    r"""Fractal dimension ``d_f`` of the landscape (or of a node set, or pooled over realisations).

    Parameters
    ----------
    cm : CompiledModel or list of CompiledModel
        A list pools several realisations (e.g. percolation clusters of different
        seeds): their curves are the bootstrap rows together.
    method : {"auto", "mass_radius", "box"}
        ``"mass_radius"``: ``M(r)``, the number of nodes within distance ``r`` of a
        centre (with a half-cell continuity correction, see :func:`_soft_mass`),
        averaged over centres; ``M(r) ~ r^d_f`` is fitted for ``r`` from one edge
        length up to the smallest depth of the centres, so no ball reaches the boundary.
        ``"box"``: box counting on the coordinates, ``N(eps) ~ eps^-d_f`` with box sides
        ``eps`` from one edge length to 1/16 of the smallest extent, averaged over
        ``boxes`` random offsets of the grid (rows of the bootstrap).  ``"auto"`` is
        the mass--radius method, in Euclidean distance when the coordinates are usable
        and in graph distance otherwise (see the module notes: graph distance gives
        ``d_f / d_min`` on fractals embedded in space).
    coords : None, False, or list of attribute names / arrays
        See the module notes.
    nodes : None, "largest", mask or ids (or one per realisation)
        Restrict to a node set.
    centers : int or array of model node ids
        Number of random bulk centres per realisation (or the centres themselves, one
        realisation only).
    metric : {"auto", "euclidean", "graph"}
        Distance of the mass--radius method.
    radii : int
        Number of log-spaced radii.
    boxes : int
        Grid offsets of the box counting.
    x_range : (lo, hi), optional
        Fit window (radii or box sizes); default: automatic.

    Returns
    -------
    dict
        The common fields (module docstring) plus ``metric``, ``centers``, ``radius_max``,
        ``curve`` (``{"r": [...], "M": [...]}`` or ``{"eps": ..., "N": ...}``) and
        ``drift`` (exponent of the upper half of the window minus the lower half: a
        check of curvature that the bootstrap does not see).
    """
    if method not in ("auto", "mass_radius", "box"):
        raise ValueError(f"method must be 'auto', 'mass_radius' or 'box', got {method!r}")
    models = _as_models(cm)
    specs = _nodes_per_model(nodes, len(models))
    Ls = [_prepare(c, s, coords) for c, s in zip(models, specs)]
    rng = np.random.default_rng(seed)
    if method == "box":
        return _jsonable(_box_counting(Ls, rng, boxes, x_range, seed))
    if isinstance(radii, bool) or not isinstance(radii, (int, np.integer)) or radii < 6:
        raise ValueError(f"radii must be an integer >= 6, got {radii!r}")
    metrics = {_metric(L, metric) for L in Ls}
    if len(metrics) > 1:
        raise ValueError("the realisations differ in whether they have usable coordinates; give metric=")
    met = metrics.pop()
    for L in Ls:
        if L.m < 8:
            raise ValueError(f"too few nodes ({L.m}) for a mass-radius fit")
        if met == "graph":
            _need_connected(L, "the mass-radius relation in graph distance")
    if centers is None:
        centers = 16
    given = not (isinstance(centers, (int, np.integer)) and not isinstance(centers, bool))
    if given and len(Ls) > 1:
        raise ValueError("explicit centers need a single realisation")
    if not given and centers < 1:
        raise ValueError(f"centers must be >= 1, got {centers}")
    rows_d, depths, hows = [], [], set()
    for L in Ls:
        depth = _depth(L, met)
        if given:
            c, dc, how = _starts(L, met, centers, 0, rng, depth)
        else:
            c, dc, how = _pick_bulk(L, met, int(centers), rng, depth)
        hows.add(how)
        rows_d.append((L, c))
        depths.append(dc)
    depth_all = np.concatenate(depths)
    h = float(np.median([L.h for L in Ls])) if met == "euclidean" else 1.0
    R = float(depth_all.min())
    r_max = R - h / 2
    if r_max < MIN_SPAN * h:
        raise ValueError(
            f"the bulk is too small for a mass-radius fit: the centres are only {R:.3g} from the boundary "
            f"(need at least {MIN_SPAN * h + h / 2:.3g}, {MIN_SPAN:g} edge lengths); use a larger system")
    rgrid = np.geomspace(h, r_max, int(radii))
    curves = []
    for L, c in rows_d:
        D = _distances(L, c, met)
        for k in range(D.shape[0]):
            curves.append(_soft_mass(D[k], rgrid, h))
    S = np.array(curves)
    mean = S.mean(axis=0)
    fit = fit_powerlaw(rgrid, mean, samples=S if S.shape[0] >= 2 else None, x_range=x_range, rng=seed)
    warn = []
    same = _degenerate(S) or S.shape[0] < 2
    if same:
        warn.append("every centre gives the same curve (equivalent centres, e.g. a regular lattice): "
                    "the interval is the drift of the local exponent, not a sampling interval")
    if met == "graph" and Ls[0].coord_note:
        warn.append(f"graph distance used: {Ls[0].coord_note}")
    if any(not L.connected for L in Ls):
        warn.append("the node set is not connected: it is measured as a point set (every component "
                    "counts); pass nodes='largest' for the largest cluster")
    res = _result("d_f", "mass_radius", rgrid, mean, fit, lambda a: a, same, warn, S, seed)
    value, ci = res["value"], res["ci95"]
    res.update(metric=met, centers=int(S.shape[0]), realizations=len(Ls), radius_max=float(r_max),
               depth=sorted(hows), curve={"r": rgrid, "M": mean})
    unit = "" if met == "graph" else " (coordinate units)"
    extra = " -- in graph distance this is d_f / d_min on fractals embedded in space" if met == "graph" else ""
    res["note"] = (f"d_f = {_g(value)} {_ci_str(ci)}: mass-radius M(r) ~ r^d_f, {met} distance, "
                   f"{S.shape[0]} bulk centre(s) in {len(Ls)} realisation(s), fitted on r = "
                   f"{_g(fit['range'][0])}..{_g(fit['range'][1])}{unit}{extra}")
    return _jsonable(res)


def _box_counting(Ls: list, rng, boxes: int, x_range, seed: int) -> dict:
    if isinstance(boxes, bool) or not isinstance(boxes, (int, np.integer)) or boxes < 2:
        raise ValueError(f"boxes must be an integer >= 2, got {boxes!r}")
    for L in Ls:
        if L.coords is None:
            raise ValueError(f"box counting needs coordinates: {L.coord_note}")
        if L.m < 8:
            raise ValueError(f"too few nodes ({L.m}) for box counting")
    h = float(np.median([L.h for L in Ls]))
    ext = []
    for L in Ls:
        span = L.coords.max(axis=1) - L.coords.min(axis=1)
        span = span[span > 0]
        ext.append(float(span.min()) if span.size else 0.0)
    E = min(ext)
    top = E / 16.0
    if top < MIN_SPAN * h:
        raise ValueError(f"the system is too small for box counting: its extent {E:.3g} is less than "
                         f"{16 * MIN_SPAN:g} edge lengths")
    # sides h * 2^(j/2): every other one an integer multiple of the edge length
    eps = h * 2.0 ** (np.arange(0, int(np.floor(2 * np.log2(top / h))) + 1) / 2.0)
    S = []
    for L in Ls:
        X = L.coords - L.coords.min(axis=1, keepdims=True)
        D = X.shape[0]
        for _ in range(int(boxes)):
            u = rng.random(D)
            row = np.empty(eps.size)
            for j, e in enumerate(eps):   # one vectorised count per box size
                cells = np.floor(X / e + u[:, None]).astype(np.int64)
                key = np.zeros(L.m, np.int64)
                for c in range(D):
                    key = key * (int(cells[c].max()) + 1) + cells[c]
                row[j] = np.unique(key).size
            S.append(row)
    S = np.array(S)
    mean = S.mean(axis=0)
    fit = fit_powerlaw(eps, mean, samples=S, x_range=x_range, rng=seed)
    same = _degenerate(S)
    res = _result("d_f", "box", eps, mean, fit, lambda a: -a, same, [], S, seed)
    value, ci = res["value"], res["ci95"]
    res.update(metric="euclidean", boxes=int(S.shape[0]), realizations=len(Ls),
               curve={"eps": eps, "N": mean})
    res["note"] = (f"d_f = {_g(value)} {_ci_str(ci)}: box counting N(eps) ~ eps^-d_f over {S.shape[0]} grid "
                   f"offset(s), eps = {_g(fit['range'][0])}..{_g(fit['range'][1])}")
    return res


# ====================================================================== walks


def _seeds(seed: int, k: int) -> list[int]:
    return [int(s.generate_state(1, np.uint32)[0]) for s in np.random.SeedSequence(seed).spawn(k)]


def _delta(m: int, i: int) -> np.ndarray:
    p = np.zeros(m)
    p[i] = 1.0
    return p


def _sq_distance(L: _Landscape, start: int, metric: str) -> np.ndarray:
    d = _distances(L, np.array([start]), metric)[0]
    if not np.all(np.isfinite(d)):
        d = np.where(np.isfinite(d), d, 0.0)   # unreachable nodes are never visited
    return d * d


def _mean_rate(L: _Landscape) -> float:
    q = -L.Q.diagonal()
    q = q[q > 0]
    if q.size == 0:
        raise ValueError("the walk has no transitions on the selected nodes")
    return float(q.mean())


def _horizon(L: _Landscape, start: int, d2: np.ndarray, target: float, seed: int) -> tuple[float, bool]:
    """First time at which a pilot's sqrt(MSD) from ``start`` reaches ``target`` (capped: flag)."""
    q = _mean_rate(L)
    T = 64.0 / q
    p0 = _delta(L.m, start)
    while True:
        times = np.geomspace(0.5 / q, T, 33)
        sim = simulate(L.Q, p0, times, walkers=PILOT_WALKERS, seed=seed, observables=[d2],
                       histogram=False, chunk=PILOT_WALKERS // SUBCHUNKS)
        msd = sim.obs_mean[0]
        hit = np.flatnonzero(msd >= target * target)
        if hit.size:
            i = int(hit[0])
            if i == 0:
                return float(times[0]), False
            # log-log interpolation between the samples around the crossing
            x0, x1 = np.log(times[i - 1]), np.log(times[i])
            y0, y1 = np.log(max(msd[i - 1], 1e-300)), np.log(msd[i])
            y = 2 * np.log(target)
            return float(np.exp(x0 + (x1 - x0) * (y - y0) / (y1 - y0))) if y1 > y0 else float(times[i]), False
        if sim.events * 8 > PILOT_MAX_HOPS:
            return float(T), True
        T *= 8.0


def _check_int(v, name: str, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def _time_grid(t, t_lo: float, t_hi: float, n_times: int) -> tuple[np.ndarray, bool]:
    """Times from ``t`` (None: the automatic horizon; a float: t_max; an array: as given)."""
    if t is None:
        return np.geomspace(t_lo, t_hi, n_times), False
    a = np.atleast_1d(np.asarray(t, np.float64))
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError("t must be positive and finite")
    if a.size == 1:
        if a[0] <= t_lo:
            raise ValueError(f"t = {a[0]:g} is not beyond the first sample time {t_lo:g}")
        return np.geomspace(t_lo, float(a[0]), n_times), True
    if np.any(np.diff(a) <= 0):
        raise ValueError("t must be strictly increasing")
    return a, True


def _time_window(msd: np.ndarray, target: float, given: bool, capped: bool, extent: float,
                 risk: str, warn: list[str]) -> int:
    """How many leading sample times to fit: those with ``sqrt(MSD) <= target`` (the
    walk has not felt the boundary), all of them when the times were given (with a
    warning if the walk went beyond), at least the first."""
    if given:
        if np.sqrt(msd.max()) > target:
            warn.append(f"sqrt(MSD) reaches {np.sqrt(msd.max()):.3g}, beyond {extent:g} x the start's "
                        f"depth ({target:.3g}): {risk}")
        return int(msd.size)
    keep = np.sqrt(msd) <= target
    keep[0] = True
    if capped:
        warn.append("the pilot run did not reach the boundary scale within its budget: the time "
                    "window is capped")
    return int(np.flatnonzero(keep).max()) + 1


def walk_dimension(cm, *, walkers: int = 2000, t=None, seed: int = 0, coords=None, metric: str = "auto",
                   nodes=None, starts=None, chunks: int = CHUNKS, n_times: int = 32, x_range=None) -> dict:
    r"""Walk dimension ``d_w`` from the mean squared displacement ``<r^2>(t) ~ t^(2/d_w)``.

    ``walkers`` exact Gillespie walkers (:func:`semdsl.solvers.simulate.simulate`) are
    run in ``chunks`` independent groups (own seeds), each from one start node; the
    squared distance from the start (Euclidean with usable coordinates, else the BFS
    graph distance, passed as an observable) is averaged per chunk, and the chunk curves
    are the rows of the bootstrap of :func:`fit_powerlaw`.

    Times are log-spaced from one mean holding time ``1 / q`` to the horizon at which a
    64-walker pilot's ``sqrt(<r^2>)`` reaches :data:`WALK_EXTENT` times the start's depth
    (a quarter of the linear size for a central start); only the times where the final
    ``sqrt(<r^2>)`` stays below that are fitted.  ``t`` overrides the horizon (a float:
    ``t_max``; an array: the sample times; then every time is fitted, with a warning if
    the walk came near the boundary).

    Parameters
    ----------
    starts : None, int or array of model node ids
        None: the model's initial node when ``init`` is a single node in the bulk, else 8
        random bulk nodes.  Chunks cycle over the starts (their number is rounded up to a
        multiple of the number of starts).
    chunks : int
        Independent groups of walkers (bootstrap rows).

    Returns
    -------
    dict
        Common fields plus ``alpha = 1/d_w`` (and ``alpha_ci95``), ``metric``, ``starts``,
        ``t_max``, ``msd`` (``{"t", "mean", "stderr"}``, the stderr from the chunks) and
        ``events`` (hops simulated).
    """
    walkers = _check_int(walkers, "walkers", 2)
    chunks = _check_int(chunks, "chunks", 1)
    n_times = _check_int(n_times, "n_times", 6)
    L = _prepare(cm, nodes, coords)
    met = _metric(L, metric)
    _need_connected(L, "the walk dimension")
    if L.m < 8:
        raise ValueError(f"too few nodes ({L.m}) for a walk-dimension fit")
    rng = np.random.default_rng(seed)
    depth = _depth(L, met)
    st, sd, how = _starts(L, met, starts, 8, rng, depth)
    target = WALK_EXTENT * float(sd.min())
    if met == "euclidean" and target < 2 * L.h or met == "graph" and target < 2:
        raise ValueError(f"the start node(s) are too close to the boundary (depth {float(sd.min()):.3g}) "
                         "for a walk-dimension fit; use a larger system")
    d2s = [_sq_distance(L, int(s), met) for s in st]
    q = _mean_rate(L)
    capped = False
    if t is None:
        t_hi, capped = _horizon(L, int(st[int(np.argmin(sd))]), d2s[int(np.argmin(sd))], target, seed)
        t_hi *= 1.3          # the pilot is noisy; the final curve is trimmed below
    else:
        t_hi = None
    times, given = _time_grid(t, 1.0 / q, t_hi if t_hi else 2.0 / q, n_times)
    if times.size < 6:
        raise ValueError("need at least 6 sample times")
    R = min(chunks, walkers)
    R = len(st) * math.ceil(R / len(st))
    base, extra = divmod(walkers, R)
    sizes = [base + (1 if r < extra else 0) for r in range(R)]
    if min(sizes) < 1:
        raise ValueError(f"walkers ({walkers}) must be at least the number of chunks ({R})")
    S = np.empty((R, times.size))
    events = 0
    for r, (w, sd_r) in enumerate(zip(sizes, _seeds(seed, R))):
        k = r % len(st)
        sim = simulate(L.Q, _delta(L.m, int(st[k])), times, walkers=w, seed=sd_r, observables=[d2s[k]],
                       histogram=False, chunk=max(1, -(-w // SUBCHUNKS)))
        S[r] = sim.obs_mean[0]
        events += sim.events
    w_arr = np.asarray(sizes, float)
    mean = (S * w_arr[:, None]).sum(axis=0) / w_arr.sum()
    se = S.std(axis=0, ddof=1) / math.sqrt(R) if R > 1 else np.full(times.size, np.nan)
    warn: list[str] = []
    n_keep = _time_window(mean, target, given, capped, WALK_EXTENT, "boundary effects may bias the fit", warn)
    tt, mm, SS = times[:n_keep], mean[:n_keep], S[:, :n_keep]
    if n_keep < 6 or tt[-1] < MIN_SPAN * tt[0]:
        warn.append(f"only {n_keep} sample times before the walk feels the boundary")
    fit = fit_powerlaw(tt, mm, samples=SS if R >= 2 else None, x_range=x_range, rng=seed)
    same = _degenerate(SS)
    if same:
        warn.append("every chunk gives the same curve: the interval has no sampling spread")
    if fit.get("exponent") is not None and fit["exponent"] <= 0:
        warn.append("the MSD does not grow: no walk dimension")
        fit = dict(fit, exponent=None, ci95=[None, None])
    res = _result("d_w", "msd", tt, mm, fit, lambda a: 2.0 / a, same, warn, SS, seed)
    if fit["ci95"][0] is not None and fit["ci95"][0] <= 0 < fit["ci95"][1]:
        res["ci95"] = [res["ci95"][0], None]   # the exponent's interval reaches 0: d_w unbounded above
    value, ci = res["value"], res["ci95"]
    alpha, alpha_ci = _transform(fit, lambda a: a / 2.0)
    res.update(alpha=alpha, alpha_ci95=alpha_ci, metric=met, starts=L.ids[st], start_depth=sd,
               start_rule=how, chunks=R, walkers=int(sum(sizes)), t_max=float(times[-1]),
               radius_max=target, msd={"t": times, "mean": mean, "stderr": se}, events=int(events))
    extra = " (graph distance: d_w / d_min on fractals embedded in space)" if met == "graph" else ""
    res["note"] = (f"d_w = {_g(value)} {_ci_str(ci)} (alpha = 1/d_w = {_g(alpha)}): MSD ~ t^(2/d_w), {met} "
                   f"distance{extra}, {int(sum(sizes))} walkers in {R} chunks from {len(st)} start(s), "
                   f"fitted on t = {_g(fit['range'][0])}..{_g(fit['range'][1])}")
    return _jsonable(res)


# ====================================================================== spectral dimension


def spectral_dimension(cm, *, method: str = "return", nodes=None, starts=None, t=None, k: int = 200,
                       seed: int = 0, walkers: int = 200_000, coords=None, metric: str = "auto",
                       n_times: int = 40, exact: bool | None = None, x_range=None) -> dict:
    r"""Spectral dimension ``d_s`` from the return probability and/or the low eigenvalues.

    ``method="return"``: ``P_0(t) ~ t^(-d_s/2)``, the probability to be back at the
    start node at time ``t``.  For up to :data:`EXACT_MAX_NODES` nodes (or ``exact=True``)
    it is exact, :func:`semdsl.solvers.exact.transient` from a delta at each start;
    otherwise ``walkers`` simulated walkers in :data:`CHUNKS` chunks cycling over the
    starts, with the start's indicator as observable (expensive: ``P_0`` is small).
    Times run from ``16 / q`` (``q`` the mean exit rate: some 16 hops, past the lattice
    regime, whose corrections are ``O(1/(q t))``) to the horizon where
    ``sqrt(<r^2>)`` reaches :data:`RETURN_EXTENT` times the start's depth (the MSD is
    computed along, exactly or from the walkers, and the later times are dropped).  The
    rows of the bootstrap are the per-start curves (per chunk when simulated); with a
    single start of an exact solution (or equivalent starts) there is no sampling noise
    and the interval is the drift of the local exponent across the window.

    ``method="eigen"``: the counting function ``N(lambda)`` -- the number of
    eigenvalues ``<= lambda`` -- of the lowest ``k`` eigenvalues of the symmetrised
    generator, by :func:`scipy.sparse.linalg.eigsh` in shift-invert mode around 0.
    The operator is ``-Q`` itself when the rates are symmetric (``Q[i, j] = Q[j, i]``,
    e.g. uniform rates: the weighted graph Laplacian), else
    ``-D^(1/2) Q D^(-1/2)`` with ``D = diag(pi)``, the stationary law, which is symmetric
    for a reversible chain (a non-reversible chain raises ``ValueError``).  ``N`` is
    taken at each distinct non-zero eigenvalue, at the midpoint of its step (the
    eigenvalues below it, the zero mode included, plus half its multiplicity: unbiased
    for the degenerate levels of symmetric lattices; the group cut by ``k`` is
    dropped), and ``N ~ lambda^(d_s/2)`` is fitted where ``N >= max(10, k/10)`` (the
    lowest modes reflect the system's overall shape).  Note: on an *open*
    ``d``-dimensional lattice ``N(lambda)`` carries Weyl's boundary term, relative size
    ``~ (perimeter / area) / sqrt(lambda)``, which lowers the fitted 2-D exponent by
    ~0.1 with ``k ~ 200`` (the 1-D open chain has none: ``N = n acos(1 - lambda/2)/pi``
    exactly); a periodic lattice has none either.

    ``method="both"``: the return-probability result, with the eigenvalue one under
    ``"eigen"`` (its failure is reported there, not raised).

    Returns
    -------
    dict
        Common fields; ``"return"`` results add ``starts``, ``exact``, ``curve``
        (``{"t", "P0", "msd"}``); ``"eigen"`` results add ``operator``, ``k``,
        ``eigenvalues`` (the lowest, zero mode first) and ``curve``
        (``{"lambda", "N"}``).
    """
    if method not in ("return", "eigen", "both"):
        raise ValueError(f"method must be 'return', 'eigen' or 'both', got {method!r}")
    L = _prepare(cm, nodes, coords)
    _need_connected(L, "the spectral dimension")
    if L.m < 16:
        raise ValueError(f"too few nodes ({L.m}) for a spectral-dimension fit")
    if method == "eigen":
        return _jsonable(_eigen(L, k, seed, x_range))
    res = _return_probability(L, starts, t, seed, walkers, metric, n_times, exact, x_range)
    if method == "both":
        try:
            res["eigen"] = _eigen(L, k, seed, None)
        except (ValueError, NumericalError, RuntimeError) as exc:
            res["eigen"] = {"quantity": "d_s", "value": None, "ci95": [None, None], "method": "eigen",
                            "error": str(exc), "note": f"d_s from the eigenvalues: not measured ({exc})"}
        res["note"] += f"; from the eigenvalues: d_s = {_g(res['eigen']['value'])} {_ci_str(res['eigen']['ci95'])}"
    return _jsonable(res)


def _return_probability(L: _Landscape, starts, t, seed, walkers, metric, n_times, exact, x_range) -> dict:
    walkers = _check_int(walkers, "walkers", 2)
    n_times = _check_int(n_times, "n_times", 6)
    met = _metric(L, metric)
    rng = np.random.default_rng(seed)
    depth = _depth(L, met)
    st, sd, how = _starts(L, met, starts, 4, rng, depth)
    target = RETURN_EXTENT * float(sd.min())
    if met == "euclidean" and target < L.h or met == "graph" and target < 1:
        raise ValueError(f"the start node(s) are too close to the boundary (depth {float(sd.min()):.3g}) "
                         "for a return-probability fit; use a larger system")
    use_exact = L.m <= EXACT_MAX_NODES if exact is None else bool(exact)
    d2s = [_sq_distance(L, int(s), met) for s in st]
    q = _mean_rate(L)
    capped = False
    if t is None:
        i = int(np.argmin(sd))
        t_hi, capped = _horizon(L, int(st[i]), d2s[i], target, seed)
        t_hi *= 1.5
    else:
        t_hi = None
    t_lo = 16.0 / q
    if t_hi is not None and t_hi <= MIN_SPAN * t_lo:
        raise ValueError(f"the walk reaches the boundary scale by t = {t_hi:.3g}, too soon after the "
                         f"lattice regime (t ~ {t_lo:.3g}); use a larger system")
    times, given = _time_grid(t, t_lo, t_hi if t_hi else 2 * t_lo, n_times)
    rows_p, rows_m, events = [], [], 0
    if use_exact:
        for s, d2 in zip(st, d2s):
            tr = transient(L.Q, _delta(L.m, int(s)), times)
            rows_p.append(tr.P[:, int(s)].copy())
            rows_m.append(tr.P @ d2)
    else:
        R = len(st) * math.ceil(CHUNKS / len(st))
        w = max(1, walkers // R)
        for r, sd_r in enumerate(_seeds(seed, R)):
            s = int(st[r % len(st)])
            ind = np.zeros(L.m)
            ind[s] = 1.0
            sim = simulate(L.Q, _delta(L.m, s), times, walkers=w, seed=sd_r,
                           observables=[ind, d2s[r % len(st)]], histogram=False,
                           chunk=max(1, -(-w // SUBCHUNKS)))
            rows_p.append(sim.obs_mean[0])
            rows_m.append(sim.obs_mean[1])
            events += sim.events
    P = np.array(rows_p)
    M = np.array(rows_m)
    p_mean, m_mean = P.mean(axis=0), M.mean(axis=0)
    warn: list[str] = []
    n_keep = _time_window(m_mean, target, given, capped, RETURN_EXTENT,
                          "the boundary may bias the return probability", warn)
    tt, pp, PP = times[:n_keep], p_mean[:n_keep], P[:, :n_keep]
    if n_keep < 6:
        warn.append(f"only {n_keep} sample times before the walk feels the boundary")
    samples = PP if PP.shape[0] >= 2 and not _degenerate(PP) else None
    fit = fit_powerlaw(tt, pp, samples=samples, x_range=x_range, rng=seed)
    res = _result("d_s", "return", tt, pp, fit, lambda a: -2.0 * a, use_exact and samples is None, warn,
                  samples, seed)
    value, ci = res["value"], res["ci95"]
    res.update(metric=met, exact=use_exact, starts=L.ids[st], start_depth=sd, start_rule=how,
               t_max=float(times[-1]), curve={"t": times, "P0": p_mean, "msd": m_mean})
    if not use_exact:
        res["walkers"] = int(w * len(rows_p))
        res["events"] = int(events)
    src = "exact transient solution" if use_exact else f"{res.get('walkers')} simulated walkers"
    res["note"] = (f"d_s = {_g(value)} {_ci_str(ci)}: return probability P0(t) ~ t^(-d_s/2) "
                   f"({src}, {len(st)} start(s)), fitted on t = {_g(fit['range'][0])}..{_g(fit['range'][1])}")
    return res


def _eigen(L: _Landscape, k: int, seed: int, x_range) -> dict:
    k = _check_int(k, "k", 10)
    m = L.m
    Q = L.Q
    qmax = float((-Q.diagonal()).max())
    if qmax <= 0:
        raise ValueError("the walk has no transitions on the selected nodes")
    asym = abs(Q - Q.T)
    if asym.nnz == 0 or asym.max() <= 1e-12 * qmax:
        op = (-Q).tocsc()
        operator = "graph Laplacian -Q (symmetric rates: the stationary law is uniform)"
    else:
        pi = stationary_distribution(Q)
        if np.any(pi <= 0):
            raise ValueError("the stationary law vanishes on some nodes: no symmetrisation")
        s = np.sqrt(pi)
        Sm = sp.diags(s) @ Q @ sp.diags(1.0 / s)
        if abs(Sm - Sm.T).max() > 1e-8 * qmax:
            raise ValueError("the eigenvalue method needs a reversible chain (detailed balance); this "
                             "generator is not reversible -- use method='return'")
        op = (-(Sm + Sm.T) * 0.5).tocsc()
        operator = "-D^(1/2) Q D^(-1/2), D = diag(stationary law) (reversible chain)"
    k_mem = int(EIGEN_MEMORY / (8.0 * m)) // 2 - 2
    k_eff = min(k, m - 3, k_mem)
    warn = []
    if k_eff < 10:
        raise ValueError(f"too few eigenvalues available ({k_eff}) for a fit: the graph has {m} nodes"
                         + (" and the Lanczos memory budget allows only that many" if k_mem < k else ""))
    if k_eff < k:
        warn.append(f"computed {k_eff} eigenvalues instead of {k} (size / memory)")
    v0 = np.random.default_rng(seed).random(m)
    sigma = -1e-6 * qmax
    try:
        lam = spla.eigsh(op, k=k_eff + 1, sigma=sigma, which="LM", return_eigenvectors=False, v0=v0,
                         ncv=min(m - 1, max(2 * (k_eff + 1) + 1, 20)))
    except spla.ArpackNoConvergence as exc:
        raise RuntimeError(f"ARPACK did not converge for the {k_eff + 1} lowest eigenvalues: {exc}") from exc
    lam = np.sort(lam.real)
    zero, rest = lam[0], lam[1:]
    if abs(zero) > 1e-6 * max(rest[0], 1e-300) and abs(zero) > 1e-9 * qmax:
        warn.append(f"the lowest eigenvalue {zero:.3g} is not numerically 0")
    # distinct eigenvalues (degenerate ones grouped); N at each is the midpoint of its step:
    # the eigenvalues below it (the zero mode included) plus half of its multiplicity
    brk = np.flatnonzero(np.diff(lam) > 1e-7 * np.abs(lam[1:]) + 1e-12 * qmax)
    last = np.concatenate([brk, [lam.size - 1]])
    mult = np.diff(np.concatenate([[-1], last]))
    lam_u = lam[last]
    N = (last + 1.0) - mult / 2.0
    keep = np.ones(lam_u.size, bool)
    keep[0] = False                        # the zero mode (lambda = 0 has no logarithm)
    keep[-1] = False                       # the last group may be cut by k
    lam_u, N = lam_u[keep], N[keep]
    pos = lam_u > 0
    lam_u, N = lam_u[pos], N[pos]
    n_min = max(10.0, k_eff / 10.0)
    sel = N >= n_min
    if sel.sum() < 4:
        raise ValueError(f"too few distinct eigenvalues ({int(sel.sum())}) above N = {n_min:g} for a fit")
    xr = x_range if x_range is not None else (float(lam_u[sel][0]), float(lam_u[-1]))
    fit = fit_powerlaw(lam_u, N, x_range=xr, rng=seed)
    res = _result("d_s", "eigen", lam_u, N, fit, lambda a: 2.0 * a, True, warn)
    value, ci = res["value"], res["ci95"]
    res.update(operator=operator, k=int(k_eff), eigenvalues=lam, curve={"lambda": lam_u, "N": N})
    res["note"] = (f"d_s = {_g(value)} {_ci_str(ci)}: eigenvalue counting N(lambda) ~ lambda^(d_s/2) of the "
                   f"{k_eff} lowest modes of the {operator.split(' (')[0]}, fitted on lambda = "
                   f"{_g(fit['range'][0])}..{_g(fit['range'][1])}")
    return res


# ====================================================================== distinct sites


def distinct_sites(cm, *, walkers: int, times, seed: int = 0, nodes=None, start=None) -> dict:
    r"""Mean number of distinct nodes visited by time ``t``, ``S(t)``, with standard errors.

    Walkers start from the model's initial law (restricted to ``nodes`` and
    renormalised) or from the model node ``start``; the start counts as visited.

    Returns
    -------
    dict
        ``{"times", "mean", "stderr", "walkers", "events", "mean_hops", "exit_rate"}``:
        ``mean_hops`` is the mean number of hops per walker by ``times[-1]`` (for a
        uniform exit rate ``q`` it is ``~ q t``, the map from continuous time to the
        step count of a discrete walk); ``exit_rate`` the start's exit rate (the
        mean over the initial law).
    """
    walkers = _check_int(walkers, "walkers", 1)
    L = _prepare(cm, nodes, False)
    times = np.atleast_1d(np.asarray(times, np.float64))
    if start is not None:
        pos = np.searchsorted(L.ids, int(start))
        if pos >= L.m or L.ids[pos] != int(start):
            raise ValueError(f"start node {start} is not among the selected nodes")
        p0 = _delta(L.m, int(pos))
    else:
        if L.init.sum() <= 0:
            raise ValueError("the model's initial law puts no mass on the selected nodes; give start=")
        p0 = L.init / L.init.sum()
    sim = simulate(L.Q, p0, times, walkers=walkers, seed=seed, track_visited=True, histogram=False)
    q = -L.Q.diagonal()
    return _jsonable({"times": times, "mean": sim.visited_mean, "stderr": sim.visited_stderr,
                      "walkers": walkers, "events": int(sim.events), "mean_hops": sim.events / walkers,
                      "exit_rate": float(p0 @ q), "seconds": sim.wall_time})


# ====================================================================== everything


def measure(cm, what=QUANTITIES, seed: int = 0, walkers: int = 2000, nodes=None) -> dict:
    """``d_f``, ``d_w`` and ``d_s`` of a compiled model, as a JSON-friendly dict.

    ``d_f``: :func:`fractal_dimension` (mass--radius, ``"auto"``); ``d_w``:
    :func:`walk_dimension` with ``walkers``; ``d_s``: :func:`spectral_dimension` with
    ``method="both"`` (the return probability is the value; the eigenvalue estimate is
    under ``"eigen"``; above :data:`EXACT_MAX_NODES` nodes the return probability is
    simulated with that function's default of 200000 walkers).  Each entry has a one-line
    ``note``.  Invalid arguments raise ``ValueError``; a quantity that cannot be measured on this landscape (e.g. not
    connected, too small) is reported as ``{"value": None, "error": "...", "note": ...}``
    and the others are still measured.

    Returns
    -------
    dict
        ``{"model", "nodes", "total_nodes", "seed", "walkers", "d_f": {...}, "d_w": {...},
        "d_s": {...}}`` (only the quantities asked for).
    """
    if isinstance(what, str):
        what = (what,)
    what = tuple(what)
    if not what:
        raise ValueError("nothing to measure: what is empty")
    for w in what:
        if w not in QUANTITIES:
            raise ValueError(f"unknown quantity {w!r}; choose from {', '.join(QUANTITIES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    walkers = _check_int(walkers, "walkers", 2)
    L = _prepare(cm, nodes)          # validates cm and nodes (raises on bad input)
    out: dict[str, Any] = {"model": L.name, "nodes": L.m, "total_nodes": L.n_total, "seed": int(seed),
                           "walkers": walkers, "components": L.n_components}
    calls = {
        "d_f": lambda: fractal_dimension(cm, nodes=nodes, seed=seed),
        "d_w": lambda: walk_dimension(cm, walkers=walkers, nodes=nodes, seed=seed),
        "d_s": lambda: spectral_dimension(cm, method="both", nodes=nodes, seed=seed),
    }
    for w in dict.fromkeys(what):
        t0 = _time.perf_counter()
        try:
            res = calls[w]()
        except (ValueError, NumericalError, RuntimeError) as exc:
            res = {"quantity": w, "value": None, "ci95": [None, None], "error": str(exc),
                   "note": f"{w}: not measured: {exc}"}
        res["seconds"] = round(_time.perf_counter() - t0, 3)
        out[w] = res
    return _jsonable(out)
