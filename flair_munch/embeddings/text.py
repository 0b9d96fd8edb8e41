"""Training text for the embeddings: CoNLL token columns turned into sentence lines."""

import hashlib
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

#: One input item: a CoNLL file path, or an already tokenized sentence.
TextSource = Union[str, os.PathLike, Sequence[str]]


@dataclass
class InputFile:
    """A CoNLL input file, recorded in build.json so a build can be traced to its data."""

    path: str
    sha256: str
    bytes: int
    sentences: int
    tokens: int


def read_conll_sentences(path: Path) -> list[list[str]]:
    """Reads the first column of a CoNLL file; blank lines separate sentences.

    Only the tokens are read (never the tags), so the embeddings cannot learn the labels.
    """
    sentences: list[list[str]] = []
    current: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line.strip():
                if current:
                    sentences.append(current)
                    current = []
                continue
            if line.startswith("-DOCSTART-"):
                continue
            current.append(line.split("\t")[0].split(" ")[0])
    if current:
        sentences.append(current)
    return sentences


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def collect_sentences(sources: Iterable[TextSource]) -> tuple[list[list[str]], list[InputFile]]:
    """Gathers tokenized sentences from CoNLL files and/or token lists.

    Strings and path-likes are always file paths (a missing one raises ``FileNotFoundError``
    rather than silently becoming text); lists or tuples of strings are sentences.
    """
    sentences: list[list[str]] = []
    files: list[InputFile] = []
    for source in sources:
        if isinstance(source, (str, os.PathLike)):
            path = Path(source).resolve()
            if not path.is_file():
                raise FileNotFoundError(f"Embeddings training file not found: {path}")
            file_sentences = read_conll_sentences(path)
            sentences.extend(file_sentences)
            files.append(
                InputFile(
                    path=str(path),
                    sha256=_sha256(path),
                    bytes=path.stat().st_size,
                    sentences=len(file_sentences),
                    tokens=sum(len(s) for s in file_sentences),
                )
            )
        else:
            tokens = [str(token) for token in source]
            if tokens:
                sentences.append(tokens)
    if not sentences:
        raise ValueError("No sentences found in the embeddings training input.")
    return sentences, files


@dataclass
class LmText:
    """Sentence lines for the character LM, split into train / valid / test."""

    train: list[str]
    valid: list[str]
    test: list[str]
    total_sentences: int
    sampled: bool

    def stats(self) -> dict:
        """Sizes per split, for build.json."""
        return {
            "total_sentences": self.total_sentences,
            "sampled": self.sampled,
            **{
                f"{name}_{unit}": value
                for name, lines in (("train", self.train), ("valid", self.valid), ("test", self.test))
                for unit, value in (("sentences", len(lines)), ("chars", sum(len(x) + 1 for x in lines)))
            },
        }


def split_lm_text(
    lines: Sequence[str], *, seed: int, held_out: float = 0.05, max_chars: Union[int, None] = None
) -> LmText:
    """Shuffles sentence lines (seeded), optionally caps them at ``max_chars``, then splits.

    The cap comes before the split so that valid and test stay ~5% each of the text the LM
    actually sees; evaluating a held-out set as large as the training sample would cost time.
    """
    order = list(range(len(lines)))
    random.Random(seed).shuffle(order)
    chosen: list[str] = []
    used = 0
    for index in order:
        if max_chars is not None and used >= max_chars:
            break
        chosen.append(lines[index])
        used += len(lines[index]) + 1
    n_held = max(1, round(held_out * len(chosen)))
    if len(chosen) < 2 * n_held + 1:
        raise ValueError(f"Too few sentences ({len(chosen)}) to train a character LM.")
    return LmText(
        valid=chosen[:n_held],
        test=chosen[n_held : 2 * n_held],
        train=chosen[2 * n_held :],
        total_sentences=len(lines),
        sampled=len(chosen) < len(lines),
    )
