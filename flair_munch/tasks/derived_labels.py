"""Sentence- and token-level labels computed from BIO tags (docs/methods.md §2.1 and 3).

ECTTLNER (SCE, SEN, TIE, TBL) and MT-BioBERT (bCLS, mCLS, mtCLS) train extra
heads on labels that need no annotation beyond the NER tags, so they are
derived here once, in plain Python, and can be tested without a model.
"""

from __future__ import annotations

from collections.abc import Sequence

from flair_munch.corpora.bio import bio_spans, repair_bio

SEN_CAP = 5  # SEN: 0..4 spans, and 5 for five or more
MCLS_CAP = 3  # mCLS: 0..2 spans, and 3 for three or more

TASK_CLASSES: dict[str, list] = {
    "sce": [0, 1],
    "sen": list(range(SEN_CAP + 1)),
    "tie": [0, 1],
    "tbl": ["B", "I", "O"],
    "bcls": [0, 1],
    "mcls": list(range(MCLS_CAP + 1)),
    "mtcls": ["B-Multi", "I-Multi", "B-Single", "O"],
}
"""Class list of every derived task, in a fixed order usable as label ids."""

SENTENCE_TASKS = ("sce", "sen", "bcls", "mcls")
"""Tasks with one label per sentence (heads on a pooled vector)."""

TOKEN_TASKS = ("tie", "tbl", "mtcls")
"""Tasks with one label per token."""

ECTTLNER_TASKS = ("sce", "sen", "tie", "tbl")
MT_BIOBERT_TASKS = ("bcls", "mcls", "mtcls")


def _check_bio(tags: Sequence[str]) -> None:
    """Reject anything but ``O``, ``B-X`` and ``I-X`` (IOBES ``S-``/``E-`` included).

    A silently accepted foreign scheme would give wrong span counts, so fail
    early with the position to look at.
    """
    for i, tag in enumerate(tags):
        if tag == "O":
            continue
        prefix, sep, entity_type = str(tag).partition("-")
        if not (sep and prefix in ("B", "I") and entity_type):
            raise ValueError(
                f"invalid BIO tag at position {i}: {tag!r} (expected O, B-<type> or I-<type>)"
            )


def derived_labels(tags: Sequence[str]) -> dict:
    """All derived labels of one sentence from its BIO (IOB2) tags.

    A stray ``I-X`` (after ``O`` or after another type) is first repaired to
    ``B-X``, as conlleval reads it, so the labels count the same spans the
    evaluation does.

    Args:
        tags: one BIO tag per token, e.g. ``["O", "B-Disease", "I-Disease"]``.

    Returns:
        ``{"sce": 0|1, "sen": 0..5, "tie": [0|1, ...], "tbl": ["B"|"I"|"O", ...],
        "bcls": 0|1, "mcls": 0..3, "mtcls": ["B-Multi"|"I-Multi"|"B-Single"|"O", ...]}``.

    Raises:
        ValueError: a tag is not ``O``, ``B-X`` or ``I-X``; the message names
            its position and the tag.
    """
    _check_bio(tags)
    repaired, _ = repair_bio(tags)
    spans = bio_spans(repaired)
    n_spans = len(spans)

    mtcls = ["O"] * len(repaired)
    for start, end, _type in spans:
        if end - start == 1:
            mtcls[start] = "B-Single"
        else:
            mtcls[start] = "B-Multi"
            mtcls[start + 1 : end] = ["I-Multi"] * (end - start - 1)

    has_entity = int(n_spans > 0)
    return {
        "sce": has_entity,
        "sen": min(n_spans, SEN_CAP),
        "tie": [0 if tag == "O" else 1 for tag in repaired],
        "tbl": [tag[0] for tag in repaired],
        "bcls": has_entity,
        "mcls": min(n_spans, MCLS_CAP),
        "mtcls": mtcls,
    }
