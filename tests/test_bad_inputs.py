"""Bad input through the real command line: one clear line naming the file, line or key, exit status 2.

Each case writes a corpus folder (train/dev/test) whose train split holds the given bytes, runs
``flair-munch corpus stats FOLDER`` and checks the exit status and the words the message must hold.
The silent cases of issue 15 (exit 0 with corrupted data before) are here, so they stay caught.
"""

import pytest

from flair_munch.cli import main

GOOD = b"Aspirin\tB-Chemical\ncauses\tO\nulcers\tB-Disease\n\n"

CORPUS_CASES = [
    # (id, train.tsv bytes, words the message must contain)
    ("cr-only-line-ends", b"a\tO\rb\tB-X\r\rc\tO\r", ["train.tsv, line 1", "CR-only line ends", "tr "]),
    ("tab-only-line", b"a\tO\n\t\nb\tO\n", ["train.tsv, line 2", "only <TAB>", "empty token and tag"]),
    ("tag-with-extra-word", b"a\tB-Disease extra\n", ["line 1", "'B-Disease extra'", "whitespace", "'Disease extra'"]),
    ("nul-byte-in-token", b"as\x00pirin\tO\n", ["line 1", "NUL byte", "column 3"]),
    ("zero-width-space-in-token", "as\u200bpirin\tO\n".encode(), ["line 1", "zero-width space", "U+200B"]),
    ("bom-in-the-middle", "a\tO\n\ufeffb\tO\n".encode(), ["line 2", "byte order mark", "U+FEFF"]),
    ("latin-1-bytes", "caf\u00e9\tO\n".encode("latin-1"), ["line 1", "not UTF-8", "iconv"]),
    ("one-column", b"a\tO\nlonely\n", ["line 2", "expected 2 columns"]),
    ("untyped-tag", b"a\tB\n", ["line 1", "'B'", "B-Disease"]),
    ("empty-file", b"", ["train.tsv", "file is empty"]),
]


def corpus_folder(tmp_path, train: bytes):
    folder = tmp_path / "MyCorpus"
    folder.mkdir()
    (folder / "train.tsv").write_bytes(train)
    for split in ("dev", "test"):
        (folder / f"{split}.tsv").write_bytes(GOOD)
    return folder


@pytest.mark.parametrize("train, words", [case[1:] for case in CORPUS_CASES], ids=[case[0] for case in CORPUS_CASES])
def test_a_bad_corpus_file_is_one_clear_line_and_exit_2(tmp_path, capsys, train, words):
    folder = corpus_folder(tmp_path, train)
    assert main(["corpus", "stats", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flair-munch: error:") and "\n" not in err and "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


def test_the_same_corpus_without_the_damage_loads(tmp_path, capsys):
    """The cases above differ from a good file only by the damage: CRLF and a leading BOM are fine."""
    folder = corpus_folder(tmp_path, "\ufeffAspirin\tB-Chemical\r\ncauses\tO\r\n\r\nulcers\tB-Disease\r\n".encode())
    assert main(["corpus", "stats", str(folder), "--json"]) == 0
    assert '"sentences": 2' in capsys.readouterr().out
