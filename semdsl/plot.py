"""Figures of semdsl results: ``semdsl run FILE --plot`` and ``semdsl plot RESULTS.json``.

The input is always the JSON a command prints (``semdsl run --json``, LANGUAGE.md
section 4, or ``semdsl percolate --json``), so a figure can be redrawn later from a
saved results file without running anything again.

One figure per ``predict`` statement, with one panel per observable (sharing the
x axis), chosen by the prediction's axis:

* **over time** (``over t in ...``): exact and theory as lines, simulation as points
  with error bars (standard errors); a log time axis when the axis is log-spaced;
* **log-log scaling** (any ``fit = powerlaw``, over time or over a parameter): both
  axes logarithmic, the fitted law ``prefactor * x**exponent`` dashed over its fit range
  with the exponent and its 95% interval in the legend, and theory's own curve (or its
  stated law ``prefactor * x**exponent`` when it gives no values);
* **sweep over a parameter**: the same curves against the parameter, with threshold
  markers as vertical lines labelled like ``D_c = 995 (theory)``: a theory threshold
  (``law.threshold``), the susceptibility peak of simulated percolation
  (``pseudo_critical``), the ``x_c`` of ``fit = threshold`` (with the fitted curve
  ``A (x - x_c)^-g``), and a jump of the curve (``switch``: the bracket is shaded);
* **one point** (no axis, ``stationary``, ``at t = T``): a bar per method, simulation
  with its error bar.

:func:`percolation_figure` draws ``semdsl percolate --json``: curves per size, the
mean finite-cluster size with its pseudo-critical peak per size, the crossing
threshold with its interval shaded, and theory's threshold.

matplotlib is an optional dependency (``pip install "semdsl[plot]"``); it is imported
only when a figure is drawn, and figures are built as :class:`matplotlib.figure.Figure`
objects (no pyplot, no global state, no display needed).
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from .errors import Diagnostic, SemdslError, Span

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Output formats by file suffix.
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
METHODS = ("exact", "theory", "simulation")
#: One colour per method, the same in every figure.
COLORS = {"exact": "C0", "theory": "C3", "simulation": "C1"}
DPI = 150

#: What an observable's value is, by kind (over time / elsewhere).
_QUANTITY = {
    "mean": "mean", "median": "median", "quantile": "quantile", "prob": "probability",
    "msd": "mean squared displacement", "visited": "distinct nodes visited",
    "connected": "connection probability", "largest_cluster": "largest-cluster fraction",
    "min_reachable": "lowest reachable F",
}


def _error(where: str, message: str, hint: str | None = None) -> SemdslError:
    return SemdslError([Diagnostic(Span(where, 0, 0, 0, 0), message, hint)])


def require_matplotlib(where: str = "--plot") -> str:
    """Check that matplotlib can be imported and return its version; a user error
    (exit status 1, with a hint) if it cannot.

    ``semdsl run --plot`` calls this before computing anything, so a missing optional
    dependency is reported at once rather than after a long run.
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise _error(where, f"plots need matplotlib, which is not installed ({exc})",
                     'pip install "semdsl[plot]" (or pip install matplotlib)') from None
    return str(matplotlib.__version__)


def _new_figure(rows: int, cols: int = 1, *, width: float = 7.0, row_height: float = 2.9,
                sharex: bool = True) -> tuple["Figure", list["Axes"]]:
    require_matplotlib()
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, 1.0 + row_height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, sharex=sharex, squeeze=False)
    return fig, list(axes.ravel())


# ---------------------------------------------------------------- small helpers

def _arr(values: Sequence[Any] | None) -> np.ndarray:
    """A JSON list (``null`` for a missing value) as a float array with NaN."""
    if values is None:
        return np.array([], dtype=float)
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _num(v: float | None) -> str:
    return "?" if v is None or not math.isfinite(float(v)) else f"{float(v):.4g}"


def slug(text: str) -> str:
    """A file-name-safe version of ``text`` (as the runner names its CSV files)."""
    return "".join(c if c.isalnum() else "_" for c in text).strip("_") or "obs"


def _prediction_slug(k: int, pred: Mapping[str, Any]) -> str:
    names = "_".join(slug(o) for o in pred.get("observables") or [])[:60]
    return f"{k:02d}_{names or 'prediction'}"


def _title(pred: Mapping[str, Any], width: int = 90, extra: str = "") -> str:
    """``line 93: predict t_grok over D in ...``: the statement shortened to two lines of
    ``width`` characters at most (one line when it fits)."""
    text = " ".join(str(pred.get("statement") or pred.get("text") or "").split())
    head = f"line {pred.get('line', '?')}: {text}{extra}"
    return textwrap.fill(textwrap.shorten(head, 2 * width - 10, placeholder=" ..."), width)


def observable_kinds(results: Mapping[str, Any]) -> dict[str, str]:
    """The kind of each observable (``prob``, ``first_passage``, ...), for axis labels.

    The results JSON names observables but not their kinds; they are read from the
    model file the results name, when it still exists and its hash matches the one
    recorded.  An inline observable (``median(F)``) is recognised by its form.
    Best effort: an empty answer only makes the labels plainer.
    """
    kinds: dict[str, str] = {}
    names = {o for p in results.get("predictions") or [] for o in p.get("observables") or []}
    names |= {k for c in results.get("curves") or [] for k, v in c.items()
              if isinstance(v, dict) and "value" in v}
    for name in names:
        m = re.match(r"\s*([a-z_]+)\s*\(", name)
        if m and (m.group(1) in _QUANTITY or m.group(1) == "first_passage"):
            kinds[name] = m.group(1)
    path = results.get("file")
    if path and Path(path).is_file():
        try:
            from . import load
            model = load(path)
        except (OSError, SemdslError):
            return kinds
        if results.get("model_hash") in (None, model.hash):
            kinds.update({name: ob.kind for name, ob in model.observables.items()})
    return kinds


def _ylabel(name: str, kind: str | None, over_time: bool) -> str:
    if kind == "first_passage":
        quantity = "P(first passage <= t)" if over_time else "mean first-passage time"
    else:
        quantity = _QUANTITY.get(kind or "")
    # an inline observable (median(F)) names its quantity already
    return f"{name} ({quantity})" if quantity and not name.startswith(f"{kind}(") else name


def _xlabel(axis_name: str) -> str:
    return "t (time)" if axis_name == "t" else axis_name


# ---------------------------------------------------------------- run results

def figures(results: Mapping[str, Any]) -> list[tuple[str, "Figure"]]:
    """One figure per prediction of a run's results.

    Parameters
    ----------
    results : dict
        The JSON object of ``semdsl run FILE --json`` (``Results.to_dict()`` cleaned of
        NaN, i.e. ``json.loads(results.to_json())``).

    Returns
    -------
    list of (str, Figure)
        ``("01_pB_energy", fig)`` per prediction in file order: the two-digit number
        of the prediction and its observables, as in the CSV names of ``run -o DIR``.
    """
    kinds = observable_kinds(results)
    return [(_prediction_slug(k, pred), prediction_figure(pred, kinds))
            for k, pred in enumerate(results.get("predictions") or [], 1)]


def prediction_figure(pred: Mapping[str, Any], kinds: Mapping[str, str] | None = None) -> "Figure":
    """The figure of one prediction (one panel per observable); see the module docstring."""
    kinds = kinds or {}
    axis = pred.get("axis")
    x = _arr(axis.get("values")) if axis else np.array([])
    observables = list(pred.get("observables") or [])
    if axis is None or x.size < 2:
        return _point_figure(pred, kinds)
    name = axis["name"]
    over_time = name == "t"
    fig, axes = _new_figure(len(observables))
    for ax, obs in zip(axes, observables):
        _draw_curves(ax, pred, obs, x, name, bool(axis.get("log")))
        ax.set_ylabel(_ylabel(obs, kinds.get(obs), over_time))
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize="x-small", loc="best")
    axes[-1].set_xlabel(_xlabel(name))
    fig.suptitle(_title(pred), fontsize="medium")
    return fig


def _entries(pred: Mapping[str, Any], obs: str) -> dict[str, dict[str, Any]]:
    return {m: pred[m][obs] for m in METHODS
            if isinstance(pred.get(m), dict) and isinstance(pred[m].get(obs), dict)}


def _draw_curves(ax: "Axes", pred: Mapping[str, Any], obs: str, x: np.ndarray,
                 axis_name: str, log_x: bool) -> None:
    entries = _entries(pred, obs)
    n = x.size
    drawn: dict[str, np.ndarray] = {}
    if "exact" in entries:
        e = entries["exact"]
        y = _arr(e.get("value"))
        if y.size == n and np.isfinite(y).any():
            ax.plot(x, y, color=COLORS["exact"], lw=1.6, label="exact")
            se = _arr(e.get("stderr"))
            if se.size == n and np.nan_to_num(se).any():
                ax.fill_between(x, y - se, y + se, color=COLORS["exact"], alpha=0.2, lw=0,
                                label="exact ± stderr (realisations)")
            drawn["exact"] = y
    if "theory" in entries:
        e = entries["theory"]
        y = _arr(e.get("value"))
        law = e.get("law") if isinstance(e.get("law"), dict) else {}
        label = "theory" + (f" (exponent {_num(law['exponent'])})" if law.get("exponent") is not None else "")
        if y.size == n and np.isfinite(y).any():
            ax.plot(x, y, color=COLORS["theory"], ls=":", lw=2.0, label=label)
            drawn["theory"] = y
        elif law.get("prefactor") is not None and law.get("exponent") is not None and (x > 0).all():
            # no values, but a stated law: draw it over the axis
            xx = np.geomspace(x.min(), x.max(), 100)
            y = law["prefactor"] * xx ** law["exponent"]
            ax.plot(xx, y, color=COLORS["theory"], ls=":", lw=2.0,
                    label=f"theory: {_num(law['prefactor'])} {axis_name}^{_num(law['exponent'])}")
            drawn["theory"] = y
    if "simulation" in entries:
        e = entries["simulation"]
        y, se = _arr(e.get("value")), _arr(e.get("stderr"))
        if y.size == n and np.isfinite(y).any():
            ax.errorbar(x, y, yerr=se if se.size == n else None, fmt="o", ms=3.5, color=COLORS["simulation"],
                        ecolor=COLORS["simulation"], elinewidth=0.9, capsize=2, label="simulation ± stderr")
            drawn["simulation"] = y

    powerlaw = threshold = False
    for method, e in entries.items():
        fit = e.get("fit") if isinstance(e.get("fit"), dict) else {}
        if fit.get("kind") == "powerlaw":
            powerlaw = True
            # theory's own curve is drawn already: its fit only when nothing else has one
            if method != "theory" or not ({"exact", "simulation"} & entries.keys()):
                _draw_powerlaw_fit(ax, method, fit, axis_name)
        elif fit.get("kind") == "threshold":
            threshold = True
            _draw_threshold_fit(ax, method, fit, x, axis_name, log_x)
    if log_x or powerlaw:
        ax.set_xscale("log")
    # a power law is straight on log-log axes; a divergence A (x - x_c)^-g spans decades
    if (powerlaw or threshold) and any((v[np.isfinite(v)] > 0).any() for v in drawn.values()):
        ax.set_yscale("log")
    if axis_name != "t":
        _draw_markers(ax, entries, axis_name, log_x or powerlaw)


def _draw_powerlaw_fit(ax: "Axes", method: str, fit: Mapping[str, Any], axis_name: str) -> None:
    rng, a, e = fit.get("range"), fit.get("prefactor"), fit.get("exponent")
    if not rng or a is None or e is None or rng[0] is None or rng[1] is None or min(rng) <= 0:
        return
    xx = np.geomspace(rng[0], rng[1], 60)
    lo, hi = fit.get("ci95") or [None, None]
    ax.plot(xx, a * xx ** e, ls="--", lw=1.3, color=COLORS[method],
            label=f"fit ({method}): {_num(a)} {axis_name}^{_num(e)}, 95% CI {_num(lo)}..{_num(hi)}")


def _draw_threshold_fit(ax: "Axes", method: str, fit: Mapping[str, Any], x: np.ndarray,
                        axis_name: str, log_x: bool) -> None:
    """``A (x - x_c)^-g`` over the axis points beyond ``x_c``, and ``x_c`` as a marker."""
    xc, g, a = fit.get("x_c"), fit.get("g"), fit.get("A")
    if xc is None:
        return
    if g is not None and a is not None and x.max() > xc:
        lo = max(x.min(), xc + 1e-3 * (x.max() - xc))
        xx = np.geomspace(lo, x.max(), 100) if log_x and lo > 0 else np.linspace(lo, x.max(), 100)
        ax.plot(xx, a * (xx - xc) ** (-g), ls="--", lw=1.3, color=COLORS[method],
                label=f"fit ({method}): A ({axis_name} - {axis_name}_c)^-g, g = {_num(g)}")
    ci = (fit.get("ci95") or {}).get("x_c") or [None, None]
    _vline(ax, xc, f"{axis_name}_c = {_num(xc)} ({method} fit, 95% CI {_num(ci[0])}..{_num(ci[1])})",
           COLORS[method], "--", log_x)


def _vline(ax: "Axes", x: float | None, label: str, color: str, ls: str, log_x: bool) -> None:
    """A threshold marker; one that a log axis cannot show (x <= 0, as a fitted x_c may
    be) is still named in the legend, with a line of no points."""
    if x is None or not math.isfinite(x):
        return
    if log_x and x <= 0:
        ax.plot([], [], color=color, ls=ls, lw=1.2, label=f"{label}, off the log axis")
        return
    ax.axvline(x, color=color, ls=ls, lw=1.2, label=label)


def _draw_markers(ax: "Axes", entries: Mapping[str, Mapping[str, Any]], axis_name: str, log_x: bool) -> None:
    """Theory thresholds, pseudo-critical points and jumps of the curve, as vertical lines."""
    for method, e in entries.items():
        law = e.get("law") if isinstance(e.get("law"), dict) else {}
        th = law.get("threshold")
        if isinstance(th, dict) and th.get("param") == axis_name and th.get("value") is not None:
            _vline(ax, th["value"], f"{axis_name}_c = {_num(th['value'])} ({method})",
                   COLORS[method], "-.", log_x)
        pc = e.get("pseudo_critical")
        if isinstance(pc, dict) and pc.get(axis_name) is not None:
            _vline(ax, pc[axis_name], f"{axis_name}_c = {_num(pc[axis_name])} ({method}, susceptibility peak)",
                   COLORS[method], (0, (1, 1.5)), log_x)
        sw = e.get("switch")
        if isinstance(sw, dict):
            bracket = sw.get("refined") or sw.get("between")
            if bracket and None not in bracket:
                how = "bisection" if sw.get("refined") else "axis points"
                lo, hi = bracket
                # a refined bracket is too narrow to see as a band: draw its middle too
                ax.axvspan(lo, hi, color=COLORS[method], alpha=0.2,
                           label=f"{axis_name}_c in ({_num(lo)}, {_num(hi)}] ({method} jump, {how})")
                mid = math.sqrt(lo * hi) if log_x and lo > 0 else 0.5 * (lo + hi)
                ax.axvline(mid, color=COLORS[method], ls="-", lw=0.8, alpha=0.6)


def _point_figure(pred: Mapping[str, Any], kinds: Mapping[str, str]) -> "Figure":
    """A bar per method for each observable of a prediction without an axis."""
    observables = list(pred.get("observables") or [])
    axis = pred.get("axis")
    fig, axes = _new_figure(1, len(observables), width=max(4.0, 3.2 * len(observables)), sharex=False)
    for ax, obs in zip(axes, observables):
        entries = _entries(pred, obs)
        methods = [m for m in METHODS if m in entries and np.isfinite(_arr(entries[m].get("value"))[:1]).any()]
        values = [float(_arr(entries[m]["value"])[0]) for m in methods]
        errors = [float(np.nan_to_num(_arr(entries[m].get("stderr"))[:1]).sum()) for m in methods]
        bars = ax.bar(methods, values, yerr=errors, capsize=4, color=[COLORS[m] for m in methods],
                      alpha=0.85)
        ax.bar_label(bars, labels=[_num(v) for v in values], fontsize="small", padding=2)
        ax.set_xlabel("method")
        ax.set_ylabel(_ylabel(obs, kinds.get(obs), over_time=False))
        ax.margins(y=0.15)
    at = f" (at {axis['name']} = {_num(_arr(axis.get('values'))[0])})" if axis and axis.get("values") else ""
    fig.suptitle(_title(pred, width=35 + 30 * len(observables), extra=at), fontsize="medium")
    return fig


# ---------------------------------------------------------------- percolation

def percolation_figure(res: Mapping[str, Any]) -> "Figure":
    """The figure of ``semdsl percolate FILE --json`` (:func:`semdsl.percolation.percolate`).

    One panel per graph observable (largest-cluster fraction, connection
    probabilities) and one for the mean finite-cluster size ``chi``, each with one
    curve per size (standard errors shaded).  The pseudo-critical point of each size
    (the peak of ``chi``) is marked on the ``chi`` panel; the threshold from the
    crossing of the curves is a black dashed line with its interval shaded, and
    theory's threshold a red dash-dotted line, on every panel.
    """
    require_matplotlib()
    from matplotlib import colormaps
    axis_name = res["axis"]["name"]
    x = _arr(res["axis"]["values"])
    blocks = list(res.get("curves") or [])
    size_name = (res.get("sizes") or {}).get("name")
    kinds = observable_kinds(res)
    names = [k for k, v in (blocks[0].items() if blocks else ()) if isinstance(v, dict) and "value" in v
             and k != "chi"] + ["chi"]
    fig, axes = _new_figure(len(names), row_height=2.6)
    cmap = colormaps["viridis"]
    colors = [cmap(0.85 * i / max(len(blocks) - 1, 1)) for i in range(len(blocks))]
    for ax, name in zip(axes, names):
        for block, color in zip(blocks, colors):
            curve = block.get(name) or {}
            y, se = _arr(curve.get("value")), np.nan_to_num(_arr(curve.get("stderr")))
            if y.size != x.size:
                continue
            size = (f"{size_name} = {_num(block['size'])}, " if size_name and block.get("size") is not None
                    else "")
            ax.plot(x, y, color=color, lw=1.5, label=f"{size}{block.get('nodes', 0):,} nodes")
            if se.size == y.size:
                ax.fill_between(x, y - se, y + se, color=color, alpha=0.25, lw=0)
            pc = block.get("pseudo_critical") or {}
            if name == "chi" and pc.get(axis_name) is not None:
                ax.plot([pc[axis_name]], [pc.get("chi_max", np.nanmax(y))], marker="v", ms=8, ls="none",
                        color=color, markeredgecolor="k",
                        label=f"peak: {axis_name} = {_num(pc[axis_name])}")
        _percolation_thresholds(ax, res, axis_name)
        ax.set_ylabel("chi (mean finite-cluster size)" if name == "chi"
                      else _ylabel(name, kinds.get(name), over_time=False))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small", loc="best")
    axes[-1].set_xlabel(_xlabel(axis_name))
    fig.suptitle(f"{res.get('model', '')}: percolation over {axis_name}, "
                 f"{res.get('realizations', '?')} realisations per size", fontsize="medium")
    return fig


def _percolation_thresholds(ax: "Axes", res: Mapping[str, Any], axis_name: str) -> None:
    th = res.get("threshold") or {}
    if th.get("value") is not None:
        lo, hi = th.get("interval") or [None, None]
        if lo is not None and hi is not None:
            ax.axvspan(lo, hi, color="0.5", alpha=0.2, lw=0)
        curve = str(th.get("curve") or "the curves").split(" (")[0]
        ax.axvline(th["value"], color="k", ls="--", lw=1.2,
                   label=f"{axis_name}_c = {_num(th['value'])} (crossing of {curve}, interval "
                   f"{_num(lo)}..{_num(hi)})")
    theory = res.get("theory") or {}
    if theory.get("value") is not None:
        ax.axvline(theory["value"], color=COLORS["theory"], ls="-.", lw=1.2,
                   label=f"{axis_name}_c = {_num(theory['value'])} (theory)")


# ---------------------------------------------------------------- files

def _format(out: Path) -> str:
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise _error("-o", f"cannot tell the image format of '{out}' (suffix '{out.suffix}')",
                     "name the output .png, .svg or .pdf")
    return fmt


def read_results(path: str | Path) -> dict[str, Any]:
    """A results JSON (``run --json`` / ``run -o DIR``'s results.json / ``percolate --json``).

    A directory stands for its ``results.json``.  Anything else is a user error.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise _error(str(p), "no such file", "pass the JSON of 'semdsl run --json' or "
                     "'semdsl percolate --json' (or a directory written by 'semdsl run -o DIR')") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(str(path), f"cannot read the file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise _error(str(path), f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                     "save the output of 'semdsl run FILE --json > results.json'") from None
    if not isinstance(data, dict) or not (_is_run(data) or _is_percolation(data)):
        raise _error(str(path), "not a semdsl results file (no 'predictions', no percolation 'curves')",
                     "pass the JSON of 'semdsl run --json' or 'semdsl percolate --json'")
    return data


def _is_run(data: Mapping[str, Any]) -> bool:
    return isinstance(data.get("predictions"), list)


def _is_percolation(data: Mapping[str, Any]) -> bool:
    return isinstance(data.get("curves"), list) and isinstance(data.get("axis"), dict)


def _figures_of(data: Mapping[str, Any]) -> list[tuple[str, "Figure"]]:
    if _is_percolation(data) and not _is_run(data):
        return [("percolation", percolation_figure(data))]
    return figures(data)


def plot_file(path_in: str | Path, out_path: str | Path) -> list[Path]:
    """Draw a results JSON into image file(s).

    Parameters
    ----------
    path_in : path
        The JSON of ``semdsl run --json`` or ``semdsl percolate --json`` (told apart by
        their keys), or a directory written by ``semdsl run -o DIR``.
    out_path : path
        ``fig.png``, ``fig.svg`` or ``fig.pdf`` (the suffix sets the format).  With one
        figure it is written there; with several (one per prediction) they are written
        beside it as ``fig-01_t_grok.png``, ``fig-02_test_loss_grokked.png``, ...

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out_path)
    fmt = _format(out)
    data = read_results(path_in)
    figs = _figures_of(data)
    if not figs:
        raise _error(str(path_in), "the results hold no prediction to plot")
    targets = [out] if len(figs) == 1 else [out.with_name(f"{out.stem}-{name}{out.suffix}") for name, _ in figs]
    out.parent.mkdir(parents=True, exist_ok=True)
    for (_, fig), target in zip(figs, targets):
        fig.savefig(target, format=fmt, dpi=DPI)
    return targets


def write_run_plots(results: Mapping[str, Any], directory: str | Path) -> list[Path]:
    """What ``semdsl run FILE --plot`` writes: one PNG per prediction in ``directory``.

    The files are named like the CSVs of ``run -o DIR`` (``prediction_01_t_grok.png``
    beside ``prediction_01_t_grok.csv``); ``directory`` is created if needed.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures(results):
        path = d / f"prediction_{name}.png"
        fig.savefig(path, format="png", dpi=DPI)
        paths.append(path)
    return paths
