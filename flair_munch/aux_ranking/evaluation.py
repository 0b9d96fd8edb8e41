"""Judging rankings against a transfer matrix: SingleAux runs of every (target, auxiliary, seed).

A matrix is read from a study folder: its ``results.jsonl`` records of ``single-aux`` runs with one
auxiliary corpus, and the SingleAux sub-runs in ``shared-runs/`` (those SingleAux-best and dev-sorted
orders trained). The truth for a target is the candidates' mean target test F1 over seeds; the noise
ceiling is how well one seed's test-F1 ranking agrees with the mean of the others (split-half, Spearman),
the agreement no predictor can be expected to beat. ``benchmarks/aux_selection.py`` prints the table.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from scipy import stats


@dataclass(frozen=True)
class MatrixCell:
    """One SingleAux run: target dev and test F1 (x 100) and its wall seconds."""

    dev: float
    test: float
    seconds: float


Matrix = dict  # target -> aux -> seed -> MatrixCell


def read_matrix(study_dir) -> Matrix:
    """The SingleAux runs of a study folder, by target, auxiliary corpus and seed (``ValueError`` if there are none)."""
    study_dir = Path(study_dir)
    matrix: Matrix = defaultdict(lambda: defaultdict(dict))
    records = []
    index = study_dir / "results.jsonl"
    if index.is_file():
        records += [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip()]
    for metrics in sorted((study_dir / "shared-runs").glob("*/metrics.json")):
        data = json.loads(metrics.read_text(encoding="utf-8"))
        records.append({**data, "seed": data.get("settings", {}).get("seed")})
    for record in records:
        if not str(record.get("schedule", "")).startswith("single-aux") or str(record["schedule"]).startswith(
                "single-aux-") or not record.get("dev") or not record.get("test"):
            continue  # SingleAux runs only (not SingleAux-best's or -predicted's selection records)
        (aux,) = record["aux_order"]
        cell = MatrixCell(100 * record["dev"]["f1"], 100 * record["test"]["f1"], float(record.get("seconds") or 0.0))
        matrix[record["target"]][aux][record["seed"]] = cell
    if not matrix:
        raise ValueError(f"{study_dir}: no SingleAux runs found in results.jsonl or shared-runs/*/metrics.json. "
                         "Point --matrix at a study folder with SingleAux runs, e.g. benchmarks/results/munchables-cpu.")
    return {target: {aux: dict(seeds) for aux, seeds in row.items()} for target, row in matrix.items()}


def seeds_of(row: dict) -> list:
    """The seeds every candidate of a target's row has."""
    return sorted(set.intersection(*(set(seeds) for seeds in row.values())))


def mean_test(row: dict, seeds: Optional[Sequence] = None) -> dict[str, float]:
    seeds = seeds_of(row) if seeds is None else seeds
    return {aux: statistics.fmean(row[aux][s].test for s in seeds) for aux in row}


def spearman(scores: dict[str, float], truth: dict[str, float]) -> float:
    """Spearman's rho between two score mappings over the same candidates (ties averaged; 0 when one is constant)."""
    names = sorted(truth)
    a, b = [scores[n] for n in names], [truth[n] for n in names]
    if len(set(a)) < 2 or len(set(b)) < 2:
        return 0.0
    return float(stats.spearmanr(a, b)[0])


@dataclass(frozen=True)
class Agreement:
    """How a ranking of one target's candidates fares against its mean test F1."""

    spearman: float
    top1_hit: bool
    regret1: float  # best mean test F1 minus that of the candidate ranked first
    regret3: float  # best minus the best among the three ranked first


def agreement(scores: dict[str, float], truth: dict[str, float]) -> Agreement:
    ranked = sorted(scores, key=lambda n: (-scores[n], n))
    best = max(truth.values())
    return Agreement(spearman(scores, truth), truth[ranked[0]] == best, best - truth[ranked[0]],
                     best - max(truth[n] for n in ranked[:3]))


def noise_ceiling(matrix: Matrix) -> float:
    """Split-half reliability: Spearman of one seed's test-F1 ranking with the others' mean, over seeds and targets."""
    values = []
    for row in matrix.values():
        seeds = seeds_of(row)
        for seed in seeds if len(seeds) > 1 else []:
            others = [s for s in seeds if s != seed]
            values.append(spearman({aux: row[aux][seed].test for aux in row}, mean_test(row, others)))
    return statistics.fmean(values) if values else float("nan")


def dev_choice(matrix: Matrix) -> list[Agreement]:
    """SingleAux-best's own choice: one run per candidate and seed, ranked by target dev F1; per target and seed."""
    return [agreement({aux: row[aux][seed].dev for aux in row}, mean_test(row))
            for row in matrix.values() for seed in seeds_of(row)]


def summarise(agreements: Sequence[Agreement]) -> dict:
    return {"spearman": statistics.fmean(a.spearman for a in agreements),
            "top1": sum(a.top1_hit for a in agreements), "cases": len(agreements),
            "regret1": statistics.fmean(a.regret1 for a in agreements),
            "regret3": statistics.fmean(a.regret3 for a in agreements)}


def brute_force_seconds(row: dict) -> float:
    """Wall seconds of one SingleAux run per candidate (one seed: the mean over seeds), SingleAux-best's cost."""
    return sum(statistics.fmean(cell.seconds for cell in seeds.values()) for seeds in row.values())
