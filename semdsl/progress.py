"""Progress bars for long work: tasks done, elapsed time and an estimate of time left.

Shown with rich on standard error when it is a terminal; silent with ``--json``,
``--quiet``, when standard error is not a terminal, or when rich is not installed
(it is optional: ``pip install "semdsl[progress]"``).  The runner asks for one bar
per method of a prediction and advances it once per finished task.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator


class _Silent:
    def advance(self, n: int = 1) -> None:
        pass


class _RichBar:
    def __init__(self, progress, task):
        self._p, self._t = progress, task

    def advance(self, n: int = 1) -> None:
        self._p.advance(self._t, n)


class Reporter:
    """Makes progress bars; ``enabled=None`` decides from the terminal."""

    def __init__(self, enabled: bool | None = None, stream=None):
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = bool(enabled)
        if self.enabled:
            import importlib.util
            if importlib.util.find_spec("rich") is None:
                self.enabled = False

    @contextmanager
    def bar(self, description: str, total: int) -> Iterator[_Silent | _RichBar]:
        """A bar of ``total`` tasks (silent for fewer than 2 or when disabled)."""
        if not self.enabled or total < 2:
            yield _Silent()
            return
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                            console=Console(file=self.stream, force_terminal=True), transient=True)
        with progress:
            task = progress.add_task(description, total=total)
            yield _RichBar(progress, task)


    def callback(self, description: str):
        """A ``progress(done, total)`` callable for solvers that report that way (the
        Newman-Ziff passes): a bar that opens at the first call and closes at the last."""
        if not self.enabled:
            return None
        state: dict = {}

        def update(done: int, total: int) -> None:
            if "cm" not in state:
                state["cm"] = self.bar(description, int(total))
                state["bar"] = state["cm"].__enter__()
            state["bar"].advance(int(done) - state.get("done", 0))
            state["done"] = int(done)
            if done >= total:
                state.pop("cm").__exit__(None, None, None)
                state.clear()
        return update


SILENT = Reporter(enabled=False)
