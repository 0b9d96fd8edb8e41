"""MUNCH-Conc's pooled batches (issue 21), the step-count control and pretrain + fine-tune: exact steps and heads."""

import copy
import itertools
import json

import pytest
import torch

import flair
from flair.data import MultiCorpus
from flair.embeddings import OneHotEmbeddings
from flair.trainers.plugins import TrainerPlugin

from flair_munch.models import MultiHeadTagger
from flair_munch.training import AnnealOnTrainLoss, AuxiliaryTrainer, MatchedSingleTask, MunchConc, SingleAux

from schedule_helpers import (  # noqa: F401  (tiny is a fixture)
    CHEM, S800, T, Recorder, make_trainer, run, sizes, tiny,
)


def test_munch_conc_draws_aux_batches_from_the_pooled_aux_corpora(tiny, tmp_path):
    recorder, _ = run(tiny, tmp_path, MunchConc(), max_epochs=1)
    steps = sizes(recorder)
    assert [size for _, size in steps] == [16, 16, 16, 16, 16, 8]
    aux_steps, target_steps = steps[0::2], steps[1::2]
    assert all(corpus == T for corpus, _ in target_steps)
    pooled = [corpus for corpus, _ in aux_steps]
    assert T not in pooled and T not in itertools.chain(*[c for c in pooled if isinstance(c, tuple)])
    assert any(isinstance(c, tuple) for c in pooled), "a pooled batch of 16 from 20 + 30 sentences mixes corpora"


def test_munch_conc_over_one_aux_corpus_is_single_aux_step_for_step(tiny, tmp_path):
    """With a pool of one corpus, Conc is SingleAux: the same batches, losses, updates and final scores."""
    conc_steps, conc = run(tiny, tmp_path / "conc", MunchConc(), max_epochs=2, aux=[CHEM])
    aux_steps, single = run(tiny, tmp_path / "single", SingleAux(CHEM), max_epochs=2, aux=[CHEM])
    assert len(conc_steps.steps) == 12 and conc_steps.steps == aux_steps.steps
    assert [row["losses"] for row in conc.history] == [row["losses"] for row in single.history]
    assert conc.updates == single.updates and conc.dev == single.dev and conc.test == single.test


def test_munch_conc_scores_each_sentence_of_a_pooled_batch_by_its_own_corpus_s_head(tiny, tmp_path):
    """The loss a pooled step back-propagates is each corpus's sentences scored by that corpus's head, summed;
    the step updates those heads and no other."""
    flair.set_seed(1)
    embeddings = OneHotEmbeddings.from_corpus(MultiCorpus(tiny), embedding_length=8, min_freq=1)
    model = MultiHeadTagger.from_corpora(embeddings, tiny, hidden_size=8, word_dropout=0.0, locked_dropout=0.0)
    seen = []

    class Check(TrainerPlugin):
        @TrainerPlugin.hook
        def before_training_batch(self, batch, **kw):
            by_corpus = itertools.groupby(sorted(batch, key=lambda s: s.get_label("corpus").value),
                                          key=lambda s: s.get_label("corpus").value)
            with torch.no_grad():  # scored by the named head, whatever routing the model would do
                self.expected = sum(model.predict(list(group), head=corpus, return_loss=True, label_name="seen")[0]
                                    for corpus, group in by_corpus).item()
            for sentence in batch:
                sentence.remove_labels("seen")
            self.heads = {name: copy.deepcopy(head.state_dict()) for name, head in model.heads.items()}

        @TrainerPlugin.hook
        def after_training_batch(self, step, batch, loss, **kw):
            moved = {name for name, head in model.heads.items()
                     if any(not torch.equal(v, self.heads[name][k]) for k, v in head.state_dict().items())}
            seen.append((len(step.source), loss, self.expected, moved, {s.get_label("corpus").value for s in batch}))

    trainer = AuxiliaryTrainer(model, tiny, cache_dir=tmp_path / "cache", plugins=[Check()])
    trainer.train(T, schedule=MunchConc(), base_path=tmp_path / "run", max_epochs=1, mini_batch_size=16,
                  progress=False)
    pooled = [row for row in seen if row[0] > 1]
    assert len(pooled) == 3 and any(len(corpora) > 1 for *_, corpora in pooled)
    for _, loss, expected, moved, corpora in seen:
        assert loss == pytest.approx(expected, rel=1e-5)
        assert moved == corpora


def test_pretrain_finetune_trains_the_source_alone_then_the_target_alone(tiny, tmp_path, monkeypatch):
    from flair_munch.training import PretrainFinetune

    seen = []
    original = AnnealOnTrainLoss.step

    def record(self, loss):
        seen.append(loss)
        return original(self, loss)

    monkeypatch.setattr(AnnealOnTrainLoss, "step", record)
    recorder, result = run(tiny, tmp_path, PretrainFinetune(source=S800), max_epochs=2, aux=[S800])
    assert sizes(recorder) == [(S800, 16), (S800, 14)] * 2 + [(T, 16), (T, 16), (T, 8)] * 2
    assert result.stages == [f"pretrain[{S800}]", "finetune"]
    pretrain = [row for row in result.history if row["stage"].startswith("pretrain")]
    assert [row["target_loss"] for row in pretrain] == seen[:2]  # the source's loss anneals the first stage
    assert all(loss == loss for loss in seen)  # never NaN: each stage converges on a corpus it trains
    assert result.updates[S800] == 4 and result.updates[T] == 6
    with pytest.raises(ValueError, match="needs one source corpus"):
        run(tiny, tmp_path / "two", PretrainFinetune(), max_epochs=1)


def test_matched_single_task_trains_the_target_updates_of_the_run_it_matches(tiny, tmp_path):
    recorder = Recorder()
    trainer = make_trainer(tiny, tmp_path, [recorder])
    options = dict(max_epochs=2, mini_batch_size=16, progress=False)
    control = trainer.train(T, schedule=MatchedSingleTask(match="munch-iter"), base_path=tmp_path / "runs" / "c",
                            **options)
    peers = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/metrics.json") if p.parent.name != "c"]
    assert [peer["schedule"] for peer in peers] == ["munch-iter"]  # trained first, beside the control's folder
    peer_updates = peers[0]["updates"][T]
    assert peer_updates > 2 * 3  # MUNCH-Iter makes more target updates in 2 epochs than SingleTask's 2 x ITER
    assert control.updates[T] == control.updates["shared"] == peer_updates  # matched, on the target alone
    assert control.epochs == peer_updates // 3 and control.epochs > options["max_epochs"]  # beyond the epoch cap
    control_steps = recorder.steps[-control.updates["shared"]:]
    assert {corpus for corpus, *_ in control_steps} == {T}
    again = trainer.train(T, schedule=MatchedSingleTask(match="munch-iter"), base_path=tmp_path / "runs" / "c2",
                          **options)  # another folder: a new run of the control, but the peer is found, not retrained
    assert again.updates == control.updates and len(list((tmp_path / "runs").glob("*/metrics.json"))) == 3
