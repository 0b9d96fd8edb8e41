"""The one way the package takes a file lock: an exclusive ``flock`` on a file in the folder worked on.

Two processes on one run folder or one embedding store (of this machine or another sharing the
folder) take turns on these locks, so a run or a shard is built once. The kernel drops a lock when
its holder dies, so a killed process never leaves a folder locked.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Optional


def try_lock(handle: IO) -> bool:
    """Takes the exclusive lock on an open file unless another process holds it; says whether it did."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def held_lock(path: Path, on_wait: Optional[Callable[[], None]] = None) -> Iterator[None]:
    """Holds the exclusive lock on ``path`` (created, with its folder) for the body, waiting while another
    process holds it; ``on_wait`` is called first in that case (to say why nothing happens)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        if not try_lock(handle):
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
