"""One corpus's output layer: a linear map to its own tag space and a CRF with its own transitions."""

from typing import Optional

import torch

import flair
from flair.data import Dictionary, Sentence
from flair.models.sequence_tagger_utils.crf import CRF
from flair.models.sequence_tagger_utils.viterbi import ViterbiDecoder, ViterbiLoss

from flair_munch.corpora.spans import span_tags


def span_tag_dictionary(span_dictionary: Dictionary, tag_format: str = "BIOES") -> Dictionary:
    """Encodes a dictionary of entity types as the tags a CRF predicts, exactly as Flair's SequenceTagger does.

    The dictionary ends with the CRF's ``<START>``/``<STOP>`` tags, so a head built from it is
    interchangeable with a ``SequenceTagger``'s output layer.
    """
    tag_format = tag_format.upper()
    if tag_format not in ("BIOES", "BIO"):
        raise ValueError(f"tag_format must be 'BIOES' or 'BIO', not {tag_format!r}")
    tags = Dictionary(add_unk=False)
    for label in span_dictionary.get_items():
        if label == "<unk>":
            continue
        tags.add_item("O")
        prefixes = ("S-", "B-", "E-", "I-") if tag_format == "BIOES" else ("B-", "I-")
        for prefix in prefixes:
            tags.add_item(prefix + label)
    if len(tags) == 0:
        raise ValueError("cannot build a tagging head: the corpus has no entity types (no B-/I- tags in train)")
    tags.set_start_stop_tags()
    return tags


class TaggingHead(torch.nn.Module):
    """Linear projection + CRF for one corpus, fed by the shared encoder.

    Each head keeps its own tag dictionary: corpus A's ``B-Disease`` and corpus B's ``B-Disease``
    are different outputs (SPEC 1.1).
    """

    def __init__(
        self,
        tag_dictionary: Dictionary,
        input_size: int,
        tag_format: str = "BIOES",
        entity_type: Optional[str] = None,
        init_from_state_dict: bool = False,
    ) -> None:
        super().__init__()
        self.label_dictionary = tag_dictionary
        self.tag_format = tag_format.upper()
        self.entity_type = entity_type
        self.tagset_size = len(tag_dictionary)
        self.linear = torch.nn.Linear(input_size, self.tagset_size)
        self.crf = CRF(tag_dictionary, self.tagset_size, init_from_state_dict)
        self.loss_function = ViterbiLoss(tag_dictionary)
        self.viterbi_decoder = ViterbiDecoder(tag_dictionary)

    @property
    def entity_labels(self) -> list[str]:
        """The entity types this head predicts (without tag prefixes)."""
        types = {tag[2:] for tag in self.label_dictionary.get_items() if tag[:2] in ("B-", "S-")}
        return sorted(types)

    def forward(self, encoded: torch.Tensor, lengths: torch.Tensor) -> tuple:
        """Scores a batch (sorted by length, longest first) in the form Flair's Viterbi loss and decoder take."""
        encoded = encoded[:, : int(lengths.max())]
        return self.crf(self.linear(encoded)), lengths, self.crf.transitions

    def gold_tensor(self, sentences: list[Sentence], label_type: str) -> torch.Tensor:
        """The gold tag indices of all tokens of ``sentences``, concatenated."""
        tags = [tag for sentence in sentences for tag in span_tags(sentence, label_type, self.tag_format)]
        known = self.label_dictionary.item2idx
        unknown = {tag for tag in tags if tag.encode("utf-8") not in known}
        if unknown:
            raise ValueError(
                f"gold tags {sorted(unknown)} are not in this head's tag dictionary "
                f"(it predicts {self.entity_labels}); score each sentence with the head of its own corpus"
            )
        return torch.tensor(
            [self.label_dictionary.get_idx_for_item(tag) for tag in tags], dtype=torch.long, device=flair.device
        )

    def loss(self, scores: tuple, sentences: list[Sentence], label_type: str) -> torch.Tensor:
        """CRF negative log-likelihood, summed over the sentences (as Flair's ``ViterbiLoss``)."""
        return self.loss_function(scores, self.gold_tensor(sentences, label_type))

    def decode(self, scores: tuple, sentences: list[Sentence], all_probabilities: bool = False):
        """Viterbi paths (tag, score) per sentence, and optionally every tag's probability per token."""
        return self.viterbi_decoder.decode(scores, all_probabilities, sentences)
