"""``semdsl solve``: one-off exact questions, and sets written on the command line.

A set given as text (``--mfpt "h[*]"``, ``cm.first_passage("generalize")``) is parsed
by the language's own parser and checked against the model (never evaluated as
Python): errors point into the text with a caret, like errors in a model file.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from . import syntax as S
from .errors import Diagnostic, NumericalError, SemdslError, Span
from .model import SetSpec

if TYPE_CHECKING:  # pragma: no cover
    from .compiler import CompiledModel
    from .model import Model

_PREFIX = "observable __set = prob("


def parse_set(model: "Model", text: str, origin: str = "set") -> SetSpec:
    """A set of ``model`` written as text: ``generalize``, ``h[*]``, ``{a, b}``, ``where(F < 0.5)``."""
    from .parser import parse
    from .semantics import Checker
    snippet = _PREFIX + text + ")"
    mf = parse(snippet, origin)
    base = model.syntax.statements if model.syntax else ()
    checker = Checker(S.ModelFile(tuple(base) + mf.statements, model.file, model.source))
    try:
        checked = checker.run()
    except SemdslError as exc:
        exc.sources[origin] = snippet
        raise
    return checked.observables["__set"].sets[0]


def locate(exc: NumericalError, model: "Model", what: str, span: Span | None = None) -> NumericalError:
    """``exc`` (a solver's NumericalError, which knows no file) placed in the model.

    A problem of the rates' range (its hint says to lower beta or rescale the rates) is
    reported at the ``rate`` statement, with a note at ``span`` (the predict statement
    or observable that asked); any other at ``span``.  ``what`` names the computation.
    """
    law = model.rate
    rate_span = law.span if (law is not None and not law.default and law.span is not None) else None
    diags = []
    for d in exc.diagnostics:
        if d.span is not None and d.span.line > 0:
            diags.append(d)
            continue
        about_rates = rate_span is not None and d.hint is not None and ("beta" in d.hint or "rates" in d.hint)
        where = rate_span if about_rates else (span or rate_span)
        diags.append(Diagnostic(where, f"{d.message} ({what})", d.hint, d.severity))
        if about_rates and span is not None:
            diags.append(Diagnostic(span, f"while computing {what}", None, "note"))
    return NumericalError(diags, {model.file: model.source})


def set_ids(cm: "CompiledModel", target: Any) -> np.ndarray:
    """Node ids from a set text, a SetSpec, or ids."""
    from .compiler import resolve_set
    if isinstance(target, str):
        target = parse_set(cm.model, target)
    if isinstance(target, SetSpec):
        return resolve_set(cm, target)
    return np.asarray(target, dtype=np.int64)


def solve_command(args) -> int:
    from . import load
    from .compiler import compile_model, parse_assignments
    from .solvers import exact

    model = load(args.file)
    flat = [a for group in args.assignments for a in group]
    cm = compile_model(model, parse_assignments(flat), seed=args.seed, max_states=args.max_states,
                       max_transitions=args.max_transitions, allow_path=args.allow_path)
    names = cm.nodes.names()
    doc: dict[str, Any] = {"model": model.name, "model_hash": model.hash, "seed": cm.seed,
                           "params": cm.params}
    text: list[str] = [f"model {model.name}: {cm.n:,} nodes, {cm.n_transitions:,} transitions"]
    asked = False
    if args.symbolic:
        asked = True
        from .solvers.symbolic import solve_symbolic
        targets = {t: set_ids(cm, parse_set(model, t, "--mfpt")) for t in args.mfpt}
        if not targets:
            for ob in model.observables.values():
                if ob.kind == "first_passage":
                    targets[ob.sets[0].text] = set_ids(cm, ob.sets[0])
        res = solve_symbolic(cm, targets)
        text.append(res.as_text().rstrip())
        if args.latex:
            text.append(res.as_latex().rstrip())
        doc["symbolic"] = {"stationary": [str(e) for e in res.stationary] if res.stationary else None,
                           "mfpt": {k: str(v) for k, v in res.mfpt.items()},
                           "latex": res.as_latex()}
    if args.stationary and not args.symbolic:
        asked = True
        try:
            st = exact.stationary(cm.generator, cm.init, names=cm.nodes.name)
        except NumericalError as exc:
            raise locate(exc, model, "the stationary distribution (semdsl solve --stationary)") from None
        order = np.argsort(-st.pi)[:20]
        text.append(f"stationary distribution ({st.method}){'; ' + st.note if st.note else ''}:")
        if st.caveat:
            text.append(f"  caution: {st.caveat}")
        text += [f"  {names[i]:<24} {st.pi[i]:.10g}" for i in order]
        if cm.n > 20:
            text.append(f"  ... ({cm.n - 20:,} more nodes; --json for all)")
        doc["stationary"] = {"pi": st.pi.tolist(), "method": st.method, "note": st.note,
                             "caveat": st.caveat or None}
    if args.mfpt and not args.symbolic:
        asked = True
        doc["mfpt"] = {}
        for t in args.mfpt:
            ids = set_ids(cm, parse_set(model, t, "--mfpt"))
            try:
                fp = exact.first_passage(cm.generator, cm.init, ids, names=cm.nodes.name)
            except NumericalError as exc:
                raise locate(exc, model, f"the mean first passage to {t} (semdsl solve --mfpt)") from None
            if fp.mean is None or not np.isfinite(fp.mean):
                cond = getattr(fp, "conditional_mean", None)
                line = (f"mean first passage to {t}: infinite (reached with probability "
                        f"{fp.finite_fraction:.6g}")
                line += f"; conditional mean {cond:.10g})" if cond is not None else ")"
            else:
                line = (f"mean first passage to {t}: {fp.mean:.10g}"
                        f" (second moment {fp.second_moment:.10g})")
            text.append(line)
            for extra in (fp.missed, fp.caveat):
                if extra:
                    text.append(f"  note: {extra}")
            doc["mfpt"][t] = {"mean": fp.mean, "finite_fraction": fp.finite_fraction,
                              "second_moment": fp.second_moment,
                              "conditional_mean": getattr(fp, "conditional_mean", None),
                              "note": fp.missed or fp.caveat or None}
    for T in args.at:
        asked = True
        try:
            tr = exact.transient(cm.generator, cm.init, np.array([T]))
        except NumericalError as exc:
            raise locate(exc, model, f"P(t = {T:g}) (semdsl solve --at)") from None
        P = tr.P[0]
        order = np.argsort(-P)[:10]
        text.append(f"P(t = {T:g}) ({tr.method}), most probable nodes:")
        text += [f"  {names[i]:<24} {P[i]:.10g}" for i in order]
        doc.setdefault("at", {})[str(T)] = {"P": P.tolist(), "method": tr.method,
                                            "error_bound": tr.error_bound}
    if args.spectrum:
        asked = True
        try:
            sp_ = exact.spectrum(cm.generator, args.spectrum)
        except NumericalError as exc:
            raise locate(exc, model, "the relaxation spectrum (semdsl solve --spectrum)") from None
        text.append(f"slowest relaxation modes ({sp_.method}):")
        text += [f"  lambda = {complex(l).real:.10g}{'' if abs(complex(l).imag) < 1e-12 else f' {complex(l).imag:+.3g}i'}"
                 f"   timescale {ts:.10g}" for l, ts in zip(sp_.eigenvalues, sp_.timescales)]
        doc["spectrum"] = {"eigenvalues": [[complex(l).real, complex(l).imag] for l in sp_.eigenvalues],
                           "timescales": list(map(float, sp_.timescales))}
    if args.kemeny:
        asked = True
        try:
            K = exact.kemeny_constant(cm.generator)
        except NumericalError as exc:
            raise locate(exc, model, "Kemeny's constant (semdsl solve --kemeny)") from None
        text.append(f"Kemeny constant: {K:.10g}")
        doc["kemeny"] = K
    if not asked:
        print("semdsl solve: nothing asked; use --stationary, --mfpt SET, --at T, --spectrum K, "
              "--kemeny or --symbolic", file=sys.stderr)
        return 1
    if args.json:
        from .runner import _clean
        print(json.dumps(_clean(doc), indent=2))
    else:
        print("\n".join(text))
    return 0
