"""Exact-span micro precision / recall / F1: seqeval's strict IOB2 mode, the numbers conlleval prints."""

from dataclasses import dataclass, field

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2


@dataclass
class SpanScores:
    """Micro-averaged exact-span scores, with the same scores per entity type."""

    precision: float
    recall: float
    f1: float
    support: int
    per_type: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
            "per_type": self.per_type,
        }

    def format(self) -> str:
        lines = [f"{'type':<20} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
        rows = [*sorted(self.per_type.items()), ("micro avg", self.as_dict())]
        for name, s in rows:
            lines.append(
                f"{name:<20} {s['precision']:>9.4f} {s['recall']:>9.4f} {s['f1']:>9.4f} {int(s['support']):>8d}"
            )
        return "\n".join(lines)


def span_scores(gold: list[list[str]], predicted: list[list[str]]) -> SpanScores:
    """Scores predicted BIO tag sequences against gold ones (one list of tags per sentence).

    A span counts as correct only when its type, start and end all match (strict mode, so an
    ``I-`` after ``O`` is not silently turned into a span on one side only).
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted ones")
    for i, (g, p) in enumerate(zip(gold, predicted)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted tags")
    has_spans = any(tag != "O" for seq in (*gold, *predicted) for tag in seq)
    if not has_spans:
        return SpanScores(0.0, 0.0, 0.0, 0, {})
    report = classification_report(gold, predicted, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    micro = report["micro avg"]
    per_type = {
        name: {
            "precision": float(scores["precision"]),
            "recall": float(scores["recall"]),
            "f1": float(scores["f1-score"]),
            "support": int(scores["support"]),
        }
        for name, scores in report.items()
        if name not in ("micro avg", "macro avg", "weighted avg")
    }
    return SpanScores(
        precision=float(micro["precision"]),
        recall=float(micro["recall"]),
        f1=float(micro["f1-score"]),
        support=int(micro["support"]),
        per_type=per_type,
    )
