"""SingleAux-best: one SingleAux run per auxiliary corpus, keep the one with the best target dev F1."""

from flair_munch.training.schedules.base import Choice, Schedule, Selection
from flair_munch.training.schedules.sampling import AuxLossWeight, CorpusWeighting
from flair_munch.training.schedules.single_aux import SingleAux


@Schedule.register("single-aux-best")
class SingleAuxBest(Selection, CorpusWeighting):
    """Selects among SingleAux runs by target dev F1 (train-only runs, shared with dev-sorted orders).

    The candidates are SingleAux runs with this schedule's ``aux_ratio`` and ``aux_loss_weight`` (the
    paper's at the defaults), and the chosen one is the candidate itself. With ``train_with_dev`` the
    chosen corpus's SingleAux is then trained on target train + dev.
    """

    def __init__(self, aux_ratio: float = 1.0, aux_loss_weight: AuxLossWeight = 1.0) -> None:
        self.aux_ratio, self.aux_loss_weight = aux_ratio, aux_loss_weight
        self.settle_options()

    def prerequisites(self, aux) -> list[str]:
        return list(aux)

    def choose(self, ctx) -> Choice:
        self.aux_weights(ctx.target, ctx.aux)  # a weight for a corpus that is no aux corpus fails before training
        dev_f1 = {aux: ctx.single_aux_dev_f1(aux) for aux in ctx.aux}
        best = max(ctx.aux, key=lambda aux: (dev_f1[aux], aux))
        return Choice(SingleAux(best, **self.prerequisite_options(best)), [best], {"dev_f1": dev_f1, "chosen": best})
