"""Corpus statistics, checked against the numbers the MUNCHABLES paper reports.

Comparing measured sentence/mention counts with docs/methods.md §1.4 is the quickest way
to tell whether a downloaded corpus is the version the reference F1 scores
were obtained on.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from flair_munch.corpora.bio import bio_spans
from flair_munch.corpora.splits import read_splits
from flair_munch.corpora.registry import PAPER_STATS, SPLITS, find_split_files, resolve_corpus


def corpus_stats(
    name_or_path: Union[str, Path], data_dir: Union[str, Path, None] = None, samples: bool = False
) -> dict[str, Any]:
    """Count sentences, tokens and mentions (total and per type) for each split.

    Sentences are read without a length limit, so counts match the files.
    """
    info, folder = resolve_corpus(name_or_path, data_dir=data_dir, samples=samples)
    splits: dict[str, dict[str, Any]] = {}
    files = find_split_files(folder)
    for split, sentences in read_splits(folder, max_length=None).items():
        path = files[split]
        per_type: Counter[str] = Counter()
        for sent in sentences:
            per_type.update(t for _, _, t in bio_spans([tag for _, tag in sent]))
        splits[split] = {
            "file": str(path),
            "sentences": len(sentences),
            "tokens": sum(len(s) for s in sentences),
            "mentions": sum(per_type.values()),
            "mentions_per_type": dict(sorted(per_type.items())),
        }
    name = info.name if info else folder.name
    found_types = sorted({t for s in splits.values() for t in s["mentions_per_type"]})
    return {
        "name": name,
        "path": str(folder),
        "entity_type": info.entity_type if info else "/".join(found_types),
        "samples": samples,
        "paper": PAPER_STATS.get(name) if not samples else None,
        "splits": splits,
    }


def _num(value: Optional[int]) -> str:
    return "" if value is None else f"{value:,}"


def format_stats(stats: Sequence[dict[str, Any]]) -> str:
    """Markdown table of :func:`corpus_stats` results, paper numbers beside measured ones.

    The ``match`` column is ``=`` when sentences and mentions both equal the
    paper's, ``≠`` when not, and empty when no paper figure exists.
    """
    header = "| corpus | split | sentences | paper sent | mentions | paper ment | tokens | types | match |"
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---|:-:|"]
    for stat in stats:
        paper = stat.get("paper") or {}
        for split in SPLITS:
            s = stat["splits"].get(split)
            if s is None:
                continue
            p_sent, p_ment = paper.get(split, (None, None))
            match = ""
            if p_sent is not None:
                match = "=" if (s["sentences"], s["mentions"]) == (p_sent, p_ment) else "≠"
            types = ", ".join(f"{t} {n:,}" for t, n in s["mentions_per_type"].items())
            lines.append(
                f"| {stat['name']} | {split} | {_num(s['sentences'])} | {_num(p_sent)} | {_num(s['mentions'])} "
                f"| {_num(p_ment)} | {_num(s['tokens'])} | {types} | {match} |"
            )
    return "\n".join(lines)
