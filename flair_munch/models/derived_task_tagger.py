"""Taggers trained with extra heads on labels derived from the corpus's own tags (ECTTLNER, MT-BioBERT).

No auxiliary corpus is needed: sentence-level heads (SCE, SEN, bCLS, mCLS) read a pooled sentence
vector, token-level heads (TIE, TBL, mtCLS) read each word vector of the encoder, and all losses
are added with fixed weights to the main head's. Inference, evaluation and saved predictions use
the main head only, so both models evaluate, save and load like ``MultiHeadTagger``.
"""

from collections.abc import Sequence
from typing import Optional

import torch

import flair
from flair.data import Dictionary, Sentence
from flair.embeddings import TokenEmbeddings

from flair_munch.corpora.spans import span_tags
from flair_munch.inference import evaluation_mode
from flair_munch.models.multi_head_tagger import MultiHeadTagger
from flair_munch.models.registry import register_model
from flair_munch.models.task_head import ClassificationHead
from flair_munch.tasks import ECTTLNER_TASKS, MT_BIOBERT_TASKS, SENTENCE_TASKS, TASK_CLASSES, derived_labels

POOLINGS = ("mean", "max", "cls")
MAIN = "ner"
"""Key of the main head's term in ``forward_loss_per_task``."""

_CLASS_INDEX = {task: {value: i for i, value in enumerate(classes)} for task, classes in TASK_CLASSES.items()}


class DerivedTaskTagger(MultiHeadTagger):
    """One main tagging head plus one classifier per derived task, over one encoder.

    The word vectors H of the (usually fine-tuned) encoder pass one dropout; the main head reads
    them through the optional BiLSTM, the derived heads read them directly (docs/methods.md §2.2). The batch
    loss is ``main_weight * L_main + sum(task_weights[t] * L_t)``, every term summed over the
    batch's sentences (sentence tasks) or tokens (token tasks, the main head).
    """

    def __init__(
        self,
        embeddings: TokenEmbeddings,
        tag_dictionaries: dict[str, Dictionary],
        tasks: Sequence[str] = (),
        task_weights: Optional[dict[str, float]] = None,
        main_weight: float = 1.0,
        pooling: str = "mean",
        task_hidden_size: int = 0,
        encoder_dropout: float = 0.1,
        tag_type: str = "ner",
        entity_types: Optional[dict[str, str]] = None,
        tag_format: str = "BIO",
        hidden_size: int = 256,
        use_rnn: bool = True,
        use_crf: bool = True,
        init_from_state_dict: bool = False,
    ) -> None:
        if len(tag_dictionaries) != 1:
            raise ValueError(f"{type(self).__name__} tags one corpus; got {len(tag_dictionaries)} tag dictionaries "
                             f"({list(tag_dictionaries)}). Use MultiHeadTagger for several corpora.")
        tasks = list(tasks)
        unknown = [t for t in tasks if t not in TASK_CLASSES]
        if unknown or len(set(tasks)) != len(tasks):
            raise ValueError(f"tasks {tasks}: each must be one of {list(TASK_CLASSES)}, listed once")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        if pooling == "cls" and not getattr(embeddings, "document_embedding", False):
            raise ValueError("pooling='cls' needs a transformer that also gives the [CLS] vector: "
                             "load it with load_encoder(name, sentence_vector=True)")
        task_weights = dict(task_weights or {})
        if set(task_weights) - set(tasks):
            raise ValueError(f"weights given for tasks {sorted(set(task_weights) - set(tasks))} that are not switched on")
        super().__init__(
            embeddings, tag_dictionaries, tag_type=tag_type, entity_types=entity_types, tag_format=tag_format,
            hidden_size=hidden_size, reproject_embeddings=False, dropout=0.0, word_dropout=0.0, locked_dropout=0.0,
            use_rnn=use_rnn, use_crf=use_crf, init_from_state_dict=init_from_state_dict,
        )
        self.tasks = tasks
        self.task_weights = {task: float(task_weights.get(task, 1.0)) for task in tasks}
        self.main_weight = float(main_weight)
        self.pooling = pooling
        self.task_hidden_size = task_hidden_size
        self.encoder_dropout_rate = encoder_dropout
        self.encoder_dropout = torch.nn.Dropout(encoder_dropout)
        dim = embeddings.embedding_length
        self.task_heads = torch.nn.ModuleDict(
            {task: ClassificationHead(dim, len(TASK_CLASSES[task]), task_hidden_size, encoder_dropout) for task in tasks}
        )
        self.to(flair.device)

    @property
    def main_head(self) -> str:
        return self.head_names[0]

    # ----- encoding -----

    def encode_words(self, sentences: list[Sentence]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Word vectors H (after the encoder dropout), the main head's input, and the lengths."""
        words, lengths = self.embed_words(sentences)
        words = self.encoder_dropout(words)
        return words, self.contextualise(words, lengths), lengths

    def encode(self, sentences: list[Sentence]) -> tuple[torch.Tensor, torch.Tensor]:
        _, encoded, lengths = self.encode_words(sentences)
        return encoded, lengths

    def pool(self, sentences: list[Sentence], words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """One vector per sentence: [CLS], or the mean or max of its word vectors (padding excluded)."""
        if self.pooling == "cls":
            names = self.embeddings.get_names()
            return self.encoder_dropout(torch.stack([s.get_embedding(names) for s in sentences]).to(words.device))
        mask = _token_mask(lengths, words.shape[1], words.device).unsqueeze(-1)
        if self.pooling == "max":
            return words.masked_fill(~mask, float("-inf")).max(dim=1).values
        return (words * mask).sum(dim=1) / lengths.to(words.device).unsqueeze(-1).to(words.dtype)

    # ----- training -----

    def forward_loss_per_task(self, sentences: list[Sentence]) -> dict[str, tuple[torch.Tensor, int]]:
        """Unweighted loss of the main head (key ``"ner"``) and of each derived task, with their row counts."""
        sentences = sorted(sentences, key=len, reverse=True)
        words, encoded, lengths = self.encode_words(sentences)
        head = self.heads[self.main_head]
        tokens = int(lengths.sum())
        losses = {MAIN: (head.loss(head(encoded, lengths), sentences, self.tag_type), tokens)}
        if not self.tasks:
            return losses
        labels = [derived_labels(span_tags(sentence, self.tag_type, "BIO")) for sentence in sentences]
        token_vectors = words[_token_mask(lengths, words.shape[1], words.device)]
        pooled = self.pool(sentences, words, lengths) if set(self.tasks) & set(SENTENCE_TASKS) else None
        for task, task_head in self.task_heads.items():
            index = _CLASS_INDEX[task]
            if task in SENTENCE_TASKS:
                gold = torch.tensor([index[label[task]] for label in labels], device=words.device)
                losses[task] = (task_head.loss(pooled, gold), len(sentences))
            else:
                gold = torch.tensor([index[value] for label in labels for value in label[task]], device=words.device)
                losses[task] = (task_head.loss(token_vectors, gold), tokens)
        return losses

    def weighted_loss(self, per_task: dict[str, tuple[torch.Tensor, int]]) -> torch.Tensor:
        """``main_weight * L_main + sum_t task_weights[t] * L_t``."""
        loss = self.main_weight * per_task[MAIN][0]
        for task in self.tasks:
            loss = loss + self.task_weights[task] * per_task[task][0]
        return loss

    def forward_loss_per_head(self, sentences: list[Sentence]) -> dict[str, tuple[torch.Tensor, int]]:
        """The weighted total as the main head's term, so the project's trainer trains these models unchanged."""
        per_task = self.forward_loss_per_task(sentences)
        return {self.main_head: (self.weighted_loss(per_task), per_task[MAIN][1])}

    def predict_tasks(self, sentences: list[Sentence]) -> list[dict]:
        """The derived heads' predictions per sentence (class values as in ``derived_labels``), for inspection."""
        with evaluation_mode(self):
            ordered = sorted(range(len(sentences)), key=lambda i: len(sentences[i]), reverse=True)
            batch = [sentences[i] for i in ordered]
            words, _, lengths = self.encode_words(batch)
            pooled = self.pool(batch, words, lengths) if set(self.tasks) & set(SENTENCE_TASKS) else None
            results: list[dict] = [{} for _ in batch]
            for task, task_head in self.task_heads.items():
                classes = TASK_CLASSES[task]
                if task in SENTENCE_TASKS:
                    for result, best in zip(results, task_head(pooled).argmax(-1).tolist()):
                        result[task] = classes[best]
                else:
                    for i, length in enumerate(lengths.tolist()):
                        results[i][task] = [classes[j] for j in task_head(words[i, :length]).argmax(-1).tolist()]
        out: list[dict] = [{} for _ in sentences]
        for position, i in enumerate(ordered):
            out[i] = results[position]
        return out

    def __str__(self) -> str:
        tasks = ", ".join(f"{t} x{self.task_weights[t]:g}" for t in self.tasks) or "none"
        return (f"{type(self).__name__}(main head {self.main_head}; encoder {self.embeddings.name}; "
                f"BiLSTM {self.hidden_size if self.use_rnn else 'off'}; derived tasks: {tasks}; pooling {self.pooling})")


def _check_family(tasks: Sequence[str], allowed: Sequence[str], model: str) -> None:
    other = [task for task in tasks if task not in allowed]
    if other:
        raise ValueError(f"{model} tasks are {list(allowed)}; {other} are not. ECTTLNERTagger takes "
                         f"{list(ECTTLNER_TASKS)}, MTBioBERTTagger {list(MT_BIOBERT_TASKS)}.")


def _token_mask(lengths: torch.Tensor, longest: int, device) -> torch.Tensor:
    return torch.arange(longest, device=device)[None, :] < lengths.to(device)[:, None]


@register_model("ecttlner")
class ECTTLNERTagger(DerivedTaskTagger):
    """BERT-BiLSTM-CRF with ECTTLNER's derived tasks (docs/methods.md §2): ``L_seq + w(L_SCE + L_SEN) + (1-w)(L_TIE + L_TBL)``.

    ``tasks`` switches heads on (any subset of sce, sen, tie, tbl; none is the paper's baseline).
    The derived heads are MLPs on the encoder's word vectors; SCE and SEN read their mean.
    """

    def __init__(
        self,
        embeddings: TokenEmbeddings,
        tag_dictionaries: dict[str, Dictionary],
        tasks: Sequence[str] = ECTTLNER_TASKS,
        w: float = 0.3,
        hidden_size: int = 256,
        task_hidden_size: int = 256,
        encoder_dropout: float = 0.1,
        tag_type: str = "ner",
        entity_types: Optional[dict[str, str]] = None,
        tag_format: str = "BIO",
        init_from_state_dict: bool = False,
    ) -> None:
        _check_family(tasks, ECTTLNER_TASKS, "ECTTLNER")
        if not 0.0 <= w <= 1.0:
            raise ValueError(f"w must be in [0, 1], got {w}")
        self.w = float(w)
        weights = {task: (w if task in ("sce", "sen") else 1.0 - w) for task in tasks}
        super().__init__(
            embeddings, tag_dictionaries, tasks=tasks, task_weights=weights, pooling="mean",
            task_hidden_size=task_hidden_size, encoder_dropout=encoder_dropout, tag_type=tag_type,
            entity_types=entity_types, tag_format=tag_format, hidden_size=hidden_size, use_rnn=True, use_crf=True,
            init_from_state_dict=init_from_state_dict,
        )


@register_model("mt-biobert")
class MTBioBERTTagger(DerivedTaskTagger):
    """MT-BioBERT (docs/methods.md §3): softmax NER head on the encoder, plus bCLS, mCLS and mtCLS heads.

    Loss ``alpha*L_ner + beta*L_mtCLS + gamma*L_bCLS + delta*L_mCLS``; sentence heads read the
    [CLS] vector (``pooling="cls"``, needs ``load_encoder(..., sentence_vector=True)``) or the mean
    or max of the word vectors (max was the paper's best).
    """

    def __init__(
        self,
        embeddings: TokenEmbeddings,
        tag_dictionaries: dict[str, Dictionary],
        tasks: Sequence[str] = MT_BIOBERT_TASKS,
        pooling: str = "max",
        alpha: float = 1.0,
        beta: float = 1.0,
        gamma: float = 1.0,
        delta: float = 1.0,
        encoder_dropout: float = 0.1,
        tag_type: str = "ner",
        entity_types: Optional[dict[str, str]] = None,
        tag_format: str = "BIO",
        init_from_state_dict: bool = False,
    ) -> None:
        _check_family(tasks, MT_BIOBERT_TASKS, "MT-BioBERT")
        self.alpha, self.beta, self.gamma, self.delta = float(alpha), float(beta), float(gamma), float(delta)
        weights = {"mtcls": beta, "bcls": gamma, "mcls": delta}
        super().__init__(
            embeddings, tag_dictionaries, tasks=tasks, task_weights={t: weights[t] for t in tasks}, main_weight=alpha,
            pooling=pooling, task_hidden_size=0, encoder_dropout=encoder_dropout, tag_type=tag_type,
            entity_types=entity_types, tag_format=tag_format, use_rnn=False, use_crf=False,
            init_from_state_dict=init_from_state_dict,
        )
