"""What a schedule's gain is made of: its step-count control, and whether its runs converged.

Schedules differ in target-head updates per epoch (MUNCH-Iter with six auxiliary corpora makes six
times SingleTask's), so under an epoch cap a gain over SingleTask can be more steps rather than the
auxiliary data. A ``matched-single-task`` row trains the target alone for as many target-head
updates as the row it matches (its records name that row in ``matches``); comparing the two says
whether the auxiliary data helps beyond the steps.
"""

from pathlib import Path
from typing import Optional, Union

from flair_munch.evaluation.report_table import NOISE_MARK, MacroDelta, interval, macro_deltas
from flair_munch.evaluation.results_index import ResultRecord, run_folder
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


READING = {
    "above": "beyond its control: the auxiliary data helps, not only the extra updates",
    "below": "below its control: the extra target updates alone do better",
    "within": "within seed noise of its control: the gain over single-task may be the extra updates",
    "one-seed": "one seed: run more to compare",
    "none": "no seed in common with its control",
}


def controls_block(macro_by_seed: dict[str, dict[int, float]], pairs: dict[str, str],
                   deltas: dict[str, Optional[MacroDelta]]) -> str:
    """A Markdown table: each matched row's macro gain over single-task and over its step-count control."""
    if not pairs:
        return ""
    against = macro_deltas({**{row: macro_by_seed.get(row, {}) for row in pairs},
                            **{control: macro_by_seed.get(control, {}) for control in pairs.values()}},
                           {**pairs, **{control: control for control in pairs.values()}})
    lines = ["Step-count controls: single-task trained for as many target-head updates as the row it matches "
             "(`matched-single-task`).", "",
             "| schedule | Δ macro vs its baseline | control | Δ macro vs its control [95% CI] | reading |",
             "|---|---|---|---|---|"]
    for row, control in pairs.items():
        base, own = deltas.get(row), against[row]
        base_text = "—" if base is None or base.mean is None else f"{base.mean:+.2f}"
        own_text = "n/a" if own is None or own.mean is None else (
            f"{own.mean:+.2f} {interval(own.ci_low, own.ci_high, own.n)}" + (f" {NOISE_MARK}" if own.within_noise
                                                                             else ""))
        reading = READING[own.direction if own is not None else "none"]
        lines.append(f"| {row} | {base_text} | {control} | {own_text} | {reading} |")
    return "\n".join(lines)
