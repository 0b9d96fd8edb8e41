"""A YAML study recipe, validated before anything trains (spaCy-style errors: file, line, key, fix).

Key names are the Python API's argument names: ``model`` holds the keywords of the tagger its
``type`` names (``MultiHeadTagger``, ``ECTTLNERTagger``, ``MTBioBERTTagger``),
``training`` holds ``TrainingSettings`` fields, corpus options are ``load_corpus``
keywords and schedule options are the schedule class's constructor arguments, so the allowed
keys and their types are read from those signatures and cannot drift from the code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from flair_munch.corpora.download import download_recipe_corpora
from flair_munch.corpora.splits import read_splits
from flair_munch.corpora.registry import CorpusNotFoundError, REGISTRY, lookup, resolve_corpus, resolve_data_dir
from flair_munch.training.schedules import SCHEDULES, Schedule
from flair_munch.recipes.recipe import (  # noqa: F401  (RunSpec is re-exported)
    _NO_DEFAULT, CORPUS_KEYS, EXECUTION_KEYS, TOP_KEYS, KeyPath, Recipe, RunSpec, ScheduleSpec, _params, top_defaults,
)
from flair_munch.execution import Executor
from flair_munch.execution.settings import ExecutionSettings, execution_problems
from flair_munch.names import did_you_mean
from flair_munch.tracking.study import log_to_list, log_to_problems
from flair_munch.recipes.checker import RecipeError, _Checker
from flair_munch.recipes.recipe_yaml import _apply_override, _compose
from flair_munch.recipes.sections import (
    check_mixing_and_store, check_output_dir, check_size, grid_section, model_section, seeds_section,
    target_train_sizes, training_section, variants_section,
)

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


def check_data(recipe: Recipe, fetch: bool = True) -> None:
    """Resolves every corpus of the recipe against its data folder (or the samples); reports all missing ones.

    With ``download: true`` the registered corpora missing from the data folder are downloaded first (``fetch``;
    ``--dry-run`` passes False: they are named as to be downloaded, and not checked).

    Then reads the targets' split files as the run will, so a malformed target is refused at ``--dry-run``
    (:class:`~flair_munch.corpora.conll.ConllFormatError`, naming file and line), not when its runs start.
    """
    checker = _Checker(recipe.path or "<recipe>", recipe.locations)
    folders = {}
    pending = download_recipe_corpora(recipe, fetch) if recipe.download and not recipe.samples else set()
    for name in recipe.corpora:
        if name in pending:
            continue
        try:
            _, folders[name] = resolve_corpus(recipe.corpus_paths.get(name, name), data_dir=recipe.data_dir,
                                              samples=recipe.samples)
        except CorpusNotFoundError as exc:
            checker.error(("corpora", name), "corpus not found", str(exc))
    _precision_problem(checker, recipe)
    checker.raise_if_any()
    for target in (name for name in recipe.targets if name not in pending):
        options = recipe.corpora[target]
        read_splits(folders[target], max_length=options["max_length"], long_sentences=options["long_sentences"])


def _precision_problem(checker: _Checker, recipe: Recipe) -> None:
    """``training.precision`` this machine cannot train in (fp16 on a CPU, bf16 without native units): refused
    before the study writes anything, not when its first run starts."""
    from flair_munch.device import device_for
    from flair_munch.training.precision import precision_problem
    from flair_munch.training.settings import FIELDS

    device = device_for(recipe.device)
    places = [(("training", "precision"), recipe.training)] + [
        (("variants", name, "training", "precision"), recipe.variant_training(name))
        for name, keys in recipe.variants.items() if "precision" in (keys or {}).get("training", {})]
    for key, training in places:  # the recipe's, and each variant's own
        if problem := precision_problem(training.get("precision", FIELDS["precision"].default), device):
            checker.error(key, *problem)


# ----- validation -----


# the top-level keys a Recipe takes as given (or at their defaults)
PLAIN_TOP_KEYS = ("data_dir", "samples", "download", "device", "embeddings", "test_with_dev", "aux_train_size", "dev_size",
                  "embedding_store_dtype", "mix_percent", "mix_source")


def _validate(data: dict, check: _Checker) -> Recipe:
    """Checks every section and returns the normalised recipe (meaningful only if no problem was found)."""
    top = _top_level(data, check)
    corpora, names, corpus_paths = _corpora(top.get("corpora") or {}, check, top["data_dir"])
    targets, aux = _targets_and_aux(top, corpora, names, check)
    schedules = _schedules(top.get("schedules", []), aux, names, check)
    training = training_section(top["training"], check)
    model, model_keys = model_section(top["model"], check)
    variants = variants_section(top["variants"], model, model_keys, check)
    for key in ("aux_train_size", "dev_size"):
        check_size(top[key], (key,), check)
    sizes = target_train_sizes(top["target_train_size"], check)
    grid = grid_section(top["grid"], check)
    seeds = seeds_section(top["seeds"], check)
    check_mixing_and_store(top, check)
    mix_from = _references(top["mix_from"], ("mix_from",), names, check) if top["mix_from"] else None
    check_output_dir(top.get("output_dir"), check)
    execution = check.mapping(top["execution"], ("execution",), EXECUTION_KEYS, "execution keys")
    for key, problem, fix in execution_problems(execution, Executor.registry):
        check.error(("execution", key), problem, fix)
    for key, problem, fix in log_to_problems(top["log_to"]):
        check.error(("log_to", *key), problem, fix)
    if top["embeddings"] == [] or top["embeddings"] == "":
        check.error(("embeddings",), "no embeddings given", "Use `default` or a list of embedding names or files.")
    store = {True: "auto", False: "off"}.get(top["embedding_store"], top["embedding_store"])
    return Recipe(name=top.get("name", ""), output_dir=top.get("output_dir", ""), corpora=corpora, targets=targets,
                  aux=aux, schedules=schedules, model=model, training=training, grid=grid, seeds=seeds,
                  target_train_size=sizes, variants=variants, embedding_store=store, mix_from=mix_from,
                  corpus_paths=corpus_paths, execution=ExecutionSettings(**execution),
                  log_to=log_to_list(top["log_to"]), **{key: top[key] for key in PLAIN_TOP_KEYS})


def _top_level(data: dict, check: _Checker) -> dict:
    """The known, well-typed top-level keys, the optional ones missing at their defaults (``top_defaults``);
    reports missing required keys and an unknown ``device``."""
    top = check.mapping(data, (), TOP_KEYS, "top-level keys")
    for key, (_, default) in TOP_KEYS.items():
        if default is _NO_DEFAULT and key not in data:
            check.error((), f"missing required key `{key}`", f"Add `{key}:` (see the README's recipe example).")
    if "device" in top and not _DEVICE.match(top["device"]):
        check.error(("device",), f"unknown device {top['device']!r}", "Use auto, cpu, cuda or cuda:N.")
    return top_defaults() | top


def _targets_and_aux(top: dict, corpora: dict, names: dict[str, str], check: _Checker
                     ) -> tuple[list[str], dict[str, list[str]]]:
    """The target names, and each target's auxiliary corpora (its `aux` entry, else every other corpus)."""
    targets = _references(top.get("targets", []), ("targets",), names, check)
    if "targets" in top and not targets:
        check.error(("targets",), "no target corpus", "List at least one key of `corpora`.")
    aux = {t: [n for n in corpora if n != t] for t in targets}
    for target, items in (top["aux"] or {}).items():
        path = ("aux", target)
        resolved = _references([target], path, names, check)
        if resolved and resolved[0] not in targets:
            check.error(path, f"`{target}` is not one of the targets {targets}", "Key `aux` by target names.")
        elif resolved and check.typed(items, path, Union[str, list[str]]):
            aux[resolved[0]] = _references(items, path, names, check)
            if resolved[0] in aux[resolved[0]]:
                check.error(path, f"the target `{resolved[0]}` is listed as its own auxiliary corpus", "Remove it.")
    return targets, aux


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
        hint = did_you_mean(key, sorted(REGISTRY), n=3, cutoff=0.5, ignore_case=True)
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
            check_size(given.get(size_key), path + (size_key,), check)
        if given.get("long_sentences", "split") not in ("split", "reject"):
            check.error(path + ("long_sentences",), f"unknown value {given['long_sentences']!r}", "Choose split or reject.")
        corpora[name] = {k: d for k, (_, d) in CORPUS_KEYS.items()} | given
        names[key] = names[name] = name
        check.locations.setdefault(("corpora", name), check.locations.get(path))
    return corpora, names, folders


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
            check.error(path, f"unknown schedule `{name}`", did_you_mean(name, SCHEDULES) + f"Valid names: {', '.join(SCHEDULES)}.")
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
