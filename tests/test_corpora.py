"""Tests for flair_munch.corpora: validation messages, repairs, registry, samples, stats."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flair_munch.corpora import (
    BIOMEDICAL_CORPORA,
    CORPUS_LABEL_TYPE,
    REGISTRY,
    ConllFormatError,
    CorpusNotFoundError,
    NamedCorpus,
    corpus_stats,
    format_stats,
    load_corpus,
    read_conll,
    resolve_corpus,
    resolve_data_dir,
    subsample,
    to_flair_sentences,
    write_conll,
)
from flair_munch.resources import resources_dir

SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
needs_shared = pytest.mark.skipif(
    not (SHARED_CORPORA / "NCBI-disease").is_dir(),
    reason=f"full corpora not found at {SHARED_CORPORA} (expected ../shared/corpora beside the repo)",
)
SAMPLE_FOLDERS = ("NCBI-disease", "BC5CDR-disease", "BC5CDR-chem", "BC2GM", "JNLPBA", "linnaeus", "s800")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def tags_of(result) -> list[list[str]]:
    return [[tag for _, tag in sent] for sent in result.sentences]


# ----- read_conll: happy path and tolerated input -----


def test_reads_sentences_skips_docstart_and_tolerates_crlf(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_bytes(b"-DOCSTART-\tO\r\n\r\nIL\tB-Gene\r\n-\tI-Gene\r\n2\tI-Gene\r\n\r\nok\tO\r\n")
    result = read_conll(path)
    assert result.sentences == [[("IL", "B-Gene"), ("-", "I-Gene"), ("2", "I-Gene")], [("ok", "O")]]
    assert (result.repaired_i_after_o, result.converted_from_iobes, result.split_sentences) == (0, False, 0)


def test_extra_columns_use_last_column_as_tag(tmp_path):
    path = write(tmp_path / "c.tsv", "EU\tNNP\tB-ORG\nrejects\tVBZ\tO\n")
    assert read_conll(path).sentences == [[("EU", "B-ORG"), ("rejects", "O")]]


# ----- read_conll: validation errors name file and line -----


def test_too_few_columns_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.tsv", "a\tO\nb\tO\n\nlonely\n")
    with pytest.raises(ConllFormatError) as err:
        read_conll(path)
    msg = str(err.value)
    assert str(path) in msg and "line 4" in msg and "expected 2 columns" in msg and "tab" in msg
    assert err.value.line == 4


def test_inconsistent_column_count_names_line(tmp_path):
    path = write(tmp_path / "bad.tsv", "a\tO\nb\tNN\tO\n")
    with pytest.raises(ConllFormatError, match=r"line 2: found 3 columns but line 1 has 2"):
        read_conll(path)


def test_bad_tag_names_line_and_tag(tmp_path):
    path = write(tmp_path / "bad.tsv", "a\tO\nb\tB\n")
    with pytest.raises(ConllFormatError) as err:
        read_conll(path)
    msg = str(err.value)
    assert f"{path}, line 2" in msg and "'B'" in msg and "B-Disease" in msg


def test_token_with_space_is_rejected(tmp_path):
    path = write(tmp_path / "bad.tsv", "a b\tO\n")
    with pytest.raises(ConllFormatError, match="line 1: token 'a b'"):
        read_conll(path)


@pytest.mark.parametrize("content", ["", "\n\n", "-DOCSTART-\tO\n\n"])
def test_empty_file_is_an_error(tmp_path, content):
    path = write(tmp_path / "empty.tsv", content)
    with pytest.raises(ConllFormatError, match="file is empty") as err:
        read_conll(path)
    assert str(path) in str(err.value)


def test_non_utf8_names_line_and_byte_offset(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes(b"ok\tO\ncaf\xe9\tO\n")
    with pytest.raises(ConllFormatError) as err:
        read_conll(path)
    msg = str(err.value)
    assert f"{path}, line 2" in msg and "byte offset 8" in msg and "0xe9" in msg and "UTF-8" in msg


# ----- tag schemes -----


def test_iobes_is_converted_to_bio_with_one_info_line(tmp_path, caplog):
    path = write(tmp_path / "iobes.tsv", "a\tS-Chem\nb\tB-Chem\nc\tI-Chem\nd\tE-Chem\ne\tO\n")
    with caplog.at_level(logging.INFO, logger="flair_munch"):
        result = read_conll(path)
    assert result.converted_from_iobes
    assert tags_of(result) == [["B-Chem", "B-Chem", "I-Chem", "I-Chem", "O"]]
    assert sum("converted IOBES -> BIO" in r.getMessage() for r in caplog.records) == 1


def test_mixed_schemes_name_the_offending_line(tmp_path):
    # S- marks IOBES, but line 3 leaves B-Chem/I-Chem unclosed (no E-Chem).
    path = write(tmp_path / "mixed.tsv", "a\tS-Chem\nb\tB-Chem\nc\tI-Chem\nd\tO\n")
    with pytest.raises(ConllFormatError) as err:
        read_conll(path)
    assert f"{path}, line 4" in str(err.value) and "not valid IOBES" in str(err.value)


def test_i_after_o_is_repaired_counted_and_warned_once(tmp_path, caplog):
    path = write(tmp_path / "r.tsv", "a\tO\nb\tI-Dis\nc\tI-Dis\n\nd\tB-Dis\ne\tI-Chem\nf\tI-Dis\n")
    with caplog.at_level(logging.WARNING, logger="flair_munch"):
        result = read_conll(path)
    assert result.repaired_i_after_o == 3
    assert tags_of(result) == [["O", "B-Dis", "I-Dis"], ["B-Dis", "B-Chem", "B-Dis"]]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "repaired 3" in warnings[0].getMessage()


# ----- long sentences -----


def test_long_sentence_split_avoids_cutting_entities(tmp_path):
    tags = ["O", "B-X", "I-X", "I-X", "O", "B-X", "I-X", "O", "O", "B-X", "I-X", "I-X", "I-X"]
    path = write(tmp_path / "long.tsv", "".join(f"t{i}\t{t}\n" for i, t in enumerate(tags)))
    result = read_conll(path, max_length=4)
    chunks = tags_of(result)
    assert result.split_sentences == 1
    assert all(len(c) <= 4 for c in chunks)
    assert [len(c) for c in chunks] == [4, 4, 1, 4]
    assert not any(c[0].startswith("I-") for c in chunks)
    assert sum(chunks, []) == tags  # nothing lost, no entity torn


def test_entity_longer_than_window_is_reopened_with_b(tmp_path):
    tags = ["B-X"] + ["I-X"] * 6
    path = write(tmp_path / "long.tsv", "".join(f"t{i}\t{t}\n" for i, t in enumerate(tags)))
    chunks = tags_of(read_conll(path, max_length=3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert [c[0] for c in chunks] == ["B-X", "B-X", "B-X"]


def test_reject_long_sentence_names_its_first_line(tmp_path):
    path = write(tmp_path / "long.tsv", "a\tO\n\n" + "".join(f"t{i}\tO\n" for i in range(5)))
    with pytest.raises(ConllFormatError) as err:
        read_conll(path, max_length=4, long_sentences="reject")
    assert f"{path}, line 3" in str(err.value) and "5 tokens" in str(err.value)


# ----- Flair conversion and writing -----


def test_to_flair_sentences_keeps_tokens_spans_and_corpus_label():
    rows = [[("IL", "B-Gene"), ("-", "I-Gene"), ("2", "I-Gene"), ("U.S.", "O"), ("p53", "B-Gene")]]
    (sentence,) = to_flair_sentences(rows, corpus_name="bc2gm")
    assert [t.text for t in sentence] == ["IL", "-", "2", "U.S.", "p53"]
    spans = [(s[0].idx - 1, s[-1].idx, s.get_label("ner").value) for s in sentence.get_spans("ner")]
    assert spans == [(0, 3, "Gene"), (4, 5, "Gene")]
    assert sentence.get_label(CORPUS_LABEL_TYPE).value == "bc2gm"


def test_write_conll_round_trips_atomically(tmp_path):
    rows = [[("a", "B-X"), ("b", "I-X")], [("c", "O")]]
    path = write_conll(tmp_path / "sub" / "out.tsv", rows)
    assert read_conll(path).sentences == rows
    assert [p.name for p in path.parent.iterdir()] == ["out.tsv"]


# ----- subsample -----


def test_subsample_counts_fractions_and_order():
    data = list(range(100))
    assert len(subsample(data, 10, seed=1)) == 10
    assert len(subsample(data, "10", seed=1)) == 10
    assert len(subsample(data, 0.25, seed=1)) == 25
    assert len(subsample(data, "25%", seed=1)) == 25
    picked = subsample(data, 30, seed=1)
    assert picked == sorted(picked)


def test_subsample_is_seeded():
    data = list(range(1000))
    assert subsample(data, 50, seed=7) == subsample(data, 50, seed=7)
    assert subsample(data, 50, seed=7) != subsample(data, 50, seed=8)


def test_subsample_too_large_keeps_all_with_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="flair_munch"):
        assert subsample([1, 2, 3], 10, seed=0) == [1, 2, 3]
    assert "exceeds" in caplog.text


@pytest.mark.parametrize("bad", [0, -5, 1.5, "abc", "0%", "150%", True, None])
def test_subsample_invalid_size_names_value(bad):
    with pytest.raises(ValueError, match="invalid subsample size " + repr(bad).replace("(", r"\(")):
        subsample(list(range(10)), bad, seed=0)


# ----- registry -----


def test_registry_contents():
    assert len(BIOMEDICAL_CORPORA) == 8 and set(BIOMEDICAL_CORPORA) <= set(REGISTRY)
    assert REGISTRY["bc4chemd"].folder == "BC4CHEMD"
    assert REGISTRY["ncbi-disease"].huner_loader == "BIOBERT_DISEASE_NCBI"
    assert REGISTRY["crossner-ai"].folder == "CrossNER-ai"


def test_unknown_name_suggests_nearest(tmp_path):
    with pytest.raises(CorpusNotFoundError) as err:
        resolve_corpus("ncbi-diseas", data_dir=tmp_path)
    assert "Did you mean 'ncbi-disease'?" in str(err.value) and "bc5cdr-chem" in str(err.value)


def test_missing_data_dir_explains_setup(monkeypatch):
    monkeypatch.delenv("FLAIR_MUNCH_DATA", raising=False)
    with pytest.raises(CorpusNotFoundError) as err:
        resolve_data_dir()
    msg = str(err.value)
    assert "FLAIR_MUNCH_DATA" in msg and "--data-dir" in msg and "BIOBERT_DISEASE_NCBI" in msg and "samples" in msg


def test_missing_registered_corpus_names_the_three_files(tmp_path):
    with pytest.raises(CorpusNotFoundError) as err:
        resolve_corpus("bc4chemd", data_dir=tmp_path)
    msg = str(err.value)
    for split in ("train", "dev", "test"):
        assert str(tmp_path / "BC4CHEMD" / f"{split}.tsv") in msg


def test_folder_name_case_insensitive_and_devel_txt(tmp_path):
    folder = tmp_path / "ncbi-DISEASE"
    folder.mkdir()
    for name in ("train.tsv", "devel.tsv", "test.txt"):
        write(folder / name, "a\tB-Disease\n")
    info, path = resolve_corpus("NCBI-disease", data_dir=tmp_path)
    assert info.name == "ncbi-disease" and path == folder


def test_custom_folder_corpus(tmp_path):
    for split in ("train", "dev", "test"):
        write(tmp_path / f"{split}.tsv", "Paris\tB-LOC\nis\tO\n\nBob\tB-PER\n")
    corpus = load_corpus(tmp_path)
    assert corpus.name == tmp_path.name and corpus.entity_type == "LOC/PER"
    assert corpus.train[1].get_label(CORPUS_LABEL_TYPE).value == tmp_path.name


def test_suspect_dev_splits_are_warned_about_once_naming_the_files(tmp_path, caplog):
    """A second spelling of dev with the same content, dev equal to train (leakage), a type train lacks."""
    train = write(tmp_path / "train.tsv", "Paris\tB-LOC\nis\tO\n\n")
    dev = write(tmp_path / "dev.tsv", "Paris\tB-LOC\nis\tO\n\n")
    write(tmp_path / "dev.txt", "Paris\tB-LOC\nis\tO\n\n")
    test = write(tmp_path / "test.tsv", "Bob\tB-PER\nis\tO\n\n")
    with caplog.at_level(logging.WARNING, logger="flair_munch"):
        corpus = load_corpus(tmp_path)
        load_corpus(tmp_path)
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path}: using dev.tsv for the dev split (dev.txt: the same content)",
        f"{dev} holds the same sentences as {train}: the dev split is the training data (leakage), so its scores "
        "measure nothing held out. Use a held-out dev file.",
        f"{test}: entity type(s) PER never occur in train ({train}): the model cannot learn them, so their mentions "
        "count as misses. Check the splits' tag sets.",
    ]
    assert len(corpus.dev) == 1  # still loaded: a warning, not a refusal


# ----- samples and shared corpora -----


def test_samples_are_shipped_and_valid():
    for folder in SAMPLE_FOLDERS:
        for split, size in (("train", 300), ("dev", 150), ("test", 150)):
            result = read_conll(resources_dir() / "corpora" / folder / f"{split}.tsv", max_length=None)
            assert len(result.sentences) >= size
            assert result.repaired_i_after_o == 0
    assert not (resources_dir() / "corpora" / "CoNLL-2003").exists()


def test_load_sample_corpus_subsamples_train_only():
    full = load_corpus("ncbi-disease", samples=True)
    small = load_corpus("ncbi-disease", samples=True, train_size="10%", seed=3)
    assert isinstance(small, NamedCorpus) and small.entity_type == "Disease"
    assert (len(full.train), len(full.dev), len(full.test)) == (300, 150, 150)
    assert (len(small.train), len(small.dev), len(small.test)) == (30, 150, 150)
    assert [s.to_tokenized_string() for s in small.dev] == [s.to_tokenized_string() for s in full.dev]
    again = load_corpus("ncbi-disease", samples=True, train_size="10%", seed=3)
    assert [s.to_tokenized_string() for s in again.train] == [s.to_tokenized_string() for s in small.train]
    sentence = small.train[0]
    assert sentence.get_label(CORPUS_LABEL_TYPE).value == "ncbi-disease"


def test_dev_size_cuts_dev_only_and_keeps_file_order():
    full = load_corpus("ncbi-disease", samples=True)
    cut = load_corpus("ncbi-disease", samples=True, dev_size=40, seed=3)
    assert (len(cut.train), len(cut.dev), len(cut.test)) == (300, 40, 150)
    dev = [s.to_tokenized_string() for s in full.dev]
    kept = [dev.index(s.to_tokenized_string()) for s in cut.dev]
    assert kept == sorted(kept) and len(set(kept)) == 40  # a subset, in the file's order
    assert [s.to_tokenized_string() for s in cut.test] == [s.to_tokenized_string() for s in full.test]


def test_sample_missing_for_bc4chemd():
    with pytest.raises(CorpusNotFoundError, match="No shipped sample for 'bc4chemd'"):
        resolve_corpus("bc4chemd", samples=True)


@needs_shared
def test_env_var_finds_shared_data(monkeypatch):
    monkeypatch.setenv("FLAIR_MUNCH_DATA", str(SHARED_CORPORA))
    assert resolve_data_dir() == SHARED_CORPORA
    info, path = resolve_corpus("NCBI-disease")
    assert info.name == "ncbi-disease" and path == SHARED_CORPORA / "NCBI-disease"


@needs_shared
def test_ncbi_stats_equal_spec_table(monkeypatch):
    monkeypatch.setenv("FLAIR_MUNCH_DATA", str(SHARED_CORPORA))
    stats = corpus_stats("ncbi-disease")
    measured = {s: (v["sentences"], v["mentions"]) for s, v in stats["splits"].items()}
    assert measured == {"train": (5424, 5134), "dev": (923, 787), "test": (940, 960)}
    assert stats["splits"]["train"]["mentions_per_type"] == {"Disease": 5134}
    table = format_stats([stats])
    assert "| ncbi-disease | train | 5,424 | 5,424 | 5,134 | 5,134 |" in table and "≠" not in table
