"""When to halve the learning rate and when to stop: annealing on the target's training loss (docs/methods.md §1.3)."""

from dataclasses import asdict, dataclass
from typing import Optional


@dataclass
class AnnealOnTrainLoss:
    """Flair's anneal-on-plateau rule, on the target corpus's epoch training loss.

    An epoch is *bad* when its loss is not lower than the best so far. After ``patience`` bad
    epochs in a row the next bad one halves the learning rate (``lr * factor``) and restarts the
    count; this is Flair's ``AnnealOnPlateau`` (torch's ``ReduceLROnPlateau``: reduce when bad
    epochs > patience), which the MUNCHABLES authors trained with. Training stops when the
    learning rate falls below ``min_lr`` or after ``max_epochs``. Kept as a small class instead of
    Flair's scheduler so that its whole state checkpoints as a dict. ``anneal=False`` only counts
    epochs (a stage of fixed length, e.g. under a linear warm-up schedule that sets the rate itself).
    """

    learning_rate: float
    patience: int = 4
    factor: float = 0.5
    min_lr: float = 1e-4
    max_epochs: Optional[int] = 100
    anneal: bool = True
    best: float = float("inf")
    bad_epochs: int = 0
    epochs: int = 0

    def __post_init__(self):
        if not 0.0 < self.factor < 1.0:
            raise ValueError(f"anneal factor must be in (0, 1), got {self.factor}")
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience}")

    def step(self, epoch_loss: float) -> float:
        """Records one epoch's target training loss; returns the learning rate for the next epoch."""
        self.epochs += 1
        if not self.anneal:
            return self.learning_rate
        if epoch_loss < self.best:
            self.best = epoch_loss
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.patience:
                self.learning_rate *= self.factor
                self.bad_epochs = 0
        return self.learning_rate

    @property
    def converged(self) -> bool:
        return self.learning_rate < self.min_lr or (self.max_epochs is not None and self.epochs >= self.max_epochs)

    @property
    def reason(self) -> str:
        if self.learning_rate < self.min_lr:
            return f"learning rate {self.learning_rate:.2g} < {self.min_lr:g}"
        return f"max_epochs {self.max_epochs} reached" if self.converged else "running"

    def state_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: dict) -> "AnnealOnTrainLoss":
        return cls(**state)
