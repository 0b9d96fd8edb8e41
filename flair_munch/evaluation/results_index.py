"""Reads what a study runner left behind: ``results.jsonl`` records and per-run test predictions."""

import json
import warnings
from pathlib import Path
from typing import Optional, Union

from flair_munch.evaluation.prediction_file import read_prediction_file

RESULTS_FILE = "results.jsonl"
PREDICTIONS_FILE = "test-predictions.conll"


def read_results(study_dir: Union[str, Path]) -> list[dict]:
    """All run records of a study, in the order they were written.

    A process killed mid-write leaves a partial last line; it is skipped with a warning so a report
    can be made while (or after) a study is interrupted. A broken line anywhere else is corruption
    and raises.
    """
    path = Path(study_dir)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{study_dir}: no {RESULTS_FILE}: not a study folder, or no run of it has finished "
                                "yet. Give a recipe's output_dir after `flair-munch run RECIPE`.")
    lines = path.read_text(encoding="utf-8").split("\n")
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    records = []
    for position, (number, line) in enumerate(numbered):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            if position == len(numbered) - 1:
                warnings.warn(f"{path}:{number}: skipping partial last line ({error})", RuntimeWarning, stacklevel=2)
            else:
                raise ValueError(f"{path}:{number}: not a JSON record: {error}") from error
    return records


def selected(records: list[dict]) -> list[dict]:
    """The records chosen by dev F1 per (target, schedule, seed): the only ones that go into tables.

    If a run was repeated (the runner appended a second selected record), the later one wins.
    """
    chosen: dict[tuple, dict] = {}
    for record in records:
        if record.get("selected"):
            chosen[(record["target"], record["schedule"], record["seed"])] = record
    return list(chosen.values())


def read_predictions(
    record: dict, study_dir: Union[str, Path, None] = None
) -> Optional[tuple[list[list[str]], list[list[str]]]]:
    """Gold and predicted tag sequences of a run's test set, or None when the file is missing.

    ``run_dir`` may be relative to the study directory (a study copied to another machine).
    """
    run_dir = record.get("run_dir")
    if not run_dir:
        return None
    path = Path(run_dir)
    if not path.is_absolute() and study_dir is not None:
        path = Path(study_dir) / path
    path = path / PREDICTIONS_FILE
    if not path.is_file():
        return None
    return read_prediction_file(path)
