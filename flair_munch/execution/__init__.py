"""How a study's jobs execute (``execution:``, ``--executor``): the executor registry and its executors.

Importing the package registers every executor (sequential, then Ray, which needs its extra only when used).
"""

from flair_munch.execution.base import Executor, make_executor
from flair_munch.execution.sequential import SequentialExecutor
from flair_munch.execution.ray_executor import RayExecutor

__all__ = ["Executor", "RayExecutor", "SequentialExecutor", "make_executor"]
