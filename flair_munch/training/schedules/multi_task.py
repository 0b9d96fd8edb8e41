"""MultiTask: all corpora treated equally, the objective being the mean of the per-corpus losses."""

from typing import Optional

from flair_munch.training.schedules.base import Schedule, Stage
from flair_munch.training.schedules.sampling import AuxLossWeight, CorpusWeighting


@Schedule.register("multi-task")
class MultiTask(CorpusWeighting):
    """Each epoch: the target's train once, in batches mixed from every corpus (target and aux).

    Each batch's loss is ``(1/M') * sum_i L_i`` over the M' corpora (docs/methods.md §1.2), not Flair's
    ``MultitaskModel`` sum. ``sampling`` sets each corpus's share of the batches: by size (the paper's,
    where an epoch is one pass over every corpus), ``uniform`` or ``temperature`` with ``alpha``;
    ``aux_loss_weight`` multiplies the auxiliary corpora's losses.
    """

    def __init__(self, sampling: str = "proportional", alpha: Optional[float] = None,
                 aux_loss_weight: AuxLossWeight = 1.0) -> None:
        self.sampling, self.alpha, self.aux_loss_weight = sampling, alpha, aux_loss_weight
        self.settle_options()

    def plan(self, ctx) -> list[Stage]:
        every = (ctx.target, *ctx.aux)
        sizes = [ctx.train_size(name) for name in every]
        shares = self.shares(sizes)
        sentences = round(sizes[0] / shares[0])  # the target once
        batches = -(-sentences // ctx.batch_size)
        step = self.pooled(every, shares, sentences, weight=1.0 / len(every))
        return [Stage("multi-task", (step,) * batches, loss_weights=self.loss_weights(ctx))]
