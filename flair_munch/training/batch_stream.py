"""Mini-batches of one corpus (or one pool of corpora): a shuffled stream that restarts when exhausted."""

import zlib
from typing import Sequence

import torch
from flair.data import Sentence


BUCKET_BATCHES = 20
"""Batches per length bucket: enough to group similar lengths, few enough to keep batches random."""


def stable_seed(seed: int, key: str) -> int:
    """A seed for ``key`` that does not depend on Python's randomised ``hash``."""
    return (seed * 1_000_003 + zlib.crc32(key.encode("utf-8"))) % (2**63)


class BatchStream:
    """``extract(D)`` of docs/methods.md §1.2: the next mini-batch of D, reshuffling D after each full pass.

    A pass ends with a short batch when ``len(D)`` is not a multiple of the batch size, so
    ``ceil(len(D) / batch_size)`` draws are exactly one pass (one epoch of SingleTask). The stream
    owns its random generator, so its order does not depend on what other streams or dropout draw,
    and its state can be checkpointed and restored.

    With ``length_bucketing`` each pass is cut into buckets of ``BUCKET_BATCHES`` batches; within a
    bucket the sentences are sorted by length, cut into batches and the batches shuffled. Batches
    then hold sentences of similar length (less padding for the BiLSTM and the CRF) while a pass
    still visits every sentence once, in the same number and sizes of batches, the short one last.
    """

    def __init__(self, sentences: Sequence[Sentence], batch_size: int, seed: int, key: str,
                 length_bucketing: bool = False) -> None:
        if not sentences:
            raise ValueError(f"cannot draw batches from {key!r}: it has no training sentences")
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.sentences = list(sentences)
        self.batch_size = batch_size
        self.key = key
        self.length_bucketing = length_bucketing
        self.generator = torch.Generator().manual_seed(stable_seed(seed, key))
        self.order: list[int] = []
        self.position = 0
        self.passes = 0

    def __len__(self) -> int:
        """Batches in one pass."""
        return -(-len(self.sentences) // self.batch_size)

    def next(self) -> list[Sentence]:
        if self.position >= len(self.order):
            self.order = self._draw_pass()
            if self.length_bucketing:
                self.order = self._bucketed(self.order)
            self.position = 0
            self.passes += 1
        indices = self.order[self.position : self.position + self.batch_size]
        self.position += len(indices)
        return [self.sentences[i] for i in indices]

    def _draw_pass(self) -> list[int]:
        """The sentences of the next pass (indices), shuffled: each sentence once."""
        return torch.randperm(len(self.sentences), generator=self.generator).tolist()

    def _bucketed(self, order: list[int]) -> list[int]:
        full = len(order) - len(order) % self.batch_size
        span = self.batch_size * BUCKET_BATCHES
        bucketed = []
        for start in range(0, full, span):
            bucket = sorted(order[start : min(start + span, full)], key=lambda i: len(self.sentences[i]))
            batches = [bucket[i : i + self.batch_size] for i in range(0, len(bucket), self.batch_size)]
            for b in torch.randperm(len(batches), generator=self.generator).tolist():
                bucketed += batches[b]
        return bucketed + order[full:]

    def state_dict(self) -> dict:
        return {
            "generator": self.generator.get_state(),
            "order": list(self.order),
            "position": self.position,
            "passes": self.passes,
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.order = list(state["order"])
        self.position = state["position"]
        self.passes = state["passes"]


class QuotaStream(BatchStream):
    """A pool of corpora drawn in fixed shares: each pass holds ``quotas[i]`` sentences of ``corpora[i]``.

    Corpus i's sentences come from its own shuffled pass, continued from one pass of the pool to the
    next and reshuffled when exhausted (no sentence repeats before all were drawn); a pass's sentences
    are then shuffled (and bucketed) together. A pass is an epoch of the schedules that draw from it
    (``Step.quotas``), so the counts per corpus and epoch are exact, not a random draw's.
    """

    def __init__(self, corpora: Sequence[Sequence[Sentence]], quotas: Sequence[int], batch_size: int, seed: int,
                 key: str, length_bucketing: bool = False) -> None:
        if len(quotas) != len(corpora) or any(q < 0 for q in quotas) or not sum(quotas):
            raise ValueError(f"{key!r}: expected one quota >= 0 per corpus, not all 0, got {list(quotas)}")
        empty = [i for i, (corpus, quota) in enumerate(zip(corpora, quotas)) if quota and not corpus]
        if empty:
            raise ValueError(f"cannot draw batches from {key!r}: its corpus {empty[0] + 1} has no training sentences")
        super().__init__([s for corpus in corpora for s in corpus], batch_size, seed, key, length_bucketing)
        self.quotas = list(quotas)
        self.starts = [sum(len(c) for c in corpora[:i]) for i in range(len(corpora))]
        self.sizes = [len(corpus) for corpus in corpora]
        self.rests: list[list[int]] = [[] for _ in corpora]  # per corpus: what is left of its own shuffled pass

    def __len__(self) -> int:
        return -(-sum(self.quotas) // self.batch_size)

    def _draw_pass(self) -> list[int]:
        drawn = []
        for i, quota in enumerate(self.quotas):
            while quota:
                if not self.rests[i]:
                    self.rests[i] = (torch.randperm(self.sizes[i], generator=self.generator) + self.starts[i]).tolist()
                take, self.rests[i] = self.rests[i][:quota], self.rests[i][quota:]
                drawn += take
                quota -= len(take)
        return [drawn[j] for j in torch.randperm(len(drawn), generator=self.generator).tolist()]

    def state_dict(self) -> dict:
        return {**super().state_dict(), "rests": [list(rest) for rest in self.rests]}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.rests = [list(rest) for rest in state["rests"]]
