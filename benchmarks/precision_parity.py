"""F1 parity of mixed precision (issue 34), the study half of ``benchmarks/precision.py parity``.

Three studies from one recipe that differ only in ``training.precision`` and ``embedding_store_dtype``
(fp32; bf16; bf16 reading a bfloat16 store), each in its own folder under ``--study-dir`` so they
resume; then each bf16 row against fp32, paired by target and seed, with the report's study-level test
(:func:`flair_munch.evaluation.study_statistics.macro_difference`: targets independent,
Welch–Satterthwaite df) and Holm over the two rows.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from flair_munch.evaluation.study_statistics import holm, macro_difference, min_detectable_delta

RECIPE = {
    "name": "precision-parity",
    "device": "cpu",
    "embeddings": "default",
    "model": {"hidden_size": 128},
    "corpora": {"ncbi-disease": None, "bc5cdr-chem": None},
    "targets": ["ncbi-disease", "bc5cdr-chem"],
    "target_train_size": 1000,
    "dev_size": 300,
    "schedules": ["single-task"],
    "grid": {"learning_rate": [0.1], "mini_batch_size": [16]},
    "training": {"max_epochs": 15, "save_model": False},
    "seeds": [1, 2, 3],
    "execution": {"executor": "ray", "workers": 2, "cpus_per_run": 1},
}
ROWS = {"fp32": ("fp32", "float32"), "bf16": ("bf16", "float32"), "bf16 + bf16 store": ("bf16", "bfloat16")}


def run_study(folder: Path, precision: str, store_dtype: str) -> list[dict]:
    """Trains (or resumes) one arithmetic's study and returns its result records."""
    recipe = json.loads(json.dumps(RECIPE))
    recipe.update(output_dir=str(folder), embedding_store_dtype=store_dtype)
    recipe["training"]["precision"] = precision
    folder.mkdir(parents=True, exist_ok=True)
    path = folder.parent / f"{folder.name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    subprocess.run([sys.executable, "-m", "flair_munch.cli", "run", str(path), "--no-progress"], env=env, check=True)
    return [json.loads(line) for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines() if line]


def f1_by_target_seed(records: list[dict]) -> dict[tuple[str, int], float]:
    return {(r["target"], r["seed"]): 100 * r["test"]["f1"] for r in records}


def parity(args) -> None:
    folders = {row: args.study_dir / row.replace(" + ", "-").replace(" ", "-") for row in ROWS}
    scores = {row: f1_by_target_seed(run_study(folders[row], *ROWS[row])) for row in ROWS}
    targets = RECIPE["targets"]
    compared = {}
    for row in ("bf16", "bf16 + bf16 store"):
        differences = {t: [scores[row][(t, s)] - scores["fp32"][(t, s)] for s in RECIPE["seeds"]] for t in targets}
        compared[row] = (differences, macro_difference(differences))
    corrected = holm([c.p for _, c in compared.values()])
    lines = [
        "# Mixed precision: F1 parity over seeds (issue 34)", "",
        "Command: `FLAIR_MUNCH_DATA=... python benchmarks/precision.py parity` (resumes from the records).", "",
        "SingleTask, `default` embeddings from the embedding store, BiLSTM h128, SGD lr 0.1, batch 16, the "
        "annealing rule capped at 15 epochs; targets NCBI-disease and BC5CDR-chem with their training sets cut "
        "to 1000 sentences (seeded), dev cut to 300, test whole; seeds 1-3; Ray, two runs at a time, one torch thread each. The same runs in "
        "three arithmetics (records: `benchmarks/results/precision-parity/<arithmetic>/`). Test F1 x 100.", "",
        "| arithmetic | " + " | ".join(f"{t} (mean ± sd)" for t in targets) + " | Δ macro vs fp32 [Holm-level CI] "
        "| p (Holm, m=2) | detectable Δ (80% power) | verdict |",
        "|---|" + "---|" * len(targets) + "---|---|---|---|",
    ]
    for row in ROWS:
        cells = [_mean_sd([scores[row][(t, s)] for s in RECIPE["seeds"]]) for t in targets]
        if row == "fp32":
            lines.append(f"| {row} | " + " | ".join(cells) + " | baseline | | | |")
            continue
        index = list(compared).index(row)
        _, c = compared[row]
        level = corrected.confidence[index]
        at_level = macro_difference(compared[row][0], confidence=level)
        verdict = "beyond seed noise" if corrected.reject[index] else "within seed noise"
        detectable = f"{min_detectable_delta(c.se, c.df, alpha=1 - level):.2f}" if c.se and c.df else "-"
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {c.delta:+.2f} [{at_level.ci_low:+.2f}, "
                     f"{at_level.ci_high:+.2f}] | {corrected.adjusted[index]:.3g} | {detectable} | {verdict} |")
    lines += ["", "Per seed (target, seed: fp32 / bf16 / bf16 + bf16 store):", ""]
    lines += [f"- {t} seed {s}: " + " / ".join(f"{scores[row][(t, s)]:.2f}" for row in ROWS)
              for t in targets for s in RECIPE["seeds"]]
    table = "\n".join(lines)
    print("\n" + table)
    (args.study_dir.parent / "precision_parity.md").write_text(table + "\n", encoding="utf-8")


def _mean_sd(values: list[float]) -> str:
    import statistics

    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"
