"""The one way the package writes a file: whole or not at all, with the mode the umask gives, a full disk named.

Every record, model, checkpoint, predictions file and store manifest goes through :func:`atomic_write`:
a temp file beside the target, renamed over it when complete, so a reader (or a process killed
mid-write) never sees half a file. The temp file is created with mode 0666 less the umask, as
``open()`` would, so collaborators sharing a study folder can read what a run wrote.
"""

import contextlib
import errno
import os
import shutil
import uuid
from pathlib import Path
from collections.abc import Iterator
from typing import Callable, Union

LOW_SPACE_BYTES = 1 << 20  # a torch writer's failure with less free than this is a full disk


class DiskFullError(RuntimeError):
    """A write ran out of disk space; the message names the file (nothing half-written is left)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no space left writing {path}: free disk space (or write elsewhere) and run again; "
                         "nothing half-written was left behind")
        self.path = path


def _is_disk_full(error: BaseException, tmp: Path) -> bool:
    """ENOSPC/EDQUOT, or torch's ``PytorchStreamWriter``/``inline_container.cc`` failure on a full file system
    (it carries no errno: the free space tells)."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(error, RuntimeError) and ("inline_container" in str(error) or "PytorchStreamWriter" in str(error)):
        try:
            return shutil.disk_usage(tmp.parent).free < LOW_SPACE_BYTES
        except OSError:
            return False
    return False


def atomic_write(path: Union[str, Path], write: Callable[[Path], object]) -> Path:
    """Calls ``write(tmp_path)`` and renames the result over ``path``: readers never see half a file.

    Raises :class:`DiskFullError` (naming ``path``) when the disk fills up; the temp file is removed.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory (give a file name)", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies, unlike mkstemp's 0600
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as error:
        full = _is_disk_full(error, tmp)
        tmp.unlink(missing_ok=True)
        if full:
            raise DiskFullError(path) from error
        if isinstance(error, OSError) and error.filename == str(tmp) and error.errno is not None:
            raise type(error)(error.errno, error.strerror, str(path)) from error  # the file asked for, not the temp
        raise
    return path


def atomic_write_text(path: Union[str, Path], text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: Union[str, Path], data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


@contextlib.contextmanager
def atomic_dir(out_dir: Path, overwrite: bool) -> Iterator[Path]:
    """Yields ``out_dir.partial`` and renames it to ``out_dir`` only if the body succeeds.

    A crashed or killed build therefore never leaves a half-written ``out_dir`` that a later
    ``load_embeddings`` would pick up; a stale ``.partial`` from a killed run is cleared.
    """
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already exists (pass overwrite=True to replace it)")
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out_dir.exists():
        old = out_dir.with_name(out_dir.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out_dir.rename(old)
        partial.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.rename(out_dir)
