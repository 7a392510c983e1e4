"""The self-contained HTML report, rendered from the same document as results.json."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import jinja2

from pgtheory.claim import Verdict
from pgtheory.report.figures import (
    deviation_plot,
    learning_curves,
    scaling_plot,
    trajectory_plot,
)
from pgtheory.report.results import write_atomically

MAX_LISTED = 8


def fmt(value: Any) -> str:
    """Numbers to 4 significant digits; long vectors shortened with a count of what is left."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        shown = ", ".join(fmt(v) for v in value[:MAX_LISTED])
        more = f", ... ({len(value) - MAX_LISTED} more)" if len(value) > MAX_LISTED else ""
        return f"[{shown}{more}]"
    return str(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pgtheory.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    return env


def render_report(document: dict[str, Any]) -> str:
    """The report of one results document (:func:`results_document`)."""
    rl_runs = document.get("rl", [])
    claims = document["claims"]
    counts = Counter(c["verdict"] or "skipped" for c in claims)
    order = {"wrong": 0, "missing-condition": 1, "imprecise": 2, "erratum": 3, None: 4}
    findings = sorted(
        (c for c in claims if c["verdict"] in ("refuted", "conditional")),
        key=lambda c: (order.get(c.get("severity"), 4), c["id"]),
    )
    timings = sorted(
        ((c["id"], e["name"], e["seconds"]) for c in claims for e in c["checks"]),
        key=lambda t: -t[2],
    )
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            run=document,
            claims=claims,
            counts=[(v, counts[v]) for v in [*(v.value for v in Verdict), "skipped"] if counts[v]],
            findings=findings,
            unexpected=sum(not c["as_expected"] for c in claims),
            figures={
                c["id"]: [
                    f
                    for f in (
                        trajectory_plot(c["checks"]),
                        deviation_plot(c["checks"]),
                        scaling_plot(c["checks"]),
                    )
                    if f
                ]
                for c in claims
            },
            timings=timings,
            rl_runs=rl_runs,
            rl_figure=learning_curves(rl_runs),
        )
    )


def write_report(document: dict[str, Any], path: Path) -> None:
    write_atomically(path, render_report(document))
