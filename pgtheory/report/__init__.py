"""Reports of a run: results.json for machines, a self-contained HTML page for people.

The HTML side (jinja2, matplotlib) loads only when a report is rendered.
"""

from typing import Any

from pgtheory.report.results import results_document
from pgtheory.report.results import write_results_json


def render_report(document: dict[str, Any]) -> str:
    from pgtheory.report.html import render_report as render

    return render(document)


def write_report(document: dict[str, Any], path: Any) -> None:
    from pgtheory.report.html import write_report as write

    write(document, path)


__all__ = ["render_report", "results_document", "write_report", "write_results_json"]
