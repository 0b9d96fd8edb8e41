"""The trainer's core: typed settings, one run identity, Flair's own plugins attached to the loop."""

import dataclasses
from types import SimpleNamespace

import pytest
import torch

import flair
from flair.data import MultiCorpus
from flair.embeddings import OneHotEmbeddings
from flair.trainers.plugins.loggers.loss_file import LossFilePlugin
from flair.trainers.plugins.loggers.metric_history import MetricHistoryPlugin

from flair_munch.corpora import load_corpus
from flair_munch.models import MultiHeadTagger
from flair_munch.training import AuxiliaryTrainer, MunchStack, SingleAux, SingleAuxBest, TrainingSettings
from flair_munch.training.identity import RunIdentity, content_basis
from flair_munch.training.loop import LoopInputs, TrainingLoop
from flair_munch.training.planning import PlanningContext
from flair_munch.training.run_directory import RunDirectory
from flair_munch.training.schedules import Stage, Step
from flair_munch.training.settings import FIELDS, FINE_TUNING

T, CHEM, S800 = "ncbi-disease", "bc5cdr-chem", "s800"


@pytest.fixture(scope="module")
def tiny():
    corpora = [load_corpus(T, samples=True, train_size=24, seed=1), load_corpus(CHEM, samples=True, train_size=16, seed=1),
               load_corpus(S800, samples=True, train_size=16, seed=1)]
    for corpus in corpora:
        corpus._dev = type(corpus.dev)(list(corpus.dev)[:12])
        corpus._test = type(corpus.test)(list(corpus.test)[:12])
    return corpora


def make_trainer(corpora, plugins=(), **kwargs):
    flair.set_seed(1)
    embeddings = OneHotEmbeddings.from_corpus(MultiCorpus(corpora), embedding_length=8, min_freq=1)
    return AuxiliaryTrainer(MultiHeadTagger.from_corpora(embeddings, corpora, hidden_size=8), corpora,
                            plugins=plugins, **kwargs)


def test_settings_are_one_frozen_validated_dataclass():
    settings = TrainingSettings(max_epochs=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_epochs = 4
    with pytest.raises(ValueError, match="max_grad_norm must be a number > 0 or null"):
        TrainingSettings(max_grad_norm=-1.0)
    with pytest.raises(ValueError, match="anneal_factor must be a number between 0 and 1"):
        settings.replace(anneal_factor=2)
    with pytest.raises(TypeError, match="unknown training settings \\['learnig_rate'\\]"):
        settings.replace(learnig_rate=0.1)
    assert FINE_TUNING.optimizer == "AdamW" and FINE_TUNING.replace(max_epochs=2).learning_rate == 5e-5
    # options that cannot change the numbers stay out of the run id; every other one is in it
    assert {n for n, f in FIELDS.items() if not f.metadata["in_run_id"]} == {
        "progress", "eval_batch_size", "checkpoint_every", "retry_failed"}
    assert set(settings.identity()) == set(FIELDS) - {"progress", "eval_batch_size", "checkpoint_every", "retry_failed",
                                                      "precision"}  # fp32 stays out: the ids of before (DEFAULTS_NOT_IN_ID)


def test_the_recipe_schema_reads_the_dataclass():
    from flair_munch.recipes.recipe import TRAINING_KEYS, TRAINING_MOVED

    assert set(TRAINING_KEYS) == set(FIELDS) - set(TRAINING_MOVED)
    assert TRAINING_KEYS["max_grad_norm"][1] == 5.0 and TRAINING_KEYS["optimizer"][1] == "SGD"


def test_train_takes_settings_and_overrides_and_rejects_bad_values(tiny, tmp_path):
    trainer = make_trainer(tiny)
    with pytest.raises(ValueError, match="lr_schedule must be one of anneal, linear-warmup"):
        trainer.train(T, [], base_path=tmp_path / "bad", lr_schedule="cosine")
    result = trainer.train(T, [], base_path=tmp_path / "run", settings=TrainingSettings(max_epochs=5, progress=False),
                           max_epochs=1, mini_batch_size=8)
    assert result.epochs == 1 and result.updates == {"shared": 3, T: 3}
    assert result.settings["max_epochs"] == 1 and result.settings["mini_batch_size"] == 8


def test_one_identity_for_runs_and_sub_runs(tiny, tmp_path):
    trainer = make_trainer(tiny, cache_dir=tmp_path / "shared")
    settings = TrainingSettings(max_epochs=1, mini_batch_size=8, progress=False)
    best = trainer.train(T, [CHEM, S800], SingleAuxBest(), tmp_path / "best", settings)
    # the sub-run's folder and metrics hold the id the identity gives; the selection's run has its own
    sub = RunIdentity(T, (best.selection["chosen"],), SingleAux(best.selection["chosen"]).settings(),
                      settings.identity(), trainer.identity_basis)
    folder = tmp_path / "shared" / f"single-aux_{T}_{best.selection['chosen']}_{sub.run_id}"
    assert (folder / "metrics.json").is_file()
    assert RunIdentity(T, (CHEM, S800), SingleAuxBest().settings(), settings.identity(),
                       trainer.identity_basis).run_id == best.run_id
    # a second trainer over the same corpora and model finds every run, sub-runs included
    again = make_trainer(tiny, cache_dir=tmp_path / "shared")
    assert again.train(T, [CHEM, S800], MunchStack(order="dev-sorted"), tmp_path / "stack", settings).epochs == 2
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == sorted(
        f"single-aux_{T}_{aux}_" + RunIdentity(T, (aux,), SingleAux(aux).settings(), settings.identity(),
                                                 trainer.identity_basis).run_id for aux in (CHEM, S800))


def test_run_ids_follow_the_corpora_the_model_and_every_setting_that_counts(tiny):
    trainer = make_trainer(tiny)
    basis = trainer.identity_basis
    assert content_basis(trainer.model, trainer.corpora) == basis  # deterministic
    ids = {RunIdentity(T, (), {"name": "single-task"}, TrainingSettings(**change).identity(), basis).run_id
           for change in ({}, {"progress": False, "checkpoint_every": 60}, {"eval_batch_size": 8})}
    assert len(ids) == 1
    other = RunIdentity(T, (), {"name": "single-task"}, TrainingSettings(patience=3).identity(), basis).run_id
    assert other not in ids
    smaller = [load_corpus(T, samples=True, train_size=20, seed=1), *tiny[1:]]
    assert content_basis(trainer.model, {c.name: c for c in smaller}).corpora[T] != basis.corpora[T]
    # a store that rounds the vectors (as a recipe's embedding_store_dtype does) makes other runs; float32 does not
    assert content_basis(trainer.model, trainer.corpora, store_dtype="float32") == basis
    def run_id(b):
        return RunIdentity(T, (), {"name": "single-task"}, TrainingSettings().identity(), b).run_id

    rounded = {run_id(content_basis(trainer.model, trainer.corpora, store_dtype=d)) for d in ("float16", "bfloat16")}
    assert len(rounded) == 2 and run_id(basis) not in rounded


def test_flairs_own_plugins_receive_every_epoch(tiny, tmp_path):
    history, loss_file = MetricHistoryPlugin(), LossFilePlugin(tmp_path / "flair", epoch=0)
    trainer = make_trainer(tiny, plugins=[history, loss_file])
    result = trainer.train(T, [CHEM, S800], MunchStack(order="given"), tmp_path / "run", max_epochs=2,
                           mini_batch_size=8, progress=False)
    rows = (tmp_path / "flair" / "loss.tsv").read_text().splitlines()
    assert rows[0].split("\t")[:4] == ["EPOCH", "TIMESTAMP", "LEARNING_RATE", "TRAIN_LOSS"]
    assert [int(row.split("\t")[0]) for row in rows[1:]] == [1, 2, 3, 4]  # two stages x two epochs, counted on
    assert [float(row.split("\t")[3]) for row in rows[1:]] == pytest.approx(
        [row["target_loss"] for row in result.history], abs=1e-4)
    assert trainer.return_values["train_loss_history"] == [row["target_loss"] for row in result.history]
    assert trainer.return_values["dev_score_history"] == [row["dev_f1"] for row in result.history]


def test_evaluating_dev_every_epoch_does_not_change_the_trained_model(tiny, tmp_path):
    """A DataLoader draws its seed from the global RNG: evaluation must not shift training's random stream."""
    results = {}
    for evaluate_dev in (True, False):
        flair.set_seed(1)
        trainer = make_trainer(tiny)
        results[evaluate_dev] = trainer.train(tiny[0].name, [], base_path=tmp_path / str(evaluate_dev), max_epochs=3,
                                              evaluate_dev=evaluate_dev, progress=False, save_model=False)
    with_dev, without = results[True], results[False]
    assert [row["dev_f1"] is not None for row in with_dev.history] == [True] * 3
    assert [row["dev_f1"] for row in without.history] == [None] * 3
    # dropout draws differ from epoch 2 on without the fork: the losses would part there
    assert [row["target_loss"] for row in with_dev.history] == [row["target_loss"] for row in without.history]
    assert with_dev.test == without.test


def test_the_loop_reads_only_its_inputs_and_trains_as_the_trainer_does(tiny, tmp_path):
    """``TrainingLoop`` sees a ``LoopInputs``, never the run or the trainer: built by hand, it trains the same model."""
    settings = TrainingSettings(max_epochs=1, mini_batch_size=8, progress=False, evaluate_dev=False)
    trainer = make_trainer(tiny)
    trainer.train(T, [], base_path=tmp_path / "run", settings=settings)
    model, corpora, events = make_trainer(tiny).model, {c.name: c for c in tiny}, []

    def diverged(what, stage, epoch):
        raise AssertionError(what)

    inputs = LoopInputs(model=model, settings=settings, target=T, run_id="by-hand", schedule_name="single-task",
                        directory=RunDirectory(tmp_path / "by-hand", "by-hand"), storage="none",
                        training_sentences=lambda name: list(corpora[name].train), weights=model.state_dict,
                        load_weights=model.load_state_dict, evaluate_dev=lambda: None, diverged=diverged,
                        dispatch=lambda event, *args, **kwargs: events.append(event))
    initial = {key: value.clone() for key, value in model.state_dict().items()}
    state = TrainingLoop(inputs, [Stage("single-task", (Step((T,)),) * 3)]).train()
    assert dict(state.updates) == {"shared": 3, T: 3} and events.count("before_training_optimizer_step") == 3
    assert events[0] == "after_setup" and events[-1] == "after_training_loop"
    trained = trainer.model.state_dict()
    assert all(torch.equal(value, trained[key]) for key, value in model.state_dict().items())
    assert not all(torch.equal(value, initial[key]) for key, value in model.state_dict().items())


def test_planning_reaches_other_runs_only_through_the_train_sub_run_it_is_given(tiny, tmp_path):
    """No back-reference to the trainer: selection and peers ask the callable, with train-only prerequisites."""
    calls = []

    def train_sub_run(target, aux, schedule, base_path, settings):
        calls.append((target, aux, schedule.settings(), base_path.parent, settings.train_with_dev))
        return SimpleNamespace(dev={"f1": {CHEM: 0.4, S800: 0.6}[aux[0]]} if len(aux) == 1 else None)

    settings, schedule = TrainingSettings(train_with_dev=True), SingleAuxBest(aux_ratio=2)
    identity = RunIdentity(T, (CHEM, S800), schedule.settings(), settings.identity(), make_trainer(tiny).identity_basis)
    ctx = PlanningContext({c.name: c for c in tiny}, train_sub_run, identity, settings, tmp_path / "runs" / "best",
                          schedule, tmp_path / "shared")
    assert schedule.choose(ctx).aux == [S800]
    ctx.peer_result(MunchStack(order="given"))
    single_aux = [(T, [aux], {"name": "single-aux", "aux": aux, "aux_ratio": 2.0}, tmp_path / "shared", False)
                  for aux in (CHEM, S800)]
    assert calls == single_aux + [(T, [CHEM, S800], {"name": "munch-stack", "order": "given"}, tmp_path / "runs",
                                   True)]
