"""Metrics and reports."""

from flair_munch.evaluation.span_metrics import SpanScores, span_scores

__all__ = ["SpanScores", "span_scores"]
