"""What a run left beside its model (``metrics.json``, its study's index and recipe): the model card's facts."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from flair_munch.evaluation.report_table import format_delta
from flair_munch.evaluation.results_index import RESULTS_FILE, ResultRecord, f1_percent, read_results, selected
from flair_munch.evaluation.statistics import mean_sd
from flair_munch.evaluation.study_statistics import compare_with_baseline
from flair_munch.models.sequence_tagger_export import ExportError
from flair_munch.training.result import TrainingResult

MODEL_FILE = "final-model.pt"


@dataclass
class StudyRow:
    """The run's row of its study's table: test F1 x100 over seeds and the Δ to its baseline row with its interval."""

    study: str
    row: str
    target: str
    seeds: list[int]
    mean: Optional[float]
    sd: Optional[float]
    delta: str  # "baseline", or "+1.29 [+0.18, +2.40]" (Holm-level interval), as the report's table prints it
    baseline: Optional[str] = None
    conclusion: str = ""


@dataclass
class RunRecord:
    """A model file and, where it came from a run, that run's result, its study's record, row and recipe."""

    model_path: Path
    result: Optional[TrainingResult] = None
    study_dir: Optional[Path] = None
    recipe: dict = field(default_factory=dict)
    record: Optional[ResultRecord] = None
    row: Optional[StudyRow] = None

    @property
    def run_id(self) -> Optional[str]:
        return self.result.run_id if self.result else None


def find_run(path: Union[str, Path]) -> RunRecord:
    """The model of a run folder (or a model file) and whatever record of its run lies beside it."""
    path = Path(path)
    if path.is_dir():
        model_path = path / MODEL_FILE
        if not model_path.is_file():
            saved = "" if (path / "metrics.json").is_file() else " and is not a run folder (no metrics.json either)"
            raise FileNotFoundError(f"{path}: holds no {MODEL_FILE}{saved}. Give a run folder of a run trained with "
                                    "training.save_model: true (the default), or the model file itself.")
    elif path.is_file():
        model_path = path
    else:
        raise FileNotFoundError(f"{path}: no such run folder or model file. Give OUTPUT/runs/<run id>/ or its "
                                f"{MODEL_FILE}.")
    found = RunRecord(model_path)
    found.result = _result_beside(model_path)
    if found.result is not None:
        _add_study(found, model_path.parent)
    return found


def _result_beside(model_path: Path) -> Optional[TrainingResult]:
    """The ``metrics.json`` of the run that saved ``model_path``, if the model lies in its run folder."""
    metrics = model_path.parent / "metrics.json"
    if not metrics.is_file():
        return None
    try:
        result = TrainingResult.load(metrics)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ExportError(f"{metrics}: not a run's record ({type(error).__name__}: {error}). Export the model file "
                          "from a folder without it, or restore the run folder.") from None
    return result if Path(result.model_path).name == model_path.name else None


def _add_study(found: RunRecord, run_dir: Path) -> None:
    """The study the run folder belongs to (``STUDY/runs/<id>`` or ``STUDY/shared-runs/<id>``): recipe, record, row."""
    study_dir = run_dir.parent.parent
    if not (study_dir / RESULTS_FILE).is_file():
        return
    records = read_results(study_dir)
    mine = [r for r in records if r.run_id == found.run_id or (r.run_dir and Path(r.run_dir).name == run_dir.name)]
    if not mine:
        return
    found.study_dir, found.record = study_dir, mine[-1]
    recipe = study_dir / "recipe.json"
    found.recipe = json.loads(recipe.read_text(encoding="utf-8")) if recipe.is_file() else {}
    found.row = study_row(records, found.record, found.recipe.get("name") or study_dir.name)


def study_row(records: list[ResultRecord], record: ResultRecord, study: str) -> StudyRow:
    """``record``'s row and target in the study table: what ``flair-munch report`` prints for that cell."""
    cell = [r for r in selected(records) if r.schedule == record.schedule and r.target == record.target]
    values = [f1_percent(r.test) for r in cell if f1_percent(r.test) is not None]
    mean, sd = mean_sd(values)
    row = StudyRow(study, record.schedule, record.target, sorted(r.seed for r in cell), mean, sd, "baseline")
    baseline = record.baseline or "single-task"
    if record.schedule != baseline:
        row.baseline = baseline
        compared = [c for c in compare_with_baseline(records, baseline, aso=False) if c.row == record.schedule]
        if compared:
            row.delta, row.conclusion = format_delta(compared[0]), compared[0].conclusion
    return row
