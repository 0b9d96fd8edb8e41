"""Corpus similarity: rank candidate auxiliary corpora for a target before training anything.

Choosing auxiliaries by trying each (SingleAux runs) costs one training run per
candidate; docs/methods.md §5 instead picks source domains by a similarity between corpora.
These measures take seconds and need no model, so they can pre-select or order
auxiliaries (``mix_corpora(source="similar")``, an explicit MUNCH order):

* ``vocabulary``: weighted Jaccard ``sum_w min(p_w, q_w) / sum_w max(p_w, q_w)`` of the two
  train splits' relative frequencies of lower-cased word tokens (tokens without a letter,
  i.e. punctuation and numbers, are skipped: every corpus has them). Relative frequencies,
  so a large corpus is not similar to everything; weighted, so shared frequent domain words
  count more than shared hapaxes. 1 for identical distributions.
* ``entity_types``: Jaccard of the sets of entity types after normalisation (lower case,
  letters and digits only, CoNLL abbreviations spelt out: ``PER`` = ``person``), because a
  corpus that annotates the same kind of entity is the strongest auxiliary (MUNCHABLES).
* ``entity_surface``: Jaccard of the sets of lower-cased entity strings: the same names
  annotated in both corpora, whatever each calls their type.
* ``embedding`` (only with ``embeddings=``): cosine of the two corpora's mean sentence
  vectors (a sentence vector is the mean of its frozen token embeddings), the "mean feature
  vector per domain" of docs/methods.md §5, which also sees synonyms and spelling variants the counts miss.

``combined`` is the weighted mean of the measures computed (equal weights by default), each
in [0, 1] (the cosine in [-1, 1]); rows are sorted by ``combined``, highest first, ties by name,
so the ranking is deterministic. A corpus compared with itself scores 1 on every measure and
ranks first.
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import torch
from flair.data import Sentence
from flair.embeddings import TokenEmbeddings

from flair_munch.inference import evaluation_mode

log = logging.getLogger("flair_munch")

MEASURES = ("vocabulary", "entity_types", "entity_surface", "embedding")

# Spellings of one type across corpora; gene and protein mentions are one class in the
# biomedical corpora (BC2GM, JNLPBA annotate "gene/protein").
_TYPE_ALIASES = {
    "per": "person",
    "loc": "location",
    "org": "organisation",
    "organization": "organisation",
    "miscellaneous": "misc",
    "genes": "gene",
    "geneprotein": "gene",
    "protein": "gene",
    "chemicals": "chemical",
    "diseases": "disease",
}
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class AuxSimilarity:
    """One candidate's similarity to the target: every measure, their combination and its rank (1 = closest)."""

    name: str
    vocabulary: float
    entity_types: float
    entity_surface: float
    embedding: Optional[float]
    combined: float
    rank: int = 0

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in ("name", "rank", "combined", *MEASURES)}


@dataclass
class _Profile:
    frequencies: dict[str, float]
    types: frozenset
    surfaces: frozenset
    mean_vector: Optional[torch.Tensor] = None


def normalise_type(entity_type: str) -> str:
    """``"B-Org"`` -> ``"organisation"``: lower case, alphanumerics only, common abbreviations spelt out."""
    text = entity_type[2:] if entity_type[:2] in ("B-", "I-", "E-", "S-") else entity_type
    key = _NON_ALNUM.sub("", text.lower())
    return _TYPE_ALIASES.get(key, key)


def _train(corpus) -> list[Sentence]:
    return list(corpus.train) if corpus.train is not None else []


def _profile(corpus, label_type: str) -> _Profile:
    counts: Counter = Counter()
    types, surfaces = set(), set()
    for sentence in _train(corpus):
        counts.update(text for text in (token.text.lower() for token in sentence) if any(ch.isalpha() for ch in text))
        for label in sentence.get_labels(label_type):
            types.add(normalise_type(label.value))
            surfaces.add(" ".join(token.text for token in label.data_point).lower())
    total = sum(counts.values()) or 1
    return _Profile({word: count / total for word, count in counts.items()}, frozenset(types), frozenset(surfaces))


def weighted_jaccard(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """``sum min / sum max`` over the union of keys; 1.0 for two empty mappings."""
    low = high = 0.0
    for key in sorted(set(p) | set(q)):  # sorted: the same float sum on every run
        a, b = p.get(key, 0.0), q.get(key, 0.0)
        low += min(a, b)
        high += max(a, b)
    return low / high if high else 1.0


def jaccard(a: frozenset, b: frozenset) -> float:
    """``|a & b| / |a | b|``; 1.0 for two empty sets (nothing differs)."""
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def _mean_vector(corpus, embeddings: TokenEmbeddings, max_sentences: int, batch_size: int = 64) -> torch.Tensor:
    """Mean sentence vector of (a seeded sample of) train.

    Embeds copies of the sentences, so no vectors are left on the corpus.
    """
    sentences = _train(corpus)
    if len(sentences) > max_sentences:
        keep = sorted(random.Random(0).sample(range(len(sentences)), max_sentences))
        sentences = [sentences[i] for i in keep]
    total, count = None, 0
    with evaluation_mode(embeddings):
        for start in range(0, len(sentences), batch_size):
            batch = [Sentence([token.text for token in s]) for s in sentences[start : start + batch_size] if len(s)]
            if not batch:
                continue
            embeddings.embed(batch)
            vectors = torch.stack([
                torch.stack([token.get_embedding().detach().to("cpu", torch.float64) for token in s]).mean(0)
                for s in batch
            ])
            total = vectors.sum(0) if total is None else total + vectors.sum(0)
            count += len(batch)
    if total is None:
        return torch.zeros(embeddings.embedding_length, dtype=torch.float64)
    return total / count


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity in float64; exactly 1.0 for equal vectors, 0.0 when one is zero."""
    if torch.equal(a, b) and bool(a.any()):
        return 1.0
    norm = float(a.norm() * b.norm())
    return max(-1.0, min(1.0, float(a @ b) / norm)) if norm else 0.0


def rank_aux(
    target,
    candidates: Sequence,
    embeddings: Optional[TokenEmbeddings] = None,
    *,
    label_type: str = "ner",
    weights: Optional[Mapping[str, float]] = None,
    max_sentences: int = 2000,
) -> list[AuxSimilarity]:
    """Rank ``candidates`` (corpora with ``name`` and ``train``) by similarity to ``target``'s train split.

    Args:
        target: the target corpus (e.g. a :class:`~flair_munch.corpora.NamedCorpus`).
        candidates: the candidate auxiliary corpora; the target itself may be among them.
        embeddings: frozen Flair token embeddings for the ``embedding`` measure; ``None`` skips it.
        label_type: the span labels whose types and strings are compared.
        weights: weight of each measure in ``combined`` (default 1 each); a measure not
            computed (``embedding`` without embeddings) is left out.
        max_sentences: train sentences embedded per corpus at most (a seeded sample), so the
            embedding measure stays within seconds on large corpora.

    Returns:
        One :class:`AuxSimilarity` per candidate, most similar first, ``rank`` 1, 2, ...

    Raises:
        ValueError: an unknown measure in ``weights``, or weights that sum to zero.
    """
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(MEASURES))
    if unknown:
        raise ValueError(f"unknown measure(s) {unknown} in weights; the measures are {list(MEASURES)}")
    used = [m for m in MEASURES if m != "embedding" or embeddings is not None]
    weight = {m: float(weights.get(m, 1.0)) for m in used}
    if sum(weight.values()) <= 0:
        raise ValueError(f"weights of the measures {used} sum to {sum(weight.values())}; give a positive weight")

    profiles: dict[int, _Profile] = {}

    def profile_of(corpus) -> _Profile:
        key = id(corpus)
        if key not in profiles:
            profiles[key] = _profile(corpus, label_type)
            if embeddings is not None:
                profiles[key].mean_vector = _mean_vector(corpus, embeddings, max_sentences)
        return profiles[key]

    ref = profile_of(target)
    rows = []
    for corpus in candidates:
        other = profile_of(corpus)
        scores = {
            "vocabulary": weighted_jaccard(ref.frequencies, other.frequencies),
            "entity_types": jaccard(ref.types, other.types),
            "entity_surface": jaccard(ref.surfaces, other.surfaces),
            "embedding": cosine(ref.mean_vector, other.mean_vector) if embeddings is not None else None,
        }
        combined = math.fsum(weight[m] * scores[m] for m in used) / math.fsum(weight.values())
        rows.append(AuxSimilarity(corpus.name, **scores, combined=combined))
    rows.sort(key=lambda row: (-row.combined, row.name))
    return [AuxSimilarity(**{**row.__dict__, "rank": i}) for i, row in enumerate(rows, start=1)]


def format_ranking(rows: Sequence[AuxSimilarity]) -> str:
    """The ranking as a plain-text table, one candidate per line."""
    header = f"{'rank':>4}  {'corpus':<24} {'combined':>8} {'vocab':>7} {'types':>7} {'surface':>7} {'embed':>7}"
    lines = [header]
    for row in rows:
        embed = f"{row.embedding:7.4f}" if row.embedding is not None else f"{'-':>7}"
        lines.append(f"{row.rank:>4}  {row.name:<24} {row.combined:8.4f} {row.vocabulary:7.4f} "
                     f"{row.entity_types:7.4f} {row.entity_surface:7.4f} {embed}")
    return "\n".join(lines)


def distinct_candidates(target: str, candidates: Sequence[str], data_dir=None, samples: bool = False) -> list[str]:
    """``candidates`` without the target and without repeats (compared by the folder each names), with a warning
    for each left out: the target would rank itself first at 1.0, and a repeat would take two ranks."""
    from flair_munch.corpora.registry import resolve_corpus

    def folder(name: str):
        return resolve_corpus(name, data_dir=data_dir, samples=samples)[1].resolve()

    seen = {folder(target): target}
    kept = []
    for name in candidates:
        where = folder(name)
        if where in seen:
            why = "the target itself" if seen[where] == target else f"a repeat of `{seen[where]}`"
            log.warning("rank-aux: leaving out candidate `%s`: it is %s", name, why)
            continue
        seen[where] = name
        kept.append(name)
    if not kept:
        raise ValueError(f"--candidates: no candidate is left besides the target `{target}`. Name other corpora.")
    return kept
