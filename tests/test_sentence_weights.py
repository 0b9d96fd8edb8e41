"""Per-sentence loss weights: the heads' weighted loss, and similarity weights of auxiliary sentences (docs/methods.md §4)."""

import pytest
import torch

import flair
from flair.data import Sentence

from flair_munch.corpora import load_corpus
from flair_munch.corpora.conll import CORPUS_LABEL_TYPE
from flair_munch.models import LOSS_WEIGHT, AttentionFusionTagger, MultiHeadTagger, loss_weights
from flair_munch.training import AuxiliaryTrainer, SingleAux
from flair_munch.training.sentence_weights import clear_weights, sentence_vectors, similarity_weights

T, A = "ncbi-disease", "bc5cdr-chem"
WEIGHTS = [0.0, 0.5, 2.0, 1.0, 3.25, 0.1, 1.7, 0.9]


@pytest.fixture(scope="module")
def corpora():
    corpora = [load_corpus(name, samples=True, train_size=40, seed=1) for name in (T, A)]
    for corpus in corpora:
        corpus._dev = type(corpus.dev)(list(corpus.dev)[:10])
        corpus._test = type(corpus.test)(list(corpus.test)[:10])
    return corpora


def copies(sentences):
    """Copies with gold spans and corpus label (weights set on them do not leak into the shared corpora)."""
    result = []
    for sentence in sentences:
        copy = Sentence([token.text for token in sentence])
        copy.add_label(CORPUS_LABEL_TYPE, sentence.get_label(CORPUS_LABEL_TYPE).value)
        for span in sentence.get_spans("ner"):
            copy[span.tokens[0].idx - 1 : span.tokens[-1].idx].add_label("ner", span.tag)
        result.append(copy)
    return result


MODELS = {
    "crf": lambda emb, corpora: MultiHeadTagger.from_corpora(emb, corpora, hidden_size=16),
    "softmax": lambda emb, corpora: MultiHeadTagger.from_corpora(emb, corpora, hidden_size=16, use_crf=False),
    "attention-fusion": lambda emb, corpora: AttentionFusionTagger.from_corpora(emb, corpora, hidden_size=16),
}


@pytest.mark.parametrize("kind", list(MODELS))
def test_weighted_batch_loss_is_the_weighted_sum_of_sentence_losses(corpora, default_embeddings, kind):
    flair.set_seed(1)
    model = MODELS[kind](default_embeddings, corpora).eval()
    batch = copies(list(corpora[0].train)[:4] + list(corpora[1].train)[:4])  # both heads, several lengths
    alone = [model.forward_loss([sentence])[0].item() for sentence in batch]
    unweighted = model.forward_loss(batch)[0]
    assert unweighted.item() == pytest.approx(sum(alone), rel=1e-5)

    for sentence, weight in zip(batch, WEIGHTS):
        sentence.add_metadata(LOSS_WEIGHT, weight)
    weighted, count = model.forward_loss(batch)
    assert weighted.item() == pytest.approx(sum(w * loss for w, loss in zip(WEIGHTS, alone)), rel=1e-5)
    assert weighted.item() != pytest.approx(unweighted.item(), rel=1e-2)
    assert count == sum(len(s) for s in batch)
    weighted.backward()  # the weighted loss trains the model
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("kind", list(MODELS))
def test_weight_one_everywhere_is_the_unweighted_loss_and_clearing_restores_flair_s_loss(
        corpora, default_embeddings, kind):
    flair.set_seed(1)
    model = MODELS[kind](default_embeddings, corpora).eval()
    batch = copies(list(corpora[0].train)[:8])
    unweighted = model.forward_loss(batch)[0]
    for sentence in batch:
        sentence.add_metadata(LOSS_WEIGHT, 1.0)
    assert loss_weights(batch) == [1.0] * len(batch)
    assert model.forward_loss(batch)[0].item() == pytest.approx(unweighted.item(), rel=1e-6)

    clear_weights(batch)
    assert loss_weights(batch) is None
    assert torch.equal(model.forward_loss(batch)[0], unweighted)  # bit-identical: Flair's own loss again


def test_the_trainer_applies_the_weights(corpora, default_embeddings, tmp_path):
    """Auxiliary sentences of weight 0 never move their head; the target head trains as usual."""
    flair.set_seed(1)
    aux = corpora[1]
    model = AttentionFusionTagger.from_corpora(default_embeddings, corpora, hidden_size=8)
    trainer = AuxiliaryTrainer(model, corpora)
    for sentence in aux.train:
        sentence.add_metadata(LOSS_WEIGHT, 0.0)
    try:
        trainer.train(T, [A], SingleAux(A), base_path=tmp_path / "run", mini_batch_size=8, max_epochs=1,
                      evaluate_dev=False, save_model=False, progress=False)
    finally:
        clear_weights(aux.train)
    initial = trainer.initial_state
    state = model.state_dict()
    aux_keys = [k for k in state if k.startswith(f"heads.{A}.")]
    target_keys = [k for k in state if k.startswith(f"heads.{T}.")]
    assert aux_keys and target_keys
    assert all(torch.equal(state[k], initial[k]) for k in aux_keys)
    assert any(not torch.equal(state[k], initial[k]) for k in target_keys)


def test_similarity_weights_are_deterministic_non_negative_with_mean_one(corpora, default_embeddings):
    target, aux = corpora
    sentences = copies(list(aux.train)[:30])
    weights = similarity_weights(sentences, target.train, default_embeddings)
    assert weights == similarity_weights(copies(sentences), target.train, default_embeddings, attach=False)
    assert len(weights) == 30 and min(weights) >= 0.0
    assert sum(weights) / len(weights) == pytest.approx(1.0, abs=1e-12)
    assert max(weights) - min(weights) > 0.05  # the sentences do differ
    assert [s.get_metadata(LOSS_WEIGHT) for s in sentences] == weights
    assert loss_weights(sentences) == weights

    flat = similarity_weights(sentences, target.train, default_embeddings, d=0.0)
    assert flat == pytest.approx([1.0] * 30)
    sharp = similarity_weights(sentences, target.train, default_embeddings, d=8.0)
    assert torch.tensor(sharp).std() > torch.tensor(weights).std()
    assert sorted(range(30), key=sharp.__getitem__) == sorted(range(30), key=weights.__getitem__)

    clear_weights(sentences)
    assert loss_weights(sentences) is None and not any(s.has_metadata(LOSS_WEIGHT) for s in sentences)
    assert not any(s.has_metadata(LOSS_WEIGHT) for s in target.train)


def test_a_sentence_along_the_target_mean_gets_the_largest_weight(corpora, default_embeddings):
    target, aux = corpora
    anchor = list(target.train)[3]
    sentences = copies(list(aux.train)[:20])
    sentences.insert(7, copies([anchor])[0])
    vectors = sentence_vectors(sentences, default_embeddings)
    cosines = torch.nn.functional.cosine_similarity(vectors, vectors[7][None, :]).clamp_min(0.0)
    for d in (1.0, 3.0):
        weights = similarity_weights(sentences, [anchor], default_embeddings, d=d, attach=False)
        assert max(range(len(weights)), key=weights.__getitem__) == 7
        raw = cosines**d
        assert weights == pytest.approx((raw / raw.mean()).tolist(), rel=1e-6)  # max(cos, 0)^d / C, C = mean

    direction = 3.0 * sentence_vectors([sentences[12]], default_embeddings)[0]  # any positive multiple
    weights = similarity_weights(sentences, [], default_embeddings, target_vector=direction, attach=False)
    assert max(range(len(weights)), key=weights.__getitem__) == 12


def test_weights_that_cannot_be_normalised_are_refused(default_embeddings):
    sentences = [Sentence("aspirin"), Sentence("ibuprofen")]
    opposite = -sentence_vectors(sentences, default_embeddings).sum(0)
    with pytest.raises(ValueError, match="no auxiliary sentence has a positive cosine"):
        similarity_weights(sentences, [], default_embeddings, target_vector=opposite)
    with pytest.raises(ValueError, match="d must be >= 0"):
        similarity_weights(sentences, sentences, default_embeddings, d=-1.0)
    assert not any(s.has_metadata(LOSS_WEIGHT) for s in sentences)
