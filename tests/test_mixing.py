"""Data mixing: exact sizes, seeded draws, relabelled copies, choice of the source corpus."""

from __future__ import annotations

import pytest

from flair_munch.corpora import CORPUS_LABEL_TYPE, load_corpus, mix_corpora
from flair_munch.corpora.mixing import mixed_count

T, DISEASE, SPECIES = "ncbi-disease", "bc5cdr-disease", "s800"


@pytest.fixture(scope="module")
def corpora():
    return (
        load_corpus(T, samples=True, train_size=40, seed=1),
        load_corpus(DISEASE, samples=True, train_size=60, seed=1),
        load_corpus(SPECIES, samples=True, train_size=30, seed=1),
    )


def texts(sentences):
    return [sentence.to_tokenized_string() for sentence in sentences]


def spans(sentence):
    return [(label.data_point.text, label.value) for label in sentence.get_labels("ner")]


@pytest.mark.parametrize("percent, added", [(0, 0), (10, 4), (25, 10), (50, 20), (60, 24), (100, 40), (12.5, 5)])
def test_adds_exactly_round_percent_of_target_train(corpora, percent, added):
    target, *others = corpora
    mixed = mix_corpora(target, others, percent, seed=1)
    assert mixed_count(len(target.train), percent) == added
    assert len(mixed.train) == len(target.train) + added
    assert sum(mixed.mixed_in.values()) == added
    assert texts(list(mixed.train)[: len(target.train)]) == texts(target.train)  # the target's own train first
    assert list(mixed.dev) == list(target.dev) and list(mixed.test) == list(target.test)
    assert mixed.name == target.name and mixed.entity_type == target.entity_type


def test_rounding_follows_python_round():
    assert mixed_count(45, 10) == round(4.5) == 4
    assert mixed_count(35, 10) == round(3.5) == 4
    with pytest.raises(ValueError, match="percent"):
        mixed_count(40, -5)


def test_same_seed_same_sentences_other_seed_others(corpora):
    target, *others = corpora
    first = texts(list(mix_corpora(target, others, 50, seed=3).train)[40:])
    again = texts(list(mix_corpora(target, others, 50, seed=3).train)[40:])
    other = texts(list(mix_corpora(target, others, 50, seed=4).train)[40:])
    assert first == again
    assert first != other
    pool = set(texts(others[0].train)) | set(texts(others[1].train))
    assert set(first) <= pool and len(set(first)) == len(first)  # drawn from the others, without replacement


def test_added_sentences_are_relabelled_copies(corpora):
    target, *others = corpora
    mixed = mix_corpora(target, others, 100, seed=1)
    added = list(mixed.train)[len(target.train):]
    assert {s.get_label(CORPUS_LABEL_TYPE).value for s in mixed.train} == {target.name}
    originals = {s.to_tokenized_string(): s for corpus in others for s in corpus.train}
    for sentence in added:
        source = originals[sentence.to_tokenized_string()]
        assert sentence is not source
        assert spans(sentence) == spans(source)
        assert source.get_label(CORPUS_LABEL_TYPE).value in (DISEASE, SPECIES)  # the source is left alone


def test_source_similar_and_dissimilar_draw_from_one_corpus(corpora):
    target, *others = corpora
    ranking = [SPECIES, DISEASE]  # most similar first
    assert mix_corpora(target, others, 50, seed=1, source="similar", similarity=ranking).mixed_in == {SPECIES: 20}
    assert mix_corpora(target, others, 50, seed=1, source="dissimilar", similarity=ranking).mixed_in == {DISEASE: 20}
    scores = {SPECIES: 0.1, DISEASE: 0.9}
    assert mix_corpora(target, others, 50, seed=1, source="similar", similarity=scores).mixed_in == {DISEASE: 20}
    # without a ranking, rank_aux decides: the other Disease corpus is the most similar
    assert mix_corpora(target, others, 50, seed=1, source="similar").mixed_in == {DISEASE: 20}
    assert set(mix_corpora(target, others, 100, seed=1).mixed_in) == {DISEASE, SPECIES}


def test_errors(corpora):
    target, disease, species = corpora
    with pytest.raises(ValueError, match="has only 30 training sentences"):
        mix_corpora(target, [disease, species], 100, seed=1, source="similar", similarity=[SPECIES, DISEASE])
    with pytest.raises(ValueError, match="source must be one of"):
        mix_corpora(target, [disease], 10, source="closest")
    with pytest.raises(ValueError, match="no entry for"):
        mix_corpora(target, [disease, species], 10, source="similar", similarity=[DISEASE])
    with pytest.raises(ValueError, match="no corpus to mix"):
        mix_corpora(target, [target], 10)
