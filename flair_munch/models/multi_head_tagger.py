"""BiLSTM-CRF with shared embeddings and BiLSTM and one CRF head per corpus (MUNCHABLES, docs/methods.md §1.1)."""

import contextlib
import functools
from collections import OrderedDict
from pathlib import Path
from typing import Optional, Union, cast

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import flair
import flair.nn
from flair.data import Dictionary, MultiCorpus, Sentence
from flair.datasets import DataLoader, FlairDatapointDataset
from flair.embeddings import TokenEmbeddings
from flair.file_utils import load_torch_state
from flair.models import SequenceTagger
from flair.training_utils import Result, store_embeddings

from flair_munch.corpora.conll import CORPUS_LABEL_TYPE
from flair_munch.embeddings.identity import embeddings_fingerprint, is_frozen
from flair_munch.inference import evaluation_mode
from flair_munch.models.arguments import records_arguments
from flair_munch.models.registry import register_model
from flair_munch.models.sequence_tagger_export import export_head
from flair_munch.models.span_evaluation import evaluate_spans
from flair_munch.models.tagging_head import TaggingHead, span_tag_dictionary

NOT_CONFIG = ("embeddings", "tag_dictionaries", "init_from_state_dict")
"""Constructor arguments that are not settings: ``config()`` holds all the others."""


@register_model("multi-head", frozen=True)
class MultiHeadTagger(flair.nn.Classifier[Sentence]):
    """Flair's SequenceTagger with the output layer split into one head per corpus.

    Embeddings, reprojection and BiLSTM are one set of modules shared by every corpus; each
    head is a linear layer and a CRF over that corpus's own tags. With a single head the model is
    the same as ``SequenceTagger`` (same layers, defaults, initialisation order and loss).
    A sentence is scored by the head named in its ``corpus`` label, so a batch may mix corpora.
    """

    @functools.partial(records_arguments, exclude=NOT_CONFIG)
    def __init__(
        self,
        embeddings: TokenEmbeddings,
        tag_dictionaries: dict[str, Dictionary],
        tag_type: str = "ner",
        entity_types: Optional[dict[str, str]] = None,
        tag_format: str = "BIOES",
        hidden_size: int = 256,
        rnn_layers: int = 1,
        rnn_type: str = "LSTM",
        bidirectional: bool = True,
        reproject_embeddings: bool = True,
        dropout: float = 0.0,
        word_dropout: float = 0.05,
        locked_dropout: float = 0.5,
        use_rnn: bool = True,
        use_crf: bool = True,
        init_from_state_dict: bool = False,
    ) -> None:
        """Builds the shared encoder and one head per entry of ``tag_dictionaries``.

        Args:
            embeddings: token embeddings shared by all heads (frozen unless they fine-tune themselves).
            tag_dictionaries: per head name, the dictionary of entity types (span labels) of that corpus,
                as ``corpus.make_label_dictionary("ner")`` gives it.
            tag_type: the label type of the gold spans.
            entity_types: per head name, the corpus's NE class (e.g. "Disease"), kept for schedules
                that order auxiliary corpora by type.
            tag_format: "BIOES" (Flair's default) or "BIO" encoding of spans as CRF tags.
            use_rnn: run the shared BiLSTM (off: heads read the embeddings directly, as a fine-tuned BERT tagger).
            use_crf: CRF heads (off: per-token softmax heads).
        """
        super().__init__()
        if not tag_dictionaries:
            raise ValueError("MultiHeadTagger needs at least one head (one tag dictionary per corpus)")
        self.tag_type = tag_type
        self.tag_format = tag_format.upper()
        self.embeddings = embeddings
        self.hidden_size = hidden_size
        self.rnn_layers = rnn_layers
        self.rnn_type = rnn_type
        self.bidirectional = bidirectional
        self.reproject_embeddings = reproject_embeddings
        self.use_dropout = dropout
        self.use_word_dropout = word_dropout
        self.use_locked_dropout = locked_dropout
        self.use_rnn = use_rnn
        self.use_crf = use_crf
        self.embedding_store = None  # an EmbeddingStore, see use_store; never saved with the model
        self._build_encoder(list(tag_dictionaries))
        self.heads = self._build_heads(tag_dictionaries, entity_types or {}, init_from_state_dict)
        self.to(flair.device)

    def __init_subclass__(cls, **kwargs) -> None:
        """Every subclass's constructor records its arguments too: they are its ``config()``."""
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = records_arguments(cls.__init__, NOT_CONFIG)

    def _build_input_layers(self) -> None:
        """Dropouts and reprojection over the embeddings, in ``SequenceTagger``'s order (same seed, same weights)."""
        if self.use_dropout > 0.0:
            self.dropout = torch.nn.Dropout(self.use_dropout)
        if self.use_word_dropout > 0.0:
            self.word_dropout = flair.nn.WordDropout(self.use_word_dropout)
        if self.use_locked_dropout > 0.0:
            self.locked_dropout = flair.nn.LockedDropout(self.use_locked_dropout)
        if self.reproject_embeddings:
            dim = self.embeddings.embedding_length
            self.embedding2nn = torch.nn.Linear(dim, dim)

    def _build_encoder(self, head_names: list[str]) -> None:
        """The layers every head shares: the input layers, then the BiLSTM (a variant overrides this hook)."""
        self._build_input_layers()
        if self.use_rnn:
            self.rnn = SequenceTagger.RNN(self.rnn_type, self.rnn_layers, self.hidden_size, self.bidirectional,
                                          rnn_input_dim=self.embeddings.embedding_length)

    def _build_heads(self, tag_dictionaries: dict[str, Dictionary], entity_types: dict[str, str],
                     init_from_state_dict: bool) -> torch.nn.ModuleDict:
        """One ``TaggingHead`` per corpus over the encoder's output (a variant overrides this hook)."""
        size = self.hidden_size * (2 if self.bidirectional else 1) if self.use_rnn else self.embeddings.embedding_length
        heads = torch.nn.ModuleDict()
        for name, dictionary in tag_dictionaries.items():
            saved = init_from_state_dict  # a saved model's dictionaries hold the tags already
            tags = dictionary if saved else span_tag_dictionary(dictionary, self.tag_format, self.use_crf)
            heads[name] = TaggingHead(tags, size, self.tag_format, entity_types.get(name), init_from_state_dict,
                                      self.use_crf)
        return heads

    @classmethod
    def from_corpora(cls, embeddings: TokenEmbeddings, corpora, tag_type: str = "ner", **kwargs) -> "MultiHeadTagger":
        """One head per corpus; ``corpora`` is a list of named corpora or a dict ``{head name: Corpus}``."""
        if isinstance(corpora, dict):
            named = corpora
        else:
            named = OrderedDict((corpus.name, corpus) for corpus in corpora)
            if len(named) != len(corpora):
                raise ValueError(f"corpus names must be unique to name the heads, got {[c.name for c in corpora]}")
        missing = [name for name, corpus in named.items()
                   if not any(s.get_labels(tag_type) for s in (corpus.train or []))]
        if missing:
            where = [f"{name} ({getattr(named[name], 'path', '') or 'in memory'})" for name in missing]
            raise ValueError(f"corpus {', '.join(where)} has no '{tag_type}' entity in its train split: a head needs "
                             "B-/I- tags to learn from. Check the tag column, or leave the corpus out.")
        dictionaries = {name: corpus.make_label_dictionary(tag_type, add_unk=False) for name, corpus in named.items()}
        entity_types = {name: getattr(corpus, "entity_type", None) for name, corpus in named.items()}
        return cls(embeddings, dictionaries, tag_type=tag_type, entity_types=entity_types, **kwargs)

    @property
    def label_type(self) -> str:
        return self.tag_type

    def use_store(self, store) -> None:
        """Reads token vectors from an ``EmbeddingStore`` (built for these embeddings) instead of embedding.

        Batches with a sentence the store lacks are embedded as usual. ``None`` switches it off.
        """
        if store is not None and store.embeddings is not self.embeddings:  # the same object needs no hashing
            if store.fingerprint != embeddings_fingerprint(self.embeddings):
                raise ValueError(f"{store} holds other embeddings than this model's {self.embeddings.name}")
        self.embedding_store = store

    @property
    def static_embeddings(self) -> bool:
        """Whether the embeddings stay fixed during training (then they may be cached between epochs)."""
        return is_frozen(self.embeddings)

    @property
    def head_names(self) -> list[str]:
        return list(self.heads.keys())

    def head_of(self, sentence: Sentence) -> str:
        """The head that scores ``sentence``: its ``corpus`` label, or the only head there is."""
        labels = sentence.get_labels(CORPUS_LABEL_TYPE)
        if labels:
            name = labels[0].value
            if name not in self.heads:
                raise KeyError(f"sentence is from corpus {name!r}, but the model's heads are {self.head_names}")
            return name
        if len(self.heads) == 1:
            return self.head_names[0]
        raise ValueError(
            f"sentence has no '{CORPUS_LABEL_TYPE}' label and the model has several heads {self.head_names}: "
            "load it with flair_munch.load_corpus or pass head=NAME"
        )

    # ----- the shared encoder -----

    def encode(self, sentences: list[Sentence]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeds ``sentences`` (sorted longest first) once and runs the shared layers: the input of every head."""
        words, lengths = self.embed_words(sentences)
        return self.contextualise(words, lengths), lengths

    def embed_words(self, sentences: list[Sentence]) -> tuple[torch.Tensor, torch.Tensor]:
        """The padded ``[batch, longest, embedding length]`` token embeddings of ``sentences`` and their lengths.

        Embeddings that train with the model are always recomputed: Flair would reuse any vectors a
        sentence still holds from an earlier step, stale and detached from this step's graph.
        """
        if self.embedding_store is not None:
            stored = self.embedding_store.batch(sentences, flair.device)
            if stored is not None:
                return stored
        if not self.static_embeddings:
            for sentence in sentences:
                sentence.clear_embeddings()
        # frozen vectors stay on the sentences for later runs: fp32 also under autocast, as an fp32 run makes them
        with torch.autocast(flair.device.type, enabled=False) if self.static_embeddings else contextlib.nullcontext():
            self.embeddings.embed(sentences)
        lengths = torch.tensor([len(sentence) for sentence in sentences], dtype=torch.long)
        names = self.embeddings.get_names()
        longest = int(lengths.max())
        dim = self.embeddings.embedding_length
        padding = torch.zeros(dim * longest, dtype=next(self.heads.parameters()).dtype, device=flair.device)
        parts = []
        for sentence in sentences:
            parts += [emb for token in sentence for emb in token.get_each_embedding(names)]
            if len(sentence) < longest:
                parts.append(padding[: dim * (longest - len(sentence))])
        return torch.cat(parts).view(len(sentences), longest, dim), lengths

    def contextualise(self, tensor: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The shared layers over the token embeddings: dropouts, reprojection and the BiLSTM."""
        if self.use_dropout:
            tensor = self.dropout(tensor)
        if self.use_word_dropout:
            tensor = self.word_dropout(tensor)
        if self.use_locked_dropout:
            tensor = self.locked_dropout(tensor)
        if self.reproject_embeddings:
            tensor = self.embedding2nn(tensor)
        if self.use_rnn:
            packed = pack_padded_sequence(tensor, lengths, batch_first=True)
            tensor, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True)
        if self.use_dropout:
            tensor = self.dropout(tensor)
        if self.use_locked_dropout:
            tensor = self.locked_dropout(tensor)
        return tensor

    def _groups(self, sentences: list[Sentence], head: Optional[str]) -> dict[str, list[int]]:
        """Positions of the sentences each head scores, heads in model order."""
        if head is not None:
            if head not in self.heads:
                raise KeyError(f"unknown head {head!r}; the model's heads are {self.head_names}")
            return {head: list(range(len(sentences)))}
        groups: dict[str, list[int]] = {name: [] for name in self.heads}
        for i, sentence in enumerate(sentences):
            groups[self.head_of(sentence)].append(i)
        return {name: idx for name, idx in groups.items() if idx}

    # ----- training -----

    def forward_loss_per_head(self, sentences: list[Sentence]) -> dict[str, tuple[torch.Tensor, int]]:
        """Per head: the summed CRF loss of its sentences in the batch and their token count.

        The encoder runs once for the whole batch; schedules that weight corpora (MultiTask's mean)
        combine these terms themselves.
        """
        sentences = sorted(sentences, key=len, reverse=True)
        encoded, lengths = self.encode(sentences)
        losses = {}
        for name, idx in self._groups(sentences, None).items():
            group = [sentences[i] for i in idx]
            index = torch.tensor(idx, dtype=torch.long, device=encoded.device)
            head = self.heads[name]
            scores = head(encoded.index_select(0, index), lengths[idx])
            losses[name] = (head.loss(scores, group, self.tag_type), sum(len(s) for s in group))
        return losses

    def forward_loss(self, sentences: list[Sentence]) -> tuple[torch.Tensor, int]:
        """Summed CRF loss of the batch, each sentence scored by its own corpus's head (as SequenceTagger)."""
        sentences = [sentence for sentence in sentences if len(sentence) > 0]
        if not sentences:
            return torch.tensor(0.0, device=flair.device, requires_grad=True), 0
        per_head = self.forward_loss_per_head(sentences)
        loss = sum(term for term, _ in per_head.values())
        return loss, sum(count for _, count in per_head.values())

    # ----- inference -----

    def predict(self, sentences: Union[list[Sentence], Sentence], mini_batch_size: int = 32,
                return_probabilities_for_all_classes: bool = False, verbose: bool = False,
                label_name: Optional[str] = None, return_loss: bool = False, embedding_storage_mode: str = "none",
                head: Optional[str] = None):
        """Adds predicted spans (label ``label_name``, default the tag type) to each sentence.

        Always predicts in eval mode (no dropout), whatever mode the model is in; that mode is restored after.

        Args:
            head: the head that tags every sentence; ``None`` lets each sentence use its own corpus's head.
            return_loss: also return (summed loss, token count), as Flair's taggers do.
        """
        label_name = label_name or self.tag_type
        if not isinstance(sentences, list):
            sentences = [sentences]
        sentences = [sentence for sentence in sentences if len(sentence) > 0]
        total_loss = torch.zeros(1, device=flair.device)
        total_count = 0
        if not sentences:
            return (total_loss, total_count) if return_loss else None
        Sentence.set_context_for_sentences(sentences)
        ordered = sorted(sentences, key=len, reverse=True)
        loader = DataLoader(FlairDatapointDataset(ordered), batch_size=mini_batch_size)
        if verbose:
            from tqdm import tqdm

            loader = tqdm(loader, desc="predicting")
        with evaluation_mode(self):
            for batch in loader:
                encoded, lengths = self.encode(batch)
                for name, idx in self._groups(batch, head).items():
                    group = [batch[i] for i in idx]
                    index = torch.tensor(idx, dtype=torch.long, device=encoded.device)
                    tagging_head = self.heads[name]
                    scores = tagging_head(encoded.index_select(0, index), lengths[idx])
                    if return_loss:
                        total_loss += tagging_head.loss(scores, group, self.tag_type)
                        total_count += sum(len(s) for s in group)
                    tagging_head.annotate(scores, group, label_name, return_probabilities_for_all_classes)
                store_embeddings(batch, storage_mode=embedding_storage_mode)
        return (total_loss, total_count) if return_loss else None

    def evaluate(
        self,
        data_points,
        gold_label_type: Optional[str] = None,
        out_path: Optional[Union[str, Path]] = None,
        embedding_storage_mode: str = "none",
        mini_batch_size: int = 32,
        main_evaluation_metric: tuple[str, str] = ("micro avg", "f1-score"),
        exclude_labels: Optional[list[str]] = None,
        gold_label_dictionary: Optional[Dictionary] = None,
        return_loss: bool = True,
        head: Optional[str] = None,
        **kwargs,
    ) -> Result:
        """Exact-span micro P/R/F1 (seqeval strict, as conlleval) of one head, or of each sentence's own head.

        ``out_path`` receives the predictions in CoNLL form: token, gold tag, predicted tag.
        """
        return evaluate_spans(self, data_points, gold_label_type or self.tag_type, out_path, embedding_storage_mode,
                              mini_batch_size, exclude_labels, return_loss, head)

    # ----- saving and loading -----

    def config(self) -> dict:
        """The constructor's arguments besides embeddings and dictionaries: what a saved model restores."""
        return dict(self._arguments)

    def _get_state_dict(self) -> dict:
        return {
            **super()._get_state_dict(),
            "embeddings": self.embeddings.save_embeddings(use_state_dict=False),
            "tag_dictionaries": {name: head.label_dictionary for name, head in self.heads.items()},
            "config": self.config(),
        }

    @classmethod
    def _init_model_with_state_dict(cls, state: dict, **kwargs) -> "MultiHeadTagger":
        return super()._init_model_with_state_dict(state, embeddings=state["embeddings"], init_from_state_dict=True,
                                                   tag_dictionaries=state["tag_dictionaries"], **state["config"], **kwargs)

    @classmethod
    def load(cls, model_path) -> "MultiHeadTagger":
        """Loads a saved tagger as the class it was saved from (``MultiHeadTagger.load`` reads them all)."""

        state = model_path if isinstance(model_path, dict) else load_torch_state(str(model_path))
        saved = state.get("__cls__")
        if saved and saved != cls.__name__:
            classes = {c.__name__: c for c in _subclasses(MultiHeadTagger)}
            if saved not in classes or not issubclass(classes[saved], cls):
                raise TypeError(f"{model_path} holds a {saved}, not a {cls.__name__}")
            return classes[saved].load(state)
        return cast("MultiHeadTagger", super().load(model_path=state))

    def export_head(self, name: Optional[str] = None) -> SequenceTagger:
        """Head ``name`` (default: the main or only head) as a stock Flair ``SequenceTagger``, loadable without us."""
        return export_head(self, name)

    def __str__(self) -> str:
        heads = ", ".join(f"{name} ({len(head.entity_labels)} types)" for name, head in self.heads.items())
        return f"MultiHeadTagger(heads: {heads}; shared: {self.embeddings.name} -> BiLSTM {self.hidden_size})"


def _subclasses(cls) -> list:
    return [cls] + [sub for direct in cls.__subclasses__() for sub in _subclasses(direct)]


def corpus_for_heads(corpora: list) -> MultiCorpus:
    """One Flair corpus over several named corpora, for Flair's own trainer; sentences keep their ``corpus`` label."""
    return MultiCorpus(corpora, [corpus.name for corpus in corpora], sample_missing_splits=False)
