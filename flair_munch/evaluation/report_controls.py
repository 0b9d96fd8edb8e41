"""What a schedule's gain is made of: its step-count control, and whether its runs converged.

Schedules differ in target-head updates per epoch (MUNCH-Iter with six auxiliary corpora makes six
times SingleTask's), so under an epoch cap a gain over SingleTask can be more steps rather than the
auxiliary data. A ``matched-single-task`` row trains the target alone for as many target-head
updates as the row it matches (its records name that row in ``matches``); comparing the two says
whether the auxiliary data helps beyond the steps.
"""

from pathlib import Path
from typing import Optional, Union

from flair_munch.evaluation.report_table import format_delta
from flair_munch.evaluation.results_index import ResultRecord, run_folder
from flair_munch.evaluation.study_statistics import RowComparison
from flair_munch.training.result import TrainingResult


def control_pairs(records: list[ResultRecord]) -> dict[str, str]:
    """Compared row -> its step-count control row, for the rows a ``matched-single-task`` row matches."""
    rows = {r.schedule for r in records}
    return {r.matches: r.schedule for r in records if r.matches and r.matches in rows}


def stop_reasons(record: ResultRecord, study_dir: Union[str, Path]) -> list[str]:
    """Why each stage of the run stopped: from its record, else (older records) from its ``metrics.json``."""
    if record.stop_reasons:
        return record.stop_reasons
    folder = run_folder(record, study_dir)
    if folder is not None and (folder / "metrics.json").is_file():
        return TrainingResult.load(folder / "metrics.json").stop_reasons
    return []


def converged(record: ResultRecord, study_dir: Union[str, Path]) -> Optional[bool]:
    """True when every stage stopped on the learning-rate rule, False when one stopped at its epoch cap."""
    reasons = stop_reasons(record, study_dir)
    return all("learning rate" in reason for reason in reasons) if reasons else None


def converged_text(records: list[ResultRecord], study_dir: Union[str, Path]) -> str:
    """``2 of 3`` runs converged; ``—`` when no run says why it stopped."""
    flags = [converged(r, study_dir) for r in records]
    known = [f for f in flags if f is not None]
    return f"{sum(known)} of {len(known)}" if known else "—"


READING = {  # by the Holm-corrected verdict of the row against its control
    "above": "beyond its control: the auxiliary data helps, not only the extra updates",
    "below": "below its control: the extra target updates alone do better",
    "within": "within seed noise of its control: the gain over single-task may be the extra updates",
}


def reading(compared: RowComparison) -> str:
    """The reading of a row against its control; within noise it says what the seeds could have detected."""
    if compared.verdict == "untested":
        return "not tested: " + ("; ".join(compared.reasons) or "no paired runs")
    text = READING[compared.verdict]
    if compared.verdict == "within" and compared.min_detectable is not None:
        seeds = min(compared.macro.seeds.values())
        text += f" ({seeds} seeds cannot detect less than {compared.min_detectable:.1f} F1)"
    return text


def controls_block(rows: dict[str, RowComparison], controls: dict[str, RowComparison]) -> str:
    """A Markdown table: each matched row's macro gain over its baseline and over its step-count control
    (the controls are their own Holm family)."""
    if not controls:
        return ""
    lines = ["Step-count controls: single-task trained for as many target-head updates as the row it matches "
             "(`matched-single-task`).", "",
             "| schedule | Δ macro vs its baseline | control | Δ macro vs its control [Holm-level CI] | reading |",
             "|---|---|---|---|---|"]
    for row, compared in controls.items():
        base = rows.get(row)
        base_text = "—" if base is None or base.macro.delta is None else f"{base.macro.delta:+.2f}"
        lines.append(f"| {row} | {base_text} | {compared.baseline} | {format_delta(compared)} | {reading(compared)} |")
    return "\n".join(lines)
