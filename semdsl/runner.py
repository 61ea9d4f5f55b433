"""Predict statements -> numbers: the ``exact`` and ``theory`` methods, results, tables.

``run(model)`` evaluates every ``predict`` statement in file order and returns a
:class:`Results` whose ``to_dict()`` is the JSON of LANGUAGE.md section 4::

    {"model": ..., "seed": ..., "params": {...}, "model_hash": ..., "semdsl_version": ...,
     "predictions": [{"observables": [...], "axis": {"name": ..., "values": [...]} | null,
                      "exact": {OBS: {"value": [...], ...}}, "theory": {...}, ...}]}

Semantics (where LANGUAGE.md leaves room, decided here and in the README):

* An axis ``over t in A..B [log] [points K]`` has ``K`` points (default 50), linear or
  log-spaced; ``at t = T`` one point; ``stationary`` or no axis one point, the
  stationary value of time-dependent observables (the mixture over closed classes
  reached from ``init`` for a reducible chain).
* ``first_passage`` over a time axis is ``P(T <= t)``; over a parameter axis or with no
  axis it is the mean ``E[T]``.  When the target is missed with positive probability
  from ``init`` the mean does not exist in that realisation: it is ``null``, and the
  value reported is the average over the realisations where it exists, with
  ``finite_fraction`` beside it (so grokking times are conditional on grokking).
* Quenched disorder: ``realizations = R`` compiles realisation ``r`` from
  ``SeedSequence(seed, spawn_key=(r, ...))``; values are means over realisations, with
  ``spread`` (sample standard deviation) and ``stderr`` (spread / sqrt(R_finite)).
  Quantiles (``median``, ``quantile``) are those of the pooled distribution, the
  average of the R per-realisation laws (:mod:`semdsl.pooled`): the disorder-averaged
  law theory speaks of, not the average of R medians; their ``stderr`` is a bootstrap
  over realisations and the entry says ``"pooled": true``.
* A sweep over a parameter rebuilds the landscape only when a structural parameter
  changes: node families and realised edges are kept per structural values (and
  realisation), and only attributes and rates are evaluated again; when the parameter
  is read by the rate law alone, only the rates are.
* ``simulation`` runs ``walkers`` kinetic Monte Carlo walkers per realisation
  (:mod:`semdsl.simrun`); ``agreement`` gives z-scores against ``exact`` (and
  ``theory``) with a multiple-comparison bound.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import time as _time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from . import __version__
from . import syntax as S
from .compiler import (CompiledModel, _Compiler, assemble_generator, attribute_values,
                       compile_model, resolve_params, resolve_set)
from .errors import NumericalError, SemdslError
from .expr import numeric, params_used, to_sympy, Scope
from .model import Model, Observable, Prediction
from .pooled import PooledDistribution
from .progress import Reporter

DEFAULT_POINTS = 50


# ------------------------------------------------------------------ results
@dataclass
class PredictionResult:
    """The numbers of one ``predict`` statement."""

    observables: list[str]
    axis: dict[str, Any] | None
    methods: dict[str, dict[str, dict[str, Any]]]
    line: int
    text: str
    notes: list[str] = field(default_factory=list)
    agreement: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"observables": self.observables, "axis": self.axis, "line": self.line,
                             "statement": self.text}
        for m in ("exact", "theory", "simulation"):
            if m in self.methods:
                d[m] = self.methods[m]
        if self.agreement:
            d["agreement"] = self.agreement
        if self.notes:
            d["notes"] = self.notes
        return d


@dataclass
class Results:
    """All predictions of a model run, with the provenance that makes them reproducible."""

    model: str
    file: str
    model_hash: str
    seed: int
    params: dict[str, float]
    predictions: list[PredictionResult]
    version: str = __version__
    #: tasks computed and read from a results store (not part of the JSON: a resumed
    #: run's numbers are the same as a fresh one's)
    tasks: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "file": self.file, "model_hash": self.model_hash,
                "seed": self.seed, "params": {k: _jnum(v) for k, v in self.params.items()},
                "semdsl_version": self.version,
                "predictions": [p.to_dict() for p in self.predictions]}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(_clean(self.to_dict()), indent=indent, allow_nan=False)

    def __getitem__(self, k: int) -> PredictionResult:
        return self.predictions[k]

    def table(self) -> str:
        """A readable table per prediction."""
        out = [f"model {self.model} ({self.file})  seed {self.seed}  hash {self.model_hash}",
               "params: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in self.params.items())]
        heads = self.headlines()
        if heads:
            out += ["", "headline numbers"] + [f"  {h}" for h in heads]
        for k, p in enumerate(self.predictions, 1):
            out.append("")
            out.append(f"[{k}] line {p.line}: {p.text}")
            out += _prediction_table(p)
        return "\n".join(out) + "\n"

    def headlines(self) -> list[str]:
        """The thresholds the run found, side by side: critical points from theory
        (a percolation criterion crossed on the axis), from simulation (the
        susceptibility peak of Newman-Ziff percolation at this size) and from
        ``fit = threshold`` (``x_c`` and ``g`` of ``A (x - x_c)^(-g)``) -- one line each,
        with the prediction's line number."""
        lines = []
        for p in self.predictions:
            axis = p.axis["name"] if p.axis else None
            lines += [f"{x} (line {p.line})" for x in _law_statements(p)]
            for m in ("theory", "exact", "simulation"):
                for obs, entry in p.methods.get(m, {}).items():
                    law = entry.get("law") or {}
                    th = law.get("threshold") if isinstance(law, dict) else None
                    if isinstance(th, dict) and th.get("value") is not None:
                        lines.append(f"{th['param']}_c = {_fmt(th['value'])}   [{m}] {obs}: "
                                     f"{law.get('criterion', law.get('kind', ''))} (line {p.line})")
                    pc = entry.get("pseudo_critical")
                    if pc and axis and pc.get(axis) is not None:
                        lines.append(f"{axis}_c = {_fmt(pc[axis])}   [{m}] {obs}: {pc['method']}, "
                                     f"p = {_fmt(pc['p'])} (line {p.line})")
                    sw = entry.get("switch")
                    if sw and axis:
                        br = sw.get("refined") or sw["between"]
                        how = "bisection" if sw.get("refined") else "axis points"
                        lines.append(f"{axis}_c in ({_fmt(br[0])}, {_fmt(br[1])}] ({how})   "
                                     f"[{m}] {obs}: jumps from {_fmt(sw['from'])} to {_fmt(sw['to'])} "
                                     f"({100 * sw['fraction_of_change']:.0f}% of its change in one step; "
                                     f"line {p.line})")
                    fit = entry.get("fit")
                    if fit and fit.get("kind") == "threshold" and fit.get("x_c") is not None:
                        ci = fit.get("ci95") or {}
                        xc, gg = ci.get("x_c", [None, None]), ci.get("g", [None, None])
                        lines.append(f"{axis}_c = {_fmt(fit['x_c'])} (95% CI {_fmt(xc[0])}..{_fmt(xc[1])}), "
                                     f"g = {_fmt(fit['g'])} (95% CI {_fmt(gg[0])}..{_fmt(gg[1])})   [{m}] {obs}: "
                                     f"fit of A ({axis} - {axis}_c)^(-g) (line {p.line})")
        return lines

    def write(self, directory: str | Path) -> list[Path]:
        """``results.json`` and one CSV per prediction in ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        paths = [d / "results.json"]
        paths[0].write_text(self.to_json(indent=2))
        for k, p in enumerate(self.predictions, 1):
            name = "_".join(_slug(o) for o in p.observables)[:60]
            path = d / f"prediction_{k:02d}_{name}.csv"
            path.write_text(_prediction_csv(p))
            paths.append(path)
        return paths


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s).strip("_") or "obs"


def _jnum(v):
    v = float(v)
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


def _clean(x):
    """NaN/inf -> None, numpy -> Python, recursively (JSON has no NaN)."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (np.floating, float)):
        f = float(x)
        return f if math.isfinite(f) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _fmt(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).lower()
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(f):
        return "null"
    return f"{f:.6g}"


def _columns(p: PredictionResult) -> list[tuple[str, list]]:
    cols: list[tuple[str, list]] = []
    if p.axis is not None:
        cols.append((p.axis["name"], p.axis["values"]))
    for obs in p.observables:
        for m in ("exact", "theory", "simulation"):
            entry = p.methods.get(m, {}).get(obs)
            if not entry or entry.get("value") is None or all(v is None for v in entry["value"]):
                continue  # nothing to show: the entry's note says why
            vals = entry["value"]
            cols.append((f"{obs} [{m}]", vals))
            err = entry.get("stderr")
            if err is not None:
                cols.append(("± stderr", err))
            ff = entry.get("finite_fraction")
            if ff is not None:
                cols.append(("finite_fraction", ff))
    return cols


def _prediction_table(p: PredictionResult) -> list[str]:
    cols = _columns(p)
    lines = []
    if cols:
        n = max(len(c[1]) for c in cols)
        widths = [max(len(h), 10) for h, _ in cols]
        lines.append("  " + "  ".join(h.rjust(w) for (h, _), w in zip(cols, widths)))
        for i in range(n):
            lines.append("  " + "  ".join(_fmt(c[1][i] if i < len(c[1]) else None).rjust(w)
                                          for c, w in zip(cols, widths)))
    for m in ("exact", "theory", "simulation"):
        for obs, entry in p.methods.get(m, {}).items():
            fit = entry.get("fit")
            if fit:
                lines.append(f"  fit [{m}] {obs}: " + _describe_fit(fit))
            if entry.get("note"):
                lines.append(f"  note [{m}] {obs}: {entry['note']}")
            if entry.get("engine"):
                lines.append(f"  engine [{m}] {obs}: {entry['engine']}")
    for note in p.notes:
        lines.append(f"  note: {note}")
    return lines


def _theory_over_windows(res: "PredictionResult", axis_vals) -> None:
    """Beside every exact / simulated power-law fit, theory's exponent over the same
    window (``fit["theory_exponent"]``) and whether the fit's interval contains it --
    the comparison a scaling claim is about, like with like."""
    from .solvers.fit import fit_powerlaw
    theory = res.methods.get("theory", {})
    for method in ("exact", "simulation"):
        for name, entry in res.methods.get(method, {}).items():
            fit, th = entry.get("fit"), theory.get(name)
            if not fit or fit.get("kind") != "powerlaw" or fit.get("exponent") is None or not th:
                continue
            tv = th.get("value")
            if tv is None or all(v is None for v in tv):
                continue
            y = np.array([np.nan if v is None else v for v in tv], float)
            tf = fit_powerlaw(axis_vals, y, x_range=fit["range"], deterministic=True)
            if tf.get("exponent") is None:
                continue
            fit["theory_exponent"] = float(tf["exponent"])
            lo, hi = fit.get("ci95") or [None, None]
            if lo is not None and hi is not None:
                fit["contains_theory"] = bool(lo <= tf["exponent"] <= hi)
            law = th.get("law") or {}
            if isinstance(law, dict) and law.get("valid") and law.get("exponent") is not None:
                # the asymptotic law (exponent -1/(d_f alpha), -mu, ...) inside its validity range
                # the law holds to its stated tolerance inside the range (the local exponent
                # drifts by up to that much), so the interval is checked against that band
                e = float(law["exponent"])
                tol = abs(e) * float(law.get("tolerance", 0.0))
                fit["law_exponent"] = e
                fit["law_band"] = [e - tol, e + tol]
                if lo is not None and hi is not None:
                    fit["contains_law"] = bool(lo <= e + tol and hi >= e - tol)


def _law_statements(p: "PredictionResult") -> list[str]:
    """Which quantity follows the paper's scaling law ``F ~ t^-mu``: for each observable
    with a trap-model theory, the law theory gives it (a pure power for the typical
    walker, a log-corrected one for the ensemble mean), the measured exponent with its
    interval, and theory's exponent over the same window -- so the output says plainly
    when the claim holds for one quantity and not the other."""
    out = []
    for name, th in p.methods.get("theory", {}).items():
        law = th.get("law") or {}
        if isinstance(law, dict) and law.get("kind") == "exploration" and law.get("exponent") is not None:
            out.append(_exploration_statement(p, name, law))
            continue
        if not isinstance(law, dict) or law.get("mu") is None or law.get("quantity") not in ("mean", "median") \
                or not (law.get("exponent") or 0) < 0:     # F's decay, not the level reached
            continue
        mu = float(law["mu"])
        a = -float(law["exponent"])
        pure = law["quantity"] == "median"
        who = "typical walker (median)" if pure else "ensemble mean"
        cross = f" (mu = {_fmt(mu)} > 1: finite mean waiting time, exponent 1)" if mu > 1 else ""
        head = (f"{name}, the {who}: theory F ~ t^-{_fmt(a)}{cross}"
                + (" -- the paper's law" if pure or mu > 1 else
                   " (mu ln t + C) -- NOT the paper's pure power law (log correction)"))
        for method in ("simulation", "exact"):
            fit = p.methods.get(method, {}).get(name, {}).get("fit")
            if not fit or fit.get("exponent") is None or not fit.get("ci95") or fit["ci95"][0] is None:
                continue
            lo, hi = fit["ci95"]
            te = fit.get("theory_exponent")
            head += (f"; {method} exponent {_fmt(fit['exponent'])} ({_fmt(lo)}..{_fmt(hi)}) over "
                     f"{_fmt(fit['range'][0])}..{_fmt(fit['range'][1])}")
            if te is not None:
                head += (f", theory there {_fmt(te)}: "
                         + ("agree" if fit.get("contains_theory") else "the interval misses it"))
            break
        out.append(head)
    return out


#: observables whose sudden change along a parameter axis is reported (emergence)
SWITCH_KINDS = ("min_reachable", "prob", "connected")


def _exploration_statement(p: "PredictionResult", name: str, law: dict) -> str:
    """The paper's size or data law for a first passage over N or D, with the measured
    exponents inside theory's validity range."""
    x = law.get("axis", "x")
    lo, hi = law["valid"]
    if law.get("d_f") is not None:
        what = (f"-1/(d_f alpha) with d_f = {_fmt(law['d_f'])} (route lengths), alpha = {_fmt(law['alpha'])}")
    else:
        what = "-mu (time ~ 1/gamma; mu = 1 without barriers)"
    head = f"{name} over {x}: theory exponent {_fmt(law['exponent'])} = {what}, valid for {x} in {_fmt(lo)}..{_fmt(hi)}"
    for method in ("exact", "simulation"):
        fit = p.methods.get(method, {}).get(name, {}).get("fit")
        if not fit or fit.get("exponent") is None or not fit.get("ci95") or fit["ci95"][0] is None:
            continue
        a, b = fit["ci95"]
        head += (f"; {method} {_fmt(fit['exponent'])} ({_fmt(a)}..{_fmt(b)}) over {_fmt(fit['range'][0])}.."
                 f"{_fmt(fit['range'][1])}: " + (f"agree (within the law's {100 * law.get('tolerance', 0):.0f}%)"
                                                  if fit.get("contains_law") else "the interval misses it"))
    return head


def _switch(axis, values) -> dict | None:
    """Where a curve over a parameter jumps: the step between two axis points that
    carries at least half of the curve's whole change (a capability switching on, the
    lowest reachable F dropping).  Returns the bracketing axis points and the values
    on either side, or None for a gradual curve."""
    if values is None:
        return None
    y = np.array([np.nan if v is None else v for v in values], float)
    ok = np.isfinite(y)
    if ok.sum() < 3:
        return None
    x, y = np.asarray(axis, float)[ok], y[ok]
    span = float(y.max() - y.min())
    if span <= 0:
        return None
    d = np.abs(np.diff(y))
    k = int(np.argmax(d))
    if d[k] < 0.5 * span:
        return None
    return {"between": [float(x[k]), float(x[k + 1])], "from": float(y[k]), "to": float(y[k + 1]),
            "fraction_of_change": float(d[k] / span)}


def _describe_fit(fit: dict) -> str:
    if fit.get("kind") == "powerlaw":
        if fit.get("exponent") is None:
            return f"power law: {fit.get('warning')}"
        ci = fit.get("ci95") or [None, None]
        label = "local slopes" if str(fit.get("method", "")).startswith("local-slope") else "95% CI"
        s = f"power law exponent {_fmt(fit['exponent'])} ({label} {_fmt(ci[0])}..{_fmt(ci[1])})"
        if fit.get("range"):
            s += f" over {_fmt(fit['range'][0])}..{_fmt(fit['range'][1])}"
        if fit.get("theory_exponent") is not None:
            s += (f"; theory over this window {_fmt(fit['theory_exponent'])}"
                  + (" (inside)" if fit.get("contains_theory") else " (outside)"))
    else:
        if fit.get("x_c") is None:
            return f"threshold: {fit.get('warning')}"
        ci = fit.get("ci95") or {}
        s = (f"threshold x_c = {_fmt(fit['x_c'])} (95% CI {'..'.join(_fmt(v) for v in ci.get('x_c', [None, None]))}), "
             f"g = {_fmt(fit['g'])} (95% CI {'..'.join(_fmt(v) for v in ci.get('g', [None, None]))})")
    if fit.get("warning"):
        s += f"  [{fit['warning']}]"
    return s


def _prediction_csv(p: PredictionResult) -> str:
    cols = _columns(p)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([h for h, _ in cols])
    n = max((len(c[1]) for c in cols), default=0)
    for i in range(n):
        w.writerow(["" if (i >= len(c[1]) or c[1][i] is None) else c[1][i] for c in cols])
    return buf.getvalue()


# ------------------------------------------------------------------ evaluation
class _Runner:
    def __init__(self, model: Model, params: Mapping[str, Any], seed: int,
                 methods: Iterable[str] | None, progress: "Reporter | bool | None" = None,
                 limits: Mapping[str, Any] | None = None):
        self.model = model
        self.params = resolve_params(model, params)      # checks names and ranges once
        self.overrides = dict(params)
        self.seed = int(seed)
        self.only = set(methods) if methods else None
        self.reporter = progress if isinstance(progress, Reporter) else Reporter(enabled=bool(progress))
        self.store = None            # semdsl.store.Store: finished tasks, read instead of recomputed
        self.executor = None         # semdsl.execute.DaskExecutor, or None to run tasks here
        self.tasks_run = 0
        self.tasks_reused = 0
        self._cache: dict[tuple, CompiledModel] = {}
        self._structures: dict = {}   # families and edges per structural parameter values
        self.sources = {model.file: model.source}
        self.limits = dict(limits or {})   # max_states, max_transitions, allow_path
        self.every_method = False           # verify: every method on every prediction
        self.walkers: int | None = None     # verify --walkers
        self.max_realizations: int | None = None  # verify --realizations

    # ---- numbers from the prediction statement
    def num(self, e, params) -> float:
        names = {k: _sym(v) for k, v in params.items()}
        return numeric(to_sympy(e, Scope(names, lets=self.model.lets)))

    def axis_values(self, pred: Prediction) -> np.ndarray | None:
        a = pred.axis
        if a is None or a.kind == "stationary":
            return None
        if a.kind == "at":
            return np.array([self.num(a.value, self.params)])
        lo, hi = self.num(a.lo, self.params), self.num(a.hi, self.params)
        k = int(self.num(a.points, self.params)) if a.points is not None else DEFAULT_POINTS
        if k == 1:
            return np.array([lo])
        if a.log:
            return np.geomspace(lo, hi, k)
        vals = np.linspace(lo, hi, k)
        return vals

    # ---- compiled models, cached; rate-only parameters re-evaluate rates only
    def compiled(self, params: dict[str, float], realization: int, seed: int) -> CompiledModel:
        key = (tuple(sorted(params.items())), realization, seed)
        cm = self._cache.get(key)
        if cm is not None:
            return cm
        base_key = None
        for (pk, r, s), other in self._cache.items():
            if r != realization or s != seed:
                continue
            changed = {k for k, v in params.items() if dict(pk).get(k) != v}
            if changed and changed <= self.rate_only_params():
                base_key = (pk, r, s)
                cm = rebind_rates(other, params)
                break
        if cm is None:
            if len(self._structures) > 256:
                self._structures.clear()
            cm = compile_model(self.model, params, seed=seed, realization=realization,
                               structure_cache=self._structures, **self.limits)
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = cm
        return cm

    def rate_only_params(self) -> set[str]:
        if not hasattr(self, "_rate_only"):
            self._rate_only = rate_only_parameters(self.model)
        return self._rate_only

    # ---- one prediction
    def prediction(self, pred: Prediction) -> PredictionResult:
        m = self.model
        names = [ob.name for ob in pred.observables]
        axis_vals = self.axis_values(pred)
        a = pred.axis
        axis = None
        if a is not None and a.kind != "stationary":
            axis = {"name": a.var, "values": axis_vals.tolist(), "log": bool(a.log)}
        seed, R, opt = self.options(pred)
        asked_R = int(self.num(pred.options["realizations"], self.params)) if "realizations" in pred.options else 1
        if self.max_realizations is not None:
            asked_R = min(asked_R, self.max_realizations)
        text = _statement_text(m, pred)
        res = PredictionResult(names, axis, {}, pred.span.line if pred.span else 0, text)
        if not m.has_randomness and asked_R > 1:
            res.notes.append(f"the model has no random parts: {asked_R} realizations are identical; one was used")
        pred_index = next(i for i, p in enumerate(m.predictions) if p is pred)
        asked = ("exact", "theory", "simulation") if self.every_method else pred.methods
        methods = [x for x in asked if self.only is None or x in self.only]
        for method in methods:
            if method == "exact":
                res.methods["exact"] = self.exact(pred, axis_vals, R, seed, pred_index)
            elif method == "theory":
                res.methods["theory"] = self.theory(pred, axis_vals, seed)
            else:
                from .simrun import simulate_prediction
                res.methods["simulation"] = simulate_prediction(self, pred, axis_vals, R, seed, opt, pred_index)
        if "simulation" in res.methods and len(res.methods) > 1:
            from .simrun import agreement
            res.agreement = agreement(res.methods)
        if axis_vals is not None and len(axis_vals) > 2 and pred.axis is not None and not pred.axis.is_time:
            kinds = {ob.name: ob.kind for ob in pred.observables}
            for method, per_obs in res.methods.items():
                for name, entry in per_obs.items():
                    if kinds.get(name) in SWITCH_KINDS:
                        sw = _switch(axis_vals, entry.get("value"))
                        if sw:
                            if method == "exact":
                                self.refine_switch(pred, name, sw, R, seed)
                            entry["switch"] = sw
        fit = pred.options.get("fit")
        if fit and axis_vals is not None:
            from .solvers.fit import fit_powerlaw, fit_threshold
            for method, per_obs in res.methods.items():
                for ob, entry in per_obs.items():
                    # a law theory states over a validity range is tested inside that range
                    law = (res.methods.get("theory", {}).get(ob) or {}).get("law") or {}
                    valid = law.get("valid") if isinstance(law, dict) and fit == "powerlaw" else None
                    vals = entry.get("value")
                    if vals is None or len(vals) != len(axis_vals) or all(v is None for v in vals):
                        continue
                    y = np.array([np.nan if v is None else v for v in vals], dtype=float)
                    samples = entry.pop("_samples", None)
                    replicates = entry.pop("_replicates", None)
                    if fit == "powerlaw":
                        # exact on one realisation and theory are noiseless curves
                        det = samples is None and replicates is None and method in ("exact", "theory")
                        f = fit_powerlaw(axis_vals, y, samples=samples, replicates=replicates, deterministic=det,
                                         x_range=tuple(valid) if valid else None)
                        if valid:
                            f["range_rule"] = (f"theory's validity range {_fmt(valid[0])}..{_fmt(valid[1])}; "
                                               + str(f.get("range_rule", "")))
                        entry["fit"] = _clean(f)
                    else:
                        entry["fit"] = _clean(fit_threshold(axis_vals, y, samples=samples))
        if fit == "powerlaw" and axis_vals is not None:
            _theory_over_windows(res, axis_vals)
        for per_obs in res.methods.values():
            for entry in per_obs.values():
                entry.pop("_samples", None)
                entry.pop("_replicates", None)
        return res

    def refine_switch(self, pred: Prediction, name: str, sw: dict, R: int, seed: int, steps: int = 14) -> None:
        """Narrow a jump's bracket by bisection with the exact method (same realisations):
        a point belongs to the side whose value it is closer to.  Geometric midpoints on a
        log axis; stops at a relative width of 1e-3."""
        lo, hi = sw["between"]
        a, b = sw["from"], sw["to"]
        log = bool(pred.axis.log) and lo > 0
        for _ in range(steps):
            if hi - lo <= 1e-3 * max(abs(hi), abs(lo)):
                break
            mid = math.sqrt(lo * hi) if log else 0.5 * (lo + hi)
            try:
                v = self.exact(pred, np.array([mid]), R, seed)[name]["value"][0]
            except SemdslError:
                return
            if v is None:
                return
            if abs(v - b) < abs(v - a):
                hi = mid
            else:
                lo = mid
        sw["refined"] = [float(lo), float(hi)]

    # ---- exact
    def exact(self, pred: Prediction, axis_vals, R: int, seed: int,
              pred_index: int | None = None) -> dict[str, dict]:
        """Exact values: one task per (realisation, axis point of a parameter sweep), run
        through the executor and the results store when ``pred_index`` is given (points
        off the statement's axis, as bisection asks for, are computed here directly)."""
        a = pred.axis
        obs = pred.observables
        over_param = a is not None and a.kind in ("over", "at") and not a.is_time
        K = len(axis_vals) if axis_vals is not None else 1
        items = [(r, k) for r in range(R) for k in (range(K) if over_param else [0])]
        if pred_index is None:
            pieces = [self.exact_piece(pred, axis_vals, r, k, seed, R) for r, k in items]
        else:
            pieces = self.map_tasks("exact", pred_index, pred, items)
        vals = {ob.name: np.full((R, K), np.nan) for ob in obs}
        notes: dict[str, str] = {}
        engines: set[str] = set()
        # quantiles over realisations: of the pooled distribution (semdsl.pooled)
        pools = {ob.name: PooledDistribution(R, K) for ob in obs if R > 1 and ob.kind in ("median", "quantile")}
        levels: dict[str, float] = {}
        for (r, k), piece in zip(items, pieces):
            engines.update(piece["engines"])
            for ob in obs:
                d = piece["obs"][ob.name]
                x = np.asarray(d["value"], float)
                if over_param:
                    vals[ob.name][r, k] = x[0]
                else:
                    vals[ob.name][r, :] = x
                if d.get("note"):
                    notes[ob.name] = d["note"]
                if ob.name in pools:
                    pl = d["pool"]
                    levels[ob.name] = float(pl["q"])
                    pools[ob.name].add_reduced(r, pl["u"], pl["w"], pl["keep"], [k] if over_param else None)
        out: dict[str, dict] = {}
        for ob in obs:
            if ob.name in pools:
                out[ob.name] = _pooled_entry(pools[ob.name], levels[ob.name], vals[ob.name], R, seed)
                if engines and ob.time_dependent:
                    out[ob.name]["engine"] = "; ".join(sorted(engines))
                continue
            out[ob.name] = _aggregate(vals[ob.name], R)
            if notes.get(ob.name):
                out[ob.name]["note"] = notes[ob.name]
            if np.all(np.isnan(vals[ob.name])) and notes.get(ob.name, "").startswith("no exact"):
                out[ob.name]["value"] = [None] * K
            if engines and ob.time_dependent:
                out[ob.name]["engine"] = "; ".join(sorted(engines))
        return out

    def exact_piece(self, pred: Prediction, axis_vals, r: int, k: int, seed: int, R: int) -> dict:
        """One exact task: realisation ``r`` (at axis point ``k`` of a parameter sweep).
        Plain numbers and arrays only (the results store keeps them as JSON)."""
        a = pred.axis
        over_param = a is not None and a.kind in ("over", "at") and not a.is_time
        params = dict(self.params)
        if over_param:
            params[a.var] = float(axis_vals[k])
            times = None
        else:
            times = axis_vals if (a is not None and a.is_time and a.kind != "stationary") else None
        cm = self.compiled(params, r, seed)
        ev = _Evaluator(cm)
        per: dict[str, dict] = {}
        for ob in pred.observables:
            try:
                x, note = ev.value(ob, times)
            except NumericalError as exc:  # placed in the model: the rate statement, the predict line
                from .solve import locate
                raise locate(exc, self.model, f"{ob.name} for the prediction on line {pred.span.line}",
                             pred.span) from None
            d: dict[str, Any] = {"value": np.asarray(x, float), "note": note}
            if R > 1 and ob.kind in ("median", "quantile"):
                f, P, q = ev.distribution(ob, times)
                u, w, keep = PooledDistribution.reduce(f, P)
                d["pool"] = {"u": u, "w": w, "keep": keep, "q": float(q)}
            per[ob.name] = d
        # a sweep's engines are not reported (one per point), as before
        return {"obs": per, "engines": [] if over_param else sorted(ev.engines)}

    # ---- tasks: the store, the executor, progress
    def piece(self, method: str, pred_index: int, r: int, k: int, g: int = 0) -> dict:
        """Compute one task of prediction ``pred_index`` (what a worker runs): realisation
        ``r``, axis point ``k``, and for a simulation of many walkers the group ``g`` of
        walkers (see :func:`semdsl.simrun.walker_groups`)."""
        pred = self.model.predictions[pred_index]
        axis_vals = self.axis_values(pred)
        seed, R, opt = self.options(pred)
        if method == "exact":
            return self.exact_piece(pred, axis_vals, r, k, seed, R)
        from .simrun import simulate_piece
        return simulate_piece(self, pred, axis_vals, r, k, g, seed=seed, opt=opt, R=R)

    def options(self, pred: Prediction) -> tuple[int, int, dict]:
        """(seed, realisations, options) of a prediction, with run-wide overrides."""
        opt: dict[str, Any] = {}
        for k, v in pred.options.items():
            opt[k] = v if k == "fit" else self.num(v, self.params)
        seed = int(opt.get("seed", self.seed))
        R = int(opt.get("realizations", 1))
        if self.max_realizations is not None:
            R = min(R, self.max_realizations)
        if not self.model.has_randomness and R > 1:
            R = 1
        if self.walkers is not None:
            opt["walkers"] = self.walkers
        return seed, R, opt

    def _extras(self) -> dict:
        return {"walkers": self.walkers, "max_realizations": self.max_realizations,
                "every_method": self.every_method}

    def task_key(self, method: str, pred: Prediction, r: int, k: int, g: int = 0):
        from .store import TaskKey, canonical_params
        import hashlib
        axis = self.axis_values(pred)
        seed, R, opt = self.options(pred)
        ident = json.dumps([_statement_text(self.model, pred), None if axis is None else [repr(float(x)) for x in axis],
                            sorted((kk, repr(vv)) for kk, vv in opt.items()), R, self._extras()], sort_keys=True)
        digest = hashlib.sha1(ident.encode()).hexdigest()[:12]
        line = pred.span.line if pred.span else 0
        return TaskKey(self.model.hash, self.model.name, canonical_params(self.params), self.seed, method,
                       code_version(), f"line={line} stmt={digest} r={r} k={k}" + (f" g={g}" if g else ""))

    def map_tasks(self, method: str, pred_index: int, pred: Prediction, items: list[tuple]) -> list:
        """Results of the tasks ``items`` (realisation, point) in order: read from the
        store when finished before, else computed (here or on the executor's workers)
        and stored as each finishes."""
        n = len(items)
        results: list = [None] * n
        keys = None
        if self.store is not None:
            keys = [self.task_key(method, pred, *it) for it in items]
            got = self.store.get_many(keys)
            for i, key in enumerate(keys):
                if key in got:
                    results[i] = got[key]
        todo = [i for i in range(n) if results[i] is None]
        line = pred.span.line if pred.span else 0
        reused = n - len(todo)
        desc = f"line {line}: {method}" + (f" ({reused} of {n} tasks from the store)" if reused else "")
        with self.reporter.bar(desc, len(todo)) as bar:
            if self.executor is None or len(todo) < 2:
                for i in todo:
                    t0 = _time.perf_counter()
                    results[i] = self.piece(method, pred_index, *items[i])
                    if keys is not None:
                        self.store.put(keys[i], results[i], seconds=_time.perf_counter() - t0)
                    bar.advance()
            else:
                specs = [self.task_spec(method, pred_index, *items[i]) for i in todo]
                for j, res in self.executor.map(specs):
                    i = todo[j]
                    results[i] = res
                    if keys is not None:
                        self.store.put(keys[i], res)
                    bar.advance()
        self.tasks_run += len(todo)
        self.tasks_reused += reused
        return results

    def task_spec(self, method: str, pred_index: int, r: int, k: int, g: int = 0) -> dict:
        from .store import canonical_params
        import hashlib
        params_json = canonical_params(self.overrides)
        limits = {kk: (list(v) if isinstance(v, tuple) else v) for kk, v in self.limits.items()}
        extras = self._extras()
        key_hash = hashlib.sha1(f"{self.model.hash}{params_json}{self.seed}{method}{pred_index}{r}/{k}/{g}".encode()).hexdigest()[:16]
        return {"source": self.model.source, "file": self.model.file, "model_hash": self.model.hash,
                "params": dict(self.overrides), "params_json": params_json, "seed": self.seed,
                "limits": limits, "limits_json": json.dumps(limits, sort_keys=True, default=str),
                "extras": extras, "extras_json": json.dumps(extras, sort_keys=True),
                "method": method, "pred_index": pred_index, "r": r, "k": k, "g": g, "key_hash": key_hash}

    # ---- theory
    def theory(self, pred: Prediction, axis_vals, seed: int) -> dict[str, dict]:
        from .solvers.theory import predict as theory_predict
        a = pred.axis
        cm = self.compiled(dict(self.params), 0, seed)
        out = {}
        for ob in pred.observables:
            name = a.var if (a is not None and a.kind != "stationary") else None
            try:
                tr = theory_predict(self.model, cm, ob, name, axis_vals)
            except SemdslError:
                raise
            K = len(axis_vals) if axis_vals is not None else 1
            value = _clean(list(tr.value)) if tr.value is not None else [None] * K
            entry: dict[str, Any] = {"value": value, "note": tr.note}
            if tr.law:
                entry["law"] = _clean(tr.law)
            out[ob.name] = entry
        return out


#: bootstrap replicates over realisations of a pooled quantile
POOL_REPLICATES = 400


def _pooled_entry(pool: "PooledDistribution", q: float, per_real: np.ndarray, R: int, seed: int,
                  walkers: int | None = None) -> dict[str, Any]:
    """The entry of a quantile over R realisations: the quantile of the pooled
    distribution, its bootstrap error over realisations (and replicates for fits).
    Falls back to the average of per-realisation quantiles, with a note, when the
    pooled array would be too large."""
    from .pooled import MAX_POOL
    if not pool.fits():
        entry = _aggregate(per_real, R)
        entry["note"] = (f"the average of {R} per-realisation quantiles: the pooled distribution has too many "
                         f"distinct values (more than {MAX_POOL:.0e} entries over realisations and points)")
        return entry
    val = pool.quantile(q)
    reps = pool.replicates(q, POOL_REPLICATES, seed)
    with np.errstate(invalid="ignore"):
        se = np.nanstd(reps, axis=0, ddof=1) if np.isfinite(reps).any() else np.full(val.shape, np.nan)
    entry: dict[str, Any] = {"value": [None if not np.isfinite(x) else float(x) for x in val],
                             "stderr": [None if not np.isfinite(x) else float(x) for x in se],
                             "realizations": R, "pooled": True, "_replicates": reps}
    n_at = pool.realizations_at()
    if np.any(n_at < R):
        entry["finite_fraction"] = (n_at / R).tolist()
    if walkers is not None:
        entry["_walker_se"] = pool.walker_se(q, walkers)
    entry["note"] = (f"quantile of the pooled distribution over {R} realisations (each weighs 1/{R}); "
                             "stderr: bootstrap over realisations")
    return entry


def _aggregate(v: np.ndarray, R: int) -> dict[str, Any]:
    finite = np.isfinite(v)
    nfin = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(nfin > 0, np.nansum(np.where(finite, v, 0.0), axis=0) / np.maximum(nfin, 1), np.nan)
    entry: dict[str, Any] = {"value": [None if not np.isfinite(x) else float(x) for x in mean]}
    if np.any(~finite):
        entry["finite_fraction"] = (nfin / R).tolist()
    if R > 1:
        dev = np.where(finite, v - mean, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = np.sqrt((dev ** 2).sum(axis=0) / np.maximum(nfin - 1, 1))
            spread = np.where(nfin > 1, spread, np.nan)
            stderr = spread / np.sqrt(np.maximum(nfin, 1))
        entry["spread"] = [None if not np.isfinite(x) else float(x) for x in spread]
        entry["stderr"] = [None if not np.isfinite(x) else float(x) for x in stderr]
        entry["realizations"] = R
        entry["_samples"] = v
    return entry


class _Evaluator:
    """Exact observables of one compiled realisation (transient and stationary cached)."""

    def __init__(self, cm: CompiledModel):
        self.cm = cm
        self._transient: dict[tuple, Any] = {}
        self._stationary = None
        self.engines: set[str] = set()

    def transient(self, times: np.ndarray):
        from .solvers import exact
        key = tuple(np.round(times, 15))
        tr = self._transient.get(key)
        if tr is None:
            tr = exact.transient(self.cm.generator, self.cm.init, times)
            self._transient[key] = tr
            self.engines.add(f"P(t) by {tr.method}, error bound {tr.error_bound:.2g} (total variation)")
        return tr

    def stationary(self):
        from .solvers import exact
        if self._stationary is None:
            self._stationary = exact.stationary(self.cm.generator, self.cm.init, names=self.cm.nodes.name)
        return self._stationary

    def distribution(self, ob: Observable, times: np.ndarray | None):
        """(node values, P rows, level) of a quantile observable: P(t) at ``times`` or the
        stationary law."""
        P = self.transient(times).P if times is not None else self.stationary().pi[None, :]
        return attribute_values(self.cm, ob.expr), P, quantile_level(self.cm, ob)

    def value(self, ob: Observable, times: np.ndarray | None) -> tuple[np.ndarray, str | None]:
        """Values at ``times`` (or the stationary / no-axis value when times is None)."""
        from .solvers import exact
        cm = self.cm
        k = ob.kind
        n_out = 1 if times is None else len(times)
        if k in ("mean", "median", "quantile", "prob"):
            if times is None:
                st = self.stationary()
                P = st.pi[None, :]
                note = st.note if (getattr(st, "reducible", False) or getattr(st, "caveat", "")) else None
            else:
                tr = self.transient(times)
                P = tr.P
                note = None
            if k == "prob":
                ids = resolve_set(cm, ob.sets[0])
                return exact.prob(P, ids), note
            values = attribute_values(cm, ob.expr)
            if k == "mean":
                return exact.expect(P, values), note
            return exact.quantile(P, values, quantile_level(cm, ob)), note
        if k == "msd":
            coords = [cm.nodes.attrs[c] for c in ob.coords]
            if times is None:
                st = self.stationary()
                x0 = [float(cm.init @ c) for c in coords]
                # E over start ~ init and end ~ pi: sum of E|x|^2 - 2 x.x0-ish, exact for independent ends
                val = sum(float(st.pi @ c**2) - 2 * float(st.pi @ c) * float(cm.init @ c) + float(cm.init @ c**2)
                          for c in coords)
                return np.array([val]), "stationary msd: start ~ init and end ~ stationary law, independent"
            return np.asarray(exact.msd(cm.generator, cm.init, coords, times), float), None
        if k == "first_passage":
            ids = resolve_set(cm, ob.sets[0])
            fp = exact.first_passage(cm.generator, cm.init, ids, times, names=cm.nodes.name)
            missed = getattr(fp, "missed", "") or getattr(fp, "caveat", "") or None
            if times is not None:
                return np.asarray(fp.cdf, float), (getattr(fp, "missed", "") or None)
            if fp.mean is None:
                return np.array([np.nan]), missed
            return np.array([fp.mean]), (missed if not np.isfinite(fp.mean) else None)
        if k == "largest_cluster":
            return np.array([exact.largest_cluster_fraction(cm.edge_src, cm.edge_dst, cm.n)]), None
        if k == "connected":
            a = resolve_set(cm, ob.sets[0])
            b = resolve_set(cm, ob.sets[1])
            return np.array([float(exact.connected_sets(cm.edge_src, cm.edge_dst, cm.n, a, b))]), None
        if k == "min_reachable":
            values = attribute_values(cm, ob.expr)
            return np.array([exact.min_reachable(cm.generator, cm.init, values)]), None
        # visited(): the expected number of distinct nodes has no linear-algebra formula here
        return np.full(n_out, np.nan), ("no exact method for visited() (the expected number of "
                                        "distinct nodes visited); use theory or simulation")


_CODE_VERSION: str | None = None


def code_version() -> str:
    """semdsl's version with a digest of its source files: a store never serves results
    computed by different code, even between releases."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        import hashlib
        h = hashlib.sha1()
        root = Path(__file__).resolve().parent
        for f in sorted(root.rglob("*.py")) + sorted(root.rglob("*.lark")):
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
        _CODE_VERSION = f"{__version__}+{h.hexdigest()[:10]}"
    return _CODE_VERSION


def quantile_level(cm: CompiledModel, ob: Observable) -> float:
    """The level q of a ``median`` (0.5) or ``quantile(q, ...)`` observable."""
    if ob.kind == "median":
        return 0.5
    return float(numeric(to_sympy(ob.q, Scope({k: _sym(v) for k, v in cm.params.items()}, lets=cm.model.lets))))


def _sym(v: float):
    import sympy as sp
    v = float(v)
    return sp.Integer(int(v)) if v.is_integer() and abs(v) < 2**62 else sp.Float(v, 17)


def _statement_text(m: Model, pred: Prediction) -> str:
    if pred.span and m.source:
        lines = m.source.splitlines()
        if 0 < pred.span.line <= len(lines):
            return lines[pred.span.line - 1].split("#")[0].strip()
    return "predict " + ", ".join(o.name for o in pred.observables)


def rate_only_parameters(model: Model) -> set[str]:
    """Parameters read only by the rate law (its arguments or ``rate = EXPR``).

    Sweeping one of them keeps the compiled graph and random attributes and re-evaluates
    only the rates.
    """
    def params_in(e) -> set[str]:
        return params_used(e, model.params, model.lets)

    in_law: set[str] = set()
    law = model.rate
    for _, v in law.args:
        in_law |= params_in(v)
    if law.expr is not None:
        in_law |= params_in(law.expr)
    elsewhere: set[str] = set()
    syntax = model.syntax.statements if model.syntax else ()
    for st in syntax:
        if isinstance(st, (S.RateLawStmt, S.RateExprStmt, S.PredictStmt, S.ModelStmt, S.LetStmt)):
            continue
        if isinstance(st, S.ParamStmt):
            # another parameter's default built from this one moves with it
            for p in params_in(st.default):
                elsewhere.add(p)
            continue
        for n in walk_statement(st):
            if isinstance(n, S.Name):
                elsewhere |= params_in(n)
    return {p for p in in_law if p not in elsewhere and not model.params[p].structural}


def walk_statement(st):
    """Every expression node inside a statement."""
    for f in dataclasses.fields(st):
        yield from _walk_any(getattr(st, f.name))


def _walk_any(x):
    if isinstance(x, (list, tuple)):
        for y in x:
            yield from _walk_any(y)
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        if isinstance(x, (S.Name,)):
            yield x
            return
        yield x
        for f in dataclasses.fields(x):
            if f.name == "span":
                continue
            yield from _walk_any(getattr(x, f.name))


def rebind_rates(cm: CompiledModel, params: Mapping[str, float]) -> CompiledModel:
    """``cm`` with the rates (and generator) re-evaluated for new rate-law parameters."""
    c = _Compiler(cm.model, dict(params), cm.seed, cm.realization, None, None, ())
    c.check_law_arguments()
    rates, sym = c.rates(cm.nodes, cm.src, cm.dst, cm.transition_edge, cm.edge_attrs, cm.edge_stmt)
    Q = assemble_generator(cm.src, cm.dst, rates, cm.n)
    return dataclasses.replace(cm, params=dict(params), rates=rates, generator=Q, symbolic_rates=sym)


def run(model: Model | str | Path, params: Mapping[str, Any] | None = None, *, seed: int | None = None,
        methods: Iterable[str] | None = None, progress: "Reporter | bool | None" = None,
        max_states: int | None = None, max_transitions: int | None = None,
        allow_path: Iterable[str] = (), every_method: bool = False, walkers: int | None = None,
        max_realizations: int | None = None, store: "str | Path | Any | None" = None,
        workers: int | None = None, scheduler: str | None = None, **overrides: Any) -> Results:
    """Evaluate every ``predict`` statement of a model.

    Parameters
    ----------
    model : Model or path
        ``semdsl.run("models/grokking.sem", D=2500)`` loads the file.
    params, **overrides : parameter values (checked against their ranges).
    seed : int
        The model seed (default 1); every realisation's seed is spawned from it.
    methods : iterable of str, optional
        Restrict to these methods (``{"exact"}``).
    max_states, max_transitions, allow_path :
        As for :func:`semdsl.compiler.compile_model`, applied to every compile.
    store : path or semdsl.store.Store, optional
        A results store: finished tasks are read from it instead of recomputed, and
        every task computed is written to it as it finishes (resume after a kill).
    workers : int, optional
        Run the tasks of each sweep on a local Dask cluster of this many processes
        (default: in this process).
    scheduler : str, optional
        Address of an existing ``dask.distributed`` scheduler to send the tasks to.
        The numbers are the same wherever and however many tasks run at once.
    progress : bool or semdsl.progress.Reporter
        Progress bars on standard error (tasks done, time left).

    Returns
    -------
    Results
        ``.to_json()`` gives LANGUAGE.md section 4's JSON; ``.table()`` a readable table.
    """
    if not isinstance(model, Model):
        from . import load
        model = load(model)
    merged = {**model.overrides, **dict(params or {}), **overrides}
    seed = 1 if seed is None else int(seed)
    runner = _Runner(model, merged, seed, methods, progress,
                     {"max_states": max_states, "max_transitions": max_transitions,
                      "allow_path": tuple(allow_path)})
    runner.every_method = every_method
    runner.walkers = walkers
    runner.max_realizations = max_realizations
    from .execute import make_executor
    own_store = None
    if store is not None:
        from .store import Store
        runner.store = store if isinstance(store, Store) else Store(store)
        own_store = None if isinstance(store, Store) else runner.store
    try:
        runner.executor = make_executor(workers, scheduler)
        try:
            preds = [runner.prediction(p) for p in model.predictions]
        finally:
            if runner.executor is not None:
                runner.executor.close()
    finally:
        if own_store is not None:
            own_store.close()
    return Results(model.name, model.file, model.hash, seed, runner.params, preds,
                   tasks={"computed": runner.tasks_run, "from_store": runner.tasks_reused})
