"""A study's records: the index line of each run (:func:`make_record`) and what to commit of a long study as it
goes, so that another checkout resumes it from the records alone.

A run is finished when its ``metrics.json`` is there (:class:`RunDirectory`); the study's index is
rebuilt from those files, and the report reads each run's test tags. Models, checkpoints and the
embedding store are left out (large, and rebuilt where needed); the full predictions file is
replaced by its compact copy (``test-predictions.tags.gz``, about 1/80 of the size).
"""

import json
from dataclasses import fields
from pathlib import Path
from typing import Optional, Union

from flair_munch.evaluation.prediction_file import read_prediction_file, write_tag_file
from flair_munch.evaluation.results_index import PACKED_PREDICTIONS_FILE, PREDICTIONS_FILE, RESULTS_FILE, ResultRecord
from flair_munch.training.address import RunAddress
from flair_munch.training.result import TrainingResult

RUN_RECORDS = ("metrics.json", "history.json", "history.tsv", "train.log", "executor.json", PACKED_PREDICTIONS_FILE)
STUDY_RECORDS = (RESULTS_FILE, "recipe.json")


def pack_records(study_dir: Union[str, Path]) -> list[Path]:
    """Writes the compact predictions of every finished run that lacks an up-to-date one; returns the files
    to commit (the index, the recipe, and each finished run's records), sorted."""
    study = Path(study_dir)
    files = [study / name for name in STUDY_RECORDS if (study / name).is_file()]
    for metrics in sorted(study.glob("*runs/*/metrics.json")):  # runs/<id>/ and shared-runs/<name>/
        folder = metrics.parent
        full, packed = folder / PREDICTIONS_FILE, folder / PACKED_PREDICTIONS_FILE
        if full.is_file() and (not packed.is_file() or packed.stat().st_mtime < full.stat().st_mtime):
            write_tag_file(packed, *read_prediction_file(full))
        files += [folder / name for name in RUN_RECORDS if (folder / name).is_file()]
    return sorted(files)


HISTORY_KEYS = ("stage", "epoch", "lr", "target_loss", "dev_f1", "seconds")  # what the index keeps of each epoch


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


def _copied(value):
    """A spec's or result's value as the record keeps it: its own list (tuples too) or dict, else the value."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return dict(value) if isinstance(value, dict) else value


def _declared_values(spec, runs: dict[str, TrainingResult]) -> dict:
    """The record's fields that declare their source (:func:`~flair_munch.evaluation.results_index.column`):
    a spec attribute, or the same-named field of the train-only (``"train"``) or reported (``"test"``) run."""
    values = {}
    for item in fields(ResultRecord):
        if item.metadata.get("spec"):
            values[item.name] = _copied(getattr(spec, item.metadata["spec"]))
        elif item.metadata.get("run"):
            values[item.name] = _copied(getattr(runs[item.metadata["run"]], item.name))
    return values


def make_record(spec, result: TrainingResult, final: Optional[TrainingResult], output_dir: Path) -> ResultRecord:
    """The index line of ``spec``: dev from its train-only run, test from its train + dev run when there is one."""
    test_run = final or result
    folder = predictions_folder(test_run, output_dir)
    return ResultRecord(
        **_declared_values(spec, {"train": result, "test": test_run}),
        variant=spec.variant or None,
        hparams={"learning_rate": spec.learning_rate, "mini_batch_size": spec.mini_batch_size},
        seconds=result.seconds + (final.seconds if final else 0.0),
        run_dir=str(folder),  # where its test predictions are
        history=[{key: row.get(key) for key in HISTORY_KEYS} for row in result.history],
        node=_node(folder) or _node(RunAddress.of_study_run(output_dir, spec.identity()).path),  # shared: the row's
    )
