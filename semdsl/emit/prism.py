"""Export a compiled CTMC to the PRISM modelling language.

:func:`to_prism` writes the generator of a compiled model as a PRISM ``ctmc``
with a single module and a single integer variable ``s : [0..n-1]`` whose value
is the semdsl node id.  Every state with outgoing transitions gets exactly one
command that lists all its outgoing rates::

    [] s=i -> r1:(s'=j1) + r2:(s'=j2);

and every entry of ``cm.labels`` becomes ``label "NAME" = ...;`` where runs of
consecutive ids are compressed into ``(s>=a & s<=b)`` terms.

Reading the file with Storm
---------------------------
In a ``ctmc``, PRISM itself reads ``[] g -> r:(...)`` commands as rates.  Storm
(checked with stormpy 2.0.0) refuses such "probabilistic commands" in a CTMC
unless PRISM compatibility mode is on::

    stormpy.parse_prism_program(path, prism_compatibility=True)   # or storm -pc

Storm's own syntax for rate commands, accepted *without* compatibility mode,
is the Markovian command ``<> s=i -> r1:(s'=j1) + ...;`` (angle brackets in
place of the action brackets).  PRISM does not know that syntax, so it is only
emitted with ``to_prism(cm, markovian=True)``; the default output is plain
PRISM.  Both variants build the same model in Storm.

Storm reads the rate literals through its expression layer and the resulting
doubles can differ from the written ones by 1-2 ulp (DRN is read bit-exactly).
Storm's explicit builder matches every state against every command guard, so
building a file with one command per state takes superlinear time (about 5 s
for 10^4 states, 14 s for 2*10^4 with stormpy 2.0): use
:mod:`semdsl.emit.drn` for large models.

Initial distribution
--------------------
PRISM has no distributions over initial states.  If ``cm.init`` is a point
mass on ``k`` the variable is declared ``init k``.  Otherwise every state in
the support of ``cm.init`` is declared initial (``init ... endinit`` block) and
the weights are written as ``// init_weight`` comment lines only: the actual
initial distribution is ``cm.init``, and a hitting time from it is the
``cm.init``-weighted average of the per-state values that the model checker
reports (a checker that folds several initial states into one number, such as
Storm for steady states, assumes a *uniform* distribution over them instead).

Only the states reachable from the initial states are built by PRISM/Storm;
map results back through the value of ``s`` (state valuations), not through the
checker's internal state numbering.

Node ids whose state has no outgoing transition get no command; PRISM and
Storm then add a self-loop ("fixed deadlock"), which does not change any
CTMC quantity computed here.
"""

from __future__ import annotations

import contextlib
import gc
import re

import numpy as np
import scipy.sparse as sp

__all__ = ["to_prism"]

#: Largest state space for which node names are written as comments.
NAME_COMMENT_LIMIT = 10_000

#: Label names the checkers define themselves.
RESERVED_LABELS = frozenset({"init", "deadlock"})

_PRISM_KEYWORDS = frozenset(
    """A bool clock const ctmc C double dtmc E endinit endinvariant endmodule
    endrewards endsystem false formula filter func F global G init invariant I
    int label max mdp min module X nondeterministic Pmax Pmin P probabilistic
    prob pta rate rewards Rmax Rmin R S stochastic system true U W ma pomdp
    popta smg player endplayer observable observables endobservables s""".split()
)

_SEP = "\x1f"  # separator that none of the formats below contains


def _format_many(fmt: str, *columns) -> list[str]:
    """Format ``fmt`` once per row of the given equally long columns.

    The whole batch is one C-level ``%`` operation on a repeated format
    string, so there is no per-item Python code.  Numpy arrays are converted
    with ``tolist()`` (ints stay ints, floats stay Python floats, so ``%.17g``
    round-trips).
    """
    k = len(columns[0])
    if k == 0:
        return []
    return ((fmt + _SEP) * k % _interleave(*columns)).split(_SEP)[:-1]


def _interleave(*columns) -> tuple:
    """Tuple ``(c0[0], c1[0], ..., c0[1], c1[1], ...)`` of equally long columns (arrays or lists)."""
    k = len(columns)
    args = [None] * (k * len(columns[0]))
    for i, col in enumerate(columns):
        args[i::k] = col.tolist() if isinstance(col, np.ndarray) else list(col)
    return tuple(args)


def _filled(size: int, value) -> np.ndarray:
    """Object array of ``size`` references to ``value`` (much faster than ``np.full`` for objects)."""
    out = np.empty(size, dtype=object)
    out[:] = value
    return out


@contextlib.contextmanager
def _no_gc():
    """Pause the cyclic garbage collector.

    Emission creates tens of millions of short-lived Python objects (floats,
    strings, argument tuples) that cannot form cycles; letting the collector
    scan them repeatedly roughly doubles the run time on large models.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _transitions(Q):
    """Return ``(n, indptr, cols, rates)``: the off-diagonal, non-zero part of ``Q`` in CSR form.

    Rows are grouped by state (``indptr`` has ``n + 1`` entries) and columns are
    sorted inside each row.  The input matrix is not modified.
    """
    if not sp.issparse(Q):
        Q = sp.csr_matrix(np.asarray(Q, dtype=float))
    Q = sp.csr_matrix(Q, dtype=np.float64)
    n, n2 = Q.shape
    if n != n2:
        raise ValueError(f"generator must be square, got shape {Q.shape}")
    if n == 0:
        raise ValueError("generator has no states")
    if not Q.has_canonical_format:
        Q = Q.copy()
        Q.sum_duplicates()
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(Q.indptr))
    cols = Q.indices.astype(np.int64, copy=False)
    keep = (cols != rows) & (Q.data != 0)
    rates = Q.data[keep]
    if rates.size and not (np.all(np.isfinite(rates)) and rates.min() > 0):
        raise ValueError("generator has negative or non-finite off-diagonal rates")
    rows = rows[keep]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return n, indptr, cols[keep], rates


def _check_labels(labels, n: int) -> dict[str, np.ndarray]:
    """Validate ``cm.labels`` and return them as sorted, unique int64 arrays."""
    out = {}
    for name, ids in labels.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"label name {name!r} is not a valid identifier")
        if name in RESERVED_LABELS:
            raise ValueError(f"label name {name!r} is reserved by PRISM/Storm")
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if ids.size > 1 and not np.all(ids[1:] > ids[:-1]):
            ids = np.unique(ids)
        if ids.size and (ids[0] < 0 or ids[-1] >= n):
            raise ValueError(f"label {name!r} has node ids outside [0, {n - 1}]")
        out[name] = ids
    return out


def _init_support(init, n: int) -> np.ndarray:
    """Return the states with positive initial probability (validated)."""
    init = np.asarray(init, dtype=np.float64)
    if init.shape != (n,):
        raise ValueError(f"init has shape {init.shape}, expected ({n},)")
    if not np.all(np.isfinite(init)) or init.min() < 0:
        raise ValueError("init must be a non-negative finite distribution")
    support = np.flatnonzero(init > 0)
    if support.size == 0:
        raise ValueError("init has no positive entry")
    return support


def _runs(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split sorted unique ids into maximal runs of consecutive integers: (starts, ends)."""
    if ids.size == 0:
        return ids, ids
    brk = np.flatnonzero(np.diff(ids) != 1)
    starts = ids[np.concatenate(([0], brk + 1))]
    ends = ids[np.concatenate((brk, [ids.size - 1]))]
    return starts, ends


def _set_expression(ids: np.ndarray, var: str = "s") -> str:
    """PRISM Boolean expression for ``var`` being in the sorted id set ``ids``."""
    starts, ends = _runs(ids)
    if starts.size == 0:
        return "false"
    terms = np.empty(starts.size, dtype=object)
    single = starts == ends
    terms[single] = _format_many(f"{var}=%d", starts[single])
    terms[~single] = _format_many(f"({var}>=%d & {var}<=%d)", starts[~single], ends[~single])
    return " | ".join(terms.tolist())


def _comment(text: str) -> str:
    """Make ``text`` safe inside a single ``//`` comment line."""
    return str(text).replace("\r", " ").replace("\n", " ")


def _node_names(cm, n: int):
    """Node names for comments, or ``None`` for large models (or if unavailable)."""
    if n > NAME_COMMENT_LIMIT:
        return None
    nodes = getattr(cm, "nodes", None)
    if nodes is None or not hasattr(nodes, "names"):
        return None
    names = list(nodes.names())
    if len(names) != n:
        return None
    return [_comment(x) for x in names]


def _module_name(model_name: str) -> str:
    name = re.sub(r"\W", "_", str(model_name), flags=re.ASCII)
    if not name or not (name[0].isalpha() or name[0] == "_") or name in _PRISM_KEYWORDS:
        name = "m_" + name
    return name


def to_prism(cm, *, markovian: bool = False) -> str:
    """Return the CTMC of ``cm`` as the text of a PRISM model file.

    :param cm: compiled model with ``generator`` (CSR, ``Q[i, j]`` = rate of
        ``i -> j``), ``init`` (initial distribution), ``labels`` (name -> sorted
        node ids), ``model_name`` and ``nodes.names()`` (used for comments when
        there are at most :data:`NAME_COMMENT_LIMIT` states).
    :param markovian: write Storm's Markovian commands ``<> g -> ...`` instead
        of PRISM's ``[] g -> ...``.  Storm reads ``<>`` commands without PRISM
        compatibility mode; PRISM cannot read them.  With the default ``[]``
        commands Storm needs ``prism_compatibility=True`` (``-pc``).
    :returns: the file contents.

    The initial distribution is ``cm.init``.  A point mass on ``k`` becomes
    ``s : [0..n-1] init k``.  Since PRISM has no initial distributions, a
    spread ``cm.init`` instead declares all of its support states initial
    (``init ... endinit``) and records the weights in ``// init_weight``
    comment lines; hitting times from ``cm.init`` are then the
    ``cm.init``-weighted average of the per-state values.

    Rates are written with ``%.17g`` (exact round trip for a correctly
    rounding reader; Storm's PRISM front end lands within 1-2 ulp).  States
    with no outgoing transition get no command; the diagonal of the generator
    is not used.
    """
    with _no_gc():
        return _to_prism(cm, markovian)


def _to_prism(cm, markovian: bool) -> str:
    n, indptr, cols, rates = _transitions(cm.generator)
    labels = _check_labels(cm.labels, n)
    support = _init_support(cm.init, n)
    names = _node_names(cm, n)
    model_name = _comment(getattr(cm, "model_name", "model"))

    out = [
        f"// semdsl model {model_name}: continuous-time random walk, {n} states, {rates.size} transitions\n",
        "// generated by semdsl.emit.prism; state variable s = semdsl node id\n",
    ]
    if markovian:
        out.append("// '<>' marks Storm Markovian (rate) commands: read with Storm, no compatibility mode needed\n")
    else:
        out.append("// rate commands in PRISM syntax: Storm needs PRISM compatibility mode (-pc / prism_compatibility=True)\n")
    point_mass = support.size == 1
    if not point_mass:
        out.append(
            "// initial distribution is cm.init (weights below); all its support states are declared initial, "
            "so hitting times from cm.init are the cm.init-weighted average of the per-state values\n"
        )
        init = np.asarray(cm.init, dtype=np.float64)
        out.extend(_format_many("// init_weight s=%d %.17g\n", support, init[support]))
    out.append("\nctmc\n\n")
    out.append(f"module {_module_name(getattr(cm, 'model_name', 'model'))}\n")
    if point_mass:
        out.append(f"  s : [0..{n - 1}] init {int(support[0])};\n\n")
    else:
        out.append(f"  s : [0..{n - 1}];\n\n")

    m = rates.size
    if m:
        deg = np.diff(indptr)
        src = np.flatnonzero(deg)  # states with outgoing transitions
        first = indptr[src]
        bracket = "<>" if markovian else "[]"
        # The format string carries the structure: one fragment per transition,
        # the first of each command holding its literal guard (and the ";" that
        # closes the previous command); the arguments are just (rate, target)
        # pairs, so all rates are formatted in one C-level pass.
        # Integral rates >= 2**31 would print as integer literals, which overflow
        # PRISM's 32-bit ints: give them a ".0" (%.17g never prints more than
        # 17 integer digits, so Storm's 64-bit ints are safe anyway).
        big = (rates >= 2.0**31) & (rates < 1e17) & (rates == np.floor(rates))
        frag = _filled(m, " + %.17g:(s'=%d)")
        frag[big] = " + %.17g.0:(s'=%d)"
        big_first = np.where(big[first], ".0", "").astype(object)
        if names is None:
            # ";\n" closing a command is put in front of the next command's guard
            frag[first] = _format_many(f";\n  {bracket} s=%d -> %%.17g%s:(s'=%%d)", src, big_first)
            frag[0] = frag[0][2:]
            frag[-1] += ";\n"
        else:
            frag[first] = _format_many(f"  {bracket} s=%d -> %%.17g%s:(s'=%%d)", src, big_first)
            last = indptr[src + 1] - 1
            frag[last] += np.array([f";  // {names[i]}\n".replace("%", "%%") for i in src.tolist()], dtype=object)
        out.append("".join(frag.tolist()) % _interleave(rates, cols))
    out.append("endmodule\n")

    if not point_mass:
        out.append(f"\ninit\n  {_set_expression(support)}\nendinit\n")
    if labels:
        out.append("\n")
        for name, ids in labels.items():
            out.append(f'label "{name}" = {_set_expression(ids)};\n')
    return "".join(out)

