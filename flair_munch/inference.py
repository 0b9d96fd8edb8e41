"""Inference mode for anything that computes a number from a model: no dropout, no gradients.

Flair's own trainer switches the model to ``eval()`` before it evaluates; a model that scores in
train mode applies word and locked dropout (and a transformer's own dropout) at prediction time,
which makes every score lower and random. Every prediction, evaluation and vector in this package
is computed inside :func:`evaluation_mode`, which also restores each submodule's own mode
afterwards (Flair's frozen embeddings keep themselves in eval mode; a blanket ``train()`` would not
know that), so a training loop that evaluates goes on with dropout active.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def evaluation_mode(*modules: torch.nn.Module) -> Iterator[None]:
    """Every module (and submodule) in eval mode under ``torch.no_grad()``; the previous modes come back after."""
    previous = [(module, module.training) for root in modules for module in root.modules()]
    for root in modules:
        root.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in previous:
            module.training = training
