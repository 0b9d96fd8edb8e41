"""Running a whole study from a recipe: every target x schedule x hyperparameters x seed, resumable.

Each run lives in ``OUTPUT/runs/<run id>/`` and is skipped once its ``metrics.json`` exists, so
an interrupted study (Ctrl-C, kill -9) continues where it stopped; a half-finished run resumes
from its last epoch checkpoint. SingleAux runs needed by SingleAux-best and dev-sorted orders
are shared through ``OUTPUT/shared-runs/``. ``OUTPUT/results.jsonl`` is the results index: one
JSON line per finished run, rewritten atomically after every run (JSON lines: readable, diffable,
and a study is written by one process, its driver, so no database is needed). The study is a plan
of jobs (``plan.py``, of the kinds in ``jobs.py``) that an executor runs: in this process, or as Ray tasks (``flair_munch.execution``).
"""

import functools
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from flair_munch.execution import Executor, make_executor
from flair_munch.study.job_runner import run_job
from flair_munch.study.ledger import Ledger
from flair_munch.study.progress import StudyProgress
from flair_munch.study.folder import check_runnable
from flair_munch.study.jobs import run_directory
from flair_munch.study.plan import StudyPlan
from flair_munch.tracking import end_tracking, start_tracking
from flair_munch.training.run_directory import atomic_write_text

log = logging.getLogger("flair_munch")


@dataclass
class StudyStatus:
    """What a study holds: all runs, the finished ones, and where things are."""

    total: int
    done: int
    output_dir: Path
    lines: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # one message per run that diverged (failed.json)

    def format(self) -> str:
        failed = f", {len(self.failed)} failed" if self.failed else ""
        left = self.total - self.done - len(self.failed)
        return "\n".join([*self.lines, f"{self.done} of {self.total} runs done{failed} ({left} to run)"])


def _failure(output_dir: Path, spec, final: bool = False) -> Optional[str]:
    failure = run_directory(output_dir, spec, final).failure()
    return failure["message"] if failure else None


def study_status(recipe) -> StudyStatus:
    """Every run of the study (target, schedule, hyperparameters, seed) and whether it is done."""
    output_dir = Path(recipe.output_dir)
    plan = StudyPlan(recipe)
    specs = plan.specs
    lines = [f"{'status':<8} {'run id':<14} {'target':<16} {'schedule':<32} {'lr':>8} {'batch':>5} {'seed':>4}"]
    done, failed = 0, []
    for spec in specs:
        finished = spec.run_id in plan.finished and spec.run_id not in plan.awaiting_final
        failure = None if finished else (_failure(output_dir, spec) or _failure(output_dir, spec, final=True))
        done += finished
        if failure:
            failed.append(f"{spec.label}: {failure}")
        lines.append(
            f"{'done' if finished else 'failed' if failure else 'to run':<8} {spec.run_id:<14} {spec.target:<16} {spec.row:<32} "
            f"{spec.learning_rate:>8g} {spec.mini_batch_size:>5d} {spec.seed:>4d}"
        )
    return StudyStatus(total=len(specs), done=done, output_dir=output_dir, lines=lines, failed=failed)


def cache_embeddings(recipe, progress: bool = True, rebuild: bool = False):
    """Builds the recipe's embedding store ahead of the study: the sentences its runs read.

    What the study's store jobs embed (``build_store``), for every target, train size and mixing, as the
    study loads, cuts and mixes them: the target's train, dev and test splits and its auxiliary corpora's
    train split; auxiliary dev and test sentences, which no schedule reads, are not embedded (unless they
    are also one of those). Returns the store and the ``BuildReport`` of the sentences it had to embed.
    ``rebuild`` deletes the store's folder first.
    """
    from flair_munch.embeddings import load_embeddings
    from flair_munch.embeddings.store import BuildReport
    from flair_munch.recipes.recipe import FROZEN_MODEL_TYPES
    from flair_munch.study.job_runner import build_store, open_store

    if recipe.model.get("type", "multi-head") not in FROZEN_MODEL_TYPES:
        raise ValueError(f"model type {recipe.model['type']!r} fine-tunes its encoder: there is nothing to cache")
    if recipe.embedding_store == "off":
        raise ValueError("the recipe turns the embedding store off (`embedding_store: off`); remove that key or "
                         "set `embedding_store: auto` (or a folder) to build it")
    store = open_store(recipe, load_embeddings(recipe.embeddings), rebuild=rebuild)
    if store is None:
        return None, BuildReport(0, 0, 0, 0, 0, 0.0)
    return store, build_store(recipe, recipe.runs(), store, progress=progress)  # what the study's store jobs embed


def run_study(recipe, progress: bool = True, retry_failed: bool = False, executor: Optional[Executor] = None
              ) -> StudyStatus:
    """Trains every run of ``recipe`` that is not done yet, writing the results index after each.

    ``executor`` runs the jobs (default: the one the recipe's ``execution:`` names, sequential unless
    it says otherwise; or e.g. ``RayExecutor(workers=2)``). A run that diverges (``TrainingDiverged``)
    is recorded as failed and left out of the index; the study goes on with the others and the
    returned status lists it. Failed runs are trained again only with ``retry_failed``.
    """
    from flair_munch.device import select_device

    executor = executor or make_executor(recipe.execution)  # a missing extra fails here, before anything is written
    select_device(recipe.device)
    output_dir = Path(recipe.output_dir)
    check_runnable(recipe, create=True)  # output_dir made, and not another study's (study_folder.py)
    atomic_write_text(output_dir / "recipe.json", json.dumps(recipe.to_dict(), indent=1, default=str))
    start = time.time()
    plan = StudyPlan(recipe)
    ledger = Ledger(plan)
    ledger.write()  # runs finished earlier, also when nothing is left to train
    log.info("study %s: %d runs, %d done, %d jobs to run (%s executor)", recipe.name, len(plan.specs),
             len(plan.finished), len(plan.jobs), executor.name)
    bar = StudyProgress(len(plan.jobs), enabled=progress)
    tracking = start_tracking(recipe)  # log_to: e.g. MLflow's parent run, whose id every job is handed
    job_function = functools.partial(run_job, tracking=tracking) if tracking else run_job
    ended = "KILLED"
    try:
        executor.execute(plan, job_function, ledger.accept, bar, show_bars=False, retry_failed=retry_failed)
        ended = "FINISHED"
    except Exception:
        ended = "FAILED"
        raise
    finally:
        bar.close()
        end_tracking(tracking, ended)
    log.info("study %s: %d jobs in %.0f s", recipe.name, len(plan.jobs), time.time() - start)
    return study_status(recipe)
