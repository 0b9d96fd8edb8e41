"""One corpus's output layer: a linear map to its own tag space and a CRF with its own transitions."""

from typing import Optional

import torch

import flair
from flair.data import Dictionary, Label, Sentence, get_spans_from_bio
from flair.models.sequence_tagger_utils.crf import CRF
from flair.models.sequence_tagger_utils.viterbi import ViterbiDecoder, ViterbiLoss

from flair_munch.corpora.spans import span_tags

LOSS_WEIGHT = "loss_weight"
"""Sentence metadata key of a sentence's loss weight (``sentence.add_metadata(LOSS_WEIGHT, w)``)."""


def loss_weights(sentences: list[Sentence]) -> Optional[list[float]]:
    """Each sentence's loss weight (1.0 where none is set), or ``None`` when no sentence carries one."""
    if not any(sentence.has_metadata(LOSS_WEIGHT) for sentence in sentences):
        return None
    return [float(s.get_metadata(LOSS_WEIGHT)) if s.has_metadata(LOSS_WEIGHT) else 1.0 for s in sentences]


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
    are different outputs (docs/methods.md §1.1). With ``use_crf=False`` the head is a per-token softmax
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
            self.sentence_loss_function = SentenceViterbiLoss(tag_dictionary)
            self.viterbi_decoder = ViterbiDecoder(tag_dictionary)

    @property
    def entity_labels(self) -> list[str]:
        """The entity types this head predicts (without tag prefixes)."""
        types = {tag[2:] for tag in self.label_dictionary.get_items() if tag[:2] in ("B-", "S-")}
        return sorted(types)

    def forward(self, encoded: torch.Tensor, lengths: torch.Tensor) -> tuple:
        """Scores a batch (sorted by length, longest first) in the form Flair's Viterbi loss and decoder take.

        The emissions are float32 also under bf16/fp16 autocast, so the CRF's forward algorithm, Viterbi and the
        loss (elementwise ops with the float32 transitions) run in float32: log-sum-exp in bf16 loses the scores.
        """
        encoded = encoded[:, : int(lengths.max())]
        emissions = self.linear(encoded).float()
        if not self.use_crf:
            return emissions, lengths
        return self.crf(emissions), lengths, self.crf.transitions

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
        """CRF negative log-likelihood (or token cross-entropy), summed over the sentences (as Flair's losses).

        Sentences carrying a loss weight (metadata ``LOSS_WEIGHT``) count ``weight * their loss``, the
        others once; a batch without any weight takes Flair's own loss unchanged.
        """
        weights = loss_weights(sentences)
        if weights is not None:
            weights = torch.tensor(weights, dtype=scores[0].dtype, device=scores[0].device)
            return (weights * self.sentence_losses(scores, sentences, label_type)).sum()
        gold = self.gold_tensor(sentences, label_type)
        if not self.use_crf:
            return torch.nn.functional.cross_entropy(_unpad(*scores), gold, reduction="sum")
        return self.loss_function(scores, gold)

    def sentence_losses(self, scores: tuple, sentences: list[Sentence], label_type: str) -> torch.Tensor:
        """The unweighted loss of each sentence, ``[len(sentences)]``; their sum is ``loss`` without weights."""
        gold = self.gold_tensor(sentences, label_type)
        if self.use_crf:
            return self.sentence_loss_function(scores, gold)
        logits, lengths = scores
        token_losses = torch.nn.functional.cross_entropy(_unpad(logits, lengths), gold, reduction="none")
        owner = torch.repeat_interleave(torch.arange(len(lengths), device=logits.device), lengths.to(logits.device))
        return torch.zeros(len(lengths), dtype=token_losses.dtype, device=logits.device).index_add(0, owner, token_losses)

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

    def annotate(self, scores: tuple, sentences: list[Sentence], label_name: str, all_probabilities: bool = False) -> None:
        """Replaces each sentence's ``label_name`` spans by the decoded ones (and tag distributions, if asked)."""
        paths, distributions = self.decode(scores, sentences, all_probabilities)
        for sentence, path in zip(sentences, paths):
            sentence.remove_labels(label_name)
            tags = [tag for tag, _ in path]
            for token_ids, score, value in get_spans_from_bio(tags, [s for _, s in path]):
                sentence[token_ids[0] : token_ids[-1] + 1].add_label(label_name, value, score)
        for sentence, sentence_distributions in zip(sentences, distributions):
            for token, token_distribution in zip(sentence.tokens, sentence_distributions):
                token.add_tags_proba_dist(label_name, token_distribution)


class SentenceViterbiLoss(ViterbiLoss):
    """Flair's ``ViterbiLoss`` (CRF negative log-likelihood), one value per sentence instead of their sum."""

    def forward(self, features_tuple: tuple, targets: torch.Tensor) -> torch.Tensor:
        """``[batch]`` losses of a batch sorted by length, longest first (as the heads score it)."""
        features, lengths, transitions = features_tuple
        batch_size, seq_len = features.shape[:2]
        targets, matrix_indices = self._format_targets(targets, lengths)
        matrix_indices = torch.tensor(matrix_indices, dtype=torch.long, device=features.device).unsqueeze(2)
        at_targets = torch.gather(features.view(batch_size, seq_len, -1), 2, matrix_indices).squeeze(2)
        mask = torch.arange(seq_len, device=features.device)[None, :] < lengths.to(features.device)[:, None]
        last_tags = [target[length - 1] for target, length in zip(targets, lengths.tolist())]
        gold_scores = at_targets.masked_fill(~mask, 0.0).sum(1) + transitions[self.stop_tag, last_tags]

        scores_upto_t = torch.zeros(batch_size, self.tagset_size, device=features.device, dtype=features.dtype)
        for t in range(int(lengths.max())):
            batch_size_t = int((lengths > t).sum())  # sorted batch: the first batch_size_t sentences reach t
            if t == 0:
                scores_upto_t[:batch_size_t] = scores_upto_t[:batch_size_t] + features[:batch_size_t, t, :, self.start_tag]
            else:
                scores_upto_t[:batch_size_t] = self._log_sum_exp(
                    features[:batch_size_t, t, :, :] + scores_upto_t[:batch_size_t].unsqueeze(1), dim=2
                )
        all_paths_scores = self._log_sum_exp(scores_upto_t + transitions[self.stop_tag].unsqueeze(0), dim=1)
        return all_paths_scores - gold_scores


def _unpad(logits: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The rows of a padded ``[batch, time, tags]`` tensor that belong to real tokens, sentence after sentence."""
    mask = torch.arange(logits.shape[1], device=logits.device)[None, :] < lengths.to(logits.device)[:, None]
    return logits[mask]
