"""MultiHeadTagger: same model as SequenceTagger with one head, shared encoder, per-corpus heads, save/load."""

import copy

import pytest
import torch

import flair
from flair.data import Corpus, Sentence
from flair.models import SequenceTagger
from flair.trainers import ModelTrainer
from flair.training_utils import store_embeddings

from flair_munch.corpora import load_corpus
from flair_munch.models import MultiHeadTagger
from flair_munch.training import train_multi_corpus


def spans(sentences, label_type="ner"):
    return [[(s.unlabeled_identifier, s.tag) for s in sentence.get_spans(label_type)] for sentence in sentences]


def test_single_head_is_sequence_tagger(sample_corpora, default_embeddings):
    """Same seed, same corpus: identical weights, identical loss (train and eval mode), identical predictions."""
    corpus = sample_corpora[0]
    batch = list(corpus.train)[:16]
    flair.set_seed(7)
    ours = MultiHeadTagger.from_corpora(default_embeddings, [corpus])
    flair.set_seed(7)
    flairs = SequenceTagger(default_embeddings, corpus.make_label_dictionary("ner"), "ner")
    assert ours.heads[corpus.name].label_dictionary.get_items() == flairs.label_dictionary.get_items()

    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(flairs, mode)()
        flair.set_seed(3)
        loss_ours, count_ours = ours.forward_loss(batch)
        flair.set_seed(3)
        loss_flair, count_flair = flairs.forward_loss(batch)
        assert count_ours == count_flair
        assert loss_ours.item() == pytest.approx(loss_flair.item(), rel=1e-5)

    sentences = [Sentence([t.text for t in s]) for s in list(corpus.dev)[:20]]
    twins = copy.deepcopy(sentences)
    ours.predict(sentences)
    flairs.predict(twins)
    assert spans(sentences) == spans(twins)


def test_single_head_trains_like_sequence_tagger(default_embeddings, tmp_path):
    """Trained by Flair's own ModelTrainer with the same seed, both models follow the same trajectory.

    The corpus has no dev split, so that nothing but training draws random numbers (Flair's
    ``evaluate`` creates one DataLoader per batch, and each draws a seed from torch's generator).
    A 128-unit BiLSTM (not the default 256) keeps it fast; the trajectories match at any size.
    """
    full = load_corpus("ncbi-disease", samples=True)
    corpus = Corpus(train=full.train, dev=None, test=full.dev, sample_missing_splits=False)
    scores, losses = {}, {}
    for name in ("flair", "ours"):
        flair.set_seed(11)
        model = (
            SequenceTagger(default_embeddings, full.make_label_dictionary("ner"), "ner", hidden_size=128)
            if name == "flair"
            else MultiHeadTagger.from_corpora(default_embeddings, [full], hidden_size=128)
        )
        ModelTrainer(model, corpus).train(
            tmp_path / name, max_epochs=4, mini_batch_size=8, embeddings_storage_mode="cpu",
            save_final_model=False, create_file_logs=False,
        )
        losses[name] = [line.split("\t")[3] for line in (tmp_path / name / "loss.tsv").read_text().splitlines()[1:]]
        scores[name] = model.evaluate(full.dev, gold_label_type="ner").main_score
    assert len(losses["ours"]) == 4
    assert [float(x) for x in losses["ours"]] == pytest.approx([float(x) for x in losses["flair"]], rel=1e-4)
    assert scores["ours"] == pytest.approx(scores["flair"], abs=1e-6)
    assert scores["ours"] > 0.25


def test_mixed_batch_is_scored_by_each_sentence_s_own_head(sample_corpora, default_embeddings):
    ncbi, chem = sample_corpora
    model = MultiHeadTagger.from_corpora(default_embeddings, sample_corpora).eval()
    a, b = list(ncbi.train)[:8], list(chem.train)[:8]
    per_head = model.forward_loss_per_head(a + b)
    assert set(per_head) == {"ncbi-disease", "bc5cdr-chem"}
    assert per_head["ncbi-disease"][0].item() == pytest.approx(model.forward_loss(a)[0].item(), rel=1e-5)
    assert per_head["bc5cdr-chem"][0].item() == pytest.approx(model.forward_loss(b)[0].item(), rel=1e-5)
    assert model.forward_loss(a + b)[1] == sum(len(s) for s in a + b)


def test_heads_have_separate_dictionaries_and_clear_routing_errors(sample_corpora, default_embeddings):
    model = MultiHeadTagger.from_corpora(default_embeddings, sample_corpora)
    assert model.heads["ncbi-disease"].entity_labels == ["Disease"]
    assert model.heads["bc5cdr-chem"].entity_labels == ["Chemical"]
    assert model.heads["ncbi-disease"].entity_type == "Disease"

    with pytest.raises(ValueError, match="no 'corpus' label.*several heads"):
        model.forward_loss([Sentence("aspirin causes headache")])
    with pytest.raises(KeyError, match="unknown head 'bc2gm'"):
        model.predict([Sentence("aspirin")], head="bc2gm")
    chem_sentence = next(s for s in sample_corpora[1].train if s.get_spans("ner"))
    with pytest.raises(ValueError, match="not in this head's tag dictionary"):
        model.predict([chem_sentence], head="ncbi-disease", return_loss=True)


def test_two_heads_learn_and_share_the_encoder(sample_corpora, default_embeddings):
    """A few epochs of SGD on two corpora (60 sentences each): loss falls, both heads tag them well."""
    flair.set_seed(5)
    model = MultiHeadTagger.from_corpora(default_embeddings, sample_corpora)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train = [s for corpus in sample_corpora for s in list(corpus.train)[:60]]
    epoch_losses = []
    for _ in range(10):
        total, tokens = 0.0, 0
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(len(epoch_losses))).tolist()
        for start in range(0, len(order), 8):
            batch = [train[i] for i in order[start : start + 8]]
            loss, count = model.forward_loss(batch)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            store_embeddings(batch, "cpu")
            total, tokens = total + loss.item(), tokens + count
        epoch_losses.append(total / tokens)
    assert epoch_losses[-1] < 0.3 * epoch_losses[0]
    for corpus in sample_corpora:
        f1 = model.evaluate(list(corpus.train)[:60], head=corpus.name).main_score
        assert f1 > 0.3, (corpus.name, f1)


def test_a_step_on_one_corpus_moves_the_shared_encoder_not_the_other_head(sample_corpora, default_embeddings):
    ncbi, chem = sample_corpora
    model = MultiHeadTagger.from_corpora(default_embeddings, sample_corpora).eval()
    chem_batch = list(chem.dev)[:4]
    before_head = copy.deepcopy(model.heads["bc5cdr-chem"].state_dict())
    with torch.no_grad():
        before = model.forward_loss(chem_batch)[0].item()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    loss, _ = model.forward_loss(list(ncbi.train)[:16])
    loss.backward()
    optimizer.step()
    for key, value in model.heads["bc5cdr-chem"].state_dict().items():
        assert torch.equal(value, before_head[key]), key
    with torch.no_grad():
        assert model.forward_loss(chem_batch)[0].item() != pytest.approx(before, rel=1e-6)


def test_save_load_round_trip_predicts_identically_and_stays_shared(sample_corpora, default_embeddings, tmp_path):
    flair.set_seed(2)
    model = MultiHeadTagger.from_corpora(default_embeddings, sample_corpora, hidden_size=64)
    with torch.no_grad():  # move away from the initial weights so the test sees trained values
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.01 * torch.randn_like(parameter))
    model.save(tmp_path / "model.pt")
    loaded = MultiHeadTagger.load(tmp_path / "model.pt")

    assert loaded.head_names == model.head_names
    assert sum(p.numel() for p in loaded.parameters()) == sum(p.numel() for p in model.parameters())
    assert [k for k in loaded.state_dict() if k.startswith("rnn.")] == [k for k in model.state_dict() if k.startswith("rnn.")]
    assert not [k for k in loaded.state_dict() if k.startswith("heads.") and ".rnn." in k]  # no per-head encoder
    for name in model.head_names:
        assert loaded.heads[name].label_dictionary.get_items() == model.heads[name].label_dictionary.get_items()
        assert loaded.heads[name].entity_type == model.heads[name].entity_type
    model.eval()
    loaded.eval()
    for corpus in sample_corpora:
        sentences = list(corpus.dev)[:30]
        with torch.no_grad():
            assert loaded.forward_loss(sentences)[0].item() == pytest.approx(model.forward_loss(sentences)[0].item())
        for head in model.head_names:
            plain = [Sentence([t.text for t in s]) for s in sentences]
            twins = copy.deepcopy(plain)
            model.predict(plain, head=head)
            loaded.predict(twins, head=head)
            assert spans(plain) == spans(twins)


def test_evaluate_writes_conll_and_scores_it_with_seqeval(sample_corpora, default_embeddings, tmp_path):
    from flair_munch.evaluation import span_scores

    model = MultiHeadTagger.from_corpora(default_embeddings, sample_corpora)
    dev = list(sample_corpora[0].dev)[:40] + list(sample_corpora[1].dev)[:40]
    result = model.evaluate(dev, out_path=tmp_path / "pred.conll")
    rows = [line.split("\t") for line in (tmp_path / "pred.conll").read_text().splitlines() if line]
    assert len(rows) == sum(len(s) for s in dev) and all(len(row) == 3 for row in rows)
    gold, predicted = [], []
    for line in (tmp_path / "pred.conll").read_text().split("\n\n"):
        cols = [row.split("\t") for row in line.splitlines() if row]
        if cols:
            gold.append([c[1] for c in cols])
            predicted.append([c[2] for c in cols])
    assert span_scores(gold, predicted).f1 == pytest.approx(result.main_score)
    assert set(result.scores["per_head"]) == {"ncbi-disease", "bc5cdr-chem"}
    assert all(not s.get_labels("predicted") for s in dev)


def test_train_multi_corpus_reports_test_f1_per_head(sample_corpora, default_embeddings, tmp_path):
    flair.set_seed(1)
    model = MultiHeadTagger.from_corpora(default_embeddings, sample_corpora, hidden_size=64)
    results = train_multi_corpus(model, sample_corpora, tmp_path, max_epochs=2, mini_batch_size=16)
    assert set(results) == {"ncbi-disease", "bc5cdr-chem", "_seconds"}
    for corpus in sample_corpora:
        assert (tmp_path / f"test-{corpus.name}.conll").is_file()
        assert 0.0 <= results[corpus.name]["f1"] <= 1.0
    reloaded = MultiHeadTagger.load(tmp_path / "final-model.pt")
    ncbi_test = load_corpus("ncbi-disease", samples=True).test
    assert reloaded.evaluate(ncbi_test, head="ncbi-disease").main_score == pytest.approx(results["ncbi-disease"]["f1"])


def test_config_is_the_constructor_arguments_and_a_registered_type_is_known(sample_corpora, default_embeddings):
    from flair_munch.models.registry import FROZEN_MODEL_TYPES, MODEL_TYPES, register_model, unregister_model
    from flair_munch.recipes.recipe import MODEL_KEYS_BY_TYPE

    @register_model("tiny-test", frozen=True)
    class TinyTagger(MultiHeadTagger):
        def __init__(self, embeddings, tag_dictionaries, width: int = 8, tag_type: str = "ner", entity_types=None,
                     init_from_state_dict: bool = False) -> None:
            super().__init__(embeddings, tag_dictionaries, tag_type=tag_type, entity_types=entity_types,
                             hidden_size=width, init_from_state_dict=init_from_state_dict)

    try:
        assert MODEL_TYPES["tiny-test"] is TinyTagger and "tiny-test" in FROZEN_MODEL_TYPES
        assert list(MODEL_KEYS_BY_TYPE["tiny-test"]) == ["width"]
        model = TinyTagger.from_corpora(default_embeddings, sample_corpora[:1], width=4)
        name = sample_corpora[0].name
        assert model.config() == {"width": 4, "tag_type": "ner", "entity_types": {name: "Disease"}}  # its own only
        assert model.hidden_size == 4 and MultiHeadTagger.load(model._get_state_dict()).config() == model.config()
    finally:
        unregister_model("tiny-test")
    assert "tiny-test" not in MODEL_TYPES
    plain = MultiHeadTagger.from_corpora(default_embeddings, sample_corpora[:1], hidden_size=16, use_crf=False)
    assert plain.config()["hidden_size"] == 16 and plain.config()["use_crf"] is False
    assert set(plain.config()) == set(MODEL_KEYS_BY_TYPE["multi-head"]) | {"tag_type", "entity_types"}


def test_a_bare_word_embeddings_is_frozen_for_model_trainer_and_store(sample_corpora, default_embeddings):
    """``WordEmbeddings.embeddings`` is its file name: the model once read its characters as parts ("not frozen")."""
    from flair_munch.embeddings.identity import is_frozen
    from flair_munch.embeddings.store import is_frozen as store_is_frozen
    from flair_munch.training.trainer import AuxiliaryTrainer

    words = default_embeddings.embeddings[0]  # the shipped stack's bare WordEmbeddings
    assert isinstance(words.embeddings, str) and is_frozen(words) and store_is_frozen(words)
    model = MultiHeadTagger.from_corpora(words, sample_corpora[:1], hidden_size=8)
    assert model.static_embeddings
    trainer = AuxiliaryTrainer(model, sample_corpora[:1], embedding_store="a store")
    assert trainer.embedding_store == "a store"  # kept, not bypassed
    assert not any(key.startswith("embeddings.") for key in trainer.initial_state)  # its weights not copied per run
    words.static_embeddings = False  # a fine-tuned part is not frozen, whatever the others say
    try:
        assert not MultiHeadTagger.from_corpora(words, sample_corpora[:1], hidden_size=8).static_embeddings
    finally:
        words.static_embeddings = True
