"""What the model-based predictors share: a small seeded probe model, capped corpora, batches and the budget.

The probe model is a ``MultiHeadTagger`` (shared embeddings and BiLSTM, a head per corpus) over
``embeddings`` (default: the shipped ``default-small``, offline), built from ``seed`` so a ranking is
reproducible; it is not the run's model, so a ranking depends only on the corpora and these options.
The global random state is restored afterwards: ranking inside a run never changes its training.
"""

from __future__ import annotations

import contextlib
import math
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Sequence

import flair
import numpy
import torch

from flair_munch.aux_ranking.base import AuxPredictor
from flair_munch.corpora.named_corpus import NamedCorpus
from flair_munch.corpora.subsample import subsample


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Leaves Python's, NumPy's and torch's global random state as it was (flair.set_seed sets all three)."""
    state = random.getstate(), numpy.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(state[0])
            numpy.random.set_state(state[1])


@lru_cache(maxsize=4)
def _load(spec: tuple) -> Any:
    from flair_munch.embeddings import load_embeddings

    return load_embeddings(list(spec) if len(spec) > 1 else spec[0])


@dataclass
class ModelPredictor(AuxPredictor):
    """Options every model-based predictor has: the probe model, its optimiser, the sentence cap and the budget."""

    embeddings: Any = "default-small"  # a name, a list of names, or TokenEmbeddings (frozen)
    hidden_size: int = 128
    learning_rate: float = 0.1
    mini_batch_size: int = 16
    seed: int = 1
    max_sentences: int = 2000  # train sentences per candidate at most (a seeded sample); the target's all
    budget_epochs: int = 12  # epochs of the brute-force SingleAux runs the compute is compared with

    def __post_init__(self) -> None:
        for key in ("hidden_size", "mini_batch_size", "max_sentences", "budget_epochs"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ValueError(f"option {key} of ranking method {self.name!r} must be a whole number >= 1, "
                                 f"got {getattr(self, key)!r}")

    def token_embeddings(self):
        if isinstance(self.embeddings, str):
            return _load((self.embeddings,))
        if isinstance(self.embeddings, (list, tuple)):
            return _load(tuple(self.embeddings))
        return self.embeddings

    def options(self) -> dict:
        shown = self.embeddings if isinstance(self.embeddings, (str, list, tuple)) else "<embeddings>"
        return {**super().options(), "embeddings": shown}

    def capped(self, corpus) -> NamedCorpus:
        """``corpus`` with train cut to ``max_sentences`` (seeded), without dev and test (candidates need neither)."""
        train = list(corpus.train)
        train = subsample(train, self.max_sentences, self.seed) if len(train) > self.max_sentences else train
        return NamedCorpus(train, [], [], name=corpus.name, entity_type=getattr(corpus, "entity_type", corpus.name),
                           path=getattr(corpus, "path", "."))

    def without_test(self, target) -> NamedCorpus:
        """The target with train and dev only: predictors score on dev and never read test."""
        return NamedCorpus(list(target.train), list(target.dev or []), [], name=target.name,
                           entity_type=getattr(target, "entity_type", target.name), path=getattr(target, "path", "."))

    def build_model(self, corpora: Sequence):
        """The probe model over ``corpora`` (target first), initialised from ``seed``."""
        from flair_munch.models import MultiHeadTagger

        embeddings = self.token_embeddings()  # loaded (which may draw random numbers) before the seed is set
        flair.set_seed(self.seed)
        return MultiHeadTagger.from_corpora(embeddings, list(corpora), hidden_size=self.hidden_size)

    def iterations(self, target) -> int:
        """ITER: batches in one pass over the target's train split."""
        return math.ceil(len(target.train) / self.mini_batch_size)

    def budget_steps(self, target, candidates: Sequence) -> int:
        """Steps of SingleAux with every candidate for ``budget_epochs`` epochs (ITER aux + ITER target an epoch)."""
        return len(candidates) * 2 * self.iterations(target) * self.budget_epochs


class BatchCycle:
    """Seeded, endless mini-batches of one corpus's train sentences: reshuffled after every pass."""

    def __init__(self, sentences: Sequence, batch_size: int, seed: int) -> None:
        self.sentences, self.batch_size = [s for s in sentences if len(s)], batch_size
        self.rng, self.queue = random.Random(seed), []
        if not self.sentences:
            raise ValueError("a corpus without training sentences cannot be ranked by a model-based predictor")

    def next(self) -> list:
        if len(self.queue) < self.batch_size:
            order = list(self.sentences)
            self.rng.shuffle(order)
            self.queue += order
        batch, self.queue = self.queue[: self.batch_size], self.queue[self.batch_size:]
        return batch
