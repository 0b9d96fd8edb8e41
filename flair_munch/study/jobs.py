"""The kinds of a study's jobs, each a small registered class (``@Job.register("run")``).

A kind says what it needs, its label, its folder, how it runs (in whatever process an executor
chose, with a :class:`JobContext`) and what the driver's ledger does with its outcome, so the
plan, the job runner and the ledger branch on no kind's name. ``store`` embeds what one target's
runs read into the embedding store; ``prerequisite`` trains one SingleAux run that SingleAux-best
and dev-sorted orders read (``Schedule.prerequisites``), once, however many runs need it; ``run``
is one run of the recipe; ``final`` (``test_with_dev``) retrains the best grid point of one
(target, schedule, seed) on train + dev. Jobs are plain frozen dataclasses, so Ray can ship them.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Optional, TypeVar

from flair_munch.recipes.recipe import RunSpec
from flair_munch.registrable import registering
from flair_munch.study.job_runner import JobContext, JobOutcome, build_store, frozen_embeddings
from flair_munch.study.selection import select_best
from flair_munch.training.address import SHARED_RUNS, RunAddress
from flair_munch.training.run_directory import RunDirectory

J = TypeVar("J", bound="Job")


def _directory(address: RunAddress) -> RunDirectory:
    return RunDirectory(address.path, address.run_id)


def run_directory(output_dir: Path, spec: RunSpec, final: bool = False) -> RunDirectory:
    """A run's folder, ``runs/<id>``; its retraining on train + dev (``final``) has its own id and folder."""
    if final:
        return _directory(RunAddress.of_final(output_dir, spec.identity(), spec.settings()))
    return _directory(RunAddress.of_study_run(output_dir, spec.identity()))


def prerequisite_directory(output_dir: Path, spec: RunSpec, corpus: str) -> RunDirectory:
    """The folder of the SingleAux run with ``corpus`` that ``spec`` needs, in ``shared-runs/``."""
    return _directory(RunAddress.of_prerequisite(Path(output_dir) / SHARED_RUNS, spec.identity(), spec.settings(),
                                                 spec.schedule.build(), corpus))


def peer_run_ids(output_dir: Path, spec: RunSpec) -> list[str]:
    """The ids of the runs of the same corpora and settings that ``spec``'s schedule reads (a control's peer)."""
    folder = run_directory(output_dir, spec).path
    return [RunAddress.of_peer(folder, spec.identity(), peer, spec.settings()).run_id
            for peer in spec.schedule.build().peers()]


@dataclass(frozen=True)
class Job(ABC):
    """One unit of work. ``specs``: the run (``run``), the run that needs it (``prerequisite``), the grid points
    to choose from (``final``) or the target's first run (``store``); ``needs``: keys of jobs to finish first."""

    key: str
    specs: tuple[RunSpec, ...]
    needs: tuple[str, ...] = ()

    kind: ClassVar[str] = ""  # set by register
    registry: ClassVar[dict[str, type["Job"]]] = {}  # kind -> class: every registered job kind

    @classmethod
    def register(cls, kind: str) -> Callable[[type[J]], type[J]]:
        """Registers a job kind under ``kind`` (what outcomes and ``job.kind`` call it)."""
        return registering(Job, Job.registry, kind, "job kind", attribute="kind")

    @property
    def spec(self) -> RunSpec:
        return self.specs[0]

    @property
    @abstractmethod
    def label(self) -> str:
        """How progress lines and logs name the job."""

    def directory(self, output_dir: Path) -> Optional[RunDirectory]:
        """The run folder the job trains in (``None``: it trains none)."""
        return None

    @abstractmethod
    def run(self, context: JobContext, outcome: JobOutcome) -> None:
        """Does the job's work, filling in ``outcome`` (a ``TrainingDiverged`` it raises is recorded as a failure)."""

    def record(self, ledger, outcome: JobOutcome) -> bool:
        """Hands a successful outcome to the driver's ``ledger``; True when that changes the results index."""
        return False

    def record_failure(self, ledger) -> None:
        """What the ledger leaves out when the job failed (beyond the job's own failure, recorded already)."""


@Job.register("store")
@dataclass(frozen=True)
class StoreJob(Job):
    """Embeds what the runs over one target's corpora read, before any of them starts; needs nothing."""

    @classmethod
    def of(cls, spec: RunSpec) -> "StoreJob":
        return cls(f"store:{spec.target}:{spec.train_size}:{spec.mix_percent}", (spec,))

    @property
    def label(self) -> str:
        return f"store:{self.spec.target}"

    def run(self, context: JobContext, outcome: JobOutcome) -> None:
        _, store = frozen_embeddings(context.recipe)
        if store is not None:
            report = build_store(context.recipe, [self.spec], store)
            outcome.extra = {"embedded": report.embedded, "hits": report.hits}


@Job.register("prerequisite")
@dataclass(frozen=True)
class PrerequisiteJob(Job):
    """Trains the SingleAux run with ``corpus`` that the run ``spec`` reads while planning; needs the store."""

    corpus: str = ""

    @classmethod
    def of(cls, output_dir: Path, spec: RunSpec, corpus: str, store: Optional[StoreJob]) -> "PrerequisiteJob":
        key = f"prerequisite:{prerequisite_directory(output_dir, spec, corpus).run_id}"
        return cls(key, (spec,), (store.key,) if store else (), corpus)

    @property
    def label(self) -> str:
        return f"single-aux({self.corpus})@{self.spec.target}"

    def directory(self, output_dir: Path) -> RunDirectory:
        return prerequisite_directory(output_dir, self.spec, self.corpus)

    def run(self, context: JobContext, outcome: JobOutcome) -> None:
        spec = self.spec
        with context.logging_to(self.directory(context.output_dir).path):
            outcome.result = context.trainer(spec).train_prerequisite(
                spec.target, list(spec.aux), spec.schedule.build(), run_directory(context.output_dir, spec).path,
                context.settings(spec), self.corpus)


@Job.register("run")
@dataclass(frozen=True)
class RunJob(Job):
    """Trains one run of the recipe; needs the store, its prerequisites and the peers it reads (a control's)."""

    @classmethod
    def of(cls, spec: RunSpec, needs) -> "RunJob":
        return cls(spec.run_id, (spec,), tuple(needs))

    @property
    def label(self) -> str:
        return self.key

    def directory(self, output_dir: Path) -> RunDirectory:
        return run_directory(output_dir, self.spec)

    def run(self, context: JobContext, outcome: JobOutcome) -> None:
        spec, folder = self.spec, self.directory(context.output_dir).path
        with context.logging_to(folder):
            outcome.result = context.trainer(spec).train(spec.target, list(spec.aux), spec.schedule.build(), folder,
                                                         context.settings(spec))

    def record(self, ledger, outcome: JobOutcome) -> bool:
        ledger.add_run(self.spec, outcome)
        return True


@Job.register("final")
@dataclass(frozen=True)
class FinalJob(Job):
    """Retrains the best grid point of ``specs`` on train + dev (``test_with_dev``); needs those grid points."""

    @classmethod
    def of(cls, specs, finished) -> "FinalJob":
        """The final of ``specs``, after those not in ``finished`` (run ids)."""
        return cls(f"final:{specs[0].run_id}", tuple(specs), tuple(s.run_id for s in specs if s.run_id not in finished))

    @property
    def label(self) -> str:
        return f"final:{self.spec.row}@{self.spec.target}"

    def run(self, context: JobContext, outcome: JobOutcome) -> None:
        output_dir = context.output_dir
        best = select_best({s.run_id: run_directory(output_dir, s).finished() for s in self.specs}, self.specs)
        if best is None:
            spec = self.spec
            outcome.failure = f"no grid point of {spec.row} on {spec.target} (seed {spec.seed}) finished"
            return
        outcome.selected = best.run_id
        folder = run_directory(output_dir, best, final=True).path
        with context.logging_to(folder):
            outcome.result = context.trainer(best).train(best.target, list(best.aux), best.schedule.build(), folder,
                                                         context.settings(best, train_with_dev=True))

    def record(self, ledger, outcome: JobOutcome) -> bool:
        ledger.add_final(outcome.selected, outcome.result)
        return True

    def record_failure(self, ledger) -> None:
        ledger.leave_out(spec.run_id for spec in self.specs)  # no test of train + dev: not reported
