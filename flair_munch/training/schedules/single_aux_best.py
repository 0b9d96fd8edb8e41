"""SingleAux-best: one SingleAux run per auxiliary corpus, keep the one with the best target dev F1."""

from flair_munch.training.schedules.base import Schedule
from flair_munch.training.schedules.single_aux import SingleAux


class SingleAuxBest(Schedule):
    """Selects among SingleAux runs by target dev F1 (train-only runs, shared with dev-sorted orders).

    With ``train_with_dev`` the chosen corpus's SingleAux is then trained on target train + dev.
    """

    name = "single-aux-best"

    def plan(self, ctx):
        dev_f1 = {aux: ctx.single_aux_dev_f1(aux) for aux in ctx.aux}
        best = max(ctx.aux, key=lambda aux: (dev_f1[aux], aux))
        return ctx.run(SingleAux(best), [best], selection={"dev_f1": dev_f1, "chosen": best})
