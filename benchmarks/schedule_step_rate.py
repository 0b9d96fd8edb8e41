"""Steps per second of every schedule vs stock Flair (ModelTrainer + SequenceTagger), in one run.

Same target corpus, embeddings, batch size and storage mode ("cpu") for all; epoch 1 fills the
embedding storage, so rates are taken from the later epochs (median). Dev evaluation is off for
every run, so only training steps are timed. Prints a Markdown table and writes it to
benchmarks/results/schedule_step_rate.md.

    FLAIR_MUNCH_DATA=... python benchmarks/schedule_step_rate.py --train-size 1000 --aux-size 1000
    python benchmarks/schedule_step_rate.py --samples
"""

import argparse
import platform
import statistics
import tempfile
from pathlib import Path

import torch

import flair

from flair_munch import (
    AuxiliaryTrainer, MultiHeadTagger, MultiTask, MunchConc, MunchIter, MunchStack, SingleAux, SingleTask,
    load_corpus, load_embeddings,
)

from measure import clear_embeddings, publish, train_stock_flair  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "schedule_step_rate.md"


def stock_flair(target, embeddings, args):
    timer = train_stock_flair(target, embeddings, args.epochs, args.batch_size)
    later = timer.epochs[1:] or timer.epochs
    return statistics.median(batches / seconds for seconds, batches in later), len(target.train)


def ours(schedule, corpora, embeddings, args):
    flair.set_seed(1)
    model = MultiHeadTagger.from_corpora(embeddings, corpora)
    trainer = AuxiliaryTrainer(model, corpora)
    with tempfile.TemporaryDirectory() as tmp:
        result = trainer.train(
            corpora[0].name, schedule=schedule, base_path=Path(tmp) / "run", max_epochs=args.epochs,
            mini_batch_size=args.batch_size, evaluate_dev=False, progress=False,
        )
    rows = [row for row in result.history if row["epoch"] > 1] or result.history
    steps_per_epoch = result.updates["shared"] / len(result.history)
    rates = [steps_per_epoch / row["seconds"] for row in rows]
    sentences = [row["sentences_per_second"] for row in rows]
    return statistics.median(rates), statistics.median(sentences)


def alternation_only(args):
    from flair_munch.corpora import resolve_corpus

    target = load_corpus(args.target, samples=args.samples, train_size=args.train_size, seed=1)
    _, folder = resolve_corpus(args.target, samples=args.samples)
    copy = load_corpus(folder, train_size=args.train_size, seed=1)  # same sentences, named after the folder
    embeddings = load_embeddings(args.embeddings)
    rates = {"SingleTask": [], "SingleAux(copy of target)": []}
    for repeat in range(3):
        for name in (list(rates) if repeat % 2 == 0 else list(rates)[::-1]):
            clear_embeddings([target, copy])
            schedule = SingleTask() if name == "SingleTask" else SingleAux(copy.name)
            rates[name].append(ours(schedule, [target, copy], embeddings, args)[0])
            print(f"repeat {repeat} {name}: {rates[name][-1]:.2f} steps/s", flush=True)
    base = statistics.median(rates["SingleTask"])
    lines = [
        "# Cost of alternation: SingleTask vs SingleAux on a copy of the target",
        "",
        f"{args.target}, {len(target.train)} train sentences; the aux corpus is the same sentences under another "
        f"head, so both runs do identical work per step except for the alternation. Batch {args.batch_size}, "
        f"storage 'cpu', {args.epochs} epochs, 3 repetitions in alternating order, median steps/s over epochs 2+; "
        f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}.",
        "",
        "| schedule | steps/s per repetition | median | ratio |",
        "|---|---|---|---|",
    ]
    for name, values in rates.items():
        median = statistics.median(values)
        lines.append(f"| {name} | {', '.join(f'{v:.2f}' for v in values)} | {median:.2f} | {median / base:.3f} |")
    table = "\n".join(lines)
    publish(table, RESULTS.with_name("alternation_overhead.md"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="ncbi-disease")
    parser.add_argument("--aux", nargs="+", default=["bc5cdr-disease", "bc5cdr-chem"])
    parser.add_argument("--samples", action="store_true")
    parser.add_argument("--train-size", default=None)
    parser.add_argument("--aux-size", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--embeddings", nargs="+", default=["default-small"])
    parser.add_argument(
        "--alternation-only", action="store_true",
        help="compare SingleTask with SingleAux whose aux corpus is a copy of the target: same sentences, "
        "so any difference per step is the cost of alternating streams and heads",
    )
    args = parser.parse_args()
    if args.alternation_only:
        return alternation_only(args)

    target = load_corpus(args.target, samples=args.samples, train_size=args.train_size, seed=1)
    aux = [load_corpus(name, samples=args.samples, train_size=args.aux_size, seed=1) for name in args.aux]
    corpora = [target, *aux]
    embeddings = load_embeddings(args.embeddings)
    schedules = [
        ("SingleTask", SingleTask()), ("SingleAux", SingleAux(aux[0].name)), ("MultiTask", MultiTask()),
        ("MUNCH-Conc", MunchConc()), ("MUNCH-Iter", MunchIter(order="given")),
        ("MUNCH-Stack", MunchStack(order="given")),
    ]
    clear_embeddings(corpora)
    flair_rate, _ = stock_flair(target, embeddings, args)
    print(f"stock Flair: {flair_rate:.2f} steps/s", flush=True)
    rows = []
    for name, schedule in schedules:
        clear_embeddings(corpora)
        rate, sentences = ours(schedule, [target, *aux] if name != "SingleTask" else [target], embeddings, args)
        rows.append((name, rate, sentences))
        print(f"{name}: {rate:.2f} steps/s", flush=True)
    lines = [
        "# Steps per second: flair-munch schedules vs stock Flair",
        "",
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"flair {flair.__version__}. Target {args.target} ({len(target.train)} train sentences), aux "
        f"{', '.join(f'{c.name} ({len(c.train)})' for c in aux)}{' (shipped samples)' if args.samples else ''}. "
        f"Embeddings {' + '.join(args.embeddings)}, batch {args.batch_size}, storage 'cpu', {args.epochs} epochs, "
        "rates are medians over epochs 2+ (epoch 1 computes and stores the embeddings).",
        "",
        "| trainer / schedule | steps/s | ratio to stock Flair |",
        "|---|---|---|",
        f"| stock Flair ModelTrainer + SequenceTagger | {flair_rate:.2f} | 1.00 |",
    ]
    lines += [f"| AuxiliaryTrainer {name} | {rate:.2f} | {rate / flair_rate:.2f} |" for name, rate, _ in rows]
    table = "\n".join(lines)
    publish(table, RESULTS)


if __name__ == "__main__":
    main()
