"""Models: the multi-corpus BiLSTM-CRF and its heads, and the derived-task taggers."""

from flair_munch.models.derived_task_tagger import DerivedTaskTagger, ECTTLNERTagger, MTBioBERTTagger
from flair_munch.models.multi_head_tagger import MultiHeadTagger, corpus_for_heads
from flair_munch.models.tagging_head import TaggingHead, span_tag_dictionary
from flair_munch.models.task_head import ClassificationHead

__all__ = [
    "ClassificationHead",
    "DerivedTaskTagger",
    "ECTTLNERTagger",
    "MTBioBERTTagger",
    "MultiHeadTagger",
    "TaggingHead",
    "corpus_for_heads",
    "span_tag_dictionary",
]
