"""A run's own folder: settings, epoch checkpoints, final outputs; every write atomic."""

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

import torch

from flair_munch.training.result import TrainingResult

log = logging.getLogger("flair_munch")

HISTORY_COLUMNS = ("stage", "epoch", "lr", "target_loss", "dev_precision", "dev_recall", "dev_f1", "seconds",
                   "sentences_per_second", "updates")


def atomic_write(path: Path, write) -> Path:
    """Calls ``write(tmp_path)`` and renames the result over ``path``: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


class RunDirectory:
    """``metrics.json`` marks a finished run; ``checkpoint.pt`` holds the last finished epoch of an unfinished one."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.metrics = self.path / "metrics.json"
        self.checkpoint = self.path / "checkpoint.pt"
        self.model = self.path / "final-model.pt"
        self.predictions = self.path / "test-predictions.conll"

    def finished(self) -> Optional[TrainingResult]:
        """The stored result when this exact run (same id) has finished."""
        if not self.metrics.is_file():
            return None
        result = TrainingResult.load(self.metrics)
        if result.run_id != self.run_id:
            log.warning("%s holds another run (id %s, not %s); it will be replaced", self.path, result.run_id, self.run_id)
            return None
        return result

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        atomic_write(self.checkpoint, lambda tmp: torch.save({"run_id": self.run_id, **state}, tmp))

    def load_checkpoint(self) -> Optional[dict[str, Any]]:
        if not self.checkpoint.is_file():
            return None
        state = torch.load(self.checkpoint, map_location="cpu", weights_only=False)
        if state.get("run_id") != self.run_id:
            log.warning("ignoring %s: it belongs to another run (id %s)", self.checkpoint, state.get("run_id"))
            return None
        return state

    def write_result(self, result: TrainingResult) -> None:
        """History as JSON and TSV, then ``metrics.json`` last: its presence means the run is complete."""
        atomic_write_text(self.path / "history.json", json.dumps(result.history, indent=1))
        rows = ["\t".join(HISTORY_COLUMNS)]
        for row in result.history:
            rows.append("\t".join("" if row.get(c) is None else str(row.get(c)) for c in HISTORY_COLUMNS))
        atomic_write_text(self.path / "history.tsv", "\n".join(rows) + "\n")
        atomic_write_text(self.metrics, json.dumps(result.to_dict(), indent=1))
        self.checkpoint.unlink(missing_ok=True)
