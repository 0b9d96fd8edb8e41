"""Wall time of one small CPU study: the sequential executor vs Ray with 1 and 2 workers, in one invocation.

All three train the same 12 runs (target ncbi-disease, aux bc5cdr-chem and s800, each cut to 500 train
sentences; single-task, multi-task, munch-conc, munch-iter x seeds 1-3) from a warm embedding store, each into
a fresh output folder, as `flair-munch run` processes timed from start to exit (Ray's start-up
included). Threads: the sequential executor uses torch's default (all cores); Ray with 1 worker
gives its run all cores (--cpus-per-run = cores); Ray with 2 workers gives each run cores / 2, so
runs x threads never exceed the cores. Also prints what the packing plan predicts for
recipes/munchables.yaml on 8 GPUs. Writes benchmarks/results/ray_study.md. With --job-order, only Ray with
2 workers, jobs started in recipe order vs longest first (FLAIR_MUNCH_JOB_ORDER): ray_job_order.md.

    FLAIR_MUNCH_DATA=... python benchmarks/ray_study.py     # about 15 minutes on 2 cores
    FLAIR_MUNCH_DATA=... python benchmarks/ray_study.py --job-order --epochs 3     # about 6 minutes
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "ray_study.md"
JOB_ORDER_RESULTS = RESULTS.with_name("ray_job_order.md")
RECIPE = """\
name: ray-benchmark
output_dir: {out}
{data}
device: cpu
embeddings: default-small
embedding_store: {store}
model: {{hidden_size: 128}}
corpora: {{ncbi-disease: {{train_size: {size}}}, bc5cdr-chem: {{train_size: {size}}}, s800: {{train_size: {size}}}}}
targets: [ncbi-disease]
schedules: [single-task, multi-task, munch-conc, munch-iter]
grid: {{learning_rate: [0.1], mini_batch_size: [16]}}
training: {{max_epochs: {epochs}}}
seeds: [1, 2, 3]
"""


def run(recipe: Path, *flags: str, job_order: str = "") -> float:
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    if job_order:
        env["FLAIR_MUNCH_JOB_ORDER"] = job_order
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flair_munch.cli", "run", str(recipe), "--no-progress", *flags], env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def test_f1(study: Path) -> dict:
    return {r["run_id"]: r["test"]["f1"] for r in map(json.loads, (study / "results.jsonl").read_text().splitlines())}


def packing_prediction(recipe_path: str, gpus: int, gpus_per_run: float) -> str:
    """Runs, prerequisites and the critical path of a recipe's plan, and the waves of runs on ``gpus`` GPUs."""
    from flair_munch.recipes import load_recipe
    from flair_munch.study.plan import StudyPlan

    recipe = load_recipe(recipe_path)
    recipe.output_dir = tempfile.mkdtemp()  # nothing finished: the whole plan
    plan = StudyPlan(recipe)
    kinds = {kind: sum(job.kind == kind for job in plan.jobs) for kind in ("store", "prerequisite", "run", "final")}
    slots = int(gpus / gpus_per_run)
    depth = 2 if kinds["prerequisite"] else 1  # prerequisite SingleAux runs, then the runs that read them
    waves = math.ceil(kinds["prerequisite"] / slots) + math.ceil(kinds["run"] / slots) if depth == 2 else \
        math.ceil(kinds["run"] / slots)
    sequential = kinds["prerequisite"] + kinds["run"]
    return (f"{recipe_path}: {kinds['run']} runs + {kinds['prerequisite']} prerequisite SingleAux runs "
            f"+ {kinds['store']} store builds; on {gpus} GPUs at {gpus_per_run} GPU per run: {slots} runs at once, "
            f"{waves} waves of runs instead of {sequential} runs one after another "
            f"({sequential / waves:.0f}x), if a run on a shared GPU is as fast as alone (gpu_study.sh measures that)")


def job_order_rows(recipes: dict, tmp: Path) -> list[tuple[str, float]]:
    """Ray with 2 workers, jobs started in recipe order and longest first (each in a fresh output folder)."""
    cores, rows = os.cpu_count(), []
    for order in ("recipe", "longest-first"):
        recipe = tmp / f"order-{order}.yaml"
        recipe.write_text(recipes["ray-2"].read_text().replace(str(tmp / "ray-2"), str(tmp / f"order-{order}")))
        seconds = run(recipe, "--executor", "ray", "--workers", "2", "--cpus-per-run", str(max(cores // 2, 1)),
                      job_order=order)
        rows.append((f"ray, 2 workers, FLAIR_MUNCH_JOB_ORDER={order}", seconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=500, help="sentences of each corpus's train split")
    parser.add_argument("--data-dir", default=os.environ.get("FLAIR_MUNCH_DATA"),
                        help="the full corpora (default $FLAIR_MUNCH_DATA); without it the shipped samples (300)")
    parser.add_argument("--out", type=Path, default=None, help=f"default {RESULTS} ({JOB_ORDER_RESULTS} with "
                        "--job-order)")
    parser.add_argument("--job-order", action="store_true", help="only Ray with 2 workers, jobs in recipe order "
                        "vs longest first (the tail where the last, longest run trains alone)")
    args = parser.parse_args()
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        recipes = {}
        for name in ("sequential", "ray-1", "ray-2", "warm"):
            recipes[name] = tmp / f"{name}.yaml"
            data = f"data_dir: {args.data_dir}" if args.data_dir else "samples: true"
            recipes[name].write_text(RECIPE.format(out=tmp / name, store=tmp / "store", epochs=args.epochs, data=data,
                                                   size=args.train_size if args.data_dir else min(args.train_size, 300)))
        subprocess.run([sys.executable, "-m", "flair_munch.cli", "embeddings", "cache", str(recipes["warm"]),
                        "--no-progress"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if args.job_order:
            return write(job_order_table(args, job_order_rows(recipes, tmp)), args.out or JOB_ORDER_RESULTS)
        rows = [("sequential executor (torch threads: default)", run(recipes["sequential"]))]
        rows.append((f"ray, 1 worker x {cores} threads",
                     run(recipes["ray-1"], "--executor", "ray", "--workers", "1", "--cpus-per-run", str(cores))))
        rows.append((f"ray, 2 workers x {max(cores // 2, 1)} thread(s)",
                     run(recipes["ray-2"], "--executor", "ray", "--workers", "2", "--cpus-per-run",
                         str(max(cores // 2, 1)))))
        reference = test_f1(tmp / "sequential")
        differences = {name: max(abs(f1 - reference[run_id]) for run_id, f1 in test_f1(tmp / name).items())
                       for name in ("ray-1", "ray-2")}
    base = rows[0][1]
    lines = [f"# Ray executor vs sequential: one small CPU study ({platform.node()}, {cores} cores)", "",
             f"12 runs ({'full corpora' if args.data_dir else 'shipped samples'} cut to {args.train_size} train "
             "sentences: target ncbi-disease, aux bc5cdr-chem and s800; single-task, multi-task, munch-conc, "
             f"munch-iter x 3 seeds; h128, batch 16, at most {args.epochs} epochs per stage), warm embedding store, "
             "each executor a `flair-munch run` process timed start to exit. Command: `python benchmarks/ray_study.py`.",
             "", "| executor | wall s | speed-up vs sequential |", "|---|---|---|"]
    lines += [f"| {name} | {seconds:.1f} | {base / seconds:.2f}x |" for name, seconds in rows]
    lines += ["", f"Largest per-run |test F1 difference| to the sequential executor: ray-1 {differences['ray-1']:.4f}, "
              f"ray-2 {differences['ray-2']:.4f} (threads per run differ, so float sums may differ in the last bits).",
              "", "Packing plan: " + packing_prediction("recipes/munchables.yaml", 8, 0.25), ""]
    write("\n".join(lines), args.out or RESULTS)


def job_order_table(args, rows: list[tuple[str, float]]) -> str:
    base = rows[0][1]
    lines = [f"# Ray, 2 workers: jobs in recipe order vs longest first ({platform.node()}, {os.cpu_count()} cores)",
             "", f"The study of ray_study.md ({'full corpora' if args.data_dir else 'shipped samples'} cut to "
             f"{args.train_size} train sentences, at most {args.epochs} epochs per stage, warm store), each order a "
             "`flair-munch run --executor ray --workers 2` process timed start to exit. Command: "
             f"`python benchmarks/ray_study.py --job-order --epochs {args.epochs} --train-size {args.train_size}`.",
             "", "| job order | wall s | vs recipe order |", "|---|---|---|"]
    lines += [f"| {name} | {seconds:.1f} | {base / seconds:.2f}x |" for name, seconds in rows]
    return "\n".join(lines + [""])


def write(text: str, out: Path) -> None:
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
