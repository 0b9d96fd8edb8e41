"""Corpus similarity: the measures, a deterministic ranking, a corpus closest to itself."""

from __future__ import annotations

import math

import pytest

import flair
from flair.data import MultiCorpus
from flair.embeddings import OneHotEmbeddings

from flair_munch.corpora import format_ranking, load_corpus, rank_aux
from flair_munch.corpora.similarity import cosine, jaccard, normalise_type, weighted_jaccard

SAMPLES = ("ncbi-disease", "bc5cdr-disease", "bc5cdr-chem", "bc2gm", "jnlpba", "linnaeus", "s800")


@pytest.fixture(scope="module")
def samples():
    return {name: load_corpus(name, samples=True) for name in SAMPLES}


def test_measures():
    assert weighted_jaccard({"a": 0.5, "b": 0.5}, {"a": 1.0}) == pytest.approx(1 / 3)
    assert weighted_jaccard({"a": 0.5, "b": 0.5}, {"b": 0.5, "a": 0.5}) == 1.0
    assert weighted_jaccard({"a": 1.0}, {"b": 1.0}) == 0.0
    assert jaccard(frozenset("abc"), frozenset("bcd")) == pytest.approx(0.5)
    assert jaccard(frozenset(), frozenset()) == 1.0
    assert normalise_type("PER") == normalise_type("person") == "person"
    assert normalise_type("B-Organization") == normalise_type("organisation") == "organisation"
    assert normalise_type("Gene/Protein") == normalise_type("Gene") == "gene"
    import torch

    assert cosine(torch.tensor([1.0, 2.0]), torch.tensor([2.0, 4.0])) == pytest.approx(1.0)
    assert cosine(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0])) == 0.0


@pytest.mark.parametrize("target", ["ncbi-disease", "s800", "bc2gm"])
def test_corpus_ranks_itself_first(samples, target):
    rows = rank_aux(samples[target], list(samples.values()))
    assert [row.rank for row in rows] == list(range(1, len(SAMPLES) + 1))
    assert rows[0].name == target
    assert rows[0].combined == rows[0].vocabulary == rows[0].entity_types == rows[0].entity_surface == 1.0
    assert all(row.combined < 1.0 for row in rows[1:])
    assert [row.combined for row in rows] == sorted((row.combined for row in rows), reverse=True)


def test_same_entity_type_ranks_next(samples):
    """The other Disease corpus is closest to NCBI-disease; the other Species corpus to s800."""
    assert rank_aux(samples["ncbi-disease"], list(samples.values()))[1].name == "bc5cdr-disease"
    assert rank_aux(samples["s800"], list(samples.values()))[1].name == "linnaeus"


def test_ranking_is_deterministic_whatever_the_candidate_order(samples):
    candidates = list(samples.values())
    first = rank_aux(samples["jnlpba"], candidates)
    assert rank_aux(samples["jnlpba"], candidates) == first
    assert rank_aux(samples["jnlpba"], candidates[::-1]) == first
    table = format_ranking(first)
    assert table.splitlines()[1].split()[:2] == ["1", "jnlpba"]


def test_weights_and_embedding_measure(samples):
    corpora = [samples["ncbi-disease"], samples["bc5cdr-disease"], samples["s800"]]
    only_types = rank_aux(corpora[0], corpora, weights={"vocabulary": 0, "entity_surface": 0})
    assert [row.combined for row in only_types] == [row.entity_types for row in only_types]
    with pytest.raises(ValueError, match="unknown measure"):
        rank_aux(corpora[0], corpora, weights={"vocab": 1})

    flair.set_seed(1)
    embeddings = OneHotEmbeddings.from_corpus(MultiCorpus(corpora), embedding_length=8, min_freq=1)
    rows = rank_aux(corpora[0], corpora, embeddings, max_sentences=50)
    assert rows[0].name == "ncbi-disease" and rows[0].embedding == 1.0
    assert all(row.embedding is not None and -1.0 <= row.embedding < 1.0 for row in rows[1:])
    assert rows[0].combined == 1.0
    for row in rows:  # the combination is the plain mean of the four measures
        mean = (row.vocabulary + row.entity_types + row.entity_surface + row.embedding) / 4
        assert math.isclose(row.combined, mean)
    assert rank_aux(corpora[0], corpora, embeddings, max_sentences=50) == rows
    assert not any(token.get_embedding().numel() for s in corpora[0].train for token in s)  # nothing left on the corpus
