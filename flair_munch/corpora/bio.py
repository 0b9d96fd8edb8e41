"""BIO / IOBES tag-scheme logic shared by the CoNLL reader and writers.

Kept apart from file parsing so the rules (what is a valid tag, how conlleval
repairs a stray ``I-``, where a long sentence may be cut) can be tested and
reused without touching files.
"""

from __future__ import annotations

from typing import Optional, Sequence

Tag = str
Span = tuple[int, int, str]  # (start, end exclusive, entity type)

BIO_PREFIXES = ("B", "I")
IOBES_ONLY_PREFIXES = ("S", "E")
ALL_PREFIXES = ("B", "I", "E", "S")


def split_tag(tag: str) -> tuple[str, Optional[str]]:
    """Split ``B-Disease`` into ``("B", "Disease")``; ``O`` gives ``("O", None)``.

    Raises:
        ValueError: the tag is neither ``O`` nor ``<prefix>-<type>`` with a
            known prefix and a non-empty type.
    """
    if tag == "O":
        return "O", None
    prefix, sep, entity_type = tag.partition("-")
    if sep and prefix in ALL_PREFIXES and entity_type:
        return prefix, entity_type
    raise ValueError(tag)


def iobes_error(tags: Sequence[str]) -> Optional[tuple[int, str]]:
    """Return ``(index, reason)`` of the first tag that breaks IOBES, else None.

    Used to decide whether a file that contains ``S-``/``E-`` tags is a
    consistent IOBES file (convert it) or a mix of schemes (reject it, since
    guessing would silently change entity boundaries).
    """
    open_type: Optional[str] = None
    for i, tag in enumerate(tags):
        prefix, etype = split_tag(tag)
        if prefix in ("I", "E"):
            if open_type != etype:
                return i, f"'{tag}' does not continue a '{etype}' entity opened by B-{etype}"
            if prefix == "E":
                open_type = None
            continue
        if open_type is not None:
            return i, f"'{tag}' follows an unclosed B-/I-{open_type} (IOBES needs E-{open_type})"
        open_type = etype if prefix == "B" else None
    if open_type is not None:
        return len(tags), f"the sentence ends inside a {open_type} entity without E-{open_type}"
    return None


def iobes_to_bio(tags: Sequence[str]) -> list[str]:
    """Convert valid IOBES tags to BIO (``S-`` -> ``B-``, ``E-`` -> ``I-``)."""
    out = []
    for tag in tags:
        prefix, etype = split_tag(tag)
        if prefix == "S":
            out.append(f"B-{etype}")
        elif prefix == "E":
            out.append(f"I-{etype}")
        else:
            out.append(tag)
    return out


def repair_bio(tags: Sequence[str]) -> tuple[list[str], int]:
    """Turn an ``I-X`` after ``O`` or after another type into ``B-X``.

    This is what conlleval does when it counts chunks, so repairing at read
    time keeps training labels and evaluation consistent.

    Returns:
        The repaired tags and how many tags were changed.
    """
    out: list[str] = []
    repaired = 0
    prev_type: Optional[str] = None
    for tag in tags:
        prefix, etype = split_tag(tag)
        if prefix == "I" and prev_type != etype:
            tag = f"B-{etype}"
            repaired += 1
        out.append(tag)
        prev_type = etype
    return out, repaired


def bio_spans(tags: Sequence[str]) -> list[Span]:
    """Entity spans of a BIO sequence as ``(start, end_exclusive, type)``.

    A stray ``I-X`` opens a new span, matching :func:`repair_bio`.
    """
    spans: list[Span] = []
    start: Optional[int] = None
    cur: Optional[str] = None
    for i, tag in enumerate(tags):
        prefix, etype = split_tag(tag)
        if prefix == "I" and cur == etype:
            continue
        if cur is not None:
            spans.append((start, i, cur))  # type: ignore[arg-type]
        start, cur = (i, etype) if prefix in ("B", "I") else (None, None)
    if cur is not None:
        spans.append((start, len(tags), cur))  # type: ignore[arg-type]
    return spans


def chunk_bounds(tags: Sequence[str], max_length: int) -> list[tuple[int, int]]:
    """Cut points that split a sentence into chunks of at most ``max_length``.

    Each cut is placed as late as possible before a ``B-`` or ``O`` tag so no
    entity is torn apart; only an entity longer than the window forces a cut
    inside it (the caller then re-opens it with ``B-``).
    """
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    bounds = []
    start, n = 0, len(tags)
    while n - start > max_length:
        cut = start + max_length
        best = cut
        for j in range(cut, start, -1):
            if not tags[j].startswith("I-"):
                best = j
                break
        bounds.append((start, best))
        start = best
    bounds.append((start, n))
    return bounds
