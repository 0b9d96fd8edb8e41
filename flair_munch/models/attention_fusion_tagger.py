"""BERT-BiLSTM-AM-CRF (Tang et al. 2022, docs/methods.md §4): one BiLSTM per corpus, the target's attends over the others'.

The encoder (frozen embeddings, or a transformer from ``load_encoder``) and its input layers are
shared; every corpus has its own BiLSTM and its own CRF head. A target sentence also runs through
the auxiliary BiLSTM(s); the target states attend over those states of the same sentence, and the
target head reads ``[h_target ; attention(h_target, h_aux, h_aux)]``. Auxiliary sentences use their
own BiLSTM and head only, so the auxiliary heads never depend on the target's BiLSTM.
"""

from typing import Optional

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from flair.data import Dictionary, Sentence
from flair.embeddings import TokenEmbeddings
from flair.models import SequenceTagger

from flair_munch.models.multi_head_tagger import MultiHeadTagger
from flair_munch.models.registry import register_model
from flair_munch.models.tagging_head import TaggingHead, span_tag_dictionary

PAPER_TRAINING = {"optimizer": "Adam", "learning_rate": 1e-3, "mini_batch_size": 32, "max_epochs": 50,
                  "lr_schedule": "linear-warmup", "warmup_fraction": 0.1}
"""``AuxiliaryTrainer.train`` settings of Tang et al. (docs/methods.md §4); the paper's embedding dropout is ``dropout=0.1``."""


class BlockHead(TaggingHead):
    """A ``TaggingHead`` reading its own block of the features that ``AttentionFusionTagger.encode`` lays side by side."""

    def __init__(self, tag_dictionary: Dictionary, input_size: int, offset: int, tag_format: str = "BIOES",
                 entity_type: Optional[str] = None, init_from_state_dict: bool = False, use_crf: bool = True) -> None:
        super().__init__(tag_dictionary, input_size, tag_format, entity_type, init_from_state_dict, use_crf)
        self.offset = offset

    def forward(self, encoded: torch.Tensor, lengths: torch.Tensor) -> tuple:
        """Scores from every head's features side by side (the inherited ``predict`` passes those)."""
        return self.score(encoded[..., self.offset : self.offset + self.linear.in_features], lengths)

    def score(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple:
        """Scores from this head's own features."""
        return super().forward(features, lengths)


@register_model("attention-fusion", frozen=True)
class AttentionFusionTagger(MultiHeadTagger):
    """Shared encoder, one BiLSTM and CRF per corpus, attention from the target BiLSTM to the auxiliary BiLSTMs.

    For a target sentence with BiLSTM states ``H`` (``[tokens, 2 * hidden_size]``) and the states
    ``A`` of the auxiliary BiLSTM on the same sentence, the target head reads
    ``[H ; MultiheadAttention(query=H, key=A, value=A)]`` (scaled dot-product attention with
    ``attention_heads`` heads and learnt projections, padding masked); its linear layer maps the
    fused states to the CRF. With several auxiliary corpora the keys are all their states of the
    sentence, one after the other. Auxiliary sentences are scored from their own BiLSTM only.
    """

    def __init__(
        self,
        embeddings: TokenEmbeddings,
        tag_dictionaries: dict[str, Dictionary],
        target: Optional[str] = None,
        attention_heads: int = 1,
        attention_dropout: float = 0.0,
        tag_type: str = "ner",
        entity_types: Optional[dict[str, str]] = None,
        tag_format: str = "BIOES",
        hidden_size: int = 256,
        rnn_layers: int = 1,
        rnn_type: str = "LSTM",
        reproject_embeddings: bool = True,
        dropout: float = 0.0,
        word_dropout: float = 0.05,
        locked_dropout: float = 0.5,
        use_crf: bool = True,
        init_from_state_dict: bool = False,
    ) -> None:
        """Builds the shared input layers, one BiLSTM and head per corpus and the target's attention.

        Args:
            target: the head whose BiLSTM attends over the others' (default: the first, as
                ``from_corpora([target, aux])`` orders them).
            attention_heads: heads of the attention layer; must divide ``2 * hidden_size``.
            attention_dropout: dropout on the attention weights.
            The other arguments are ``MultiHeadTagger``'s (the BiLSTMs are always bidirectional).
        """
        names = list(tag_dictionaries)
        if len(names) < 2:
            raise ValueError(f"{type(self).__name__} needs a target and at least one auxiliary corpus; got heads {names}")
        target = names[0] if target is None else target
        if target not in tag_dictionaries:
            raise ValueError(f"target {target!r} is not one of the heads {names}")
        state_size = 2 * hidden_size
        if attention_heads < 1 or state_size % attention_heads:
            raise ValueError(f"attention_heads must divide the BiLSTM state size 2 * hidden_size = {state_size}; "
                             f"got {attention_heads}")
        self.target = target  # read by the build hooks that super().__init__ calls
        self.attention_heads = attention_heads
        self.attention_dropout = attention_dropout
        super().__init__(
            embeddings, tag_dictionaries, tag_type=tag_type, entity_types=entity_types, tag_format=tag_format,
            hidden_size=hidden_size, rnn_layers=rnn_layers, rnn_type=rnn_type, bidirectional=True,
            reproject_embeddings=reproject_embeddings, dropout=dropout, word_dropout=word_dropout,
            locked_dropout=locked_dropout, use_rnn=True, use_crf=use_crf, init_from_state_dict=init_from_state_dict,
        )

    def _build_encoder(self, head_names: list[str]) -> None:
        """The shared input layers, then one BiLSTM per corpus and the target's attention over the others'."""
        self._build_input_layers()
        self.rnns = torch.nn.ModuleDict({
            name: SequenceTagger.RNN(self.rnn_type, self.rnn_layers, self.hidden_size, True,
                                     rnn_input_dim=self.embeddings.embedding_length)
            for name in head_names
        })
        self.attention = torch.nn.MultiheadAttention(2 * self.hidden_size, self.attention_heads,
                                                     dropout=self.attention_dropout, batch_first=True)

    def _build_heads(self, tag_dictionaries: dict[str, Dictionary], entity_types: dict[str, str],
                     init_from_state_dict: bool) -> torch.nn.ModuleDict:
        """One head per corpus on its own BiLSTM's states; the target's reads them fused with the attention."""
        heads, offset, state_size = torch.nn.ModuleDict(), 0, 2 * self.hidden_size
        for name, dictionary in tag_dictionaries.items():
            saved = init_from_state_dict  # a saved model's dictionaries hold the tags already
            tags = dictionary if saved else span_tag_dictionary(dictionary, self.tag_format, self.use_crf)
            size = 2 * state_size if name == self.target else state_size
            heads[name] = BlockHead(tags, size, offset, self.tag_format, entity_types.get(name), init_from_state_dict,
                                    self.use_crf)
            offset += size
        return heads

    @property
    def aux_names(self) -> list[str]:
        """The auxiliary heads, in model order: the target attends over their BiLSTMs."""
        return [name for name in self.heads if name != self.target]

    # ----- encoding -----

    def contextualise(self, tensor: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The shared layers over the token embeddings: input dropouts and reprojection (the BiLSTMs are per corpus)."""
        if self.use_dropout:
            tensor = self.dropout(tensor)
        if self.use_word_dropout:
            tensor = self.word_dropout(tensor)
        if self.use_locked_dropout:
            tensor = self.locked_dropout(tensor)
        if self.reproject_embeddings:
            tensor = self.embedding2nn(tensor)
        return tensor

    def corpus_states(self, name: str, shared: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Corpus ``name``'s BiLSTM over the shared layers' output, with the output dropouts of ``SequenceTagger``."""
        packed = pack_padded_sequence(shared, lengths, batch_first=True)
        states, _ = pad_packed_sequence(self.rnns[name](packed)[0], batch_first=True)
        if self.use_dropout:
            states = self.dropout(states)
        if self.use_locked_dropout:
            states = self.locked_dropout(states)
        return states

    def fuse(self, states: torch.Tensor, aux_states: list[torch.Tensor], lengths: torch.Tensor) -> torch.Tensor:
        """``[H ; attention(H, A, A)]``: target states with what they attend to in the auxiliary states of the sentence."""
        longest = states.shape[1]
        padding = torch.arange(longest, device=states.device)[None, :] >= lengths.to(states.device)[:, None]
        keys = torch.cat(aux_states, dim=1)
        attended, _ = self.attention(states, keys, keys, key_padding_mask=padding.repeat(1, len(aux_states)),
                                     need_weights=False)
        return torch.cat([states, attended], dim=-1)

    def features(self, shared: torch.Tensor, lengths: torch.Tensor, heads: list[str]) -> dict[str, torch.Tensor]:
        """Each of ``heads``' input for the batch; every BiLSTM needed runs once."""
        needed = set(heads) | (set(self.aux_names) if self.target in heads else set())
        states = {name: self.corpus_states(name, shared, lengths) for name in self.heads if name in needed}
        return {
            name: self.fuse(states[name], [states[aux] for aux in self.aux_names], lengths)
            if name == self.target else states[name]
            for name in heads
        }

    def encode(self, sentences: list[Sentence]) -> tuple[torch.Tensor, torch.Tensor]:
        """Every head's input for ``sentences`` (sorted longest first), side by side; each head reads its block."""
        words, lengths = self.embed_words(sentences)
        per_head = self.features(self.contextualise(words, lengths), lengths, self.head_names)
        return torch.cat(list(per_head.values()), dim=-1), lengths

    # ----- training -----

    def forward_loss_per_head(self, sentences: list[Sentence]) -> dict[str, tuple[torch.Tensor, int]]:
        """Per head: the summed CRF loss of its sentences in the batch and their token count.

        The embeddings and shared layers run once per batch; each head's sentences then run through
        that head's BiLSTM only (and the auxiliary BiLSTMs and attention for target sentences).
        """
        sentences = sorted(sentences, key=len, reverse=True)
        words, lengths = self.embed_words(sentences)
        shared = self.contextualise(words, lengths)
        losses = {}
        for name, idx in self._groups(sentences, None).items():
            group = [sentences[i] for i in idx]
            index = torch.tensor(idx, dtype=torch.long, device=shared.device)
            group_lengths = lengths[idx]
            features = self.features(shared.index_select(0, index), group_lengths, [name])[name]
            head = self.heads[name]
            scores = head.score(features, group_lengths)
            losses[name] = (head.loss(scores, group, self.tag_type), sum(len(s) for s in group))
        return losses

    def __str__(self) -> str:
        return (f"{type(self).__name__}(target {self.target} attends over {', '.join(self.aux_names)}; "
                f"encoder {self.embeddings.name}; one BiLSTM {self.hidden_size} and CRF per corpus; "
                f"{self.attention_heads} attention head(s))")
