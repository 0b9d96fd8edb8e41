"""What a schedule plans against: the run's corpora and sizes, and the cached runs selections and orders need."""

import hashlib
import json
from pathlib import Path
from typing import Optional, Protocol

from flair_munch.training.address import SHARED_RUNS, RunAddress, prerequisite_run
from flair_munch.training.identity import RunIdentity
from flair_munch.training.result import TrainingResult
from flair_munch.training.settings import TrainingSettings


class TrainSubRun(Protocol):
    """How a run has another run trained, or found finished, in ``base_path``: the trainer passes its ``train``."""

    def __call__(self, target: str, aux: list[str], schedule, base_path: Path, settings: TrainingSettings
                 ) -> TrainingResult: ...


class PlanningContext:
    """``PlanContext`` of one run (see ``schedules/base.py``).

    The SingleAux runs behind SingleAux-best and dev-sorted orders are sub-runs: trained once on
    the target's train split, in ``shared-runs/`` (or the trainer's ``cache_dir``), and found
    there by their run id by every run that needs them.
    """

    def __init__(self, corpora: dict, train_sub_run: TrainSubRun, identity: RunIdentity, settings: TrainingSettings,
                 run_dir: Path, schedule=None, cache_dir: Optional[Path] = None) -> None:
        self.corpora, self.train_sub_run, self.cache_dir = corpora, train_sub_run, cache_dir
        self.schedule = schedule  # the run's: its prerequisite_options set those of the SingleAux runs it reads
        self.identity = identity
        self.settings = settings
        self.run_dir = run_dir
        self.target, self.aux = identity.target, list(identity.aux)
        self.batch_size, self.seed = settings.mini_batch_size, settings.seed
        self.entity_types = {name: getattr(c, "entity_type", None) or name for name, c in corpora.items()}
        corpus = corpora[self.target]
        target_train = list(corpus.train) + (list(corpus.dev) if settings.train_with_dev else [])
        # what the schedule trains on, and what it holds back (uncertainty sampling's pool, ranked after training)
        self.target_train, self.held_back = (schedule.split_target_train(target_train) if schedule
                                             else (target_train, []))
        self.iterations = -(-len(self.target_train) // self.batch_size)  # ITER = ceil(|target train| / batch size)
        self._similarity: Optional[dict[str, float]] = None
        self._rankings: dict[str, dict[str, float]] = {}

    def train_size(self, name: str) -> int:
        return len(self.target_train) if name == self.target else len(self.corpora[name].train)

    def training_sentences(self, name: str) -> list:
        """What batches of ``name`` are drawn from: the target's train (+ dev with ``train_with_dev``), else train."""
        return self.target_train if name == self.target else list(self.corpora[name].train)

    def sub_run(self, schedule, aux: list[str], settings: TrainingSettings) -> TrainingResult:
        """Another schedule's run over the same corpora and model, trained once and then found by its id."""
        root = self.cache_dir or self.run_dir.parent / SHARED_RUNS
        address = RunAddress.of_sub_run(root, self.identity, schedule, aux, settings)
        return self.train_sub_run(self.target, aux, schedule, address.path, settings)

    def prerequisite(self, aux: str) -> TrainingResult:
        """SingleAux(aux) on train only, evaluated on the target's dev split: what selections and dev-sorted orders
        read (``Schedule.prerequisites``); trained once, then reused, whoever asks first (this run or an executor)."""
        schedule, settings = prerequisite_run(aux, self.settings, self.schedule)
        return self.sub_run(schedule, [aux], settings)

    def single_aux_dev_f1(self, aux: str) -> float:
        """Target dev F1 of SingleAux(aux) trained on train only (the run schedule's ``prerequisite_options``);
        trained once, then reused."""
        return self.prerequisite(aux).dev["f1"]

    def peer_result(self, schedule) -> TrainingResult:
        """``schedule``'s run of this target, aux and settings, in its own folder beside this run's (``runs/<id>``
        in a study): found there when it has finished, else trained there first."""
        address = RunAddress.of_peer(self.run_dir, self.identity, schedule, self.settings)
        return self.train_sub_run(self.target, self.aux, schedule, address.path, self.settings)

    def aux_similarity(self) -> dict[str, float]:
        """Similarity of each aux corpus to the target (``rank_aux``'s combined score), computed once."""
        if self._similarity is None:
            from flair_munch.corpora.similarity import rank_aux

            rows = rank_aux(self.corpora[self.target], [self.corpora[name] for name in self.aux])
            self._similarity = {row.name: row.combined for row in rows}
        return self._similarity

    def aux_ranking(self, method: str) -> dict[str, float]:
        """Each aux corpus's score under the ranking ``method`` of ``flair_munch.aux_ranking`` (its default options,
        the run's seed): computed once, then read back by every run of these corpora, method and seed (MUNCH-Iter
        and MUNCH-Stack with one ranking pay a probe's minute once) from ``shared-runs/rankings/``."""
        if method not in self._rankings:
            options = {} if method == "similarity" else {"seed": self.seed}
            path = self._ranking_path(method, options)
            if path.is_file():
                self._rankings[method] = json.loads(path.read_text(encoding="utf-8"))["scores"]
            else:
                from flair_munch.atomic_files import atomic_write_text
                from flair_munch.aux_ranking.base import rank_aux  # the package registers every method

                ranking = rank_aux(self.corpora[self.target], [self.corpora[name] for name in self.aux], method,
                                   **options)
                record = {"scores": ranking.scores, **ranking.as_dict()}  # with its rows and its compute
                atomic_write_text(path, json.dumps(record, indent=1, default=str))
                self._rankings[method] = ranking.scores
        return self._rankings[method]

    def _ranking_path(self, method: str, options: dict) -> Path:
        """Named by what the ranking depends on: the corpora (their fingerprints), the method and its options."""
        corpora = {name: self.identity.basis.corpora.get(name) for name in (self.target, *sorted(self.aux))}
        key = json.dumps({"corpora": corpora, "method": method, "options": options}, sort_keys=True, default=str)
        root = self.cache_dir or self.run_dir.parent / SHARED_RUNS
        return root / "rankings" / f"{method}_{self.target}__{hashlib.sha1(key.encode()).hexdigest()[:12]}.json"

