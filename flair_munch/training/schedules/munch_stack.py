"""MUNCH-Stack: one SingleAux stage per auxiliary corpus, each to convergence, from the previous stage's model."""

from flair_munch.training.schedules.aux_order import OrderedAuxSchedule
from flair_munch.training.schedules.base import Schedule, Stage, alternate


@Schedule.register("munch-stack")
class MunchStack(OrderedAuxSchedule):
    """For each aux corpus k in ``order``: SingleAux with k until converged; the learning rate resets per stage."""

    def plan(self, ctx) -> list[Stage]:
        order, weights = self.resolve_order(ctx), self.loss_weights(ctx)
        return [
            Stage(f"munch-stack[{k + 1}/{len(order)}:{aux}]",
                  alternate((aux,), ctx.target, ctx.iterations, self.aux_ratio), loss_weights=weights)
            for k, aux in enumerate(order)
        ]
