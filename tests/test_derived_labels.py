"""Derived auxiliary labels (docs/methods.md §2.1 and 3) on hand-checked sentences."""

import pytest

from flair_munch.tasks import SENTENCE_TASKS, TASK_CLASSES, TOKEN_TASKS, derived_labels


def test_spec_example():
    # "Only France and Britain backed Fischler 's proposal ."
    labels = derived_labels(["O", "B-LOC", "O", "B-LOC", "O", "B-PER", "O", "O", "O"])
    assert labels["sce"] == 1
    assert labels["sen"] == 3
    assert labels["tie"] == [0, 1, 0, 1, 0, 1, 0, 0, 0]
    assert labels["tbl"] == ["O", "B", "O", "B", "O", "B", "O", "O", "O"]
    assert labels["bcls"] == 1
    assert labels["mcls"] == 3
    assert labels["mtcls"] == [
        "O",
        "B-Single",
        "O",
        "B-Single",
        "O",
        "B-Single",
        "O",
        "O",
        "O",
    ]


def test_empty_sentence():
    labels = derived_labels([])
    assert (labels["sce"], labels["sen"], labels["bcls"], labels["mcls"]) == (
        0,
        0,
        0,
        0,
    )
    assert labels["tie"] == labels["tbl"] == labels["mtcls"] == []


def test_sentence_without_entities():
    labels = derived_labels(["O", "O"])
    assert (labels["sce"], labels["sen"], labels["mcls"]) == (0, 0, 0)
    assert labels["tie"] == [0, 0]
    assert labels["mtcls"] == ["O", "O"]


def test_entity_at_the_end():
    labels = derived_labels(["O", "B-Disease", "I-Disease"])
    assert (labels["sce"], labels["sen"]) == (1, 1)
    assert labels["tie"] == [0, 1, 1]
    assert labels["tbl"] == ["O", "B", "I"]
    assert labels["mtcls"] == ["O", "B-Multi", "I-Multi"]


def test_adjacent_entities_of_the_same_type_are_two_spans():
    labels = derived_labels(["B-X", "B-X"])
    assert labels["sen"] == 2
    assert labels["mcls"] == 2
    assert labels["mtcls"] == ["B-Single", "B-Single"]


def test_multi_and_single_token_spans():
    labels = derived_labels(["B-X", "I-X", "I-X", "B-Y", "O", "B-X", "I-X"])
    assert labels["mtcls"] == [
        "B-Multi",
        "I-Multi",
        "I-Multi",
        "B-Single",
        "O",
        "B-Multi",
        "I-Multi",
    ]
    assert labels["tbl"] == ["B", "I", "I", "B", "O", "B", "I"]
    assert labels["sen"] == 3


def test_counts_are_capped():
    labels = derived_labels(["B-X", "O"] * 6)
    assert labels["sen"] == 5
    assert labels["mcls"] == 3
    assert derived_labels(["B-X"] * 5)["sen"] == 5
    assert derived_labels(["B-X"] * 4)["sen"] == 4


def test_stray_inside_tags_are_repaired_first():
    labels = derived_labels(["I-X", "I-X", "O", "I-Y", "B-X", "I-Y"])
    # spans: I-X I-X (pos 0-1), I-Y (3), B-X (4), I-Y after X (5)
    assert labels["sen"] == 4
    assert labels["tbl"] == ["B", "I", "O", "B", "B", "B"]
    assert labels["mtcls"] == [
        "B-Multi",
        "I-Multi",
        "O",
        "B-Single",
        "B-Single",
        "B-Single",
    ]


@pytest.mark.parametrize("bad", ["S-X", "E-X", "B-", "X", "B_X", ""])
def test_invalid_tag_names_position_and_tag(bad):
    with pytest.raises(ValueError, match=r"position 2") as err:
        derived_labels(["O", "B-X", bad])
    assert repr(bad) in str(err.value)


def test_task_lists_cover_every_label():
    labels = derived_labels(["B-X", "I-X", "O", "B-Y"])
    assert set(SENTENCE_TASKS) | set(TOKEN_TASKS) == set(TASK_CLASSES) == set(labels)
    assert not set(SENTENCE_TASKS) & set(TOKEN_TASKS)
    for task in SENTENCE_TASKS:
        assert labels[task] in TASK_CLASSES[task]
    for task in TOKEN_TASKS:
        assert len(labels[task]) == 4
        assert set(labels[task]) <= set(TASK_CLASSES[task])
    assert TASK_CLASSES["sen"] == [0, 1, 2, 3, 4, 5]
    assert TASK_CLASSES["mcls"] == [0, 1, 2, 3]
