"""MUNCH-Conc: the target alternating with the concatenation of all auxiliary corpora."""

from flair_munch.training.schedules.base import Schedule, Stage, alternate


@Schedule.register("munch-conc")
class MunchConc(Schedule):
    """Each epoch, ITER times: a step on a batch of the pooled aux corpora, then a step on a target batch.

    A pooled batch may mix corpora; each sentence is scored by its own corpus's head.
    """

    def plan(self, ctx) -> list[Stage]:
        return [Stage("munch-conc", alternate(tuple(ctx.aux), ctx.target, ctx.iterations))]
