"""The recipe sections checked without corpus names: training, model and its variants, sizes, grid, seeds,
mixing, the embedding store and the output folder, each a small function that ``schema._validate`` calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flair_munch.corpora.subsample import resolve_size
from flair_munch.names import did_you_mean
from flair_munch.recipes.checker import _Checker
from flair_munch.recipes.recipe import (FROZEN_MODEL_TYPES, GRID_KEYS, MODEL_KEYS_BY_TYPE, MODEL_TYPES,
                                   TRAINING_KEYS, KeyPath)
from flair_munch.training.settings import training_problems


def training_section(section: Any, check: _Checker) -> dict:
    """The `training:` keys over ``TrainingSettings``'s defaults, each value checked by its field's rule."""
    training = {k: d for k, (_, d) in TRAINING_KEYS.items()} | check.mapping(
        section, ("training",), TRAINING_KEYS, "training keys (TrainingSettings fields)")
    for key, problem, fix in training_problems(training):
        check.error(("training", key), problem, fix)
    return training


def variants_section(section: Any, model: dict, model_keys: dict, check: _Checker) -> dict[str, dict]:
    """``{variant name: model keys}`` of the `variants:` section (a mapping of names to model keys, or unset).

    A variant may also name another model ``type`` (then it holds all that type's keys: the `model:` keys the
    type takes carry over) and a `training:` mapping of training keys for its runs only, so one study can
    compare model types and training options row by row (docs/recipes.md#sizes-and-model-variants)."""
    if section is not None and (not isinstance(section, dict) or not section):
        check.error(("variants",), f"expected a mapping of variant names to model keys, got {section!r}",
                    "Write e.g. `variants: {baseline: {tasks: []}, all: {tasks: [sce, sen, tie, tbl]}}`.")
    variants = {}
    for name, options in section.items() if isinstance(section, dict) else ():
        given = dict(options) if isinstance(options, dict) else options
        kind = given.pop("type", model["type"]) if isinstance(given, dict) else model["type"]
        training = given.pop("training", None) if isinstance(given, dict) else None
        kind, keys = _variant_type(kind, model, model_keys, ("variants", name, "type"), check)
        variants[str(name)] = check.mapping(given, ("variants", name), keys, f"model keys of a {kind} variant")
        if kind != model["type"]:  # a whole model of its own type: its defaults, then the shared `model:` keys
            shared = {k: v for k, v in model.items() if k in keys}
            variants[str(name)] = {"type": kind, **{k: d for k, (_, d) in keys.items()}, **shared, **variants[str(name)]}
        if training is not None:
            variants[str(name)]["training"] = _variant_training(training, ("variants", name, "training"), check)
    return variants


def _variant_type(kind: Any, model: dict, model_keys: dict, path: KeyPath, check: _Checker) -> tuple[str, dict]:
    """A variant's model type and its keys: a registered type that reads its embeddings as `model.type` does."""
    if kind == model["type"]:
        return kind, model_keys
    if kind not in MODEL_TYPES:
        check.error(path, f"unknown model type {kind!r}",
                    f"{did_you_mean(str(kind), MODEL_TYPES)}Choose one of: {', '.join(MODEL_TYPES)}.")
        return model["type"], model_keys
    if (kind in FROZEN_MODEL_TYPES) != (model["type"] in FROZEN_MODEL_TYPES):
        check.error(path, f"{kind} and the model's type {model['type']} read `embeddings` differently (one frozen, "
                    "one fine-tuned)", "Compare them in two recipes, or choose a variant type that reads them as "
                    f"{model['type']} does.")
        return model["type"], model_keys
    return kind, MODEL_KEYS_BY_TYPE[kind]


def _variant_training(section: Any, path: KeyPath, check: _Checker) -> dict:
    """A variant's `training:` keys (only those given: the recipe's `training:` holds the rest), each checked."""
    training = check.mapping(section, path, TRAINING_KEYS, "training keys (TrainingSettings fields)")
    for key, problem, fix in training_problems(training):
        check.error(path + (key,), problem, fix)
    return training


def target_train_sizes(sizes: Any, check: _Checker) -> Any:
    """``target_train_size``: one size, or a list of distinct sizes (``all``: the whole train split, as None)."""
    for i, size in enumerate(sizes if isinstance(sizes, list) else [sizes] if sizes is not None else []):
        path = ("target_train_size", i) if isinstance(sizes, list) else ("target_train_size",)
        if size == "all" and isinstance(sizes, list):
            continue
        try:
            resolve_size(size, 100)
        except (ValueError, TypeError) as exc:
            check.error(path, str(exc).split(": ", 1)[-1].split(". ")[0], "Use e.g. 1000, 0.1, '10%' (or `all` in a list).")
    if isinstance(sizes, list):
        if not sizes or len(set(map(str, sizes))) != len(sizes):
            check.error(("target_train_size",), f"expected a non-empty list of distinct sizes, got {sizes!r}",
                        "Write e.g. `target_train_size: [1000, 2000, 5000, all]`.")
        sizes = [None if size == "all" else size for size in sizes]
    return sizes


def grid_section(section: Any, check: _Checker) -> dict[str, list]:
    """The hyperparameter grid: each `grid:` key a non-empty list of positive numbers, the others at their default."""
    grid = {k: list(d) for k, (_, d) in GRID_KEYS.items()}
    for key, values in check.mapping(section, ("grid",), GRID_KEYS, "grid keys").items():
        grid[key] = values if isinstance(values, list) else [values]
        if not grid[key] or any(v <= 0 for v in grid[key]):
            check.error(("grid", key), f"expected a non-empty list of positive numbers, got {values!r}",
                        f"Write e.g. `{key}: {list(GRID_KEYS[key][1])}`.")
    return grid


def seeds_section(seeds: Any, check: _Checker) -> list[int]:
    """The seeds as a list (one seed or several), distinct and non-empty."""
    seeds = seeds if isinstance(seeds, list) else [seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        check.error(("seeds",), f"expected a non-empty list of distinct seeds, got {seeds!r}", "Write e.g. `seeds: [1, 2, 3]`.")
    return seeds


def check_mixing_and_store(top: dict, check: _Checker) -> None:
    """The embedding store's dtype, and the mixing keys' values (`mix_source`, `mix_percent`)."""
    if top["embedding_store_dtype"] not in ("float32", "float16", "bfloat16"):
        check.error(("embedding_store_dtype",), f"unknown dtype {top['embedding_store_dtype']!r}",
                    "Choose float32 (exact), float16 (half the disk, within 1e-3) or bfloat16 (half the disk, "
                    "float32's range, within 4e-3).")
    if top["mix_source"] not in ("all", "similar", "dissimilar"):
        check.error(("mix_source",), f"unknown mix source {top['mix_source']!r}", "Choose all, similar or dissimilar.")
    mixes = top["mix_percent"]
    for value in (mixes if isinstance(mixes, list) else [mixes] if mixes is not None else []):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1000:
            check.error(("mix_percent",), f"expected percentages between 0 and 1000, got {mixes!r}",
                        "Write e.g. `mix_percent: [0, 10, 30, 50]`.")


def check_output_dir(output_dir: Any, check: _Checker) -> None:
    """`output_dir` is a folder, or not there yet (a run creates it)."""
    if isinstance(output_dir, str) and Path(output_dir).exists() and not Path(output_dir).is_dir():
        check.error(("output_dir",), f"{output_dir} is a file, not a folder",
                    "Give a folder for the study's runs and results (it is created if missing).")


def model_section(section: Any, check: _Checker) -> tuple[dict, dict]:
    """The model settings with defaults filled for the tagger ``type`` names, and that type's valid keys."""
    kind = section.get("type", "multi-head") if isinstance(section, dict) else "multi-head"
    if kind not in MODEL_TYPES:
        check.error(("model", "type"), f"unknown model type {kind!r}",
                    f"{did_you_mean(kind, MODEL_TYPES)}Choose one of: {', '.join(MODEL_TYPES)}.")
        kind = "multi-head"
    keys = MODEL_KEYS_BY_TYPE[kind]
    given = dict(section) if isinstance(section, dict) else section
    if isinstance(given, dict):
        given.pop("type", None)
    cls = MODEL_TYPES[kind].__name__
    model = {k: d for k, (_, d) in keys.items()} | check.mapping(given, ("model",), keys, f"model keys ({cls} arguments)")
    for key in ("hidden_size", "rnn_layers", "attention_heads"):
        if key in model and not (isinstance(model[key], int) and model[key] >= 1):
            check.error(("model", key), f"{key} must be an integer >= 1, got {model[key]!r}", "Use e.g. 256.")
    return {"type": kind, **model}, keys


def check_size(size: Any, path: KeyPath, check: _Checker) -> None:
    """A sentence count, fraction or percentage (``resolve_size``), or unset."""
    if size is None:
        return
    try:
        resolve_size(size, 100)
    except (ValueError, TypeError) as exc:
        check.error(path, str(exc).split(": ", 1)[-1].split(". ")[0], "Use e.g. 1000, 0.1 or '10%'.")
