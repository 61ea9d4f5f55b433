"""Text -> syntax tree.

The grammar (``grammar/semdsl.lark``, shipped as ``semdsl.grammar``) is loaded once by
:func:`lark_parser` (LALR with a contextual lexer, positions propagated).  The
:class:`ToSyntax` transformer only *builds* :mod:`semdsl.syntax` nodes; checks belong
to :mod:`semdsl.semantics`.  Syntax errors are turned into diagnostics that say what
was expected; after an error the offending statement is blanked out and parsing
resumes, so that every syntax error in a file is reported in one go.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

import lark
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import syntax as S
from .errors import Diagnostic, SemdslError, Span

STATEMENT_KEYWORDS = ("model", "param", "let", "node", "graph", "edge", "rate", "init",
                      "observable", "predict")
MAX_SYNTAX_ERRORS = 20
#: deepest nesting of syntax nodes in one statement.  Every later pass (checks, sympy,
#: messages) walks expressions recursively; this bound keeps them far from Python's
#: recursion limit.  ``a + b + c + ...`` nests one level per operator.
MAX_NESTING = 200


def grammar_text() -> str:
    """The grammar file's text, from the installed package or the source tree."""
    try:
        return resources.files("semdsl.grammar").joinpath("semdsl.lark").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):  # running from a source checkout
        here = Path(__file__).resolve().parent.parent / "grammar" / "semdsl.lark"
        return here.read_text("utf-8")


@functools.lru_cache(maxsize=1)
def lark_parser() -> Lark:
    """The one LALR parser, built once per process."""
    return Lark(grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=True, start="start")


# ------------------------------------------------------------------ span helpers
def _tok_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line, tok.column, tok.end_line or tok.line,
                tok.end_column or tok.column + len(str(tok)))


def _meta_span(file: str, meta) -> Span:
    if getattr(meta, "empty", True):
        return Span(file, 0, 0, 0, 0)
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


def _join(a: Span, b: Span) -> Span:
    return Span(a.file, a.line, a.column, b.end_line, b.end_column)


@v_args(meta=True)
class ToSyntax(Transformer):
    """Builds :mod:`semdsl.syntax` nodes; one method per grammar rule or alias."""

    def __init__(self, file: str):
        super().__init__(visit_tokens=False)
        self.file = file

    def transform(self, tree):
        """Bottom-up, with an explicit stack: a deeply nested expression cannot exhaust
        Python's stack here (:data:`MAX_NESTING` is checked afterwards)."""
        done: dict[int, object] = {}
        stack: list[tuple[lark.Tree, bool]] = [(tree, False)]
        while stack:
            node, ready = stack.pop()
            if not ready:
                stack.append((node, True))
                stack.extend((c, False) for c in node.children if isinstance(c, lark.Tree))
                continue
            children = [done.pop(id(c)) if isinstance(c, lark.Tree) else c for c in node.children]
            done[id(node)] = self._call_userfunc(node, children)
        return done[id(tree)]

    # helpers
    def _s(self, meta) -> Span:
        return _meta_span(self.file, meta)

    def _id(self, tok: Token) -> S.Ident:
        return S.Ident(str(tok), _tok_span(self.file, tok))

    # ---- file and statements
    def start(self, meta, children):
        return tuple(c for c in children if c is not None)

    def model_stmt(self, meta, ch):
        name, title = ch
        return S.ModelStmt(self._id(name), _unquote(title) if title is not None else None,
                           self._s(meta))

    def param_stmt(self, meta, ch):
        name, default, rng, doc = ch
        lo, hi = rng if rng is not None else (None, None)
        return S.ParamStmt(self._id(name), default, lo, hi,
                           _unquote(doc) if doc is not None else None, self._s(meta))

    def param_range(self, meta, ch):
        return (ch[0], ch[1])

    def let_stmt(self, meta, ch):
        return S.LetStmt(self._id(ch[0]), ch[1], self._s(meta))

    def node_stmt(self, meta, ch):
        name, idx, cond, prob, attrs = ch
        return S.NodeStmt(self._id(name), idx or (), cond, prob, attrs or (), self._s(meta))

    def index_decls(self, meta, ch):
        return tuple(ch)

    def index_decl(self, meta, ch):
        return S.IndexDecl(self._id(ch[0]), ch[1], ch[2], self._s(meta))

    def if_clause(self, meta, ch):
        return ch[0]

    def prob_clause(self, meta, ch):
        return ch[0]

    def site_clause(self, meta, ch):
        return ch[-1]

    def graph_stmt(self, meta, ch):
        name, gen, bond, site, attrs = ch
        return S.GraphStmt(self._id(name), gen, bond, site, attrs or (), self._s(meta))

    def edge_stmt(self, meta, ch):
        src, op, dst, fors, cond, prob, attrs = ch
        return S.EdgeStmt(src, str(op), dst, fors or (), cond, prob, attrs or (), self._s(meta))

    def for_clause(self, meta, ch):
        return tuple(ch)

    def rate_law(self, meta, ch):
        return S.RateLawStmt(ch[0], self._s(meta))

    def rate_expr(self, meta, ch):
        return S.RateExprStmt(ch[0], self._s(meta))

    def init_stmt(self, meta, ch):
        return S.InitStmt(ch[0], self._s(meta))

    def init_call(self, meta, ch):
        return ch[0]

    def init_block(self, meta, ch):
        return S.InitBlock(tuple(c for c in ch if c is not None), self._s(meta))

    def init_item(self, meta, ch):
        return (ch[0], ch[1])

    def observable_stmt(self, meta, ch):
        return S.ObservableStmt(self._id(ch[0]), ch[1], self._s(meta))

    def predict_stmt(self, meta, ch):
        items, rest = [], []
        for c in ch:
            if isinstance(c, (S.Ident, S.Call)) and not rest:
                items.append(c)
            else:
                rest.append(c)
        axis = methods = options = None
        for c in rest:
            if c is None:
                continue
            if isinstance(c, (S.AxisAt, S.AxisOver, S.AxisStationary)):
                axis = c
            elif isinstance(c, _Methods):
                methods = c.names
            elif isinstance(c, _Options):
                options = c.options
        return S.PredictStmt(tuple(items), axis, methods or (), options or (), self._s(meta))

    def predict_name(self, meta, ch):
        return self._id(ch[0])

    def axis_at(self, meta, ch):
        return S.AxisAt(self._id(ch[0]), ch[1], self._s(meta))

    def axis_over(self, meta, ch):
        var, lo, hi, log, points = ch
        return S.AxisOver(self._id(var), lo, hi, log is not None, points, self._s(meta))

    def axis_stationary(self, meta, ch):
        return S.AxisStationary(self._s(meta))

    def points(self, meta, ch):
        return ch[0]

    def methods(self, meta, ch):
        return _Methods(tuple(self._id(t) for t in ch))

    def options(self, meta, ch):
        return _Options(tuple(ch))

    def option(self, meta, ch):
        return S.Option(self._id(ch[0]), ch[1], self._s(meta))

    # ---- blocks
    def attr_block(self, meta, ch):
        return tuple(c for c in ch if c is not None)

    def attr_assign(self, meta, ch):
        return S.AttrAssign(self._id(ch[0]), ch[1], self._s(meta))

    def attr_random(self, meta, ch):
        return S.AttrRandom(self._id(ch[0]), ch[1], self._s(meta))

    # ---- calls and sets
    def call(self, meta, ch):
        func, *args = ch
        pos, kw = [], []
        for a in args:
            if a is None:
                continue
            (kw if isinstance(a, S.KwArg) else pos).append(a)
        return S.Call(self._id(func), tuple(pos), tuple(kw), self._s(meta))

    def kwarg(self, meta, ch):
        return S.KwArg(self._id(ch[0]), ch[1], self._s(meta))

    def node_ref(self, meta, ch):
        name, subs = ch
        return S.NodeRef(self._id(name), subs, self._s(meta))

    def subscript(self, meta, ch):
        return tuple(ch)

    def star(self, meta, ch):
        return S.Star(self._s(meta))

    def set_literal(self, meta, ch):
        return S.SetLiteral(tuple(c for c in ch if c is not None), self._s(meta))

    # ---- expressions
    def or_(self, meta, ch):
        return ch[0] if len(ch) == 1 else S.BoolOp("or", tuple(ch), self._s(meta))

    def and_(self, meta, ch):
        return ch[0] if len(ch) == 1 else S.BoolOp("and", tuple(ch), self._s(meta))

    def not_(self, meta, ch):
        return S.Not(ch[0], self._s(meta))

    def compare(self, meta, ch):
        if len(ch) == 1:
            return ch[0]
        left, op, right = ch
        return S.Compare(str(op), left, right, self._s(meta))

    def binop(self, meta, ch):
        left, op, right = ch
        op = "^" if str(op) in ("^", "**") else str(op)
        return S.BinOp(op, left, right, self._s(meta))

    def neg(self, meta, ch):
        return S.Unary("-", ch[0], self._s(meta))

    def pos(self, meta, ch):
        return S.Unary("+", ch[0], self._s(meta))

    def number(self, meta, ch):
        return S.Num(float(ch[0]), str(ch[0]), self._s(meta))

    def true(self, meta, ch):
        return S.Bool(True, self._s(meta))

    def false(self, meta, ch):
        return S.Bool(False, self._s(meta))

    def string(self, meta, ch):
        return S.Str(_unquote(ch[0]), self._s(meta))

    def name(self, meta, ch):
        return S.Name(str(ch[0]), self._s(meta))

    def attribute(self, meta, ch):
        return S.Attribute(self._id(ch[0]), self._id(ch[1]), self._s(meta))

    def indexed(self, meta, ch):
        return S.Indexed(self._id(ch[0]), ch[1], self._s(meta))


class _Methods:
    def __init__(self, names):
        self.names = names


class _Options:
    def __init__(self, options):
        self.options = options


def _too_deep(stmt):
    """The first syntax node nested deeper than :data:`MAX_NESTING` in ``stmt``, or None
    (iterative: the tree may be arbitrarily deep)."""
    stack = [(stmt, 0, stmt)]
    while stack:
        node, depth, top = stack.pop()
        if isinstance(node, tuple):
            stack.extend((c, depth, top) for c in node)
            continue
        names = getattr(node, "__dataclass_fields__", None)
        if names is None:
            continue
        if depth > MAX_NESTING:
            return top  # the statement's part (an attribute, a default, ...) holding it
        if depth == 1:
            top = node
        for name in names:
            if name != "span":
                stack.append((getattr(node, name), depth + 1, top))
    return None


def _nesting_diagnostics(statements, file: str) -> list[Diagnostic]:
    out = []
    for st in statements:
        deep = _too_deep(st)
        if deep is not None:
            sp = getattr(deep, "span", None) or st.span
            if sp.line <= 0:
                sp = st.span
            out.append(Diagnostic(
                Span(file, sp.line, sp.column, sp.line, sp.column + 1 if sp.end_line != sp.line
                     else sp.end_column),
                f"expression nested too deeply (more than {MAX_NESTING} levels)",
                "each operator of a chain like a + b + c + ... nests one level: group long "
                "chains with parentheses, (a + b + ...) + (c + d + ...)"))
    return out


def _unquote(tok) -> str:
    s = str(tok)
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] == '"' else s


# ----------------------------------------------------------------- syntax errors
_TERMINAL_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "_NL": "end of line",
    "$END": "end of file", "EDGE_OP": "'--' or '->'", "COMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'", "MUL_OP": "'*' or '/'", "POW_OP": "'^'", "LOG": "'log'",
    "SITES": "'sites'",
}


@functools.lru_cache(maxsize=1)
def _terminal_display() -> dict[str, str]:
    out = dict(_TERMINAL_WORDS)
    for term in lark_parser().terminals:
        if term.name in out:
            continue
        pat = term.pattern
        if isinstance(pat, lark.lexer.PatternStr):
            out[term.name] = f"'{pat.value}'"
    return out


def _describe_expected(expected) -> str:
    disp = _terminal_display()
    words = sorted({disp.get(t, t) for t in expected if t not in ("COMMENT",)},
                   key=lambda w: (not w.startswith("a ") and not w.startswith("end"), w))
    if not words:
        return ""
    if len(words) > 8:
        words = words[:8] + ["..."]
    return ", ".join(words)


def _accepts(exc: UnexpectedToken) -> set[str]:
    """The tokens the parser really accepts here (LALR's merged lookahead over-reports)."""
    try:
        acc = exc.accepts
    except Exception:  # pragma: no cover - older lark
        acc = None
    return set(acc) if acc else set(exc.expected)


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    text = str(tok)
    return f"'{text}'" if len(text) <= 30 else f"'{text[:27]}...'"


def _syntax_diagnostic(exc: UnexpectedInput, file: str, text: str) -> Diagnostic:
    lines = text.split("\n")  # as the lexer counts lines (not str.splitlines)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        tok = exc.token
        line, col = tok.line, tok.column
        width = len(str(tok)) if tok.type != "_NL" else 1
        if tok.type == "_NL":  # point just past the end of the line that stopped early
            line = tok.line
            col = len(lines[line - 1].rstrip()) + 1 if line <= len(lines) else 1
            col = _before_comment(lines[line - 1], col) if line <= len(lines) else col
        expected = _describe_expected(_accepts(exc))
        msg = f"unexpected {_describe_token(tok)}"
        if expected:
            msg += f", expected {expected}"
        hint = _syntax_hint(exc, tok)
        return Diagnostic(Span(file, line, col, line, col + width), "syntax error: " + msg, hint)
    if isinstance(exc, UnexpectedCharacters):
        row = lines[exc.line - 1] if 0 < exc.line <= len(lines) else ""
        ch = row[exc.column - 1] if 0 < exc.column <= len(row) else "?"
        msg = f"syntax error: unexpected character {ch!r}"
        hint = None
        if ch == '"':
            msg = "syntax error: unterminated string"
            hint = 'a "..." string must end on the same line'
        elif ch == "'":
            hint = "strings use double quotes: \"...\""
        elif ch in "&|":
            hint = "use 'and' / 'or' for logic"
        elif ch == "=" :
            hint = "use '==' to compare, '=' only to assign"
        elif ch == "!":
            hint = "use 'not' for negation, '!=' for inequality"
        return Diagnostic(Span(file, exc.line, exc.column, exc.line, exc.column + 1), msg, hint)
    # end of file
    last = len(lines)  # the last line with text: just past its end
    while last > 1 and not lines[last - 1].strip(" \t\f\r"):
        last -= 1
    col = len(lines[last - 1].rstrip("\r")) + 1
    expected = _describe_expected(getattr(exc, "expected", ()) or ())
    msg = "syntax error: unexpected end of file" + (f", expected {expected}" if expected else "")
    hint = "a '{' block is not closed" if _unbalanced(text) else None
    return Diagnostic(Span(file, last, max(col, 1), last, max(col, 1) + 1), msg, hint)


def _before_comment(line: str, col: int) -> int:
    i = line.find("#")
    if i >= 0:
        return len(line[:i].rstrip()) + 1
    return col


def _unbalanced(text: str) -> bool:
    stripped = re.sub(r'"[^"\n]*"|#[^\n]*', "", text)
    return stripped.count("{") > stripped.count("}")


def _syntax_hint(exc: UnexpectedToken, tok: Token) -> str | None:
    expected = _accepts(exc)
    if tok.type == "_NL" and "RBRACE" in expected:
        return "close the block with '}'"
    if str(tok) in STATEMENT_KEYWORDS:
        return "one statement per line: start a new line before this keyword"
    if tok.type == "_NL" and expected & {"NAME", "NUMBER", "LPAR"}:
        return "the line ends before the expression does"
    if tok.type == "EQUAL" and "COMP_OP" in expected:
        return "use '==' to compare"
    if "DOUBLE_DOT" in expected or "__ANON_0" in expected:
        return "ranges are written 'A..B'"
    return None


def _open_block(text: str, line: int, col: int) -> tuple[int, int] | None:
    """Position of the innermost '{' still open just before (line, col), if any."""
    stack: list[tuple[int, int]] = []
    for ln, row in enumerate(text.split("\n")[:line], 1):
        in_str = False
        for c, ch in enumerate(row, 1):
            if ln == line and c >= col:
                break
            if ch == '"':
                in_str = not in_str
            elif in_str:
                continue
            elif ch == "#":
                break
            elif ch == "{":
                stack.append((ln, c))
            elif ch == "}" and stack:
                stack.pop()
    return stack[-1] if stack else None


def _unclosed_block_at(text: str, exc: UnexpectedToken):
    """((line, col, keyword), (open_line, open_col)) when the error line starts a statement
    while a '{' block is still open, else None."""
    tok = exc.token
    if tok.type == "$END" or not tok.line:
        return None
    rows = text.split("\n")
    if not 0 < tok.line <= len(rows):
        return None
    row = rows[tok.line - 1]
    stripped = row.lstrip()
    word = stripped.split(None, 1)[0] if stripped else ""
    if word not in STATEMENT_KEYWORDS:
        return None
    col = len(row) - len(stripped) + 1
    opened = _open_block(text, tok.line, col)
    return ((tok.line, col, word), opened) if opened is not None else None


def _starts_line(text: str, line: int, col: int) -> bool:
    rows = text.split("\n")
    return 0 < line <= len(rows) and rows[line - 1][:col - 1].strip() == ""


def _close_before(text: str, line: int) -> str:
    """Insert the missing '}' at the end of the line before ``line`` (line numbers kept)."""
    rows = text.split("\n")
    k = line - 2
    while k > 0 and not rows[k].strip():
        k -= 1
    rows[k] = rows[k] + " }"
    return "\n".join(rows)


def _blank_statement(text: str, line: int) -> str:
    """Blank out the statement containing ``line`` (1-based), keeping line numbers."""
    lines = text.split("\n")
    n = len(lines)
    line = min(max(line, 1), n)

    def starts_statement(s: str) -> bool:
        w = s.strip().split(None, 1)
        return bool(w) and w[0] in STATEMENT_KEYWORDS

    start = line - 1
    while start > 0 and not starts_statement(lines[start]):
        start -= 1
    end = line  # exclusive
    while end < n and not starts_statement(lines[end]):
        end += 1
    for k in range(start, end):
        lines[k] = ""
    return "\n".join(lines)


def parse(text: str, file: str = "<string>") -> S.ModelFile:
    """Parse model text into a :class:`~semdsl.syntax.ModelFile`.

    Raises :class:`~semdsl.errors.SemdslError` listing every syntax error found
    (up to 20), each with the tokens that were expected.
    """
    parser = lark_parser()
    diags: list[Diagnostic] = []
    attempt = text
    tree = None
    seen_lines: set[int] = set()
    while len(diags) < MAX_SYNTAX_ERRORS:
        try:
            tree = parser.parse(attempt)
            break
        except UnexpectedInput as exc:
            d = _syntax_diagnostic(exc, file, text)
            unclosed = _unclosed_block_at(attempt, exc) if isinstance(exc, UnexpectedToken) else None
            if unclosed is not None:
                (line, col, word), opened = unclosed
                d = Diagnostic(Span(file, line, col, line, col + len(word)),
                               f"syntax error: '{word}' starts a new statement inside the '{{' "
                               f"block opened at {opened[0]}:{opened[1]}",
                               "close the block with '}'")
                if d.span.line in seen_lines:
                    break
                seen_lines.add(d.span.line)
                diags.append(d)
                attempt = _close_before(attempt, line)
                continue
            if d.span.line in seen_lines:
                break
            seen_lines.add(d.span.line)
            diags.append(d)
            if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken)
                                                  and exc.token.type == "$END"):
                break
            blanked = _blank_statement(attempt, d.span.line)
            if blanked == attempt:
                break
            attempt = blanked
    if diags:
        raise SemdslError(diags, {file: text})
    assert tree is not None
    statements = ToSyntax(file).transform(tree)
    deep = _nesting_diagnostics(statements, file)
    if deep:
        raise SemdslError(deep, {file: text})
    return S.ModelFile(tuple(statements), file, text)


def decode_source(data: bytes, file: str) -> str:
    """Bytes of a model file -> text; bytes that are not UTF-8 are an error at their
    line and column (a byte-order mark is dropped; line endings are kept)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = data[:exc.start]
        line = head.count(b"\n") + 1
        col = len(head[head.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        shown = data.decode("utf-8", "replace")
        bad = " ".join(f"0x{b:02x}" for b in data[exc.start:min(exc.end, exc.start + 4)])
        raise SemdslError(Diagnostic(Span(file, line, col, line, col + 1),
                                     f"the file is not UTF-8 text (byte {bad}: {exc.reason})",
                                     "save the file as UTF-8; model files are UTF-8 text"),
                          {file: shown})
    return text[1:] if text.startswith("\ufeff") else text


def parse_file(path: str | Path) -> S.ModelFile:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise SemdslError(Diagnostic(Span(str(path), 0, 0, 0, 0), f"no such file '{path}'"))
    except IsADirectoryError:
        raise SemdslError(Diagnostic(Span(str(path), 0, 0, 0, 0), f"'{path}' is a directory, not a model file",
                                     "give the path of a .sem file"))
    except OSError as exc:
        raise SemdslError(Diagnostic(Span(str(path), 0, 0, 0, 0),
                                     f"cannot read '{path}': {exc.strerror}"))
    text = decode_source(data, str(path))
    # universal newlines, as reading the file as text does: CRLF and lone CR end lines
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return parse(text, str(path))
