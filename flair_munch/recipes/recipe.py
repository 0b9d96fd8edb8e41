"""What a study recipe is once validated: its key tables, the schedules it names and the runs it expands to.

Key names are the Python API's argument names, read from the signatures of ``MultiHeadTagger``,
``AuxiliaryTrainer.train``, ``load_corpus`` and the schedule classes, so they cannot drift.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import typing
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

from flair_munch.corpora.named_corpus import load_corpus
from flair_munch.models.multi_head_tagger import MultiHeadTagger
from flair_munch.training.schedules import SCHEDULES, Schedule
from flair_munch.training.trainer import AuxiliaryTrainer

KeyPath = tuple  # e.g. ("training", "max_epochs") or ("schedules", 3, "munch-iter", "order")
_NO_DEFAULT = inspect.Parameter.empty


def _params(func, exclude: Sequence[str]) -> dict[str, tuple[Any, Any]]:
    """Keyword name -> (type, default) of a signature, so recipe keys follow the API."""
    try:
        hints = typing.get_type_hints(func.__init__ if inspect.isclass(func) else func)
    except TypeError:  # a class without its own __init__
        hints = {}
    return {name: (hints.get(name, Any), p.default) for name, p in inspect.signature(func).parameters.items()
            if name not in ("self", *exclude) and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


MODEL_KEYS = _params(MultiHeadTagger.__init__, ("embeddings", "tag_dictionaries", "tag_type", "entity_types",
                                                "init_from_state_dict"))
# Keys the recipe sets elsewhere: where to put them instead.
TRAINING_MOVED = {"target": "`targets`", "aux": "`aux`", "schedule": "`schedules`", "base_path": "`output_dir`",
                  "seed": "`seeds`", "learning_rate": "`grid.learning_rate`",
                  "mini_batch_size": "`grid.mini_batch_size`", "train_with_dev": "`test_with_dev`"}
TRAINING_KEYS = _params(AuxiliaryTrainer.train, tuple(TRAINING_MOVED))
CORPUS_KEYS = _params(load_corpus, ("name_or_path", "data_dir", "samples", "label_type", "name"))
GRID_KEYS = {"learning_rate": (Union[float, list[float]], [0.1]), "mini_batch_size": (Union[int, list[int]], [32])}
TOP_KEYS: dict[str, tuple[Any, Any]] = {
    "name": (str, _NO_DEFAULT), "output_dir": (str, _NO_DEFAULT), "data_dir": (Optional[str], None),
    "samples": (bool, False), "device": (str, "auto"), "embeddings": (Union[str, list[str]], "default"),
    "model": (Optional[dict], None), "corpora": (dict, _NO_DEFAULT), "targets": (Union[str, list[str]], _NO_DEFAULT),
    "aux": (Optional[dict], None), "schedules": (list, _NO_DEFAULT), "training": (Optional[dict], None),
    "grid": (Optional[dict], None),
    "seeds": (Union[int, list[int]], [1]), "test_with_dev": (bool, False),
    "target_train_size": (Optional[Union[int, float, str]], None), "aux_train_size": (Optional[Union[int, float, str]], None),
}

@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule named in a recipe, with its constructor options; builds a fresh instance per run."""

    name: str
    options: dict = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.label)

    def build(self) -> Schedule:
        return SCHEDULES[self.name](**self.options)

    @property
    def label(self) -> str:
        if not self.options:
            return self.name
        text = ",".join(f"{k}={'[' + ','.join(v) + ']' if isinstance(v, list) else v}" for k, v in self.options.items())
        return f"{self.name}({text})"

    def to_data(self) -> Union[str, dict]:
        return {self.name: dict(self.options)} if self.options else self.name


@dataclass(frozen=True)
class RunSpec:
    """One training run of a study; ``run_id`` hashes everything that changes its numbers."""

    target: str
    aux: tuple[str, ...]
    schedule: ScheduleSpec
    learning_rate: float
    mini_batch_size: int
    seed: int
    settings: str = field(default="{}", repr=False)  # canonical JSON of the recipe parts the run depends on

    @property
    def run_id(self) -> str:
        spec = {"target": self.target, "aux": list(self.aux), "schedule": self.schedule.to_data(),
                "learning_rate": self.learning_rate, "mini_batch_size": self.mini_batch_size, "seed": self.seed}
        text = json.dumps({"recipe": json.loads(self.settings), "run": spec}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]

    @property
    def label(self) -> str:
        return (f"{self.target} {self.schedule.label} lr={self.learning_rate} bs={self.mini_batch_size} "
                f"seed={self.seed} [{self.run_id}]")


@dataclass
class Recipe:
    """A validated, normalised study: defaults filled, so ``runs()`` and ``to_dict()`` are explicit."""

    name: str
    output_dir: str
    corpora: dict[str, dict]
    targets: list[str]
    aux: dict[str, list[str]]
    schedules: list[ScheduleSpec]
    data_dir: Optional[str] = None
    samples: bool = False
    device: str = "auto"
    embeddings: Union[str, list[str]] = "default"
    model: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    grid: dict = field(default_factory=lambda: {k: list(d) for k, (_, d) in GRID_KEYS.items()})
    seeds: list[int] = field(default_factory=lambda: [1])
    test_with_dev: bool = False
    target_train_size: Optional[Union[int, float, str]] = None
    aux_train_size: Optional[Union[int, float, str]] = None
    path: Optional[str] = None
    locations: dict = field(default_factory=dict, repr=False, compare=False)

    def grid_points(self) -> list[tuple[float, int]]:
        return list(itertools.product(self.grid["learning_rate"], self.grid["mini_batch_size"]))

    def runs(self) -> list[RunSpec]:
        """Every run: targets x schedules x seeds x grid points, in that (deterministic) order."""
        runs = []
        for target in self.targets:
            aux = tuple(self.aux[target])
            settings = json.dumps({
                "corpora": {name: self.corpus_options(name, name == target) for name in (target, *aux)},
                "embeddings": self.embeddings,
                "model": self.model, "training": self.training, "test_with_dev": self.test_with_dev,
                "samples": self.samples}, sort_keys=True, separators=(",", ":"))
            for schedule, seed, (lr, batch) in itertools.product(self.schedules, self.seeds, self.grid_points()):
                runs.append(RunSpec(target, aux, schedule, lr, batch, seed, settings))
        return runs

    def corpus_options(self, name: str, as_target: bool) -> dict:
        """``load_corpus`` options of ``name`` in its role: ``target_train_size``/``aux_train_size`` cut train."""
        options = dict(self.corpora[name])
        role_size = self.target_train_size if as_target else self.aux_train_size
        if role_size is not None:
            options["train_size"] = role_size
        return options

    def load_corpora(self, target: str, aux) -> list:
        """The target and its aux corpora, loaded (cut) for this target; the recipe key names each head."""
        from flair_munch.corpora import load_corpus

        return [
            load_corpus(name, data_dir=self.data_dir, samples=self.samples, name=name,
                        **self.corpus_options(name, name == target))
            for name in (target, *aux)
        ]

    def to_dict(self) -> dict:
        data = {k: getattr(self, k) for k in TOP_KEYS}
        data["schedules"] = [spec.to_data() for spec in self.schedules]
        return json.loads(json.dumps(data))  # deep plain copy



