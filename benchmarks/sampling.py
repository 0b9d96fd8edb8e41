"""Issue 19: how often each corpus is drawn (sampling, aux_ratio) and how much its loss counts (aux_loss_weight).

Target NCBI-disease cut to 1000 training sentences (the seed-1 cut; full dev and test), auxiliaries
the other six corpora (BC5CDR-disease, BC5CDR-chem, BC2GM, JNLPBA, LINNAEUS, s800) cut to 2000:
MultiTask by size (the paper's), uniform and at temperature alpha 0.5 (MaChAmp's smoothing), and
SingleAux-best with aux_ratio 1 (the paper's), 0.5 (one aux step per two target steps, MT-DNN's ratio)
and aux_loss_weight 0.3; SingleTask is the baseline. Seeds 1-3, SGD lr 0.1, batch 32, the default
embeddings, annealing on the target's training loss until converged, at most ``--max-epochs`` (30).

The script writes a recipe (``OUT/sampling.yaml``), runs it as a study (an interrupted run resumes:
run the same command again) and writes the study's report; the table it publishes is the report's
own: test F1 mean ± sd over seeds, the seed-paired difference to single-task with its 95 % interval,
t-test, Wilcoxon and bootstrap, and the updates per corpus, plus epochs, stop reasons and choices.

    FLAIR_MUNCH_DATA=../shared/corpora python benchmarks/sampling.py      # hours on 2 CPU cores
    python benchmarks/sampling.py --quick    # shipped samples, 1 seed, 2 epochs: checks the script; not published
"""

import argparse
import os
import platform
import statistics
from collections import defaultdict
from pathlib import Path

import flair
import torch
import yaml

from flair_munch.evaluation import read_results, write_report
from flair_munch.evaluation.results_index import run_folder, selected
from flair_munch.recipes import load_recipe
from flair_munch.study.driver import run_study
from flair_munch.training.result import TrainingResult

from measure import publish  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGET = "ncbi-disease"
AUX = ["bc5cdr-disease", "bc5cdr-chem", "bc2gm", "jnlpba", "linnaeus", "s800"]
SCHEDULES = [
    "single-task",
    "multi-task",
    {"multi-task": {"sampling": "uniform"}},
    {"multi-task": {"sampling": "temperature", "alpha": 0.5}},
    "single-aux-best",
    {"single-aux-best": {"aux_ratio": 0.5}},
    {"single-aux-best": {"aux_loss_weight": 0.3}},
]


def recipe(args, out: Path) -> dict:
    """The study: full corpora, or with ``--quick`` the shipped samples, small sizes and the small embeddings."""
    quick = args.quick
    return {
        "name": "sampling" + (" (quick)" if quick else ""), "output_dir": str(out), "samples": quick,
        "embeddings": "default-small" if quick else "default", "embedding_store": args.store,
        "model": {"hidden_size": 32 if quick else args.hidden_size},
        "corpora": {name: None for name in (TARGET, *AUX)}, "targets": [TARGET],
        "target_train_size": 100 if quick else args.train_size, "aux_train_size": 150 if quick else args.aux_size,
        "schedules": SCHEDULES, "grid": {"learning_rate": [0.1], "mini_batch_size": [args.batch_size]},
        "training": {"max_epochs": 2 if quick else args.max_epochs, "save_model": False},
        "seeds": [1] if quick else args.seeds,
        "execution": {"executor": args.executor, "workers": args.workers, "cpus_per_run": args.cpus_per_run},
    }


def runs_table(out: Path) -> list[str]:
    """Per report row: epochs, how many runs converged, minutes, and SingleAux-best's choices."""
    rows = defaultdict(list)
    for record in selected(read_results(out)):
        rows[record.schedule].append((record, TrainingResult.load(run_folder(record, out) / "metrics.json")))
    lines = ["| schedule | epochs (per seed) | converged (lr < min) | minutes per run (mean) | chosen aux (per seed) |",
             "|---|---|---|---|---|"]
    for schedule, runs in rows.items():
        runs.sort(key=lambda pair: pair[0].seed)
        converged = sum(all("learning rate" in reason for reason in result.stop_reasons) for _, result in runs)
        chosen = ", ".join(record.aux_order[0] for record, _ in runs) if schedule.startswith("single-aux") else "—"
        lines.append(f"| {schedule} | {', '.join(str(r.epochs) for r, _ in runs)} | {converged} of {len(runs)} | "
                     f"{statistics.mean(r.seconds for r, _ in runs) / 60:.1f} | {chosen} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="shipped samples, 1 seed, 2 epochs; writes OUT/sampling.md only")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--aux-size", type=int, default=2000)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden-size", type=int, default=128,
                        help="BiLSTM size (the paper's 256 is 1.5x slower per batch on this CPU)")
    parser.add_argument("--out", default=None, help="the study folder (default benchmarks/results/sampling: its records "
                        "are committed, so a later checkout resumes the study; or runs/sampling-quick)")
    parser.add_argument("--store", default="runs/sampling-store", help="the embedding store (not committed)")
    parser.add_argument("--executor", default="sequential", choices=["sequential", "ray"])
    parser.add_argument("--workers", type=int, default=None, help="Ray: runs at once")
    parser.add_argument("--cpus-per-run", type=int, default=1, help="Ray: CPUs (and torch threads) per run")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out or ("runs/sampling-quick" if args.quick else os.path.relpath(RESULTS / "sampling")))
    out.mkdir(parents=True, exist_ok=True)
    path, data = out / "sampling.yaml", recipe(args, out)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    status = run_study(load_recipe(path), progress=False)
    print(status.format(), flush=True)
    report = write_report(out)
    lines = [
        "# Corpus sampling, aux:target ratio and aux loss weights (issue 19)", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, flair {flair.__version__}. "
        f"Target {TARGET} cut to {data['target_train_size']} training sentences (full dev and test), auxiliaries "
        f"{', '.join(AUX)} cut to {data['aux_train_size']}; embeddings `{data['embeddings']}`, BiLSTM "
        f"h{data['model']['hidden_size']} + CRF heads, SGD lr 0.1, batch {args.batch_size}, annealing on the "
        f"target's training loss until the learning rate falls below 1e-4 or {data['training']['max_epochs']} epochs, "
        f"final model = last epoch; seeds {', '.join(map(str, data['seeds']))}. SingleAux-best selects among SingleAux "
        "runs with its own aux_ratio / aux_loss_weight (docs/schedules.md).", "",
        "Command: " + ("`python benchmarks/sampling.py --quick`; " if args.quick else
                       "`FLAIR_MUNCH_DATA=../shared/corpora python benchmarks/sampling.py" +
                       (f" --executor ray --workers {args.workers} --cpus-per-run {args.cpus_per_run}"
                        if args.executor == "ray" else "") + "`; ") +
        f"recipe: `{path}`; the study report: `{report.out_dir}`.", "",
        report.markdown.strip(), "", "## Runs", "", *runs_table(out),
    ]
    text = "\n".join(lines)
    if args.quick or status.done < status.total:  # a check of the script, or a study not finished: not published
        print("\n" + text)
        (out / "sampling.md").write_text(text + "\n", encoding="utf-8")
    else:
        publish(text, RESULTS / "sampling.md")


if __name__ == "__main__":
    main()
