"""``RayExecutor``: a study's jobs as Ray tasks, on one box or a cluster (``pip install -e ".[ray]"``).

Each job is a task with declared resources (``num_cpus``, fractional ``num_gpus``, so several runs
share a GPU) whose arguments are the object refs of the jobs it needs: Ray starts it when they
finish, nothing waits for the whole grid. A task whose worker process or node dies is retried
(``max_retries``) and resumes from its run's last checkpoint; only the driver writes results.
Every node must see the driver's working directory, ``output_dir`` and the embedding store at the
same paths (a shared filesystem), and have flair-munch installed (docs/distributed.md).
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Optional

from flair_munch.execution.base import Executor, JobFunction

if TYPE_CHECKING:  # ray_cluster needs psutil (the Ray extra): imported where the executor is used, not registered
    from flair_munch.execution.ray_cluster import LocalClusterRecord
    from flair_munch.execution.settings import ExecutionSettings

log = logging.getLogger("flair_munch")

FORWARDED_ENV = ("FLAIR_MUNCH_DATA", "FLAIR_MUNCH_CACHE", "HF_HOME", "FLAIR_CACHE_ROOT")


class _RunningBoard:
    """A small actor where tasks say that they started, so the driver can show which runs are running now."""

    def __init__(self) -> None:
        self.running: dict[str, str] = {}

    def started(self, key: str, label: str) -> None:
        self.running[key] = label

    def finished(self, key: str) -> None:
        self.running.pop(key, None)

    def snapshot(self) -> list[str]:
        return list(self.running.values())


def _job_task(run_job: JobFunction, recipe, job, cwd: str, threads: int, retry_failed: bool, board, *needed):
    """One job, run by the driver's ``run_job`` in a Ray worker: the driver's working directory, ``threads`` torch
    threads (no oversubscription)."""
    import torch

    if os.path.isdir(cwd):
        os.chdir(cwd)  # relative paths of the recipe (output_dir, data_dir, the store) mean what they meant there
    torch.set_num_threads(threads)
    try:
        board.started.remote(job.key, job.label)
    except Exception:  # the board is only for display; a lost board must not fail a run
        pass
    return run_job(recipe, job, progress=False, retry_failed=retry_failed, executor="ray")


@Executor.register("ray")
class RayExecutor(Executor):
    """Runs the plan on Ray: a local cluster (``address=None``), the one on this machine (``auto``) or ``HOST:PORT``.

    Args:
        workers: runs at once on a local cluster (its ``num_cpus`` is ``workers * cpus_per_run``).
        cpus_per_run: each task's ``num_cpus`` and torch threads.
        gpus_per_run: each task's ``num_gpus`` (0.25: four runs per GPU); ``device: auto`` then uses that GPU.
        max_retries: restarts of a task whose worker or node died.
    """

    def __init__(self, address: Optional[str] = None, workers: Optional[int] = None, cpus_per_run: int = 1,
                 gpus_per_run: float = 0.0, max_retries: int = 3) -> None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise RuntimeError("--executor ray needs Ray: install the extra with pip install -e \".[ray]\" "
                               "(or pip install \"flair-munch[ray]\")") from None
        self.address, self.workers = address, workers
        self.cpus_per_run, self.gpus_per_run, self.max_retries = cpus_per_run, gpus_per_run, max_retries
        self._connected = self._owner = False  # connected; and made the connection (so shuts it down)
        self._record: Optional[LocalClusterRecord] = None  # the local cluster this executor started

    @classmethod
    def from_settings(cls, settings: ExecutionSettings) -> RayExecutor:
        return cls(address=settings.address, workers=settings.workers, cpus_per_run=settings.cpus_per_run,
                   gpus_per_run=settings.gpus_per_run, max_retries=settings.max_retries)

    @classmethod
    def stop_leftovers(cls) -> None:
        """Stops what local Ray clusters of drivers killed earlier left running (docs/distributed.md)."""
        try:
            from flair_munch.execution.ray_cluster import stop_leftovers
        except ImportError:  # no psutil: the Ray extra is not installed, so no local cluster was ever recorded
            return
        stop_leftovers()

    def connect(self) -> None:
        """Joins or starts the cluster and checks that a run fits on a node (``RuntimeError``, one line, if not).

        Called before a study writes anything; a second call does nothing until :meth:`execute` shuts down.
        """
        import ray

        from flair_munch.execution.ray_cluster import resource_problem

        if self._connected:
            return
        if not ray.is_initialized():
            self._start_or_join(ray)
        self._connected = True
        where = f"at {self.address}" if self.address else "on this machine" if self._record else "ray.init started"
        problem = resource_problem(ray.nodes(), self.cpus_per_run, self.gpus_per_run, where)
        if problem:
            self.disconnect()
            raise RuntimeError(problem)
        log.info("ray: %s", {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")})

    def _start_or_join(self, ray) -> None:
        """``ray.init`` of the address (probed first: Ray's connect waits for ever), or of a local cluster."""
        from flair_munch.execution.ray_cluster import LocalClusterRecord, probe_address, stop_leftovers

        env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
        options = dict(log_to_driver=False, runtime_env={"env_vars": env} if env else None)
        if self.address:
            probe_address(self.address)
            try:
                ray.init(address=self.address, **options)
            except ConnectionError as error:
                raise RuntimeError(f"--address {self.address}: {str(error).splitlines()[0]}") from None
            self._owner = True
            return
        stop_leftovers()  # what a local cluster of a driver killed earlier left running
        cpus = self.workers * self.cpus_per_run if self.workers else None
        context = ray.init(num_cpus=cpus, include_dashboard=False, **options)
        self._owner = True
        self._record = LocalClusterRecord(context.address_info["session_dir"]).write()

    def disconnect(self) -> None:
        """Shuts down the connection or local cluster that :meth:`connect` made (not one made before it)."""
        import ray

        if self._owner:
            ray.shutdown()
        if self._record:
            self._record.remove()
        self._connected = self._owner = False
        self._record = None

    def execute(self, plan, run_job, on_done, progress, show_bars=False, retry_failed=False) -> None:
        import ray

        self.connect()
        try:
            self._run(ray, plan, run_job, on_done, progress, retry_failed)
        finally:
            self.disconnect()

    def _run(self, ray, plan, run_job, on_done, progress, retry_failed) -> None:
        board = ray.remote(num_cpus=0)(_RunningBoard).remote()
        task = ray.remote(_job_task)
        recipe, job_function = ray.put(plan.recipe), ray.put(run_job)
        refs, jobs = {}, {}
        for job in plan.jobs:  # plan order puts each job after what it needs
            needed = [refs[key] for key in job.needs if key in refs]
            ref = task.options(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run, max_retries=self.max_retries,
                               retry_exceptions=False, name=job.label).remote(
                job_function, recipe, job, os.getcwd(), self.cpus_per_run, retry_failed, board, *needed)
            refs[job.key], jobs[ref] = ref, job
        pending, done = list(jobs), 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for ref in ready:
                job = jobs[ref]
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    self._cancel(ray, pending)
                    raise error.as_instanceof_cause() from None
                except ray.exceptions.RayError as error:  # retries used up: worker or node lost each time
                    self._cancel(ray, pending)
                    raise RuntimeError(f"job {job.label} failed {self.max_retries + 1} times on Ray: "
                                       f"{type(error).__name__}: {str(error).splitlines()[0]}") from None
                board.finished.remote(job.key)
                done += 1
                on_done(job, outcome)
            try:
                running = ray.get(board.snapshot.remote(), timeout=5)
            except ray.exceptions.RayError:
                running = []
            progress.update(done, running)
        progress.update(done, [])

    @staticmethod
    def _cancel(ray, refs) -> None:
        for ref in refs:
            ray.cancel(ref, force=True)
        time.sleep(0.1)
