"""A persistent, content-addressed store of frozen token embeddings: embed each sentence once per study.

Frozen embeddings give a sentence the same vectors in every epoch, schedule, run and seed, so a
study computes them once and every run reads them back. The store is keyed twice:

- the folder by the embeddings' fingerprint (``identity.embeddings_fingerprint``: class, every setting
  that changes a vector, vocabularies, the weights the vectors depend on) and the storage dtype, so
  other or retrained embeddings never read these vectors;
- each sentence by a hash of its tokens, so a changed corpus file simply misses (its new sentences
  are embedded, the old ones are never looked up) and corpora, cuts and splits share vectors.

Vectors live in shards: a ``.npy`` array ``[tokens, dim]`` read memory-mapped, plus the sentence keys
and offsets. A bfloat16 store (half the bytes of float32, with its range) keeps each value's 16 bits as
``uint16``, since numpy has no bfloat16; reading widens them to float32 exactly. A shard is written
under a ``.partial`` name and enters ``manifest.json`` (rewritten atomically, under a file lock) only
when complete, so an interrupted build is never read; its leftovers are removed by the next build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from tqdm import tqdm

from flair.data import Sentence
from flair.embeddings import TokenEmbeddings

from flair_munch.atomic_files import atomic_write_text
from flair_munch.embeddings.identity import embeddings_fingerprint, fingerprint_digest, is_frozen
from flair_munch.embeddings.store_files import (  # noqa: F401  (the errors are re-exported)
    MANIFEST, EmbeddingStoreError, StoreDamagedError, check_vectors, file_record, load_shard, read_manifest,
    write_manifest,
)
from flair_munch.embeddings.vectors import token_matrix
from flair_munch.file_locks import held_lock, try_lock
from flair_munch.inference import evaluation_mode

log = logging.getLogger("flair_munch")

DTYPES = {"float32": np.float32, "float16": np.float16, "bfloat16": np.uint16}
"""Each store dtype and the numpy dtype of its shards on disk (bfloat16: its raw bits)."""
INFO = "info.json"
PROGRESS_SECONDS = 30.0  # a build logs its progress at most this often (and after its last batch), bar or not


def default_store_root() -> Path:
    """``$FLAIR_MUNCH_CACHE/embeddings``, else ``~/.cache/flair_munch/embeddings``."""
    base = os.environ.get("FLAIR_MUNCH_CACHE")
    return Path(base).expanduser() / "embeddings" if base else Path.home() / ".cache" / "flair_munch" / "embeddings"


def sentence_key(sentence: Sentence) -> bytes:
    """16 bytes naming a sentence's token sequence (what frozen token embeddings depend on)."""
    return hashlib.blake2b("\x1f".join(token.text for token in sentence).encode("utf-8"), digest_size=16).digest()


def to_stored(matrix: torch.Tensor, dtype: str) -> np.ndarray:
    """A ``[tokens, dim]`` float matrix as the store keeps it: rounded to ``dtype`` (bfloat16 by torch, as its bits)."""
    if dtype == "bfloat16":
        return matrix.detach().to("cpu", torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    return matrix.detach().cpu().numpy().astype(DTYPES[dtype], copy=False)


def to_float32(stored: np.ndarray) -> np.ndarray:
    """Stored vectors widened to float32 exactly (bfloat16's bits are float32's upper half)."""
    if stored.dtype == np.uint16:
        return (stored.astype(np.uint32) << 16).view(np.float32)
    return stored.astype(np.float32, copy=False)


def sentences_read(target, aux=()) -> list[Sentence]:
    """What a run of ``target`` with ``aux`` reads: the target's train, dev and test, the auxiliaries' train."""
    return [s for split in ("train", "dev", "test") for s in getattr(target, split) or []] + [
        s for corpus in aux for s in corpus.train or []]


@dataclass
class BuildReport:
    """What one ``ensure`` call found and did."""

    sentences: int
    hits: int
    embedded: int
    tokens_written: int
    bytes_written: int
    seconds: float

    @property
    def hit_rate(self) -> float:
        return self.hits / self.sentences if self.sentences else 1.0


class _BuildProgress:
    """The progress of one ``ensure`` build: the tqdm bar, and log lines with an estimate, which show without it."""

    def __init__(self, path: Path, sentences: int, tokens: int, progress: bool) -> None:
        self.path, self.sentences, self.tokens = path, sentences, tokens
        self.bar = tqdm(total=sentences, desc="embedding store", unit="sent", disable=not progress)
        self.start = self.last = time.time()
        self.done = self.done_tokens = 0

    def update(self, chunk: Sequence[Sentence]) -> None:
        self.bar.update(len(chunk))
        self.done += len(chunk)
        self.done_tokens += sum(len(s) for s in chunk)
        now = time.time()
        if now - self.last < PROGRESS_SECONDS and self.done < self.sentences:
            return
        self.last = now
        elapsed = now - self.start
        # sentences are embedded shortest first, so the estimate goes by tokens, not sentences
        left = elapsed * (self.tokens - self.done_tokens) / max(self.done_tokens, 1)
        log.info("embedding store %s: %d of %d new sentences (%.0f %%), %.0f s elapsed, about %.0f s left", self.path,
                 self.done, self.sentences, 100 * self.done / self.sentences, elapsed, left)

    def close(self) -> None:
        self.bar.close()


class EmbeddingStore:
    """Token vectors of frozen embeddings on disk, looked up by sentence.

    ``ensure(sentences)`` embeds what is missing; ``batch(sentences)`` returns the padded
    ``[batch, longest, dim]`` tensor the tagger's BiLSTM reads, or ``None`` when a sentence is
    not stored (the tagger then embeds that batch itself).
    """

    def __init__(self, embeddings: TokenEmbeddings, root: Union[str, Path, None] = None, dtype: str = "float32",
                 batch_size: int = 64, shard_sentences: int = 2000, rebuild: bool = False) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {list(DTYPES)}, not {dtype!r}")
        if not is_frozen(embeddings):
            raise EmbeddingStoreError("only frozen embeddings can be stored: fine-tuned ones change at every step")
        self.embeddings = embeddings
        self.dtype = dtype
        self.batch_size = batch_size
        self.shard_sentences = shard_sentences  # a build commits a shard this often: a kill loses at most one
        self.fingerprint = embeddings_fingerprint(embeddings)
        digest = fingerprint_digest(embeddings, self.fingerprint)
        self.path = Path(root or default_store_root()) / f"{digest}-{dtype}"
        self.dim = embeddings.embedding_length
        self._rows: dict[bytes, tuple[int, int, int]] = {}
        self._arrays: list[np.ndarray] = []
        self._shards: list[dict] = []  # as the manifest lists them, by shard number
        self._unchecked: set[int] = set()  # shards whose vectors' checksum this process has not checked yet
        self.lookups = 0
        self.misses = 0
        if rebuild and self.path.exists():
            log.info("embedding store %s: deleted, to be rebuilt", self.path)
            shutil.rmtree(self.path)
        self._reload()

    # ----- reading -----

    def _reload(self, written: Optional[str] = None) -> None:
        """Reads the shards the manifest lists that this process has not read, each checked against it
        (``written``: the one this process just wrote, whose checksum it computed itself)."""
        known = {shard["name"] for shard in self._shards}
        for shard in read_manifest(self.path):
            if shard["name"] in known:
                continue
            keys, offsets, vectors = load_shard(self.path, shard, self.dim, DTYPES[self.dtype])
            number = len(self._arrays)
            self._arrays.append(vectors)
            self._shards.append(shard)
            if shard["name"] != written:
                self._unchecked.add(number)
            for i, key in enumerate(keys):
                self._rows[key.tobytes()] = (number, int(offsets[i]), int(offsets[i + 1]))

    def _checked(self, numbers) -> None:
        """Checks the vectors' checksum of each shard in ``numbers`` this process reads for the first time."""
        for number in set(numbers) & self._unchecked:
            check_vectors(self.path, self._shards[number])
            self._unchecked.discard(number)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, sentence: Sentence) -> bool:
        return sentence_key(sentence) in self._rows

    def vectors(self, sentence: Sentence) -> Optional[np.ndarray]:
        """The stored ``[tokens, dim]`` array of one sentence (float32 for a bfloat16 store), or ``None``."""
        row = self._rows.get(sentence_key(sentence))
        if row is None:
            return None
        number, start, end = row
        if self._unchecked:
            self._checked([number])
        stored = self._arrays[number][start:end]
        return to_float32(stored) if self.dtype == "bfloat16" else stored

    def batch(self, sentences: Sequence[Sentence], device=None) -> Optional[tuple[torch.Tensor, torch.Tensor]]:
        """Padded float32 vectors ``[batch, longest, dim]`` and lengths, or ``None`` if one is not stored."""
        self.lookups += 1
        rows = [self._rows.get(sentence_key(sentence)) for sentence in sentences]
        if any(row is None for row in rows):
            self.misses += 1
            return None
        if self._unchecked:
            self._checked(number for number, _, _ in rows)
        lengths = [end - start for _, start, end in rows]
        longest = max(lengths)
        out = np.zeros((len(rows), longest, self.dim), dtype=np.float32)
        for i, (number, start, end) in enumerate(rows):
            out[i, : end - start] = to_float32(self._arrays[number][start:end])
        tensor = torch.from_numpy(out)
        return (tensor.to(device) if device is not None else tensor), torch.tensor(lengths, dtype=torch.long)

    # ----- building -----

    def budget(self, tokens: int) -> int:
        return tokens * self.dim * np.dtype(DTYPES[self.dtype]).itemsize

    def ensure(self, sentences: Iterable[Sentence], progress: bool = True) -> BuildReport:
        """Embeds and stores every sentence not stored yet; returns hit counts.

        New sentences are written in shards of ``shard_sentences``, each committed to the manifest when
        it is complete, so a build that is killed keeps its finished shards and the next ``ensure``
        embeds only the rest.
        """
        start = time.time()
        sentences = [s for s in sentences if len(s) > 0]
        hits, missing = self._missing(sentences)
        if not missing:
            return BuildReport(len(sentences), hits, 0, 0, 0, time.time() - start)
        with self._lock(".build.lock"):  # one builder at a time, of this machine or another sharing the folder
            self._reload()  # what a builder stored while this one waited is not embedded again
            hits, missing = self._missing(sentences)
            if not missing:
                return BuildReport(len(sentences), hits, 0, 0, 0, time.time() - start)
            return self._build(sentences, hits, missing, start, progress)

    def _missing(self, sentences: list[Sentence]) -> tuple[int, dict[bytes, Sentence]]:
        """How many of ``sentences`` are stored, and the others by key (each once)."""
        missing: dict[bytes, Sentence] = {}
        hits = 0
        for sentence in sentences:
            key = sentence_key(sentence)
            if key in self._rows:
                hits += 1
            elif key not in missing:
                missing[key] = sentence
        return hits, missing

    def _build(self, sentences: list[Sentence], hits: int, missing: dict[bytes, Sentence], start: float,
               progress: bool) -> BuildReport:
        tokens = sum(len(s) for s in missing.values())
        size = self.budget(tokens)
        self.path.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.path).free
        log.info("embedding store %s: %d new sentences, %d tokens x %d dims x %d bytes = %.1f MB on disk "
                 "(%.1f GB free); read memory-mapped", self.path, len(missing), tokens, self.dim,
                 np.dtype(DTYPES[self.dtype]).itemsize, size / 1e6, free / 1e9)
        if size > 0.95 * free:
            raise EmbeddingStoreError(
                f"the embedding store needs {size / 1e9:.2f} GB in {self.path} but only {free / 1e9:.2f} GB are free: "
                "free disk space, point FLAIR_MUNCH_CACHE (or the recipe's embedding_store) elsewhere, use "
                "dtype float16 or bfloat16 (half the size), or turn the store off")
        items = sorted(missing.items(), key=lambda item: len(item[1]))  # similar lengths embed faster
        build = _BuildProgress(self.path, len(items), tokens, progress)
        try:
            for first in range(0, len(items), self.shard_sentences):
                chunk = items[first : first + self.shard_sentences]
                self._write_shard(chunk, sum(len(s) for _, s in chunk), build)
                log.info("embedding store %s: %d of %d new sentences stored (%.0f s)", self.path,
                         min(first + self.shard_sentences, len(items)), len(items), time.time() - start)
        finally:
            build.close()
        written = len(missing)
        return BuildReport(len(sentences), hits, written, tokens, size, time.time() - start)

    def _write_shard(self, items: list[tuple[bytes, Sentence]], tokens: int, build: _BuildProgress) -> None:
        self._remove_leftovers()
        name = f"shard-{uuid.uuid4().hex[:12]}"
        building = self.path / f"{name}.building"  # locked while this process builds the shard
        with held_lock(building):
            files = self._write_shard_files(name, items, tokens, build)
            self._add_to_manifest(name, len(items), tokens, files)
        building.unlink(missing_ok=True)
        self._reload(written=name)

    def _write_shard_files(self, name: str, items: list[tuple[bytes, Sentence]], tokens: int,
                           build: _BuildProgress) -> dict[str, dict]:
        """Embeds ``items`` into the shard's two files (under ``.partial`` names until complete); their records."""
        vectors_path = self.path / f"{name}.vectors.npy"
        index_path = self.path / f"{name}.index.npz"
        partial_vectors = vectors_path.with_name(vectors_path.name + ".partial")
        partial_index = index_path.with_name(index_path.name + ".partial")
        array = np.lib.format.open_memmap(partial_vectors, mode="w+", dtype=DTYPES[self.dtype], shape=(tokens, self.dim))
        order = sorted(range(len(items)), key=lambda i: len(items[i][1]))  # similar lengths embed faster
        offsets = np.zeros(len(items) + 1, dtype=np.int64)
        for position, i in enumerate(order):
            offsets[position + 1] = offsets[position] + len(items[i][1])
        names = self.embeddings.get_names()
        with evaluation_mode(self.embeddings):
            for first in range(0, len(order), self.batch_size):
                chunk = [items[i][1] for i in order[first : first + self.batch_size]]
                self.embeddings.embed(chunk)
                for j, sentence in enumerate(chunk):
                    row = first + j
                    array[offsets[row] : offsets[row + 1]] = to_stored(token_matrix(sentence, names), self.dtype)
                    sentence.clear_embeddings(names)
                build.update(chunk)
        array.flush()
        del array
        # raw bytes, not numpy's "S16", which drops trailing NUL bytes of a key
        keys = np.frombuffer(b"".join(items[i][0] for i in order), dtype=np.uint8).reshape(len(order), 16)
        with open(partial_index, "wb") as handle:
            np.savez(handle, keys=keys, offsets=offsets)
        files = {"vectors.npy": file_record(partial_vectors), "index.npz": file_record(partial_index)}
        os.replace(partial_vectors, vectors_path)
        os.replace(partial_index, index_path)
        return files

    def _add_to_manifest(self, name: str, sentences: int, tokens: int, files: dict[str, dict]) -> None:
        """Commits a complete shard: from now on it is read."""
        with self._lock():
            shards = read_manifest(self.path)
            shards.append({"name": name, "sentences": sentences, "tokens": tokens, "files": files})
            write_manifest(self.path, shards)
            info = self.path / INFO
            if not info.is_file():
                atomic_write_text(info, json.dumps({"dtype": self.dtype, "dim": self.dim,
                                                    "fingerprint": self.fingerprint}, indent=1, default=repr))

    def _remove_leftovers(self) -> None:
        """Files of builds that died: shards the manifest does not list whose builder holds no lock."""
        with self._lock():
            listed = {shard["name"] for shard in read_manifest(self.path)}
            for name in {path.name.split(".")[0] for path in self.path.glob("shard-*")} - listed:
                with open(self.path / f"{name}.building", "a") as handle:
                    if not try_lock(handle):
                        continue  # another process is building it
                    for path in self.path.glob(f"{name}.*"):
                        path.unlink(missing_ok=True)

    def _lock(self, name: str = ".lock"):
        return held_lock(self.path / name)

    def __repr__(self) -> str:
        return f"EmbeddingStore({self.path}, {len(self)} sentences, {self.dtype})"
