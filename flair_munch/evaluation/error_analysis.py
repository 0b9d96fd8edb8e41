"""The five span-error types of the ECTTLNER error analysis (docs/methods.md §2.5).

Exact-span F1 says how many spans are wrong; this says how they are wrong
(missed, invented, cut badly, typed badly), which is what auxiliary tasks
like SCE/SEN or TBL are meant to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seqeval.scheme import IOB2, Entities

ERROR_TYPES = (
    "no_annotation",
    "no_extraction",
    "wrong_range",
    "wrong_tag",
    "wrong_range_and_tag",
)
"""Error types in the order the paper reports them."""

Span = tuple[int, int, str]  # (start, end exclusive, entity type)


@dataclass
class ErrorCounts:
    """Error counts per entity type and error type.

    Attributes:
        per_type: ``{entity type: {error type: count}}``; the entity type is the
            gold span's, or the predicted span's for ``no_annotation``.
    """

    per_type: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, entity_type: str, error: str) -> None:
        counts = self.per_type.setdefault(entity_type, dict.fromkeys(ERROR_TYPES, 0))
        counts[error] += 1

    @property
    def totals(self) -> dict[str, int]:
        """Count of each error type over all entity types."""
        return {e: sum(c[e] for c in self.per_type.values()) for e in ERROR_TYPES}

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    @property
    def rates(self) -> dict[str, float]:
        """Share of all errors per error type (all 0.0 when there are no errors)."""
        total = self.total
        return {e: (n / total if total else 0.0) for e, n in self.totals.items()}

    def as_dict(self) -> dict:
        return {
            "per_type": self.per_type,
            "totals": self.totals,
            "total": self.total,
            "rates": self.rates,
        }

    def format(self) -> str:
        """Markdown table: one row per entity type plus ``total``; five error columns plus ``total``."""
        lines = [
            "| type | " + " | ".join(ERROR_TYPES) + " | total |",
            "|---|" + "---:|" * (len(ERROR_TYPES) + 1),
        ]
        rows = [(name, self.per_type[name]) for name in sorted(self.per_type)]
        rows.append(("total", self.totals))
        for name, counts in rows:
            cells = [str(counts[e]) for e in ERROR_TYPES] + [str(sum(counts.values()))]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _spans(tags: list[str], sentence: int, side: str) -> list[Span]:
    """Strict IOB2 spans as seqeval reads them, so exact matches equal span_scores' true positives."""
    for i, tag in enumerate(tags):
        prefix, sep, entity_type = tag.partition("-")
        if tag != "O" and not (sep and prefix in ("B", "I") and entity_type):
            raise ValueError(
                f"sentence {sentence}, token {i}: invalid {side} BIO tag {tag!r}"
            )
    return [(e.start, e.end, e.tag) for e in Entities([tags], IOB2).entities[0]]


def _overlap(a: Span, b: Span) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def classify_errors(gold: list[list[str]], pred: list[list[str]]) -> ErrorCounts:
    """Classify every span error of predicted BIO tags against gold ones.

    Spans are extracted per sentence in seqeval's strict IOB2 mode (a stray
    ``I-`` opens no span), and a span is correct when type, start and end all
    match. The remaining spans are counted like this:

    * each wrong predicted span is counted exactly once. With no overlapping
      gold span it is ``no_annotation`` (typed by the prediction); otherwise it
      is compared with the gold span it overlaps most (ties: the earlier one):
      same boundaries -> ``wrong_tag``, same type -> ``wrong_range``, else
      ``wrong_range_and_tag`` (typed by that gold span);
    * each missed gold span with no overlapping prediction is ``no_extraction``;
    * a missed gold span that is overlapped by predictions is not counted
      again, since those predictions already carry the error (so one predicted
      span covering two gold spans is one ``wrong_range``, and two predicted
      spans splitting one gold span are two).

    The total is therefore at most, not equal to, false positives plus false
    negatives.

    Raises:
        ValueError: sentence or tag counts differ, or a tag is not BIO.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted ones")
    counts = ErrorCounts()
    for s, (gold_tags, pred_tags) in enumerate(zip(gold, pred)):
        if len(gold_tags) != len(pred_tags):
            raise ValueError(
                f"sentence {s}: {len(gold_tags)} gold tags but {len(pred_tags)} predicted tags"
            )
        gold_spans = _spans(list(gold_tags), s, "gold")
        pred_spans = _spans(list(pred_tags), s, "predicted")
        correct = set(gold_spans) & set(pred_spans)
        # spans of one sequence never overlap, so a wrong span can only overlap wrong ones
        missed = [g for g in gold_spans if g not in correct]
        for p in (p for p in pred_spans if p not in correct):
            overlapping = [g for g in missed if _overlap(g, p)]
            if not overlapping:
                counts.add(p[2], "no_annotation")
                continue
            g = max(overlapping, key=lambda g: (_overlap(g, p), -g[0]))
            if g[:2] == p[:2]:
                counts.add(g[2], "wrong_tag")
            elif g[2] == p[2]:
                counts.add(g[2], "wrong_range")
            else:
                counts.add(g[2], "wrong_range_and_tag")
        for g in missed:
            if not any(_overlap(g, p) for p in pred_spans):
                counts.add(g[2], "no_extraction")
    return counts
