"""One checking pass: syntax tree -> :class:`~semdsl.model.Model`, or every problem at once.

Scopes (what a bare name may mean where):

* parameter defaults and ranges: earlier parameters, ``let`` names, constants;
* index ranges, generator arguments: parameters, lets, constants;
* ``if`` / ``with probability`` of a family: parameters, lets, the family's index variables;
* node attribute values: the above plus attributes assigned earlier in the same block and
  the attributes the generator defines (``x``, ``y``, ``depth``, ...);
* edge attributes and ``rate = EXPR``: parameters, lets, the ``for`` variables, and
  ``src.ATTR`` / ``dst.ATTR`` / ``edge.ATTR``;
* observables and ``where(...)``: node attributes, parameters, lets.

A parameter is *structural* when it reaches (directly, through a ``let`` or through
another parameter's default) an index range, an ``if``, a ``with probability``, or a
generator's arguments: the set of nodes or edges depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

from . import syntax as S
from .errors import DiagnosticBag, Span, did_you_mean
from .expr import (CONSTANTS, FUNCTIONS, KEYWORDS, MAX_EXPANDED_NODES, RESERVED, expr_extent,
                   literal_problem, params_used, walk)
from .parser import MAX_NESTING
from .format import format_expr
from .generators import GENERATORS
from .model import (DISTRIBUTIONS, GRAPH_OBSERVABLES, METHODS, OBSERVABLES, OPTIONS,
                    RATE_LAWS, Axis, Edge, Family, Init, Model, Observable, Param,
                    Prediction, RateLaw, SetSpec)

EDGE_BUILTIN_ATTRS = ("weight", "B", "rate")
#: most indices of a family, a for clause or a lattice (an index is an array axis; NumPy
#: allows 32 in its 1.x releases)
MAX_INDICES = 32


@dataclass
class _Ctx:
    """Names visible in one expression, and what to say about the rest."""

    names: set[str]
    what: str                           # "a rate law", "an index range", ...
    attrs: set[tuple[str, str]] | None = None   # allowed src./dst./edge. attributes
    hint_for: dict[str, str] = field(default_factory=dict)
    structural: bool = False
    sampled: bool = False


class Checker:
    def __init__(self, mf: S.ModelFile):
        self.mf = mf
        self.file = mf.file
        self.bag = DiagnosticBag()
        self.decl: dict[str, tuple[str, Span]] = {}       # global namespace
        self.params: dict[str, S.ParamStmt] = {}
        self.lets: dict[str, S.LetStmt] = {}
        self.families: dict[str, S.NodeStmt | S.GraphStmt] = {}
        self.observable_stmts: dict[str, S.ObservableStmt] = {}
        self.structural_uses: dict[str, list[str]] = {}
        self.sampled_uses: set[str] = set()
        self.node_attrs: set[str] = {"F", "degree"}
        self.edge_attrs: set[str] = set(EDGE_BUILTIN_ATTRS)
        self.family_attrs: dict[str, set[str]] = {}
        self._let_checked: set[tuple[str, frozenset]] = set()
        self.cyclic_lets: set[str] = set()
        self.let_extent: dict[str, tuple[int, int]] = {}   # expanded (depth, node count)
        self._let_bodies: dict[str, S.Expr] | None = None
        self.rejected: set[str] = set()

    # ----------------------------------------------------------- helpers
    def err(self, span, msg, hint=None):
        self.bag.error(span, msg, hint)

    def declare(self, ident: S.Ident, kind: str) -> bool:
        name = ident.value
        if name in KEYWORDS or name in RESERVED:
            self.rejected.add(name)  # its uses are not reported again
        if name in KEYWORDS:
            self.err(ident.span, f"'{name}' is a keyword and cannot name {_a(kind)}",
                     "choose another name")
            return False
        if name in RESERVED:
            self.err(ident.span, f"'{name}' is reserved and cannot name {_a(kind)}",
                     "'t' is time; src, dst, edge, degree, functions and constants are built in")
            return False
        if name in self.decl:
            other_kind, other = self.decl[name]
            self.err(ident.span, f"duplicate name '{name}': already declared as {_a(other_kind)} "
                     f"at line {other.line}", "every parameter, let, node, graph and observable "
                     "needs its own name")
            return False
        self.decl[name] = (kind, ident.span)
        return True

    def check_expr(self, e, ctx: _Ctx, _via_let: str | None = None) -> set[str]:
        """Check every name in ``e``; return the parameters it uses (through lets too)."""
        used: set[str] = set()
        if self.let_extent and _via_let is None and not self._small_enough(e, ctx):
            return used
        for node in walk(e):
            if isinstance(node, S.Name):
                used |= self._check_name(node, ctx, _via_let)
            elif isinstance(node, S.Call):
                self._check_call(node, ctx)
            elif isinstance(node, S.Attribute):
                self._check_attribute(node, ctx)
            elif isinstance(node, S.Indexed):
                self.err(node.span, f"'{format_expr(node)}' names a node, not a number, in {ctx.what}")
            elif isinstance(node, S.Str):
                self.err(node.span, f"a string is not a number in {ctx.what}")
            elif isinstance(node, S.SetLiteral):
                self.err(node.span, f"a set is not a number in {ctx.what}")
            elif isinstance(node, S.Num) and (bad := literal_problem(node)) is not None:
                self.err(node.span, *bad)
        if ctx.structural:
            for p in used:
                self.structural_uses.setdefault(p, []).append(ctx.what)
        if ctx.sampled:
            self.sampled_uses |= used
        return used

    def _check_name(self, node: S.Name, ctx: _Ctx, via_let) -> set[str]:
        name = node.id
        if name in ctx.names or name in CONSTANTS:
            return {name} if name in self.params else set()
        if name in self.lets and name not in ctx.names:
            if name in self.cyclic_lets:
                return set()
            key = (name, frozenset(ctx.names))
            body = self.lets[name].value
            if key in self._let_checked:
                return self._let_params(body)
            self._let_checked.add(key)
            return self.check_expr(body, replace(ctx, structural=False, sampled=False),
                                   _via_let=name) | set()
        where = f" (in 'let {via_let}')" if via_let else ""
        if name == "t":
            self.err(node.span, f"'t' (time) cannot be used in {ctx.what}{where}",
                     "t appears only in prediction axes: 'over t in A..B'")
            return set()
        hint = ctx.hint_for.get(name)
        if hint is None and name in self.families:
            hint = f"'{name}' is a node or graph; here a number is expected"
        if hint is None and name == "degree":
            hint = "degree is known once edges are built: use it in rate laws and observables"
        if hint is None and (("src", name) in (ctx.attrs or set())):
            hint = f"node attributes in a rate are written src.{name} or dst.{name}"
        self.err(node.span, f"unknown name '{name}' in {ctx.what}{where}"
                 f"{did_you_mean(name, ctx.names | set(self.lets) | set(CONSTANTS))}", hint)
        return set()

    def _let_params(self, body) -> set[str]:
        if self._let_bodies is None:
            self._let_bodies = {k: v.value for k, v in self.lets.items()}
        return params_used(body, self.params, self._let_bodies)

    def _small_enough(self, e, ctx: _Ctx) -> bool:
        """An expression whose lets expand past the nesting or size limits is an error (every
        later pass works on the expansion)."""
        uses = {n.id for n in walk(e) if isinstance(n, S.Name) and n.id in self.let_extent
                and n.id not in ctx.names}
        if not uses:
            return True
        depth, count = expr_extent(e, self.let_extent, ctx.names)
        if depth <= MAX_NESTING and count <= MAX_EXPANDED_NODES:
            return True
        what = (f"nested {depth} levels deep (more than {MAX_NESTING})" if depth > MAX_NESTING
                else f"of {count:,} terms (more than {MAX_EXPANDED_NODES:,})")
        self.err(getattr(e, "span", None), f"{ctx.what} expands to an expression {what} through "
                 + ", ".join(f"'let {u}'" for u in sorted(uses)),
                 "lets are expanded where they are used: use each let fewer times, or nest fewer")
        return False

    def _let_extents(self, deps: dict[str, list], bad: set[str]) -> None:
        """Expanded depth and size of every let, dependencies first (no recursion); lets
        past the limits are reported and added to ``bad``."""
        for start in self.lets:
            if start in bad or start in self.let_extent:
                continue
            stack = [(start, False)]
            while stack:
                name, ready = stack.pop()
                if name in self.let_extent:
                    continue
                refs = {r.id for r in deps[name] if r.id not in bad}
                if not ready:
                    stack.append((name, True))
                    stack.extend((r, False) for r in refs if r not in self.let_extent)
                    continue
                depth, count = expr_extent(self.lets[name].value, self.let_extent)
                self.let_extent[name] = (depth, count)
                if depth > MAX_NESTING or count > MAX_EXPANDED_NODES:
                    self.let_extent[name] = (1, 1)  # reported once: lets using it are not
                    what = (f"nested {depth} levels deep (more than {MAX_NESTING})"
                            if depth > MAX_NESTING else f"of {count:,} terms (more than {MAX_EXPANDED_NODES:,})")
                    self.err(self.lets[name].name.span, f"'let {name}' expands to an expression {what}",
                             "lets are expanded where they are used: a let that uses another let "
                             "twice doubles in size")
                    bad.add(name)
        for name in bad:  # reported: their uses are not checked again
            self.let_extent[name] = (1, 1)

    def check_lets(self) -> set[str]:
        """Cycles among lets, and names no use site could ever give a meaning to.

        Returns the names of lets already reported (cyclic, or using a name nothing defines);
        their uses are not checked again."""
        deps = {name: [n for n in walk(st.value) if isinstance(n, S.Name) and n.id in self.lets]
                for name, st in self.lets.items()}
        bad: set[str] = set()
        for start in self.lets:
            # depth-first search for a path back to `start`
            stack = [(start, [start])]
            seen = set()
            while stack:
                cur, path = stack.pop()
                for ref in deps[cur]:
                    if ref.id == start:
                        if start not in bad:
                            self.err(ref.span, f"'let {start}' refers to itself"
                                     + (f" through {' -> '.join(repr('let ' + p) for p in path[1:])}"
                                        if len(path) > 1 else ""),
                                     "lets cannot be circular")
                        bad |= set(path)
                    elif ref.id not in seen:
                        seen.add(ref.id)
                        stack.append((ref.id, path + [ref.id]))
        possible = set(self.params) | set(self.lets) | set(CONSTANTS) | self.node_attrs
        for st in self.mf.statements:
            for decls in ((getattr(st, "indexes", None) or ()), (getattr(st, "fors", None) or ())):
                possible |= {d.var.value for d in decls}
        for name, st in self.lets.items():
            for n in walk(st.value):
                if isinstance(n, S.Name) and n.id not in possible and n.id != "t":
                    self.err(n.span, f"unknown name '{n.id}' in 'let {name}'"
                             f"{did_you_mean(n.id, possible)}")
                    bad.add(name)
        self._let_extents(deps, bad)
        return bad

    def _check_call(self, node: S.Call, ctx: _Ctx):
        name = node.func.value
        if name not in FUNCTIONS:
            hint = None
            if name in OBSERVABLES or name == "where":
                hint = f"'{name}(...)' is an observable; declare it with 'observable NAME = {name}(...)'"
            elif name in GENERATORS or name in RATE_LAWS or name in DISTRIBUTIONS:
                hint = f"'{name}' is not a function of numbers here"
            self.err(node.func.span, f"unknown function '{name}'{did_you_mean(name, FUNCTIONS)}",
                     hint or "functions: " + " ".join(sorted(FUNCTIONS)))
            return
        lo, hi, _ = FUNCTIONS[name]
        if node.kwargs:
            self.err(node.kwargs[0].span, f"'{name}' takes no keyword arguments")
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            want = f"{lo} argument" + ("s" if lo != 1 else "") if lo == hi else f"at least {lo} arguments"
            self.err(node.span, f"'{name}' takes {want}, got {n}")

    def _check_attribute(self, node: S.Attribute, ctx: _Ctx):
        obj, attr = node.obj.value, node.attr.value
        if ctx.attrs is None:
            hint = "src., dst. and edge. are used in rate expressions and edge attributes"
            self.err(node.span, f"'{obj}.{attr}' cannot be used in {ctx.what}", hint)
            return
        if obj not in ("src", "dst", "edge"):
            self.err(node.obj.span, f"unknown object '{obj}' in '{obj}.{attr}'",
                     "write src.ATTR, dst.ATTR or edge.ATTR")
            return
        if (obj, attr) not in ctx.attrs:
            pool = {a for (o, a) in ctx.attrs if o == obj}
            kind = "edge" if obj == "edge" else "node"
            self.err(node.attr.span, f"unknown {kind} attribute '{attr}'{did_you_mean(attr, pool)}",
                     f"{kind} attributes declared in this model: " + ", ".join(sorted(pool)))

    def const_scope(self, what: str, extra: Iterable[str] = (), structural=False) -> _Ctx:
        return _Ctx(set(self.params) | set(extra), what, structural=structural)

    # ----------------------------------------------------------- the pass
    def run(self) -> Model:
        stmts = self.mf.statements
        model_name, title = Path(self.file).stem if self.file else "model", None
        # 1. declarations (global namespace), in order
        seen_model = False
        for k, st in enumerate(stmts):
            if isinstance(st, S.ModelStmt):
                if seen_model:
                    self.err(st.span, "a second 'model' statement", "a file declares one model")
                elif k != 0:
                    self.err(st.span, "'model' must be the first statement")
                seen_model = True
                model_name, title = st.name.value, st.title
            elif isinstance(st, S.ParamStmt):
                if self.declare(st.name, "parameter"):
                    self.params[st.name.value] = st
            elif isinstance(st, S.LetStmt):
                if self.declare(st.name, "let"):
                    self.lets[st.name.value] = st
            elif isinstance(st, (S.NodeStmt, S.GraphStmt)):
                kind = "node" if isinstance(st, S.NodeStmt) else "graph"
                if self.declare(st.name, kind):
                    self.families[st.name.value] = st
            elif isinstance(st, S.ObservableStmt):
                if self.declare(st.name, "observable"):
                    self.observable_stmts[st.name.value] = st
        # attribute names known anywhere (for src./dst. and observables)
        for st in self.families.values():
            names = {a.name.value for a in st.attrs}
            if isinstance(st, S.NodeStmt):
                names |= {d.var.value for d in st.indexes}
            else:
                spec = GENERATORS.get(st.generator.func.value)
                if spec is not None:
                    names |= set(self._generator_attrs(st, spec))
            names |= {"F", "degree"}
            self.family_attrs[st.name.value] = names
            self.node_attrs |= names
        for st in stmts:
            if isinstance(st, S.EdgeStmt):
                self.edge_attrs |= {a.name.value for a in st.attrs}

        # 2. parameters (defaults see earlier parameters only)
        params: dict[str, Param] = {}
        earlier: set[str] = set()
        for name, st in self.params.items():
            ctx = _Ctx(set(earlier), f"the default of '{name}'")
            ctx.hint_for = {p: f"'{p}' is declared later; a default may use earlier parameters"
                            for p in self.params if p not in earlier}
            self.check_expr(st.default, ctx)
            if st.lo is not None:
                self.check_expr(st.lo, _Ctx(set(earlier), f"the range of '{name}'"))
                self.check_expr(st.hi, _Ctx(set(earlier), f"the range of '{name}'"))
            earlier.add(name)
        for name, st in self.lets.items():
            # a let's names are checked where it is used; here only reject what never works
            for n in walk(st.value):
                if isinstance(n, S.Name) and n.id == "t":
                    self.err(n.span, "'t' (time) cannot be used in a let")
        self.cyclic_lets = self.check_lets()

        # 3. families
        families: dict[str, Family] = {}
        for name, st in self.families.items():
            fam = self.check_family(st)
            if fam is not None:
                families[name] = fam

        # 4. edges
        edges = []
        for st in stmts:
            if isinstance(st, S.EdgeStmt):
                e = self.check_edge(st)
                if e is not None:
                    edges.append(e)

        # 5. rate law, init
        rate = self.check_rate([s for s in stmts if isinstance(s, (S.RateLawStmt, S.RateExprStmt))])
        init = self.check_init([s for s in stmts if isinstance(s, S.InitStmt)])

        # 6. observables and predictions
        observables: dict[str, Observable] = {}
        for name, st in self.observable_stmts.items():
            ob = self.check_observable(st.call, name, st.span)
            if ob is not None:
                observables[name] = ob
        predictions = []
        for st in stmts:
            if isinstance(st, S.PredictStmt):
                p = self.check_predict(st, observables)
                if p is not None:
                    predictions.append(p)

        # 7. structural parameters: close over default dependencies
        structural = set(self.structural_uses)
        deps = {name: self._let_params(st.default) | {n.id for n in walk(st.default)
                                                       if isinstance(n, S.Name) and n.id in self.params}
                for name, st in self.params.items()}
        changed = True
        while changed:
            changed = False
            for name in list(structural):
                for d in deps.get(name, ()):
                    if d not in structural:
                        structural.add(d)
                        self.structural_uses.setdefault(d, []).append(f"the default of '{name}'")
                        changed = True
        for name, st in self.params.items():
            reasons = tuple(dict.fromkeys(self.structural_uses.get(name, [])))
            params[name] = Param(name, st.default, st.lo, st.hi, st.doc, st.name.span,
                                 structural=name in structural, reasons=reasons,
                                 sampled=name in self.sampled_uses)

        self.bag.raise_if_errors({self.file: self.mf.source})
        return Model(name=model_name, title=title, file=self.file, source=self.mf.source,
                     params=params, lets={k: v.value for k, v in self.lets.items()},
                     families=families, edges=tuple(edges), rate=rate, init=init,
                     observables=observables, predictions=tuple(predictions),
                     warnings=tuple(self.bag.warnings), syntax=self.mf)

    # ----------------------------------------------------------- families
    def _generator_attrs(self, st: S.GraphStmt, spec) -> tuple[str, ...]:
        if spec.name == "lattice":
            d = len(st.generator.args)
            return ("x", "y", "z")[:d] if d <= 3 else tuple(f"x{k + 1}" for k in range(d))
        return tuple(spec.attrs)

    def check_index_decls(self, decls, what: str) -> list[str]:
        out = []
        if len(decls) > MAX_INDICES:
            self.err(decls[MAX_INDICES].span, f"{what} has {len(decls)} indices; at most "
                     f"{MAX_INDICES} are allowed", "each index is one axis of an array")
            return [d.var.value for d in decls]
        for d in decls:
            v = d.var.value
            if v in RESERVED:
                self.err(d.var.span, f"'{v}' is reserved and cannot name an index")
            elif v in out:
                self.err(d.var.span, f"index '{v}' is declared twice")
            elif v in self.decl:
                self.err(d.var.span, f"index '{v}' hides the {self.decl[v][0]} '{v}'",
                         "choose another index name")
            ctx = self.const_scope(f"the range of index '{v}'", structural=True)
            ctx.hint_for = {o: "an index range may use parameters, not other indices" for o in out}
            self.check_expr(d.lo, ctx)
            self.check_expr(d.hi, ctx)
            out.append(v)
        return out

    def check_attrs(self, items, base: set[str], what: str, edge_ctx: set | None = None,
                    builtin: Iterable[str] = ()) -> None:
        assigned: list[str] = []
        builtin = set(builtin)
        for item in items:
            name = item.name.value
            if name in ("degree",):
                self.err(item.name.span, "'degree' is a built-in, read-only attribute",
                         "it is the number of edges at the node in the realised graph")
            elif (name in KEYWORDS and not (edge_ctx is not None and name == "rate")) \
                    or name in ("t", "src", "dst", "edge") or name in FUNCTIONS or name in CONSTANTS:
                self.err(item.name.span, f"'{name}' is reserved and cannot name an attribute")
            elif name in assigned:
                self.err(item.name.span, f"attribute '{name}' is assigned twice in {what}")
            elif name in base - set(self.params) - set(self.lets) and name not in builtin:
                self.err(item.name.span, f"'{name}' is an index variable of {what}; it cannot be "
                         "assigned", "index variables are read-only attributes")
            ctx = _Ctx(base | set(assigned), f"attribute '{name}' of {what}", attrs=edge_ctx)
            if isinstance(item, S.AttrAssign):
                self.check_expr(item.value, ctx)
            else:
                self.check_distribution(item.dist, ctx)
            assigned.append(name)

    def check_distribution(self, call: S.Call, ctx: _Ctx) -> None:
        name = call.func.value
        if name not in DISTRIBUTIONS:
            self.err(call.func.span, f"unknown distribution '{name}'{did_you_mean(name, DISTRIBUTIONS)}",
                     "distributions: " + ", ".join(f"{k}({', '.join(v[0])})" for k, v in DISTRIBUTIONS.items()))
            return
        positional, alternatives = DISTRIBUTIONS[name]
        forms = [positional] + list(alternatives)
        given = {k.name.value: k for k in call.kwargs}
        if name == "exponential" and "mean" in given and ("rate" in given or call.args):
            self.err(given["mean"].name.span, "exponential takes rate or mean, not both",
                     "write exponential(rate = r) or exponential(mean = m)")
            return
        bound = self.bind(call, name, forms, "distribution")
        ctx = replace(ctx, sampled=True)
        for _, v in bound:
            self.check_expr(v, ctx)

    def bind(self, call: S.Call, name: str, forms: list[tuple[str, ...]], kind: str,
             optional: dict[str, object] | None = None) -> list[tuple[str, S.Expr]]:
        """Bind positional/keyword arguments to one of the signatures in ``forms``."""
        optional = optional or {}
        kw = {k.name.value: k for k in call.kwargs}
        # choose the form: the first whose names cover the keywords given
        form = forms[0]
        for f in forms:
            if set(kw) <= set(f) | set(optional) and len(call.args) <= len(f):
                if set(kw) & set(f) or not kw:
                    form = f
                    break
        allowed = list(form) + [o for o in optional if o not in form]
        sig = f"{name}({', '.join(form)})" if len(forms) == 1 else " or ".join(
            f"{name}({', '.join(f if f == forms[0] else [x + ' = ...' for x in f])})" for f in forms)
        bound: dict[str, S.Expr] = {}
        ok = True
        if len(call.args) > len(form):
            self.err(call.args[len(form)].span if hasattr(call.args[len(form)], "span") else call.span,
                     f"{kind} '{name}' takes {len(form)} positional argument"
                     f"{'s' if len(form) != 1 else ''}, got {len(call.args)}", f"write {sig}")
            ok = False
        for pname, a in zip(form, call.args):
            bound[pname] = a
        for k, node in kw.items():
            if k not in allowed:
                self.err(node.name.span, f"{kind} '{name}' has no argument '{k}'"
                         f"{did_you_mean(k, allowed)}", f"write {sig}")
                ok = False
            elif k in bound:
                self.err(node.name.span, f"argument '{k}' of '{name}' is given twice")
                ok = False
            else:
                bound[k] = node.value
        if ok:
            missing = [p for p in form if p not in bound]
            if missing:
                self.err(call.span, f"{kind} '{name}' is missing argument"
                         f"{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)}",
                         f"write {sig}")
        return [(k, bound[k]) for k in allowed if k in bound]

    def check_family(self, st) -> Family | None:
        name = st.name.value
        if isinstance(st, S.NodeStmt):
            idx = self.check_index_decls(st.indexes, f"node '{name}'")
            inner = set(self.params) | set(idx)
            if st.cond is not None:
                self.check_expr(st.cond, _Ctx(inner, f"the condition of node '{name}'",
                                              structural=True))
            if st.prob is not None:
                self.check_expr(st.prob, _Ctx(inner, f"the probability of node '{name}'",
                                              structural=True))
            self.check_attrs(st.attrs, inner, f"node '{name}'")
            return Family(name, "node", st.span, st.name.span, indexes=st.indexes, cond=st.cond,
                          prob=st.prob, attrs=st.attrs)
        gen = st.generator
        gname = gen.func.value
        spec = GENERATORS.get(gname)
        if spec is None:
            self.err(gen.func.span, f"unknown graph generator '{gname}'{did_you_mean(gname, GENERATORS)}",
                     "generators: " + ", ".join(sorted(GENERATORS)))
            return None
        ctx = self.const_scope(f"the arguments of '{gname}'", structural=True)
        dims: tuple = ()
        bound: list[tuple[str, S.Expr]] = []
        if gname == "lattice":
            dims = tuple(gen.args)
            if not dims:
                self.err(gen.span, "lattice needs at least one dimension",
                         "write lattice(L) or lattice(L1, L2[, L3], periodic = true)")
            elif len(dims) > MAX_INDICES:
                self.err(getattr(dims[MAX_INDICES], "span", gen.span),
                         f"lattice has {len(dims)} dimensions; at most {MAX_INDICES} are allowed",
                         "each dimension is one axis of an array")
                return None
            for k in gen.kwargs:
                if k.name.value != "periodic":
                    self.err(k.name.span, f"generator 'lattice' has no argument '{k.name.value}'"
                             f"{did_you_mean(k.name.value, ['periodic'])}",
                             "write lattice(L1, L2, ..., periodic = true)")
                else:
                    bound.append(("periodic", k.value))
            for d in dims:
                self.check_expr(d, ctx)
        else:
            forms = _generator_forms(spec)
            optional = {k: v for k, v in spec.defaults.items()}
            bound = self.bind(gen, gname, forms, "generator", optional)
            if gname == "erdos_renyi":
                given = {k for k, _ in bound}
                if "mean_degree" in given and "p" in given:
                    self.err(gen.span, "erdos_renyi takes mean_degree or p, not both")
                elif not given & {"mean_degree", "p"} and len(gen.args) < 2:
                    self.err(gen.span, "erdos_renyi needs mean_degree or p",
                             "write erdos_renyi(n, mean_degree = c)")
            for k, v in bound:
                if gname == "edgelist" and k == "path":
                    if not isinstance(v, S.Str):
                        self.err(getattr(v, "span", gen.span), "edgelist takes a file name in quotes",
                                 'write edgelist("landscape.csv")')
                    elif any(ord(c) < 32 or c == "\x7f" for c in v.value):
                        self.err(v.span, "the file name contains a control character "
                                 f"({next(repr(c) for c in v.value if ord(c) < 32 or c == chr(127))})",
                                 'write the name of a file beside the model, e.g. edgelist("landscape.csv")')
                    continue
                self.check_expr(v, ctx)
        for k, v in bound:
            if k == "periodic" and not isinstance(v, S.Bool):
                self.err(getattr(v, "span", gen.span), "periodic must be true or false")
        if st.bond_prob is not None:
            self.check_expr(st.bond_prob, self.const_scope(f"the bond probability of graph '{name}'",
                                                      structural=True))
        if st.site_prob is not None:
            self.check_expr(st.site_prob, self.const_scope(f"the site probability of graph '{name}'",
                                                           structural=True))
        gattrs = self._generator_attrs(st, spec)
        self.check_attrs(st.attrs, set(self.params) | set(gattrs), f"graph '{name}'",
                         builtin=gattrs)
        return Family(name, "graph", st.span, st.name.span, prob=st.bond_prob, site_prob=st.site_prob,
                      generator=gname, gen_args=tuple(bound), gen_dims=dims, gen_attrs=tuple(gattrs),
                      attrs=st.attrs)

    # ----------------------------------------------------------- edges
    def family_ndim(self, st) -> int:
        if isinstance(st, S.NodeStmt):
            return len(st.indexes)
        g = st.generator.func.value
        if g == "lattice":
            return len(st.generator.args)
        if g in ("triangular", "honeycomb"):
            return 2
        return 1

    def check_ref(self, ref: S.NodeRef, scope: _Ctx, allow_star: bool, role: str) -> bool:
        name = ref.name.value
        if name not in self.families:
            other = self.decl.get(name)
            hint = f"'{name}' is {_a(other[0])}, not a node" if other else None
            self.err(ref.name.span, f"unknown node '{name}'{did_you_mean(name, self.families)}", hint)
            return False
        st = self.families[name]
        nd = self.family_ndim(st)
        subs = ref.subs
        if nd == 0 and subs is not None:
            self.err(ref.span, f"node '{name}' has no indices", f"write just '{name}'")
            return False
        if nd > 0 and subs is None:
            if allow_star:
                self.err(ref.name.span, f"'{name}' is a family of nodes",
                         f"write {name}[{', '.join(['*'] * nd)}] for all its members, or one member")
            else:
                self.err(ref.name.span, f"'{name}' is a family of nodes; {role} needs a member",
                         f"write {name}[{', '.join(['i'] * nd if nd == 1 else [chr(105 + k) for k in range(nd)])}]"
                         + (" with a for clause" if role == "an edge" else ""))
            return False
        if subs is not None and len(subs) != nd:
            self.err(ref.span, f"'{name}' has {nd} ind{'ex' if nd == 1 else 'ices'}, "
                     f"got {len(subs)}")
            return False
        for s in subs or ():
            if isinstance(s, S.Star):
                if not allow_star:
                    self.err(s.span, f"'*' cannot be used in {role}",
                             "use a for clause: edge h[i] -- h[i+1] for i in 1..39")
                    return False
            else:
                self.check_expr(s, scope)
        return True

    def check_edge(self, st: S.EdgeStmt) -> Edge | None:
        fors = self.check_index_decls(st.fors, "an edge")
        inner = set(self.params) | set(fors)
        ctx = _Ctx(inner, "an edge's node index", structural=True)
        ok = self.check_ref(st.src, ctx, False, "an edge")
        ok = self.check_ref(st.dst, ctx, False, "an edge") and ok
        if st.cond is not None:
            self.check_expr(st.cond, _Ctx(inner, "an edge condition", structural=True))
        if st.prob is not None:
            self.check_expr(st.prob, _Ctx(inner, "an edge probability", structural=True))
        attrs = {(o, a) for o in ("src", "dst") for a in self.node_attrs}
        attrs |= {("edge", a) for a in self.edge_attrs}
        self.check_attrs(st.attrs, inner, "an edge", edge_ctx=attrs)
        used_vars = {n.id for r in (st.src, st.dst) for n in walk(r) if isinstance(n, S.Name)}
        for d in st.fors:
            if d.var.value not in used_vars:
                self.bag.warn(d.var.span, f"for-variable '{d.var.value}' is not used in either end "
                              "of the edge: the same edge is declared many times (parallel edges)")
        if not ok:
            return None
        return Edge(st, st.src.name.value, st.dst.name.value, st.op == "->")

    # ----------------------------------------------------------- rate, init
    def check_rate(self, stmts) -> RateLaw:
        if not stmts:
            from .syntax import Num
            return RateLaw("uniform", (("R0", Num(1.0, "1")),), default=True)
        for extra in stmts[1:]:
            self.err(extra.span, f"a second rate law (the first is at line {stmts[0].span.line})",
                     "one 'rate' statement sets the law for every edge; give single edges "
                     "their own { rate = ... }")
        st = stmts[0]
        if isinstance(st, S.RateExprStmt):
            attrs = {(o, a) for o in ("src", "dst") for a in self.node_attrs}
            attrs |= {("edge", a) for a in self.edge_attrs}
            ctx = _Ctx(set(self.params), "the rate expression", attrs=attrs)
            ctx.hint_for = {a: f"node attributes in a rate are written src.{a} or dst.{a}"
                            for a in self.node_attrs}
            self.check_expr(st.expr, ctx)
            return RateLaw(None, expr=st.expr, span=st.span)
        law = st.law.func.value
        if law not in RATE_LAWS:
            self.err(st.law.func.span, f"unknown rate law '{law}'{did_you_mean(law, RATE_LAWS)}",
                     "laws: " + ", ".join(f"{k}({', '.join(v)})" for k, v in RATE_LAWS.items())
                     + "; or write rate = EXPR")
            return RateLaw("uniform", (), span=st.span)
        bound = self.bind(st.law, law, [RATE_LAWS[law]], "rate law")
        for _, v in bound:
            self.check_expr(v, self.const_scope("the rate law"))
        return RateLaw(law, tuple(bound), span=st.span)

    def set_from_ref(self, ref, what: str) -> SetSpec | None:
        """A set written as a node reference (member, family, slice)."""
        if isinstance(ref, S.SetLiteral):
            elems = []
            for el in ref.elems:
                s = self.set_from_ref(el, what)
                if s is not None:
                    elems.append(s)
            if not ref.elems:
                self.err(ref.span, "an empty set")
            return SetSpec("literal", ref.span, format_expr(ref), elems=tuple(elems))
        if isinstance(ref, S.Name):
            ref = S.NodeRef(S.Ident(ref.id, ref.span), None, ref.span)
        elif isinstance(ref, S.Indexed):
            ref = S.NodeRef(ref.name, ref.subs, ref.span)
        if not isinstance(ref, S.NodeRef):
            self.err(getattr(ref, "span", None), f"{what} needs a set of nodes",
                     "a node, h[3], h[*], s[10, *], {a, b} or where(F < 0.5)")
            return None
        if not self.check_ref(ref, self.const_scope("a node index"), True, what):
            return None
        subs = ref.subs or ()
        stars = [isinstance(s, S.Star) for s in subs]
        kind = "member" if not any(stars) else ("family" if all(stars) else "slice")
        return SetSpec(kind, ref.span, format_expr(ref), family=ref.name.value,
                       subs=tuple(None if isinstance(s, S.Star) else s for s in subs))

    def set_from_arg(self, arg, what: str) -> SetSpec | None:
        if isinstance(arg, S.Call) and arg.func.value == "where":
            if len(arg.args) != 1 or arg.kwargs:
                self.err(arg.span, "where takes one condition", "write where(F < 0.5)")
                return None
            self.check_expr(arg.args[0], _Ctx(set(self.params) | self.node_attrs,
                                              "a where() condition"))
            return SetSpec("where", arg.span, format_expr(arg), cond=arg.args[0])
        return self.set_from_ref(arg, what)

    def check_init(self, stmts) -> Init:
        if not stmts:
            return Init("uniform", None, default=True)
        for extra in stmts[1:]:
            self.err(extra.span, f"a second init (the first is at line {stmts[0].span.line})",
                     "write one init; init { a = 0.5, b = 0.5 } spreads the start")
        st = stmts[0]
        tgt = st.target
        if isinstance(tgt, S.NodeRef) and tgt.subs is None and tgt.name.value in ("uniform",) \
                and tgt.name.value not in self.families:
            return Init("uniform", st.span)
        if isinstance(tgt, S.Call):
            name = tgt.func.value
            if name == "boltzmann":
                if len(tgt.args) + len(tgt.kwargs) != 1 or (tgt.kwargs and tgt.kwargs[0].name.value != "beta"):
                    self.err(tgt.span, "boltzmann takes one argument, beta", "write init boltzmann(beta)")
                    return Init("uniform", st.span)
                beta = tgt.args[0] if tgt.args else tgt.kwargs[0].value
                self.check_expr(beta, self.const_scope("init boltzmann"))
                return Init("boltzmann", st.span, beta=beta)
            if name == "uniform" and not tgt.args and not tgt.kwargs:
                return Init("uniform", st.span)
            if name == "where":
                s = self.set_from_arg(tgt, "init")
                return Init("set", st.span, target=s)
            self.err(tgt.func.span, f"unknown initial distribution '{name}'"
                     f"{did_you_mean(name, ['boltzmann', 'uniform'])}",
                     "write init NODE, init uniform, init boltzmann(beta) or init { a = 0.5, b = 0.5 }")
            return Init("uniform", st.span)
        if isinstance(tgt, S.InitBlock):
            weights = []
            for ref, val in tgt.items:
                s = self.set_from_ref(ref, "an init weight")
                self.check_expr(val, self.const_scope("an init probability"))
                if s is not None:
                    if s.kind != "member":
                        self.err(ref.span, "init weights are given to single nodes",
                                 "list members one by one, or use init h[*] for a uniform start")
                    weights.append((s, val))
            return Init("weights", st.span, weights=tuple(weights))
        s = self.set_from_ref(tgt, "init")
        return Init("set", st.span, target=s)

    # ----------------------------------------------------------- observables
    def check_observable(self, call: S.Call, name: str, span: Span) -> Observable | None:
        kind = call.func.value
        if kind not in OBSERVABLES:
            self.err(call.func.span, f"unknown observable '{kind}'{did_you_mean(kind, OBSERVABLES)}",
                     "observables: " + ", ".join(OBSERVABLES.values()))
            return None
        if call.kwargs:
            self.err(call.kwargs[0].span, f"'{kind}' takes no keyword arguments",
                     f"write {OBSERVABLES[kind]}")
            return None
        args = call.args
        attr_ctx = _Ctx(set(self.params) | self.node_attrs, f"observable '{name}'")
        text = format_expr(call)

        def nargs(n: int) -> bool:
            if len(args) != n:
                self.err(call.span, f"'{kind}' takes {n} argument{'s' if n != 1 else ''}, "
                         f"got {len(args)}", f"write {OBSERVABLES[kind]}")
                return False
            return True

        if kind in ("mean", "median", "min_reachable"):
            if not nargs(1):
                return None
            self.check_attr_expr(args[0], attr_ctx)
            return Observable(name, kind, span, expr=args[0], text=text)
        if kind == "quantile":
            if not nargs(2):
                return None
            self.check_attr_expr(args[0], attr_ctx)
            self.check_expr(args[1], self.const_scope(f"the level of quantile '{name}'"))
            return Observable(name, kind, span, expr=args[0], q=args[1], text=text)
        if kind in ("prob", "first_passage"):
            if not nargs(1):
                return None
            s = self.set_from_arg(args[0], f"'{kind}'")
            return Observable(name, kind, span, sets=(s,) if s else (), text=text) if s else None
        if kind == "connected":
            if not nargs(2):
                return None
            a = self.set_from_arg(args[0], "'connected'")
            b = self.set_from_arg(args[1], "'connected'")
            return Observable(name, kind, span, sets=(a, b), text=text) if a and b else None
        if kind == "msd":
            if not args:
                self.err(call.span, "msd needs the coordinate attributes", "write msd(x, y)")
                return None
            coords = []
            for a in args:
                if not isinstance(a, S.Name):
                    self.err(getattr(a, "span", call.span), "msd takes coordinate attribute names",
                             "write msd(x, y)")
                    return None
                if a.id not in self.node_attrs:
                    self.err(a.span, f"unknown node attribute '{a.id}'"
                             f"{did_you_mean(a.id, self.node_attrs)}",
                             "lattice and gasket nodes carry coordinates x, y[, z]")
                    return None
                coords.append(a.id)
            return Observable(name, kind, span, coords=tuple(coords), text=text)
        # visited(), largest_cluster()
        if not nargs(0):
            return None
        return Observable(name, kind, span, text=text)

    def check_attr_expr(self, e, ctx: _Ctx) -> None:
        if isinstance(e, S.Name) and e.id not in ctx.names and e.id in self.families:
            self.err(e.span, f"'{e.id}' is a node; {ctx.what} averages a node attribute",
                     "write mean(F) or mean(F_test); prob(NODE) gives a node's probability")
            return
        self.check_expr(e, ctx)

    def check_predict(self, st: S.PredictStmt, observables: dict[str, Observable]) -> Prediction | None:
        obs: list[Observable] = []
        item_span: dict[int, Span] = {}
        for item in st.items:
            n_before = len(obs)
            self._predict_item(item, observables, obs)
            if len(obs) > n_before:
                item_span[id(obs[-1])] = item.span
        return self._predict_rest(st, obs, item_span)

    def _predict_item(self, item, observables, obs) -> None:
        if isinstance(item, S.Ident):
            ob = observables.get(item.value)
            if ob is None:
                if item.value in self.observable_stmts or item.value in self.rejected:
                    return  # its own error was reported
                other = self.decl.get(item.value)
                hint = (f"'{item.value}' is {_a(other[0])}; declare 'observable NAME = ...' or "
                        "write the observable inline, e.g. mean(F)") if other else \
                    "declare it with 'observable NAME = ...' or write it inline, e.g. mean(F)"
                self.err(item.span, f"unknown observable '{item.value}'"
                         f"{did_you_mean(item.value, observables)}", hint)
                return
            obs.append(ob)
        else:
            ob = self.check_observable(item, format_expr(item), item.span)
            if ob is not None:
                obs.append(ob)

    def _predict_rest(self, st: S.PredictStmt, obs: list[Observable],
                      item_span: dict[int, Span]) -> Prediction | None:
        axis = None
        a = st.axis
        if isinstance(a, S.AxisStationary):
            axis = Axis("stationary", span=a.span)
        elif isinstance(a, (S.AxisAt, S.AxisOver)):
            var = a.var.value
            if var != "t" and var not in self.params:
                self.err(a.var.span, f"unknown axis '{var}'{did_you_mean(var, set(self.params) | {'t'})}",
                         "an axis is time 't' or a parameter")
            ctx = self.const_scope("an axis")
            if isinstance(a, S.AxisAt):
                self.check_expr(a.value, ctx)
                axis = Axis("at", var, value=a.value, span=a.span)
            else:
                self.check_expr(a.lo, ctx)
                self.check_expr(a.hi, ctx)
                if a.points is not None:
                    self.check_expr(a.points, ctx)
                axis = Axis("over", var, lo=a.lo, hi=a.hi, log=a.log, points=a.points, span=a.span)
        methods = []
        for m in st.methods:
            if m.value not in METHODS:
                self.err(m.span, f"unknown method '{m.value}'{did_you_mean(m.value, METHODS)}",
                         "methods: exact, theory, simulation")
            elif m.value in methods:
                self.err(m.span, f"method '{m.value}' is listed twice")
            else:
                methods.append(m.value)
        options: dict[str, object] = {}
        option_span: dict[str, Span] = {}
        for o in st.options:
            option_span.setdefault(o.name.value, o.span)
            k = o.name.value
            if k not in OPTIONS:
                self.err(o.name.span, f"unknown option '{k}'{did_you_mean(k, OPTIONS)}",
                         "options: " + ", ".join(OPTIONS))
                continue
            if k in options:
                self.err(o.name.span, f"option '{k}' is given twice")
                continue
            if k == "fit":
                if not (isinstance(o.value, S.Name) and o.value.id in OPTIONS["fit"]):
                    self.err(getattr(o.value, "span", o.span), "fit is 'powerlaw' or 'threshold'")
                    continue
                options[k] = o.value.id
            else:
                self.check_expr(o.value, self.const_scope(f"option '{k}'"))
                options[k] = o.value
        if axis is not None and axis.kind != "stationary" and axis.is_time:
            for ob in obs:
                if ob.kind in GRAPH_OBSERVABLES:
                    self.err(item_span.get(id(ob), st.span), f"'{ob.name}' is a property of the graph and does not depend "
                             "on time", "predict it without an axis or over a parameter")
        if axis is not None and axis.kind == "stationary":
            for ob in obs:
                if ob.kind in ("visited", "first_passage"):
                    self.err(item_span.get(id(ob), st.span), f"'{ob.name}' has no stationary value",
                             "predict it over t, or without an axis")
        fit = options.get("fit")
        if fit is not None:
            if axis is None or axis.kind != "over":
                self.err(option_span["fit"], f"fit = {fit} needs an axis 'over ... in A..B'",
                         f"write: predict ... over PARAM in A..B with fit = {fit}")
            elif fit == "threshold" and axis.is_time:
                self.err(option_span["fit"], "fit = threshold fits a divergence over a parameter, not over t",
                         "write: over D in A..B ... with fit = threshold")
        if not obs:
            return None
        return Prediction(tuple(obs), axis, tuple(methods) or ("exact",), options, st.span)


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _generator_forms(spec) -> list[tuple[str, ...]]:
    if spec.name == "erdos_renyi":
        return [("n", "mean_degree"), ("n", "p")]
    required = tuple(p for p in spec.params if p not in spec.defaults and not p.endswith("*"))
    return [required]


def check(mf: S.ModelFile) -> Model:
    """Check a parsed file; return the :class:`Model` or raise every problem at once."""
    return Checker(mf).run()
