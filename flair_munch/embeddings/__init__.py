"""Offline token embeddings: build them from corpus text, load them by name or path."""

from flair_munch.embeddings.builder import build_embeddings
from flair_munch.embeddings.encoder import default_encoder_path, load_encoder
from flair_munch.embeddings.errors import EmbeddingsUnavailableError
from flair_munch.embeddings.named import load_embeddings, small_embeddings_dir
from flair_munch.embeddings.summary import BuildSummary

__all__ = [
    "BuildSummary",
    "EmbeddingsUnavailableError",
    "build_embeddings",
    "default_encoder_path",
    "load_embeddings",
    "load_encoder",
    "small_embeddings_dir",
]
