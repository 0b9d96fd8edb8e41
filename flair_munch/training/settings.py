"""Every training option in one frozen, typed dataclass, validated once for ``train()`` and for recipes.

``AuxiliaryTrainer.train``, the recipe schema (``training:`` keys, their types and defaults), the CLI
and the generated key reference all read these fields, so a new option is one field here. A value
out of range fails before any corpus or model is loaded (a recipe's ``--dry-run`` reports it with
file, line and key) instead of after an epoch, or worse, training silently: a negative
``max_grad_norm`` flips the gradient's sign in ``clip_grad_norm_``, ``max_epochs: 0`` records an
untrained model as a finished run.
"""

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch

from flair_munch.training.precision import PRECISIONS, run_precision

LR_SCHEDULES = ("anneal", "linear-warmup")
FINAL_MODELS = ("last", "best-dev")
STORAGE_MODES = ("none", "cpu", "gpu")
DEFAULTS_NOT_IN_ID = {"precision": "fp32"}  # options added later: at these values a run keeps the id it had before


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool: what a numeric option (a setting, a schedule option) accepts."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optimizer(value: Any) -> bool:
    return isinstance(value, str) and isinstance(getattr(torch.optim, value, None), type) and issubclass(
        getattr(torch.optim, value), torch.optim.Optimizer)


def _option(default: Any, help: str, valid: Optional[Callable[[Any], bool]] = None, problem: str = "",
            fix: str = "", in_run_id: bool = True):
    """A field with its meaning, its valid range (``valid``, what is wrong, how to fix) and whether it is
    part of the run id (options that cannot change a run's numbers are not)."""
    return field(default=default, metadata={"help": help, "valid": valid, "problem": problem, "fix": fix,
                                            "in_run_id": in_run_id})


@dataclass(frozen=True)
class TrainingSettings:
    """How one run trains: optimiser, convergence rule, batching, outputs (docs/methods.md §1.3)."""

    learning_rate: float = _option(
        0.1, "initial learning rate (reset at each MUNCH-Stack stage)",
        lambda v: is_number(v) and v > 0, "must be a number > 0", "Use e.g. 0.1 (SGD) or 5e-5 (AdamW).")
    mini_batch_size: int = _option(
        32, "batch size of every corpus", lambda v: _integer(v) and v >= 1, "must be an integer >= 1", "Use e.g. 32.")
    max_epochs: int = _option(
        100, "cap on epochs per stage, besides convergence",
        lambda v: _integer(v) and v >= 1, "must be an integer >= 1 (0 would record an untrained model)",
        "Use e.g. 100 (annealing usually stops earlier).")
    patience: int = _option(
        4, "bad epochs of the target's training loss before the next bad one anneals",
        lambda v: _integer(v) and v >= 0, "must be an integer >= 0", "Use e.g. 4 (Flair's default 3).")
    anneal_factor: float = _option(
        0.5, "factor the learning rate is multiplied by on a plateau",
        lambda v: is_number(v) and 0 < v < 1, "must be a number between 0 and 1 (exclusive)",
        "Use e.g. 0.5: the learning rate is multiplied by it on a plateau.")
    min_learning_rate: float = _option(
        1e-4, "training stops when the learning rate falls below it",
        lambda v: is_number(v) and v >= 0, "must be a number >= 0", "Use e.g. 1e-4.")
    optimizer: str = _option(
        "SGD", "a torch.optim class name: SGD (MUNCHABLES), AdamW (fine-tuned encoders)",
        _optimizer, "is not an optimizer class of torch.optim", "Use e.g. SGD, Adam or AdamW.")
    lr_schedule: str = _option(
        "anneal", "anneal (halve on the target's training-loss plateau) or linear-warmup (per step, fixed "
        "max_epochs: the BERT fine-tuning schedule)",
        lambda v: v in LR_SCHEDULES, f"must be one of {', '.join(LR_SCHEDULES)}",
        "anneal: halve on plateaus (SGD); linear-warmup: fine-tuning a transformer.")
    warmup_fraction: float = _option(
        0.1, "fraction of all steps spent warming up (linear-warmup)",
        lambda v: is_number(v) and 0 <= v < 1, "must be a number in [0, 1)",
        "Use e.g. 0.1: the fraction of all steps spent warming up.")
    weight_decay: float = _option(
        0.0, "the optimizer's weight decay (MT-BioBERT: 0.01)",
        lambda v: is_number(v) and v >= 0, "must be a number >= 0", "Use 0 (off) or e.g. 0.01.")
    max_grad_norm: Optional[float] = _option(
        5.0, "gradient clipping (null: off)", lambda v: v is None or (is_number(v) and v > 0),
        "must be a number > 0 or null (a negative norm flips the gradient's sign)",
        "Use e.g. 5.0, or null to switch clipping off.")
    precision: str = _option(
        "fp32", "arithmetic of the encoder and heads (torch.autocast; the CRF and loss stay fp32): fp32, bf16, "
        "fp16 (CUDA, loss scaling) or auto (bf16 where the CPU or GPU has native bf16, else fp32); in the run id "
        "unless fp32",
        lambda v: v in PRECISIONS, f"must be one of {', '.join(PRECISIONS)}",
        "Use fp32, bf16 (CPUs with amx_bf16/avx512_bf16, Ampere+ GPUs), fp16 (CUDA) or auto.")
    train_with_dev: bool = _option(
        False, "train on target train + dev (for test results); selection runs still use train only")
    final_model: str = _option(
        "last", "last (the model at the end of training, the paper's choice) or best-dev",
        lambda v: v in FINAL_MODELS, f"must be one of {', '.join(FINAL_MODELS)}",
        "last: the model at the end of training (the paper's choice); best-dev: the best dev epoch.")
    evaluate_dev: bool = _option(True, "target dev P/R/F1 after every epoch")
    embeddings_storage_mode: str = _option(
        "cpu", "keep static embeddings on the sentences between epochs (none: recompute)",
        lambda v: v in STORAGE_MODES, f"must be one of {', '.join(STORAGE_MODES)}",
        "cpu keeps static embeddings between epochs; none recomputes them.")
    eval_batch_size: int = _option(
        64, "batch size of evaluation", lambda v: _integer(v) and v >= 1, "must be an integer >= 1", "Use e.g. 64.",
        in_run_id=False)
    length_bucketing: bool = _option(True, "batches of sentences of similar length (less padding)")
    save_model: bool = _option(True, "write final-model.pt (metrics and predictions are written either way)")
    checkpoint_every: float = _option(
        0.0, "seconds of training between checkpoints (0: after every epoch; a stage's last epoch always)",
        lambda v: is_number(v) and v >= 0, "must be a number of seconds >= 0", "Use 0 (after every epoch) or e.g. 600.",
        in_run_id=False)
    aux_sentence_weighting: Optional[float] = _option(
        None, "d of the similarity sentence weights (docs/methods.md §4): each auxiliary training sentence's loss "
        "is multiplied by max(cos(v_x, v_target), 0)^d / C (mean 1); null: off",
        lambda v: v is None or (is_number(v) and v >= 0), "must be a number >= 0 or null",
        "Use e.g. 1.0 (the exponent d), or null for no weights.")
    seed: int = _option(1, "one seed for the weights, dropout and every corpus's batch stream",
                        _integer, "must be an integer", "Use e.g. 1.")
    progress: bool = _option(True, "a progress bar per epoch", in_run_id=False)
    retry_failed: bool = _option(False, "train a run again that diverged earlier (failed.json)", in_run_id=False)

    def __post_init__(self) -> None:
        problems = training_problems(dataclasses.asdict(self))
        if problems:
            raise ValueError(f"{problems[0][1]}. {problems[0][2]}")

    def replace(self, **changes) -> "TrainingSettings":
        """These settings with some changed (validated again); unknown names raise a clear ``TypeError``."""
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise TypeError(f"unknown training settings {unknown}; valid: {', '.join(FIELDS)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def identity(self) -> dict:
        """The settings that can change a run's numbers: what its run id hashes (``auto`` precision as what it
        resolves to on ``flair.device``; options at a ``DEFAULTS_NOT_IN_ID`` value left out, so old ids stay)."""
        values = {name: getattr(self, name) for name, f in FIELDS.items() if f.metadata["in_run_id"]}
        values["precision"] = run_precision(self.precision)
        return {name: value for name, value in values.items()
                if not (name in DEFAULTS_NOT_IN_ID and value == DEFAULTS_NOT_IN_ID[name])}


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(TrainingSettings)}
TYPES: dict[str, Any] = typing.get_type_hints(TrainingSettings)

def training_problems(settings: dict) -> list[tuple[str, str, str]]:
    """``(key, what is wrong, how to fix)`` for every given setting out of its range, in field order."""
    problems = []
    for name, f in FIELDS.items():
        valid = f.metadata["valid"]
        if name in settings and valid is not None and not valid(settings[name]):
            problems.append((name, f"{name} {f.metadata['problem']}, got {settings[name]!r}", f.metadata["fix"]))
    return problems


FINE_TUNING = TrainingSettings(optimizer="AdamW", learning_rate=5e-5, lr_schedule="linear-warmup",
                               warmup_fraction=0.1, mini_batch_size=16, max_epochs=20, max_grad_norm=1.0,
                               embeddings_storage_mode="none")
"""The derived-task papers' settings (docs/methods.md §2.3): ``trainer.train(target, settings=FINE_TUNING)``."""
