"""Executors: who runs a study plan's jobs, known by name (``execution.executor``, ``--executor``).

An executor runs each job after the jobs it needs, with the job function the driver hands it, and
hands every outcome to ``on_done`` in the driver; it never writes results itself. The numbers are
the jobs' business, so the same recipe gives the same results with every executor. Executors know
nothing of the study package: a new one is one module with ``@Executor.register(NAME)``, imported by
``flair_munch.execution``, and recipes, the schema and the CLI's choices know it from then on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, ClassVar, TypeVar

from flair_munch.registrable import registering

if TYPE_CHECKING:
    from flair_munch.execution.settings import ExecutionSettings

JobFunction = Callable[..., Any]
"""``run_job(recipe, job, progress=False, retry_failed=False, executor="sequential") -> outcome``."""
OnDone = Callable[[Any, Any], None]
"""``on_done(job, outcome)``, called in the driver's process for each finished job."""
E = TypeVar("E", bound=type)


class Executor(ABC):
    """Runs the jobs of a plan; subclasses register by name (``@Executor.register("ray")``)."""

    name: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[Executor]]] = {}  # name -> class, in registration order

    @classmethod
    def register(cls, name: str) -> Callable[[E], E]:
        """Class decorator: makes an executor known by ``name`` to recipes and ``--executor``."""
        return registering(Executor, Executor.registry, name, "executor")

    @classmethod
    def from_settings(cls, settings: ExecutionSettings) -> Executor:
        """This executor with the resources ``settings`` give it (those it reads)."""
        return cls()

    @classmethod
    def stop_leftovers(cls) -> None:
        """Stops what earlier drivers of this kind, killed before they cleaned up, left running (default: nothing)."""

    def connect(self) -> None:
        """Checks, before a study writes anything, that the jobs can run (one-line ``RuntimeError`` if not)."""

    @abstractmethod
    def execute(self, plan, run_job: JobFunction, on_done: OnDone, progress, show_bars: bool = False,
                retry_failed: bool = False) -> None:
        """Runs every job of ``plan`` with ``run_job`` (each after its ``needs``), calling ``on_done`` for each."""


def make_executor(settings: ExecutionSettings) -> Executor:
    """The executor ``settings.executor`` names, with its resources, connected: a cluster that is not there or
    has no node a run fits on fails here, before a study writes anything."""
    for kind in Executor.registry.values():
        kind.stop_leftovers()  # whatever runs now (docs/distributed.md)
    kind = Executor.registry.get(settings.executor)
    if kind is None:
        raise ValueError(f"unknown executor {settings.executor!r}; choose one of {', '.join(Executor.registry)}")
    executor = kind.from_settings(settings)
    executor.connect()
    return executor
