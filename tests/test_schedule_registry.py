"""A schedule defined outside the package: one class, one decorator, and recipes know it (with its checks)."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from flair_munch.recipes import RecipeError, load_recipe
from flair_munch.study.driver import run_study
from flair_munch.training.schedules import SCHEDULES, Problem, Schedule, Stage, Step

T, AUX = "ncbi-disease", "s800"
RECIPE = """\
name: own-schedule
output_dir: {out}
samples: true
device: cpu
embeddings: default-small
embedding_store: off
model: {{hidden_size: 8}}
corpora:
  ncbi-disease: null
  s800: null
target_train_size: 40
aux_train_size: 20
targets: [ncbi-disease]
schedules:
  - {schedule}
grid: {{learning_rate: [0.1], mini_batch_size: [10]}}
training: {{max_epochs: 1}}
"""


@pytest.fixture
def every_other():
    """``every-other``: target steps, every ``every``-th on the first aux corpus; unregistered afterwards."""

    @Schedule.register("every-other")
    class EveryOther(Schedule):
        def __init__(self, every: int = 2) -> None:
            self.every = every

        @classmethod
        def check(cls, options, target, aux, entity_types) -> list[Problem]:
            if options.get("every", 2) < 1:
                return [Problem(("every",), f"every must be at least 1, got {options['every']}", "Use e.g. 2.")]
            return super().check(options, target, aux, entity_types)

        def plan(self, ctx) -> list[Stage]:
            steps = [Step((ctx.aux[0],)) if i % self.every == self.every - 1 else Step((ctx.target,))
                     for i in range(ctx.iterations)]
            return [Stage("every-other", tuple(steps))]

    yield EveryOther
    SCHEDULES.pop("every-other")


def write(tmp_path, schedule: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "study", schedule=schedule), encoding="utf-8")
    return path


def test_a_registered_schedule_plans_checks_and_runs_from_a_recipe(every_other, tmp_path):
    ctx = SimpleNamespace(target=T, aux=[AUX], iterations=4)
    assert [step.key for stage in every_other().plan(ctx) for step in stage.epoch] == [T, AUX, T, AUX]
    assert SCHEDULES["every-other"] is every_other and every_other.name == "every-other"

    message = str(pytest.raises(RecipeError, load_recipe, write(tmp_path, "{every-other: {every: 0}}")).value)
    assert "schedules[0].every-other.every: every must be at least 1, got 0. Use e.g. 2." in message

    recipe = load_recipe(write(tmp_path, "every-other"))
    assert run_study(recipe, progress=False).done == 1
    record = json.loads((tmp_path / "study" / "results.jsonl").read_text().splitlines()[0])
    metrics = json.loads(Path(record["run_dir"], "metrics.json").read_text())
    assert metrics["stages"] == ["every-other"] and metrics["epochs"] == 1
    assert metrics["updates"] == {"shared": 4, T: 2, AUX: 2}  # ITER = 40 / 10: T, s800, T, s800


def test_an_unknown_schedule_lists_every_registered_name(every_other, tmp_path):
    message = str(pytest.raises(RecipeError, load_recipe, write(tmp_path, "every-othr")).value)
    assert "unknown schedule `every-othr`. Did you mean `every-other`?" in message
    assert "single-task" in message and "every-other." in message  # the user's one is listed last


def test_a_taken_name_is_refused_and_a_selection_is_not_planned():
    from flair_munch.training.schedules import SingleAuxBest

    with pytest.raises(ValueError, match="schedule name 'munch-iter' is taken by .*munch_iter.MunchIter"):
        Schedule.register("munch-iter")(type("Other", (Schedule,), {"plan": lambda self, ctx: []}))
    with pytest.raises(TypeError, match="SingleAuxBest is a Selection: call choose"):
        SingleAuxBest().plan(None)


def test_an_installed_package_registers_its_schedule_through_an_entry_point(tmp_path, monkeypatch):
    """A distribution on the path declaring a `flair_munch.schedules` entry point is known to recipes by name."""
    (tmp_path / "my_schedules.py").write_text(
        "from flair_munch.training.schedules import Schedule, SingleTask\n\n\n"
        "@Schedule.register('target-only')\nclass TargetOnly(SingleTask):\n    pass\n", encoding="utf-8")
    info = tmp_path / "my_schedules-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-schedules\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[flair_munch.schedules]\ntarget-only = my_schedules:TargetOnly\n\n"
                                           "[flair_munch.models]\nbroken = my_schedules:Missing\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "target-only" not in SCHEDULES
    try:
        recipe = load_recipe(write(tmp_path, "target-only"))  # loading a recipe loads the plugins first
        assert [spec.schedule.name for spec in recipe.runs()] == ["target-only"]
        assert SCHEDULES["target-only"].__module__ == "my_schedules"
    finally:
        SCHEDULES.pop("target-only", None)
