"""One execution of ``AuxiliaryTrainer.train``: find or resume the run, plan, train, write its outputs.

A run's folder is locked while a process works on it; a finished run (same id) is returned from
its ``metrics.json`` and a diverged one (``failed.json``) raises again unless ``retry_failed``.
A ``Selection`` schedule (SingleAux-best) trains nothing itself: it chooses among sub-runs and
its result is the chosen run's, recorded in this run's folder.
"""

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NoReturn, Optional

import torch

import flair

from flair_munch.evaluation.prediction_file import read_prediction_file, write_tag_file
from flair_munch.inference import evaluation_mode
from flair_munch.training.divergence import TrainingDiverged, advice
from flair_munch.training.identity import IdentityBasis, RunIdentity
from flair_munch.training.loop import LoopInputs, TrainingLoop
from flair_munch.training.planning import PlanningContext, TrainSubRun
from flair_munch.training.precision import autocast, resolve_precision
from flair_munch.training.result import TrainingResult
from flair_munch.training.run_directory import RunDirectory, atomic_write
from flair_munch.training.schedules import Schedule, Selection, Stage
from flair_munch.training.sentence_weights import clear_weights, sentence_vectors, similarity_weights
from flair_munch.training.settings import TrainingSettings

log = logging.getLogger("flair_munch")


@dataclass(frozen=True)
class SharedByRuns:
    """All a run reads of its trainer: what the trainer's runs share, its plugin events, and how a run has
    another run trained (``train_sub_run``: the trainer's ``train``, which SingleAux-best and dev-sorted orders
    reach through the ``PlanningContext``)."""

    model: torch.nn.Module  # the MultiHeadTagger every run trains, from ``initial_state``
    corpora: dict  # name -> corpus
    initial_state: dict  # the weights every run starts from (frozen embeddings left out)
    identity_basis: IdentityBasis
    cache_dir: Optional[Path]  # where sub-runs go (None: ``shared-runs/`` beside the run)
    dispatch: Callable[..., None]
    train_sub_run: TrainSubRun


class Run:
    """The run of ``schedule`` for ``target`` with ``aux`` and ``settings`` in ``run_dir``."""

    def __init__(self, shared: SharedByRuns, target: str, aux: list[str], schedule: Schedule, run_dir: Path,
                 settings: TrainingSettings) -> None:
        # what the run does (auto -> bf16 or fp32), recorded as such; a device that cannot do it is refused here
        settings = settings.replace(precision=resolve_precision(settings.precision, flair.device))
        self.shared, self.model, self.corpora = shared, shared.model, shared.corpora
        self.target, self.aux, self.schedule, self.settings = target, aux, schedule, settings
        self.identity = RunIdentity(target, tuple(aux), schedule.settings(), settings.identity(),
                                    shared.identity_basis)
        self.run_id = self.identity.run_id
        self.directory = RunDirectory(run_dir, self.run_id)
        self.plan = PlanningContext(shared.corpora, shared.train_sub_run, self.identity, settings, run_dir, schedule,
                                    shared.cache_dir)
        stored = self.model.embedding_store is not None
        self.storage = settings.embeddings_storage_mode if self.model.static_embeddings and not stored else "none"

    def dispatch(self, event: str, *args, **kwargs) -> None:
        self.shared.dispatch(event, *args, **kwargs)

    def execute(self) -> TrainingResult:
        with self.directory.lock():
            done = self.directory.finished()
            if done is not None:
                log.info("%s: finished run found in %s, reusing it", self.schedule.name, self.directory.path)
                return done
            failure = self.directory.failure()
            if failure is not None:
                if not self.settings.retry_failed:
                    raise TrainingDiverged.from_dict({**failure, "message": f"{failure['message']} (recorded in "
                                                      f"{self.directory.failed}; retry it with retry_failed / --retry-failed)"})
                self.directory.clear_failure()
            try:
                if isinstance(self.schedule, Selection):
                    return self._select()
                return self._train(self.schedule.plan(self.plan))
            except TrainingDiverged as error:  # its own, or that of a run it needs (SingleAux behind selection)
                if error.run_id != self.run_id:
                    error = TrainingDiverged(f"run {self.run_id} ({self.schedule.name} on {self.target}) needs run "
                                             f"{error.run_id}, which failed: {error.message}", self.run_id,
                                             str(self.directory.path), error.epoch, error.stage)
                self.directory.write_failure(error.to_dict())
                raise error from None

    def _select(self) -> TrainingResult:
        """The chosen sub-run's result, reported as this run's (with what was chosen and why)."""
        choice = self.schedule.choose(self.plan)
        result = self.plan.sub_run(choice.schedule, list(choice.aux), self.settings)
        chosen = TrainingResult.from_dict({**result.to_dict(), "schedule": self.schedule.name, "run_id": self.run_id,
                                           "run_dir": str(self.directory.path), "selection": choice.selection})
        self.directory.write_result(chosen)
        return chosen

    def _train(self, stages: list[Stage]) -> TrainingResult:
        start = time.time()
        self.load_weights(self.shared.initial_state)
        weighted = self._weight_aux_sentences()
        try:
            state = TrainingLoop(self.loop_inputs(), stages).train()
            return self._finish(stages, state, start)
        except BaseException:
            self.dispatch("_training_exception")
            raise
        finally:
            clear_weights(weighted)
            self.dispatch("_training_finally")

    def _weight_aux_sentences(self) -> list:
        """Per-sentence loss weights on the auxiliary train sentences (docs/methods.md §4), for this run only."""
        d = self.settings.aux_sentence_weighting
        if d is None:
            return []
        weighted, store = [], self.model.embedding_store
        with evaluation_mode(self.model):  # vectors without dropout (a fine-tuned encoder's state at the start)
            target_vector = sentence_vectors([s for s in self.plan.target_train if len(s)], self.model.embeddings,
                                             store=store).mean(0)
        for name in self.aux:
            sentences = list(self.corpora[name].train)
            weights = similarity_weights(sentences, [], self.model.embeddings, d=d, target_vector=target_vector,
                                         store=store)
            log.info("%s: similarity weights of %s's sentences (d=%g): min %.3f, max %.3f", self.target, name, d,
                     min(weights), max(weights))
            weighted += sentences
        return weighted

    # ----- what the loop asks of its run -----

    def loop_inputs(self) -> LoopInputs:
        """All the loop reads of this run."""
        return LoopInputs(model=self.model, settings=self.settings, target=self.target, run_id=self.run_id,
                          schedule_name=self.schedule.name, directory=self.directory, storage=self.storage,
                          training_sentences=self.plan.training_sentences, weights=self.weights,
                          load_weights=self.load_weights, evaluate_dev=self.evaluate_dev, diverged=self.diverged,
                          dispatch=self.dispatch)

    def weights(self) -> dict:
        """The weights training changes: static embeddings never do, so checkpoints leave them out."""
        frozen = "embeddings." if self.model.static_embeddings else None
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()
                if not (frozen and k.startswith(frozen))}

    def load_weights(self, weights: dict) -> None:
        missing, unexpected = self.model.load_state_dict(weights, strict=False)
        if unexpected or any(not key.startswith("embeddings.") for key in missing):
            raise RuntimeError(f"checkpoint does not fit the model: missing {missing}, unexpected {unexpected}")

    def diverged(self, what: str, stage: Stage, epoch: int) -> NoReturn:
        raise TrainingDiverged(
            f"run {self.run_id} ({self.schedule.name} on {self.target}, {self.directory.path}) diverged in epoch "
            f"{epoch} of stage {stage.name}: {what}; {advice(self.settings.to_dict())}. Recorded as failed, not done.",
            self.run_id, str(self.directory.path), epoch, stage.name)

    def evaluate_dev(self) -> Optional[dict]:
        if self.settings.train_with_dev or not self.settings.evaluate_dev:
            return None
        return self._evaluate(self.corpora[self.target].dev)

    def _evaluate(self, sentences, out_path=None) -> Optional[dict]:
        """Scores the target head; the global RNG is left as it was, so evaluating never changes training.

        (Each torch DataLoader draws its base seed from the global generator: without the fork, a run
        with ``evaluate_dev`` would train another model than the same run without it.)
        """
        if not sentences:
            return None
        with torch.random.fork_rng(devices=[]), autocast(self.settings.precision, flair.device):  # as it trains
            result = self.model.evaluate(sentences, head=self.target, out_path=out_path, return_loss=False,
                                         mini_batch_size=self.settings.eval_batch_size,
                                         embedding_storage_mode=self.storage)
        return {"precision": result.scores["micro avg precision"], "recall": result.scores["micro avg recall"],
                "f1": result.main_score}

    # ----- outputs -----

    def _finish(self, stages: list[Stage], state, start: float) -> TrainingResult:
        if state.best is not None:
            self.load_weights(state.best[1])
        self.directory.path.mkdir(parents=True, exist_ok=True)
        dev = self.evaluate_dev()
        test = self._evaluate(self.corpora[self.target].test, out_path=self.directory.predictions)
        if self.directory.predictions.is_file():  # written with the result, so a study's records are never without it
            write_tag_file(self.directory.packed_predictions, *read_prediction_file(self.directory.predictions))
        if self.settings.save_model:
            atomic_write(self.directory.model, lambda tmp: self.model.save(tmp))
        aux_order = [name for stage in stages for step in stage.epoch for name in step.source if name != self.target]
        result = TrainingResult(
            run_id=self.run_id, schedule=self.schedule.name, target=self.target, aux=self.aux,
            aux_order=list(dict.fromkeys(aux_order)), stages=[s.name for s in stages], dev=dev, test=test,
            epochs=len(state.history), updates=dict(state.updates), seconds=round(state.seconds, 2),
            stop_reasons=state.stop_reasons, run_dir=str(self.directory.path), model_path=str(self.directory.model),
            history=state.history, settings={**self.settings.to_dict(), "schedule": repr(self.schedule)},
            selection=self.schedule.trained_record(self.model, self.plan),  # e.g. a held-back pool's ranking
        )
        self.directory.write_result(result)
        self.dispatch("after_training", result=result)
        log.info("%s (%.0f s wall)", result.summary(), time.time() - start)
        return result
