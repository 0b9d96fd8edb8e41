"""Corpus downloads (flair_munch.corpora.download) against a loopback HTTP server serving the pinned source bytes,
rebuilt from the full corpora beside the repository by undoing the conversion (their blob ids are checked)."""

import filecmp
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flair_munch.cli import main
from flair_munch.corpora import CorpusNotFoundError, load_corpus
from flair_munch.corpora.download import STAGING, download_corpora
from flair_munch.corpora.registry import REGISTRY
from flair_munch.corpora.sources import SOURCES, TagConversion, git_blob_id
from flair_munch.corpora.transfer import CorpusDownloadError, TransferSettings

FAST = TransferSettings(timeout=5, retries=0, backoff=0, progress=False)


def _undo(conversion: TagConversion, data: bytes) -> bytes:
    """The source bytes of a converted split: the added type removed, a renamed type named back."""
    if conversion.add_type:
        data = re.sub(rb"\t([BI])-" + conversion.add_type.encode() + rb"$", rb"\t\1", data, flags=re.M)
    for source_type, ours in conversion.rename:
        data = re.sub(rb"\t([BI])-" + ours.encode() + rb"$", rb"\t\1-" + source_type.encode(), data, flags=re.M)
    return data


@pytest.fixture(scope="module")
def pinned_files(shared_corpora) -> dict[str, bytes]:
    """URL path -> pinned source bytes of every corpus in ../shared/corpora (all but BC4CHEMD)."""
    files = {}
    for name, source in SOURCES.items():
        if name == "bc4chemd":
            continue
        for file in source.files:
            data = _undo(source.conversion, (shared_corpora / REGISTRY[name].folder / f"{file.split}.tsv").read_bytes())
            assert git_blob_id(data) == file.blob, f"{name} {file.split}: the rebuilt source is not the pinned file"
            files[f"/{source.repo}/{source.commit}/{file.path}"] = data
    return files


class _Handler(BaseHTTPRequestHandler):
    """GET of a served file, with ``Range: bytes=N-``; the server's ``cut`` and ``delay`` simulate a bad network."""

    def do_GET(self):
        server = self.server
        server.seen.append((self.path, self.headers.get("Range")))
        time.sleep(server.delay)
        data = server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = int(self.headers["Range"][len("bytes="):-1]) if self.headers.get("Range") else 0
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        cut = server.cut.pop(self.path, None)
        self.wfile.write(data[start:cut])

    def log_message(self, *args):
        pass


@pytest.fixture
def server(pinned_files, monkeypatch, tmp_path):
    """A loopback server of the pinned files, set as the mirror; no data folder or cache of the user's is read."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads, httpd.block_on_close = True, False
    httpd.files, httpd.cut, httpd.delay, httpd.seen = dict(pinned_files), {}, 0.0, []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("FLAIR_MUNCH_CORPUS_MIRROR", f"http://127.0.0.1:{httpd.server_address[1]}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.delenv("FLAIR_MUNCH_DATA", raising=False)
    monkeypatch.setenv("FLAIR_MUNCH_CACHE", str(tmp_path / "cache"))
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _path(name: str, split: str = "train") -> str:
    source = SOURCES[name]
    file = next(f for f in source.files if f.split == split)
    return f"/{source.repo}/{source.commit}/{file.path}"


@pytest.mark.integration  # ~15-30 s: the published counts of twelve corpora are checked after conversion
def test_download_all_equals_the_shared_corpora_byte_for_byte(server, shared_corpora, tmp_path, capsys):
    start = time.monotonic()
    assert main(["corpus", "download", "--all", "--to", str(tmp_path / "data"), "--no-progress"]) == 0
    seconds = time.monotonic() - start
    out = capsys.readouterr().out
    assert "bc4chemd: skipped (redistribution status unclear" in out
    assert "terms: CC BY 4.0" in out and "terms: MIT License" in out
    assert out.index("terms:") < out.index("verified and saved")  # the terms come before the first download
    names = [name for name in SOURCES if name != "bc4chemd"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(REGISTRY[n].folder for n in names)
    for name in names:
        folder = REGISTRY[name].folder
        match, mismatch, errors = filecmp.cmpfiles(tmp_path / "data" / folder, shared_corpora / folder,
                                                   ["train.tsv", "dev.tsv", "test.tsv"], shallow=False)
        assert (mismatch, errors) == ([], []), name
    print(f"downloaded {len(names)} corpora from the loopback server in {seconds:.1f} s")
    requests = len(server.seen)
    assert main(["corpus", "download", "ncbi-disease", "--to", str(tmp_path / "data")]) == 0
    assert len(server.seen) == requests  # already present: not fetched again


def test_a_flipped_byte_is_a_checksum_error_and_nothing_is_written(server, tmp_path, capsys):
    data = bytearray(server.files[_path("ncbi-disease", "test")])
    data[100] ^= 1
    server.files[_path("ncbi-disease", "test")] = bytes(data)
    (tmp_path / "data").mkdir()
    assert main(["corpus", "download", "ncbi-disease", "--to", str(tmp_path / "data"), "--retries", "0"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("flair-munch: error: checksum mismatch for http://127.0.0.1:") and "\n" not in error
    assert _path("ncbi-disease", "test") in error and "expected 6217f611e1517a70e5bd645b9dea34f7f9bf594f" in error
    assert list((tmp_path / "data").iterdir()) == []


def test_a_missing_file_names_its_url(server, tmp_path):
    del server.files[_path("s800", "dev")]
    (tmp_path / "data").mkdir()
    with pytest.raises(CorpusDownloadError, match=re.escape(_path("s800", "dev")) + ": HTTP 404"):
        download_corpora(["s800"], tmp_path / "data", settings=FAST, notice=lambda text: None)
    assert list((tmp_path / "data").iterdir()) == []


def test_a_download_cut_mid_file_resumes_on_the_next_call(server, shared_corpora, tmp_path):
    path = _path("s800", "train")
    server.cut[path] = len(server.files[path]) // 2
    with pytest.raises(CorpusDownloadError, match="connection was cut mid-file.*resumes there"):
        download_corpora(["s800"], tmp_path / "data", settings=FAST, notice=lambda text: None)
    part = tmp_path / "data" / STAGING / "s800" / "train.tsv.part"
    kept = part.stat().st_size  # what arrived, less the chunk being read when the connection dropped
    assert 0 < kept <= len(server.files[path]) // 2 and not (tmp_path / "data" / "s800").exists()
    download_corpora(["s800"], tmp_path / "data", settings=FAST, notice=lambda text: None)
    assert server.seen.count((path, None)) == 1 and (path, f"bytes={kept}-") in server.seen
    assert filecmp.cmp(tmp_path / "data" / "s800" / "train.tsv", shared_corpora / "s800" / "train.tsv", shallow=False)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["s800"]  # the staging folder is gone


def test_a_slow_server_gives_the_timeout_error(server, tmp_path):
    server.delay = 0.6
    settings = TransferSettings(timeout=0.2, retries=1, backoff=0, progress=False)
    with pytest.raises(CorpusDownloadError, match=r"could not download http://127.0.0.1:\d+" + re.escape(
            _path("ncbi-disease")) + r": timed out \(no byte for 0.2 s\) \(2 tries\)"):
        download_corpora(["ncbi-disease"], tmp_path / "data", settings=settings, notice=lambda text: None)
    assert not (tmp_path / "data" / "NCBI-disease").exists()


def test_bc4chemd_only_when_named_and_its_blob_ids_are_checked(server, tmp_path, capsys):
    for file in SOURCES["bc4chemd"].files:  # a fake: its real bytes are not on these machines
        server.files[_path("bc4chemd", file.split)] = b"Aspirin\tB\n\n"
    assert SOURCES["bc4chemd"].conversion == SOURCES["s800"].conversion.__class__(add_type="Chemical")
    assert main(["corpus", "download", "bc4chemd", "--to", str(tmp_path / "data")]) == 2
    captured = capsys.readouterr()
    assert "terms: BioBERT's preprocessed release" in captured.out and "redistribution status" in captured.out
    assert "checksum mismatch" in captured.err and "expected f9e155c7a5f59896b38b84661737a6c0f9f30b7a" in captured.err
    assert not (tmp_path / "data" / "BC4CHEMD").exists()


def test_conll2003_cannot_be_downloaded_and_the_error_says_why(tmp_path):
    with pytest.raises(CorpusNotFoundError, match="cannot download 'conll2003': CoNLL-2003's text is Reuters news"):
        download_corpora(["conll2003"], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_load_corpus_with_download_fetches_then_loads(server, tmp_path):
    with pytest.raises(CorpusNotFoundError, match=re.escape(f"flair-munch corpus download s800 --to {tmp_path}")):
        load_corpus("s800", data_dir=tmp_path)
    corpus = load_corpus("s800", data_dir=tmp_path, download=True)
    assert (len(corpus.train), len(corpus.dev), len(corpus.test)) == (5733, 830, 1630)


def _recipe(tmp_path: Path, download: bool) -> Path:
    recipe = tmp_path / "study.yaml"
    recipe.write_text(f"name: dl\noutput_dir: {tmp_path / 'runs'}\ndata_dir: {tmp_path / 'data'}\n"
                      f"download: {str(download).lower()}\ncorpora: {{s800: {{train_size: 20}}}}\ntargets: [s800]\n"
                      "schedules: [single-task]\ntraining: {max_epochs: 1}\n", encoding="utf-8")
    return recipe


def test_a_recipe_with_download_fetches_the_missing_corpus_then_loads_it(server, tmp_path):
    from flair_munch.recipes import check_data, load_recipe

    (tmp_path / "data").mkdir()
    recipe = load_recipe(_recipe(tmp_path, download=True))
    check_data(recipe, fetch=False)  # --dry-run: nothing fetched
    assert server.seen == [] and list((tmp_path / "data").iterdir()) == []
    check_data(recipe)
    target = recipe.load_corpora("s800", [])[0]
    assert (len(target.train), len(target.dev)) == (20, 830)
    assert "download" not in load_recipe(_recipe(tmp_path, download=False)).to_dict()  # recipe.json as before


def test_a_recipe_without_download_names_the_command(tmp_path, monkeypatch):
    from flair_munch.recipes import RecipeError, check_data, load_recipe

    (tmp_path / "data").mkdir()
    with pytest.raises(RecipeError, match=re.escape(f"flair-munch corpus download s800 --to {tmp_path / 'data'}")):
        check_data(load_recipe(_recipe(tmp_path, download=False)))
