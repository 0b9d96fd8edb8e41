"""The order in which MUNCH-Iter and MUNCH-Stack visit the auxiliary corpora (docs/methods.md §1.2), and their base class.

``dev-sorted`` trains one SingleAux run per aux corpus to sort them by target dev F1;
``similarity`` sorts them by ``rank_aux``'s corpus similarity instead, in seconds; ``predicted`` by the
scores of a ranking method of :mod:`flair_munch.aux_ranking` (``method``: probe runs, lookahead affinity, ...).
"""

import random
from collections import Counter
from typing import Optional, Sequence, Union

from flair_munch.names import did_you_mean
from flair_munch.training.schedules.base import Problem
from flair_munch.training.schedules.sampling import AuxLossWeight, CorpusWeighting

ORDERS = ("random-alternating", "dev-sorted", "similarity", "predicted", "given")
AuxOrder = Union[str, Sequence[str]]


def _can_arrange(counts: Counter, forbidden_first: Optional[str]) -> bool:
    """Can items with these type counts be lined up with no equal types adjacent (and not starting with one)?"""
    total = sum(counts.values())
    if total == 0:
        return True
    most = max(counts.values())
    if most > (total + 1) // 2:
        return False
    if forbidden_first is not None and counts[forbidden_first] == (total + 1) // 2 and total % 2 == 1:
        return False  # that type would have to fill every other slot, starting with the first
    return True


def type_alternating_order(aux: Sequence[str], entity_types: dict[str, str], seed: int) -> list[str]:
    """A seeded random permutation of ``aux`` in which no two neighbours share an entity type.

    Built position by position, choosing uniformly among the corpora that keep the rest
    arrangeable, so every valid order can come out.
    """
    types = {name: entity_types.get(name) or name for name in aux}
    counts = Counter(types.values())
    if not _can_arrange(counts, None):
        worst, n = counts.most_common(1)[0]
        raise ValueError(
            f"no order of the auxiliary corpora {list(aux)} keeps equal entity types apart: {n} of {len(aux)} "
            f"have type {worst!r} (at most {(len(aux) + 1) // 2} can). Use aux order 'dev-sorted', 'given' "
            "or an explicit list."
        )
    rng = random.Random(seed)
    remaining = sorted(aux)
    order: list[str] = []
    previous: Optional[str] = None
    while remaining:
        choices = []
        for name in remaining:
            if types[name] == previous:
                continue
            after = counts.copy()
            after[types[name]] -= 1
            if _can_arrange(after, types[name]):
                choices.append(name)
        pick = rng.choice(choices)
        order.append(pick)
        remaining.remove(pick)
        counts[types[pick]] -= 1
        previous = types[pick]
    return order


def resolve_order(order: AuxOrder, ctx, method: Optional[str] = None) -> list[str]:
    """The concrete order for ``ctx.aux``: by name, or an explicit permutation of the aux corpora; ``method``: the
    ranking method of ``predicted`` (default ``similarity``)."""
    if not isinstance(order, str):
        given = list(order)
        if sorted(given) != sorted(ctx.aux):
            raise ValueError(f"aux order {given} must list each auxiliary corpus {sorted(ctx.aux)} exactly once")
        return given
    if order == "random-alternating":
        return type_alternating_order(ctx.aux, ctx.entity_types, ctx.seed)
    if order == "dev-sorted":
        f1 = {name: ctx.single_aux_dev_f1(name) for name in ctx.aux}
        return sorted(ctx.aux, key=lambda name: (f1[name], name))  # most helpful last
    if order == "similarity":  # dev-sorted's order without training: corpus similarity instead of SingleAux dev F1
        score = ctx.aux_similarity()
        return sorted(ctx.aux, key=lambda name: (score[name], name))  # most similar last
    if order == "predicted":  # the same sort by a ranking method's scores (flair_munch.aux_ranking)
        score = ctx.aux_ranking(method or "similarity")
        return sorted(ctx.aux, key=lambda name: (score[name], name))  # predicted most helpful last
    if order == "given":
        return list(ctx.aux)
    raise ValueError(f"unknown aux order {order!r}; choose one of {', '.join(ORDERS)} or a list of corpus names")


class OrderedAuxSchedule(CorpusWeighting):
    """A schedule that visits the aux corpora one at a time in ``order``: a name in ``ORDERS`` or a list of all.

    Each visit alternates as SingleAux does, ``aux_ratio`` aux steps per target step, each aux corpus's
    loss multiplied by ``aux_loss_weight``; ``dev-sorted`` sorts by SingleAux runs with the same two options,
    ``predicted`` by the ranking ``method`` (a name of ``flair_munch.aux_ranking``; out of the run id when unset).
    """

    corpus_options = {"order": "list", **CorpusWeighting.corpus_options}
    defaults_not_in_id = {**CorpusWeighting.defaults_not_in_id, "method": None}

    def __init__(self, order: AuxOrder = "random-alternating", aux_ratio: float = 1.0,
                 aux_loss_weight: AuxLossWeight = 1.0, method: Optional[str] = None) -> None:
        self.order = order if isinstance(order, str) else list(order)
        self.aux_ratio, self.aux_loss_weight = aux_ratio, aux_loss_weight
        self.method = method
        self.settle_options()

    @classmethod
    def check(cls, options, target, aux, entity_types) -> list[Problem]:
        if problems := super().check(options, target, aux, entity_types):
            return problems
        order = options.get("order", "random-alternating")
        if not isinstance(order, str):
            if sorted(order) != sorted(aux):
                return [Problem(("order",), f"the order {list(order)} does not list each auxiliary corpus of "
                                f"`{target}` exactly once", f"List exactly: {', '.join(aux)}.")]
        elif order not in ORDERS:
            return [Problem(("order",), f"unknown order {order!r}", did_you_mean(order, ORDERS)
                            + f"Choose one of: {', '.join(ORDERS)}, or a list of the aux corpus names.")]
        if (method := options.get("method")) is not None:
            from flair_munch.aux_ranking.base import predictor_names  # the package registers every method

            if order != "predicted":
                return [Problem(("method",), "`method` chooses the ranking of `order: predicted`, but the order "
                                f"is {order!r}", "Set `order: predicted`, or leave `method` out.")]
            if method not in predictor_names():
                known = predictor_names()
                return [Problem(("method",), f"unknown ranking method {method!r}",
                                did_you_mean(method, known) + f"Choose one of: {', '.join(known)}.")]
        if isinstance(order, str) and order == "random-alternating":
            try:
                type_alternating_order(aux, entity_types, 0)
            except ValueError as exc:
                return [Problem((), f"target `{target}`: {exc}".rstrip("."), "Set the `order` option.")]
        return []

    def prerequisites(self, aux) -> list[str]:
        return list(aux) if self.order == "dev-sorted" else []

    def resolve_order(self, ctx) -> list[str]:
        """This run's concrete order of ``ctx.aux``."""
        return resolve_order(self.order, ctx, self.method)
