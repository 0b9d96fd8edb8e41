"""What the benchmark scripts share: timing Flair's trainer, resetting stored embeddings, publishing tables."""

import tempfile
import time
from pathlib import Path

from flair.trainers.plugins import TrainerPlugin


class EpochTimer(TrainerPlugin):
    """Per training epoch of Flair's trainer: (seconds, batches), without the dev evaluation after it."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    @TrainerPlugin.hook
    def before_training_epoch(self, epoch, **kw):
        self.start, self.batches = time.perf_counter(), 0

    @TrainerPlugin.hook
    def after_training_batch(self, **kw):
        self.batches += 1

    @TrainerPlugin.hook
    def after_training_epoch(self, epoch, **kw):
        self.epochs.append((time.perf_counter() - self.start, self.batches))

    @property
    def seconds(self) -> list:
        return [seconds for seconds, _ in self.epochs]


def clear_embeddings(corpora) -> None:
    """Drops stored embeddings, so the next model starts from the same (empty) state."""
    for corpus in corpora:
        for sentence in [*corpus.train, *corpus.dev, *corpus.test]:
            sentence.clear_embeddings()


def publish(table: str, path: Path) -> None:
    """Prints the Markdown table and writes it to ``path`` (committed under benchmarks/results/)."""
    print("\n" + table)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(table + "\n")


def train_stock_flair(target, embeddings, epochs: int, batch_size: int) -> EpochTimer:
    """Stock Flair on ``target``'s train split: ModelTrainer + SequenceTagger, storage 'cpu', no evaluation."""
    import flair
    from flair.data import Corpus
    from flair.models import SequenceTagger
    from flair.trainers import ModelTrainer

    flair.set_seed(1)
    tagger = SequenceTagger(embeddings, target.make_label_dictionary("ner"), "ner")
    timer = EpochTimer()
    train_only = Corpus(train=target.train, dev=None, test=None, sample_missing_splits=False)
    with tempfile.TemporaryDirectory() as tmp:
        ModelTrainer(tagger, train_only).train(
            tmp, max_epochs=epochs, mini_batch_size=batch_size, embeddings_storage_mode="cpu",
            plugins=[timer], save_final_model=False, create_file_logs=False, create_loss_file=False,
        )
    return timer
