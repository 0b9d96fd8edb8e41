"""Training a MultiHeadTagger on several corpora at once with Flair's own ModelTrainer.

This is Flair's way of multitask training (batches drawn from the concatenation of all
corpora, summed loss). flair-munch's schedules (SingleAux, MUNCH-*) build on the same model.
"""

import logging
import time
from pathlib import Path
from typing import Union

from flair.trainers import ModelTrainer

from flair_munch.models.multi_head_tagger import MultiHeadTagger, corpus_for_heads

log = logging.getLogger("flair_munch")


def train_multi_corpus(
    model: MultiHeadTagger,
    corpora: list,
    base_path: Union[str, Path],
    learning_rate: float = 0.1,
    mini_batch_size: int = 32,
    max_epochs: int = 10,
    embeddings_storage_mode: str = "cpu",
    **trainer_kwargs,
) -> dict:
    """Trains ``model`` on all ``corpora`` and returns test micro P/R/F1 per head.

    The final model is evaluated (``use_final_model_for_eval``), as docs/methods.md §1.3 asks, and each head is
    scored on its own corpus's test split.
    """
    start = time.time()
    trainer = ModelTrainer(model, corpus_for_heads(corpora))
    trainer.train(
        base_path,
        learning_rate=learning_rate,
        mini_batch_size=mini_batch_size,
        max_epochs=max_epochs,
        embeddings_storage_mode=embeddings_storage_mode,
        use_final_model_for_eval=True,
        **trainer_kwargs,
    )
    results = {}
    for corpus in corpora:
        scores = model.evaluate(corpus.test, head=corpus.name, out_path=Path(base_path) / f"test-{corpus.name}.conll")
        results[corpus.name] = {
            "precision": scores.scores["micro avg precision"],
            "recall": scores.scores["micro avg recall"],
            "f1": scores.main_score,
            "test_sentences": len(corpus.test),
        }
    results["_seconds"] = time.time() - start
    return results
