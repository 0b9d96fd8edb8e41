"""Tracking (``log_to``): a study's runs in MLflow (parent + child runs) and TensorBoard, read back with their own
readers, equal to ``results.jsonl`` and each run's ``history.json``; a missing extra or unknown tracker refused."""

import functools
import json
import pickle
from pathlib import Path

import pytest

from flair_munch.cli import main
from flair_munch.recipes import RecipeError, load_recipe
from flair_munch.study.job_runner import run_job
from flair_munch.tracking import StudyTracking, Tracker

RECIPE = """\
name: tracked
output_dir: {out}
samples: true
device: cpu
embeddings: default-small
model: {{hidden_size: 16}}
corpora:
  ncbi-disease: {{train_size: 30}}
  s800: {{train_size: 20}}
targets: [ncbi-disease]
schedules: [single-task, munch-conc]
training: {{max_epochs: 2}}
dev_size: 30
seeds: [1]
log_to: {log_to}
"""


def write_recipe(tmp_path: Path, log_to: str = "[mlflow, tensorboard]") -> Path:
    path = tmp_path / "tracked.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "study", log_to=log_to))
    return path


@pytest.mark.integration
def test_a_study_logs_to_mlflow_and_tensorboard_what_it_records(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    path = write_recipe(tmp_path)
    untracked = load_recipe(path, overrides=["log_to=[]"])
    assert [s.run_id for s in load_recipe(path).runs()] == [s.run_id for s in untracked.runs()]  # same runs
    assert main(["run", str(path), "--no-progress"]) == 0
    study = tmp_path / "study"
    records = {r["run_id"]: r for r in map(json.loads, (study / "results.jsonl").read_text().splitlines())}
    assert len(records) == 2
    started = StudyTracking.load(study).started["mlflow"]
    client = mlflow.MlflowClient(started["tracking_uri"])
    parent = client.get_run(started["parent_run_id"])
    assert (parent.info.status, parent.data.params["name"]) == ("FINISHED", "tracked")
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"report", "results.jsonl"}
    children = client.search_runs([started["experiment_id"]], filter_string="tags.run_id != ''")
    children = {run.data.tags["run_id"]: run for run in children
                if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert set(children) == set(records)
    for run_id, record in records.items():
        history = json.loads((Path(record["run_dir"]) / "history.json").read_text())
        child = children[run_id]
        assert child.info.status == "FINISHED" and child.data.params["settings.seed"] == "1"
        assert child.data.params["identity.target"] == "ncbi-disease"
        assert child.data.metrics["final/test/f1"] == record["test"]["f1"]
        assert child.data.metrics["final/dev/f1"] == record["dev"]["f1"]
        per_epoch = {name: [m.value for m in sorted(client.get_metric_history(child.info.run_id, name),
                                                     key=lambda m: m.step)]
                     for name in ("dev/micro avg/f1-score", "train/loss", "learning_rate")}
        assert per_epoch == {"dev/micro avg/f1-score": [row["dev_f1"] for row in history],
                             "train/loss": [row["target_loss"] for row in history],
                             "learning_rate": [row["lr"] for row in history]}
        events = event_accumulator.EventAccumulator(str(study / "tensorboard" / run_id))
        events.Reload()
        assert [e.step for e in events.Scalars("dev/micro avg/f1-score")] == [1, 2]
        assert [e.value for e in events.Scalars("dev/micro avg/f1-score")] == pytest.approx(
            [row["dev_f1"] for row in history], rel=1e-6)  # TensorBoard keeps float32
        assert [e.value for e in events.Scalars("final/test/f1")] == pytest.approx([record["test"]["f1"]], rel=1e-6)
    assert main(["run", str(path), "--no-progress"]) == 0  # resumed (nothing left to train): the same parent run
    assert StudyTracking.load(study).started["mlflow"] == started
    assert client.get_run(started["parent_run_id"]).info.status == "FINISHED"


def test_a_study_job_with_tracking_can_be_shipped_to_a_ray_worker(tmp_path):
    tracking = StudyTracking(("mlflow",), str(tmp_path), "s", {"mlflow": {"parent_run_id": "p1"}})
    job = pickle.loads(pickle.dumps(functools.partial(run_job, tracking=tracking)))
    assert job.keywords["tracking"] == tracking and job.func is run_job


def test_a_missing_extra_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(Tracker.registry["mlflow"], "module", "no_such_module_for_flair_munch")
    path = write_recipe(tmp_path, "mlflow")
    assert main(["run", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"flair-munch: error: {path}:15: log_to: tracker mlflow needs the no_such_module_for_flair_munch "
                   "package, which is not installed: pip install 'flair-munch[mlflow]'."]
    assert main(["run", str(path)]) == 2
    assert not (tmp_path / "study").exists()


def test_an_unknown_tracker_is_refused_with_its_line_and_the_choices(tmp_path, capsys):
    with pytest.raises(RecipeError, match=r"tracked.yaml:15: log_to\[1\]: unknown tracker 'mlfow'. Did you mean "
                                          r"`mlflow`\? Choose from: mlflow, tensorboard, wandb."):
        load_recipe(write_recipe(tmp_path, "[tensorboard, mlfow]"))
    assert main(["run", str(write_recipe(tmp_path, "[]")), "--dry-run", "--log-to", "tensorbord"]) == 2
    assert capsys.readouterr().err.strip() == ("flair-munch: error: --log-to tensorbord: unknown tracker 'tensorbord'. "
                                               "Did you mean `tensorboard`? Choose from: mlflow, tensorboard, wandb.")
