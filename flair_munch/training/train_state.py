"""Where a run stands, and how it checkpoints and restores itself so that a resumed run ends identically."""

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch


@dataclass
class TrainState:
    """Progress of one run: the stage it is in, what it has done so far, and the stage's own training state.

    A checkpoint holds this, the trainable weights, every batch stream and the random generators;
    ``resume`` brings all of them back, so an interrupted run continues with the same batches,
    dropout masks and learning rates as an uninterrupted one.
    """

    stage: int = 0
    history: list[dict] = field(default_factory=list)
    updates: Counter = field(default_factory=Counter)
    stop_reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    best: Optional[tuple[float, dict]] = None  # (dev F1, weights) of the best epoch, for final_model="best-dev"
    first_losses: dict[str, float] = field(default_factory=dict)  # per corpus: what divergence is measured against
    # the stage in progress (None once it converged): convergence rule, optimizer and scheduler states
    convergence: Optional[dict] = None
    optimizer: Optional[dict] = None
    scheduler: Optional[dict] = None

    def save(self, directory, weights: dict, streams: dict) -> None:
        """Writes the checkpoint (atomically) to the run's folder."""
        directory.save_checkpoint({
            "state": {**self.__dict__, "updates": dict(self.updates)},
            "model": weights,
            "streams": {key: stream.state_dict() for key, stream in streams.items()},
            "rng": {"torch": torch.get_rng_state(), "random": random.getstate(), "numpy": np.random.get_state()},
        })

    @classmethod
    def resume(cls, directory, load_weights, streams: dict) -> Optional["TrainState"]:
        """The state of the run's last checkpoint, with weights, streams and random generators restored."""
        checkpoint = directory.load_checkpoint()
        if checkpoint is None:
            return None
        state = cls(**{**checkpoint["state"], "updates": Counter(checkpoint["state"]["updates"])})
        load_weights(checkpoint["model"])
        for key, stream_state in checkpoint["streams"].items():
            streams[key].load_state_dict(stream_state)
        torch.set_rng_state(checkpoint["rng"]["torch"])
        random.setstate(checkpoint["rng"]["random"])
        np.random.set_state(checkpoint["rng"]["numpy"])
        return state

    def stage_done(self, name: str, reason: str) -> None:
        self.stop_reasons.append(f"{name}: {reason}")
        self.stage += 1
        self.convergence = self.optimizer = self.scheduler = None

    @property
    def epochs(self) -> int:
        return len(self.history)
