"""How a study is executed (recipe section ``execution:``, ``flair-munch run --executor ...``), never what it computes.

Nothing here enters a run id: the same recipe gives the same runs, and the same numbers, with
any executor (docs/distributed.md).
"""

import dataclasses
from dataclasses import asdict, dataclass, fields
from collections.abc import Iterable
from typing import Optional



@dataclass(frozen=True)
class ExecutionSettings:
    """Which executor trains a study's runs, and the resources each run takes.

    Args:
        executor: ``sequential`` (one run after another in this process) or ``ray`` (runs as Ray tasks).
        address: the Ray cluster to join: ``None`` starts a local one on this machine, ``auto`` finds the
            one ``ray start`` runs here, ``HOST:PORT`` joins that head node.
        workers: runs at once on a local cluster (``None``: as many as its CPUs allow); on an existing
            cluster its resources decide.
        cpus_per_run: Ray ``num_cpus`` of a run, and its torch threads, so that runs do not oversubscribe.
        gpus_per_run: Ray ``num_gpus`` of a run; a fraction packs several runs on one GPU (0.25: four).
        max_retries: times Ray restarts a run whose worker process or node died; it resumes from its checkpoint.
    """

    executor: str = "sequential"
    address: Optional[str] = None
    workers: Optional[int] = None
    cpus_per_run: int = 1
    gpus_per_run: float = 0.0
    max_retries: int = 3

    def replace(self, **changes) -> "ExecutionSettings":
        """These settings with some changed (as ``TrainingSettings.replace``); unknown names raise a ``TypeError``."""
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise TypeError(f"unknown execution settings {unknown}; valid: {', '.join(FIELDS)}")
        return dataclasses.replace(self, **changes)

    def with_flags(self, **flags) -> "ExecutionSettings":
        """These settings with the command-line flags that were given (``None``: not given, the recipe's stays)."""
        return self.replace(**{key: value for key, value in flags.items() if value is not None})

    def to_dict(self) -> dict:
        return asdict(self)


FIELDS = {f.name: f for f in fields(ExecutionSettings)}


def execution_problems(settings: dict, executors: Iterable[str]) -> list[tuple[str, str, str]]:
    """(key, problem, fix) for each invalid ``execution:`` value (types are checked by the schema); ``executors``:
    the registered names (``Executor.registry``, handed in: executors take these settings, so we import none)."""
    problems = []
    if settings.get("executor", "sequential") not in executors:
        problems.append(("executor", f"unknown executor {settings['executor']!r}",
                         f"Choose one of: {', '.join(executors)}."))
    for key in ("workers", "cpus_per_run"):
        value = settings.get(key)
        if value is not None and value < 1:
            problems.append((key, f"expected a positive number of {key.replace('_', ' ')}, got {value!r}", "Use 1 or more."))
    gpus = settings.get("gpus_per_run", 0.0)
    if gpus is not None and not 0 <= gpus <= 8:
        problems.append(("gpus_per_run", f"expected GPUs per run between 0 and 8, got {gpus!r}",
                         "Use e.g. 0.25 to pack four runs on a GPU, 1 for a GPU each, 0 for none."))
    if (settings.get("max_retries") or 0) < 0:
        problems.append(("max_retries", f"expected 0 or more retries, got {settings['max_retries']!r}", "Use e.g. 3."))
    address = settings.get("address")
    if address not in (None, "auto") and (":" not in str(address) or not str(address).rsplit(":", 1)[1].isdigit()):
        problems.append(("address", f"expected auto or HOST:PORT, got {address!r}",
                         "Give the head node's address as `ray start --head` printed it, e.g. 10.0.0.1:6379."))
    return problems


def ignored_by_sequential(settings: ExecutionSettings) -> list[str]:
    """The keys set away from their defaults that only the Ray executor reads, when ``settings`` run sequentially."""
    if settings.executor != "sequential":
        return []
    defaults = ExecutionSettings()
    return [key for key in FIELDS if key != "executor" and getattr(settings, key) != getattr(defaults, key)]
