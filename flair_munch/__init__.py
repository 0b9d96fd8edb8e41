"""flair-munch: named entity recognition with auxiliary corpora, as a Flair plugin."""

__version__ = "0.1.0"

from flair_munch.corpora import BIOMEDICAL_CORPORA, REGISTRY, NamedCorpus, load_corpus  # noqa: E402
from flair_munch.embeddings import build_embeddings, load_embeddings, load_encoder  # noqa: E402
from flair_munch.evaluation import span_scores  # noqa: E402
from flair_munch.models import ECTTLNERTagger, MTBioBERTTagger, MultiHeadTagger, corpus_for_heads  # noqa: E402
from flair_munch.training import (  # noqa: E402
    AuxiliaryTrainer,
    MultiTask,
    MunchConc,
    MunchIter,
    MunchStack,
    SingleAux,
    SingleAuxBest,
    SingleTask,
    TrainingResult,
    TrainingSettings,
    train,
    train_multi_corpus,
)

__all__ = [
    "AuxiliaryTrainer",
    "MultiTask",
    "MunchConc",
    "MunchIter",
    "MunchStack",
    "SingleAux",
    "SingleAuxBest",
    "SingleTask",
    "TrainingResult",
    "TrainingSettings",
    "train",
    "BIOMEDICAL_CORPORA",
    "REGISTRY",
    "ECTTLNERTagger",
    "MTBioBERTTagger",
    "MultiHeadTagger",
    "NamedCorpus",
    "build_embeddings",
    "corpus_for_heads",
    "load_corpus",
    "load_embeddings",
    "load_encoder",
    "span_scores",
    "train_multi_corpus",
]
