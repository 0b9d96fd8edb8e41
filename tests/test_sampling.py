"""Corpus sampling, aux:target ratio and aux loss weights (issue 19): exact draws, step orders, gradients, resume."""

from collections import Counter
from types import SimpleNamespace

import pytest
import torch
from flair.trainers.plugins import TrainerPlugin

from flair_munch.recipes import RecipeError, load_recipe
from flair_munch.training import MultiTask, MunchConc, MunchIter, MunchStack, SingleAux, SingleAuxBest
from flair_munch.training.batch_stream import QuotaStream
from flair_munch.training.planning import prerequisite_run
from flair_munch.training.schedules import SCHEDULES, Stage, Step
from flair_munch.training.settings import TrainingSettings
from schedule_helpers import (  # noqa: F401  (tiny is a fixture)
    CHEM, S800, T, make_trainer, run, sizes, tiny, train_interrupted,
)


class DrawCounter(TrainerPlugin):
    """Sentences drawn per corpus in each epoch, and the batch sizes."""

    def __init__(self):
        super().__init__()
        self.epochs, self.sizes = [], []

    @TrainerPlugin.hook
    def before_training_epoch(self, **kw):
        self.epochs.append(Counter())

    @TrainerPlugin.hook
    def after_training_batch(self, batch, **kw):
        self.epochs[-1].update(s.get_label("corpus").value for s in batch)
        self.sizes.append(len(batch))


def test_options_at_their_defaults_keep_todays_settings_and_plans():
    """A recipe or script that does not use the new options keeps its run ids and its batches."""
    today = {"multi-task": {}, "single-aux": {"aux": None}, "single-aux-best": {},
             "munch-conc": {}, "munch-iter": {"order": "random-alternating"},
             "munch-stack": {"order": "random-alternating"}, "single-task": {}, "pretrain-finetune": {"source": None}}
    for name, settings in today.items():
        assert SCHEDULES[name]().settings() == {"name": name, **settings}
    assert SingleAux(CHEM, aux_ratio=1, aux_loss_weight=1.0).settings() == SingleAux(CHEM).settings()
    assert SingleAux(CHEM, aux_ratio=2).settings() == SingleAux(CHEM, aux_ratio=2.0).settings()  # one run, not two
    assert repr(MunchConc(sampling="uniform")) == "MunchConc(sampling='uniform')"
    ctx = SimpleNamespace(target=T, aux=[CHEM, S800], iterations=3, batch_size=16,
                          train_size={T: 40, CHEM: 20, S800: 30}.get)
    assert MultiTask().plan(ctx) == [Stage("multi-task", (Step((T, CHEM, S800), 1 / 3),) * 6)]
    assert MunchConc().plan(ctx) == [Stage("munch-conc", (Step((CHEM, S800)), Step((T,))) * 3)]
    assert prerequisite_run(CHEM, TrainingSettings(), SingleAuxBest())[0].settings() == SingleAux(CHEM).settings()



def test_sampling_options_are_typed_attributes_and_shares_are_computed_once_per_plan(monkeypatch):
    """An option a schedule does not take reads as the paper's value (no getattr defaults), outside its run id."""
    from flair_munch.training.schedules import sampling as sampling_module

    assert (MultiTask().aux_ratio, SingleAux(CHEM).sampling, SingleAux(CHEM).alpha) == (1.0, "proportional", None)
    assert "aux_ratio" not in vars(MultiTask()) and MultiTask(sampling="uniform").settings() == {
        "name": "multi-task", "sampling": "uniform"}
    calls, shares = [], sampling_module.sampling_shares
    monkeypatch.setattr(sampling_module, "sampling_shares", lambda *args: calls.append(args) or shares(*args))
    ctx = SimpleNamespace(target=T, aux=[CHEM, S800], iterations=3, batch_size=16,
                          train_size={T: 40, CHEM: 20, S800: 30}.get)
    plan = MultiTask(sampling="temperature", alpha=0.5).plan(ctx)
    assert plan == [Stage("multi-task", (Step((T, CHEM, S800), 1 / 3, (40, 28, 35)),) * 7)] and len(calls) == 1

@pytest.mark.parametrize("schedule, per_epoch, steps", [
    (MultiTask(), {T: 40, CHEM: 20, S800: 30}, [16] * 5 + [10]),  # the paper's: one pass over every corpus
    (MultiTask(sampling="temperature", alpha=1.0), {T: 40, CHEM: 20, S800: 30}, [16] * 5 + [10]),  # by size
    (MultiTask(sampling="uniform"), {T: 40, CHEM: 40, S800: 40}, [16] * 7 + [8]),  # alpha 0: equal counts
    (MultiTask(sampling="temperature", alpha=0.5), {T: 40, CHEM: 28, S800: 35}, [16] * 6 + [7]),  # sqrt 40:20:30
    (MunchConc(sampling="uniform"), {T: 40, CHEM: 24, S800: 24}, [16, 16, 16, 16, 16, 8]),
    (MunchConc(sampling="temperature", alpha=1.0), {T: 40, CHEM: 19, S800: 29}, [16, 16, 16, 16, 16, 8]),
])
def test_sampling_draws_exact_counts_per_corpus_in_every_epoch(tiny, tmp_path, schedule, per_epoch, steps):
    """The target is drawn once per epoch; each corpus's share of the pool is exact, not a random draw's."""
    counter = DrawCounter()
    trainer = make_trainer(tiny, tmp_path, [counter])
    trainer.train(T, schedule=schedule, base_path=tmp_path / "run", max_epochs=2, mini_batch_size=16, progress=False)
    assert counter.epochs == [Counter(per_epoch)] * 2 and counter.sizes == steps * 2


def test_a_quota_stream_is_seeded_exact_per_pass_and_never_repeats_before_a_pass_is_through():
    corpora = [[f"a{i}" for i in range(5)], [f"b{i}" for i in range(30)]]
    stream = QuotaStream(corpora, (4, 6), batch_size=4, seed=1, key="a+b@4:6")
    assert len(stream) == 3  # 10 sentences a pass: 4 + 4 + 2
    passes = [sum((stream.next() for _ in range(3)), []) for _ in range(5)]
    assert all(Counter(s[0] for s in drawn) == Counter(a=4, b=6) for drawn in passes)
    b_drawn = [s for drawn in passes for s in drawn if s[0] == "b"]
    assert sorted(b_drawn) == sorted(corpora[1])  # 5 passes x 6 = 30: every b sentence exactly once
    same = QuotaStream(corpora, (4, 6), 4, 1, "a+b@4:6")
    batches = [batch for drawn in passes for batch in (drawn[:4], drawn[4:8], drawn[8:])]
    assert [same.next() for _ in range(15)] == batches
    other = QuotaStream(corpora, (4, 6), 4, 2, "a+b@4:6")
    assert [other.next() for _ in range(3)] != [passes[0][:4], passes[0][4:8], passes[0][8:]]


def test_aux_ratio_sets_the_exact_step_order(tiny, tmp_path):
    recorder, result = run(tiny, tmp_path / "two", SingleAux(CHEM, aux_ratio=2), max_epochs=1, aux=[CHEM])
    assert sizes(recorder) == [(CHEM, 16), (CHEM, 4), (T, 16), (CHEM, 16), (CHEM, 4), (T, 16),
                               (CHEM, 16), (CHEM, 4), (T, 8)]  # two aux steps, then a target step
    assert result.updates == {"shared": 9, CHEM: 6, T: 3}
    recorder, result = run(tiny, tmp_path / "half", SingleAux(CHEM, aux_ratio=0.5), max_epochs=2, aux=[CHEM])
    assert sizes(recorder) == [(CHEM, 16), (T, 16), (T, 16), (CHEM, 4), (T, 8),  # one aux step per two target steps
                               (CHEM, 16), (T, 16), (T, 16), (CHEM, 4), (T, 8)]
    assert result.updates == {"shared": 10, CHEM: 4, T: 6}
    ctx = SimpleNamespace(target=T, aux=[CHEM, S800], iterations=2, batch_size=16, train_size={CHEM: 20, S800: 30}.get)
    iter_keys = [step.key for stage in MunchIter(order=[S800, CHEM], aux_ratio=0.5).plan(ctx) for step in stage.epoch]
    assert iter_keys == [S800, T, T, CHEM, T, T]
    stack = MunchStack(order=[S800, CHEM], aux_ratio=3).plan(ctx)
    assert [[step.key for step in stage.epoch] for stage in stack] == [[S800] * 3 + [T] + [S800] * 3 + [T],
                                                                      [CHEM] * 3 + [T] + [CHEM] * 3 + [T]]
    conc = MunchConc(sampling="uniform", aux_ratio=1.5).plan(ctx)[0].epoch
    assert [step.key for step in conc] == [f"{CHEM}+{S800}@24:24"] * 2 + [T] + [f"{CHEM}+{S800}@24:24"] + [T]


class Gradients(TrainerPlugin):
    """Per step, before the optimizer: the corpora of the batch and every parameter's gradient."""

    def __init__(self):
        super().__init__()
        self.steps = []

    @TrainerPlugin.hook
    def before_training_optimizer_step(self, batch, **kw):
        grads = {name: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
                 for name, p in self.trainer.model.named_parameters() if p.requires_grad}
        self.steps.append(({s.get_label("corpus").value for s in batch}, grads))


def gradients(tiny, tmp_path, schedule, aux):
    plugin = Gradients()
    trainer = make_trainer(tiny, tmp_path, [plugin])
    trainer.train(T, aux, schedule, base_path=tmp_path / "run", max_epochs=1, mini_batch_size=16,
                  max_grad_norm=None, progress=False)
    return plugin.steps


def test_aux_loss_weight_scales_the_aux_gradient_and_zero_removes_it(tiny, tmp_path):
    plain = gradients(tiny, tmp_path / "plain", SingleAux(CHEM), [CHEM])
    zero = gradients(tiny, tmp_path / "zero", SingleAux(CHEM, aux_loss_weight=0.0), [CHEM])
    assert [corpora for corpora, _ in zero] == [{CHEM}, {T}] * 3
    for corpora, grads in zero:
        if corpora == {CHEM}:
            assert all(torch.count_nonzero(g) == 0 for g in grads.values())
        else:
            assert any(torch.count_nonzero(g) > 0 for name, g in grads.items() if name.startswith(("rnn", "heads")))
    half = gradients(tiny, tmp_path / "half", SingleAux(CHEM, aux_loss_weight={CHEM: 0.5}), [CHEM])
    first_plain, first_half = plain[0][1], half[0][1]  # the same first batch, from the same weights
    assert any(torch.count_nonzero(g) > 0 for g in first_plain.values())
    assert all(torch.allclose(first_half[k], 0.5 * first_plain[k], atol=1e-7) for k in first_plain)

    mixed = gradients(tiny, tmp_path / "mixed", MultiTask(aux_loss_weight={S800: 0.0}), [CHEM, S800])
    for corpora, grads in mixed:  # mixed batches: only the s800 head's gradient vanishes
        s800_head = [g for name, g in grads.items() if name.startswith(f"heads.{S800}.")]
        assert s800_head and all(torch.count_nonzero(g) == 0 for g in s800_head)
        assert any(torch.count_nonzero(g) > 0 for name, g in grads.items() if name.startswith("rnn"))


def test_an_interrupted_run_with_every_option_resumes_mid_epoch_to_the_same_result(tiny, tmp_path):
    """Stopped in the middle of epoch 2 (each corpus's own pass half drawn), resumed from epoch 1's checkpoint."""
    trainer = make_trainer(tiny, tmp_path)
    schedule = MunchConc(sampling="temperature", alpha=0.5, aux_ratio=0.5, aux_loss_weight={S800: 0.3})
    common = dict(schedule=schedule, max_epochs=3, mini_batch_size=16, progress=False)
    straight = trainer.train(T, base_path=tmp_path / "straight", **common)
    straight_weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    class Interrupt(TrainerPlugin):
        @TrainerPlugin.hook
        def after_training_batch(self, epoch, batch_no, **kw):
            if epoch == 2 and batch_no == 2:
                raise KeyboardInterrupt

    train_interrupted(trainer, Interrupt(), tmp_path / "interrupted", **common)
    resumed = trainer.train(T, base_path=tmp_path / "interrupted", **common)
    assert [r["losses"] for r in resumed.history] == [r["losses"] for r in straight.history]
    assert resumed.updates == straight.updates and (resumed.updates["shared"], resumed.updates[T]) == (15, 9)
    assert resumed.test == straight.test
    assert all(torch.equal(v, straight_weights[k]) for k, v in trainer.model.state_dict().items())


def test_single_aux_best_selects_among_and_reports_runs_with_its_options(tiny, tmp_path):
    trained = []

    class CountRuns(TrainerPlugin):
        @TrainerPlugin.hook
        def after_training(self, result, **kw):
            trained.append((result.schedule, tuple(result.aux), result.settings["schedule"]))

    trainer = make_trainer(tiny, tmp_path, [CountRuns()])
    best = trainer.train(T, schedule=SingleAuxBest(aux_ratio=0.5, aux_loss_weight={S800: 0.3}),
                         base_path=tmp_path / "best", max_epochs=1, mini_batch_size=16, progress=False)
    assert sorted(trained) == [("single-aux", (CHEM,), f"SingleAux(aux='{CHEM}', aux_ratio=0.5)"),
                               ("single-aux", (S800,), f"SingleAux(aux='{S800}', aux_ratio=0.5, aux_loss_weight=0.3)")]
    assert best.updates[T] == 3 and best.updates[best.selection["chosen"]] == 2  # ratio 0.5: the candidate itself
    schedule, _ = prerequisite_run(S800, TrainingSettings(), SingleAuxBest(aux_ratio=0.5, aux_loss_weight={S800: 0.3}))
    assert schedule.settings() == {"name": "single-aux", "aux": S800, "aux_ratio": 0.5, "aux_loss_weight": 0.3}
    with pytest.raises(ValueError, match="`bc2gm` is not an auxiliary corpus of `ncbi-disease`"):
        trainer.train(T, schedule=SingleAuxBest(aux_loss_weight={"bc2gm": 0.3}), base_path=tmp_path / "x")


@pytest.mark.parametrize("make, message", [
    (lambda: MultiTask(sampling="temperature"), "temperature sampling needs `alpha`"),
    (lambda: MunchConc(sampling="uniform", alpha=0.5), "alpha applies to `sampling: temperature` only"),
    (lambda: MultiTask(sampling="temperature", alpha=-1), "alpha must be a number >= 0, got -1"),
    (lambda: SingleAux(aux_ratio=0), "aux_ratio must be a number > 0, got 0"),
    (lambda: MunchIter(aux_loss_weight={S800: -0.5}), "an auxiliary loss weight must be a number >= 0, got -0.5"),
    (lambda: MultiTask(sampling="temprature", alpha=1), "unknown sampling 'temprature'"),
])
def test_bad_options_fail_in_python_before_training(make, message):
    with pytest.raises(ValueError, match=message):
        make()


RECIPE = """\
name: sampling
output_dir: {out}
samples: true
embeddings: default-small
corpora:
  ncbi-disease: null
  bc5cdr-chem: null
  s800: null
targets: [ncbi-disease]
schedules:
  - single-task
  - {schedule}
"""


def recipe_file(tmp_path, schedule: str) -> str:
    path = tmp_path / "sampling.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "study", schedule=schedule), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("schedule, line, expected", [
    ("{multi-task: {sampling: temperature, alpha: -0.5}}", 12,
     "schedules[1].multi-task.alpha: alpha must be a number >= 0, got -0.5. Use e.g. 0.5"),
    ("{single-aux-best: {aux_ratio: -1}}", 12,
     "schedules[1].single-aux-best.aux_ratio: aux_ratio must be a number > 0, got -1"),
    ("{munch-conc: {aux_loss_weight: -0.3}}", 12,
     "schedules[1].munch-conc.aux_loss_weight: an auxiliary loss weight must be a number >= 0, got -0.3"),
    ("munch-iter:\n      order: given\n      aux_loss_weight:\n        S800: -1", 15,
     "schedules[1].munch-iter.aux_loss_weight.s800: an auxiliary loss weight must be a number >= 0, got -1"),
    ("{single-aux: {aux: s800, aux_loss_weight: {NCBI-disease: 0.5}}}", 12,
     "schedules[1].single-aux.aux_loss_weight.ncbi-disease: `ncbi-disease` is not an auxiliary corpus of "
     "`ncbi-disease`"),
    ("{multi-task: {aux_loss_weight: {bc2gm: 0.5}}}", 12,
     "schedules[1].multi-task.aux_loss_weight.bc2gm: `bc2gm` is not a key of `corpora`"),
    ("{multi-task: {sampling: temperature}}", 12,
     "schedules[1].multi-task.sampling: temperature sampling needs `alpha`"),
    ("{munch-conc: {aux_ratio: fast}}", 12, "schedules[1].munch-conc.aux_ratio: expected float, got 'fast'"),
    ("{multi-task: {aux_loss_weight: {s800: high}}}", 12,
     "schedules[1].multi-task.aux_loss_weight: expected float or a mapping of str to float"),
])
def test_recipe_validation_names_file_line_and_key(tmp_path, schedule, line, expected):
    path = recipe_file(tmp_path, schedule)
    message = str(pytest.raises(RecipeError, load_recipe, path).value)
    assert f"{path}:{line}: {expected}" in message, message


def test_recipe_options_name_report_rows_and_run_ids(tmp_path):
    rows = {}
    for schedule in ("multi-task", "{multi-task: {sampling: proportional}}", "{multi-task: {sampling: uniform}}",
                     "{single-aux-best: {aux_ratio: 0.5, aux_loss_weight: {S800: 0.3}}}"):
        spec = load_recipe(recipe_file(tmp_path, schedule)).runs()[-1]
        rows[spec.row] = spec.run_id
    assert list(rows) == ["multi-task", "multi-task(sampling=proportional)", "multi-task(sampling=uniform)",
                          "single-aux-best(aux_ratio=0.5,aux_loss_weight={s800:0.3})"]
    assert rows["multi-task"] == rows["multi-task(sampling=proportional)"]  # the default: the same run
    assert len(set(rows.values())) == 3
