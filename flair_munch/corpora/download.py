"""Registered corpora by name for an online user: pinned files, verified byte for byte, converted, moved into place.

A corpus is fetched into ``DATA/.flair-munch-downloads/<folder>/`` (resumable ``.part`` files), each file's git
blob id is checked against its pin before anything is converted, the converted splits are counted against the
published figures, and only then is the whole folder renamed to ``DATA/<folder>``: a reader (or a study) sees a
complete, verified corpus or none. A corpus already in the data folder is never fetched again.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

import requests

from flair_munch.corpora.registry import (
    DATA_ENV_VAR, PAPER_STATS, REGISTRY, CorpusNotFoundError, downloaded_corpora_dir, lookup,
)
from flair_munch.corpora.sources import MIRROR_ENV_VAR, NO_SOURCE, PUBLIC_HOST, SOURCES, CorpusSource, git_blob_id
from flair_munch.corpora.transfer import CorpusDownloadError, InterruptedDownloadError, TransferSettings, fetch
from flair_munch.file_locks import held_lock

log = logging.getLogger("flair_munch")

STAGING = ".flair-munch-downloads"
Notice = Callable[[str], None]


def download_dir(to: Union[str, Path, None] = None) -> Path:
    """The folder downloads go to: ``to``, else ``$FLAIR_MUNCH_DATA``, else :func:`downloaded_corpora_dir`."""
    given = to or os.environ.get(DATA_ENV_VAR) or None
    return Path(given).expanduser() if given else downloaded_corpora_dir()


def mirror_base() -> str:
    """``$FLAIR_MUNCH_CORPUS_MIRROR`` (a site that serves raw.githubusercontent.com's paths), else that host."""
    return os.environ.get(MIRROR_ENV_VAR) or PUBLIC_HOST


def source_of(name: str) -> tuple[str, CorpusSource]:
    """The registry name and pinned source of ``name``; an unknown name or CoNLL-2003 says why not."""
    info = lookup(name)
    if info is None:
        raise CorpusNotFoundError(f"cannot download '{name}': not a registered corpus. Downloadable: "
                                  f"{', '.join(SOURCES)}.")
    if info.name not in SOURCES:
        raise CorpusNotFoundError(f"cannot download '{info.name}': {NO_SOURCE.get(info.name, 'no pinned source')}.")
    return info.name, SOURCES[info.name]


def _present(base: Path, folder: str) -> Optional[Path]:
    """The corpus folder when it is in ``base`` (any letter case), else None."""
    if (base / folder).is_dir():
        return base / folder
    matches = [c for c in base.iterdir() if c.is_dir() and c.name.lower() == folder.lower()] if base.is_dir() else []
    return matches[0] if matches else None


def terms_text(name: str, source: CorpusSource, target: Path, base_url: str) -> str:
    """Where each file of ``name`` comes from and on what terms: shown before it is downloaded."""
    files = "\n".join(f"  {file.split}: {source.url(file, base_url)} (git blob {file.blob})" for file in source.files)
    return f"{name} -> {target}\n{files}\n  terms: {source.terms}"


def download_corpora(names: Iterable[str] = (), to: Union[str, Path, None] = None, *, all_corpora: bool = False,
                     include_unclear: bool = False, settings: TransferSettings = TransferSettings(),
                     notice: Optional[Notice] = None) -> dict[str, Path]:
    """Downloads the named corpora (``all_corpora``: every downloadable one; those with unclear redistribution
    terms, BC4CHEMD, only when named or with ``include_unclear``) into :func:`download_dir` ``(to)``.

    Prints each source and its terms (``notice``, default stderr) before the first download. Returns registry
    name -> folder, present ones included. Raises :class:`CorpusDownloadError` (transfer, checksum, counts) or
    :class:`CorpusNotFoundError` (a name without a source), naming the URL or file; nothing half-written is left.
    """
    notice = notice or (lambda text: print(text, file=sys.stderr))
    wanted = dict.fromkeys(source_of(name)[0] for name in names)
    for name, source in SOURCES.items() if all_corpora else ():
        if source.named_only and not include_unclear and name not in wanted:
            notice(f"{name}: skipped (redistribution status unclear: docs/corpora.md); name it, or add "
                   "--include-unclear (Python: include_unclear=True), to download it")
        else:
            wanted.setdefault(name)
    base, url = download_dir(to), mirror_base()
    folders = {name: _present(base, REGISTRY[name].folder) for name in wanted}
    missing = [name for name, folder in folders.items() if folder is None]
    for name in wanted:
        if folders[name] is not None:
            log.info("%s: already in %s, not downloaded", name, folders[name])
    if missing:
        notice("flair-munch will download (from the pinned sources below; you accept their terms):\n" + "\n".join(
            terms_text(name, SOURCES[name], base / REGISTRY[name].folder, url) for name in missing))
    with requests.Session() as session:
        for name in missing:
            folders[name] = install_corpus(name, base, settings, session=session, base_url=url)
            notice(f"{name}: verified and saved in {folders[name]}")
    return folders


def install_corpus(name: str, base: Path, settings: TransferSettings = TransferSettings(), *,
                   session: Optional[requests.Session] = None, base_url: Optional[str] = None) -> Path:
    """Fetches, verifies, converts, counts and moves one corpus into ``base``; its folder. Under a lock, so two
    processes fetch a corpus once."""
    folder = REGISTRY[name].folder
    staging = base / STAGING / folder
    try:
        with held_lock(base / STAGING / f"{folder}.lock",
                       on_wait=lambda: log.info("%s: waiting for another download of it", name)):
            if (present := _present(base, folder)) is not None:
                return present
            try:
                data = _fetch_verified(SOURCES[name], staging, settings, session, base_url or mirror_base())
                os.rename(_convert(name, SOURCES[name], data, base / STAGING), base / folder)
            except InterruptedDownloadError:
                raise  # its .part files stay for the next call to resume
            except CorpusDownloadError:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        _remove_empty_staging(base)
    return base / folder


def _fetch_verified(source: CorpusSource, staging: Path, settings: TransferSettings,
                    session: Optional[requests.Session], base_url: str) -> dict[str, bytes]:
    """Each split's source bytes, fetched (or resumed) and checked against its git blob id."""
    staging.mkdir(parents=True, exist_ok=True)
    data = {}
    for file in source.files:
        url, part = source.url(file, base_url), staging / (Path(file.path).name + ".part")
        if not (part.exists() and git_blob_id(part.read_bytes()) == file.blob):
            fetch(url, part, settings, session)
        data[file.split] = part.read_bytes()
        got = git_blob_id(data[file.split])
        if got != file.blob:
            raise CorpusDownloadError(
                f"checksum mismatch for {url}: its git blob id is {got}, expected {file.blob} ({len(data[file.split])} "
                f"bytes received; pinned at {source.repo}@{source.commit[:12]}). The download was deleted and nothing "
                f"was written to {staging.parent.parent}; run again (a mirror or proxy may have changed the file)")
    return data


def _convert(name: str, source: CorpusSource, data: dict[str, bytes], staging: Path) -> Path:
    """The converted splits in a new folder under ``staging``, counted against the published figures."""
    from flair_munch.corpora.stats import corpus_stats

    built = staging / f"{REGISTRY[name].folder}.{uuid.uuid4().hex[:8]}.tmp"
    built.mkdir(parents=True)
    try:
        for split, raw in data.items():
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise CorpusDownloadError(f"{name}: the {split} file is not UTF-8 ({error})") from error
            (built / f"{split}.tsv").write_text(source.conversion.convert(text), encoding="utf-8", newline="")
        expected = source.counts or PAPER_STATS[name]
        measured = {split: (s["sentences"], s["mentions"]) for split, s in corpus_stats(built)["splits"].items()}
        wrong = [f"{split} {measured[split][0]:,} sentences / {measured[split][1]:,} mentions, published "
                 f"{want[0]:,} / {want[1]:,}" for split, want in expected.items() if measured.get(split) != want]
        if wrong:
            raise CorpusDownloadError(f"{name}: the converted corpus does not hold the published counts ("
                                      f"{'; '.join(wrong)}); nothing was saved. Please report this")
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    return built


def _remove_empty_staging(base: Path) -> None:
    """The staging folder once nothing in it is needed (no partial download to resume)."""
    staging = base / STAGING
    for lock in staging.glob("*.lock"):
        if not (staging / lock.stem).exists():
            lock.unlink(missing_ok=True)
    try:
        staging.rmdir()
    except OSError:
        pass


def ensure_corpora(names: Iterable[str], data_dir: Union[str, Path, None] = None,
                   settings: TransferSettings = TransferSettings()) -> dict[str, Path]:
    """Downloads the registered corpora among ``names`` (a folder path is passed over) missing from the data folder;
    ``load_corpus(..., download=True)`` and the recipe key ``download: true`` call this."""
    registered = [info.name for name in names if isinstance(name, str) and (info := lookup(name)) is not None]
    return download_corpora(registered, data_dir, settings=settings) if registered else {}


def download_recipe_corpora(recipe, fetch: bool = True) -> set[str]:
    """A recipe's registered corpora missing from its data folder (``download: true``): downloaded when ``fetch``
    (returns an empty set), else named in a log line and returned, so ``--dry-run`` fetches nothing."""
    names = [name for name in recipe.corpora if name not in recipe.corpus_paths and lookup(name) is not None]
    base = download_dir(recipe.data_dir)
    missing = {name for name in names if _present(base, REGISTRY[lookup(name).name].folder) is None}
    if missing and not fetch:
        log.info("download: true: %s will be downloaded into %s when the study runs", ", ".join(sorted(missing)), base)
        return missing
    if missing:
        ensure_corpora(sorted(missing), recipe.data_dir)
    return set()
