"""Runs one job of a study plan in whatever process an executor chose: this one, or a Ray worker on any node.

What the job does is its kind's business (``jobs.py``); this module is what every kind runs with.

A job builds what it needs from the recipe alone (corpora, embeddings, model), so it gives the
same numbers wherever it runs: the frozen embeddings are loaded before the seed is set, and the
model is built right after it, so its initial weights depend on the seed only, not on what the
process ran before. A process keeps the embeddings (and the last corpora it loaded) for its next job.
"""

import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import flair

from flair_munch.recipes.recipe import FROZEN_MODEL_TYPES, MODEL_TYPES, Recipe
from flair_munch.training.result import TrainingResult
from flair_munch.training.settings import TrainingSettings
from flair_munch.training.run_directory import atomic_write_text

log = logging.getLogger("flair_munch")

_PROCESS_CACHE: dict = {}  # what a process keeps between jobs: embeddings, store, the last corpora


@dataclass
class JobOutcome:
    """What a job hands back to the driver: a run's result (``final``: the train + dev result of ``selected``),
    or the message of a run that diverged; ``node`` says where it ran."""

    key: str
    kind: str
    node: str
    result: Optional[TrainingResult] = None
    selected: Optional[str] = None  # final: the run id of the chosen grid point
    failure: Optional[str] = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def node_name() -> str:
    """This machine, plus the Ray node inside a Ray worker (two nodes may share one machine)."""
    host = socket.gethostname()
    try:
        import ray

        if ray.is_initialized():
            return f"{host}/{ray.get_runtime_context().get_node_id()[:8]}"
    except ImportError:
        pass
    return host


def open_store(recipe, embeddings, rebuild: bool = False):
    """The study's embedding store (``embedding_store``: auto = the user cache, off, or a folder), if any;
    ``rebuild`` deletes its folder first."""
    from flair_munch.embeddings.store import EmbeddingStore, is_frozen

    if recipe.embedding_store == "off" or not is_frozen(embeddings):
        return None
    root = None if recipe.embedding_store == "auto" else recipe.embedding_store
    return EmbeddingStore(embeddings, root=root, dtype=recipe.embedding_store_dtype, rebuild=rebuild)


def frozen_embeddings(recipe):
    """The recipe's frozen embeddings and their store, loaded once per process."""
    from flair_munch.embeddings import load_embeddings

    key = ("frozen", json.dumps(recipe.embeddings), recipe.embedding_store, recipe.embedding_store_dtype)
    if key not in _PROCESS_CACHE:
        embeddings = load_embeddings(recipe.embeddings)
        _PROCESS_CACHE[key] = (embeddings, open_store(recipe, embeddings))
    return _PROCESS_CACHE[key]


def build_model(recipe, model_settings: dict, corpora: list, seed: int):
    """The tagger ``model_settings["type"]`` names, its weights drawn from ``seed``.

    Frozen embeddings are shared by every model of the process; a fine-tuned encoder is loaded
    fresh per model (before the seed), so every model starts from the pretrained weights.
    """
    from flair_munch.embeddings import load_encoder

    settings = dict(model_settings)
    kind = settings.pop("type", "multi-head")
    if kind in FROZEN_MODEL_TYPES:
        embeddings, store = frozen_embeddings(recipe)
    else:
        name = recipe.embeddings if isinstance(recipe.embeddings, str) else recipe.embeddings[0]
        embeddings, store = load_encoder(name, sentence_vector=settings.get("pooling") == "cls"), None
    flair.set_seed(seed)
    return MODEL_TYPES[kind].from_corpora(embeddings, corpora, **settings), store


def corpora_key(recipe, spec) -> str:
    """Everything that changes what ``recipe.load_corpora`` returns for ``spec``: each corpus's path and options
    in its role (cuts, seeds, dev size), the data folder, the samples switch and the mixing, so two studies of
    one process never share corpora loaded with other options."""
    def described(name: str, as_target: bool) -> list:
        size = spec.train_size if as_target else None
        return [name, str(recipe.corpus_paths.get(name, name)), recipe.corpus_options(name, as_target, size)]

    corpora = [described(spec.target, True)] + [described(name, False) for name in spec.aux]
    mixing = None
    if spec.mix_percent:
        others = [described(name, False) for name in recipe.mix_corpora_of(spec.target)]
        mixing = [spec.mix_percent, recipe.mix_source, others]
    data_dir = recipe.data_dir or os.environ.get("FLAIR_MUNCH_DATA")
    return json.dumps([corpora, str(data_dir), recipe.samples, mixing], sort_keys=True, default=str)


def load_corpora(recipe, spec) -> list:
    """The corpora of ``spec``'s runs; the last ones loaded are kept for the next job of the process."""
    key = corpora_key(recipe, spec)
    if _PROCESS_CACHE.get("corpora_key") != key:
        _PROCESS_CACHE["corpora"] = recipe.load_corpora(spec.target, spec.aux, spec.train_size, spec.mix_percent)
        _PROCESS_CACHE["corpora_key"] = key
    return _PROCESS_CACHE["corpora"]


@contextmanager
def run_log(folder: Path, node: str, executor: str):
    """Marks who runs the job (``executor.json``, read into its record) and copies its log lines to ``train.log``."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "executor.json", json.dumps({"node": node, "executor": executor, "pid": os.getpid()}))
    handler = logging.FileHandler(folder / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger("flair_munch"), logging.getLogger("flair")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        if logger.getEffectiveLevel() > logging.INFO:  # a Ray worker configures no logging: INFO would be dropped
            logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.removeHandler(handler)
            logger.setLevel(level)
        handler.close()


def build_store(recipe, specs, store, progress: bool = False):
    """Embeds into ``store`` what the runs of ``specs`` read: per target (as the study loads, cuts and mixes it) its
    train, dev and test splits and its auxiliary corpora's train split, never their dev or test, which no schedule
    reads; each set of corpora once, what is stored already not again. Returns the ``BuildReport``."""
    from flair_munch.embeddings.store import sentences_read

    sentences, seen = [], set()
    for spec in specs:
        key = corpora_key(recipe, spec)
        if key not in seen:
            seen.add(key)
            corpus, *aux = load_corpora(recipe, spec)  # the target comes first
            sentences += sentences_read(corpus, aux)
    return store.ensure(sentences, progress=progress)


@dataclass(frozen=True)
class JobContext:
    """What a job runs with in its process: the recipe, where it runs, and the study's run options."""

    recipe: Recipe
    node: str
    executor: str
    progress: bool = False
    retry_failed: bool = False
    tracking: Optional[object] = None  # a StudyTracking: what the runs log to (``log_to``), or None

    @property
    def output_dir(self) -> Path:
        return Path(self.recipe.output_dir)

    def settings(self, spec, **changes) -> TrainingSettings:
        """``spec``'s training settings with the study's progress and retry options (and ``changes``)."""
        return spec.settings(progress=self.progress, retry_failed=self.retry_failed, **changes)

    def trainer(self, spec):
        """A trainer of ``spec``'s corpora and a model drawn from its seed, its sub-runs in ``shared-runs/``."""
        from flair_munch.training import AuxiliaryTrainer
        from flair_munch.training.address import SHARED_RUNS

        corpora = load_corpora(self.recipe, spec)
        model, store = build_model(self.recipe, self.recipe.variant_model(spec.variant), corpora, spec.seed)
        return AuxiliaryTrainer(model, corpora, cache_dir=self.output_dir / SHARED_RUNS, embedding_store=store,
                                identity_basis=spec.basis, plugins=self.tracking_plugins(spec))

    def tracking_plugins(self, spec) -> list:
        """The trackers' Flair plugins for a trainer of ``spec`` (its run and its train + dev retraining known by id)."""
        if self.tracking is None:
            return []
        identities = (spec.identity(), spec.identity(train_with_dev=True))
        return self.tracking.plugins({identity.run_id: identity for identity in identities})

    def logging_to(self, folder: Path):
        """Marks ``folder`` as this job's and copies the job's log lines to its ``train.log`` (``run_log``)."""
        return run_log(folder, self.node, self.executor)


def run_job(recipe, job, progress: bool = False, retry_failed: bool = False,
            executor: str = "sequential", tracking=None) -> JobOutcome:
    """Runs ``job`` (after the jobs it needs) and returns its outcome; a diverged run is an outcome, not an error.
    ``tracking``: the study's ``StudyTracking`` (``log_to``), whose plugins the job's trainers attach."""
    from flair_munch.device import select_device
    from flair_munch.training.divergence import TrainingDiverged

    start = time.time()
    select_device(recipe.device)
    context = JobContext(recipe, node_name(), executor, progress, retry_failed, tracking)
    outcome = JobOutcome(job.key, job.kind, context.node)
    try:
        job.run(context, outcome)
    except TrainingDiverged as error:
        outcome.failure = str(error)
    outcome.seconds = time.time() - start
    return outcome
