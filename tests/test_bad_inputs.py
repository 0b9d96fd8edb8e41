"""Bad input through the real command line: one clear line naming the file, line or key, exit status 2.

Each case writes a corpus folder (train/dev/test) whose train split holds the given bytes, runs
``flair-munch corpus stats FOLDER`` and checks the exit status and the words the message must hold.
The silent cases of issue 15 (exit 0 with corrupted data before) are here, so they stay caught.
"""

import gzip
import gzip
import sys

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
    ("utf-16-with-bom", GOOD.decode().encode("utf-16"), ["train.tsv: the file is UTF-16", "iconv -f UTF-16 -t UTF-8"]),
    ("utf-16le-without-bom", GOOD.decode().encode("utf-16-le"), ["UTF-16 little-endian", "iconv -f UTF-16LE -t UTF-8"]),
    ("utf-16be-without-bom", GOOD.decode().encode("utf-16-be"), ["UTF-16 big-endian", "iconv -f UTF-16BE -t UTF-8"]),
    ("gzip", gzip.compress(GOOD, mtime=0), ["train.tsv: the file is gzip-compressed", "gunzip -c"]),
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


SPLIT_FILE_CASES = [
    # (id, what replaces the folder's file, words the message must contain)
    ("train-is-a-folder", lambda f: f.mkdir(), ["train.tsv is a folder, not a file", "plain UTF-8 file"]),
    ("train-is-a-dangling-symlink", lambda f: f.symlink_to(f.parent / "gone.tsv"),
     ["train.tsv is a dangling symlink: it points to", "gone.tsv, which does not exist"]),
    ("train-is-a-symlink-loop", lambda f: f.symlink_to(f), ["train.tsv is a symlink loop"]),
    ("dev-and-devel-differ", lambda f: (f.write_bytes(GOOD), (f.parent / "devel.tsv").write_bytes(b"x\tO\n")),
     ["holds dev.tsv and devel.tsv with different content for the dev split", "Keep one of them"]),
]


@pytest.mark.parametrize("make, words", [c[1:] for c in SPLIT_FILE_CASES], ids=[c[0] for c in SPLIT_FILE_CASES])
def test_a_split_name_that_is_no_usable_file_says_what_is_there(tmp_path, capsys, make, words):
    folder = corpus_folder(tmp_path, GOOD)
    (folder / "train.tsv").unlink()
    make(folder / "train.tsv")
    assert main(["corpus", "stats", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flair-munch: error:") and "\n" not in err and "lacks the" not in err, err
    for word in words:
        assert word in err, (word, err)


RECIPE = """\
name: bad
output_dir: {out}
samples: true
device: cpu
model:
  hidden_size: {hidden_size}
corpora:
  ncbi-disease: {{train_size: 20}}
  s800: {{train_size: 20}}
targets: [ncbi-disease]
schedules: [single-task]
grid:
  learning_rate: {learning_rate}
training:
  {key}: {value}
"""

TRAINING_CASES = [
    # (training key, value, words of the message): each is caught by --dry-run, before any corpus loads
    ("max_grad_norm", "-1", ["max_grad_norm must be a number > 0 or null", "flips the gradient"]),
    ("max_epochs", "0", ["max_epochs must be an integer >= 1", "untrained"]),
    ("max_epochs", "-3", ["max_epochs must be an integer >= 1"]),
    ("min_learning_rate", "-1", ["min_learning_rate must be a number >= 0"]),
    ("checkpoint_every", "-5", ["checkpoint_every must be a number of seconds >= 0"]),
    ("embeddings_storage_mode", "disk", ["embeddings_storage_mode must be one of none, cpu, gpu", "'disk'"]),
    ("patience", "-1", ["patience must be an integer >= 0"]),
    ("optimizer", "Adamm", ["optimizer is not an optimizer class of torch.optim", "'Adamm'"]),
    ("lr_schedule", "cosine", ["lr_schedule must be one of anneal, linear-warmup", "'cosine'"]),
    ("anneal_factor", "2", ["anneal_factor must be a number between 0 and 1"]),
    ("warmup_fraction", "5", ["warmup_fraction must be a number in [0, 1)"]),
    ("weight_decay", "-0.5", ["weight_decay must be a number >= 0"]),
    ("eval_batch_size", "0", ["eval_batch_size must be an integer >= 1"]),
    ("aux_sentence_weighting", "-2", ["aux_sentence_weighting must be a number >= 0 or null"]),
    ("final_model", "best", ["final_model must be one of last, best-dev"]),
    ("precision", "bf8", ["precision must be one of fp32, bf16, fp16, auto", "'bf8'", "Use fp32, bf16"]),
]


def write_recipe(tmp_path, key="patience", value="4", hidden_size="16", learning_rate="[0.1]"):
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "out", key=key, value=value, hidden_size=hidden_size,
                                  learning_rate=learning_rate))
    return path


@pytest.mark.parametrize("key, value, words", TRAINING_CASES, ids=[f"{k}={v}" for k, v, _ in TRAINING_CASES])
def test_an_out_of_range_training_value_fails_the_dry_run_naming_file_line_and_key(tmp_path, capsys, key, value,
                                                                                   words):
    path = write_recipe(tmp_path, key, value)
    assert main(["run", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"flair-munch: error: {path}:15: training.{key}:") and "\n" not in err, err
    for word in words:
        assert word in err, (word, err)
    assert not (tmp_path / "out").exists()


def test_hidden_size_zero_fails_the_dry_run(tmp_path, capsys):
    assert main(["run", str(write_recipe(tmp_path, hidden_size="0")), "--dry-run"]) == 2
    assert "recipe.yaml:6: model.hidden_size: hidden_size must be an integer >= 1, got 0" in capsys.readouterr().err


def test_the_usual_float_spellings_are_numbers(tmp_path, capsys):
    from flair_munch.recipes import load_recipe

    recipe = load_recipe(write_recipe(tmp_path, "weight_decay", "1e-2", learning_rate="[1e-3, 5E-5]"))
    assert recipe.grid["learning_rate"] == [1e-3, 5e-5] and recipe.training["weight_decay"] == 0.01
    assert main(["run", str(tmp_path / "recipe.yaml"), "--dry-run", "--set", "training.min_learning_rate=1e-6"]) == 0
    assert "0 of 2 runs done" in capsys.readouterr().out


def test_ray_without_the_extra_is_one_line_naming_it_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` does where the extra is not installed
    assert main(["run", str(write_recipe(tmp_path)), "--executor", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ('flair-munch: error: --executor ray needs Ray: install the extra with pip install -e ".[ray]" '
                   '(or pip install "flair-munch[ray]")')
    assert not (tmp_path / "out").exists()


def test_bad_executor_flags_are_one_line_naming_the_flag(tmp_path, capsys):
    assert main(["run", str(write_recipe(tmp_path)), "--executor", "ray", "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "flair-munch: error: --workers: expected a positive number of workers, got 0. Use 1 or more."
    assert not (tmp_path / "out").exists()


def test_train_refuses_the_same_values_before_loading_anything(tmp_path):
    from flair_munch.training.settings import training_problems

    problems = training_problems({"max_grad_norm": -1, "max_epochs": 0, "learning_rate": 0.1})
    assert [key for key, _, _ in problems] == ["max_epochs", "max_grad_norm"]
    assert training_problems({"max_grad_norm": None, "aux_sentence_weighting": None, "optimizer": "AdamW"}) == []


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A real saved one-head model (one-hot embeddings: tiny and quick)."""
    import flair
    from flair.data import MultiCorpus
    from flair.embeddings import OneHotEmbeddings

    from flair_munch.corpora import load_corpus
    from flair_munch.models import MultiHeadTagger

    corpus = load_corpus("ncbi-disease", samples=True, train_size=20, seed=1)
    flair.set_seed(1)
    embeddings = OneHotEmbeddings.from_corpus(MultiCorpus([corpus]), embedding_length=4, min_freq=1)
    path = tmp_path_factory.mktemp("model") / "final-model.pt"
    MultiHeadTagger.from_corpora(embeddings, [corpus], hidden_size=4).save(path)
    return path


def _model_cases(tmp_path, saved_model):
    """(id, argv, words) for bad models, inputs and outputs of predict and uncertain."""
    import torch

    text = tmp_path / "input.txt"
    text.write_text("Aspirin causes ulcers .\n")
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "random.pt").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "truncated.pt").write_bytes(saved_model.read_bytes()[:2000])
    torch.save({"weights": [1, 2]}, tmp_path / "dict.pt")
    (tmp_path / "latin1.txt").write_bytes("Caf\u00e9 au lait .\n".encode("latin-1"))
    (tmp_path / "blank.txt").write_text(" \n\t\n\n")
    (tmp_path / "utf16.txt").write_bytes("Aspirin causes ulcers .\n".encode("utf-16"))
    (tmp_path / "text.gz").write_bytes(gzip.compress(b"Aspirin causes ulcers .\n"))
    (tmp_path / "folder").mkdir()
    head = ["--head", "ncbi-disease"]
    return [
        ("model-is-a-folder", ["predict", str(tmp_path / "folder"), *head, str(text)], ["is a folder", "final-model.pt"]),
        ("model-missing", ["predict", str(tmp_path / "none.pt"), *head, str(text)], ["no such model file"]),
        ("model-empty", ["predict", str(tmp_path / "empty.pt"), *head, str(text)], ["empty.pt", "is empty"]),
        ("model-random-bytes", ["predict", str(tmp_path / "random.pt"), *head, str(text)],
         ["random.pt", "not a readable flair-munch model"]),
        ("model-truncated", ["predict", str(tmp_path / "truncated.pt"), *head, str(text)],
         ["truncated.pt", "not a readable flair-munch model"]),
        ("model-is-a-plain-dict", ["predict", str(tmp_path / "dict.pt"), *head, str(text)],
         ["dict.pt", "not a readable flair-munch model"]),
        ("uncertain-model-random-bytes", ["uncertain", str(tmp_path / "random.pt"), str(text), *head],
         ["random.pt", "not a readable flair-munch model"]),
        ("input-is-a-folder", ["predict", str(saved_model), *head, str(tmp_path / "folder")],
         ["folder", "Is a directory"]),
        ("input-latin-1", ["predict", str(saved_model), *head, str(tmp_path / "latin1.txt")],
         ["latin1.txt, line 1", "not UTF-8", "iconv"]),
        ("out-is-a-folder", ["predict", str(saved_model), *head, str(text), "--out", str(tmp_path / "folder")],
         [f"--out {tmp_path / 'folder'}: is a folder, not a file", "Give a file name"]),
        ("uncertain-out-is-a-folder", ["uncertain", str(saved_model), str(text), *head, "--out", str(tmp_path)],
         [f"--out {tmp_path}: is a folder, not a file"]),
        ("input-empty", ["predict", str(saved_model), *head, str(tmp_path / "empty.pt")],
         ["no sentences in", "empty.pt", "empty or holds only whitespace"]),
        ("input-whitespace-only", ["predict", str(saved_model), *head, str(tmp_path / "blank.txt")],
         ["no sentences in", "blank.txt"]),
        ("unknown-head", ["predict", str(saved_model), "--head", "s800", str(text)], ["unknown head 's800'"]),
        ("input-utf-16", ["predict", str(saved_model), *head, str(tmp_path / "utf16.txt")],
         ["utf16.txt", "UTF-16 little-endian", "iconv -f UTF-16 -t UTF-8"]),
        ("input-gzip", ["predict", str(saved_model), *head, str(tmp_path / "text.gz")], ["text.gz", "gzip", "gunzip"]),
    ]


MODEL_CASE_IDS = ["model-is-a-folder", "model-missing", "model-empty", "model-random-bytes", "model-truncated",
                  "model-is-a-plain-dict", "uncertain-model-random-bytes", "input-is-a-folder", "input-latin-1",
                  "out-is-a-folder", "uncertain-out-is-a-folder", "input-empty", "input-whitespace-only",
                  "unknown-head", "input-utf-16", "input-gzip"]


@pytest.mark.parametrize("case", MODEL_CASE_IDS)
def test_a_bad_model_input_or_output_path_is_one_clear_line_and_exit_2(tmp_path, capsys, saved_model, case):
    _, argv, words = next(c for c in _model_cases(tmp_path, saved_model) if c[0] == case)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flair-munch: error:") and "\n" not in err and "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)


def test_study_paths_and_corpora_that_cannot_work_are_one_clear_line(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.format(out=tmp_path / "a-file", key="patience", value="4", hidden_size="16",
                                    learning_rate="[0.1]"))
    cases = [
        (["run", str(recipe), "--dry-run"], ["recipe.yaml:2: output_dir:", "is a file, not a folder"]),
        (["run", str(tmp_path)], ["is a folder, not a recipe file"]),
        (["report", str(tmp_path)], ["no results.jsonl", "not a study folder"]),
    ]
    for argv, words in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("flair-munch: error:") and "\n" not in err, err
        assert all(word in err for word in words), (words, err)


def test_a_malformed_target_corpus_is_refused_at_the_dry_run(tmp_path, capsys):
    """The dry run reads the targets' files as the run will, so the broken line is named before anything runs."""
    folder = corpus_folder(tmp_path, b"a\tB\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"name: t\noutput_dir: {tmp_path / 'out'}\nsamples: true\ndevice: cpu\ncorpora:\n"
                      f"  mine: {{path: {folder}}}\n  s800: null\ntargets: [mine]\nschedules: [single-task]\n")
    assert main(["run", str(recipe), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"flair-munch: error: {folder / 'train.tsv'}, line 1: tag 'B' is not O, B-<type> or I-<type> "
                   "(IOBES S-/E- also accepted). Use typed IOB2 tags such as B-Disease / I-Disease / O.")
    assert not (tmp_path / "out").exists()


def test_a_corpus_without_entities_in_train_is_refused_naming_it(tmp_path):
    from flair.embeddings import OneHotEmbeddings

    from flair_munch.corpora import load_corpus
    from flair_munch.models import MultiHeadTagger

    folder = corpus_folder(tmp_path, b"a\tO\nb\tO\n")
    corpus = load_corpus(str(folder))
    with pytest.raises(ValueError, match=r"corpus MyCorpus \(.*MyCorpus\) has no 'ner' entity in its train split"):
        MultiHeadTagger.from_corpora(OneHotEmbeddings.from_corpus(corpus), [corpus])


def test_predict_tags_a_huge_line_in_pieces_and_scores_gold_input(tmp_path, capsys, saved_model, monkeypatch):
    from flair_munch.models import MultiHeadTagger

    seen = []
    predict = MultiHeadTagger.predict
    monkeypatch.setattr(MultiHeadTagger, "predict", lambda self, sentences, **kw: (
        seen.extend(len(s) for s in sentences), predict(self, sentences, **kw))[1])
    huge = tmp_path / "huge.txt"
    huge.write_text(" ".join(["aspirin", "causes", "ulcers"] * 400) + "\n")  # one line of 1200 tokens
    assert main(["predict", str(saved_model), "--head", "ncbi-disease", str(huge), "--out", str(tmp_path / "o")]) == 0
    assert seen == [512, 512, 176]
    rows = [line for line in (tmp_path / "o").read_text().splitlines() if line.strip()]
    assert len(rows) == 1200 and rows[0].startswith("aspirin\t") and rows[-1].startswith("ulcers\t")

    gold = tmp_path / "gold.conll"
    gold.write_text("Aspirin\tB-Disease\ncauses\tO\nulcers\tB-Disease\n\n")
    capsys.readouterr()
    assert main(["predict", str(saved_model), "--head", "ncbi-disease", str(gold)]) == 0
    captured = capsys.readouterr()
    assert "exact-span micro P" in captured.err and "(2 gold entities)" in captured.err
    assert captured.out.count("\t") == 6  # stdout stays clean CoNLL: token, gold, predicted


def test_an_unreadable_file_is_one_clear_line_naming_it(tmp_path, capsys, monkeypatch):
    """As root every file is readable, so the OS's refusal is simulated where the reader opens the file."""
    import flair_munch.corpora.conll as conll

    folder = corpus_folder(tmp_path, GOOD)

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(conll, "_decode_lines", refuse)
    assert main(["corpus", "stats", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"flair-munch: error: {folder / 'train.tsv'}: Permission denied.") and "\n" not in err
    assert "permissions" in err
