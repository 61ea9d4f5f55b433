"""Source positions, diagnostics and their rendering.

Every problem a model file can cause is a :class:`Diagnostic` with a :class:`Span`;
one :class:`SemdslError` carries all diagnostics found in one pass and renders them as

    models/grokking.sem:12:18: error: unknown node 'generalise' (did you mean 'generalize'?)
      edge h[40] -- generalise
                    ^^^^^^^^^^

(LANGUAGE.md section 3).  Errors that no file position can be given for (a bad
``--set`` on the command line, an impossible size found while compiling) still carry
the most specific span known, falling back to the statement that caused them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Span:
    """A region of a source file: 1-based line and column, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(file: str, line: int, column: int, width: int = 1) -> "Span":
        return Span(file, line, column, line, column + max(width, 1))


NO_SPAN = Span("<none>", 0, 0, 0, 0)


@dataclass(frozen=True)
class Diagnostic:
    """One problem: where, what, and optionally what to do about it."""

    span: Span | None
    message: str
    hint: str | None = None
    severity: str = "error"

    def render(self, sources: dict[str, str] | None = None,
               _split: dict[str, list[str]] | None = None) -> str:
        sources = sources or {}
        span = self.span
        if span is None or span.line <= 0:
            where = span.file if span is not None and span.file != "<none>" else "semdsl"
            head = f"{where}: {self.severity}: {self.message}"
            return head + (f"\n  hint: {self.hint}" if self.hint else "")
        head = f"{span.file}:{span.line}:{span.column}: {self.severity}: {self.message}"
        lines = [head]
        text = sources.get(span.file)
        if text is not None:
            if _split is None:
                _split = {}
            src_lines = _split.get(span.file)
            if src_lines is None:  # lines end at \n only, as the lexer counts them
                src_lines = _split[span.file] = text.split("\n")
            if 1 <= span.line <= len(src_lines):
                src = src_lines[span.line - 1].rstrip("\r").expandtabs(1)
                if span.end_line == span.line:
                    width = max(span.end_column - span.column, 1)
                else:
                    width = max(len(src) - span.column + 1, 1)
                width = min(width, max(len(src) - span.column + 1, 1))
                lines.append("  " + src)
                lines.append("  " + " " * (span.column - 1) + "^" * width)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class SemdslError(Exception):
    """Every user-caused problem, with all diagnostics found in one pass.

    ``str(err)`` is the full rendering (file:line:col, the source line, a caret, a
    hint); the command line prints it and exits with status 1.
    """

    def __init__(self, diagnostics: Sequence[Diagnostic] | Diagnostic,
                 sources: dict[str, str] | None = None):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        self.sources: dict[str, str] = dict(sources or {})
        super().__init__(self.render())

    def render(self) -> str:
        split: dict[str, list[str]] = {}  # each source split once, however many diagnostics
        return "\n".join(d.render(self.sources, split) for d in self.diagnostics)

    def __str__(self) -> str:  # re-render: sources may have been attached later
        return self.render()

    def with_sources(self, sources: dict[str, str]) -> "SemdslError":
        merged = dict(sources)
        merged.update(self.sources)
        self.sources = merged
        return self

    @property
    def messages(self) -> list[str]:
        return [d.message for d in self.diagnostics]


class ParameterError(SemdslError):
    """A parameter override that names no parameter or lies outside its range."""


class CompileError(SemdslError):
    """A problem found while building the state space or the rates."""


class LimitError(CompileError):
    """The state space or transition count exceeds a limit (checked before allocating)."""


class NumericalError(SemdslError):
    """A numerically singular or ill-posed problem that would give a wrong number."""


def error(span: Span | None, message: str, hint: str | None = None) -> SemdslError:
    return SemdslError([Diagnostic(span, message, hint)])


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (adjacent transpositions count once)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """'did you mean' text for a misspelt name, or None.

    A candidate qualifies when its edit distance is at most a third of the name's
    length (at least 1), or when only letter case differs; the closest one wins.
    """
    pool = sorted(set(c for c in candidates if c != name))
    if not pool:
        return None
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered:
        return lowered[name.lower()]
    if len(name) <= 2:  # short names: one edit that keeps the first letter, or nothing
        near = [c for c in pool if _edit_distance(name, c) == 1 and c[:1].lower() == name[:1].lower()]
        return near[0] if len(near) == 1 else None
    limit = max(1, len(name) // 3)
    scored = sorted((_edit_distance(name, c), -len(set(name) & set(c)), c) for c in pool)
    best = scored[0]
    if best[0] <= limit:
        return best[2]
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.75)
    return close[0] if close else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    s = suggest(name, candidates)
    return f" (did you mean '{s}'?)" if s else ""


@dataclass
class DiagnosticBag:
    """Collects diagnostics during one pass; raises them together."""

    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)

    def error(self, span: Span | None, message: str, hint: str | None = None) -> None:
        self.errors.append(Diagnostic(span, message, hint))

    def warn(self, span: Span | None, message: str, hint: str | None = None) -> None:
        self.warnings.append(Diagnostic(span, message, hint, severity="warning"))

    def raise_if_errors(self, sources: dict[str, str] | None = None,
                        cls: type[SemdslError] = SemdslError) -> None:
        if self.errors:
            ordered = sorted(self.errors, key=lambda d: (
                d.span.file if d.span else "", d.span.line if d.span else 0,
                d.span.column if d.span else 0))
            raise cls(ordered, sources)
