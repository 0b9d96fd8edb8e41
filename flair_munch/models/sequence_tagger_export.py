"""One head of a flair-munch tagger as Flair's own ``SequenceTagger``, loadable where flair-munch is not installed.

A ``MultiHeadTagger`` head is built to be exactly Flair's tagger (same layers, same order): the export copies
the shared embeddings, reprojection and BiLSTM and the head's linear layer and CRF into Flair's state-dict
format and builds the tagger through Flair's own ``SequenceTagger._init_model_with_state_dict`` with a strict
weight load, so a weight that does not map fails instead of being left at random.
"""

import copy

import torch
from flair.models import SequenceTagger

from flair_munch.embeddings.identity import embedding_parts


class ExportError(ValueError):
    """A model or head that cannot become one stock ``SequenceTagger``; the message says why and what to do."""


def export_head(model, head=None) -> SequenceTagger:
    """Head ``head`` of ``model`` (default: its only, main or target head) as a stock ``SequenceTagger`` in eval mode.

    The tagger owns copies of the weights: training it leaves ``model`` unchanged.
    """
    name = head_to_export(model, head)
    _check_exportable(model, name)
    state = {
        "state_dict": _head_weights(model, name),
        "embeddings": model.embeddings.save_embeddings(use_state_dict=False),  # Flair rebuilds its own copy
        "hidden_size": model.hidden_size,
        "tag_dictionary": copy.deepcopy(model.heads[name].label_dictionary),
        "tag_format": model.tag_format,
        "tag_type": model.tag_type,
        "use_crf": model.use_crf,
        "use_rnn": model.use_rnn,
        "rnn_layers": model.rnn_layers,
        "use_dropout": model.use_dropout,
        "use_word_dropout": model.use_word_dropout,
        "use_locked_dropout": model.use_locked_dropout,
        "rnn_type": model.rnn_type,
        "reproject_embeddings": model.reproject_embeddings,
        "weight_dict": None,
        "train_initial_hidden_state": False,
    }
    try:
        tagger = SequenceTagger._init_model_with_state_dict(state)
    except RuntimeError as error:  # strict load: a weight without its place in Flair's tagger
        raise ExportError(f"{type(model).__name__} head {name!r} does not map onto Flair's SequenceTagger "
                          f"({str(error).splitlines()[0]})") from None
    tagger.eval()
    return tagger


def head_to_export(model, head=None) -> str:
    """``head`` checked against the model's heads, or the one head a user means when naming none."""
    names = list(model.heads)
    if head is None:
        main = getattr(model, "main_head", None) or getattr(model, "target", None)
        if main is None and len(names) > 1:
            raise ExportError(f"the model has several heads {names}: name the one to export (--head NAME)")
        return main or names[0]
    if head not in model.heads:
        raise ExportError(f"the model has no head {head!r}; its heads are {names}")
    return head


def _check_exportable(model, name: str) -> None:
    """Refuses what Flair's tagger cannot hold, saying why."""
    kind = type(model).__name__
    if getattr(model, "target", None) == name and hasattr(model, "rnns"):
        raise ExportError(f"{kind} head {name!r} attends over the auxiliary BiLSTMs, which Flair's SequenceTagger "
                          f"has no layer for: it cannot be exported. Its auxiliary heads "
                          f"{[n for n in model.heads if n != name]} can (each is one BiLSTM-CRF).")
    if model.use_rnn and not model.bidirectional:
        raise ExportError(f"{kind} has a one-directional RNN; Flair's SequenceTagger saves no direction and reloads "
                          "every RNN bidirectional, so it cannot be exported")
    foreign = [type(part).__name__ for part in embedding_parts(model.embeddings)
               if not type(part).__module__.startswith("flair.")]
    if foreign:
        raise ExportError(f"{kind}'s embeddings {foreign} are not Flair's own classes: a stock Flair could not load "
                          "the export. Train with Flair's WordEmbeddings, FlairEmbeddings or TransformerWordEmbeddings")


def _head_weights(model, name: str) -> dict[str, torch.Tensor]:
    """Flair's tagger's state dict: the shared layers under their own names, the head's and its RNN's renamed."""
    own_rnn, own_head = f"rnns.{name}.", f"heads.{name}."
    weights = {}
    for key, value in model.state_dict().items():
        if key.startswith(own_head):
            weights[key[len(own_head):]] = value.clone()
        elif key.startswith(own_rnn):
            weights["rnn." + key[len(own_rnn):]] = value.clone()
        elif key.startswith(("embeddings.", "embedding2nn.", "rnn.")):
            weights[key] = value.clone()
    return weights
