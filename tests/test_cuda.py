"""On a CUDA GPU (skipped without one): every model type trains, the store feeds CUDA, CPU and CUDA agree.

Run on a GPU machine with ``python -m pytest -q tests/test_cuda.py`` (``benchmarks/gpu_study.sh`` does).
"""

import os

import pytest
import torch

import flair

from flair_munch.corpora import load_corpus
from flair_munch.embeddings import load_embeddings, load_encoder
from flair_munch.models import MODEL_TYPES
from flair_munch.models.registry import FROZEN_MODEL_TYPES
from flair_munch.training import FINE_TUNING, AuxiliaryTrainer, TrainingSettings

# FLAIR_MUNCH_TEST_DEVICE=cpu runs the same checks on the CPU (to check the tests themselves)
DEVICE = torch.device(os.environ.get("FLAIR_MUNCH_TEST_DEVICE", "cuda"))
pytestmark = pytest.mark.skipif(DEVICE.type == "cuda" and not torch.cuda.is_available(), reason="no CUDA GPU")

T, A = "ncbi-disease", "s800"


@pytest.fixture(autouse=True)
def _cuda():
    flair.device = DEVICE
    yield
    flair.device = torch.device("cpu")


@pytest.fixture(scope="module")
def corpora():
    return [load_corpus(T, samples=True, train_size=48, seed=1), load_corpus(A, samples=True, train_size=32, seed=1)]


def model_of(kind: str, corpora):
    flair.set_seed(1)
    options = {"hidden_size": 32}
    if kind == "attention-fusion":
        options.update(target=T, attention_heads=2)
    if kind in FROZEN_MODEL_TYPES:
        embeddings = load_embeddings("default-small")
    else:
        embeddings, options = load_encoder(), {}
    return MODEL_TYPES[kind].from_corpora(embeddings, corpora if kind in FROZEN_MODEL_TYPES else corpora[:1],
                                          **options)


@pytest.mark.parametrize("kind", sorted(MODEL_TYPES))
def test_every_model_type_trains_on_cuda(kind, corpora, tmp_path):
    model = model_of(kind, corpora)
    trainer = AuxiliaryTrainer(model, corpora if kind in FROZEN_MODEL_TYPES else corpora[:1])
    settings = TrainingSettings() if kind in FROZEN_MODEL_TYPES else FINE_TUNING  # transformers: AdamW, 5e-5
    result = trainer.train(T, base_path=tmp_path / kind, settings=settings, max_epochs=2, mini_batch_size=8,
                           progress=False)
    assert next(model.parameters()).device.type == DEVICE.type
    losses = [row["target_loss"] for row in result.history]
    assert len(losses) == 2 and losses[-1] < losses[0]


def test_the_store_feeds_cuda_and_cpu_and_cuda_predictions_agree(corpora, tmp_path):
    from flair_munch.embeddings.store import EmbeddingStore

    model = model_of("multi-head", corpora)
    store = EmbeddingStore(model.embeddings, root=tmp_path / "store")
    trainer = AuxiliaryTrainer(model, corpora, embedding_store=store)
    trainer.train(T, schedule=None, base_path=tmp_path / "run", max_epochs=4, mini_batch_size=4, progress=False)
    assert len(store) > 0 and next(model.parameters()).device.type == DEVICE.type
    sentences = list(corpora[0].test)[:20]
    model.eval()
    with torch.no_grad():
        on_device, loss_on_device = _predicted(model, sentences), float(model.forward_loss(sentences)[0])
        flair.device = torch.device("cpu")
        model.to("cpu")
        on_cpu, loss_on_cpu = _predicted(model, sentences), float(model.forward_loss(sentences)[0])
    assert on_device == on_cpu  # the same spans
    assert loss_on_device == pytest.approx(loss_on_cpu, rel=1e-4)  # and the same scores, up to float order


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_amp_takes_steps_and_the_loss_falls(precision, corpora, tmp_path, monkeypatch):
    """fp16 through the GradScaler (scale, unscale before clipping, step, update), bf16 without one; the BiLSTM runs
    in the half type, the weights stay fp32."""
    from flair_munch.training.precision import DTYPES, native_bf16

    if (precision == "fp16" and DEVICE.type != "cuda") or (precision == "bf16" and not native_bf16(DEVICE)):
        pytest.skip(f"{precision} needs {'CUDA' if precision == 'fp16' else 'native bf16'}")
    updates = []
    update = torch.amp.GradScaler.update
    monkeypatch.setattr(torch.amp.GradScaler, "update", lambda self, *a: (updates.append(self.get_scale()),
                                                                          update(self, *a))[1])
    model = model_of("multi-head", corpora)
    dtypes = set()
    model.rnn.register_forward_hook(lambda m, i, out: dtypes.add(out[0].data.dtype))
    result = AuxiliaryTrainer(model, corpora).train(T, base_path=tmp_path / precision, precision=precision,
                                                    max_epochs=3, mini_batch_size=8, progress=False, save_model=False)
    losses = [row["target_loss"] for row in result.history]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    assert dtypes == {DTYPES[precision]} and next(model.parameters()).dtype == torch.float32
    assert result.settings["precision"] == precision
    assert (len(updates) == result.updates["shared"]) if precision == "fp16" else not updates


def _predicted(model, sentences):
    copies = [type(s)([t.text for t in s]) for s in sentences]
    model.predict(copies, head=T, label_name="predicted", mini_batch_size=8)
    return [[(span.unlabeled_identifier, span.get_label("predicted").value) for span in copy.get_spans("predicted")]
            for copy in copies]
