"""Which auxiliary corpora help a target: predictors behind one entry point, :func:`rank_aux` (docs/transfer.md).

``similarity`` (corpus statistics, no model), ``probe`` (short SingleAux runs on target dev),
``lookahead`` (inter-task affinity on the shared encoder) and ``encoder-states`` (mean encoder
states); each is a registered :class:`AuxPredictor` and every ranking states its compute.
"""

from flair_munch.aux_ranking.base import (
    AuxPredictor, AuxRanking, Compute, RankedAux, format_aux_ranking, make_predictor, predictor_names, rank_aux,
)
# imported so that each predictor registers itself (in the order --help lists them)
from flair_munch.aux_ranking.similarity import CorpusSimilarity
from flair_munch.aux_ranking.probe_runs import ProbeRuns
from flair_munch.aux_ranking.lookahead import LookaheadAffinity
from flair_munch.aux_ranking.encoder_states import EncoderStates

PREDICTORS = AuxPredictor.registry  # name -> class, the live registry

__all__ = [
    "PREDICTORS",
    "AuxPredictor",
    "AuxRanking",
    "Compute",
    "CorpusSimilarity",
    "EncoderStates",
    "LookaheadAffinity",
    "ProbeRuns",
    "RankedAux",
    "format_aux_ranking",
    "make_predictor",
    "predictor_names",
    "rank_aux",
]
