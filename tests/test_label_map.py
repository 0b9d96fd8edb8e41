"""Label maps: reading with file/line errors, applying them in load_corpus, the shipped CrossNER -> CoNLL map."""

from __future__ import annotations

from pathlib import Path

import pytest

from flair_munch.corpora import LabelMapError, load_corpus, load_label_map, shipped_label_maps
from flair_munch.corpora.label_map import map_tags, read_label_map
from flair_munch.resources import resources_dir

SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
CROSSNER = [f"crossner-{d}" for d in ("ai", "literature", "music", "politics", "science")]
CONLL_TYPES = {"PER", "LOC", "ORG", "MISC"}

# Two sentences: a writer, a genre and a country; then a writer right after a person.
TRAIN = (
    "Orwell\tB-writer\nwrote\tO\nsatire\tB-literarygenre\nin\tO\nEngland\tB-country\n\n"
    "Eric\tB-person\nBlair\tI-person\nOrwell\tB-writer\n\n"
)
SMALL = "Orwell\tB-writer\nlived\tO\n\n"


@pytest.fixture
def folder(tmp_path) -> Path:
    corpus = tmp_path / "lit"
    corpus.mkdir()
    (corpus / "train.tsv").write_text(TRAIN, encoding="utf-8")
    (corpus / "dev.tsv").write_text(SMALL, encoding="utf-8")
    (corpus / "test.tsv").write_text(SMALL, encoding="utf-8")
    return corpus


def write_map(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def spans(sentence, label_type="ner"):
    return [(label.data_point.text, label.value) for label in sentence.get_labels(label_type)]


def test_map_renames_drops_and_keeps_neighbouring_spans_apart(folder, tmp_path):
    path = write_map(tmp_path, "writer: PER\nperson: PER\nliterarygenre: O\ncountry: ~  # null drops too\n")
    corpus = load_corpus(folder, label_map=path)
    first, second = list(corpus.train)
    assert spans(first) == [("Orwell", "PER")]  # genre (O) and country (null) dropped
    assert spans(second) == [("Eric Blair", "PER"), ("Orwell", "PER")]  # two PER spans, not one
    assert corpus.entity_type == "PER"
    assert spans(list(corpus.dev)[0]) == [("Orwell", "PER")]  # every split is mapped


def test_unmapped_label_without_default_names_label_corpus_and_file(folder, tmp_path):
    path = write_map(tmp_path, "writer: PER\nperson: PER\n")
    with pytest.raises(LabelMapError) as err:
        load_corpus(folder, label_map=path, name="lit")
    message = str(err.value)
    assert "'literarygenre' (1 spans)" in message and "'country' (1 spans)" in message
    assert "'writer'" not in message
    assert "'lit'" in message and str(path) in message and "default:" in message


def test_default_maps_every_unlisted_label(folder):
    corpus = load_corpus(folder, label_map={"person": "PER", "default": "MISC"})
    first, second = list(corpus.train)
    assert spans(first) == [("Orwell", "MISC"), ("satire", "MISC"), ("England", "MISC")]
    assert spans(second) == [("Eric Blair", "PER"), ("Orwell", "MISC")]
    assert corpus.entity_type == "MISC/PER"


def test_default_o_drops_unlisted_labels():
    mapping = load_label_map({"writer": "PER", "default": "O"})
    assert map_tags(["B-writer", "I-writer", "B-country", "O"], mapping) == ["B-PER", "I-PER", "O", "O"]


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("writer: PER\nperson: PER\nwriter: MISC\n", 3, "mapped twice (first on line 1)"),
        ("writer: PER\nperson: B-PER\n", 2, "tag prefix"),
        ("writer: PER\nperson: [PER, MISC]\n", 2, "single label"),
        ("writer: PER\nperson: no\n", 2, "quote values"),
        ("- writer\n- person\n", 1, "expected a mapping"),
        ("writer: PER\n  person: PER\n", 2, "(yaml)"),
    ],
)
def test_bad_map_file_names_file_and_line(tmp_path, text, line, fragment):
    path = write_map(tmp_path, text)
    with pytest.raises(LabelMapError) as err:
        read_label_map(path)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert fragment in str(err.value)
    assert err.value.line == line


def test_missing_or_empty_map(tmp_path):
    with pytest.raises(LabelMapError, match="does not exist.*crossner-to-conll"):
        read_label_map(tmp_path / "nope.yaml")
    with pytest.raises(LabelMapError, match="empty"):
        read_label_map(write_map(tmp_path, "# nothing\n"))


def test_shipped_map_maps_every_type_to_conll_classes():
    assert "crossner-to-conll" in shipped_label_maps()
    mapping = load_label_map("crossner-to-conll")  # by name
    assert mapping.source == str(resources_dir() / "label_maps" / "crossner-to-conll.yaml")
    assert not mapping.has_default  # an unknown type must fail, not be guessed
    assert set(mapping.mapping.values()) == CONLL_TYPES
    assert len(mapping.mapping) == 39
    assert mapping("writer") == "PER" and mapping("band") == "ORG" and mapping("country") == "LOC"
    assert mapping("conference") == "MISC" and mapping("book") == "MISC"


def test_load_corpus_label_map_is_a_recipe_key():
    from flair_munch.recipes.recipe import CORPUS_KEYS

    assert "label_map" in CORPUS_KEYS


@pytest.mark.skipif(not (SHARED_CORPORA / "CrossNER-ai").is_dir(), reason=f"CrossNER not found at {SHARED_CORPORA}")
@pytest.mark.parametrize("name", CROSSNER)
def test_shipped_map_covers_crossner_and_keeps_every_mention(name):
    raw = load_corpus(name, SHARED_CORPORA)
    mapped = load_corpus(name, SHARED_CORPORA, label_map="crossner-to-conll")
    for split in ("train", "dev", "test"):
        before = [[(label.data_point.text, label.data_point[0].idx) for label in s.get_labels("ner")]
                  for s in getattr(raw, split)]
        after = [[(label.data_point.text, label.data_point[0].idx) for label in s.get_labels("ner")]
                 for s in getattr(mapped, split)]
        assert before == after  # nothing is mapped to O: the same spans, only new types
    assert set(mapped.entity_type.split("/")) <= CONLL_TYPES
