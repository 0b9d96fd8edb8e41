"""Reads what a study runner left behind: ``results.jsonl`` records and per-run test predictions."""

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional, Union

from flair_munch.evaluation.prediction_file import PACKED_PREDICTIONS_FILE, PREDICTIONS_FILE, read_prediction_file

RESULTS_FILE = "results.jsonl"


@dataclass
class ResultRecord:
    """One finished run of a study, as ``results.jsonl`` holds it (one JSON object a line).

    The study runner writes it, ``report`` and the benchmarks read it; only the runner appends.
    """

    run_id: str
    target: str
    schedule: str  # the report row: the schedule's label, plus train size / mix / variant in such studies
    seed: int
    test: Optional[dict]  # final target test precision / recall / f1 (of the train + dev run with test_with_dev)
    dev: Optional[dict] = None  # final target dev scores of the train-only run (what grid selection reads)
    aux: list[str] = field(default_factory=list)
    baseline: Optional[str] = None  # the row it is compared with; None: single-task
    variant: Optional[str] = None
    train_size: Optional[Union[int, float, str]] = None
    mix_percent: Optional[float] = None
    hparams: dict = field(default_factory=dict)  # learning_rate, mini_batch_size
    selected: bool = False  # best dev F1 of its (target, schedule, seed) over the grid points
    updates: dict = field(default_factory=dict)  # "shared" and per corpus
    epochs: int = 0
    seconds: float = 0.0
    aux_order: list[str] = field(default_factory=list)
    run_dir: Optional[str] = None  # where its test predictions are
    node: Optional[str] = None  # the machine (and Ray node) that trained it, from the run folder's executor.json
    history: list[dict] = field(default_factory=list)  # per epoch: stage, epoch, lr, target_loss, dev_f1, seconds
    stop_reasons: list[str] = field(default_factory=list)  # per stage: "name: learning rate ... < ..." or max_epochs
    matches: Optional[str] = None  # a step-count control (matched-single-task): the row whose target updates it matches

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ResultRecord":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class DamagedIndexError(ValueError):
    """``results.jsonl`` holds a line that is not a record: cut mid-line (a copy, a full disk) or garbage."""


def read_results(study_dir: Union[str, Path]) -> list[ResultRecord]:
    """All run records of a study, in the order they were written.

    The driver rewrites the index atomically, so a line cut mid-way (or any other broken line) means
    the file was damaged afterwards: it raises :class:`DamagedIndexError` rather than give a table
    from fewer runs (``report`` then rebuilds the index from the run folders, as ``run`` does).
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
            records.append(ResultRecord.from_dict(json.loads(line)))
        except (ValueError, TypeError, AttributeError) as error:
            what = "cut mid-line" if position == len(numbered) - 1 and not line.rstrip().endswith("}") else \
                "not a run record"
            raise DamagedIndexError(f"{path}:{number} is damaged ({what}: {error})") from None
    return records


def selected(records: list[ResultRecord]) -> list[ResultRecord]:
    """The records chosen by dev F1 per (target, schedule, seed): the only ones that go into tables.

    If a run was repeated (the runner appended a second selected record), the later one wins.
    """
    chosen: dict[tuple, ResultRecord] = {}
    for record in records:
        if record.selected:
            chosen[(record.target, record.schedule, record.seed)] = record
    return list(chosen.values())


def run_folder(record: ResultRecord, study_dir: Union[str, Path, None] = None) -> Optional[Path]:
    """The run's folder as this checkout has it, or None.

    ``run_dir`` may be relative to the study directory; a study copied or checked out elsewhere (its absolute
    ``run_dir`` gone) is read from its own ``runs/`` (or ``shared-runs/``).
    """
    if not record.run_dir:
        return None
    path = Path(record.run_dir)
    if not path.is_absolute() and study_dir is not None:
        path = Path(study_dir) / path
    folders = [path]
    if study_dir is not None:  # a study moved or checked out elsewhere: its own runs/ folder
        folders.append(Path(study_dir) / Path(record.run_dir).parent.name / Path(record.run_dir).name)
    return next((folder for folder in folders if folder.is_dir()), None)


def read_predictions(
    record: ResultRecord, study_dir: Union[str, Path, None] = None
) -> Optional[tuple[list[list[str]], list[list[str]]]]:
    """Gold and predicted tag sequences of a run's test set (the full file or its compact copy), or None
    when the run has neither."""
    folder = run_folder(record, study_dir)
    if folder is None:
        return None
    found = [folder / name for name in (PREDICTIONS_FILE, PACKED_PREDICTIONS_FILE) if (folder / name).is_file()]
    return read_prediction_file(found[0]) if found else None
