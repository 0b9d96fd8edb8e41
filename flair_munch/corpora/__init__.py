"""Corpora: validated CoNLL reading, the corpus registry, subsampling, stats, label maps, mixing and similarity."""

from flair_munch.corpora.conll import (
    CORPUS_LABEL_TYPE,
    ConllFormatError,
    ConllReadResult,
    read_conll,
    to_flair_sentences,
    write_conll,
)
from flair_munch.corpora.label_map import LabelMap, LabelMapError, load_label_map, shipped_label_maps
from flair_munch.corpora.mixing import mix_corpora
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
from flair_munch.corpora.similarity import AuxSimilarity, format_ranking, rank_aux
from flair_munch.corpora.stats import corpus_stats, format_stats
from flair_munch.corpora.subsample import subsample

__all__ = [
    "BIOMEDICAL_CORPORA",
    "CORPUS_LABEL_TYPE",
    "DATA_ENV_VAR",
    "PAPER_STATS",
    "REGISTRY",
    "AuxSimilarity",
    "ConllFormatError",
    "ConllReadResult",
    "CorpusInfo",
    "CorpusNotFoundError",
    "LabelMap",
    "LabelMapError",
    "NamedCorpus",
    "corpus_stats",
    "format_ranking",
    "format_stats",
    "load_corpus",
    "load_label_map",
    "mix_corpora",
    "rank_aux",
    "read_conll",
    "resolve_corpus",
    "resolve_data_dir",
    "shipped_label_maps",
    "subsample",
    "to_flair_sentences",
    "write_conll",
]
