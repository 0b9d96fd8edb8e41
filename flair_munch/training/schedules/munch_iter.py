"""MUNCH-Iter: within each epoch, alternate with every auxiliary corpus in turn."""

from flair_munch.training.schedules.aux_order import OrderedAuxSchedule
from flair_munch.training.schedules.base import Schedule, Stage, alternate


@Schedule.register("munch-iter")
class MunchIter(OrderedAuxSchedule):
    """Each epoch, for each aux corpus k in ``order``: ITER times a step on k, then a step on the target."""

    def plan(self, ctx) -> list[Stage]:
        order = self.resolve_order(ctx)
        steps = sum((alternate((aux,), ctx.target, ctx.iterations, self.aux_ratio) for aux in order), ())
        return [Stage(f"munch-iter[{','.join(order)}]", steps, loss_weights=self.loss_weights(ctx))]
