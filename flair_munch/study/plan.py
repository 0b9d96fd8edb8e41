"""A study as a graph of jobs: what an executor runs, in which order it may run them, and what is done already.

The jobs are of the kinds in ``jobs.py`` (store, prerequisite, run, final); each names the jobs it
needs. Everything already finished on disk is left out, so a plan made after an interruption holds
only what is left.
"""

import dataclasses
from collections import defaultdict
from pathlib import Path
from typing import Optional

from flair_munch.recipes.recipe import FROZEN_MODEL_TYPES, Recipe, RunSpec
from flair_munch.study.jobs import FinalJob, Job, PrerequisiteJob, RunJob, StoreJob, peer_run_ids, run_directory
from flair_munch.study.ordering import ordered_jobs
from flair_munch.study.selection import select_best, selection_group
from flair_munch.training.result import TrainingResult

__all__ = ["Job", "StudyPlan"]


class StudyPlan:
    """The jobs left to run for ``recipe`` (in an order that runs each job after what it needs) and the results
    of runs that have finished already (run id -> result, and run id -> train + dev result)."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.output_dir = Path(recipe.output_dir)
        self.specs = recipe.runs()
        self.finished: dict[str, TrainingResult] = {}
        self.finished_final: dict[str, TrainingResult] = {}
        self.awaiting_final: set[str] = set()  # test_with_dev: chosen grid points whose train + dev run is left
        self.jobs: list[Job] = []
        self._keys: set[str] = set()
        self._build()

    def _build(self) -> None:
        for spec in self.specs:
            result = run_directory(self.output_dir, spec).finished()
            if result is not None:
                self.finished[spec.run_id] = result
        for group in self._corpus_groups():
            store = self._store_job(group)
            for spec in group:
                if spec.run_id not in self.finished:
                    self._add_run(spec, store)
            if self.recipe.test_with_dev:
                self._final_jobs(group)
        self.jobs = self._after_their_needs(self.jobs)
        self.jobs = ordered_jobs(self.recipe, self.jobs)  # the longest first, where their needs allow

    def _add_run(self, spec: RunSpec, store: Optional[StoreJob]) -> None:
        """The run of ``spec``, after the store, the prerequisites it reads and its peers (a control's) not done."""
        needs = []
        if store:
            self._add(store)
            needs.append(store.key)
        for corpus in spec.schedule.build().prerequisites(spec.aux):
            prerequisite = PrerequisiteJob.of(self.output_dir, spec, corpus, store)
            if prerequisite.directory(self.output_dir).finished() is None:
                self._add(prerequisite)
                needs.append(prerequisite.key)
        needs += [run_id for run_id in peer_run_ids(self.output_dir, spec) if run_id not in self.finished]
        self._add(RunJob.of(spec, needs))

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
        return [dataclasses.replace(j, needs=tuple(k for k in j.needs if k in keys)) for j in ordered]

    def _add(self, job: Job) -> None:
        if job.key not in self._keys:
            self._keys.add(job.key)
            self.jobs.append(job)

    def _corpus_groups(self) -> list[list[RunSpec]]:
        """Runs over the same corpora and seed, in recipe order (what the sequential executor trains together)."""
        groups = defaultdict(list)
        for spec in self.specs:
            groups[(spec.target, spec.aux, spec.seed, str(spec.train_size), spec.mix_percent, spec.variant)].append(spec)
        return list(groups.values())

    def _store_job(self, group: list[RunSpec]) -> Optional[StoreJob]:
        recipe, spec = self.recipe, group[0]
        kind = recipe.variant_model(spec.variant).get("type", "multi-head")
        if recipe.embedding_store == "off" or kind not in FROZEN_MODEL_TYPES:
            return None
        if all(s.run_id in self.finished for s in group):
            return None
        return StoreJob.of(spec)

    def _final_jobs(self, group: list[RunSpec]) -> None:
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
                self.awaiting_final.add(best.run_id)
            self._add(FinalJob.of(specs, self.finished))
