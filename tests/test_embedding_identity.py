"""Embedding identity: the fingerprint (store folder, run id) changes exactly when the vectors can."""

import os

import pytest

import flair
from flair.embeddings import FlairEmbeddings, TransformerWordEmbeddings

from flair_munch.embeddings import default_embeddings_dir, default_encoder_path
from flair_munch.embeddings.builder import lm_file
from flair_munch.embeddings.identity import embeddings_fingerprint, fingerprint_digest
from flair_munch.embeddings.store import EmbeddingStore


def minilm(seed: int = 1, **kwargs) -> TransformerWordEmbeddings:
    """The shipped MiniLM, frozen, loaded after ``flair.set_seed(seed)`` (Flair's [FLERT] row is random)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    flair.set_seed(seed)
    return TransformerWordEmbeddings(str(default_encoder_path()), fine_tune=False, **kwargs)


@pytest.fixture(scope="module")
def last_layer():
    return minilm(layers="-1")


def test_layer_choice_changes_fingerprint_and_store_folder(last_layer, tmp_path):
    all_layers = minilm(layers="all", layer_mean=True)
    assert embeddings_fingerprint(last_layer) != embeddings_fingerprint(all_layers)
    assert fingerprint_digest(last_layer) != fingerprint_digest(all_layers)
    assert EmbeddingStore(last_layer, root=tmp_path).path != EmbeddingStore(all_layers, root=tmp_path).path


def test_the_random_context_separator_row_is_not_part_of_the_identity(last_layer, tmp_path):
    reloaded = minilm(seed=2, layers="-1")
    table, again = last_layer.model.get_input_embeddings().weight, reloaded.model.get_input_embeddings().weight
    assert not table[-1].equal(again[-1]) and table[:-1].equal(again[:-1])  # only [FLERT] differs
    assert embeddings_fingerprint(last_layer) == embeddings_fingerprint(reloaded)
    assert EmbeddingStore(last_layer, root=tmp_path).path == EmbeddingStore(reloaded, root=tmp_path).path


def test_a_character_lm_setting_that_changes_vectors_changes_the_fingerprint():
    path = default_embeddings_dir() / lm_file("forward")
    if not path.is_file():
        pytest.skip(f"shipped character LM not built at {path}")
    plain = FlairEmbeddings(str(path))
    digest = fingerprint_digest(plain)
    assert len(digest) == 16 and digest == fingerprint_digest(FlairEmbeddings(str(path)))
    assert fingerprint_digest(FlairEmbeddings(str(path), with_whitespace=False)) != digest
    assert fingerprint_digest(FlairEmbeddings(str(path), is_lower=True)) != digest
