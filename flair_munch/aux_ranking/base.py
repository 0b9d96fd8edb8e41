"""Ranking candidate auxiliary corpora for a target: one interface, a registry of predictors.

Brute force (SingleAux-best, dev-sorted orders) trains one SingleAux run per candidate. A predictor
answers the same question, "which candidate helps this target most?", for less: by corpus similarity
(no model), or by short runs and measurements of a small probe model. Each predictor is one class
registered by name (``@AuxPredictor.register("probe")``), a dataclass whose fields are its options;
:func:`rank_aux` is the one entry point and every ranking states its compute.
"""

from __future__ import annotations

import dataclasses
import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Optional, Sequence, TypeVar

from flair_munch.names import did_you_mean
from flair_munch.registrable import registering

P = TypeVar("P", bound=type)


@dataclass(frozen=True)
class RankedAux:
    """One candidate: its score (higher = predicted more helpful), its rank (1 = best) and the predictor's details."""

    name: str
    score: float
    rank: int
    details: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Compute:
    """What a ranking cost: wall seconds, and training steps against those of training every SingleAux candidate.

    ``steps`` counts forward-backward passes of the shared encoder on one batch; ``budget_steps`` is what
    SingleAux runs of every candidate take at most (2 x ITER steps an epoch, ``budget_epochs`` epochs each).
    """

    seconds: float
    steps: int = 0
    budget_steps: int = 0

    @property
    def fraction(self) -> Optional[float]:
        """``steps / budget_steps``: the share of the brute-force training this ranking took (None: no budget)."""
        return self.steps / self.budget_steps if self.budget_steps else None

    def describe(self) -> str:
        text = f"{self.seconds:.1f} s wall"
        if self.budget_steps:
            text += (f", {self.steps} training steps = {100 * self.fraction:.1f} % of SingleAux with every "
                     f"candidate ({self.budget_steps} steps)")
        return text


@dataclass(frozen=True)
class AuxRanking:
    """A predictor's ranking of the candidates for ``target``, best first, and what it cost."""

    target: str
    method: str
    rows: tuple[RankedAux, ...]
    compute: Compute
    options: dict = field(default_factory=dict, compare=False)

    @property
    def names(self) -> list[str]:
        """The candidates, predicted most helpful first."""
        return [row.name for row in self.rows]

    @property
    def scores(self) -> dict[str, float]:
        return {row.name: row.score for row in self.rows}

    def top(self, k: int = 1) -> list[str]:
        return self.names[:k]

    def as_dict(self) -> dict:
        return {"target": self.target, "method": self.method, "options": self.options,
                "compute": {**dataclasses.asdict(self.compute), "fraction": self.compute.fraction},
                "rows": [dataclasses.asdict(row) for row in self.rows]}


class AuxPredictor(ABC):
    """Base of the predictors: a dataclass of options with :meth:`score`. ``reference`` names the method's source."""

    name: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    registry: ClassVar[dict[str, type["AuxPredictor"]]] = {}

    @classmethod
    def register(cls, name: str) -> Callable[[P], P]:
        """Class decorator: makes a predictor known by ``name`` to :func:`rank_aux`, recipes and ``rank-aux``."""
        return registering(AuxPredictor, AuxPredictor.registry, name, "aux predictor")

    @abstractmethod
    def score(self, target, candidates: Sequence) -> tuple[dict[str, tuple[float, dict]], int, int]:
        """Per candidate name its score and details; then the training steps taken and the brute-force budget."""

    def options(self) -> dict:
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}


def predictor_names() -> list[str]:
    return sorted(AuxPredictor.registry)


def make_predictor(method: str, **options: Any) -> AuxPredictor:
    """The predictor ``method`` with ``options``; ``ValueError`` naming what is known for an unknown name or option."""
    kind = AuxPredictor.registry.get(method)
    if kind is None:
        raise ValueError(f"unknown ranking method {method!r}. {did_you_mean(method, predictor_names())}"
                         f"Choose one of: {', '.join(predictor_names())}.")
    known = [f.name for f in dataclasses.fields(kind)] if dataclasses.is_dataclass(kind) else []
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} of ranking method {method!r}. "
                         f"{did_you_mean(unknown[0], known)}Use its options: {', '.join(known) or 'none'}.")
    return kind(**options)


def rank_aux(target, candidates: Sequence, method: str = "similarity", **options: Any) -> AuxRanking:
    """Ranks ``candidates`` (corpora with ``name`` and ``train``) as auxiliary corpora for ``target``.

    Args:
        target: the target corpus (e.g. a :class:`~flair_munch.corpora.NamedCorpus`, with train and dev).
        candidates: the candidate auxiliary corpora (distinct names).
        method: a registered predictor: ``similarity``, ``probe``, ``lookahead``, ``encoder-states`` ...
        **options: the predictor's options (its dataclass fields), e.g. ``epochs=1`` for ``probe``.

    Returns:
        An :class:`AuxRanking`: candidates best first (ties by name), each with its score, and the compute.
    """
    names = [corpus.name for corpus in candidates]
    if len(set(names)) != len(names) or target.name in names:
        raise ValueError(f"rank_aux: the candidates {names} must be distinct corpora other than the target "
                         f"`{target.name}`")
    predictor = make_predictor(method, **options)
    start = time.perf_counter()
    scores, steps, budget = predictor.score(target, list(candidates))
    seconds = time.perf_counter() - start
    order = sorted(names, key=lambda name: (-_sortable(scores[name][0]), name))
    rows = tuple(RankedAux(name, scores[name][0], rank, scores[name][1]) for rank, name in enumerate(order, 1))
    return AuxRanking(target.name, method, rows, Compute(seconds, steps, budget), predictor.options())


def _sortable(score: float) -> float:
    return -math.inf if score is None or math.isnan(score) else score


def format_aux_ranking(ranking: AuxRanking, compute: bool = True) -> str:
    """The ranking as plain text: a line per candidate with its score and details, then (``compute``) its cost."""
    detail_keys = sorted({key for row in ranking.rows for key in row.details})
    width = {key: max(10, len(key)) for key in detail_keys}
    header = f"{'rank':>4}  {'corpus':<24} {'score':>9}" + "".join(f" {key:>{width[key]}}" for key in detail_keys)
    lines = [header]
    for row in ranking.rows:
        cells = "".join(f" {_cell(row.details.get(key)):>{width[key]}}" for key in detail_keys)
        lines.append(f"{row.rank:>4}  {row.name:<24} {row.score:9.4f}{cells}")
    if compute:
        lines.append(f"compute: {ranking.compute.describe()}")
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
