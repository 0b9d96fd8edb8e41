"""The report's study-level comparisons (issue 33): each row against its baseline over every target's
seed-paired runs, Holm-corrected per baseline, and each matched row against its step-count control.

:mod:`flair_munch.evaluation.study_statistics` computes them; here they are gathered once per report
and written as ``significance.md``'s macro table and ``significance.csv``'s ``macro`` rows, so
``table.md``'s marks, its sentences and the significance files come from the same numbers.
"""

from dataclasses import dataclass, field
from typing import Callable, Optional

from flair_munch.evaluation.report_table import holm_interval, paired_seeds, within_noise
from flair_munch.evaluation.results_index import ResultRecord
from flair_munch.evaluation.study_statistics import RowComparison, compare_rows, compare_with_baseline

DASH = "—"
MACRO_TARGET = "macro"  # significance.csv's target cell of a study-level row


@dataclass
class StudyComparisons:
    """Row -> its comparison with its baseline row, and compared row -> with its step-count control."""

    rows: dict[str, RowComparison] = field(default_factory=dict)
    controls: dict[str, RowComparison] = field(default_factory=dict)

    def all(self) -> list[RowComparison]:
        return [*self.rows.values(), *self.controls.values()]

    def find(self, row: str, baseline: str) -> Optional[RowComparison]:
        """The comparison of ``row`` with ``baseline`` (its baseline row or its control), if made."""
        for compared in (self.rows.get(row), self.controls.get(row)):
            if compared is not None and compared.baseline == baseline:
                return compared
        return None


def compare_study(records: list[ResultRecord], baselines: dict[str, str], controls: dict[str, str],
                  predictions: Optional[Callable] = None, bootstrap_samples: int = 1000) -> StudyComparisons:
    """One Holm family per baseline row (the rows compared with it) and one for the step-count controls.

    ``predictions`` (record -> (gold, predicted) tags, or None) adds the two-level bootstrap; a study
    without committed predictions skips it at the cost of one failed read per run.
    """
    options = {"predictions": predictions, "bootstrap_samples": bootstrap_samples}
    result = StudyComparisons()
    for baseline in dict.fromkeys(b for row, b in baselines.items() if row != b):
        result.rows.update((c.row, c) for c in compare_with_baseline(records, baseline, **options))
    if controls:
        result.controls = {c.row: c for c in compare_rows(records, controls, **options)}
    return result


def _notes(compared: RowComparison) -> str:
    """What could not be computed, and the Wilcoxon note (too few targets to reach p < 0.05)."""
    return "; ".join(compared.reasons + ([compared.wilcoxon_note] if compared.wilcoxon_note else []))


def _bootstrap(compared: RowComparison, key: str) -> Optional[float]:
    return (compared.bootstrap or {}).get(key)


# significance.csv's study-level (``macro``) rows: header -> its cell. Columns shared with the per-target rows
# hold the macro counterpart (diff_*: the targets-independent t-test at the Holm level; wilcoxon_p: over the
# targets' mean Δ; boot_*: the two-level bootstrap); the rest are empty on per-target rows, except aso_eps_min.
STUDY_CSV_COLUMNS: dict[str, Callable[[RowComparison], object]] = {
    "schedule": lambda c: c.row,
    "target": lambda c: MACRO_TARGET,
    "baseline": lambda c: c.baseline,
    "seeds": paired_seeds,
    "diff_mean": lambda c: c.macro.delta,
    "diff_ci_low": lambda c: c.macro.ci_low,
    "diff_ci_high": lambda c: c.macro.ci_high,
    "diff_within_noise": within_noise,
    "t_p": lambda c: c.macro.p,
    "wilcoxon_p": lambda c: c.wilcoxon_p,
    "boot_diff": lambda c: _bootstrap(c, "delta"),
    "boot_ci_low": lambda c: _bootstrap(c, "ci_low"),
    "boot_ci_high": lambda c: _bootstrap(c, "ci_high"),
    "boot_p": lambda c: _bootstrap(c, "p"),
    "ci_level": lambda c: c.macro.confidence,
    "df": lambda c: c.macro.df,
    "holm_family": lambda c: c.family,
    "p_holm": lambda c: c.p_holm,
    "verdict": lambda c: c.verdict,
    "aso_eps_min": lambda c: c.aso_pooled,
    "min_detectable": lambda c: c.min_detectable,
    "seeds_for_one_point": lambda c: c.seeds_for_one_point,
    "notes": _notes,
}


def study_csv_rows(comparisons: StudyComparisons, columns: list[str]) -> list[list]:
    """The ``macro`` rows of significance.csv under its full header ``columns``."""
    return [[STUDY_CSV_COLUMNS[name](c) if name in STUDY_CSV_COLUMNS else None for name in columns]
            for c in comparisons.all()]


def _number(value: Optional[float], spec: str = ".2f") -> str:
    return DASH if value is None else format(value, spec)


def _boot_text(compared: RowComparison) -> str:
    boot = compared.bootstrap or {}
    if boot.get("delta") is None:
        return DASH
    return f"{boot['delta']:+.2f} [{boot['ci_low']:+.2f}, {boot['ci_high']:+.2f}]"


def _seeds_text(compared: RowComparison) -> str:
    if compared.seeds_for_one_point is not None:
        return str(compared.seeds_for_one_point)
    return "more than 1000" if compared.min_detectable is not None else DASH


def study_markdown(comparisons: StudyComparisons) -> str:
    """significance.md's macro table (one line per comparison) and its legend."""
    lines = ["| schedule | baseline | Δ macro [Holm-level CI] | level | df | p (Holm) | verdict | Wilcoxon p over "
             "targets | ASO ε_min pooled | detectable Δ (80% power) | seeds for ±1 F1 | two-level bootstrap Δ [CI] "
             "| notes |", "|---" * 13 + "|"]
    for c in comparisons.all():
        level = DASH if c.macro.ci_low is None else f"{100 * c.macro.confidence:.2f}%"
        cells = [c.row, c.baseline, holm_interval(c), level, _number(c.macro.df, ".1f"),
                 _number(c.p_holm, ".3g") + (f" (m={c.family})" if c.p_holm is not None else ""), c.verdict,
                 _number(c.wilcoxon_p, ".3g"), _number(c.aso_pooled, ".2f"), _number(c.min_detectable, ".1f"),
                 _seeds_text(c),
                 _boot_text(c), _notes(c) or DASH]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + STUDY_LEGEND


STUDY_LEGEND = (
    "Macro over targets (what table.md's Δ, `≈` and sentences use): Δ is the mean over targets of each target's "
    "mean seed-paired difference; its t-test treats targets as independent (Var = Σ_t s_t² / (n_t·T²), "
    "Welch–Satterthwaite df). p (Holm): Holm's step-down over the m rows compared with the same baseline (the "
    "rows compared with their step-count controls are a second family); the interval is at the level of the "
    "Holm step that decides the row, so it excludes 0 exactly when the verdict is above/below. Wilcoxon: "
    "signed-rank over the targets' mean Δ (needs 6 targets to reach p < 0.05). ASO ε_min (Dror et al. 2019, "
    "deepsig): below 0.5 the row's runs tend to beat the baseline's (0: they dominate), Bonferroni over the "
    "family. Detectable Δ: the smallest macro Δ the t-test finds with 80% power at α/m given the observed "
    "variance; seeds for ±1 F1: seeds per target that would find 1 point. Two-level bootstrap (where test "
    "predictions exist): seeds and test sentences resampled, a check of the test-sentence share of the noise, "
    "not what the verdict uses. docs/recipes.md, \"Study-level statistics\", has the references.")
