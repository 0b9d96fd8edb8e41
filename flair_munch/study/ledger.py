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
from typing import Optional

from flair_munch.evaluation.results_index import RESULTS_FILE, ResultRecord
from flair_munch.study.job_runner import JobOutcome
from flair_munch.study.plan import StudyPlan
from flair_munch.training.result import TrainingResult
from flair_munch.training.run_directory import atomic_write_text, strict_json

log = logging.getLogger("flair_munch")


def _node(folder: Path) -> Optional[str]:
    marker = folder / "executor.json"
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("node")
    except (OSError, ValueError):
        return None  # trained before executors recorded themselves


def predictions_folder(result: TrainingResult, output_dir: Path) -> Path:
    """The folder of a run's model and test predictions (a selection's: the chosen sub-run's), as it is now: the
    same place in this study when the study was moved or checked out elsewhere, else where it was trained."""
    folder = Path(result.model_path).parent
    moved = Path(output_dir) / folder.parent.name / folder.name  # runs/<id> or shared-runs/<name>
    return (moved if moved.is_dir() else folder).resolve()


def make_record(spec, result: TrainingResult, final: Optional[TrainingResult], output_dir: Path) -> ResultRecord:
    """The index line of ``spec``: dev from its train-only run, test from its train + dev run when there is one."""
    test_run = final or result
    folder = predictions_folder(test_run, output_dir)
    return ResultRecord(
        run_id=spec.run_id, target=spec.target, aux=list(spec.aux), schedule=spec.row, baseline=spec.baseline_row,
        variant=spec.variant or None, train_size=spec.train_size, mix_percent=spec.mix_percent, seed=spec.seed,
        hparams={"learning_rate": spec.learning_rate, "mini_batch_size": spec.mini_batch_size},
        dev=result.dev, test=test_run.test, updates=test_run.updates, epochs=test_run.epochs,
        seconds=result.seconds + (final.seconds if final else 0.0), aux_order=test_run.aux_order,
        run_dir=str(folder),  # where its test predictions are
        history=[{k: row.get(k) for k in ("stage", "epoch", "lr", "target_loss", "dev_f1", "seconds")}
                 for row in result.history],
        node=_node(folder), stop_reasons=list(test_run.stop_reasons), matches=spec.matched_row,
    )


def with_selection(records: list[ResultRecord]) -> list[ResultRecord]:
    """Marks, per (target, schedule, seed), the grid point with the best target dev F1 (docs/methods.md §1.3)."""
    groups = defaultdict(list)
    for record in records:
        groups[(record.target, record.schedule, record.seed)].append(record)
    for group in groups.values():
        best = max(group, key=lambda r: ((r.dev or {}).get("f1", -1.0), -r.hparams["learning_rate"]))
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
        """Records one job's outcome and rewrites the index when it changes what the index holds."""
        if outcome.failure is not None:
            log.error("[%s] %s", job.label, outcome.failure)
            self.failed[job.key] = outcome.failure
            if job.kind == "final":
                self.failed_finals.update(spec.run_id for spec in job.specs)
            return
        if job.kind == "run":
            self.results[job.key] = outcome.result
            log.info("[%d/%d runs] %s %s (%s)", len(self.results), len(self.plan.specs), job.spec.label,
                     outcome.result.summary(), outcome.node)
            self._records.pop(job.key, None)
        elif job.kind == "final":
            self.finals[outcome.selected] = outcome.result
            self._records.pop(outcome.selected, None)
        else:
            return
        self.write()

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
