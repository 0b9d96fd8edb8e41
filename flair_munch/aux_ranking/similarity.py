"""``similarity``: today's corpus similarity (vocabulary, entity types, surfaces; optional mean embeddings), no model.

The measures live in :mod:`flair_munch.corpora.similarity` (docs/transfer.md); this predictor puts them
behind :func:`~flair_munch.aux_ranking.rank_aux`. Seconds, no training steps.
"""

from dataclasses import dataclass
from typing import Any, Optional

from flair_munch.aux_ranking.base import AuxPredictor


@AuxPredictor.register("similarity")
@dataclass
class CorpusSimilarity(AuxPredictor):
    """Weighted Jaccard of word frequencies, Jaccard of entity types and surfaces, their mean (docs/methods.md §5)."""

    reference = "docs/methods.md §5 (source-domain selection by corpus similarity)"
    embeddings: Any = None  # a name, a list of names or TokenEmbeddings: adds the mean-vector cosine
    weights: Optional[dict] = None
    max_sentences: int = 2000
    label_type: str = "ner"

    def score(self, target, candidates):
        from flair_munch.corpora.similarity import rank_aux as similarity_rows

        embeddings = self.embeddings
        if isinstance(embeddings, (str, list, tuple)):
            from flair_munch.embeddings import load_embeddings

            embeddings = load_embeddings(embeddings)
        rows = similarity_rows(target, candidates, embeddings, label_type=self.label_type, weights=self.weights,
                               max_sentences=self.max_sentences)
        keys = ("vocabulary", "entity_types", "entity_surface") + (("embedding",) if embeddings is not None else ())
        return {row.name: (row.combined, {key: getattr(row, key) for key in keys}) for row in rows}, 0, 0

    def options(self) -> dict:
        shown = self.embeddings if isinstance(self.embeddings, (str, list, tuple, type(None))) else "<embeddings>"
        return {"embeddings": shown, "weights": self.weights, "max_sentences": self.max_sentences}
