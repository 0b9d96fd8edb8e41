"""Where a run lives: the one rule for the id and folder of a run, a sub-run, a peer and a train + dev run.

The trainer and a study's plan both ask here, so a run is found where it was trained, whoever
trained it, and no id is ever parsed back out of a folder name. The folder names are part of
the records of finished studies: changing one makes those runs unfindable (trained again).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from flair_munch.training.identity import RunIdentity
from flair_munch.training.settings import TrainingSettings

RUNS = "runs"  # a study's runs: runs/<id>
SHARED_RUNS = "shared-runs"  # the sub-runs its runs share: shared-runs/<schedule>_<target>_<aux>_<id>


@dataclass(frozen=True)
class RunAddress:
    """A run's id (the hash of its identity) and its folder."""

    run_id: str
    path: Path

    @classmethod
    def in_folder(cls, runs_dir: Path, identity: RunIdentity) -> "RunAddress":
        """A run in a folder named by its id: ``RUNS_DIR/<id>`` (a study's ``runs/``)."""
        run_id = identity.run_id
        return cls(run_id, Path(runs_dir) / run_id)

    @classmethod
    def of_study_run(cls, output_dir: Path, identity: RunIdentity) -> "RunAddress":
        """A run of the study in ``output_dir``: ``OUTPUT/runs/<id>``."""
        return cls.in_folder(Path(output_dir) / RUNS, identity)

    @classmethod
    def of_final(cls, output_dir: Path, identity: RunIdentity, settings: TrainingSettings) -> "RunAddress":
        """The retraining on train + dev of the run ``identity`` and ``settings`` name (``test_with_dev``):
        ``OUTPUT/runs/<its own id>``."""
        final = identity.of(identity.schedule, identity.aux, settings.replace(train_with_dev=True).identity())
        return cls.of_study_run(output_dir, final)

    @classmethod
    def of_sub_run(cls, root: Path, identity: RunIdentity, schedule, aux: Sequence[str],
                   settings: TrainingSettings) -> "RunAddress":
        """``schedule``'s run with ``aux`` over the corpora and model of the run ``identity`` names, shared by the
        runs that read it: ``ROOT/<schedule>_<target>_<aux>_<its id>`` (ROOT: a study's ``shared-runs/``)."""
        run_id = identity.of(schedule.settings(), aux, settings.identity()).run_id
        return cls(run_id, Path(root) / f"{schedule.name}_{identity.target}_{'+'.join(aux)}_{run_id}")

    @classmethod
    def of_prerequisite(cls, root: Path, identity: RunIdentity, settings: TrainingSettings, needed_by,
                        corpus: str) -> "RunAddress":
        """The SingleAux sub-run with ``corpus`` that the run of schedule ``needed_by`` reads while planning."""
        schedule, prerequisite_settings = prerequisite_run(corpus, settings, needed_by)
        return cls.of_sub_run(root, identity, schedule, [corpus], prerequisite_settings)

    @classmethod
    def of_peer(cls, run_dir: Path, identity: RunIdentity, schedule, settings: TrainingSettings) -> "RunAddress":
        """``schedule``'s run with the target, aux and ``settings`` of the run ``identity`` names, in a folder beside
        that run's ``run_dir``: ``runs/<peer id>`` in a study."""
        return cls.in_folder(Path(run_dir).parent, identity.of(schedule.settings(), identity.aux, settings.identity()))


def prerequisite_run(aux: str, settings: TrainingSettings, needed_by=None):
    """The schedule and settings of the SingleAux run with ``aux`` that a run of the schedule ``needed_by`` with
    ``settings`` may need: train only, with the options ``needed_by.prerequisite_options(aux)`` names (the
    paper's SingleAux by default). The trainer and a study's plan both find prerequisite runs by this rule."""
    from flair_munch.training.schedules import SingleAux

    options = needed_by.prerequisite_options(aux) if needed_by is not None else {}
    return SingleAux(aux, **options), settings.replace(train_with_dev=False, evaluate_dev=True)
