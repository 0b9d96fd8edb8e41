"""A classifier for one derived task: an MLP (or a linear layer) and softmax over a fixed class list."""

import torch


class ClassificationHead(torch.nn.Module):
    """Scores a vector (a pooled sentence or one token) for one derived task (docs/methods.md §2.2, 3).

    ECTTLNER's heads are an MLP and softmax (``hidden_size > 0``); MT-BioBERT's are BERT-style
    linear classifiers (``hidden_size = 0``). The loss is cross-entropy summed over the rows, so
    sentence and token tasks add up on the same scale as the CRF's summed negative log-likelihood.
    """

    def __init__(self, input_size: int, num_classes: int, hidden_size: int = 0, dropout: float = 0.1) -> None:
        super().__init__()
        self.num_classes = num_classes
        if hidden_size > 0:
            self.classifier = torch.nn.Sequential(
                torch.nn.Linear(input_size, hidden_size),
                torch.nn.ReLU(),
                torch.nn.Dropout(dropout),
                torch.nn.Linear(hidden_size, num_classes),
            )
        else:
            self.classifier = torch.nn.Linear(input_size, num_classes)

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """Logits ``[rows, num_classes]`` for ``[rows, input_size]`` vectors, float32 also under autocast (the loss)."""
        return self.classifier(vectors).float()

    def loss(self, vectors: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(self(vectors), gold, reduction="sum")
