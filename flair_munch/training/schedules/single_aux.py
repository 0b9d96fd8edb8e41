"""SingleAux: the target alternating with one auxiliary corpus."""

from typing import Optional

from flair_munch.training.schedules.base import OneAuxSchedule, Schedule, Stage, alternate


@Schedule.register("single-aux")
class SingleAux(OneAuxSchedule):
    """Each epoch, ITER times: a step on an ``aux`` batch, then a step on a target batch.

    ``aux`` names the aux corpus; ``None``: the run's only one.
    """

    otherwise = "single-aux-best"

    def __init__(self, aux: Optional[str] = None) -> None:
        self.aux = aux

    def plan(self, ctx) -> list[Stage]:
        aux = self.chosen(ctx)
        return [Stage(f"single-aux[{aux}]", alternate((aux,), ctx.target, ctx.iterations))]
