"""Storm as a test oracle: read an exported PRISM or DRN file and return Storm's answers.

Every helper takes the path of a file written by :func:`semdsl.emit.prism.to_prism`
(``kind="prism"``) or :func:`semdsl.emit.drn.to_drn` (``kind="drn"``) and returns a
float64 numpy array indexed by *semdsl node id* (not by Storm's internal state
number), with ``nan`` for nodes Storm did not build (PRISM models only contain
the states reachable from the initial states).

How this is done with stormpy 2.0:

* PRISM: ``stormpy.parse_prism_program(path, prism_compatibility=True)`` (plain
  ``[] g -> rate:...`` CTMC commands need compatibility mode; Storm's Markovian
  ``<> g -> ...`` commands do not), then ``stormpy.build_model(program,
  options=opts)`` with ``opts = stormpy.BuilderOptions()``,
  ``opts.set_build_state_valuations()``, ``opts.set_build_all_labels()``.  Storm
  state ``i`` is node ``model.state_valuations.get_int64_value(i, s)`` where
  ``s = program.modules[0].get_integer_variable("s").expression_variable``
  (``get_int64_values(s)`` gives all at once).
* DRN: ``stormpy.build_model_from_drn(path)``; Storm state ``i`` is node ``i``.
* Solver: ``env = stormpy.Environment()``;
  ``env.solver().set_linear_equation_solver_type(stormpy.environments.EquationSolverType.EIGEN)``;
  ``env.solver().force_exact = True``.  With ``force_exact`` Storm picks Eigen's
  *sparse LU* ("Selecting 'SparseLU' as the solution technique to guarantee
  exact results"), which on a double model is a plain floating-point direct
  solve.  The default environment (``stormpy.environments.default``, a "sound"
  environment, topological solver + optimistic value iteration, precision
  1e-6) is only good to about 1e-7 relative and can be worse on stiff chains.
* Steady state: ``stormpy.analysis.compute_steady_state_distribution(model,
  environment=env)`` gives the per-state distribution (for several initial
  states Storm assumes a uniform initial distribution over them).  The
  property ``LRA=? ["label"]`` (``S=? [...]`` gives the same) gives, per
  *starting* state, the long-run fraction of time in the label.
* Hitting times: ``T=? [F "label"]`` checked with
  ``stormpy.model_checking(model, prop, environment=env)``; ``result.get_value_vector()``
  holds one value per Storm state (``inf`` where the label is missed with
  positive probability).
"""

from __future__ import annotations

import os

import numpy as np
import stormpy
from stormpy import environments

__all__ = [
    "storm_environment",
    "load_storm_model",
    "storm_steady_state",
    "storm_long_run_probability",
    "storm_expected_time",
]

KINDS = ("prism", "drn")


def storm_environment() -> stormpy.Environment:
    """Environment whose linear equation solver is Eigen's sparse LU (a direct solver)."""
    env = stormpy.Environment()
    env.solver().set_linear_equation_solver_type(environments.EquationSolverType.EIGEN)
    env.solver().force_exact = True  # makes Storm select Eigen's SparseLU method
    return env


def load_storm_model(path, kind: str, *, prism_compatibility: bool = True):
    """Build the sparse Storm model of an exported file.

    :param path: file written by ``to_prism`` or ``to_drn``.
    :param kind: ``"prism"`` or ``"drn"``.
    :param prism_compatibility: parse PRISM files in PRISM compatibility mode
        (required for ``[]`` rate commands, not for ``<>`` Markovian commands).
    :returns: ``(model, node_of_state, n)``: the Storm model, the semdsl node id
        of each Storm state, and the number of semdsl nodes.
    """
    path = os.fspath(path)
    if kind == "prism":
        program = stormpy.parse_prism_program(path, prism_compatibility=prism_compatibility)
        options = stormpy.BuilderOptions()
        options.set_build_state_valuations()
        options.set_build_all_labels()
        model = stormpy.build_model(program, options=options)
        var = program.modules[0].get_integer_variable("s")
        n = var.upper_bound_expression.evaluate_as_int() + 1
        node_of_state = np.asarray(model.state_valuations.get_int64_values(var.expression_variable), dtype=np.int64)
    elif kind == "drn":
        model = stormpy.build_model_from_drn(path)
        n = model.nr_states
        node_of_state = np.arange(n, dtype=np.int64)
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if model.model_type != stormpy.models.ModelType.CTMC:
        raise ValueError(f"{path}: expected a CTMC, Storm built a {model.model_type}")
    return model, node_of_state, n


def _per_node(values, node_of_state: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    out[node_of_state] = np.asarray(values, dtype=np.float64)
    return out


def storm_steady_state(path, kind: str, **load_options) -> np.ndarray:
    """Storm's steady-state distribution, indexed by node id (``nan`` for unbuilt nodes)."""
    model, node_of_state, n = load_storm_model(path, kind, **load_options)
    result = stormpy.analysis.compute_steady_state_distribution(model, environment=storm_environment())
    return _per_node(result.get_value_vector(), node_of_state, n)


def _check(model, formula: str) -> np.ndarray:
    prop = stormpy.parse_property(formula)
    result = stormpy.model_checking(model, prop, environment=storm_environment())
    if not result.is_result_for_all_states:
        raise RuntimeError(f"Storm returned {formula} for a subset of states only")
    return np.asarray(result.get_value_vector(), dtype=np.float64)


def storm_long_run_probability(path, kind: str, label: str, **load_options) -> np.ndarray:
    """``LRA=? ["label"]`` from every node: long-run fraction of time spent in ``label``."""
    model, node_of_state, n = load_storm_model(path, kind, **load_options)
    return _per_node(_check(model, f'LRA=? ["{label}"]'), node_of_state, n)


def storm_expected_time(path, kind: str, label: str, **load_options) -> np.ndarray:
    """``T=? [F "label"]`` from every node: expected time to reach ``label`` (``inf`` if not reached surely)."""
    model, node_of_state, n = load_storm_model(path, kind, **load_options)
    return _per_node(_check(model, f'T=? [F "{label}"]'), node_of_state, n)
