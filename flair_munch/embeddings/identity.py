"""What names a set of embeddings: exactly what determines its vectors, in one place.

The embedding store's folder and a run's id are both computed from ``embeddings_fingerprint``:
per part its class, every setting that changes a vector (read from Flair's own attributes), its
vocabulary and the weights the vectors depend on. Paths and display names are left out, and so
is the word-embedding row Flair adds at random for its ``[FLERT]`` context separator while
context is off, so the same encoder loaded under another seed keeps its identity.
"""

import hashlib
import json

import torch

from flair.embeddings import FlairEmbeddings, StackedEmbeddings, TokenEmbeddings, WordEmbeddings
from flair.embeddings.transformer import SENTENCE_BOUNDARY_TAG, TransformerEmbeddings

# model-config keys that name or size things rather than change a vector (sizes are in the weights)
_CONFIG_SKIP = ("_name_or_path", "transformers_version", "vocab_size", "architectures", "torch_dtype")
_TOKENIZER_SETTINGS = ("do_lower_case", "strip_accents", "tokenize_chinese_chars", "add_prefix_space",
                       "model_max_length")


def embedding_parts(embeddings: TokenEmbeddings) -> list:
    """The embeddings a stack concatenates, in order (one item for unstacked embeddings).

    Only a stack counts: ``WordEmbeddings.embeddings`` is its file name, whose characters are not parts.
    """
    return list(embeddings.embeddings) if isinstance(embeddings, StackedEmbeddings) else [embeddings]


def is_frozen(embeddings: TokenEmbeddings) -> bool:
    """Whether no part of ``embeddings`` is trained: the one rule the model, the trainer and the store share."""
    return all(getattr(part, "static_embeddings", False) for part in embedding_parts(embeddings))


def _digest(data) -> str:
    return hashlib.sha1(json.dumps(data, sort_keys=True, default=repr).encode("utf-8")).hexdigest()


def _transformer_settings(part: TransformerEmbeddings) -> dict:
    """Flair's transformer options that change a vector; context options only while context is on."""
    settings = {
        "fine_tune": part.fine_tune, "layer_indexes": list(part.layer_indexes), "layer_mean": part.layer_mean,
        "is_token_embedding": part.token_embedding, "is_document_embedding": part.document_embedding,
        "allow_long_sentences": part.allow_long_sentences, "stride": part.stride, "truncate": part.truncate,
        "force_max_length": part.force_max_length, "context_length": part.context_length,
    }
    if part.token_embedding:
        settings["subtoken_pooling"] = part.subtoken_pooling
    if part.document_embedding:
        settings["cls_pooling"] = part.cls_pooling
    if part.context_length > 0:
        settings.update(context_dropout=part.context_dropout, use_context_separator=part.use_context_separator,
                        respect_document_boundaries=part.respect_document_boundaries)
    config = part.model.config.to_dict()
    settings["model_config"] = {key: config[key] for key in sorted(config) if key not in _CONFIG_SKIP}
    tokenizer = part.tokenizer
    vocab = {token: index for token, index in tokenizer.get_vocab().items()
             if token != SENTENCE_BOUNDARY_TAG or part.context_length > 0}
    settings["tokenizer"] = {"class": type(tokenizer).__name__, "vocab": _digest(sorted(vocab.items())),
                             **{key: tokenizer.init_kwargs.get(key) for key in _TOKENIZER_SETTINGS}}
    return settings


def _unused_rows(part) -> dict[str, int]:
    """State-dict key -> row of weights no vector reads: the random ``[FLERT]`` row while context is off."""
    if not isinstance(part, TransformerEmbeddings) or part.context_length > 0:
        return {}
    if SENTENCE_BOUNDARY_TAG not in getattr(part.tokenizer, "additional_special_tokens", []):
        return {}
    row = part.tokenizer.convert_tokens_to_ids(SENTENCE_BOUNDARY_TAG)
    table = part.model.get_input_embeddings()
    return {f"{name}.weight": row for name, module in part.named_modules() if module is table}


def _settings(part) -> dict:
    if isinstance(part, TransformerEmbeddings):
        return _transformer_settings(part)
    if isinstance(part, FlairEmbeddings):
        lm = part.lm
        return {"fine_tune": part.fine_tune, "is_forward_lm": part.is_forward_lm, "is_lower": part.is_lower,
                "with_whitespace": part.with_whitespace, "tokenized_lm": part.tokenized_lm,
                "chars_per_chunk": part.chars_per_chunk,
                "document_delimiter": getattr(lm, "document_delimiter", "\n"),
                "dictionary": _digest(sorted((k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k), v)
                                             for k, v in lm.dictionary.item2idx.items()))}
    if isinstance(part, WordEmbeddings):
        return {"fine_tune": part.fine_tune, "field": part.field, "stable": part.stable,
                "vocab": _digest(sorted(part.vocab.items()))}
    # other embeddings: every simple constructor argument but the display name (paths included, to be safe)
    parameters = getattr(part, "instance_parameters", {})
    return {key: repr(value) for key, value in sorted(parameters.items())
            if key != "name" and isinstance(value, (bool, int, float, str, type(None)))}


def _weights(part) -> str:
    """Hash of the weights the vectors depend on (a character LM's decoder and unused rows left out)."""
    unused = _unused_rows(part)
    weights = hashlib.sha1()
    for key, tensor in sorted(part.state_dict().items()):
        if isinstance(part, FlairEmbeddings) and key.startswith("lm.decoder."):
            continue
        tensor = tensor.detach()
        if key in unused:
            row = unused[key]
            tensor = torch.cat([tensor[:row], tensor[row + 1 :]])
        weights.update(key.encode("utf-8"))
        weights.update(tensor.cpu().contiguous().numpy().tobytes())
    return weights.hexdigest()


def embeddings_fingerprint(embeddings: TokenEmbeddings) -> dict:
    """What determines the vectors: per part, in stack order, its class, settings and weights (never its path)."""
    parts = [{"class": type(part).__name__, "length": part.embedding_length, "settings": _settings(part),
              "weights": _weights(part)} for part in embedding_parts(embeddings)]
    return {"parts": parts, "length": embeddings.embedding_length}


def fingerprint_digest(embeddings: TokenEmbeddings, fingerprint: dict = None) -> str:
    """16 hex characters naming ``embeddings_fingerprint``: the store's folder and a run id's embeddings."""
    return _digest(fingerprint if fingerprint is not None else embeddings_fingerprint(embeddings))[:16]
