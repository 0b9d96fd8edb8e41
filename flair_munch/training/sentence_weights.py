"""Loss weights of auxiliary sentences by their similarity to the target corpus (Tang et al. 2022, docs/methods.md §4).

An auxiliary sentence x gets ``w(x) = max(cos(v_x, v_target), 0) ** d / C``: ``v_x`` is the mean of
its frozen token vectors, ``v_target`` the mean of the target's (train) sentence vectors, and ``C``
makes the mean weight over the auxiliary sentences 1, so weighting shifts the auxiliary loss
between sentences without changing its overall size. The weight is stored on the sentence
(metadata ``LOSS_WEIGHT``) and every tagging head multiplies that sentence's loss by it; sentences
without a weight count once.
"""

from collections.abc import Iterable
from typing import Optional

import torch
from flair.data import Sentence
from flair.embeddings import TokenEmbeddings

from flair_munch.inference import evaluation_mode
from flair_munch.models.tagging_head import LOSS_WEIGHT


def sentence_vectors(sentences: list[Sentence], embeddings: TokenEmbeddings, batch_size: int = 64,
                     store=None) -> torch.Tensor:
    """``[len(sentences), dim]`` float64 mean token vectors (zero rows for empty sentences).

    Reads the vectors from ``store`` (an ``EmbeddingStore`` of these embeddings) where it holds the
    sentence; embeds copies of the others, so no vectors are left on them.
    """
    vectors = torch.zeros(len(sentences), embeddings.embedding_length, dtype=torch.float64)
    positions = []
    for i, sentence in enumerate(sentences):
        stored = store.vectors(sentence) if store is not None and len(sentence) else None
        if stored is not None:
            vectors[i] = torch.from_numpy(stored.astype("float64", copy=False)).mean(0)
        elif len(sentence):
            positions.append(i)
    with evaluation_mode(embeddings):
        for start in range(0, len(positions), batch_size):
            chunk = positions[start : start + batch_size]
            copies = [Sentence([token.text for token in sentences[i]]) for i in chunk]
            embeddings.embed(copies)
            for i, copy in zip(chunk, copies):
                vectors[i] = torch.stack([t.get_embedding().detach().to("cpu", torch.float64) for t in copy]).mean(0)
    return vectors


def similarity_weights(
    aux_sentences: Iterable[Sentence],
    target_sentences: Iterable[Sentence],
    embeddings: TokenEmbeddings,
    d: float = 1.0,
    attach: bool = True,
    target_vector: Optional[torch.Tensor] = None,
    store=None,
) -> list[float]:
    """Weights ``max(cos(v_x, v_target), 0) ** d / C`` of the auxiliary sentences, mean 1, attached to them.

    Args:
        aux_sentences: the sentences to weight (an auxiliary corpus's train split).
        target_sentences: the target's train sentences; ``v_target`` is the mean of their sentence vectors.
        embeddings: frozen token embeddings giving the sentence vectors (not trained here).
        d: sharpness: 0 weights every sentence 1, larger values favour the most target-like sentences.
        attach: store each weight on its sentence (``LOSS_WEIGHT`` metadata) for the heads' losses.
        target_vector: ``v_target`` computed before (then ``target_sentences`` is not embedded).
        store: an ``EmbeddingStore`` of ``embeddings`` to read sentence vectors from instead of embedding.

    Returns:
        One weight per auxiliary sentence, in their order; empty sentences get 0 and do not count in ``C``.

    Raises:
        ValueError: ``d < 0``, or no auxiliary sentence has a positive cosine with the target (no ``C``).
    """
    if d < 0:
        raise ValueError(f"d must be >= 0, got {d}")
    aux_sentences = list(aux_sentences)
    if target_vector is None:
        target = [s for s in target_sentences if len(s)]
        if not target:
            raise ValueError("the target has no non-empty sentence to compute its mean vector from")
        target_vector = sentence_vectors(target, embeddings, store=store).mean(0)
    target_vector = target_vector.to(torch.float64)
    vectors = sentence_vectors(aux_sentences, embeddings, store=store)
    norms = vectors.norm(dim=1) * target_vector.norm()
    cosines = torch.where(norms > 0, (vectors @ target_vector) / norms.clamp_min(1e-300), torch.zeros_like(norms))
    filled = torch.tensor([len(s) > 0 for s in aux_sentences], dtype=torch.bool)
    raw = cosines.clamp(0.0, 1.0) ** d
    raw = torch.where(filled, raw, torch.zeros_like(raw))
    count = int(filled.sum())
    if count == 0 or float(raw.sum()) <= 0.0:
        raise ValueError("no auxiliary sentence has a positive cosine similarity with the target's mean vector: "
                         "the weights cannot be normalised (use d=0 for equal weights)")
    weights = (raw * (count / raw.sum())).tolist()
    if attach:
        for sentence, weight in zip(aux_sentences, weights):
            sentence.add_metadata(LOSS_WEIGHT, weight)
    return weights


def clear_weights(sentences: Iterable[Sentence]) -> None:
    """Removes the loss weights from ``sentences``: their losses count once again, by Flair's own loss."""
    for sentence in sentences:
        sentence._metadata.pop(LOSS_WEIGHT, None)  # Flair has no public way to remove metadata
