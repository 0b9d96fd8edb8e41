"""Models: the multi-corpus BiLSTM-CRF and its heads."""

from flair_munch.models.multi_head_tagger import MultiHeadTagger, corpus_for_heads
from flair_munch.models.tagging_head import TaggingHead, span_tag_dictionary

__all__ = ["MultiHeadTagger", "TaggingHead", "corpus_for_heads", "span_tag_dictionary"]
