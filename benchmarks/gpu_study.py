"""Runs packed on one GPU: training sentences/s per run and in aggregate with 1, 4 and 8 runs sharing it,
in fp32 and with automatic mixed precision (--precisions fp32 bf16 fp16: the runs' test F1 beside the rates).

For each packing k, k single-task runs (seeds 1..k, target cut to --train-size, `default-small`
embeddings from a warm store) run at once as Ray tasks with --gpus-per-run 1/k. Per run: the median
training sentences/s of its epochs (history.json); aggregate: all runs' training sentences over the
study's wall time. Prints a Markdown table and writes it to benchmarks/results/gpu_study.md.

    python benchmarks/gpu_study.py --data-dir .device-data/corpora        # on the GPU machine (gpu_study.sh)
    python benchmarks/gpu_study.py --device cpu --packings 1 2 --samples  # the same logic on a CPU, tiny
    python benchmarks/gpu_study.py --device cpu --packings 1 --precisions fp32 bf16 --samples
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "gpu_study.md"
RECIPE = """\
name: gpu-packing-{k}
output_dir: {out}
{data}
device: {device}
embeddings: default-small
embedding_store: {store}
model: {{hidden_size: 256}}
corpora: {{ncbi-disease: {{train_size: {size}}}}}
targets: [ncbi-disease]
schedules: [single-task]
grid: {{learning_rate: [0.1], mini_batch_size: [32]}}
training: {{max_epochs: {epochs}, evaluate_dev: false, save_model: false, precision: {precision}}}
seeds: {seeds}
"""


def study(tmp: Path, k: int, args, precision: str = "fp32") -> tuple[list[float], float, float, float, float]:
    data = "samples: true" if args.samples else f"data_dir: {args.data_dir}"
    name = f"k{k}-{precision}"
    recipe = tmp / f"{name}.yaml"
    recipe.write_text(RECIPE.format(k=k, out=tmp / name, data=data, device=args.device, store=tmp / "store",
                                    size=args.train_size, epochs=args.epochs, seeds=list(range(1, k + 1)),
                                    precision=precision))
    if not (tmp / "store").exists():  # warm the store once, outside the timing
        subprocess.run([sys.executable, "-m", "flair_munch.cli", "embeddings", "cache", str(recipe), "--no-progress"],
                       check=True, stdout=subprocess.DEVNULL)
    gpus = f"{1 / k:.4f}" if args.device != "cpu" else "0"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flair_munch.cli", "run", str(recipe), "--no-progress", "--executor", "ray",
                    "--workers", str(k), "--cpus-per-run", "1", "--gpus-per-run", gpus],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    wall = time.perf_counter() - start
    per_run, sentences, starts, ends = [], 0, [], []
    f1 = [json.loads(m.read_text())["test"]["f1"] for m in (tmp / name / "runs").glob("*/metrics.json")]
    for history in (tmp / name / "runs").glob("*/history.json"):
        rows = json.loads(history.read_text())
        per_run.append(statistics.median(row["sentences_per_second"] for row in rows))
        sentences += sum(round(row["sentences_per_second"] * row["seconds"]) for row in rows)
        starts.append((history.parent / "executor.json").stat().st_mtime)  # written as the run's job starts
        ends.append((history.parent / "metrics.json").stat().st_mtime)
    return per_run, sentences / wall, sentences / (max(ends) - min(starts)), wall, 100 * statistics.mean(f1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("FLAIR_MUNCH_DATA"))
    parser.add_argument("--samples", action="store_true", help="the shipped samples instead of the full corpora")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--packings", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16", "fp16", "auto"],
                        help="training.precision of each packing's runs (AMP rows: bf16, fp16)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precisions:
            for k in args.packings:
                per_run, aggregate, in_span, wall, f1 = study(Path(tmp), k, args, precision)
                rows.append(f"| {precision} | {k} | {statistics.median(per_run):.0f} | {min(per_run):.0f}-"
                            f"{max(per_run):.0f} | {in_span:.0f} | {aggregate:.0f} | {wall:.0f} | {f1:.2f} |")
            print(rows[-1], flush=True)
    device = "CPU" if args.device == "cpu" else __import__("torch").cuda.get_device_name(0)
    text = "\n".join([
        f"# Runs packed on one GPU ({device}, {platform.node()}, {os.cpu_count()} CPU cores)", "",
        f"Single-task runs on ncbi-disease ({args.train_size} train sentences, {args.epochs} epochs, h256, batch 32, "
        "default-small from a warm store, dev evaluation off), k at once as Ray tasks with 1/k GPU and 1 CPU each. "
        "Per run: median training sentences/s over its epochs; aggregate: all runs' training sentences over the "
        "span from the first run's start to the last run's end, and over the whole command's wall time (Ray "
        "start-up included). Command: `python benchmarks/gpu_study.py`.", "",
        "| precision | runs on the GPU | sentences/s per run (median) | per-run range | aggregate sentences/s "
        "(runs' span) | aggregate sentences/s (wall) | wall s | mean test F1 |", "|---|---|---|---|---|---|---|---|",
        *rows, ""])
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
