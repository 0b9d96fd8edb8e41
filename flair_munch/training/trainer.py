"""``AuxiliaryTrainer``: trains a ``MultiHeadTagger`` for one target corpus under a schedule.

It owns what runs share: the corpora, the weights every run starts from, the embedding store and
the plugins. Each ``train`` call is one ``Run`` (``training/run.py``): identity and folder, the
schedule's plan, the loop (``training/loop.py``) and the outputs.
"""

import logging
from pathlib import Path
from typing import Optional, Sequence, Union

import flair
from flair.trainers import ModelTrainer
from flair.trainers.plugins.base import Pluggable

from flair_munch.models.multi_head_tagger import MultiHeadTagger
from flair_munch.training.identity import IdentityBasis, content_basis
from flair_munch.training.precision import resolve_precision
from flair_munch.training.result import TrainingResult
from flair_munch.training.run import Run, SharedByRuns
from flair_munch.training.schedules import Schedule, SingleTask
from flair_munch.training.settings import FINE_TUNING, TrainingSettings

log = logging.getLogger("flair_munch")

__all__ = ["FINE_TUNING", "AuxiliaryTrainer", "TrainingSettings", "train"]


class AuxiliaryTrainer(Pluggable):
    """Trains a ``MultiHeadTagger`` for one target corpus under a schedule.

    Every run starts from the weights the model had when the trainer was made, so runs of
    different schedules (and the SingleAux runs that selection and dev-sorted orders need) are
    comparable. Those SingleAux runs are cached under ``cache_dir`` by their run id and never
    trained twice.

    With an ``embedding_store`` (frozen embeddings only; fine-tuned encoders bypass it), each
    ``train`` call first makes sure the store holds what its run reads: the target's train, dev and
    test sentences and the auxiliary corpora's train sentences (never their dev or test, which no
    schedule uses). Sentences embedded by an earlier call, run or study are read back, not embedded
    again, and all runs feed the BiLSTM from the store.

    ``identity_basis`` describes the corpora and the model for run ids (a study passes its recipe's
    description); by default they are fingerprinted from the sentences and the model.

    Plugins are Flair's ``TrainerPlugin``s: the trainer sends Flair's events with Flair's payloads
    (``epoch`` counts all epochs of the run), plus ``stage``/``stage_epoch`` where a schedule has stages.
    """

    valid_events = set(ModelTrainer.valid_events)

    def __init__(self, model: MultiHeadTagger, corpora, cache_dir: Union[str, Path, None] = None, plugins=(),
                 embedding_store=None, identity_basis: Optional[IdentityBasis] = None) -> None:
        super().__init__(plugins=list(plugins))
        self.model = model
        self.corpora = dict(corpora) if isinstance(corpora, dict) else {c.name: c for c in corpora}
        missing = [name for name in self.corpora if name not in model.heads]
        if missing:
            raise ValueError(f"the model has no head for corpora {missing}; its heads are {model.head_names}")
        self.cache_dir = Path(cache_dir) if cache_dir else None
        # frozen embeddings never change, so the state every run starts from leaves them out (pubmed LMs: 144 MB)
        frozen = "embeddings." if model.static_embeddings else None
        self.initial_state = {k: v.detach().clone() for k, v in model.state_dict().items()
                              if not (frozen and k.startswith(frozen))}
        self.embedding_store = embedding_store if model.static_embeddings else None
        self._store_ready = False
        self._identity_basis = identity_basis
        self.return_values: dict = {}  # what Flair's plugins (e.g. MetricHistoryPlugin) hand back

    @property
    def identity_basis(self) -> IdentityBasis:
        if self._identity_basis is None:
            store = self.embedding_store
            self._identity_basis = content_basis(self.model, self.corpora, store.fingerprint if store else None,
                                                 store.dtype if store else "float32")
        return self._identity_basis

    def train(self, target: str, aux: Optional[Sequence[str]] = None, schedule: Optional[Schedule] = None,
              base_path: Union[str, Path] = "runs/run", settings: Optional[TrainingSettings] = None,
              **overrides) -> TrainingResult:
        """Trains (or resumes, or reuses) one run and returns its result.

        Args:
            target: the corpus whose head is trained, evaluated and converged on.
            aux: auxiliary corpora (default: every other corpus given to the trainer).
            schedule: SingleTask (default), MultiTask, SingleAux, SingleAuxBest, MunchConc, MunchIter, MunchStack, ...
            base_path: the run's folder: final-model.pt, metrics.json, history.{json,tsv}, test-predictions.conll.
            settings: a ``TrainingSettings`` (default: its defaults; ``FINE_TUNING`` for transformers).
            **overrides: ``TrainingSettings`` fields that replace those of ``settings``, e.g. ``max_epochs=5``.

        Raises:
            TrainingDiverged: a batch's loss became NaN or infinite, or exploded (100x the corpus's first
                batch); the run is recorded as failed (``failed.json``), never as done.
        """
        settings = (settings or TrainingSettings()).replace(**overrides)
        resolve_precision(settings.precision, flair.device)  # a precision the device cannot do: refused before the store
        if target not in self.corpora:
            raise KeyError(f"unknown target {target!r}; the trainer has corpora {list(self.corpora)}")
        if schedule is None and aux:
            log.warning("%s: auxiliary corpora %s are given without a schedule; the default, SingleTask, uses "
                        "none of them: pass one that does, e.g. SingleAux() or MunchIter()", target, list(aux))
        aux = [name for name in self.corpora if name != target] if aux is None else list(aux)
        unknown = [name for name in aux if name not in self.corpora or name == target]
        if unknown:
            raise ValueError(f"auxiliary corpora {unknown} are not among the trainer's other corpora {list(self.corpora)}")
        self._prepare_store(target, aux, settings.progress)
        return Run(self._shared(), target, aux, schedule or SingleTask(), Path(base_path), settings).execute()

    def train_prerequisite(self, target: str, aux: Sequence[str], schedule: Schedule, base_path: Union[str, Path],
                           settings: TrainingSettings, corpus: str) -> TrainingResult:
        """Trains (or reuses) the SingleAux run with ``corpus`` that the run of ``schedule`` in ``base_path`` reads
        while planning (``Schedule.prerequisites``): an executor trains it ahead, as a job of its own."""
        run = Run(self._shared(), target, list(aux), schedule, Path(base_path), settings)
        return run.plan.prerequisite(corpus)

    def _shared(self) -> SharedByRuns:
        """What a run reads of this trainer; its sub-runs (selection, dev-sorted orders, peers) come back to ``train``."""
        return SharedByRuns(model=self.model, corpora=self.corpora, initial_state=self.initial_state,
                            identity_basis=self.identity_basis, cache_dir=self.cache_dir, dispatch=self.dispatch,
                            train_sub_run=self.train)

    def _prepare_store(self, target: str, aux: Sequence[str], progress: bool) -> None:
        """Stores what a run of ``target`` with ``aux`` reads: target train/dev/test, aux train (incremental)."""
        if self.embedding_store is None:
            return
        from flair_munch.embeddings.store import sentences_read

        sentences = sentences_read(self.corpora[target], [self.corpora[name] for name in aux])
        report = self.embedding_store.ensure(sentences, progress=progress)
        log.info("embedding store: %d of %d sentences already stored (hit rate %.1f %%), %d embedded in %.1f s",
                 report.hits, report.sentences, 100 * report.hit_rate, report.embedded, report.seconds)
        self.store_report = report
        if not self._store_ready:
            self.model.use_store(self.embedding_store)
            self._store_ready = True


def train(model: MultiHeadTagger, target, aux=(), schedule: Optional[Schedule] = None, **kwargs) -> TrainingResult:
    """Trains ``model`` for the ``target`` corpus with the ``aux`` corpora under ``schedule``.

    ``target`` and ``aux`` are named corpora (``load_corpus``); the keyword arguments are those of
    ``AuxiliaryTrainer.train`` (``base_path``, ``settings``, and ``TrainingSettings`` fields such as
    ``learning_rate``, ``mini_batch_size``, ``max_epochs``), plus the trainer's ``cache_dir``.
    """
    trainer = AuxiliaryTrainer(model, [target, *aux], cache_dir=kwargs.pop("cache_dir", None))
    return trainer.train(target.name, [c.name for c in aux], schedule, **kwargs)
