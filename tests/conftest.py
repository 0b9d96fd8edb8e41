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
    """The shipped small set (FastText + forward/backward character LMs): what tests need, fast."""
    from flair_munch.embeddings import load_embeddings

    return load_embeddings("default-small")


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


def _scores_as_recorded(run_dir, corpora_by_split: dict, head: str) -> None:
    """The F1 a run recorded (metrics.json) is what its saved model scores, even in train mode, every time."""
    import json
    from pathlib import Path

    from flair_munch.models import MultiHeadTagger

    metrics = json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8"))
    model = MultiHeadTagger.load(Path(run_dir) / "final-model.pt")
    model.train()
    for split, sentences in corpora_by_split.items():
        first = model.evaluate(list(sentences), head=head, return_loss=True)
        second = model.evaluate(list(sentences), head=head, return_loss=True)
        assert first.scores["loss"] == second.scores["loss"], "dropout at prediction time"
        assert first.main_score == second.main_score == metrics[split]["f1"], split
        assert first.scores["micro avg recall"] == metrics[split]["recall"], split
    assert model.training  # evaluation left the mode as it found it


@pytest.fixture
def scores_as_recorded():
    """``scores_as_recorded(run_dir, {"dev": sentences, "test": sentences}, head)`` asserts the recorded F1."""
    return _scores_as_recorded
