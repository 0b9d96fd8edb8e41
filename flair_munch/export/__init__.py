"""Export: one head of a flair-munch tagger as a stock Flair ``SequenceTagger`` with a model card, and its upload."""

from flair_munch.export.folder import ExportedModel, export_model, push_to_hub
from flair_munch.export.model_card import model_card
from flair_munch.export.run_record import RunRecord, StudyRow, find_run
from flair_munch.models.sequence_tagger_export import ExportError, export_head

__all__ = ["ExportError", "ExportedModel", "RunRecord", "StudyRow", "export_head", "export_model", "find_run",
           "model_card", "push_to_hub"]
