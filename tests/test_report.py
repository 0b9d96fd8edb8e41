"""The study report on a hand-built study: table cells, macro/micro, significance, update counts, plots."""

import csv
import dataclasses
import json
import math
import shutil
import statistics
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import pytest
from scipy import optimize
from scipy import stats as scipy_stats

from flair_munch.evaluation import format_report, paired_bootstrap, paired_difference, read_results, write_report
from flair_munch.evaluation import results_index
from flair_munch.evaluation.results_index import DamagedIndexError, ResultRecord, column
from flair_munch.study import records
from flair_munch.study.ledger import write_index
from flair_munch.training.result import TrainingResult

SENTENCES = 40  # every test sentence holds exactly one gold entity


def f1(correct: int) -> float:
    """Span F1 of a run that finds `correct` of the 40 gold entities and predicts nothing else."""
    return 2 * correct / (correct + SENTENCES)


# (schedule, target, seed) -> entities found; the munch schedule on t-two seed 1 equals the baseline
FOUND = {
    ("single-task", "t-one", 1): 20, ("single-task", "t-one", 2): 24,
    ("single-task", "t-two", 1): 30, ("single-task", "t-two", 2): 28,
    ("munch-iter", "t-one", 1): 36, ("munch-iter", "t-one", 2): 38,
    ("munch-iter", "t-two", 1): 30, ("munch-iter", "t-two", 2): 32,
}


def write_predictions(run_dir, target: str, correct: int) -> None:
    entity = "Disease" if target == "t-one" else "Chemical"
    lines = []
    for i in range(SENTENCES):
        predicted = f"B-{entity}" if i < correct else "O"
        lines += ["The\tO\tO", f"word{i}\tB-{entity}\t{predicted}", ".\tO\tO", ""]
    run_dir.mkdir(parents=True)
    (run_dir / "test-predictions.conll").write_text("\n".join(lines), encoding="utf-8")


def record(tmp_path, schedule, target, seed, correct, is_selected=True, lr=0.1):
    run_dir = tmp_path / "runs" / f"{schedule}-{target}-{seed}-{lr}"
    write_predictions(run_dir, target, correct)
    shared = 600 if schedule == "single-task" else 1200
    history = [{"stage": "s", "epoch": e, "lr": lr, "target_loss": 1.0 / e, "dev_f1": 0.2 * e, "seconds": 1.0}
               for e in range(1, 4)]
    return {
        "run_id": run_dir.name, "target": target, "schedule": schedule, "seed": seed,
        "hparams": {"learning_rate": lr, "mini_batch_size": 32}, "selected": is_selected,
        "dev": None if seed == 2 else {"precision": 0.5, "recall": 0.5, "f1": 0.5},
        "test": {"precision": 1.0, "recall": correct / SENTENCES, "f1": f1(correct)},
        "updates": {"shared": shared, target: 600, **({"aux-a": 600} if shared > 600 else {})}, "epochs": 3,
        "seconds": 10.0,
        "run_dir": str(run_dir), "history": history,
    }


@pytest.fixture(autouse=True)
def fewer_aso_iterations(monkeypatch):
    """These tests read no ε_min (tests/test_study_statistics.py does): fewer ASO bootstrap iterations keep
    each report about a second."""
    from flair_munch.evaluation import study_statistics

    monkeypatch.setattr(study_statistics, "ASO_ITERATIONS_TARGET", 10)
    monkeypatch.setattr(study_statistics, "ASO_ITERATIONS_POOLED", 10)


@pytest.fixture
def study(tmp_path):
    records = [record(tmp_path, *key, correct) for key, correct in FOUND.items()]
    # a grid point that lost on dev: perfect on test, but must not enter any table
    records.insert(1, record(tmp_path, "munch-iter", "t-one", 1, SENTENCES, is_selected=False, lr=0.01))
    text = "\n".join(json.dumps(r) for r in records) + "\n"
    (tmp_path / "results.jsonl").write_text(text, encoding="utf-8")
    return tmp_path


def rows_of(path):
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def mean_sd(values):
    return statistics.mean(values), statistics.stdev(values)


def test_an_index_cut_mid_line_is_refused_not_read_as_fewer_runs(study):
    assert len(read_results(study)) == len(FOUND) + 1
    with (study / "results.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"run_id": "cut-mid-wri')
    with pytest.raises(DamagedIndexError, match=rf"results.jsonl:{len(FOUND) + 2} is damaged \(cut mid-line"):
        read_results(study)


def test_table_cells_macro_micro_and_best(study):
    paths = write_report(study)
    assert paths.out_dir == study / "report"
    table = {row["schedule"]: row for row in rows_of(paths.table_csv)}
    assert list(table) == ["single-task", "munch-iter"]

    for (schedule, target) in [("single-task", "t-one"), ("munch-iter", "t-one"), ("munch-iter", "t-two")]:
        mean, sd = mean_sd([100 * f1(FOUND[schedule, target, s]) for s in (1, 2)])
        assert float(table[schedule][target]) == pytest.approx(mean, abs=1e-4)
        assert float(table[schedule][f"{target}_sd"]) == pytest.approx(sd, abs=1e-4)
        assert table[schedule][f"{target}_n"] == "2"

    # macro: per seed, mean over the two targets; then mean ± sd over seeds
    macro = [(100 * f1(FOUND["munch-iter", "t-one", s]) + 100 * f1(FOUND["munch-iter", "t-two", s])) / 2
             for s in (1, 2)]
    assert float(table["munch-iter"]["macro"]) == pytest.approx(statistics.mean(macro), abs=1e-4)
    # micro, pooled over both targets' 80 sentences: seed 1 finds 20 + 30 of 80, seed 2 finds 24 + 28
    micro = [100 * 2 * 50 / (50 + 80), 100 * 2 * 52 / (52 + 80)]
    assert float(table["single-task"]["micro"]) == pytest.approx(statistics.mean(micro), abs=1e-4)
    assert float(table["single-task"]["micro_sd"]) == pytest.approx(statistics.stdev(micro), abs=1e-4)

    markdown = paths.table_md.read_text(encoding="utf-8")
    munch_line = next(line for line in markdown.splitlines() if line.startswith("| munch-iter"))
    base_line = next(line for line in markdown.splitlines() if line.startswith("| single-task"))
    mean, sd = mean_sd([100 * f1(FOUND["munch-iter", "t-one", s]) for s in (1, 2)])
    assert f"**{mean:.2f} ± {sd:.2f}**" in munch_line
    assert "**" not in base_line
    assert markdown in paths.markdown


def test_significance_updates_and_plots(study):
    paths = write_report(study, out_dir=study / "elsewhere")
    rows = {(r["schedule"], r["target"]): r for r in rows_of(paths.significance_csv)}

    gain = [100 * (f1(FOUND["munch-iter", "t-one", s]) - f1(FOUND["single-task", "t-one", s])) for s in (1, 2)]
    better = rows["munch-iter", "t-one"]
    assert float(better["diff_mean"]) == pytest.approx(statistics.mean(gain), abs=1e-4)
    assert float(better["boot_p"]) < 0.05
    assert better["within_noise"] == "False"
    assert better["boot_seed"] == "1"

    same = rows["munch-iter", "t-two"]  # identical predictions on seed 1
    assert float(same["boot_diff"]) == 0.0
    assert same["within_noise"] == "True"

    assert float(better["shared_updates"]) == 1200 and float(better["target_updates"]) == 600
    assert float(rows["single-task", "t-one"]["shared_updates"]) == 600
    assert better["aux_updates"] == "aux-a=600" and rows["single-task", "t-one"]["aux_updates"] == ""
    markdown = paths.significance_md.read_text(encoding="utf-8")
    assert "| munch-iter | t-one |" in markdown and "| 1200 | 600 | aux-a 600 |" in markdown
    assert "| 600 | 600 | — |" in markdown  # single-task: no auxiliary corpus

    names = {p.name for p in paths.plots}
    assert names == {"dev_f1_t-one.png", "dev_f1_t-two.png", "test_f1.png"}
    for path in paths.plots:
        assert path.parent == study / "elsewhere" and path.stat().st_size > 0


def test_paired_difference_small_samples():
    result = paired_difference([0.8, 0.9, 0.85], [0.7, 0.75, 0.8])
    assert result["mean"] == pytest.approx(0.1)
    assert result["n"] == 3 and result["t_p"] is not None and result["wilcoxon_p"] is None
    single = paired_difference([0.8], [0.7])
    assert single["t_p"] is None and single["sd"] is None
    assert paired_difference([0.5] * 6, [0.5] * 6)["wilcoxon_p"] == 1.0


def test_paired_bootstrap_identical_predictions_are_noise():
    gold = [["B-X", "I-X", "O"], ["O", "B-Y"]] * 5
    result = paired_bootstrap(gold, gold, gold, n=200)
    assert result["difference"] == 0.0 and result["within_noise"] is True


def test_paired_bootstrap_p_is_two_sided():
    """A clearly worse system gets as small a p as a clearly better one (not p = 1, as a one-sided p would)."""
    gold = [["B-X", "O"], ["O", "B-X"]] * 20
    none = [["O", "O"]] * 40
    better = paired_bootstrap(gold, gold, none, n=300)
    worse = paired_bootstrap(gold, none, gold, n=300)
    assert better["ci_low"] > 0 and worse["ci_high"] < 0
    assert better["p"] == worse["p"] == 0.0
    assert paired_bootstrap(gold, gold, gold, n=50)["p"] == 1.0


# a three-seed study: munch-iter clearly above single-task, munch-conc within seed noise, munch-stack clearly below
FOUND_3 = {
    "single-task": ([20, 22, 24], [30, 28, 26]),
    "munch-iter": ([36, 37, 38], [32, 31, 33]),
    "munch-conc": ([22, 20, 25], [29, 29, 27]),
    "munch-stack": ([14, 15, 17], [24, 23, 20]),
}


def write_study(tmp_path, found: dict, seeds=(1, 2, 3)):
    """results.jsonl for {schedule: (t-one entities found per seed, t-two entities found per seed)}."""
    records = [record(tmp_path, schedule, target, seed, per_target[i])
               for schedule, by_target in found.items()
               for target, per_target in zip(("t-one", "t-two"), by_target)
               for i, seed in enumerate(seeds)]
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return tmp_path


def target_differences(found: dict, schedule: str, baseline: str = "single-task", seeds=(1, 2, 3)) -> list:
    """Per target, the seed-paired test F1 differences x100 of ``schedule`` minus ``baseline``."""
    return [[100 * (f1(found[schedule][t][i]) - f1(found[baseline][t][i])) for i in range(len(seeds))]
            for t in range(len(found[schedule]))]


def expected_macro(differences: list, confidence: float = 0.95) -> dict:
    """The macro Δ by hand: targets independent (Var = Σ s_t² / (n_t T²)), Welch–Satterthwaite df, t-interval."""
    targets = len(differences)
    shares = [statistics.variance(d) / (len(d) * targets ** 2) for d in differences]
    se = math.sqrt(sum(shares))
    df = sum(shares) ** 2 / sum(share ** 2 / (len(d) - 1) for share, d in zip(shares, differences))
    delta = statistics.mean(statistics.mean(d) for d in differences)
    half = scipy_stats.t.ppf((1 + confidence) / 2, df) * se
    return {"delta": delta, "low": delta - half, "high": delta + half, "se": se, "df": df,
            "p": 2 * scipy_stats.t.sf(abs(delta) / se, df)}


def holm_levels(p_values: dict) -> dict:
    """Holm's step-down by hand: each row's interval level, 1 - 0.05 / (m - step), frozen at the first failing step."""
    levels, m, stop = {}, len(p_values), None
    for step, (row, p) in enumerate(sorted(p_values.items(), key=lambda item: item[1])):
        if stop is None and p * (m - step) > 0.05:
            stop = step
        levels[row] = 1 - 0.05 / (m - (step if stop is None else stop))
    return levels


def min_detectable(se: float, df: float, alpha: float) -> float:
    """The |Δ| the two-sided t-test finds with 80 % power (noncentral t), by hand."""
    critical = scipy_stats.t.ppf(1 - alpha / 2, df)
    power = lambda d: scipy_stats.nct.sf(critical, df, d / se) + scipy_stats.nct.sf(critical, df, -d / se)  # noqa
    return optimize.brentq(lambda d: power(d) - 0.8, 1e-9, 100 * se)


def holm_macro(found: dict, rows: list) -> dict:
    """Each row's expected macro comparison with single-task, its interval at its Holm level."""
    raw = {row: expected_macro(target_differences(found, row)) for row in rows}
    levels = holm_levels({row: e["p"] for row, e in raw.items()})
    return {row: {**expected_macro(target_differences(found, row), levels[row]), "level": levels[row]}
            for row in rows}


def line_of(markdown: str, schedule: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith(f"| {schedule} |"))


def test_macro_delta_and_interval_in_csv_and_printed_table(tmp_path):
    paths = write_report(write_study(tmp_path, FOUND_3), bootstrap_samples=50)
    table = {row["schedule"]: row for row in rows_of(paths.table_csv)}
    markdown = paths.table_md.read_text(encoding="utf-8")
    assert "| schedule | t-one | t-two | macro | micro | Δ macro vs single-task [Holm-level CI] |" in markdown

    base = table["single-task"]
    assert base["baseline"] == "single-task" and base["delta_macro"] == base["delta_macro_within_noise"] == ""
    assert line_of(markdown, "single-task").endswith("| baseline |")

    expected = holm_macro(FOUND_3, ["munch-iter", "munch-conc", "munch-stack"])
    # munch-stack has the smallest p (Holm's first step, 1 - 0.05/3), munch-iter the second, munch-conc fails
    assert [expected[r]["level"] for r in ("munch-stack", "munch-iter", "munch-conc")] == pytest.approx(
        [1 - 0.05 / 3, 1 - 0.05 / 2, 0.95])
    for schedule, within in [("munch-iter", False), ("munch-conc", True), ("munch-stack", False)]:
        e, row = expected[schedule], table[schedule]
        assert float(row["delta_macro"]) == pytest.approx(e["delta"], abs=1e-4)
        assert float(row["delta_macro_ci_low"]) == pytest.approx(e["low"], abs=1e-4)
        assert float(row["delta_macro_ci_high"]) == pytest.approx(e["high"], abs=1e-4)
        assert float(row["delta_macro_ci_level"]) == pytest.approx(e["level"], abs=1e-4)
        assert row["delta_macro_n"] == "3" and row["delta_macro_within_noise"] == str(within)
        cell = f"{e['delta']:+.2f} [{e['low']:+.2f}, {e['high']:+.2f}]"
        # within noise: a trailing mark; beyond noise: no mark
        assert line_of(markdown, schedule).endswith(f"| {cell} ≈ |" if within else f"| {cell} |")
    assert float(table["munch-iter"]["delta_macro_p_holm"]) == pytest.approx(
        min(1, 2 * expected["munch-iter"]["p"]), abs=1e-4)

    # significance.csv: per target, the seed-paired ΔF1 with its 95% interval; per row, a macro line
    significance = {(r["schedule"], r["target"]): r for r in rows_of(paths.significance_csv)}
    d = target_differences(FOUND_3, "munch-conc")[0]
    half = scipy_stats.t.ppf(0.975, 2) * statistics.stdev(d) / math.sqrt(3)
    conc = significance["munch-conc", "t-one"]
    assert float(conc["diff_ci_low"]) == pytest.approx(statistics.mean(d) - half, abs=1e-4)
    assert float(conc["diff_ci_high"]) == pytest.approx(statistics.mean(d) + half, abs=1e-4)
    assert conc["diff_within_noise"] == "True"
    macro = significance["munch-conc", "macro"]
    assert float(macro["df"]) == pytest.approx(expected["munch-conc"]["df"], abs=1e-4)
    assert macro["verdict"] == "within" and macro["holm_family"] == "3"
    sig_md = paths.significance_md.read_text(encoding="utf-8")
    assert f"{statistics.mean(d):+.2f} ± {statistics.stdev(d):.2f} [{statistics.mean(d) - half:+.2f}, " in sig_md
    conc = expected["munch-conc"]
    cell = f"{conc['delta']:+.2f} [{conc['low']:+.2f}, {conc['high']:+.2f}]"
    assert f"| munch-conc | single-task | {cell} | 95.00% |" in sig_md


def test_printed_table_holds_legend_and_one_conclusion_per_row(tmp_path):
    paths = write_report(write_study(tmp_path, FOUND_3), bootstrap_samples=50)
    markdown = paths.table_md.read_text(encoding="utf-8")
    table, legend, conclusions = markdown.strip().split("\n\n")
    assert table.startswith("| schedule |")
    assert "Holm-corrected over the m rows compared with the same baseline" in legend
    assert "\n" not in legend
    expected = holm_macro(FOUND_3, ["munch-iter", "munch-conc", "munch-stack"])
    iter_, conc = expected["munch-iter"], expected["munch-conc"]
    seeds_needed = {r["schedule"]: r["seeds_for_one_point"] for r in rows_of(paths.significance_csv)
                    if r["target"] == "macro"}
    detectable = min_detectable(conc["se"], conc["df"], 0.05 / 3)
    assert conclusions.splitlines() == [
        "With 3 seeds on t-one and t-two:",
        f"- munch-iter is above single-task beyond seed noise (Holm-corrected over 3 comparisons): Δ macro "
        f"{iter_['delta']:+.2f} F1 [{iter_['low']:+.2f}, {iter_['high']:+.2f}], p = {2 * iter_['p']:.3g}",
        f"- munch-conc is within seed noise of single-task (Holm-corrected over 3 comparisons): 3 seeds cannot detect "
        f"less than {detectable:.1f} F1; about {seeds_needed['munch-conc']} seeds would be needed for 1 point",
        conclusions.splitlines()[3],
        "- munch-iter also took more shared-encoder updates than single-task (see significance.md), so a gain can be "
        "more steps rather than the schedule",
    ]
    assert conclusions.splitlines()[3].startswith("- munch-stack is below single-task beyond seed noise (Holm")
    assert markdown in paths.markdown and markdown in format_report(tmp_path, bootstrap_samples=50)


def test_sentence_when_every_schedule_is_within_noise(tmp_path):
    found = {"single-task": FOUND_3["single-task"], "munch-conc": FOUND_3["munch-conc"]}
    paths = write_report(write_study(tmp_path, found), bootstrap_samples=50)
    conclusions = paths.table_md.read_text(encoding="utf-8").strip().split("\n\n")[2].splitlines()
    conc = expected_macro(target_differences(found, "munch-conc"))
    assert conclusions[0] == "With 3 seeds on t-one and t-two:" and len(conclusions) == 2
    assert conclusions[1].startswith("- munch-conc is within seed noise of single-task (Holm-corrected over 1 "
                                     f"comparison): 3 seeds cannot detect less than "
                                     f"{min_detectable(conc['se'], conc['df'], 0.05):.1f} F1; about ")


def test_one_seed_gives_no_interval_and_says_so(tmp_path):
    paths = write_report(write_study(tmp_path, FOUND_3, seeds=(1,)), bootstrap_samples=50)
    markdown = paths.table_md.read_text(encoding="utf-8")
    mean = statistics.mean(d[0] for d in target_differences(FOUND_3, "munch-iter", seeds=(1,)))
    assert line_of(markdown, "munch-iter").endswith(f"| {mean:+.2f} [n/a (1 seed)] ≈ |")
    row = {r["schedule"]: r for r in rows_of(paths.table_csv)}["munch-iter"]
    assert row["delta_macro_n"] == "1" and row["delta_macro_ci_low"] == "" and row["delta_macro_within_noise"] == "True"
    conclusions = markdown.strip().split("\n\n")[2].splitlines()
    assert conclusions[0] == "With one seed on t-one and t-two:"
    assert conclusions[1] == ("- munch-iter against single-task: not tested: t-one, t-two: one paired seed, so its "
                              "seed noise cannot be estimated; run at least 2 seeds per target; t-one, t-two: fewer "
                              "than 2 seeds on a side, no per-target ASO")
    assert "beyond seed noise" not in markdown.split("\n\n")[2]


# seed-paired differences per target (x100) that move together over seed numbers: pairing by seed number across
# targets leaves 2 df and a wide interval; the targets-independent test (4 df, smaller se) sees the gain
RECORDS_ONLY = {"t-one": {"munch-iter": [1.0, 3.0, 5.0], "munch-conc": [-1.0, 0.0, 1.5]},
                "t-two": {"munch-iter": [1.0, 3.0, 5.0], "munch-conc": [0.5, -0.5, 0.2]}}
BASE_F1 = {"t-one": [60.0, 55.0, 65.0], "t-two": [70.0, 72.0, 68.0]}


def test_a_records_only_study_reads_the_holm_corrected_targets_independent_test(tmp_path):
    lines = [{"run_id": f"{schedule}-{target}-{seed}", "target": target, "schedule": schedule, "seed": seed,
              "selected": True, "test": {"f1": (BASE_F1[target][seed - 1] + delta) / 100}, "run_dir": "gone"}
             for target, rows in RECORDS_ONLY.items()
             for schedule, deltas in {"single-task": [0.0] * 3, **rows}.items()
             for seed, delta in zip((1, 2, 3), deltas)]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    paths = write_report(tmp_path)
    # by seed number: macro differences 1, 3, 5 -> mean 3, t(2) interval [-1.97, +7.97]: within noise
    assert paired_difference([1.0, 3.0, 5.0], [0.0] * 3)["within_noise"] is True
    differences = {row: [RECORDS_ONLY[t][row] for t in RECORDS_ONLY] for row in ("munch-iter", "munch-conc")}
    raw = {row: expected_macro(d) for row, d in differences.items()}
    level = holm_levels({row: e["p"] for row, e in raw.items()})["munch-iter"]
    e = expected_macro(differences["munch-iter"], level)
    assert level == pytest.approx(1 - 0.05 / 2) and e["df"] == pytest.approx(4.0) and e["low"] > 0

    table, _, conclusions = paths.table_md.read_text(encoding="utf-8").strip().split("\n\n")
    assert line_of(table, "munch-iter").endswith(f"| n/a | +3.00 [{e['low']:+.2f}, {e['high']:+.2f}] |")  # micro: n/a
    assert conclusions.splitlines()[1] == (
        f"- munch-iter is above single-task beyond seed noise (Holm-corrected over 2 comparisons): Δ macro +3.00 F1 "
        f"[{e['low']:+.2f}, {e['high']:+.2f}], p = {min(1.0, 2 * e['p']):.3g}")
    macro = {r["schedule"]: r for r in rows_of(paths.significance_csv) if r["target"] == "macro"}
    assert macro["munch-iter"]["boot_diff"] == "" and "no test predictions" in macro["munch-iter"]["notes"]


def test_paired_difference_t_interval():
    a, b = [80.0, 90.0, 85.0, 88.0], [70.0, 75.0, 80.0, 79.0]
    d = [x - y for x, y in zip(a, b)]
    half = scipy_stats.t.ppf(0.975, 3) * statistics.stdev(d) / math.sqrt(4)
    result = paired_difference(a, b)
    mean = statistics.mean(d)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((mean - half, mean + half))
    assert result["within_noise"] is False
    single = paired_difference([80.0], [70.0])
    assert single["ci_low"] is None and single["ci_high"] is None and single["within_noise"] is True
    assert paired_difference([1.0, 2.0], [1.0, 2.0])["within_noise"] is True  # constant 0: [0, 0] contains 0


def test_sentence_without_a_baseline_and_with_two_rows_above():
    from flair_munch.evaluation.report_table import conclusion
    from flair_munch.evaluation.study_statistics import MacroComparison, RowComparison

    assert conclusion({"single-task": None}, ["t"], set()).startswith("No row has a baseline row")
    rows = {"single-task": None,
            "a": RowComparison("a", "single-task", MacroComparison(2.0, seeds={"t": 3}), verdict="above",
                               conclusion="a is above"),
            "b": RowComparison("b", "single-task", MacroComparison(4.0, seeds={"t": 3}), verdict="above",
                               conclusion="b is above")}
    assert conclusion(rows, ["t"], {"b"}).splitlines() == [
        "With 3 seeds on t:", "- a is above", "- b is above",
        "- a and b are each above single-task beyond seed noise, which does not rank them against each other",
        "- b also took more shared-encoder updates than single-task (see significance.md), so a gain can be more "
        "steps rather than the schedule"]


def test_a_step_count_control_is_compared_with_the_row_it_matches(tmp_path):
    found = {"single-task": ((20, 22, 24), (28, 30, 26)), "munch-iter": ((30, 33, 35), (31, 34, 30)),
             "matched-single-task(match=munch-iter)": ((29, 30, 36), (33, 32, 29))}
    write_study(tmp_path, found)
    lines = (tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    for r in records:
        capped = r["schedule"] != "single-task" or r["seed"] == 3
        r["stop_reasons"] = ["s: max_epochs 3 reached" if capped else "s: learning rate 5e-05 < 0.0001"]
        if r["schedule"].startswith("matched"):
            r["matches"] = "munch-iter"
    (tmp_path / "results.jsonl").write_text("\n".join(map(json.dumps, records)) + "\n", encoding="utf-8")
    paths = write_report(tmp_path)

    # the controls are their own Holm family (here of one): the interval at 95%, targets independent
    e = expected_macro(target_differences(found, "munch-iter", "matched-single-task(match=munch-iter)"))
    table = paths.table_md.read_text(encoding="utf-8")
    row = line_of(table.split("Step-count controls")[1], "munch-iter")
    assert f"| matched-single-task(match=munch-iter) | {e['delta']:+.2f} [{e['low']:+.2f}, {e['high']:+.2f}] ≈ |" \
        in row
    assert row.endswith(f"| within seed noise of its control: the gain over single-task may be the extra updates "
                        f"(3 seeds cannot detect less than {min_detectable(e['se'], e['df'], 0.05):.1f} F1) |")
    vs_control = [r for r in rows_of(paths.significance_csv) if r["baseline"].startswith("matched")]
    assert [(r["schedule"], r["target"]) for r in vs_control] == [("munch-iter", "t-one"), ("munch-iter", "t-two"),
                                                                  ("munch-iter", "macro")]
    assert float(vs_control[0]["diff_mean"]) == pytest.approx(
        statistics.mean(100 * (f1(a) - f1(b)) for a, b in zip(found["munch-iter"][0], found[
            "matched-single-task(match=munch-iter)"][0])), abs=1e-3)
    converged = {(r["schedule"], r["target"]): r["converged"] for r in rows_of(paths.significance_csv)}
    assert converged[("single-task", "t-one")] == "2 of 3" and converged[("munch-iter", "t-one")] == "0 of 3"


def test_compact_tag_file_round_trips_and_names_a_bad_line(tmp_path):
    import gzip

    from flair_munch.evaluation.prediction_file import read_prediction_file, write_tag_file

    gold, pred = [["B-Disease", "O"], ["O"]], [["B-Disease", "B-Disease"], ["O"]]
    path = write_tag_file(tmp_path / "test-predictions.tags.gz", gold, pred)
    assert read_prediction_file(path) == (gold, pred)
    assert write_tag_file(tmp_path / "again.tags.gz", gold, pred).read_bytes() == path.read_bytes()  # no timestamp
    (tmp_path / "bad.tags.gz").write_bytes(gzip.compress(b"O\tO\nword\tO\tO\n"))
    with pytest.raises(ValueError, match=r"bad.tags.gz:2: expected 'gold<TAB>predicted'"):
        read_prediction_file(tmp_path / "bad.tags.gz")


def test_a_moved_study_reads_stop_reasons_and_tags_from_its_own_run_folders(tmp_path):
    """Older records carry no stop_reasons: the report reads each run's metrics.json, found (like its compact
    predictions) under the study's own runs/ when the recorded absolute run_dir is gone."""
    from flair_munch.evaluation.prediction_file import read_prediction_file, write_tag_file
    from flair_munch.training.result import TrainingResult

    found = {"single-task": ((20, 22, 24), (28, 30, 26)), "munch-iter": ((30, 33, 35), (31, 34, 30))}
    write_study(tmp_path / "here", found)
    records = [json.loads(line) for line in (tmp_path / "here" / "results.jsonl").read_text().splitlines()]
    (tmp_path / "here" / "shared-runs").mkdir()
    for r in records:
        folder = Path(r["run_dir"])
        if r["schedule"] == "munch-iter":  # like a selection's chosen sub-run: shared-runs/<name other than its id>
            folder = folder.rename(tmp_path / "here" / "shared-runs" / f"sub-{r['run_id']}")
            r["run_dir"] = str(folder)
        capped = r["schedule"] == "munch-iter" and r["seed"] == 2
        result = TrainingResult(r["run_id"], r["schedule"], r["target"], [], [], ["s"], None, r["test"], 3,
                                r["updates"], 1.0, ["s: max_epochs 3 reached" if capped else
                                                    "s: learning rate 5e-05 < 0.0001"], str(folder), "")
        (folder / "metrics.json").write_text(json.dumps(result.to_dict()), encoding="utf-8")
        write_tag_file(folder / "test-predictions.tags.gz", *read_prediction_file(folder / "test-predictions.conll"))
        (folder / "test-predictions.conll").unlink()  # a committed study keeps only the compact copy
    (tmp_path / "here" / "results.jsonl").write_text("\n".join(map(json.dumps, records)) + "\n", encoding="utf-8")
    shutil.move(tmp_path / "here", tmp_path / "moved")
    paths = write_report(tmp_path / "moved")
    rows = {(r["schedule"], r["target"]): r for r in rows_of(paths.significance_csv)}
    assert rows[("munch-iter", "t-one")]["converged"] == "2 of 3" and rows[("single-task", "t-two")]["converged"] == \
        "3 of 3"
    assert rows[("munch-iter", "t-one")]["boot_seed"] == "1"  # the bootstrap found both runs' tags


def test_one_target_table_has_no_macro_or_micro_column_and_the_csv_keeps_them(tmp_path):
    found = {schedule: (per_seed[0],) for schedule, per_seed in FOUND_3.items()}
    records = [record(tmp_path, schedule, "t-one", seed, found[schedule][0][i])
               for schedule in found for i, seed in enumerate((1, 2, 3))]
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    paths = write_report(tmp_path, bootstrap_samples=20)
    markdown = paths.table_md.read_text(encoding="utf-8")
    assert markdown.startswith("| schedule | t-one | Δ macro vs single-task [Holm-level CI] |\n|---|---|---|\n")
    assert "macro |" not in markdown.splitlines()[0].replace("Δ macro vs", "")
    assert {"macro", "micro"} <= set(rows_of(paths.table_csv)[0])


def test_the_test_f1_legend_is_outside_the_axes(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    placed = []
    legend = Axes.legend
    monkeypatch.setattr(Axes, "legend", lambda self, *a, **kw: (placed.append(kw), legend(self, *a, **kw))[1])
    paths = write_report(write_study(tmp_path, FOUND_3), bootstrap_samples=20)
    outside = [kw for kw in placed if kw.get("bbox_to_anchor")]
    assert len(outside) == 1 and outside[0]["bbox_to_anchor"][0] > 1.0  # right of the axes: no bar is covered
    assert (paths.out_dir / "test_f1.png").stat().st_size > 0


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_text("x"), ["report folder", "is a file, not a folder", "report --out"]),
    (lambda p: None, ["cannot create the report folder", "No such file or directory", "report --out"]),
], ids=["out-is-a-file", "out-cannot-be-created"])
def test_report_out_that_cannot_hold_the_report_is_one_line_naming_it(tmp_path, capsys, make, words):
    from flair_munch.cli import main

    study = write_study(tmp_path / "study", FOUND_3)
    out = tmp_path / "table.md" if words[0] == "report folder" else Path("/proc/no-such/report")
    make(out)
    assert main(["report", str(study), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flair-munch: error:") and "\n" not in err and str(out) in err, err
    assert all(word in err for word in words), err
    assert not (study / "report").exists()


@dataclasses.dataclass
class RecordWithGpu(ResultRecord):
    """ResultRecord plus one new field, with nothing else changed: it must reach the index and runs.csv."""

    gpu: Optional[str] = None


def test_a_new_record_field_is_a_runs_csv_column_with_no_other_change(study, monkeypatch):
    lines = [json.loads(line) for line in (study / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    (study / "results.jsonl").write_text("".join(json.dumps({**line, "gpu": "h100"}) + "\n" for line in lines),
                                         encoding="utf-8")
    monkeypatch.setattr(results_index, "ResultRecord", RecordWithGpu)
    paths = write_report(study)
    rows = rows_of(paths.runs_csv)
    assert [row["run_id"] for row in rows] == [line["run_id"] for line in lines]  # every grid point, index order
    assert {row["gpu"] for row in rows} == {"h100"}
    assert list(rows[0])[:6] == ["run_id", "target", "schedule", "seed", "test_f1", "dev_f1"]
    assert float(rows[0]["test_f1"]) == pytest.approx(100 * f1(FOUND["single-task", "t-one", 1]), abs=1e-4)
    assert rows[0]["hparams"] == "learning_rate=0.1;mini_batch_size=32" and "history" not in rows[0]


@dataclasses.dataclass
class RecordWithStages(ResultRecord):
    stages: list = column(run="test", default_factory=list)  # filled from TrainingResult.stages by its name


def test_make_record_fills_declared_fields_and_the_index_line_round_trips(tmp_path, monkeypatch):
    spec = SimpleNamespace(run_id="r1", target="t-one", aux=("aux-a",), row="munch-iter n=10", baseline_row=None,
                           variant="", train_size=10, mix_percent=None, seed=3, learning_rate=0.1,
                           mini_batch_size=32, matched_row=None, identity=lambda: SimpleNamespace(run_id="r1"))
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    result = TrainingResult(run_id="r1", schedule="munch-iter", target="t-one", aux=["aux-a"], aux_order=["aux-a"],
                            stages=["aux", "target"], dev={"f1": 0.5}, test={"f1": 0.6}, epochs=4,
                            updates={"shared": 8, "t-one": 4}, seconds=2.5, stop_reasons=["target: max_epochs"],
                            run_dir=str(tmp_path / "runs" / "r1"), model_path=str(tmp_path / "runs" / "r1" / "m.pt"),
                            history=[{"stage": "target", "epoch": 1, "dev_f1": 0.5, "extra": 1}])
    monkeypatch.setattr(records, "ResultRecord", RecordWithStages)
    record = records.make_record(spec, result, None, tmp_path)
    assert record.stages == ["aux", "target"] and record.aux == ["aux-a"] and record.schedule == "munch-iter n=10"
    assert (record.dev, record.test, record.updates, record.epochs) == (result.dev, result.test, result.updates, 4)
    assert record.history == [{"stage": "target", "epoch": 1, "lr": None, "target_loss": None, "dev_f1": 0.5,
                               "seconds": None}]
    write_index(tmp_path, [record])  # record -> JSON line -> record
    monkeypatch.setattr(results_index, "ResultRecord", RecordWithStages)
    assert read_results(tmp_path) == [record] and record.selected
