"""MUNCH-Stack: one SingleAux stage per auxiliary corpus, each to convergence, from the previous stage's model."""

from flair_munch.training.schedules.aux_order import AuxOrder, resolve_order
from flair_munch.training.schedules.base import Schedule, Stage, alternate


class MunchStack(Schedule):
    """For each aux corpus k in ``order``: SingleAux with k until converged; the learning rate resets per stage."""

    name = "munch-stack"

    def __init__(self, order: AuxOrder = "random-alternating") -> None:
        self.order = order if isinstance(order, str) else list(order)

    def plan(self, ctx) -> list[Stage]:
        order = resolve_order(self.order, ctx)
        return [
            Stage(f"munch-stack[{k + 1}/{len(order)}:{aux}]", alternate((aux,), ctx.target, ctx.iterations))
            for k, aux in enumerate(order)
        ]
