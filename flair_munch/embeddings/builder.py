"""Builds an offline embeddings set (word vectors + character LMs) from corpus training files."""

import contextlib
import datetime
import logging
import platform
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional, Union

import flair
from flair.data import Dictionary

from flair_munch.atomic_files import atomic_dir
from flair_munch.embeddings.char_lm import build_char_dictionary, train_char_lm, write_text_corpus
from flair_munch.embeddings.summary import BuildSummary
from flair_munch.embeddings.text import TextSource, collect_sentences, split_lm_text
from flair_munch.embeddings.word_vectors import train_word_vectors

log = logging.getLogger("flair_munch.embeddings")

WORD_VECTORS_FILE = "word-vectors.kv"
DIRECTIONS = ("forward", "backward")


def lm_file(direction: str) -> str:
    """File name of the character LM for one direction."""
    return f"lm-{direction}.pt"


@contextlib.contextmanager
def _flair_log_level(progress: bool) -> Iterator[None]:
    """Silences Flair's per-batch LM log lines when progress is off."""
    flair_log = logging.getLogger("flair")
    previous = flair_log.level
    if not progress:
        flair_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        flair_log.setLevel(previous)


@contextlib.contextmanager
def _torch_threads(num_threads: Optional[int]) -> Iterator[None]:
    """Pins torch's intra-op threads for the build, then restores them.

    On a small shared machine, torch's default (one thread per core) collapses when other
    processes compete for the cores: an LM batch measured 0.85 s with 1 thread vs 21 s
    with 2 threads while another job was running.
    """
    import torch

    previous = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _versions() -> dict[str, str]:
    import gensim
    import torch

    return {
        "flair": flair.__version__,
        "gensim": gensim.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def build_embeddings(
    texts_or_corpus_files: Sequence[TextSource], out_dir: Union[str, Path], *,
    word_dim: int = 100, word_epochs: int = 10, min_count: int = 2, max_vocab: int = 25000,
    lm_hidden: int = 256, lm_layers: int = 1, lm_embedding_size: int = 100, lm_epochs: int = 8,
    lm_sequence_length: int = 250, lm_batch_size: int = 100, lm_lr: float = 20.0, lm_max_chars: Optional[int] = None,
    directions: Sequence[str] = DIRECTIONS, seed: int = 1, num_threads: Optional[int] = None,
    progress: bool = True, overwrite: bool = False,
) -> BuildSummary:
    """Trains FastText word vectors and character LMs on training text, for offline use.

    Args:
        texts_or_corpus_files: CoNLL training files (token<TAB>tag; only tokens are read),
            and/or tokenized sentences (lists of strings). Use training splits only, so dev
            and test text never leaks into the embeddings.
        out_dir: folder to create with ``word-vectors.kv`` (+ ``.npy``), ``lm-<direction>.pt``
            and ``build.json``; written atomically.
        lm_max_chars: cap on the characters (seeded sample of sentences) the LMs see, to bound
            build time on large inputs; ``None`` uses all the text.
        directions: which character LMs to train ("forward", "backward").
        num_threads: torch threads for the LM training (``None``: torch's default); 1 is
            far faster when other jobs share a small machine.
        overwrite: replace an existing ``out_dir``.
    Other arguments are the FastText and ``LanguageModel`` / ``LanguageModelTrainer`` settings.

    Returns:
        The BuildSummary that is also saved as ``out_dir/build.json``.
    """
    settings = {key: value for key, value in locals().items() if key not in ("texts_or_corpus_files", "out_dir")}
    settings["directions"] = list(directions)
    if set(directions) - set(DIRECTIONS) or not directions:
        raise ValueError(f"directions must be a non-empty subset of {DIRECTIONS}, got {directions}")
    out_dir = Path(out_dir).resolve()
    started = time.time()
    sentences, files = collect_sentences(texts_or_corpus_files)
    log.info("embeddings build: %d sentences from %d files -> %s", len(sentences), len(files), out_dir)

    with contextlib.ExitStack() as stack:
        stack.enter_context(_flair_log_level(progress))
        stack.enter_context(_torch_threads(num_threads))
        partial = stack.enter_context(atomic_dir(out_dir, overwrite))
        # Entered last, so it is removed before the partial folder is renamed into place.
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flair-munch-embeddings-")))
        trained, seconds = _train_all(sentences, partial, work, settings)
        seconds["total"] = time.time() - started
        summary = BuildSummary(
            out_dir=str(out_dir), settings=settings, inputs=[asdict(f) for f in files], files={},
            seconds={key: round(value, 1) for key, value in seconds.items()}, versions=_versions(),
            created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **trained,
        )
        summary.files = {p.name: p.stat().st_size for p in sorted(partial.iterdir()) if p.is_file()}
        summary.save(partial)
    if progress:
        log.info("embeddings build done:\n%s", summary.format())
    return summary


def _train_all(sentences: list[list[str]], partial: Path, work: Path,
               settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
    """Trains the word vectors and each direction's LM into ``partial``.

    Returns the :class:`BuildSummary` fields they fill and the seconds each took.
    """
    seconds: dict[str, float] = {}
    tick = time.time()
    word_stats = train_word_vectors(
        sentences, partial / WORD_VECTORS_FILE, dim=settings["word_dim"], epochs=settings["word_epochs"],
        min_count=settings["min_count"], max_vocab=settings["max_vocab"], seed=settings["seed"],
    )
    seconds["word_vectors"] = time.time() - tick
    log.info("word vectors: %d words in %.0f s", word_stats["vocab_size"], seconds["word_vectors"])

    lines = [" ".join(tokens) for tokens in sentences]
    lm_text = split_lm_text(lines, seed=settings["seed"], max_chars=settings["lm_max_chars"])
    dictionary = build_char_dictionary(lines)
    corpus_folder = write_text_corpus(lm_text, work / "lm-corpus")
    lm_stats: dict[str, dict] = {}
    for direction in settings["directions"]:
        tick = time.time()
        lm_stats[direction] = _train_lm(direction, corpus_folder, dictionary, work, partial, settings)
        seconds[f"lm_{direction}"] = time.time() - tick
    trained = {"vocab_size": word_stats["vocab_size"], "char_dictionary_size": len(dictionary),
               "word_vectors": word_stats, "lm_text": lm_text.stats(), "lm": lm_stats}
    return trained, seconds


def _train_lm(direction: str, corpus_folder: Path, dictionary: Dictionary, work: Path, partial: Path,
              settings: dict[str, Any]) -> dict:
    log.info("char LM %s: training %d epochs", direction, settings["lm_epochs"])
    return train_char_lm(
        corpus_folder,
        dictionary,
        work / f"lm-{direction}",
        partial / lm_file(direction),
        is_forward=direction == "forward",
        hidden_size=settings["lm_hidden"],
        nlayers=settings["lm_layers"],
        embedding_size=settings["lm_embedding_size"],
        epochs=settings["lm_epochs"],
        sequence_length=settings["lm_sequence_length"],
        batch_size=settings["lm_batch_size"],
        learning_rate=settings["lm_lr"],
        seed=settings["seed"],
    )
