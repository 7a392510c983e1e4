"""Statistical decisions with declared error semantics.

Every decision here follows one rule, stated before any sample is drawn:

* ``false_alarm`` is the probability of refuting a true statement. It is split
  Bonferroni-style across the components a decision looks at.
* ``resolution`` is the smallest deviation from the reference the decision must detect.

A decision *supports* the statement when the test does not reject and the confidence
interval lies inside ``reference +- resolution``; it *refutes* when the test rejects; it is
*inconclusive* otherwise (the interval is too wide to say anything at that resolution).

The design functions beside each test (``min_samples_for_mean_test``,
``min_discrepancy_detectable_by_mean_test``, ``min_samples_for_slope_test``,
``proportion_test_power``) say what a test can detect before it runs. A planned test sizes
its samples so that a true statement comes out inconclusive with probability at most
``inconclusive`` (:data:`DEFAULT_INCONCLUSIVE`, 1e-5) and a deviation of one resolution is
rejected with probability about ``1 - inconclusive / 2`` (:func:`design_z`).

Non-finite or empty input decides nothing: every decision starts with :func:`undecidable`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from enum import Enum
from statistics import NormalDist
from typing import Any

import numpy as np
import torch

from pgtheory.moments import Moments

DEFAULT_FALSE_ALARM = 1e-6
#: Exact comparisons of more values than this record only their largest discrepancy.
MAX_STORED_VALUES = 32


class Outcome(str, Enum):
    """What a piece of evidence says about the statement it tests."""

    SUPPORTS = "supports"
    REFUTES = "refutes"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


@dataclass
class Finding:
    """The result of one decision: numbers first, then what they say.

    ``estimate``, ``reference`` and ``ci`` are floats for a scalar statement and lists (one
    entry per component) for a vector one. ``data`` holds arrays for plots. ``figure`` says
    what the report can draw it as, set by the decision that made it: ``"deviation"`` (the
    interval and resolution are in the estimate's units) or ``"log-deviation"`` (in log units).
    """

    outcome: Outcome
    method: str
    estimate: Any = None
    reference: Any = None
    statistic: float | None = None
    p_value: float | None = None
    ci: Any = None
    n: int | None = None
    false_alarm: float | None = None
    resolution: Any = None
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    figure: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["outcome"] = self.outcome.value
        return out


def _as_list(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    if isinstance(x, np.ndarray):
        return x.item() if x.ndim == 0 else x.tolist()
    return x


def undecidable(method: str, **inputs: Any) -> Finding | None:
    """An inconclusive finding if any input is empty or holds NaN or inf, else ``None``.

    Every decision here calls it first: non-finite or empty evidence decides nothing (a
    broken check must not refute, and a control that computes NaN must not count as
    refuted). Where non-finiteness is itself the statement, use :func:`finiteness_check`.
    """
    for name, value in inputs.items():
        if isinstance(value, Moments):
            if value.count == 0:
                return Finding(Outcome.INCONCLUSIVE, method, note=f"no values ({name} is empty)")
            value = torch.stack([value.mean.double().reshape(-1), value.std.double().reshape(-1)])
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().double().numpy()
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return Finding(Outcome.INCONCLUSIVE, method, note=f"{name} is not numeric")
        if array.size == 0:
            return Finding(Outcome.INCONCLUSIVE, method, note=f"no values ({name} is empty)")
        if not np.isfinite(array).all():
            return Finding(
                Outcome.INCONCLUSIVE, method, note=f"non-finite estimate ({name} holds NaN or inf)"
            )
    return None


def finiteness_check(value: Any, *, finite: bool, what: str) -> Finding:
    """Decide "``value`` is finite" (``finite=True``) or "``value`` holds a NaN or an inf"
    (``finite=False``) by an explicit predicate: for statements about non-finiteness itself
    (a function returning NaN on some input, a sympy ``oo``)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    array = np.asarray(value, dtype=float)
    is_finite = bool(array.size) and bool(np.isfinite(array).all())
    return Finding(
        Outcome.SUPPORTS if is_finite == finite else Outcome.REFUTES,
        "finiteness predicate",
        estimate=_as_list(array) if array.size <= MAX_STORED_VALUES else None,
        note=f"{what}: {'all finite' if is_finite else 'holds NaN or inf (or is empty)'}",
    )


_STANDARD_NORMAL = NormalDist()


def two_sided_normal_p(z: float) -> float:
    """P(|N(0, 1)| > z)."""
    return math.erfc(abs(z) / math.sqrt(2))


def critical_z(false_alarm: float, components: int = 1) -> float:
    """Two-sided normal quantile for a family-wise error ``false_alarm`` over ``components``."""
    return -_STANDARD_NORMAL.inv_cdf(false_alarm / (2 * components))


#: The probability, per check, that a true statement comes out inconclusive, for which the
#: planned tests size their samples (with about 200 checks over 20 seeds, < 0.05 flips).
DEFAULT_INCONCLUSIVE = 1e-5


def design_z(
    false_alarm: float, inconclusive: float = DEFAULT_INCONCLUSIVE, components: int = 1
) -> float:
    """Standard errors per resolution a planned test needs: its interval's half-width is
    ``z_{false_alarm}`` standard errors, and a true statement stays inside the resolution
    unless its estimate errs by more than ``z_{inconclusive}`` further ones (both two-sided,
    Bonferroni over ``components``). The same margin is the test's power: a deviation of one
    resolution is rejected with probability about ``1 - inconclusive / 2``."""
    return critical_z(false_alarm, components) + critical_z(inconclusive, components)


def min_samples_for_mean_test(
    std: float,
    resolution: float,
    false_alarm: float = DEFAULT_FALSE_ALARM,
    components: int = 1,
    inconclusive: float = DEFAULT_INCONCLUSIVE,
) -> int:
    """Samples needed so that a true mean comes out inconclusive with probability at most
    ``inconclusive`` and a deviation of ``resolution`` is detected with about ``1 -
    inconclusive / 2`` (see :func:`design_z`).

    :param std: (pilot) standard deviation of one sample, the largest over components.
    :param resolution: the smallest deviation of the mean the test must detect.
    """
    z = design_z(false_alarm, inconclusive, components)
    return max(2, math.ceil((z * std / resolution) ** 2))


def min_discrepancy_detectable_by_mean_test(
    std: float,
    n: int,
    false_alarm: float = DEFAULT_FALSE_ALARM,
    components: int = 1,
    inconclusive: float = DEFAULT_INCONCLUSIVE,
) -> float:
    """The deviation of the mean that ``n`` samples detect with power ~ ``1 - inconclusive/2``
    (the inverse of :func:`min_samples_for_mean_test`)."""
    return design_z(false_alarm, inconclusive, components) * std / math.sqrt(n)


def mean_equality_test(
    moments: Moments,
    reference: torch.Tensor | float | Sequence[float],
    *,
    resolution: float | Sequence[float],
    false_alarm: float = DEFAULT_FALSE_ALARM,
) -> Finding:
    """Decide whether the true mean of the sampled quantity equals ``reference``.

    A z-test per component (normal approximation by the CLT, variance estimated from the
    same samples), Bonferroni over components; the engine's calibration tests measure its
    actual false-alarm rate. ``resolution`` is absolute, scalar or per component.
    """
    method = "z-test of the mean (CLT)"
    if stop := undecidable(method, samples=moments, reference=reference, resolution=resolution):
        return stop
    mean = moments.mean.detach().cpu().reshape(-1)
    se = moments.standard_error.detach().cpu().reshape(-1)
    ref = torch.as_tensor(reference, dtype=torch.float64).reshape(-1).expand_as(mean)
    res = torch.as_tensor(resolution, dtype=torch.float64).reshape(-1).expand_as(mean)
    k = mean.numel()
    z = critical_z(false_alarm, k)
    half = z * se
    lo, hi = mean - half, mean + half
    diff = (mean - ref).abs()
    # A zero standard error (a degenerate quantity) decides on exact equality.
    stat = torch.where(se > 0, diff / se.clamp_min(1e-300), torch.where(diff > 0, math.inf, 0.0))
    p_each = torch.special.erfc(stat / math.sqrt(2))  # two-sided normal tail
    p_family = min(1.0, float(p_each.min()) * k)
    rejected = bool((stat > z).any())
    inside = bool(((lo >= ref - res) & (hi <= ref + res)).all())
    if rejected:
        outcome = Outcome.REFUTES
    elif inside:
        outcome = Outcome.SUPPORTS
    else:
        outcome = Outcome.INCONCLUSIVE
    scalar = moments.mean.dim() == 0
    pick = (lambda t: float(t[0])) if scalar else (lambda t: t.tolist())
    return Finding(
        outcome=outcome,
        method=f"z-test of the mean (CLT), Bonferroni over {k} component(s)",
        estimate=pick(mean),
        reference=pick(ref),
        statistic=float(stat.max()),
        p_value=p_family,
        ci=[float(lo[0]), float(hi[0])] if scalar else torch.stack([lo, hi], 1).tolist(),
        n=moments.count,
        false_alarm=false_alarm,
        resolution=pick(res),
        note="" if outcome != Outcome.INCONCLUSIVE else "interval wider than the resolution",
        figure="deviation",
    )


def slope_test(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    predicted: float,
    *,
    resolution: float,
    false_alarm: float = DEFAULT_FALSE_ALARM,
) -> Finding:
    """Decide whether ``y ~ C x**predicted`` by least squares on ``log y`` against ``log x``.

    The slope's interval uses Student's t with ``len(x) - 2`` degrees of freedom; the test
    rejects when ``predicted`` lies outside it. Inputs must be positive.
    """
    from scipy import stats as sps

    method = "log-log least squares, t interval of the slope"
    if stop := undecidable(method, x=x, y=y):
        return stop
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) != len(y) or len(x) < 3 or min(np.min(x), np.min(y)) <= 0:
        return Finding(Outcome.INCONCLUSIVE, method, note="needs 3 or more positive (x, y) pairs")
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    fit = sps.linregress(lx, ly)
    t = float(sps.t.isf(false_alarm / 2, len(lx) - 2))
    lo, hi = fit.slope - t * fit.stderr, fit.slope + t * fit.stderr
    stat = abs(fit.slope - predicted) / fit.stderr if fit.stderr > 0 else math.inf
    if not lo <= predicted <= hi:
        outcome = Outcome.REFUTES
    elif predicted - resolution <= lo and hi <= predicted + resolution:
        outcome = Outcome.SUPPORTS
    else:
        outcome = Outcome.INCONCLUSIVE
    return Finding(
        outcome=outcome,
        method="log-log least squares, t interval of the slope",
        estimate=float(fit.slope),
        reference=predicted,
        statistic=float(stat),
        p_value=float(2 * sps.t.sf(stat, len(lx) - 2)),
        ci=[float(lo), float(hi)],
        n=len(lx),
        false_alarm=false_alarm,
        resolution=resolution,
        data={"log_x": lx.tolist(), "log_y": ly.tolist(), "intercept": float(fit.intercept)},
        figure="deviation",
    )


def slope_coefficients(x: Sequence[float] | np.ndarray) -> np.ndarray:
    """c with slope = c . log y for the least-squares fit of log y on log x."""
    lx = np.log(np.asarray(x, float))
    centred = lx - lx.mean()
    return centred / (centred @ centred)


def min_samples_for_slope_test(
    x: Sequence[float] | np.ndarray,
    relative_covariance: np.ndarray,
    resolution: float,
    false_alarm: float = 1e-4,
    inconclusive: float = DEFAULT_INCONCLUSIVE,
) -> int:
    """Samples (per grid point, or chains) for :func:`log_means_slope_test` to decide within
    ``resolution``. ``relative_covariance[i, j]`` is the covariance of one sample's values at
    points i and j divided by mean_i mean_j (diagonal for independent points); the slope's
    standard error is then sqrt(c' R c / n) by the delta method."""
    c = slope_coefficients(x)
    unit = float(c @ np.asarray(relative_covariance, float) @ c)
    return max(2, math.ceil(unit * (design_z(false_alarm, inconclusive) / resolution) ** 2))


def _log_means_slope(
    method: str,
    x: Sequence[float] | np.ndarray,
    means: Sequence[float] | np.ndarray,
    covariance_of_means: np.ndarray,
    false_alarm: float,
) -> Finding | tuple[float, float, float, float]:
    """The least-squares slope of log mean on log x, its standard error by the delta method
    from the sampling covariance of the means, and its z interval at confidence
    1 - false_alarm; or, where that cannot be had, the inconclusive finding that says why."""
    if stop := undecidable(method, x=x, means=means, covariance=covariance_of_means):
        return stop
    m = np.asarray(means, float)
    if len(m) < 3 or (m <= 0).any() or (np.asarray(x, float) <= 0).any():
        return Finding(Outcome.INCONCLUSIVE, method, note="needs 3 or more positive means")
    c = slope_coefficients(x)
    slope = float(c @ np.log(m))
    relative = np.asarray(covariance_of_means) / np.outer(m, m)
    se = math.sqrt(max(float(c @ relative @ c), 0.0))
    z = critical_z(false_alarm)
    return slope, se, slope - z * se, slope + z * se


def log_means_slope_test(
    x: Sequence[float] | np.ndarray,
    means: Sequence[float] | np.ndarray,
    covariance_of_means: np.ndarray,
    predicted: float,
    *,
    resolution: float,
    false_alarm: float = 1e-4,
    n: int | None = None,
) -> Finding:
    """Decide ``E[Y(x)] ~ C x**predicted`` from Monte Carlo means at the grid ``x``.

    The exponent is the least-squares slope of log mean on log x; its standard error comes
    from the sampling covariance of the means by the delta method (points sampled
    independently: a diagonal covariance; the same chains at every point: the full one), so
    the interval is a z-interval of the sampling error, not of the residuals, and the law is
    taken as exact on the grid. Supports when the interval lies within predicted +-
    resolution; refutes when it excludes ``predicted``.
    """
    method = "log-log least squares of Monte Carlo means, delta-method z interval"
    estimate = _log_means_slope(method, x, means, covariance_of_means, false_alarm)
    if isinstance(estimate, Finding):
        return estimate
    slope, se, lo, hi = estimate
    stat = abs(slope - predicted) / se if se > 0 else (math.inf if slope != predicted else 0.0)
    if stat > critical_z(false_alarm):
        outcome = Outcome.REFUTES
    elif predicted - resolution <= lo and hi <= predicted + resolution:
        outcome = Outcome.SUPPORTS
    else:
        outcome = Outcome.INCONCLUSIVE
    lx, log_means = np.log(np.asarray(x, float)), np.log(np.asarray(means, float))
    return Finding(
        outcome=outcome,
        method=method,
        estimate=slope,
        reference=predicted,
        statistic=float(stat),
        p_value=two_sided_normal_p(stat),
        ci=[lo, hi],
        n=n,
        false_alarm=false_alarm,
        resolution=resolution,
        data={
            "log_x": lx.tolist(),
            "log_y": log_means.tolist(),
            "intercept": float(log_means.mean() - slope * lx.mean()),
        },
        figure="deviation",
    )


def log_means_trend_test(
    x: Sequence[float] | np.ndarray,
    means: Sequence[float] | np.ndarray,
    covariance_of_means: np.ndarray,
    direction: str,
    *,
    false_alarm: float = 1e-4,
    n: int | None = None,
) -> Finding:
    """Decide "E[Y(x)] ``falls``" (or ``grows``) along the grid ``x`` from Monte Carlo means:
    the sign of the log-log slope that :func:`log_means_slope_test` estimates, with the same
    delta-method z interval at confidence 1 - false_alarm. Supports when the interval lies on
    the stated side of 0, refutes when it lies on the other, else inconclusive (so a flat
    trend is wrongly decided either way at rate false_alarm / 2 each)."""
    if direction not in ("falls", "grows"):
        raise ValueError(f"unknown direction {direction!r}")
    method = "sign of the log-log least-squares slope of Monte Carlo means, delta-method z interval"
    estimate = _log_means_slope(method, x, means, covariance_of_means, false_alarm)
    if isinstance(estimate, Finding):
        return estimate
    slope, se, lo, hi = estimate
    below, above = hi < 0, lo > 0
    stated, other = (below, above) if direction == "falls" else (above, below)
    outcome = Outcome.SUPPORTS if stated else Outcome.REFUTES if other else Outcome.INCONCLUSIVE
    return Finding(
        outcome,
        method,
        estimate=slope,
        reference=0.0,
        statistic=slope / se if se > 0 else None,
        p_value=two_sided_normal_p(slope / se) if se > 0 else 0.0,
        ci=[lo, hi],
        n=n,
        false_alarm=false_alarm,
    )


def exact_comparison(
    value: torch.Tensor | float,
    reference: torch.Tensor | float,
    *,
    tolerance: float = 1e-9,
    method: str = "exact computation in float64",
) -> Finding:
    """Compare two exactly computed quantities up to a rounding ``tolerance``.

    The tolerance is relative to ``max(1, |reference|)``: it covers float64 rounding, not
    sampling error, so any discrepancy above it refutes.
    """
    if stop := undecidable(method, value=value, reference=reference):
        return stop
    v = torch.as_tensor(value, dtype=torch.float64).detach().cpu()
    r = torch.as_tensor(reference, dtype=torch.float64).detach().cpu()
    err = float(((v - r).abs() / r.abs().clamp_min(1.0)).max()) if v.numel() else 0.0
    outcome = Outcome.SUPPORTS if err <= tolerance else Outcome.REFUTES
    small = v.numel() <= MAX_STORED_VALUES  # large arrays are summarised, not stored
    return Finding(
        outcome=outcome,
        method=method,
        estimate=_as_list(v) if small else None,
        reference=_as_list(r) if small else None,
        statistic=err,
        resolution=tolerance,
        note=f"{v.numel()} value(s); largest relative discrepancy {err:.3g} "
        f"(tolerance {tolerance:.0e})",
    )


_RELATIONS = {
    "below": lambda v, b, m: v < b - m,
    "at_most": lambda v, b, m: v <= b + m,
    "above": lambda v, b, m: v > b + m,
    "at_least": lambda v, b, m: v >= b - m,
}


def exact_bound(
    value: float,
    bound: float,
    *,
    relation: str,
    margin: float = 0.0,
    method: str = "exact computation in float64",
    note: str = "",
) -> Finding:
    """Decide "``value`` is below / at most / above / at least ``bound``" for exactly computed
    numbers (no sampling error): supports when the relation holds, by more than ``margin``
    for the strict ones and within it for the others; refutes otherwise."""
    if relation not in _RELATIONS:
        raise ValueError(f"unknown relation {relation!r}")
    if stop := undecidable(method, value=value, bound=bound):
        return stop
    value, bound = float(value), float(bound)
    holds = _RELATIONS[relation](value, bound, margin)
    return Finding(
        Outcome.SUPPORTS if holds else Outcome.REFUTES,
        method,
        estimate=value,
        reference=bound,
        resolution=margin or None,
        note=note
        or f"{value:.6g} {relation.replace('_', ' ')} {bound:.6g}: {'holds' if holds else 'fails'}",
    )


def exact_properties(
    failures: Sequence[str], *, method: str, checked: str, values: Any = None, **fields: Any
) -> Finding:
    """Decide a conjunction of exactly checked properties: supports when none failed,
    refutes naming those that did. ``checked`` says what was checked; ``values`` (optional)
    are the numbers the properties were computed from, so that NaN decides nothing."""
    if values is not None and (stop := undecidable(method, values=values)):
        return stop
    return Finding(
        Outcome.REFUTES if failures else Outcome.SUPPORTS,
        method,
        note="; ".join(failures) or checked,
        **fields,
    )


def effect_size(size: float, *, measure: str, setting: str) -> Finding:
    """A finding's size for the report: a dimensionless ``size`` (a relative discrepancy, a
    ratio minus one, a probability), what it measures, and the setting it was computed in."""
    if stop := undecidable(measure, size=size):
        return stop
    return Finding(Outcome.SUPPORTS, measure, estimate=float(size), note=setting)


def binomial_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval of a success probability."""
    from scipy import stats as sps

    ci = sps.binomtest(successes, trials).proportion_ci(confidence, method="exact")
    return float(ci.low), float(ci.high)


def all_hold(findings: Sequence[Finding]) -> Finding:
    """The conjunction of several findings about parts of one statement.

    It refutes if any part refutes, is inconclusive if any part is, and supports otherwise;
    the first deciding finding is returned with the number of parts in its note.
    """
    order = (Outcome.REFUTES, Outcome.INCONCLUSIVE, Outcome.SUPPORTS)
    for outcome in order:
        for f in findings:
            if f.outcome == outcome:
                f.note = "; ".join(s for s in (f.note, f"{len(findings)} part(s) tested") if s)
                return f
    return Finding(Outcome.INCONCLUSIVE, "conjunction of findings", note="no findings")


def log_ratio_test(
    numerator: Moments,
    denominator: Moments,
    *,
    predicted: float = 1.0,
    alternative: str = "equal",
    resolution: float,
    false_alarm: float = DEFAULT_FALSE_ALARM,
) -> Finding:
    """Decide a statement about the ratio of two positive means from independent samples.

    Typical use: the ratio of two estimators' variances, each the mean of squared deviations
    from a known expectation. The interval is for ``log(mean_num / mean_den)`` by the delta
    method (needs finite variances of the summands, i.e. finite fourth moments of the
    estimators); ``resolution`` is in log units (0.1 ~ 10%).

    ``alternative="equal"``: the ratio equals ``predicted`` (supports when the interval lies
    within ``log(predicted) +- resolution`` and covers it; refutes when it excludes it).
    ``alternative="below"``: the ratio is below ``predicted`` (supports when the whole interval
    is below ``log(predicted)``; refutes when the ratio is at least
    ``predicted * exp(-resolution)``, i.e. any reduction is smaller than the resolution).
    """
    method = f"log ratio of means, delta-method interval ({alternative})"
    if stop := undecidable(method, numerator=numerator, denominator=denominator):
        return stop
    mn, mdn = float(numerator.mean), float(denominator.mean)
    if mn <= 0 or mdn <= 0:
        return Finding(Outcome.INCONCLUSIVE, method, note="a mean is not positive: no log ratio")
    log_ratio = math.log(mn / mdn)
    se = math.hypot(float(numerator.standard_error) / mn, float(denominator.standard_error) / mdn)
    z = critical_z(false_alarm)
    lo, hi = log_ratio - z * se, log_ratio + z * se
    target = math.log(predicted)
    if alternative == "equal":
        if not lo <= target <= hi:
            outcome = Outcome.REFUTES
        elif target - resolution <= lo and hi <= target + resolution:
            outcome = Outcome.SUPPORTS
        else:
            outcome = Outcome.INCONCLUSIVE
    elif alternative == "below":
        if hi < target:
            outcome = Outcome.SUPPORTS
        elif lo > target - resolution:
            outcome = Outcome.REFUTES
        else:
            outcome = Outcome.INCONCLUSIVE
    else:
        raise ValueError(f"unknown alternative {alternative!r}")
    return Finding(
        outcome=outcome,
        method=f"log ratio of means, delta-method interval ({alternative})",
        estimate=math.exp(log_ratio),
        reference=predicted,
        statistic=abs(log_ratio - target) / se if se > 0 else math.inf,
        p_value=two_sided_normal_p(abs(log_ratio - target) / se) if se > 0 else 0.0,
        ci=[math.exp(lo), math.exp(hi)],
        n=numerator.count + denominator.count,
        false_alarm=false_alarm,
        resolution=resolution,
        note=f"ratio {math.exp(log_ratio):.4g} (log-scale resolution {resolution:g})",
        figure="log-deviation",
    )


def proportionality_check(
    value: torch.Tensor, reference: torch.Tensor, *, tolerance: float = 1e-9
) -> Finding:
    """Decide whether ``value`` is a positive multiple of ``reference`` (both exact).

    The best scale is the least-squares c = <value, reference> / ||reference||^2; the relative
    residual ||value - c reference|| / ||value|| must stay within ``tolerance`` and c be > 0.
    """
    method = "least-squares scale and relative residual, exact"
    if stop := undecidable(method, value=value, reference=reference):
        return stop
    v = torch.as_tensor(value, dtype=torch.float64).detach().cpu().reshape(-1)
    r = torch.as_tensor(reference, dtype=torch.float64).detach().cpu().reshape(-1)
    if float(r @ r) == 0 or v.shape != r.shape:
        return Finding(Outcome.INCONCLUSIVE, method, note="zero or mismatched reference")
    scale = float(v @ r / (r @ r))
    residual = float((v - scale * r).norm() / v.norm().clamp_min(1e-300))
    holds = scale > 0 and residual <= tolerance
    return Finding(
        Outcome.SUPPORTS if holds else Outcome.REFUTES,
        "least-squares scale and relative residual, exact",
        estimate=scale,
        statistic=residual,
        resolution=tolerance,
        note=f"scale {scale:.6g}, relative residual {residual:.3g} (tolerance {tolerance:.0e})",
    )


def bootstrap_interval(
    statistic: Callable[..., np.ndarray],
    samples: Sequence[np.ndarray],
    *,
    seed: int,
    confidence: float = 0.95,
    resamples: int = 2000,
) -> tuple[Any, Any]:
    """Percentile-bootstrap interval of ``statistic(*samples, axis=0)``.

    Each sample is resampled along its first axis, independently of the others (a
    stratified bootstrap when the samples are strata), ``resamples`` times at once; the
    statistic must reduce along ``axis``. Returns ``(low, high)``: floats for a scalar
    statistic, arrays for a vector one (e.g. one interval per point of a learning curve).
    """
    rng = np.random.default_rng(seed)
    drawn = [np.asarray(x, float)[rng.integers(0, len(x), (resamples, len(x)))] for x in samples]
    values = statistic(*drawn, axis=1)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(values, [tail, 1 - tail], axis=0)
    return (float(lo), float(hi)) if np.ndim(lo) == 0 else (lo, hi)


def median_difference_interval(x: np.ndarray, y: np.ndarray, *, seed: int) -> tuple[float, float]:
    """95% percentile-bootstrap interval of median(x) - median(y) (2000 resamples)."""
    return bootstrap_interval(
        lambda a, b, axis: np.median(a, axis) - np.median(b, axis), (x, y), seed=seed
    )


def interquartile_mean(values: Sequence[float] | np.ndarray, axis: int = 0) -> Any:
    """The mean of the middle 50% (25% trimmed at each end), as rliable defines the IQM."""
    from scipy import stats as sps

    return sps.trim_mean(np.asarray(values, float), 0.25, axis=axis)


#: Fewer seeds than this give no interval: a bootstrap over one or two values is the range.
MIN_SEEDS_FOR_INTERVAL = 3


def iqm_with_interval(
    values: Sequence[float], *, seed: int, confidence: float = 0.95
) -> dict[str, Any]:
    """IQM over seeds and its percentile-bootstrap interval (``None`` with fewer than
    :data:`MIN_SEEDS_FOR_INTERVAL` seeds). With one task, the stratified bootstrap of
    Agarwal et al. (2021) reduces to resampling the seeds."""
    x = np.asarray(values, float)
    ci = None
    if len(x) >= MIN_SEEDS_FOR_INTERVAL:
        ci = list(bootstrap_interval(interquartile_mean, (x,), seed=seed, confidence=confidence))
    return {"iqm": float(interquartile_mean(x)), "ci": ci, "n": len(x)}


def iqm_band(
    values: np.ndarray, *, seed: int, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | tuple[np.ndarray, None, None]:
    """Per column of ``values`` (seeds x points): the IQM over seeds and its bootstrap band,
    all columns resampled together; no band with fewer than :data:`MIN_SEEDS_FOR_INTERVAL`
    seeds."""
    iqm = interquartile_mean(values)
    if values.shape[0] < MIN_SEEDS_FOR_INTERVAL:
        return iqm, None, None
    lo, hi = bootstrap_interval(interquartile_mean, (values,), seed=seed, confidence=confidence)
    return iqm, lo, hi


def performance_profile(
    scores: dict[str, np.ndarray], thresholds: np.ndarray, *, seed: int, resamples: int = 2000
) -> dict[str, dict[str, np.ndarray]]:
    """rliable's performance profile: per algorithm, the fraction of runs whose score exceeds
    each threshold, with a 95% bootstrap band over runs."""
    out = {}
    for name, runs in scores.items():
        runs = np.asarray(runs, float)

        def exceed(x: np.ndarray, axis: int) -> np.ndarray:
            return (np.expand_dims(x, -1) > thresholds).mean(axis)

        fraction = (runs[:, None] > thresholds).mean(0)
        band = (
            bootstrap_interval(exceed, (runs,), seed=seed, resamples=resamples)
            if len(runs) >= MIN_SEEDS_FOR_INTERVAL
            else (None, None)
        )
        out[name] = {"fraction": fraction, "low": band[0], "high": band[1]}
    return out


def probability_of_improvement(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, *, seed: int
) -> dict[str, Any]:
    """P(X > Y) between two algorithms' runs (rliable's probability of improvement, one task),
    with a 95% stratified-bootstrap interval (none with fewer than three runs each)."""

    def improvement(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
        a, b = np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1)
        return (
            (a[..., :, None] > b[..., None, :]) + 0.5 * (a[..., :, None] == b[..., None, :])
        ).mean((-1, -2))

    a, b = np.asarray(x, float), np.asarray(y, float)
    estimate = 1 - probability_of_superiority(a, b) if len(a) and len(b) else float("nan")
    ci = None
    if min(len(a), len(b)) >= MIN_SEEDS_FOR_INTERVAL:
        ci = list(bootstrap_interval(improvement, (a, b), seed=seed))
    return {"estimate": estimate, "ci": ci, "n": [len(a), len(b)]}


def probability_of_superiority(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray
) -> float:
    """P(A < B) + P(A = B) / 2 estimated from the samples (the Mann-Whitney U of a against b
    over n_a n_b): 1/2 when neither tends to be smaller."""
    x, y = np.asarray(a, float)[:, None], np.asarray(b, float)[None, :]
    return float(((x < y) + 0.5 * (x == y)).mean())


def min_samples_for_rank_test(
    superiority: float,
    false_alarm: float = 1e-4,
    inconclusive: float = DEFAULT_INCONCLUSIVE,
) -> int:
    """Samples per arm for :func:`rank_comparison` to support "a < b" with probability about
    ``1 - inconclusive`` when P(A < B) = ``superiority`` (Noether's formula for the
    Mann-Whitney test, two equal arms, one-sided at ``false_alarm``)."""
    z = _STANDARD_NORMAL.inv_cdf(1 - false_alarm) + _STANDARD_NORMAL.inv_cdf(1 - inconclusive)
    effect = max(abs(superiority - 0.5), 1e-6)
    return max(2, math.ceil(z**2 / (6 * effect**2)))


def rank_comparison(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    resolution: float,
    false_alarm: float = 1e-4,
    seed: int,
) -> Finding:
    """Decide the statement "a is stochastically smaller than b" from independent samples
    (e.g. a metric over seeds in two arms of an experiment).

    Mann-Whitney U, one-sided, at ``false_alarm``: supports when a < b is significant; refutes
    when a > b is significant, or when the 95% bootstrap interval of the difference of medians
    lies within +-``resolution`` (no material difference); inconclusive otherwise.
    """
    from scipy import stats as sps

    method = "Mann-Whitney U (one-sided), bootstrap interval of the median difference"
    if stop := undecidable(method, a=a, b=b):
        return stop
    x, y = np.asarray(a, float), np.asarray(b, float)
    p_less = float(sps.mannwhitneyu(x, y, alternative="less").pvalue)
    p_greater = float(sps.mannwhitneyu(x, y, alternative="greater").pvalue)
    lo, hi = median_difference_interval(x, y, seed=seed)
    if p_less < false_alarm:
        outcome = Outcome.SUPPORTS
    elif p_greater < false_alarm or (-resolution <= lo and hi <= resolution):
        outcome = Outcome.REFUTES
    else:
        outcome = Outcome.INCONCLUSIVE
    return Finding(
        outcome=outcome,
        method="Mann-Whitney U (one-sided), bootstrap interval of the median difference",
        estimate=float(np.median(x) - np.median(y)),
        reference=0.0,
        p_value=p_less,
        ci=[lo, hi],
        n=len(x) + len(y),
        false_alarm=false_alarm,
        resolution=resolution,
        note=f"medians {np.median(x):.4g} vs {np.median(y):.4g}; p(a < b) = {p_less:.2g}, "
        f"p(a > b) = {p_greater:.2g}",
    )


def proportion_test(
    successes: int,
    trials: int,
    threshold: float,
    *,
    false_alarm: float = 1e-4,
    alternative: str = "above",
) -> Finding:
    """Decide "the success probability is above ``threshold``" (or, with ``alternative=
    "below"``, below it) with a Clopper-Pearson interval at confidence 1 - false_alarm:
    supports when the interval lies on the stated side, refutes when it lies on the other,
    else inconclusive."""
    if alternative not in ("above", "below"):
        raise ValueError(f"unknown alternative {alternative!r}")
    if trials <= 0 or not 0 <= successes <= trials:
        return Finding(
            Outcome.INCONCLUSIVE, "Clopper-Pearson interval of a proportion", note="no trials"
        )
    lo, hi = binomial_interval(successes, trials, 1 - false_alarm)
    above, below = lo > threshold, hi < threshold
    stated, other = (above, below) if alternative == "above" else (below, above)
    outcome = Outcome.SUPPORTS if stated else Outcome.REFUTES if other else Outcome.INCONCLUSIVE
    return Finding(
        outcome=outcome,
        method="Clopper-Pearson interval of a proportion",
        estimate=successes / trials,
        reference=threshold,
        ci=[lo, hi],
        n=trials,
        false_alarm=false_alarm,
        note=f"{successes} of {trials}",
    )


def proportion_test_power(
    trials: int, threshold: float, alternative: float, *, false_alarm: float = 1e-4
) -> float:
    """Probability that :func:`proportion_test` supports "p > ``threshold``" after ``trials``
    trials when the true probability is ``alternative``: the design side of that test."""
    from scipy import stats as sps

    # the Clopper-Pearson lower bound of every success count at once (binomial_interval's)
    successes = np.arange(1, trials + 1)
    lower = sps.beta.ppf(false_alarm / 2, successes, trials - successes + 1)
    enough = successes[lower > threshold]
    needed = int(enough[0]) if len(enough) else trials + 1
    return float(sps.binom.sf(needed - 1, trials, alternative))


def min_trials_for_proportion_test(
    threshold: float,
    alternative: float,
    *,
    false_alarm: float = 1e-4,
    inconclusive: float = DEFAULT_INCONCLUSIVE,
) -> int:
    """The fewest trials at which :func:`proportion_test` supports "p > ``threshold``" with
    probability at least 1 - ``inconclusive`` when the true probability is ``alternative``."""
    if not threshold < alternative < 1:
        raise ValueError("the alternative must lie between the threshold and 1")
    return next(
        n
        for n in itertools.count(1)
        if proportion_test_power(n, threshold, alternative, false_alarm=false_alarm)
        >= 1 - inconclusive
    )


def sign_test(
    wins: Sequence[bool] | np.ndarray,
    what: str,
    *,
    planned_for: float,
    false_alarm: float = 1e-4,
    inconclusive: float = DEFAULT_INCONCLUSIVE,
    detail: str = "",
) -> Finding:
    """Decide "P(win) > 1/2" over independent paired seeds (a tie is no win): the
    :func:`proportion_test` of the wins, its note saying ``what`` won how often and the design
    (the probability ``planned_for`` that :func:`min_trials_for_proportion_test` planned the
    pairs to detect)."""
    wins = np.asarray(wins, bool)
    finding = proportion_test(int(wins.sum()), len(wins), 0.5, false_alarm=false_alarm)
    if not len(wins):
        return finding  # its note says why nothing is decided
    finding.note = (
        f"{what} in {int(wins.sum())} of {len(wins)} paired seeds{detail}; sign test planned "
        f"to detect P = {planned_for} with probability 1 - {inconclusive:g} at false "
        f"alarm {false_alarm:g}"
    )
    return finding


def equivalence_test(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    resolution: float,
    seed: int,
) -> Finding:
    """Decide "a and b are comparable": the 95% bootstrap interval of the difference of medians
    lies within +-``resolution`` (supports), lies entirely outside it (refutes), or neither."""
    method = "bootstrap interval of the difference of medians (equivalence)"
    if stop := undecidable(method, a=a, b=b):
        return stop
    x, y = np.asarray(a, float), np.asarray(b, float)
    lo, hi = median_difference_interval(x, y, seed=seed)
    if -resolution <= lo and hi <= resolution:
        outcome = Outcome.SUPPORTS
    elif lo > resolution or hi < -resolution:
        outcome = Outcome.REFUTES
    else:
        outcome = Outcome.INCONCLUSIVE
    return Finding(
        outcome=outcome,
        method="bootstrap interval of the difference of medians (equivalence)",
        estimate=float(np.median(x) - np.median(y)),
        reference=0.0,
        ci=[lo, hi],
        n=len(x) + len(y),
        resolution=resolution,
        note=f"medians {np.median(x):.4g} vs {np.median(y):.4g}",
    )


def mean_below_test(
    moments: Moments, bound: float, *, false_alarm: float = DEFAULT_FALSE_ALARM
) -> Finding:
    """Decide "the true mean is below ``bound``" (scalar): supports when the upper end of the
    confidence interval is below it, refutes when the lower end is above it."""
    if stop := undecidable("z interval of the mean against a bound (CLT)", samples=moments):
        return stop
    mean, se = float(moments.mean), float(moments.standard_error)
    z = critical_z(false_alarm)
    lo, hi = mean - z * se, mean + z * se
    outcome = (
        Outcome.SUPPORTS if hi < bound else Outcome.REFUTES if lo > bound else Outcome.INCONCLUSIVE
    )
    return Finding(
        outcome=outcome,
        method="z interval of the mean against a bound (CLT)",
        estimate=mean,
        reference=bound,
        ci=[lo, hi],
        n=moments.count,
        false_alarm=false_alarm,
        note=f"mean {mean:.4g}, interval [{lo:.4g}, {hi:.4g}], bound {bound:g}",
    )
