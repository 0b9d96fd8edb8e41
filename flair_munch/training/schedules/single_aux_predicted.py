"""SingleAux-predicted: train only the auxiliary corpus a ranking method predicts best (or choose among its top k)."""

from typing import Optional

from flair_munch.names import did_you_mean
from flair_munch.training.schedules.base import Choice, Problem, Schedule, Selection
from flair_munch.training.schedules.sampling import AuxLossWeight, CorpusWeighting
from flair_munch.training.schedules.single_aux import SingleAux


@Schedule.register("single-aux-predicted")
class SingleAuxPredicted(Selection, CorpusWeighting):
    """SingleAux with the aux corpus the ranking ``method`` puts first; ``top_k`` > 1: best dev F1 of the top k.

    ``method`` is a ranking method of ``flair_munch.aux_ranking``; with ``top_k`` > 1 this is SingleAux-best
    over the predicted shortlist (one SingleAux run per corpus in it, shared with SingleAux-best). Brute force
    trains a SingleAux run per candidate; this trains one (or ``top_k``) plus the ranking's cost. The run
    records (``selection``) the scores, the ranked list and the choice.
    """

    def __init__(self, method: str = "similarity", top_k: int = 1, aux_ratio: float = 1.0,
                 aux_loss_weight: AuxLossWeight = 1.0) -> None:
        self.method, self.top_k = method, top_k
        self.aux_ratio, self.aux_loss_weight = aux_ratio, aux_loss_weight
        self.settle_options()

    @classmethod
    def check(cls, options, target, aux, entity_types) -> list[Problem]:
        if problems := super().check(options, target, aux, entity_types):
            return problems
        from flair_munch.aux_ranking.base import predictor_names  # the package registers every method

        method, top_k, known = options.get("method", "similarity"), options.get("top_k", 1), predictor_names()
        if method not in known:
            return [Problem(("method",), f"unknown ranking method {method!r}",
                            did_you_mean(method, known) + f"Choose one of: {', '.join(known)}.")]
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            return [Problem(("top_k",), f"top_k must be a whole number >= 1, got {top_k!r}",
                            "Use 1 (train the predicted best only) or e.g. 2.")]
        return []

    def choose(self, ctx) -> Choice:
        self.aux_weights(ctx.target, ctx.aux)  # a weight for a corpus that is no aux corpus fails before training
        score = ctx.aux_ranking(self.method)
        ranked = sorted(ctx.aux, key=lambda aux: (-score[aux], aux))
        shortlist = ranked[: self.top_k]
        dev_f1: Optional[dict] = None
        best = shortlist[0]
        if len(shortlist) > 1:
            dev_f1 = {aux: ctx.single_aux_dev_f1(aux) for aux in shortlist}
            best = max(shortlist, key=lambda aux: (dev_f1[aux], aux))
        return Choice(SingleAux(best, **self.prerequisite_options(best)), [best],
                      {"method": self.method, "scores": score, "ranked": ranked, "dev_f1": dev_f1, "chosen": best})
