"""Simulated uncertainty sampling (docs/methods.md §5): the pool, the k sentences each pick adds, and bad options."""

from types import SimpleNamespace

import pytest

from flair_munch.cli import main
from flair_munch.models import MultiHeadTagger
from flair_munch.models.marginals import rank_by_uncertainty
from flair_munch.recipes import load_recipe
from flair_munch.training.schedules import TrainSubset, UncertaintySampling
from flair_munch.training.schedules.uncertainty_sampling import held_out_pool, random_pick

from schedule_helpers import T, Recorder, make_trainer, tiny  # noqa: F401  (tiny is a fixture)


def test_the_entropy_pick_adds_the_pool_sentences_the_seed_model_is_least_sure_of(tiny, tmp_path):
    """Target train 40, pool 20, k 5: the seed model trains on the other 20; the final run on those 25."""
    recorder = Recorder()
    trainer = make_trainer(tiny, tmp_path, [recorder])
    result = trainer.train(T, [], UncertaintySampling(k=5, pool=20), tmp_path / "runs" / "e5", max_epochs=1,
                           mini_batch_size=16, progress=False)
    pool = held_out_pool(40, 20, seed=1)
    chosen = result.selection
    assert chosen["pool"] == 20 and chosen["labelled"] == 20 and len(chosen["added"]) == 5
    assert set(chosen["added"]) <= set(pool)
    seed_dir = next((tmp_path / "cache").glob(f"train-subset_*_{chosen['seed_run']}"))  # the seed model, kept
    seed_model = MultiHeadTagger.load(seed_dir / "final-model.pt")
    train = list(tiny[0].train)
    rows = rank_by_uncertainty(seed_model, [train[i] for i in pool], head=T)
    by_sentence = {id(train[i]): i for i in pool}
    assert sorted(by_sentence[id(row.sentence)] for row in rows[:5]) == chosen["added"]  # the 5 highest max entropy
    entropy = {by_sentence[id(row.sentence)]: max(row.entropies) for row in rows}
    assert chosen["scores"] == pytest.approx([entropy[i] for i in chosen["added"]], abs=1e-6)
    seed_steps, final_steps = recorder.steps[:2], recorder.steps[2:]
    assert [size for _, size, _, _ in seed_steps] == [16, 4] and [size for _, size, _, _ in final_steps] == [16, 9]
    assert result.updates == {"shared": 2, T: 2}


def test_the_random_pick_is_seeded_and_draws_from_the_same_pool(tiny):
    ctx = SimpleNamespace(target=T, target_train=list(tiny[0].train), seed=3)
    first = UncertaintySampling(k=4, pool=0.25, pick="random").choose(ctx)
    again = UncertaintySampling(k=4, pool=0.25, pick="random").choose(ctx)
    pool = held_out_pool(40, 0.25, seed=3)
    assert first.selection == again.selection and first.schedule.settings() == again.schedule.settings()
    assert first.selection["added"] == random_pick(pool, 4, seed=3) and set(first.selection["added"]) <= set(pool)
    assert len(pool) == 10 and held_out_pool(40, 0.25, seed=4) != pool
    kept = sorted(set(range(40)) - set(pool)) + first.selection["added"]
    assert first.schedule.settings() == TrainSubset(kept).settings() and first.schedule.sentences == 34
    seed_only = UncertaintySampling(k=0, pool=0.25).choose(ctx)  # k 0: the seed model's own training
    assert seed_only.schedule.settings() == TrainSubset(sorted(set(range(40)) - set(pool))).settings()


def test_k_larger_than_a_share_of_the_pool_is_refused_when_the_run_starts(tiny):
    ctx = SimpleNamespace(target=T, target_train=list(tiny[0].train), seed=1)
    with pytest.raises(ValueError, match=r"k = 11 is more than the 10 sentences held back from ncbi-disease's 40"):
        UncertaintySampling(k=11, pool=0.25).choose(ctx)
    with pytest.raises(ValueError, match=r"`pool: 40` holds back 40 of the target's 40 training sentences"):
        UncertaintySampling(k=1, pool=40).choose(ctx)


RECIPE = """name: us
output_dir: {out}
samples: true
corpora:
  ncbi-disease: null
targets: [ncbi-disease]
schedules:
  - single-task
  - {{uncertainty-sampling: {{k: 10}}}}
  - {{uncertainty-sampling: {{k: 10, pick: random}}}}
  - {{uncertainty-sampling: {{k: 0}}}}
"""


WHERE = "us.yaml:11: schedules[3].uncertainty-sampling"


@pytest.mark.parametrize("options, words", [
    ("{k: 60, pool: 50}", f"{WHERE}.k: k = 60 is more than the 50 sentences of the pool. Add at most 50 sentences"),
    ("{k: -1}", f"{WHERE}.k: k must be an integer >= 0, got -1"),
    ("{k: 5, pool: 1.5}", f"{WHERE}.pool: pool must be a share between 0 and 1 or a count >= 1, got 1.5"),
    ("{k: 5, pick: best}", f"{WHERE}.pick: unknown pick `best`. Choose one of: entropy, random"),
])
def test_a_bad_k_pool_or_pick_is_one_line_at_dry_run_and_nothing_is_written(tmp_path, capsys, options, words):
    path = tmp_path / "us.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "out").replace("{k: 0}", options))
    assert main(["run", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flair-munch: error:") and "\n" not in err and words in err, err
    assert not (tmp_path / "out").exists()


def test_report_rows_compare_the_entropy_pick_with_the_random_pick_of_the_same_k(tmp_path):
    path = tmp_path / "us.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "out"))
    rows = {run.row: run.baseline_row for run in load_recipe(path).runs()}
    assert rows == {"single-task": None, "uncertainty-sampling(k=10)": "uncertainty-sampling(k=10,pick=random)",
                    "uncertainty-sampling(k=10,pick=random)": None, "uncertainty-sampling(k=0)": None}


def test_in_a_mixing_study_unmixed_rows_are_compared_with_single_task(tmp_path):
    path = tmp_path / "mix.yaml"
    path.write_text(f"""name: mix
output_dir: {tmp_path / 'out'}
samples: true
corpora: {{ncbi-disease: null, bc5cdr-disease: null, s800: null}}
targets: [ncbi-disease]
aux: {{ncbi-disease: [s800]}}
mix_percent: [0, 50]
schedules: [single-task, {{pretrain-finetune: {{source: s800}}}}]
""")
    rows = {run.row: run.baseline_row for run in load_recipe(path).runs()}
    assert rows == {"single-task mix=0%": "single-task mix=0%", "single-task mix=50%": "single-task mix=0%",
                    "pretrain-finetune(source=s800) mix=0%": "single-task mix=0%",
                    "pretrain-finetune(source=s800) mix=50%": "pretrain-finetune(source=s800) mix=0%"}
