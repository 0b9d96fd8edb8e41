"""Training loops and schedules."""

from flair_munch.training.multi_corpus import train_multi_corpus

__all__ = ["train_multi_corpus"]
