"""Data mixing: a target corpus whose train split is topped up with sentences of other corpora.

docs/methods.md §5's cross-domain study adds a percentage (10%..60%, 50% best) of randomly drawn
sentences from other domains to the small target's training set, drawn from all
other domains or only from the most similar or most dissimilar one. Unlike the
multi-head schedules, the added sentences are the target's own data here: they are
relabelled with the target's ``corpus`` label, so the target's head learns from
them (give every corpus the same label set first, e.g. with a label map).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from typing import Mapping, Optional, Sequence, Union

from flair.data import Sentence

from flair_munch.corpora.conll import CORPUS_LABEL_TYPE
from flair_munch.corpora.named_corpus import NamedCorpus

log = logging.getLogger("flair_munch")

SOURCES = ("all", "similar", "dissimilar")
"""Where :func:`mix_corpora` draws from: every other corpus pooled, or the most / least similar one."""

Similarity = Union[Sequence, Mapping[str, float]]


def mixed_count(target_train_size: int, percent: float) -> int:
    """Sentences to add: ``round(percent / 100 * target_train_size)`` (Python's round, halves to even)."""
    if isinstance(percent, bool) or not isinstance(percent, (int, float)) or percent < 0:
        raise ValueError(f"percent must be a number >= 0 (e.g. 50 for 50%), got {percent!r}")
    return round(percent / 100.0 * target_train_size)


def _ranked_names(similarity: Similarity) -> list[str]:
    """Corpus names, most similar first, from :func:`rank_aux` rows, a list of names or ``{name: score}``."""
    if isinstance(similarity, Mapping):
        return [name for name, _ in sorted(similarity.items(), key=lambda item: (-item[1], item[0]))]
    names = []
    for row in similarity:
        names.append(row if isinstance(row, str) else getattr(row, "name", None))
        if names[-1] is None:
            raise TypeError(f"similarity rows must be corpus names or rank_aux rows, got {row!r}")
    return names


def _pick_source(target: NamedCorpus, others: Sequence[NamedCorpus], source: str,
                 similarity: Optional[Similarity]) -> list[NamedCorpus]:
    if source == "all":
        return list(others)
    if similarity is None:
        from flair_munch.corpora.similarity import rank_aux

        similarity = rank_aux(target, others)
    by_name = {corpus.name: corpus for corpus in others}
    ranked = [name for name in _ranked_names(similarity) if name in by_name]
    unranked = sorted(set(by_name) - set(ranked))
    if unranked:
        raise ValueError(
            f"the similarity ranking has no entry for {unranked}; rank every corpus in `others` "
            "(e.g. similarity=rank_aux(target, others))"
        )
    return [by_name[ranked[0] if source == "similar" else ranked[-1]]]


def _relabelled_copy(sentence: Sentence, corpus_name: str, label_type: str) -> Sentence:
    """The sentence's tokens and ``label_type`` spans in a new sentence labelled as ``corpus_name``.

    A copy, so the source corpus keeps its own ``corpus`` label and the mix shares no objects with it.
    """
    copy = Sentence([token.text for token in sentence])
    for label in sentence.get_labels(label_type):
        span = label.data_point
        copy[span[0].idx - 1 : span[-1].idx].add_label(label_type, label.value, label.score)
    copy.add_label(CORPUS_LABEL_TYPE, corpus_name)
    return copy


def _types(sentences: Sequence[Sentence], label_type: str) -> set[str]:
    return {label.value for sentence in sentences for label in sentence.get_labels(label_type)}


def mix_corpora(
    target: NamedCorpus,
    others: Sequence[NamedCorpus],
    percent: float,
    seed: int = 1,
    source: str = "all",
    similarity: Optional[Similarity] = None,
    label_type: str = "ner",
) -> NamedCorpus:
    """The target corpus with ``round(percent / 100 * len(target.train))`` sentences of ``others`` added to train.

    The added sentences are drawn without replacement with ``random.Random(seed)``: the same seed
    gives the same sentences. They are copied and carry the target's ``corpus`` label; they come
    after the target's own train sentences (training shuffles anyway). Dev and test are the
    target's, unchanged.

    Args:
        target: the corpus to top up.
        others: the corpora to draw from (a corpus named like the target is ignored).
        percent: how many sentences to add, in percent of the target's train size (e.g. 50).
        seed: the draw's seed.
        source: ``"all"`` (every corpus in ``others`` pooled), ``"similar"`` (only the corpus
            ranked most similar to the target) or ``"dissimilar"`` (only the one ranked least similar).
        similarity: the ranking for ``similar``/``dissimilar``: :func:`~flair_munch.corpora.similarity.rank_aux`
            rows or corpus names (most similar first), or ``{name: score}`` (higher is more similar).
            ``None``: ``rank_aux(target, others)`` without embeddings.
        label_type: the span labels copied with each sentence.

    Returns:
        A :class:`NamedCorpus` named like the target; ``mixed_in`` maps each source corpus to the
        number of its sentences added.

    Raises:
        ValueError: unknown ``source``, a negative ``percent``, no other corpus, or fewer
            sentences available than requested.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    others = [corpus for corpus in others if corpus.name != target.name]
    if not others:
        raise ValueError(f"no corpus to mix into {target.name!r}: pass at least one other corpus in `others`")
    n = mixed_count(len(target.train), percent)
    drawn = _draw(target, _pick_source(target, others, source, similarity), n, percent, seed)
    added = [_relabelled_copy(sentence, target.name, label_type) for _, sentence in drawn]
    mixed_in = dict(Counter(name for name, _ in drawn))
    _warn_foreign_types(target, added, label_type)
    log.info("%s: added %d sentences (%s%%, seed %d, source %s): %s", target.name, n, percent, seed, source, mixed_in)
    mixed = _with_train(target, list(target.train) + added)
    mixed.mixed_in = mixed_in
    return mixed


def _draw(target: NamedCorpus, pool_corpora: Sequence[NamedCorpus], n: int, percent: float,
          seed: int) -> list[tuple[str, Sentence]]:
    """``n`` ``(corpus name, sentence)`` pairs drawn without replacement from the pooled train splits."""
    pool = [(corpus.name, sentence) for corpus in pool_corpora for sentence in corpus.train]
    if n > len(pool):
        names = ", ".join(corpus.name for corpus in pool_corpora)
        raise ValueError(
            f"{percent}% of {target.name!r} train ({len(target.train)} sentences) is {n} sentences, but "
            f"{names} has only {len(pool)} training sentences; lower percent or use source='all'"
        )
    return random.Random(seed).sample(pool, n)


def _warn_foreign_types(target: NamedCorpus, added: Sequence[Sentence], label_type: str) -> None:
    """Mixed-in entity types the target never tags would teach its head labels its test cannot hold."""
    foreign = _types(added, label_type) - _types(list(target.train), label_type)
    if foreign:
        log.warning(
            "%s: the mixed-in sentences have entity types %s that the target's train has not; "
            "load every corpus with one label_map to share a label set",
            target.name, sorted(foreign),
        )


def _with_train(target: NamedCorpus, train: list[Sentence]) -> NamedCorpus:
    """A corpus like ``target`` (name, type, path, info, dev, test) with another train split."""
    return NamedCorpus(
        train,
        list(target.dev) if target.dev is not None else [],
        list(target.test) if target.test is not None else [],
        name=target.name,
        entity_type=target.entity_type,
        path=target.path,
        info=target.info,
    )
