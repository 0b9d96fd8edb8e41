"""Character language models trained with Flair's own LM trainer, for ``FlairEmbeddings``."""

import logging
import math
import random
import re
import shutil
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import torch

import flair
from flair.data import Dictionary
from flair.models import LanguageModel
from flair.trainers.language_model_trainer import LanguageModelTrainer, TextCorpus

from flair_munch.embeddings.text import LmText

log = logging.getLogger("flair_munch.embeddings")

_VALID_PPL = re.compile(r"valid ppl\s+([0-9.]+)")


def build_char_dictionary(lines: Iterable[str]) -> Dictionary:
    """Builds the character dictionary from the text itself, most frequent first.

    ``Dictionary.load("chars")`` would download Flair's dictionary. Space and newline are
    always included because Flair's ``TextDataset`` feeds the line delimiter to the LM.
    """
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(line)
    counts.update(" \n")
    dictionary = Dictionary(add_unk=True)
    for char, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        dictionary.add_item(char)
    return dictionary


def write_text_corpus(text: LmText, folder: Path) -> Path:
    """Writes the folder layout ``TextCorpus`` expects: ``train/train_split_1``, ``valid.txt``, ``test.txt``."""
    (folder / "train").mkdir(parents=True, exist_ok=True)
    for name, lines in (("train/train_split_1", text.train), ("valid.txt", text.valid), ("test.txt", text.test)):
        (folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return folder


def _perplexity(trainer: LanguageModelTrainer, data: torch.Tensor, batch_size: int, sequence_length: int) -> float:
    batched = trainer._batchify(data, batch_size)
    return math.exp(trainer.evaluate(batched, batch_size, sequence_length))


def train_char_lm(
    corpus_folder: Path,
    dictionary: Dictionary,
    work_dir: Path,
    target: Path,
    *,
    is_forward: bool,
    hidden_size: int,
    nlayers: int,
    embedding_size: int,
    epochs: int,
    sequence_length: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
) -> dict:
    """Trains one direction, copies the best (lowest validation loss) model to ``target``.

    Flair's trainer reports test perplexity of the *last* model only, so both perplexities
    are recomputed here on the saved best model, which is the one shipped.
    Returns statistics for build.json.
    """
    flair.set_seed(seed)
    corpus = TextCorpus(corpus_folder, dictionary, forward=is_forward, character_level=True)
    model = LanguageModel(
        dictionary,
        is_forward_lm=is_forward,
        hidden_size=hidden_size,
        nlayers=nlayers,
        embedding_size=embedding_size,
    )
    trainer = LanguageModelTrainer(model, corpus)
    # num_workers=0: the training split is read in this process, so the seed governs its shuffle.
    trainer.train(
        work_dir,
        sequence_length=sequence_length,
        learning_rate=learning_rate,
        mini_batch_size=batch_size,
        max_epochs=epochs,
        num_workers=0,
    )
    best = work_dir / "best-lm.pt"
    if not best.exists():
        raise RuntimeError(f"Flair's LM trainer wrote no model in {work_dir}")
    stats = _best_model_stats(best, corpus, batch_size, sequence_length, seed)
    shutil.copyfile(best, target)
    log.info(
        "char LM %s: valid ppl %.3f, test ppl %.3f", "forward" if is_forward else "backward",
        stats["valid_perplexity"], stats["test_perplexity"],
    )
    loss_txt = work_dir / "loss.txt"
    history = [float(x) for x in _VALID_PPL.findall(loss_txt.read_text())] if loss_txt.exists() else []
    # the last entry of loss.txt is Flair's own TEST line, not an epoch
    stats["valid_perplexity_per_epoch"] = history[:-1] if len(history) > epochs else history
    return stats


def _best_model_stats(best: Path, corpus: TextCorpus, batch_size: int, sequence_length: int, seed: int) -> dict:
    """Validation and test perplexity of the saved best model (Flair reports the last model's only)."""
    best_model = LanguageModel.load_language_model(best, has_decoder=True)
    best_model.eval()
    evaluator = LanguageModelTrainer(best_model, corpus)
    random.seed(seed)
    return {
        "valid_perplexity": _perplexity(evaluator, corpus.valid, batch_size, sequence_length),
        "test_perplexity": _perplexity(evaluator, corpus.test, batch_size, sequence_length),
    }
