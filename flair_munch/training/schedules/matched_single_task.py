"""Matched SingleTask: the target alone, for as many target-head updates as another schedule's run took.

Schedules differ in target updates per epoch (MUNCH-Iter with three aux corpora makes three times
SingleTask's), so under an epoch cap a schedule's gain over SingleTask can be more steps rather than
the auxiliary data. This control trains SingleTask for the epochs that give the compared run's
target-head updates (its run of the same target, aux corpora, settings and seed, trained first or
found by its id), so "aux helps" can be read only where the control does not close the gap.
"""

import difflib
from typing import Union

from flair_munch.training.schedules.base import Problem, Schedule, Stage, Step


def _peer(match: Union[str, dict]) -> tuple[str, dict]:
    """``munch-iter`` or ``{munch-iter: {order: given}}`` -> (name, options)."""
    if isinstance(match, dict):
        (name, options), = match.items()
        return name, dict(options or {})
    return match, {}


@Schedule.register("matched-single-task")
class MatchedSingleTask(Schedule):
    """SingleTask trained for as many target-head updates as ``match``'s run (the step-count control)."""

    def __init__(self, match: Union[str, dict] = "munch-iter") -> None:
        self.match = match

    @classmethod
    def check(cls, options, target, aux, entity_types) -> list[Problem]:
        if problems := super().check(options, target, aux, entity_types):
            return problems
        match = options.get("match", "munch-iter")
        if isinstance(match, dict) and len(match) != 1:
            return [Problem(("match",), f"expected one schedule, got {list(match)}",
                            "Write e.g. `match: munch-iter` or `match: {munch-iter: {order: given}}`.")]
        name, peer_options = _peer(match)
        if name == cls.name:
            return [Problem(("match",), f"a control cannot match a control: `{name}` is the schedule itself",
                            "Name the schedule whose target updates the control matches, e.g. munch-iter.")]
        if name not in Schedule.registry:
            near = difflib.get_close_matches(str(name), list(Schedule.registry), n=1, cutoff=0.6)
            return [Problem(("match",), f"`{name}` is not a schedule to match", (f"Did you mean `{near[0]}`? " if near
                            else "") + "Name the schedule whose target updates the control matches, e.g. munch-iter.")]
        return [Problem(("match", *p.key), p.problem, p.fix) for p in
                Schedule.registry[name].check(peer_options, target, aux, entity_types)]

    def peers(self) -> list[Schedule]:
        name, options = _peer(self.match)
        return [Schedule.registry[name](**options)]

    def plan(self, ctx) -> list[Stage]:
        peer = ctx.peer_result(self.peers()[0])
        epochs = max(1, round(peer.updates.get(ctx.target, 0) / ctx.iterations))
        return [Stage("single-task", (Step((ctx.target,)),) * ctx.iterations, epochs=epochs)]
