"""AttentionFusionTagger (BERT-BiLSTM-AM-CRF, docs/methods.md §4): trains under SingleAux, reloads, attends one way only."""

import pytest
import torch

import flair
from flair.data import Sentence

from flair_munch.corpora import load_corpus
from flair_munch.corpora.conll import CORPUS_LABEL_TYPE
from flair_munch.models import AttentionFusionTagger
from flair_munch.training import AuxiliaryTrainer, SingleAux

T, A = "ncbi-disease", "bc5cdr-chem"


def tiny(name):
    corpus = load_corpus(name, samples=True, train_size=40, seed=1)
    corpus._dev = type(corpus.dev)(list(corpus.dev)[:20])
    corpus._test = type(corpus.test)(list(corpus.test)[:20])
    return corpus


@pytest.fixture(scope="module")
def corpora():
    return [tiny(T), tiny(A)]


def make(embeddings, corpora, seed=1, **kwargs):
    flair.set_seed(seed)
    options = {"hidden_size": 16, "attention_heads": 2, **kwargs}
    return AttentionFusionTagger.from_corpora(embeddings, corpora, target=T, **options)


def batch(corpus, n=8):
    return sorted(list(corpus.train)[:n], key=len, reverse=True)


def unlabelled(sentences):
    """Copies with the ``corpus`` label only (no gold spans), to predict on."""
    copies = []
    for sentence in sentences:
        copies.append(Sentence([token.text for token in sentence]))
        copies[-1].add_label(CORPUS_LABEL_TYPE, sentence.get_label(CORPUS_LABEL_TYPE).value)
    return copies


def head_scores(model, sentences, head):
    """The CRF scores ``head`` gives ``sentences`` (eval mode), as ``predict`` computes them."""
    with torch.no_grad():
        encoded, lengths = model.encode(sentences)
        return model.heads[head](encoded, lengths)[0]


def perturb(module):
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))


def test_target_loss_falls_under_single_aux_with_the_auxiliary_trainer(corpora, default_embeddings, tmp_path):
    model = make(default_embeddings, corpora)
    attention_before = model.attention.in_proj_weight.detach().clone()
    result = AuxiliaryTrainer(model, corpora).train(
        T, [A], SingleAux(A), base_path=tmp_path / "run", learning_rate=0.1, mini_batch_size=8, max_epochs=4,
        evaluate_dev=False, save_model=False, progress=False,
    )
    losses = [row["target_loss"] for row in result.history]
    assert len(losses) == 4
    assert losses[-1] < 0.8 * losses[0], losses
    assert result.updates[T] == result.updates[A] == 4 * 5  # ITER = 40 / 8 target steps, each after an aux step
    assert all(A in row["losses"] for row in result.history)
    assert not torch.equal(model.attention.in_proj_weight.detach(), attention_before)  # the target path trains it
    assert result.test is not None and 0.0 <= result.test["f1"] <= 1.0


def test_save_and_load_predict_identically(corpora, default_embeddings, tmp_path):
    model = make(default_embeddings, corpora, seed=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(6):  # trained a little, so CRF transitions and attention are not at their initial values
        loss, _ = model.forward_loss(batch(corpora[step % 2]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.save(tmp_path / "model.pt")
    loaded = AttentionFusionTagger.load(tmp_path / "model.pt")
    assert type(loaded) is AttentionFusionTagger
    assert loaded.config() == model.config() and loaded.target == T and loaded.aux_names == [A]
    model.eval()
    loaded.eval()

    mixed = sorted(batch(corpora[0]) + batch(corpora[1]), key=len, reverse=True)
    encoded, _ = model.encode(mixed)
    assert torch.equal(encoded, loaded.encode(mixed)[0])
    def losses(m):
        return {name: (term.item(), count) for name, (term, count) in m.forward_loss_per_head(mixed).items()}

    assert losses(loaded) == losses(model) and set(losses(model)) == {T, A}

    for head in (T, A, None):
        ours, theirs = unlabelled(mixed), unlabelled(mixed)
        model.predict(ours, head=head, return_probabilities_for_all_classes=True)
        loaded.predict(theirs, head=head, return_probabilities_for_all_classes=True)
        for a, b in zip(ours, theirs):
            assert [(s.unlabeled_identifier, s.tag, s.score) for s in a.get_spans("ner")] == \
                   [(s.unlabeled_identifier, s.tag, s.score) for s in b.get_spans("ner")]
            assert [[l.score for l in t.tags_proba_dist["ner"]] for t in a] == \
                   [[l.score for l in t.tags_proba_dist["ner"]] for t in b]
    assert model.evaluate(mixed, head=None).scores["per_head"].keys() == {T, A}


def test_target_scores_depend_on_the_aux_bilstm_and_aux_scores_not_on_the_target_bilstm(corpora, default_embeddings):
    model = make(default_embeddings, corpora).eval()
    target, aux = batch(corpora[0]), batch(corpora[1])
    target_before, aux_before = head_scores(model, target, T), head_scores(model, aux, A)

    flair.set_seed(3)
    perturb(model.rnns[T])
    perturb(model.attention)
    assert not torch.allclose(head_scores(model, target, T), target_before)
    assert torch.equal(head_scores(model, aux, A), aux_before)

    target_before = head_scores(model, target, T)
    perturb(model.rnns[A])
    assert not torch.allclose(head_scores(model, target, T), target_before, atol=1e-4)
    assert not torch.allclose(head_scores(model, aux, A), aux_before, atol=1e-4)


def test_training_gradients_flow_from_target_into_aux_bilstm_only_one_way(corpora, default_embeddings):
    model = make(default_embeddings, corpora)
    per_head = model.forward_loss_per_head(batch(corpora[1]))
    assert set(per_head) == {A}
    per_head[A][0].backward()
    assert all(p.grad is None for p in [*model.rnns[T].parameters(), *model.attention.parameters(),
                                        *model.heads[T].parameters()])
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.rnns[A].parameters())

    model.zero_grad(set_to_none=True)
    per_head = model.forward_loss_per_head(batch(corpora[0]))
    assert set(per_head) == {T}
    per_head[T][0].backward()
    for module in (model.rnns[T], model.rnns[A], model.attention):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    assert all(p.grad is None for p in model.heads[A].parameters())


def test_arguments_are_checked(corpora, default_embeddings):
    with pytest.raises(ValueError, match="at least one auxiliary"):
        AttentionFusionTagger.from_corpora(default_embeddings, corpora[:1], hidden_size=8)
    with pytest.raises(ValueError, match="target 's800' is not one of the heads"):
        AttentionFusionTagger.from_corpora(default_embeddings, corpora, target="s800", hidden_size=8)
    with pytest.raises(ValueError, match="attention_heads must divide"):
        AttentionFusionTagger.from_corpora(default_embeddings, corpora, hidden_size=8, attention_heads=3)
    model = AttentionFusionTagger.from_corpora(default_embeddings, corpora, hidden_size=8)
    assert model.target == T and model.aux_names == [A]
    assert model.heads[T].linear.in_features == 32 and model.heads[A].linear.in_features == 16
