"""Logging a study's runs where researchers look: TensorBoard, MLflow, Weights & Biases (recipe key ``log_to``).

Each job attaches, to the trainer of its runs, Flair's own TensorBoard / W&B logger plugins or our
MLflow one; the extras install them (``pip install 'flair-munch[mlflow]'``, ``[tensorboard]``, ``[wandb]``).
"""

from flair_munch.tracking.base import TRACKING_FILE, StudyTracking, Tracker
from flair_munch.tracking import mlflow_logger, tensorboard_logger, wandb_logger  # noqa: F401  (register the kinds)
from flair_munch.tracking.mlflow_logger import MlflowLogger
from flair_munch.tracking.study import (end_tracking, log_study_report, log_to_problems, missing_extras,
                                        parse_log_to_flag, start_tracking)
from flair_munch.tracking.tensorboard_logger import RunTensorboardLogger
from flair_munch.tracking.wandb_logger import RunWandbLogger

__all__ = ["TRACKING_FILE", "MlflowLogger", "RunTensorboardLogger", "RunWandbLogger", "StudyTracking", "Tracker",
           "end_tracking", "log_study_report", "log_to_problems", "missing_extras", "parse_log_to_flag",
           "start_tracking"]
