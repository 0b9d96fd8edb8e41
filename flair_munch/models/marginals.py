"""Per-token label marginals of a CRF head (forward-backward) and the uncertainty they show.

Flair's ``ViterbiDecoder`` reports, per token, a softmax over the Viterbi
*prefix* scores: not a probability of the tag under the CRF. Uncertainty
sampling (docs/methods.md §5: per-token entropy of the predicted label distribution, tokens
above a threshold go to re-annotation) needs the real marginals
``p(y_t = k | x)``, summed over all tag paths. They are computed here with the
forward-backward algorithm over exactly the scores Flair's ``ViterbiLoss``
normalises (``<START>`` opens every path, ``transitions[<STOP>, last]`` closes
it), so ``log Z`` equals the one in the CRF loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import torch

from flair.data import Sentence, get_spans_from_bio
from flair.models.sequence_tagger_utils.crf import START_TAG, STOP_TAG

from flair_munch.corpora.conll import write_conll
from flair_munch.corpora.spans import span_tags
from flair_munch.inference import evaluation_mode
from flair_munch.models.tagging_head import TaggingHead

REDUCTIONS = ("max", "mean")
"""How token entropies become one sentence score in :func:`rank_by_uncertainty`."""


def crf_forward_backward(
    features: torch.Tensor, lengths: torch.Tensor, transitions: torch.Tensor, start: int, stop: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log marginals ``[batch, time, tags]`` and log partition ``[batch]`` of Flair's CRF, in float64.

    Args:
        features: CRF scores ``[batch, time, to tag, from tag]``: emission of ``to`` plus
            ``transitions[to, from]`` (what ``CRF.forward`` returns).
        lengths: sentence lengths (any order; positions past a length are ignored).
        transitions: the CRF's ``[to, from]`` transition matrix (for the step into ``<STOP>``).
        start: index of ``<START>``; stop: index of ``<STOP>``.

    A path ``y_1..y_n`` scores ``sum_t features[t, y_t, y_{t-1}] + transitions[stop, y_n]`` with
    ``y_0 = start``, over all tags (``<START>``/``<STOP>`` included, as in ``ViterbiLoss``).
    """
    f = features.detach().to(torch.float64)
    to_stop = transitions.detach().to(torch.float64)[stop]
    batch, time, tags = f.shape[:3]
    last = lengths.to(f.device).long() - 1
    alpha = f.new_empty(batch, time, tags)
    alpha[:, 0] = f[:, 0, :, start]
    for t in range(1, time):  # alpha[t, j] = logsumexp_i f[t, j, i] + alpha[t-1, i]
        alpha[:, t] = torch.logsumexp(f[:, t] + alpha[:, t - 1].unsqueeze(1), dim=2)
    beta = f.new_zeros(batch, time, tags)
    for t in range(time - 1, -1, -1):  # beta[t, i] = logsumexp_j f[t+1, j, i] + beta[t+1, j]
        ends = (last == t).unsqueeze(1)
        stop_here = to_stop.expand(batch, tags)
        inner = torch.logsumexp(f[:, t + 1] + beta[:, t + 1].unsqueeze(2), dim=1) if t + 1 < time else stop_here
        beta[:, t] = torch.where(ends, stop_here, inner)
    final = alpha[torch.arange(batch, device=f.device), last]
    log_z = torch.logsumexp(final + to_stop, dim=1)
    return alpha + beta - log_z[:, None, None], log_z


def token_marginals(head: TaggingHead, scores: tuple) -> list[torch.Tensor]:
    """Per sentence, a ``[tokens, tags]`` tensor of ``p(tag | sentence)`` (float64), columns in the head's tag order.

    ``scores`` is what ``head(encoded, lengths)`` returns. A CRF head gives forward-backward
    marginals (the tag dictionary's ``<START>``/``<STOP>`` columns included, with ~0 mass); a
    softmax head (``use_crf=False``) its per-token softmax.
    """
    if not head.use_crf:
        logits, lengths = scores
        probabilities = torch.softmax(logits.detach().to(torch.float64), dim=-1)
        return [probabilities[i, :n] for i, n in enumerate(lengths.tolist())]
    features, lengths, transitions = scores
    dictionary = head.label_dictionary
    log_marginals, _ = crf_forward_backward(
        features, lengths, transitions, dictionary.get_idx_for_item(START_TAG), dictionary.get_idx_for_item(STOP_TAG)
    )
    return [log_marginals[i, :n].exp() for i, n in enumerate(lengths.tolist())]


def log_partition(head: TaggingHead, scores: tuple) -> torch.Tensor:
    """``log Z`` of every sentence under a CRF head: the normaliser of Flair's ``ViterbiLoss``."""
    features, lengths, transitions = scores
    dictionary = head.label_dictionary
    return crf_forward_backward(
        features, lengths, transitions, dictionary.get_idx_for_item(START_TAG), dictionary.get_idx_for_item(STOP_TAG)
    )[1]


def token_entropy(marginals: torch.Tensor) -> torch.Tensor:
    """Entropy ``-sum_k p_k log p_k`` (nats) over the last dimension; ``0 log 0 = 0``. ``log K`` at most."""
    p = marginals.clamp_min(0)
    return -(torch.where(p > 0, p * p.log(), torch.zeros_like(p))).sum(-1)


@dataclass
class SentenceUncertainty:
    """One sentence's uncertainty under a head: its score, per-token entropies and Viterbi tags (BIO)."""

    sentence: Sentence
    head: str
    score: float
    entropies: list[float]
    predicted: list[str]


def _bio(path: Sequence[tuple[str, float]]) -> list[str]:
    """Viterbi tags (BIOES or BIO) as BIO, read the way ``predict`` reads them."""
    tags = ["O"] * len(path)
    for token_ids, _, value in get_spans_from_bio([tag for tag, _ in path]):
        tags[token_ids[0]] = f"B-{value}"
        for i in token_ids[1:]:
            tags[i] = f"I-{value}"
    return tags


def rank_by_uncertainty(
    model,
    sentences: Sequence[Sentence],
    head: Optional[str] = None,
    reduce: str = "max",
    mini_batch_size: int = 32,
) -> list[SentenceUncertainty]:
    """Score every sentence by its token entropies under the CRF marginals, most uncertain first.

    Args:
        model: a :class:`~flair_munch.models.MultiHeadTagger` (anything with ``encode``,
            ``heads`` and ``head_of``).
        sentences: the sentences to score; empty ones are skipped.
        head: the head that scores every sentence; ``None``: each sentence's own corpus's head.
        reduce: ``"max"`` (the most uncertain token) or ``"mean"`` token entropy per sentence.
        mini_batch_size: sentences encoded at once.

    Returns:
        One row per sentence, sorted by score (highest first; ties keep the input order).
    """
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}")
    if head is not None and head not in model.heads:
        raise KeyError(f"unknown head {head!r}; the model's heads are {list(model.heads)}")
    indexed = [(i, s) for i, s in enumerate(sentences) if len(s) > 0]
    rows: list[tuple[int, SentenceUncertainty]] = []
    with evaluation_mode(model):
        for start in range(0, len(indexed), mini_batch_size):
            batch = sorted(indexed[start : start + mini_batch_size], key=lambda item: len(item[1]), reverse=True)
            encoded, lengths = model.encode([s for _, s in batch])
            groups: dict[str, list[int]] = {}
            for position, (_, sentence) in enumerate(batch):
                groups.setdefault(head or model.head_of(sentence), []).append(position)
            for name, positions in groups.items():
                tagging_head = model.heads[name]
                index = torch.tensor(positions, dtype=torch.long, device=encoded.device)
                scores = tagging_head(encoded.index_select(0, index), lengths[positions])
                group = [batch[p][1] for p in positions]
                paths, _ = tagging_head.decode(scores, group)
                for p, marginals, path in zip(positions, token_marginals(tagging_head, scores), paths):
                    entropies = token_entropy(marginals)
                    score = entropies.max() if reduce == "max" else entropies.mean()
                    rows.append((batch[p][0], SentenceUncertainty(
                        batch[p][1], name, float(score), entropies.tolist(), _bio(path))))
    rows.sort(key=lambda row: (-row[1].score, row[0]))
    return [row for _, row in rows]


def write_uncertainty_conll(
    path: Union[str, Path],
    rows: Sequence[SentenceUncertainty],
    label_type: str = "ner",
    top: Optional[int] = None,
) -> Path:
    """Write ``token<TAB>gold<TAB>predicted<TAB>entropy`` lines, sentences in the order of ``rows``.

    Gold and predicted are BIO tags (gold ``O`` where a sentence has no ``label_type`` spans);
    the entropy is in nats with 4 decimals (``log K`` is the maximum for K tags). ``top`` keeps
    only the first ``top`` sentences (the most uncertain after :func:`rank_by_uncertainty`).
    """
    chosen = rows if top is None else rows[:top]
    lines = []
    for row in chosen:
        gold = span_tags(row.sentence, label_type, "BIO")
        lines.append([(token.text, g, p, f"{e:.4f}") for token, g, p, e in
                      zip(row.sentence.tokens, gold, row.predicted, row.entropies)])
    return write_conll(path, lines)


def max_entropy(num_tags: int) -> float:
    """``log K``: the entropy of a uniform distribution over ``num_tags`` tags."""
    return math.log(num_tags)
