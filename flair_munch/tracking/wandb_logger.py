"""Weights & Biases: Flair's own ``WandbLogger``, one W&B run per training run (``log_to: [wandb]``, ``.[wandb]``).

The runs of a study share a project and a group (the study's name); W&B's own settings apply
(``wandb login``, ``WANDB_MODE=offline``, ``WANDB_PROJECT``); run files go to ``OUTPUT/wandb``.
"""

from __future__ import annotations

import os

from flair.trainers.plugins.base import TrainerPlugin
from flair.trainers.plugins.loggers.wandb import WandbLogger

from flair_munch.tracking.base import Tracker
from flair_munch.tracking.mlflow_logger import run_params


class RunWandbLogger(WandbLogger):
    """Flair's ``WandbLogger`` (its ``metric_recorded`` logs each scalar) on a W&B run of its own per training run,
    with the run's settings and identity as its config and the final ``final/dev/*``, ``final/test/*`` scores.

    Flair's alert handler and teardown hooks are left out: our trainer sends no ``after_training_setup`` or
    ``after_teardown`` event."""

    def __init__(self, project: str, folder, identities: dict) -> None:
        super().__init__(wandb=None, emit_alerts=False)
        self.project, self.folder, self.identities = project, folder, identities

    def after_training_setup(self, **kw):  # not a hook here (see the class)
        pass

    def close_file_handler(self, **kw):  # not a hook here (see the class)
        pass

    @TrainerPlugin.hook
    def after_setup(self, run_id: str, base_path=None, stages=(), **settings):
        import wandb

        os.makedirs(self.folder, exist_ok=True)
        self.wandb = wandb.init(project=os.environ.get("WANDB_PROJECT", self.project), group=self.project,
                                name=run_id, dir=str(self.folder), tags=[run_id],
                                config=run_params(settings, self.identities.get(run_id)))

    @TrainerPlugin.hook
    def after_training(self, result, **kw):
        self.wandb.log({f"final/{split}/{name}": value for split, scores in (("dev", result.dev), ("test", result.test))
                        for name, value in (scores or {}).items()})

    @TrainerPlugin.hook
    def _training_finally(self, **kw):
        if self.wandb is not None:
            self.wandb.finish()
            self.wandb = None


@Tracker.register("wandb")
class WandbTracker(Tracker):
    """A W&B run per training run, grouped by the study's name."""

    module, extra = "wandb", "wandb"

    def plugin(self, identities: dict) -> RunWandbLogger:
        return RunWandbLogger(self.tracking.study_name, self.study_dir / "wandb", identities)
