"""Running a whole study from a recipe: every target x schedule x hyperparameters x seed, resumable.

Each run lives in ``OUTPUT/runs/<run id>/`` and is skipped once its ``metrics.json`` exists, so
an interrupted study (Ctrl-C, kill -9) continues where it stopped; a half-finished run resumes
from its last epoch checkpoint. SingleAux runs needed by SingleAux-best and dev-sorted orders
are shared through ``OUTPUT/shared-runs/``. ``OUTPUT/results.jsonl`` is the results index: one
JSON line per finished run, rewritten atomically after every run (JSON lines: readable, diffable,
and a study is written by one process, so no database is needed).
"""

import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import flair

from flair_munch.evaluation.results_index import RESULTS_FILE, ResultRecord
from flair_munch.training.result import TrainingResult
from flair_munch.training.run_directory import RunDirectory, atomic_write_text, strict_json

log = logging.getLogger("flair_munch")


@dataclass
class StudyStatus:
    """What a study holds: all runs, the finished ones, and where things are."""

    total: int
    done: int
    output_dir: Path
    lines: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # one message per run that diverged (failed.json)

    def format(self) -> str:
        failed = f", {len(self.failed)} failed" if self.failed else ""
        left = self.total - self.done - len(self.failed)
        return "\n".join([*self.lines, f"{self.done} of {self.total} runs done{failed} ({left} to run)"])


def _run_directory(output_dir: Path, spec, final: bool = False) -> RunDirectory:
    """A run's folder is named by its id (the trainer's): ``runs/<id>``; its train + dev retraining has its own id."""
    run_id = spec.final_run_id if final else spec.run_id
    return RunDirectory(output_dir / "runs" / run_id, run_id)


def _finished(output_dir: Path, spec, final: bool = False) -> Optional[TrainingResult]:
    """The same rule as the trainer's: ``metrics.json`` of this exact run id."""
    return _run_directory(output_dir, spec, final).finished()


def _failure(output_dir: Path, spec, final: bool = False) -> Optional[str]:
    failure = _run_directory(output_dir, spec, final).failure()
    return failure["message"] if failure else None


def study_status(recipe) -> StudyStatus:
    """Every run of the study (target, schedule, hyperparameters, seed) and whether it is done."""
    output_dir = Path(recipe.output_dir)
    specs = recipe.runs()
    lines = [f"{'status':<8} {'run id':<14} {'target':<16} {'schedule':<32} {'lr':>8} {'batch':>5} {'seed':>4}"]
    done, failed = 0, []
    for spec in specs:
        finished = _finished(output_dir, spec) is not None
        if recipe.test_with_dev:
            finished = finished and _finished(output_dir, spec, final=True) is not None
        failure = None if finished else (_failure(output_dir, spec) or _failure(output_dir, spec, final=True))
        done += finished
        if failure:
            failed.append(f"{spec.label}: {failure}")
        lines.append(
            f"{'done' if finished else 'failed' if failure else 'to run':<8} {spec.run_id:<14} {spec.target:<16} {spec.row:<32} "
            f"{spec.learning_rate:>8g} {spec.mini_batch_size:>5d} {spec.seed:>4d}"
        )
    return StudyStatus(total=len(specs), done=done, output_dir=output_dir, lines=lines, failed=failed)


def _record(spec, result: TrainingResult, final: Optional[TrainingResult]) -> ResultRecord:
    test_run = final or result
    return ResultRecord(
        run_id=spec.run_id, target=spec.target, aux=list(spec.aux), schedule=spec.row, baseline=spec.baseline_row,
        variant=spec.variant or None, train_size=spec.train_size, mix_percent=spec.mix_percent, seed=spec.seed,
        hparams={"learning_rate": spec.learning_rate, "mini_batch_size": spec.mini_batch_size},
        dev=result.dev, test=test_run.test, updates=test_run.updates, epochs=test_run.epochs,
        seconds=result.seconds + (final.seconds if final else 0.0), aux_order=test_run.aux_order,
        run_dir=str(Path(test_run.model_path).resolve().parent),  # where its test predictions are
        history=[{k: row.get(k) for k in ("stage", "epoch", "lr", "target_loss", "dev_f1", "seconds")}
                 for row in result.history],
    )


def _with_selection(records: list[ResultRecord]) -> list[ResultRecord]:
    """Marks, per (target, schedule, seed), the grid point with the best target dev F1 (docs/methods.md §1.3)."""
    groups = defaultdict(list)
    for record in records:
        groups[(record.target, record.schedule, record.seed)].append(record)
    for group in groups.values():
        best = max(group, key=lambda r: ((r.dev or {}).get("f1", -1.0), -r.hparams["learning_rate"]))
        for record in group:
            record.selected = record is best
    return records


def write_index(output_dir: Path, records: list[ResultRecord]) -> Path:
    """``results.jsonl``, rewritten atomically; only the study's driver writes it."""
    lines = [strict_json(record.to_dict(), sort_keys=True) for record in _with_selection(records)]
    return atomic_write_text(output_dir / RESULTS_FILE, "\n".join(lines) + ("\n" if lines else ""))


def open_store(recipe, embeddings):
    """The study's embedding store (``embedding_store``: auto = the user cache, off, or a folder), if any."""
    from flair_munch.embeddings.store import EmbeddingStore, is_frozen

    if recipe.embedding_store == "off" or not is_frozen(embeddings):
        return None
    root = None if recipe.embedding_store == "auto" else recipe.embedding_store
    return EmbeddingStore(embeddings, root=root, dtype=recipe.embedding_store_dtype)


def cache_embeddings(recipe, progress: bool = True):
    """Builds the recipe's embedding store ahead of the study: the sentences its runs read.

    For each target and target train size, as the study loads and cuts them: the target's train,
    dev and test splits and its auxiliary corpora's train split; auxiliary dev and test sentences,
    which no schedule reads, are not embedded (unless they are also one of those). Returns the store
    and the ``BuildReport`` of the sentences it had to embed.
    """
    from flair_munch.embeddings import load_embeddings
    from flair_munch.embeddings.store import BuildReport, sentences_read

    from flair_munch.recipes.recipe import FROZEN_MODEL_TYPES

    if recipe.model.get("type", "multi-head") not in FROZEN_MODEL_TYPES:
        raise ValueError(f"model type {recipe.model['type']!r} fine-tunes its encoder: there is nothing to cache")
    if recipe.embedding_store == "off":
        raise ValueError("the recipe turns the embedding store off (`embedding_store: off`); remove that key or "
                         "set `embedding_store: auto` (or a folder) to build it")
    store = open_store(recipe, load_embeddings(recipe.embeddings))
    sentences = []
    for target in recipe.targets:
        for size in recipe.target_train_sizes:
            corpus, *aux = recipe.load_corpora(target, recipe.aux[target], size)  # the target comes first
            sentences += sentences_read(corpus, aux)
    report = store.ensure(sentences, progress=progress) if store is not None else BuildReport(0, 0, 0, 0, 0, 0.0)
    return store, report


def build_model(recipe, model_settings: dict, corpora: list, embeddings_cache: dict):
    """The tagger ``model_settings["type"]`` names, over the recipe's embeddings (or fine-tuned encoder).

    Frozen embeddings are loaded once per study; a fine-tuned encoder is loaded fresh per model,
    so every model starts from the pretrained weights.
    """
    from flair_munch.embeddings import load_embeddings, load_encoder
    from flair_munch.recipes.recipe import FROZEN_MODEL_TYPES, MODEL_TYPES

    settings = dict(model_settings)
    kind = settings.pop("type", "multi-head")
    if kind in FROZEN_MODEL_TYPES:
        if "frozen" not in embeddings_cache:
            embeddings_cache["frozen"] = load_embeddings(recipe.embeddings)
            embeddings_cache["store"] = open_store(recipe, embeddings_cache["frozen"])
        embeddings = embeddings_cache["frozen"]
    else:
        name = recipe.embeddings if isinstance(recipe.embeddings, str) else recipe.embeddings[0]
        embeddings = load_encoder(name, sentence_vector=settings.get("pooling") == "cls")
    return MODEL_TYPES[kind].from_corpora(embeddings, corpora, **settings)


def run_study(recipe, progress: bool = True, retry_failed: bool = False) -> StudyStatus:
    """Trains every run of ``recipe`` that is not done yet, then writes the results index.

    A run that diverges (``TrainingDiverged``) is recorded as failed and left out of the index; the
    study goes on with the others and the returned status lists it. Failed runs are trained again
    only with ``retry_failed``.
    """
    from flair_munch.device import select_device
    from flair_munch.training import AuxiliaryTrainer
    from flair_munch.training.divergence import TrainingDiverged

    output_dir = Path(recipe.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output_dir / "recipe.json", json.dumps(recipe.to_dict(), indent=1, default=str))
    select_device(recipe.device)
    specs = recipe.runs()
    embeddings_cache: dict = {}
    records = []
    start = time.time()
    by_group = defaultdict(list)
    for spec in specs:
        by_group[(spec.target, spec.aux, spec.seed, str(spec.train_size), spec.mix_percent, spec.variant)].append(spec)
    for (target, aux, seed, _, mix, variant), group in by_group.items():
        finished = [_finished(output_dir, spec) for spec in group]
        if all(result is not None for result in finished) and not recipe.test_with_dev:
            records += [_record(spec, result, None) for spec, result in zip(group, finished)]
            write_index(output_dir, records)
            continue  # nothing to train: skip loading corpora and building the model
        corpora = recipe.load_corpora(target, aux, group[0].train_size, mix)
        flair.set_seed(seed)
        model = build_model(recipe, recipe.variant_model(variant), corpora, embeddings_cache)
        trainer = AuxiliaryTrainer(model, corpora, cache_dir=output_dir / "shared-runs",
                                   embedding_store=embeddings_cache.get("store"), identity_basis=group[0].basis)
        for spec in group:
            settings = spec.settings(progress=progress, retry_failed=retry_failed)
            try:
                result = trainer.train(spec.target, list(spec.aux), spec.schedule.build(),
                                       _run_directory(output_dir, spec).path, settings)
            except TrainingDiverged as error:
                log.error("[%s] %s", spec.label, error)
                continue
            records.append(_record(spec, result, None))
            write_index(output_dir, records)
            log.info("[%d/%d] %s %s", len(records), len(specs), spec.label, result.summary())
        if recipe.test_with_dev:  # the selected grid point of each schedule, retrained on train + dev
            for record in [r for r in _with_selection(records) if r.selected and r.target == target
                           and r.seed == seed]:
                spec = next(s for s in group if s.run_id == record.run_id)
                settings = spec.settings(progress=progress, train_with_dev=True, retry_failed=retry_failed)
                try:
                    final = trainer.train(spec.target, list(spec.aux), spec.schedule.build(),
                                          _run_directory(output_dir, spec, final=True).path, settings)
                except TrainingDiverged as error:
                    log.error("[%s] %s", spec.label, error)
                    records.remove(record)  # its test number would come from a run that did not finish
                    write_index(output_dir, records)
                    continue
                records[records.index(record)] = _record(spec, _finished(output_dir, spec), final)
                write_index(output_dir, records)
    log.info("study %s: %d runs in %.0f s", recipe.name, len(specs), time.time() - start)
    return study_status(recipe)
