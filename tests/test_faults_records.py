"""Records under faults (issue 31): corpora cached per options, a damaged store or run file named, a cut index
rebuilt, files readable by collaborators, a full disk named. Each case corrupts real files and runs the code."""

import errno
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from flair.data import Sentence

from flair_munch import resources
from flair_munch.cli import main
from flair_munch.embeddings.store import EmbeddingStore, StoreDamagedError
from flair_munch.recipes import load_recipe
from flair_munch.study.driver import run_study

RECIPE = """\
name: faults
output_dir: {out}
samples: true
device: cpu
embeddings: {vectors}
embedding_store: off
model: {{hidden_size: 8}}
corpora:
  ncbi-disease: {{train_size: {size}}}
targets: [ncbi-disease]
schedules: [single-task]
grid: {{learning_rate: {rates}, mini_batch_size: [16]}}
training: {{max_epochs: 1}}
seeds: [1]
"""

WORD_VECTORS = Path(resources.__file__).parent / "embeddings" / "small" / "word-vectors.kv"  # frozen and quick


def tiny_recipe(folder: Path, out: Path, size: int = 40, rates: str = "[0.1, 0.05]") -> Path:
    path = folder / f"recipe-{out.name}.yaml"
    path.write_text(RECIPE.format(out=out, size=size, rates=rates, vectors=WORD_VECTORS))
    return path


def index(study: Path) -> list[dict]:
    return [json.loads(line) for line in (study / "results.jsonl").read_text().splitlines()]


def scores(records: list[dict]) -> dict:
    return {r["run_id"]: (r["dev"], r["test"], r["updates"]) for r in records}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished two-run study, written under umask 022."""
    folder = tmp_path_factory.mktemp("finished")
    previous = os.umask(0o022)
    try:
        run_study(load_recipe(tiny_recipe(folder, folder / "study")), progress=False)
    finally:
        os.umask(previous)
    return folder / "study"


def copy_of(finished: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The finished study copied to ``tmp_path/study``, and its recipe (same runs) pointing there."""
    study = tmp_path / "study"
    shutil.copytree(finished, study)
    return study, tiny_recipe(tmp_path, study)


# ----- wrong result 1: the process's corpus cache -----


def test_two_studies_in_one_process_train_on_their_own_corpus_cut(tmp_path, finished):
    """Same corpus, cut to 40 and then to 80 sentences: the second study must not reuse the first one's corpus."""
    assert {r["updates"]["shared"] for r in index(finished)} == {3}  # 40 sentences / 16 a batch
    run_study(load_recipe(tiny_recipe(tmp_path, tmp_path / "bigger", size=80, rates="[0.1]")), progress=False)
    assert [r["updates"]["shared"] for r in index(tmp_path / "bigger")] == [5]  # 80 / 16


# ----- wrong result 4: file modes -----


def test_every_file_a_study_writes_has_the_umask_mode(finished, tmp_path):
    files = [path for path in finished.rglob("*") if path.is_file()]
    names = {path.name for path in files}
    assert {"results.jsonl", "recipe.json", "metrics.json", "final-model.pt", "test-predictions.conll",
            "test-predictions.tags.gz", "history.json"} <= names
    assert {str(path): oct(path.stat().st_mode & 0o777) for path in files if path.stat().st_mode & 0o777 != 0o644} == {}


def test_checkpoints_and_prediction_files_have_the_umask_mode(tmp_path):
    from flair_munch.corpora.conll import write_conll
    from flair_munch.evaluation.prediction_file import write_tag_file
    from flair_munch.training.run_directory import RunDirectory

    previous = os.umask(0o027)
    try:
        RunDirectory(tmp_path, "id").save_checkpoint({"state": {}})
        write_conll(tmp_path / "out.conll", [[("a", "O", "O")]])
        write_tag_file(tmp_path / "out.tags.gz", [["O"]], [["O"]])
    finally:
        os.umask(previous)
    modes = {path.name: oct(path.stat().st_mode & 0o777) for path in tmp_path.iterdir()}
    assert modes == {"checkpoint.pt": "0o640", "out.conll": "0o640", "out.tags.gz": "0o640"}


# ----- faults in run folders -----


def _garbage_metrics(folder: Path) -> str:
    (folder / "metrics.json").write_text("{garbage")
    return "metrics.json"


def _garbage_failure(folder: Path) -> str:
    (folder / "metrics.json").unlink()
    (folder / "failed.json").write_text("[1, 2")
    return "failed.json"


def _truncated_checkpoint(folder: Path) -> str:
    (folder / "metrics.json").unlink()
    torch.save({"weights": torch.zeros(1000)}, folder / "checkpoint.pt")
    data = (folder / "checkpoint.pt").read_bytes()
    (folder / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    return "checkpoint.pt"


@pytest.mark.parametrize("damage", [_garbage_metrics, _garbage_failure, _truncated_checkpoint],
                         ids=["garbage-metrics.json", "garbage-failed.json", "truncated-checkpoint.pt"])
def test_a_damaged_run_file_is_named_and_only_that_run_is_trained_again(finished, tmp_path, caplog, damage):
    study, recipe = copy_of(finished, tmp_path)
    victim, other = sorted((study / "runs").iterdir())
    name = damage(victim)
    untouched = (other / "metrics.json").stat().st_mtime_ns
    with caplog.at_level(logging.WARNING, logger="flair_munch"):
        status = run_study(load_recipe(recipe), progress=False)
    assert (status.done, status.failed) == (2, [])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(victim / name) in w and "is damaged" in w for w in warnings), warnings
    assert json.loads((victim / "metrics.json").read_text())["run_id"] == victim.name  # trained again
    assert (other / "metrics.json").stat().st_mtime_ns == untouched  # the other run is not
    assert not (victim / "failed.json").exists() and not (victim / "checkpoint.pt").exists()
    assert scores(index(study)) == scores(index(finished))  # recorded once each, the same numbers


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_nothing_half_written(tmp_path, capsys, monkeypatch):
    recipe = tiny_recipe(tmp_path, tmp_path / "study")
    write_text = Path.write_text

    def full(self, *args, **kwargs):
        if self.name.endswith(".tmp"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    assert main(["run", str(recipe), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"flair-munch: error: no space left writing {tmp_path / 'study' / 'recipe.json'}")
    assert "\n" not in err and list((tmp_path / "study").iterdir()) == []


def test_torch_failing_on_a_full_disk_names_the_checkpoint(tmp_path, monkeypatch):
    import shutil as shutil_module

    from flair_munch.atomic_files import DiskFullError
    from flair_munch.training.run_directory import RunDirectory

    def fail(obj, path, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr(torch, "save", fail)
    monkeypatch.setattr(shutil_module, "disk_usage", lambda path: shutil_module._ntuple_diskusage(10, 10, 0))
    with pytest.raises(DiskFullError, match=f"no space left writing {tmp_path / 'checkpoint.pt'}"):
        RunDirectory(tmp_path, "id").save_checkpoint({"state": {}})
    assert list(tmp_path.iterdir()) == []


# ----- wrong result 3: report on a cut index -----


def test_report_on_an_index_cut_mid_line_rebuilds_it_from_the_run_folders(finished, tmp_path, capsys, caplog):
    study, _ = copy_of(finished, tmp_path)
    intact = (study / "results.jsonl").read_text()
    (study / "results.jsonl").write_text(intact[: len(intact) - 40])
    with caplog.at_level(logging.WARNING, logger="flair_munch"):
        assert main(["report", str(study)]) == 0
    assert "Warning" not in capsys.readouterr().err
    assert any("results.jsonl:2 is damaged (cut mid-line" in r.getMessage() and "rebuilt it from the run folders "
               "(2 runs)" in r.getMessage() for r in caplog.records)
    assert scores(index(study)) == scores(index(finished)) and len(index(study)) == 2


def test_report_on_a_cut_index_without_its_recipe_is_one_line(finished, tmp_path, capsys):
    study, _ = copy_of(finished, tmp_path)
    (study / "recipe.json").unlink()
    (study / "results.jsonl").write_text((study / "results.jsonl").read_text()[:-40])
    assert main(["report", str(study)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"flair-munch: error: {study / 'results.jsonl'}:2 is damaged (cut mid-line")
    assert "\n" not in err
    assert "cannot be rebuilt from the run folders" in err and "flair-munch run RECIPE" in err
    assert not (study / "report").exists()


# ----- wrong result 2 and the damaged-store one-liners -----

SENTENCES = ["Aspirin causes ulcers .", "No effect was seen .", "Mutations in BRCA1 cause cancer .",
             "The patient had fever .", "Diabetes is common .", "Tumours grew .", "We saw nothing new here ."]


@pytest.fixture(scope="module")
def built_store(default_embeddings, tmp_path_factory):
    """A store of two shards (4 + 3 sentences)."""
    root = tmp_path_factory.mktemp("store")
    store = EmbeddingStore(default_embeddings, root=root, shard_sentences=4)
    store.ensure([Sentence(text) for text in SENTENCES], progress=False)
    return store


def store_copy(built_store, tmp_path, old: bool = False) -> Path:
    """The built store's folder copied under ``tmp_path``; ``old``: its manifest as written before checksums."""
    folder = tmp_path / built_store.path.name
    shutil.copytree(built_store.path, folder)
    if old:
        manifest = json.loads((folder / "manifest.json").read_text())
        for shard in manifest["shards"]:
            shard.pop("files")
        (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def first_shard(folder: Path) -> str:
    return json.loads((folder / "manifest.json").read_text())["shards"][0]["name"]


def _larger(folder: Path) -> None:
    path = folder / f"{first_shard(folder)}.vectors.npy"
    vectors = np.load(path)
    np.save(path, np.concatenate([vectors, vectors[:5]]))


def _other_bytes(folder: Path) -> None:
    path = folder / f"{first_shard(folder)}.vectors.npy"
    vectors = np.load(path)
    np.save(path, vectors[::-1].copy())  # same size and width, other vectors


def _truncate(kind: str):
    def damage(folder: Path) -> None:
        path = folder / f"{first_shard(folder)}.{kind}"
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return damage


def _garbage(name: str):
    def damage(folder: Path) -> None:
        (folder / (name if name == "manifest.json" else f"{first_shard(folder)}.{name}")).write_bytes(b"\x80garbage")
    return damage


STORE_CASES = [
    # (id, damage, manifest written before checksums, words of the message)
    ("larger-shard-same-width", _larger, False, [".vectors.npy has", "bytes, the manifest says"]),
    ("larger-shard-same-width-old-store", _larger, True, ["vectors are float32 ("]),
    ("same-size-other-vectors", _other_bytes, False, [".vectors.npy does not match its checksum"]),
    ("truncated-vectors", _truncate("vectors.npy"), False, [".vectors.npy has", "the manifest says"]),
    ("truncated-vectors-old-store", _truncate("vectors.npy"), True, ["mmap length is greater than file size"]),
    ("truncated-index", _truncate("index.npz"), False, [".index.npz has"]),
    ("garbage-index-old-store", _garbage("index.npz"), True, ["index.npz: This file contains pickled (object) data)"]),
    ("garbage-vectors-old-store", _garbage("vectors.npy"), True, ["shard-"]),
    ("garbage-manifest", _garbage("manifest.json"), False, ["manifest.json:"]),
    ("missing-vectors", lambda folder: (folder / f"{first_shard(folder)}.vectors.npy").unlink(), False,
     ["No such file"]),
]


@pytest.mark.parametrize("damage, old, words", [case[1:] for case in STORE_CASES], ids=[c[0] for c in STORE_CASES])
def test_a_damaged_store_is_refused_naming_the_folder_and_the_fix(built_store, default_embeddings, tmp_path,
                                                                  damage, old, words):
    folder = store_copy(built_store, tmp_path, old)
    damage(folder)
    with pytest.raises(StoreDamagedError) as caught:
        store = EmbeddingStore(default_embeddings, root=tmp_path)
        store.batch([Sentence(text) for text in SENTENCES])  # the first read of each shard checks its vectors
    message = str(caught.value)
    assert message.startswith(f"store folder {folder} is damaged (") and "\n" not in message
    assert message.endswith("delete it (it is rebuilt) or run `flair-munch embeddings cache --rebuild RECIPE`")
    assert all(word in message for word in words), (words, message)


@pytest.mark.parametrize("old", [False, True], ids=["with-checksums", "old-store-without-checksums"])
def test_an_intact_store_reads_the_vectors_it_stored(built_store, default_embeddings, tmp_path, old):
    store_copy(built_store, tmp_path, old)
    sentences = [Sentence(text) for text in SENTENCES]
    expected, _ = built_store.batch(sentences)
    found, _ = EmbeddingStore(default_embeddings, root=tmp_path).batch(sentences)
    assert torch.equal(found, expected)


def test_cache_names_a_damaged_store_and_rebuild_replaces_it(tmp_path, capsys):
    corpus = tmp_path / "tiny"
    corpus.mkdir()
    for split, text in (("train", "Aspirin\tB-Chemical\ncauses\tO\nulcers\tB-Disease\n\nNo\tO\n\n"),
                        ("dev", "Fever\tB-Disease\n\n"), ("test", "Cancer\tB-Disease\ngrew\tO\n\n")):
        (corpus / f"{split}.tsv").write_text(text)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(json.dumps({
        "name": "c", "output_dir": str(tmp_path / "out"), "embeddings": "default-small",
        "embedding_store": str(tmp_path / "store"), "corpora": {str(corpus): {"name": "tiny"}},
        "targets": ["tiny"], "schedules": ["single-task"]}))
    assert main(["embeddings", "cache", str(recipe), "--no-progress"]) == 0
    manifest = next((tmp_path / "store").glob("*/manifest.json"))
    manifest.write_text('{"shards": [')
    capsys.readouterr()
    assert main(["embeddings", "cache", str(recipe), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"flair-munch: error: store folder {manifest.parent} is damaged (manifest.json: ")
    assert "\n" not in err and err.endswith("`flair-munch embeddings cache --rebuild RECIPE`")
    assert main(["embeddings", "cache", "--rebuild", str(recipe), "--no-progress"]) == 0
    assert "0 already stored, 4 embedded" in capsys.readouterr().out
    assert len(json.loads(manifest.read_text())["shards"]) == 1
