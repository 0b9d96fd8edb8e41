"""The embedding store's files and their checks: what is read is what was written, or the folder is named damaged.

``manifest.json`` lists each complete shard with its sentence and token counts and, since checksums were
added, the size and CRC-32 of its two files. Opening a store checks every shard's file sizes, its arrays
against those counts and the store's width and dtype (old stores without checksums too) and its index
file's checksum; the vectors' checksum (a pass over the file: about 0.1 s for a 120 MB shard of 2,000
sentences) is checked the first time a process reads the shard. Anything that does not match raises one
:class:`StoreDamagedError` naming the folder and the fix.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import numpy as np

from flair_munch.atomic_files import atomic_write_text

MANIFEST = "manifest.json"
SHARD_FILES = ("vectors.npy", "index.npz")
CHUNK_BYTES = 1 << 24


class EmbeddingStoreError(RuntimeError):
    """The store cannot be used as asked (not enough disk, embeddings that are not frozen, ...)."""


class StoreDamagedError(EmbeddingStoreError):
    """A store file does not hold what the manifest says (cut, replaced, garbage)."""

    def __init__(self, folder: Path, problem: str) -> None:
        super().__init__(f"store folder {folder} is damaged ({problem}): delete it (it is rebuilt) or run "
                         "`flair-munch embeddings cache --rebuild RECIPE`")
        self.folder = folder


def shard_file(folder: Path, name: str, kind: str) -> Path:
    return folder / f"{name}.{kind}"


def file_checksum(path: Path) -> str:
    """``crc32:xxxxxxxx`` of the file's bytes, read in chunks (CRC-32: the fastest digest the standard library has)."""
    value = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            value = zlib.crc32(chunk, value)
    return f"crc32:{value:08x}"


def file_record(path: Path) -> dict:
    """What the manifest keeps of one shard file: its size and checksum."""
    return {"bytes": path.stat().st_size, "checksum": file_checksum(path)}


def read_manifest(folder: Path) -> list[dict]:
    """The shards ``manifest.json`` lists (none when there is no manifest yet)."""
    path = folder / MANIFEST
    if not path.is_file():
        return []
    try:
        shards = json.loads(path.read_text(encoding="utf-8"))["shards"]
        if not isinstance(shards, list) or not all(_listed_shard(shard) for shard in shards):
            raise ValueError("a shard without a name, sentences and tokens")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StoreDamagedError(folder, f"{MANIFEST}: {error}") from None
    return shards


def _listed_shard(shard) -> bool:
    return isinstance(shard, dict) and isinstance(shard.get("name"), str) and "/" not in shard["name"] \
        and all(isinstance(shard.get(key), int) and shard[key] >= 0 for key in ("sentences", "tokens"))


def write_manifest(folder: Path, shards: list[dict]) -> None:
    atomic_write_text(folder / MANIFEST, json.dumps({"shards": shards}, indent=1))


def _check_size(folder: Path, shard: dict, kind: str) -> None:
    """One shard file's size against the manifest (stores older than checksums: nothing recorded to check)."""
    record = (shard.get("files") or {}).get(kind)
    path = shard_file(folder, shard["name"], kind)
    if record and path.stat().st_size != record["bytes"]:
        raise StoreDamagedError(folder, f"{path.name} has {path.stat().st_size} bytes, the manifest says "
                                        f"{record['bytes']}")


def _check_sum(folder: Path, shard: dict, kind: str, data: Optional[bytes] = None) -> None:
    """One shard file's checksum against the manifest (``data``: its bytes, when already read)."""
    record = (shard.get("files") or {}).get(kind)
    path = shard_file(folder, shard["name"], kind)
    if record and (f"crc32:{zlib.crc32(data):08x}" if data is not None else file_checksum(path)) != record["checksum"]:
        raise StoreDamagedError(folder, f"{path.name} does not match its checksum in {MANIFEST}")


def check_vectors(folder: Path, shard: dict) -> None:
    """The vectors file's checksum: once per process and shard, when first read (a pass over the file)."""
    try:
        _check_sum(folder, shard, "vectors.npy")
    except OSError as error:
        raise StoreDamagedError(folder, f"{shard['name']}.vectors.npy: {error.strerror or error}") from None


def load_shard(folder: Path, shard: dict, dim: int, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(keys, offsets, vectors)`` of a listed shard, the vectors memory-mapped; each checked against the manifest."""
    name = shard["name"]
    for kind in SHARD_FILES:
        with _named_damage(folder, shard_file(folder, name, kind)):
            _check_size(folder, shard, kind)
    with _named_damage(folder, shard_file(folder, name, "index.npz")) as index_path:
        data = index_path.read_bytes()  # small: read whole, checked, then parsed
        _check_sum(folder, shard, "index.npz", data)
        with np.load(io.BytesIO(data), allow_pickle=False) as index:
            keys, offsets = index["keys"], index["offsets"]
    with _named_damage(folder, shard_file(folder, name, "vectors.npy")) as vectors_path:
        vectors = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
    problem = _shape_problem(shard, keys, offsets, vectors, dim, np.dtype(dtype))
    if problem:
        raise StoreDamagedError(folder, f"{name}: {problem}")
    return keys, offsets, vectors


@contextmanager
def _named_damage(folder: Path, path: Path):
    """Turns numpy's and the OS's errors on reading ``path`` (cut, garbage, missing) into a damaged-store error."""
    try:
        yield path
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0].split(". ")[0].rstrip(".")
        raise StoreDamagedError(folder, f"{path.name}: {reason}") from None


def _shape_problem(shard: dict, keys, offsets, vectors, dim: int, dtype: np.dtype) -> Optional[str]:
    """What in the arrays disagrees with the manifest's counts and the store's width and dtype, if anything."""
    sentences, tokens = shard["sentences"], shard["tokens"]
    if vectors.dtype != dtype or vectors.shape != (tokens, dim):
        return (f"its vectors are {vectors.dtype} {tuple(vectors.shape)}, the store holds {dtype} "
                f"({tokens}, {dim}) there")
    if keys.shape != (sentences, 16) or offsets.shape != (sentences + 1,):
        return f"its index holds {len(keys)} sentences, the manifest says {sentences}"
    if offsets[0] != 0 or offsets[-1] != tokens or np.any(np.diff(offsets) < 0):
        return "its index's offsets do not fit its vectors"
    return None
