"""Grid selection (docs/methods.md §1.3): among the grid points of one group of runs, the one with the best
target dev F1, ties to the smaller learning rate. The plan, the final retraining and the results index
all choose by this one rule, so the run retrained on train + dev is the one the index marks selected.
"""

from typing import Callable, Iterable, Optional, TypeVar

from flair_munch.recipes.recipe import RunSpec
from flair_munch.training.result import TrainingResult

T = TypeVar("T")


def best_grid_point(candidates: Iterable[T], dev: Callable[[T], Optional[dict]],
                    learning_rate: Callable[[T], float]) -> Optional[T]:
    """The candidate with the best ``dev(c)["f1"]`` (a missing dev counts as -1), ties to the smaller
    ``learning_rate(c)``, then to the first; ``None`` when there is none."""
    return max(candidates, key=lambda c: ((dev(c) or {}).get("f1", -1.0), -learning_rate(c)), default=None)


def selection_group(spec: RunSpec) -> tuple:
    """The runs grid selection chooses among: one (target, size, mix, variant, schedule, seed), all grid points."""
    return spec.target, str(spec.train_size), spec.mix_percent, spec.variant, spec.schedule.label, spec.seed


def select_best(results: dict[str, TrainingResult], specs) -> Optional[RunSpec]:
    """The best grid point of ``specs`` among those with a result in ``results`` (run id -> result)."""
    finished = [spec for spec in specs if results.get(spec.run_id) is not None]
    return best_grid_point(finished, lambda spec: results[spec.run_id].dev, lambda spec: spec.learning_rate)
