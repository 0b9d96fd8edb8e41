"""Models: the multi-corpus BiLSTM-CRF and its heads, the derived-task taggers and the attention-fusion tagger."""

from flair_munch.models.attention_fusion_tagger import AttentionFusionTagger
from flair_munch.models.derived_task_tagger import DerivedTaskTagger, ECTTLNERTagger, MTBioBERTTagger
from flair_munch.models.multi_head_tagger import MultiHeadTagger, corpus_for_heads
from flair_munch.models.registry import MODEL_TYPES, register_model
from flair_munch.models.tagging_head import LOSS_WEIGHT, TaggingHead, loss_weights, span_tag_dictionary
from flair_munch.models.task_head import ClassificationHead

__all__ = [
    "LOSS_WEIGHT",
    "MODEL_TYPES",
    "AttentionFusionTagger",
    "ClassificationHead",
    "DerivedTaskTagger",
    "ECTTLNERTagger",
    "MTBioBERTTagger",
    "MultiHeadTagger",
    "TaggingHead",
    "corpus_for_heads",
    "loss_weights",
    "register_model",
    "span_tag_dictionary",
]
