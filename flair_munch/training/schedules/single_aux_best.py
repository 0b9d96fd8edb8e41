"""SingleAux-best: one SingleAux run per auxiliary corpus, keep the one with the best target dev F1."""

from flair_munch.training.schedules.base import Choice, Schedule, Selection
from flair_munch.training.schedules.single_aux import SingleAux


@Schedule.register("single-aux-best")
class SingleAuxBest(Selection):
    """Selects among SingleAux runs by target dev F1 (train-only runs, shared with dev-sorted orders).

    With ``train_with_dev`` the chosen corpus's SingleAux is then trained on target train + dev.
    """

    def prerequisites(self, aux) -> list[str]:
        return list(aux)

    def choose(self, ctx) -> Choice:
        dev_f1 = {aux: ctx.single_aux_dev_f1(aux) for aux in ctx.aux}
        best = max(ctx.aux, key=lambda aux: (dev_f1[aux], aux))
        return Choice(SingleAux(best), [best], {"dev_f1": dev_f1, "chosen": best})
