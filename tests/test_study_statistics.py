"""Study-level statistics (issue 33): every value is checked against scipy / deepsig computed here."""

import math
import time

import numpy as np
import pytest
from scipy import stats

from flair_munch.evaluation import study_statistics as ss
from flair_munch.evaluation.results_index import ResultRecord
from flair_munch.evaluation.span_metrics import span_scores
from flair_munch.evaluation.statistics import sentence_counts, two_level_bootstrap

# 7 targets x 3 seeds of seed-paired differences (row - baseline). Seed 2 happens to be low on most
# targets: pairing by seed number across targets (a t over the 3 per-seed macro averages) reads that
# as noise of the macro, although runs of different targets share nothing but the seed number.
DIFFERENCES = {"t0": [2.3, 0.4, 2.7], "t1": [1.6, -1.6, 3.5], "t2": [1.3, 2.7, 5.2], "t3": [2.0, -0.6, 0.1],
               "t4": [3.5, -1.4, 2.0], "t5": [2.3, -0.8, 1.8], "t6": [2.6, 0.0, 0.5]}


def _expected_macro(differences, confidence=0.95):
    """Var = sum_t s_t^2 / (n_t T^2), Welch-Satterthwaite df, t-interval and p, written out."""
    targets = len(differences)
    shares = [np.var(d, ddof=1) / (len(d) * targets ** 2) for d in differences.values()]
    se = math.sqrt(sum(shares))
    df = sum(shares) ** 2 / sum(s ** 2 / (len(d) - 1) for s, d in zip(shares, differences.values()))
    delta = np.mean([np.mean(d) for d in differences.values()])
    half = stats.t.ppf((1 + confidence) / 2, df) * se
    return delta, se, df, delta - half, delta + half, 2 * stats.t.sf(abs(delta) / se, df)


def _records(differences, rows=("single-task", "row"), base=50.0):
    """Selected records whose test F1 (x100) give ``differences`` of ``row`` over single-task per target."""
    records = []
    for i, (target, diffs) in enumerate(differences.items()):
        for seed, d in enumerate(diffs, start=1):
            baseline = base + 5 * i + (seed % 2)
            for row, f1 in zip(rows, (baseline, baseline + d)):
                records.append(ResultRecord(f"{row}-{target}-{seed}", target, row, seed, {"f1": f1 / 100},
                                            selected=True))
    return records


def test_macro_difference_uses_every_targets_seed_variance_where_seed_number_pairing_sees_noise():
    per_seed_macro = np.mean(list(DIFFERENCES.values()), axis=0)  # what pairing by seed number tests (2 df)
    assert stats.ttest_1samp(per_seed_macro, 0.0).pvalue > 0.05
    result = ss.macro_difference(DIFFERENCES)
    expected = _expected_macro(DIFFERENCES)
    assert (result.delta, result.se, result.df, result.ci_low, result.ci_high, result.p) == pytest.approx(expected)
    assert result.ci_low > 0 and result.p < 0.01 and result.df == pytest.approx(10.645, abs=1e-3)


def test_macro_difference_of_one_target_is_the_paired_t_test():
    result = ss.macro_difference({"t0": [1.0, 2.5, 0.2]})
    assert result.df == pytest.approx(2.0)
    assert result.p == pytest.approx(stats.ttest_1samp([1.0, 2.5, 0.2], 0.0).pvalue)


def test_macro_difference_with_one_seed_says_what_it_cannot_estimate():
    result = ss.macro_difference({"t0": [1.0, 2.0], "t1": [3.0]})
    assert result.delta == pytest.approx(2.25) and result.se is None and result.p is None
    assert result.reason == ("t1: one paired seed, so its seed noise cannot be estimated; "
                             "run at least 2 seeds per target")


def test_holm_step_down_on_known_p_values_and_its_interval_levels():
    corrected = ss.holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    assert corrected.adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert corrected.reject == [True, False, False, True]
    # steps 1, 2 reject at 1 - 0.05/4 and 1 - 0.05/3; step 3 fails, so it and step 4 get 1 - 0.05/2
    assert corrected.confidence == pytest.approx([1 - 0.05 / 3, 0.975, 0.975, 1 - 0.05 / 4])
    untested = ss.holm([None, 0.02, 0.04])
    assert untested.adjusted[0] is None and untested.adjusted[1:] == pytest.approx([0.04, 0.04])
    assert untested.reject == [False, True, True]


def test_min_detectable_delta_has_80_percent_power_by_the_noncentral_t():
    se, df, alpha = 1.4, 10.6, 0.05 / 8
    delta = ss.min_detectable_delta(se, df, alpha)
    critical = stats.t.ppf(1 - alpha / 2, df)
    power = stats.nct.sf(critical, df, delta / se) + stats.nct.cdf(-critical, df, delta / se)
    assert power == pytest.approx(0.8, abs=1e-5)


def test_seeds_needed_is_the_fewest_seeds_with_80_percent_power_for_one_point():
    variances = [np.var(d, ddof=1) for d in DIFFERENCES.values()]
    total, squares, targets = sum(variances), sum(v ** 2 for v in variances), len(variances)

    def power(n):
        se, df = math.sqrt(total / n) / targets, (n - 1) * total ** 2 / squares
        critical = stats.t.ppf(1 - 0.05 / 2, df)
        return stats.nct.sf(critical, df, 1.0 / se) + stats.nct.cdf(-critical, df, 1.0 / se)

    n = ss.seeds_needed(variances, effect=1.0)
    assert power(n) >= 0.8 > power(n - 1)
    assert ss.seeds_needed(variances, effect=0.01, limit=50) is None  # more than the limit


def test_wilcoxon_over_targets_is_scipys_and_says_when_it_cannot_decide():
    means = [np.mean(d) for d in DIFFERENCES.values()]
    assert ss.wilcoxon_over_targets(means) == (pytest.approx(stats.wilcoxon(means).pvalue), None)
    p, note = ss.wilcoxon_over_targets(means[:5])
    assert p == pytest.approx(0.0625)
    assert note == "5 targets: its smallest two-sided p is 0.0625, so p < 0.05 is out of reach"
    assert ss.wilcoxon_over_targets(means[:1]) == (None, "1 target: nothing to rank across targets")


def test_aso_per_target_and_pooled_are_deepsigs_with_bonferroni_levels(monkeypatch):
    from deepsig import aso

    monkeypatch.setattr(ss, "ASO_ITERATIONS_TARGET", 8)
    monkeypatch.setattr(ss, "ASO_ITERATIONS_POOLED", 12)
    row = {"a": [61.0, 63.5, 62.0], "b": [40.0, 41.0, 44.0]}
    baseline = {"a": [60.0, 60.5, 62.5], "b": [39.0, 40.5, 38.0]}
    result = ss.aso_over_targets(row, baseline, comparisons=3, seed=7)
    options = dict(num_bootstrap_iterations=8, dt=ss.ASO_DT, show_progress=False, seed=7)
    expected_a = aso(row["a"], baseline["a"], confidence_level=1 - 0.05 / 6, **options)  # 2 targets x 3 rows
    assert result["per_target"]["a"] == pytest.approx(expected_a)
    centre = {t: np.mean(v) for t, v in baseline.items()}
    pooled_a = [x - centre[t] for t in row for x in row[t]]
    pooled_b = [x - centre[t] for t in row for x in baseline[t]]
    options["num_bootstrap_iterations"] = 12
    assert result["pooled"] == pytest.approx(aso(pooled_a, pooled_b, confidence_level=1 - 0.05 / 3, **options))
    assert result["pooled"] < 0.5 and result["reason"] is None
    assert ss.aso_over_targets({"a": [1.0]}, {"a": [0.0, 1.0]})["reason"] == \
        "a: fewer than 2 seeds on a side, no per-target ASO"


def _predict(rng, gold, error):
    """A prediction that misses each gold sentence's entity with probability ``error``."""
    return [["O"] * len(g) if rng.random() < error else list(g) for g in gold]


def test_two_level_bootstrap_point_is_the_macro_of_span_f1_differences_and_reproducible():
    rng = np.random.default_rng(0)
    runs, expected = {}, []
    for target in ("t0", "t1"):
        gold = [["B-X", "I-X", "O"] if rng.random() < 0.5 else ["O", "B-X", "O"] for _ in range(40)]
        pairs, diffs = [], []
        for _ in range(3):
            row, base = _predict(rng, gold, 0.1), _predict(rng, gold, 0.3)
            pairs.append((sentence_counts(gold, row), sentence_counts(gold, base)))
            diffs.append(100 * (span_scores(gold, row).f1 - span_scores(gold, base).f1))
        runs[target], expected = pairs, expected + [np.mean(diffs)]
    result = two_level_bootstrap(runs, n=500, seed=3)
    assert result["delta"] == pytest.approx(np.mean(expected))
    assert result["ci_low"] < result["delta"] < result["ci_high"] and result["reason"] is None
    assert two_level_bootstrap(runs, n=500, seed=3) == result
    one_seed = two_level_bootstrap({"t0": runs["t0"][:1]}, n=10)
    assert one_seed["delta"] is None and one_seed["reason"] == "t0 has 1 paired seed(s): no seed noise to resample"


def test_two_level_bootstrap_is_fast_for_a_study_sized_input():
    rng = np.random.default_rng(1)

    def counts():
        gold = rng.integers(0, 3, 1000)
        tp = rng.binomial(gold, 0.7)
        return np.stack([tp, tp + rng.integers(0, 2, 1000), gold], axis=1)

    runs = {f"t{i}": [(counts(), counts()) for _ in range(3)] for i in range(7)}
    start = time.perf_counter()
    two_level_bootstrap(runs, n=1000, seed=0)
    assert time.perf_counter() - start < 1.0


def test_compare_rows_holm_corrects_and_says_what_each_row_lets_a_reader_conclude():
    within = {t: [d - 1.4 for d in diffs] for t, diffs in DIFFERENCES.items()}
    records = _records(DIFFERENCES) + [r for r in _records(within, ("single-task", "other")) if r.schedule == "other"]
    above, other = ss.compare_with_baseline(records, aso=False)
    p_values = [_expected_macro(DIFFERENCES)[5], _expected_macro(within)[5]]
    assert [above.p_holm, other.p_holm] == pytest.approx(ss.holm(p_values).adjusted)
    assert above.verdict == "above" and other.verdict == "within" and above.family == 2
    assert above.macro.confidence == pytest.approx(0.975)
    assert (above.macro.ci_low, above.macro.ci_high) == pytest.approx(_expected_macro(DIFFERENCES, 0.975)[3:5])
    assert above.conclusion == (f"row is above single-task beyond seed noise (Holm-corrected over 2 comparisons): "
                                f"Δ macro +1.43 F1 [{above.macro.ci_low:+.2f}, {above.macro.ci_high:+.2f}], "
                                f"p = {above.p_holm:.3g}")
    detectable = ss.min_detectable_delta(other.macro.se, other.macro.df, 0.05 / 2)
    needed = ss.seeds_needed(list(other.macro.variances.values()), 1.0, 0.05 / 2)
    assert other.conclusion == (f"other is within seed noise of single-task (Holm-corrected over 2 comparisons): "
                                f"3 seeds cannot detect less than {detectable:.1f} F1; about {needed} seeds would be "
                                f"needed for 1 point")


def test_compare_rows_with_one_seed_or_one_target_degrades_with_a_stated_reason():
    one_seed = ss.compare_with_baseline(_records({t: d[:1] for t, d in DIFFERENCES.items()}), aso=False)[0]
    assert one_seed.verdict == "untested" and one_seed.p_holm is None and one_seed.min_detectable is None
    assert one_seed.conclusion == ("row against single-task: not tested: t0, t1, t2, t3, t4, t5, t6: one paired seed, "
                                   "so its seed noise cannot be estimated; run at least 2 seeds per target")
    one_target = ss.compare_with_baseline(_records({"t2": DIFFERENCES["t2"]}), aso=False)[0]
    assert one_target.macro.p == pytest.approx(stats.ttest_1samp(DIFFERENCES["t2"], 0.0).pvalue)
    assert one_target.wilcoxon_p is None and one_target.wilcoxon_note == "1 target: nothing to rank across targets"


def test_compare_rows_script_puts_a_row_in_two_pairs_of_one_holm_family(capsys, monkeypatch):
    """benchmarks/compare_rows.py on the committed MT-BioBERT study: max pooling against [CLS] and against mean,
    one family of 2, so the smaller p doubles (Holm) and the larger stays."""
    import runpy
    import sys
    from pathlib import Path

    root = Path(__file__).parents[1]
    study = root / "benchmarks" / "results" / "mt-biobert-cpu"
    monkeypatch.setattr(sys, "argv", ["compare_rows.py", "--pair", f"{study}:single-task all max",
                                      f"{study}:single-task all cls", "--pair", f"{study}:single-task all max",
                                      f"{study}:single-task all mean"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(root / "benchmarks" / "compare_rows.py"), run_name="__main__")
    assert exit_info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].endswith("| +1.09 [+0.78, +1.40] | 2.0 | 0.00205 | 0.00411 (m=2) | above | 0.4 |")
    assert lines[3].endswith("| +0.32 [-0.60, +1.25] | 2.0 | 0.274 | 0.274 (m=2) | within | 1.7 |")
