"""What a schedule is: which corpus's batch comes next, and when a stage ends (docs/methods.md §1.2).

A schedule only *plans*; the one training loop (``AuxiliaryTrainer``) draws the batches, takes
the optimizer steps, anneals, evaluates and checkpoints. Every stage is trained until the
target converges, with a fresh optimizer and the initial learning rate.

Schedules are registered by name (``@Schedule.register("munch-iter")``), the name a recipe
uses; a new schedule is one file with one decorated class, which checks its own options
(:meth:`Schedule.check`) so the recipe schema knows no schedule by name.
"""

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, ClassVar, NamedTuple, Optional, Protocol, Sequence, TypeVar, Union

from flair_munch.registrable import registering


@dataclass(frozen=True)
class Step:
    """One optimizer update on the next batch of ``source``.

    ``source`` is one corpus, or several drawn as one pool (a batch may then mix corpora; each
    sentence is still scored by its own corpus's head): by default their concatenation, shuffled
    (each corpus drawn in proportion to its size); with ``quotas``, ``quotas[i]`` sentences of
    ``source[i]`` per pass of the pool (``QuotaStream``). The batch loss is multiplied by ``weight``.
    """

    source: tuple[str, ...]
    weight: float = 1.0
    quotas: tuple[int, ...] = ()

    @property
    def key(self) -> str:
        """The batch stream this step draws from: steps with the same key share one."""
        pool = "+".join(self.source)
        return f"{pool}@{':'.join(map(str, self.quotas))}" if self.quotas else pool


@dataclass(frozen=True)
class Stage:
    """The steps of one epoch, repeated until the target (or ``converge_on``) converges.

    ``loss_weights`` multiply the loss terms of the corpora they name (``(corpus, weight)`` pairs; the
    others count once), whatever batch holds their sentences.
    """

    name: str
    epoch: tuple[Step, ...]
    converge_on: Optional[str] = None  # the corpus whose training loss anneals and stops the stage; None: target
    epochs: Optional[int] = None  # exactly this many epochs (annealing, but no early stop): a matched control
    loss_weights: tuple[tuple[str, float], ...] = ()


class PlanContext(Protocol):
    """What a schedule may ask the trainer while planning (and a :class:`Selection` while choosing)."""

    target: str
    aux: list[str]
    iterations: int  # ITER = ceil(|target train| / batch size)
    batch_size: int
    seed: int
    entity_types: dict[str, str]

    def train_size(self, corpus: str) -> int: ...

    def single_aux_dev_f1(self, aux: str) -> float:
        """Target dev F1 of SingleAux(aux) trained on train only, with the planning schedule's
        ``prerequisite_options(aux)``; trained once, then reused."""

    def aux_similarity(self) -> dict[str, float]:
        """Similarity of each aux corpus to the target (``rank_aux``'s combined score), computed once."""

    def aux_ranking(self, method: str) -> dict[str, float]:
        """Each aux corpus's score (higher: predicted more helpful) under a ranking method of
        ``flair_munch.aux_ranking``, computed once per method."""

    def peer_result(self, schedule: "Schedule"):
        """The result of ``schedule``'s run with this run's target, aux corpora and settings; trained once."""


class Problem(NamedTuple):
    """A problem with a schedule's options for one target: ``key`` is the option's path below the schedule."""

    key: tuple
    problem: str
    fix: str


def ratio_fraction(ratio: float) -> Fraction:
    """``ratio`` as the fraction it stands for (0.3 is 3/10, not the float just below it)."""
    return Fraction(ratio).limit_denominator(10**6)


def aux_steps(iterations: int, ratio: float = 1.0) -> int:
    """How many auxiliary steps an epoch of :func:`alternate` holds: ``ceil(ITER * ratio)``."""
    return math.ceil(iterations * ratio_fraction(ratio))


def alternate(source: Union[Step, tuple[str, ...]], target: str, iterations: int, ratio: float = 1.0
              ) -> tuple[Step, ...]:
    """``ITER`` target steps, each after the ``source`` steps due by then: ``ratio`` of them per target step.

    1: a ``source`` step, then a target step (SingleAux's epoch); 2: two, then a target step; 0.5: one,
    then two target steps. ``source`` is a step, or the corpora of one.
    """
    aux = source if isinstance(source, Step) else Step(tuple(source))
    r, steps = ratio_fraction(ratio), []
    for j in range(1, iterations + 1):  # target step j comes after ceil(j * r) aux steps in all
        steps += [aux] * (math.ceil(j * r) - math.ceil((j - 1) * r)) + [Step((target,))]
    return tuple(steps)


S = TypeVar("S", bound=type)


class Schedule(ABC):
    """Base of all schedules; the constructor's arguments are its recipe keys.

    Class attributes a subclass may set: ``needs_aux`` (False: runs without auxiliary corpora)
    and ``corpus_options`` (the constructor options that name corpora, ``"one"`` name, a ``"list"``
    of names or a ``"map"`` keyed by names, which a recipe may spell as any alias of a corpus: the
    schema normalises them before :meth:`check`). ``name`` is set by :meth:`register`.
    """

    name: ClassVar[str] = ""
    needs_aux: ClassVar[bool] = True
    # options left out of settings() (the run id) while at this default: options added after runs were named
    defaults_not_in_id: ClassVar[dict[str, Any]] = {}
    corpus_options: ClassVar[dict[str, str]] = {}
    registry: ClassVar[dict[str, type["Schedule"]]] = {}  # name -> class: every registered schedule

    @classmethod
    def register(cls, name: str) -> Callable[[S], S]:
        """Class decorator: makes a schedule known by ``name`` to recipes and the CLI (AllenNLP's ``Registrable``)."""
        return registering(Schedule, Schedule.registry, name, "schedule")

    @classmethod
    def check(cls, options: dict, target: str, aux: Sequence[str], entity_types: dict[str, Optional[str]]
              ) -> list[Problem]:
        """Problems with these constructor ``options`` (type-checked, corpus names normalised) for one target.

        Called by the recipe schema for every schedule and target before anything trains; an
        override calls ``super().check(...)`` first and returns its problems if there are any.
        """
        if cls.needs_aux and not aux:
            return [Problem((), f"`{cls.name}` needs auxiliary corpora but target `{target}` has none",
                            "Add corpora or fix `aux`.")]
        return []

    @abstractmethod
    def plan(self, ctx: PlanContext) -> list[Stage]:
        """The stages to train."""

    def prerequisites(self, aux: Sequence[str]) -> list[str]:
        """The aux corpora whose SingleAux run (``PlanContext.single_aux_dev_f1``) this schedule reads to plan or
        choose, so that an executor can train those runs first, once each, as runs of their own."""
        return []

    def peers(self) -> list["Schedule"]:
        """Schedules whose runs (same target, aux corpora and settings) this one reads to plan
        (``PlanContext.peer_result``), so that an executor can train those first."""
        return []

    def prerequisite_options(self, aux: str) -> dict:
        """The options of the SingleAux run with ``aux`` among this schedule's prerequisites (default: none)."""
        return {}

    def split_target_train(self, sentences: list) -> tuple[list, list]:
        """The target training sentences this schedule trains on, and those it holds back (uncertainty
        sampling's pool, scored by :meth:`trained_record`); default: all of them, none held back."""
        return sentences, []

    def trained_record(self, model, ctx: "PlanContext") -> Optional[dict]:
        """What the run records of its trained model besides its scores (``result.selection``), for the
        selections that read it later (uncertainty sampling's pool ranking); default: nothing."""
        return None

    def compared_with(self) -> Optional["Schedule"]:
        """The schedule whose report row this one's is compared with when that row is in the study (uncertainty
        sampling's entropy pick: the random pick of the same size); None: the study's baseline row."""
        return None

    def settings(self) -> dict:
        """What identifies this schedule in a run id: its constructor arguments (those at a default in
        ``defaults_not_in_id`` left out, so the runs that do not use an option keep their ids)."""
        quiet = self.defaults_not_in_id
        return {"name": self.name, **{k: v for k, v in vars(self).items()
                                      if not k.startswith("_") and not (k in quiet and v == quiet[k])}}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items() if k != "name")
        return f"{type(self).__name__}({args})"


@dataclass(frozen=True)
class Choice:
    """What a :class:`Selection` chose: run ``schedule`` with ``aux``; ``selection`` is recorded with the result."""

    schedule: Schedule
    aux: list[str]
    selection: dict


class Selection(Schedule):
    """A schedule that trains nothing itself but chooses another schedule's run (SingleAux-best, a step-count control).

    The trainer calls :meth:`choose` instead of ``plan``, trains (or reuses) the chosen run and
    reports it as this run's result, ``selection`` recorded. ``choose`` may call everything a
    :class:`PlanContext` offers, e.g. ``single_aux_dev_f1`` (SingleAux runs, trained once and cached).
    """

    @abstractmethod
    def choose(self, ctx: PlanContext) -> Choice:
        """The schedule to run, its aux corpora, and what the choice was based on."""

    def plan(self, ctx: PlanContext) -> list[Stage]:
        raise TypeError(f"{type(self).__name__} is a Selection: call choose(ctx) and run its choice, not plan()")


class OneAuxSchedule(Schedule):
    """A schedule that trains with one aux corpus: its ``corpus_options`` key (default ``aux``), else the only one."""

    corpus_options: ClassVar[dict[str, str]] = {"aux": "one"}
    noun: ClassVar[str] = "auxiliary corpus"  # what the one corpus is called in messages
    otherwise: ClassVar[str] = ""  # a schedule to suggest instead when there are several

    @classmethod
    def one_option(cls) -> str:
        """The constructor option naming the one corpus (``aux``, PretrainFinetune's ``source``)."""
        return next(key for key, kind in cls.corpus_options.items() if kind == "one")

    @classmethod
    def one_aux_problem(cls, given: Optional[str], aux: Sequence[str], target: str, python: bool = False
                        ) -> Optional[Problem]:
        """Why ``given`` (None: the only aux corpus) is not one aux corpus of ``target``, in recipe or Python terms."""
        option = cls.one_option()
        if given is None and len(aux) != 1:
            instead = f" or {cls.otherwise}" if cls.otherwise else ""
            who, fix = ((cls.__name__, f"Pass {cls.__name__}({option}=NAME)") if python else
                        (cls.name, f"Use `{{{cls.name}: {{{option}: NAME}}}}`{instead}"))
            return Problem((), f"{who} needs one {cls.noun}; `{target}` has {list(aux)}", fix + ".")
        if given is not None and given not in aux:
            return Problem((option,), f"`{given}` is not an auxiliary corpus of `{target}`",
                           f"Choose one of: {', '.join(aux)}.")
        return None

    @classmethod
    def check(cls, options, target, aux, entity_types) -> list[Problem]:
        problem = cls.one_aux_problem(options.get(cls.one_option()), aux, target)
        return super().check(options, target, aux, entity_types) or ([problem] if problem else [])

    def chosen(self, ctx: PlanContext) -> str:
        """The one aux corpus of this run; raises ``ValueError`` (the recipe check's problem) if there is none."""
        given = getattr(self, self.one_option())
        problem = self.one_aux_problem(given, ctx.aux, ctx.target, python=True)
        if problem is not None:
            raise ValueError(f"{problem.problem}. {problem.fix}")
        return given if given is not None else ctx.aux[0]
