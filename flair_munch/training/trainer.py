"""The one training loop under every schedule (SPEC 1.2-1.3).

A schedule plans which corpus's batch comes at each step; ``AuxiliaryTrainer`` does the rest:
one shuffled batch stream per corpus, SGD steps, annealing on the target's training loss,
target dev evaluation, atomic epoch checkpoints and the run's output files. Trainer plugins
(Flair's ``TrainerPlugin``) can hook into its events.
"""

import hashlib
import json
import logging
import random
import time
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from tqdm import tqdm

import flair
from flair.trainers.plugins.base import Pluggable
from flair.training_utils import store_embeddings

from flair_munch.models.multi_head_tagger import MultiHeadTagger
from flair_munch.inference import evaluation_mode
from flair_munch.models.tagging_head import LOSS_WEIGHT
from flair_munch.training.batch_stream import BatchStream
from flair_munch.training.convergence import AnnealOnTrainLoss
from flair_munch.training.settings_check import training_problems
from flair_munch.training.divergence import TrainingDiverged, advice, divergence
from flair_munch.training.result import TrainingResult
from flair_munch.training.run_directory import RunDirectory
from flair_munch.training.schedules import Schedule, SingleAux, SingleTask, Stage
from flair_munch.training.sentence_weights import clear_weights, sentence_vectors, similarity_weights

log = logging.getLogger("flair_munch")

NOT_IN_RUN_ID = ("progress", "eval_batch_size", "checkpoint_every", "retry_failed")  # cannot change a run's numbers
FINE_TUNING = {"optimizer": "AdamW", "learning_rate": 5e-5, "lr_schedule": "linear-warmup", "warmup_fraction": 0.1,
               "mini_batch_size": 16, "max_epochs": 20, "max_grad_norm": 1.0, "embeddings_storage_mode": "none"}
"""``train`` settings of the derived-task papers (SPEC 2.3): ``trainer.train(target, **FINE_TUNING)``."""


class AuxiliaryTrainer(Pluggable):
    """Trains a ``MultiHeadTagger`` for one target corpus under a schedule.

    Every run starts from the weights the model had when the trainer was made, so runs of
    different schedules (and the SingleAux runs that selection and dev-sorted orders need) are
    comparable. SingleAux runs on train only are cached under ``cache_dir`` by their settings and
    never trained twice.

    With an ``embedding_store`` (frozen embeddings only; fine-tuned encoders bypass it), every
    sentence of every corpus is embedded once into the store at the first ``train`` call, or read
    back from an earlier study, and all runs feed the BiLSTM from it.
    """

    valid_events = {
        "after_setup", "before_training_epoch", "after_training_batch", "after_training_epoch", "after_training",
    }

    def __init__(self, model: MultiHeadTagger, corpora, cache_dir: Union[str, Path, None] = None, plugins=(),
                 embedding_store=None) -> None:
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

    # ----- public entry point -----

    def train(
        self,
        target: str,
        aux: Optional[Sequence[str]] = None,
        schedule: Optional[Schedule] = None,
        base_path: Union[str, Path] = "runs/run",
        learning_rate: float = 0.1,
        mini_batch_size: int = 32,
        max_epochs: int = 100,
        patience: int = 4,
        anneal_factor: float = 0.5,
        min_learning_rate: float = 1e-4,
        optimizer: str = "SGD",
        lr_schedule: str = "anneal",
        warmup_fraction: float = 0.1,
        weight_decay: float = 0.0,
        max_grad_norm: Optional[float] = 5.0,
        train_with_dev: bool = False,
        final_model: str = "last",
        evaluate_dev: bool = True,
        embeddings_storage_mode: str = "cpu",
        eval_batch_size: int = 64,
        length_bucketing: bool = True,
        save_model: bool = True,
        checkpoint_every: float = 0.0,
        aux_sentence_weighting: Optional[float] = None,
        seed: int = 1,
        progress: bool = True,
        retry_failed: bool = False,
    ) -> TrainingResult:
        """Trains (or resumes, or reuses) one run and returns its result.

        Args:
            target: the corpus whose head is trained, evaluated and converged on.
            aux: auxiliary corpora (default: every other corpus given to the trainer).
            schedule: SingleTask (default), MultiTask, SingleAux, SingleAuxBest, MunchConc, MunchIter, MunchStack.
            base_path: the run's folder: final-model.pt, metrics.json, history.{json,tsv}, test-predictions.conll.
            max_epochs: upper bound on epochs per stage, besides convergence (lr < min_learning_rate).
            optimizer: a ``torch.optim`` class name: SGD (MUNCHABLES), AdamW (fine-tuned encoders).
            lr_schedule: "anneal" (halve on the target's training-loss plateau, SPEC 1.3) or "linear-warmup"
                (linear warm-up over ``warmup_fraction`` of the steps, then linear decay to 0 at ``max_epochs``,
                per stage: the BERT fine-tuning schedule of SPEC 2.3 and 3).
            weight_decay: the optimizer's weight decay (MT-BioBERT: 0.01).
            length_bucketing: batches of sentences of similar length (less padding; see ``BatchStream``).
            train_with_dev: train on target train + dev (for test results, SPEC 1.3); no dev scores then.
            final_model: "last" (end of training, the paper's choice) or "best-dev".
            save_model: write ``final-model.pt`` (off for large studies of fine-tuned encoders: ~90 MB to
                ~440 MB a run; predictions and metrics are written either way).
            checkpoint_every: seconds of training between checkpoints; 0 writes one after every epoch. A larger
                value saves disk time for runs of many short epochs; an interrupted run then loses at most that
                much work. Results do not depend on it (it is not part of the run id).
            aux_sentence_weighting: ``d`` of SPEC 4's sentence weights: every auxiliary training sentence's loss
                is multiplied by ``max(cos(v_x, v_target), 0) ** d / C`` (mean 1; ``similarity_weights``) for this
                run. ``None`` (default): every sentence counts once. Works with every schedule.
            retry_failed: train a run again that diverged earlier (``failed.json``); by default such a run raises
                ``TrainingDiverged`` at once, since the same settings diverge the same way.

        Raises:
            TrainingDiverged: a batch's loss became NaN or infinite, or exploded (100x the corpus's first
                batch); the run is recorded as failed (``failed.json``), never as done.
        """
        settings = {k: v for k, v in locals().items() if k not in ("self", "target", "aux", "schedule", "base_path")}
        if target not in self.corpora:
            raise KeyError(f"unknown target {target!r}; the trainer has corpora {list(self.corpora)}")
        if schedule is None and aux:
            log.warning("%s: auxiliary corpora %s are given without a schedule; the default, SingleTask, uses "
                        "none of them: pass one that does, e.g. SingleAux() or MunchIter()", target, list(aux))
        aux = [name for name in self.corpora if name != target] if aux is None else list(aux)
        unknown = [name for name in aux if name not in self.corpora or name == target]
        if unknown:
            raise ValueError(f"auxiliary corpora {unknown} are not among the trainer's other corpora {list(self.corpora)}")
        problems = training_problems(settings)
        if problems:
            raise ValueError(f"{problems[0][1]}. {problems[0][2]}")
        self._prepare_store(progress)
        return _Run(self, target, aux, schedule or SingleTask(), Path(base_path), settings).execute()

    def _prepare_store(self, progress: bool) -> None:
        if self.embedding_store is None or self._store_ready:
            return
        sentences = [s for corpus in self.corpora.values() for split in ("train", "dev", "test")
                     for s in (getattr(corpus, split) or [])]
        report = self.embedding_store.ensure(sentences, progress=progress)
        log.info("embedding store: %d of %d sentences already stored (hit rate %.1f %%), %d embedded in %.1f s",
                 report.hits, report.sentences, 100 * report.hit_rate, report.embedded, report.seconds)
        self.store_report = report
        self.model.use_store(self.embedding_store)
        self._store_ready = True

    # ----- cached SingleAux runs (SingleAux-best, dev-sorted order) -----

    def _sub_run_path(self, run_dir: Path, schedule: Schedule, target: str, aux: list[str], settings: dict) -> Path:
        root = self.cache_dir or run_dir.parent / "shared-runs"
        run_id = _run_id(self, target, aux, schedule, settings)
        return root / f"{schedule.name}_{target}_{'+'.join(aux)}_{run_id}"


def _fingerprint(corpus) -> dict:
    digest = hashlib.sha1()
    sizes = {}
    for split in ("train", "dev", "test"):
        sentences = getattr(corpus, split) or []
        sizes[split] = len(sentences)
        for sentence in sentences:
            digest.update(" ".join(t.text for t in sentence).encode("utf-8"))
            digest.update(repr([(s.unlabeled_identifier, s.tag) for s in sentence.get_spans("ner")]).encode("utf-8"))
            if sentence.has_metadata(LOSS_WEIGHT):  # weighted sentences train differently: another run
                digest.update(repr(sentence.get_metadata(LOSS_WEIGHT)).encode("utf-8"))
    return {"sizes": sizes, "sha1": digest.hexdigest()[:16]}


def _run_id(trainer: AuxiliaryTrainer, target: str, aux: list[str], schedule: Schedule, settings: dict) -> str:
    """Deterministic id of a run: same corpora, model, schedule and settings -> same id."""
    if not hasattr(trainer, "_fingerprints"):
        trainer._fingerprints = {name: _fingerprint(c) for name, c in trainer.corpora.items()}
    model = trainer.model
    identity = {
        "target": target,
        "aux": aux,
        "schedule": schedule.settings(),
        "settings": {k: v for k, v in settings.items() if k not in NOT_IN_RUN_ID},
        "corpora": {name: trainer._fingerprints[name] for name in [target, *aux]},
        "model": {"class": type(model).__name__, "embeddings": model.embeddings.get_names(),
                  "heads": model.head_names, "config": model.config()},
    }
    return hashlib.sha1(json.dumps(identity, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:12]


class _Run:
    """One execution of ``AuxiliaryTrainer.train``: plan, (resume,) train stages, write outputs."""

    def __init__(self, trainer, target, aux, schedule, run_dir, settings) -> None:
        self.trainer, self.model = trainer, trainer.model
        self.target, self.aux, self.schedule, self.settings = target, aux, schedule, settings
        self.run_id = _run_id(trainer, target, aux, schedule, settings)
        self.directory = RunDirectory(run_dir, self.run_id)
        self.batch_size = settings["mini_batch_size"]
        self.seed = settings["seed"]
        self.entity_types = {name: getattr(c, "entity_type", None) or name for name, c in trainer.corpora.items()}
        corpus = trainer.corpora[target]
        self.target_train = list(corpus.train) + (list(corpus.dev) if settings["train_with_dev"] else [])
        self.iterations = -(-len(self.target_train) // self.batch_size)
        stored = self.model.embedding_store is not None
        self.storage = settings["embeddings_storage_mode"] if self.model.static_embeddings and not stored else "none"

    # --- PlanContext for the schedule ---

    def train_size(self, name: str) -> int:
        return len(self.target_train) if name == self.target else len(self.trainer.corpora[name].train)

    def run(self, schedule: Schedule, aux: list[str], selection: Optional[dict] = None) -> TrainingResult:
        """Another schedule's run with these settings (cached), reported as this run's result."""
        path = self.trainer._sub_run_path(self.directory.path, schedule, self.target, aux, self.settings)
        result = self.trainer.train(self.target, aux, schedule, path, **self.settings)
        chosen = TrainingResult.from_dict({**result.to_dict(), "schedule": self.schedule.name, "run_id": self.run_id,
                                           "run_dir": str(self.directory.path), "selection": selection})
        self.directory.write_result(chosen)
        return chosen

    def aux_similarity(self) -> dict[str, float]:
        if not hasattr(self, "_similarity"):
            from flair_munch.corpora.similarity import rank_aux

            rows = rank_aux(self.trainer.corpora[self.target], [self.trainer.corpora[name] for name in self.aux])
            self._similarity = {row.name: row.combined for row in rows}
        return self._similarity

    def single_aux_dev_f1(self, aux: str) -> float:
        settings = {**self.settings, "train_with_dev": False, "evaluate_dev": True}
        path = self.trainer._sub_run_path(self.directory.path, SingleAux(aux), self.target, [aux], settings)
        result = self.trainer.train(self.target, [aux], SingleAux(aux), path, **settings)
        return result.dev["f1"]

    # --- the run ---

    def execute(self) -> TrainingResult:
        with self.directory.lock():
            return self._execute()

    def _execute(self) -> TrainingResult:
        done = self.directory.finished()
        if done is not None:
            log.info("%s: finished run found in %s, reusing it", self.schedule.name, self.directory.path)
            return done
        failure = self.directory.failure()
        if failure is not None:
            if not self.settings["retry_failed"]:
                raise TrainingDiverged.from_dict({**failure, "message": f"{failure['message']} (recorded in "
                                                  f"{self.directory.failed}; retry it with retry_failed / --retry-failed)"})
            self.directory.clear_failure()
        try:
            plan = self.schedule.plan(self)
            if isinstance(plan, TrainingResult):
                return plan
            return self._train(plan)
        except TrainingDiverged as error:  # its own, or that of a run it needs (SingleAux behind selection)
            if error.run_id != self.run_id:
                error = TrainingDiverged(f"run {self.run_id} ({self.schedule.name} on {self.target}) needs run "
                                         f"{error.run_id}, which failed: {error.message}", self.run_id,
                                         str(self.directory.path), error.epoch, error.stage)
            self.directory.write_failure(error.to_dict())
            raise error from None

    def _train(self, stages: list[Stage]) -> TrainingResult:
        self._load_weights(self.trainer.initial_state)
        weighted = self._weight_aux_sentences()
        try:
            return self._train_stages(stages)
        finally:
            clear_weights(weighted)

    def _weight_aux_sentences(self) -> list:
        """SPEC 4's per-sentence loss weights on the auxiliary train sentences, for this run only."""
        d = self.settings["aux_sentence_weighting"]
        if d is None:
            return []
        weighted, store = [], self.model.embedding_store
        with evaluation_mode(self.model):  # vectors without dropout (a fine-tuned encoder's state at the start)
            target_vector = sentence_vectors([s for s in self.target_train if len(s)], self.model.embeddings,
                                             store=store).mean(0)
        for name in self.aux:
            sentences = list(self.trainer.corpora[name].train)
            weights = similarity_weights(sentences, [], self.model.embeddings, d=d, target_vector=target_vector,
                                         store=store)
            log.info("%s: similarity weights of %s's sentences (d=%g): min %.3f, max %.3f", self.target, name, d,
                     min(weights), max(weights))
            weighted += sentences
        return weighted

    def _train_stages(self, stages: list[Stage]) -> TrainingResult:
        start = time.time()
        flair.set_seed(self.seed)
        streams = {}
        for stage in stages:
            for step in stage.epoch:
                if step.key not in streams:
                    pool = [s for name in step.source for s in (
                        self.target_train if name == self.target else self.trainer.corpora[name].train)]
                    streams[step.key] = BatchStream(pool, self.batch_size, self.seed, step.key,
                                                    self.settings["length_bucketing"])
        state = {"stage": 0, "history": [], "updates": Counter(), "stop_reasons": [], "seconds": 0.0, "best": None,
                 "first_losses": {}}
        checkpoint = self.directory.load_checkpoint()
        if checkpoint is not None:
            log.info("resuming %s from %s (stage %d, epoch %d)", self.schedule.name, self.directory.checkpoint,
                     checkpoint["stage"] + 1, checkpoint["convergence"]["epochs"] if checkpoint["convergence"] else 0)
            self._load_weights(checkpoint["model"])
            for key, stream_state in checkpoint["streams"].items():
                streams[key].load_state_dict(stream_state)
            torch.set_rng_state(checkpoint["rng"]["torch"])
            random.setstate(checkpoint["rng"]["random"])
            np.random.set_state(checkpoint["rng"]["numpy"])
            state = {k: checkpoint.get(k, state[k]) for k in state}
            state["updates"] = Counter(state["updates"])
        self.trainer.dispatch("after_setup", run=self, stages=stages)
        last_checkpoint = time.time()

        for index in range(state["stage"], len(stages)):
            stage = stages[index]
            resume = checkpoint is not None and checkpoint["stage"] == index and checkpoint["convergence"] is not None
            convergence = self._convergence(checkpoint["convergence"] if resume else None)
            optimizer = self._optimizer(convergence.learning_rate)
            scheduler = self._scheduler(optimizer, len(stage.epoch))
            if resume:
                optimizer.load_state_dict(checkpoint["optimizer"])
                if scheduler is not None:
                    scheduler.load_state_dict(checkpoint["scheduler"])
            while not convergence.converged:
                epoch_start = time.time()
                self.trainer.dispatch("before_training_epoch", epoch=convergence.epochs + 1, stage=stage.name,
                                      lr=convergence.learning_rate)
                used_lr = optimizer.param_groups[0]["lr"]
                losses, sentences = self._train_epoch(stage, streams, optimizer, scheduler, state, convergence)
                seconds = time.time() - epoch_start
                target_loss = losses.get(stage.converge_on or self.target, float("nan"))
                lr = convergence.step(target_loss)
                if scheduler is None:
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                dev = self._evaluate_dev()
                row = {"stage": stage.name, "epoch": convergence.epochs, "lr": used_lr, "target_loss": target_loss,
                       "losses": losses, "dev_precision": dev and dev["precision"], "dev_recall": dev and dev["recall"],
                       "dev_f1": dev and dev["f1"], "seconds": round(seconds, 3),
                       "sentences_per_second": round(sentences / max(seconds, 1e-9), 1),
                       "updates": state["updates"]["shared"]}
                state["history"].append(row)
                state["seconds"] += time.time() - epoch_start
                if dev and self.settings["final_model"] == "best-dev" and (
                        state["best"] is None or dev["f1"] > state["best"][0]):
                    state["best"] = (dev["f1"], self._weights())
                log.info("%s epoch %d: target loss %.4f, lr %.4g, dev F1 %s, %.1f s (%.0f sent/s)", stage.name,
                         convergence.epochs, target_loss, used_lr, f"{dev['f1']:.4f}" if dev else "-", seconds,
                         row["sentences_per_second"])
                if convergence.converged:
                    state["stop_reasons"].append(f"{stage.name}: {convergence.reason}")
                    state["stage"] = index + 1
                if convergence.converged or time.time() - last_checkpoint >= self.settings["checkpoint_every"]:
                    last_checkpoint = time.time()
                    self.directory.save_checkpoint({
                        **state, "updates": dict(state["updates"]), "model": self._weights(),
                        "convergence": None if convergence.converged else convergence.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict() if scheduler is not None else None,
                        "streams": {key: s.state_dict() for key, s in streams.items()},
                        "rng": {"torch": torch.get_rng_state(), "random": random.getstate(),
                                "numpy": np.random.get_state()},
                    })
                self.trainer.dispatch("after_training_epoch", epoch=convergence.epochs, stage=stage.name, row=row)
            checkpoint = None
        return self._finish(stages, state, start)

    def _convergence(self, state: Optional[dict]) -> AnnealOnTrainLoss:
        """When the stage ends: annealing decides (SGD), or the fixed epoch count of a linear schedule."""
        if state is not None:
            return AnnealOnTrainLoss.from_state_dict(state)
        if self.settings["lr_schedule"] == "linear-warmup":
            return AnnealOnTrainLoss(self.settings["learning_rate"], max_epochs=self.settings["max_epochs"],
                                     min_lr=0.0, patience=0, factor=0.5, anneal=False)
        return AnnealOnTrainLoss(self.settings["learning_rate"], self.settings["patience"],
                                 self.settings["anneal_factor"], self.settings["min_learning_rate"],
                                 self.settings["max_epochs"])

    def _optimizer(self, learning_rate: float) -> torch.optim.Optimizer:
        options = {"lr": learning_rate}
        if self.settings["weight_decay"]:
            options["weight_decay"] = self.settings["weight_decay"]
        return getattr(torch.optim, self.settings["optimizer"])(self.model.parameters(), **options)

    def _scheduler(self, optimizer, steps_per_epoch: int):
        """Per-step linear warm-up and decay (transformers' schedule) for ``lr_schedule="linear-warmup"``."""
        if self.settings["lr_schedule"] != "linear-warmup":
            return None
        from transformers import get_linear_schedule_with_warmup

        total = steps_per_epoch * self.settings["max_epochs"]
        return get_linear_schedule_with_warmup(optimizer, int(self.settings["warmup_fraction"] * total), total)

    def _weights(self) -> dict:
        """The weights training changes: static embeddings never do, so checkpoints leave them out."""
        frozen = "embeddings." if self.model.static_embeddings else None
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()
                if not (frozen and k.startswith(frozen))}

    def _load_weights(self, weights: dict) -> None:
        missing, unexpected = self.model.load_state_dict(weights, strict=False)
        if unexpected or any(not key.startswith("embeddings.") for key in missing):
            raise RuntimeError(f"checkpoint does not fit the model: missing {missing}, unexpected {unexpected}")

    def _train_epoch(self, stage, streams, optimizer, scheduler, state, convergence) -> tuple[dict[str, float], int]:
        """One epoch of ``stage``: returns the mean per-token loss of each corpus and the sentences seen.

        Stops the run (``TrainingDiverged``) at the first batch whose loss is NaN, infinite or exploded.
        """
        updates = state["updates"]
        self.model.train()
        loss_sum, tokens = Counter(), Counter()
        sentences = 0
        bar = tqdm(stage.epoch, desc=f"{stage.name} epoch {convergence.epochs + 1}", leave=False,
                   disable=not self.settings["progress"], unit="step")
        for step in bar:
            batch = streams[step.key].next()
            per_head = self.model.forward_loss_per_head(batch)
            loss = step.weight * sum(term for term, _ in per_head.values())
            optimizer.zero_grad()
            loss.backward()
            if self.settings["max_grad_norm"]:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings["max_grad_norm"])
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            store_embeddings(batch, self.storage)
            updates["shared"] += 1
            for name, (term, count) in per_head.items():
                value = term.item()
                wrong = divergence(name, value / max(count, 1), state["first_losses"])
                if wrong:
                    self._diverged(f"{wrong} (step {updates['shared']})", stage, convergence.epochs + 1)
                loss_sum[name] += value
                tokens[name] += count
                updates[name] += 1
            sentences += len(batch)
            self.trainer.dispatch("after_training_batch", step=step, batch=batch, loss=loss.item(),
                                  lr=optimizer.param_groups[0]["lr"])
        return {name: loss_sum[name] / max(tokens[name], 1) for name in loss_sum}, sentences

    def _diverged(self, what: str, stage: Stage, epoch: int) -> None:
        raise TrainingDiverged(
            f"run {self.run_id} ({self.schedule.name} on {self.target}, {self.directory.path}) diverged in epoch "
            f"{epoch} of stage {stage.name}: {what}; {advice(self.settings)}. Recorded as failed, not done.",
            self.run_id, str(self.directory.path), epoch, stage.name)

    def _evaluate_dev(self) -> Optional[dict]:
        if self.settings["train_with_dev"] or not self.settings["evaluate_dev"]:
            return None
        return self._evaluate(self.trainer.corpora[self.target].dev)

    def _evaluate(self, sentences, out_path=None) -> Optional[dict]:
        if not sentences:
            return None
        result = self.model.evaluate(sentences, head=self.target, out_path=out_path, return_loss=False,
                                     mini_batch_size=self.settings["eval_batch_size"],
                                     embedding_storage_mode=self.storage)
        return {"precision": result.scores["micro avg precision"], "recall": result.scores["micro avg recall"],
                "f1": result.main_score}

    def _finish(self, stages: list[Stage], state: dict, start: float) -> TrainingResult:
        if state["best"] is not None:
            self._load_weights(state["best"][1])
        corpus = self.trainer.corpora[self.target]
        self.directory.path.mkdir(parents=True, exist_ok=True)
        dev = self._evaluate_dev()
        test = self._evaluate(corpus.test, out_path=self.directory.predictions)
        from flair_munch.training.run_directory import atomic_write

        if self.settings["save_model"]:
            atomic_write(self.directory.model, lambda tmp: self.model.save(tmp))
        aux_order = [name for stage in stages for name in _aux_in(stage, self.target)]
        result = TrainingResult(
            run_id=self.run_id, schedule=self.schedule.name, target=self.target, aux=self.aux,
            aux_order=list(dict.fromkeys(aux_order)), stages=[s.name for s in stages], dev=dev, test=test,
            epochs=len(state["history"]), updates=dict(state["updates"]), seconds=round(state["seconds"], 2),
            stop_reasons=state["stop_reasons"], run_dir=str(self.directory.path), model_path=str(self.directory.model),
            history=state["history"], settings={**self.settings, "schedule": repr(self.schedule)},
        )
        self.directory.write_result(result)
        self.trainer.dispatch("after_training", result=result)
        log.info("%s (%.0f s wall)", result.summary(), time.time() - start)
        return result


def _aux_in(stage: Stage, target: str) -> list[str]:
    return [name for step in stage.epoch for name in step.source if name != target]


def train(model: MultiHeadTagger, target, aux=(), schedule: Optional[Schedule] = None, **kwargs) -> TrainingResult:
    """Trains ``model`` for the ``target`` corpus with the ``aux`` corpora under ``schedule``.

    ``target`` and ``aux`` are named corpora (``load_corpus``); the keyword arguments are those of
    ``AuxiliaryTrainer.train`` (``base_path``, ``learning_rate``, ``mini_batch_size``, ``max_epochs``, ...).
    """
    trainer = AuxiliaryTrainer(model, [target, *aux], cache_dir=kwargs.pop("cache_dir", None))
    return trainer.train(target.name, [c.name for c in aux], schedule, **kwargs)
