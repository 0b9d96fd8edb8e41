"""Training schedules: each decides which corpus's batch comes next and when a stage ends."""

from flair_munch.training.schedules.aux_order import ORDERS, resolve_order, type_alternating_order
from flair_munch.training.schedules.base import Schedule, Stage, Step
from flair_munch.training.schedules.multi_task import MultiTask
from flair_munch.training.schedules.munch_conc import MunchConc
from flair_munch.training.schedules.munch_iter import MunchIter
from flair_munch.training.schedules.munch_stack import MunchStack
from flair_munch.training.schedules.pretrain_finetune import PretrainFinetune
from flair_munch.training.schedules.single_aux import SingleAux
from flair_munch.training.schedules.single_aux_best import SingleAuxBest
from flair_munch.training.schedules.single_task import SingleTask

SCHEDULES = {
    cls.name: cls for cls in (SingleTask, MultiTask, SingleAux, SingleAuxBest, MunchConc, MunchIter, MunchStack,
                              PretrainFinetune)
}

__all__ = [
    "ORDERS",
    "SCHEDULES",
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
    "resolve_order",
    "type_alternating_order",
]
