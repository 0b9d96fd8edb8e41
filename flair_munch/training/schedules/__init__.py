"""Training schedules: each decides which corpus's batch comes next and when a stage ends.

Each schedule registers itself by name (``@Schedule.register("munch-iter")``); ``SCHEDULES`` is
that live registry, so a schedule registered anywhere (a plugin, a test) is known to recipes.
"""

from flair_munch.training.schedules.aux_order import ORDERS, OrderedAuxSchedule, resolve_order, type_alternating_order
from flair_munch.training.schedules.base import (
    Choice, OneAuxSchedule, PlanContext, Problem, Schedule, Selection, Stage, Step,
)
from flair_munch.training.schedules.sampling import SAMPLINGS, CorpusWeighting
# imported in the order recipe errors list the names (registration order)
from flair_munch.training.schedules.single_task import SingleTask
from flair_munch.training.schedules.multi_task import MultiTask
from flair_munch.training.schedules.single_aux import SingleAux
from flair_munch.training.schedules.single_aux_best import SingleAuxBest
from flair_munch.training.schedules.munch_conc import MunchConc
from flair_munch.training.schedules.munch_iter import MunchIter
from flair_munch.training.schedules.munch_stack import MunchStack
from flair_munch.training.schedules.pretrain_finetune import PretrainFinetune
from flair_munch.training.schedules.matched_single_task import MatchedSingleTask
from flair_munch.training.schedules.uncertainty_sampling import TrainSubset, UncertaintySampling
from flair_munch.training.schedules.single_aux_predicted import SingleAuxPredicted

SCHEDULES = Schedule.registry  # name -> class, the live registry (not a copy)

__all__ = [
    "ORDERS",
    "SAMPLINGS",
    "SCHEDULES",
    "Choice",
    "CorpusWeighting",
    "MatchedSingleTask",
    "MultiTask",
    "MunchConc",
    "MunchIter",
    "MunchStack",
    "OneAuxSchedule",
    "OrderedAuxSchedule",
    "PlanContext",
    "PretrainFinetune",
    "Problem",
    "Schedule",
    "Selection",
    "SingleAux",
    "SingleAuxBest",
    "SingleAuxPredicted",
    "SingleTask",
    "Stage",
    "Step",
    "TrainSubset",
    "UncertaintySampling",
    "resolve_order",
    "type_alternating_order",
]
