"""Static facts about a compiled model: the summary ``semdsl check`` prints.

All graph work is done with ``scipy.sparse.csgraph`` and array operations, so the
checks run on 10^6-node landscapes in about a second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp_sparse
from scipy.sparse import csgraph

from . import syntax as S
from .errors import Diagnostic

if TYPE_CHECKING:  # pragma: no cover
    from .compiler import CompiledModel


@dataclass(frozen=True)
class DetailedBalance:
    """Whether ``pi_i R_ij = pi_j R_ji`` has a solution, and which ``pi``.

    ``holds`` is decided numerically on the compiled rates (Kolmogorov's criterion via a
    spanning-forest potential); ``reason`` explains a failure by naming a transition.
    """

    holds: bool
    reason: str
    log_pi: np.ndarray | None = field(default=None, repr=False)
    #: b with pi ~ exp(-b F) exactly (None when pi is not of that form)
    boltzmann_factor: float | None = None


def detailed_balance(cm: "CompiledModel", rtol: float = 1e-8) -> DetailedBalance:
    """Test detailed balance of the compiled generator."""
    Q = cm.generator.tocsr().copy()
    Q.setdiag(0)
    Q.eliminate_zeros()
    n = Q.shape[0]
    if Q.nnz == 0:
        return DetailedBalance(True, "no transitions", np.zeros(n))
    pattern = (Q > 0).astype(np.int8)
    asym = (pattern - pattern.T).tocoo()
    asym.eliminate_zeros()
    if asym.nnz:
        k = int(np.argmax(asym.data > 0))
        i, j = int(asym.row[k]), int(asym.col[k])
        return DetailedBalance(False, f"the hop {cm.nodes.name(i)} -> {cm.nodes.name(j)} has no "
                               "reverse, so no distribution balances it")
    coo = Q.tocoo()
    rev = np.asarray(Q[coo.col, coo.row]).ravel()
    lr = np.log(coo.data) - np.log(rev)   # phi_j - phi_i must equal log(R_ij / R_ji)
    LR = sp_sparse.csr_matrix((lr, (coo.row, coo.col)), shape=(n, n))
    adj = sp_sparse.csr_matrix((np.ones(coo.nnz), (coo.row, coo.col)), shape=(n, n))
    phi = _potential(adj, LR)
    resid = phi[coo.col] - phi[coo.row] - lr
    scale = 1.0 + np.abs(lr) + np.abs(phi[coo.col]) + np.abs(phi[coo.row])
    bad = np.abs(resid) > rtol * scale
    if bad.any():
        k = int(np.argmax(np.abs(resid) / scale))
        i, j = int(coo.row[k]), int(coo.col[k])
        return DetailedBalance(False, f"Kolmogorov's criterion fails on a cycle through "
                               f"{cm.nodes.name(i)} -> {cm.nodes.name(j)} (log-ratio mismatch "
                               f"{resid[k]:.3g})")
    F = cm.nodes.attrs["F"]
    b = _boltzmann_factor(phi, F, adj)
    if b is None:
        reason = "pi_i R_ij = pi_j R_ji for every hop"
    elif abs(b) < 1e-12:
        reason = "pi_i R_ij = pi_j R_ji for every hop; pi is uniform on each part"
    else:
        reason = f"pi_i R_ij = pi_j R_ji for every hop, with pi ~ exp(-{b:.6g} F)"
    return DetailedBalance(True, reason, phi, b)


def _boltzmann_factor(phi: np.ndarray, F: np.ndarray, adj) -> float | None:
    """b such that phi_j - phi_i = -b (F_j - F_i) on every edge, if one exists."""
    coo = adj.tocoo()
    dphi = phi[coo.col] - phi[coo.row]
    dF = F[coo.col] - F[coo.row]
    if dF.size == 0 or np.unique(F).size < 3:  # two levels always fit a line: say nothing
        return None
    if np.all(np.abs(dF) < 1e-300):
        return 0.0 if np.all(np.abs(dphi) < 1e-9) else None
    b = -float(np.dot(dphi, dF) / np.dot(dF, dF))
    if np.all(np.abs(dphi + b * dF) <= 1e-8 * (1 + np.abs(dphi))):
        return b
    return None


def _potential(adj: sp_sparse.csr_matrix, LR: sp_sparse.csr_matrix) -> np.ndarray:
    """phi on a BFS spanning forest with phi[child] - phi[parent] = LR[parent, child]."""
    n = adj.shape[0]
    _, labels = csgraph.connected_components(adj, directed=False)
    reps = np.unique(labels, return_index=True)[1]
    link = sp_sparse.csr_matrix((np.ones(reps.size), (reps, np.zeros(reps.size, dtype=int))), shape=(n, 1))
    ext = sp_sparse.bmat([[adj, link], [link.T, None]], format="csr")
    _, pred = csgraph.breadth_first_order(ext, n, directed=False, return_predecessors=True)
    parent = pred[:n].astype(np.int64)
    idx = np.arange(n)
    is_root = parent == n
    parent[is_root] = idx[is_root]
    inc = np.zeros(n)
    nr = ~is_root
    inc[nr] = np.asarray(LR[parent[nr], idx[nr]]).ravel()
    # pointer doubling: total[v] sums inc over the tree path [v, p[v]); p <- p[p]
    # doubles that path (O(log depth) rounds); roots have p = self and inc = 0.
    total = inc.copy()
    p = parent.copy()
    while not np.array_equal(p, p[p]):
        total = total + total[p]
        p = p[p]
    return total + total[p]  # the final hop into the root adds the root's 0


@dataclass
class CheckReport:
    """What ``semdsl check`` prints (and ``--json`` serialises)."""

    model: str
    file: str
    hash: str
    nodes: int
    edges: int
    transitions: int
    params: list[dict[str, Any]]
    rate_law: str
    detailed_balance: bool
    detailed_balance_reason: str
    components: int
    largest_component: int
    absorbing: list[str]
    absorbing_count: int
    unreachable_from_init: int
    unreachable_targets: list[str]
    families: list[str]
    warnings: list[Diagnostic] = field(default_factory=list)
    #: closed communicating classes (sets of nodes the walk never leaves): size, up to 5
    #: node names, and whether the walk can end there from init (at most 20 listed)
    closed_classes: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["warnings"] = [w.render() for w in self.warnings]
        return d


def _names(cm, ids: np.ndarray, limit: int = 5) -> list[str]:
    return [cm.nodes.name(int(i)) for i in ids[:limit]]


def _name_set(cm, ids: np.ndarray, limit: int = 5) -> str:
    """``{a, b, ...} (12 nodes)``: a set of nodes by name (up to ``limit``) and its size."""
    inner = ", ".join(_names(cm, ids, limit)) + (", ..." if ids.size > limit else "")
    return "{" + inner + "}" + (f" ({ids.size:,} nodes)" if ids.size != 1 else "")


def closed_classes(cm: "CompiledModel", reach: np.ndarray | None = None,
                   limit: int = 20) -> tuple[list[dict[str, Any]], int, int]:
    """The closed communicating classes of the compiled chain (strongly connected sets with no hop out).

    Returns ``(classes, total, reached)``: ``total`` closed classes, ``reached`` of them
    reachable from init, and the first ``limit`` as ``{"size", "nodes" (up to 5 names),
    "text" ({a, b} (2 nodes)), "reached_from_init"}`` -- those the walk can end in from
    init first, largest first.  An irreducible chain has one class holding every node.
    """
    from .solvers.exact import _classes
    cl = _classes(cm.generator.tocsr())
    if reach is None:
        A = cm.generator.tocsr().copy()
        A.setdiag(0)
        A.eliminate_zeros()
        reach = reachable(A, np.flatnonzero(cm.init > 0))
    if cl.r == 0:
        return [], 0, 0
    sizes = np.bincount(cl.closed_label, minlength=cl.r)
    first = np.full(cl.r, cm.n, dtype=np.int64)
    np.minimum.at(first, cl.closed_label, cl.closed_states)
    hit = reach[first]
    order = np.lexsort((-sizes, ~hit))[:limit]
    out = []
    for c in order:  # at most `limit` classes
        ids = cl.closed_states[cl.closed_label == c]
        out.append({"size": int(sizes[c]), "nodes": _names(cm, ids), "text": _name_set(cm, ids),
                    "reached_from_init": bool(hit[c])})
    return out, int(cl.r), int(hit.sum())


#: the smallest positive normal double; a rate below it has lost significant digits
_TINY = float(np.finfo(float).tiny)


def _rate_range_warnings(cm: "CompiledModel") -> list[Diagnostic]:
    """Rates that underflowed: subnormal (digits lost) or 0 where the law's formula is positive.

    The exponential laws (arrhenius, metropolis, glauber, barrier) give exactly 0 only
    by underflow (``exp(-x)`` for ``x > 745``); such a hop is missing from the chain, so
    a target behind it is reported unreachable instead of taking ~e^x time.
    """
    law = cm.model.rate
    rates = np.asarray(cm.rates, dtype=np.float64)
    if rates.size == 0:
        return []
    sub = (rates > 0) & (rates < _TINY)
    zero = np.zeros_like(sub)
    te = cm.transition_edge
    if law.law in ("arrhenius", "metropolis", "glauber", "barrier") and te is not None and te.size == rates.size:
        attrs = cm.edge_attrs or {}
        by_law = np.ones(rates.size, dtype=bool)
        if "rate" in attrs:  # an edge's own rate replaces the law (a 0 there is meant)
            by_law &= np.isnan(np.asarray(attrs["rate"], dtype=np.float64)[te])
        if "weight" in attrs:
            by_law &= np.asarray(attrs["weight"], dtype=np.float64)[te] > 0
        # the law gives exactly 0 only by underflow, unless R0 = 0 (then no hop of the law has a rate)
        if np.any(by_law & (rates > 0)):
            zero = by_law & (rates == 0)
    bad = sub | zero
    if not bad.any():
        return []
    k = int(np.flatnonzero(bad)[0])
    hop = f"{cm.nodes.name(int(cm.src[k]))} -> {cm.nodes.name(int(cm.dst[k]))}"
    what = []
    if sub.any():
        what.append(f"{int(sub.sum()):,} below 2.2e-308 (subnormal: significant digits lost)")
    if zero.any():
        what.append(f"{int(zero.sum()):,} underflowed to 0 (those hops are missing from the chain)")
    return [Diagnostic(law.span, f"rates of the law underflow: {' and '.join(what)}, e.g. {hop} "
                       f"(rate {rates[k]:.3g})",
                       "exp(-x) underflows for x > 708 (subnormal) and x > 745 (zero): lower beta or rescale F "
                       "if these hops matter; a target reached only through them is reported unreachable",
                       "warning")]


def check_report(cm: "CompiledModel") -> CheckReport:
    """Static facts and warnings about a compiled model."""
    from .master import law_text, summary_lines
    m = cm.model
    warnings = list(m.warnings)
    Q = cm.generator
    n = cm.n
    A = Q.copy().tocsr()
    A.setdiag(0)
    A.eliminate_zeros()
    ncomp, labels = csgraph.connected_components(A, directed=False)
    sizes = np.bincount(labels)
    largest = int(sizes.max()) if sizes.size else 0
    first_stmt = m.syntax.statements[0].span if m.syntax and m.syntax.statements else None
    fam_span = next(iter(m.families.values())).span if m.families else first_stmt
    if ncomp > 1:
        small = np.sort(sizes)[::-1]
        order = np.argsort(-sizes, kind="stable")[:4]
        parts = "; ".join(_name_set(cm, np.flatnonzero(labels == c)) for c in order)
        warnings.append(Diagnostic(fam_span, f"the landscape falls apart into {ncomp:,} disconnected "
                                   f"parts (sizes {', '.join(str(int(s)) for s in small[:6])}"
                                   f"{', ...' if ncomp > 6 else ''}): {parts}"
                                   f"{'; ...' if ncomp > 4 else ''}",
                                   "a walker never leaves its part; connect them or expect "
                                   "init-dependent stationary answers", "warning"))
    exit_rates = cm.exit_rates
    absorbing = np.flatnonzero(exit_rates <= 0)
    if absorbing.size:
        warnings.append(Diagnostic(fam_span, f"{absorbing.size:,} absorbing node"
                                   f"{'s' if absorbing.size > 1 else ''} (no way out): "
                                   + ", ".join(_names(cm, absorbing)) + (", ..." if absorbing.size > 5 else ""),
                                   "fine for a target of first passage; otherwise add edges out",
                                   "warning"))
    if m.init.default:
        warnings.append(Diagnostic(fam_span, "no init statement: walkers start uniformly over all nodes",
                                   "write init NODE (or init uniform to say so)", "warning"))
    # reachability from the initial support (directed)
    init_ids = np.flatnonzero(cm.init > 0)
    reach = reachable(A, init_ids)
    classes, _, n_ends = closed_classes(cm, reach)
    ends = [c for c in classes if c["reached_from_init"]]
    if n_ends > 1:
        shown = ", ".join(c["text"] for c in ends[:4]) + (f" and {n_ends - 4:,} more" if n_ends > 4 else "")
        warnings.append(Diagnostic(m.init.span or fam_span,
                                   f"the chain is reducible: from init the walk ends in one of {n_ends:,} closed "
                                   f"classes (sets of nodes it never leaves): {shown}",
                                   "stationary answers are the mixture over these classes weighted by where the "
                                   "walk is absorbed, so they depend on init; add edges between the classes if "
                                   "the walk should mix", "warning"))
    warnings += _rate_range_warnings(cm)
    unreachable = int(n - reach.sum())
    if unreachable:
        ids = np.flatnonzero(~reach)
        warnings.append(Diagnostic(m.init.span or fam_span, f"{unreachable:,} node"
                                   f"{'s are' if unreachable > 1 else ' is'} unreachable from init: "
                                   + ", ".join(_names(cm, ids)) + (", ..." if ids.size > 5 else ""),
                                   None, "warning"))
    bad_targets = []
    for ob in m.observables.values():
        if ob.kind in ("prob", "first_passage"):
            ids = cm.sets.get(ob.sets[0].text, np.zeros(0, np.int64))
            if ids.size == 0:
                warnings.append(Diagnostic(ob.sets[0].span, f"the set '{ob.sets[0].text}' of observable "
                                           f"'{ob.name}' is empty with these parameters", None, "warning"))
                bad_targets.append(ob.name)
            elif not reach[ids].any():
                warnings.append(Diagnostic(ob.sets[0].span, f"the target '{ob.sets[0].text}' of observable "
                                           f"'{ob.name}' cannot be reached from init",
                                           "its first-passage time is infinite (null) with these parameters",
                                           "warning"))
                bad_targets.append(ob.name)
    # attributes read but not defined everywhere
    warnings += _undefined_attribute_warnings(cm)
    db = detailed_balance(cm)
    params = []
    for p in m.params.values():
        params.append({"name": p.name, "value": cm.params[p.name], "structural": p.structural,
                       "sampled": p.sampled, "reasons": list(p.reasons), "doc": p.doc})
    return CheckReport(model=m.name, file=m.file, hash=m.hash, nodes=n, edges=int(cm.edge_src.size),
                       transitions=cm.n_transitions, params=params,
                       rate_law=m.rate.describe() + ": " + law_text(cm),
                       detailed_balance=db.holds, detailed_balance_reason=db.reason,
                       components=int(ncomp), largest_component=largest,
                       absorbing=_names(cm, absorbing, 20), absorbing_count=int(absorbing.size),
                       unreachable_from_init=unreachable, unreachable_targets=bad_targets,
                       families=summary_lines(cm), warnings=warnings,
                       closed_classes=[{k: c[k] for k in ("size", "nodes", "reached_from_init")}
                                       for c in classes])


def reachable(A: sp_sparse.csr_matrix, sources: np.ndarray) -> np.ndarray:
    """Boolean mask of nodes reachable (following hops) from any of ``sources``."""
    n = A.shape[0]
    if sources.size == 0:
        return np.zeros(n, dtype=bool)
    link = sp_sparse.csr_matrix((np.ones(sources.size), (np.zeros(sources.size, dtype=int), sources)),
                                shape=(1, n))
    ext = sp_sparse.bmat([[A, sp_sparse.csr_matrix((n, 1))], [link, sp_sparse.csr_matrix((1, 1))]], format="csr")
    order = csgraph.breadth_first_order(ext, n, directed=True, return_predecessors=False)
    mask = np.zeros(n + 1, dtype=bool)
    mask[order] = True
    return mask[:n]


def _undefined_attribute_warnings(cm) -> list[Diagnostic]:
    """Warn when an observable or the rate law reads an attribute some family lacks."""
    m = cm.model
    out = []
    defined: dict[str, set[str]] = {}
    for name, fam in m.families.items():
        names = {a.name.value for a in fam.attrs} | set(fam.gen_attrs) | {"degree"}
        names |= {d.var.value for d in fam.indexes}
        defined[name] = names
    reads: list[tuple[str, object]] = []
    from .expr import walk
    for ob in m.observables.values():
        if ob.expr is not None:
            for nd in walk(ob.expr):
                if isinstance(nd, S.Name) and nd.id not in m.params and nd.id not in m.lets:
                    reads.append((nd.id, ob.span))
        for c in ob.coords:
            reads.append((c, ob.span))
    seen = set()
    for attr, span in reads:
        if attr in seen or attr == "degree":
            continue
        seen.add(attr)
        lacking = [f for f, names in defined.items() if attr not in names
                   and cm.nodes.family_table(f).size > 0]
        if lacking and attr != "F":
            out.append(Diagnostic(span, f"attribute '{attr}' is not defined on "
                                  + ", ".join(lacking[:4]) + (", ..." if len(lacking) > 4 else "")
                                  + "; it counts as 0 there", f"give those nodes {attr} = ...", "warning"))
    return out
