"""Static word vectors: gensim FastText trained on the corpus tokens, saved as KeyedVectors."""

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger("flair_munch.embeddings")


def train_word_vectors(
    sentences: Sequence[Sequence[str]],
    path: Path,
    *,
    dim: int,
    epochs: int,
    min_count: int,
    max_vocab: int,
    seed: int,
    workers: int = 2,
) -> dict:
    """Trains skip-gram FastText and saves only the full-word vectors of the most frequent words.

    The n-gram table is dropped on purpose: it is ~10x larger than the word vectors and
    ``flair.embeddings.WordEmbeddings`` cannot use it anyway (unseen words get a zero vector).
    Returns statistics for build.json.
    """
    from gensim.models import FastText, KeyedVectors

    model = FastText(
        vector_size=dim,
        window=5,
        min_count=min_count,
        sg=1,
        seed=seed,
        workers=workers,
    )
    model.build_vocab(corpus_iterable=sentences)
    total_words = model.corpus_total_words
    log.info("word vectors: %d sentences, %d tokens, %d types >= min_count", len(sentences), total_words, len(model.wv))
    model.train(corpus_iterable=sentences, total_examples=len(sentences), epochs=epochs)

    # gensim orders index_to_key by descending frequency, so a prefix is the top-N vocabulary.
    keys = list(model.wv.index_to_key[:max_vocab])
    vectors = np.stack([model.wv.get_vector(key) for key in keys]).astype(np.float32)
    kept = KeyedVectors(vector_size=dim, dtype=np.float32)
    kept.add_vectors(keys, vectors)
    # `separately` keeps the layout stable (.kv + .vectors.npy) whatever the array size.
    kept.save(str(path), separately=["vectors"])
    return {
        "dim": dim,
        "tokens": int(total_words),
        "trained_vocab_size": len(model.wv),
        "vocab_size": len(keys),
    }
