"""Study report: the paper-style F1 table, significance against the baseline, and learning-curve plots.

The baseline of a row is single-task; in a study of model variants (an ablation) it is the first
variant of the same schedule and train size, as each record's ``baseline`` field names it.
"""

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from flair_munch.evaluation.report_controls import control_pairs, controls_block, converged_text
from flair_munch.evaluation.report_study import (
    STUDY_CSV_COLUMNS, StudyComparisons, compare_study, study_csv_rows, study_markdown,
)
from flair_munch.evaluation.report_transfer import plot_transfer_matrix
from flair_munch.evaluation.report_table import NOISE_MARK, TABLE_DELTA_COLUMNS, delta_csv, interval, table_block
from flair_munch.evaluation.results_index import (
    DamagedIndexError, ResultRecord, csv_table, csv_value, read_predictions, read_results, selected,
)
from flair_munch.evaluation.span_metrics import span_scores
from flair_munch.evaluation.statistics import mean_sd, paired_bootstrap, paired_difference
from flair_munch.evaluation.study_statistics import RowComparison

BASELINE = "single-task"
DASH = "—"


@dataclass
class ReportPaths:
    """Where :func:`write_report` put each artefact, plus the Markdown a CLI can print."""

    out_dir: Path
    table_md: Path
    table_csv: Path
    significance_md: Path
    significance_csv: Path
    plots: list[Path] = field(default_factory=list)
    markdown: str = ""
    runs_csv: Optional[Path] = None  # every run of the index, one row each (its columns: ResultRecord's fields)


def _records(study_dir: Path) -> list[ResultRecord]:
    """The study's records; a damaged index (cut mid-line, garbage) is rebuilt from the run folders, as ``run``
    does, rather than giving a table from fewer runs."""
    try:
        return read_results(study_dir)
    except DamagedIndexError as damage:
        from flair_munch.study.ledger import rebuild_index

        return rebuild_index(study_dir, damage)


class _Study:
    """Selected runs indexed by (schedule, target) -> seed, with test predictions read once."""

    def __init__(self, study_dir: Union[str, Path]):
        self.study_dir = Path(study_dir)
        self.records = _records(self.study_dir)  # every grid point
        self.runs = selected(self.records)
        self.targets = list(dict.fromkeys(r.target for r in self.runs))
        schedules = list(dict.fromkeys(r.schedule for r in self.runs))
        self.schedules = [s for s in schedules if s == BASELINE] + [s for s in schedules if s != BASELINE]
        self.grid: dict[tuple[str, str], dict[int, ResultRecord]] = {}
        self.baselines: dict[str, str] = {}
        for r in self.runs:
            self.grid.setdefault((r.schedule, r.target), {})[r.seed] = r
            # variant studies compare each row with its own baseline row (same schedule and train size)
            self.baselines[r.schedule] = r.baseline or BASELINE
        self.controls = control_pairs(self.runs)  # compared row -> its step-count control row
        self._predictions: dict[int, Optional[tuple]] = {}

    def cell(self, schedule: str, target: str) -> dict[int, ResultRecord]:
        return self.grid.get((schedule, target), {})

    def predictions(self, record: ResultRecord) -> Optional[tuple]:
        key = id(record)
        if key not in self._predictions:
            self._predictions[key] = read_predictions(record, self.study_dir)
        return self._predictions[key]

    def compare(self, bootstrap_samples: int) -> StudyComparisons:
        """The study-level comparisons every table and sentence of the report reads."""
        return compare_study(self.records, self.baselines, self.controls, self.predictions, bootstrap_samples)

    def compared_rows(self, comparisons: StudyComparisons) -> dict[str, Optional[RowComparison]]:
        """Per row its comparison with its baseline row; None for a baseline row."""
        return {s: None if self.baselines[s] == s else comparisons.rows.get(s) for s in self.schedules}


def _test_f1(record: ResultRecord) -> Optional[float]:
    test = record.test or {}
    return None if test.get("f1") is None else 100.0 * test["f1"]


def _seeds(study: _Study, schedule: str) -> list[int]:
    """Seeds for which the schedule has a run on every target."""
    if not study.targets:
        return []
    return sorted(set.intersection(*(set(study.cell(schedule, t)) for t in study.targets)))


def _macro_by_seed(study: _Study, schedule: str) -> dict[int, float]:
    """Seed -> macro test F1 x 100 (mean over targets), for seeds with a test F1 on every target."""
    macro = {}
    for seed in _seeds(study, schedule):
        f1s = [_test_f1(study.cell(schedule, t)[seed]) for t in study.targets]
        if None not in f1s:
            macro[seed] = float(np.mean(f1s))
    return macro


def _table(study: _Study) -> tuple[list[str], dict[str, dict[str, tuple]]]:
    """Per schedule and column: (mean, sd, n) of test F1 x 100 over seeds, or None for n/a."""
    columns = [*study.targets, "macro", "micro"]
    rows: dict[str, dict[str, tuple]] = {}
    for schedule in study.schedules:
        row: dict[str, tuple] = {}
        for target in study.targets:
            values = [v for v in map(_test_f1, study.cell(schedule, target).values()) if v is not None]
            row[target] = (*mean_sd(values), len(values)) if values else None
        macro = list(_macro_by_seed(study, schedule).values())
        micro, micro_missing = [], False
        for seed in _seeds(study, schedule):
            records = [study.cell(schedule, t)[seed] for t in study.targets]
            predictions = [study.predictions(r) for r in records]
            if None in predictions:
                micro_missing = True
                continue
            gold = [s for g, _ in predictions for s in g]
            pred = [s for _, p in predictions for s in p]
            micro.append(100.0 * span_scores(gold, pred).f1)
        row["macro"] = (*mean_sd(macro), len(macro)) if macro else None
        # pooling needs every target's predictions; a partial pool would silently reweight targets
        row["micro"] = (*mean_sd(micro), len(micro)) if micro and not micro_missing else None
        rows[schedule] = row
    return columns, rows


def _mean_updates(records: dict[int, ResultRecord], key: str) -> Optional[float]:
    values = [(r.updates or {}).get(key) for r in records.values()]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _aux_updates(records: dict[int, ResultRecord], target: str) -> dict[str, float]:
    """Mean updates of each other head (the auxiliary corpora), by name."""
    names = sorted({k for r in records.values() for k in (r.updates or {}) if k not in ("shared", target)})
    return {name: _mean_updates(records, name) for name in names}


def _updates_text(updates: dict[str, float], sep: str = ", ", join: str = " ") -> str:
    """``bc2gm 40, s800 40`` (Markdown) or ``bc2gm=40;s800=40`` (CSV)."""
    return sep.join(f"{name}{join}{_num(value, 'g')}" for name, value in updates.items())


def _printed_table(study: _Study, comparisons: StudyComparisons) -> tuple[
        list[str], dict[str, dict[str, tuple]], dict[str, Optional[RowComparison]], str]:
    """Columns, cells, each row's comparison with its baseline row, and the Markdown ``table.md`` holds (table,
    legend, conclusions), all from the same comparisons so the printed sentences follow the printed numbers."""
    columns, rows = _table(study)
    deltas = study.compared_rows(comparisons)
    shared = {}  # mean shared-encoder updates over all of a row's runs
    for s in study.schedules:
        values = [(r.updates or {}).get("shared") for t in study.targets for r in study.cell(s, t).values()]
        values = [v for v in values if v is not None]
        shared[s] = float(np.mean(values)) if values else None
    more_updates = {s for s, d in deltas.items() if d is not None and shared[s] is not None
                    and shared.get(d.baseline) is not None and shared[s] > shared[d.baseline]}
    block = table_block(columns, rows, deltas, study.targets, more_updates)
    controls = controls_block(comparisons.rows, comparisons.controls)
    return columns, rows, deltas, block + (f"\n\n{controls}" if controls else "")


def _significance(study: _Study, comparisons: StudyComparisons, n: int = 1000) -> list[dict]:
    """One row per (schedule, target): seed-paired difference to its baseline row, bootstrap, ASO ε_min, update
    counts; then each row a step-count control matches against that control.

    The bootstrap uses the lowest seed both schedules share (seed 1 in a usual study): it measures
    test-sentence noise, which one seed shows as well as several. Baseline rows carry only update
    counts, so a gain that comes with more steps is visible next to it.
    """
    pairs = [(s, study.baselines.get(s, BASELINE)) for s in study.schedules] + list(study.controls.items())
    rows = [row for schedule, baseline in pairs for target in study.targets
            if (row := _compared(study, schedule, target, baseline, n)) is not None]
    for row in rows:
        compared = comparisons.find(row["schedule"], row["baseline"])
        row["aso_eps_min"] = None if compared is None else compared.aso_by_target.get(row["target"])
    return rows


def _compared(study: _Study, schedule: str, target: str, baseline: str, n: int) -> Optional[dict]:
    runs, base = study.cell(schedule, target), study.cell(baseline, target)
    if not runs:
        return None
    row = {"schedule": schedule, "target": target, "baseline": baseline, "seeds": len(runs),
           "converged": converged_text(list(runs.values()), study.study_dir),
           "shared_updates": _mean_updates(runs, "shared"), "target_updates": _mean_updates(runs, target),
           "aux_updates": _aux_updates(runs, target)}
    common = sorted(s for s in set(runs) & set(base) if _test_f1(runs[s]) is not None
                    and _test_f1(base[s]) is not None)
    if schedule != baseline and common:
        diff = paired_difference([_test_f1(runs[s]) for s in common], [_test_f1(base[s]) for s in common])
        row.update(seeds=len(common), diff_mean=diff["mean"], diff_sd=diff["sd"], diff_ci_low=diff["ci_low"],
                   diff_ci_high=diff["ci_high"], diff_within_noise=diff["within_noise"], t_p=diff["t_p"],
                   wilcoxon_p=diff["wilcoxon_p"])
        for seed in common:
            a, b = study.predictions(runs[seed]), study.predictions(base[seed])
            if a is None or b is None or a[0] != b[0]:
                continue  # no predictions, or not the same test sentences: nothing to pair
            boot = paired_bootstrap(b[0], a[1], b[1], n=n)
            row.update(boot_seed=seed, boot_diff=100 * boot["difference"], boot_ci_low=100 * boot["ci_low"],
                       boot_ci_high=100 * boot["ci_high"], boot_p=boot["p"], within_noise=boot["within_noise"])
            break
    return row


SIGNIFICANCE_COLUMNS = ["schedule", "target", "baseline", "seeds", "diff_mean", "diff_sd", "diff_ci_low",
                        "diff_ci_high", "diff_within_noise", "t_p", "wilcoxon_p", "boot_seed", "boot_diff",
                        "boot_ci_low", "boot_ci_high", "boot_p", "within_noise", "converged", "shared_updates",
                        "target_updates", "aux_updates"]
SIGNIFICANCE_COLUMNS += [c for c in STUDY_CSV_COLUMNS if c not in SIGNIFICANCE_COLUMNS]  # the macro rows' own
SIGNIFICANCE_LEGEND = (f"Per target, each read on its own (uncorrected; the study's verdicts are the macro test's "
                       f"above). ΔF1 over seeds: mean ± sd of the seed-paired differences with their 95% t-interval; "
                       f"{NOISE_MARK}: the interval contains 0 (or only one seed is paired): within seed noise. "
                       f"ASO ε_min: almost stochastic order on the target's runs, Bonferroni over targets and rows. "
                       f"Bootstrap: one seed's test sentences resampled; within noise: its 95% interval contains 0 "
                       f"(test-sentence noise only, not seed noise). Updates: mean batches per run that trained the "
                       f"shared encoder, the target's head and each auxiliary corpus's head (a gain that comes with "
                       f"more updates shows here). Converged: runs whose every stage stopped on the learning-rate "
                       f"rule, not at the epoch cap.")


def _num(value, spec: str = ".2f") -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if spec == "g":  # update counts: whole numbers unless seeds disagree
        return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
    return format(value, spec)


def _significance_markdown(rows: list[dict], comparisons: StudyComparisons) -> str:
    """significance.md: the study-level (macro) comparisons, then the per-target tests and update counts."""
    header = ("| schedule | target | baseline | seeds | ΔF1 vs baseline (mean ± sd) [95% CI] | t-test p | Wilcoxon p "
              "| bootstrap seed | bootstrap ΔF1 [95% CI] | bootstrap p (two-sided) | within noise | ASO ε_min "
              "| converged | shared updates | head updates | aux head updates |")
    lines = [header, "|---" * 16 + "|"]
    for r in rows:
        diff = DASH if r.get("diff_mean") is None else f"{r['diff_mean']:+.2f}" + (
            "" if r.get("diff_sd") is None else f" ± {r['diff_sd']:.2f}") + (
            f" {interval(r.get('diff_ci_low'), r.get('diff_ci_high'), r['seeds'])}") + (
            f" {NOISE_MARK}" if r.get("diff_within_noise") else "")
        boot = DASH if r.get("boot_diff") is None else (
            f"{r['boot_diff']:+.2f} [{r['boot_ci_low']:+.2f}, {r['boot_ci_high']:+.2f}]")
        cells = [r["schedule"], r["target"], r["baseline"], str(r["seeds"]), diff, _num(r.get("t_p"), ".3g"),
                 _num(r.get("wilcoxon_p"), ".3g"), _num(r.get("boot_seed"), "d"), boot, _num(r.get("boot_p"), ".3g"),
                 _num(r.get("within_noise")), _num(r.get("aso_eps_min")), r.get("converged", DASH),
                 _num(r.get("shared_updates"), "g"), _num(r.get("target_updates"), "g"),
                 _updates_text(r.get("aux_updates") or {}) or DASH]
        lines.append("| " + " | ".join(cells) + " |")
    return (f"### Macro over targets\n\n{study_markdown(comparisons)}\n\n### Per target\n\n" + "\n".join(lines)
            + "\n\n" + SIGNIFICANCE_LEGEND)


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)  # Agg explicitly: reports are written on headless machines
    figure.tight_layout()
    figure.savefig(path, dpi=120, bbox_inches="tight")  # a legend outside the axes is kept in the image
    return path


def _plot_dev(study: _Study, target: str, out_dir: Path) -> Optional[Path]:
    """Dev F1 per epoch (mean over seeds), x = epoch index counted across all stages of a run."""
    figure = Figure(figsize=(7, 4))
    axes = figure.add_subplot()
    drawn = False
    for schedule in study.schedules:
        by_epoch: dict[int, list[float]] = {}
        for record in study.cell(schedule, target).values():
            for x, entry in enumerate(record.history or [], start=1):
                if entry.get("dev_f1") is not None:
                    by_epoch.setdefault(x, []).append(100.0 * entry["dev_f1"])
        if by_epoch:
            xs = sorted(by_epoch)
            axes.plot(xs, [np.mean(by_epoch[x]) for x in xs], marker=".", label=schedule)
            drawn = True
    if not drawn:
        return None
    axes.set(xlabel="epoch (cumulative over stages)", ylabel="dev F1 (mean over seeds)", title=f"dev F1: {target}")
    axes.legend(fontsize="small")
    return _save(figure, out_dir / f"dev_f1_{re.sub(r'[^A-Za-z0-9_.-]+', '_', target)}.png")


def _plot_test(columns: list[str], rows: dict[str, dict[str, tuple]], out_dir: Path) -> Path:
    """Grouped bars of test F1: one group per target, one bar per schedule, error bars = sd over seeds."""
    figure = Figure(figsize=(max(6, 1.5 * len(columns)), 4))
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(rows))
    positions = np.arange(len(columns))
    for i, (schedule, row) in enumerate(rows.items()):
        means = [row[c][0] if row[c] else np.nan for c in columns]
        sds = [(row[c][1] or 0.0) if row[c] else 0.0 for c in columns]
        axes.bar(positions + (i - (len(rows) - 1) / 2) * width, means, width, yerr=sds, capsize=3, label=schedule)
    slanted = len(columns) > 3  # long corpus names side by side overlap
    axes.set_xticks(positions, columns, rotation=20 if slanted else 0, ha="right" if slanted else "center")
    axes.set(ylabel="test F1", title="test F1 (mean ± sd over seeds)")
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)  # beside the bars
    return _save(figure, out_dir / "test_f1.png")


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([[_csv_cell(v) for v in r] for r in rows])


def _csv_cell(value):
    if isinstance(value, dict):  # mean updates per corpus
        return _updates_text(value, ";", "=")
    return csv_value(value)


CELL_CSV_SUFFIXES = ("", "_sd", "_n")  # a table cell's mean, sd and seeds in table.csv


def _table_csv(columns: list[str], rows: dict[str, dict[str, tuple]],
               deltas: dict[str, Optional[RowComparison]]) -> tuple[list[str], list[list]]:
    """``table.csv``'s header and rows: per column the cell's mean, sd and n, then the Δ macro columns."""
    header = ["schedule", *(f"{c}{suffix}" for c in columns for suffix in CELL_CSV_SUFFIXES), *TABLE_DELTA_COLUMNS]
    lines = [[schedule, *(value for c in columns for value in (row[c] or (None, None, 0))),
              *delta_csv(schedule, deltas[schedule])] for schedule, row in rows.items()]
    return header, lines


def _markdown(table: str, significance: str) -> str:
    return (f"## Test F1 (x100, mean ± sd over seeds)\n\n{table}\n\n"
            f"## Against the baseline row (ΔF1 x100)\n\n{significance}\n")


def format_report(study_dir: Union[str, Path], bootstrap_samples: int = 1000) -> str:
    """Both tables as Markdown, for a CLI to print without writing anything."""
    study = _Study(study_dir)
    comparisons = study.compare(bootstrap_samples)
    return _markdown(_printed_table(study, comparisons)[3],
                     _significance_markdown(_significance(study, comparisons, bootstrap_samples), comparisons))


def _report_folder(out: Path) -> Path:
    """The folder the report's files go into, made; a file there or an OS refusal is one line naming it."""
    fix = "Give `report --out` a folder you can write to (the report is several files: tables and plots)."
    if out.exists() and not out.is_dir():
        raise ValueError(f"report folder {out} is a file, not a folder. {fix}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create the report folder {out}: {error.strerror or error}. {fix}") from None
    return out


def write_report(
    study_dir: Union[str, Path], out_dir: Union[str, Path, None] = None, bootstrap_samples: int = 1000
) -> ReportPaths:
    """Writes tables (Markdown + CSV) and plots for a study, by default into ``study_dir/report/``."""
    study = _Study(study_dir)
    comparisons = study.compare(bootstrap_samples)  # before anything is written: the slow part
    out = _report_folder(Path(out_dir) if out_dir is not None else study.study_dir / "report")
    paths = ReportPaths(out, out / "table.md", out / "table.csv", out / "significance.md", out / "significance.csv",
                        runs_csv=out / "runs.csv")

    columns, rows, deltas, table = _printed_table(study, comparisons)
    paths.table_md.write_text(table + "\n", encoding="utf-8")
    _write_csv(paths.table_csv, *_table_csv(columns, rows, deltas))
    _write_csv(paths.runs_csv, *csv_table(study.records))

    significance_rows = _significance(study, comparisons, bootstrap_samples)
    significance = _significance_markdown(significance_rows, comparisons)
    paths.significance_md.write_text(significance + "\n", encoding="utf-8")
    _write_csv(paths.significance_csv, SIGNIFICANCE_COLUMNS,
               [[r.get(c) for c in SIGNIFICANCE_COLUMNS] for r in significance_rows]
               + study_csv_rows(comparisons, SIGNIFICANCE_COLUMNS))

    paths.plots = [p for p in (_plot_dev(study, t, out) for t in study.targets) if p is not None]
    if study.targets:
        paths.plots.append(_plot_test(study.targets, rows, out))
    if (heatmap := plot_transfer_matrix(study.study_dir, study.records, out)) is not None:  # SingleAux runs only
        paths.plots.append(heatmap)
    paths.markdown = _markdown(table, significance)
    return paths
