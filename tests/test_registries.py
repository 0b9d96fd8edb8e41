"""Registries and their one homes: executors by name, CLI choices from the registries, name suggestions,
recipe defaults and one meaning of ``replace``."""

import ast
from pathlib import Path

import pytest

from flair_munch.cli import main
from flair_munch.execution import Executor, SequentialExecutor, make_executor
from flair_munch.execution.settings import ExecutionSettings, execution_problems
from flair_munch.names import did_you_mean
from flair_munch.recipes.recipe import _NO_DEFAULT, TOP_KEYS, Recipe, top_defaults
from flair_munch.training.schedules import SCHEDULES

EXECUTION = Path(__file__).resolve().parents[1] / "flair_munch" / "execution"


@pytest.fixture
def registered_executor():
    """An executor registered for one test, then forgotten."""

    @Executor.register("recorder")
    class Recorder(Executor):
        def execute(self, plan, run_job, on_done, progress, show_bars=False, retry_failed=False) -> None:
            pass

    yield Recorder
    Executor.registry.pop("recorder")


def test_a_registered_executor_is_known_to_recipes_make_executor_and_the_cli(registered_executor, capsys,
                                                                             monkeypatch):
    assert execution_problems({"executor": "recorder"}, Executor.registry) == []
    assert isinstance(make_executor(ExecutionSettings(executor="recorder")), registered_executor)
    assert execution_problems({"executor": "dask"}, Executor.registry)[0][2] == "Choose one of: sequential, ray, recorder."
    with pytest.raises(ValueError, match="unknown executor 'dask'; choose one of sequential, ray, recorder"):
        make_executor(ExecutionSettings(executor="dask"))
    monkeypatch.setenv("COLUMNS", "500")
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "--executor {sequential,ray,recorder}" in capsys.readouterr().out


def test_train_help_lists_every_registered_schedule(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # one line per flag: no name broken at a hyphen
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    line = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("--schedule"))
    assert f"registered one: {', '.join(SCHEDULES)} (default single-task)" in line
    assert "matched-single-task" in line


def test_the_sequential_executor_runs_the_job_function_it_is_handed():
    class Plan:
        recipe, jobs = "the recipe", [type("Job", (), {"label": name})() for name in ("a", "b")]

    class Progress:
        def __init__(self):
            self.updates = []

        def update(self, done, running):
            self.updates.append((done, running))

    calls, done, progress = [], [], Progress()

    def run_job(recipe, job, progress=False, retry_failed=False, executor=""):
        calls.append((recipe, job.label, retry_failed, executor))
        return f"outcome {job.label}"

    SequentialExecutor().execute(Plan, run_job, lambda job, outcome: done.append(outcome), progress,
                                 retry_failed=True)
    assert calls == [("the recipe", "a", True, "sequential"), ("the recipe", "b", True, "sequential")]
    assert done == ["outcome a", "outcome b"] and progress.updates == [(0, ["a"]), (1, ["b"]), (2, [])]


def test_executor_modules_load_without_the_ray_extra_and_never_import_the_study():
    """Ray and psutil (the extra) are imported inside methods only; the study hands executors its job function."""
    for path in EXECUTION.glob("*.py"):
        if path.name == "ray_cluster.py":  # used by the Ray executor only, imported where it runs
            continue
        top_level = [node for node in ast.parse(path.read_text()).body if isinstance(node, (ast.Import, ast.ImportFrom))]
        modules = {alias.name for node in top_level if isinstance(node, ast.Import) for alias in node.names}
        modules |= {node.module for node in top_level if isinstance(node, ast.ImportFrom)}
        assert not {m for m in modules if m.split(".")[0] in ("ray", "psutil") or m.endswith("ray_cluster")}, path
        assert not {m for m in modules if m.startswith("flair_munch.study")}, path
    assert not (EXECUTION / "executors.py").exists()


def test_execution_replace_rejects_unknown_keys_and_with_flags_skips_flags_not_given():
    settings = ExecutionSettings(executor="ray", address="auto", workers=4)
    with pytest.raises(TypeError, match=r"unknown execution settings \['workerz'\]; valid: executor, address"):
        settings.replace(workerz=2)
    assert settings.replace(address=None).address is None  # replace means replace, None included
    flagged = settings.with_flags(executor=None, address=None, workers=2, cpus_per_run=None, gpus_per_run=None)
    assert flagged == ExecutionSettings(executor="ray", address="auto", workers=2)


def test_name_suggestions_are_said_one_way():
    assert did_you_mean("munch-cnoc", SCHEDULES) == "Did you mean `munch-conc`? "
    assert did_you_mean("zzz", SCHEDULES) == ""
    assert did_you_mean("ncbi", ["ncbi-disease", "NCBI-disease", "s800"], cutoff=0.5, ignore_case=True, quote="'",
                        shown={"NCBI-disease": "ncbi-disease"}) == "Did you mean 'ncbi-disease'? "
    assert did_you_mean("bc5cdr", ["bc5cdr-chem", "bc5cdr-disease", "bc2gm"], n=3, cutoff=0.5) == (
        "Did you mean `bc5cdr-chem`, `bc5cdr-disease`? ")


def test_a_recipes_defaults_are_the_top_level_keys_defaults():
    recipe = Recipe(name="n", output_dir="out", corpora={}, targets=[], aux={}, schedules=[])
    defaults = top_defaults()
    assert set(defaults) == {key for key, (_, default) in TOP_KEYS.items() if default is not _NO_DEFAULT}
    for key in ("data_dir", "samples", "device", "embeddings", "seeds", "test_with_dev", "target_train_size",
                "aux_train_size", "dev_size", "embedding_store", "embedding_store_dtype", "mix_percent", "mix_source",
                "mix_from"):
        assert getattr(recipe, key) == defaults[key], key
    recipe.seeds.append(2)
    assert top_defaults()["seeds"] == [1]  # each recipe its own copy
