"""Target F1 of SingleTask, SingleAux, MUNCH-Iter and MUNCH-Stack on one small real setting.

NCBI-disease cut to --train-size training sentences (full dev and test), two auxiliary corpora
cut to --aux-size; the shipped offline embeddings; SGD lr 0.1, batch 32, annealing as docs/methods.md §1.3
with at most --max-epochs epochs per stage; final model evaluated; several seeds (model
initialisation and batch order both follow the seed). Writes
benchmarks/results/schedules_small_setting.md.

    FLAIR_MUNCH_DATA=... python benchmarks/schedules_small_setting.py --seeds 1 2 --max-epochs 10
"""

import argparse
import statistics
import time
from pathlib import Path

import flair

from flair_munch import (
    AuxiliaryTrainer, MultiHeadTagger, MunchIter, MunchStack, SingleAuxBest, SingleTask, TrainingResult, load_corpus,
    load_embeddings,
)

from measure import publish  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "schedules_small_setting.md"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="ncbi-disease")
    parser.add_argument("--aux", nargs="+", default=["bc5cdr-disease", "bc5cdr-chem"])
    parser.add_argument("--train-size", default="1000")
    parser.add_argument("--aux-size", default="1000")
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default="runs/schedules-small-setting")
    args = parser.parse_args()

    target = load_corpus(args.target, train_size=args.train_size, seed=1)
    aux = [load_corpus(name, train_size=args.aux_size, seed=1) for name in args.aux]
    embeddings = load_embeddings("default-small")
    rows: dict[str, list] = {}
    for seed in args.seeds:
        flair.set_seed(seed)
        model = MultiHeadTagger.from_corpora(embeddings, [target, *aux])
        trainer = AuxiliaryTrainer(model, [target, *aux], cache_dir=Path(args.out) / f"seed{seed}" / "shared")
        for schedule in (SingleTask(), SingleAuxBest(), MunchIter(), MunchStack()):
            start = time.time()
            result = trainer.train(
                target.name, schedule=schedule, base_path=Path(args.out) / f"seed{seed}" / schedule.name,
                max_epochs=args.max_epochs, seed=seed, progress=False,
            )
            runs = [(schedule.name, result)]
            if schedule.name == "single-aux-best":  # also report each SingleAux run it selected from
                for metrics in sorted(trainer.cache_dir.glob("single-aux_*/metrics.json")):
                    sub = TrainingResult.load(metrics)
                    runs.append((f"single-aux[{sub.aux[0]}]", sub))
            for name, run in runs:
                rows.setdefault(name, []).append((seed, run))
                print(f"seed {seed} {name}: dev {run.dev['f1']:.4f} test {run.test['f1']:.4f} "
                      f"epochs {run.epochs} order {run.aux_order} ({time.time() - start:.0f} s)", flush=True)

    lines = [
        "# Schedules on a small real setting",
        "",
        f"Target {args.target} cut to {len(target.train)} training sentences (full dev {len(target.dev)}, test "
        f"{len(target.test)}); aux {', '.join(f'{c.name} ({len(c.train)})' for c in aux)}; shipped offline "
        f"embeddings; SGD lr 0.1, batch 32, anneal on target train loss (patience 4, factor 0.5, stop at lr < 1e-4) "
        f"or at most {args.max_epochs} epochs per stage; final model; seeds {args.seeds}; 2 CPU cores.",
        "",
        "| schedule | dev F1 (mean ± sd) | test F1 (mean ± sd) | test F1 per seed | epochs | updates (shared) | aux order |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in rows.items():
        dev = [r.dev["f1"] for _, r in runs]
        test = [r.test["f1"] for _, r in runs]
        sd = (lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0)
        lines.append(
            f"| {name} | {statistics.mean(dev):.4f} ± {sd(dev):.4f} | {statistics.mean(test):.4f} ± {sd(test):.4f} | "
            f"{', '.join(f'{t:.4f}' for t in test)} | {', '.join(str(r.epochs) for _, r in runs)} | "
            f"{', '.join(str(r.updates['shared']) for _, r in runs)} | "
            f"{'; '.join(','.join(r.aux_order) for _, r in runs)} |"
        )
    table = "\n".join(lines)
    publish(table, RESULTS)


if __name__ == "__main__":
    main()
