"""``SequentialExecutor``: one job after another in this process, the default."""

from flair_munch.execution.base import Executor


@Executor.register("sequential")
class SequentialExecutor(Executor):
    """One job after another in this process, in plan order (which puts every job after what it needs)."""

    def execute(self, plan, run_job, on_done, progress, show_bars=False, retry_failed=False) -> None:
        for done, job in enumerate(plan.jobs):
            progress.update(done, [job.label])
            on_done(job, run_job(plan.recipe, job, progress=show_bars, retry_failed=retry_failed, executor=self.name))
        progress.update(len(plan.jobs), [])
