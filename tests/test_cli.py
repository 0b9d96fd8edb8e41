"""The flair-munch command line: stats, embeddings build, train, and its error messages."""

import json

import pytest

from flair_munch.cli import main
from flair_munch.embeddings import load_embeddings


def test_corpus_stats_prints_the_spec_figures(shared_corpora, monkeypatch, capsys):
    monkeypatch.setenv("FLAIR_MUNCH_DATA", str(shared_corpora))
    assert main(["corpus", "stats", "ncbi-disease"]) == 0
    table = capsys.readouterr().out
    assert "| ncbi-disease | train | 5,424 | 5,424 | 5,134 | 5,134 |" in table
    assert "| ncbi-disease | test | 940 | 940 | 960 | 960 |" in table


def test_corpus_stats_json_on_samples(capsys):
    assert main(["corpus", "stats", "s800", "--samples", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats[0]["splits"]["train"]["sentences"] == 300


def test_unknown_corpus_is_one_clear_line_and_exit_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("FLAIR_MUNCH_DATA", str(tmp_path))
    assert main(["corpus", "stats", "ncbi-diseas"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flair-munch: error:") and "ncbi-disease" in err and "Traceback" not in err


def test_embeddings_build_writes_a_set_that_loads(tmp_path, capsys):
    out = tmp_path / "emb"
    code = main([
        "embeddings", "build", "--samples", "--corpora", "ncbi-disease", "--out", str(out), "--word-dim", "16",
        "--word-epochs", "1", "--max-vocab", "500", "--lm-hidden", "16", "--lm-epochs", "1",
        "--lm-max-chars", "20000", "--num-threads", "1",
    ])
    assert code == 0
    assert "valid ppl" in capsys.readouterr().out
    build = json.loads((out / "build.json").read_text())
    assert build["settings"]["word_dim"] == 16
    embeddings = load_embeddings(str(out))
    assert embeddings.embedding_length == 16 + 16 + 16
    assert main(["embeddings", "build", "--samples", "--corpora", "ncbi-disease", "--out", str(out)]) == 2


def test_train_runs_one_schedule_through_the_trainer(tmp_path, capsys):
    code = main([
        "train", "--samples", "--corpus", "ncbi-disease", "--corpus", "s800", "--schedule", "single-aux",
        "--epochs", "1", "--train-size", "40", "--hidden-size", "32", "--out", str(tmp_path / "run"),
        "--device", "cpu", "--set", "save_model=false", "--no-progress",
    ])
    assert code == 0
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["schedule"] == "single-aux" and metrics["aux_order"] == ["s800"]
    assert metrics["updates"] == {"shared": 4, "ncbi-disease": 2, "s800": 2}  # ITER = ceil(40 / 32) = 2, alternating
    assert f"{metrics['test']['f1']:.4f}" in out and "run folder:" in out
    assert not (tmp_path / "run" / "final-model.pt").exists()
    assert main(["train", "--samples", "--corpus", "ncbi-disease", "--schedule", "munch-turbo"]) == 2
    assert "unknown schedule" in capsys.readouterr().err


def test_every_subcommand_has_help(capsys):
    for argv in (["--help"], ["corpus", "stats", "--help"], ["embeddings", "build", "--help"], ["train", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
    assert "--data-dir" in capsys.readouterr().out


def test_errors_classifies_a_prediction_file(tmp_path, capsys):
    path = tmp_path / "pred.conll"
    path.write_text(
        "aspirin\tB-Chemical\tB-Chemical\ncauses\tO\tB-Disease\nReye\tB-Disease\tO\nsyndrome\tI-Disease\tO\n\n"
        "acute\tB-Disease\tO\nliver\tI-Disease\tB-Disease\nfailure\tI-Disease\tI-Disease\n\n"
    )
    assert main(["errors", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| total | 1 | 1 | 1 | 0 | 0 | 3 |" in out  # no annotation, no extraction, wrong range
    assert "shares: no_annotation 33.3%" in out
    path.write_text("aspirin\tB-Chemical\n")
    assert main(["errors", str(path)]) == 2
    assert "pred.conll:1" in capsys.readouterr().err
