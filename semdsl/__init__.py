"""semdsl -- a modeling language for the semantic landscape paradigm.

Neural-network training as a random walk on a graph of algorithms (nodes with a
fallibility ``F``); a ``.sem`` file declares the landscape, the dynamics and the
observables, and semdsl compiles it to master equations and sparse generators.

Notebook use::

    import semdsl
    model = semdsl.load("models/grokking.sem")
    cm = model.compile(D=2500, seed=3)      # or semdsl.compile(model, {"D": 2500})
    cm.generator                            # scipy.sparse CSR, Q[i, j] = rate i -> j
    cm.master_equation().equations          # sympy, small models
"""

from __future__ import annotations

__version__ = "0.1.0"

from pathlib import Path
from typing import Any, Mapping

from .errors import CompileError, Diagnostic, LimitError, ParameterError, SemdslError, Span
from .model import Model
from .compiler import CompiledModel, compile_model, is_distribution, is_generator


def loads(text: str, file: str = "<string>", **params: Any) -> Model:
    """Parse and check model text; raises :class:`SemdslError` listing every problem.

    Keyword arguments bind parameter values (checked against their ranges when compiled).
    """
    from .parser import parse
    from .semantics import check
    model = check(parse(text, file))
    return model.with_params(**params) if params else model


def load(path: str | Path, **params: Any) -> Model:
    """Parse and check a ``.sem`` file: ``semdsl.load("models/grokking.sem", D=2500)``.

    Raises :class:`SemdslError` listing every problem.  Keyword arguments bind
    parameter values (checked against their ranges when compiled).
    """
    from .parser import parse_file
    from .semantics import check
    model = check(parse_file(path))
    return model.with_params(**params) if params else model


def compile(model: Model | str | Path, params: Mapping[str, Any] | None = None, *,
            seed: int = 1, realization: int = 0, **kwargs) -> CompiledModel:
    """Compile a model (or a path to one) with parameter overrides and a seed.

    Keyword arguments ``max_states``, ``max_transitions`` and ``allow_path`` are passed
    to :func:`semdsl.compiler.compile_model`.
    """
    if not isinstance(model, Model):
        model = load(model)
    return compile_model(model, params, seed=seed, realization=realization, **kwargs)


def _model_compile(self: Model, params: Mapping[str, Any] | None = None, *, seed: int = 1,
                   realization: int = 0, max_states: int | None = None,
                   max_transitions: int | None = None, **overrides) -> CompiledModel:
    """``model.compile(D=2500, seed=3)``: compile with parameter overrides."""
    merged = dict(params or {})
    merged.update(overrides)
    return compile_model(self, merged, seed=seed, realization=realization,
                         max_states=max_states, max_transitions=max_transitions)


Model.compile = _model_compile  # type: ignore[attr-defined]


def run(model: Model | str | Path, params: Mapping[str, Any] | None = None, *, seed: int | None = None,
        **kwargs: Any):
    """Evaluate every ``predict`` statement: ``semdsl.run("models/two_state.sem", k_plus=2)``.

    Returns :class:`semdsl.runner.Results` (``.to_json()``, ``.table()``, ``.write(dir)``).
    """
    from .runner import run as _run
    return _run(model, params, seed=seed, **kwargs)

__all__ = ["load", "loads", "compile", "run", "Model", "CompiledModel", "SemdslError", "Diagnostic",
           "Span", "ParameterError", "CompileError", "LimitError", "is_generator",
           "is_distribution", "__version__"]
