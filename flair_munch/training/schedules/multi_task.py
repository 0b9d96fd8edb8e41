"""MultiTask: all corpora treated equally, the objective being the mean of the per-corpus losses."""

from flair_munch.training.schedules.base import Schedule, Stage, Step


@Schedule.register("multi-task")
class MultiTask(Schedule):
    """Each epoch: one pass over the concatenation of every corpus (target and aux), in mixed batches.

    Each batch's loss is ``(1/M') * sum_i L_i`` over the M' corpora (docs/methods.md §1.2), not Flair's
    ``MultitaskModel`` sum; larger corpora contribute more batches per epoch.
    """

    def plan(self, ctx) -> list[Stage]:
        every = (ctx.target, *ctx.aux)
        sentences = sum(ctx.train_size(name) for name in every)
        batches = -(-sentences // ctx.batch_size)
        return [Stage("multi-task", (Step(every, weight=1.0 / len(every)),) * batches)]
