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
    "derived_labels",
    "TASK_CLASSES",
    "SENTENCE_TASKS",
    "TOKEN_TASKS",
    "ECTTLNER_TASKS",
    "MT_BIOBERT_TASKS",
]
