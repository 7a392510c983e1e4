"""The self-contained HTML report, rendered from the same document as results.json."""

from __future__ import annotations

import base64
import re
from collections import Counter
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from pgtheory.claim import Verdict
from pgtheory.report.figures import deviation_plot
from pgtheory.report.figures import learning_curves
from pgtheory.report.figures import performance_profiles
from pgtheory.report.figures import scaling_plot
from pgtheory.report.figures import trajectory_plot
from pgtheory.report.figures import update_diagnostics
from pgtheory.report.results import write_atomically
from pgtheory.sources import document_title
from pgtheory.sources import published_figure_000

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


def mathml(latex: str) -> markupsafe.Markup:
    """LaTeX as MathML, which browsers render natively (no script, no network); the source
    stays in the MathML annotation. Text that does not convert is shown as code."""
    from latex2mathml.converter import convert

    try:
        return markupsafe.Markup(convert(latex, display="block"))
    except Exception:  # a formula that does not convert is shown as text
        return markupsafe.Markup("<pre class='latex'>{}</pre>").format(latex)


def published_figure(title: str) -> str | None:
    """000's published figure for a claim titled "Figure N: ...", as a data URI."""
    match = re.match(r"Figure (\d+):", title)
    path = published_figure_000(int(match.group(1))) if match else None
    if path is None:
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pgtheory.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    env.filters["mathml"] = mathml
    return env


def render_report(document: dict[str, Any]) -> str:
    """The report of one results document (:func:`results_document`)."""
    rl_runs = document.get("rl", [])
    claims = document["claims"]
    counts = Counter(c["verdict"] or "skipped" for c in claims)
    order = {"wrong": 0, "missing-condition": 1, "imprecise": 2, "erratum": 3, None: 4}
    findings = sorted(
        (c for c in claims if c["verdict"] in ("refuted", "conditional")),
        key=lambda c: (
            order.get(c.get("severity"), 4),
            -((c.get("effect") or {}).get("size") or 0.0),
            c["id"],
        ),
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
            documents=_documents(claims),
            published={c["id"]: published_figure(c["title"]) for c in claims},
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
            rl_profiles=performance_profiles(rl_runs),
            rl_diagnostics=update_diagnostics(rl_runs),
            rl_improvement=_improvements(rl_runs, document["seed"]),
        )
    )


def _improvements(runs: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """P(X > Y) of the final evaluation return for every pair of runs on one environment, its
    bootstrap interval seeded by the run seed."""
    from pgtheory.stats import probability_of_improvement

    out = []
    for i, x in enumerate(runs):
        for y in runs[i + 1 :]:
            if x["env"] != y["env"]:
                continue
            pi = probability_of_improvement(
                [s["final_eval_return"] for s in x["seeds"]],
                [s["final_eval_return"] for s in y["seeds"]],
                seed=seed,
            )
            out.append({"x": x["algo"], "y": y["algo"], "env": x["env"], **pi})
    return out


def _documents(claims: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table of contents: each cited document by its title, with its claims."""
    by_file: dict[str, list[dict[str, Any]]] = {}
    for c in claims:
        by_file.setdefault(c["sources"][0]["file"], []).append(c)
    return [
        {
            "file": f,
            "title": document_title(f),
            "slug": re.sub(r"[^A-Za-z0-9]+", "-", f),
            "claims": cs,
        }
        for f, cs in sorted(by_file.items())
    ]


def write_report(document: dict[str, Any], path: Path) -> None:
    write_atomically(path, render_report(document))
