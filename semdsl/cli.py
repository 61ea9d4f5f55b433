"""The ``semdsl`` command line: a thin layer over the Python API.

Every user error (a mistake in the model file, a bad ``--set``, a size above a limit)
is printed as ``file:line:col: error: ...`` with the source line, a caret and a hint,
and the command exits with status 1.  A Python traceback appears only with ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Sequence

from . import __version__
from .errors import SemdslError

EMIT_FORMATS = ("master", "latex", "matrix", "prism", "drn", "json", "graphml", "dot")

DESCRIPTION = """\
semdsl: model neural-network training as a random walk on a semantic landscape.

A .sem file declares nodes (algorithms with a fallibility F), edges, a rate law,
where the walk starts, observables and predictions.  semdsl checks it, compiles it
to a master equation and a sparse generator, and exports it (PRISM and DRN for the
Storm model checker, GraphML, DOT, JSON, NumPy).
"""

EPILOG = """\
examples:
  semdsl run models/two_state.sem
  semdsl run models/grokking.sem --set D=8000 --json -o results/
  semdsl run models/grokking.sem --workers 2 -o results/     (rerun: resumes from results/store.sqlite)
  semdsl run models/two_state.sem --plot -o results/
  semdsl plot results/results.json -o fig.svg
  semdsl solve models/two_state.sem --stationary --symbolic
  semdsl verify models/two_state.sem --walkers 20000
  semdsl percolate models/percolation.sem --over p=0.4:0.6:41 --sizes L=32,64,128
  semdsl measure models/gasket_walk.sem
  semdsl results results/store.sqlite --export all.csv
  semdsl check models/grokking.sem
  semdsl fmt models/grokking.sem --check      (exit 1 and a diff if not canonical; -w rewrites)
  semdsl compile models/grokking.sem --emit master
  semdsl compile models/grokking.sem --emit prism -o grokking.prism --set D=8000 --seed 3
  semdsl compile models/random_walk.sem --emit matrix -o walk.npz

exit status: 0 success, 1 a problem with the model or the arguments (reported with
file:line:col), 2 an internal error (rerun with --debug and report it).
"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="the model file (.sem)")
    p.add_argument("--set", dest="assignments", metavar="NAME=VALUE", action="append", default=[],
                   nargs="+", help="override a parameter's default (repeatable): --set D=2500 beta=2")
    p.add_argument("--seed", type=int, default=1, metavar="N",
                   help="seed of every random draw (default 1)")
    p.add_argument("--max-states", type=int, default=None, metavar="N",
                   help="refuse models with more states (checked before allocating; default 5e7)")
    p.add_argument("--max-transitions", type=int, default=None, metavar="N",
                   help="refuse models with more transitions (default 4e8)")
    p.add_argument("--max-memory", default=None, metavar="BYTES",
                   help="refuse compiles whose memory estimate exceeds this (4GB, 512MB, 2GiB or bytes; "
                   "default: the memory available); estimates above 1 GB are printed")
    p.add_argument("--allow-path", action="append", default=[], metavar="DIR",
                   help="let edgelist() read files under DIR as well as beside the model")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="semdsl", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"semdsl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    pc = sub.add_parser("check", help="check a model and summarise it",
                        description="Run every static check, compile, and print a summary: node "
                        "and edge counts, parameters (structural or not), detailed balance, "
                        "disconnected parts, absorbing nodes, nodes and targets unreachable "
                        "from init.", formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(pc)
    pc.add_argument("--json", action="store_true", help="print the summary as JSON")

    pk = sub.add_parser("compile", help="compile a model and export it",
                        description="Compile a model and write it in one of several formats.",
                        epilog=textwrap.dedent("""\
                            formats:
                              master   the master equation, per node (small models) or by family
                              latex    the same as LaTeX (align environment)
                              matrix   the generator Q as .npz (scipy.sparse) + OUT.nodes.csv
                              prism    a PRISM CTMC with labels for the observables' sets
                              drn      Storm's explicit format (for large models)
                              json     nodes, attributes, transitions, sets, provenance
                              graphml  directed graph with node attributes and rates
                              dot      Graphviz
                            """), formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(pk)
    pk.add_argument("--emit", choices=EMIT_FORMATS, default="master", help="output format (default master)")
    pk.add_argument("-o", "--output", metavar="OUT", default=None,
                    help="write here instead of standard output (required for matrix)")
    pk.add_argument("--numeric", action="store_true",
                    help="master/latex: put numbers for every parameter (default: non-structural "
                    "parameters stay symbolic)")
    pr = sub.add_parser("run", help="run every predict statement (exact, theory, simulation)",
                        description="Evaluate the model's predict statements in file order and print "
                        "a table per prediction, or the JSON of LANGUAGE.md section 4.",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(pr)
    pr.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    pr.add_argument("-o", "--output", metavar="DIR", default=None,
                    help="also write DIR/results.json and one CSV per prediction")
    pr.add_argument("--method", action="append", choices=("exact", "theory", "simulation"), default=None,
                    help="only these methods (repeatable; default: those each predict asks for)")
    pr.add_argument("--plot", action="store_true",
                    help="also draw one PNG per prediction: into DIR with -o DIR (beside the CSVs, "
                    "same names), else into MODEL_plots/ (needs matplotlib)")
    pr.add_argument("--store", metavar="FILE", default=None,
                    help="results store (SQLite): finished tasks are read from it, not recomputed, and each "
                         "task is written as it finishes, so a killed run resumes where it stopped (default: "
                         "DIR/store.sqlite with -o DIR, else ~/.cache/semdsl/store.sqlite)")
    pr.add_argument("--no-store", action="store_true", help="compute everything and keep nothing")
    pr.add_argument("--workers", type=int, default=None, metavar="N",
                    help="run each sweep's tasks on a local Dask cluster of N processes (default: this "
                         "process); the numbers do not depend on N")
    pr.add_argument("--scheduler", metavar="ADDRESS", default=None,
                    help="send the tasks to an existing dask.distributed scheduler (tcp://host:8786)")
    pr.add_argument("-q", "--quiet", action="store_true", help="no progress bars or task counts on stderr")

    pl = sub.add_parser("plot", help="draw the figures of a results JSON (run or percolate)",
                        description="Draw the JSON of 'semdsl run --json' (or the results.json of "
                        "'semdsl run -o DIR') or of 'semdsl percolate --json', without running anything. "
                        "A run gives one figure per prediction, one panel per observable: over time, exact "
                        "and theory as lines and simulation as points with standard-error bars; over a "
                        "parameter, the same with threshold markers (theory's D_c, the simulated "
                        "susceptibility peak, fit = threshold's x_c, a jump's bracket shaded); with fit = "
                        "powerlaw, log-log axes with the fitted law and its exponent's 95% interval; "
                        "without an axis, a bar per method. Percolation gives the curves per size, the "
                        "pseudo-critical peaks and the crossing threshold with its interval.",
                        epilog=textwrap.dedent("""\
                            examples:
                              semdsl run models/grokking.sem --json > grokking.json
                              semdsl plot grokking.json -o grokking.png    # grokking-01_t_grok.png, ...
                              semdsl percolate models/percolation.sem --over p=0.4:0.6:41 --sizes L=32,64,128 --json > perc.json
                              semdsl plot perc.json -o perc.svg

                            One figure is written to OUT itself; several (one per prediction) beside it,
                            numbered and named like the CSVs of 'run -o DIR': -o fig.png gives
                            fig-01_t_grok.png, fig-02_test_loss_grokked.png, ...
                            """), formatter_class=argparse.RawDescriptionHelpFormatter)
    pl.add_argument("results", metavar="RESULTS.json",
                    help="a results JSON (run or percolate), or a directory holding results.json")
    pl.add_argument("-o", "--output", metavar="OUT", default=None,
                    help="the image: .png, .svg or .pdf (default: RESULTS with the suffix .png)")
    pl.add_argument("--debug", action="store_true", help="show Python tracebacks")

    pv = sub.add_parser("verify", help="check exact, theory and simulation against each other",
                        description="Run every prediction with every method it supports and compare: "
                        "z-scores of simulation against exact (and theory where it gives numbers), a "
                        "Kolmogorov-Smirnov test of simulated first-passage times. Exits 1 when they "
                        "disagree beyond a Bonferroni bound (family-wise false-alarm rate 1e-3 over "
                        "all compared points).", formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(pv)
    pv.add_argument("--walkers", type=int, default=None, metavar="N",
                    help="walkers per realisation for every prediction (default: each predict's own)")
    pv.add_argument("--realizations", type=int, default=None, metavar="R",
                    help="at most R disorder realisations per prediction (a quicker check)")
    pv.add_argument("--json", action="store_true", help="print the results JSON")

    pp = sub.add_parser("percolate", help="percolation curves and thresholds of the landscape graph",
                        description="Newman-Ziff bond or site percolation of the model's landscape, "
                        "swept over a parameter that sets the probability of its 'with probability' "
                        "clauses: the largest-cluster fraction, every connected(A, B) observable and the "
                        "mean finite-cluster size at each point, the pseudo-critical point (peak of the "
                        "latter) for each size and, with three or more --sizes, the threshold in the "
                        "parameter's units from the crossing of the curves, beside the theory threshold.",
                        epilog=textwrap.dedent("""\
                            examples:
                              semdsl percolate models/percolation.sem --over p=0.4:0.6:41 --sizes L=32,64,128
                              semdsl percolate models/grokking.sem --over D=500:2000:61 --sizes n=100,200,400,800
                              semdsl percolate models/grokking.sem --over D=100:1e4:log:50 --json
                            """), formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(pp)
    pp.add_argument("--over", required=True, metavar="PARAM=A:B[:log][:K]",
                    help="the parameter to sweep, its range, log spacing and number of points (default 41)")
    pp.add_argument("--sizes", metavar="NAME=v1,v2,...", default=None,
                    help="a structural parameter (a side, a node count) set to each value in turn")
    pp.add_argument("--realizations", type=int, default=200, metavar="R",
                    help="Newman-Ziff passes per size (default 200)")
    pp.add_argument("--json", action="store_true", help="print JSON instead of tables")

    pm = sub.add_parser("measure", help="fractal, walk and spectral dimensions of the landscape",
                        description="Measure the compiled landscape: fractal dimension d_f (mass-radius), walk "
                        "dimension d_w from the mean squared displacement (alpha = 1/d_w), spectral dimension d_s "
                        "from the return probability and from the small-eigenvalue density, each with a 95% "
                        "interval and its fitted window.",
                        epilog=textwrap.dedent("""\
                            examples:
                              semdsl measure models/gasket_walk.sem
                              semdsl measure models/percolation.sem --set L=256 p=0.5 --nodes largest
                              semdsl measure models/random_walk.sem --what d_w --walkers 5000 --json
                            """), formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(pm)
    pm.add_argument("--what", default="d_f,d_w,d_s", metavar="LIST",
                    help="which of d_f, d_w, d_s (comma-separated; default all)")
    pm.add_argument("--nodes", choices=("all", "largest"), default="all",
                    help="measure all nodes, or the largest connected cluster (diluted landscapes)")
    pm.add_argument("--walkers", type=int, default=2000, metavar="N", help="walkers for d_w (default 2000)")
    pm.add_argument("--json", action="store_true", help="print JSON")

    ps = sub.add_parser("solve", help="quick exact answers: stationary law, first passage, spectrum",
                        description="One-off exact questions about the compiled model (init as declared).",
                        epilog=textwrap.dedent("""\
                            examples:
                              semdsl solve models/two_state.sem --stationary --symbolic
                              semdsl solve models/grokking.sem --mfpt generalize
                              semdsl solve models/random_walk.sem --at 10 --spectrum 5
                            """), formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(ps)
    ps.add_argument("--stationary", action="store_true", help="the stationary distribution")
    ps.add_argument("--mfpt", metavar="SET", action="append", default=[],
                    help="mean first-passage time from init to SET (a node, h[3], h[*], {a, b}, where(F < 0.5))")
    ps.add_argument("--at", metavar="T", type=float, action="append", default=[],
                    help="the distribution at time T (most probable nodes) and the observables there")
    ps.add_argument("--spectrum", metavar="K", type=int, default=None,
                    help="the K slowest relaxation modes and their timescales")
    ps.add_argument("--kemeny", action="store_true", help="the Kemeny constant")
    ps.add_argument("--symbolic", action="store_true",
                    help="closed forms (sympy) of the stationary law and of mean first-passage times "
                    "(models of up to 12 nodes)")
    ps.add_argument("--latex", action="store_true", help="with --symbolic: LaTeX as well")
    ps.add_argument("--json", action="store_true", help="print JSON")

    pq = sub.add_parser("results", help="list, inspect and export a results store",
                        description="List what a results store (the SQLite file of 'semdsl run --store') "
                        "holds: by default one line per run (model, model hash, seed, method, semdsl version, "
                        "parameters) with its number of finished tasks, compute time and last finish time; "
                        "--tasks lists the tasks themselves. --export writes every task with its result as "
                        "JSON (a list of objects) or CSV (one row per task, the result as JSON text). The "
                        "store is opened read-only.",
                        epilog=textwrap.dedent("""\
                            examples:
                              semdsl results results/store.sqlite
                              semdsl results results/store.sqlite --model grokking --method simulation --tasks
                              semdsl results results/store.sqlite --json
                              semdsl results results/store.sqlite --export all.csv
                            """), formatter_class=argparse.RawDescriptionHelpFormatter)
    pq.add_argument("store", metavar="STORE", help="the results store (an SQLite file)")
    pq.add_argument("--model", metavar="NAME", default=None, help="only this model (its name)")
    pq.add_argument("--method", metavar="M", default=None,
                    help="only this method (exact, theory, simulation, ...)")
    pq.add_argument("--tasks", action="store_true", help="list the tasks, not the runs")
    pq.add_argument("--json", action="store_true", help="print JSON instead of a table")
    pq.add_argument("--export", metavar="FILE", default=None,
                    help="write the matching tasks with their results to FILE.json or FILE.csv")
    pq.add_argument("--debug", action="store_true", help="show Python tracebacks")

    pf = sub.add_parser("fmt", help="print a model in canonical form (or check / rewrite it)",
                        description="Print the canonical source of each model file: statements in file "
                        "order, one per line, canonical spacing and parentheses, comments and single "
                        "blank lines kept, consecutive param/let/observable statements aligned, a block "
                        "written over several lines one item per line.  Formatting never changes the "
                        "model: the file parses to the same syntax tree.  Only the syntax is needed "
                        "(run 'semdsl check' for the rest); a syntax error is reported as usual (exit 1).",
                        epilog=textwrap.dedent("""\
                            examples:
                              semdsl fmt models/grokking.sem              # canonical text on stdout
                              semdsl fmt --check models/*.sem             # exit 1 and a diff if any is not canonical
                              semdsl fmt -w models/grokking.sem           # rewrite the file in place
                            """), formatter_class=argparse.RawDescriptionHelpFormatter)
    pf.add_argument("files", metavar="FILE", nargs="+", help="model files (.sem); '-' reads standard input")
    mode = pf.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="print nothing but a unified diff for each file that is not canonical; exit 1 if any")
    mode.add_argument("-w", "--write", action="store_true",
                      help="rewrite files that are not canonical in place")
    pf.add_argument("--debug", action="store_true", help="show Python tracebacks")
    return parser


def _assignments(args) -> dict[str, float]:
    from .compiler import parse_assignments
    flat = [a for group in args.assignments for a in group]
    return parse_assignments(flat)


def _compile(args):
    from . import load
    from .compiler import compile_model
    model = load(args.file)
    params = _assignments(args)
    cm = compile_model(model, params, seed=args.seed, max_states=args.max_states,
                       max_transitions=args.max_transitions, allow_path=args.allow_path)
    return model, cm


def cmd_check(args) -> int:
    from .analysis import check_report
    model, cm = _compile(args)
    rep = check_report(cm)
    if args.json:
        print(json.dumps(rep.as_dict(), indent=2, default=float))
        return 0
    sources = {model.file: model.source}
    out = [f"model {rep.model}" + (f" — {model.title}" if model.title else "") + f"  ({rep.file})",
           f"  nodes        {rep.nodes:,}",
           f"  edges        {rep.edges:,}  ({rep.transitions:,} transitions)",
           f"  rate law     {rep.rate_law}",
           f"  detailed balance: {'yes' if rep.detailed_balance else 'no'} — {rep.detailed_balance_reason}",
           f"  components   {rep.components:,} (largest {rep.largest_component:,} nodes)",
           f"  absorbing    {rep.absorbing_count:,}",
           f"  unreachable from init: {rep.unreachable_from_init:,}"]
    if rep.params:
        out.append("  parameters:")
        w = max(len(p["name"]) for p in rep.params)
        for p in rep.params:
            kind = "structural" if p["structural"] else ("sampled" if p["sampled"] else "symbolic-capable")
            why = f" ({'; '.join(p['reasons'])})" if p["reasons"] else ""
            doc = f"  \"{p['doc']}\"" if p["doc"] else ""
            out.append(f"    {p['name']:<{w}} = {p['value']:<10g} {kind}{why}{doc}")
    out.append("  landscape:")
    out += ["    " + line for line in rep.families]
    if model.observables:
        out.append("  observables: " + ", ".join(f"{o.name} = {o.text}" for o in model.observables.values()))
    if model.predictions:
        out.append(f"  predictions: {len(model.predictions)}")
    print("\n".join(out))
    for wmsg in rep.warnings:
        print(wmsg.render(sources), file=sys.stderr)
    print(f"ok: no errors, {len(rep.warnings)} warning{'s' if len(rep.warnings) != 1 else ''}")
    return 0


def cmd_compile(args) -> int:
    from .emit import formats
    model, cm = _compile(args)
    fmt = args.emit
    symbolic = not args.numeric
    if fmt == "matrix":
        out = args.output or (Path(model.file).stem + ".npz")
        paths = formats.write_matrix(cm, out)
        print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
        return 0
    if fmt == "master":
        text = formats.emit_master(cm, symbolic=symbolic)
    elif fmt == "latex":
        text = formats.emit_latex(cm, symbolic=symbolic)
    elif fmt == "json":
        text = formats.emit_json(cm)
    elif fmt == "graphml":
        text = formats.emit_graphml(cm)
    elif fmt == "dot":
        text = formats.emit_dot(cm)
    elif fmt == "prism":
        from .emit.prism import to_prism
        text = to_prism(cm)
    else:
        from .emit.drn import to_drn
        text = to_drn(cm)
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output} ({fmt}, {cm.n:,} states, {cm.n_transitions:,} transitions)",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def default_store(output: str | None) -> Path:
    """Where ``run`` keeps finished tasks: beside the outputs (``-o DIR``:
    ``DIR/store.sqlite``), else in the user's cache (``$XDG_CACHE_HOME/semdsl``,
    ``~/.cache/semdsl`` by default)."""
    import os
    if output:
        return Path(output) / "store.sqlite"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "semdsl" / "store.sqlite"


def cmd_run(args) -> int:
    from . import load
    from .runner import run
    if args.plot:  # before the run: a missing matplotlib is reported at once
        from .plot import require_matplotlib
        require_matplotlib()
    model = load(args.file)
    params = _assignments(args)
    from .progress import Reporter
    quiet = args.json or args.quiet
    reporter = Reporter(enabled=False if quiet else None)      # bars only on a terminal
    store = None if args.no_store else (args.store or default_store(args.output))
    res = run(model, params, seed=args.seed, methods=args.method, progress=reporter,
              max_states=args.max_states, max_transitions=args.max_transitions,
              allow_path=args.allow_path, store=store, workers=args.workers, scheduler=args.scheduler)
    if store is not None and not quiet:
        t = res.tasks
        print(f"tasks: {t.get('computed', 0)} computed, {t.get('from_store', 0)} read from {store}",
              file=sys.stderr)
    if args.output:
        paths = res.write(args.output)
        print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    if args.plot:
        from .plot import write_run_plots
        paths = write_run_plots(json.loads(res.to_json()), args.output or f"{model.name}_plots")
        print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    if args.json:
        print(res.to_json(indent=2))
    else:
        sys.stdout.write(res.table())
    return 0


def cmd_percolate(args) -> int:
    from . import load
    from .errors import Diagnostic, ParameterError, Span
    from .percolation import percolate, percolate_table
    if args.realizations < 1:
        raise ParameterError([Diagnostic(Span("--realizations", 0, 0, 0, 0),
                                         f"--realizations must be at least 1, got {args.realizations}")])
    model = load(args.file)
    limits = {k: v for k, v in (("max_states", args.max_states), ("max_transitions", args.max_transitions),
                                ("allow_path", args.allow_path)) if v}
    from .progress import Reporter
    reporter = Reporter(enabled=False if args.json else None)      # bars only on a terminal
    res = percolate(model, args.over, args.sizes, realizations=args.realizations, seed=args.seed,
                    params=_assignments(args), limits=limits,
                    progress=reporter.callback("Newman-Ziff passes"))
    if args.json:
        from .runner import _clean
        print(json.dumps(_clean(res), indent=2, allow_nan=False))
    else:
        sys.stdout.write(percolate_table(res))
    return 0


def cmd_measure(args) -> int:
    from .errors import Diagnostic, ParameterError, Span
    from .runner import _clean, _fmt
    from .solvers.measure import QUANTITIES, measure
    what = [w.strip() for w in args.what.split(",") if w.strip()]
    bad = [w for w in what if w not in QUANTITIES]
    if bad or not what or args.walkers < 2:
        msg = (f"unknown quantity '{bad[0]}'" if bad else "nothing to measure" if not what
               else f"--walkers must be at least 2, got {args.walkers}")
        raise ParameterError([Diagnostic(Span("--what" if bad or not what else "--walkers", 0, 0, 0, 0), msg,
                                         f"choose from {', '.join(QUANTITIES)}" if bad or not what else None)])
    model, cm = _compile(args)
    res = measure(cm, what=what, seed=args.seed, walkers=args.walkers,
                  nodes="largest" if args.nodes == "largest" else None)
    if args.json:
        print(json.dumps(_clean(res), indent=2, allow_nan=False))
        return 0
    print(f"measure {model.name} ({args.file}): {res['nodes']:,} of {res['total_nodes']:,} nodes, "
          f"seed {args.seed}")
    for w in what:
        e = res.get(w) or {}
        if e.get("value") is None:
            print(f"  {w}  not measured: {e.get('error')}")
            continue
        lo, hi = e.get("ci95") or [None, None]
        rng = e.get("range") or [None, None]
        print(f"  {w} = {_fmt(e['value'])}  (95% {_fmt(lo)}..{_fmt(hi)}; {e.get('method')}, "
              f"fitted over {_fmt(rng[0])}..{_fmt(rng[1])})")
        if w == "d_s" and isinstance(e.get("eigen"), dict) and e["eigen"].get("value") is not None:
            ee = e["eigen"]
            elo, ehi = ee.get("ci95") or [None, None]
            print(f"      from the eigenvalue density: {_fmt(ee['value'])} (95% {_fmt(elo)}..{_fmt(ehi)})")
        if e.get("note"):
            print(f"      {e['note']}")
        if e.get("warning"):
            print(f"      warning: {e['warning']}")
    return 0


def cmd_verify(args) -> int:
    from scipy.stats import norm
    from . import load
    from .runner import run, _fmt
    model = load(args.file)
    from .progress import Reporter
    res = run(model, _assignments(args), seed=args.seed, every_method=True, walkers=args.walkers,
              max_realizations=args.realizations,
              max_states=args.max_states, max_transitions=args.max_transitions,
              allow_path=args.allow_path, progress=Reporter(enabled=False if getattr(args, "json", False) else None))
    m_total = sum(sum(x is not None for x in a.get("z_vs_exact", []))
                  for p in res.predictions for a in p.agreement.values())
    z_crit = float(norm.isf(1e-3 / (2 * max(m_total, 1))))
    failed = []
    lines = [f"verify {model.name}: {m_total} simulated points compared with exact; "
             f"bound |z| <= {z_crit:.2f} (family-wise false-alarm rate 1e-3)"]
    for k, p in enumerate(res.predictions, 1):
        for obs, ag in p.agreement.items():
            z = ag.get("z_vs_exact")
            if z is None or all(x is None for x in z):
                continue
            compared = [i for i, x in enumerate(z) if x is not None]
            ex = p.methods.get("exact", {}).get(obs, {}).get("value") or []
            th = p.methods.get("theory", {}).get(obs, {}).get("value") or []
            si = p.methods.get("simulation", {}).get(obs, {})
            sv, se = si.get("value") or [], si.get("stderr") or []
            axis = p.axis["values"] if p.axis else [None]
            worst = max(abs(z[i]) for i in compared)
            ok = worst <= z_crit
            ks = ag.get("ks")
            if ks is not None and ks["p_value"] <= 1e-3 / max(m_total, 1):
                ok = False
            if not ok:
                failed.append(f"[{k}] {obs}")
            lines.append(f"[{k}] line {p.line} {obs}: max |z| = {worst:.2f}"
                         + (f", KS D = {ks['statistic']:.3g} (p = {ks['p_value']:.3g})" if ks else "")
                         + ("  ok" if ok else "  DISAGREE"))
            lines.append(f"    {(p.axis['name'] if p.axis else ''):>10} {'exact':>12} {'theory':>12} "
                         f"{'simulation':>12} {'± stderr':>10} {'z':>7}")
            order = sorted(compared, key=lambda i: -abs(z[i]))[:8]
            for i in sorted(order):
                lines.append(f"    {_fmt(axis[i] if i < len(axis) else None):>10} "
                             f"{_fmt(ex[i] if i < len(ex) else None):>12} "
                             f"{_fmt(th[i] if i < len(th) else None):>12} "
                             f"{_fmt(sv[i] if i < len(sv) else None):>12} "
                             f"{_fmt(se[i] if i < len(se) else None):>10} {z[i]:7.2f}")
    if args.json:
        print(res.to_json(indent=2))
    else:
        print("\n".join(lines))
        print(("verify: DISAGREE in " + ", ".join(failed)) if failed else "verify: all agree")
    return 1 if failed else 0


def cmd_plot(args) -> int:
    from .plot import plot_file
    results = Path(args.results)
    out = args.output or str((results / "results" if results.is_dir() else results).with_suffix(".png"))
    paths = plot_file(results, out)
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0


def cmd_results(args) -> int:
    from .errors import Diagnostic, ParameterError, Span
    from .store import Store
    filters = {"model": args.model, "method": args.method}
    export = Path(args.export) if args.export else None
    if export is not None and export.suffix.lower() not in (".json", ".csv"):
        raise ParameterError([Diagnostic(Span("--export", 0, 0, 0, 0),
                                         f"cannot export to '{export}': unknown format '{export.suffix}'",
                                         "name the file .json or .csv")])
    with Store(args.store, readonly=True) as store:
        if export is not None:
            try:
                n = (store.export_csv if export.suffix.lower() == ".csv" else store.export_json)(export, **filters)
            except OSError as exc:
                raise ParameterError([Diagnostic(Span(str(export), 0, 0, 0, 0),
                                                 f"cannot write the export: {exc.strerror or exc}",
                                                 "check that the directory is writable")]) from None
            print(f"wrote {n} task{'s' * (n != 1)} to {export}", file=sys.stderr)
            return 0
        rows = store.tasks(**filters) if args.tasks else store.runs(**filters)
        total = len(store)
    if args.json:
        for r in rows:
            r["params"] = json.loads(r["params"])
        print(json.dumps(rows, indent=2, allow_nan=False))
        return 0
    what = "tasks" if args.tasks else "runs"
    shown = [f"{k} {v}" for k, v in filters.items() if v is not None]
    print(f"{args.store}: {total} task{'s' * (total != 1)} stored; {len(rows)} {what}"
          + (f" of {', '.join(shown)}" if shown else ""))
    if not rows:
        return 0

    def secs(v) -> str:
        return "" if v is None else f"{v:.3g}"

    if args.tasks:
        head = ("model", "hash", "seed", "method", "version", "task", "seconds", "finished", "params")
        body = [(r["model"], r["model_hash"][:12], str(r["seed"]), r["method"], r["version"], r["task"],
                 secs(r["seconds"]), r["finished"], r["params"]) for r in rows]
    else:
        head = ("model", "hash", "seed", "method", "version", "tasks", "seconds", "finished", "params")
        body = [(r["model"], r["model_hash"][:12], str(r["seed"]), r["method"], r["version"], str(r["tasks"]),
                 secs(r["seconds"]), r["last"], r["params"]) for r in rows]
    width = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head[:-1])]
    right = {"seed", "tasks", "seconds"}
    for line in [head, *body]:
        cells = [c.rjust(w) if h in right else c.ljust(w) for c, w, h in zip(line, width, head)]
        print("  ".join(cells + [line[-1]]).rstrip())
    return 0


def _keep_ends(text: str) -> list[str]:
    """Lines with their '\\n' (only '\\n' ends a line in a model file)."""
    rows = [row + "\n" for row in text.split("\n")]
    rows[-1] = rows[-1][:-1]
    return rows if rows[-1] else rows[:-1]


def cmd_fmt(args) -> int:
    import difflib
    from .errors import Diagnostic, Span
    from .format import format_model
    from .parser import decode_source, parse, parse_file
    changed = 0
    errors: list[SemdslError] = []
    for name in args.files:
        try:
            if name == "-":
                if args.write:
                    raise SemdslError(Diagnostic(Span("-", 0, 0, 0, 0), "cannot --write standard input",
                                                 "write the canonical text to stdout: semdsl fmt -"))
                tree = parse(decode_source(sys.stdin.buffer.read(), "<stdin>"), "<stdin>")
            else:
                tree = parse_file(name)
        except SemdslError as exc:
            errors.append(exc)
            continue
        text = format_model(tree)
        if args.check or args.write:
            # the bytes decide: CRLF line endings or a byte-order mark are not canonical either
            raw = None if name == "-" else Path(name).read_bytes()
            if text == tree.source and (raw is None or raw == text.encode("utf-8")):
                continue
            changed += 1
            if args.check:
                sys.stdout.writelines(difflib.unified_diff(
                    _keep_ends(tree.source), _keep_ends(text), f"{name}", f"{name} (formatted)"))
                if text == tree.source:
                    print(f"{name}: only the line endings or a byte-order mark differ "
                          "(canonical files are UTF-8 with \\n line endings)")
            else:
                Path(name).write_text(text, "utf-8", newline="")
                print(f"reformatted {name}", file=sys.stderr)
        else:
            sys.stdout.write(text)
    if errors:
        print("\n".join(e.render() for e in errors), file=sys.stderr)
        return 1
    if args.check and changed:
        print(f"{changed} file{'s' if changed != 1 else ''} not canonical (semdsl fmt -w rewrites)",
              file=sys.stderr)
        return 1
    return 0


def cmd_solve(args) -> int:
    from .solve import solve_command
    return solve_command(args)


def _limits(args):
    """Every compile of this command: --max-memory, and 'estimated memory ...' on stderr (once each)."""
    from .compiler import compile_limits
    seen: set[str] = set()

    def notice(message: str) -> None:
        if message not in seen:
            seen.add(message)
            print(f"semdsl: {message}", file=sys.stderr)
    return compile_limits(max_memory=getattr(args, "max_memory", None), notice=notice)


COMMANDS = {"check": cmd_check, "compile": cmd_compile, "run": cmd_run, "solve": cmd_solve,
            "verify": cmd_verify, "percolate": cmd_percolate, "measure": cmd_measure, "plot": cmd_plot,
            "results": cmd_results, "fmt": cmd_fmt}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 1
    debug = getattr(args, "debug", False)
    try:
        with _limits(args):
            return COMMANDS[args.command](args)
    except SemdslError as exc:
        if debug:
            raise
        print(exc.render(), file=sys.stderr)
        return 1
    except MemoryError:
        if debug:
            raise
        print("semdsl: error: out of memory while building the model\n"
              "  hint: lower --max-states / --max-transitions so that semdsl refuses before "
              "allocating, or shrink the model", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("semdsl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an internal error: short message, traceback with --debug
        if debug:
            raise
        print(f"semdsl: internal error: {type(exc).__name__}: {exc}\n"
              "  hint: rerun with --debug for a traceback and report it", file=sys.stderr)
        return 2


def entry() -> None:  # pragma: no cover
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
