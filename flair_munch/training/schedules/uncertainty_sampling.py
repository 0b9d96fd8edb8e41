"""Uncertainty sampling simulated with gold labels (docs/methods.md §5): does annotating the sentences the model
is least sure of help more than annotating as many random ones?

A share of the target's training set is held back as the unlabelled pool; a seed model trains on the rest
(SingleTask) and scores every pool sentence by the entropy of its CRF marginals (``models/marginals.py``);
the final model trains from the initial weights on the rest plus the ``k`` highest-scoring pool sentences
(``pick: entropy``) or ``k`` drawn at random (``pick: random``, the control: same pool, same ``k``, same seed).
Their gold labels stand in for the annotator's.

Each training is a sub-run of :class:`TrainSubset` (``shared-runs/train-subset_<target>__<id>``, named by the
sentences it trains on), so the seed model is trained once per target and seed, whatever ``k`` and ``pick``
the rows ask for; its pool ranking is part of its ``metrics.json`` (``selection``), so a study resumed from
its committed records ranks nothing again.
"""

import hashlib
import json
import random
from typing import ClassVar, Optional, Sequence, Union

from flair_munch.models.marginals import REDUCTIONS
from flair_munch.training.schedules.base import Choice, Problem, Schedule, Selection, Stage, Step

PICKS = ("entropy", "random")
"""How :class:`UncertaintySampling` picks its ``k`` pool sentences."""


def pool_size(train_size: int, pool: Union[int, float]) -> int:
    """Sentences held back: ``pool`` itself (an int), or that share of ``train_size`` (a float below 1), rounded."""
    return pool if isinstance(pool, int) else round(pool * train_size)


def held_out_pool(train_size: int, pool: Union[int, float], seed: int) -> list[int]:
    """The indices (ascending) of the target training sentences held back as the pool: a seeded draw, the same
    for every row of one seed, so entropy and random picks choose from one pool."""
    count = pool_size(train_size, pool)
    if not 1 <= count < train_size:
        raise ValueError(f"uncertainty-sampling: `pool: {pool}` holds back {count} of the target's {train_size} "
                         "training sentences; it must leave at least one on each side: lower or raise `pool`")
    return sorted(random.Random(f"uncertainty-sampling pool {seed}").sample(range(train_size), count))


def random_pick(pool: Sequence[int], k: int, seed: int) -> list[int]:
    """``k`` pool indices drawn at random (seeded: the same seed draws the same sentences), ascending."""
    return sorted(random.Random(f"uncertainty-sampling random {seed}").sample(list(pool), k))


def most_uncertain(ranking: dict, k: int, reduce: str = "max") -> list[int]:
    """The ``k`` pool indices with the highest ``reduce`` token entropy in ``ranking`` (what
    :meth:`TrainSubset.trained_record` records), ties to the lower index, ascending."""
    scores = ranking[f"{reduce}_entropy"]
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], ranking["held_back"][i]))
    return sorted(ranking["held_back"][i] for i in order[:k])


class TrainSubset(Schedule):
    """SingleTask on some of the target's training sentences (``indices`` into it); the rest held back, each
    scored after training by its max and mean token entropy under the target head's CRF marginals.

    Not registered (no recipe names it): :class:`UncertaintySampling` makes it. Its run id holds the number of
    sentences and a digest of their indices, so the same subset of one target, seed and settings trains once.
    """

    name: ClassVar[str] = "train-subset"
    needs_aux = False

    def __init__(self, indices: Sequence[int]) -> None:
        self._indices = tuple(sorted(indices))
        self.sentences = len(self._indices)
        self.subset = hashlib.sha1(json.dumps(self._indices).encode()).hexdigest()[:16]

    def split_target_train(self, sentences: list) -> tuple[list, list]:
        kept = set(self._indices)
        if self._indices and self._indices[-1] >= len(sentences):
            raise ValueError(f"train-subset: index {self._indices[-1]} is past the target's {len(sentences)} "
                             "training sentences")
        return [s for i, s in enumerate(sentences) if i in kept], [s for i, s in enumerate(sentences) if i not in kept]

    def held_back_indices(self, train_size: int) -> list[int]:
        kept = set(self._indices)
        return [i for i in range(train_size) if i not in kept]

    def plan(self, ctx) -> list[Stage]:
        return [Stage("single-task", (Step((ctx.target,)),) * ctx.iterations)]

    def trained_record(self, model, ctx) -> Optional[dict]:
        """The held-back sentences' indices with their max and mean token entropy (nats) under the trained model."""
        if not ctx.held_back:
            return None
        from flair_munch.models.marginals import rank_by_uncertainty

        rows = {id(row.sentence): row.entropies
                for row in rank_by_uncertainty(model, ctx.held_back, head=ctx.target,
                                               mini_batch_size=ctx.settings.eval_batch_size)}
        entropies = [rows.get(id(sentence), [0.0]) for sentence in ctx.held_back]  # an empty sentence scores 0
        return {"held_back": self.held_back_indices(len(ctx.held_back) + len(ctx.target_train)),
                "max_entropy": [round(max(e), 6) for e in entropies],
                "mean_entropy": [round(sum(e) / len(e), 6) for e in entropies]}


@Schedule.register("uncertainty-sampling")
class UncertaintySampling(Selection):
    """Trains on all but a held-back ``pool``, adds its ``k`` most uncertain (or k random) sentences, retrains.

    ``pool``: the sentences held back, a share of the target's train (0.5) or a count (50); ``k``: pool
    sentences added (0: the seed model itself, trained on the rest alone); ``pick``: ``entropy`` (the highest
    CRF-marginal token entropy under the seed model, ``reduce``: max or mean over a sentence's tokens) or
    ``random`` (the control). Rows of one seed share the pool and the seed model.
    """

    needs_aux = False

    def __init__(self, k: int = 0, pool: Union[int, float] = 0.5, pick: str = "entropy", reduce: str = "max") -> None:
        self.k, self.pool, self.pick, self.reduce = k, pool, pick, reduce

    @classmethod
    def check(cls, options, target, aux, entity_types) -> list[Problem]:
        if problems := super().check(options, target, aux, entity_types):
            return problems
        k, pool = options.get("k", 0), options.get("pool", 0.5)
        problems = []
        if k < 0:
            problems.append(Problem(("k",), f"k must be an integer >= 0, got {k}",
                                    "Give the number of pool sentences to add, e.g. 10 (0: the seed model alone)."))
        if isinstance(pool, int) and pool < 1 or isinstance(pool, float) and not 0 < pool < 1:
            problems.append(Problem(("pool",), f"pool must be a share between 0 and 1 or a count >= 1, got {pool}",
                                    "Hold back e.g. 0.5 (half the target's train) or 50 (sentences)."))
        elif isinstance(pool, int) and k > pool:
            problems.append(Problem(("k",), f"k = {k} is more than the {pool} sentences of the pool",
                                    f"Add at most {pool} sentences, or hold back more (`pool`)."))
        for key, value, valid in (("pick", options.get("pick", "entropy"), PICKS),
                                  ("reduce", options.get("reduce", "max"), REDUCTIONS)):
            if value not in valid:
                problems.append(Problem((key,), f"unknown {key} `{value}`", f"Choose one of: {', '.join(valid)}."))
        return problems

    def compared_with(self):
        """An entropy pick's row is read against the random pick of the same pool and ``k``."""
        if self.pick != "entropy" or self.k == 0:
            return None
        return UncertaintySampling(self.k, self.pool, "random", self.reduce)

    def choose(self, ctx) -> Choice:
        train_size = len(ctx.target_train)
        pool = held_out_pool(train_size, self.pool, ctx.seed)
        if self.k > len(pool):
            raise ValueError(f"uncertainty-sampling: k = {self.k} is more than the {len(pool)} sentences held back "
                             f"from {ctx.target}'s {train_size} (`pool: {self.pool}`): lower `k` or raise `pool`")
        labelled = sorted(set(range(train_size)) - set(pool))
        selection = {"pool": len(pool), "labelled": len(labelled), "k": self.k, "pick": self.pick}
        if self.k == 0:
            return Choice(TrainSubset(labelled), [], selection)
        if self.pick == "random":
            added = random_pick(pool, self.k, ctx.seed)
        else:
            seed_run = ctx.sub_run(TrainSubset(labelled), [], ctx.settings)
            if seed_run.selection is None or seed_run.selection.get("held_back") != pool:
                raise RuntimeError(f"the seed run {seed_run.run_id} ({seed_run.run_dir}) holds no ranking of this "
                                   "pool; delete its folder to train it again")
            added = most_uncertain(seed_run.selection, self.k, self.reduce)
            scores = dict(zip(seed_run.selection["held_back"], seed_run.selection[f"{self.reduce}_entropy"]))
            selection.update(seed_run=seed_run.run_id, scores=[scores[i] for i in added])
        return Choice(TrainSubset(labelled + added), [], {**selection, "added": added})
