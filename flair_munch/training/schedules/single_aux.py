"""SingleAux: the target alternating with one auxiliary corpus."""

from typing import Optional

from flair_munch.training.schedules.base import Schedule, Stage, alternate


class SingleAux(Schedule):
    """Each epoch, ITER times: a step on an ``aux`` batch, then a step on a target batch."""

    name = "single-aux"

    def __init__(self, aux: Optional[str] = None) -> None:
        self.aux = aux

    def chosen(self, ctx) -> str:
        if self.aux is not None:
            return self.aux
        if len(ctx.aux) != 1:
            raise ValueError(f"SingleAux needs one auxiliary corpus: pass SingleAux(aux=NAME), one of {ctx.aux}")
        return ctx.aux[0]

    def plan(self, ctx) -> list[Stage]:
        aux = self.chosen(ctx)
        return [Stage(f"single-aux[{aux}]", alternate((aux,), ctx.target, ctx.iterations))]
