"""Matched SingleTask: the target alone, for as many target-head updates as another schedule's run took.

Schedules differ in target updates per epoch (MUNCH-Iter with three aux corpora makes three times
SingleTask's), so under an epoch cap a schedule's gain over SingleTask can be more steps rather than
the auxiliary data. This control trains SingleTask for the epochs that give the compared run's
target-head updates (``updates: target``) or, with ``updates: shared``, its updates of the shared encoder
(SingleAux makes twice SingleTask's: as many again on the aux corpus) (its run of the same target, aux corpora, settings and seed, trained first or
found by its id), so "aux helps" can be read only where the control does not close the gap.

The control is a selection: its row reads the compared run's updates and reports the sub-run
"SingleTask for E epochs" (``shared-runs/``, named by target, settings, seed and E only), so two rows
whose compared runs made the same target updates (MUNCH-Iter and MUNCH-Stack) share one training.
"""

from typing import ClassVar, Union

from flair_munch.names import did_you_mean
from flair_munch.training.schedules.base import Choice, Problem, Schedule, Selection, Stage, Step


def _peer(match: Union[str, dict]) -> tuple[str, dict]:
    """``munch-iter`` or ``{munch-iter: {order: given}}`` -> (name, options)."""
    if isinstance(match, dict):
        (name, options), = match.items()
        return name, dict(options or {})
    return match, {}


class SingleTaskForEpochs(Schedule):
    """SingleTask for exactly ``epochs`` epochs (annealing, no early stop): the training a control reports.

    Not registered (no recipe names it): only :class:`MatchedSingleTask` makes it, as a sub-run whose id
    holds the target, settings, seed and ``epochs``, but neither the aux corpora nor the compared row.
    """

    name: ClassVar[str] = "single-task-epochs"
    needs_aux = False

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def plan(self, ctx) -> list[Stage]:
        return [Stage("single-task", (Step((ctx.target,)),) * ctx.iterations, epochs=self.epochs)]


@Schedule.register("matched-single-task")
class MatchedSingleTask(Selection):
    """SingleTask for as many target-head (or shared-encoder) updates as ``match``'s run: the step-count control."""

    defaults_not_in_id = {"updates": "target"}  # the controls made before ``updates`` existed keep their ids
    UPDATES = ("target", "shared")

    def __init__(self, match: Union[str, dict] = "munch-iter", updates: str = "target") -> None:
        self.match = match
        self.updates = updates

    @classmethod
    def check(cls, options, target, aux, entity_types) -> list[Problem]:
        if problems := super().check(options, target, aux, entity_types):
            return problems
        if (updates := options.get("updates", "target")) not in cls.UPDATES:
            return [Problem(("updates",), f"unknown count of updates {updates!r}", did_you_mean(str(updates), cls.UPDATES)
                            + "Choose target (the target head's updates) or shared (the shared encoder's).")]
        match = options.get("match", "munch-iter")
        if isinstance(match, dict) and len(match) != 1:
            return [Problem(("match",), f"expected one schedule, got {list(match)}",
                            "Write e.g. `match: munch-iter` or `match: {munch-iter: {order: given}}`.")]
        name, peer_options = _peer(match)
        if name == cls.name:
            return [Problem(("match",), f"a control cannot match a control: `{name}` is the schedule itself",
                            "Name the schedule whose target updates the control matches, e.g. munch-iter.")]
        if name not in Schedule.registry:
            return [Problem(("match",), f"`{name}` is not a schedule to match", did_you_mean(name, Schedule.registry)
                            + "Name the schedule whose target updates the control matches, e.g. munch-iter.")]
        return [Problem(("match", *p.key), p.problem, p.fix) for p in
                Schedule.registry[name].check(peer_options, target, aux, entity_types)]

    def peers(self) -> list[Schedule]:
        name, options = _peer(self.match)
        return [Schedule.registry[name](**options)]

    def choose(self, ctx) -> Choice:
        """SingleTask for the epochs that give the compared run's target updates: one sub-run for every control
        that needs that training (the row keeps its own id, folder and record)."""
        peer = ctx.peer_result(self.peers()[0])
        updates = peer.updates.get(ctx.target if self.updates == "target" else "shared", 0)
        epochs = max(1, round(updates / ctx.iterations))  # SingleTask makes ITER target (= shared) updates an epoch
        return Choice(SingleTaskForEpochs(epochs), [], {"matched_run": peer.run_id, f"{self.updates}_updates": updates,
                                                         "epochs": epochs})
