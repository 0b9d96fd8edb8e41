"""How often each corpus is drawn and how much its loss counts: options several schedules share.

``sampling`` (+ ``alpha``): how a pooled batch draws its corpora: by size (``proportional``, the
concatenation the paper uses), ``uniform``, or ``temperature``: corpus i with probability
proportional to ``(n_i / N) ** alpha`` (MaChAmp's ``sampling_smoothing``; 1 = by size, 0 = uniform).
``aux_ratio``: auxiliary steps per target step (MT-DNN's ``--ratio`` caps auxiliary batches the
same way). ``aux_loss_weight``: each auxiliary corpus's loss is multiplied by it (one number, or
one per corpus); the target's weight is 1. All default to the paper's schedules and then stay out
of the run id, so runs that do not use them keep their ids.
"""

import math
from typing import Optional, Sequence, Union

from flair_munch.training.schedules.base import Problem, Schedule, Step
from flair_munch.training.settings import is_number

SAMPLINGS = ("proportional", "uniform", "temperature")
AUX_RATIO_RANGE = (0.001, 100)
"""Sensible ``aux_ratio``s: an epoch's plan lists its ITER x (1 + ratio) steps (``alternate``), so 1e9 never ends."""
AuxLossWeight = Union[float, dict[str, float]]  # one weight for every auxiliary corpus, or corpus -> weight


def sampling_shares(sizes: Sequence[int], sampling: str, alpha: Optional[float] = None) -> list[float]:
    """Each corpus's probability of being drawn: ``(n_i / N) ** alpha``, normalised (proportional: alpha 1,
    uniform: alpha 0)."""
    exponent = {"proportional": 1.0, "uniform": 0.0}.get(sampling, alpha)
    weights = [float(size) ** exponent for size in sizes]
    return [weight / sum(weights) for weight in weights]


def apportion(total: int, shares: Sequence[float]) -> tuple[int, ...]:
    """``total`` split in proportion to ``shares`` into whole parts that sum to ``total`` (largest remainder)."""
    exact = [total * share / sum(shares) for share in shares]
    parts = [math.floor(value) for value in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (parts[i] - exact[i], i))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return tuple(parts)


def option_problems(options: dict, target: str = "", aux: Optional[Sequence[str]] = None) -> list[Problem]:
    """Problems with the options of this module among ``options`` (with ``aux``: corpus names checked too)."""
    problems = []
    sampling, alpha = options.get("sampling", "proportional"), options.get("alpha")
    if sampling not in SAMPLINGS:
        problems.append(Problem(("sampling",), f"unknown sampling {sampling!r}",
                                f"Choose one of: {', '.join(SAMPLINGS)} (temperature takes `alpha`)."))
    elif sampling == "temperature" and alpha is None:
        problems.append(Problem(("sampling",), "temperature sampling needs `alpha`",
                                "Add e.g. `alpha: 0.5` (MaChAmp's sampling_smoothing: 1 = by size, 0 = uniform)."))
    elif sampling != "temperature" and alpha is not None:
        problems.append(Problem(("alpha",), f"alpha applies to `sampling: temperature` only, not {sampling}",
                                "Set `sampling: temperature`, or remove alpha (proportional is alpha 1, uniform 0)."))
    if alpha is not None and not (is_number(alpha) and alpha >= 0):
        problems.append(Problem(("alpha",), f"alpha must be a number >= 0, got {alpha!r}",
                                "Use e.g. 0.5 (1 = by size, 0 = uniform)."))
    ratio = options.get("aux_ratio", 1.0)
    if not (is_number(ratio) and ratio > 0):
        problems.append(Problem(("aux_ratio",), f"aux_ratio must be a number > 0, got {ratio!r}",
                                "Use e.g. 2 (two aux steps per target step) or 0.5 (one per two target steps); "
                                "1 is the paper's."))
    elif not AUX_RATIO_RANGE[0] <= ratio <= AUX_RATIO_RANGE[1]:
        problems.append(Problem(("aux_ratio",), f"aux_ratio must be between {AUX_RATIO_RANGE[0]} and "
                                f"{AUX_RATIO_RANGE[1]} auxiliary steps per target step, got {ratio!r}",
                                "An epoch's plan lists ITER x (1 + aux_ratio) steps, so a huge ratio never finishes "
                                "building it; use e.g. 2 or 0.5 (1 is the paper's)."))
    weight = options.get("aux_loss_weight", 1.0)
    for name, value in weight.items() if isinstance(weight, dict) else [(None, weight)]:
        key = ("aux_loss_weight",) if name is None else ("aux_loss_weight", name)
        if not (is_number(value) and value >= 0):
            problems.append(Problem(key, f"an auxiliary loss weight must be a number >= 0, got {value!r}",
                                    "Use e.g. 0.3, or a mapping of auxiliary corpus to weight; 1 is the paper's."))
        elif name is not None and aux is not None and name not in aux:
            problems.append(Problem(key, f"`{name}` is not an auxiliary corpus of `{target}`",
                                    f"Weigh its auxiliary corpora only ({', '.join(aux)}); the target's weight is 1."))
    return problems


class CorpusWeighting(Schedule):
    """A schedule with some of this module's options, typed attributes of the same names: its constructor sets
    those it takes (then ``settle_options``); the others stay at the paper's values below, which keep an
    option out of the run id."""

    sampling: str = "proportional"
    alpha: Optional[float] = None
    aux_ratio: float = 1.0
    aux_loss_weight: AuxLossWeight = 1.0
    corpus_options = {"aux_loss_weight": "map"}
    defaults_not_in_id = {"sampling": sampling, "alpha": alpha, "aux_ratio": aux_ratio,
                          "aux_loss_weight": aux_loss_weight}

    @classmethod
    def check(cls, options, target, aux, entity_types) -> list[Problem]:
        return super().check(options, target, aux, entity_types) or option_problems(options, target, aux)

    def sampling_options(self) -> dict:
        """This schedule's values of the module's options (``option_problems`` checks them)."""
        return {"sampling": self.sampling, "alpha": self.alpha, "aux_ratio": self.aux_ratio,
                "aux_loss_weight": self.aux_loss_weight}

    def settle_options(self) -> None:
        """Checks the options (``ValueError``; corpus names wait for a run's corpora) and stores their numbers as
        floats, so that ``2`` and ``2.0`` name one run. Constructors call it last."""
        problems = option_problems(self.sampling_options())
        if problems:
            raise ValueError(f"{type(self).__name__}: {problems[0].problem}. {problems[0].fix}")
        taken = vars(self)  # the options the constructor set; the class's defaults stay out of the run id
        for key in ("alpha", "aux_ratio"):
            if taken.get(key) is not None:
                setattr(self, key, float(taken[key]))
        if "aux_loss_weight" in taken:
            weight = self.aux_loss_weight
            self.aux_loss_weight = ({k: float(v) for k, v in weight.items()} if isinstance(weight, dict)
                                    else float(weight))

    def aux_weights(self, target: str, aux: Sequence[str]) -> dict[str, float]:
        """The loss weight of each auxiliary corpus (``ValueError`` for a named corpus that is not one)."""
        weight = self.aux_loss_weight
        problems = option_problems({"aux_loss_weight": weight}, target, aux)
        if problems:
            raise ValueError(f"{type(self).__name__}: {problems[0].problem}. {problems[0].fix}")
        return {name: float(weight.get(name, 1.0) if isinstance(weight, dict) else weight) for name in aux}

    def loss_weights(self, ctx) -> tuple[tuple[str, float], ...]:
        """``Stage.loss_weights`` of a run: the auxiliary corpora whose weight is not 1."""
        return tuple((name, w) for name, w in self.aux_weights(ctx.target, ctx.aux).items() if w != 1.0)

    def shares(self, sizes: Sequence[int]) -> list[float]:
        """Each corpus's share of a pool of corpora with train sizes ``sizes``, by ``sampling``."""
        return sampling_shares(sizes, self.sampling, self.alpha)

    def pooled(self, sources: tuple[str, ...], shares: Sequence[float], sentences: int, weight: float = 1.0) -> Step:
        """A step on the pool of ``sources`` (their ``shares``), ``sentences`` a pass."""
        if self.sampling == "proportional":  # the concatenation, as the paper (and every run before this option)
            return Step(sources, weight)
        return Step(sources, weight, apportion(sentences, shares))

    def prerequisite_options(self, aux: str) -> dict:
        """Selection and dev-sorted orders compare SingleAux runs trained with this schedule's ratio and weight."""
        ratio, weight = self.aux_ratio, self.aux_loss_weight
        weight = weight.get(aux, 1.0) if isinstance(weight, dict) else weight
        options = {"aux_ratio": ratio, "aux_loss_weight": weight}
        return {key: value for key, value in options.items() if value != 1.0}
