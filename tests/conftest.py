"""Fixtures shared by the test modules: shipped samples, shipped embeddings, the full corpora beside the repo."""

from pathlib import Path

import pytest

import flair
import torch

SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    if not (SHARED_CORPORA / "NCBI-disease").is_dir():
        pytest.skip(f"full corpora not found at {SHARED_CORPORA} (expected ../shared/corpora beside the repo)")
    return SHARED_CORPORA


@pytest.fixture(scope="session")
def default_embeddings():
    """The shipped offline embeddings (FastText + forward/backward character LMs)."""
    from flair_munch.embeddings import load_embeddings

    return load_embeddings("default")


@pytest.fixture(scope="session")
def sample_corpora():
    """Two shipped samples cut to 120 training sentences each: small enough to train in seconds."""
    from flair_munch.corpora import load_corpus

    return [
        load_corpus("ncbi-disease", samples=True, train_size=120, seed=1),
        load_corpus("bc5cdr-chem", samples=True, train_size=120, seed=1),
    ]


@pytest.fixture(autouse=True)
def _cpu():
    flair.device = torch.device("cpu")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Studies write their embedding store to the user cache by default; tests keep theirs apart."""
    import os

    previous = os.environ.get("FLAIR_MUNCH_CACHE")
    os.environ["FLAIR_MUNCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("FLAIR_MUNCH_CACHE", None)
    else:
        os.environ["FLAIR_MUNCH_CACHE"] = previous
