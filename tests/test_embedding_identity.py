"""Embedding identity: the fingerprint (store folder, run id) changes exactly when the vectors can."""

import os

import pytest

import flair
from flair.embeddings import FlairEmbeddings, TransformerWordEmbeddings

from flair_munch.embeddings import default_encoder_path, load_embeddings, small_embeddings_dir
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
    path = small_embeddings_dir() / lm_file("forward")
    if not path.is_file():
        pytest.skip(f"shipped character LM not built at {path}")
    plain = FlairEmbeddings(str(path))
    digest = fingerprint_digest(plain)
    assert len(digest) == 16 and digest == fingerprint_digest(FlairEmbeddings(str(path)))
    assert fingerprint_digest(FlairEmbeddings(str(path), with_whitespace=False)) != digest
    assert fingerprint_digest(FlairEmbeddings(str(path), is_lower=True)) != digest


def test_run_ids_follow_the_embeddings_fingerprint_not_their_names(last_layer):
    """The layer choice reaches the run id; the encoder loaded under another seed keeps it."""
    from flair_munch.corpora import load_corpus
    from flair_munch.models import MultiHeadTagger
    from flair_munch.training import TrainingSettings
    from flair_munch.training.identity import RunIdentity, content_basis

    corpus = load_corpus("ncbi-disease", samples=True, train_size=10, seed=1)

    def run_id(embeddings) -> str:
        model = MultiHeadTagger.from_corpora(embeddings, [corpus], hidden_size=8)
        basis = content_basis(model, {corpus.name: corpus})
        return RunIdentity(corpus.name, (), {"name": "single-task"}, TrainingSettings().identity(), basis).run_id

    assert last_layer.get_names() == minilm(layers="all", layer_mean=True).get_names()  # what ids used to hash
    assert run_id(last_layer) != run_id(minilm(layers="all", layer_mean=True))
    assert run_id(last_layer) == run_id(minilm(seed=2, layers="-1"))


def test_a_single_word_vector_file_is_one_frozen_part_with_its_own_store(tmp_path):
    """A bare WordEmbeddings keeps its file name in ``.embeddings``: its characters must not count as parts."""
    from flair_munch.embeddings.identity import embedding_parts
    from flair_munch.embeddings.store import EmbeddingStore, is_frozen

    vectors = load_embeddings(str(small_embeddings_dir() / "word-vectors.kv"))
    assert embedding_parts(vectors) == [vectors]
    assert is_frozen(vectors)  # so a recipe with `embeddings: file.kv` gets the store, not silently none
    store = EmbeddingStore(vectors, root=tmp_path)
    assert store.dim == 100 and store.path.name.endswith("-float32")
