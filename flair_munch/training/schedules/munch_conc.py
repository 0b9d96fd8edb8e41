"""MUNCH-Conc: the target alternating with the concatenation of all auxiliary corpora."""

from typing import Optional

from flair_munch.training.schedules.base import Schedule, Stage, alternate, aux_steps
from flair_munch.training.schedules.sampling import AuxLossWeight, CorpusWeighting


@Schedule.register("munch-conc")
class MunchConc(CorpusWeighting):
    """Each epoch, ITER times: a step on a batch of the pooled aux corpora, then a step on a target batch.

    A pooled batch may mix corpora; each sentence is scored by its own corpus's head. ``sampling``:
    how the pool draws its corpora (by size, ``uniform``, ``temperature`` with ``alpha``; exact counts
    per epoch); ``aux_ratio``: pooled steps per target step; ``aux_loss_weight``: the aux losses' weights.
    """

    def __init__(self, sampling: str = "proportional", alpha: Optional[float] = None, aux_ratio: float = 1.0,
                 aux_loss_weight: AuxLossWeight = 1.0) -> None:
        self.sampling, self.alpha, self.aux_ratio, self.aux_loss_weight = sampling, alpha, aux_ratio, aux_loss_weight
        self.settle_options()

    def plan(self, ctx) -> list[Stage]:
        sentences = aux_steps(ctx.iterations, self.aux_ratio) * ctx.batch_size  # an epoch's pooled sentences
        pool = self.pooled(tuple(ctx.aux), self.shares([ctx.train_size(name) for name in ctx.aux]), sentences)
        return [Stage("munch-conc", alternate(pool, ctx.target, ctx.iterations, self.aux_ratio),
                      loss_weights=self.loss_weights(ctx))]
