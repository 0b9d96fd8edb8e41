"""Issue 7: the CrossNER comparison (recipes/crossner.yaml, docs/methods.md §5) cut to CPU size, as a results table.

Runs the recipe with the CPU-sized overrides below (finished runs in --out are reused, so an
interrupted table resumes), then writes the study's report tables to
benchmarks/results/crossner_cpu.md. CoNLL-2003 must be in FLAIR_MUNCH_DATA (it is not shipped).

    FLAIR_MUNCH_DATA=... python benchmarks/crossner_cpu.py --seeds 1 2
"""

import argparse
import json
import os
import platform
from pathlib import Path

import flair
import torch

from flair_munch.evaluation import read_results
from flair_munch.evaluation.report import write_report
from flair_munch.recipes import load_recipe
from flair_munch.study.driver import run_study

from measure import publish  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--mix-percent", type=int, nargs="+", default=[0, 50])
    parser.add_argument("--aux-train-size", type=int, default=1000)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--out", default="runs/crossner-cpu")
    args = parser.parse_args()
    overrides = [f"output_dir={args.out}", f"seeds={json.dumps(args.seeds)}",
                 f"mix_percent={json.dumps(args.mix_percent)}", f"aux_train_size={args.aux_train_size}",
                 f"training.max_epochs={args.max_epochs}"]
    recipe = load_recipe(ROOT / "recipes" / "crossner.yaml", overrides)
    status = run_study(recipe, progress=False)
    paths = write_report(args.out)
    minutes = sum(r.seconds or 0 for r in read_results(args.out)) / 60
    header = [
        "# CrossNER, CPU-sized (recipes/crossner.yaml)", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, flair {flair.__version__}. "
        f"Source CoNLL-2003 (train cut to {args.aux_train_size}); targets the five CrossNER domains (full train: "
        "100 or 200 sentences; full dev and test), every label mapped to PER/LOC/ORG/MISC "
        "(`crossner-to-conll`); shipped offline embeddings; SGD lr 0.1, batch 32, at most "
        f"{args.max_epochs} epochs per stage; seeds {args.seeds}; mix {args.mix_percent} % of the target's train "
        "size drawn from the most similar other domain (`mix_source: similar`). "
        f"{status.done} runs, {minutes:.0f} min of training in all.", "",
        "    python benchmarks/crossner_cpu.py " + " ".join(
            ["--seeds", *map(str, args.seeds), "--mix-percent", *map(str, args.mix_percent),
             "--aux-train-size", str(args.aux_train_size), "--max-epochs", str(args.max_epochs)]), "",
        "Rows: schedule and mix; columns: target domain.", "",
    ]
    publish("\n".join(header) + "\n" + paths.markdown, ROOT / "benchmarks" / "results" / "crossner_cpu.md")


if __name__ == "__main__":
    main()
