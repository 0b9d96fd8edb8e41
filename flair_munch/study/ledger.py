"""The study's results index, ``OUTPUT/results.jsonl``, and the one process that writes it: the driver.

Jobs write only their own run folders; their outcomes come back to the driver, which records
them here and rewrites the index atomically after each, in recipe order (not in the order runs
finish), so any executor leaves the same file for the same runs.
"""

import json
import logging
import tempfile
from collections import defaultdict
from pathlib import Path

from flair_munch.evaluation.results_index import RESULTS_FILE, ResultRecord
from flair_munch.study.job_runner import JobOutcome
from flair_munch.study.plan import StudyPlan
from flair_munch.study.records import make_record
from flair_munch.study.selection import best_grid_point
from flair_munch.training.result import TrainingResult
from flair_munch.training.run_directory import atomic_write_text, strict_json

log = logging.getLogger("flair_munch")


def with_selection(records: list[ResultRecord]) -> list[ResultRecord]:
    """Marks, per (target, schedule, seed), the grid point with the best target dev F1 (docs/methods.md §1.3)."""
    groups = defaultdict(list)
    for record in records:
        groups[(record.target, record.schedule, record.seed)].append(record)
    for group in groups.values():
        best = best_grid_point(group, lambda r: r.dev, lambda r: r.hparams["learning_rate"])
        for record in group:
            record.selected = record is best
    return records


def write_index(output_dir: Path, records: list[ResultRecord]) -> Path:
    """``results.jsonl``, rewritten atomically; only the study's driver writes it."""
    lines = [strict_json(record.to_dict(), sort_keys=True) for record in with_selection(records)]
    return atomic_write_text(Path(output_dir) / RESULTS_FILE, "\n".join(lines) + ("\n" if lines else ""))


def study_recipe(study_dir: Path):
    """The recipe a study ran with, from the ``recipe.json`` its driver wrote (keys left at their default dropped,
    ``output_dir`` the study's folder as it is now)."""
    from flair_munch.recipes import load_recipe

    data = json.loads((study_dir / "recipe.json").read_text(encoding="utf-8"))
    data = {key: value for key, value in data.items() if value not in (None, {})} | {"output_dir": str(study_dir)}
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "recipe.json"
        copy.write_text(json.dumps(data), encoding="utf-8")
        try:
            return load_recipe(copy)
        except ValueError as error:
            raise ValueError(str(error).replace(str(copy), str(study_dir / "recipe.json"))) from None


def rebuild_index(study_dir, damage: Exception) -> list[ResultRecord]:
    """The index ``run`` would write, rebuilt from the study's recipe and run folders and written in place of
    the damaged one (``damage`` says what is wrong with it); one clear error when that is impossible."""
    study = Path(study_dir).resolve()
    try:
        plan = StudyPlan(study_recipe(study))
        records = with_selection(Ledger(plan).records())
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{damage}, and it cannot be rebuilt from the run folders ({reason}). Run `flair-munch "
                         "run RECIPE` with the study's recipe: it rebuilds the index (finished runs are not trained "
                         "again)") from None
    write_index(study, records)
    log.warning("%s: rebuilt it from the run folders (%d runs), as `flair-munch run` does", damage, len(records))
    return records


class Ledger:
    """What the driver knows of a study's runs: results found on disk and those its jobs hand back."""

    def __init__(self, plan: StudyPlan) -> None:
        self.plan = plan
        self.results = dict(plan.finished)  # run id -> train-only result
        self.finals = dict(plan.finished_final)  # run id -> its train + dev result (test_with_dev)
        self.failed: dict[str, str] = {}  # job key -> message
        self.failed_finals: set[str] = set()
        self._records: dict[str, ResultRecord] = {}  # run id -> its line, made once (it reads the run's folder)

    def accept(self, job, outcome: JobOutcome) -> None:
        """Records one job's outcome (what it means is the job kind's ``record``) and rewrites the index when
        that changes what the index holds."""
        if outcome.failure is not None:
            log.error("[%s] %s", job.label, outcome.failure)
            self.failed[job.key] = outcome.failure
            job.record_failure(self)
        elif job.record(self, outcome):
            self.write()

    def add_run(self, spec, outcome: JobOutcome) -> None:
        """A run of the recipe finished: its train-only result."""
        self.results[spec.run_id] = outcome.result
        log.info("[%d/%d runs] %s %s (%s)", len(self.results), len(self.plan.specs), spec.label,
                 outcome.result.summary(), outcome.node)
        self._records.pop(spec.run_id, None)

    def add_final(self, run_id: str, result: TrainingResult) -> None:
        """The train + dev retraining of the chosen grid point ``run_id`` finished: its test is the run's."""
        self.finals[run_id] = result
        self._records.pop(run_id, None)

    def leave_out(self, run_ids) -> None:
        """Runs the index leaves out (their grid's train + dev retraining failed: they have no test to report)."""
        self.failed_finals.update(run_ids)

    def records(self) -> list[ResultRecord]:
        records = []
        for spec in self.plan.specs:
            result = self.results.get(spec.run_id)
            if result is not None and spec.run_id not in self.failed_finals:
                if spec.run_id not in self._records:
                    self._records[spec.run_id] = make_record(spec, result, self.finals.get(spec.run_id),
                                                             self.plan.output_dir)
                records.append(self._records[spec.run_id])
        return records

    def write(self) -> Path:
        return write_index(self.plan.output_dir, self.records())
