"""The printed table of a study report: F1 cells, the macro difference to the baseline row with its
95 % interval over seeds, noise marks, a legend line and one sentence on what the study can conclude.

Everything here works on numbers :mod:`flair_munch.evaluation.report` has already computed, so the
table, the CSV and the sentence are derived from the same values.
"""

from dataclasses import dataclass
from typing import Optional

from flair_munch.evaluation.statistics import paired_difference

NOISE_MARK = "≈"


@dataclass
class MacroDelta:
    """Macro F1 (x100) of a row minus its baseline row's, paired by the seeds both have."""

    baseline: str
    n: int = 0  # paired seeds; 0 when the baseline row is missing or shares no seed
    mean: Optional[float] = None
    ci_low: Optional[float] = None  # 95 % t-interval over seeds; None for n < 2
    ci_high: Optional[float] = None
    within_noise: bool = True  # the interval contains 0, or fewer than 2 paired seeds

    @property
    def direction(self) -> str:
        """"above" / "below" the baseline beyond seed noise, "within" noise, or "none" (no pair)."""
        if self.mean is None:
            return "none"
        if self.n < 2:
            return "one-seed"
        if self.within_noise:
            return "within"
        return "above" if self.mean > 0 else "below"


def macro_deltas(
    macro_by_seed: dict[str, dict[int, float]], baselines: dict[str, str]
) -> dict[str, Optional[MacroDelta]]:
    """Per row: its :class:`MacroDelta`, or None for a baseline row (a row that is its own baseline)."""
    deltas: dict[str, Optional[MacroDelta]] = {}
    for schedule, values in macro_by_seed.items():
        baseline = baselines[schedule]
        if schedule == baseline:
            deltas[schedule] = None
            continue
        base = macro_by_seed.get(baseline, {})
        seeds = sorted(set(values) & set(base))
        if not seeds:
            deltas[schedule] = MacroDelta(baseline)
            continue
        diff = paired_difference([values[s] for s in seeds], [base[s] for s in seeds])
        deltas[schedule] = MacroDelta(baseline, diff["n"], diff["mean"], diff["ci_low"], diff["ci_high"],
                                      diff["within_noise"])
    return deltas


def interval(low: Optional[float], high: Optional[float], n: int) -> str:
    return f"[{low:+.2f}, {high:+.2f}]" if low is not None else f"[n/a ({n} seed{'s' if n != 1 else ''})]"


def format_delta(delta: Optional[MacroDelta]) -> str:
    if delta is None:
        return "baseline"
    if delta.mean is None:
        return "n/a"
    text = f"{delta.mean:+.2f} {interval(delta.ci_low, delta.ci_high, delta.n)}"
    return f"{text} {NOISE_MARK}" if delta.within_noise else text


def baseline_label(deltas: dict[str, Optional[MacroDelta]]) -> str:
    """The baseline's name when every compared row has the same one, else "baseline"."""
    names = {d.baseline for d in deltas.values() if d is not None}
    return names.pop() if len(names) == 1 else "baseline"


def format_cell(value: Optional[tuple]) -> str:
    if value is None:
        return "n/a"
    mean, sd, _ = value
    return f"{mean:.2f}" if sd is None else f"{mean:.2f} ± {sd:.2f}"


AVERAGE_COLUMNS = ("macro", "micro")


def shown_columns(columns: list[str], targets: list[str]) -> list[str]:
    """The printed and plotted columns: one target's macro and micro averages only repeat its own column."""
    return columns if len(targets) > 1 else [c for c in columns if c not in AVERAGE_COLUMNS]


def table_markdown(columns: list[str], rows: dict[str, dict[str, tuple]],
                   deltas: dict[str, Optional[MacroDelta]]) -> str:
    best = {}
    for column in columns:
        means = [round(r[column][0], 2) for r in rows.values() if r[column] is not None]
        best[column] = max(means) if means else None
    header = [*columns, f"Δ macro vs {baseline_label(deltas)} [95% CI]"]
    lines = ["| schedule | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for schedule, row in rows.items():
        cells = []
        for column in columns:
            text = format_cell(row[column])
            if row[column] is not None and len(rows) > 1 and round(row[column][0], 2) == best[column]:
                text = f"**{text}**"
            cells.append(text)
        cells.append(format_delta(deltas.get(schedule)))
        lines.append(f"| {schedule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


LEGEND = (f"Test F1 x100, mean ± sd over seeds, bold: best mean per column. Δ macro: macro F1 minus the "
          f"baseline row's, paired by seed, with its 95% t-interval over seeds; {NOISE_MARK}: the interval "
          f"contains 0 (or only one seed is paired): within seed noise; no mark: beyond seed noise.")


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _be(names: list[str]) -> str:
    return "is" if len(names) == 1 else "are"


def _beyond(names: list[str], deltas: dict[str, MacroDelta], side: str, base: str) -> str:
    cis = [interval(deltas[s].ci_low, deltas[s].ci_high, deltas[s].n) for s in names]
    if len(names) == 1:
        numbers = f"{deltas[names[0]].mean:+.2f} macro F1, 95% CI {cis[0]}"
    else:
        numbers = "macro F1 " + ", ".join(f"{deltas[s].mean:+.2f} {ci}" for s, ci in zip(names, cis)) + ", 95% CIs"
    text = f"{_names(names)} {_be(names)} {side} {base} beyond seed noise ({numbers})"
    return text if len(names) == 1 else text + ", which does not rank them against each other"


def conclusion(deltas: dict[str, Optional[MacroDelta]], targets: list[str], more_updates: set[str]) -> str:
    """One plain sentence on what the table can and cannot conclude, from the same deltas it shows.

    ``more_updates``: rows whose shared encoder took more updates than their baseline row's.
    """
    compared = {s: d for s, d in deltas.items() if d is not None and d.mean is not None}
    if not compared:
        return ("No row has a baseline row with the same seeds to compare against, so this study shows F1 levels "
                "only and cannot rank the schedules.")
    label = baseline_label(deltas)
    base = label if label != "baseline" else "its baseline row"
    counts = sorted({d.n for d in compared.values()})
    on = f" on {_names(targets)}" if targets else ""
    groups = {key: [s for s, d in compared.items() if d.direction == key] for key in ("above", "below", "within")}
    if counts[-1] < 2:
        values = ", ".join(f"{s} {d.mean:+.2f}" for s, d in compared.items())
        return (f"With one seed{on}, the macro F1 differences to {base} ({values}) are not a finding: one seed "
                f"cannot separate schedules from seed noise, so run more seeds.")
    seeds = f"{counts[0]} seeds" if len(counts) == 1 else f"{counts[0]} to {counts[-1]} paired seeds"
    start = f"With {seeds}{on}, "
    if not groups["above"] and not groups["below"]:
        names = list(compared)
        verb = "does" if len(names) == 1 else "do"
        return (start + f"{_names(names)} {verb} not differ from {base} beyond seed noise (every 95% CI "
                f"contains 0), so this study cannot rank {'the two' if len(names) == 1 else 'them'}.")
    parts = [_beyond(groups[side], compared, side, base) for side in ("above", "below") if groups[side]]
    unresolved = [s for s, d in compared.items() if d.direction in ("within", "one-seed")]
    if unresolved:
        they = "it is" if len(unresolved) == 1 else "they are"
        parts.append(f"{_names(unresolved)} {_be(unresolved)} within seed noise of {base}, so this study cannot "
                     f"say whether {they} better or worse")
    steps = [s for s in groups["above"] if s in more_updates]
    if steps:
        parts.append(f"{_names(steps)} also took more shared-encoder updates than {base} (see significance.md), "
                     f"so a gain can be more steps rather than the schedule")
    return start + "; ".join(parts) + "."


def table_block(columns: list[str], rows: dict[str, dict[str, tuple]], deltas: dict[str, Optional[MacroDelta]],
                targets: list[str], more_updates: set[str]) -> str:
    """What ``table.md`` holds and the CLI prints: the table, the legend line and the sentence."""
    return (f"{table_markdown(shown_columns(columns, targets), rows, deltas)}\n\n{LEGEND}\n\n"
            f"{conclusion(deltas, targets, more_updates)}")
