"""Corpora: validated CoNLL reading, the corpus registry, subsampling and stats."""

from flair_munch.corpora.conll import (
    CORPUS_LABEL_TYPE,
    ConllFormatError,
    ConllReadResult,
    read_conll,
    to_flair_sentences,
    write_conll,
)
from flair_munch.corpora.named_corpus import NamedCorpus, load_corpus
from flair_munch.corpora.registry import (
    BIOMEDICAL_CORPORA,
    DATA_ENV_VAR,
    PAPER_STATS,
    REGISTRY,
    CorpusInfo,
    CorpusNotFoundError,
    resolve_corpus,
    resolve_data_dir,
)
from flair_munch.corpora.stats import corpus_stats, format_stats
from flair_munch.corpora.subsample import subsample

__all__ = [
    "BIOMEDICAL_CORPORA",
    "CORPUS_LABEL_TYPE",
    "DATA_ENV_VAR",
    "PAPER_STATS",
    "REGISTRY",
    "ConllFormatError",
    "ConllReadResult",
    "CorpusInfo",
    "CorpusNotFoundError",
    "NamedCorpus",
    "corpus_stats",
    "format_stats",
    "load_corpus",
    "read_conll",
    "resolve_corpus",
    "resolve_data_dir",
    "subsample",
    "to_flair_sentences",
    "write_conll",
]
