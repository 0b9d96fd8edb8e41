"""Mixed precision (``TrainingSettings.precision``): run ids, ``auto``, the refusals, bf16 training on the CPU.

bf16 runs on every CPU (emulated where it has no bf16 units), so the training tests pretend native
support (``native_bf16`` monkeypatched) and run anywhere; the CUDA paths (fp16 + GradScaler) are in
tests/test_cuda.py.
"""

import re

import pytest
import torch

import flair
from flair.data import MultiCorpus
from flair.embeddings import OneHotEmbeddings

from flair_munch.cli import main
from flair_munch.corpora import load_corpus
from flair_munch.models import MultiHeadTagger
from flair_munch.training import AuxiliaryTrainer, TrainingSettings
from flair_munch.training import precision
from flair_munch.training.identity import IdentityBasis, RunIdentity
from flair_munch.training.precision import autocast, resolve_precision
from flair_munch.training.schedules import MunchIter, SingleTask
from flair_munch.training.settings import FINE_TUNING

T = "ncbi-disease"
NO_BF16 = "this CPU has no native bf16 units (amx_bf16 / avx512_bf16): bf16 would be slower than fp32 here"
FP16_ON_CPU = "precision fp16 is for CUDA GPUs (with loss scaling), not the cpu device. Use bf16"


@pytest.fixture
def bf16_cpu(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)


@pytest.fixture
def plain_cpu(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)


@pytest.fixture(scope="module")
def tiny():
    corpus = load_corpus(T, samples=True, train_size=24, seed=1)
    corpus._dev = type(corpus.dev)(list(corpus.dev)[:8])
    corpus._test = type(corpus.test)(list(corpus.test)[:8])
    return corpus


def tiny_model(corpus) -> MultiHeadTagger:
    flair.set_seed(1)
    embeddings = OneHotEmbeddings.from_corpus(MultiCorpus([corpus]), embedding_length=8, min_freq=1)
    return MultiHeadTagger.from_corpora(embeddings, [corpus], hidden_size=8)


def run_id(settings: TrainingSettings, schedule=None, aux=(), basis=IdentityBasis({}, {})) -> str:
    return RunIdentity(T, tuple(aux), (schedule or SingleTask()).settings(), settings.identity(), basis).run_id


def test_fp32_run_ids_are_those_of_before_the_setting_and_bf16_is_another_run(plain_cpu):
    # computed with the code before `precision` existed: every fp32 run keeps its folder and its records
    assert run_id(TrainingSettings()) == "249410280ec3"
    basis = IdentityBasis({T: {"sizes": {"train": 1}}}, {"class": "MultiHeadTagger"})
    assert run_id(FINE_TUNING, MunchIter(), ["s800"], basis) == "5ee789dbf49d"
    assert "precision" not in TrainingSettings().identity()
    assert TrainingSettings(precision="bf16").identity()["precision"] == "bf16"
    assert run_id(TrainingSettings(precision="bf16")) != run_id(TrainingSettings())
    # auto is hashed as what it resolves to: fp32 here (the fp32 id), bf16 where the device has it
    assert run_id(TrainingSettings(precision="auto")) == "249410280ec3"


def test_auto_resolves_to_bf16_only_where_the_device_has_native_bf16(monkeypatch):
    monkeypatch.setattr(precision, "_cpu_flags", lambda: {"avx2", "avx512f"})
    assert not precision.native_bf16("cpu") and resolve_precision("auto", "cpu") == "fp32"
    for flag in ("amx_bf16", "avx512_bf16"):
        monkeypatch.setattr(precision, "_cpu_flags", lambda: {"avx2", flag})
        assert precision.native_bf16("cpu") and resolve_precision("auto", "cpu") == "bf16"
    assert resolve_precision("auto", "cuda") == ("bf16" if torch.cuda.is_available() and
                                                 torch.cuda.is_bf16_supported(including_emulation=False) else "fp32")
    assert TrainingSettings(precision="auto").identity()["precision"] == "bf16"  # flair.device is the CPU
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("fp16", "cuda") == "fp16"


def test_bf16_without_native_units_and_fp16_on_the_cpu_are_refused_with_the_fix(plain_cpu):
    with pytest.raises(ValueError, match="bf16 would be slower than fp32 here. Turn it off with `precision: fp32` in"):
        resolve_precision("bf16", "cpu")
    with pytest.raises(ValueError, match=re.escape(FP16_ON_CPU)):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, fp16, auto, got 'bf8'"):
        TrainingSettings(precision="bf8")


@pytest.mark.parametrize("precision_flag, words", [("bf16", [NO_BF16, "--precision fp32"]),
                                                    ("fp16", [FP16_ON_CPU, "fp32"])])
def test_the_train_command_refuses_them_in_one_line_with_exit_2(plain_cpu, tmp_path, capsys, precision_flag, words):
    out = tmp_path / "run"
    argv = ["train", "--samples", "--corpus", T, "--device", "cpu", "--precision", precision_flag, "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flair-munch: error: precision") and "\n" not in err and "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)
    assert not out.exists()


def test_bf16_runs_the_bilstm_in_bf16_and_the_crf_and_loss_in_fp32(bf16_cpu, tiny):
    model = tiny_model(tiny)
    seen = {}
    model.rnn.register_forward_hook(lambda m, i, out: seen.update(lstm=out[0].data.dtype))
    model.heads[T].register_forward_hook(lambda m, i, out: seen.update(crf=out[0].dtype))
    with autocast("bf16", "cpu"):
        (loss, tokens), = model.forward_loss_per_head(list(tiny.train)[:4]).values()
    assert seen == {"lstm": torch.bfloat16, "crf": torch.float32}
    assert loss.dtype == torch.float32 and tokens > 0
    assert next(model.parameters()).dtype == torch.float32  # master weights stay fp32


def test_frozen_embeddings_are_computed_in_fp32_under_bf16(bf16_cpu, tiny, default_embeddings):
    """They stay on the sentences for the next run: a later fp32 run must read what it would compute itself."""
    model = MultiHeadTagger.from_corpora(default_embeddings, [tiny], hidden_size=8)
    sentences = [type(s)([t.text for t in s]) for s in list(tiny.train)[:2]]
    with autocast("bf16", "cpu"):
        words, _ = model.embed_words(sentences)
    assert model.static_embeddings and words.dtype == torch.float32
    names = default_embeddings.get_names()  # the character LMs would give bf16 under autocast
    assert {t.get_embedding([name]).dtype for s in sentences for t in s for name in names} == {torch.float32}


def test_a_few_bf16_steps_make_the_loss_fall_and_the_run_records_bf16(bf16_cpu, tiny, tmp_path):
    model = tiny_model(tiny)
    dtypes = set()
    model.rnn.register_forward_hook(lambda m, i, out: dtypes.add(out[0].data.dtype))
    trainer = AuxiliaryTrainer(model, [tiny])
    basis = trainer.identity_basis
    result = trainer.train(T, [], base_path=tmp_path / "run", precision="auto", max_epochs=3, mini_batch_size=8,
                           progress=False, save_model=False)
    losses = [row["target_loss"] for row in result.history]
    assert losses[-1] < losses[0], losses
    assert dtypes == {torch.bfloat16}  # training and evaluation alike
    assert result.settings["precision"] == "bf16"  # auto, as resolved: what the run did and what its id hashes
    same = TrainingSettings(max_epochs=3, mini_batch_size=8, save_model=False)
    assert result.run_id == run_id(same.replace(precision="bf16"), basis=basis) != run_id(same, basis=basis)


RECIPE = """\
name: precision
output_dir: {out}
samples: true
device: cpu
embeddings: default-small
corpora:
  ncbi-disease: {{train_size: 20}}
targets: [ncbi-disease]
schedules: [single-task]
training:
  precision: {precision}
"""


def test_the_recipe_key_sets_the_precision_of_its_runs(plain_cpu, tmp_path):
    from flair_munch.recipes import load_recipe

    specs = {}
    for value in ("bf16", "fp32"):
        path = tmp_path / f"{value}.yaml"
        path.write_text(RECIPE.format(out=tmp_path / "out", precision=value))
        specs[value] = load_recipe(path).runs()[0]
    assert specs["bf16"].settings().precision == "bf16" and specs["fp32"].settings().precision == "fp32"
    assert "precision" not in specs["fp32"].settings().identity()


def test_a_study_asking_for_fp16_on_the_cpu_is_refused_before_writing_anything(plain_cpu, tmp_path, capsys):
    path = tmp_path / "fp16.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "out", precision="fp16"))
    assert main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"flair-munch: error: {path}:11: training.precision: {FP16_ON_CPU}") and "\n" not in err, err
    assert not (tmp_path / "out").exists()


def test_a_variant_asking_for_fp16_on_the_cpu_is_named_at_dry_run_and_refused_by_run(plain_cpu, tmp_path, capsys):
    path = tmp_path / "variant.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "out", precision="fp32")
                    + "variants:\n  plain: {}\n  half: {training: {precision: fp16}}\n")
    assert main(["run", str(path), "--dry-run"]) == 0  # as for the recipe's own key: a warning that it cannot run
    assert f"{path}:14: variants.half.training.precision: {FP16_ON_CPU}" in capsys.readouterr().err
    assert main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"flair-munch: error: {path}:14: variants.half.training.precision: {FP16_ON_CPU}"), err
    assert "\n" not in err and not (tmp_path / "out").exists()
