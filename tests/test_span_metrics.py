"""Exact-span scores agree with conlleval on hand-counted examples."""

import pytest

from flair_munch.evaluation import span_scores


def test_exact_span_micro_scores_by_hand():
    gold = [["B-Disease", "I-Disease", "O", "B-Chemical"], ["O", "B-Disease"]]
    pred = [["B-Disease", "O", "O", "B-Chemical"], ["O", "B-Disease"]]
    scores = span_scores(gold, pred)
    # gold spans: 3; predicted: 3; exact matches: Chemical and the second Disease
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == pytest.approx(2 / 3)
    assert scores.f1 == pytest.approx(2 / 3)
    assert scores.support == 3
    assert scores.per_type["Disease"]["f1"] == pytest.approx(0.5)
    assert scores.per_type["Chemical"]["f1"] == pytest.approx(1.0)


def test_wrong_type_with_right_boundaries_is_an_error():
    scores = span_scores([["B-Disease", "I-Disease"]], [["B-Chemical", "I-Chemical"]])
    assert (scores.precision, scores.recall, scores.f1) == (0.0, 0.0, 0.0)


def test_no_entities_anywhere_scores_zero_not_an_exception():
    assert span_scores([["O", "O"]], [["O", "O"]]).f1 == 0.0


def test_length_mismatch_names_the_sentence():
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1 predicted"):
        span_scores([["O"], ["O", "O"]], [["O"], ["O"]])
