"""rank-aux, uncertain and data mixing from the command line and from recipes."""

import json
import math

import flair
import pytest
from flair.data import MultiCorpus
from flair.embeddings import OneHotEmbeddings

from flair_munch.cli import main
from flair_munch.corpora import load_corpus
from flair_munch.recipes import load_recipe


def test_rank_aux_leaves_the_target_out_and_prints_the_same_entity_type_first(capsys, caplog):
    assert main(["rank-aux", "ncbi-disease", "--samples", "--candidates", "s800", "bc5cdr-disease",
                 "ncbi-disease", "bc5cdr-chem"]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    names = [line[1] for line in lines]
    assert names[0] == "bc5cdr-disease" and sorted(names) == ["bc5cdr-chem", "bc5cdr-disease", "s800"]
    assert "leaving out candidate `ncbi-disease`: it is the target itself" in caplog.text
    assert main(["rank-aux", "ncbi-disease", "--samples", "--candidates", "no-such-corpus"]) == 2


def test_uncertain_ranks_sentences_by_crf_entropy_and_applies_the_threshold(tmp_path, capsys):
    corpus = load_corpus("ncbi-disease", samples=True, train_size=30, seed=1)
    flair.set_seed(1)
    from flair_munch.models import MultiHeadTagger

    model = MultiHeadTagger.from_corpora(OneHotEmbeddings.from_corpus(MultiCorpus([corpus]), embedding_length=8),
                                         [corpus], hidden_size=8)
    from flair_munch.training import AuxiliaryTrainer

    AuxiliaryTrainer(model, [corpus]).train("ncbi-disease", base_path=tmp_path / "run", max_epochs=4,
                                            mini_batch_size=8, evaluate_dev=False, progress=False, save_model=False)
    model.save(tmp_path / "model.pt")
    conll = tmp_path / "dev.conll"
    conll.write_text("\n\n".join("\n".join(f"{t.text}\tO" for t in s) for s in list(corpus.dev)[:12]) + "\n")
    out = tmp_path / "out.conll"
    assert main(["uncertain", str(tmp_path / "model.pt"), str(conll), "--head", "ncbi-disease",
                 "--out", str(out)]) == 0
    assert "12 of 12 sentences" in capsys.readouterr().out
    blocks = [b.splitlines() for b in out.read_text().strip().split("\n\n")]
    scores = [max(float(line.split("\t")[3]) for line in block) for block in blocks]
    assert scores == sorted(scores, reverse=True) and len(blocks) == 12
    assert all(0.0 <= s <= math.log(5) + 1e-6 for s in scores)  # 5 BIOES tags: entropy at most log 5
    gap = next(i for i in range(2, 11) if scores[i - 1] - scores[i] > 2e-4)  # clear of the 4-decimal rounding
    threshold = (scores[gap - 1] + scores[gap]) / 2
    assert main(["uncertain", str(tmp_path / "model.pt"), str(conll), "--head", "ncbi-disease", "--out", str(out),
                 "--threshold", str(threshold)]) == 0
    kept = len(out.read_text().strip().split("\n\n"))
    assert kept == sum(s >= threshold for s in scores) and kept < 12
    assert main(["uncertain", str(tmp_path / "model.pt"), str(conll), "--head", "s800"]) == 2


MIXED = {
    "name": "mix", "output_dir": "OUT", "samples": True, "corpora": {"ncbi-disease": {"train_size": 100},
    "s800": None, "linnaeus": None, "bc5cdr-chem": None}, "targets": ["ncbi-disease"],
    "aux": {"ncbi-disease": ["bc5cdr-chem"]}, "schedules": ["single-task"], "mix_percent": [0, 10, 50],
    "mix_source": "similar",
}


def test_mixing_is_a_study_dimension_with_exact_seeded_counts(tmp_path):
    path = tmp_path / "mix.yaml"
    path.write_text(json.dumps(MIXED))
    recipe = load_recipe(path)
    runs = recipe.runs()
    assert [(r.row, r.baseline_row) for r in runs] == [
        ("single-task mix=0%", "single-task mix=0%"), ("single-task mix=10%", "single-task mix=0%"),
        ("single-task mix=50%", "single-task mix=0%")]
    assert recipe.mix_corpora_of("ncbi-disease") == ["s800", "linnaeus"]  # not the target, not its aux
    target, aux = recipe.load_corpora("ncbi-disease", ["bc5cdr-chem"], None, 50)
    assert len(target.train) == 150 and aux.name == "bc5cdr-chem"
    assert sum(target.mixed_in.values()) == 50 and set(target.mixed_in) <= {"s800", "linnaeus"}
    again, _ = recipe.load_corpora("ncbi-disease", ["bc5cdr-chem"], None, 50)
    assert [s.to_tokenized_string() for s in again.train] == [s.to_tokenized_string() for s in target.train]
    path.write_text(json.dumps({**MIXED, "mix_source": "closest", "mix_from": ["s8000"]}))
    with pytest.raises(ValueError) as error:
        load_recipe(path)
    assert "mix_source: unknown mix source 'closest'" in str(error.value) and "mix_from[0]" in str(error.value)
