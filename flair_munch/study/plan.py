"""A study as a graph of jobs: what an executor runs, in which order it may run them, and what is done already.

Jobs are of four kinds. ``store`` embeds what one target's runs read into the embedding store.
``prerequisite`` trains one SingleAux run that SingleAux-best and dev-sorted orders read
(``Schedule.prerequisites``), once, however many runs need it. ``run`` is one run of the recipe.
``final`` (``test_with_dev``) picks the best grid point of one (target, schedule, seed) by dev F1
and retrains it on train + dev. Each job names the jobs it needs; everything already finished on
disk is left out, so a plan made after an interruption holds only what is left.
"""

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from flair_munch.recipes.recipe import FROZEN_MODEL_TYPES, Recipe, RunSpec
from flair_munch.training.planning import prerequisite_run, sub_run_path
from flair_munch.training.result import TrainingResult
from flair_munch.training.run_directory import RunDirectory


@dataclass(frozen=True)
class Job:
    """One unit of work. ``specs``: the run (``run``), the run that needs it (``prerequisite``), the grid points
    to choose from (``final``) or the target's first run (``store``); ``needs``: keys of jobs to finish first."""

    key: str
    kind: str
    specs: tuple[RunSpec, ...]
    corpus: Optional[str] = None  # prerequisite: its auxiliary corpus
    needs: tuple[str, ...] = ()

    @property
    def spec(self) -> RunSpec:
        return self.specs[0]

    @property
    def label(self) -> str:
        if self.kind == "run":
            return self.key
        if self.kind == "prerequisite":
            return f"single-aux({self.corpus})@{self.spec.target}"
        return f"{self.kind}:{self.spec.target}" if self.kind == "store" else f"final:{self.spec.row}@{self.spec.target}"


def run_directory(output_dir: Path, spec: RunSpec, final: bool = False) -> RunDirectory:
    """A run's folder is named by its id (the trainer's): ``runs/<id>``; its train + dev retraining has its own id."""
    run_id = spec.final_run_id if final else spec.run_id
    return RunDirectory(Path(output_dir) / "runs" / run_id, run_id)


def prerequisite_directory(output_dir: Path, spec: RunSpec, corpus: str) -> RunDirectory:
    """The folder of the SingleAux run with ``corpus`` that ``spec`` needs, in ``shared-runs/`` (the trainer's rule)."""
    schedule, settings = prerequisite_run(corpus, spec.settings(), spec.schedule.build())
    path = sub_run_path(Path(output_dir) / "shared-runs", spec.identity(), schedule, [corpus], settings)
    return RunDirectory(path, path.name.rsplit("_", 1)[1])


def selection_group(spec: RunSpec) -> tuple:
    """The runs grid selection chooses among: one (target, size, mix, variant, schedule, seed), all grid points."""
    return spec.target, str(spec.train_size), spec.mix_percent, spec.variant, spec.schedule.label, spec.seed


def select_best(results: dict[str, TrainingResult], specs) -> Optional[RunSpec]:
    """The grid point with the best target dev F1 (ties: the smaller learning rate), among finished runs."""
    finished = [spec for spec in specs if results.get(spec.run_id) is not None]
    if not finished:
        return None
    return max(finished, key=lambda s: ((results[s.run_id].dev or {}).get("f1", -1.0), -s.learning_rate))


class StudyPlan:
    """The jobs left to run for ``recipe`` (in an order that runs each job after what it needs) and the results
    of runs that have finished already (run id -> result, and run id -> train + dev result)."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.output_dir = Path(recipe.output_dir)
        self.specs = recipe.runs()
        self.finished: dict[str, TrainingResult] = {}
        self.finished_final: dict[str, TrainingResult] = {}
        self.jobs: list[Job] = []
        self._build()

    @property
    def runs_to_train(self) -> int:
        return sum(job.kind in ("run", "final") for job in self.jobs)

    def _build(self) -> None:
        keys: set[str] = set()
        for spec in self.specs:
            result = run_directory(self.output_dir, spec).finished()
            if result is not None:
                self.finished[spec.run_id] = result
        for group in self._corpus_groups():
            store = self._store_job(group)
            for spec in group:
                if spec.run_id in self.finished:
                    continue
                needs = [store.key] if store else []
                if store:
                    self._add(store, keys)
                for corpus in spec.schedule.build().prerequisites(spec.aux):
                    directory = prerequisite_directory(self.output_dir, spec, corpus)
                    key = f"prerequisite:{directory.run_id}"
                    if directory.finished() is None:
                        needs.append(key)
                        self._add(Job(key, "prerequisite", (spec,), corpus, tuple(needs[:1] if store else ())), keys)
                for peer in spec.schedule.build().peers():  # runs of the same group this one reads (a control's)
                    peer_id = spec.identity().of(peer.settings(), list(spec.aux), spec.settings().identity()).run_id
                    if peer_id not in self.finished:
                        needs.append(peer_id)
                self._add(Job(spec.run_id, "run", (spec,), needs=tuple(needs)), keys)
            if self.recipe.test_with_dev:
                self._final_jobs(group, keys)
        self.jobs = self._after_their_needs(self.jobs)

    @staticmethod
    def _after_their_needs(jobs: list[Job]) -> list[Job]:
        """The jobs in plan order, except that a job moves after the jobs it needs (a control after its peer);
        a need that is no job of the plan (a peer the recipe does not list) is trained by the job itself."""
        keys, placed, ordered = {job.key for job in jobs}, set(), []
        waiting = list(jobs)
        while waiting:
            job = next(j for j in waiting if all(k in placed or k not in keys for k in j.needs))
            waiting.remove(job)
            placed.add(job.key)
            ordered.append(job)
        return [Job(j.key, j.kind, j.specs, j.corpus, tuple(k for k in j.needs if k in keys)) for j in ordered]

    def _add(self, job: Job, keys: set[str]) -> None:
        if job.key not in keys:
            keys.add(job.key)
            self.jobs.append(job)

    def _corpus_groups(self) -> list[list[RunSpec]]:
        """Runs over the same corpora and seed, in recipe order (what the sequential executor trains together)."""
        groups = defaultdict(list)
        for spec in self.specs:
            groups[(spec.target, spec.aux, spec.seed, str(spec.train_size), spec.mix_percent, spec.variant)].append(spec)
        return list(groups.values())

    def _store_job(self, group: list[RunSpec]) -> Optional[Job]:
        recipe, spec = self.recipe, group[0]
        kind = recipe.variant_model(spec.variant).get("type", "multi-head")
        if recipe.embedding_store == "off" or kind not in FROZEN_MODEL_TYPES:
            return None
        if all(s.run_id in self.finished for s in group):
            return None
        return Job(f"store:{spec.target}:{spec.train_size}:{spec.mix_percent}", "store", (spec,))

    def _final_jobs(self, group: list[RunSpec], keys: set[str]) -> None:
        by_selection = defaultdict(list)
        for spec in group:
            by_selection[selection_group(spec)].append(spec)
        for specs in by_selection.values():
            best = select_best(self.finished, specs) if all(s.run_id in self.finished for s in specs) else None
            if best is not None:
                final = run_directory(self.output_dir, best, final=True).finished()
                if final is not None:
                    self.finished_final[best.run_id] = final
                    continue
            needs = tuple(s.run_id for s in specs if s.run_id not in self.finished)
            self._add(Job(f"final:{specs[0].run_id}", "final", tuple(specs), needs=needs), keys)
