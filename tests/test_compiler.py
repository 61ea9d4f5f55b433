"""Compiler: the contract's statements mean what LANGUAGE.md says.

Counts are exact where the declaration fixes them; random dilution is compared with
its binomial mean within 5 standard errors (a false alarm rate below 1e-6).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import semdsl
from semdsl import is_distribution, is_generator
from semdsl.errors import CompileError, LimitError, ParameterError, SemdslError

from conftest import build

TWO = """
model two
param kp = 2 in 0..10
param km = 3
node A
node B
edge A -> B { rate = kp }
edge B -> A { rate = km }
init A
observable pB = prob(B)
"""


def Q(cm) -> np.ndarray:
    return cm.generator.toarray()


def test_two_state_generator_and_master_equation():
    cm = build(TWO)
    np.testing.assert_array_equal(Q(cm), [[-2, 2], [3, -3]])
    assert is_generator(cm.generator) and is_distribution(cm.init)
    me = cm.master_equation()
    kp, km = me.symbols["kp"], me.symbols["km"]
    PA, PB = me.probabilities
    assert sp.simplify(me.equations[0].rhs - (km * PB - kp * PA)) == 0
    assert sp.simplify(me.equations[1].rhs - (kp * PA - km * PB)) == 0
    numeric = cm.master_equation(symbolic=False)
    assert sp.simplify(numeric.equations[0].rhs - (3 * PB - 2 * PA)) == 0


def test_override_and_range():
    cm = build(TWO, {"kp": 7})
    assert Q(cm)[0, 1] == 7
    with pytest.raises(ParameterError, match=r"outside its range 0\.\.10"):
        build(TWO, {"kp": 11})
    with pytest.raises(ParameterError, match=r"did you mean 'kp'"):
        build(TWO, {"kpp": 1})


def test_family_condition_on_a_parameter():
    src = """
param N = 10000
node m[k in 1..12] if N >= 1000 * 2^k { F = 1/k }
edge m[k] -- m[k+1] for k in 1..11
"""
    cm = build(src)
    assert cm.n == 3  # 2000, 4000, 8000 <= 10000 < 16000
    np.testing.assert_allclose(np.sort(cm.nodes.attrs["F"]), [1 / 3, 1 / 2, 1])
    assert cm.edge_src.size == 2  # m[3] -- m[4] is dropped: m[4] does not exist
    assert build(src, {"N": 1e6}).n == 9
    m = semdsl.loads(src)
    assert m.params["N"].structural


def test_two_index_family_slice_and_names():
    src = """
param M = 3
node s[n in 1..5, k in 1..M] { F = 1/n }
observable a = prob(s[2, *])
observable b = prob(s[*, *])
observable c = prob({s[1, 1], s[5, 3]})
observable d = prob(where(F < 0.3))
"""
    cm = build(src)
    assert cm.n == 15
    names = cm.nodes.names()
    assert names[0] == "s[1, 1]" and names[-1] == "s[5, 3]"
    assert [names[i] for i in cm.sets["s[2, *]"]] == ["s[2, 1]", "s[2, 2]", "s[2, 3]"]
    assert cm.sets["s[*, *]"].size == 15
    assert [names[i] for i in cm.sets["{s[1, 1], s[5, 3]}"]] == ["s[1, 1]", "s[5, 3]"]
    assert {names[i] for i in cm.sets["where(F < 0.3)"]} == {f"s[{n}, {k}]" for n in (4, 5) for k in (1, 2, 3)}
    assert cm.nodes.find("s[3, 2]") == 7


def test_edge_family_chain_degree_and_rates():
    src = """
node h[i in 1..40] { F = 1.5 + 0.3*sin(i) }
edge h[i] -- h[i+1] for i in 1..39
rate arrhenius(1, 2)
"""
    cm = build(src)
    assert cm.edge_src.size == 39 and cm.n_transitions == 78
    deg = cm.nodes.attrs["degree"]
    assert deg[0] == 1 and deg[-1] == 1 and np.all(deg[1:-1] == 2)
    F = 1.5 + 0.3 * np.sin(np.arange(1, 41))
    q = Q(cm)
    for i in (0, 10, 38):
        assert q[i, i + 1] == pytest.approx(math.exp(-2 * (F[i + 1] - F[i])), rel=1e-14)
        assert q[i + 1, i] == pytest.approx(math.exp(-2 * (F[i] - F[i + 1])), rel=1e-14)


@pytest.mark.parametrize("law, expected", [
    ("arrhenius(2, 3)", lambda dF, B: 2 * math.exp(-3 * dF)),
    ("metropolis(2, 3)", lambda dF, B: 2 * min(1, math.exp(-3 * dF))),
    ("glauber(2, 3)", lambda dF, B: 2 / (1 + math.exp(3 * dF))),
    ("barrier(2, 3)", lambda dF, B: None),
    ("uniform(2)", lambda dF, B: 2),
    ("arrhenius(R0 = 2, beta = 3)", lambda dF, B: 2 * math.exp(-3 * dF)),
])
def test_rate_laws(law, expected):
    src = f"""
node a {{ F = 0.25 }}
node b {{ F = 1.0 }}
edge a -- b {{ B = 0.5 }}
rate {law}
"""
    q = Q(build(src))
    if law.startswith("barrier"):
        # a -> b: exp(-beta (max(Fa, Fb) + B - Fa)); b -> a: exp(-beta (max + B - Fb))
        assert q[0, 1] == pytest.approx(2 * math.exp(-3 * (1.0 + 0.5 - 0.25)))
        assert q[1, 0] == pytest.approx(2 * math.exp(-3 * (1.0 + 0.5 - 1.0)))
        return
    assert q[0, 1] == pytest.approx(expected(0.75, 0.5), rel=1e-14)
    assert q[1, 0] == pytest.approx(expected(-0.75, 0.5), rel=1e-14)


def test_weight_own_rate_and_parallel_edges():
    src = """
node a
node b
node c
edge a -- b { weight = 3 }
edge a -- b
edge b -> c { rate = 0.5; weight = 2 }
rate uniform(1.5)
"""
    q = Q(build(src))
    assert q[0, 1] == pytest.approx(1.5 * 3 + 1.5)   # parallel edges add
    assert q[1, 2] == pytest.approx(1.0) and q[2, 1] == 0  # own rate times weight, directed
    assert q[1, 0] == pytest.approx(6.0)


def test_custom_rate_reads_src_dst_edge_and_degree():
    src = """
param R0 = 2
param beta = 1
node hub { depth = 0 }
node leaf[i in 1..3] { depth = 1 }
edge hub -- leaf[i] for i in 1..3 { B = i }
rate = R0 * exp(-beta * dst.depth) / src.degree + edge.B
"""
    q = Q(build(src))
    for i in range(1, 4):
        assert q[0, i] == pytest.approx(2 * math.exp(-1) / 3 + i)
        assert q[i, 0] == pytest.approx(2 * math.exp(0) / 1 + i)


def test_let_is_expanded_where_used():
    src = """
param a = 2
let shape = a * sin(i)
node h[i in 1..5] { F = shape }
"""
    cm = build(src)
    np.testing.assert_allclose(cm.nodes.attrs["F"], 2 * np.sin(np.arange(1, 6)))


def test_bond_dilution_matches_binomial_and_is_reproducible():
    src = """
param p = 0.3
node h[i in 1..200]
edge h[i] -- h[j] for i in 1..200, j in 1..200 if i < j with probability p
"""
    pairs = 200 * 199 // 2
    counts = [build(src, seed=s).edge_src.size for s in (1, 2, 3)]
    for c in counts:
        assert abs(c - 0.3 * pairs) < 5 * math.sqrt(pairs * 0.3 * 0.7)
    assert len(set(counts)) == 3
    a, b = build(src, seed=5), build(src, seed=5)
    np.testing.assert_array_equal(a.edge_src, b.edge_src)
    np.testing.assert_array_equal(a.edge_dst, b.edge_dst)


def test_site_and_bond_dilution_of_a_generated_lattice():
    src = """
graph g = lattice(100, 100) with probability 0.6 sites with probability 0.8
"""
    cm = build(src)
    assert abs(cm.n - 8000) < 5 * math.sqrt(10000 * 0.8 * 0.2)
    # an edge survives if both ends and the bond survive: 19800 * 0.6 * 0.8^2
    expect = 19800 * 0.6 * 0.64
    assert abs(cm.edge_src.size - expect) < 6 * math.sqrt(expect)
    assert is_generator(cm.generator)


def test_random_attributes_statistics_and_streams():
    src = """
node a[i in 1..20000] { F ~ normal(1, 0.5); G ~ exponential(rate = 4); H ~ exponential(mean = 0.25); U ~ uniform(-1, 3) }
"""
    cm = build(src)
    at = cm.nodes.attrs
    n = 20000
    assert abs(at["F"].mean() - 1) < 5 * 0.5 / math.sqrt(n)
    assert abs(at["F"].std() - 0.5) < 5 * 0.5 / math.sqrt(2 * n)
    assert abs(at["G"].mean() - 0.25) < 5 * 0.25 / math.sqrt(n)
    assert abs(at["H"].mean() - 0.25) < 5 * 0.25 / math.sqrt(n)
    assert at["U"].min() >= -1 and at["U"].max() <= 3
    # a statement's draws do not depend on statements added before it
    more = "param unused = 1\nnode b { F ~ normal(0, 1) }\n" + src
    cm2 = build(more)
    np.testing.assert_array_equal(cm2.nodes.attrs["F"][1:], at["F"])
    np.testing.assert_array_equal(cm2.nodes.attrs["G"][1:], at["G"])


def test_same_seed_same_realisation_different_seed_differs():
    src = "graph g = lattice(30, 30) { F ~ normal(0, 1) }\n"
    a, b, c = build(src, seed=7), build(src, seed=7), build(src, seed=8)
    np.testing.assert_array_equal(a.nodes.attrs["F"], b.nodes.attrs["F"])
    assert not np.array_equal(a.nodes.attrs["F"], c.nodes.attrs["F"])
    r1 = semdsl.compile(semdsl.loads(src), seed=7, realization=1)
    assert not np.array_equal(a.nodes.attrs["F"], r1.nodes.attrs["F"])


@pytest.mark.parametrize("init, expected", [
    ("init b", [0, 1, 0]),
    ("init uniform", [1 / 3] * 3),
    ("init { a = 0.25, c = 0.75 }", [0.25, 0, 0.75]),
    ("init {a, c}", [0.5, 0, 0.5]),
])
def test_init_forms(init, expected):
    src = f"node a {{ F = 0 }}\nnode b {{ F = 1 }}\nnode c {{ F = 2 }}\nedge a -- b\nedge b -- c\n{init}\n"
    np.testing.assert_allclose(build(src).init, expected)


def test_init_boltzmann():
    src = "param beta = 2\nnode a { F = 0 }\nnode b { F = 1 }\nedge a -- b\ninit boltzmann(beta)\n"
    p = build(src).init
    np.testing.assert_allclose(p, np.array([1, math.exp(-2)]) / (1 + math.exp(-2)))


def test_init_weights_must_sum_to_one():
    src = "node a\nnode b\nedge a -- b\ninit { a = 0.25, b = 0.5 }\n"
    with pytest.raises(CompileError, match="sum to 0.75, not 1"):
        build(src)


def test_index_out_of_range_outside_a_family_is_an_error():
    src = "node a\nnode h[i in 1..40]\nedge a -- h[41]\n"
    with pytest.raises(CompileError) as ei:
        build(src)
    d = ei.value.diagnostics[0]
    assert "index out of range: h[41] (declared h[1..40])" in d.message
    assert (d.span.line, d.span.column) == (3, 11)


def test_negative_rate_names_the_edge():
    src = "node a { F = 0 }\nnode b { F = 1 }\nedge a -- b\nrate = 1 - 2 * dst.F\n"
    with pytest.raises(CompileError, match=r"the rate of a -> b is negative \(-1\)"):
        build(src)


def test_exp_overflow_is_reported_not_inf():
    src = "node a { F = 0 }\nnode b { F = 1000 }\nedge a -- b\nrate arrhenius(1, 1)\n"
    with pytest.raises(CompileError, match="infinite"):
        build(src)


def test_empty_state_space():
    with pytest.raises(CompileError, match="state space is empty"):
        build("param N = 1\nnode m[k in 1..3] if N > 10\n")


def test_limits_are_checked_before_allocating():
    # 10^10 states: refused at once, long before any array of that size could exist
    with pytest.raises(LimitError, match="above the limit"):
        build("graph g = lattice(100000, 100000)\n")
    with pytest.raises(LimitError, match="above the limit of 100"):
        build("graph g = lattice(20, 20)\n", max_states=100)
    with pytest.raises(LimitError, match="transitions"):
        build("graph g = lattice(20, 20)\n", max_transitions=1000)


def test_default_rate_law_is_uniform_one():
    m = semdsl.loads("node a\nnode b\nedge a -- b\n")
    assert m.rate.default and m.rate.law == "uniform"
    np.testing.assert_array_equal(Q(build("node a\nnode b\nedge a -- b\n")), [[-1, 1], [1, -1]])


@pytest.mark.parametrize("gen, n, e", [
    ("lattice(10, 10)", 100, 180),
    ("lattice(10, 10, periodic = true)", 100, 200),
    ("lattice(4, 4, 4)", 64, 144),
    ("sierpinski(3)", 42, 81),
    ("tree(2, 5)", 63, 62),
    ("random_regular(100, 3)", 100, 150),
    ("triangular(5, 5)", 25, 56),
])
def test_generators_through_the_language(gen, n, e):
    cm = build(f"graph g = {gen}\n")
    assert cm.n == n and cm.edge_src.size == e
    assert is_generator(cm.generator)


def test_generator_attributes_are_usable():
    cm = build("graph g = lattice(4, 3) { F = x + 10 * y }\ninit g[2, 3]\n")
    names = cm.nodes.names()
    i = int(np.flatnonzero(cm.init)[0])
    assert names[i] == "g[2, 3]"
    assert cm.nodes.attrs["F"][i] == 2 + 30


def test_structural_parameters():
    m = semdsl.loads("""
param D = 4000
param p = D / 20000
param L = 10
param beta = 2
param mu = 0.5
graph g = lattice(L, L)
node h[i in 1..3] { B ~ exponential(rate = mu * beta) }
edge h[i] -- h[j] for i in 1..3, j in 1..3 if i < j with probability p
rate arrhenius(1, beta)
""")
    kinds = {p.name: (p.structural, p.sampled) for p in m.params.values()}
    assert kinds == {"D": (True, False), "p": (True, False), "L": (True, False),
                     "beta": (False, True), "mu": (False, True)}


def test_errors_are_collected_in_one_pass():
    with pytest.raises(SemdslError) as ei:
        semdsl.loads("node a\nedge a -- bb\nedge a -- cc\nrate arrhenuis(1, 2)\n", "x.sem")
    msgs = ei.value.messages
    assert len(msgs) == 3
    assert "unknown node 'bb'" in msgs[0] and "did you mean 'arrhenius'" in msgs[2]


@pytest.mark.parametrize("matrix, ok", [
    ([[-1, 1], [2, -2]], True),
    ([[0, 0], [0, 0]], True),
    ([[-1, 1, 0], [0, 0, 0], [1, 1, -2]], True),           # an absorbing row
    ([[1, -1], [2, -2]], False),                            # negative off-diagonal
    ([[-1, 1], [2, -1]], False),                            # row does not sum to 0
    ([[-1, 2, -1], [0, 0, 0], [0, 0, 0]], False),          # two negatives in a row
    ([[-np.inf, np.inf], [0, 0]], False),
    ([[np.nan, 0], [0, 0]], False),
])
def test_is_generator(matrix, ok):
    import scipy.sparse as sps
    assert is_generator(sps.csr_matrix(np.array(matrix, dtype=float))) is ok
