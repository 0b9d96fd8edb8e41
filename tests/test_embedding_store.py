"""The embedding store: exact round trip, invalidation, interrupted builds, same training as on the fly."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import torch

import flair
from flair.data import Sentence

from flair_munch.cli import main
from flair_munch.corpora import load_corpus
from flair_munch.embeddings import load_embeddings
from flair_munch.embeddings.store import EmbeddingStore, EmbeddingStoreError, StoreDamagedError, sentence_key
from flair_munch.models import MultiHeadTagger
from flair_munch.recipes import load_recipe
from flair_munch.embeddings.vectors import token_matrix
from flair_munch.training import AuxiliaryTrainer
from flair_munch.training.batch_stream import BatchStream


@pytest.fixture(scope="module")
def corpus():
    corpus = load_corpus("ncbi-disease", samples=True, train_size=64, seed=1)
    corpus._dev = type(corpus.dev)(list(corpus.dev)[:32])
    corpus._test = type(corpus.test)(list(corpus.test)[:32])
    return corpus


def fresh(embeddings, sentences):
    """Vectors computed on the fly, as the tagger would."""
    copies = [Sentence([t.text for t in s]) for s in sentences]
    embeddings.embed(copies)
    return [token_matrix(s, embeddings.get_names()) for s in copies]


@pytest.mark.parametrize("dtype, tolerance", [("float32", 0.0), ("float16", 1e-3)])
def test_round_trip_equals_fresh_embeddings(default_embeddings, corpus, tmp_path, dtype, tolerance):
    sentences = list(corpus.train)[:40]
    store = EmbeddingStore(default_embeddings, root=tmp_path, dtype=dtype)
    report = store.ensure(sentences, progress=False)
    assert report.embedded == len({" ".join(t.text for t in s) for s in sentences}) and report.hits == 0
    for sentence, expected in zip(sentences, fresh(default_embeddings, sentences)):
        stored = torch.from_numpy(store.vectors(sentence).astype("float32"))
        assert stored.shape == expected.shape
        if tolerance == 0.0:
            assert torch.equal(stored, expected)
        else:
            assert ((stored - expected).abs() <= tolerance * expected.abs().clamp(min=1.0)).all()
    batch, lengths = store.batch(sentences[:8])
    assert batch.shape == (8, int(lengths.max()), default_embeddings.embedding_length)
    reopened = EmbeddingStore(default_embeddings, root=tmp_path, dtype=dtype)
    assert len(reopened) == len(store) and reopened.ensure(sentences, progress=False).hit_rate == 1.0


def vectors_bytes(store) -> int:
    return sum(path.stat().st_size for path in store.path.glob("shard-*.vectors.npy"))


def test_a_bfloat16_store_keeps_torchs_rounding_in_half_the_bytes_and_reopens(default_embeddings, corpus, tmp_path):
    sentences = list(corpus.train)[:12]
    exact = EmbeddingStore(default_embeddings, root=tmp_path, dtype="float32")
    exact.ensure(sentences, progress=False)
    half = EmbeddingStore(default_embeddings, root=tmp_path, dtype="bfloat16")
    half.ensure(sentences, progress=False)
    assert half.path.name.endswith("-bfloat16") and half.path != exact.path
    tokens = sum(len(s) for s in {" ".join(t.text for t in s): s for s in sentences}.values())
    assert vectors_bytes(exact) - vectors_bytes(half) == tokens * default_embeddings.embedding_length * 2
    reopened = EmbeddingStore(default_embeddings, root=tmp_path, dtype="bfloat16")  # the manifest's checks pass
    assert len(reopened) == len(half) and reopened.ensure(sentences, progress=False).hit_rate == 1.0
    batch, lengths = reopened.batch(sentences)
    expected, _ = exact.batch(sentences)
    assert batch.dtype == torch.float32 and torch.equal(batch, expected.to(torch.bfloat16).float())
    assert not torch.equal(batch, expected)  # it did round
    first = torch.from_numpy(reopened.vectors(sentences[0]))
    assert torch.equal(first, expected[0, : len(sentences[0])].to(torch.bfloat16).float())


def test_a_damaged_bfloat16_shard_is_detected(default_embeddings, corpus, tmp_path):
    sentences = list(corpus.train)[:6]
    store = EmbeddingStore(default_embeddings, root=tmp_path, dtype="bfloat16")
    store.ensure(sentences, progress=False)
    (vectors,) = store.path.glob("shard-*.vectors.npy")
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0x40  # one bit of the last value
    vectors.write_bytes(bytes(data))
    with pytest.raises(StoreDamagedError, match="does not match its checksum"):
        EmbeddingStore(default_embeddings, root=tmp_path, dtype="bfloat16").batch(sentences)
    raw = np.load(vectors, allow_pickle=False)
    np.save(vectors, raw.view(np.float16))  # same bytes per value, another dtype: not bfloat16's bits
    with pytest.raises(StoreDamagedError, match="the store holds uint16"):
        EmbeddingStore(default_embeddings, root=tmp_path, dtype="bfloat16")


STORE_DTYPE_RECIPE = """\
name: store-dtype-pin
output_dir: runs/pin
samples: true
embeddings: default-small
corpora:
  ncbi-disease: {train_size: 20}
targets: [ncbi-disease]
schedules: [single-task]
grid: {learning_rate: [0.1], mini_batch_size: [16]}
"""


def test_a_rounding_store_dtype_is_another_run_and_float32_keeps_its_id(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(STORE_DTYPE_RECIPE, encoding="utf-8")
    ids = {dtype: load_recipe(str(path), [f"embedding_store_dtype={dtype}"]).runs()[0].run_id
           for dtype in ("float32", "float16", "bfloat16")}
    assert ids["float32"] == "002bda570201"  # the id before the store's dtype entered run ids
    assert len(set(ids.values())) == 3
    off = load_recipe(str(path), ["embedding_store_dtype=bfloat16", "embedding_store=off"])
    assert off.runs()[0].run_id == ids["float32"]  # no store: nothing is rounded


def test_an_unknown_store_dtype_is_one_line_naming_the_key_and_choices(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(STORE_DTYPE_RECIPE + "embedding_store_dtype: bf16\n", encoding="utf-8")
    assert main(["embeddings", "cache", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flair-munch: error:") and "Traceback" not in err
    for words in ("r.yaml:10: embedding_store_dtype: unknown dtype 'bf16'", "float32", "float16", "bfloat16"):
        assert words in err, (words, err)
    assert not (tmp_path / "runs").exists()


def test_a_changed_corpus_file_misses_only_its_changed_sentence(default_embeddings, tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    lines = ["BRCA1\tO", "causes\tO", "breast\tB-Disease", "cancer\tI-Disease", "", "Hello\tO", "world\tO", ""]
    for split in ("train", "dev", "test"):
        (folder / f"{split}.tsv").write_text("\n".join(lines), encoding="utf-8")
    store = EmbeddingStore(default_embeddings, root=tmp_path / "store")
    first = load_corpus(folder)
    assert store.ensure(list(first.train), progress=False).embedded == 2
    (folder / "train.tsv").write_text("\n".join(lines).replace("world", "there"), encoding="utf-8")
    changed = load_corpus(folder)
    assert store.batch(list(changed.train)) is None  # the edited sentence is not in the store
    report = store.ensure(list(changed.train), progress=False)
    assert (report.hits, report.embedded) == (1, 1)
    edited = list(changed.train)[1]
    assert torch.equal(torch.from_numpy(store.vectors(edited).copy()), fresh(default_embeddings, [edited])[0])


def test_other_embeddings_get_another_store(default_embeddings, corpus, tmp_path):
    store = EmbeddingStore(default_embeddings, root=tmp_path)
    store.ensure(list(corpus.train)[:10], progress=False)
    changed = load_embeddings("default-small")
    with torch.no_grad():
        changed.embeddings[0].embedding.weight[5] += 1.0  # one word vector retrained
    other = EmbeddingStore(changed, root=tmp_path)
    assert other.path != store.path and len(other) == 0
    assert EmbeddingStore(load_embeddings("default-small"), root=tmp_path).path == store.path  # same content, same store
    model = MultiHeadTagger.from_corpora(changed, [corpus])
    with pytest.raises(ValueError, match="other embeddings"):
        model.use_store(store)


def test_failed_build_leaves_nothing_readable_and_is_rebuilt(default_embeddings, corpus, tmp_path, monkeypatch):
    sentences = list(corpus.train)
    store = EmbeddingStore(default_embeddings, root=tmp_path, batch_size=8)
    calls = []
    original = type(default_embeddings).embed

    def failing(self, data_points):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, data_points)

    monkeypatch.setattr(type(default_embeddings), "embed", failing)
    with pytest.raises(KeyboardInterrupt):
        store.ensure(sentences, progress=False)
    monkeypatch.undo()
    assert len(EmbeddingStore(default_embeddings, root=tmp_path)) == 0  # the partial shard is never read
    assert list(store.path.glob("*.partial"))
    rebuilt = EmbeddingStore(default_embeddings, root=tmp_path)
    assert rebuilt.ensure(sentences, progress=False).hits == 0
    assert not list(store.path.glob("*.partial")) and len(rebuilt) == len({" ".join(t.text for t in s) for s in sentences})


BUILD = """
import sys
from flair_munch.corpora import load_corpus
from flair_munch.embeddings import load_embeddings
from flair_munch.embeddings.store import EmbeddingStore
names = ["ncbi-disease", "bc5cdr-disease", "bc5cdr-chem", "bc2gm", "jnlpba", "linnaeus", "s800"]
sentences = [s for n in names for split in ("train", "dev", "test") for s in getattr(load_corpus(n, samples=True), split)]
EmbeddingStore(load_embeddings("default-small"), root=sys.argv[1], batch_size=16).ensure(sentences, progress=False)
"""


@pytest.mark.integration
def test_build_killed_with_sigkill_is_never_read_and_rebuilds(default_embeddings, tmp_path):
    root = tmp_path / "store"
    process = subprocess.Popen([sys.executable, "-c", BUILD, str(root)], env={**os.environ, "OMP_NUM_THREADS": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(root.glob("*/*.partial")) and process.poll() is None:
        time.sleep(0.01)
    time.sleep(0.5)  # well inside the build
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert list(root.glob("*/*.partial")) and not list(root.glob("*/manifest.json"))
    store = EmbeddingStore(default_embeddings, root=root)
    assert len(store) == 0
    sentences = list(load_corpus("s800", samples=True).test)
    assert store.ensure(sentences, progress=False).hits == 0
    assert not list(root.glob("*/*.partial"))
    assert all(torch.equal(torch.from_numpy(store.vectors(s).copy()), v)
               for s, v in zip(sentences[:5], fresh(default_embeddings, sentences[:5])))


SAME_BUILD = """
import sys
from flair_munch.corpora import load_corpus
from flair_munch.embeddings import load_embeddings
from flair_munch.embeddings.store import EmbeddingStore
sentences = list(load_corpus("s800", samples=True).train)
print(EmbeddingStore(load_embeddings("default-small"), root=sys.argv[1], batch_size=16).ensure(sentences, progress=False).embedded)
"""


@pytest.mark.integration
def test_two_builders_of_one_folder_embed_each_sentence_once(default_embeddings, tmp_path):
    """Two processes (two nodes on a shared folder) ensuring the same sentences: one embeds, the other reads."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    builders = [subprocess.Popen([sys.executable, "-c", SAME_BUILD, str(tmp_path)], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    embedded = sorted(int(process.communicate(timeout=300)[0].split()[-1]) for process in builders)
    sentences = list(load_corpus("s800", samples=True).train)
    unique = len({sentence_key(s) for s in sentences if len(s)})
    assert embedded == [0, unique]  # the second builder waited for the first, then found everything stored
    store = EmbeddingStore(default_embeddings, root=tmp_path)
    manifest = json.loads((store.path / "manifest.json").read_text())
    assert sum(shard["sentences"] for shard in manifest["shards"]) == len(store) == unique
    assert torch.equal(torch.from_numpy(store.vectors(sentences[0]).copy()), fresh(default_embeddings, sentences[:1])[0])


def test_not_enough_disk_is_a_clear_error_before_writing(default_embeddings, corpus, tmp_path, monkeypatch):
    store = EmbeddingStore(default_embeddings, root=tmp_path)
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr("shutil.disk_usage", lambda path: Usage(10**9, 10**9 - 10**5, 10**5))
    with pytest.raises(EmbeddingStoreError, match="needs 0.00 GB .* but only 0.00 GB are free: free disk space"):
        store.ensure(list(corpus.train), progress=False)
    assert not list(store.path.glob("shard-*"))


def make_model(embeddings, corpus):
    flair.set_seed(3)
    return MultiHeadTagger.from_corpora(embeddings, [corpus], hidden_size=32)


def test_training_from_the_store_matches_training_on_the_fly(default_embeddings, corpus, tmp_path):
    common = dict(mini_batch_size=16, max_epochs=3, progress=False, seed=2, embeddings_storage_mode="none")
    on_the_fly = AuxiliaryTrainer(make_model(default_embeddings, corpus), [corpus]).train(
        "ncbi-disease", base_path=tmp_path / "fly", **common)
    store = EmbeddingStore(default_embeddings, root=tmp_path / "store")
    trainer = AuxiliaryTrainer(make_model(default_embeddings, corpus), [corpus], embedding_store=store)
    from_store = trainer.train("ncbi-disease", base_path=tmp_path / "stored", **common)
    assert trainer.model.embedding_store is store and store.misses == 0 and store.lookups > 0
    assert trainer.store_report.embedded > 0
    assert [r["target_loss"] for r in from_store.history] == pytest.approx(
        [r["target_loss"] for r in on_the_fly.history], rel=1e-5)
    assert from_store.test["f1"] == pytest.approx(on_the_fly.test["f1"], abs=1e-9)
    again = AuxiliaryTrainer(make_model(default_embeddings, corpus), [corpus], embedding_store=store)
    again.train("ncbi-disease", base_path=tmp_path / "again", **common)
    assert again.store_report.hit_rate == 1.0 and again.store_report.embedded == 0


def test_fine_tuned_encoders_bypass_the_store(corpus, tmp_path):
    from flair_munch.embeddings import load_encoder
    from flair_munch.models import ECTTLNERTagger

    encoder = load_encoder()
    with pytest.raises(EmbeddingStoreError, match="only frozen embeddings"):
        EmbeddingStore(encoder, root=tmp_path)
    model = ECTTLNERTagger.from_corpora(encoder, [corpus])
    assert AuxiliaryTrainer(model, [corpus], embedding_store=object()).embedding_store is None


def test_length_bucketing_keeps_the_pass_and_cuts_padding(corpus):
    sentences = list(load_corpus("jnlpba", samples=True).train)
    plain = BatchStream(sentences, 16, seed=1, key="x")
    bucketed = BatchStream(sentences, 16, seed=1, key="x", length_bucketing=True)
    passes = {}
    for name, stream in (("plain", plain), ("bucketed", bucketed)):
        batches = [stream.next() for _ in range(len(stream))]
        assert sorted(id(s) for b in batches for s in b) == sorted(id(s) for s in sentences)  # one full pass
        passes[name] = batches
    assert [len(b) for b in passes["plain"]] == [len(b) for b in passes["bucketed"]]  # same sizes, short one last

    def padding(batches):
        return sum(max(len(s) for s in b) * len(b) - sum(len(s) for s in b) for b in batches)

    assert padding(passes["bucketed"]) < 0.5 * padding(passes["plain"])
    again = BatchStream(sentences, 16, seed=1, key="x", length_bucketing=True)
    assert [[id(s) for s in again.next()] for _ in range(len(again))] == [[id(s) for s in b] for b in passes["bucketed"]]


def test_cli_caches_a_recipe_once(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(json.dumps({
        "name": "c", "output_dir": str(tmp_path / "out"), "samples": True, "embeddings": "default-small",
        "embedding_store": str(tmp_path / "store"), "corpora": {"s800": None, "linnaeus": None},
        "targets": ["s800"], "schedules": ["single-task"], "target_train_size": 50}))
    assert main(["embeddings", "cache", str(recipe), "--no-progress"]) == 0
    first = capsys.readouterr().out
    assert "0 already stored" in first and "embedded" in first
    assert main(["embeddings", "cache", str(recipe), "--no-progress"]) == 0
    second = capsys.readouterr().out
    sentences = int(second.split(": ")[1].split(" sentences")[0])
    assert f"{sentences} already stored, 0 embedded" in second
    assert main(["embeddings", "cache", str(recipe), "--set", "embedding_store=off"]) == 2
    assert "turns the embedding store off" in capsys.readouterr().err
    assert Path(tmp_path / "store").is_dir()


ALL_SAMPLES = '["ncbi-disease", "bc5cdr-disease", "bc5cdr-chem", "bc2gm", "jnlpba", "linnaeus", "s800"]'
SHARDED_NAMES = ["ncbi-disease", "bc5cdr-chem"]  # 1,200 sentences: six shards of 200, killed after two or more
SHARDED_BUILD = BUILD.replace("batch_size=16)", "batch_size=16, shard_sentences=200)").replace(
    ALL_SAMPLES, repr(SHARDED_NAMES))


@pytest.mark.integration
def test_build_killed_after_some_shards_keeps_them_and_embeds_only_the_rest(default_embeddings, tmp_path):
    root = tmp_path / "store"
    process = subprocess.Popen([sys.executable, "-c", SHARDED_BUILD, str(root)],
                               env={**os.environ, "OMP_NUM_THREADS": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        manifests = list(root.glob("*/manifest.json"))
        if manifests and len(json.loads(manifests[0].read_text())["shards"]) >= 2:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    store = EmbeddingStore(default_embeddings, root=root, shard_sentences=200)
    kept = len(store)
    assert kept >= 400 and kept % 200 == 0  # whole shards only, never a half-written one
    sentences = [s for n in SHARDED_NAMES for split in ("train", "dev", "test")
                 for s in getattr(load_corpus(n, samples=True), split)]
    report = store.ensure(sentences, progress=False)
    assert report.hits >= kept and report.embedded == len({sentence_key(s) for s in sentences if len(s)}) - kept
    assert not list(root.glob("*/*.partial"))
    sample = sentences[:3] + sentences[-3:]
    assert all(torch.equal(torch.from_numpy(store.vectors(s).copy()), v) for s, v in zip(sample, fresh(default_embeddings, sample)))


@pytest.fixture(scope="module")
def word_embeddings(default_embeddings):
    """The word vectors of the shipped set alone: frozen, and fast enough to train runs in seconds."""
    from flair.embeddings import StackedEmbeddings, WordEmbeddings

    from flair_munch.embeddings.identity import embedding_parts

    word = next(part for part in embedding_parts(default_embeddings) if isinstance(part, WordEmbeddings))
    # a fresh copy (stacking renames its parts), stacked as load_embeddings gives them: the store reads a bare
    # WordEmbeddings' `embeddings` attribute, its file name, as its parts
    return StackedEmbeddings([load_embeddings(word.embeddings)])


def test_a_run_stores_the_target_splits_and_its_aux_train_only(word_embeddings, corpus, tmp_path):
    from flair_munch.training.schedules import SingleAux, SingleAuxBest

    s800 = load_corpus("s800", samples=True, train_size=24, seed=1)
    linnaeus = load_corpus("linnaeus", samples=True, train_size=24, seed=1)  # a corpus of the trainer, not of the run
    corpora = [corpus, s800, linnaeus]
    common = dict(mini_batch_size=32, max_epochs=1, progress=False, seed=2, embeddings_storage_mode="none")

    def model():
        flair.set_seed(3)
        return MultiHeadTagger.from_corpora(word_embeddings, corpora, hidden_size=32)

    store = EmbeddingStore(word_embeddings, root=tmp_path / "store")
    trainer = AuxiliaryTrainer(model(), corpora, cache_dir=tmp_path / "shared", embedding_store=store)
    # SingleAux-best trains its SingleAux(s800) sub-run through trainer.train("ncbi-disease", ["s800"], ...)
    from_store = trainer.train("ncbi-disease", ["s800"], SingleAuxBest(), base_path=tmp_path / "stored", **common)
    read = [s for split in (corpus.train, corpus.dev, corpus.test, s800.train) for s in split if len(s)]
    expected = {sentence_key(s) for s in read}
    assert len(store) == len(expected) and all(s in store for s in read)
    unread = [s for c in (s800, linnaeus) for split in (c.dev, c.test) for s in split if len(s)] + list(linnaeus.train)
    unread = [s for s in unread if sentence_key(s) not in expected]
    assert len(unread) > 200 and not any(s in store for s in unread)  # no aux dev/test, nothing of linnaeus
    assert store.lookups > 0 and store.misses == 0  # every batch the runs read (train, dev, test) was stored
    assert trainer.store_report.embedded == 0 and trainer.store_report.sentences == len(read)  # the sub-run's call
    on_the_fly = AuxiliaryTrainer(model(), corpora, cache_dir=tmp_path / "shared-fly").train(
        "ncbi-disease", ["s800"], SingleAuxBest(), base_path=tmp_path / "fly", **common)
    assert [r["target_loss"] for r in from_store.history] == pytest.approx(
        [r["target_loss"] for r in on_the_fly.history], rel=1e-5)
    assert (from_store.dev["f1"], from_store.test["f1"]) == pytest.approx(
        (on_the_fly.dev["f1"], on_the_fly.test["f1"]), abs=1e-9)
    trainer.train("ncbi-disease", ["linnaeus"], SingleAux("linnaeus"), base_path=tmp_path / "linnaeus", **common)
    added = {sentence_key(s) for s in linnaeus.train} - expected  # a later call stores its own aux's train
    assert trainer.store_report.embedded == len(added) > 0 and len(store) == len(expected | added)
    assert all(s in store for s in linnaeus.train) and store.misses == 0


def test_a_build_logs_its_progress_without_a_bar(word_embeddings, corpus, tmp_path, monkeypatch, caplog):
    import logging

    from flair_munch.embeddings import store as store_module

    monkeypatch.setattr(store_module, "PROGRESS_SECONDS", 0.0)
    sentences = list(corpus.train)[:20]
    total = len({sentence_key(s) for s in sentences})
    with caplog.at_level(logging.INFO, logger=store_module.log.name):
        EmbeddingStore(word_embeddings, root=tmp_path / "every", batch_size=8).ensure(sentences, progress=False)
    lines = [r.getMessage() for r in caplog.records if r.name == store_module.log.name and " left" in r.getMessage()]
    assert [line.split(": ")[1].split(" new")[0] for line in lines] == [f"{n} of {total}" for n in (8, 16, total)]
    assert " s elapsed, about " in lines[0] and "(100 %)" in lines[-1] and "about 0 s left" in lines[-1]
    caplog.clear()
    monkeypatch.setattr(store_module, "PROGRESS_SECONDS", 3600.0)
    with caplog.at_level(logging.INFO, logger=store_module.log.name):
        EmbeddingStore(word_embeddings, root=tmp_path / "once", batch_size=8).ensure(sentences, progress=False)
    lines = [r.getMessage() for r in caplog.records if " left" in r.getMessage()]
    assert len(lines) == 1 and f"{total} of {total} new sentences (100 %)" in lines[0]  # only after the last batch
