"""Metrics and reports."""

from flair_munch.evaluation.results_index import read_results
from flair_munch.evaluation.span_metrics import SpanScores, span_scores
from flair_munch.evaluation.statistics import paired_bootstrap, paired_difference
from flair_munch.evaluation.report import ReportPaths, format_report, write_report

__all__ = [
    "SpanScores",
    "span_scores",
    "read_results",
    "paired_difference",
    "paired_bootstrap",
    "ReportPaths",
    "format_report",
    "write_report",
]
