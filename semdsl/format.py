"""Canonical source text: expressions (used in messages and as the names of inline
observables) and whole model files (``semdsl fmt``).

:func:`format_model` prints a parsed file in canonical form.  The rules, which make
``parse(format_model(tree)) == tree`` (spans aside) and ``format_model`` idempotent:

* statements stay in source order (order matters: defaults see earlier parameters, and
  predictions are run and reported in file order), one per line;
* comments are kept: a comment on its own line stays on its own line before the statement
  (or block item) that follows it; a comment after code stays at the end of that line
  (after a block item, after the ``{`` of a block header, after the closing ``}``);
  consecutive lines of one indentation with such comments have their ``#`` aligned two
  spaces after the longest line;
* blank lines: at most one in a row, none at the start or end of the file or of a block;
* spacing: one space around ``=``, ``~``, binary operators, ``--``/``->`` and keywords,
  none around ``^`` and ``..``, ``, `` between arguments; parentheses only where
  precedence needs them; ``**`` is written ``^``; numbers keep the text they were
  written with (``1e6`` stays ``1e6``);
* a ``{ ... }`` block written on one line stays on one line (items separated by ``; ``
  or ``, `` in ``init``); one written over several lines gets one item per line,
  indented by four spaces, and its ``}`` on a line of its own; an empty block is dropped;
* consecutive ``param`` statements (no blank line or comment between them) are aligned
  in columns (name, ``= default``, ``in LO..HI``, ``"doc"``), and so are consecutive
  ``let`` and ``observable`` statements (name, ``= value``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass

from . import syntax as S

_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6,
         "unary": 7, "^": 8, "atom": 9}


def _prec(e) -> int:
    if isinstance(e, S.BoolOp):
        return _PREC[e.op]
    if isinstance(e, S.Not):
        return _PREC["not"]
    if isinstance(e, S.Compare):
        return _PREC["cmp"]
    if isinstance(e, S.BinOp):
        return _PREC[e.op]
    if isinstance(e, S.Unary):
        return _PREC["unary"]
    return _PREC["atom"]


def _wrap(e, min_prec: int) -> str:
    s = format_expr(e)
    return f"({s})" if _prec(e) < min_prec else s


def format_expr(e) -> str:
    """Source text of an expression, set or call, with minimal parentheses."""
    if isinstance(e, S.Num):
        return e.text
    if isinstance(e, S.Bool):
        return "true" if e.value else "false"
    if isinstance(e, S.Str):
        return f'"{e.value}"'
    if isinstance(e, S.Name):
        return e.id
    if isinstance(e, S.Ident):
        return e.value
    if isinstance(e, S.Attribute):
        return f"{e.obj.value}.{e.attr.value}"
    if isinstance(e, S.Star):
        return "*"
    if isinstance(e, (S.Indexed, S.NodeRef)):
        if e.subs is None:
            return e.name.value
        return f"{e.name.value}[{', '.join(format_expr(s) for s in e.subs)}]"
    if isinstance(e, S.SetLiteral):
        return "{" + ", ".join(format_expr(x) for x in e.elems) + "}"
    if isinstance(e, S.Call):
        parts = [format_expr(a) for a in e.args]
        parts += [f"{k.name.value} = {format_expr(k.value)}" for k in e.kwargs]
        return f"{e.func.value}({', '.join(parts)})"
    if isinstance(e, S.BinOp):
        p = _PREC[e.op]
        if e.op == "^":  # right-associative
            return f"{_wrap(e.left, p + 1)}^{_wrap(e.right, _PREC['unary'])}"
        # left-associative: an operand of the same precedence on the right needs
        # parentheses, so that a + (b + c) and a * (b / c) keep their trees
        return f"{_wrap(e.left, p)} {e.op} {_wrap(e.right, p + 1)}"
    if isinstance(e, S.Unary):
        inner = _wrap(e.operand, _PREC['unary'])
        if inner.startswith(("+", "-")):  # never '--' (the edge operator) or '+-' run together
            inner = f"({inner})"
        return f"{e.op}{inner}"
    if isinstance(e, S.Compare):
        return f"{_wrap(e.left, _PREC['+'])} {e.op} {_wrap(e.right, _PREC['+'])}"
    if isinstance(e, S.BoolOp):
        p = _PREC[e.op]
        return f" {e.op} ".join(_wrap(v, p + 1) for v in e.values)
    if isinstance(e, S.Not):
        return f"not {_wrap(e.operand, _PREC['not'])}"
    raise TypeError(f"cannot format {type(e).__name__}")  # pragma: no cover


# --------------------------------------------------------------------- whole models
INDENT = "    "


@dataclass
class _Comment:
    line: int
    text: str          # from '#' to the end of the line, trailing blanks removed
    standalone: bool   # alone on its line (else it follows code)


@dataclass
class _Line:
    indent: str
    code: str
    comment: str | None = None
    kind: str | None = None            # "param", "let", "observable": aligned in runs
    cells: list[str] | None = None


_BLANK = None  # a blank line in the output list


def _scan_source(source: str) -> tuple[list[_Comment], set[int]]:
    """The comments of a source text (outside strings) and its blank lines (1-based)."""
    comments: list[_Comment] = []
    blank: set[int] = set()
    for n, row in enumerate(source.split("\n"), 1):
        row = row.rstrip("\r")
        if not row.strip(" \t\f\r"):
            blank.add(n)
            continue
        in_str = False
        for k, ch in enumerate(row):
            if ch == '"':
                in_str = not in_str
            elif ch == "#" and not in_str:
                comments.append(_Comment(n, row[k:].rstrip(" \t\f\r"),
                                         not row[:k].strip(" \t\f")))
                break
    return comments, blank


def _decls(decls) -> str:
    return ", ".join(f"{d.var.value} in {format_expr(d.lo)}..{format_expr(d.hi)}" for d in decls)


def _attr_item(item) -> str:
    if isinstance(item, S.AttrRandom):
        return f"{item.name.value} ~ {format_expr(item.dist)}"
    return f"{item.name.value} = {format_expr(item.value)}"


def _quote(text: str) -> str:
    return f'"{text}"'


def _head(st) -> str:
    """A statement's text up to (not including) its ``{ ... }`` block."""
    if isinstance(st, S.ModelStmt):
        return f"model {st.name.value}" + (f" {_quote(st.title)}" if st.title is not None else "")
    if isinstance(st, S.ParamStmt):
        return " ".join(c for c in _cells(st) if c)
    if isinstance(st, (S.LetStmt, S.ObservableStmt)):
        return " ".join(_cells(st))
    if isinstance(st, S.NodeStmt):
        out = f"node {st.name.value}"
        if st.indexes:
            out += f"[{_decls(st.indexes)}]"
        if st.cond is not None:
            out += f" if {format_expr(st.cond)}"
        if st.prob is not None:
            out += f" with probability {format_expr(st.prob)}"
        return out
    if isinstance(st, S.GraphStmt):
        out = f"graph {st.name.value} = {format_expr(st.generator)}"
        if st.bond_prob is not None:
            out += f" with probability {format_expr(st.bond_prob)}"
        if st.site_prob is not None:
            out += f" sites with probability {format_expr(st.site_prob)}"
        return out
    if isinstance(st, S.EdgeStmt):
        out = f"edge {format_expr(st.src)} {st.op} {format_expr(st.dst)}"
        if st.fors:
            out += f" for {_decls(st.fors)}"
        if st.cond is not None:
            out += f" if {format_expr(st.cond)}"
        if st.prob is not None:
            out += f" with probability {format_expr(st.prob)}"
        return out
    if isinstance(st, S.RateLawStmt):
        return f"rate {format_expr(st.law)}"
    if isinstance(st, S.RateExprStmt):
        return f"rate = {format_expr(st.expr)}"
    if isinstance(st, S.InitStmt):
        return "init" if isinstance(st.target, S.InitBlock) else f"init {format_expr(st.target)}"
    if isinstance(st, S.PredictStmt):
        out = "predict " + ", ".join(format_expr(i) for i in st.items)
        a = st.axis
        if isinstance(a, S.AxisAt):
            out += f" at {a.var.value} = {format_expr(a.value)}"
        elif isinstance(a, S.AxisOver):
            out += f" over {a.var.value} in {format_expr(a.lo)}..{format_expr(a.hi)}"
            if a.log:
                out += " log"
            if a.points is not None:
                out += f" points {format_expr(a.points)}"
        elif isinstance(a, S.AxisStationary):
            out += " stationary"
        if st.methods:
            out += " using " + ", ".join(m.value for m in st.methods)
        if st.options:
            out += " with " + ", ".join(f"{o.name.value} = {format_expr(o.value)}" for o in st.options)
        return out
    raise TypeError(f"cannot format {type(st).__name__}")  # pragma: no cover


def _cells(st) -> list[str]:
    """The columns of a statement that is aligned with its neighbours of the same kind."""
    if isinstance(st, S.ParamStmt):
        rng = f"in {format_expr(st.lo)}..{format_expr(st.hi)}" if st.lo is not None else ""
        return [f"param {st.name.value}", f"= {format_expr(st.default)}", rng,
                _quote(st.doc) if st.doc is not None else ""]
    if isinstance(st, S.LetStmt):
        return [f"let {st.name.value}", f"= {format_expr(st.value)}"]
    if isinstance(st, S.ObservableStmt):
        return [f"observable {st.name.value}", f"= {format_expr(st.call)}"]
    return []


def _items(st) -> tuple[list[tuple[int, int, str]], str]:
    """The items of a statement's block as (first line, last line, text), and their
    separator on one line."""
    if isinstance(st, (S.NodeStmt, S.GraphStmt, S.EdgeStmt)):
        return [(a.span.line, a.span.end_line, _attr_item(a)) for a in st.attrs], "; "
    if isinstance(st, S.InitStmt) and isinstance(st.target, S.InitBlock):
        return [(ref.span.line, max(ref.span.end_line, val.span.end_line),
                 f"{format_expr(ref)} = {format_expr(val)}") for ref, val in st.target.items], ", "
    return [], ""


class _Formatter:
    def __init__(self, mf: S.ModelFile, comments: bool):
        source = mf.source if comments else ""
        found, self.blank = _scan_source(source) if source else ([], set())
        self.standalone = [c for c in found if c.standalone]
        self.trailing = {c.line: c for c in found if not c.standalone}
        self.next = 0                       # the first standalone comment not yet written
        self.nlines = source.count("\n") + 1
        self.mf = mf
        self.out: list[_Line | None] = []

    # ---- comments and blank lines
    def _blank_between(self, a: int, b: int) -> bool:
        return any(n in self.blank for n in range(a + 1, b))

    def _trail(self, lo: int, hi: int) -> str | None:
        found = [self.trailing.pop(n).text for n in range(lo, hi + 1) if n in self.trailing]
        return "  ".join(found) if found else None

    def _gap(self, a: int, b: int, indent: str, started: bool, final: bool = False) -> bool:
        """Standalone comments before line ``b`` and the blank lines between ``a`` and ``b``."""
        prev = a
        while self.next < len(self.standalone) and self.standalone[self.next].line < b:
            c = self.standalone[self.next]
            self.next += 1
            if started and self._blank_between(prev, c.line):
                self.out.append(_BLANK)
            self.out.append(_Line(indent, c.text))
            prev, started = max(prev, c.line), True
        if not final and started and self._blank_between(prev, b):
            self.out.append(_BLANK)
        return started

    def _sequence(self, elems, lo: int, hi: int, indent: str, render) -> None:
        last, started = lo, False
        for start, end, item in elems:
            started = self._gap(last, start, indent, started)
            render(item, indent)
            started = True
            last = max(last, end)
        self._gap(last, hi, indent, started, final=True)

    # ---- statements
    def statement(self, st, indent: str) -> None:
        s, e = st.span.line, st.span.end_line
        items, sep = _items(st)
        if items and 0 < s < e:  # a block over several lines: one item per line
            first = items[0][0]
            self.out.append(_Line(indent, _head(st) + " {", self._trail(s, first - 1)))
            closing = items[-1][1] < e
            elems = []
            for k, (a, b, text) in enumerate(items):
                hi = items[k + 1][0] - 1 if k + 1 < len(items) else (e - 1 if closing else e)
                elems.append((a, b, (text, a, hi)))
            self._sequence(elems, s, e, indent + INDENT,
                           lambda it, ind: self.out.append(_Line(ind, it[0], self._trail(it[1], it[2]))))
            self.out.append(_Line(indent, "}", self._trail(e, e) if closing else None))
            return
        # on one line; comments on lines of their own inside it go before it
        while self.next < len(self.standalone) and self.standalone[self.next].line <= e:
            self.out.append(_Line(indent, self.standalone[self.next].text))
            self.next += 1
        code = _head(st)
        if items:
            code += " { " + sep.join(text for _, _, text in items) + " }"
        cells = _cells(st) or None
        kind = type(st).__name__ if cells else None
        self.out.append(_Line(indent, code, self._trail(s, e), kind, cells))

    def run(self) -> str:
        stmts = self.mf.statements
        self._sequence([(st.span.line, st.span.end_line, st) for st in stmts], 0,
                       self.nlines + 1, "", self.statement)
        # nothing is ever lost: a comment no rule placed goes at the end
        for c in self.standalone[self.next:] + sorted(self.trailing.values(), key=lambda c: c.line):
            self.out.append(_Line("", c.text))
        return self.render()

    # ---- alignment and text
    def render(self) -> str:
        out = self.out
        i = 0
        while i < len(out):  # columns of consecutive param / let / observable statements
            first = out[i]
            if first is _BLANK or first.kind is None:
                i += 1
                continue
            j = i
            while j < len(out) and out[j] is not _BLANK and out[j].kind == first.kind:
                j += 1
            run = out[i:j]
            widths = [max(len(x.cells[c]) for x in run) for c in range(len(first.cells))]
            for x in run:
                last = max(c for c, cell in enumerate(x.cells) if cell)
                parts = [x.cells[c].ljust(widths[c]) for c in range(last) if widths[c]]
                x.code = " ".join(parts + [x.cells[last]])
            i = j
        lines: list[str] = []
        i = 0
        while i < len(out):  # trailing comments of consecutive lines share a column
            x = out[i]
            if x is _BLANK:
                lines.append("")
                i += 1
                continue
            if x.comment is None:
                lines.append(x.indent + x.code)
                i += 1
                continue
            j = i
            while j < len(out) and out[j] is not _BLANK and out[j].comment is not None \
                    and out[j].indent == x.indent:
                j += 1
            width = max(len(y.indent + y.code) for y in out[i:j])
            lines += [(y.indent + y.code).ljust(width) + "  " + y.comment for y in out[i:j]]
            i = j
        text = "\n".join(line.rstrip(" ") for line in lines)
        return text + "\n" if text else ""


def format_model(model_or_tree, *, comments: bool = True) -> str:
    """Canonical source text of a whole model file (what ``semdsl fmt`` prints).

    Accepts a parsed :class:`~semdsl.syntax.ModelFile` (``semdsl.parser.parse``), a
    checked :class:`~semdsl.model.Model` (``semdsl.loads``; its syntax tree is used) or
    source text (parsed first; syntax errors raise :class:`~semdsl.errors.SemdslError`).
    Comments and blank lines come from the tree's source text; ``comments=False`` drops
    them.  See the module docstring for the layout rules.
    """
    tree = model_or_tree
    if isinstance(tree, str):
        from .parser import parse
        tree = parse(tree)
    elif not isinstance(tree, S.ModelFile):
        tree = getattr(tree, "syntax", None)
        if not isinstance(tree, S.ModelFile):
            raise TypeError(f"format_model needs a parsed model, got {type(model_or_tree).__name__}")
    return _Formatter(tree, comments).run()


def strip_spans(node):
    """A plain, position-free view of a syntax tree (nested tuples of class names and
    values) for comparing two trees: equal views mean equal trees whatever the layout."""
    if isinstance(node, S.ModelFile):
        return ("ModelFile", tuple(strip_spans(s) for s in node.statements))
    if is_dataclass(node):
        return (type(node).__name__,) + tuple(
            (f.name, strip_spans(getattr(node, f.name))) for f in fields(node) if f.name != "span")
    if isinstance(node, (tuple, list)):
        return tuple(strip_spans(x) for x in node)
    return node
