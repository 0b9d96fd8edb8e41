"""What a study's driver does with its trackers: check them before anything runs, start them once (MLflow's
parent run), hand the jobs what they log to, end them, and keep the report with the study."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from flair_munch.names import did_you_mean
from flair_munch.tracking.base import StudyTracking, Tracker

log = logging.getLogger("flair_munch")


def log_to_problems(value: Any) -> list[tuple[tuple, str, str]]:
    """(key path under ``log_to``, problem, fix) for each name that is no registered tracker."""
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else None
    if names is None:
        return [((), f"expected a list of trackers, got {value!r}", "Write e.g. `log_to: [mlflow, tensorboard]`.")]
    problems = []
    for i, name in enumerate(names):
        if not isinstance(name, str) or name not in Tracker.registry:
            problems.append(((i,), f"unknown tracker {name!r}",
                             f"{did_you_mean(str(name), Tracker.registry)}Choose from: {', '.join(Tracker.registry)}."))
        elif names.index(name) != i:
            problems.append(((i,), f"tracker {name!r} is listed twice", "Keep one."))
    return problems


def log_to_list(value: Any) -> list[str]:
    """The ``log_to`` value as a list of names (one name may be given as a string)."""
    return [value] if isinstance(value, str) else list(value or [])


def parse_log_to_flag(text: Optional[str]) -> Optional[list[str]]:
    """``--log-to mlflow,tensorboard`` as names (``none``: no tracker); a name that is no tracker is a ``ValueError``."""
    if text is None:
        return None
    names = [] if text.strip() == "none" else [name.strip() for name in text.split(",") if name.strip()]
    for _, problem, fix in log_to_problems(names):
        raise ValueError(f"--log-to {text}: {problem}. {fix}")
    return names


def missing_extras(log_to) -> list[str]:
    """One line per tracker of ``log_to`` whose package is not installed, naming the extra to install."""
    return [problem for name in log_to_list(log_to) if (problem := Tracker.registry[name].missing_extra())]


def start_tracking(recipe) -> Optional[StudyTracking]:
    """Starts the study's trackers (a study that resumes reopens what it started), records them in
    ``OUTPUT/tracking.json`` and returns what every job logs to; None without ``log_to``."""
    if not recipe.log_to:
        return None
    output_dir = str(recipe.output_dir)
    previous = StudyTracking.load(output_dir)
    tracking = StudyTracking(tuple(recipe.log_to), output_dir, recipe.name, previous.started if previous else {})
    params = {"name": recipe.name, "targets": recipe.targets, "schedules": [s.label for s in recipe.schedules],
              "seeds": recipe.seeds, "embeddings": recipe.embeddings, "runs": len(recipe.runs())}
    started = {tracker.name: tracker.start_study(params) for tracker in tracking.trackers()}
    tracking = StudyTracking(tracking.log_to, output_dir, recipe.name, {**tracking.started, **started})
    tracking.save()
    log.info("study %s logs to %s", recipe.name, ", ".join(tracking.log_to))
    return tracking


def end_tracking(tracking: Optional[StudyTracking], status: str) -> None:
    """Ends what ``start_tracking`` started: ``FINISHED``, ``FAILED`` or ``KILLED``."""
    for tracker in tracking.trackers() if tracking else ():
        tracker.end_study(status)


def log_study_report(study_dir, report_dir) -> None:
    """Keeps the study's report folder and results index with what the study logged to (MLflow: artifacts of the
    parent run), when ``log_to`` was set; nothing otherwise."""
    from flair_munch.evaluation.results_index import RESULTS_FILE

    tracking = StudyTracking.load(study_dir)
    files = [path for path in (Path(study_dir) / RESULTS_FILE,) if path.is_file()]
    for tracker in tracking.trackers() if tracking else ():
        if tracker.missing_extra() is None:
            tracker.log_report(Path(report_dir), files)
