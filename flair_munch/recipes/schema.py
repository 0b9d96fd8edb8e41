"""A YAML study recipe, validated before anything trains (spaCy-style errors: file, line, key, fix).

Key names are the Python API's argument names: ``model`` holds the keywords of the tagger its
``type`` names (``MultiHeadTagger``, ``ECTTLNERTagger``, ``MTBioBERTTagger``),
``training`` holds ``TrainingSettings`` fields, corpus options are ``load_corpus``
keywords and schedule options are the schedule class's constructor arguments, so the allowed
keys and their types are read from those signatures and cannot drift from the code.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from flair_munch.corpora.named_corpus import read_splits
from flair_munch.corpora.registry import CorpusNotFoundError, REGISTRY, lookup, resolve_corpus, resolve_data_dir
from flair_munch.corpora.subsample import resolve_size
from flair_munch.training.schedules import SCHEDULES, Schedule
from flair_munch.training.settings import training_problems
from flair_munch.recipes.recipe import (  # noqa: F401  (RunSpec is re-exported)
    _NO_DEFAULT, CORPUS_KEYS, EXECUTION_KEYS, GRID_KEYS, MODEL_KEYS_BY_TYPE, MODEL_TYPES, TOP_KEYS, TRAINING_KEYS, KeyPath, Recipe, RunSpec,
    ScheduleSpec, _params,
)
from flair_munch.execution.settings import ExecutionSettings, execution_problems
from flair_munch.recipes.checker import RecipeError, _Checker, _suggest
from flair_munch.recipes.recipe_yaml import _apply_override, _compose

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")




def load_recipe(path: Union[str, Path], overrides: Sequence[str] = ()) -> Recipe:
    """Reads, overrides and validates a recipe; raises one :class:`RecipeError` listing every problem.

    Args:
        path: the YAML file.
        overrides: ``--set`` strings such as ``training.max_epochs=3`` or ``seeds=[1,2]``.
    """
    from flair_munch.plugins import load_plugins

    load_plugins()  # schedules and model types of installed packages, known by name
    file = str(path)
    if Path(path).is_dir():
        raise FileNotFoundError(f"recipe {file} is a folder, not a recipe file: give a YAML file such as "
                                "recipes/quickstart.yaml")
    if not Path(path).is_file():
        raise FileNotFoundError(f"recipe {file} does not exist")
    data, locations = _compose(Path(path).read_text(encoding="utf-8"), file)
    if not isinstance(data, dict):
        raise RecipeError(f"{file}:1: (recipe): expected a mapping of keys (name, corpora, targets, schedules, ...), "
                          f"got {type(data).__name__}. See the README's recipe example.", file, 1)
    for text in overrides:
        _apply_override(data, text, locations, file)
    checker = _Checker(file, locations)
    recipe = _validate(data, checker)
    checker.raise_if_any()
    recipe.path, recipe.locations = file, locations
    return recipe


def check_data(recipe: Recipe) -> None:
    """Resolves every corpus of the recipe against its data folder (or the samples); reports all missing ones.

    Then reads the targets' split files as the run will, so a malformed target is refused at ``--dry-run``
    (:class:`~flair_munch.corpora.conll.ConllFormatError`, naming file and line), not when its runs start.
    """
    checker = _Checker(recipe.path or "<recipe>", recipe.locations)
    folders = {}
    for name in recipe.corpora:
        try:
            _, folders[name] = resolve_corpus(recipe.corpus_paths.get(name, name), data_dir=recipe.data_dir,
                                              samples=recipe.samples)
        except CorpusNotFoundError as exc:
            checker.error(("corpora", name), "corpus not found", str(exc))
    checker.raise_if_any()
    for target in recipe.targets:
        options = recipe.corpora[target]
        read_splits(folders[target], max_length=options["max_length"], long_sentences=options["long_sentences"])


# ----- validation -----


def _validate(data: dict, check: _Checker) -> Recipe:
    """Checks every section and returns the normalised recipe (meaningful only if no problem was found)."""
    top = check.mapping(data, (), TOP_KEYS, "top-level keys")
    for key, (_, default) in TOP_KEYS.items():
        if default is _NO_DEFAULT and key not in data:
            check.error((), f"missing required key `{key}`", f"Add `{key}:` (see the README's recipe example).")
    if "device" in top and not _DEVICE.match(top["device"]):
        check.error(("device",), f"unknown device {top['device']!r}", "Use auto, cpu, cuda or cuda:N.")
    corpora, names, corpus_paths = _corpora(top.get("corpora") or {}, check, top.get("data_dir"))
    targets = _references(top.get("targets", []), ("targets",), names, check)
    if "targets" in top and not targets:
        check.error(("targets",), "no target corpus", "List at least one key of `corpora`.")
    aux = {t: [n for n in corpora if n != t] for t in targets}
    for target, items in (top.get("aux") or {}).items():
        path = ("aux", target)
        resolved = _references([target], path, names, check)
        if resolved and resolved[0] not in targets:
            check.error(path, f"`{target}` is not one of the targets {targets}", "Key `aux` by target names.")
        elif resolved and check.typed(items, path, Union[str, list[str]]):
            aux[resolved[0]] = _references(items, path, names, check)
            if resolved[0] in aux[resolved[0]]:
                check.error(path, f"the target `{resolved[0]}` is listed as its own auxiliary corpus", "Remove it.")
    schedules = _schedules(top.get("schedules", []), aux, names, check)
    training = {k: d for k, (_, d) in TRAINING_KEYS.items()} | check.mapping(
        top.get("training"), ("training",), TRAINING_KEYS, "training keys (TrainingSettings fields)")
    for key, problem, fix in training_problems(training):
        check.error(("training", key), problem, fix)
    model, model_keys = _model(top.get("model"), check)
    variants = {}
    section = top.get("variants")
    if section is not None and (not isinstance(section, dict) or not section):
        check.error(("variants",), f"expected a mapping of variant names to model keys, got {section!r}",
                    "Write e.g. `variants: {baseline: {tasks: []}, all: {tasks: [sce, sen, tie, tbl]}}`.")
    for name, options in (section or {}).items() if isinstance(section, dict) else ():
        variants[str(name)] = check.mapping(options, ("variants", name), model_keys,
                                            f"model keys of a {model['type']} variant")
    for key in ("aux_train_size", "dev_size"):
        _check_size(top.get(key), (key,), check)
    sizes = top.get("target_train_size")
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
    grid = {k: list(d) for k, (_, d) in GRID_KEYS.items()}
    for key, values in check.mapping(top.get("grid"), ("grid",), GRID_KEYS, "grid keys").items():
        grid[key] = values if isinstance(values, list) else [values]
        if not grid[key] or any(v <= 0 for v in grid[key]):
            check.error(("grid", key), f"expected a non-empty list of positive numbers, got {values!r}",
                        f"Write e.g. `{key}: {list(GRID_KEYS[key][1])}`.")
    seeds = top.get("seeds", [1])
    seeds = seeds if isinstance(seeds, list) else [seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        check.error(("seeds",), f"expected a non-empty list of distinct seeds, got {seeds!r}", "Write e.g. `seeds: [1, 2, 3]`.")
    if top.get("embedding_store_dtype", "float32") not in ("float32", "float16"):
        check.error(("embedding_store_dtype",), f"unknown dtype {top['embedding_store_dtype']!r}",
                    "Choose float32 (exact) or float16 (half the disk, within 1e-3).")
    if top.get("mix_source", "all") not in ("all", "similar", "dissimilar"):
        check.error(("mix_source",), f"unknown mix source {top['mix_source']!r}", "Choose all, similar or dissimilar.")
    mixes = top.get("mix_percent")
    for value in (mixes if isinstance(mixes, list) else [mixes] if mixes is not None else []):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1000:
            check.error(("mix_percent",), f"expected percentages between 0 and 1000, got {mixes!r}",
                        "Write e.g. `mix_percent: [0, 10, 30, 50]`.")
    mix_from = _references(top["mix_from"], ("mix_from",), names, check) if top.get("mix_from") else None
    output_dir = top.get("output_dir")
    if isinstance(output_dir, str) and Path(output_dir).exists() and not Path(output_dir).is_dir():
        check.error(("output_dir",), f"{output_dir} is a file, not a folder",
                    "Give a folder for the study's runs and results (it is created if missing).")
    execution = check.mapping(top.get("execution"), ("execution",), EXECUTION_KEYS, "execution keys")
    for key, problem, fix in execution_problems(execution):
        check.error(("execution", key), problem, fix)
    embeddings = top.get("embeddings", "default")
    if embeddings == [] or embeddings == "":
        check.error(("embeddings",), "no embeddings given", "Use `default` or a list of embedding names or files.")
    return Recipe(name=top.get("name", ""), output_dir=top.get("output_dir", ""), corpora=corpora, targets=targets,
                  aux=aux, schedules=schedules, data_dir=top.get("data_dir"), samples=top.get("samples", False),
                  device=top.get("device", "auto"), embeddings=embeddings, model=model, training=training, grid=grid,
                  seeds=seeds, test_with_dev=top.get("test_with_dev", False),
                  target_train_size=sizes, aux_train_size=top.get("aux_train_size"), dev_size=top.get("dev_size"),
                  variants=variants,
                  embedding_store={True: "auto", False: "off"}.get(top.get("embedding_store", "auto"),
                                                                   top.get("embedding_store", "auto")),
                  embedding_store_dtype=top.get("embedding_store_dtype", "float32"),
                  mix_percent=top.get("mix_percent"), mix_source=top.get("mix_source", "all"), mix_from=mix_from,
                  corpus_paths=corpus_paths, execution=ExecutionSettings(**execution))


def _model(section: Any, check: _Checker) -> tuple[dict, dict]:
    """The model settings with defaults filled for the tagger ``type`` names, and that type's valid keys."""
    kind = section.get("type", "multi-head") if isinstance(section, dict) else "multi-head"
    if kind not in MODEL_TYPES:
        check.error(("model", "type"), f"unknown model type {kind!r}",
                    f"{_suggest(str(kind), MODEL_TYPES)}Choose one of: {', '.join(MODEL_TYPES)}.")
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


def _folder(key: str, recipe_dir: Path, data_dir: Optional[str]) -> Optional[Path]:
    """A custom corpus folder: a path (relative to the recipe's folder), or a folder name inside the data dir."""
    given = Path(key).expanduser()
    candidates = [given] if given.is_absolute() else [recipe_dir / given]
    if len(given.parts) == 1:
        try:
            candidates.append(resolve_data_dir(data_dir) / given)
        except CorpusNotFoundError:
            pass
    return next((c.resolve() for c in candidates if c.is_dir()), None)


def _corpus_source(key: Any, options: Any, explicit: Any, recipe_dir: Path, check: _Checker,
                   data_dir: Optional[str]) -> Optional[tuple[Any, Optional[Path], str]]:
    """``(registry info, custom folder, name)`` of one `corpora` entry (its `path:` option popped); None: reported.

    The key is a registered name, a folder (named by ``name:``, else the folder's name), or, with ``path:``,
    the corpus's name and the option its folder."""
    entry = ("corpora", key)
    given = options.pop("path", None) if isinstance(options, dict) else None
    if given is not None:
        if explicit is not None:
            check.error(entry + ("name",), "`name:` and `path:` both given",
                        f"With `path:` the key is the name: write `{explicit}: {{path: {given}}}`.")
            return None
        folder = _folder(str(given), recipe_dir, data_dir) if check.typed(given, entry + ("path",), str) else None
        if folder is None and isinstance(given, str):
            check.error(entry + ("path",), f"corpus folder `{given}` does not exist",
                        f"Give a folder with train/dev/test.tsv (relative paths are read from the recipe's folder, "
                        f"{recipe_dir}), or the name of such a folder inside the data dir.")
        return (None, folder, str(key)) if folder is not None else None
    info = lookup(key) if isinstance(key, str) else None
    folder = _folder(key, recipe_dir, data_dir) if info is None and isinstance(key, str) else None
    if info is None and folder is None:
        near = difflib.get_close_matches(str(key).lower(), sorted(REGISTRY), n=3, cutoff=0.5)
        hint = f"Did you mean {', '.join(f'`{n}`' for n in near)}? " if near else ""
        check.error(entry, f"unknown corpus `{key}`: not a registered name and not an existing folder",
                    hint + f"Valid names: {', '.join(sorted(REGISTRY))}; or name your own corpus and give its folder "
                    f"with `path:` (`{key}: {{path: FOLDER}}`, a folder with train/dev/test.tsv), or make the key "
                    f"that folder's path (relative paths are read from the recipe's folder, {recipe_dir}) or the "
                    "name of such a folder inside the data dir.")
        return None
    return info, folder, info.name if info else str(explicit or folder.name)


def _corpora(section: dict, check: _Checker, data_dir: Optional[str] = None
             ) -> tuple[dict[str, dict], dict[str, str], dict[str, str]]:
    """Normalised ``{name: load_corpus options}``, a map from every spelling used to the name, and the folders.

    A custom corpus is named by its key when it gives its folder with ``path:``, else by its ``name:`` option,
    else by its folder's name: the same name as ``load_corpus(folder)`` gives it, whatever the spelling of its
    path, so heads, report columns, file names and run ids never hold a path.
    """
    corpora, names, folders = {}, {}, {}
    recipe_dir = Path(check.file).resolve().parent if check.file and Path(check.file).is_file() else Path.cwd()
    for key, options in section.items():
        path = ("corpora", key)
        options = dict(options) if isinstance(options, dict) else options
        explicit = options.pop("name", None) if isinstance(options, dict) else None
        source = _corpus_source(key, options, explicit, recipe_dir, check, data_dir)
        if source is None:
            continue
        info, folder, name = source
        if info is None:
            folders[name] = str(folder)
        if name in corpora:
            check.error(path, f"corpus `{name}` is listed twice", "Keep one entry (or give one a `name:`).")
        given = check.mapping(options, path, CORPUS_KEYS, "corpus options (load_corpus arguments)")
        for size_key in ("train_size", "dev_size"):
            _check_size(given.get(size_key), path + (size_key,), check)
        if given.get("long_sentences", "split") not in ("split", "reject"):
            check.error(path + ("long_sentences",), f"unknown value {given['long_sentences']!r}", "Choose split or reject.")
        corpora[name] = {k: d for k, (_, d) in CORPUS_KEYS.items()} | given
        names[key] = names[name] = name
        check.locations.setdefault(("corpora", name), check.locations.get(path))
    return corpora, names, folders


def _check_size(size: Any, path: KeyPath, check: _Checker) -> None:
    """A sentence count, fraction or percentage (``resolve_size``), or unset."""
    if size is None:
        return
    try:
        resolve_size(size, 100)
    except (ValueError, TypeError) as exc:
        check.error(path, str(exc).split(": ", 1)[-1].split(". ")[0], "Use e.g. 1000, 0.1 or '10%'.")


def _reference(item: Any, path: KeyPath, names: dict[str, str], check: _Checker) -> Optional[str]:
    """The normalised name of one corpus reference (any alias of a key of ``corpora``); None: reported."""
    info = lookup(item) if isinstance(item, str) else None
    name = names.get(item) or (info and names.get(info.name))
    if name is None:
        check.error(path, f"`{item}` is not a key of `corpora`",
                    f"Add it under `corpora:` or choose one of: {', '.join(dict.fromkeys(names.values())) or '(none)'}.")
    return name


def _references(items: Any, path: KeyPath, names: dict[str, str], check: _Checker) -> list[str]:
    """Corpus names (one string or a list) that must be keys of ``corpora``, as normalised names."""
    items = [items] if isinstance(items, str) else items
    if not isinstance(items, list):
        check.error(path, f"expected a list of corpus names, got {items!r}", "Write e.g. `[ncbi-disease]`.")
        return []
    resolved = []
    for i, item in enumerate(items):
        name = _reference(item, path + (i,), names, check)
        if name is None:
            continue
        if name in resolved:
            check.error(path + (i,), f"`{name}` is listed twice", "Keep one.")
        else:
            resolved.append(name)
    return resolved


def _schedules(items: Any, aux: dict[str, list[str]], names: dict[str, str], check: _Checker) -> list[ScheduleSpec]:
    """Schedule specs, their options checked against the constructor and by the schedule, for every target."""
    if not isinstance(items, list) or not items:
        check.error(("schedules",), f"expected a non-empty list of schedules, got {items!r}",
                    f"Write e.g. `schedules: [single-task, munch-conc]`; valid names: {', '.join(SCHEDULES)}.")
        return []
    specs: list[ScheduleSpec] = []
    for i, item in enumerate(items):
        path = ("schedules", i)
        if isinstance(item, dict) and len(item) == 1:
            (name, options), = item.items()
            path += (name,)
        else:
            name, options = item, None
        if not isinstance(name, str):
            check.error(path, f"expected a schedule name or `{{name: {{option: value}}}}`, got {item!r}",
                        f"Valid names: {', '.join(SCHEDULES)}.")
            continue
        if name not in SCHEDULES:
            check.error(path, f"unknown schedule `{name}`", _suggest(name, SCHEDULES) + f"Valid names: {', '.join(SCHEDULES)}.")
            continue
        params = _params(SCHEDULES[name], ())
        given = check.mapping(options, path, params, f"options of {name}" if params else f"options ({name} takes none)")
        given = _schedule_options(SCHEDULES[name], given, path, aux, names, check)
        spec = ScheduleSpec(name, given)
        if spec.label in [s.label for s in specs]:
            check.error(path, f"schedule `{spec.label}` is listed twice", "Keep one.")
        specs.append(spec)
    return specs


def _schedule_options(schedule: type[Schedule], options: dict, path: KeyPath, aux: dict[str, list[str]],
                      names: dict[str, str], check: _Checker) -> dict:
    """The options with the corpus names they hold normalised, then checked by the schedule for every target."""
    options, unknown = dict(options), set()  # unknown: a name that is no corpus, reported once, not per target
    for key, kind in schedule.corpus_options.items():
        value = options.get(key)
        if isinstance(value, list):
            options[key] = _references(value, path + (key,), names, check)
        elif kind == "one" and isinstance(value, str):
            resolved = _references([value], path + (key,), names, check)
            options[key] = resolved[0] if resolved else value
            unknown.update(() if resolved else [key])
        elif kind == "map" and isinstance(value, dict):  # corpus -> value: keys normalised, their lines kept
            options[key] = {}
            for given, item in value.items():
                name = _reference(given, path + (key, given), names, check)
                unknown.update(() if name else [key])
                options[key][name or given] = item
                check.locations.setdefault(path + (key, name or given), check.locations.get(path + (key, given)))
    for target, corpora in aux.items():
        types = {n: REGISTRY[n].entity_type if n in REGISTRY else None for n in corpora}
        for key, problem, fix in schedule.check(options, target, corpora, types):
            if not unknown.intersection(key[:1]):
                check.error(path + tuple(key), problem, fix)
    return options
