"""Study-level statistics: is a row above its baseline over ALL targets and seeds, once the study's
many comparisons are corrected for, and how many seeds would the question need?

Pairing runs by seed number across targets leaves n - 1 = 2 degrees of freedom with three seeds,
although runs of different targets that share a seed number share nothing else (other data, other
model). Here every target contributes its own seed-paired differences and targets are independent
(docs/recipes.md, "Study-level statistics"). Pure functions over plain numbers; :func:`compare_rows`
reads result records.
"""

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
from scipy import optimize, stats

from flair_munch.evaluation.results_index import ResultRecord, selected
from flair_munch.evaluation.statistics import MIN_WILCOXON, sentence_counts, sentence_spans, two_level_bootstrap

ALPHA = 0.05
POWER = 0.8
SEED_LIMIT = 1000  # seeds per target beyond which "seeds needed" is reported as "more than"
# ASO (deepsig): its bootstrap only estimates the spread of the violation ratio, and deepsig evaluates its
# quantile functions point by point (about 2-4 ms an iteration at dt 0.01), so 7 targets x 40 iterations plus
# 200 pooled ones take about 1 s (measured); the sd of a bootstrap sd from B draws is about 1/sqrt(2B) of it
# (11 % and 5 %), a small error in eps_min next to what 3 seeds a side leave uncertain.
ASO_DT = 0.01  # 100 grid points: at least 4 inside every step of the quantile function of up to 25 scores
ASO_ITERATIONS_TARGET = 40
ASO_ITERATIONS_POOLED = 200


@dataclass
class MacroComparison:
    """Macro F1 difference (x100) of a row to its baseline from every target's seed-paired runs."""

    delta: Optional[float] = None  # mean over targets of each target's mean seed-paired difference
    se: Optional[float] = None  # sqrt(sum_t s_t^2 / (n_t T^2))
    df: Optional[float] = None  # Welch-Satterthwaite; None when no target varies over seeds
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    confidence: float = 1 - ALPHA
    p: Optional[float] = None  # two-sided t-test of delta = 0
    variances: dict[str, float] = field(default_factory=dict)  # per target: s_t^2 of its differences
    seeds: dict[str, int] = field(default_factory=dict)  # per target: paired seeds n_t
    reason: Optional[str] = None  # why nothing (or only delta) could be computed


def macro_difference(differences: dict[str, Sequence[float]], confidence: float = 1 - ALPHA) -> MacroComparison:
    """Macro Δ with Var = Σ_t s_t² / (n_t · T²), Welch–Satterthwaite df and a t-interval at ``confidence``.

    ``differences`` maps each target to its seed-paired differences (row minus baseline). A target with
    one paired seed has no variance estimate: delta is given, the rest is None with ``reason``.
    """
    result = MacroComparison(confidence=confidence, seeds={t: len(d) for t, d in differences.items()})
    if not differences or not all(len(d) for d in differences.values()):
        result.reason = "no paired runs on " + (", ".join(t for t, d in differences.items() if not len(d))
                                                or "any target")
        return result
    targets = len(differences)
    result.delta = float(np.mean([np.mean(d) for d in differences.values()]))
    one_seed = [t for t, d in differences.items() if len(d) < 2]
    if one_seed:
        result.reason = (f"{', '.join(one_seed)}: one paired seed, so its seed noise cannot be estimated; "
                         "run at least 2 seeds per target")
        return result
    result.variances = {t: float(np.var(d, ddof=1)) for t, d in differences.items()}
    shares = np.array([result.variances[t] / (len(d) * targets ** 2) for t, d in differences.items()])
    result.se = float(math.sqrt(shares.sum()))
    if result.se == 0.0:  # every difference constant over seeds: as paired_difference, p is 0 or 1
        result.ci_low = result.ci_high = result.delta
        result.p = 1.0 if result.delta == 0.0 else 0.0
        return result
    result.df = float(shares.sum() ** 2 / sum(s ** 2 / (len(d) - 1) for s, d in zip(shares, differences.values())))
    half = float(stats.t.ppf((1 + confidence) / 2, result.df)) * result.se
    result.ci_low, result.ci_high = result.delta - half, result.delta + half
    result.p = float(2 * stats.t.sf(abs(result.delta) / result.se, result.df))
    return result


@dataclass
class Holm:
    """Holm–Bonferroni step-down over one family of p-values (None: a row that could not be tested)."""

    adjusted: list[Optional[float]]
    reject: list[bool]
    confidence: list[Optional[float]]  # the level of each row's interval (see :func:`holm`)


def holm(p_values: Sequence[Optional[float]], alpha: float = ALPHA) -> Holm:
    """Holm (1979): adjusted p = running max of (m - i + 1) p_(i) over the ascending p's, capped at 1.

    Untested rows (None) are left out of the family (m counts tested rows). Interval rule: a row that
    Holm decides at step i gets the t-interval at 1 - alpha / (m - i + 1), the level it is tested at;
    rows after the first step that fails get that step's level. So an interval excludes 0 exactly when
    Holm rejects, and no row is read at less than its step's Bonferroni level (these are not
    simultaneous intervals: a row Holm rejects late has a narrower one than Bonferroni would give).
    """
    tested = sorted((i for i, p in enumerate(p_values) if p is not None), key=lambda i: p_values[i])
    m = len(tested)
    adjusted: list[Optional[float]] = [None] * len(p_values)
    reject = [False] * len(p_values)
    confidence: list[Optional[float]] = [None] * len(p_values)
    running, stop = 0.0, m
    for step, i in enumerate(tested):
        scaled = (m - step) * p_values[i]
        running = max(running, min(1.0, scaled))
        adjusted[i] = running
        if stop == m and scaled > alpha:
            stop = step
        reject[i] = step < stop
        confidence[i] = 1 - alpha / (m - min(step, stop))
    return Holm(adjusted, reject, confidence)


def t_test_power(effect: float, se: float, df: float, alpha: float = ALPHA) -> float:
    """Power of the two-sided t-test at ``alpha`` for a true difference ``effect``: noncentral t, nc = effect/se.

    The far tail is taken as ``sf(c, df, -nc)`` (= ``cdf(-c, df, nc)``, which scipy returns as nan for large nc)."""
    critical = stats.t.ppf(1 - alpha / 2, df)
    noncentrality = abs(effect) / se
    return float(stats.nct.sf(critical, df, noncentrality) + stats.nct.sf(critical, df, -noncentrality))


def min_detectable_delta(se: float, df: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest |Δ| the two-sided t-test detects with ``power`` given the observed se and df."""
    high = se * (stats.t.ppf(1 - alpha / 2, df) + stats.norm.ppf(power) + 1)
    while t_test_power(high, se, df, alpha) < power:
        high *= 2
    return float(optimize.brentq(lambda d: t_test_power(d, se, df, alpha) - power, 0.0, high, xtol=1e-6))


def seeds_needed(variances: Sequence[float], effect: float = 1.0, alpha: float = ALPHA, power: float = POWER,
                 limit: int = SEED_LIMIT) -> Optional[int]:
    """Seeds per target for the macro t-test to detect ``effect`` F1 with ``power``, each target keeping its
    observed variance: se² = Σ s_t² / (n T²), df = (n - 1)(Σ s_t²)² / Σ s_t⁴. None: more than ``limit``."""
    total, squares, targets = float(np.sum(variances)), float(np.sum(np.square(variances))), len(variances)
    if total == 0.0:
        return 2

    def enough(n: int) -> bool:
        return t_test_power(effect, math.sqrt(total / n) / targets, (n - 1) * total ** 2 / squares, alpha) >= power

    if not enough(limit):
        return None
    low, high = 1, limit  # enough(high) holds; enough(low) is taken as failing (one seed has no df)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def wilcoxon_over_targets(target_means: Sequence[float]) -> tuple[Optional[float], Optional[str]]:
    """Wilcoxon (1945) signed-rank p over the targets' mean differences, and a note when it cannot decide."""
    count = len(target_means)
    if count < 2:
        return None, f"{count} target: nothing to rank across targets"
    if np.allclose(target_means, 0.0):
        return 1.0, "every target's mean difference is 0"
    p = float(stats.wilcoxon(target_means).pvalue)
    if count < MIN_WILCOXON:
        return p, f"{count} targets: its smallest two-sided p is {2 / 2 ** count:.3g}, so p < 0.05 is out of reach"
    return p, None


def aso_epsilon(scores_a: Sequence[float], scores_b: Sequence[float], comparisons: int = 1, alpha: float = ALPHA,
                iterations: int = ASO_ITERATIONS_TARGET, seed: int = 0) -> Optional[float]:
    """ε_min of almost stochastic order (Dror et al. 2019, ``deepsig.aso``): below 0.5, A is better than B.

    Bonferroni over ``comparisons`` is passed as the confidence level 1 - alpha/comparisons (deepsig's own
    ``num_comparisons`` adds (1 - level)/k, which is less than Bonferroni for k > 2). None: fewer than
    2 scores on a side.
    """
    if len(scores_a) < 2 or len(scores_b) < 2:
        return None
    from deepsig import aso  # imports pandas and joblib: only when asked

    with warnings.catch_warnings():  # runs that dominate outright: eps_min is 0 or 1, no warning for the report
        warnings.filterwarnings("ignore", "Division by zero encountered in violation ratio")
        return float(aso(list(scores_a), list(scores_b), confidence_level=1 - alpha / comparisons,
                         num_bootstrap_iterations=iterations, dt=ASO_DT, show_progress=False, seed=seed))


def aso_over_targets(row: dict[str, Sequence[float]], baseline: dict[str, Sequence[float]], comparisons: int = 1,
                     alpha: float = ALPHA, seed: int = 0) -> dict:
    """ASO per target (Bonferroni over the targets x ``comparisons``) and pooled (over ``comparisons``).

    Pooled scores are each run's F1 minus the baseline's mean on the same target, so target difficulty
    (tens of points between corpora) does not swamp the difference. ``reason`` names what was skipped.
    """
    targets = [t for t in row if t in baseline]
    per_target = {t: aso_epsilon(row[t], baseline[t], comparisons * len(targets), alpha, ASO_ITERATIONS_TARGET, seed)
                  for t in targets}
    skipped = [t for t, eps in per_target.items() if eps is None]
    centre = {t: float(np.mean(baseline[t])) for t in targets if len(baseline[t])}
    pooled_a = [x - centre[t] for t in centre for x in row[t]]
    pooled_b = [x - centre[t] for t in centre for x in baseline[t]]
    pooled = aso_epsilon(pooled_a, pooled_b, comparisons, alpha, ASO_ITERATIONS_POOLED, seed)
    reason = f"{', '.join(skipped)}: fewer than 2 seeds on a side, no per-target ASO" if skipped else None
    return {"per_target": per_target, "pooled": pooled, "reason": reason}


@dataclass
class RowComparison:
    """One row against its baseline, as a study report reads it (F1 x100 throughout)."""

    row: str
    baseline: str
    macro: MacroComparison  # its interval at the Holm level of the row (``macro.confidence``)
    family: int = 0  # tested rows in the Holm family
    p_holm: Optional[float] = None
    verdict: str = "untested"  # "above" / "below" (beyond seed noise after Holm), "within", "untested"
    wilcoxon_p: Optional[float] = None
    wilcoxon_note: Optional[str] = None
    aso_pooled: Optional[float] = None
    aso_by_target: dict[str, Optional[float]] = field(default_factory=dict)
    min_detectable: Optional[float] = None  # smallest |macro Δ| detected with 80 % power at alpha / family
    seeds_for_one_point: Optional[int] = None  # seeds per target that detect ±1 F1 with 80 % power
    bootstrap: Optional[dict] = None  # :func:`two_level_bootstrap`, where test predictions are given
    reasons: list[str] = field(default_factory=list)  # what could not be computed, and why
    conclusion: str = ""


Predictions = Callable[[ResultRecord], Optional[tuple]]


def _f1_grid(records: list[ResultRecord]) -> tuple[list[str], dict[tuple[str, str], dict[int, ResultRecord]]]:
    """Targets in study order and (schedule, target) -> seed -> selected record with a test F1."""
    runs = [r for r in selected(records) if (r.test or {}).get("f1") is not None]
    grid: dict[tuple[str, str], dict[int, ResultRecord]] = {}
    for r in runs:
        grid.setdefault((r.schedule, r.target), {})[r.seed] = r
    return list(dict.fromkeys(r.target for r in selected(records))), grid


def _test_f1(record: ResultRecord) -> float:
    return 100.0 * record.test["f1"]


def _paired(grid: dict, row: str, baseline: str, target: str) -> list[tuple[ResultRecord, ResultRecord]]:
    runs, base = grid.get((row, target), {}), grid.get((baseline, target), {})
    return [(runs[s], base[s]) for s in sorted(set(runs) & set(base))]


class _SentenceCounts:
    """Each run's gold tags and :func:`sentence_counts`, computed once (a baseline run pairs with every row;
    seqeval's span finding is the slow part, so each target's gold spans are found once too)."""

    def __init__(self, predictions: Predictions):
        self.predictions, self.known, self.gold = predictions, {}, {}

    def __call__(self, record: ResultRecord) -> Optional[tuple]:
        if record.run_id not in self.known:
            read = self.predictions(record)
            if read is not None:
                gold, spans = self.gold.get(record.target, (None, None))
                if gold != read[0]:
                    gold, spans = self.gold[record.target] = read[0], sentence_spans(read[0])
                read = (read[0], sentence_counts(*read, gold_spans=spans))
            self.known[record.run_id] = read
        return self.known[record.run_id]


def _bootstrap(pairs: dict[str, list[tuple]], counts: _SentenceCounts, n: int, seed: int, confidence: float) -> dict:
    """The two-level bootstrap from the runs' test predictions, or its ``reason`` where some are missing."""
    runs: dict[str, list[tuple]] = {}
    for target, pair in pairs.items():
        read = [(counts(a), counts(b)) for a, b in pair]
        if any(a is None or b is None or a[0] != b[0] for a, b in read):
            return {"reason": f"{target}: a run has no test predictions (or not on the same sentences)"}
        runs[target] = [(a[1], b[1]) for a, b in read]
    return two_level_bootstrap(runs, n=n, seed=seed, confidence=confidence)


def _seeds_text(seeds: dict[str, int]) -> str:
    low, high = min(seeds.values()), max(seeds.values())
    return f"{low} seeds" if low == high else f"{low}-{high} seeds"


def conclusion(c: RowComparison) -> str:
    """One sentence on what the comparison lets a reader conclude."""
    if c.verdict == "untested":
        return f"{c.row} against {c.baseline}: not tested: {'; '.join(c.reasons) or 'no paired runs'}"
    corrected = f"Holm-corrected over {c.family} comparison{'s' if c.family != 1 else ''}"
    if c.verdict in ("above", "below"):
        return (f"{c.row} is {c.verdict} {c.baseline} beyond seed noise ({corrected}): Δ macro "
                f"{c.macro.delta:+.2f} F1 [{c.macro.ci_low:+.2f}, {c.macro.ci_high:+.2f}], p = {c.p_holm:.3g}")
    seeds = _seeds_text(c.macro.seeds)
    if c.min_detectable is None:
        return f"{c.row} is within seed noise of {c.baseline} ({corrected})"
    if c.seeds_for_one_point is not None and c.seeds_for_one_point <= min(c.macro.seeds.values()):
        return (f"{c.row} is within seed noise of {c.baseline} ({corrected}): {seeds} detect {c.min_detectable:.1f} "
                f"F1 or more, so a difference, if any, is likely smaller")
    needed = (f"about {c.seeds_for_one_point} seeds" if c.seeds_for_one_point is not None
              else f"more than {SEED_LIMIT} seeds")
    return (f"{c.row} is within seed noise of {c.baseline} ({corrected}): {seeds} cannot detect less than "
            f"{c.min_detectable:.1f} F1; {needed} would be needed for 1 point")


def _compare(grid: dict, targets: list[str], row: str, baseline: str) -> tuple[RowComparison, dict]:
    """The row's uncorrected macro comparison and its seed pairs per target."""
    pairs = {t: _paired(grid, row, baseline, t) for t in targets}
    macro = macro_difference({t: [_test_f1(a) - _test_f1(b) for a, b in runs] for t, runs in pairs.items()})
    comparison = RowComparison(row, baseline, macro, reasons=[macro.reason] if macro.reason else [])
    means = [float(np.mean([_test_f1(a) - _test_f1(b) for a, b in runs])) for runs in pairs.values() if runs]
    comparison.wilcoxon_p, comparison.wilcoxon_note = wilcoxon_over_targets(means)
    return comparison, pairs


def compare_rows(records: list[ResultRecord], pairs: dict[str, str], alpha: float = ALPHA,
                 predictions: Optional[Predictions] = None, bootstrap_samples: int = 1000, aso: bool = True,
                 seed: int = 0) -> list[RowComparison]:
    """Each ``row -> baseline`` pair of one Holm family (rows against one baseline, or rows against their
    step-count controls), from a study's records (selected runs; F1 x100; pairs by seed within a target).

    The macro t-test decides the verdict after Holm; the interval is at the row's Holm level; power and
    seeds needed use alpha / family (the most demanding Holm step). ``predictions`` (record -> (gold,
    predicted) tags, or None) adds the two-level bootstrap at the same level (a check of the
    test-sentence share of the noise; the verdict is the t-test's); ``aso`` adds deepsig's ε_min.
    """
    targets, grid = _f1_grid(records)
    counts = _SentenceCounts(predictions) if predictions is not None else None
    compared = [_compare(grid, targets, row, baseline) for row, baseline in pairs.items()]
    corrected = holm([c.macro.p for c, _ in compared], alpha)
    family = max(1, sum(c.macro.p is not None for c, _ in compared))
    for i, (c, runs) in enumerate(compared):
        c.family, c.p_holm = family, corrected.adjusted[i]
        if c.macro.p is not None:
            c.macro = macro_difference({t: [_test_f1(a) - _test_f1(b) for a, b in r] for t, r in runs.items()},
                                       corrected.confidence[i])
            c.verdict = ("above" if c.macro.delta > 0 else "below") if corrected.reject[i] else "within"
        if c.macro.se and c.macro.df:
            c.min_detectable = min_detectable_delta(c.macro.se, c.macro.df, alpha / family)
            c.seeds_for_one_point = seeds_needed(list(c.macro.variances.values()), 1.0, alpha / family)
        if aso:
            scores = {name: {t: [_test_f1(r) for r in grid.get((name, t), {}).values()] for t in targets}
                      for name in (c.row, c.baseline)}
            test = aso_over_targets(scores[c.row], scores[c.baseline], family, alpha, seed)
            c.aso_pooled, c.aso_by_target = test["pooled"], test["per_target"]
            c.reasons += [test["reason"]] if test["reason"] else []
        if counts is not None and c.macro.se is not None:
            c.bootstrap = _bootstrap(runs, counts, bootstrap_samples, seed, c.macro.confidence)
            c.reasons += [c.bootstrap["reason"]] if c.bootstrap.get("reason") else []
        c.conclusion = conclusion(c)
    return [c for c, _ in compared]


def compare_with_baseline(records: list[ResultRecord], baseline: str = "single-task", **options) -> list[RowComparison]:
    """Every row whose baseline is ``baseline`` (a record's ``baseline``, else single-task) against it: one
    Holm family. ``options`` as :func:`compare_rows`."""
    rows = dict.fromkeys(r.schedule for r in selected(records)
                         if (r.baseline or "single-task") == baseline and r.schedule != baseline)
    return compare_rows(records, {row: baseline for row in rows}, **options)
