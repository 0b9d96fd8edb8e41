"""SingleAux: the target alternating with one auxiliary corpus."""

from typing import Optional

from flair_munch.training.schedules.base import OneAuxSchedule, Schedule, Stage, alternate
from flair_munch.training.schedules.sampling import AuxLossWeight, CorpusWeighting


@Schedule.register("single-aux")
class SingleAux(OneAuxSchedule, CorpusWeighting):
    """Each epoch, ITER times: a step on an ``aux`` batch, then a step on a target batch.

    ``aux`` names the aux corpus; ``None``: the run's only one. ``aux_ratio``: aux steps per target
    step (2: two, then a target step; 0.5: one per two target steps); ``aux_loss_weight``: its loss's weight.
    """

    corpus_options = {**OneAuxSchedule.corpus_options, **CorpusWeighting.corpus_options}
    otherwise = "single-aux-best"

    def __init__(self, aux: Optional[str] = None, aux_ratio: float = 1.0, aux_loss_weight: AuxLossWeight = 1.0) -> None:
        self.aux, self.aux_ratio, self.aux_loss_weight = aux, aux_ratio, aux_loss_weight
        self.settle_options()

    def plan(self, ctx) -> list[Stage]:
        aux = self.chosen(ctx)
        return [Stage(f"single-aux[{aux}]", alternate((aux,), ctx.target, ctx.iterations, self.aux_ratio),
                      loss_weights=self.loss_weights(ctx))]
