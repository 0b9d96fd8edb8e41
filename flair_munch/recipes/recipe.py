"""What a study recipe is once validated: its key tables, the schedules it names and the runs it expands to.

Key names are the Python API's argument names, read from the signatures of ``MultiHeadTagger``,
``TrainingSettings``, ``load_corpus`` and the schedule classes, so they cannot drift.
"""

from __future__ import annotations

import copy
import functools
import inspect
import itertools
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

from flair_munch.corpora.named_corpus import load_corpus
from flair_munch.models import registry
from flair_munch.execution.settings import ExecutionSettings
from flair_munch.training.schedules import SCHEDULES, Schedule
from flair_munch.training.identity import IdentityBasis, RunIdentity
from flair_munch.training.settings import FIELDS as TRAINING_FIELDS, TYPES as TRAINING_TYPES, TrainingSettings

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


# ``model.type`` -> class, and the types that read frozen ``embeddings`` (and the embedding store); the others
# fine-tune the transformer ``embeddings`` names. Live views of the registry: ``@register_model`` adds to them.
MODEL_TYPES = registry.MODEL_TYPES
FROZEN_MODEL_TYPES = registry.FROZEN_MODEL_TYPES
# the attention-fusion target is each run's target (the first corpus), so a recipe does not set it
_MODEL_EXCLUDE = ("embeddings", "tag_dictionaries", "tag_type", "entity_types", "init_from_state_dict", "target")


class _ModelKeys(Mapping):
    """``model.type`` -> its recipe keys, read from the registered class's constructor when asked."""

    def __getitem__(self, name: str) -> dict[str, tuple[Any, Any]]:
        return _params(MODEL_TYPES[name].__init__, _MODEL_EXCLUDE)

    def __iter__(self):
        return iter(MODEL_TYPES)

    def __len__(self) -> int:
        return len(MODEL_TYPES)


MODEL_KEYS_BY_TYPE = _ModelKeys()
MODEL_KEYS = MODEL_KEYS_BY_TYPE["multi-head"]
# Keys the recipe sets elsewhere: where to put them instead.
TRAINING_MOVED = {"target": "`targets`", "aux": "`aux`", "schedule": "`schedules`", "base_path": "`output_dir`",
                  "seed": "`seeds`", "learning_rate": "`grid.learning_rate`",
                  "mini_batch_size": "`grid.mini_batch_size`", "train_with_dev": "`test_with_dev`"}
TRAINING_KEYS = {name: (TRAINING_TYPES[name], f.default) for name, f in TRAINING_FIELDS.items() if name not in TRAINING_MOVED}
"""``training:`` keys: the fields of ``TrainingSettings`` that a recipe does not set elsewhere."""
CORPUS_KEYS = _params(load_corpus, ("name_or_path", "data_dir", "samples", "label_type", "name", "download"))
GRID_KEYS = {"learning_rate": (Union[float, list[float]], [0.1]), "mini_batch_size": (Union[int, list[int]], [32])}
TOP_KEYS: dict[str, tuple[Any, Any]] = {
    "name": (str, _NO_DEFAULT), "output_dir": (str, _NO_DEFAULT), "data_dir": (Optional[str], None),
    "samples": (bool, False), "download": (bool, False), "device": (str, "auto"), "embeddings": (Union[str, list[str]], "default"),
    "model": (Optional[dict], None), "corpora": (dict, _NO_DEFAULT), "targets": (Union[str, list[str]], _NO_DEFAULT),
    "aux": (Optional[dict], None), "schedules": (list, _NO_DEFAULT), "training": (Optional[dict], None),
    "grid": (Optional[dict], None),
    "seeds": (Union[int, list[int]], [1]), "test_with_dev": (bool, False),
    "target_train_size": (Optional[Union[int, float, str, list[Union[int, float, str]]]], None),
    "aux_train_size": (Optional[Union[int, float, str]], None),
    "dev_size": (Optional[Union[int, float, str]], None),
    "variants": (Optional[dict], None),
    "embedding_store": (Union[str, bool], "auto"), "embedding_store_dtype": (str, "float32"),
    "mix_percent": (Optional[Union[int, float, list[Union[int, float]]]], None),
    "mix_source": (str, "all"), "mix_from": (Optional[list[str]], None),
    "execution": (Optional[dict], None),
    "log_to": (Union[str, list[str]], []),
}
EXECUTION_KEYS = _params(ExecutionSettings, ())
"""``execution:`` keys: the fields of ``ExecutionSettings`` (how runs are executed; not part of any run id)."""


def top_defaults() -> dict:
    """The default of every optional top-level key, as ``TOP_KEYS`` (their one home) gives it; a fresh copy."""
    return copy.deepcopy({key: default for key, (_, default) in TOP_KEYS.items() if default is not _NO_DEFAULT})


def _top_default(key: str):
    """A ``Recipe`` field that defaults to the top-level key's default in ``TOP_KEYS``."""
    return field(default_factory=lambda: top_defaults()[key])


def _option_text(value: Any) -> str:
    """An option's value in a report row: ``[a,b]``, ``{a:0.3,b:1}`` or the value."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{v}" for k, v in value.items()) + "}"
    return "[" + ",".join(value) + "]" if isinstance(value, list) else str(value)


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule named in a recipe, with its constructor options; builds a fresh instance per run."""

    name: str
    options: dict = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.label)

    def build(self) -> Schedule:
        if self.name not in SCHEDULES:
            raise KeyError(f"unknown schedule {self.name!r}; registered: {', '.join(SCHEDULES)} (register one with "
                           "@Schedule.register(NAME) before the recipe is loaded)")
        return SCHEDULES[self.name](**self.options)

    @property
    def label(self) -> str:
        if not self.options:
            return self.name
        return f"{self.name}({','.join(f'{k}={_option_text(v)}' for k, v in self.options.items())})"

    def to_data(self) -> Union[str, dict]:
        return {self.name: dict(self.options)} if self.options else self.name


@dataclass(frozen=True)
class RunSpec:
    """One training run of a study: its ``identity`` is the trainer's, so its id names its folder."""

    target: str
    aux: tuple[str, ...]
    schedule: ScheduleSpec
    learning_rate: float
    mini_batch_size: int
    seed: int
    basis: Optional[IdentityBasis] = field(default=None, repr=False, compare=False)  # corpora and model, from the recipe
    training: dict = field(default_factory=dict, repr=False, compare=False)  # the recipe's `training:` keys
    train_size: Optional[Union[int, float, str]] = None  # the target's train size, when the recipe lists several
    variant: str = ""  # the model variant's name, when the recipe has `variants`
    mix_percent: Optional[float] = None  # sentences of other corpora added to the target's train, in %
    row_suffix: str = ""  # what tells this run's report row apart besides the schedule: "n=1000 +sce"
    baseline_suffix: str = ""  # the suffix of the row it is compared with: "n=1000 baseline"
    baseline_schedule: str = ""  # the schedule of the row it is compared with, when not its own (same suffix)

    def settings(self, **changes) -> TrainingSettings:
        """The run's ``TrainingSettings``: the recipe's `training:` keys, its grid point and seed, and ``changes``."""
        return TrainingSettings(**self.training, learning_rate=self.learning_rate,
                                mini_batch_size=self.mini_batch_size, seed=self.seed).replace(**changes)

    def identity(self, train_with_dev: bool = False) -> RunIdentity:
        """What the trainer hashes for this run (``train_with_dev``: its retraining on train + dev)."""
        return RunIdentity(self.target, tuple(self.aux), self.schedule.build().settings(),
                           self.settings(train_with_dev=train_with_dev).identity(), self.basis)

    @functools.cached_property
    def run_id(self) -> str:
        return self.identity().run_id

    @functools.cached_property
    def final_run_id(self) -> str:
        """The id of its retraining on train + dev (``test_with_dev``)."""
        return self.identity(train_with_dev=True).run_id

    @property
    def row(self) -> str:
        """The report row of this run: its schedule, plus train size and variant in a variant study."""
        return f"{self.schedule.label} {self.row_suffix}".strip()

    @property
    def baseline_row(self) -> Optional[str]:
        """The row it is compared with in a variant study; ``None``: the report's default (single-task)."""
        if self.baseline_schedule:
            return f"{self.baseline_schedule} {self.row_suffix}".strip()
        return f"{self.schedule.label} {self.baseline_suffix}".strip() if self.baseline_suffix else None

    @property
    def matched_row(self) -> Optional[str]:
        """A step-count control's compared row: ``matched-single-task``'s ``match``, with this run's suffix."""
        if self.schedule.name != "matched-single-task":
            return None
        match = self.schedule.options.get("match", "munch-iter")
        name, options = next(iter(match.items())) if isinstance(match, dict) else (match, None)
        return f"{ScheduleSpec(name, dict(options or {})).label} {self.row_suffix}".strip()

    @property
    def label(self) -> str:
        return (f"{self.target} {self.row} lr={self.learning_rate} bs={self.mini_batch_size} "
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
    data_dir: Optional[str] = _top_default("data_dir")
    samples: bool = _top_default("samples")
    download: bool = _top_default("download")  # fetch missing registered corpora first (not in run ids)
    device: str = _top_default("device")
    embeddings: Union[str, list[str]] = _top_default("embeddings")
    model: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    grid: dict = field(default_factory=lambda: {k: list(d) for k, (_, d) in GRID_KEYS.items()})
    seeds: list[int] = _top_default("seeds")
    test_with_dev: bool = _top_default("test_with_dev")
    target_train_size: Optional[Union[int, float, str, list]] = _top_default("target_train_size")
    aux_train_size: Optional[Union[int, float, str]] = _top_default("aux_train_size")
    dev_size: Optional[Union[int, float, str]] = _top_default("dev_size")  # every corpus's, unless it sets its own
    variants: dict[str, dict] = field(default_factory=dict)
    embedding_store: str = _top_default("embedding_store")
    embedding_store_dtype: str = _top_default("embedding_store_dtype")
    mix_percent: Optional[Union[float, list]] = _top_default("mix_percent")
    mix_source: str = _top_default("mix_source")
    mix_from: Optional[list[str]] = _top_default("mix_from")
    corpus_paths: dict[str, str] = field(default_factory=dict)  # folder corpora: name -> folder (not in run ids)
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)  # how runs are executed (not in run ids)
    log_to: list[str] = _top_default("log_to")  # trackers every run logs to (flair_munch.tracking; not in run ids)
    path: Optional[str] = None
    locations: dict = field(default_factory=dict, repr=False, compare=False)
    _embeddings_digest: Optional[list[str]] = field(default=None, repr=False, compare=False)

    def grid_points(self) -> list[tuple[float, int]]:
        return list(itertools.product(self.grid["learning_rate"], self.grid["mini_batch_size"]))

    @property
    def target_train_sizes(self) -> list:
        """The target train sizes a study compares (``[None]``: each corpus's own setting)."""
        sizes = self.target_train_size
        return list(sizes) if isinstance(sizes, list) else [sizes]

    @property
    def mix_percents(self) -> list:
        """The mixing percentages a study compares (``[None]``: no mixing)."""
        mix = self.mix_percent
        return list(mix) if isinstance(mix, list) else [mix]

    def mix_corpora_of(self, target: str) -> list[str]:
        """The corpora a target's mixed-in sentences come from: ``mix_from``, else every other corpus but its aux."""
        if self.mix_from is not None:
            return [name for name in self.mix_from if name != target]
        return [name for name in self.corpora if name != target and name not in self.aux[target]]

    def variant_model(self, variant: str) -> dict:
        """The model settings of one variant: ``model`` with the variant's keys replaced (a variant of another
        ``type`` holds all its model's keys)."""
        keys = {k: v for k, v in self.variants.get(variant, {}).items() if k != "training"}
        return keys if "type" in keys else {**self.model, **keys}

    def variant_training(self, variant: str) -> dict:
        """The `training:` keys of one variant's runs: the recipe's, with the variant's `training:` replaced."""
        return {**self.training, **self.variants.get(variant, {}).get("training", {})}

    def runs(self) -> list[RunSpec]:
        """Every run: targets x train sizes x variants x schedules x seeds x grid points, in that order."""
        runs = []
        sizes = self.target_train_sizes
        variants = list(self.variants) or [""]
        mixes = self.mix_percents
        for target, size, mix, variant in itertools.product(self.targets, sizes, mixes, variants):
            aux = tuple(self.aux[target])
            basis = self.identity_basis(target, aux, size, mix, variant)
            size_label = f"n={'all' if size is None else size}" if len(sizes) > 1 else ""
            mix_label = f"mix={mix or 0}%" if len(mixes) > 1 or mix else ""
            suffix = " ".join(part for part in (size_label, mix_label, variant) if part)
            base_mix = f"mix={mixes[0] or 0}%" if mix_label else ""
            baseline = " ".join(part for part in (size_label, base_mix, variants[0]) if part) \
                if self.variants or len(mixes) > 1 else ""
            for schedule, seed, (lr, batch) in itertools.product(self.schedules, self.seeds, self.grid_points()):
                runs.append(RunSpec(target, aux, schedule, lr, batch, seed, basis, self.variant_training(variant),
                                    train_size=size, variant=variant,
                                    mix_percent=mix, row_suffix=suffix, baseline_suffix=baseline,
                                    baseline_schedule=self.compared_schedule(schedule, mix == mixes[0])))
        return runs

    def compared_schedule(self, schedule: ScheduleSpec, base_mix: bool) -> str:
        """The schedule of the row ``schedule``'s is compared with, when not its own: the one its schedule names
        (``Schedule.compared_with``: uncertainty sampling's random pick) if the recipe lists it; else, in a mixing
        study without variants, single-task at the first mix (mixed rows: the same schedule unmixed); else ""."""
        compared = schedule.build().compared_with()
        if compared is not None:
            return next((s.label for s in self.schedules if s.build().settings() == compared.settings()), "")
        listed = any(s.label == "single-task" for s in self.schedules)
        mixing = len(self.mix_percents) > 1 and not self.variants
        if base_mix and mixing and listed and schedule.label != "single-task":
            return "single-task"
        return ""

    def identity_basis(self, target: str, aux, size=None, mix=None, variant: str = "") -> IdentityBasis:
        """The corpora and model of a target's runs as the recipe describes them (no corpus is loaded), with the
        embeddings named by their fingerprint, so a changed embeddings set is a new run."""
        corpora = {name: {**self.corpus_options(name, name == target, size), "samples": self.samples}
                   for name in (target, *aux)}
        for options in corpora.values():  # added later: runs without a dev cut keep their ids
            if options.get("dev_size") is None:
                options.pop("dev_size", None)
        if mix:
            corpora[target]["mixing"] = {"percent": mix, "source": self.mix_source, "from": self.mix_corpora_of(target)}
        model = self.variant_model(variant)
        kind = model.get("type", "multi-head")
        return IdentityBasis(corpora, {**model, "embeddings": self.embeddings_identity(kind),
                                       **self.store_dtype_identity(kind)})

    def store_dtype_identity(self, model_type: str) -> dict:
        """A float16 or bfloat16 store rounds the vectors runs read, so its runs are others; float32 (exact), no
        store and fine-tuned encoders add nothing, so those runs keep the ids they had before bfloat16 came."""
        if self.embedding_store_dtype == "float32" or self.embedding_store == "off" or \
                model_type not in FROZEN_MODEL_TYPES:
            return {}
        return {"embedding_store_dtype": self.embedding_store_dtype}

    def embeddings_identity(self, model_type: str) -> list[str]:
        """Each frozen embeddings item on this machine (the shipped set, a built folder, a file) by its fingerprint,
        loaded once per recipe; a hub name, and a fine-tuned encoder, by its name (nothing is downloaded)."""
        items = [self.embeddings] if isinstance(self.embeddings, str) else list(self.embeddings)
        if model_type not in FROZEN_MODEL_TYPES:
            return items
        if self._embeddings_digest is None:
            from flair_munch.embeddings import load_embeddings
            from flair_munch.embeddings.identity import fingerprint_digest
            from flair_munch.embeddings.named import is_local

            self._embeddings_digest = [fingerprint_digest(load_embeddings(item)) if is_local(item) else item
                                       for item in items]
        return self._embeddings_digest

    def corpus_options(self, name: str, as_target: bool, target_size=None) -> dict:
        """``load_corpus`` options of ``name`` in its role: ``target_train_size``/``aux_train_size`` cut train,
        ``dev_size`` dev."""
        options = dict(self.corpora[name])
        role_size = target_size if as_target else self.aux_train_size
        if as_target and role_size is None and not isinstance(self.target_train_size, list):
            role_size = self.target_train_size
        if role_size is not None:
            options["train_size"] = role_size
        if options.get("dev_size") is None and self.dev_size is not None:
            options["dev_size"] = self.dev_size
        return options

    def load_corpora(self, target: str, aux, target_size=None, mix_percent=None) -> list:
        """The target and its aux corpora, loaded (cut, mixed) for this target; the recipe key names each head."""
        from flair_munch.corpora import load_corpus, mix_corpora

        corpora = [
            load_corpus(self.corpus_paths.get(name, name), data_dir=self.data_dir, samples=self.samples, name=name,
                        **self.corpus_options(name, name == target, target_size))
            for name in (target, *aux)
        ]
        if mix_percent:
            others = [load_corpus(self.corpus_paths.get(name, name), data_dir=self.data_dir, samples=self.samples,
                                  name=name, **self.corpus_options(name, False)) for name in self.mix_corpora_of(target)]
            corpora[0] = mix_corpora(corpora[0], others, mix_percent, seed=self.corpora[target]["seed"],
                                     source=self.mix_source)
        return corpora

    def to_dict(self) -> dict:
        data = {k: getattr(self, k) for k in TOP_KEYS if k != "download" or self.download}  # recipe.json as before
        data["schedules"] = [spec.to_data() for spec in self.schedules]
        data["execution"] = self.execution.to_dict()
        return json.loads(json.dumps(data))  # deep plain copy



