"""Auxiliary tasks whose labels are derived from a sentence's own NER tags."""

from flair_munch.tasks.derived_labels import (
    ECTTLNER_TASKS,
    MT_BIOBERT_TASKS,
    SENTENCE_TASKS,
    TASK_CLASSES,
    TOKEN_TASKS,
    derived_labels,
)

__all__ = [
    "ECTTLNER_TASKS",
    "MT_BIOBERT_TASKS",
    "SENTENCE_TASKS",
    "TASK_CLASSES",
    "TOKEN_TASKS",
    "derived_labels",
]
