"""What a study's ``output_dir`` must allow before anything is trained or written, checked at ``--dry-run`` too.

The folder must be one the study can create, and not another study's: ``run`` rewrites
``results.jsonl`` from its own runs and ``recipe.json`` from its recipe, so another recipe run into
it would drop the first study's records from its index. A recipe is let in when it is the same
study (its ``recipe.json`` equal apart from where and how it runs), or when it keeps every run the
index records (it only adds runs: seeds, schedules, targets, grid points). The device and the
embeddings a run would fail on are checked here as well, so ``--dry-run`` refuses what the run would.
"""

import json
import os
import tempfile
from pathlib import Path
from typing import Optional

from flair_munch.evaluation.results_index import RESULTS_FILE
from flair_munch.recipes.checker import _Checker

RECIPE_FILE = "recipe.json"
NOT_IDENTITY = ("output_dir", "data_dir", "device", "execution", "embedding_store", "log_to")
"""``recipe.json`` keys that say where and how a study runs, not which study it is."""


def creation_problem(folder: Path, create: bool) -> Optional[str]:
    """Why ``folder`` cannot be made (the OS's reason), or None; ``create=False`` probes and leaves nothing."""
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            return f"cannot create {folder}: {error.strerror or error}"
        return None
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if existing == folder.absolute():
        return None
    if not existing.is_dir():
        return f"cannot create {folder}: {existing} is a file, not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".flair-munch-probe-"))
    except OSError as error:
        return f"cannot create {folder}: {error.strerror or error} (in {existing})"
    return None


def _identity(data: dict) -> dict:
    return {key: value for key, value in data.items() if key not in NOT_IDENTITY}


def _recorded_run_ids(output_dir: Path) -> set[str]:
    """The run ids ``results.jsonl`` holds; a damaged line is passed over (this only guards the index)."""
    try:
        lines = (output_dir / RESULTS_FILE).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    ids = set()
    for line in lines:
        try:
            ids.add(json.loads(line)["run_id"])
        except (ValueError, KeyError, TypeError):
            continue
    return ids


def other_study_problem(recipe) -> Optional[str]:
    """Why ``output_dir`` holds another study than ``recipe``, or None."""
    output_dir = Path(recipe.output_dir)
    try:
        recorded = json.loads((output_dir / RECIPE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = None
    mine = recipe.to_dict()
    if isinstance(recorded, dict):
        shared = set(_identity(recorded)) & set(_identity(mine))
        differing = sorted(key for key in shared if recorded[key] != mine[key])
        if not differing:
            return None  # the same study: resume
    else:
        differing = []
    recorded_ids = _recorded_run_ids(output_dir)
    dropped = recorded_ids - {spec.run_id for spec in recipe.runs()} if recorded_ids else set()
    if not dropped:
        return None  # nothing recorded would leave the index: the same runs, or more
    name = f" {recorded['name']!r}" if isinstance(recorded, dict) and "name" in recorded else ""
    keys = f" (its {RECIPE_FILE} differs in {', '.join(differing)})" if differing else ""
    return (f"{output_dir} holds another study{name}{keys}: {len(dropped)} of the runs its {RESULTS_FILE} records are "
            f"not runs of this recipe, and running it there would drop them from that index")


def check_runnable(recipe, create: bool = False) -> None:
    """Raises one ``RecipeError`` with every problem below, each naming its key; ``create`` makes ``output_dir``
    (the run), else it is probed and nothing is left behind (``--dry-run``)."""
    check = _Checker(recipe.path or "<recipe>", recipe.locations)
    _environment_problems(check, recipe)
    if not check.problems:  # the study's run ids need its embeddings
        _folder_problems(check, recipe, create)
    check.raise_if_any()


def _folder_problems(check: _Checker, recipe, create: bool) -> None:
    """``output_dir`` cannot be made, or holds another study (see the module)."""
    folder = Path(recipe.output_dir)
    problem = creation_problem(folder, create)
    if problem:
        check.error(("output_dir",), problem, "Choose a folder you can write to.")
        return
    problem = other_study_problem(recipe)
    if problem:
        check.error(("output_dir",), problem, f"Give this recipe another output_dir, or delete {folder} to start over.")


def _environment_problems(check: _Checker, recipe) -> None:
    """A device torch does not see; named embeddings that need a download this machine cannot get."""
    import torch

    from flair_munch.embeddings.errors import EmbeddingsUnavailableError
    from flair_munch.embeddings.named import check_obtainable
    from flair_munch.tracking import missing_extras

    if recipe.device.startswith("cuda") and not torch.cuda.is_available():
        check.error(("device",), f"device {recipe.device!r} was asked for, but torch sees no CUDA GPU",
                    "Use `device: auto` (CUDA when there is one) or `device: cpu`.")
    try:
        check_obtainable(recipe.embeddings)
    except EmbeddingsUnavailableError as error:
        check.error(("embeddings",), str(error).rstrip("."), "")
    for problem in missing_extras(recipe.log_to):  # a tracker whose package is not installed
        check.error(("log_to",), problem, "")
