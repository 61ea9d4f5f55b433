"""Power-law and threshold fits with 95% intervals.

Two fits back the ``fit =`` option of a ``predict`` statement (LANGUAGE.md, §2 and §4):

:func:`fit_powerlaw`
    ``y = A x^a`` by a straight line on log-log axes, over a range chosen
    automatically (the largest window where the local log-slope is stable) or given.
:func:`fit_threshold`
    ``y = A (x - x_c)^(-g)`` for ``x > x_c``: a divergence at a critical value, as the
    grokking time diverges at the critical data-set size ``D_c``.

Both take the curve ``y`` over the axis ``x``, and optionally its standard errors
``yerr`` or the per-realisation curves ``samples`` (shape ``(R, len(x))``) whose mean is
``y``.  The 95% interval comes from, in order of preference,

1. a bootstrap over the rows of ``samples`` (resample rows with replacement, average,
   refit; percentile interval; ``rng`` seeds it, default seed 0, so results are
   reproducible);
2. weighted least squares with ``yerr`` (propagated to ``log y`` as ``yerr / y``) and a
   Student-t interval, the scale of the errors re-estimated from the residuals;
3. ordinary least squares and a residual-based Student-t interval, which assumes
   independent scatter about the law (the result says so in ``warning``).

Neither function raises on bad data: too few points, non-positive or non-finite values
give a result whose ``exponent`` (``x_c``) is ``None`` and whose ``warning`` says why.

Example
-------
>>> import numpy as np
>>> x = np.logspace(0, 3, 31)
>>> r = fit_powerlaw(x, 2.0 * x**-0.5)
>>> round(r["exponent"], 6), round(r["prefactor"], 6), r["decades"]
(-0.5, 2.0, 3.0)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy import optimize, stats

__all__ = ["fit_powerlaw", "fit_threshold", "DEFAULT_SLOPE_TOL", "DEFAULT_BOOTSTRAP"]

#: largest drift of the local log-slope (absolute) accepted inside an automatic fit range
DEFAULT_SLOPE_TOL = 0.1
#: local slopes may also deviate by this many of their own standard errors (noise)
NOISE_SIGMAS = 4.0
#: bootstrap resamples for the power-law fit (a vectorised straight-line fit each)
DEFAULT_BOOTSTRAP = 2000
#: bootstrap resamples for the threshold fit (a nonlinear least-squares fit each)
DEFAULT_BOOTSTRAP_THRESHOLD = 400
MIN_POINTS = 4

RANGE_RULE = (
    "auto: local log-slopes from straight-line fits over +-h neighbouring points "
    "(h = max(2, n // 12)); the range is the largest contiguous window (in log x, at "
    "least 4 points) in which every local slope lies within max({tol}, {k:g} standard "
    "errors) of the window's median local slope")


# ------------------------------------------------------------------ input cleaning
def _as_float(a: Any) -> np.ndarray:
    """An array of floats; ``None`` entries become NaN."""
    if a is None:
        return np.zeros(0)
    arr = np.asarray(a, dtype=object) if not isinstance(a, np.ndarray) else a
    if arr.dtype == object:
        arr = np.array([np.nan if v is None else v for v in arr.ravel()], dtype=float).reshape(arr.shape)
    return np.asarray(arr, dtype=float)


def _as_samples(samples: Any, n: int) -> tuple[np.ndarray | None, str | None]:
    """``samples`` as a float array of shape ``(R, n)``, or None with a reason."""
    if samples is None:
        return None, None
    try:
        s = np.asarray(samples, dtype=object)
        s = np.array([[np.nan if v is None else v for v in row] for row in s], dtype=float) \
            if s.dtype == object and s.ndim == 2 else np.asarray(samples, dtype=float)
    except (TypeError, ValueError):
        return None, "samples are not a numeric array; ignored them"
    if s.ndim != 2 or s.shape[1] != n:
        return None, f"samples must have shape (R, {n}), got {s.shape}; ignored them"
    if s.shape[0] < 2:
        return None, "a bootstrap needs at least 2 sample rows; ignored them"
    return s, None


def _join(parts: list[str]) -> str | None:
    parts = [p for p in parts if p]
    return "; ".join(dict.fromkeys(parts)) if parts else None


def _rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(0 if rng is None else rng)


def _row_means(s: np.ndarray) -> np.ndarray:
    """Column means ignoring NaN (all-NaN columns give NaN, silently)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(s, axis=-2)


# ------------------------------------------------------------------ straight lines
def _line(lx: np.ndarray, ly: np.ndarray, w: np.ndarray | None = None):
    """Weighted least-squares line ``ly = b + a lx``: (a, b, var_a_unscaled, chi2)."""
    w = np.ones_like(lx) if w is None else w
    W = w.sum()
    mx = (w * lx).sum() / W
    my = (w * ly).sum() / W
    sxx = (w * (lx - mx) ** 2).sum()
    a = (w * (lx - mx) * (ly - my)).sum() / sxx
    b = my - a * mx
    chi2 = float((w * (ly - b - a * lx) ** 2).sum())
    return float(a), float(b), float(1.0 / sxx), chi2


def _slopes(lx: np.ndarray, LY: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Slopes of weighted lines through each row of ``LY`` (vectorised over rows)."""
    w = np.ones_like(lx) if w is None else w
    mx = (w * lx).sum() / w.sum()
    dx = lx - mx
    return (LY * (w * dx)).sum(axis=1) / (w * dx * dx).sum()


def _local_slopes(lx: np.ndarray, ly: np.ndarray, sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local log-slopes and their standard errors from lines over +-h neighbours."""
    n = lx.size
    h = max(2, n // 12)
    s = np.empty(n)
    se = np.empty(n)
    for i in range(n):
        lo, hi = max(0, i - h), min(n, i + h + 1)
        if hi - lo < 3:  # cannot happen for n >= 3, kept for safety
            lo, hi = max(0, hi - 3), min(n, lo + 3)
        xx, yy = lx[lo:hi], ly[lo:hi]
        a, _, var_a, _ = _line(xx, yy)
        s[i] = a
        se[i] = math.sqrt(var_a) * float(np.sqrt(np.mean(sig[lo:hi] ** 2)))
    return s, se


def _noise_scale(lx: np.ndarray, ly: np.ndarray) -> float:
    """Robust estimate of the scatter of ``ly`` about a smooth curve.

    Each interior point is compared with the line through its two neighbours; for
    independent scatter sigma the difference has variance ``(1 + c) sigma^2`` with
    ``c`` the interpolation weights' squared sum (3/2 on a uniform grid).
    """
    if lx.size < 3:
        return 0.0
    x0, x1, x2 = lx[:-2], lx[1:-1], lx[2:]
    t = (x1 - x0) / (x2 - x0)
    pred = (1 - t) * ly[:-2] + t * ly[2:]
    d = ly[1:-1] - pred
    factor = np.sqrt(1 + (1 - t) ** 2 + t ** 2)
    return float(1.4826 * np.median(np.abs(d / factor)))


def _auto_range(lx: np.ndarray, ly: np.ndarray, sig: np.ndarray | None,
                slope_tol: float) -> tuple[int, int, bool]:
    """The largest stable window ``[i, j]`` (inclusive); ``ok`` False when none has 4 points."""
    n = lx.size
    if n < MIN_POINTS:
        return 0, n - 1, False
    if sig is None:
        sig = np.full(n, _noise_scale(lx, ly))
    s, se = _local_slopes(lx, ly, sig)
    tol = np.maximum(slope_tol, NOISE_SIGMAS * se)
    lo_b, hi_b = s - tol, s + tol
    best: tuple[float, int, int, int] | None = None   # (span, points, i, j)
    for i in range(n - MIN_POINTS + 1):
        # the longest window from i whose tolerance bands still share a value
        lo, hi = lo_b[i], hi_b[i]
        jmax = i
        for j in range(i + 1, n):
            lo, hi = max(lo, lo_b[j]), min(hi, hi_b[j])
            if lo > hi:
                break
            jmax = j
        if jmax - i + 1 < MIN_POINTS:
            continue
        if best is not None and (lx[jmax] - lx[i], jmax - i + 1) <= best[:2]:
            continue
        # the longest of those whose median local slope lies in every band
        for j in range(jmax, i + MIN_POINTS - 2, -1):
            cand = (lx[j] - lx[i], j - i + 1, i, j)
            if best is not None and cand[:2] <= best[:2]:
                break
            med = float(np.median(s[i:j + 1]))
            if np.all(np.abs(s[i:j + 1] - med) <= tol[i:j + 1]):
                best = cand
                break
    if best is None:
        return 0, n - 1, False
    return best[2], best[3], True


# ------------------------------------------------------------------ power law
def _powerlaw_fail(reason: str, points: int = 0, excluded: int = 0) -> dict:
    return {"kind": "powerlaw", "exponent": None, "ci95": [None, None], "prefactor": None,
            "range": [None, None], "points": points, "decades": None, "excluded": excluded,
            "method": None, "range_rule": None, "warning": reason}


def _read_inputs(x, y, yerr, samples):
    """``(x, y, err, S, warnings)`` as float arrays, or a message saying why not."""
    warn: list[str] = []
    try:
        x = _as_float(x).ravel()
        y = _as_float(y).ravel()
    except (TypeError, ValueError):
        return "x and y must be numbers"
    if x.size != y.size:
        return f"x and y differ in length ({x.size} vs {y.size})"
    err = None
    if yerr is not None:
        try:
            err = _as_float(yerr).ravel()
        except (TypeError, ValueError):
            err = None
        if err is None or err.size != x.size:
            warn.append("yerr has the wrong length; ignored it")
            err = None
    S, why = _as_samples(samples, x.size)
    if why:
        warn.append(why)
    return x, y, err, S, warn


def fit_powerlaw(x, y, *, yerr=None, samples=None, x_range=None, rng=None,
                 slope_tol: float = DEFAULT_SLOPE_TOL, n_boot: int = DEFAULT_BOOTSTRAP,
                 replicates=None, deterministic: bool = False) -> dict:
    r"""Fit ``y = A x^a`` on log-log axes, with a 95% interval for ``a``.

    Parameters
    ----------
    x, y : array_like
        The axis and the curve.  Points with ``x <= 0``, ``y <= 0`` or a non-finite
        value (``None`` counts as NaN) are dropped and counted in ``excluded``.
    yerr : array_like, optional
        Standard errors of ``y``; propagated to ``log y`` as ``yerr / y`` and used as
        weights ``(y / yerr)^2``.
    samples : array_like, optional
        Per-realisation (or per-chunk-of-walkers) curves, shape ``(R, len(x))``, whose
        mean is ``y``.  When given, the interval is a percentile bootstrap over rows.
    x_range : (lo, hi), optional
        Fit only points with ``lo <= x <= hi``.  When None the range is chosen
        automatically: the largest contiguous window (in ``log x``, at least 4 points)
        in which every local log-slope (a straight line through the point and ``h``
        neighbours each side, ``h = max(2, n // 12)``) lies within
        ``max(slope_tol, 4 standard errors)`` of the window's median local slope.
        Leading and trailing points of a crossover are thereby dropped; the standard
        errors come from ``yerr``, from ``samples``, or from the point-to-point scatter.
    rng : numpy.random.Generator or int, optional
        Seeds the bootstrap (default: seed 0, so the interval is reproducible).
    slope_tol : float
        Drift of the local slope tolerated inside an automatic range (default 0.1).
    n_boot : int
        Bootstrap resamples.
    replicates : array_like (B, len(x)), optional
        Bootstrap replicates of the whole curve made by its producer (e.g. resampled
        walkers of one simulation); the interval is the 2.5..97.5 percentile range of
        the exponents fitted to them over the chosen range.  Used when ``samples`` is
        not given.
    deterministic : bool
        The curve has no sampling noise (exact linear algebra on one realisation, a
        theory): the interval is then the range of the local log-slope over the
        fitted window (lines through sliding quarters of it) -- how far the curve is
        from one power law there -- rather than a regression interval that would treat
        the curvature as noise.

    Returns
    -------
    dict
        ``{"kind": "powerlaw", "exponent": a, "ci95": [lo, hi], "prefactor": A,
        "range": [x_lo, x_hi], "points": k, "decades": log10(x_hi / x_lo),
        "excluded": m, "method": "bootstrap" | "wls" | "ols", "range_rule": str,
        "warning": str | None}``.  ``exponent`` is None (and ``warning`` says why) when
        fewer than 3 usable points remain.

    Notes
    -----
    The interval, by method: bootstrap -- refit ``mean of resampled rows`` over the
    chosen range, 2.5 and 97.5 percentiles; bootstrap (replicates) -- the same over
    the producer's replicate curves; local-slope range -- min and max of the slopes
    over sliding quarters of the window of a noiseless curve; ``wls`` -- ``a +- t_{0.975, k-2} * se``
    with ``se^2 = chi2/(k-2) * (sum w (lx - <lx>)^2)^-1``; ``ols`` -- the same with unit
    weights.  The range is chosen once, on ``y``; the bootstrap refits on that range.
    """
    read = _read_inputs(x, y, yerr, samples)
    if isinstance(read, str):
        return _powerlaw_fail(read)
    x, y, err, S, warn = read
    n_all = x.size

    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if err is not None:
        good_err = np.isfinite(err) & (err > 0)
        if not np.all(good_err[ok]):
            warn.append("some yerr are zero or not finite; ignored yerr")
            err = None
    excluded = int(n_all - ok.sum())
    if excluded:
        warn.append(f"{excluded} point(s) with non-positive or non-finite x or y excluded")
    if ok.sum() < 3:
        return _powerlaw_fail(_join(warn + [f"too few usable points ({int(ok.sum())}) for a "
                                             "power-law fit (need at least 3 with x > 0, y > 0)"]),
                              int(ok.sum()), excluded)
    order = np.argsort(x[ok], kind="stable")
    idx = np.flatnonzero(ok)[order]
    xs, ys = x[idx], y[idx]
    if np.unique(xs).size < 2:
        return _powerlaw_fail(_join(warn + ["all usable points have the same x"]), int(xs.size), excluded)
    lx, ly = np.log(xs), np.log(ys)
    sig = None
    if err is not None:
        sig = err[idx] / ys
    elif S is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cnt = np.sum(np.isfinite(S[:, idx]), axis=0)
            sd = np.nanstd(S[:, idx], axis=0, ddof=1) / np.sqrt(np.maximum(cnt, 1))
        if np.all(np.isfinite(sd)) and np.all(sd > 0):
            sig = sd / ys

    # --- the fit range
    if x_range is not None:
        try:
            xr_lo, xr_hi = float(x_range[0]), float(x_range[1])
        except (TypeError, ValueError, IndexError):
            return _powerlaw_fail(_join(warn + ["x_range must be (lo, hi)"]), int(xs.size), excluded)
        sel = (xs >= xr_lo) & (xs <= xr_hi)
        rule = f"given: {xr_lo:g} <= x <= {xr_hi:g}"
        if sel.sum() < 3:
            return _powerlaw_fail(_join(warn + [f"only {int(sel.sum())} usable point(s) inside "
                                                 f"x_range {xr_lo:g}..{xr_hi:g}"]),
                                  int(sel.sum()), excluded)
        i0, i1 = int(np.argmax(sel)), int(sel.size - 1 - np.argmax(sel[::-1]))
    else:
        i0, i1, found = _auto_range(lx, ly, sig, slope_tol)
        rule = RANGE_RULE.format(tol=slope_tol, k=NOISE_SIGMAS)
        if not found:
            warn.append("no window of 4 or more points has a stable log-slope; fitted all points")
    sl = slice(i0, i1 + 1)
    lxk, lyk = lx[sl], ly[sl]
    k = int(lxk.size)
    w = None if sig is None or err is None else 1.0 / sig[sl] ** 2
    a, b, var_a, chi2 = _line(lxk, lyk, w)
    x_lo, x_hi = float(xs[i0]), float(xs[i1])
    decades = float(math.log10(x_hi / x_lo))
    if decades < 1:
        warn.append(f"the fit range spans {decades:.2g} decade(s), less than one")
    if k < MIN_POINTS:
        warn.append(f"only {k} points in the fit range (fewer than {MIN_POINTS})")

    # --- the interval
    ci: list[float | None] = [None, None]
    method = None
    if S is not None:
        gen = _rng(rng)
        cols = idx[sl]
        R = S.shape[0]
        rows = gen.integers(0, R, size=(n_boot, R))
        sub = S[:, cols]
        means = np.empty((n_boot, k))
        for c in range(0, n_boot, 256):  # chunks keep memory at 256 x R x k
            means[c:c + 256] = _row_means(sub[rows[c:c + 256]])
        good = np.all(np.isfinite(means) & (means > 0), axis=1)
        if good.sum() >= max(20, n_boot // 2):
            with np.errstate(divide="ignore", invalid="ignore"):
                slopes = _slopes(lxk, np.log(means[good]), w)
            lo_q, hi_q = np.percentile(slopes, [2.5, 97.5])
            ci = [float(lo_q), float(hi_q)]
            method = "bootstrap"
            if good.sum() < n_boot:
                warn.append(f"{n_boot - int(good.sum())} of {n_boot} bootstrap resamples had a "
                            "non-positive mean and were skipped")
        else:
            warn.append("the bootstrap resamples were mostly non-positive; fell back to least squares")
    if method is None and replicates is not None:
        Rp = np.asarray(replicates, float)
        if Rp.ndim == 2 and Rp.shape[1] == n_all and Rp.shape[0] >= 20:
            sub = Rp[:, idx[sl]]
            good = np.all(np.isfinite(sub) & (sub > 0), axis=1)
            if good.sum() >= max(20, Rp.shape[0] // 2):
                with np.errstate(divide="ignore", invalid="ignore"):
                    slopes = _slopes(lxk, np.log(sub[good]), w)
                lo_q, hi_q = np.percentile(slopes, [2.5, 97.5])
                if hi_q - lo_q > 1e-12 * max(1.0, abs(a)):
                    ci = [float(lo_q), float(hi_q)]
                    method = "bootstrap (replicates)"
                else:
                    # every replicate gives the same curve (a quantile of a few-valued
                    # observable): no sampling spread to show; the curvature is the error
                    warn.append("the replicates are identical (a quantile of a few-valued observable): "
                                "the interval is the local-slope range")
                    deterministic = True
                if good.sum() < Rp.shape[0]:
                    warn.append(f"{Rp.shape[0] - int(good.sum())} of {Rp.shape[0]} replicates had a "
                                "non-positive value in the range and were skipped")
            else:
                warn.append("the replicates were mostly non-positive in the range; fell back to least squares")
        else:
            warn.append("replicates must have shape (B >= 20, len(x)); ignored")
    if method is None and deterministic and k >= 3:
        # slopes of straight lines through sliding windows of a quarter of the range (at
        # least 4 points): a few-valued curve (a median) steps, and single steps mean nothing
        m = min(k, max(4, k // 4))
        loc = np.array([_line(lxk[i:i + m], lyk[i:i + m], None)[0] for i in range(k - m + 1)])
        ci = [float(min(loc.min(), a)), float(max(loc.max(), a))]
        method = "local-slope range (deterministic curve)"
    if method is None:
        dof = k - 2
        if dof < 1:
            warn.append("no degrees of freedom left for an interval")
        else:
            s2 = chi2 / dof
            se = math.sqrt(max(s2, 0.0) * var_a)
            tq = float(stats.t.ppf(0.975, dof))
            ci = [a - tq * se, a + tq * se]
        if w is not None:
            method = "wls"
        else:
            method = "ols"
            warn.append("the interval assumes independent scatter about the power law "
                        "(no yerr or samples given)")
    return {"kind": "powerlaw", "exponent": a, "ci95": ci, "prefactor": float(math.exp(b)),
            "range": [x_lo, x_hi], "points": k, "decades": decades, "excluded": excluded,
            "method": method, "range_rule": rule, "warning": _join(warn)}


# ------------------------------------------------------------------ threshold law
def _threshold_fail(reason: str, points: int = 0, excluded: int = 0) -> dict:
    return {"kind": "threshold", "x_c": None, "g": None, "A": None,
            "ci95": {"x_c": [None, None], "g": [None, None]}, "points": points,
            "excluded": excluded, "method": None, "warning": reason}


def _profile(xs: np.ndarray, ly: np.ndarray, w: np.ndarray | None, deltas: np.ndarray):
    """Chi-square of the best line ``ly = lnA - g ln(x - x_c)`` for ``x_c = min(x) - delta``."""
    xmin = xs[0]
    out = np.empty(deltas.size)
    pars = np.empty((deltas.size, 2))
    for k, d in enumerate(deltas):
        lz = np.log(xs - (xmin - d))
        a, b, _, chi2 = _line(lz, ly, w)
        out[k] = chi2
        pars[k] = (-a, b)
    return out, pars


def _threshold_lsq(xs, ly, w, start, xc_hi):
    """Least squares in log space: params (x_c, g, lnA) with x_c < xc_hi, g > 0."""
    sw = np.ones_like(xs) if w is None else np.sqrt(w)

    def resid(p):
        xc, g, lnA = p
        z = np.maximum(xs - xc, 1e-300)
        return sw * (lnA - g * np.log(z) - ly)

    def jac(p):
        xc, g, lnA = p
        z = np.maximum(xs - xc, 1e-300)
        return np.column_stack([sw * g / z, -sw * np.log(z), sw])

    x0 = np.array(start, dtype=float)
    x0[0] = min(x0[0], xc_hi - 1e-9 * max(1.0, abs(xc_hi)))
    x0[1] = max(x0[1], 1e-9)
    scale = max(xs[-1] - xs[0], abs(xs[0]), 1e-12)
    res = optimize.least_squares(resid, x0, jac=jac, bounds=([-np.inf, 0.0, -np.inf], [xc_hi, np.inf, np.inf]),
                                 x_scale=[scale, 1.0, 1.0], method="trf", xtol=1e-12, ftol=1e-12,
                                 gtol=1e-12, max_nfev=2000)
    return res


def fit_threshold(x, y, *, yerr=None, samples=None, rng=None,
                  n_boot: int = DEFAULT_BOOTSTRAP_THRESHOLD) -> dict:
    r"""Fit a divergence ``y = A (x - x_c)^(-g)`` for ``x > x_c``, with 95% intervals.

    Parameters
    ----------
    x, y : array_like
        The control parameter (e.g. the data-set size ``D``) and the diverging quantity
        (e.g. the grokking time).  Points where ``y`` is None, NaN, infinite or
        ``<= 0`` (below the threshold a first passage may not exist) are excluded and
        counted in ``excluded``.
    yerr : array_like, optional
        Standard errors of ``y``: weights ``(y / yerr)^2`` on ``log y``.
    samples : array_like, optional
        Per-realisation curves, shape ``(R, len(x))``; NaN marks a realisation without a
        value at that point (the curve is the mean over the finite ones).  When given,
        the intervals are a percentile bootstrap over rows.
    rng : numpy.random.Generator or int, optional
        Seeds the bootstrap (default seed 0).

    Returns
    -------
    dict
        ``{"kind": "threshold", "x_c": ..., "g": ..., "A": ..., "ci95": {"x_c": [lo, hi],
        "g": [lo, hi]}, "points": k, "excluded": m, "method": str, "warning": ...}``.

    Notes
    -----
    ``log y = log A - g log(x - x_c)`` is linear in ``(log A, g)`` for a fixed ``x_c``.
    The start is the minimum of that profile chi-square over ``x_c = min(x) - delta``,
    ``delta`` on a log grid from ``1e-6`` to ``1e3`` times the span of ``x``; then
    :func:`scipy.optimize.least_squares` refines all three with ``x_c < min(x)`` and
    ``g > 0``.  Without samples the intervals are ``+- t_{0.975, k-3}`` standard errors
    from the Jacobian covariance ``s^2 (J^T J)^-1``, ``s^2 = chi2/(k-3)``.  ``x_c`` is
    reported as not identified when the optimum sits at ``min(x)`` or runs away to
    ``-infinity`` (the data look like a plain power law or an exponential).
    """
    read = _read_inputs(x, y, yerr, samples)
    if isinstance(read, str):
        return _threshold_fail(read)
    x, y, err, S, warn = read
    n_all = x.size
    ok = np.isfinite(x) & np.isfinite(y) & (y > 0)
    if err is not None and not np.all((np.isfinite(err) & (err > 0))[ok]):
        warn.append("some yerr are zero or not finite; ignored yerr")
        err = None
    excluded = int(n_all - ok.sum())
    if excluded:
        warn.append(f"{excluded} point(s) without a finite positive y excluded")
    k = int(ok.sum())
    if k < MIN_POINTS:
        return _threshold_fail(_join(warn + [f"too few usable points ({k}) for a threshold fit "
                                             f"(need at least {MIN_POINTS}: three parameters)"]),
                               k, excluded)
    order = np.argsort(x[ok], kind="stable")
    idx = np.flatnonzero(ok)[order]
    xs, ys = x[idx], y[idx]
    if np.unique(xs).size < 3:
        return _threshold_fail(_join(warn + ["fewer than 3 distinct x values"]), k, excluded)
    ly = np.log(ys)
    w = None if err is None else (ys / err[idx]) ** 2
    span = float(xs[-1] - xs[0])
    xmin = float(xs[0])
    xc_hi = xmin - 1e-9 * max(span, abs(xmin), 1e-300)

    def fit_once(lyv, start=None):
        deltas = span * np.logspace(-6, 3, 91)
        prof, pars = _profile(xs, lyv, w, deltas)
        kbest = int(np.argmin(prof))
        runaway = kbest == deltas.size - 1
        if start is None:
            start = (xmin - deltas[kbest], pars[kbest, 0], pars[kbest, 1])
        res = _threshold_lsq(xs, lyv, w, start, xc_hi)
        return res, runaway, kbest == 0

    try:
        res, runaway, at_edge = fit_once(ly)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        return _threshold_fail(_join(warn + [f"the fit failed: {exc}"]), k, excluded)
    xc, g, lnA = (float(v) for v in res.x)
    at_bound = (xmin - xc) <= 1e-6 * max(span, 1e-300) or at_edge
    if at_bound:
        warn.append("x_c sits at its bound min(x): the threshold is not identified by these data")
    if runaway:
        warn.append("x_c runs away to -infinity: the data do not show a divergence "
                    "(not identified)")
    g_at_bound = g <= 1e-8
    if g_at_bound:
        warn.append("g sits at its bound 0: the data do not decrease towards a divergence, "
                    "so x_c is not identified")
        at_bound = True

    ci = {"x_c": [None, None], "g": [None, None]}
    method = None
    if S is not None:
        gen = _rng(rng)
        R = S.shape[0]
        sub = S[:, idx]
        boots = []
        for _ in range(n_boot):
            m = _row_means(sub[gen.integers(0, R, size=R)])
            if not np.all(np.isfinite(m) & (m > 0)):
                continue
            try:
                r = _threshold_lsq(xs, np.log(m), w, res.x, xc_hi)
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                continue
            boots.append(r.x[:2])
        if len(boots) >= max(20, n_boot // 2):
            B = np.array(boots)
            ci = {"x_c": [float(v) for v in np.percentile(B[:, 0], [2.5, 97.5])],
                  "g": [float(v) for v in np.percentile(B[:, 1], [2.5, 97.5])]}
            method = "bootstrap"
            if ci["x_c"][1] >= xc_hi - 1e-6 * max(span, 1e-300):
                warn.append("the x_c interval reaches the bound min(x) (one-sided)")
        else:
            warn.append("too few bootstrap resamples were usable; fell back to the Jacobian")
    if method is None:
        method = "jacobian"
        dof = k - 3
        if dof < 1:
            warn.append("no degrees of freedom left for an interval")
        else:
            J = res.jac
            chi2 = float(np.sum(res.fun ** 2))
            s2 = chi2 / dof
            try:
                with np.errstate(all="ignore"):
                    cov = s2 * np.linalg.pinv(J.T @ J)
                se = np.sqrt(np.maximum(np.diag(cov), 0.0))
            except np.linalg.LinAlgError:
                se = np.array([np.inf, np.inf, np.inf])
            tq = float(stats.t.ppf(0.975, dof))
            if np.all(np.isfinite(se[:2])) and not (at_bound or runaway):
                ci = {"x_c": [xc - tq * se[0], xc + tq * se[0]], "g": [g - tq * se[1], g + tq * se[1]]}
                if ci["x_c"][1] >= xmin:
                    warn.append("the x_c interval extends past min(x), where the law is "
                                "undefined: it is not bounded above by the data")
            else:
                warn.append("the interval is unbounded (singular or degenerate covariance)")
        if err is None:
            warn.append("the interval assumes independent scatter about the law "
                        "(no yerr or samples given)")
    if lnA > 700:
        warn.append("the prefactor A overflows a double (the fit is degenerate)")
    A = float(math.exp(lnA)) if lnA <= 700 else None
    ci = {k: [None if v is None else float(v) for v in pair] for k, pair in ci.items()}
    return {"kind": "threshold", "x_c": xc, "g": g, "A": A, "ci95": ci,
            "points": k, "excluded": excluded, "method": method, "warning": _join(warn)}
