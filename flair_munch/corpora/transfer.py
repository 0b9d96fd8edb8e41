"""Fetching one file over HTTP(S) so that a slow or broken network costs a retry, not the download.

Bytes go to a ``.part`` file that a later call resumes with an HTTP ``Range`` request; each try has a timeout
(seconds without a byte), failed tries are retried with a growing pause, and the final error names the URL.
``requests`` reads proxies from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``) by itself.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import requests
from tqdm import tqdm

log = logging.getLogger("flair_munch")

CHUNK_BYTES = 1 << 16


class CorpusDownloadError(RuntimeError):
    """A corpus could not be downloaded or verified; the message names the URL or file and what to do."""


class InterruptedDownloadError(CorpusDownloadError):
    """The transfer failed on every try; its ``.part`` file is kept, so the next call resumes it."""


class _Retryable(Exception):
    """A try that failed in a way another try may not (a cut connection, a timeout, a server error)."""


@dataclass(frozen=True)
class TransferSettings:
    """How hard to try: ``timeout`` seconds without a byte (connect or read), ``retries`` more tries after the
    first, ``backoff`` seconds before the first retry (doubled each time), and a progress bar (None: on a
    terminal only; without one, log lines)."""

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    progress: Optional[bool] = None


def fetch(url: str, part: Path, settings: TransferSettings = TransferSettings(),
          session: Optional[requests.Session] = None) -> None:
    """Downloads ``url`` into ``part`` (resuming from its size), retrying; raises :class:`CorpusDownloadError`."""
    session = session or requests.Session()
    tries = settings.retries + 1
    for attempt in range(1, tries + 1):
        try:
            _fetch_once(url, part, settings, session)
            return
        except (_Retryable, requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as error:
            reason = _reason(error, settings)
            if attempt == tries:
                kept = part.stat().st_size if part.exists() else 0
                raise InterruptedDownloadError(
                    f"could not download {url}: {reason} ({tries} tr{'y' if tries == 1 else 'ies'}). Check the network "
                    "or the proxy (HTTPS_PROXY), or set FLAIR_MUNCH_CORPUS_MIRROR to a reachable mirror, and run "
                    f"again: {kept} bytes are kept in {part} and the download resumes there") from error
            pause = settings.backoff * 2 ** (attempt - 1)
            log.warning("%s: %s; try %d of %d in %.1f s", url, reason, attempt + 1, tries, pause)
            time.sleep(pause)
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as error:  # a malformed mirror
            raise CorpusDownloadError(f"cannot download {url}: not a valid URL ({error}). Check "
                                      "FLAIR_MUNCH_CORPUS_MIRROR (e.g. https://mirror.example.org)") from error


def _reason(error: BaseException, settings: TransferSettings) -> str:
    if isinstance(error, requests.Timeout) or "timed out" in str(error).lower():
        return f"timed out (no byte for {settings.timeout:g} s)"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "the connection was cut mid-file"
    if isinstance(error, requests.ConnectionError):
        return f"connection failed ({type(error).__name__})"
    return str(error)


def _fetch_once(url: str, part: Path, settings: TransferSettings, session: requests.Session) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with session.get(url, headers=headers, stream=True, timeout=settings.timeout) as response:
        status = response.status_code
        if status == 416 or (status == 206 and not response.headers.get("Content-Range", "").startswith(
                f"bytes {have}-")):
            part.unlink(missing_ok=True)  # the kept bytes do not fit what the server has: start again
            raise _Retryable(f"the server refused to resume at byte {have} (HTTP {status}); starting again")
        if status >= 500 or status == 429:
            raise _Retryable(f"HTTP {status} {response.reason}")
        if status >= 400:
            raise CorpusDownloadError(f"cannot download {url}: HTTP {status} {response.reason}. If you use a "
                                      "mirror (FLAIR_MUNCH_CORPUS_MIRROR), check that it holds this file")
        resumed = have if status == 206 else 0
        length = response.headers.get("Content-Length")
        total = resumed + int(length) if length and length.isdigit() else None
        _write_body(response, part, resumed, total, settings, url)


def _write_body(response: requests.Response, part: Path, resumed: int, total: Optional[int],
                settings: TransferSettings, url: str) -> None:
    """Appends the body to ``part`` (or rewrites it when the server sent the whole file), with a bar or log lines."""
    show = sys.stderr.isatty() if settings.progress is None else settings.progress
    name = url.rsplit("/", 2)[-2] + "/" + url.rsplit("/", 1)[-1]
    if not show:
        log.info("downloading %s%s", url, f" (from byte {resumed})" if resumed else "")
    start = time.monotonic()
    with open(part, "ab" if resumed else "wb") as out, tqdm(
            total=total, initial=resumed, unit="B", unit_scale=True, desc=name, disable=not show,
            file=sys.stderr, leave=False) as bar:
        for chunk in response.iter_content(CHUNK_BYTES):
            out.write(chunk)
            bar.update(len(chunk))
    if not show:
        log.info("downloaded %s: %d bytes in %.1f s", url, part.stat().st_size, time.monotonic() - start)
