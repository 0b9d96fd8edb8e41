"""Export (issue 39): a head becomes a stock Flair SequenceTagger that a Python without flair-munch loads and that
tags exactly as the head did; its model card holds what the run recorded; a push uploads that folder."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard

import flair
from flair.data import Sentence

from flair_munch.cli import main
from flair_munch.corpora import load_corpus
from flair_munch.export import ExportError, export_model, push_to_hub
from flair_munch.models import AttentionFusionTagger, ECTTLNERTagger, MultiHeadTagger

ROOT = Path(__file__).resolve().parents[1]
T = "ncbi-disease"
TEST_FILE = ROOT / "flair_munch" / "resources" / "corpora" / "NCBI-disease" / "test.tsv"
ECTTLNER_SENTENCES = 24

RECIPE = """\
name: export-tiny
output_dir: {out}
samples: true
device: cpu
embeddings: default-small
model: {{hidden_size: 32}}
corpora:
  ncbi-disease: {{train_size: 100}}
  s800: {{train_size: 30}}
targets: [ncbi-disease]
schedules: [single-task]
grid: {{learning_rate: [0.2], mini_batch_size: [8]}}
training: {{max_epochs: 4}}
seeds: [1]
"""

STOCK_FLAIR = """\
import json, sys
sys.modules["flair_munch"] = None  # this Python cannot import flair-munch: the model must not need it
from flair.datasets import ColumnDataset
from flair.models import SequenceTagger
out = {}
for name, model, count in json.loads(sys.argv[1]):
    tagger = SequenceTagger.load(model)
    sentences = list(ColumnDataset(sys.argv[2], {0: "text", 1: "ner"}))[:count]
    result = tagger.evaluate(sentences, gold_label_type="ner", mini_batch_size=32)
    spans = [[[s.unlabeled_identifier, s.tag] for s in sentence.get_spans("predicted")] for sentence in sentences]
    out[name] = {"f1": result.main_score, "spans": spans, "class": type(tagger).__name__}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def study_run(tmp_path_factory) -> Path:
    """A one-run study on the samples (4 epochs: the head tags real spans), its run folder."""
    folder = tmp_path_factory.mktemp("study")
    recipe = folder / "recipe.yaml"
    recipe.write_text(RECIPE.format(out=folder / "study"))
    assert main(["run", str(recipe), "--no-progress"]) == 0
    (run,) = (folder / "study" / "runs").iterdir()
    return run


@pytest.fixture(scope="module")
def ecttlner_file(tmp_path_factory) -> Path:
    """An ECTTLNER tagger (MiniLM-BiLSTM-CRF plus derived heads) after a few steps, saved as a model file."""
    from flair_munch.embeddings import load_encoder

    corpus = load_corpus(T, samples=True, train_size=32, seed=1)
    flair.set_seed(1)
    model = ECTTLNERTagger.from_corpora(load_encoder(), [corpus], tasks=["sce", "tie"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)
    batch = list(corpus.train)[:16]
    for _ in range(3):
        loss = model.weighted_loss(model.forward_loss_per_task(batch))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = tmp_path_factory.mktemp("ecttlner") / "final-model.pt"
    model.save(path)
    return path


def spans_of_head(model_file: Path, head: str, count: int) -> tuple[list, MultiHeadTagger, list]:
    """What the flair-munch model's head predicts on the first ``count`` sample test sentences."""
    model = MultiHeadTagger.load(model_file)
    sentences = list(load_corpus(T, samples=True).test)[:count]
    plain = [Sentence([token.text for token in sentence]) for sentence in sentences]
    model.predict(plain, head=head)
    return [[[s.unlabeled_identifier, s.tag] for s in sentence.get_spans("ner")] for sentence in plain], model, sentences


def test_exports_load_in_a_python_without_flair_munch_and_tag_exactly_as_the_heads(study_run, ecttlner_file,
                                                                                   tmp_path):
    assert main(["export", str(study_run), "--out", str(tmp_path / "bilstm")]) == 0
    export_model(ecttlner_file, tmp_path / "ecttlner")
    jobs = [["bilstm", str(tmp_path / "bilstm" / "pytorch_model.bin"), 150],
            ["ecttlner", str(tmp_path / "ecttlner" / "final-model.pt"), ECTTLNER_SENTENCES]]
    child = subprocess.run([sys.executable, "-c", STOCK_FLAIR, json.dumps(jobs), str(TEST_FILE)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    stock = json.loads(child.stdout.strip().splitlines()[-1])
    for name, model_file, count in [("bilstm", study_run / "final-model.pt", 150),
                                    ("ecttlner", ecttlner_file, ECTTLNER_SENTENCES)]:
        spans, model, sentences = spans_of_head(model_file, T, count)
        assert stock[name]["class"] == "SequenceTagger"
        assert sum(map(len, spans)) > 10 and stock[name]["spans"] == spans, name
    # the F1 the run recorded is its head's on the whole test split (scores_as_recorded); ECTTLNER's is computed
    assert stock["bilstm"]["f1"] == json.loads((study_run / "metrics.json").read_text())["test"]["f1"] > 0.1
    assert stock["ecttlner"]["f1"] == model.evaluate(sentences).main_score


def test_the_model_card_holds_the_recorded_scores_seed_study_row_and_usage(study_run, tmp_path):
    exported = export_model(study_run, tmp_path / "out", repo_id="someone/ncbi-tagger")
    metrics = json.loads((study_run / "metrics.json").read_text())
    card = ModelCard.load(exported.folder / "README.md")
    assert card.data.library_name == "flair" and "flair" in card.data.tags and card.data.datasets == [T]
    scores = {r.dataset_split: (r.metric_type, r.metric_value, r.metric_args) for r in card.data.eval_results}
    assert scores == {split: ("f1", metrics[split]["f1"], {"seed": 1}) for split in ("dev", "test")}
    assert card.data.to_dict()["flair_munch"] == {"run_id": study_run.name, "schedule": "single-task", "seed": 1}
    text = card.text
    f1 = 100 * metrics["test"]["f1"]
    assert "In study **export-tiny** (test F1 x100, mean ± sd over seeds [1]):" in text
    assert f"| single-task | {f1:.2f} | baseline |" in text
    assert 'tagger = SequenceTagger.load("someone/ncbi-tagger")' in text and "auxiliary corpora: none" in text
    assert "| WordEmbeddings | 100 | shipped with flair-munch (word-vectors.kv) |" in text
    assert "Akbik et al. 2019" in text and "Watanabe et al." in text
    assert (exported.folder / "final-model.pt").read_bytes() == (exported.folder / "pytorch_model.bin").read_bytes()


def test_the_card_row_is_the_study_reports_row_with_its_interval():
    """The row a card quotes is the committed CPU study's table row (benchmarks/results/munchables-cpu)."""
    from flair_munch.evaluation.results_index import read_results
    from flair_munch.export.run_record import study_row

    study = ROOT / "benchmarks" / "results" / "munchables-cpu"
    records = read_results(study)
    record = next(r for r in records if r.selected and r.schedule == "munch-iter" and r.target == T)
    row = study_row(records, record, "munchables-cpu")
    table = (study / "report" / "table.md").read_text().splitlines()
    cells = next(line for line in table if line.startswith("| munch-iter |")).strip("| ").split(" | ")
    assert [f"**{row.mean:.2f} ± {row.sd:.2f}**", row.delta] == [cells[1], cells[-1]] == \
        ["**73.72 ± 1.72**", "+11.23 [+5.99, +16.47]"]
    assert row.seeds == [1, 2, 3] and row.baseline == "single-task" and "above single-task" in row.conclusion


def test_push_says_what_it_uploads_and_hands_the_folder_to_huggingface_hub(study_run, tmp_path, monkeypatch, capsys):
    calls = []

    class RecordingApi:
        def __init__(self, token=None):
            calls.append(("token", token))

        def create_repo(self, **kwargs):
            calls.append(("create_repo", kwargs))
            return "https://huggingface.co/someone/ncbi-tagger"

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs))

    monkeypatch.setattr("flair_munch.export.folder.HfApi", RecordingApi)
    out = tmp_path / "out"
    assert main(["export", str(study_run), "--out", str(out), "--push-to-hub", "someone/ncbi-tagger"]) == 0
    printed = capsys.readouterr().out
    size = (out / "pytorch_model.bin").stat().st_size / 1e6
    assert f"uploading to the Hugging Face Hub repo someone/ncbi-tagger:\n  pytorch_model.bin  {size:.1f} MB\n" \
           f"  README.md  0.0 MB\npushed: https://huggingface.co/someone/ncbi-tagger" in printed
    assert calls == [("token", None), ("create_repo", {"repo_id": "someone/ncbi-tagger", "private": None,
                                                       "exist_ok": True}),
                     ("upload_folder", {"repo_id": "someone/ncbi-tagger", "folder_path": out,
                                        "allow_patterns": ["pytorch_model.bin", "README.md"],
                                        "commit_message": "Add a Flair SequenceTagger exported by flair-munch"})]
    with pytest.raises(ExportError, match="not an export folder"):
        push_to_hub(study_run, "someone/x")


def test_what_cannot_be_exported_is_one_line_naming_why_and_nothing_is_written(study_run, tmp_path, capsys):
    empty = tmp_path / "no-model"
    empty.mkdir()
    assert main(["export", str(empty), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"flair-munch: error: {empty}: holds no final-model.pt and is not a run folder (no metrics.json "
                   "either). Give a run folder of a run trained with training.save_model: true (the default), or the "
                   "model file itself.")
    assert main(["export", str(study_run), "--head", "bc2gm", "--out", str(tmp_path / "b")]) == 2
    assert capsys.readouterr().err.strip() == ("flair-munch: error: the model has no head 'bc2gm'; its heads are "
                                               "['ncbi-disease', 's800']")
    (tmp_path / "taken").mkdir()
    assert main(["export", str(study_run), "--out", str(tmp_path / "taken")]) == 2
    assert "already exists. Give a new folder to --out, or pass --overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no-model", "taken"]
    assert not any((tmp_path / "taken").iterdir())


def test_attention_fusion_exports_its_auxiliary_heads_and_refuses_its_target_saying_why(sample_corpora,
                                                                                        default_embeddings):
    model = AttentionFusionTagger.from_corpora(default_embeddings, sample_corpora, hidden_size=8)
    with pytest.raises(ExportError, match=r"attends over the auxiliary BiLSTMs, which Flair's SequenceTagger has no "
                                          r"layer for: it cannot be exported. Its auxiliary heads \['bc5cdr-chem'\]"):
        model.export_head(T)
    tagger = model.export_head("bc5cdr-chem")
    sentences = list(sample_corpora[1].test)[:20]
    ours = [Sentence([t.text for t in s]) for s in sentences]
    stock = [Sentence([t.text for t in s]) for s in sentences]
    model.predict(ours, head="bc5cdr-chem")
    tagger.predict(stock)
    assert [[s.unlabeled_identifier for s in x.get_spans("ner")] for x in ours] == \
        [[s.unlabeled_identifier for s in x.get_spans("ner")] for x in stock]
