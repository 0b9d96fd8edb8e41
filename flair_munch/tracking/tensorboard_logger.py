"""TensorBoard: Flair's own ``TensorboardLogger``, one log folder per run (``log_to: [tensorboard]``, ``.[tensorboard]``).

Every run of a study writes to ``OUTPUT/tensorboard/<run id>/``, so
``tensorboard --logdir OUTPUT/tensorboard`` shows the study's runs side by side.
"""

from __future__ import annotations

from pathlib import Path

from flair.trainers.plugins.base import TrainerPlugin
from flair.trainers.plugins.loggers.tensorboard import TensorboardLogger

from flair_munch.tracking.base import Tracker

TENSORBOARD_FOLDER = "tensorboard"


class RunTensorboardLogger(TensorboardLogger):
    """Flair's ``TensorboardLogger`` (its ``metric_recorded`` writes each scalar at its epoch), with a writer per run
    under ``root`` opened when the run starts, and the final ``final/dev/*`` and ``final/test/*`` scores added."""

    def __init__(self, root) -> None:
        TrainerPlugin.__init__(self)  # Flair's opens a writer at once; ours waits for the run's id
        self.root, self.comment, self.tracked_metrics = Path(root), "", ()
        self.log_dir, self.writer, self._warned = None, None, False

    @TrainerPlugin.hook
    def after_setup(self, run_id: str, **kw):
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = self.root / run_id
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    @TrainerPlugin.hook
    def after_training(self, result, **kw):
        for split, scores in (("dev", result.dev), ("test", result.test)):
            for name, value in (scores or {}).items():
                self.writer.add_scalar(f"final/{split}/{name}", value, result.epochs)
        self.writer.flush()

    @TrainerPlugin.hook
    def _training_finally(self, **kw):
        if self.writer is not None:  # None: the run stopped before it started
            self.writer.close()
            self.writer = None


@Tracker.register("tensorboard")
class TensorboardTracker(Tracker):
    """Event files per run in ``OUTPUT/tensorboard/<run id>``; nothing per study."""

    module, extra = "tensorboard", "tensorboard"

    def plugin(self, identities: dict) -> RunTensorboardLogger:
        return RunTensorboardLogger(self.study_dir / TENSORBOARD_FOLDER)
