"""The transfer-matrix heatmap (issue 37): targets x auxiliary corpora, SingleAux's gain over SingleTask.

Drawn for a study that holds SingleAux runs with one auxiliary corpus each (its own rows, or the
SingleAux runs behind SingleAux-best in ``shared-runs/``) and a ``single-task`` row: the picture a user
looks at first to see which corpora help which target. A cell is the mean over seeds of the paired
test-F1 difference (x 100); ``≈`` marks a cell whose 95 % t interval over seeds includes 0 (within
seed noise), as does a cell with a single seed. Where the study holds a ``matched-single-task`` row with
``updates: shared`` (SingleTask for as many shared-encoder updates as SingleAux made: twice its epochs),
``transfer-matrix.md`` also gives each cell's gain over that control: the part of the gain that is the
auxiliary data rather than the extra updates of the shared encoder.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

WITHIN_NOISE = "≈"


def gain_matrix(matrix: dict, single_task: dict) -> dict:
    """Per (target, aux): (mean gain over SingleTask, within noise?) over the seeds both have."""
    cells = {}
    for target, row in matrix.items():
        for aux, seeds in row.items():
            paired = [seeds[s].test - single_task[target][s] for s in sorted(seeds) if s in single_task.get(target, {})]
            if not paired:
                continue
            mean = statistics.fmean(paired)
            if len(paired) < 2:
                cells[target, aux] = (mean, True)
                continue
            half = stats.t.ppf(0.975, len(paired) - 1) * statistics.stdev(paired) / math.sqrt(len(paired))
            cells[target, aux] = (mean, bool(abs(mean) <= half))
    return cells


def row_f1(records: list, row: Optional[str]) -> dict:
    """Test F1 x 100 of ``row``'s runs, by target and seed."""
    f1: dict = {}
    for record in records:
        if row is not None and record.schedule == row and record.test:
            f1.setdefault(record.target, {})[record.seed] = 100 * record.test["f1"]
    return f1


def shared_updates_control(records: list) -> Optional[str]:
    """The row of a ``matched-single-task`` control that counts shared-encoder updates, if the study has one."""
    return next((r.schedule for r in records if r.schedule.startswith("matched-single-task")
                 and "updates=shared" in r.schedule), None)


def write_gain_table(cells: dict, control_cells: dict, control: str, path: Path) -> Path:
    """``transfer-matrix.md``: each (target, aux) cell's gain over SingleTask and over the shared-updates control."""
    targets, auxes = sorted({t for t, _ in cells}), sorted({a for _, a in cells})

    def cell(target, aux):
        gains = [table[target, aux] for table in (cells, control_cells) if (target, aux) in table]
        return " / ".join(f"{gain:+.1f}{WITHIN_NOISE if noise else ''}" for gain, noise in gains) or "—"

    lines = [f"SingleAux test F1 gain (x 100, mean of seed-paired differences) over single-task / over `{control}` "
             f"(SingleTask with as many shared-encoder updates); {WITHIN_NOISE}: 95 % t interval over seeds includes 0.",
             "", "| target | " + " | ".join(auxes) + " |", "|---|" + "---|" * len(auxes)]
    lines += [f"| {t} | " + " | ".join(cell(t, a) for a in auxes) + " |" for t in targets]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def plot_transfer_matrix(study_dir: Path, records: list, out_dir: Path) -> Optional[Path]:
    """``transfer-matrix.png`` in ``out_dir`` (and ``transfer-matrix.md`` with a shared-updates control), or None
    for a study without SingleAux runs and a single-task row."""
    from flair_munch.aux_ranking.evaluation import read_matrix

    try:
        matrix = read_matrix(study_dir)
    except ValueError:
        return None
    cells = gain_matrix(matrix, row_f1(records, "single-task"))
    if not cells:
        return None
    if control := shared_updates_control(records):
        write_gain_table(cells, gain_matrix(matrix, row_f1(records, control)), control, out_dir / "transfer-matrix.md")
    targets = sorted({t for t, _ in cells})
    auxes = sorted({a for _, a in cells})
    values = np.full((len(targets), len(auxes)), np.nan)
    for (target, aux), (gain, _) in cells.items():
        values[targets.index(target), auxes.index(aux)] = gain
    limit = float(np.nanmax(np.abs(values))) or 1.0
    figure = Figure(figsize=(1.2 * len(auxes) + 3, 0.6 * len(targets) + 2))
    axes = figure.add_subplot()
    image = axes.imshow(values, cmap="RdBu", vmin=-limit, vmax=limit)
    for (target, aux), (gain, noise) in cells.items():
        axes.text(auxes.index(aux), targets.index(target), f"{gain:+.1f}{WITHIN_NOISE if noise else ''}",
                  ha="center", va="center", fontsize="small")
    axes.set_xticks(range(len(auxes)), auxes, rotation=45, ha="right")
    axes.set_yticks(range(len(targets)), targets)
    axes.set(xlabel="auxiliary corpus", ylabel="target",
             title=f"SingleAux test F1 gain over SingleTask ({WITHIN_NOISE}: within seed noise)")
    figure.colorbar(image, ax=axes, label="Δ test F1 x 100")
    FigureCanvasAgg(figure)  # Agg explicitly: reports are written on headless machines
    figure.tight_layout()
    path = out_dir / "transfer-matrix.png"
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return path
