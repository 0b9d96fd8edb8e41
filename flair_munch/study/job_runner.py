"""Runs one job of a study plan in whatever process an executor chose: this one, or a Ray worker on any node.

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

from flair_munch.recipes.recipe import FROZEN_MODEL_TYPES, MODEL_TYPES
from flair_munch.study.plan import Job, prerequisite_directory, run_directory, select_best
from flair_munch.training.result import TrainingResult
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


def _trainer(recipe, spec):
    from flair_munch.training import AuxiliaryTrainer

    corpora = load_corpora(recipe, spec)
    model, store = build_model(recipe, recipe.variant_model(spec.variant), corpora, spec.seed)
    return AuxiliaryTrainer(model, corpora, cache_dir=Path(recipe.output_dir) / "shared-runs",
                            embedding_store=store, identity_basis=spec.basis)


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


def run_job(recipe, job: Job, progress: bool = False, retry_failed: bool = False,
            executor: str = "sequential") -> JobOutcome:
    """Runs ``job`` (after the jobs it needs) and returns its outcome; a diverged run is an outcome, not an error."""
    from flair_munch.device import select_device
    from flair_munch.training.divergence import TrainingDiverged

    start, node = time.time(), node_name()
    select_device(recipe.device)
    output_dir = Path(recipe.output_dir)
    spec = job.spec
    outcome = JobOutcome(job.key, job.kind, node)
    try:
        if job.kind == "store":
            _build_store(recipe, spec, outcome)
        elif job.kind == "prerequisite":
            directory = prerequisite_directory(output_dir, spec, job.corpus)
            with run_log(directory.path, node, executor):
                outcome.result = _trainer(recipe, spec).train_prerequisite(
                    spec.target, list(spec.aux), spec.schedule.build(), run_directory(output_dir, spec).path,
                    spec.settings(progress=progress, retry_failed=retry_failed), job.corpus)
        elif job.kind == "run":
            directory = run_directory(output_dir, spec)
            with run_log(directory.path, node, executor):
                outcome.result = _trainer(recipe, spec).train(
                    spec.target, list(spec.aux), spec.schedule.build(), directory.path,
                    spec.settings(progress=progress, retry_failed=retry_failed))
        elif job.kind == "final":
            best = select_best({s.run_id: run_directory(output_dir, s).finished() for s in job.specs}, job.specs)
            if best is None:
                outcome.failure = f"no grid point of {spec.row} on {spec.target} (seed {spec.seed}) finished"
            else:
                outcome.selected = best.run_id
                directory = run_directory(output_dir, best, final=True)
                with run_log(directory.path, node, executor):
                    outcome.result = _trainer(recipe, best).train(
                        best.target, list(best.aux), best.schedule.build(), directory.path,
                        best.settings(progress=progress, train_with_dev=True, retry_failed=retry_failed))
        else:
            raise ValueError(f"unknown job kind {job.kind!r}")
    except TrainingDiverged as error:
        outcome.failure = str(error)
    outcome.seconds = time.time() - start
    return outcome


def _build_store(recipe, spec, outcome: JobOutcome) -> None:
    """Embeds what the runs of ``spec``'s target read, before any of them starts (a no-op when stored)."""
    from flair_munch.embeddings.store import sentences_read

    _, store = frozen_embeddings(recipe)
    if store is not None:
        corpus, *aux = load_corpora(recipe, spec)
        report = store.ensure(sentences_read(corpus, aux), progress=False)
        outcome.extra = {"embedded": report.embedded, "hits": report.hits}
