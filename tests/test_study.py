"""Studies from recipes: dry run, skip finished runs, re-run a deleted one, survive kill -9, report."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flair_munch.cli import main
from flair_munch.recipes import load_recipe
from flair_munch.study.driver import run_study, study_status

RECIPE = """\
name: tiny
output_dir: {out}
samples: true
device: cpu
embeddings: default-small
model: {{hidden_size: 32}}
corpora:
  ncbi-disease: {{train_size: 40}}
  s800: {{train_size: 30}}
targets: [ncbi-disease]
schedules:
  - single-task
  - single-aux-best
grid:
  learning_rate: [0.1, 0.05]
  mini_batch_size: [16]
training:
  max_epochs: 2
dev_size: 40
seeds: [1]
"""


def write_recipe(tmp_path, out_name="study"):
    path = tmp_path / f"{out_name}.yaml"
    path.write_text(RECIPE.format(out=tmp_path / out_name))
    return path


def metrics_times(out: Path) -> dict:
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/metrics.json")}


@pytest.mark.integration
def test_study_runs_once_skips_finished_runs_and_reruns_a_deleted_one(tmp_path, capsys, scores_as_recorded):
    recipe = load_recipe(write_recipe(tmp_path))
    status = study_status(recipe)
    assert (status.total, status.done) == (4, 0)  # 1 target x 2 schedules x 2 learning rates x 1 seed
    assert main(["run", str(recipe.path), "--dry-run"]) == 0
    assert "0 of 4 runs done" in capsys.readouterr().out

    status = run_study(recipe, progress=False)
    assert (status.total, status.done) == (4, 4)
    records = [json.loads(line) for line in (tmp_path / "study" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 4 and sum(r["selected"] for r in records) == 2
    for schedule in ("single-task", "single-aux-best"):
        group = [r for r in records if r["schedule"] == schedule]
        chosen = [r for r in group if r["selected"]]
        assert len(chosen) == 1 and chosen[0]["dev"]["f1"] == max(r["dev"]["f1"] for r in group)
        assert all(Path(r["run_dir"], "test-predictions.conll").is_file() for r in group)
    target = recipe.load_corpora("ncbi-disease", ["s800"])[0]
    for record in records:  # the index holds what the saved models score, without dropout
        scores_as_recorded(record["run_dir"], {"dev": target.dev, "test": target.test}, "ncbi-disease")
        metrics = json.loads(Path(record["run_dir"], "metrics.json").read_text())
        assert (record["dev"], record["test"]) == (metrics["dev"], metrics["test"])
    assert all(r["history"][-1]["target_loss"] < r["history"][0]["target_loss"] for r in records)  # they learn
    assert all(r["stop_reasons"] and all("max_epochs 2 reached" in x for x in r["stop_reasons"]) for r in records)

    before = metrics_times(tmp_path / "study")
    run_study(recipe, progress=False)
    assert metrics_times(tmp_path / "study") == before  # nothing retrained

    victim = records[0]["run_id"]
    for path in sorted((tmp_path / "study" / "runs" / victim).iterdir()):
        path.unlink()
    (tmp_path / "study" / "runs" / victim).rmdir()
    assert study_status(recipe).done == 3
    run_study(recipe, progress=False)
    after = metrics_times(tmp_path / "study")
    assert {k: v for k, v in after.items() if k != victim} == {k: v for k, v in before.items() if k != victim}
    assert after[victim] != before[victim]
    again = [json.loads(line) for line in (tmp_path / "study" / "results.jsonl").read_text().splitlines()]
    assert {r["run_id"]: r["test"] for r in again} == {r["run_id"]: r["test"] for r in records}


@pytest.mark.integration
def test_study_killed_with_sigkill_resumes_to_the_same_table(tmp_path):
    straight = load_recipe(write_recipe(tmp_path, "straight"))
    run_study(straight, progress=False)

    recipe_path = write_recipe(tmp_path, "killed")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "flair_munch.cli", "run", str(recipe_path), "--no-progress"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    out = tmp_path / "killed"
    deadline = time.time() + 300
    while time.time() < deadline and not list(out.glob("runs/*/checkpoint.pt")) and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert study_status(load_recipe(recipe_path)).done < 4

    run_study(load_recipe(recipe_path), progress=False)
    killed = {json.loads(l)["run_id"]: json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()}
    uninterrupted = {
        json.loads(l)["run_id"]: json.loads(l) for l in (tmp_path / "straight" / "results.jsonl").read_text().splitlines()
    }
    assert set(killed) == set(uninterrupted)
    for run_id, record in killed.items():
        assert record["test"] == uninterrupted[run_id]["test"], record["schedule"]
        assert record["selected"] == uninterrupted[run_id]["selected"]
    assert main(["report", str(out)]) == 0
    assert main(["report", str(tmp_path / "straight")]) == 0
    assert (out / "report" / "table.md").read_text() == (tmp_path / "straight" / "report" / "table.md").read_text()


@pytest.mark.integration
def test_test_with_dev_retrains_the_selected_grid_point_once_and_reports_its_test(tmp_path):
    from flair_munch.study.plan import StudyPlan

    path = tmp_path / "final.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "final").replace("  - single-aux-best\n", "")
                    .replace("seeds: [1]", "seeds: [1]\ntest_with_dev: true").replace("max_epochs: 2", "max_epochs: 1"))
    recipe = load_recipe(path)
    assert [job.kind for job in StudyPlan(recipe).jobs] == ["store", "run", "run", "final"]
    run_study(recipe, progress=False)
    records = [json.loads(line) for line in (tmp_path / "final" / "results.jsonl").read_text().splitlines()]
    chosen, other = sorted(records, key=lambda r: not r["selected"])
    spec = next(s for s in recipe.runs() if s.run_id == chosen["run_id"])
    final = json.loads((tmp_path / "final" / "runs" / spec.final_run_id / "metrics.json").read_text())
    assert chosen["dev"]["f1"] >= other["dev"]["f1"]
    assert chosen["test"] == final["test"] and chosen["run_dir"].endswith(spec.final_run_id)  # test of train + dev
    own = json.loads((tmp_path / "final" / "runs" / other["run_id"] / "metrics.json").read_text())
    assert other["test"] == own["test"] and not chosen["run_dir"].endswith(chosen["run_id"])
    assert StudyPlan(recipe).jobs == [] and study_status(recipe).done == 2  # nothing left, the final included


def test_a_matched_control_runs_after_the_run_it_matches(tmp_path):
    from flair_munch.study.plan import StudyPlan

    path = tmp_path / "matched.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "matched").replace(
        "  - single-task\n  - single-aux-best\n", "  - matched-single-task: {match: munch-iter}\n  - munch-iter\n"))
    recipe = load_recipe(path)
    jobs = [job for job in StudyPlan(recipe).jobs if job.kind == "run"]
    control, peer = recipe.runs()[0], recipe.runs()[2]  # listed first, but it needs munch-iter's run (same lr)
    assert (control.schedule.name, peer.schedule.name, peer.learning_rate) == ("matched-single-task", "munch-iter", 0.1)
    order = [job.key for job in jobs]
    assert order.index(peer.run_id) < order.index(control.run_id)
    assert next(job for job in jobs if job.key == control.run_id).needs[-1] == peer.run_id
    assert (control.matched_row, peer.matched_row) == ("munch-iter", None)  # its records name the row it matches
    other = load_recipe(path, ["schedules=[{matched-single-task: {match: {munch-iter: {order: given}}}}]"])
    assert other.runs()[0].matched_row == "munch-iter(order=given)"


def test_a_control_without_a_schedule_to_match_is_a_recipe_error(tmp_path):
    from flair_munch.recipes import RecipeError

    path = tmp_path / "bad.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "bad").replace("  - single-aux-best\n",
                                                                 "  - matched-single-task: {match: munch-itr}\n"))
    with pytest.raises(RecipeError, match=r"bad.yaml:13: schedules\[1\].matched-single-task.match: `munch-itr` is not a "
                                          r"schedule to match. Did you mean `munch-iter`\?"):
        load_recipe(path)


@pytest.mark.integration
def test_a_study_resumes_from_its_committed_records_alone(tmp_path):
    """What a long study commits as it goes (no models, checkpoints or store), checked out elsewhere, resumes."""
    import shutil

    text = RECIPE.replace("max_epochs: 2", "max_epochs: 1\n  save_model: false")
    (tmp_path / "first.yaml").write_text(text.format(out=tmp_path / "first"))
    run_study(load_recipe(tmp_path / "first.yaml"), progress=False)
    from flair_munch.evaluation.results_index import read_predictions, read_results
    from flair_munch.study.records import pack_records

    committed = pack_records(tmp_path / "first")  # what benchmarks/pack_study.py --git-add stages
    assert {p.name for p in committed} == {"results.jsonl", "recipe.json", "metrics.json", "history.json", "history.tsv",
                                           "train.log", "executor.json", "test-predictions.tags.gz"}
    for path in committed:
        (tmp_path / "clone" / path.relative_to(tmp_path / "first")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, tmp_path / "clone" / path.relative_to(tmp_path / "first"))
    full = {r.run_id: read_predictions(r, tmp_path / "first") for r in read_results(tmp_path / "first")}
    assert not list((tmp_path / "first").rglob("*.pt"))  # save_model: false left no model to commit
    before = [json.loads(line) for line in (tmp_path / "first" / "results.jsonl").read_text().splitlines()]
    shutil.rmtree(tmp_path / "first")  # the machine that ran it is gone

    (tmp_path / "clone.yaml").write_text(text.replace("seeds: [1]", "seeds: [1, 2]").format(out=tmp_path / "clone"))
    recipe = load_recipe(tmp_path / "clone.yaml")
    from flair_munch.study.plan import StudyPlan

    plan = StudyPlan(recipe)
    assert sorted(job.spec.seed for job in plan.jobs if job.kind == "run") == [2, 2, 2, 2]  # seed 1 is done
    run_study(recipe, progress=False)
    after = {r["run_id"]: r for r in map(json.loads, (tmp_path / "clone" / "results.jsonl").read_text().splitlines())}
    assert len(after) == 8 and all(after[r["run_id"]]["test"] == r["test"] for r in before)
    packed = {r.run_id: read_predictions(r, tmp_path / "clone") for r in read_results(tmp_path / "clone")}
    assert all(packed[run_id] == tags and tags for run_id, tags in full.items())  # the compact copy: the same tags
    assert all(Path(r["run_dir"]).is_relative_to(tmp_path / "clone") for r in after.values())  # in the clone
    assert main(["report", str(tmp_path / "clone")]) == 0


def test_predict_tags_raw_text_and_conll(tmp_path, default_embeddings, capsys):
    from flair_munch.corpora import load_corpus
    from flair_munch.models import MultiHeadTagger

    corpus = load_corpus("ncbi-disease", samples=True, train_size=20, seed=1)
    model = MultiHeadTagger.from_corpora(default_embeddings, [corpus], hidden_size=16)
    model.save(tmp_path / "model.pt")
    raw = tmp_path / "raw.txt"
    raw.write_text("Aspirin (ASA) causes Reye's syndrome.\n\nBRCA1 mutations cause breast cancer.\n")
    assert main(["predict", str(tmp_path / "model.pt"), str(raw), "--head", "ncbi-disease",
                 "--out", str(tmp_path / "raw.conll")]) == 0
    assert "15 tokens in 2 sentences tagged" in capsys.readouterr().out
    sentences = (tmp_path / "raw.conll").read_text().strip().split("\n\n")
    assert len(sentences) == 2
    assert [line.split("\t")[0] for line in sentences[0].splitlines()][:4] == ["Aspirin", "(", "ASA", ")"]
    assert all(len(line.split("\t")) == 2 for s in sentences for line in s.splitlines())

    conll = tmp_path / "in.tsv"
    conll.write_text("BRCA1\tO\nmutations\tO\ncause\tO\nbreast\tB-Disease\ncancer\tI-Disease\n\n")
    assert main(["predict", str(tmp_path / "model.pt"), str(conll), "--head", "ncbi-disease"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    assert [row[:2] for row in rows] == [["BRCA1", "O"], ["mutations", "O"], ["cause", "O"], ["breast", "B-Disease"],
                                         ["cancer", "I-Disease"]]
    assert all(len(row) == 3 for row in rows)
    assert main(["predict", str(tmp_path / "model.pt"), str(conll), "--head", "bc2gm"]) == 2


ABLATION = """\
name: tiny-ablation
output_dir: {out}
samples: true
device: cpu
embeddings: default
model: {{type: ecttlner, hidden_size: 32, task_hidden_size: 32}}
corpora:
  ncbi-disease: {{train_size: 32}}
targets: [ncbi-disease]
variants:
  baseline: {{tasks: []}}
  +all: {{tasks: [sce, sen, tie, tbl]}}
schedules: [single-task]
grid:
  learning_rate: [2.0e-4]
  mini_batch_size: [16]
training:
  optimizer: AdamW
  lr_schedule: linear-warmup
  max_epochs: 2
  evaluate_dev: false
  save_model: false
  embeddings_storage_mode: none
seeds: [1]
"""


@pytest.mark.integration
def test_derived_task_ablation_runs_from_a_recipe_and_reports_against_its_baseline(tmp_path):
    path = tmp_path / "ablation.yaml"
    path.write_text(ABLATION.format(out=tmp_path / "ablation"))
    run_study(load_recipe(path), progress=False)
    records = [json.loads(line) for line in (tmp_path / "ablation" / "results.jsonl").read_text().splitlines()]
    assert [(r["schedule"], r["baseline"], r["variant"]) for r in records] == [
        ("single-task baseline", "single-task baseline", "baseline"),
        ("single-task +all", "single-task baseline", "+all")]
    assert records[0]["test"]["f1"] != records[1]["test"]["f1"]  # different models, not one run twice
    assert all(r["epochs"] == 2 and r["updates"]["shared"] == 4 for r in records)
    assert not list((tmp_path / "ablation").glob("runs/*/final-model.pt"))
    assert main(["report", str(tmp_path / "ablation")]) == 0
    significance = (tmp_path / "ablation" / "report" / "significance.md").read_text()
    assert "| single-task +all | ncbi-disease | single-task baseline | 1 |" in significance


FUSION = """\
name: tiny-fusion
output_dir: {out}
samples: true
device: cpu
embeddings: default-small
model: {{type: attention-fusion, hidden_size: 16, attention_heads: 2}}
corpora:
  ncbi-disease: {{train_size: 24}}
  s800: {{train_size: 24}}
targets: [ncbi-disease]
aux: {{ncbi-disease: [s800]}}
schedules: [{{single-aux: {{aux: s800}}}}]
grid:
  mini_batch_size: [8]
training:
  max_epochs: 2
  aux_sentence_weighting: 2.0
seeds: [1]
"""


@pytest.mark.integration
def test_attention_fusion_with_sentence_weights_runs_from_a_recipe(tmp_path, scores_as_recorded):
    from flair_munch.models import AttentionFusionTagger, MultiHeadTagger

    path = tmp_path / "fusion.yaml"
    path.write_text(FUSION.format(out=tmp_path / "fusion"))
    run_study(load_recipe(path), progress=False)
    records = [json.loads(line) for line in (tmp_path / "fusion" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0]["epochs"] == 2
    metrics = json.loads((Path(records[0]["run_dir"]) / "metrics.json").read_text())
    assert metrics["settings"]["aux_sentence_weighting"] == 2.0
    model = MultiHeadTagger.load(Path(records[0]["run_dir"]) / "final-model.pt")
    assert isinstance(model, AttentionFusionTagger)
    assert model.target == "ncbi-disease" and model.aux_names == ["s800"] and model.attention_heads == 2
    target = load_recipe(path).load_corpora("ncbi-disease", ["s800"])[0]
    scores_as_recorded(records[0]["run_dir"], {"dev": target.dev, "test": target.test}, "ncbi-disease")
    assert records[0]["test"] == metrics["test"]


CONCURRENT = """\
name: concurrent
output_dir: {out}
samples: true
device: cpu
embeddings: default-small
model: {{hidden_size: 8}}
dev_size: 20
corpora:
  ncbi-disease: {{train_size: 30}}
targets: [ncbi-disease]
schedules: [single-task]
grid:
  learning_rate: [0.1, 0.05]
  mini_batch_size: [16]
training:
  max_epochs: 2
seeds: [1, 2]
"""


@pytest.mark.integration
def test_two_runs_of_one_study_at_once_train_each_run_once(tmp_path):
    recipe = tmp_path / "concurrent.yaml"
    recipe.write_text(CONCURRENT.format(out=tmp_path / "study"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "flair_munch.cli", "run", str(recipe), "--no-progress"]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    trained = [line for _, err in outputs for line in err.splitlines() if "single-task epoch" in line]
    assert len(trained) == 4 * 2  # 4 runs x 2 epochs, each trained by one of the two processes only
    records = [json.loads(line) for line in (tmp_path / "study" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 4 and len({r["run_id"] for r in records}) == 4


def test_cache_embeddings_stores_what_the_study_reads_and_no_aux_dev_or_test(tmp_path):
    from flair_munch.corpora import load_corpus
    from flair_munch.study.driver import cache_embeddings

    for name in ("tgt", "aux", "other"):  # tiny folder corpora whose splits share no sentence
        (tmp_path / name).mkdir()
        for split in ("train", "dev", "test"):
            rows = [f"{name}\tB-X\n{split}\tO\nsentence\tO\n{i}\tO\n" for i in range(3)]
            (tmp_path / name / f"{split}.tsv").write_text("\n".join(rows), encoding="utf-8")
    recipe = tmp_path / "cache.yaml"
    recipe.write_text(json.dumps({
        "name": "cache", "output_dir": str(tmp_path / "out"), "device": "cpu", "embeddings": "default-small",
        "embedding_store": str(tmp_path / "store"), "target_train_size": [1, 3],
        "corpora": {str(tmp_path / name): None for name in ("tgt", "aux", "other")},
        "targets": ["tgt"], "aux": {"tgt": ["aux"]}, "schedules": ["single-task"]}))
    store, report = cache_embeddings(load_recipe(recipe), progress=False)
    corpora = {name: load_corpus(tmp_path / name) for name in ("tgt", "aux", "other")}
    read = [s for split in ("train", "dev", "test") for s in getattr(corpora["tgt"], split)] + list(corpora["aux"].train)
    unread = list(corpora["aux"].dev) + list(corpora["aux"].test) + [
        s for split in ("train", "dev", "test") for s in getattr(corpora["other"], split)]
    assert all(s in store for s in read) and not any(s in store for s in unread)
    assert len(store) == report.embedded == len(read) == 12


def test_every_job_kind_is_a_registered_class_that_survives_pickling(tmp_path):
    """Ray ships jobs to its workers: each kind comes back as itself, with its key, label and needs."""
    import pickle

    from flair_munch.study.jobs import Job
    from flair_munch.study.plan import StudyPlan

    path = tmp_path / "kinds.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "kinds").replace("seeds: [1]", "seeds: [1]\ntest_with_dev: true"))
    jobs = StudyPlan(load_recipe(path)).jobs
    assert sorted({job.kind for job in jobs}) == sorted(Job.registry) == ["final", "prerequisite", "run", "store"]
    assert [pickle.loads(pickle.dumps(job)) for job in jobs] == jobs
    prerequisite = next(job for job in jobs if job.kind == "prerequisite")
    assert prerequisite.label == "single-aux(s800)@ncbi-disease" and prerequisite.needs == (next(j for j in jobs if j.kind == "store").key,)
    assert prerequisite.key == f"prerequisite:{prerequisite.directory(tmp_path / 'kinds').run_id}"


def test_the_index_selects_the_grid_point_a_final_retrains_ties_to_the_smaller_learning_rate():
    from types import SimpleNamespace

    from flair_munch.evaluation.results_index import ResultRecord
    from flair_munch.recipes.recipe import RunSpec, ScheduleSpec
    from flair_munch.study.ledger import with_selection
    from flair_munch.study.selection import select_best
    from flair_munch.training.identity import IdentityBasis

    dev = {0.1: {"f1": 0.8}, 0.05: {"f1": 0.8}, 0.01: None}  # a tie, and a run without dev scores
    specs = [RunSpec("t", (), ScheduleSpec("single-task"), lr, 16, 1, basis=IdentityBasis({}, {})) for lr in dev]
    records = [ResultRecord(run_id=s.run_id, target="t", schedule="single-task", seed=1, test=None,
                            dev=dev[s.learning_rate], hparams={"learning_rate": s.learning_rate}) for s in specs]
    assert [record.selected for record in with_selection(records)] == [False, True, False]
    results = {s.run_id: SimpleNamespace(dev=dev[s.learning_rate]) for s in specs}
    assert select_best(results, specs) is specs[1]
