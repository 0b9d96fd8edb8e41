"""The valid range of every training setting, checked in one place for ``train()`` and for recipes.

A value out of range fails before any corpus or model is loaded (a recipe's ``--dry-run`` reports it
with file, line and key) instead of after an epoch, or worse, training silently: a negative
``max_grad_norm`` flips the gradient's sign in ``clip_grad_norm_``, ``max_epochs: 0`` records an
untrained model as a finished run.
"""

import math
from typing import Any, Callable

import torch

LR_SCHEDULES = ("anneal", "linear-warmup")
FINAL_MODELS = ("last", "best-dev")
STORAGE_MODES = ("none", "cpu", "gpu")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optimizer(value: Any) -> bool:
    return isinstance(value, str) and isinstance(getattr(torch.optim, value, None), type) and issubclass(
        getattr(torch.optim, value), torch.optim.Optimizer)


# setting: (valid?, what is wrong when not, how to fix it)
RULES: dict[str, tuple[Callable[[Any], bool], str, str]] = {
    "learning_rate": (lambda v: _number(v) and v > 0, "must be a number > 0", "Use e.g. 0.1 (SGD) or 5e-5 (AdamW)."),
    "mini_batch_size": (lambda v: _integer(v) and v >= 1, "must be an integer >= 1", "Use e.g. 32."),
    "max_epochs": (lambda v: _integer(v) and v >= 1, "must be an integer >= 1 (0 would record an untrained model)",
                   "Use e.g. 100 (annealing usually stops earlier)."),
    "patience": (lambda v: _integer(v) and v >= 0, "must be an integer >= 0", "Use e.g. 4 (Flair's default 3)."),
    "anneal_factor": (lambda v: _number(v) and 0 < v < 1, "must be a number between 0 and 1 (exclusive)",
                      "Use e.g. 0.5: the learning rate is multiplied by it on a plateau."),
    "min_learning_rate": (lambda v: _number(v) and v >= 0, "must be a number >= 0", "Use e.g. 1e-4."),
    "optimizer": (_optimizer, "is not an optimizer class of torch.optim", "Use e.g. SGD, Adam or AdamW."),
    "lr_schedule": (lambda v: v in LR_SCHEDULES, f"must be one of {', '.join(LR_SCHEDULES)}",
                    "anneal: halve on plateaus (SGD); linear-warmup: fine-tuning a transformer."),
    "warmup_fraction": (lambda v: _number(v) and 0 <= v < 1, "must be a number in [0, 1)",
                        "Use e.g. 0.1: the fraction of all steps spent warming up."),
    "weight_decay": (lambda v: _number(v) and v >= 0, "must be a number >= 0", "Use 0 (off) or e.g. 0.01."),
    "max_grad_norm": (lambda v: v is None or (_number(v) and v > 0),
                      "must be a number > 0 or null (a negative norm flips the gradient's sign)",
                      "Use e.g. 5.0, or null to switch clipping off."),
    "final_model": (lambda v: v in FINAL_MODELS, f"must be one of {', '.join(FINAL_MODELS)}",
                    "last: the model at the end of training (the paper's choice); best-dev: the best dev epoch."),
    "embeddings_storage_mode": (lambda v: v in STORAGE_MODES, f"must be one of {', '.join(STORAGE_MODES)}",
                                "cpu keeps static embeddings between epochs; none recomputes them."),
    "eval_batch_size": (lambda v: _integer(v) and v >= 1, "must be an integer >= 1", "Use e.g. 64."),
    "checkpoint_every": (lambda v: _number(v) and v >= 0, "must be a number of seconds >= 0",
                         "Use 0 (after every epoch) or e.g. 600."),
    "aux_sentence_weighting": (lambda v: v is None or (_number(v) and v >= 0), "must be a number >= 0 or null",
                               "Use e.g. 1.0 (the exponent d), or null for no weights."),
}


def training_problems(settings: dict) -> list[tuple[str, str, str]]:
    """``(key, what is wrong, how to fix)`` for every setting out of its range, in ``RULES`` order."""
    problems = []
    for key, (valid, problem, fix) in RULES.items():
        if key in settings and not valid(settings[key]):
            problems.append((key, f"{key} {problem}, got {settings[key]!r}", fix))
    return problems
