from __future__ import annotations

__doc__ = """Vectorised graph generators for ``semdsl``.

Every generator returns a :class:`GeneratedGraph`: a *dense index grid* of
``shape`` (all ``prod(shape)`` grid points are nodes), 1-based index tuples of
the nodes in C (row-major) order, float64 node attributes, and an undirected
edge list in which each edge appears exactly once with ``src < dst``.

Conventions shared by all generators
------------------------------------
* Node indices are **1-based**: along dimension ``k`` they run ``1..shape[k]``.
  Local node id ``i`` (``0 <= i < n``) is row ``i`` of ``index`` and
  ``np.ravel_multi_index(index.T - 1, shape) == np.arange(n)``.
* Edges are listed once, canonically oriented ``src < dst``; generated graphs are
  *simple* (no self-loops, no multi-edges).  ``edgelist`` rejects self-loops and
  merges repeated (identically weighted) lines, so this holds for it as well.
* Every generator takes the keyword arguments ``max_nodes`` (``None`` = no limit;
  checked *before* any allocation) and ``rng`` (a :class:`numpy.random.Generator`;
  required by the random generators, ignored by the deterministic ones).
* Integer-valued arguments accept Python/NumPy integers and integral floats
  (``3.0``); booleans, non-integral and non-finite values are rejected with
  :class:`GeneratorArgError`.
* No generator loops in Python over nodes or edges; the only Python loops run
  over dimensions, lattice directions, recursion levels, or (bounded) retry
  rounds.
"""

import math
import operator
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

__all__ = [
    "GeneratedGraph",
    "GeneratorArgError",
    "GeneratorSpec",
    "GENERATORS",
    "lattice",
    "triangular",
    "honeycomb",
    "sierpinski",
    "tree",
    "erdos_renyi",
    "random_regular",
    "edgelist",
]

_SQRT3_2 = math.sqrt(3.0) / 2.0


# ---------------------------------------------------------------------------
# Result type and error type
# ---------------------------------------------------------------------------


class GeneratorArgError(ValueError):
    """Invalid argument passed to a graph generator.

    Parameters
    ----------
    message : str
        Human readable description of the problem.
    arg : str or None
        Name of the offending argument (as listed in :data:`GENERATORS`), or
        ``None`` if the problem is not attributable to a single argument.
    """

    def __init__(self, message: str, arg: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.arg = arg

    def __reduce__(self):  # keep picklable with the two-argument signature
        return (type(self), (self.message, self.arg))


@dataclass(frozen=True, eq=False)
class GeneratedGraph:
    """A generated undirected graph on a dense 1-based index grid.

    Attributes
    ----------
    shape : tuple of int
        Extent of each index dimension.  The graph has
        ``n = prod(shape)`` nodes, one per grid point.
    index : numpy.ndarray
        ``int64`` array of shape ``(n, len(shape))``; row ``i`` is the 1-based
        index tuple of local node ``i``.  Rows are in C order, i.e.
        ``np.ravel_multi_index(index.T - 1, shape) == np.arange(n)``.
    attrs : dict of str to numpy.ndarray
        Node attributes, ``float64`` arrays of length ``n``.
    src, dst : numpy.ndarray
        ``int64`` arrays of length ``m`` with the local ids of the edge end
        points; each undirected edge appears once, with ``src < dst``.
    edge_attrs : dict of str to numpy.ndarray
        Edge attributes, ``float64`` arrays of length ``m`` aligned with
        ``src``/``dst`` (e.g. ``"weight"`` from :func:`edgelist`).
    node_labels : numpy.ndarray or None
        Original node labels (:func:`edgelist` only; a ``str`` array of length
        ``n``), ``None`` for the other generators.

    Notes
    -----
    The dataclass is frozen and compares by identity (arrays are not
    element-wise compared or hashed).
    """

    shape: tuple[int, ...]
    index: np.ndarray
    attrs: dict[str, np.ndarray]
    src: np.ndarray
    dst: np.ndarray
    edge_attrs: dict[str, np.ndarray] = field(default_factory=dict)
    node_labels: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of nodes, ``prod(shape)``."""
        return int(self.index.shape[0])

    @property
    def m(self) -> int:
        """Number of (undirected) edges."""
        return int(self.src.shape[0])


# ---------------------------------------------------------------------------
# Argument validation helpers
# ---------------------------------------------------------------------------


def _int_arg(value: Any, name: str, minimum: int | None = None) -> int:
    """Validate an integer argument.

    Accepts integers (anything with ``__index__``, e.g. ``numpy.int64`` or
    ``sympy.Integer``) and integral real numbers (``3.0``); rejects booleans,
    strings, non-integral and non-finite values.
    """
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise GeneratorArgError(f"{name} must be an integer, got {value!r}", name)
    try:
        out = operator.index(value)
    except TypeError:
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise GeneratorArgError(
                f"{name} must be an integer, got {type(value).__name__} {value!r}", name
            ) from None
        if not math.isfinite(f) or not f.is_integer():
            raise GeneratorArgError(f"{name} must be an integer, got {value!r}", name)
        out = int(f)
    if minimum is not None and out < minimum:
        raise GeneratorArgError(f"{name} must be >= {minimum}, got {out}", name)
    return out


def _float_arg(value: Any, name: str) -> float:
    """Validate a finite real argument (anything ``float()`` accepts except
    booleans and strings)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise GeneratorArgError(f"{name} must be a real number, got {value!r}", name)
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise GeneratorArgError(f"{name} must be a real number, got {value!r}", name) from None
    if not math.isfinite(out):
        raise GeneratorArgError(f"{name} must be finite, got {value!r}", name)
    return out


def _bool_arg(value: Any, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise GeneratorArgError(f"{name} must be true or false, got {value!r}", name)


_MAX_NODES = 2**62  # beyond this, int64 ids / numpy sizes overflow


def _check_max_nodes(n: int, max_nodes: Any, what: str) -> None:
    """Raise if the node count ``n`` (a Python int) exceeds ``max_nodes``.

    Also rejects counts that could never be allocated (``n > 2**62``), with
    ``arg=None`` when no ``max_nodes`` limit was given.
    """
    if max_nodes is not None:
        limit = _int_arg(max_nodes, "max_nodes", minimum=0)
        if n > limit:
            shown = str(n) if n < 10**30 else f"about 10**{len(str(n)) - 1}"
            raise GeneratorArgError(
                f"{what} would have {shown} nodes, more than the limit max_nodes={limit}",
                "max_nodes",
            )
    if n > _MAX_NODES:
        shown = str(n) if n < 10**30 else f"about 10**{len(str(n)) - 1}"
        raise GeneratorArgError(f"{what} would have {shown} nodes, far too many", None)


def _check_rng(rng: Any, what: str) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        raise GeneratorArgError(
            f"{what} is random and needs a numpy.random.Generator (rng)", "rng"
        )
    raise GeneratorArgError(
        f"rng must be a numpy.random.Generator, got {type(rng).__name__}", "rng"
    )


# ---------------------------------------------------------------------------
# Array helpers
# ---------------------------------------------------------------------------


def _strides(shape: Sequence[int]) -> list[int]:
    """C-order strides (in elements) of a grid of ``shape``."""
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    return strides


def _grid_coords(shape: Sequence[int]) -> tuple[np.ndarray, list[np.ndarray]]:
    r"""Local ids ``0..n-1`` and their 0-based coordinates along each dimension.

    With C-order strides :math:`s_k`, :math:`c_k = \lfloor i / s_k \rfloor \bmod L_k`.
    """
    n = math.prod(shape)
    ids = np.arange(n, dtype=np.int64)
    coords = []
    for k, (L, s) in enumerate(zip(shape, _strides(shape))):
        c = ids // s if s > 1 else ids.copy()
        if k > 0:  # the slowest index needs no reduction
            c %= L
        coords.append(c)
    return ids, coords


def _index_array(coords: list[np.ndarray], n: int) -> np.ndarray:
    index = np.empty((n, len(coords)), dtype=np.int64)
    for k, c in enumerate(coords):
        np.add(c, 1, out=index[:, k])
    return index


def _offset_edges(
    ids: np.ndarray,
    coords: list[np.ndarray],
    shape: Sequence[int],
    offset: Sequence[int],
    periodic: bool,
    src_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Edges ``v -> v + offset`` of a grid (wrapped modulo ``shape`` if periodic).

    Returns canonically oriented ``(min, max)`` id pairs.  Self-loops (possible
    only when wrapping a dimension of extent 1) are dropped; duplicates are
    *not* removed here (see :func:`_dedupe`).
    """
    strides = _strides(shape)
    mask = src_mask.copy() if src_mask is not None else np.ones(ids.shape[0], dtype=bool)
    delta = np.zeros(ids.shape[0], dtype=np.int64) if periodic else None
    const = 0
    for c, L, s, o in zip(coords, shape, strides, offset):
        if o == 0:
            continue
        const += o * s
        t = c + o
        if periodic:
            # wrapped coordinate: t mod L; the correction (wrapped - t) * stride
            over = t >= L
            under = t < 0
            if over.any():
                delta[over] -= L * s * ((t[over]) // L)
            if under.any():
                delta[under] -= L * s * ((t[under]) // L)
        else:
            mask &= (t >= 0) & (t < L)
    a = ids[mask]
    b = a + const
    if periodic:
        b += delta[mask]
        keep = a != b
        a, b = a[keep], b[keep]
    return np.minimum(a, b), np.maximum(a, b)


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values of ``x`` (sort-based; ``np.unique`` without
    ``return_*`` switched to a much slower hash table in NumPy 2.3+)."""
    s = np.sort(x)
    if s.shape[0] == 0:
        return s
    keep = np.empty(s.shape[0], dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _dedupe(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove repeated canonical edges ``(src <= dst)``, keeping first occurrences."""
    key = src * np.int64(n) + dst
    _, first = np.unique(key, return_index=True)
    first.sort()
    return src[first], dst[first]


def _grid_graph(
    shape: tuple[int, ...],
    offsets: Sequence[tuple[Sequence[int], np.ndarray | None]] | Callable,
    periodic: bool,
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, np.ndarray]:
    ids, coords = _grid_coords(shape)
    if callable(offsets):
        offsets = offsets(coords)
    parts_s, parts_d = [], []
    for off, m in offsets:
        s, d = _offset_edges(ids, coords, shape, off, periodic, m)
        parts_s.append(s)
        parts_d.append(d)
    src = np.concatenate(parts_s) if parts_s else np.empty(0, np.int64)
    dst = np.concatenate(parts_d) if parts_d else np.empty(0, np.int64)
    if periodic and min(shape) <= 2:
        # wrapping a dimension of extent <= 2 can revisit an existing edge
        src, dst = _dedupe(src, dst, len(ids))
    return ids, coords, src, dst


# ---------------------------------------------------------------------------
# Lattices
# ---------------------------------------------------------------------------


def lattice(
    *dims: int,
    periodic: bool = False,
    max_nodes: int | None = None,
    rng: np.random.Generator | None = None,
) -> GeneratedGraph:
    r"""Hypercubic lattice :math:`\{1..L_1\} \times \dots \times \{1..L_d\}`.

    Nodes are the integer points :math:`v = (i_1, \dots, i_d)`,
    :math:`1 \le i_k \le L_k`; :math:`u \sim v` iff :math:`\|u - v\|_1 = 1`
    (nearest neighbours).  With ``periodic=True`` every index is taken modulo
    :math:`L_k`, i.e. the graph is the Cartesian product of cycles
    :math:`C_{L_1} \square \dots \square C_{L_d}`; wrapping a dimension of
    extent 2 adds no duplicate edge and wrapping extent 1 adds no self-loop.

    Parameters
    ----------
    *dims : int
        Extents :math:`L_1, \dots, L_d \ge 1` (``d >= 1``).  ``shape = dims``.
        A single tuple/list of extents is accepted too.
    periodic : bool, default False
        Wrap every dimension (torus).
    max_nodes : int, optional
        Refuse to build more than this many nodes.
    rng : numpy.random.Generator, optional
        Ignored (accepted for a uniform generator interface).

    Returns
    -------
    GeneratedGraph
        ``n = prod(dims)`` nodes, index rows in C order (last index fastest).
        Open boundaries: :math:`m = \sum_k (L_k - 1) \prod_{l \ne k} L_l`.
        Node attributes ``x, y, z`` (for ``d <= 3``; ``x1..xd`` for ``d > 3``)
        are the 1-based indices along each dimension, as floats.
    """
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if len(dims) == 0:
        raise GeneratorArgError("lattice needs at least one dimension size", "dims")
    shape = tuple(_int_arg(L, "dims", minimum=1) for L in dims)
    periodic = _bool_arg(periodic, "periodic")
    n = math.prod(shape)
    _check_max_nodes(n, max_nodes, f"lattice{shape}")
    d = len(shape)

    offsets = []
    for k in range(d):
        off = [0] * d
        off[k] = 1
        offsets.append((off, None))
    ids, coords, src, dst = _grid_graph(shape, offsets, periodic)

    names = ("x", "y", "z")[:d] if d <= 3 else tuple(f"x{k + 1}" for k in range(d))
    attrs = {name: (c + 1).astype(np.float64) for name, c in zip(names, coords)}
    return GeneratedGraph(shape, _index_array(coords, n), attrs, src, dst)


def triangular(
    L1: int,
    L2: int,
    periodic: bool = False,
    *,
    max_nodes: int | None = None,
    rng: np.random.Generator | None = None,
) -> GeneratedGraph:
    r"""Triangular lattice on an :math:`L_1 \times L_2` parallelogram.

    Nodes are :math:`(i, j)`, :math:`1 \le i \le L_1`, :math:`1 \le j \le L_2`.
    Each node is joined to :math:`(i \pm 1, j)`, :math:`(i, j \pm 1)` and
    :math:`(i \pm 1, j \pm 1)` (the square grid plus the diagonal
    :math:`(i, j) - (i+1, j+1)`), giving coordination 6 in the bulk.

    Euclidean positions use the lattice vectors
    :math:`a_1 = (1, 0)`, :math:`a_2 = (-1/2, \sqrt{3}/2)`:

    .. math:: r(i, j) = (i - 1) a_1 + (j - 1) a_2, \quad
              x = (i - 1) - (j - 1)/2, \quad y = (j - 1)\sqrt{3}/2,

    so that :math:`a_1`, :math:`a_2` and :math:`a_1 + a_2 = (1/2, \sqrt3/2)`
    all have unit length and every edge has length 1 (node ``(1, 1)`` at the
    origin).  With ``periodic=True`` both indices wrap (a 6-regular torus when
    :math:`L_1, L_2 \ge 3`); duplicate edges and self-loops produced by
    wrapping extents 1 or 2 are removed.

    Parameters
    ----------
    L1, L2 : int
        Extents of the two index dimensions (>= 1).  ``shape = (L1, L2)``.
    periodic : bool, default False
        Wrap both dimensions.
    max_nodes : int, optional
        Refuse to build more than this many nodes.
    rng : numpy.random.Generator, optional
        Ignored.

    Returns
    -------
    GeneratedGraph
        ``n = L1*L2``; open boundaries give
        :math:`m = (L_1-1)L_2 + L_1(L_2-1) + (L_1-1)(L_2-1)` edges.
        Attributes ``x``, ``y``.
    """
    L1 = _int_arg(L1, "L1", minimum=1)
    L2 = _int_arg(L2, "L2", minimum=1)
    periodic = _bool_arg(periodic, "periodic")
    shape = (L1, L2)
    n = L1 * L2
    _check_max_nodes(n, max_nodes, f"triangular({L1}, {L2})")
    offsets = [((1, 0), None), ((0, 1), None), ((1, 1), None)]
    ids, (ci, cj), src, dst = _grid_graph(shape, offsets, periodic)
    attrs = {
        "x": ci.astype(np.float64) - 0.5 * cj,
        "y": cj * _SQRT3_2,
    }
    return GeneratedGraph(shape, _index_array([ci, cj], n), attrs, src, dst)


def honeycomb(
    L1: int,
    L2: int,
    periodic: bool = False,
    *,
    max_nodes: int | None = None,
    rng: np.random.Generator | None = None,
) -> GeneratedGraph:
    r"""Honeycomb (hexagonal) lattice in the brick-wall representation.

    Nodes are :math:`(i, j)`, :math:`1 \le i \le L_1` (position along a
    zig-zag row), :math:`1 \le j \le L_2` (row).  Edges:

    * horizontal: :math:`(i, j) - (i + 1, j)`;
    * vertical: :math:`(i, j) - (i, j + 1)` whenever :math:`i + j` is even.

    Every bulk node thus has two horizontal neighbours and exactly one
    vertical neighbour (up if :math:`i + j` is even, down otherwise):
    coordination 3.  Corner nodes may have degree 1 (the full rectangular
    grid is kept, so ``shape = (L1, L2)``).  With ``periodic=True`` both
    indices wrap; this needs :math:`L_1` and :math:`L_2` even so that the
    parity rule is consistent across the seam (the result is a 3-regular
    bipartite torus when :math:`L_1 \ge 4`).  ``honeycomb(2m+2, n+1)`` is
    ``networkx.hexagonal_lattice_graph(m, n)`` before networkx deletes its two
    degree-1 corners, and ``honeycomb(2m, n, periodic=True)`` equals
    ``hexagonal_lattice_graph(m, n, periodic=True)`` (networkx node
    ``(a, b)`` is our 0-based ``(b, a)``).

    Euclidean positions (unit bond length; zig-zag rows along :math:`x`):

    .. math:: x = (i - 1)\frac{\sqrt3}{2}, \quad
              y = \frac{3}{2}(j - 1) + \frac{1}{2}[\,i + j \text{ even}\,].

    Parameters
    ----------
    L1, L2 : int
        Extents (>= 1; even if ``periodic``).
    periodic : bool, default False
        Wrap both dimensions.
    max_nodes : int, optional
        Refuse to build more than this many nodes.
    rng : numpy.random.Generator, optional
        Ignored.

    Returns
    -------
    GeneratedGraph
        ``n = L1*L2`` nodes; attributes ``x``, ``y``.
    """
    L1 = _int_arg(L1, "L1", minimum=1)
    L2 = _int_arg(L2, "L2", minimum=1)
    periodic = _bool_arg(periodic, "periodic")
    if periodic:
        for name, L in (("L1", L1), ("L2", L2)):
            if L % 2:
                raise GeneratorArgError(
                    f"periodic honeycomb needs even sizes, got {name}={L}", name
                )
    shape = (L1, L2)
    n = L1 * L2
    _check_max_nodes(n, max_nodes, f"honeycomb({L1}, {L2})")

    def offsets(coords):
        ci, cj = coords
        up = ((ci + cj) & 1) == 0  # (i + j) even  <=>  (i0 + j0) even
        return [((1, 0), None), ((0, 1), up)]

    ids, (ci, cj), src, dst = _grid_graph(shape, offsets, periodic)
    top = ((ci + cj) & 1) == 0
    attrs = {
        "x": ci * _SQRT3_2,
        "y": 1.5 * cj + 0.5 * top,
    }
    return GeneratedGraph(shape, _index_array([ci, cj], n), attrs, src, dst)


# ---------------------------------------------------------------------------
# Sierpinski gasket and trees
# ---------------------------------------------------------------------------


def _sierpinski_size(level: int) -> int:
    return 3 * (3**level + 1) // 2


def sierpinski(
    level: int,
    *,
    max_nodes: int | None = None,
    rng: np.random.Generator | None = None,
) -> GeneratedGraph:
    r"""Sierpinski gasket graph :math:`SG_g` of level :math:`g`.

    :math:`SG_0` is a triangle.  :math:`SG_{g+1}` consists of three copies of
    :math:`SG_g` translated by :math:`0`, :math:`2^g a_1` and :math:`2^g a_2`
    (:math:`a_1 = (1, 0)`, :math:`a_2 = (1/2, \sqrt3/2)`), with coinciding
    corner nodes merged.  Hence

    .. math:: n_g = \tfrac{3}{2}(3^g + 1), \qquad m_g = 3^{g+1},

    every node has degree 4 except the three outer corners (degree 2).

    The construction recurses over levels on integer lattice coordinates
    :math:`(u, v)` (position :math:`u a_1 + v a_2`); the merge uses
    ``np.unique`` on the packed coordinates, so each level costs
    :math:`O(n_g \log n_g)`.

    Parameters
    ----------
    level : int
        :math:`g \ge 0`.
    max_nodes : int, optional
        Refuse to build more than this many nodes.
    rng : numpy.random.Generator, optional
        Ignored.

    Returns
    -------
    GeneratedGraph
        ``shape = (n_g,)``; nodes sorted by :math:`(v, u)` (bottom row first,
        left to right).  Attributes ``x = u + v/2``, ``y = v\sqrt3/2``: the
        outer corners are at :math:`(0, 0)`, :math:`(2^g, 0)` and
        :math:`(2^{g-1}, 2^{g-1}\sqrt3)` (side length :math:`2^g`, unit edges).
    """
    level = _int_arg(level, "level", minimum=0)
    if level > 38:  # > 10**18 nodes; packed coordinates would overflow int64
        raise GeneratorArgError(
            f"sierpinski({level}) would have more than 10**18 nodes",
            "max_nodes" if max_nodes is not None else "level",
        )
    n_total = _sierpinski_size(level)
    _check_max_nodes(n_total, max_nodes, f"sierpinski({level})")

    u = np.array([0, 1, 0], dtype=np.int64)
    v = np.array([0, 0, 1], dtype=np.int64)
    src = np.array([0, 1, 0], dtype=np.int64)
    dst = np.array([1, 2, 2], dtype=np.int64)
    for g in range(level):
        side = np.int64(1) << g  # side length of the current gasket
        nn = u.shape[0]
        U = np.concatenate([u, u + side, u])
        V = np.concatenate([v, v, v + side])
        S = np.concatenate([src, src + nn, src + 2 * nn])
        D = np.concatenate([dst, dst + nn, dst + 2 * nn])
        width = 2 * side + 1
        key = V * width + U  # sort by (v, u)
        uniq, inv = np.unique(key, return_inverse=True)
        inv = inv.reshape(-1)
        u = uniq % width
        v = uniq // width
        src = inv[S]
        dst = inv[D]
    a, b = np.minimum(src, dst), np.maximum(src, dst)
    n = u.shape[0]
    assert n == n_total and a.shape[0] == 3 ** (level + 1)
    attrs = {
        "x": u + 0.5 * v,
        "y": v * _SQRT3_2,
    }
    index = np.arange(1, n + 1, dtype=np.int64).reshape(n, 1)
    return GeneratedGraph((n,), index, attrs, a, b)


def tree(
    branching: int,
    depth: int,
    *,
    max_nodes: int | None = None,
    rng: np.random.Generator | None = None,
) -> GeneratedGraph:
    r"""Complete (balanced) ``branching``-ary tree of the given depth.

    The root has depth 0, leaves depth :math:`h` = ``depth``; with
    :math:`b` = ``branching``

    .. math:: n = \sum_{k=0}^{h} b^k, \qquad m = n - 1.

    Nodes are numbered in breadth-first order: node :math:`i \ge 1` has parent
    :math:`\lfloor (i - 1)/b \rfloor` and the children of :math:`i` are
    :math:`bi + 1, \dots, bi + b` (the labelling of
    ``networkx.balanced_tree``).  ``branching = 1`` gives a path.

    Parameters
    ----------
    branching : int
        :math:`b \ge 1`.
    depth : int
        :math:`h \ge 0`.
    max_nodes : int, optional
        Refuse to build more than this many nodes.
    rng : numpy.random.Generator, optional
        Ignored.

    Returns
    -------
    GeneratedGraph
        ``shape = (n,)``, edges ``(parent, child)`` in child order; attribute
        ``depth`` (float).
    """
    b = _int_arg(branching, "branching", minimum=1)
    h = _int_arg(depth, "depth", minimum=0)
    if b > 1 and h * math.log2(b) > 4096:  # don't even form the huge integer
        raise GeneratorArgError(
            f"tree({b}, {h}) would have more than 2**4096 nodes",
            "max_nodes" if max_nodes is not None else "depth",
        )
    n = h + 1 if b == 1 else (b ** (h + 1) - 1) // (b - 1)
    _check_max_nodes(n, max_nodes, f"tree({b}, {h})")
    child = np.arange(1, n, dtype=np.int64)
    parent = (child - 1) // b
    if b == 1:
        depth_attr = np.arange(n, dtype=np.float64)
    else:  # loop over levels only
        level_sizes = np.array([b**k for k in range(h + 1)], dtype=np.int64)
        depth_attr = np.repeat(np.arange(h + 1, dtype=np.float64), level_sizes)
    index = np.arange(1, n + 1, dtype=np.int64).reshape(n, 1)
    return GeneratedGraph((n,), index, {"depth": depth_attr}, parent, child)


# ---------------------------------------------------------------------------
# Random graphs
# ---------------------------------------------------------------------------


def _sample_distinct(N: int, M: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform random ``M``-subset of ``{0, ..., N-1}``, sorted, in O(M) memory.

    Draw ``M`` values with replacement and de-duplicate (set ``S``); while
    ``|S| < M``, draw more values, keep the distinct ones not in ``S`` and add
    a uniform random subset of them of the missing size.  Each step adds a
    uniform subset of the complement of ``S`` whose size depends only on
    ``|S|``, so by exchangeability the final set is a uniform ``M``-subset.
    For ``M > N/2`` the complement (``N - M < N/2`` values) is sampled.
    """
    if M <= 0:
        return np.empty(0, dtype=np.int64)
    if M >= N:
        return np.arange(N, dtype=np.int64)
    if 2 * M > N:
        excluded = _sample_distinct(N, N - M, rng)
        keep = np.ones(N, dtype=bool)
        keep[excluded] = False
        return np.flatnonzero(keep).astype(np.int64, copy=False)
    S = _sorted_unique(rng.integers(0, N, size=M, dtype=np.int64))
    while S.shape[0] < M:
        need = M - S.shape[0]
        # a draw is new with probability 1 - |S|/N >= 1/2
        draw = int(need * N / (N - S.shape[0]) * 1.2) + 16
        new = _sorted_unique(rng.integers(0, N, size=draw, dtype=np.int64))
        new = new[~_in_sorted(new, S)]
        if new.shape[0] > need:
            new = np.sort(rng.choice(new, size=need, replace=False))
        S = np.insert(S, np.searchsorted(S, new), new)
    return S


def _unrank_pairs(lin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Invert :math:`\ell = j(j-1)/2 + i` (:math:`0 \le i < j`) elementwise.

    The float estimate :math:`j = \lfloor (1 + \sqrt{1 + 8\ell})/2 \rfloor` is
    corrected in exact integer arithmetic until
    :math:`j(j-1)/2 \le \ell < j(j+1)/2`.
    """
    j = np.floor((1.0 + np.sqrt(1.0 + 8.0 * lin.astype(np.float64))) / 2.0).astype(np.int64)
    for _ in range(64):  # converges in <= 1-2 rounds; bound for safety
        lo = j * (j - 1) // 2
        too_big = lo > lin
        too_small = (lo + j) <= lin  # j(j+1)/2 <= lin
        if not (too_big.any() or too_small.any()):
            break
        j = j - too_big + too_small
    i = lin - j * (j - 1) // 2
    return i, j


_ER_DENSE_P = 0.05  # from this p on, Bernoulli trials over all pairs are cheaper
_ER_CHUNK = 1 << 22  # pair ranks per chunk in the dense case


def erdos_renyi(
    n: int,
    mean_degree: float | None = None,
    p: float | None = None,
    rng: np.random.Generator | None = None,
    *,
    max_nodes: int | None = None,
) -> GeneratedGraph:
    r"""Erdős–Rényi random graph :math:`G(n, p)`.

    Each of the :math:`N = n(n-1)/2` unordered pairs is an edge independently
    with probability :math:`p`; give either ``p`` or ``mean_degree``
    :math:`\bar k`, with :math:`p = \bar k / (n - 1)` (exactly one of them).

    Pairs are identified by their rank :math:`\ell = j(j-1)/2 + i` in
    :math:`[0, N)`.  For :math:`p < 0.05` (the sparse case) sampling never
    touches all :math:`N` pairs: the edge count is drawn as
    :math:`M \sim \mathrm{Binomial}(N, p)`, then a uniform :math:`M`-subset of
    ranks (see :func:`_sample_distinct`).  For :math:`p \ge 0.05` (or
    :math:`N \le 2^{22}`) each rank is kept by an independent Bernoulli
    trial, in chunks of :math:`2^{22}` ranks, so memory is
    :math:`O(M + 2^{22})` with :math:`M \approx pN \ge N/20`.  Both give
    exactly :math:`G(n, p)`.  Ranks are unranked in closed form,
    :math:`j = \lfloor (1 + \sqrt{1 + 8\ell})/2 \rfloor`,
    :math:`i = \ell - j(j-1)/2`, with an exact integer correction of the
    floating-point square root.  Time :math:`O(M \log M)` (sparse).

    Parameters
    ----------
    n : int
        Number of nodes (>= 1, <= 2**31).
    mean_degree : float, optional
        Expected degree :math:`\bar k \in [0, n-1]`.
    p : float, optional
        Edge probability in :math:`[0, 1]`.
    rng : numpy.random.Generator
        Random source (required).
    max_nodes : int, optional
        Refuse to build more than this many nodes.

    Returns
    -------
    GeneratedGraph
        ``shape = (n,)``; edges sorted by :math:`(j, i)` with ``src = i < dst = j``;
        no node attributes.
    """
    n = _int_arg(n, "n", minimum=1)
    if (mean_degree is None) == (p is None):
        raise GeneratorArgError(
            "erdos_renyi needs exactly one of mean_degree and p",
            "mean_degree" if mean_degree is not None else None,
        )
    if p is not None:
        p = _float_arg(p, "p")
        if not 0.0 <= p <= 1.0:
            raise GeneratorArgError(f"p must lie in [0, 1], got {p}", "p")
    else:
        mean_degree = _float_arg(mean_degree, "mean_degree")
        if mean_degree < 0:
            raise GeneratorArgError(f"mean_degree must be >= 0, got {mean_degree}", "mean_degree")
        if mean_degree > n - 1:
            raise GeneratorArgError(
                f"mean_degree must be <= n - 1 = {n - 1}, got {mean_degree}", "mean_degree"
            )
        p = mean_degree / (n - 1) if n > 1 else 0.0
    _check_max_nodes(n, max_nodes, f"erdos_renyi({n})")
    if n > 2**31:
        raise GeneratorArgError(f"erdos_renyi supports n <= 2**31, got {n}", "n")
    rng = _check_rng(rng, "erdos_renyi")

    N = n * (n - 1) // 2
    if N == 0 or p == 0.0:
        lin = np.empty(0, dtype=np.int64)
    elif p >= _ER_DENSE_P or N <= _ER_CHUNK:
        # dense: independent Bernoulli trials, in chunks of pair ranks
        parts = []
        for start in range(0, N, _ER_CHUNK):
            size = min(_ER_CHUNK, N - start)
            parts.append(np.flatnonzero(rng.random(size) < p) + np.int64(start))
        lin = np.concatenate(parts)
    else:
        lin = _sample_distinct(N, int(rng.binomial(N, p)), rng)
    i, j = _unrank_pairs(lin)
    index = np.arange(1, n + 1, dtype=np.int64).reshape(n, 1)
    return GeneratedGraph((n,), index, {}, i, j)


def _bad_pairs(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """Mask of pairs that are self-loops or repeats of an earlier pair."""
    return _pair_status(u, v, n)[0]


def _pair_status(u: np.ndarray, v: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(bad mask, sorted canonical keys) of the pairs ``(u, v)``.

    A pair is bad if it is a self-loop or a repeat of an *earlier* pair with
    the same key.  Uses one plain sort of all keys; only the (few) repeated
    keys are handled with a stable argsort.
    """
    key = np.minimum(u, v) * np.int64(n) + np.maximum(u, v)
    ks = np.sort(key)
    bad = u == v
    rep = ks[1:][ks[1:] == ks[:-1]]
    if rep.shape[0]:
        cand = np.flatnonzero(_in_sorted(key, rep))
        bad[cand[~_first_occurrence(key[cand])]] = True
    return bad, ks


def _in_sorted(x: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Elementwise membership of ``x`` in the sorted array ``sorted_keys``."""
    if sorted_keys.shape[0] == 0:
        return np.zeros(x.shape, dtype=bool)
    pos = np.searchsorted(sorted_keys, x)
    np.minimum(pos, sorted_keys.shape[0] - 1, out=pos)
    return sorted_keys[pos] == x


def _first_occurrence(x: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of each value of ``x``."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    first_sorted = np.ones(xs.shape[0], dtype=bool)
    first_sorted[1:] = xs[1:] != xs[:-1]
    first = np.empty_like(first_sorted)
    first[order] = first_sorted
    return first


def _regular_pairing(
    n: int, k: int, rng: np.random.Generator, max_rounds: int = 1000, max_restarts: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    r"""Configuration-model pairing repaired by vectorised switchings.

    The :math:`nk` stubs are shuffled and paired consecutively.  Then, in
    rounds, every *bad* pair :math:`\{a, b\}` (a self-loop or a repeat of
    another pair) proposes a switching with a uniformly chosen good pair
    :math:`\{c, d\}` (random orientation):
    :math:`\{a,b\},\{c,d\} \to \{a,c\},\{b,d\}`.  A proposal is accepted
    only if both new pairs are non-loops, are not present in the current
    pairing and are not produced by another proposal of the round, and its
    partner is not claimed by another proposal; degrees are unchanged and the
    number of bad pairs strictly decreases with each accepted switching.
    Meant for :math:`k \le (n-1)/2`, where a proposal succeeds with
    probability about :math:`(1 - k/n)^2 \ge 1/4`.
    """
    m = n * k // 2
    nn = np.int64(n)
    stubs = np.repeat(np.arange(n, dtype=np.int64), k)
    for _ in range(max_restarts):
        rng.shuffle(stubs)
        u = stubs[0::2].copy()
        v = stubs[1::2].copy()
        # state: bad mask and the sorted multiset ``ks`` of all pair keys,
        # both updated incrementally (one full sort per restart)
        isbad, ks = _pair_status(u, v, n)
        for _ in range(max_rounds):
            B = np.flatnonzero(isbad)
            nb = B.shape[0]
            if nb == 0:
                return u, v
            P = rng.integers(0, m, size=nb, dtype=np.int64)
            ok = ~isbad[P] & _first_occurrence(P)
            flip = rng.random(nb) < 0.5
            c = np.where(flip, v[P], u[P])
            d = np.where(flip, u[P], v[P])
            a, b = u[B], v[B]
            ok &= (a != c) & (b != d)
            k1 = np.minimum(a, c) * nn + np.maximum(a, c)
            k2 = np.minimum(b, d) * nn + np.maximum(b, d)
            ok &= ~_in_sorted(k1, ks) & ~_in_sorted(k2, ks)
            idx = np.flatnonzero(ok)
            if idx.shape[0] == 0:
                continue
            # reject proposals whose new keys collide with each other
            keys = np.concatenate([k1[idx], k2[idx]])
            order = np.argsort(keys, kind="stable")
            srt = keys[order]
            dup_s = np.zeros(srt.shape[0], dtype=bool)
            same = srt[1:] == srt[:-1]
            dup_s[1:] |= same
            dup_s[:-1] |= same
            dup = np.empty_like(dup_s)
            dup[order] = dup_s
            acc = idx[~(dup[: idx.shape[0]] | dup[idx.shape[0]:])]
            if acc.shape[0] == 0:
                continue
            Ba, Pa = B[acc], P[acc]
            removed = np.concatenate([
                np.minimum(u[Ba], v[Ba]) * nn + np.maximum(u[Ba], v[Ba]),
                np.minimum(u[Pa], v[Pa]) * nn + np.maximum(u[Pa], v[Pa]),
            ])
            u[Ba], v[Ba] = a[acc], c[acc]
            u[Pa], v[Pa] = b[acc], d[acc]
            isbad[Ba] = False
            # multiset update of ks: delete removed keys, insert the new ones
            removed.sort()
            grp_start = np.searchsorted(removed, removed, side="left")
            pos = np.searchsorted(ks, removed, side="left") + (
                np.arange(removed.shape[0]) - grp_start
            )
            ks = np.delete(ks, pos)
            added = np.sort(np.concatenate([k1[acc], k2[acc]]))
            ks = np.insert(ks, np.searchsorted(ks, added), added)
            # remaining repeats whose other copies all left become good
            R = np.flatnonzero(isbad)
            R = R[u[R] != v[R]]
            if R.shape[0]:
                KR = np.minimum(u[R], v[R]) * nn + np.maximum(u[R], v[R])
                total = np.searchsorted(ks, KR, side="right") - np.searchsorted(ks, KR)
                KRs = np.sort(KR)
                in_r = np.searchsorted(KRs, KR, side="right") - np.searchsorted(KRs, KR)
                promote = (total == in_r) & _first_occurrence(KR)
                isbad[R[promote]] = False
    raise RuntimeError(f"random_regular: failed to build a simple {k}-regular graph on {n} nodes")


def random_regular(
    n: int,
    k: int,
    rng: np.random.Generator | None = None,
    *,
    max_nodes: int | None = None,
) -> GeneratedGraph:
    r"""Random simple :math:`k`-regular graph on :math:`n` nodes.

    Configuration model: the :math:`nk` stubs (:math:`k` per node) are
    shuffled and paired consecutively.  Pairs forming self-loops or repeated
    edges are then repaired in vectorised rounds of degree-preserving
    switchings :math:`\{a,b\},\{c,d\} \to \{a,c\},\{b,d\}` with uniformly
    chosen good pairs :math:`\{c,d\}`, accepted only when they create no new
    loop or repeat (so the number of bad pairs only decreases); after 1000
    rounds without success the pairing restarts from scratch.  The result is
    always simple and exactly :math:`k`-regular (verified).
    For :math:`k > (n-1)/2` the complement of a random
    :math:`(n-1-k)`-regular graph is returned (dense, but then
    :math:`m = nk/2 > n(n-1)/4` anyway).

    The repair step makes the distribution only approximately uniform over
    simple :math:`k`-regular graphs (for fixed :math:`k` only :math:`O(k^2)`
    pairs ever need repair, so the bias is small for large :math:`n`).

    Parameters
    ----------
    n : int
        Number of nodes (>= 1).
    k : int
        Degree, :math:`0 \le k < n`, with :math:`nk` even.
    rng : numpy.random.Generator
        Random source (required).
    max_nodes : int, optional
        Refuse to build more than this many nodes.

    Returns
    -------
    GeneratedGraph
        ``shape = (n,)``; :math:`m = nk/2` edges; no node attributes.
    """
    n = _int_arg(n, "n", minimum=1)
    k = _int_arg(k, "k", minimum=0)
    if k >= n:
        raise GeneratorArgError(f"random_regular needs k < n, got k={k}, n={n}", "k")
    if (n * k) % 2:
        raise GeneratorArgError(f"random_regular needs n*k even, got n={n}, k={k}", "k")
    _check_max_nodes(n, max_nodes, f"random_regular({n}, {k})")
    rng = _check_rng(rng, "random_regular")

    if 2 * k > n - 1:
        kc = n - 1 - k
        adj = np.zeros((n, n), dtype=bool)
        if kc > 0:
            cu, cv = _regular_pairing(n, kc, rng)
            adj[cu, cv] = True
            adj[cv, cu] = True
        adj = ~adj
        adj = np.triu(adj, 1)
        u, v = np.nonzero(adj)
        u = u.astype(np.int64)
        v = v.astype(np.int64)
        del adj
    else:
        u, v = (
            _regular_pairing(n, k, rng)
            if k > 0
            else (np.empty(0, np.int64), np.empty(0, np.int64))
        )
    a, b = np.minimum(u, v), np.maximum(u, v)
    deg = np.bincount(np.concatenate([a, b]), minlength=n)
    if a.shape[0] != n * k // 2 or not np.all(deg == k) or np.any(_bad_pairs(a, b, n)):
        raise RuntimeError("random_regular: internal error, result is not simple k-regular")
    index = np.arange(1, n + 1, dtype=np.int64).reshape(n, 1)
    return GeneratedGraph((n,), index, {}, a, b)


# ---------------------------------------------------------------------------
# Edge lists
# ---------------------------------------------------------------------------

_HEADER_WORDS = frozenset(
    {
        "source", "target", "src", "dst", "from", "to", "node1", "node2",
        "node_1", "node_2", "u", "v", "i", "j", "head", "tail", "start", "end",
        "weight", "w", "id1", "id2", "source_id", "target_id",
    }
)

def _widen(a: np.ndarray) -> np.ndarray:
    """Give zero-width string arrays (``S0``) width 1: NumPy 2.4's
    ``np.strings.strip`` returns garbage bytes for ``S0`` input."""
    return a.astype(f"{a.dtype.kind}1") if a.dtype.itemsize == 0 else a


if hasattr(np, "strings"):  # numpy >= 2: fast ufunc-based string operations
    _strs = np.strings

    def _partition(a: np.ndarray, sep: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h, s, t = _strs.partition(a, sep)
        return _widen(h), _widen(s), _widen(t)

else:  # pragma: no cover - numpy 1.x
    _strs = np.char

    def _partition(a: np.ndarray, sep: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = np.char.partition(a, sep)
        return _widen(r[..., 0]), _widen(r[..., 1]), _widen(r[..., 2])


class _Fallback(Exception):
    """Internal: the fast edge-list path cannot handle (or diagnose) the file."""


def _converts(arr: np.ndarray, dtype: Any) -> bool:
    """Whether every element of the string array ``arr`` converts to ``dtype``."""
    try:
        arr.astype(dtype)
    except (ValueError, OverflowError, TypeError):
        return False
    return True


def _first_failure(arr: np.ndarray, dtype: Any) -> int | None:
    r"""Index of the first element of ``arr`` that ``astype(dtype)`` rejects.

    Bisection over slices: :math:`O(\log m)` vectorised conversions.
    """
    if _converts(arr, dtype):
        return None
    lo, hi = 0, arr.shape[0]  # arr[lo:hi] contains a failure
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _converts(arr[lo:mid], dtype):
            lo = mid
        else:
            hi = mid
    return lo


def _parses(s: str, kind) -> bool:
    """Whether ``kind(s)`` (``int`` or ``float``) accepts the text."""
    try:
        kind(s)
    except ValueError:
        return False
    return True


def _is_float(s: str) -> bool:
    return _parses(s, float)


def _is_int(s: str) -> bool:
    return _parses(s, int)


def _text(x: Any) -> str:
    """Display form of a label/field (bytes are decoded as UTF-8)."""
    if isinstance(x, (bytes, np.bytes_)):
        return bytes(x).decode("utf-8", "replace")
    return str(x)


def _split_fields(line: str, csv: bool) -> list[str]:
    """Fields of one (comment-free, stripped) line -- used for the first lines only."""
    if csv:
        return [f.strip().strip('"') for f in line.split(",")]
    return line.split()


def _header_guess(fields: list[str]) -> bool | None:
    """Header decision from the first data line alone (``None``: undecided)."""
    if len(fields) >= 2 and fields[0].lower() in _HEADER_WORDS and fields[1].lower() in _HEADER_WORDS:
        return True
    if len(fields) == 3 and not _is_float(fields[2]):
        return True
    return None


def _edgelist_build(
    fname: str,
    lab_a: np.ndarray,
    lab_b: np.ndarray,
    weights: np.ndarray | None,
    int_labels: bool,
    max_nodes: Any,
    lineno: np.ndarray | None,
) -> GeneratedGraph:
    """Shared second half of :func:`edgelist`: labels -> ids, checks, dedupe.

    ``lineno`` maps edge rows to file line numbers; ``None`` (fast path) means
    "raise :class:`_Fallback` on any problem" so the slow path can diagnose it.
    """

    def fail(msg: str, row: int) -> GeneratorArgError:
        if lineno is None:
            return _Fallback()
        return GeneratorArgError(f"{fname}: line {int(lineno[row])}: {msg}", "path")

    m_lines = lab_a.shape[0]
    if weights is not None:
        nonfinite = np.flatnonzero(~np.isfinite(weights))
        if nonfinite.shape[0]:
            r = int(nonfinite[0])
            raise fail(f"weight {weights[r]!r} is not finite", r)

    uniq, inv = np.unique(np.concatenate([lab_a, lab_b]), return_inverse=True)
    inv = inv.reshape(-1).astype(np.int64, copy=False)
    n = int(uniq.shape[0])
    _check_max_nodes(n, max_nodes, f"edge list {fname}")
    s_all, d_all = inv[:m_lines], inv[m_lines:]

    loops = np.flatnonzero(s_all == d_all)
    if loops.shape[0]:
        r = int(loops[0])
        raise fail(f"self-loop on node {_text(lab_a[r])!r} is not allowed", r)

    a, b = np.minimum(s_all, d_all), np.maximum(s_all, d_all)
    key = a * np.int64(n) + b
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    if weights is not None:
        conflict = np.flatnonzero(weights != weights[first[group]])
        if conflict.shape[0]:
            r = int(conflict[0])
            r0 = int(first[group[r]])
            other = f"line {int(lineno[r0])}" if lineno is not None else "an earlier line"
            raise fail(
                f"edge {_text(lab_a[r])!r}-{_text(lab_b[r])!r} repeats {other} "
                f"with a different weight",
                r,
            )
    first.sort()
    src, dst = a[first], b[first]
    edge_attrs = {"weight": weights[first]} if weights is not None else {}

    if int_labels:
        attrs = {"label": uniq.astype(np.float64)}
        node_labels = uniq.astype(str)
    else:
        attrs = {}
        node_labels = _strs.decode(uniq, "utf-8") if uniq.dtype.kind == "S" else uniq.astype(str)
    index = np.arange(1, n + 1, dtype=np.int64).reshape(n, 1)
    return GeneratedGraph(
        (n,), index, attrs, src, dst, edge_attrs=edge_attrs, node_labels=node_labels
    )


def _edgelist_fast(fname: str, header: bool | None, max_nodes: Any) -> GeneratedGraph:
    """Integer-labelled files via NumPy's C ``loadtxt`` parser.

    Handles only well-formed files with integer labels; anything else raises
    :class:`_Fallback` (the slow path then parses again and diagnoses).
    """
    data: list[tuple[int, str]] = []  # (line number, content) of the first data lines
    try:
        with open(fname, "r", encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, 1):  # stops after two data lines
                s = line.split("#", 1)[0].strip()
                if s:
                    data.append((lineno, s))
                    if len(data) == 2:
                        break
    except (UnicodeError, ValueError):
        raise _Fallback() from None
    if not data:
        raise _Fallback()
    csv = "," in data[0][1]
    fields0 = _split_fields(data[0][1], csv)
    if len(fields0) < 2 and header is not True:
        raise _Fallback()
    hdr = header
    if hdr is None:
        hdr = _header_guess(fields0)
        if hdr is None:
            # integer labels: no header; otherwise a header iff the rest parses
            hdr = not (_is_int(fields0[0]) and _is_int(fields0[1]))
    skip = 0
    first = data[0]
    if hdr:
        if len(data) < 2:
            raise _Fallback()
        skip, first = data[0][0], data[1]
    ncol = len(_split_fields(first[1], csv))
    if ncol not in (2, 3):
        raise _Fallback()
    dtype: Any = np.int64 if ncol == 2 else [("a", "i8"), ("b", "i8"), ("w", "f8")]
    try:
        arr = np.loadtxt(
            fname,
            dtype=dtype,
            comments="#",
            delimiter="," if csv else None,
            skiprows=skip,
            ndmin=2 if ncol == 2 else 1,
            encoding="utf-8-sig",
        )
    except (ValueError, TypeError, OverflowError, UnicodeError):
        raise _Fallback() from None
    if ncol == 2:
        lab_a, lab_b, weights = arr[:, 0].copy(), arr[:, 1].copy(), None
    else:
        lab_a, lab_b, weights = arr["a"].copy(), arr["b"].copy(), arr["w"].copy()
    if lab_a.shape[0] == 0:
        raise _Fallback()
    return _edgelist_build(fname, lab_a, lab_b, weights, True, max_nodes, None)


def _split_columns(lines: np.ndarray, csv: bool) -> tuple[list[np.ndarray], np.ndarray]:
    """Split stripped, non-empty byte-string lines into 3 columns.

    Returns ``([c1, c2, c3], ncols)`` where ``ncols`` counts the fields on each
    line (``4`` means "more than three", ``-1`` "an empty CSV field").
    """
    if csv:
        h1, s1, r = _partition(lines, b",")
        h2, s2, r = _partition(r, b",")
        h3, s3, r = _partition(r, b",")
        ncols = 1 + (_strs.str_len(s1) > 0).astype(np.int64)
        ncols += _strs.str_len(s2) > 0
        ncols += _strs.str_len(s3) > 0
        cols = [_strs.strip(_strs.strip(c), b'"') for c in (h1, h2, h3)]
        empty = np.zeros(lines.shape[0], dtype=bool)
        for k, c in enumerate(cols):
            empty |= (ncols > k) & (_strs.str_len(c) == 0)
        ncols = np.where(empty, -1, ncols)
    else:
        lines = _strs.replace(lines, b"\t", b" ")
        h1, _, r = _partition(lines, b" ")
        h2, _, r = _partition(_strs.lstrip(r), b" ")
        h3, _, r = _partition(_strs.lstrip(r), b" ")
        # lines are stripped, so a non-empty tail has non-blank content
        cols = [h1, h2, h3]
        ncols = (_strs.str_len(h1) > 0).astype(np.int64)
        for c in (h2, h3, r):
            ncols += _strs.str_len(c) > 0
    return cols, ncols


def _edgelist_slow(fname: str, raw: bytes, header: bool | None, max_nodes: Any) -> GeneratedGraph:
    """General parser (string labels, quotes) with line-numbered diagnostics.

    Works on the file's bytes with NumPy string ufuncs (UTF-8 is preserved:
    all separators are ASCII, and byte order equals code-point order).
    """

    def fail(msg: str, row: int | None = None) -> GeneratorArgError:
        where = f"{fname}: line {int(lineno[row])}: " if row is not None else f"{fname}: "
        return GeneratorArgError(where + msg, "path")

    lineno = np.empty(0, dtype=np.int64)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise GeneratorArgError(
            f"{fname}: line {line}: not valid UTF-8 text ({exc.reason})", "path"
        ) from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    # the lines become one fixed-width array (width = the longest line): refuse a file
    # whose longest line would make it much larger than the file itself
    ends = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
    lengths = np.diff(np.concatenate([[-1], ends, [len(raw)]]))
    if lengths.shape[0] * int(lengths.max()) > max(1 << 28, 8 * len(raw)):
        r = int(np.argmax(lengths))
        raise GeneratorArgError(
            f"{fname}: line {r + 1}: a line of {int(lengths[r]):,} bytes in a file of "
            f"{lengths.shape[0]:,} lines; an edge-list line holds two labels and an optional weight",
            "path",
        )
    del ends, lengths
    lines_all = np.array(raw.splitlines(), dtype=bytes)
    if lines_all.shape[0] == 0:
        raise fail("no edges found (empty file)")
    body = _strs.strip(_partition(lines_all, b"#")[0])
    keep = _strs.str_len(body) > 0
    lineno = np.flatnonzero(keep) + 1
    lines = body[keep]
    if lines.shape[0] == 0:
        raise fail("no edges found")

    csv = b"," in bytes(lines[0])
    cols, ncols = _split_columns(lines, csv)

    is_header = header
    if is_header is None:
        c0 = [_text(c[0]) for c in cols[: max(int(ncols[0]), 1)]]
        is_header = _header_guess(c0) or False
        if (
            not is_header
            and lines.shape[0] > 1
            and len(c0) >= 2
            and not (_is_int(c0[0]) and _is_int(c0[1]))
        ):
            rest = np.concatenate([cols[0][1:], cols[1][1:]])
            is_header = _converts(rest, np.int64)
    if is_header:
        cols = [c[1:] for c in cols]
        ncols = ncols[1:]
        lineno = lineno[1:]
        if ncols.shape[0] == 0:
            raise fail("no edges found (only a header line)")

    bad = np.flatnonzero((ncols < 2) | (ncols > 3))
    if bad.shape[0]:
        r = int(bad[0])
        if ncols[r] == -1:
            raise fail("empty field", r)
        if ncols[r] > 3:
            raise fail("too many columns (expected two node labels and an optional weight)", r)
        raise fail(
            f"expected two node labels (and an optional weight), found one field "
            f"{_text(cols[0][r])!r}",
            r,
        )
    ncol = int(ncols[0])
    diff = np.flatnonzero(ncols != ncol)
    if diff.shape[0]:
        r = int(diff[0])
        raise fail(f"found {int(ncols[r])} columns, but the first edge line has {ncol}", r)

    weights = None
    if ncol == 3:
        wcol = cols[2]
        r = _first_failure(wcol, np.float64)
        if r is not None:
            raise fail(f"weight {_text(wcol[r])!r} is not a number", r)
        weights = wcol.astype(np.float64)

    lab_a, lab_b = cols[0], cols[1]
    int_labels = _converts(lab_a, np.int64) and _converts(lab_b, np.int64)
    if int_labels:
        lab_a, lab_b = lab_a.astype(np.int64), lab_b.astype(np.int64)
    return _edgelist_build(fname, lab_a, lab_b, weights, int_labels, max_nodes, lineno)


def edgelist(
    path: str | os.PathLike,
    header: bool | None = None,
    *,
    max_nodes: int | None = None,
    rng: np.random.Generator | None = None,
) -> GeneratedGraph:
    r"""Read an undirected graph from an edge-list file.

    Format: one edge per line, two node labels and an optional numeric third
    column ``weight``; fields separated by commas (CSV, detected when the
    first data line contains a comma; double quotes around a field are
    stripped, quoted commas are not supported) or else by blanks/tabs.  Text
    after ``#`` is a comment; blank lines are skipped; a UTF-8 BOM is ignored.
    An optional header line is allowed (``header=None`` detects it: the first
    data line is a header if its first two fields are both common column
    names such as ``source``/``target``, ``from``/``to``, ``u``/``v``, or if
    its third field is not numeric, or if its labels are not integers while
    all other labels are).

    Nodes are the distinct labels, sorted -- numerically if every label is an
    integer (so ``007`` and ``7`` are the same node), else by Unicode code
    point -- and get indices :math:`1..n` in that order.  The same unordered
    pair may appear on several lines (e.g. both orientations); the repeats are
    merged but must carry the same weight.  Self-loops are rejected so that
    the graph stays simple.

    Parsing is vectorised: integer-labelled files go through NumPy's C
    ``np.loadtxt`` parser; other files (and any file with an error) are
    tokenised with NumPy string ufuncs on the array of lines, which also
    yields the line numbers for error messages.  Labels are mapped to ids
    with ``np.unique(..., return_inverse=True)``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read (UTF-8).
    header : bool, optional
        Force (``True``) or forbid (``False``) a header line; ``None`` detects.
    max_nodes : int, optional
        Refuse graphs with more than this many nodes.
    rng : numpy.random.Generator, optional
        Ignored.

    Returns
    -------
    GeneratedGraph
        ``shape = (n,)``; edges in order of first appearance, oriented
        ``src < dst``; ``attrs["label"]`` (float of the label) only for integer
        labels; ``edge_attrs["weight"]`` if the file has a weight column;
        ``node_labels`` holds the labels as strings.

    Raises
    ------
    GeneratorArgError
        Missing/unreadable file, no edges, a line with fewer than two or more
        than three fields, inconsistent column counts, a non-numeric or
        non-finite weight, a self-loop, or conflicting weights of a repeated
        edge; messages name the file and, where possible, the line number.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise GeneratorArgError(f"path must be a file name, got {path!r}", "path")
    if header is not None:
        header = _bool_arg(header, "header")
    fname = os.fspath(path)
    if isinstance(fname, bytes):
        fname = os.fsdecode(fname)
    try:
        with open(fname, "rb") as fh:
            fh.read(0)
    except FileNotFoundError:
        raise GeneratorArgError(f"edge list file not found: {fname}", "path") from None
    except IsADirectoryError:
        raise GeneratorArgError(f"edge list path is a directory: {fname}", "path") from None
    except OSError as exc:
        raise GeneratorArgError(
            f"cannot read edge list file {fname}: {exc.strerror}", "path"
        ) from None
    try:
        return _edgelist_fast(fname, header, max_nodes)
    except _Fallback:
        pass
    try:
        with open(fname, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise GeneratorArgError(
            f"cannot read edge list file {fname}: {exc.strerror}", "path"
        ) from None
    return _edgelist_slow(fname, raw, header, max_nodes)


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratorSpec:
    """Signature description of a generator, for the language front end.

    Attributes
    ----------
    name : str
        Generator name (the key in :data:`GENERATORS`).
    func : callable
        The generator; call as ``func(*positional, **options, rng=rng,
        max_nodes=limit)``.  ``rng`` and ``max_nodes`` are supplied by the
        engine and are *not* listed in ``params``/``defaults``.
    params : tuple of str
        The required positional parameters, in order.  A name ending in ``*``
        (``lattice``'s ``"dims*"``) is variadic: it takes one or more
        positional values.  Non-variadic ones may also be passed by keyword.
    defaults : dict
        The optional parameters (passed by keyword, e.g. ``periodic=true``)
        with their default values; dict order is their Python positional order
        after ``params``.
    attrs : tuple of str
        Node attributes defined (the maximal set; ``lattice`` defines
        ``x``/``y``/``z`` only up to its dimension and ``x1..xd`` for d > 3).
    random : bool
        Whether ``rng`` is required.
    doc : str
        One-line description.
    """

    name: str
    func: Callable[..., GeneratedGraph]
    params: tuple[str, ...]
    defaults: dict[str, Any]
    attrs: tuple[str, ...]
    random: bool
    doc: str

    @property
    def variadic(self) -> bool:
        """Whether the (single) positional parameter is variadic."""
        return any(p.endswith("*") for p in self.params)

    @property
    def names(self) -> tuple[str, ...]:
        """All user-facing parameter names (``*`` stripped), required first."""
        return tuple(p.rstrip("*") for p in self.params) + tuple(self.defaults)

    def check_call(self, n_positional: int, keywords: Iterable[str] = ()) -> None:
        """Check the argument count and keyword names of a call.

        Parameters
        ----------
        n_positional : int
            Number of positional arguments given.
        keywords : iterable of str
            Names of the keyword arguments given.

        Raises
        ------
        GeneratorArgError
            Wrong number of positional arguments, unknown or repeated keyword,
            or a missing required parameter (``arg`` names it when possible).
        """
        keywords = list(keywords)
        req = [p.rstrip("*") for p in self.params]
        if self.variadic:
            if n_positional < 1:
                raise GeneratorArgError(
                    f"{self.name}() needs at least one value for {req[0]}", req[0]
                )
            filled: set[str] = set(req)
        else:
            if n_positional > len(req):
                raise GeneratorArgError(
                    f"{self.name}() takes {len(req)} positional argument"
                    f"{'s' if len(req) != 1 else ''} ({', '.join(req)}), got {n_positional}",
                    None,
                )
            filled = set(req[:n_positional])
        allowed = (set() if self.variadic else set(req)) | set(self.defaults)
        for kw in keywords:
            if kw not in allowed:
                raise GeneratorArgError(
                    f"{self.name}() has no argument {kw!r} "
                    f"(arguments: {', '.join(self.names)})",
                    kw,
                )
            if kw in filled:
                raise GeneratorArgError(f"{self.name}() got argument {kw!r} twice", kw)
            filled.add(kw)
        missing = [p for p in req if p not in filled]
        if missing:
            raise GeneratorArgError(
                f"{self.name}() missing required argument {missing[0]!r}", missing[0]
            )


GENERATORS: dict[str, GeneratorSpec] = {
    s.name: s
    for s in (
        GeneratorSpec(
            "lattice", lattice, ("dims*",), {"periodic": False}, ("x", "y", "z"), False,
            "hypercubic nearest-neighbour lattice L1 x ... x Ld (optionally periodic)",
        ),
        GeneratorSpec(
            "triangular", triangular, ("L1", "L2"), {"periodic": False}, ("x", "y"), False,
            "triangular lattice on an L1 x L2 parallelogram (6 neighbours in the bulk)",
        ),
        GeneratorSpec(
            "honeycomb", honeycomb, ("L1", "L2"), {"periodic": False}, ("x", "y"), False,
            "honeycomb lattice as an L1 x L2 brick wall (3 neighbours in the bulk)",
        ),
        GeneratorSpec(
            "sierpinski", sierpinski, ("level",), {}, ("x", "y"), False,
            "Sierpinski gasket graph of the given level (level 0 = triangle)",
        ),
        GeneratorSpec(
            "tree", tree, ("branching", "depth"), {}, ("depth",), False,
            "complete branching-ary tree of the given depth, numbered breadth-first",
        ),
        GeneratorSpec(
            "erdos_renyi", erdos_renyi, ("n",), {"mean_degree": None, "p": None}, (), True,
            "Erdos-Renyi G(n, p); give exactly one of mean_degree = p (n - 1) and p",
        ),
        GeneratorSpec(
            "random_regular", random_regular, ("n", "k"), {}, (), True,
            "random simple k-regular graph on n nodes (configuration model with repair)",
        ),
        GeneratorSpec(
            "edgelist", edgelist, ("path",), {"header": None}, ("label",), False,
            "graph read from an edge-list file (two label columns, optional weight)",
        ),
    )
}
