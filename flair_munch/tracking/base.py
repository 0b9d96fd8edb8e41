"""Experiment trackers a study can log to (recipe key ``log_to``, ``--log-to``), known by name.

A tracker kind is one module with ``@Tracker.register(NAME)``: it names the extra it needs, what the
driver does once per study (``start_study``: e.g. MLflow's parent run, whose id the jobs are handed)
and the Flair ``TrainerPlugin`` each job attaches to its trainer, wherever the job runs. Nothing here
changes what a run computes: ``log_to`` is never part of a run id.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Mapping, Optional, TypeVar

from flair_munch.registrable import registering

T = TypeVar("T", bound=type)
TRACKING_FILE = "tracking.json"
"""In a study's folder: what its trackers started (MLflow's parent run), so a resumed study and ``report`` reuse it."""


@dataclass(frozen=True)
class StudyTracking:
    """What every job of a study logs to: the trackers' names and what each started for the study (plain data,
    so Ray ships it to the workers and ``tracking.json`` keeps it)."""

    log_to: tuple[str, ...] = ()
    study_dir: str = ""
    study_name: str = ""
    started: dict = field(default_factory=dict)  # tracker name -> its study state (e.g. mlflow: parent run id)

    def trackers(self) -> list[Tracker]:
        return [Tracker.registry[name](self) for name in self.log_to]

    def plugins(self, identities: Mapping[str, object] = ()) -> list:
        """One Flair ``TrainerPlugin`` per tracker, for one trainer (``identities``: run id -> ``RunIdentity``
        of the runs it trains, logged as parameters where known)."""
        return [tracker.plugin(dict(identities)) for tracker in self.trackers()]

    def save(self) -> None:
        from flair_munch.atomic_files import atomic_write_text

        atomic_write_text(Path(self.study_dir) / TRACKING_FILE, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, study_dir) -> Optional[StudyTracking]:
        """The tracking a study folder recorded, or None (never tracked, or an unreadable record)."""
        try:
            data = json.loads((Path(study_dir) / TRACKING_FILE).read_text(encoding="utf-8"))
            return cls(tuple(data["log_to"]), str(study_dir), data["study_name"], dict(data["started"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


class Tracker:
    """One kind of experiment tracker; subclasses register by name (``@Tracker.register("mlflow")``)."""

    name: ClassVar[str] = ""
    module: ClassVar[str] = ""  # what must be importable
    extra: ClassVar[str] = ""  # the flair-munch extra that installs it
    registry: ClassVar[dict[str, type[Tracker]]] = {}

    @classmethod
    def register(cls, name: str) -> Callable[[T], T]:
        """Class decorator: makes a tracker known by ``name`` to recipes (``log_to``) and ``--log-to``."""
        return registering(Tracker, Tracker.registry, name, "tracker")

    @classmethod
    def missing_extra(cls) -> Optional[str]:
        """Why this tracker cannot log here (its package is not installed), or None."""
        if importlib.util.find_spec(cls.module) is None:
            return (f"tracker {cls.name} needs the {cls.module} package, which is not installed: "
                    f"pip install 'flair-munch[{cls.extra}]'")
        return None

    def __init__(self, tracking: StudyTracking) -> None:
        self.tracking = tracking
        self.state = tracking.started.get(self.name, {})

    @property
    def study_dir(self) -> Path:
        return Path(self.tracking.study_dir)

    def start_study(self, params: dict) -> dict:
        """Done once per study by its driver; returns this tracker's study state for the jobs (default: none)."""
        return {}

    def end_study(self, status: str) -> None:
        """Done by the driver when the study's jobs are over (``FINISHED``, ``FAILED`` or ``KILLED``)."""

    def log_report(self, report_dir: Path, files: list[Path]) -> None:
        """Keeps the study's report (and ``files``, e.g. ``results.jsonl``) with the study (default: nothing)."""

    def plugin(self, identities: dict):
        """The ``TrainerPlugin`` that logs the runs of one trainer."""
        raise NotImplementedError
