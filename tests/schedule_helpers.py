"""What the schedule tests share: three tiny corpora, a one-hot model, a recorder of every step."""

import pytest

import flair
from flair.data import MultiCorpus
from flair.embeddings import OneHotEmbeddings
from flair.trainers.plugins import TrainerPlugin

from flair_munch.corpora import load_corpus
from flair_munch.models import MultiHeadTagger
from flair_munch.training import AuxiliaryTrainer

T, CHEM, S800 = "ncbi-disease", "bc5cdr-chem", "s800"


class Recorder(TrainerPlugin):
    """Records (corpora in the batch, batch size, step weight, lr) of every step."""

    def __init__(self):
        super().__init__()
        self.steps, self.epochs = [], []

    @TrainerPlugin.hook
    def after_training_batch(self, step, batch, lr, **kw):
        corpora = tuple(sorted({s.get_label("corpus").value for s in batch}))
        self.steps.append((corpora[0] if len(corpora) == 1 else corpora, len(batch), step.weight, lr))

    @TrainerPlugin.hook
    def before_training_epoch(self, stage_epoch, stage, lr, **kw):
        self.epochs.append((stage, stage_epoch, lr))


@pytest.fixture(scope="module")
def tiny():
    """Target 40 sentences, aux 20 (Chemical) and 30 (Species): batch 16 gives ITER = 3."""
    corpora = [
        load_corpus(T, samples=True, train_size=40, seed=1),
        load_corpus(CHEM, samples=True, train_size=20, seed=1),
        load_corpus(S800, samples=True, train_size=30, seed=1),
    ]
    for corpus in corpora:  # small dev/test keep evaluation cheap
        corpus._dev = type(corpus.dev)(list(corpus.dev)[:20])
        corpus._test = type(corpus.test)(list(corpus.test)[:20])
    return corpora


def make_trainer(corpora, tmp_path, plugins=()):
    flair.set_seed(1)
    embeddings = OneHotEmbeddings.from_corpus(MultiCorpus(corpora), embedding_length=8, min_freq=1)
    model = MultiHeadTagger.from_corpora(embeddings, corpora, hidden_size=8)
    return AuxiliaryTrainer(model, corpora, cache_dir=tmp_path / "cache", plugins=plugins)


def run(tiny, tmp_path, schedule, max_epochs=1, **kwargs):
    recorder = Recorder()
    trainer = make_trainer(tiny, tmp_path, [recorder])
    result = trainer.train(T, schedule=schedule, base_path=tmp_path / "run", max_epochs=max_epochs,
                           mini_batch_size=16, progress=False, **kwargs)
    return recorder, result


def train_interrupted(trainer, plugin, base_path, **common) -> None:
    """Trains until ``plugin`` raises ``KeyboardInterrupt`` (as Ctrl-C would), leaving the run's last checkpoint."""
    plugin.attach_to(trainer)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(T, base_path=base_path, **common)
    plugin.detach()


def sizes(recorder):
    return [(corpus, size) for corpus, size, _, _ in recorder.steps]
