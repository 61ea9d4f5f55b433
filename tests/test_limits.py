"""Limits: huge `for` spaces are sampled without materialising them, sizes and memory
are estimated before anything is allocated, and a model above a limit is refused with
a located message (never a traceback, a hang or an exhausted machine).

Random results are compared with their laws: counts within 5 standard deviations
(a false alarm below 1e-6 per check), frequencies by binomial z-scores with a
Bonferroni bound.
"""

from __future__ import annotations

import math
import os
import tracemalloc

import numpy as np
import pytest
from scipy import stats

import semdsl
from semdsl import compiler
from semdsl.cli import main
from semdsl.compiler import (_geometric_positions, available_memory, compile_limits, compile_model,
                             format_bytes, memory_limit, parse_bytes)
from semdsl.errors import LimitError, ParameterError
from semdsl.generators import GeneratorArgError, edgelist, erdos_renyi

from conftest import build

SPARSE = """\
param n = 100000
param p = 2e-5
node h[i in 1..n]
edge h[i] -- h[j] for i in 1..n, j in 1..n if i < j with probability p
init h[1]
"""


def _peak(fn):
    """(result, peak bytes allocated while running fn) by tracemalloc."""
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------- geometric skipping
def test_all_pairs_of_1e5_nodes_with_small_probability_compile_in_little_memory():
    # 10^10 candidates (5e9 pairs i < j): materialising them would take ~100 GB
    model = semdsl.loads(SPARSE, "sparse.sem")
    cm, peak = _peak(lambda: compile_model(model, seed=3))
    assert peak < 200e6, f"peak {peak / 1e6:.0f} MB"
    n, p = 100_000, 2e-5
    pairs = n * (n - 1) // 2
    mean, sd = pairs * p, math.sqrt(pairs * p * (1 - p))
    edges = cm.edge_src.size
    assert abs(edges - mean) < 5 * sd, (edges, mean, sd)
    # only pairs i < j, no self-loops, no repeats
    i = cm.nodes.index[cm.edge_src, 0]
    j = cm.nodes.index[cm.edge_dst, 0]
    assert np.all(i < j)
    assert np.unique(i * (n + 1) + j).size == edges
    # the degrees are Binomial(n - 1, p) ~ Poisson(2): mean, variance, P(0)
    deg = cm.nodes.attrs["degree"]
    lam = (n - 1) * p
    assert abs(deg.mean() - lam) < 5 * 2 * sd / n
    assert abs(deg.var() - lam * (1 - p)) < 5 * math.sqrt((lam * (1 + 3 * lam) - lam**2) / n)
    p0 = math.exp(-lam)
    assert abs(np.mean(deg == 0) - p0) < 5 * math.sqrt(p0 * (1 - p0) / n)
    # the `for` values recorded per edge are the drawn ones
    np.testing.assert_array_equal(cm.edge_for["i"], i)
    np.testing.assert_array_equal(cm.edge_for["j"], j)


def test_skipping_is_fast_and_reproducible():
    import time
    model = semdsl.loads(SPARSE, "sparse.sem")
    t = time.perf_counter()
    a = compile_model(model, seed=5)
    assert time.perf_counter() - t < 30
    b = compile_model(model, seed=5)
    c = compile_model(model, seed=6)
    np.testing.assert_array_equal(a.edge_src, b.edge_src)
    np.testing.assert_array_equal(a.edge_dst, b.edge_dst)
    assert a.edge_src.size != c.edge_src.size or not np.array_equal(a.edge_src, c.edge_src)


def test_geometric_positions_are_independent_bernoulli_trials():
    # every position kept with probability p, independently; blocks of 4 gaps force
    # many blocks (and their boundaries) per draw
    rng = np.random.default_rng(11)
    M, p, reps = 40, 0.3, 20_000
    counts = np.zeros(M)
    pair = 0  # positions 0 and 1 both kept
    sizes = np.empty(reps)
    for r in range(reps):
        pos = np.concatenate(list(_geometric_positions(rng, M, p, block=4)) or [np.zeros(0, np.int64)])
        assert np.all(np.diff(pos) > 0) and (pos.size == 0 or (pos[0] >= 0 and pos[-1] < M))
        counts[pos] += 1
        pair += (0 in pos) and (1 in pos)
        sizes[r] = pos.size
    z = (counts - reps * p) / math.sqrt(reps * p * (1 - p))
    bound = stats.norm.isf(1e-4 / (2 * M))
    assert np.abs(z).max() < bound, z
    zp = (pair - reps * p * p) / math.sqrt(reps * p * p * (1 - p * p))
    assert abs(zp) < bound
    # the number kept is Binomial(M, p): its variance too
    assert abs(sizes.mean() - M * p) < 5 * math.sqrt(M * p * (1 - p) / reps)
    assert abs(sizes.var() / (M * p * (1 - p)) - 1) < 5 * math.sqrt(2 / reps)


@pytest.mark.parametrize("M, p", [(10**12, 1e-9), (2**62 - 1, 1e-17), (10**6, 0.999), (5, 1e-300)])
def test_geometric_positions_extremes(M, p):
    rng = np.random.default_rng(2)
    pos = np.concatenate(list(_geometric_positions(rng, M, p)) or [np.zeros(0, np.int64)])
    assert np.all(np.diff(pos) > 0) and (pos.size == 0 or (pos[0] >= 0 and pos[-1] < M))
    mean = M * p
    assert abs(pos.size - mean) <= 5 * math.sqrt(mean) + 1


def test_skipped_statement_keeps_each_pair_with_its_probability(monkeypatch):
    # force the skipping path on a small statement and count each pair over seeds
    monkeypatch.setattr(compiler, "SKIP_MIN_CANDIDATES", 0)
    src = ("node h[i in 1..7]\n"
           "edge h[i] -- h[j] for i in 1..7, j in 1..7 if i < j with probability 0.3\n")
    model = semdsl.loads(src, "pairs.sem")
    n, p, reps = 7, 0.3, 400
    counts = np.zeros((n, n))
    for seed in range(reps):
        cm = compile_model(model, seed=seed)
        i = cm.nodes.index[cm.edge_src, 0] - 1
        j = cm.nodes.index[cm.edge_dst, 0] - 1
        assert np.all(i < j)
        counts[i, j] += 1
    iu = np.triu_indices(n, 1)
    assert np.all(counts[np.tril_indices(n)] == 0)
    z = (counts[iu] - reps * p) / math.sqrt(reps * p * (1 - p))
    assert np.abs(z).max() < stats.norm.isf(1e-4 / (2 * len(z))), z
    chi2 = float(np.sum(z**2))
    assert stats.chi2.sf(chi2, len(z)) > 1e-4


def test_small_statements_keep_their_random_streams():
    # up to SKIP_MIN_CANDIDATES candidates, one uniform per candidate passing the `if`,
    # in C order, from stream (statement, 5): the graph of a seed is what it was
    src = ("node h[i in 1..30]\n"
           "edge h[i] -- h[j] for i in 1..30, j in 1..30 if i < j with probability 0.2\n")
    cm = build(src, seed=4)
    c = compiler._Compiler(cm.model, cm.params, 4, 0, None, None, ())
    st = cm.model.edges[0].stmt
    u = c.rng(st, 5).random(30 * 29 // 2)
    ii, jj = np.triu_indices(30, 1)
    keep = u < 0.2
    np.testing.assert_array_equal(cm.nodes.index[cm.edge_src, 0], ii[keep] + 1)
    np.testing.assert_array_equal(cm.nodes.index[cm.edge_dst, 0], jj[keep] + 1)


def test_chunked_candidates_give_the_same_graph(monkeypatch):
    # a probability that depends on the `for` variables is drawn per candidate, chunk
    # after chunk: the chunk size does not change the graph
    src = ("node h[i in 1..60]\n"
           "edge h[i] -- h[j] for i in 1..60, j in 1..60 if i != j with probability 1/(1 + abs(i - j))"
           " { weight = i + j }\n")
    ref = build(src, seed=9)
    monkeypatch.setattr(compiler, "CANDIDATE_CHUNK", 7)
    got = build(src, seed=9)
    np.testing.assert_array_equal(ref.edge_src, got.edge_src)
    np.testing.assert_array_equal(ref.edge_dst, got.edge_dst)
    np.testing.assert_array_equal(ref.edge_attrs["weight"], got.edge_attrs["weight"])
    np.testing.assert_array_equal(ref.generator.toarray(), got.generator.toarray())


def test_index_dependent_probability_over_many_candidates_stays_in_bounded_memory():
    # 9e6 candidates with p(i, j): evaluated in chunks, memory follows the edges kept
    n = 3000
    src = (f"node h[i in 1..{n}]\n"
           f"edge h[i] -- h[j] for i in 1..{n}, j in 1..{n} if i < j with probability 1/(j - i)\n")
    model = semdsl.loads(src, "dep.sem")
    cm, peak = _peak(lambda: compile_model(model, seed=1))
    assert peak < 150e6, f"peak {peak / 1e6:.0f} MB"
    d = np.arange(1, n)
    mean = float(np.sum((n - d) / d))
    var = float(np.sum((n - d) / d * (1 - 1 / d)))
    assert abs(cm.edge_src.size - mean) < 5 * math.sqrt(var)


def test_undiluted_compile_keeps_every_candidate_with_its_probability():
    src = ("param p = 0.01\nnode h[i in 1..1200]\n"
           "edge h[i] -- h[j] for i in 1..1200, j in 1..1200 if i < j with probability p\n")
    cm = compile_model(semdsl.loads(src, "u.sem"), undiluted=True)
    assert cm.edge_src.size == 1200 * 1199 // 2
    assert np.all(cm.edge_prob == 0.01)


def test_drawing_too_many_candidates_is_refused_with_a_located_message():
    src = ("node h[i in 1..1000000]\n"
           "edge h[i] -- h[j] for i in 1..1000000, j in 1..1000000 if j == i + 1 with probability 0.5\n")
    with pytest.raises(LimitError) as err:
        build(src)
    text = str(err.value)
    assert "test.sem:2:1:" in text and "draws about" in text and "condition into the indices" in text


def test_empty_for_range_and_zero_probability():
    cm = build("node a\nnode h[i in 1..3]\nedge a -- h[i] for i in 1..0\n")
    assert cm.edge_src.size == 0
    cm = build("node h[i in 1..2000]\n"
               "edge h[i] -- h[j] for i in 1..2000, j in 1..2000 with probability 0\n")
    assert cm.edge_src.size == 0


# ------------------------------------------------------------------- generators
def test_sparse_erdos_renyi_memory_follows_the_edges():
    g, peak = _peak(lambda: erdos_renyi(200_000, mean_degree=3, rng=np.random.default_rng(1)))
    pairs = 200_000 * 199_999 // 2
    p = 3 / 199_999
    assert abs(g.src.size - pairs * p) < 5 * math.sqrt(pairs * p)
    assert peak < 100e6, f"peak {peak / 1e6:.0f} MB"


def test_edgelist_with_an_absurdly_long_line_is_refused(tmp_path):
    # the general parser holds the lines as one fixed-width array: one 3 MB line among
    # 200,000 would make it 600 GB
    f = tmp_path / "edges.txt"
    f.write_text("".join(f"a{k} b{k}\n" for k in range(200_000)) + "# " + "x" * 3_000_000 + "\n")
    with pytest.raises(GeneratorArgError, match="line 200001: a line of 3,000,003 bytes"):
        edgelist(str(f))


# ------------------------------------------------------------ estimates, refusals
def test_parse_and_format_bytes():
    assert parse_bytes("4GB") == 4 * 10**9
    assert parse_bytes("512MB") == 512 * 10**6
    assert parse_bytes("2GiB") == 2 * 2**30
    assert parse_bytes("1.5g") == 1_500_000_000
    assert parse_bytes("1e9") == 10**9
    assert parse_bytes(123) == 123
    assert parse_bytes("100 kB") == 100_000
    for bad in ("", "4XB", "-1GB", "0", "GB", "nan"):
        with pytest.raises(ParameterError):
            parse_bytes(bad)
    assert format_bytes(3.2e9) == "3.2 GB"
    assert format_bytes(850e6) == "850 MB"


def test_available_memory_is_read():
    avail = available_memory()
    assert avail is None or avail > 0
    if os.path.exists("/proc/meminfo"):
        assert avail is not None


def test_memory_estimate_refusal_names_the_statement():
    src = "node a\ngraph g = lattice(300, 300) { F ~ normal(0, 1) }\nedge a -- g[1, 1]\n"
    model = semdsl.loads(src, "mem.sem")
    with pytest.raises(LimitError) as err:
        compile_model(model, max_memory="1MB")
    text = str(err.value)
    assert "mem.sem:2:1:" in text
    assert "needs an estimated" in text and "more than the limit (1.0 MB)" in text
    assert "--max-memory" in text
    # the same model compiles with room to spare
    assert compile_model(model, max_memory="1GB").n == 90_001


def test_memory_estimate_follows_the_real_peak():
    # within a factor of 2 of what tracemalloc sees (the estimate is meant as an upper bound)
    src = "graph g = lattice(400, 400) { F ~ normal(0, 1) }\nrate metropolis(1, 2)\n"
    model = semdsl.loads(src, "est.sem")
    c = compiler._Compiler(model, compiler.resolve_params(model, {}), 1, 0, None, None, ())
    _, peak = _peak(c.run)
    assert 0.8 * peak < c.memory_estimate < 2.0 * peak, (c.memory_estimate, peak)


def test_compile_limits_sets_and_restores_the_default(monkeypatch):
    monkeypatch.delenv(compiler.MEMORY_ENV, raising=False)
    model = semdsl.loads("graph g = lattice(200, 200)\n", "lim.sem")
    seen = []
    monkeypatch.setattr(compiler, "MEMORY_NOTICE_BYTES", 0)
    with compile_limits(max_memory="2GB", notice=seen.append):
        assert os.environ[compiler.MEMORY_ENV] == str(2 * 10**9)
        assert memory_limit() == (2 * 10**9, "the --max-memory limit")
        compile_model(model)
        with pytest.raises(LimitError, match="more than the --max-memory limit"):
            with compile_limits(max_memory="10kB"):
                compile_model(model)
    assert compiler.MEMORY_ENV not in os.environ
    assert memory_limit()[1] == "the memory available"
    assert len(seen) == 1 and "lim.sem: estimated memory" in seen[0] and "4.0e4 states" in seen[0]


def _cli(args, capsys):
    status = main(args)
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.fixture
def sparse_file(tmp_path):
    f = tmp_path / "sparse.sem"
    f.write_text(SPARSE)
    return f


def test_cli_max_memory_refusal(sparse_file, capsys):
    status, _, err = _cli(["check", str(sparse_file), "--max-memory", "5MB"], capsys)
    assert status == 1 and "Traceback" not in err
    assert "sparse.sem:4:1: error: compiling this model needs an estimated" in err
    assert "more than the --max-memory limit (5.0 MB)" in err
    assert "edge h[i] -- h[j] for i in 1..n" in err and "^^^" in err
    status, _, err = _cli(["check", str(sparse_file), "--max-memory", "lots"], capsys)
    assert status == 1 and "--max-memory: error: cannot read 'lots'" in err and "Traceback" not in err


def test_cli_prints_the_estimate_of_a_large_compile(sparse_file, capsys, monkeypatch):
    monkeypatch.setattr(compiler, "MEMORY_NOTICE_BYTES", 10e6)
    status, out, err = _cli(["check", str(sparse_file)], capsys)
    assert status == 0
    lines = [ln for ln in err.splitlines() if "estimated memory" in ln]
    assert len(lines) == 1, err
    assert lines[0].startswith("semdsl: ") and "for 1.0e5 states, 2.0e5 transitions" in lines[0] or "for 1.0e5 states, 2.1e5 transitions" in lines[0]


def test_cli_max_states_and_max_transitions_refusals(sparse_file, capsys):
    status, _, err = _cli(["check", str(sparse_file), "--max-states", "1000"], capsys)
    assert status == 1 and "Traceback" not in err
    assert "sparse.sem:3:1: error: the model has 100,000 states, above the limit of 1,000" in err
    assert "node h[i in 1..n]" in err
    status, _, err = _cli(["compile", str(sparse_file), "--emit", "json", "--max-transitions", "1000"], capsys)
    assert status == 1 and "Traceback" not in err
    assert "sparse.sem:4:1: error: the model has up to" in err and "above the limit of 1,000" in err
    assert "hint: raise --max-transitions" in err


def test_cli_all_pairs_compile_end_to_end(sparse_file, capsys):
    status, out, err = _cli(["check", str(sparse_file)], capsys)
    assert status == 0, err
    assert "nodes        100,000" in out


def test_edge_list_size_counts_before_reading(tmp_path):
    (tmp_path / "edges.txt").write_text("".join(f"{k} {k + 1}\n" for k in range(1, 20_001)))
    f = tmp_path / "el.sem"
    f.write_text('node a\ngraph g = edgelist("edges.txt")\nedge a -- g[1]\n')
    model = semdsl.load(f)
    assert compile_model(model).edge_src.size == 20_001
    with pytest.raises(LimitError) as err:
        compile_model(model, max_transitions=10_000)
    assert "el.sem:2:1:" in str(err.value) and "up to 40,002 transitions" in str(err.value)
    with pytest.raises(LimitError) as err:
        compile_model(model, max_memory="1MB")
    assert "el.sem:2:1:" in str(err.value) and "needs an estimated" in str(err.value)
