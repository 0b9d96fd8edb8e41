"""The order a study's jobs start in: the longest first, where dependencies allow.

A parallel executor (Ray) starts ready jobs in plan order; in recipe order a long run (MUNCH-Stack,
MUNCH-Iter) often starts last and trains alone at the end. :func:`longest_first` orders the jobs so
that, among those whose needs are met, the one with the longest estimated chain of work (its own
cost plus the longest chain of jobs waiting on it) goes first. The estimate plans each run's
schedule against the corpus sizes the recipe implies (nothing is loaded): optimizer steps per epoch
x epochs (the cap, or a stage's fixed epochs). ``FLAIR_MUNCH_JOB_ORDER=recipe`` keeps recipe order.
"""

import heapq
import math
import os
from graphlib import TopologicalSorter
from types import SimpleNamespace
from typing import Callable, Sequence, TypeVar

from flair_munch.corpora.registry import PAPER_STATS, lookup
from flair_munch.corpora.subsample import resolve_size
from flair_munch.training.address import prerequisite_run
from flair_munch.training.schedules import Schedule, Selection

JOB_ORDER_ENV = "FLAIR_MUNCH_JOB_ORDER"  # "recipe": plan order; unset or "longest-first": longest_first
JOB_ORDERS = ("longest-first", "recipe")
SAMPLE_TRAIN_SENTENCES = 300  # the shipped samples' train split
UNKNOWN_TRAIN_SENTENCES = 5000  # a corpus the paper's statistics do not list (a folder of your own)

J = TypeVar("J")


def longest_first(jobs: Sequence[J], estimate: Callable[[J], float]) -> list[J]:
    """``jobs`` (each with ``key`` and ``needs``) in an order that puts every job after those it needs and,
    among the jobs ready at each point, the one with the largest estimated chain of work first (ties: plan
    order). Needs that are no job of ``jobs`` are taken as met."""
    by_key = {job.key: job for job in jobs}
    position = {key: i for i, key in enumerate(by_key)}
    graph = {key: [k for k in job.needs if k in by_key] for key, job in by_key.items()}
    chain = critical_paths(graph, {key: estimate(job) for key, job in by_key.items()})
    order = TopologicalSorter(graph)
    order.prepare()  # raises graphlib.CycleError for jobs that wait on each other
    ready: list = []
    ordered = []
    while order.is_active():
        for key in order.get_ready():
            heapq.heappush(ready, (-chain[key], position[key], key))
        _, _, key = heapq.heappop(ready)
        ordered.append(by_key[key])
        order.done(key)
    return ordered


def critical_paths(graph: dict, cost: dict) -> dict:
    """Per job (``graph``: key -> keys it needs), its cost plus the longest chain of jobs that wait on it."""
    waiting = {key: [] for key in graph}
    for key, needs in graph.items():
        for need in needs:
            waiting[need].append(key)
    chain: dict = {}
    for key in reversed(list(TopologicalSorter(graph).static_order())):  # the jobs waiting on it come first
        chain[key] = cost[key] + max((chain[k] for k in waiting[key]), default=0.0)
    return chain


def job_order() -> str:
    """The job order ``FLAIR_MUNCH_JOB_ORDER`` asks for (default ``longest-first``); ``ValueError`` if unknown."""
    order = os.environ.get(JOB_ORDER_ENV, "").strip() or "longest-first"
    if order not in JOB_ORDERS:
        raise ValueError(f"{JOB_ORDER_ENV}={order!r} is not a job order: set it to one of {', '.join(JOB_ORDERS)}, "
                         "or unset it")
    return order


def ordered_jobs(recipe, jobs: list) -> list:
    """The plan's jobs in the order ``FLAIR_MUNCH_JOB_ORDER`` asks for (what ``StudyPlan`` ends with)."""
    return jobs if job_order() == "recipe" else longest_first(jobs, job_cost_estimator(recipe))


def job_cost_estimator(recipe) -> Callable:
    """A function from a plan's job to its estimated optimizer steps (a store build counts 0: it is short)."""
    def estimate(job) -> float:
        kind, spec = getattr(job.kind, "name", job.kind), job.spec
        if kind == "run":
            return estimated_steps(recipe, spec, spec.schedule.build(), list(spec.aux), spec.settings())
        if kind == "final":
            return estimated_steps(recipe, spec, spec.schedule.build(), list(spec.aux),
                                   spec.settings(train_with_dev=True))
        if kind == "prerequisite":
            schedule, settings = prerequisite_run(job.corpus, spec.settings(), spec.schedule.build())
            return estimated_steps(recipe, spec, schedule, [job.corpus], settings)
        return 0.0

    return estimate


def estimated_steps(recipe, spec, schedule: Schedule, aux: list, settings) -> float:
    """Optimizer steps of ``schedule``'s run for ``spec``'s target with ``aux``: its plan against the sizes the
    recipe implies, each stage for its fixed epochs or ``max_epochs``."""
    ctx = SizedPlanContext(recipe, spec, aux, settings)
    try:
        return sum(len(stage.epoch) * (stage.epochs or settings.max_epochs) for stage in ctx.stages(schedule))
    except Exception:  # an estimate only orders jobs: a schedule that cannot plan on sizes alone gets a rough one
        return float(ctx.iterations * (1 + len(aux)) * settings.max_epochs)


class SizedPlanContext:
    """A ``PlanContext`` (schedules/base.py) from the recipe's corpus sizes, for estimates: no corpus is loaded,
    dev F1s and similarities are even, and a peer's result holds the target updates its plan implies."""

    def __init__(self, recipe, spec, aux: list, settings) -> None:
        self.recipe, self.spec, self.settings = recipe, spec, settings
        self.target, self.aux = spec.target, list(aux)
        self.batch_size, self.seed = settings.mini_batch_size, settings.seed
        self.entity_types = {name: getattr(lookup(name), "entity_type", name) for name in (self.target, *self.aux)}
        self.iterations = math.ceil(self.train_size(self.target) / self.batch_size)

    def train_size(self, name: str) -> int:
        """Sentences of ``name``'s train split as the recipe cuts it (the target's with dev and mixed-in ones)."""
        as_target = name == self.target
        size = corpus_train_size(self.recipe, name, as_target, self.spec.train_size)
        if as_target and self.settings.train_with_dev:
            size += size // 5  # dev is about a fifth of train in the paper's corpora
        return round(size * (1 + (self.spec.mix_percent or 0) / 100)) if as_target else size

    def single_aux_dev_f1(self, aux: str) -> float:
        return 0.0

    def aux_similarity(self) -> dict:
        return dict.fromkeys(self.aux, 0.0)

    def aux_ranking(self, method: str) -> dict:
        return dict.fromkeys(self.aux, 0.0)

    def peer_result(self, schedule: Schedule):
        epochs = self.settings.max_epochs
        updates = sum(sum(self.target in step.source for step in stage.epoch) * (stage.epochs or epochs)
                      for stage in self.stages(schedule))
        return SimpleNamespace(run_id="", updates={self.target: updates})

    def stages(self, schedule: Schedule) -> list:
        """What ``schedule`` trains here; a selection's choice with its aux corpora."""
        if isinstance(schedule, Selection):
            choice = schedule.choose(self)
            return SizedPlanContext(self.recipe, self.spec, list(choice.aux), self.settings).stages(choice.schedule)
        return schedule.plan(self)


def corpus_train_size(recipe, name: str, as_target: bool, target_size=None) -> int:
    """Train sentences of ``name`` in its role, from the recipe's cut and the paper's statistics (no loading)."""
    known = SAMPLE_TRAIN_SENTENCES if recipe.samples else \
        PAPER_STATS.get(name, {}).get("train", (UNKNOWN_TRAIN_SENTENCES,))[0]
    size = recipe.corpus_options(name, as_target, target_size).get("train_size")
    if size is None or size == "all":
        return known
    try:
        count = resolve_size(size, known)
    except ValueError:
        return known
    return min(count, known) if recipe.samples or name in PAPER_STATS else count
