"""What a training run returns and writes as ``metrics.json``: plain data, JSON-ready."""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional


@dataclass
class TrainingResult:
    """Final target metrics, the per-epoch history and how the run got there."""

    run_id: str
    schedule: str
    target: str
    aux: list[str]
    aux_order: list[str]
    stages: list[str]
    dev: Optional[dict]
    test: Optional[dict]
    epochs: int
    updates: dict[str, int]
    seconds: float
    stop_reasons: list[str]
    run_dir: str
    model_path: str
    history: list[dict] = field(default_factory=list)
    selection: Optional[dict] = None
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainingResult":
        return cls(**data)

    @classmethod
    def load(cls, path: Path) -> "TrainingResult":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def summary(self) -> str:
        dev = f"dev F1 {self.dev['f1']:.4f}" if self.dev else "dev -"
        test = f"test F1 {self.test['f1']:.4f}" if self.test else "test -"
        return (
            f"{self.schedule} on {self.target}: {dev}, {test}, {self.epochs} epochs, "
            f"{self.updates.get('shared', 0)} updates, {self.seconds:.0f} s"
        )
