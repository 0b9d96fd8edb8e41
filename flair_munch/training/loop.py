"""The one training loop under every schedule: stages of epochs of steps (docs/methods.md §1.2-1.3).

A schedule's plan says which corpus's batch each step takes and on which corpus a stage
converges; the loop draws the batches, steps the optimizer, anneals, evaluates the target's dev
split after every epoch, checkpoints (``TrainState``) and tells the trainer's plugins, with the
payloads Flair's own trainer sends (so Flair's loggers attach as they are).
"""

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, NoReturn, Optional

import torch
from tqdm import tqdm

import flair
from flair.trainers.plugins.metric_records import MetricRecord
from flair.training_utils import store_embeddings

from flair_munch.training.batch_stream import BatchStream, QuotaStream
from flair_munch.training.convergence import AnnealOnTrainLoss
from flair_munch.training.divergence import divergence
from flair_munch.training.precision import autocast, grad_scaler, resolve_precision
from flair_munch.training.run_directory import RunDirectory
from flair_munch.training.schedules import Stage
from flair_munch.training.settings import TrainingSettings
from flair_munch.training.train_state import TrainState

log = logging.getLogger("flair_munch")


@dataclass(frozen=True)
class LoopInputs:
    """All the loop reads of its run (as ``PlanContext`` is all a schedule reads), built by ``Run.loop_inputs``:
    the loop trains, checkpoints and reports through these members and cannot reach the run or the trainer."""

    model: torch.nn.Module  # a MultiHeadTagger: forward_loss_per_head, evaluate, state_dict
    settings: TrainingSettings
    target: str  # the corpus whose loss converges a stage without ``converge_on``
    run_id: str
    schedule_name: str  # for log lines
    directory: RunDirectory  # where checkpoints go
    storage: str  # embeddings_storage_mode of the batches ("none" when a store or a fine-tuned encoder feeds them)
    training_sentences: Callable[[str], list]  # what a corpus's batches are drawn from
    weights: Callable[[], dict]  # the weights a checkpoint holds
    load_weights: Callable[[dict], None]
    evaluate_dev: Callable[[], Optional[dict]]  # target dev precision/recall/f1, or None when not evaluated
    diverged: Callable[[str, Stage, int], NoReturn]  # raises TrainingDiverged (what, stage, stage epoch)
    dispatch: Callable[..., None]  # the trainer's plugin events


class TrainingLoop:
    """Trains ``stages`` for one run, reading only its ``LoopInputs``."""

    def __init__(self, inputs: LoopInputs, stages: list[Stage]) -> None:
        self.inputs, self.model, self.settings, self.stages = inputs, inputs.model, inputs.settings, stages
        self.streams: dict[str, BatchStream] = {}
        self.precision = resolve_precision(self.settings.precision, flair.device)
        self.scaler = grad_scaler(self.precision, flair.device)  # fp16 only
        for step in (step for stage in stages for step in stage.epoch):
            if step.key not in self.streams:
                self.streams[step.key] = self._stream(step)

    def _stream(self, step) -> BatchStream:
        """The batches of ``step.source``: the pool concatenated, or drawn in ``step.quotas``."""
        corpora = [self.inputs.training_sentences(name) for name in step.source]
        batching = (self.settings.mini_batch_size, self.settings.seed, step.key, self.settings.length_bucketing)
        if step.quotas:
            return QuotaStream(corpora, step.quotas, *batching)
        return BatchStream([s for corpus in corpora for s in corpus], *batching)

    def train(self) -> TrainState:
        inputs = self.inputs
        flair.set_seed(self.settings.seed)
        state = TrainState.resume(inputs.directory, inputs.load_weights, self.streams)
        if state is not None:
            log.info("resuming %s from %s (stage %d, epoch %d)", inputs.schedule_name, inputs.directory.checkpoint,
                     state.stage + 1, (state.convergence or {}).get("epochs", 0))
        state = state or TrainState()
        inputs.dispatch("after_setup", **self.settings.to_dict(), base_path=inputs.directory.path,
                        run_id=inputs.run_id, stages=self.stages)
        last_checkpoint = time.time()
        for index in range(state.stage, len(self.stages)):
            stage = self.stages[index]
            convergence = self._convergence(state.convergence, stage)
            optimizer = getattr(torch.optim, self.settings.optimizer)(self.model.parameters(), **self._options(
                convergence.learning_rate))
            scheduler = self._scheduler(optimizer, len(stage.epoch))
            if state.optimizer is not None:
                optimizer.load_state_dict(state.optimizer)
                if scheduler is not None:
                    scheduler.load_state_dict(state.scheduler)
            while not convergence.converged:
                self._epoch(stage, state, convergence, optimizer, scheduler)
                if convergence.converged:
                    state.stage_done(stage.name, convergence.reason)
                if convergence.converged or time.time() - last_checkpoint >= self.settings.checkpoint_every:
                    last_checkpoint = time.time()
                    if not convergence.converged:
                        state.convergence, state.optimizer = convergence.state_dict(), optimizer.state_dict()
                        state.scheduler = scheduler.state_dict() if scheduler is not None else None
                    state.save(inputs.directory, inputs.weights(), self.streams)
                inputs.dispatch("after_training_epoch", epoch=state.epochs, stage=stage.name,
                                stage_epoch=convergence.epochs, row=state.history[-1])
                dev_f1 = [row["dev_f1"] or 0.0 for row in state.history]
                inputs.dispatch("after_evaluation", epoch=state.epochs, current_model_is_best=dev_f1[-1] >= max(dev_f1),
                                validation_scores=(dev_f1[-1],))
        inputs.dispatch("after_training_loop")
        return state

    def _epoch(self, stage: Stage, state: TrainState, convergence: AnnealOnTrainLoss, optimizer, scheduler) -> None:
        """One epoch of ``stage``, its dev evaluation and history row; annealing decides the next rate."""
        start = time.time()
        epoch = state.epochs + 1
        self.inputs.dispatch("before_training_epoch", epoch=epoch, stage=stage.name,
                             stage_epoch=convergence.epochs + 1, lr=convergence.learning_rate)
        used_lr = optimizer.param_groups[0]["lr"]
        losses, sentences = self._steps(stage, state, epoch, convergence.epochs + 1, optimizer, scheduler)
        seconds = time.time() - start
        target_loss = losses.get(stage.converge_on or self.inputs.target, float("nan"))
        lr = convergence.step(target_loss)
        if scheduler is None:
            for group in optimizer.param_groups:
                group["lr"] = lr
        dev = self.inputs.evaluate_dev()
        row = {"stage": stage.name, "epoch": convergence.epochs, "lr": used_lr, "target_loss": target_loss,
               "losses": losses, "dev_precision": dev and dev["precision"], "dev_recall": dev and dev["recall"],
               "dev_f1": dev and dev["f1"], "seconds": round(seconds, 3),
               "sentences_per_second": round(sentences / max(seconds, 1e-9), 1), "updates": state.updates["shared"]}
        state.history.append(row)
        state.seconds += time.time() - start
        if dev and self.settings.final_model == "best-dev" and (state.best is None or dev["f1"] > state.best[0]):
            state.best = (dev["f1"], self.inputs.weights())
        for name, value in [(("train", "loss"), target_loss), ("learning_rate", used_lr)] + (
                [(("dev", "score"), dev["f1"]), (("dev", "micro avg", "f1-score"), dev["f1"]),
                 (("dev", "micro avg", "precision"), dev["precision"]),
                 (("dev", "micro avg", "recall"), dev["recall"])] if dev else []):
            self.inputs.dispatch("metric_recorded", MetricRecord.scalar(name, value, epoch))
        log.info("%s epoch %d: target loss %.4f, lr %.4g, dev F1 %s, %.1f s (%.0f sent/s)", stage.name,
                 convergence.epochs, target_loss, used_lr, f"{dev['f1']:.4f}" if dev else "-", seconds,
                 row["sentences_per_second"])

    def _steps(self, stage, state, epoch, stage_epoch, optimizer, scheduler) -> tuple[dict[str, float], int]:
        """The steps of one epoch: the mean per-token loss of each corpus and the sentences seen.

        Stops the run (``TrainingDiverged``) at the first batch whose loss is NaN, infinite or exploded.
        """
        self.model.train()
        loss_sum, tokens, updates = Counter(), Counter(), state.updates
        weights = dict(stage.loss_weights)  # per corpus; the loss terms recorded below stay unweighted
        sentences = 0
        bar = tqdm(stage.epoch, desc=f"{stage.name} epoch {stage_epoch}", leave=False,
                   disable=not self.settings.progress, unit="step")
        for number, step in enumerate(bar):
            batch = self.streams[step.key].next()
            batch_kw = {"batch_no": number, "batch": batch, "total_number_of_batches": len(stage.epoch),
                        "epoch": epoch, "batch_count": updates["shared"] + 1}
            self.inputs.dispatch("before_training_batch", **batch_kw)
            with autocast(self.precision, flair.device):  # the heads score the CRF and the loss in fp32
                per_head = self.model.forward_loss_per_head(batch)
            loss = step.weight * sum(weights[name] * term if name in weights else term
                                     for name, (term, _) in per_head.items())
            optimizer.zero_grad()
            self._backward_and_step(loss, optimizer, batch_kw)
            if scheduler is not None:
                scheduler.step()
            store_embeddings(batch, self.inputs.storage)
            updates["shared"] += 1
            for name, (term, count) in per_head.items():
                value = term.item()
                wrong = divergence(name, value / max(count, 1), state.first_losses)
                if wrong:
                    self.inputs.diverged(f"{wrong} (step {updates['shared']})", stage, stage_epoch)
                loss_sum[name] += value
                tokens[name] += count
                updates[name] += 1
            sentences += len(batch)
            self.inputs.dispatch("after_training_batch", **batch_kw, step=step, loss=loss.item(),
                                 lr=optimizer.param_groups[0]["lr"])
        return {name: loss_sum[name] / max(tokens[name], 1) for name in loss_sum}, sentences

    def _backward_and_step(self, loss: torch.Tensor, optimizer, batch_kw: dict) -> None:
        """Backward, clipping and the optimizer step; with fp16 through the loss scaler (a step whose scaled
        gradients overflowed is skipped and the scale lowered, as ``torch.amp`` does)."""
        scaler = self.scaler
        (scaler.scale(loss) if scaler else loss).backward()
        if self.settings.max_grad_norm:
            if scaler:
                scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.max_grad_norm)
        self.inputs.dispatch("before_training_optimizer_step", **batch_kw)
        if scaler:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()

    def _convergence(self, state: Optional[dict], stage: Stage) -> AnnealOnTrainLoss:
        """When the stage ends: annealing decides (SGD), or the fixed epoch count of a linear schedule or a stage."""
        if state is not None:
            return AnnealOnTrainLoss.from_state_dict(state)
        s = self.settings
        if stage.epochs is not None:  # a fixed length: the rate still anneals, but never stops the stage early
            return AnnealOnTrainLoss(learning_rate=s.learning_rate, patience=s.patience, factor=s.anneal_factor,
                                     min_lr=0.0, max_epochs=stage.epochs)
        if s.lr_schedule == "linear-warmup":
            return AnnealOnTrainLoss(learning_rate=s.learning_rate, max_epochs=s.max_epochs, min_lr=0.0, patience=0,
                                     factor=0.5, anneal=False)
        return AnnealOnTrainLoss(learning_rate=s.learning_rate, patience=s.patience, factor=s.anneal_factor,
                                 min_lr=s.min_learning_rate, max_epochs=s.max_epochs)

    def _options(self, learning_rate: float) -> dict:
        return {"lr": learning_rate, **({"weight_decay": self.settings.weight_decay} if self.settings.weight_decay else {})}

    def _scheduler(self, optimizer, steps_per_epoch: int):
        """Per-step linear warm-up and decay (transformers' schedule) for ``lr_schedule="linear-warmup"``."""
        if self.settings.lr_schedule != "linear-warmup":
            return None
        from transformers import get_linear_schedule_with_warmup

        total = steps_per_epoch * self.settings.max_epochs
        return get_linear_schedule_with_warmup(optimizer, int(self.settings.warmup_fraction * total), total)
