"""The printed table of a study report: F1 cells, the macro difference to the baseline row with its
Holm-corrected interval (:mod:`flair_munch.evaluation.study_statistics`), noise marks, a legend line and
one line per compared row on what the study can conclude.

Everything here works on comparisons :mod:`flair_munch.evaluation.report` has already computed, so the
table, the CSV and the sentences are derived from the same values.
"""

from typing import Optional

from flair_munch.evaluation.study_statistics import RowComparison

NOISE_MARK = "≈"


def within_noise(compared: RowComparison) -> Optional[bool]:
    """False only when Holm's corrected test puts the row beyond seed noise; None when there is no Δ at all."""
    if compared.macro.delta is None:
        return None
    return compared.verdict not in ("above", "below")


def paired_seeds(compared: RowComparison) -> int:
    """The fewest paired seeds of any target."""
    return min(compared.macro.seeds.values(), default=0)


TABLE_DELTA_COLUMNS = {  # table.csv's Δ columns: header -> its cell, from a row's comparison with its baseline
    "baseline": lambda compared: compared.baseline,
    "delta_macro": lambda compared: compared.macro.delta,
    "delta_macro_n": paired_seeds,
    "delta_macro_ci_low": lambda compared: compared.macro.ci_low,
    "delta_macro_ci_high": lambda compared: compared.macro.ci_high,
    "delta_macro_ci_level": lambda compared: None if compared.macro.ci_low is None else compared.macro.confidence,
    "delta_macro_p_holm": lambda compared: compared.p_holm,
    "delta_macro_within_noise": within_noise,
}


def delta_csv(schedule: str, compared: Optional[RowComparison]) -> list:
    """table.csv's Δ cells of a row: a baseline row names itself and leaves the rest empty."""
    if compared is None:
        return [schedule] + [None] * (len(TABLE_DELTA_COLUMNS) - 1)
    return [cell(compared) for cell in TABLE_DELTA_COLUMNS.values()]


def interval(low: Optional[float], high: Optional[float], n: int) -> str:
    return f"[{low:+.2f}, {high:+.2f}]" if low is not None else f"[n/a ({n} seed{'s' if n != 1 else ''})]"


def holm_interval(compared: RowComparison) -> str:
    """``+5.79 [+1.78, +9.80]`` (the interval at the row's Holm level), or ``n/a`` without a Δ."""
    if compared.macro.delta is None:
        return "n/a"
    macro = compared.macro
    return f"{macro.delta:+.2f} {interval(macro.ci_low, macro.ci_high, paired_seeds(compared))}"


def format_delta(compared: Optional[RowComparison]) -> str:
    if compared is None:
        return "baseline"
    text = holm_interval(compared)
    return f"{text} {NOISE_MARK}" if within_noise(compared) else text


def baseline_label(comparisons: dict[str, Optional[RowComparison]]) -> str:
    """The baseline's name when every compared row has the same one, else "baseline"."""
    names = {c.baseline for c in comparisons.values() if c is not None}
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
                   comparisons: dict[str, Optional[RowComparison]]) -> str:
    best = {}
    for column in columns:
        means = [round(r[column][0], 2) for r in rows.values() if r[column] is not None]
        best[column] = max(means) if means else None
    header = [*columns, f"Δ macro vs {baseline_label(comparisons)} [Holm-level CI]"]
    lines = ["| schedule | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for schedule, row in rows.items():
        cells = []
        for column in columns:
            text = format_cell(row[column])
            if row[column] is not None and len(rows) > 1 and round(row[column][0], 2) == best[column]:
                text = f"**{text}**"
            cells.append(text)
        cells.append(format_delta(comparisons.get(schedule)))
        lines.append(f"| {schedule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


LEGEND = (f"Test F1 x100, mean ± sd over seeds, bold: best mean per column. Δ macro: the mean over targets of each "
          f"target's seed-paired difference to the baseline row. Δ and {NOISE_MARK} from the targets-independent "
          f"t-test (Welch–Satterthwaite df), Holm-corrected over the m rows compared with the same baseline; "
          f"interval at the Holm step's level; {NOISE_MARK}: within seed noise after the correction (or not "
          f"testable: one seed); no mark: beyond seed noise. Other tests, power and seeds needed: significance.md.")


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _base(comparisons: dict[str, Optional[RowComparison]]) -> str:
    label = baseline_label(comparisons)
    return label if label != "baseline" else "its baseline row"


def _lead(compared: dict[str, RowComparison], targets: list[str]) -> str:
    """``With 3 seeds on a and b:`` (the paired seeds per target, the fewest to the most)."""
    counts = sorted({paired_seeds(c) for c in compared.values() if c.macro.seeds})
    seeds = "" if not counts else ("one seed" if counts[-1] == 1 else f"{counts[0]} seeds" if len(counts) == 1
                                   else f"{counts[0]} to {counts[-1]} paired seeds")
    on = f"on {_names(targets)}" if targets else ""
    return f"With {seeds} {on}:" if seeds else f"{on[:1].upper()}{on[1:]}:"


def conclusion(comparisons: dict[str, Optional[RowComparison]], targets: list[str], more_updates: set[str]) -> str:
    """What the table can and cannot conclude: one line per compared row, from the Holm-corrected comparison it
    shows (with power and seeds needed where a row is within noise).

    ``more_updates``: rows whose shared encoder took more updates than their baseline row's.
    """
    compared = {s: c for s, c in comparisons.items() if c is not None}
    if not compared:
        return ("No row has a baseline row to compare against, so this study shows F1 levels only and cannot "
                "rank the schedules.")
    lines = [_lead(compared, targets), *(f"- {c.conclusion}" for c in compared.values())]
    for side in ("above", "below"):
        names = [s for s, c in compared.items() if c.verdict == side]
        if len(names) > 1:
            lines.append(f"- {_names(names)} are each {side} {_base(comparisons)} beyond seed noise, "
                         f"which does not rank them against each other")
    steps = [s for s, c in compared.items() if c.verdict == "above" and s in more_updates]
    if steps:
        lines.append(f"- {_names(steps)} also took more shared-encoder updates than {_base(comparisons)} "
                     f"(see significance.md), so a gain can be more steps rather than the schedule")
    return "\n".join(lines)


def table_block(columns: list[str], rows: dict[str, dict[str, tuple]],
                comparisons: dict[str, Optional[RowComparison]], targets: list[str], more_updates: set[str]) -> str:
    """What ``table.md`` holds and the CLI prints: the table, the legend line and the conclusions."""
    return (f"{table_markdown(shown_columns(columns, targets), rows, comparisons)}\n\n{LEGEND}\n\n"
            f"{conclusion(comparisons, targets, more_updates)}")
