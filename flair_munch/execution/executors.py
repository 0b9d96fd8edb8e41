"""Executors: who runs a study plan's jobs. Today's behaviour is the sequential one; Ray is an optional extra.

An executor runs each job after the jobs it needs and hands every outcome to ``on_done`` in the
driver; it never writes results itself. The numbers are the jobs' business (``job_runner``), so
the same recipe gives the same results with every executor.
"""

from abc import ABC, abstractmethod
from typing import Callable

from flair_munch.execution.settings import EXECUTORS, ExecutionSettings
from flair_munch.study.job_runner import JobOutcome, run_job
from flair_munch.study.progress import StudyProgress
from flair_munch.study.plan import Job, StudyPlan

OnDone = Callable[[Job, JobOutcome], None]


class Executor(ABC):
    """Runs the jobs of a plan."""

    name = ""

    @abstractmethod
    def execute(self, plan: StudyPlan, on_done: OnDone, progress: StudyProgress, show_bars: bool = False,
                retry_failed: bool = False) -> None:
        """Runs every job of ``plan`` (each after its ``needs``), calling ``on_done`` in this process for each."""


class SequentialExecutor(Executor):
    """One job after another in this process, in plan order (which puts every job after what it needs)."""

    name = "sequential"

    def execute(self, plan, on_done, progress, show_bars=False, retry_failed=False) -> None:
        for done, job in enumerate(plan.jobs):
            progress.update(done, [job.label])
            on_done(job, run_job(plan.recipe, job, progress=show_bars, retry_failed=retry_failed, executor=self.name))
        progress.update(len(plan.jobs), [])


def make_executor(settings: ExecutionSettings) -> Executor:
    """The executor ``settings.executor`` names, with its resources; Ray's connected, so that a cluster that is
    not there or has no node a run fits on fails here, before a study writes anything."""
    _stop_ray_leftovers()
    if settings.executor == "sequential":
        return SequentialExecutor()
    if settings.executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise RuntimeError("--executor ray needs Ray: install the extra with pip install -e \".[ray]\" "
                               "(or pip install \"flair-munch[ray]\")") from None
        from flair_munch.execution.ray_executor import RayExecutor

        executor = RayExecutor(address=settings.address, workers=settings.workers, cpus_per_run=settings.cpus_per_run,
                               gpus_per_run=settings.gpus_per_run, max_retries=settings.max_retries)
        executor.connect()
        return executor
    raise ValueError(f"unknown executor {settings.executor!r}; choose one of {', '.join(EXECUTORS)}")


def _stop_ray_leftovers() -> None:
    """Stops what local Ray clusters of drivers killed earlier left running (docs/distributed.md), whatever runs now."""
    try:
        from flair_munch.execution.ray_cluster import stop_leftovers
    except ImportError:  # no psutil: the Ray extra is not installed, so no local cluster was ever recorded
        return
    stop_leftovers()
