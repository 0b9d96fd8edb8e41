"""Training: the one loop (AuxiliaryTrainer), its schedules, convergence and run folders."""

from flair_munch.training.batch_stream import BatchStream
from flair_munch.training.convergence import AnnealOnTrainLoss
from flair_munch.training.multi_corpus import train_multi_corpus
from flair_munch.training.result import TrainingResult
from flair_munch.training.schedules import (
    SCHEDULES,
    MatchedSingleTask,
    MultiTask,
    MunchConc,
    MunchIter,
    MunchStack,
    PretrainFinetune,
    Schedule,
    SingleAux,
    SingleAuxBest,
    SingleTask,
    Stage,
    Step,
    UncertaintySampling,
)
from flair_munch.training.settings import FINE_TUNING, TrainingSettings
from flair_munch.training.trainer import AuxiliaryTrainer, train

__all__ = [
    "FINE_TUNING",
    "SCHEDULES",
    "AnnealOnTrainLoss",
    "AuxiliaryTrainer",
    "BatchStream",
    "MatchedSingleTask",
    "MultiTask",
    "MunchConc",
    "MunchIter",
    "MunchStack",
    "PretrainFinetune",
    "Schedule",
    "SingleAux",
    "SingleAuxBest",
    "SingleTask",
    "Stage",
    "Step",
    "TrainingResult",
    "TrainingSettings",
    "UncertaintySampling",
    "train",
    "train_multi_corpus",
]
