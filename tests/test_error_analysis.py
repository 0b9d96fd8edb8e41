"""The five error types of docs/methods.md §2.5, counted on hand-made gold/predicted pairs."""

import pytest

from flair_munch.evaluation.error_analysis import ERROR_TYPES, classify_errors
from flair_munch.evaluation.prediction_file import read_prediction_file


def only(counts, error, entity_type, n=1):
    """Assert that ``counts`` holds just ``n`` errors of one kind for one entity type."""
    expected = dict.fromkeys(ERROR_TYPES, 0)
    expected[error] = n
    assert counts.per_type == {entity_type: expected}
    assert counts.total == n


def test_exact_matches_are_not_errors():
    counts = classify_errors([["B-X", "I-X", "O", "B-Y"]], [["B-X", "I-X", "O", "B-Y"]])
    assert counts.total == 0
    assert counts.rates == dict.fromkeys(ERROR_TYPES, 0.0)


def test_no_annotation_is_typed_by_the_prediction():
    only(
        classify_errors([["O", "O", "B-X"]], [["B-Y", "O", "B-X"]]),
        "no_annotation",
        "Y",
    )


def test_no_extraction():
    only(
        classify_errors([["O", "B-X", "I-X"]], [["O", "O", "O"]]), "no_extraction", "X"
    )


def test_wrong_range():
    only(
        classify_errors([["O", "B-X", "I-X"]], [["B-X", "I-X", "I-X"]]),
        "wrong_range",
        "X",
    )


def test_wrong_tag_is_typed_by_gold():
    only(
        classify_errors([["B-X", "I-X", "O"]], [["B-Y", "I-Y", "O"]]), "wrong_tag", "X"
    )


def test_wrong_range_and_tag():
    only(
        classify_errors([["B-X", "I-X", "O"]], [["O", "B-Y", "I-Y"]]),
        "wrong_range_and_tag",
        "X",
    )


def test_one_prediction_over_two_gold_spans_counts_once():
    only(
        classify_errors([["B-X", "B-X", "O"]], [["B-X", "I-X", "O"]]),
        "wrong_range",
        "X",
    )


def test_two_predictions_splitting_one_gold_span_count_twice():
    only(
        classify_errors([["B-X", "I-X", "I-X", "I-X"]], [["B-X", "I-X", "B-X", "I-X"]]),
        "wrong_range",
        "X",
        n=2,
    )


def test_best_overlap_decides_the_gold_span():
    # prediction Y over 1-4 overlaps gold X (0-2) by 1 token and gold Y (2-5) by 2 -> wrong_range of Y
    counts = classify_errors(
        [["B-X", "I-X", "B-Y", "I-Y", "I-Y"]], [["O", "B-Y", "I-Y", "I-Y", "O"]]
    )
    only(counts, "wrong_range", "Y")


def test_stray_inside_tag_is_no_span_in_strict_mode():
    # seqeval strict IOB2 (as span_scores) reads no span from a lone I-X
    counts = classify_errors([["O", "B-X"]], [["I-X", "B-X"]])
    assert counts.total == 0


def test_mixed_case_totals_rates_and_table():
    gold = [
        [
            "B-PER",
            "I-PER",
            "O",
            "B-LOC",
            "O",
            "B-ORG",
        ],  # PER exact; LOC -> wrong_tag; ORG missed
        ["O", "O", "B-LOC", "I-LOC", "I-LOC", "O"],  # LOC -> wrong_range
        [
            "B-PER",
            "O",
            "O",
            "B-ORG",
            "I-ORG",
            "O",
        ],  # PER -> wrong_range_and_tag; ORG exact
        ["O", "O", "O"],  # invented MISC and PER -> two no_annotation
    ]
    pred = [
        ["B-PER", "I-PER", "O", "B-ORG", "O", "O"],
        ["O", "O", "B-LOC", "I-LOC", "O", "O"],
        ["B-LOC", "I-LOC", "O", "B-ORG", "I-ORG", "O"],
        ["B-MISC", "O", "B-PER"],
    ]
    counts = classify_errors(gold, pred)
    assert counts.totals == {
        "no_annotation": 2,
        "no_extraction": 1,
        "wrong_range": 1,
        "wrong_tag": 1,
        "wrong_range_and_tag": 1,
    }
    assert counts.total == 6
    assert counts.rates["no_annotation"] == pytest.approx(2 / 6)
    assert sum(counts.rates.values()) == pytest.approx(1.0)
    assert counts.per_type["LOC"]["wrong_tag"] == 1
    assert counts.per_type["LOC"]["wrong_range"] == 1
    assert counts.per_type["ORG"]["no_extraction"] == 1
    assert counts.per_type["PER"]["wrong_range_and_tag"] == 1
    assert counts.per_type["PER"]["no_annotation"] == 1
    assert counts.per_type["MISC"]["no_annotation"] == 1

    table = counts.format().splitlines()
    assert (
        table[0]
        == "| type | no_annotation | no_extraction | wrong_range | wrong_tag | wrong_range_and_tag | total |"
    )
    assert [row.split(" | ")[0] for row in table[2:]] == [
        "| LOC",
        "| MISC",
        "| ORG",
        "| PER",
        "| total",
    ]
    assert table[-1] == "| total | 2 | 1 | 1 | 1 | 1 | 6 |"


def test_mismatched_lengths_and_bad_tags_are_rejected():
    with pytest.raises(ValueError, match="sentence 0"):
        classify_errors([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="gold sentences"):
        classify_errors([["O"]], [])
    with pytest.raises(ValueError, match="token 1"):
        classify_errors([["O", "S-X"]], [["O", "O"]])


def test_read_prediction_file(tmp_path):
    path = tmp_path / "test-predictions.conll"
    path.write_text(
        "Aspirin\tB-Chemical\tB-Chemical\ncauses\tO\tO\nulcers\tB-Disease\tO\n\n\nOk\tO\tB-Disease\n",
        encoding="utf-8",
    )
    gold, pred = read_prediction_file(path)
    assert gold == [["B-Chemical", "O", "B-Disease"], ["O"]]
    assert pred == [["B-Chemical", "O", "O"], ["B-Disease"]]
    assert classify_errors(gold, pred).totals["no_extraction"] == 1


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("a\tO\tO\n\nb O O\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.conll:3"):
        read_prediction_file(path)
