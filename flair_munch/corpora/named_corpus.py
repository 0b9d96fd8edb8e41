"""A Flair corpus that remembers which named corpus it came from.

Multi-corpus training needs each corpus's name (to route sentences to a head)
and entity type (to report and match auxiliaries); Flair's ``Corpus`` keeps
neither beyond a free-text name.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Union

from flair.data import Corpus, Sentence
from flair.datasets import FlairDatapointDataset

from flair_munch.corpora.conll import to_flair_sentences
from flair_munch.corpora.label_map import apply_label_map, load_label_map
from flair_munch.corpora.registry import CorpusInfo, resolve_corpus
from flair_munch.corpora.splits import entity_types_of, read_splits
from flair_munch.corpora.subsample import Size, subsample

log = logging.getLogger("flair_munch")


class NamedCorpus(Corpus):
    """Flair corpus plus ``name``, ``entity_type``, ``path`` and registry ``info``."""

    def __init__(
        self,
        train: list[Sentence],
        dev: list[Sentence],
        test: list[Sentence],
        *,
        name: str,
        entity_type: str,
        path: Path,
        info: Optional[CorpusInfo] = None,
    ) -> None:
        super().__init__(
            FlairDatapointDataset(train) if train else None,
            FlairDatapointDataset(dev) if dev else None,
            FlairDatapointDataset(test) if test else None,
            name=name,
            sample_missing_splits=False,
        )
        self.name = name
        self.entity_type = entity_type
        self.path = Path(path)
        self.info = info

    def __repr__(self) -> str:
        return f"NamedCorpus({self.name!r}, entity_type={self.entity_type!r}, {self})"


def load_corpus(
    name_or_path: Union[str, Path],
    data_dir: Union[str, Path, None] = None,
    *,
    samples: bool = False,
    train_size: Optional[Size] = None,
    dev_size: Optional[Size] = None,
    seed: int = 42,
    max_length: Optional[int] = 512,
    long_sentences: str = "split",
    label_type: str = "ner",
    name: Optional[str] = None,
    label_map: Union[str, Path, dict, None] = None,
    download: bool = False,
) -> NamedCorpus:
    """Load a registered or custom corpus as a :class:`NamedCorpus`.

    Every sentence carries a ``corpus`` label with the corpus name. Only train
    is subsampled (``train_size``) so dev/test scores stay comparable across
    training-set sizes; ``dev_size`` cuts dev too (cheaper per-epoch evaluation and model
    selection on a large dev set; test is never cut). ``name`` overrides the corpus name (registry name, else the folder's name).

    ``label_map`` (a YAML file, a shipped map's name such as ``"crossner-to-conll"``, or a dict; see
    :mod:`flair_munch.corpora.label_map`) renames or drops entity types in every split; the corpus's
    ``entity_type`` then lists the mapped types. An entity type the map does not cover, without a
    ``default:``, raises :class:`~flair_munch.corpora.label_map.LabelMapError`.

    ``download=True`` fetches a registered corpus missing from the data folder first (pinned source, verified
    byte for byte; :mod:`flair_munch.corpora.download`); a corpus already there is never fetched again.
    """
    if download and not samples:
        from flair_munch.corpora.download import ensure_corpora

        ensure_corpora([name_or_path], data_dir)
    info, folder = resolve_corpus(name_or_path, data_dir=data_dir, samples=samples)
    name = name or (info.name if info else folder.name)
    rows = read_splits(folder, max_length=max_length, long_sentences=long_sentences)
    if train_size is not None:
        full = len(rows["train"])
        rows["train"] = subsample(rows["train"], train_size, seed)
        log.info("%s: subsampled train to %d of %d sentences (seed %d)", name, len(rows["train"]), full, seed)
    if dev_size is not None:
        full = len(rows["dev"])
        rows["dev"] = subsample(rows["dev"], dev_size, seed)
        log.info("%s: subsampled dev to %d of %d sentences (seed %d)", name, len(rows["dev"]), full, seed)
    if label_map is not None:
        mapping = load_label_map(label_map)
        rows = apply_label_map(rows, mapping, corpus=f"'{name}' ({folder})")
        log.info("%s: applied label map %s", name, mapping.source)
    entity_type = info.entity_type if info and label_map is None else entity_types_of(rows)
    splits = {split: to_flair_sentences(r, label_type=label_type, corpus_name=name) for split, r in rows.items()}
    return NamedCorpus(
        splits["train"], splits["dev"], splits["test"], name=name, entity_type=entity_type, path=folder, info=info
    )
