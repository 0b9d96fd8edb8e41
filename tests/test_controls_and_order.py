"""Step-count controls train their training once, however many rows need it; a study starts its longest jobs first."""

import json
from types import SimpleNamespace

import pytest

from flair_munch.cli import main
from flair_munch.recipes import load_recipe
from flair_munch.resources import resources_dir
from flair_munch.study.ordering import JOB_ORDER_ENV, longest_first
from flair_munch.study.plan import StudyPlan

RECIPE = """\
name: controls
output_dir: {out}
device: cpu
embeddings: default-small
model: {{hidden_size: 8}}
corpora:
  tgt: {{path: {folder}/tgt, train_size: 20}}
  aux: {{path: {folder}/aux, train_size: 20}}
targets: [tgt]
schedules:
{schedules}
grid: {{learning_rate: [0.1], mini_batch_size: [16]}}
training: {{max_epochs: 1, save_model: false}}
seeds: [1]
"""


def tiny_corpus(folder, sample: str, sentences: int = 20) -> None:
    """The first ``sentences`` of each split of a shipped sample: a study that trains and evaluates in a second."""
    folder.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        text = (resources_dir() / "corpora" / sample / f"{split}.tsv").read_text(encoding="utf-8")
        (folder / f"{split}.tsv").write_text("\n\n".join(text.strip().split("\n\n")[:sentences]) + "\n")


def recipe_of(tmp_path, *schedules: str):
    tiny_corpus(tmp_path / "corpora" / "tgt", "NCBI-disease")
    tiny_corpus(tmp_path / "corpora" / "aux", "s800")
    path = tmp_path / "controls.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "study", folder=tmp_path / "corpora",
                                  schedules="".join(f"  - {s}\n" for s in schedules)))
    return load_recipe(path)


def records(tmp_path) -> dict:
    lines = (tmp_path / "study" / "results.jsonl").read_text().splitlines()
    return {record["schedule"]: record for record in map(json.loads, lines)}


@pytest.mark.integration
def test_two_controls_of_equal_target_updates_train_once_and_report_the_same_f1(tmp_path, monkeypatch):
    from flair_munch.study.driver import run_study
    from flair_munch.training.run import Run

    trained, finish = [], Run._finish
    monkeypatch.setattr(Run, "_finish", lambda run, *a: trained.append(run.schedule.name) or finish(run, *a))
    recipe = recipe_of(tmp_path, "munch-iter", "munch-stack", "matched-single-task: {match: munch-iter}",
                       "matched-single-task: {match: munch-stack}")
    run_study(recipe, progress=False)  # one aux corpus, one epoch: both peers make ITER target updates
    assert sorted(trained) == ["munch-iter", "munch-stack", "single-task-epochs"]  # the control's training once
    shared = [p.parent.name for p in (tmp_path / "study" / "shared-runs").glob("*/metrics.json")]
    assert len(shared) == 1 and shared[0].startswith("single-task-epochs_tgt__")
    by_row = records(tmp_path)
    iter_control, stack_control = by_row["matched-single-task(match=munch-iter)"], \
        by_row["matched-single-task(match=munch-stack)"]
    assert iter_control["test"] == stack_control["test"] and iter_control["run_dir"] == stack_control["run_dir"]
    assert iter_control["run_id"] != stack_control["run_id"]  # two rows, each with its own id and folder
    assert (iter_control["matches"], stack_control["matches"]) == ("munch-iter", "munch-stack")
    assert iter_control["node"] and iter_control["node"] == stack_control["node"]  # from the rows' own folders
    assert iter_control["updates"]["tgt"] == by_row["munch-iter"]["updates"]["tgt"] == 2


def test_control_rows_trained_the_old_way_resume_with_nothing_to_train(tmp_path, monkeypatch):
    """A committed study's control rows (trained before controls shared their training) keep their ids and records."""
    from flair_munch.study.driver import run_study
    from flair_munch.training.run import Run
    from flair_munch.training.schedules import MatchedSingleTask

    assert MatchedSingleTask().settings() == {"name": "matched-single-task", "match": "munch-iter"}  # what ids hash
    recipe = recipe_of(tmp_path, "munch-iter", "matched-single-task: {match: munch-iter}")
    for f1, spec in zip((0.5, 0.25), recipe.runs()):  # the records an old study committed: metrics.json per row
        folder = tmp_path / "study" / "runs" / spec.run_id
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps({
            "run_id": spec.run_id, "schedule": spec.schedule.name, "target": spec.target, "aux": list(spec.aux),
            "aux_order": [], "stages": ["single-task"], "dev": {"f1": f1}, "test": {"f1": f1}, "epochs": 3,
            "updates": {"tgt": 6}, "seconds": 1.0, "stop_reasons": [], "run_dir": str(folder),
            "model_path": str(folder / "final-model.pt")}))
    assert StudyPlan(recipe).jobs == []
    monkeypatch.setattr(Run, "execute", lambda run: pytest.fail(f"{run.schedule.name} trained again"))
    assert run_study(recipe, progress=False).done == 2
    by_row = records(tmp_path)
    assert (by_row["munch-iter"]["test"]["f1"], by_row["matched-single-task(match=munch-iter)"]["test"]["f1"]) == \
        (0.5, 0.25)


def test_longest_first_puts_the_longest_chain_of_work_first_after_its_needs():
    job = lambda key, *needs: SimpleNamespace(key=key, needs=needs)  # noqa: E731
    jobs = [job("store"), job("single-task", "store"), job("munch-iter", "store"), job("prerequisite", "store"),
            job("single-aux-best", "prerequisite")]
    cost = {"store": 0, "single-task": 10, "munch-iter": 30, "prerequisite": 5, "single-aux-best": 6}
    order = [j.key for j in longest_first(jobs, lambda j: cost[j.key])]
    # the prerequisite (5) before single-task (10): 11 wait on it
    assert order == ["store", "munch-iter", "prerequisite", "single-task", "single-aux-best"]


def test_a_plan_starts_its_longest_runs_first_unless_told_recipe_order(tmp_path, monkeypatch, capsys):
    recipe = recipe_of(tmp_path, "single-task", "munch-iter", "matched-single-task: {match: munch-iter}")
    rows = lambda: [job.spec.row for job in StudyPlan(recipe).jobs if job.kind == "run"]  # noqa: E731
    # munch-iter: 2 x ITER steps, then its control's ITER (waits on it); single-task ITER, before the control: tie
    assert rows() == ["munch-iter", "single-task", "matched-single-task(match=munch-iter)"]
    monkeypatch.setenv(JOB_ORDER_ENV, "recipe")
    assert rows() == ["single-task", "munch-iter", "matched-single-task(match=munch-iter)"]
    monkeypatch.setenv(JOB_ORDER_ENV, "shortest")
    assert main(["run", str(recipe.path), "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == ("flair-munch: error: FLAIR_MUNCH_JOB_ORDER='shortest' is not a job "
                                               "order: set it to one of longest-first, recipe, or unset it")
    assert not (tmp_path / "study").exists()


@pytest.mark.integration
def test_a_shared_updates_control_trains_as_many_encoder_updates_as_its_single_aux_run(tmp_path):
    from flair_munch.study.driver import run_study
    from flair_munch.training.schedules import MatchedSingleTask

    assert MatchedSingleTask(updates="shared").settings() == {"name": "matched-single-task", "match": "munch-iter",
                                                             "updates": "shared"}  # the default stays out of ids
    recipe = recipe_of(tmp_path, "single-aux", "matched-single-task: {match: single-aux, updates: shared}")
    run_study(recipe, progress=False)  # 20 target sentences in batches of 16: ITER = 2; one epoch
    by_row = records(tmp_path)
    single_aux, control = by_row["single-aux"], by_row["matched-single-task(match=single-aux,updates=shared)"]
    assert (single_aux["updates"]["tgt"], single_aux["updates"]["shared"]) == (2, 4)  # aux steps move the encoder
    assert (control["updates"]["tgt"], control["updates"]["shared"], control["epochs"]) == (4, 4, 2)


def test_a_control_counting_unknown_updates_is_refused_with_the_choices(tmp_path):
    from flair_munch.recipes import RecipeError

    with pytest.raises(RecipeError, match=r"unknown count of updates 'sharde'. Did you mean `shared`\?"):
        recipe_of(tmp_path, "single-aux", "matched-single-task: {match: single-aux, updates: sharde}")
