"""Stopping a run whose loss has left the numbers: NaN, infinite, or exploded.

A diverged run's weights are garbage and its F1 must never reach a table. The trainer checks
every step's loss (free: it reads each loss anyway) for NaN, infinity and explosion: 100x the
per-token loss of that corpus's first batch in the run, when the head was untrained (an absurd
learning rate breaks the model within the first epoch, so the first epoch is no reference). A run
that fails a check stops,
writes ``failed.json`` instead of ``metrics.json`` and is not trained again unless asked
(``retry_failed``), since the same settings diverge the same way.
"""

import math
from typing import Optional

EXPLOSION_FACTOR = 100.0
"""A batch's per-token loss this many times that of the corpus's first batch in the run counts as divergence."""


class TrainingDiverged(RuntimeError):
    """A run stopped because its loss became NaN, infinite or exploded; ``str()`` says what to change."""

    def __init__(self, message: str, run_id: str = "", run_dir: str = "", epoch: Optional[int] = None,
                 stage: Optional[str] = None) -> None:
        super().__init__(message)
        self.message, self.run_id, self.run_dir, self.epoch, self.stage = message, run_id, run_dir, epoch, stage

    def to_dict(self) -> dict:
        return {"status": "failed", "reason": "diverged", "message": self.message, "run_id": self.run_id,
                "run_dir": self.run_dir, "epoch": self.epoch, "stage": self.stage}

    @classmethod
    def from_dict(cls, data: dict) -> "TrainingDiverged":
        return cls(data["message"], data.get("run_id", ""), data.get("run_dir", ""), data.get("epoch"),
                   data.get("stage"))


def non_finite(value: float) -> Optional[str]:
    """``"NaN"`` or ``"infinite"`` for a value that is not a number, else ``None``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "infinite"
    return None


def divergence(name: str, loss_per_token: float, first: dict[str, float]) -> Optional[str]:
    """What is wrong with a batch's per-token loss of corpus ``name``, or ``None``.

    ``first`` holds each corpus's per-token loss at its first batch of the run (the untrained head,
    about log K nats); this batch's value is recorded there when it is the first.
    """
    if non_finite(loss_per_token):
        return f"the loss of a {name} batch is {non_finite(loss_per_token)}"
    reference = first.setdefault(name, loss_per_token)
    if reference > 0 and loss_per_token > EXPLOSION_FACTOR * reference:
        return (f"the loss of a {name} batch exploded to {loss_per_token:.4g} per token, "
                f"{loss_per_token / reference:.0f}x its value at the run's first {name} batch ({reference:.4g})")
    return None


def advice(settings: dict) -> str:
    """The settings that make a run diverge, with their values, for the error message."""
    grad = settings.get("max_grad_norm")
    clip = f"max_grad_norm is {grad}" if grad else "max_grad_norm is off: set it (e.g. 5.0)"
    return f"lower learning_rate (now {settings.get('learning_rate')}) or clip gradients ({clip})"
