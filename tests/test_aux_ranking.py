"""Ranking auxiliary corpora (issue 37): exact predictor outputs on the samples, the CLI, and recipes that use them."""

import json
import random

import pytest
import torch

from flair_munch.aux_ranking import AuxRanking, make_predictor, predictor_names, rank_aux
from flair_munch.cli import main
from flair_munch.corpora import load_corpus
from flair_munch.corpora.similarity import rank_aux as similarity_rows
from flair_munch.recipes import RecipeError, load_recipe
from flair_munch.study.driver import run_study

CANDIDATES = ("bc5cdr-disease", "s800", "bc2gm")
TINY = {"hidden_size": 16}


@pytest.fixture(scope="module")
def tiny():
    target = load_corpus("ncbi-disease", samples=True, train_size=24, dev_size=12)
    return target, [load_corpus(name, samples=True, train_size=12) for name in CANDIDATES]


def test_the_registry_names_each_predictor_and_refuses_unknown_ones():
    assert predictor_names() == ["encoder-states", "lookahead", "probe", "similarity"]
    with pytest.raises(ValueError, match=r"unknown ranking method 'lookahed'. Did you mean `lookahead`\?"):
        make_predictor("lookahed")
    with pytest.raises(ValueError, match=r"unknown option\(s\) epoch of ranking method 'probe'. Did you mean `epochs`"):
        make_predictor("probe", epoch=1)


def test_similarity_ranks_as_the_corpus_measures_do(tiny):
    target, candidates = tiny
    ranking = rank_aux(target, candidates)
    assert ranking.names == [row.name for row in similarity_rows(target, candidates)] == ["bc5cdr-disease", "bc2gm",
                                                                                          "s800"]
    assert ranking.compute.steps == 0 and ranking.compute.fraction is None


@pytest.mark.parametrize("method, options, names, scores, steps, budget", [
    ("lookahead", {"steps": 2}, ["s800", "bc5cdr-disease", "bc2gm"], [0.031876, -0.119213, -0.133162], 14, 144),
    ("encoder-states", {}, ["s800", "bc2gm", "bc5cdr-disease"], [0.118758, -0.123406, -0.568821], 2, 144),
    ("probe", {"mini_batch_size": 24}, ["bc2gm", "bc5cdr-disease", "s800"], [0.0, 0.0, 0.0], 6, 72),
])
def test_model_predictors_give_exact_seeded_rankings_and_leave_the_random_state_alone(tiny, method, options, names,
                                                                                      scores, steps, budget):
    """Budget: 3 candidates x (ITER aux + ITER target steps) x 12 epochs; ITER = ceil(24 / batch size).
    The probe's dev F1 after one epoch of 24 sentences is 0 for all: ties go by name."""
    target, candidates = tiny
    random.seed(7)
    torch.manual_seed(7)
    before = random.random(), torch.rand(1)
    random.seed(7)
    torch.manual_seed(7)
    ranking = rank_aux(target, candidates, method, **TINY, **options)
    assert (random.random(), torch.rand(1)) == before  # ranking inside a run never changes its training
    assert ranking.names == names
    assert list(ranking.scores.values()) == pytest.approx(scores, abs=1e-5)
    assert ranking.compute.steps == steps
    assert ranking.compute.budget_steps == budget
    if method == "encoder-states":  # the cheapest: run it again, the same numbers
        assert rank_aux(target, candidates, method, **TINY, **options).scores == ranking.scores


def test_probe_ranks_by_each_short_runs_target_dev_f1(tiny, monkeypatch):
    """At the fixture's size every probe scores 0 (above); here each SingleAux run's dev F1 is set, so the
    ranking and the recorded epochs must follow them: one seeded run per candidate, with that candidate only."""
    from flair_munch.training import AuxiliaryTrainer

    dev_f1, calls = {"bc5cdr-disease": 0.2, "s800": 0.5, "bc2gm": 0.1}, []

    def train(trainer, target, aux, schedule, **kwargs):
        calls.append((target, tuple(aux), kwargs["max_epochs"], kwargs["seed"]))
        return type("Result", (), {"dev": {"f1": dev_f1[aux[0]]}, "epochs": kwargs["max_epochs"],
                                   "updates": {"shared": 4}})()

    monkeypatch.setattr(AuxiliaryTrainer, "train", train)
    target, candidates = tiny
    ranking = rank_aux(target, candidates, "probe", epochs=2, seed=3, **TINY)
    assert ranking.names == ["s800", "bc5cdr-disease", "bc2gm"] and ranking.scores == dev_f1
    assert calls == [("ncbi-disease", (name,), 2, 3) for name in CANDIDATES]
    assert ranking.compute.steps == 12


def test_rank_aux_cli_method_and_its_refusals(capsys):
    argv = ["rank-aux", "ncbi-disease", "--samples", "--candidates", "s800", "bc5cdr-disease"]
    assert main([*argv, "--method", "lookahead", "--option", "steps=1", "--option", "hidden_size=16",
                 "--max-sentences", "30"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "auxiliary corpora for ncbi-disease by lookahead, most helpful first:"
    assert [line.split()[1] for line in out[2:]] == ["bc5cdr-disease", "s800"]
    assert main([*argv, "--method", "probe", "--option", "epoch=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["flair-munch: error: unknown option(s) epoch of ranking method 'probe'. Did you mean `epochs`? Use "
                   "its options: embeddings, hidden_size, learning_rate, mini_batch_size, seed, max_sentences, "
                   "budget_epochs, epochs."]
    assert main([*argv, "--option", "steps"]) == 2
    assert "--option 'steps': expected KEY=VALUE" in capsys.readouterr().err


RECIPE = """\
name: predicted
output_dir: {out}
samples: true
device: cpu
embeddings: default-small
model: {{hidden_size: 8}}
corpora:
  ncbi-disease: {{train_size: 16}}
  s800: {{train_size: 10}}
  bc5cdr-disease: {{train_size: 10}}
targets: [ncbi-disease]
schedules:
{schedules}
grid:
  learning_rate: [0.1]
  mini_batch_size: [16]
training:
  max_epochs: 1
dev_size: 10
seeds: [1]
"""


def test_a_recipe_trains_the_predicted_corpus_and_orders_by_the_prediction(tmp_path):
    path = tmp_path / "predicted.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "out", schedules="  - {single-aux-predicted: {method: similarity}}\n"
                                  "  - {munch-iter: {order: predicted, method: similarity}}\n"
                                  "  - {single-aux-predicted: {method: similarity, top_k: 2}}"))
    run_study(load_recipe(path), progress=False)
    results = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    target = load_corpus("ncbi-disease", samples=True, train_size=16)
    predicted = rank_aux(target, [load_corpus(name, samples=True, train_size=10) for name in CANDIDATES[:2]]).names
    chosen = next(r for r in results if r["schedule"].startswith("single-aux-predicted("))
    iterated = next(r for r in results if r["schedule"].startswith("munch-iter("))
    assert chosen["aux_order"] == [predicted[0]] == ["bc5cdr-disease"]
    assert iterated["aux_order"] == predicted[::-1] == ["s800", "bc5cdr-disease"]  # most helpful last, as dev-sorted
    shortlist = next(r for r in results if "top_k=2" in r["schedule"])  # both trained, the better dev F1 chosen
    selection = json.loads((tmp_path / "out" / "runs" / shortlist["run_id"] / "metrics.json").read_text())["selection"]
    assert selection["ranked"] == predicted and set(selection["dev_f1"]) == set(predicted)
    assert shortlist["aux_order"] == [selection["chosen"]] == [max(predicted, key=lambda a: (selection["dev_f1"][a], a))]
    subruns = sorted(p.name.split("_")[2] for p in (tmp_path / "out" / "shared-runs").glob("single-aux_ncbi-disease_*"))
    assert subruns == sorted(predicted)  # one SingleAux run per corpus of the shortlist, the top-1 row's among them


def test_iter_and_stack_with_one_predicted_order_rank_once_and_read_it_back(tmp_path, monkeypatch):
    import flair_munch.aux_ranking.base as ranking_module

    calls, real = [], ranking_module.rank_aux
    monkeypatch.setattr(ranking_module, "rank_aux", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    path = tmp_path / "predicted.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "out", schedules="  - {munch-iter: {order: predicted, method: "
                                  "encoder-states}}\n  - {munch-stack: {order: predicted, method: encoder-states}}"))
    run_study(load_recipe(path), progress=False)
    assert calls == ["encoder-states"]  # the second run read the first run's ranking
    (saved,) = (tmp_path / "out" / "shared-runs" / "rankings").glob("encoder-states_ncbi-disease__*.json")
    scores = json.loads(saved.read_text())["scores"]
    orders = [json.loads(line)["aux_order"] for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert orders == [sorted(scores, key=lambda name: (scores[name], name))] * 2  # most helpful last, in both


@pytest.mark.parametrize("schedule, message", [
    ("{munch-iter: {order: given, method: probe}}",
     "schedules[0].munch-iter.method: `method` chooses the ranking of `order: predicted`, but the order is 'given'"),
    ("{munch-stack: {order: predicted, method: prob}}",
     "schedules[0].munch-stack.method: unknown ranking method 'prob'. Did you mean `probe`?"),
    ("{single-aux-predicted: {top_k: 0}}", "schedules[0].single-aux-predicted.top_k: top_k must be a whole number"),
])
def test_recipe_refuses_a_bad_method_or_top_k(tmp_path, schedule, message):
    path = tmp_path / "bad.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "out", schedules=f"  - {schedule}"))
    with pytest.raises(RecipeError, match=message.replace("[", r"\[").replace("]", r"\]").replace("?", r"\?")
                       .replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        load_recipe(path)
    assert not (tmp_path / "out").exists()


def test_ranking_as_dict_is_plain_data(tiny):
    ranking = rank_aux(*tiny)
    assert isinstance(ranking, AuxRanking)
    data = ranking.as_dict()
    assert json.loads(json.dumps(data))["rows"][0]["name"] == "bc5cdr-disease"
    assert data["compute"]["fraction"] is None


def write_matrix(folder, tests: dict, single_task: dict):
    """A study folder holding SingleAux runs ({(target, aux): [test F1 per seed]}) and single-task records."""
    folder.mkdir()
    lines = []
    for (target, aux), values in tests.items():
        for seed, f1 in enumerate(values, start=1):
            lines.append({"schedule": f"single-aux(aux={aux})", "target": target, "aux": [aux], "aux_order": [aux],
                          "seed": seed, "dev": {"f1": f1 / 100 + 0.01 * seed}, "test": {"f1": f1 / 100},
                          "seconds": 10.0, "run_id": f"{target}{aux}{seed}"})
    for target, values in single_task.items():
        lines += [{"schedule": "single-task", "target": target, "aux": [], "aux_order": [], "seed": seed,
                   "dev": {"f1": f / 100}, "test": {"f1": f / 100}, "run_id": f"{target}{seed}"}
                  for seed, f in enumerate(values, start=1)]
    (folder / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder


def test_matrix_scores_noise_ceiling_and_heatmap_cells(tmp_path):
    from flair_munch.aux_ranking.evaluation import agreement, dev_choice, mean_test, noise_ceiling, read_matrix
    from flair_munch.evaluation.report_transfer import gain_matrix, write_gain_table

    runs = {("t", "a"): [50, 52, 54], ("t", "b"): [40, 41, 60], ("t", "c"): [30, 30, 31]}
    folder = write_matrix(tmp_path / "m", runs, {"t": [45, 45, 46]})
    matrix = read_matrix(folder)
    truth = mean_test(matrix["t"])
    assert truth == pytest.approx({"a": 52.0, "b": 47.0, "c": 30.333333})
    found = agreement({"a": 0.1, "b": 0.3, "c": 0.2}, truth)  # b first (regret 5), c second, a third
    assert (found.spearman, found.top1_hit, found.regret1, found.regret3) == pytest.approx((-0.5, False, 5.0, 0.0))
    assert noise_ceiling(matrix) == pytest.approx((1.0 + 1.0 + 0.5) / 3)  # seed 3 puts b above a
    assert [a.top1_hit for a in dev_choice(matrix)] == [True, True, False]
    cells = gain_matrix(matrix, {"t": {1: 45.0, 2: 45.0, 3: 46.0}})
    assert cells["t", "a"] == pytest.approx((6.666667, False))  # +5, +7, +8: beyond seed noise
    assert cells["t", "b"][1] is True and cells["t", "c"][1] is False  # -5, -4, +14 within; -15, -15, -15 beyond
    control = gain_matrix(matrix, {"t": {1: 50.0, 2: 52.0, 3: 54.0}})  # a shared-updates control as good as `a`
    table = write_gain_table(cells, control, "matched-single-task(match=single-aux-best,updates=shared)",
                             tmp_path / "transfer-matrix.md").read_text().splitlines()
    assert table[2:] == ["| target | a | b | c |", "|---|---|---|---|", "| t | +6.7 / +0.0≈ | +1.7≈ / -5.0≈ | -15.0 / -21.7 |"]
    with pytest.raises(ValueError, match="no SingleAux runs found"):
        read_matrix(tmp_path)
