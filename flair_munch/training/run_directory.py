"""A run's own folder: settings, epoch checkpoints, final outputs; every write atomic."""

import json
import logging
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import torch

from flair_munch.atomic_files import atomic_write, atomic_write_text  # noqa: F401  (re-exported)
from flair_munch.evaluation.prediction_file import PACKED_PREDICTIONS_FILE, PREDICTIONS_FILE
from flair_munch.file_locks import held_lock
from flair_munch.training.result import TrainingResult

log = logging.getLogger("flair_munch")

HISTORY_COLUMNS = ("stage", "epoch", "lr", "target_loss", "dev_precision", "dev_recall", "dev_f1", "seconds",
                   "sentences_per_second", "updates")


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None``: what strict JSON can hold."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def strict_json(value: Any, **kwargs) -> str:
    """JSON that every parser reads: no bare ``NaN`` or ``Infinity`` (they become ``null``)."""
    return json.dumps(finite(value), allow_nan=False, **kwargs)


CHECKPOINT_KEYS = frozenset({"run_id", "state", "model", "streams", "rng"})
_warned: set[tuple] = set()


def warn_damaged(path: Path, error: BaseException, consequence: str) -> None:
    """One warning line per damaged file (as it is now) and process, naming the file, what is wrong and what
    happens instead."""
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        key = (str(path), None)
    if key not in _warned:
        _warned.add(key)
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        log.warning("%s is damaged (%s): %s", path, reason[:200], consequence)


class RunDirectory:
    """``metrics.json`` marks a finished run, ``failed.json`` a diverged one; ``checkpoint.pt`` holds the last
    finished epoch of an unfinished one."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.metrics = self.path / "metrics.json"
        self.checkpoint = self.path / "checkpoint.pt"
        self.model = self.path / "final-model.pt"
        self.predictions = self.path / PREDICTIONS_FILE
        self.packed_predictions = self.path / PACKED_PREDICTIONS_FILE
        self.failed = self.path / "failed.json"

    def finished(self) -> Optional[TrainingResult]:
        """The stored result when this exact run (same id) has finished."""
        if not self.metrics.is_file():
            return None
        try:
            result = TrainingResult.load(self.metrics)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            warn_damaged(self.metrics, error, "the run is treated as unfinished and trained again")
            return None
        if result.run_id != self.run_id:
            log.warning("%s holds another run (id %s, not %s); it will be replaced", self.path, result.run_id, self.run_id)
            return None
        return result

    @contextmanager
    def lock(self):
        """Held while this process works on the run: a second process on the same folder waits, then finds
        the run finished and reuses it, so two ``flair-munch run`` on one study train each run once."""
        with held_lock(self.path / ".lock",
                       on_wait=lambda: log.info("%s is being trained by another process; waiting for it", self.path)):
            yield

    def failure(self) -> Optional[dict]:
        """What ``failed.json`` says of this exact run (same id), if it diverged earlier."""
        if not self.failed.is_file():
            return None
        try:
            failure = json.loads(self.failed.read_text(encoding="utf-8"))
            if not isinstance(failure, dict) or not isinstance(failure.get("message"), str):
                raise ValueError("not the record of a failed run (an object with a `message`)")
        except (OSError, ValueError) as error:
            warn_damaged(self.failed, error, "the run is not treated as failed: it is trained again")
            return None
        return failure if failure.get("run_id") == self.run_id else None

    def write_failure(self, failure: dict) -> None:
        """Marks the run failed: ``failed.json``, no checkpoint to resume a diverged trajectory from, no metrics."""
        atomic_write_text(self.failed, strict_json(failure, indent=1))
        self.checkpoint.unlink(missing_ok=True)
        self.metrics.unlink(missing_ok=True)

    def clear_failure(self) -> None:
        self.failed.unlink(missing_ok=True)

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        atomic_write(self.checkpoint, lambda tmp: torch.save({"run_id": self.run_id, **state}, tmp))

    def load_checkpoint(self) -> Optional[dict[str, Any]]:
        if not self.checkpoint.is_file():
            return None
        try:
            state = torch.load(self.checkpoint, map_location="cpu", weights_only=False)
            if not isinstance(state, dict) or not CHECKPOINT_KEYS <= state.keys():
                raise ValueError(f"not a checkpoint (a dict with {sorted(CHECKPOINT_KEYS)})")
        except Exception as error:  # torch.load of a cut or foreign file raises any of a dozen types
            warn_damaged(self.checkpoint, error, "the run starts afresh")
            return None
        if state.get("run_id") != self.run_id:
            log.warning("ignoring %s: it belongs to another run (id %s)", self.checkpoint, state.get("run_id"))
            return None
        return state

    def write_result(self, result: TrainingResult) -> None:
        """History as JSON and TSV, then ``metrics.json`` last: its presence means the run is complete."""
        atomic_write_text(self.path / "history.json", strict_json(result.history, indent=1))
        rows = ["\t".join(HISTORY_COLUMNS)]
        for row in result.history:
            rows.append("\t".join("" if row.get(c) is None else str(row.get(c)) for c in HISTORY_COLUMNS))
        atomic_write_text(self.path / "history.tsv", "\n".join(rows) + "\n")
        atomic_write_text(self.metrics, strict_json(result.to_dict(), indent=1))
        self.checkpoint.unlink(missing_ok=True)
        self.failed.unlink(missing_ok=True)
