"""Figures (semdsl.plot, ``semdsl plot``, ``semdsl run --plot``): every kind of plot is
drawn from the example models, written to a file that is read back (PNG magic bytes,
SVG XML, PDF header), and its content checked on the figure objects: axis labels and
scales, the lines of each method, fitted laws, error bars and threshold markers at the
values the results report."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import semdsl  # noqa: E402
from semdsl import plot  # noqa: E402
from semdsl.cli import main  # noqa: E402
from semdsl.errors import SemdslError  # noqa: E402
from semdsl.percolation import percolate  # noqa: E402
from semdsl.runner import _clean  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _json(res) -> dict:
    """What ``--json`` prints, as a dict (numpy and NaN cleaned away)."""
    return json.loads(res.to_json())


@pytest.fixture(scope="module")
def two_state() -> dict:
    return _json(semdsl.run(str(MODELS / "two_state.sem"), walkers=2000))


@pytest.fixture(scope="module")
def scaling() -> dict:
    return _json(semdsl.run(str(MODELS / "scaling.sem"), walkers=300))


@pytest.fixture(scope="module")
def grokking() -> dict:
    return _json(semdsl.run(str(MODELS / "grokking.sem"), methods=["theory", "exact"], max_realizations=5))


@pytest.fixture(scope="module")
def emergence() -> dict:
    return _json(semdsl.run(str(MODELS / "emergence.sem"), methods=["exact"], max_realizations=3))


@pytest.fixture(scope="module")
def percolation() -> dict:
    res = percolate(semdsl.load(MODELS / "percolation.sem"), "p=0.4:0.6:11", "L=8,16,32", realizations=50)
    return json.loads(json.dumps(_clean(res)))


def _figure(results: dict, k: int):
    """The figure of the k-th prediction (1-based), checking its slug."""
    figs = plot.figures(results)
    assert len(figs) == len(results["predictions"])
    name, fig = figs[k - 1]
    assert name.startswith(f"{k:02d}_")
    return fig


def _by_label(ax, prefix: str) -> list:
    """Legend handles of ``ax`` whose label starts with ``prefix``."""
    handles, labels = ax.get_legend_handles_labels()
    return [h for h, lab in zip(handles, labels) if lab.startswith(prefix)]


def _line(ax, prefix: str):
    lines = [ln for ln in ax.get_lines() if ln.get_label().startswith(prefix)]
    assert lines, f"no line labelled {prefix!r} in {[ln.get_label() for ln in ax.get_lines()]}"
    return lines[0]


def _x_extent(patch) -> tuple[float, float]:
    """The data x range of an ``axvspan`` (a Rectangle from matplotlib 3.9, a Polygon before)."""
    if hasattr(patch, "get_width"):
        return patch.get_x(), patch.get_x() + patch.get_width()
    xs = np.asarray(patch.get_xy())[:, 0]
    return float(xs.min()), float(xs.max())


def _has_errorbars(ax) -> bool:
    from matplotlib.container import ErrorbarContainer
    return any(isinstance(c, ErrorbarContainer) and c.has_yerr for c in ax.containers)


def _check_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == PNG_MAGIC


def _check_svg(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")


# ---------------------------------------------------------------- kinds of plots

def test_time_plot_exact_lines_and_simulation_error_bars(two_state, tmp_path):
    pred = two_state["predictions"][0]                      # pB, energy over t in 0..3
    fig = _figure(two_state, 1)
    axes = fig.axes
    assert len(axes) == 2                                   # one panel per observable
    assert axes[-1].get_xlabel() == "t (time)"
    assert axes[0].get_ylabel() == "pB (probability)"
    assert axes[1].get_ylabel() == "energy (mean)"
    assert "line 43" in fig.get_suptitle() and "predict pB, energy" in fig.get_suptitle()
    for ax, obs in zip(axes, pred["observables"]):
        assert ax.get_xscale() == "linear"
        exact = _line(ax, "exact")
        np.testing.assert_allclose(exact.get_xdata(), pred["axis"]["values"])
        np.testing.assert_allclose(exact.get_ydata(), pred["exact"][obs]["value"])
        assert _has_errorbars(ax)
        assert _by_label(ax, "simulation")
    out = tmp_path / "time.png"
    fig.savefig(out)
    _check_png(out)


def test_first_passage_over_time_is_its_distribution(two_state):
    ax = _figure(two_state, 2).axes[0]
    assert ax.get_ylabel() == "t_AB (P(first passage <= t))"
    assert _has_errorbars(ax)


def test_point_prediction_is_a_bar_per_method(two_state):
    pred = two_state["predictions"][2]                      # t_AB, no axis
    assert pred["axis"] is None
    ax = _figure(two_state, 3).axes[0]
    assert ax.get_xlabel() == "method"
    assert ax.get_ylabel() == "t_AB (mean first-passage time)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["exact", "theory", "simulation"]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [pred[m]["t_AB"]["value"][0] for m in ("exact", "theory", "simulation")])
    assert _has_errorbars(ax)


def test_sweep_over_a_log_parameter_with_theory(two_state):
    pred = two_state["predictions"][4]                      # pB over k_plus, log
    ax = _figure(two_state, 5).axes[0]
    assert ax.get_xlabel() == "k_plus"
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    theory = _line(ax, "theory")
    np.testing.assert_allclose(theory.get_ydata(), pred["theory"]["pB"]["value"])
    _line(ax, "exact")


def test_loglog_scaling_plot_over_a_parameter(scaling, tmp_path):
    pred = scaling["predictions"][1]                        # t_reach over N, fit = powerlaw
    fig = _figure(scaling, 2)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "N"
    assert ax.get_ylabel() == "t_reach (mean first-passage time)"
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    for method in ("exact", "simulation"):
        fit = pred[method]["t_reach"]["fit"]
        line = _line(ax, f"fit ({method})")
        assert line.get_linestyle() == "--"
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        np.testing.assert_allclose([x[0], x[-1]], fit["range"])
        np.testing.assert_allclose(y, fit["prefactor"] * x ** fit["exponent"])
        label = line.get_label()
        assert f"{fit['exponent']:.4g}" in label and "95% CI" in label
        assert f"{fit['ci95'][0]:.4g}" in label and f"{fit['ci95'][1]:.4g}" in label
    theory = _line(ax, "theory")
    np.testing.assert_allclose(theory.get_ydata(), pred["theory"]["t_reach"]["value"])
    assert _has_errorbars(ax)
    out = tmp_path / "scaling.svg"
    fig.savefig(out)
    _check_svg(out)


def test_loglog_scaling_plot_over_time(scaling):
    pred = scaling["predictions"][0]                        # loss, typical over t, fit = powerlaw
    fig = _figure(scaling, 1)
    assert fig.axes[-1].get_xlabel() == "t (time)"
    for ax, obs in zip(fig.axes, pred["observables"]):
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        _line(ax, "fit (exact)")
        _line(ax, "fit (simulation)")
    assert fig.axes[0].get_ylabel() == "loss (mean)"
    assert fig.axes[1].get_ylabel() == "typical (median)"


def test_threshold_markers_of_a_sweep(grokking):
    pred = grokking["predictions"][2]                       # linked over D: theory's Molloy-Reed D_c
    value = pred["theory"]["linked"]["law"]["threshold"]["value"]
    ax = _figure(grokking, 3).axes[0]
    assert ax.get_xlabel() == "D"
    assert ax.get_ylabel() == "linked (connection probability)"
    marker = _line(ax, f"D_c = {value:.4g} (theory)")
    assert marker.get_label() == "D_c = 995 (theory)"
    assert np.allclose(marker.get_xdata(), value)           # a vertical line at the threshold


def test_threshold_fit_marker_and_curve(grokking):
    fit = grokking["predictions"][0]["exact"]["t_grok"]["fit"]  # fit = threshold
    assert fit["kind"] == "threshold" and fit["x_c"] is not None
    ax = _figure(grokking, 1).axes[0]
    assert ax.get_yscale() == "log"
    marker = _line(ax, f"D_c = {fit['x_c']:.4g} (exact fit")
    if fit["x_c"] > 0:
        assert np.allclose(marker.get_xdata(), fit["x_c"])
    else:  # a log axis cannot show it: named in the legend all the same
        assert len(marker.get_xdata()) == 0 and marker.get_label().endswith("off the log axis")
    curve = _line(ax, "fit (exact): A (D - D_c)^-g")
    x, y = np.asarray(curve.get_xdata()), np.asarray(curve.get_ydata())
    np.testing.assert_allclose(y, fit["A"] * (x - fit["x_c"]) ** (-fit["g"]))


def test_switch_bracket_is_shaded(emergence):
    pred = emergence["predictions"][0]                      # best, capable over N: a jump
    sw = pred["exact"]["capable"]["switch"]
    lo, hi = sw.get("refined") or sw["between"]
    ax = _figure(emergence, 1).axes[1]
    spans = _by_label(ax, "N_c in (")
    assert len(spans) == 1
    assert _x_extent(spans[0]) == pytest.approx((lo, hi))
    assert ax.get_xscale() == "log"


def test_percolation_figure(percolation, tmp_path):
    fig = plot.percolation_figure(percolation)
    axes = fig.axes
    assert [ax.get_ylabel() for ax in axes] == ["giant (largest-cluster fraction)",
                                                "span (connection probability)",
                                                "chi (mean finite-cluster size)"]
    assert axes[-1].get_xlabel() == "p"
    th, theory = percolation["threshold"], percolation["theory"]["value"]
    for ax in axes:
        sizes = [ln for ln in ax.get_lines() if ln.get_label().startswith("L = ")]
        assert [ln.get_label().split(",")[0] for ln in sizes] == ["L = 8", "L = 16", "L = 32"]
        assert np.allclose(_line(ax, f"p_c = {th['value']:.4g} (crossing").get_xdata(), th["value"])
        assert np.allclose(_line(ax, "p_c = 0.5 (theory)").get_xdata(), theory)
    peaks = [ln for ln in axes[-1].get_lines() if ln.get_label().startswith("peak")]
    assert [ln.get_xdata()[0] for ln in peaks] == pytest.approx(
        [c["pseudo_critical"]["p"] for c in percolation["curves"]])
    out = tmp_path / "perc.pdf"
    fig.savefig(out)
    assert out.read_bytes()[:5] == b"%PDF-"


def test_labels_without_the_model_file(two_state):
    moved = dict(two_state, file="/nonexistent/two_state.sem")
    ax = plot.figures(moved)[0][1].axes[0]
    assert ax.get_ylabel() == "pB"                          # kinds unknown: the plain name


def test_inline_observable_label():
    assert plot._ylabel("median(F)", "median", over_time=True) == "median(F)"
    assert plot.observable_kinds({"predictions": [{"observables": ["median(F)", "x"]}]}) == {"median(F)": "median"}


# ---------------------------------------------------------------- files and the command line

def test_plot_file_several_predictions(two_state, tmp_path):
    src = tmp_path / "results.json"
    src.write_text(json.dumps(two_state))
    paths = plot.plot_file(src, tmp_path / "fig.svg")
    assert [p.name for p in paths] == ["fig-01_pB_energy.svg", "fig-02_t_AB.svg", "fig-03_t_AB.svg",
                                       "fig-04_pB.svg", "fig-05_pB.svg"]
    for p in paths:
        _check_svg(p)


def test_plot_file_one_figure_is_the_output(percolation, tmp_path):
    src = tmp_path / "perc.json"
    src.write_text(json.dumps(percolation))
    assert plot.plot_file(src, tmp_path / "out" / "perc.png") == [tmp_path / "out" / "perc.png"]
    _check_png(tmp_path / "out" / "perc.png")


def test_cli_plot(grokking, tmp_path, capsys):
    src = tmp_path / "grokking.json"
    src.write_text(json.dumps(grokking))
    assert main(["plot", str(src), "-o", str(tmp_path / "f.svg")]) == 0
    written = sorted(tmp_path.glob("f-*.svg"))
    assert len(written) == 3
    for p in written:
        _check_svg(p)
    assert "wrote" in capsys.readouterr().err
    assert main(["plot", str(src)]) == 0                    # default: RESULTS with .png
    assert len(list(tmp_path.glob("grokking-*.png"))) == 3


@pytest.mark.parametrize("args, message", [
    (["-o", "{tmp}/f.gif"], "cannot tell the image format of"),
    (["-o", "{tmp}/f"], "name the output .png, .svg or .pdf"),
])
def test_cli_plot_bad_suffix(two_state, tmp_path, capsys, args, message):
    src = tmp_path / "r.json"
    src.write_text(json.dumps(two_state))
    assert main(["plot", str(src)] + [a.format(tmp=tmp_path) for a in args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.glob("f*"))


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("not json", "not JSON"),
    ('{"model": "x"}', "not a semdsl results file"),
])
def test_cli_plot_bad_input(tmp_path, capsys, content, message):
    src = tmp_path / "r.json"
    if content is not None:
        src.write_text(content)
    assert main(["plot", str(src), "-o", str(tmp_path / "f.png")]) == 1
    err = capsys.readouterr().err
    assert message in err and "hint:" in err and "Traceback" not in err


def test_cli_run_plot(tmp_path, capsys):
    out = tmp_path / "res"
    model = str(MODELS / "two_state.sem")
    assert main(["run", model, "--method", "exact", "--method", "theory", "--plot", "-o", str(out)]) == 0
    pngs = sorted(out.glob("*.png"))
    csvs = sorted(out.glob("*.csv"))
    assert [p.stem for p in pngs] == [p.stem for p in csvs] and len(pngs) == 5
    for p in pngs:
        _check_png(p)
    err = capsys.readouterr().err
    assert all(str(p) in err for p in pngs)


def test_cli_run_plot_without_output_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = str(MODELS / "two_state.sem")
    assert main(["run", model, "--method", "exact", "--plot"]) == 0
    pngs = sorted((tmp_path / "two_state_plots").glob("prediction_*.png"))
    assert len(pngs) == 5
    _check_png(pngs[0])


def test_missing_matplotlib_is_a_user_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    with pytest.raises(SemdslError, match="matplotlib"):
        plot.require_matplotlib()
    assert main(["run", str(MODELS / "two_state.sem"), "--plot"]) == 1
    err = capsys.readouterr().err
    assert "--plot: error: plots need matplotlib" in err and "pip install" in err
