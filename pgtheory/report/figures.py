"""Figures for the report, as inline SVG (no files, no network).

The deviation plot, which most claims have, is written as SVG by hand; the others are drawn
with matplotlib's object API (no pyplot), which is imported only when one of them is drawn.
"""

from __future__ import annotations

import io
import math
from html import escape
from typing import Any

import numpy as np

from pgtheory.stats import iqm_band
from pgtheory.stats import performance_profile


def subplots(*args: Any, figsize: tuple[float, float], **kwargs: Any) -> tuple[Any, Any]:
    """pyplot.subplots without pyplot: nothing global, nothing to close, a faster import."""
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small, searchable SVG
    # Names and labels come from claim modules: plain text, never mathtext that fails on "$".
    matplotlib.rcParams["text.parse_math"] = False
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


OUTCOME_COLOURS = {
    "supports": "#1a7f37",
    "refutes": "#cf222e",
    "inconclusive": "#9a6700",
    "error": "#6e7781",
}
#: Deviations beyond this many resolutions are drawn at the edge, with their value written.
X_LIMIT = 4.0
#: What a finding can be drawn as on the deviation plot (its ``figure`` field).
DEVIATION_FIGURES = ("deviation", "log-deviation")
MAX_COMPONENTS = 10


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prolog so the SVG can sit inside HTML


def _rows(check: dict[str, Any]) -> list[tuple[str, float, float, float]]:
    """(label, estimate, ci_low, ci_high) in units of resolution, relative to the reference."""
    est, ref, ci, res = check["estimate"], check["reference"], check["ci"], check["resolution"]
    if check.get("figure") == "log-deviation":  # interval and resolution in log units
        est, ref, ci = math.log(est), math.log(ref), [math.log(ci[0]), math.log(ci[1])]
    if not isinstance(est, list):
        est, ref, ci, res = [est], [ref], [ci], [res]
    rows = []
    for i, (e, r, (lo, hi), q) in enumerate(zip(est, ref, ci, res, strict=True)):
        if i == MAX_COMPONENTS:
            break
        label = check["name"] if len(est) == 1 else f"{check['name']} [{i}]"
        rows.append((label, (e - r) / q, (lo - r) / q, (hi - r) / q))
    return rows


def deviation_plot(checks: list[dict[str, Any]]) -> str | None:
    """Each statistical check's estimate and interval minus the reference, in resolutions.

    The shaded band is +-1 resolution: a check supports when its interval lies inside the
    band and covers 0, and refutes when its interval excludes 0.
    """
    rows = []
    for check in checks:
        if check.get("figure") not in DEVIATION_FIGURES:
            continue
        if check.get("ci") is None or check.get("resolution") is None or check.get("n") is None:
            continue
        if not isinstance(check["ci"][0], list | float | int):
            continue
        colour = OUTCOME_COLOURS[check["outcome"]]
        rows += [(*row, colour, check["role"]) for row in _rows(check)]
    if not rows:
        return None
    return _deviation_svg(rows)


def _deviation_svg(rows: list[tuple[str, float, float, float, str, str]]) -> str:
    """The deviation plot written as SVG: rows of (label, estimate, low, high, colour, role)
    in resolutions; the band is +-1 resolution, values beyond X_LIMIT sit at the edge."""
    left, width, row, top = 330, 420, 18, 8
    height = top + row * len(rows) + 44

    def x(v: float) -> float:
        v = max(-X_LIMIT, min(X_LIMIT, v))
        return left + (v + X_LIMIT + 0.3) / (2 * X_LIMIT + 0.6) * width

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {left + width + 10} {height}" '
        f'width="{left + width + 10}" height="{height}" font-family="sans-serif" font-size="10">',
        f'<rect x="{x(-1):.1f}" y="{top}" width="{x(1) - x(-1):.1f}" height="{row * len(rows)}" '
        'fill="#ddf4ff"/>',
        f'<line x1="{x(0):.1f}" y1="{top}" x2="{x(0):.1f}" y2="{top + row * len(rows)}" '
        'stroke="#57606a" stroke-width="0.8"/>',
    ]
    for i, (label, est, lo, hi, colour, role) in enumerate(rows):
        y = top + row * i + row / 2
        parts.append(
            f'<text x="{left - 8}" y="{y + 3.5:.1f}" text-anchor="end">{escape(label)}</text>'
            f'<line x1="{x(lo):.1f}" y1="{y:.1f}" x2="{x(hi):.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        if role == "negative-control":
            parts.append(
                f'<rect x="{x(est) - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" '
                f'fill="{colour}"/>'
            )
        else:
            parts.append(f'<circle cx="{x(est):.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>')
        if abs(est) > X_LIMIT:
            anchor, dx = ("end", -6) if est > 0 else ("start", 6)
            parts.append(
                f'<text x="{x(est) + dx:.1f}" y="{y - 4:.1f}" text-anchor="{anchor}" '
                f'font-size="9" fill="{colour}">{est:+.3g}</text>'
            )
    axis = top + row * len(rows)
    parts.append(
        f'<line x1="{left}" y1="{axis}" x2="{left + width}" y2="{axis}" stroke="#57606a"/>'
    )
    for tick in range(-int(X_LIMIT), int(X_LIMIT) + 1):
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{axis}" x2="{x(tick):.1f}" y2="{axis + 4}" '
            f'stroke="#57606a"/><text x="{x(tick):.1f}" y="{axis + 15}" '
            f'text-anchor="middle" font-size="9">{tick}</text>'
        )
    parts.append(
        f'<text x="{left + width / 2:.1f}" y="{axis + 32}" text-anchor="middle">'
        "(estimate - reference) / resolution, with the test's confidence interval</text></svg>"
    )
    return "".join(parts)


def scaling_plot(checks: list[dict[str, Any]]) -> str | None:
    """Log-log data of each scaling-law check with its fitted and its predicted slope."""
    fits = [c for c in checks if "log_x" in c.get("data", {})]
    if not fits:
        return None
    fig, axes = subplots(1, len(fits), figsize=(3.4 * len(fits), 2.8), squeeze=False)
    for ax, c in zip(axes[0], fits, strict=True):
        lx, ly, b = c["data"]["log_x"], c["data"]["log_y"], c["data"]["intercept"]
        colour = OUTCOME_COLOURS[c["outcome"]]
        ax.plot(lx, ly, "o", ms=3, color="#24292f")
        ends = [min(lx), max(lx)]
        ax.plot(
            ends,
            [b + c["estimate"] * x for x in ends],
            color=colour,
            lw=1.5,
            label=f"fit {c['estimate']:.3f}",
        )
        centre_x, centre_y = sum(lx) / len(lx), sum(ly) / len(ly)
        ax.plot(
            ends,
            [centre_y + c["reference"] * (x - centre_x) for x in ends],
            "--",
            color="#57606a",
            lw=1,
            label=f"claimed {c['reference']:g}",
        )
        ax.set_title(c["name"], fontsize=7, wrap=True)
        ax.set_xlabel("log x", fontsize=7)
        ax.set_ylabel("log y", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return _svg(fig)


ARM_COLOURS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#9a6700"]


def trajectory_plot(checks: list[dict[str, Any]]) -> str | None:
    """mu and sigma against the episode for the first check that recorded trajectories: per
    arm one seed (thin line, as in the document's figures) and the median with the
    interquartile band over seeds."""
    data = next(
        (c["data"]["trajectories"] for c in checks if "trajectories" in c.get("data", {})), None
    )
    if data is None:
        return None
    fig, axes = subplots(1, 2, figsize=(9, 2.8))
    episodes = data["episode"]
    for colour, (arm, series) in zip(ARM_COLOURS * 3, data["arms"].items(), strict=False):
        for ax, key in zip(axes, ("mu", "sigma"), strict=True):
            s = series[key]
            ax.fill_between(episodes, s["q25"], s["q75"], color=colour, alpha=0.18, lw=0)
            ax.plot(episodes, s["median"], color=colour, lw=1.6, label=f"{arm} (median)")
            ax.plot(episodes, s["single"], color=colour, lw=0.6, alpha=0.8, ls="--")
    axes[0].set_ylabel("mu", fontsize=8)
    axes[1].set_ylabel("sigma", fontsize=8)
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("episode", fontsize=8)
        ax.tick_params(labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0].legend(fontsize=6, frameon=False)
    fig.suptitle("median and interquartile band over seeds; dashed: one seed", fontsize=7)
    fig.tight_layout()
    return _svg(fig)


def learning_curves(runs: list[dict[str, Any]]) -> str | None:
    """Evaluation return against env steps and against seconds, one line per run (algorithm x
    environment): the interquartile mean over seeds on a common grid, with its 95% bootstrap
    band.
    Each seed's curve is held constant between its evaluations."""
    if not runs:
        return None
    fig, axes = subplots(1, 2, figsize=(9, 3))
    several_envs = len({run["env"] for run in runs}) > 1
    for colour, run in zip(ARM_COLOURS * 3, runs, strict=False):
        label = f"{run['algo']}" + (f" on {run['env']}" if several_envs else "")
        curves = [np.asarray(s["curve"], float) for s in run["seeds"] if s["curve"]]
        for ax, column in zip(axes, (0, 1), strict=True):
            start, end = max(c[0, column] for c in curves), max(c[-1, column] for c in curves)
            grid = np.linspace(start, end, 60)  # from where every seed has its first evaluation
            values = np.array([np.interp(grid, c[:, column], c[:, 2], left=np.nan) for c in curves])
            # after a seed stops (solved), hold its last evaluation
            for row, c in zip(values, curves, strict=True):
                row[grid > c[-1, column]] = c[-1, 2]
            iqm, low, high = iqm_band(values, seed=0)  # a picture: a fixed bootstrap seed
            if low is not None:  # no band from fewer than three seeds
                ax.fill_between(grid, low, high, color=colour, alpha=0.15, lw=0)
            ax.plot(grid, iqm, color=colour, lw=1.6, label=f"{label} ({len(curves)} seeds)")
    axes[0].set_xlabel("environment steps", fontsize=8)
    axes[1].set_xlabel("seconds (evaluation included)", fontsize=8)
    for ax in axes:
        ax.set_ylabel("evaluation return", fontsize=8)
        ax.tick_params(labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _svg(fig)


def _run_label(run: dict[str, Any], several_envs: bool) -> str:
    return run["algo"] + (f" on {run['env']}" if several_envs else "")


def performance_profiles(runs: list[dict[str, Any]]) -> str | None:
    """rliable's performance profile of the final evaluation return: per run (algorithm x
    environment), the fraction of seeds scoring above each threshold, with a 95% bootstrap band
    (none from fewer than three seeds). Drawn when several runs are compared."""
    if len(runs) < 2:
        return None
    several_envs = len({x["env"] for x in runs}) > 1
    finals: dict[str, np.ndarray] = {}
    for r in runs:
        label = _run_label(r, several_envs)
        if label in finals:  # the same algorithm twice: tell the runs apart
            label += (
                f" ({len(r['seeds'])} seeds, run {sum(k.startswith(label) for k in finals) + 1})"
            )
        finals[label] = np.array([s["final_eval_return"] for s in r["seeds"]], float)
    everything = np.concatenate(list(finals.values()))
    thresholds = np.linspace(everything.min(), everything.max(), 60)
    profiles = performance_profile(finals, thresholds, seed=0)  # a picture: a fixed seed
    fig, ax = subplots(figsize=(5.5, 3))
    for colour, (label, profile) in zip(ARM_COLOURS * 3, profiles.items(), strict=False):
        ax.plot(thresholds, profile["fraction"], color=colour, lw=1.6, label=label)
        if profile["low"] is not None:
            ax.fill_between(
                thresholds, profile["low"], profile["high"], color=colour, alpha=0.15, lw=0
            )
    ax.set_xlabel("final evaluation return, threshold tau", fontsize=8)
    ax.set_ylabel("fraction of seeds scoring > tau", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return _svg(fig)


DIAGNOSTICS = ("approx_kl", "clip_fraction", "explained_variance", "entropy")


def update_diagnostics(runs: list[dict[str, Any]]) -> str | None:
    """PPO's per-update diagnostics against env steps, median over seeds, where recorded."""
    recorded = [r for r in runs if any(s.get("diagnostics") for s in r["seeds"])]
    if not recorded:
        return None
    several_envs = len({r["env"] for r in runs}) > 1
    fig, axes = subplots(1, len(DIAGNOSTICS), figsize=(11, 2.6))
    for colour, run in zip(ARM_COLOURS * 3, recorded, strict=False):
        for ax, key in zip(axes, DIAGNOSTICS, strict=True):
            series = [
                (
                    np.array([d["steps"] for d in s["diagnostics"]]),
                    np.array([d[key] for d in s["diagnostics"]]),
                )
                for s in run["seeds"]
                if s.get("diagnostics")
            ]
            shortest = min(len(x) for x, _ in series)
            steps = series[0][0][:shortest]
            values = np.median(np.stack([y[:shortest] for _, y in series]), axis=0)
            ax.plot(steps, values, color=colour, lw=1.2, label=_run_label(run, several_envs))
            ax.set_title(key.replace("_", " "), fontsize=8)
            ax.tick_params(labelsize=6)
    axes[0].legend(fontsize=6, frameon=False)
    axes[0].set_xlabel("environment steps (median over seeds)", fontsize=7)
    fig.tight_layout()
    return _svg(fig)
