"""One corpus's output layer: a linear map to its own tag space and a CRF with its own transitions."""

from typing import Optional

import torch

import flair
from flair.data import Dictionary, Label, Sentence
from flair.models.sequence_tagger_utils.crf import CRF
from flair.models.sequence_tagger_utils.viterbi import ViterbiDecoder, ViterbiLoss

from flair_munch.corpora.spans import span_tags


def span_tag_dictionary(span_dictionary: Dictionary, tag_format: str = "BIOES", use_crf: bool = True) -> Dictionary:
    """Encodes a dictionary of entity types as the tags a head predicts, exactly as Flair's SequenceTagger does.

    For a CRF the dictionary ends with its ``<START>``/``<STOP>`` tags, so a head built from it is
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
    if use_crf:
        tags.set_start_stop_tags()
    return tags


class TaggingHead(torch.nn.Module):
    """Linear projection + CRF for one corpus, fed by the shared encoder.

    Each head keeps its own tag dictionary: corpus A's ``B-Disease`` and corpus B's ``B-Disease``
    are different outputs (SPEC 1.1). With ``use_crf=False`` the head is a per-token softmax
    (Flair's ``SequenceTagger(use_crf=False)``), as MT-BioBERT's NER head.
    """

    def __init__(
        self,
        tag_dictionary: Dictionary,
        input_size: int,
        tag_format: str = "BIOES",
        entity_type: Optional[str] = None,
        init_from_state_dict: bool = False,
        use_crf: bool = True,
    ) -> None:
        super().__init__()
        self.label_dictionary = tag_dictionary
        self.tag_format = tag_format.upper()
        self.entity_type = entity_type
        self.use_crf = use_crf
        self.tagset_size = len(tag_dictionary)
        self.linear = torch.nn.Linear(input_size, self.tagset_size)
        if use_crf:
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
        if not self.use_crf:
            return self.linear(encoded), lengths
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
        """CRF negative log-likelihood (or token cross-entropy), summed over the sentences (as Flair's losses)."""
        gold = self.gold_tensor(sentences, label_type)
        if not self.use_crf:
            return torch.nn.functional.cross_entropy(_unpad(*scores), gold, reduction="sum")
        return self.loss_function(scores, gold)

    def decode(self, scores: tuple, sentences: list[Sentence], all_probabilities: bool = False):
        """Best paths (tag, score) per sentence, and optionally every tag's probability per token."""
        if self.use_crf:
            return self.viterbi_decoder.decode(scores, all_probabilities, sentences)
        logits, lengths = scores
        probabilities = torch.softmax(logits, dim=-1)
        best, indices = probabilities.max(dim=-1)
        tags = self.label_dictionary.get_items()
        paths, distributions = [], []
        for i, length in enumerate(lengths.tolist()):
            paths.append([(tags[j], p) for j, p in zip(indices[i, :length].tolist(), best[i, :length].tolist())])
            if all_probabilities:
                distributions.append([
                    [Label(token, tags[j], p) for j, p in enumerate(row)]
                    for token, row in zip(sentences[i], probabilities[i, :length].tolist())
                ])
        return paths, distributions


def _unpad(logits: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The rows of a padded ``[batch, time, tags]`` tensor that belong to real tokens, sentence after sentence."""
    mask = torch.arange(logits.shape[1], device=logits.device)[None, :] < lengths.to(logits.device)[:, None]
    return logits[mask]
