"""Scores are computed without dropout and reproduce from the saved model; diverged runs never count as done."""

import json
import math
from pathlib import Path

import pytest
import torch

import flair
from flair.data import MultiCorpus
from flair.embeddings import OneHotEmbeddings
from flair.trainers.plugins import TrainerPlugin

from flair_munch.cli import main
from flair_munch.corpora import load_corpus
from flair_munch.inference import evaluation_mode
from flair_munch.models import MultiHeadTagger
from flair_munch.training import AuxiliaryTrainer, SingleTask
from flair_munch.training.divergence import TrainingDiverged

T, CHEM = "ncbi-disease", "bc5cdr-chem"


def strict_json(text: str):
    """Parses like a strict JSON reader: a bare NaN or Infinity is an error."""
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def tiny():
    corpora = [load_corpus(T, samples=True, train_size=40, seed=1), load_corpus(CHEM, samples=True, train_size=20, seed=1)]
    for corpus in corpora:
        corpus._dev = type(corpus.dev)(list(corpus.dev)[:30])
        corpus._test = type(corpus.test)(list(corpus.test)[:30])
    return corpora


def make_model(corpora, **kwargs):
    flair.set_seed(1)
    embeddings = OneHotEmbeddings.from_corpus(MultiCorpus(corpora), embedding_length=8, min_freq=1)
    return MultiHeadTagger.from_corpora(embeddings, corpora, hidden_size=8, **kwargs)


def predicted_spans(sentences):
    return [[(span.unlabeled_identifier, span.tag) for span in s.get_spans("tagged")] for s in sentences]


def test_evaluate_and_predict_in_train_mode_give_the_eval_mode_numbers_and_keep_train_mode(tiny):
    model = make_model(tiny, locked_dropout=0.5, word_dropout=0.05)
    dev = list(tiny[0].dev)
    model.eval()
    reference = model.evaluate(dev, head=T, return_loss=True)
    model.train()
    modes = {name: module.training for name, module in model.named_modules()}
    first = model.evaluate(dev, head=T, return_loss=True)
    second = model.evaluate(dev, head=T, return_loss=True)
    # the summed CRF loss is continuous: any dropout mask at prediction time would change it
    assert first.scores["loss"] == second.scores["loss"] == reference.scores["loss"]
    assert first.main_score == second.main_score == reference.main_score
    model.predict(dev, head=T, label_name="tagged")
    spans = predicted_spans(dev)
    model.predict(dev, head=T, label_name="tagged")
    assert predicted_spans(dev) == spans
    assert {name: module.training for name, module in model.named_modules()} == modes  # train mode is back


def test_evaluation_mode_restores_each_submodule_and_also_after_an_error(tiny):
    model = make_model(tiny)
    model.train()
    model.rnn.eval()  # a submodule that keeps itself in eval mode (as Flair's frozen LMs do) stays so
    with pytest.raises(RuntimeError, match="boom"):
        with evaluation_mode(model):
            assert not any(module.training for module in model.modules())
            assert not torch.is_grad_enabled()
            raise RuntimeError("boom")
    assert model.training and model.locked_dropout.training and not model.rnn.training
    assert torch.is_grad_enabled()


class Modes(TrainerPlugin):
    """Whether dropout is active at each batch, and after each epoch (after its dev evaluation)."""

    def __init__(self, model):
        super().__init__()
        self.tagger, self.batches, self.after_epochs = model, [], []

    @TrainerPlugin.hook
    def after_training_batch(self, **kw):
        self.batches.append(self.tagger.training and self.tagger.locked_dropout.training)

    @TrainerPlugin.hook
    def after_training_epoch(self, row, **kw):
        assert row["dev_f1"] is not None  # the dev evaluation ran before this hook
        self.after_epochs.append(self.tagger.training and self.tagger.locked_dropout.training)


def test_recorded_f1_is_what_the_saved_model_scores_and_training_goes_on_with_dropout(default_embeddings, tmp_path):
    target = load_corpus(T, samples=True, train_size=120, seed=1)
    target._dev = type(target.dev)(list(target.dev)[:30])
    target._test = type(target.test)(list(target.test)[:30])
    flair.set_seed(1)
    model = MultiHeadTagger.from_corpora(default_embeddings, [target], hidden_size=32)
    modes = Modes(model)
    trainer = AuxiliaryTrainer(model, [target], plugins=[modes])
    result = trainer.train(T, [], SingleTask(), base_path=tmp_path / "run", max_epochs=5, mini_batch_size=8,
                           progress=False)
    assert modes.after_epochs == [True] * 5 and all(modes.batches) and len(modes.batches) == 5 * 15
    metrics = strict_json((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["f1"] == result.test["f1"] > 0.0
    reloaded = MultiHeadTagger.load(tmp_path / "run" / "final-model.pt")
    reloaded.train()  # a user's model in train mode still scores the recorded number
    for split, recorded in (("dev", metrics["dev"]), ("test", metrics["test"])):
        again = reloaded.evaluate(list(getattr(target, split)), head=T)
        assert again.main_score == recorded["f1"]
        assert again.scores["micro avg precision"] == recorded["precision"]
    # the saved prediction file is what the reloaded model predicts
    predicted = [line.split()[2] for line in (tmp_path / "run" / "test-predictions.conll").read_text().splitlines()
                 if line.strip()]
    out = tmp_path / "again.conll"
    reloaded.evaluate(list(target.test), head=T, out_path=out)
    assert [line.split()[2] for line in out.read_text().splitlines() if line.strip()] == predicted


def test_an_absurd_learning_rate_stops_the_run_as_failed_never_done(tiny, tmp_path):
    class Steps(TrainerPlugin):
        count = 0

        @TrainerPlugin.hook
        def after_training_batch(self, **kw):
            Steps.count += 1

    trainer = AuxiliaryTrainer(make_model(tiny), tiny, plugins=[Steps()])
    settings = dict(base_path=tmp_path / "run", learning_rate=1e12, max_grad_norm=None, max_epochs=5,
                    mini_batch_size=16, progress=False)
    with pytest.raises(TrainingDiverged) as caught:
        trainer.train(T, [], SingleTask(), **settings)
    message = str(caught.value)
    assert "diverged in epoch" in message and "learning_rate (now 1000000000000.0)" in message
    assert str(tmp_path / "run") in message and caught.value.run_id in message
    assert not (tmp_path / "run" / "metrics.json").exists() and not (tmp_path / "run" / "checkpoint.pt").exists()
    failure = strict_json((tmp_path / "run" / "failed.json").read_text())
    assert failure["status"] == "failed" and failure["epoch"] == caught.value.epoch
    steps = Steps.count
    assert steps < 5 * 3  # it stopped early

    with pytest.raises(TrainingDiverged, match="retry it with retry_failed"):
        trainer.train(T, [], SingleTask(), **settings)
    assert Steps.count == steps  # not trained again
    with pytest.raises(TrainingDiverged, match="diverged in epoch"):
        trainer.train(T, [], SingleTask(), retry_failed=True, **settings)
    assert Steps.count == 2 * steps  # trained again on request, same steps, same divergence

    healthy = trainer.train(T, [], SingleTask(), **{**settings, "learning_rate": 0.1, "max_epochs": 1})
    assert healthy.run_id != caught.value.run_id and math.isfinite(healthy.history[0]["target_loss"])


RECIPE = """\
name: diverging
output_dir: {out}
samples: true
device: cpu
embeddings: default-small
model: {{hidden_size: 8}}
corpora:
  ncbi-disease: {{train_size: 30}}
  s800: {{train_size: 20}}
targets: [ncbi-disease]
schedules: [single-task, single-aux-best]
grid:
  learning_rate: [1.0e+12, 0.1]
  mini_batch_size: [16]
training: {{max_epochs: 1, max_grad_norm: null}}
seeds: [1]
"""


@pytest.mark.integration
def test_a_study_records_diverged_runs_as_failed_and_keeps_its_index_strict_json(tmp_path, capsys):
    recipe = tmp_path / "diverging.yaml"
    recipe.write_text(RECIPE.format(out=tmp_path / "study"))
    assert main(["run", str(recipe), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert "2 of 4 runs done, 2 failed" in captured.out
    errors = [line for line in captured.err.splitlines() if line.startswith("flair-munch: error:")]
    assert len(errors) == 2 and all("learning_rate (now 1000000000000.0)" in line for line in errors)
    assert any("needs run" in line for line in errors)  # single-aux-best: its SingleAux run diverged
    records = [strict_json(line) for line in (tmp_path / "study" / "results.jsonl").read_text().splitlines()]
    assert sorted(r["hparams"]["learning_rate"] for r in records) == [0.1, 0.1]
    for path in (tmp_path / "study").rglob("*.json"):
        strict_json(path.read_text())
    assert main(["run", str(recipe), "--dry-run"]) == 0
    assert "2 of 4 runs done, 2 failed (0 to run)" in capsys.readouterr().out


def test_aux_corpora_without_a_schedule_are_warned_about(tiny, tmp_path, caplog):
    trainer = AuxiliaryTrainer(make_model(tiny), tiny)
    with caplog.at_level("WARNING", logger="flair_munch"):
        trainer.train(T, [CHEM], base_path=tmp_path / "run", max_epochs=1, mini_batch_size=16, progress=False)
    assert "auxiliary corpora ['bc5cdr-chem'] are given without a schedule" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="flair_munch"):
        trainer.train(T, [CHEM], SingleTask(), base_path=tmp_path / "explicit", max_epochs=1, mini_batch_size=16,
                      progress=False)
    assert "without a schedule" not in caplog.text
