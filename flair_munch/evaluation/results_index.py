"""Reads what a study runner left behind: ``results.jsonl`` records and per-run test predictions."""

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Optional, Union

from flair_munch.evaluation.prediction_file import PACKED_PREDICTIONS_FILE, PREDICTIONS_FILE, read_prediction_file

RESULTS_FILE = "results.jsonl"


def csv_value(value):
    """A value as a CSV cell: empty for None, floats to 4 decimals, lists ``a;b``, dicts ``key=value;...``."""
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, (list, tuple)):
        return ";".join(str(csv_value(item)) for item in value)
    if isinstance(value, dict):
        return ";".join(f"{key}={csv_value(item)}" for key, item in value.items())
    return value


def f1_percent(scores: Optional[dict]) -> Optional[float]:
    """A scores dict (precision / recall / f1) as its F1 x 100, the tables' unit."""
    return None if not scores or scores.get("f1") is None else 100.0 * scores["f1"]


def column(*, header: Optional[str] = None, formatter: Callable = csv_value, csv: bool = True,
           spec: Optional[str] = None, run: Optional[str] = None, **options):
    """A :class:`ResultRecord` field with everything a new column needs, in one place.

    ``header``: its ``runs.csv`` column (default: the field's name); ``formatter``: its cell (a value ->
    what :func:`csv_value` writes); ``csv=False``: not in the CSV. Where the study fills it from:
    ``spec``: the run spec's attribute of that name; ``run``: the training result's field of the same name,
    of the train-only run (``"train"``) or of the run whose test is reported (``"test"``). ``options``
    are :func:`dataclasses.field`'s (``default``, ``default_factory``).
    """
    metadata = {"header": header, "formatter": formatter, "csv": csv, "spec": spec, "run": run}
    return field(metadata=metadata, **options)


@dataclass
class ResultRecord:
    """One finished run of a study, as ``results.jsonl`` holds it (one JSON object a line).

    The study runner writes it, ``report`` and the benchmarks read it; only the runner appends. Each field
    says (:func:`column`) where the study fills it from and how ``runs.csv`` writes it: a new column is one
    field here; a field without that metadata is a ``runs.csv`` column under its own name.
    """

    run_id: str = column(spec="run_id")
    target: str = column(spec="target")
    schedule: str = column(spec="row")  # the report row: the schedule's label, plus train size / mix / variant
    seed: int = column(spec="seed")
    # final target test precision / recall / f1 (of the train + dev run with test_with_dev)
    test: Optional[dict] = column(header="test_f1", formatter=f1_percent, run="test")
    # final target dev scores of the train-only run (what grid selection reads)
    dev: Optional[dict] = column(header="dev_f1", formatter=f1_percent, run="train", default=None)
    aux: list[str] = column(spec="aux", default_factory=list)
    baseline: Optional[str] = column(spec="baseline_row", default=None)  # its compared row; None: single-task
    variant: Optional[str] = column(default=None)
    train_size: Optional[Union[int, float, str]] = column(spec="train_size", default=None)
    mix_percent: Optional[float] = column(spec="mix_percent", default=None)
    hparams: dict = column(default_factory=dict)  # learning_rate, mini_batch_size
    selected: bool = column(default=False)  # best dev F1 of its (target, schedule, seed) over the grid points
    updates: dict = column(run="test", default_factory=dict)  # "shared" and per corpus
    epochs: int = column(run="test", default=0)
    seconds: float = column(default=0.0)  # of the train-only run plus its train + dev retraining
    aux_order: list[str] = column(run="test", default_factory=list)
    run_dir: Optional[str] = column(csv=False, default=None)  # where its test predictions are
    node: Optional[str] = column(default=None)  # the machine (and Ray node) that trained it, from executor.json
    # per epoch: stage, epoch, lr, target_loss, dev_f1, seconds
    history: list[dict] = column(csv=False, default_factory=list)
    # per stage: "name: learning rate ... < ..." or max_epochs
    stop_reasons: list[str] = column(csv=False, run="test", default_factory=list)
    # a step-count control (matched-single-task): the row whose target updates it matches
    matches: Optional[str] = column(spec="matched_row", default=None)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ResultRecord":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def csv_columns(record_type: type = ResultRecord) -> list[tuple[str, str, Callable]]:
    """(field, header, formatter) of each ``runs.csv`` column of ``record_type``, in field order."""
    return [(f.name, f.metadata.get("header") or f.name, f.metadata.get("formatter", csv_value))
            for f in fields(record_type) if f.metadata.get("csv", True)]


def csv_table(records: list[ResultRecord]) -> tuple[list[str], list[list]]:
    """``runs.csv``'s header and one row per record, made from the records' fields alone."""
    columns = csv_columns(type(records[0]) if records else ResultRecord)
    rows = [[csv_value(write(getattr(record, name))) for name, _, write in columns] for record in records]
    return [header for _, header, _ in columns], rows


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
