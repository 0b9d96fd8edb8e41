"""MUNCH-Iter: within each epoch, alternate with every auxiliary corpus in turn."""

from flair_munch.training.schedules.aux_order import AuxOrder, resolve_order
from flair_munch.training.schedules.base import Schedule, Stage, alternate


class MunchIter(Schedule):
    """Each epoch, for each aux corpus k in ``order``: ITER times a step on k, then a step on the target."""

    name = "munch-iter"

    def __init__(self, order: AuxOrder = "random-alternating") -> None:
        self.order = order if isinstance(order, str) else list(order)

    def plan(self, ctx) -> list[Stage]:
        order = resolve_order(self.order, ctx)
        steps = sum((alternate((aux,), ctx.target, ctx.iterations) for aux in order), ())
        return [Stage(f"munch-iter[{','.join(order)}]", steps)]
