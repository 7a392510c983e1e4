"""Reports of a run: results.json for machines, a self-contained HTML page for people."""

from pgtheory.report.html import render_report, write_report
from pgtheory.report.results import results_document, write_results_json

__all__ = ["render_report", "results_document", "write_report", "write_results_json"]
