"""Bad input to the helper commands (issue 31): study folders, predict, rank-aux and what --dry-run refuses.

Each case runs the real command line and checks the exit status, the one line it prints (the file,
key or flag it names and the words of the fix) and that nothing was written.
"""

import json
import logging
from pathlib import Path

import pytest
from test_bad_inputs import saved_model  # noqa: F401  (a fixture: a tiny saved one-head model)

from flair_munch.cli import main
from flair_munch.recipes import load_recipe

RECIPE = """\
name: {name}
output_dir: {out}
samples: true
device: {device}
embeddings: {embeddings}
model: {{hidden_size: 8}}
corpora:
  ncbi-disease: {{train_size: 20}}
  s800: {{train_size: 20}}
targets: [ncbi-disease]
schedules: [{schedule}]
seeds: {seeds}
"""


def write_recipe(tmp_path, out, file="recipe.yaml", name="first", device="cpu", embeddings="default-small",
                 schedule="single-task", seeds="[1]") -> Path:
    path = tmp_path / file
    path.write_text(RECIPE.format(name=name, out=out, device=device, embeddings=embeddings, schedule=schedule,
                                  seeds=seeds))
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("flair-munch: error:") and "\n" not in err and "Traceback" not in err, err
    return err


# ----- a. an output_dir that cannot be created -----


@pytest.mark.parametrize("dry_run", [["--dry-run"], []], ids=["dry-run", "run"])
def test_an_output_dir_that_cannot_be_created_names_key_path_and_reason(tmp_path, capsys, dry_run):
    recipe = write_recipe(tmp_path, "/proc/flair-munch-test/study")
    assert main(["run", str(recipe), *dry_run]) == 2
    err = one_line_error(capsys)
    assert f"{recipe}:2: output_dir: cannot create /proc/flair-munch-test/study: No such file or directory" in err
    assert "Choose a folder you can write to." in err


# ----- c. another study's folder -----


def study_folder(tmp_path, **first) -> tuple[Path, dict]:
    """A study folder as `run` leaves it: the first recipe's recipe.json and an index of its runs."""
    out = tmp_path / "study"
    out.mkdir()
    recipe = load_recipe(write_recipe(tmp_path, out, "first.yaml", **first))
    (out / "recipe.json").write_text(json.dumps(recipe.to_dict(), indent=1))
    (out / "results.jsonl").write_text("".join(json.dumps({"run_id": s.run_id, "target": s.target}) + "\n"
                                               for s in recipe.runs()))
    return out, {p.name: p.read_bytes() for p in out.iterdir()}


@pytest.mark.parametrize("dry_run", [["--dry-run"], []], ids=["dry-run", "run"])
def test_another_recipe_is_refused_in_a_study_folder_and_nothing_changes(tmp_path, capsys, dry_run):
    out, before = study_folder(tmp_path)
    other = write_recipe(tmp_path, out, "other.yaml", name="other", schedule="multi-task")
    assert main(["run", str(other), "--no-progress", *dry_run]) == 2
    err = one_line_error(capsys)
    differs = "(its recipe.json differs in name, schedules)"
    assert f"{other}:2: output_dir: {out} holds another study 'first' {differs}" in err
    assert "1 of the runs its results.jsonl records are not runs of this recipe" in err
    assert f"Give this recipe another output_dir, or delete {out} to start over." in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_the_same_recipe_resumes_and_a_recipe_that_adds_seeds_is_let_in(tmp_path, capsys):
    out, _ = study_folder(tmp_path)
    same = write_recipe(tmp_path, out, "same.yaml", device="auto")  # where it runs is not which study it is
    assert main(["run", str(same), "--dry-run"]) == 0
    assert "0 of 1 runs done" in capsys.readouterr().out
    more = write_recipe(tmp_path, out, "more.yaml", seeds="[1, 2]")  # keeps every recorded run
    assert main(["run", str(more), "--dry-run"]) == 0
    assert "0 of 2 runs done" in capsys.readouterr().out


# ----- b. predict --out -----


def test_predict_out_in_a_folder_that_cannot_be_made_names_the_out_file(tmp_path, capsys, saved_model):  # noqa: F811
    text = tmp_path / "input.txt"
    text.write_text("Aspirin causes ulcers .\n")
    out = "/proc/flair-munch-test/tags.conll"
    assert main(["predict", str(saved_model), "--head", "ncbi-disease", str(text), "--out", out]) == 2
    err = one_line_error(capsys)
    assert err == (f"flair-munch: error: --out {out}: cannot write it: No such file or directory "
                   "(/proc/flair-munch-test). Give a file in a folder you can write to.")


# ----- e. predict input -----


def test_control_characters_in_raw_text_are_no_tokens_and_are_named(tmp_path, capsys, caplog,
                                                                    saved_model):  # noqa: F811
    text = tmp_path / "nul.txt"
    text.write_bytes(b"Aspirin causes ulcers .\nAspirin \x00 causes\x1b ulcers .\n")
    with caplog.at_level(logging.WARNING, "flair_munch"):
        assert main(["predict", str(saved_model), "--head", "ncbi-disease", str(text)]) == 0
    tokens = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines() if line]
    assert tokens == ["Aspirin", "causes", "ulcers", "."] * 2
    assert f"{text}, line 2: 2 control character(s) (the first U+0000) replaced by spaces" in caplog.text


def test_gold_types_the_head_does_not_know_are_named(tmp_path, capsys, caplog, saved_model):  # noqa: F811
    gold = tmp_path / "gold.conll"
    gold.write_text("Aspirin\tB-Chemical\ncauses\tO\nulcers\tB-Disease\n\n")
    with caplog.at_level(logging.WARNING, "flair_munch"):
        assert main(["predict", str(saved_model), "--head", "ncbi-disease", str(gold)]) == 0
    assert ("gold entity type(s) Chemical are not what head 'ncbi-disease' tags (it knows Disease): the types "
            "differ") in caplog.text
    assert "(2 gold entities)" in capsys.readouterr().err


# ----- d. rank-aux -----


def test_rank_aux_leaves_out_the_target_and_repeats_with_a_warning(capsys, caplog):
    with caplog.at_level(logging.WARNING, "flair_munch"):
        assert main(["rank-aux", "ncbi-disease", "--samples", "--candidates", "s800", "ncbi-disease", "s800"]) == 0
    ranked = [line.split()[1] for line in capsys.readouterr().out.splitlines()[2:]]
    assert ranked == ["s800"]
    assert "leaving out candidate `ncbi-disease`: it is the target itself" in caplog.text
    assert "leaving out candidate `s800`: it is a repeat of `s800`" in caplog.text


@pytest.mark.parametrize("argv, message", [
    (["--candidates", "s800", "--max-sentences", "0"],
     "--max-sentences: expected a positive number of sentences, got 0. Use 1 or more (default 2000)."),
    (["--candidates", "ncbi-disease"],
     "--candidates: no candidate is left besides the target `ncbi-disease`. Name other corpora."),
], ids=["max-sentences-0", "only-the-target"])
def test_rank_aux_refuses_what_cannot_rank(capsys, argv, message):
    assert main(["rank-aux", "ncbi-disease", "--samples", *argv]) == 2
    assert one_line_error(capsys) == f"flair-munch: error: {message}"


# ----- f. what --dry-run refuses as the run would -----


@pytest.mark.parametrize("name, file", [("pubmed-forward", "pubmed-forward.pt"),
                                        ("word:glove", "glove.gensim.vectors.npy")])
def test_dry_run_refuses_embeddings_that_need_a_download_it_cannot_get(tmp_path, capsys, monkeypatch, name, file):
    import flair
    import requests

    def offline(url, **kwargs):
        raise requests.ConnectionError(f"cannot reach {url}")

    monkeypatch.setattr(flair, "cache_root", tmp_path / "cache")  # nothing cached
    monkeypatch.setattr(requests, "head", offline)
    recipe = write_recipe(tmp_path, tmp_path / "out", embeddings=name)
    assert main(["run", str(recipe), "--dry-run"]) == 2
    err = one_line_error(capsys)
    assert err.startswith(f"flair-munch: error: {recipe}:5: embeddings: Embeddings '{name}' need a download (or a "
                          f"local cache), which failed: ConnectionError: cannot reach ") and file in err, err
    assert "Offline alternatives: 'default'" in err
    assert not (tmp_path / "out").exists()


def test_dry_run_refuses_cuda_where_torch_sees_no_gpu(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    recipe = write_recipe(tmp_path, tmp_path / "out", device="cuda")
    assert main(["run", str(recipe), "--dry-run"]) == 2
    assert one_line_error(capsys) == (f"flair-munch: error: {recipe}:4: device: device 'cuda' was asked for, but "
                                      "torch sees no CUDA GPU. Use `device: auto` (CUDA when there is one) or "
                                      "`device: cpu`.")
    assert not (tmp_path / "out").exists()
