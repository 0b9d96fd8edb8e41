"""What a schedule is: which corpus's batch comes next, and when a stage ends (SPEC 1.2).

A schedule only *plans*; the one training loop (``AuxiliaryTrainer``) draws the batches, takes
the optimizer steps, anneals, evaluates and checkpoints. Every stage is trained until the
target converges, with a fresh optimizer and the initial learning rate.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Optional, Protocol, Union


@dataclass(frozen=True)
class Step:
    """One optimizer update on the next batch of ``source``.

    ``source`` is one corpus, or several drawn as one concatenated, shuffled pool (a batch may
    then mix corpora; each sentence is still scored by its own corpus's head). The batch loss
    is multiplied by ``weight``.
    """

    source: tuple[str, ...]
    weight: float = 1.0

    @property
    def key(self) -> str:
        return "+".join(self.source)


@dataclass(frozen=True)
class Stage:
    """The steps of one epoch, repeated until the target (or ``converge_on``) converges."""

    name: str
    epoch: tuple[Step, ...]
    converge_on: Optional[str] = None  # the corpus whose training loss anneals and stops the stage; None: target


class PlanContext(Protocol):
    """What a schedule may ask the trainer while planning."""

    target: str
    aux: list[str]
    iterations: int  # ITER = ceil(|target train| / batch size)
    batch_size: int
    seed: int
    entity_types: dict[str, str]

    def train_size(self, corpus: str) -> int: ...

    def single_aux_dev_f1(self, aux: str) -> float:
        """Target dev F1 of SingleAux(aux) trained on train only; trained once, then reused."""

    def run(self, schedule: "Schedule", aux: list[str]):
        """The result of another schedule's run (trained once, then reused)."""

    def aux_similarity(self) -> dict[str, float]:
        """Similarity of each aux corpus to the target (``rank_aux``'s combined score), computed once."""


def alternate(source: tuple[str, ...], target: str, iterations: int) -> tuple[Step, ...]:
    """``ITER`` times: a step on ``source``, then a step on the target (SingleAux's epoch)."""
    return (Step(source), Step((target,))) * iterations


class Schedule(ABC):
    """Base of all schedules; the constructor's arguments are its recipe keys."""

    name: str = ""

    @abstractmethod
    def plan(self, ctx: PlanContext) -> Union[list[Stage], object]:
        """The stages to train, or a finished run's result when the schedule only selects among runs."""

    def settings(self) -> dict:
        """What identifies this schedule in a run id (its constructor arguments)."""
        return {"name": self.name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items() if k != "name")
        return f"{type(self).__name__}({args})"
