"""Tests for semdsl.generators, checked against networkx and closed forms."""

from __future__ import annotations

import inspect
import math
import time
from collections import Counter

import networkx as nx
import numpy as np
import pytest

from semdsl.generators import (
    GENERATORS,
    GeneratedGraph,
    GeneratorArgError,
    GeneratorSpec,
    _sample_distinct,
    _unrank_pairs,
    edgelist,
    erdos_renyi,
    honeycomb,
    lattice,
    random_regular,
    sierpinski,
    tree,
    triangular,
)

SQ3 = math.sqrt(3.0)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def check_invariants(g: GeneratedGraph) -> None:
    """Structural contract shared by every generator."""
    n = g.n
    assert isinstance(g.shape, tuple) and all(isinstance(s, int) for s in g.shape)
    assert n == math.prod(g.shape)
    assert g.index.dtype == np.int64 and g.index.shape == (n, len(g.shape))
    # dense grid, rows in C order, 1-based
    assert np.array_equal(np.ravel_multi_index(g.index.T - 1, g.shape), np.arange(n))
    assert g.src.dtype == np.int64 and g.dst.dtype == np.int64
    assert g.src.shape == g.dst.shape and g.src.ndim == 1
    if g.src.size:
        assert g.src.min() >= 0 and g.dst.max() < n
    assert np.all(g.src < g.dst)  # canonical orientation, no self-loops
    key = np.sort(g.src * n + g.dst)
    assert np.all(key[1:] != key[:-1])  # each undirected edge once
    for name, a in g.attrs.items():
        assert a.dtype == np.float64 and a.shape == (n,), name
    for name, a in g.edge_attrs.items():
        assert a.dtype == np.float64 and a.shape == g.src.shape, name


def edge_set(g: GeneratedGraph, label) -> set[frozenset]:
    """Edges as a set of frozensets of node labels ``label(index_row_0based)``."""
    idx = g.index - 1
    labels = [label(tuple(int(c) for c in row)) for row in idx]
    return {frozenset((labels[a], labels[b])) for a, b in zip(g.src.tolist(), g.dst.tolist())}


def nx_edge_set(G: nx.Graph) -> set[frozenset]:
    return {frozenset(e) for e in G.edges() if e[0] != e[1]}


def degrees(g: GeneratedGraph) -> np.ndarray:
    return np.bincount(np.concatenate([g.src, g.dst]), minlength=g.n)


def edge_lengths(g: GeneratedGraph) -> np.ndarray:
    x, y = g.attrs["x"], g.attrs["y"]
    return np.hypot(x[g.src] - x[g.dst], y[g.src] - y[g.dst])


# ---------------------------------------------------------------------------
# lattice
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dims", [(1,), (2,), (7,), (4, 5), (2, 3), (1, 4), (3, 4, 5), (2, 3, 1, 2)])
@pytest.mark.parametrize("periodic", [False, True])
def test_lattice_matches_networkx(dims, periodic):
    g = lattice(*dims, periodic=periodic)
    check_invariants(g)
    assert g.shape == dims
    ref = nx.grid_graph(dim=list(dims), periodic=periodic)  # node = reversed coords
    label = (lambda c: c[0]) if len(dims) == 1 else (lambda c: tuple(reversed(c)))
    assert edge_set(g, label) == nx_edge_set(ref)
    names = ("x", "y", "z") if len(dims) <= 3 else tuple(f"x{k + 1}" for k in range(len(dims)))
    assert tuple(g.attrs) == names[: len(dims)]
    for k, name in enumerate(g.attrs):
        assert np.array_equal(g.attrs[name], g.index[:, k].astype(float))


def test_lattice_edge_count_closed_form():
    L = (6, 7, 8)
    g = lattice(*L)
    assert g.m == sum((L[k] - 1) * math.prod(L) // L[k] for k in range(3))
    gp = lattice(*L, periodic=True)
    assert gp.m == 3 * math.prod(L) and np.all(degrees(gp) == 6)


def test_lattice_large_is_fast():
    t = time.perf_counter()
    g = lattice(1000, 1000)
    elapsed = time.perf_counter() - t
    assert g.n == 10**6 and g.m == 2 * 999 * 1000
    assert elapsed < 2.0, f"lattice(1000, 1000) took {elapsed:.2f}s"


# ---------------------------------------------------------------------------
# triangular
# ---------------------------------------------------------------------------


def triangular_reference(L1: int, L2: int, periodic: bool) -> nx.Graph:
    G = nx.grid_2d_graph(L1, L2, periodic=periodic)
    for i in range(L1):
        for j in range(L2):
            if periodic:
                G.add_edge((i, j), ((i + 1) % L1, (j + 1) % L2))
            elif i + 1 < L1 and j + 1 < L2:
                G.add_edge((i, j), (i + 1, j + 1))
    return G


@pytest.mark.parametrize("L1,L2", [(1, 1), (1, 5), (2, 2), (3, 4), (5, 3), (6, 6)])
@pytest.mark.parametrize("periodic", [False, True])
def test_triangular_edges(L1, L2, periodic):
    g = triangular(L1, L2, periodic=periodic)
    check_invariants(g)
    assert g.shape == (L1, L2)
    assert edge_set(g, lambda c: c) == nx_edge_set(triangular_reference(L1, L2, periodic))
    if not periodic:
        assert g.m == (L1 - 1) * L2 + L1 * (L2 - 1) + (L1 - 1) * (L2 - 1)
        if g.m:
            np.testing.assert_allclose(edge_lengths(g), 1.0)  # unit equilateral triangles


def test_triangular_geometry_and_bulk_degree():
    g = triangular(5, 6)
    i, j = g.index[:, 0], g.index[:, 1]
    np.testing.assert_allclose(g.attrs["x"], (i - 1) - 0.5 * (j - 1))
    np.testing.assert_allclose(g.attrs["y"], (j - 1) * SQ3 / 2)
    bulk = (i > 1) & (i < 5) & (j > 1) & (j < 6)
    assert np.all(degrees(g)[bulk] == 6)


def test_triangular_periodic_counts_match_networkx():
    # networkx's periodic triangular lattice with m rows (even) and N = (n+1)//2 columns
    m, n = 4, 7
    ref = nx.triangular_lattice_graph(m, n, periodic=True)
    g = triangular((n + 1) // 2, m, periodic=True)
    assert g.n == ref.number_of_nodes() and g.m == ref.number_of_edges()
    assert Counter(degrees(g).tolist()) == Counter(d for _, d in ref.degree())


# ---------------------------------------------------------------------------
# honeycomb
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("m,n", [(1, 1), (2, 3), (3, 2), (3, 4)])
def test_honeycomb_matches_networkx_open(m, n):
    # honeycomb(2m+2, n+1) is nx.hexagonal_lattice_graph(m, n) plus the two
    # degree-1 corners that networkx deletes; nx node (a, b) = our 0-based (b, a)
    M = 2 * m
    g = honeycomb(M + 2, n + 1)
    check_invariants(g)
    ours = edge_set(g, lambda c: (c[1], c[0]))
    removed = {(0, M + 1), (n, (M + 1) * (n % 2))}
    ours = {e for e in ours if not (e & removed)}
    assert ours == nx_edge_set(nx.hexagonal_lattice_graph(m, n))


@pytest.mark.parametrize("m,n", [(2, 2), (2, 4), (3, 4), (4, 6)])
def test_honeycomb_matches_networkx_periodic(m, n):
    g = honeycomb(2 * m, n, periodic=True)
    check_invariants(g)
    assert np.all(degrees(g) == 3)
    ref = nx.hexagonal_lattice_graph(m, n, periodic=True)
    assert edge_set(g, lambda c: (c[1], c[0])) == nx_edge_set(ref)


def test_honeycomb_geometry():
    g = honeycomb(8, 7)
    check_invariants(g)
    np.testing.assert_allclose(edge_lengths(g), 1.0)
    deg = degrees(g)
    i, j = g.index[:, 0], g.index[:, 1]
    bulk = (i > 1) & (i < 8) & (j > 1) & (j < 7)
    assert np.all(deg[bulk] == 3)
    # vertical bonds exactly where i + j is even
    vert = g.index[g.src, 0] == g.index[g.dst, 0]
    assert np.all((g.index[g.src[vert]].sum(axis=1) % 2) == 0)


def test_honeycomb_periodic_needs_even_sizes():
    with pytest.raises(GeneratorArgError) as ei:
        honeycomb(5, 4, periodic=True)
    assert ei.value.arg == "L1"
    with pytest.raises(GeneratorArgError) as ei:
        honeycomb(4, 3, periodic=True)
    assert ei.value.arg == "L2"


# ---------------------------------------------------------------------------
# Sierpinski gasket
# ---------------------------------------------------------------------------


def sierpinski_reference(level: int) -> set[frozenset]:
    """Independent construction: recursively subdivide the big triangle into
    unit triangles (integer coordinates (u, v), position u*a1 + v*a2)."""
    edges: set[frozenset] = set()

    def rec(u, v, side):
        if side == 1:
            a, b, c = (u, v), (u + 1, v), (u, v + 1)
            edges.update({frozenset((a, b)), frozenset((b, c)), frozenset((a, c))})
            return
        h = side // 2
        rec(u, v, h)
        rec(u + h, v, h)
        rec(u, v + h, h)

    rec(0, 0, 2**level)
    return edges


@pytest.mark.parametrize("level", [0, 1, 2, 3, 5])
def test_sierpinski(level):
    g = sierpinski(level)
    check_invariants(g)
    n = 3 * (3**level + 1) // 2
    assert g.shape == (n,) and g.n == n and g.m == 3 ** (level + 1)
    deg = Counter(degrees(g).tolist())
    assert deg == ({2: 3} if level == 0 else {2: 3, 4: n - 3})
    np.testing.assert_allclose(edge_lengths(g), 1.0)
    # back to lattice coordinates and compare with the independent recursion
    x, y = g.attrs["x"], g.attrs["y"]
    v = np.rint(2 * y / SQ3).astype(int)
    u = np.rint(x - v / 2).astype(int)
    assert len(set(zip(u.tolist(), v.tolist()))) == n
    assert edge_set(g, lambda c: (int(u[c[0]]), int(v[c[0]]))) == sierpinski_reference(level)
    corners = degrees(g) == 2
    side = 2**level
    pts = sorted(zip(x[corners].round(9).tolist(), y[corners].round(9).tolist()))
    expected = sorted([(0.0, 0.0), (float(side), 0.0), (side / 2, round(side * SQ3 / 2, 9))])
    np.testing.assert_allclose(pts, expected, atol=1e-9)


# ---------------------------------------------------------------------------
# tree
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("b,h", [(1, 0), (1, 5), (2, 0), (2, 4), (3, 3), (5, 2)])
def test_tree_matches_networkx(b, h):
    g = tree(b, h)
    check_invariants(g)
    n = sum(b**k for k in range(h + 1))
    assert g.shape == (n,) and g.m == n - 1
    ref = nx.balanced_tree(b, h)  # same BFS labels
    assert edge_set(g, lambda c: c[0]) == nx_edge_set(ref)
    dist = nx.single_source_shortest_path_length(ref, 0)
    assert np.array_equal(g.attrs["depth"], np.array([dist[i] for i in range(n)], float))
    assert np.array_equal(g.src, (g.dst - 1) // b)


# ---------------------------------------------------------------------------
# Erdos-Renyi
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n,kbar", [(20000, 5.0), (200000, 3.0), (300, 250.0)])
def test_erdos_renyi_mean_degree(n, kbar):
    rng = np.random.default_rng(12345)
    g = erdos_renyi(n, mean_degree=kbar, rng=rng)
    check_invariants(g)
    N = n * (n - 1) // 2
    p = kbar / (n - 1)
    # edge count ~ Binomial(N, p): allow 5 standard errors
    sigma = math.sqrt(N * p * (1 - p))
    assert abs(g.m - N * p) <= 5 * sigma + 1
    assert abs(2 * g.m / n - kbar) <= 5 * 2 * sigma / n + 1e-9


def test_erdos_renyi_p_and_extremes():
    rng = np.random.default_rng(7)
    g = erdos_renyi(50, p=1.0, rng=rng)
    check_invariants(g)
    assert g.m == 50 * 49 // 2
    assert erdos_renyi(50, p=0.0, rng=rng).m == 0
    assert erdos_renyi(50, mean_degree=0, rng=rng).m == 0
    assert erdos_renyi(1, mean_degree=0, rng=rng).m == 0
    check_invariants(erdos_renyi(1000, p=0.3, rng=rng))


def test_erdos_renyi_pairs_uniform():
    # each of the 15 pairs of a 6-node graph is present with probability p
    rng = np.random.default_rng(3)
    reps, p = 3000, 0.4
    counts = np.zeros((6, 6))
    for _ in range(reps):
        g = erdos_renyi(6, p=p, rng=rng)
        np.add.at(counts, (g.src, g.dst), 1)
    freq = counts[np.triu_indices(6, 1)]
    se = math.sqrt(reps * p * (1 - p))
    assert np.all(np.abs(freq - reps * p) < 5 * se)


def test_sample_distinct_and_unrank():
    rng = np.random.default_rng(0)
    for N, M in [(10, 0), (10, 10), (10, 7), (1000, 300), (10**12, 5000)]:
        s = _sample_distinct(N, M, rng)
        assert s.size == M and np.all(np.diff(s) > 0)
        if M:
            assert s[0] >= 0 and s[-1] < N
    # uniformity: every element of {0..9} is in the M-subset with probability M/10
    for M in (3, 6):  # 6 > N/2 exercises the complement branch
        reps = 3000
        hits = np.zeros(10)
        for _ in range(reps):
            hits[_sample_distinct(10, M, rng)] += 1
        q = M / 10
        assert np.all(np.abs(hits - reps * q) < 5 * math.sqrt(reps * q * (1 - q)))
    # unranking = lower-triangle order of (i < j), checked exhaustively for small n
    n = 40
    i, j = _unrank_pairs(np.arange(n * (n - 1) // 2, dtype=np.int64))
    jj, ii = np.tril_indices(n, -1)
    assert np.array_equal(i, ii) and np.array_equal(j, jj)
    # exact near the float-precision limit
    big = 2**31
    N = big * (big - 1) // 2
    lin = np.array([0, 1, N - 1, N - 2, N // 3, N // 2 + 12345], dtype=np.int64)
    lin = np.concatenate([lin, rng.integers(N - 10**7, N, size=1000)])
    i, j = _unrank_pairs(lin)
    assert np.all((0 <= i) & (i < j) & (j < big))
    assert np.array_equal(j * (j - 1) // 2 + i, lin)


def test_erdos_renyi_needs_rng_and_one_parameter():
    with pytest.raises(GeneratorArgError) as ei:
        erdos_renyi(10, mean_degree=2)
    assert ei.value.arg == "rng"
    rng = np.random.default_rng(0)
    with pytest.raises(GeneratorArgError):
        erdos_renyi(10, rng=rng)
    with pytest.raises(GeneratorArgError):
        erdos_renyi(10, mean_degree=2, p=0.2, rng=rng)


# ---------------------------------------------------------------------------
# random regular
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n,k", [(10, 3), (1000, 3), (500, 10), (4, 3), (10, 7), (7, 4), (9, 0), (2, 1)])
def test_random_regular(n, k):
    g = random_regular(n, k, rng=np.random.default_rng(n * 100 + k))
    check_invariants(g)  # includes: simple graph
    assert g.m == n * k // 2
    assert np.all(degrees(g) == k)
    G = nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from(zip(g.src.tolist(), g.dst.tolist()))
    assert nx.number_of_selfloops(G) == 0 and G.number_of_edges() == g.m
    if k:
        assert nx.is_regular(G)


def test_random_regular_large():
    g = random_regular(10**5, 3, rng=np.random.default_rng(1))
    assert g.m == 150000 and np.all(degrees(g) == 3)
    check_invariants(g)


def test_random_regular_rejects():
    rng = np.random.default_rng(0)
    for n, k, arg in [(5, 3, "k"), (5, 5, "k"), (4, 6, "k"), (0, 1, "n"), (5, -1, "k")]:
        with pytest.raises(GeneratorArgError) as ei:
            random_regular(n, k, rng=rng)
        assert ei.value.arg == arg
    with pytest.raises(GeneratorArgError):
        random_regular(10, 3)  # no rng


# ---------------------------------------------------------------------------
# edge lists
# ---------------------------------------------------------------------------


def test_edgelist_whitespace_integer_labels(tmp_path):
    f = tmp_path / "g.txt"
    f.write_text(
        "# a comment line\n"
        "source target\n"
        "10 2   # trailing comment\n"
        "\n"
        "2\t9\n"
        "9 10\n"
        "2 10\n"  # repeat of 10-2 in the other orientation: merged
    )
    g = edgelist(f)
    check_invariants(g)
    assert g.shape == (3,)
    assert np.array_equal(g.attrs["label"], [2.0, 9.0, 10.0])  # numeric, not lexicographic
    assert list(g.node_labels) == ["2", "9", "10"]
    lab = g.attrs["label"]
    assert {frozenset((lab[a], lab[b])) for a, b in zip(g.src, g.dst)} == {
        frozenset((10, 2)), frozenset((2, 9)), frozenset((9, 10))
    }
    assert g.edge_attrs == {}


def test_edgelist_csv_weights_vs_networkx(tmp_path):
    rng = np.random.default_rng(5)
    n, m = 60, 200
    pairs = set()
    while len(pairs) < m:
        a, b = rng.integers(0, n, size=2)
        if a != b:
            pairs.add((int(min(a, b)), int(max(a, b))))
    pairs = sorted(pairs)
    w = rng.uniform(0.1, 5.0, size=m).round(6)
    f = tmp_path / "g.csv"
    f.write_text("u,v,weight\n" + "".join(f"{a},{b},{x}\n" for (a, b), x in zip(pairs, w)))
    g = edgelist(f)
    check_invariants(g)
    ref = nx.read_edgelist(str(f), delimiter=",", nodetype=int, data=[("weight", float)],
                           comments="u")  # skip header
    labels = g.attrs["label"].astype(int)
    ours = {frozenset((labels[a], labels[b])): x
            for a, b, x in zip(g.src, g.dst, g.edge_attrs["weight"])}
    theirs = {frozenset(e): d["weight"] for *e, d in ref.edges(data=True)}
    assert ours == theirs
    assert g.n == ref.number_of_nodes()
    assert np.all(np.diff(labels) > 0)


def test_edgelist_string_labels(tmp_path):
    f = tmp_path / "s.txt"
    f.write_text("bob alice 1.5\ncarol bob 2\nalice carol 0.5\n")
    g = edgelist(str(f))
    check_invariants(g)
    assert "label" not in g.attrs
    assert list(g.node_labels) == ["alice", "bob", "carol"]
    assert np.array_equal(g.index[:, 0], [1, 2, 3])
    # first edge bob-alice -> (0, 1) with weight 1.5
    assert (g.src[0], g.dst[0], g.edge_attrs["weight"][0]) == (0, 1, 1.5)


def test_edgelist_header_detection(tmp_path):
    f = tmp_path / "h.txt"
    f.write_text("a b\n1 2\n2 3\n")  # non-integer first line, integers after
    assert edgelist(f).n == 3
    assert edgelist(f, header=False).n == 5  # forced: "a b" is an edge
    f.write_text("1 2\n2 3\n")
    assert edgelist(f, header=True).n == 2


@pytest.mark.parametrize(
    "content,fragment",
    [
        ("1 2\n2 3\n4\n", "line 3"),
        ("1 2 1.0\n2 3 abc\n", "line 2"),
        ("# c\n1 2 1.0\n2 3 1.0\n3 4 x1\n", "line 4"),
        ("1 2\n2 3 4.0\n", "line 2"),
        ("1 2 3 4\n", "line 1"),
        ("1 2\n3 3\n", "line 2"),
        ("1 2 1.0\n2 1 2.0\n", "line 2"),
        ("1,2\n3,\n", "line 2"),
        ("1 2 nan\n", "line 1"),
        ("# only comments\n\n", "no edges"),
    ],
)
def test_edgelist_errors(tmp_path, content, fragment):
    f = tmp_path / "bad.txt"
    f.write_text(content)
    with pytest.raises(GeneratorArgError) as ei:
        edgelist(f)
    msg = str(ei.value)
    assert "bad.txt" in msg and fragment in msg
    assert ei.value.arg == "path"


def test_edgelist_fast_and_general_parsers_agree(tmp_path):
    # quoted integer labels defeat the loadtxt fast path; the result must be
    # identical to the plain file, which takes the fast path
    rng = np.random.default_rng(9)
    a = rng.integers(0, 500, size=3000)
    b = (a + rng.integers(1, 499, size=3000)) % 500
    w = rng.integers(1, 5, size=3000).astype(float)
    w_of = {}
    rows = []
    for x, y, z in zip(a.tolist(), b.tolist(), w.tolist()):
        z = w_of.setdefault(frozenset((x, y)), z)  # repeated pairs: same weight
        rows.append((x, y, z))
    plain, quoted = tmp_path / "plain.csv", tmp_path / "quoted.csv"
    plain.write_text("".join(f"{x},{y},{z}\n" for x, y, z in rows))
    quoted.write_text("".join(f'"{x}","{y}",{z}\n' for x, y, z in rows))
    g1, g2 = edgelist(plain), edgelist(quoted)
    check_invariants(g1)
    for attr in ("src", "dst", "index"):
        assert np.array_equal(getattr(g1, attr), getattr(g2, attr))
    assert np.array_equal(g1.attrs["label"], g2.attrs["label"])
    assert np.array_equal(g1.edge_attrs["weight"], g2.edge_attrs["weight"])
    assert g1.m == len(w_of)


def test_edgelist_unicode_bom_and_big_labels(tmp_path):
    f = tmp_path / "u.txt"
    f.write_bytes("\ufeffzoë émile\némile zoë\nárbol zoë\n".encode("utf-8"))
    g = edgelist(f)
    assert list(g.node_labels) == sorted(["zoë", "émile", "árbol"])
    assert g.m == 2
    f.write_text("99999999999999999999 1\n1 2\n")  # beyond int64: string labels
    g = edgelist(f)
    assert "label" not in g.attrs
    assert list(g.node_labels) == ["1", "2", "99999999999999999999"]
    f.write_bytes(b"1 2\n\xff\xfe 3\n")
    with pytest.raises(GeneratorArgError) as ei:
        edgelist(f)
    assert "line 2" in str(ei.value)


def test_edgelist_missing_file(tmp_path):
    with pytest.raises(GeneratorArgError) as ei:
        edgelist(tmp_path / "nope.txt")
    assert "nope.txt" in str(ei.value) and ei.value.arg == "path"


# ---------------------------------------------------------------------------
# argument validation, max_nodes, registry
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "func,args,kwargs,arg",
    [
        (lattice, (), {}, "dims"),
        (lattice, (0, 3), {}, "dims"),
        (lattice, (3, -1), {}, "dims"),
        (lattice, (2.5,), {}, "dims"),
        (lattice, ("3",), {}, "dims"),
        (lattice, (True,), {}, "dims"),
        (lattice, (3,), {"periodic": "yes"}, "periodic"),
        (triangular, (0, 3), {}, "L1"),
        (triangular, (3, 1.5), {}, "L2"),
        (honeycomb, (3, 0), {}, "L2"),
        (sierpinski, (-1,), {}, "level"),
        (sierpinski, (1.5,), {}, "level"),
        (tree, (0, 3), {}, "branching"),
        (tree, (2, -1), {}, "depth"),
        (erdos_renyi, (0,), {"mean_degree": 1.0}, "n"),
        (erdos_renyi, (10,), {"mean_degree": -1.0}, "mean_degree"),
        (erdos_renyi, (10,), {"mean_degree": 10.0}, "mean_degree"),
        (erdos_renyi, (10,), {"p": 1.5}, "p"),
        (erdos_renyi, (10,), {"mean_degree": float("nan")}, "mean_degree"),
        (random_regular, (5, 3), {}, "k"),
        (random_regular, (3, 3), {}, "k"),
        (edgelist, (42,), {}, "path"),
    ],
)
def test_bad_arguments(func, args, kwargs, arg):
    with pytest.raises(GeneratorArgError) as ei:
        func(*args, rng=np.random.default_rng(0), **kwargs)
    assert ei.value.arg == arg
    assert isinstance(ei.value.message, str) and ei.value.message


def test_integral_floats_accepted():
    assert lattice(3.0, 4).shape == (3, 4)
    assert tree(2.0, 2.0).n == 7


@pytest.mark.parametrize(
    "call",
    [
        lambda: lattice(10**6, 10**6, 10**6, max_nodes=10**6),
        lambda: triangular(10**9, 10**9, max_nodes=100),
        lambda: honeycomb(10**9, 10**9, max_nodes=100),
        lambda: sierpinski(30, max_nodes=1000),
        lambda: tree(10, 30, max_nodes=1000),
        lambda: erdos_renyi(10**9, mean_degree=3, rng=np.random.default_rng(0), max_nodes=10),
        lambda: random_regular(10**9, 3, rng=np.random.default_rng(0), max_nodes=10),
    ],
)
def test_max_nodes_checked_before_allocation(call):
    t = time.perf_counter()
    with pytest.raises(GeneratorArgError) as ei:
        call()
    assert ei.value.arg == "max_nodes"
    assert time.perf_counter() - t < 0.5


def test_max_nodes_edgelist(tmp_path):
    f = tmp_path / "g.txt"
    f.write_text("1 2\n2 3\n")
    with pytest.raises(GeneratorArgError):
        edgelist(f, max_nodes=2)
    assert edgelist(f, max_nodes=3).n == 3


def test_max_nodes_boundary():
    assert lattice(10, 10, max_nodes=100).n == 100
    with pytest.raises(GeneratorArgError):
        lattice(10, 11, max_nodes=100)


def test_registry_matches_signatures():
    expected = {
        "lattice": (("dims*",), {"periodic": False}),
        "triangular": (("L1", "L2"), {"periodic": False}),
        "honeycomb": (("L1", "L2"), {"periodic": False}),
        "sierpinski": (("level",), {}),
        "tree": (("branching", "depth"), {}),
        "erdos_renyi": (("n",), {"mean_degree": None, "p": None}),
        "random_regular": (("n", "k"), {}),
        "edgelist": (("path",), {"header": None}),
    }
    assert set(GENERATORS) == set(expected)
    for name, spec in GENERATORS.items():
        assert isinstance(spec, GeneratorSpec) and spec.name == name
        assert (spec.params, spec.defaults) == expected[name]
        assert isinstance(spec.doc, str) and "\n" not in spec.doc
        sig = inspect.signature(spec.func)
        for p in spec.params:
            param = sig.parameters[p.rstrip("*")]
            if p.endswith("*"):
                assert param.kind is inspect.Parameter.VAR_POSITIONAL
            else:
                assert param.default is inspect.Parameter.empty
        for key, default in spec.defaults.items():
            assert sig.parameters[key].default == default
        assert "max_nodes" in sig.parameters and "rng" in sig.parameters
    assert [s.name for s in GENERATORS.values() if s.random] == ["erdos_renyi", "random_regular"]
    assert GENERATORS["lattice"].attrs == ("x", "y", "z")
    assert GENERATORS["tree"].attrs == ("depth",)


def test_registry_attrs_are_produced():
    rng = np.random.default_rng(0)
    samples = {
        "lattice": lattice(2, 2, 2),
        "triangular": triangular(2, 2),
        "honeycomb": honeycomb(2, 2),
        "sierpinski": sierpinski(1),
        "tree": tree(2, 2),
        "erdos_renyi": erdos_renyi(5, p=0.5, rng=rng),
        "random_regular": random_regular(4, 2, rng=rng),
    }
    for name, g in samples.items():
        assert tuple(g.attrs) == GENERATORS[name].attrs


def test_check_call():
    lat = GENERATORS["lattice"]
    lat.check_call(3, ["periodic"])
    with pytest.raises(GeneratorArgError):
        lat.check_call(0)
    with pytest.raises(GeneratorArgError) as ei:
        lat.check_call(2, ["wrap"])
    assert ei.value.arg == "wrap"
    tri = GENERATORS["triangular"]
    tri.check_call(2)
    tri.check_call(1, ["L2", "periodic"])
    with pytest.raises(GeneratorArgError):
        tri.check_call(3)
    with pytest.raises(GeneratorArgError) as ei:
        tri.check_call(1)
    assert ei.value.arg == "L2"
    with pytest.raises(GeneratorArgError):
        tri.check_call(2, ["L1"])  # given twice
    er = GENERATORS["erdos_renyi"]
    er.check_call(1, ["mean_degree"])
    with pytest.raises(GeneratorArgError):
        er.check_call(1, ["k"])
