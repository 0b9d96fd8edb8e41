"""How a multi-head tagger is scored: exact-span micro P/R/F1 overall and per head (``MultiHeadTagger.evaluate``)."""

from pathlib import Path
from typing import Optional, Union

import torch

from flair.data import Sentence
from flair.training_utils import Result

from flair_munch.corpora.spans import span_tags
from flair_munch.evaluation.span_metrics import span_scores

PREDICTED = "predicted"
"""Label type the predictions are held under while they are scored (removed after)."""


def evaluate_spans(
    model,
    data_points,
    gold_label_type: str,
    out_path: Optional[Union[str, Path]] = None,
    embedding_storage_mode: str = "none",
    mini_batch_size: int = 32,
    exclude_labels: Optional[list[str]] = None,
    return_loss: bool = True,
    head: Optional[str] = None,
) -> Result:
    """Predicts ``data_points`` with ``model`` and scores the spans (seqeval strict, as conlleval).

    Kept apart from the model so every tagger variant is scored by the same code.
    """
    sentences = [s for s in data_points if len(s) > 0]
    loss, count = model.predict(
        sentences,
        mini_batch_size=mini_batch_size,
        label_name=PREDICTED,
        return_loss=return_loss,
        embedding_storage_mode=embedding_storage_mode,
        head=head,
    ) or (torch.zeros(1), 0)
    excluded = set(exclude_labels or [])

    def tags_of(sentence: Sentence, label_type: str) -> list[str]:
        tags = span_tags(sentence, label_type, "BIO")
        return ["O" if tag != "O" and tag[2:] in excluded else tag for tag in tags]

    gold = [tags_of(s, gold_label_type) for s in sentences]
    predicted = [tags_of(s, PREDICTED) for s in sentences]
    per_head = {}
    if head is None and len(model.heads) > 1:
        for name, idx in model._groups(sentences, None).items():
            per_head[name] = span_scores([gold[i] for i in idx], [predicted[i] for i in idx]).as_dict()
    if out_path is not None:
        from flair_munch.corpora.conll import write_conll

        rows = [[(t.text, g, p) for t, g, p in zip(s.tokens, gs, ps)] for s, gs, ps in zip(sentences, gold, predicted)]
        write_conll(out_path, rows)
    for sentence in sentences:
        sentence.remove_labels(PREDICTED)

    scores = span_scores(gold, predicted)
    detailed = scores.format()
    for name, head_scores in per_head.items():
        detailed += f"\nhead {name}: f1 {head_scores['f1']:.4f}"
    result_scores = {
        "loss": float(loss) / max(count, 1),
        "micro avg precision": scores.precision,
        "micro avg recall": scores.recall,
        "micro avg f1": scores.f1,
        "per_head": per_head,
    }
    report = {"micro avg": {"precision": scores.precision, "recall": scores.recall, "f1-score": scores.f1}}
    return Result(main_score=scores.f1, detailed_results=detailed, classification_report=report, scores=result_scores)
