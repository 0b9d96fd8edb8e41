"""Reading the vectors of an embedded sentence, in the one order the tagger and the embedding store share."""

import torch

from flair.data import Sentence


def token_matrix(sentence: Sentence, names: list[str]) -> torch.Tensor:
    """The ``[tokens, dim]`` embeddings of an embedded sentence, in the order the tagger concatenates them."""
    return torch.stack([torch.cat(token.get_each_embedding(names)) for token in sentence])
