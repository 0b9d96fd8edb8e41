"""MLflow: one parent run per study, one child run per training run (``log_to: [mlflow]``, extra ``.[mlflow]``).

The driver starts (or, when the study resumes, reopens) the parent run and hands its id to the jobs;
each job's ``MlflowLogger`` opens a child run under it for every run its trainer trains, in whatever
process or Ray worker that is. Without ``MLFLOW_TRACKING_URI`` the store is MLflow's file store in
the study folder (``OUTPUT/mlruns``: nothing to start; browse it with
``MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri OUTPUT/mlruns``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from flair.trainers.plugins.base import TrainerPlugin

from flair_munch.tracking.base import Tracker

MAX_PARAM_LENGTH = 6000  # MLflow's limit on a parameter's value
RUN_ID_TAG = "run_id"  # the flair-munch run id of a child run (its folder runs/<run id>)
PARENT_TAG = "mlflow.parentRunId"  # how MLflow nests a run under another


def tracking_uri(study_dir: Path) -> str:
    """``MLFLOW_TRACKING_URI`` when set (a server, a database), else a file store in the study folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or (Path(study_dir).resolve() / "mlruns").as_uri()


def client(uri: str):
    """An ``MlflowClient`` of ``uri``; MLflow 3 refuses its file store unless it is allowed, which ours is."""
    from mlflow import MlflowClient

    if uri.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return MlflowClient(uri)


def _text(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:MAX_PARAM_LENGTH]


def run_params(settings: dict, identity=None) -> dict[str, str]:
    """A run's parameters: its ``TrainingSettings`` (``settings.*``) and, where known, its identity (``identity.*``:
    target, aux, schedule, corpora, model: what its run id hashes)."""
    params = {f"settings.{key}": _text(value) for key, value in settings.items()}
    if identity is not None:
        corpora = {name: identity.basis.corpora.get(name) for name in (identity.target, *identity.aux)}
        params |= {"identity.target": identity.target, "identity.aux": _text(list(identity.aux)),
                   "identity.schedule": _text(identity.schedule), "identity.corpora": _text(corpora),
                   "identity.model": _text(identity.basis.model)}
    return params


def log_params(mlflow_client, run_id: str, params: dict[str, str]) -> None:
    from mlflow.entities import Param

    items = [Param(key, value) for key, value in params.items()]
    for start in range(0, len(items), 100):  # MLflow takes at most 100 parameters a call
        mlflow_client.log_batch(run_id, params=items[start:start + 100])


def log_scores(mlflow_client, run_id: str, prefix: str, scores: Optional[dict], step: int) -> None:
    """``prefix/precision``, ``prefix/recall``, ``prefix/f1`` of a final evaluation (none when not evaluated)."""
    for name, value in (scores or {}).items():
        mlflow_client.log_metric(run_id, f"{prefix}/{name}", value, step=step)


class MlflowLogger(TrainerPlugin):
    """Logs each run a trainer trains as an MLflow run: parameters (settings, identity), Flair's per-epoch metrics
    (``train/loss``, ``learning_rate``, ``dev/micro avg/f1-score``, ...), the final ``final/dev/*`` and
    ``final/test/*`` scores and the run id as the tag ``run_id``; a child of ``parent_run_id`` when given
    (``experiment_id`` "0": MLflow's default experiment).

    A run that resumes continues the MLflow run it had (found by its ``run_id`` tag under the same parent)."""

    def __init__(self, tracking_uri: str, experiment_id: str = "0", parent_run_id: Optional[str] = None,
                 identities: Optional[dict] = None) -> None:
        super().__init__()
        self.client = client(tracking_uri)
        self.experiment_id, self.parent_run_id = experiment_id, parent_run_id
        self.identities = identities or {}
        self.active: Optional[str] = None  # the MLflow run of the run being trained

    def _existing(self, run_id: str) -> Optional[str]:
        runs = self.client.search_runs([self.experiment_id], filter_string=f"tags.{RUN_ID_TAG} = '{run_id}'")
        mine = [r for r in runs if r.data.tags.get(PARENT_TAG) == self.parent_run_id]
        return mine[0].info.run_id if mine else None

    @TrainerPlugin.hook
    def after_setup(self, run_id: str, base_path=None, stages=(), **settings):
        existing = self._existing(run_id)
        if existing is not None:
            self.client.update_run(existing, status="RUNNING")
            self.active = existing
            return
        tags = {RUN_ID_TAG: run_id, "run_dir": str(base_path)}
        if self.parent_run_id:
            tags[PARENT_TAG] = self.parent_run_id
        self.active = self.client.create_run(self.experiment_id, run_name=run_id, tags=tags).info.run_id
        log_params(self.client, self.active, run_params(settings, self.identities.get(run_id)))

    @TrainerPlugin.hook
    def metric_recorded(self, record):
        if self.active is not None and record.is_scalar:
            self.client.log_metric(self.active, str(record.name), record.value, step=record.global_step,
                                   timestamp=int(record.walltime * 1000))

    @TrainerPlugin.hook
    def after_training(self, result, **kw):
        if self.active is None:
            return
        log_scores(self.client, self.active, "final/dev", result.dev, result.epochs)
        log_scores(self.client, self.active, "final/test", result.test, result.epochs)
        for key, value in (("target", result.target), ("schedule", result.schedule)):
            self.client.set_tag(self.active, key, value)
        self.client.set_terminated(self.active, "FINISHED")
        self.active = None

    @TrainerPlugin.hook
    def _training_exception(self, **kw):
        if self.active is not None:
            self.client.set_terminated(self.active, "FAILED")
            self.active = None


@Tracker.register("mlflow")
class MlflowTracker(Tracker):
    """The study is the parent run (its recipe as parameters, its report as artifacts); each run a child run."""

    module, extra = "mlflow", "mlflow"

    def start_study(self, params: dict) -> dict:
        uri = self.state.get("tracking_uri") or tracking_uri(self.study_dir)
        mlflow_client = client(uri)
        parent = self.state.get("parent_run_id")
        if parent is not None and self._exists(mlflow_client, parent):  # the study resumes: its parent run too
            mlflow_client.update_run(parent, status="RUNNING")
            return dict(self.state)
        name = self.tracking.study_name
        experiment = mlflow_client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else mlflow_client.create_experiment(name)
        parent = mlflow_client.create_run(experiment_id, run_name=name, tags={"flair_munch.study": name}).info.run_id
        log_params(mlflow_client, parent, {key: _text(value) for key, value in params.items()})
        return {"tracking_uri": uri, "experiment_id": experiment_id, "parent_run_id": parent}

    @staticmethod
    def _exists(mlflow_client, run_id: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            return mlflow_client.get_run(run_id).info.lifecycle_stage == "active"
        except MlflowException:
            return False

    def end_study(self, status: str) -> None:
        client(self.state["tracking_uri"]).set_terminated(self.state["parent_run_id"], status)

    def log_report(self, report_dir: Path, files: list[Path]) -> None:
        mlflow_client = client(self.state["tracking_uri"])
        mlflow_client.log_artifacts(self.state["parent_run_id"], str(report_dir), "report")
        for file in files:
            mlflow_client.log_artifact(self.state["parent_run_id"], str(file))

    def plugin(self, identities: dict) -> MlflowLogger:
        return MlflowLogger(self.state["tracking_uri"], self.state["experiment_id"], self.state["parent_run_id"],
                            identities)
