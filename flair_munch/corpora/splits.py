"""A corpus folder's split files read and checked: the rows every corpus loader and statistic starts from."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from flair_munch.corpora.bio import split_tag
from flair_munch.corpora.conll import read_conll
from flair_munch.corpora.registry import find_split_files, warn_once


def entity_types_of(rows_by_split: dict[str, list]) -> str:
    """The entity types of a corpus's splits, ``/``-joined (``O`` when it has none)."""
    return "/".join(sorted(set().union(*map(_types_of, rows_by_split.values())))) or "O"


def _types_of(rows: list) -> set[str]:
    return {t for sent in rows for _, tag in sent if (t := split_tag(tag)[1]) is not None}


def _warn_suspect_splits(rows: dict[str, list], files: dict[str, Path]) -> None:
    """Dev or test that is the train data (leakage), or that has entity types train never has (the model cannot
    learn them, so their mentions only count as misses): both make scores mean less than they seem to."""
    train = _types_of(rows["train"])
    for split in ("dev", "test"):
        if rows[split] == rows["train"]:
            warn_once(f"{files[split]} holds the same sentences as {files['train']}: the {split} split is the "
                      f"training data (leakage), so its scores measure nothing held out. Use a held-out {split} file.")
        unseen = sorted(_types_of(rows[split]) - train)
        if unseen:
            warn_once(f"{files[split]}: entity type(s) {', '.join(unseen)} never occur in train ({files['train']}): "
                      "the model cannot learn them, so their mentions count as misses. Check the splits' tag sets.")


def read_splits(folder: Path, max_length: Optional[int] = 512, long_sentences: str = "split") -> dict[str, list]:
    """The ``(token, tag)`` sentences of each split file of a corpus folder, every line checked (``read_conll``),
    with a warning for entity types that dev or test has and train lacks."""
    files = find_split_files(folder)
    rows = {split: read_conll(path, max_length=max_length, long_sentences=long_sentences).sentences
            for split, path in files.items()}
    _warn_suspect_splits(rows, files)
    return rows
