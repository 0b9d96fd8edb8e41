"""Issue 6 benchmarks: the embedding store and length bucketing against stock Flair.

    FLAIR_MUNCH_DATA=... python benchmarks/embedding_store.py profile   # where a SingleTask epoch goes
    FLAIR_MUNCH_DATA=... python benchmarks/embedding_store.py epoch     # 1. epoch time and peak RSS
    FLAIR_MUNCH_DATA=... python benchmarks/embedding_store.py study     # 2. a whole study, paper-sized LMs
    FLAIR_MUNCH_DATA=... python benchmarks/embedding_store.py memory    # 3. peak RSS of MultiTask, all corpora
    FLAIR_MUNCH_DATA=... python benchmarks/embedding_store.py bucketing # test F1 with/without length bucketing
    FLAIR_MUNCH_DATA=... python benchmarks/embedding_store.py costs --embeddings paper  # per-sentence costs

Each configuration runs in its own process (``--one``), so peak RSS is that configuration's own and
repetitions alternate between configurations; ratios are from one invocation. Tables are printed
and written to benchmarks/results/embedding_store_*.md.
"""

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import flair

from flair_munch import (
    AuxiliaryTrainer, MultiHeadTagger, MultiTask, MunchConc, MunchIter, MunchStack, SingleAuxBest, SingleTask,
    load_corpus, load_embeddings,
)
from flair_munch.embeddings.store import EmbeddingStore

from measure import publish, train_stock_flair  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ALL = ["ncbi-disease", "bc5cdr-disease", "bc5cdr-chem", "bc2gm", "jnlpba", "linnaeus", "s800"]


def machine() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}, flair {flair.__version__}")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----- embeddings of the paper's size -----

def paper_sized_embeddings(folder: Path):
    """FastText 100-d (shipped) + forward/backward char LMs of pubmed's architecture (hidden 2048, 1 layer).

    The LMs have random weights: they cost the same compute as ``pubmed-forward``/``-backward``,
    and speed does not depend on the weights.
    """
    from flair.embeddings import FlairEmbeddings, StackedEmbeddings, WordEmbeddings
    from flair.models import LanguageModel

    from flair_munch.embeddings.named import small_embeddings_dir

    shipped = load_embeddings("default-small")
    dictionary = shipped.embeddings[1].lm.dictionary
    folder.mkdir(parents=True, exist_ok=True)
    parts = [WordEmbeddings(str(small_embeddings_dir() / "word-vectors.kv"))]
    for forward in (True, False):
        path = folder / f"lm-2048-{'forward' if forward else 'backward'}.pt"
        if not path.is_file():
            torch.manual_seed(7 + forward)
            LanguageModel(dictionary, forward, hidden_size=2048, nlayers=1, embedding_size=100).save(path)
        parts.append(FlairEmbeddings(str(path)))
    return StackedEmbeddings(parts)


def embeddings_for(kind: str, args):
    if kind == "paper":
        return paper_sized_embeddings(Path(args.work) / "lms")
    return load_embeddings("default-small")


# ----- one configuration, in its own process -----

def one_epoch_config(config: str, args) -> dict:
    """SingleTask on the target: epoch seconds (after epoch 1) for one trainer configuration."""
    target = load_corpus(args.target, train_size=args.train_size, seed=1)
    target._dev = target._test = None  # training only, as the stock run below: no evaluation in the timing or RSS
    embeddings = embeddings_for(args.embeddings, args)
    flair.set_seed(1)
    if config == "stock-flair-cpu":
        seconds = train_stock_flair(target, embeddings, args.epochs, args.batch_size).seconds
    else:
        store, build = None, 0.0
        if config.startswith("store"):
            shutil.rmtree(Path(args.work) / "store", ignore_errors=True)  # a fresh build: its time is measured
            store = EmbeddingStore(embeddings, root=Path(args.work) / "store")
            build = time.time()
            store.ensure(list(target.train), progress=False)
            build = time.time() - build
        model = MultiHeadTagger.from_corpora(embeddings, [target])
        trainer = AuxiliaryTrainer(model, [target], embedding_store=store)
        with tempfile.TemporaryDirectory() as tmp:
            result = trainer.train(
                target.name, base_path=Path(tmp) / "run", max_epochs=args.epochs, mini_batch_size=args.batch_size,
                evaluate_dev=False, progress=False, embeddings_storage_mode="cpu",
                length_bucketing=config.endswith("bucketed"), save_model=False)
        seconds = [row["seconds"] for row in result.history]
        return {"epoch_seconds": seconds, "peak_rss_mb": peak_rss_mb(), "sentences": len(target.train),
                "build_seconds": build}
    return {"epoch_seconds": seconds, "peak_rss_mb": peak_rss_mb(), "sentences": len(target.train)}


def study_config(config: str, args) -> dict:
    """A cut study (targets x all schedules x seeds) in one of three ways; per-run test F1, losses and wall time.

    ``stock-way``: every run embeds its sentences again, no bucketing (stock Flair's batches);
    ``store-unbucketed``: the store, same batches as the stock way (so the same numbers);
    ``store``: the store with length bucketing (the default).
    """
    embeddings = embeddings_for(args.embeddings, args)
    root = Path(args.work) / "study-store"
    shutil.rmtree(root, ignore_errors=True)  # the study starts with an empty store: building it is part of its cost
    store = EmbeddingStore(embeddings, root=root) if config.startswith("store") else None
    bucketing = config == "store"
    start = time.time()
    runs, losses, hits = {}, {}, []
    for target in args.targets:
        aux = [name for name in args.aux if name != target]
        corpora = [load_corpus(target, train_size=args.train_size, seed=1, name=target)] + [
            load_corpus(name, train_size=args.aux_size, seed=1, name=name) for name in aux]
        for corpus in corpora:  # dev and test cut as well: the study's size is what matters here
            corpus._dev = type(corpus.dev)(list(corpus.dev)[: args.eval_size])
            corpus._test = type(corpus.test)(list(corpus.test)[: args.eval_size])
        schedules = [("single-task", SingleTask), ("multi-task", MultiTask), ("single-aux-best", SingleAuxBest),
                     ("munch-conc", MunchConc), ("munch-iter", MunchIter), ("munch-stack", MunchStack),
                     ("munch-iter dev-sorted", lambda: MunchIter(order="dev-sorted")),
                     ("munch-stack dev-sorted", lambda: MunchStack(order="dev-sorted"))]
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                for name, make in schedules:
                    if store is None:  # the stock-Flair way: every run is its own training, embedding on the fly
                        for corpus in corpora:
                            for split in (corpus.train, corpus.dev, corpus.test):
                                for sentence in split:
                                    sentence.clear_embeddings()
                    flair.set_seed(seed)
                    model = MultiHeadTagger.from_corpora(embeddings, corpora)
                    trainer = AuxiliaryTrainer(model, corpora, cache_dir=Path(tmp) / "shared", embedding_store=store)
                    result = trainer.train(target, aux, make(), base_path=Path(tmp) / name.replace(" ", "-"),
                                           max_epochs=args.epochs, mini_batch_size=args.batch_size, seed=seed,
                                           progress=False, embeddings_storage_mode="cpu", save_model=False,
                                           length_bucketing=bucketing, checkpoint_every=args.checkpoint_every)
                    if store is not None:
                        hits.append((trainer.store_report.hits, trainer.store_report.sentences))
                    runs[f"{target} {name} seed {seed}"] = result.test["f1"]
                    losses[f"{target} {name} seed {seed}"] = [row["target_loss"] for row in result.history]
                    print(f"{config}: {target} {name} seed {seed}: test F1 {result.test['f1']:.4f} "
                          f"({time.time() - start:.0f} s)", file=sys.stderr, flush=True)
    lookups = (store.lookups, store.misses) if store is not None else (0, 0)
    return {"seconds": time.time() - start, "runs": runs, "losses": losses, "peak_rss_mb": peak_rss_mb(),
            "ensure": hits, "lookups": lookups}


def memory_config(config: str, args) -> dict:
    """MultiTask over every available corpus, cut as in munchables-lowres: peak RSS and epoch time."""
    embeddings = embeddings_for(args.embeddings, args)
    corpora = [load_corpus(name, train_size=1000 if i == 0 else 2000, seed=1, name=name) for i, name in enumerate(ALL)]
    store = EmbeddingStore(embeddings, root=Path(args.work) / "memory-store") if config == "store" else None
    flair.set_seed(1)
    model = MultiHeadTagger.from_corpora(embeddings, corpora)
    trainer = AuxiliaryTrainer(model, corpora, embedding_store=store)
    with tempfile.TemporaryDirectory() as tmp:
        result = trainer.train(ALL[0], ALL[1:], MultiTask(), base_path=Path(tmp) / "run", max_epochs=args.epochs,
                               mini_batch_size=args.batch_size, evaluate_dev=False, progress=False,
                               embeddings_storage_mode="cpu", save_model=False)
    return {"epoch_seconds": [row["seconds"] for row in result.history], "peak_rss_mb": peak_rss_mb(),
            "sentences": sum(len(c.train) for c in corpora)}


def run_one(kind: str, config: str, args) -> dict:
    """Runs one configuration in a fresh process and returns its JSON result."""
    command = [sys.executable, __file__, kind, "--one", config, *args.passthrough]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env={**os.environ})
    return json.loads(output.stdout.strip().splitlines()[-1])


# ----- the benchmarks -----

def epoch_benchmark(args) -> None:
    configs = ["stock-flair-cpu", "ours-cpu", "ours-cpu-bucketed", "store", "store-bucketed"]
    results = {config: [] for config in configs}
    for repeat in range(args.repeats):
        for config in (configs if repeat % 2 == 0 else configs[::-1]):
            results[config].append(run_one("epoch", config, args))
            later = results[config][-1]["epoch_seconds"][1:]
            print(f"repeat {repeat} {config}: epochs 2+ {later}", flush=True)
    base = statistics.median(s for r in results["stock-flair-cpu"] for s in r["epoch_seconds"][1:])
    names = {"stock-flair-cpu": "stock Flair ModelTrainer + SequenceTagger, storage 'cpu'",
             "ours-cpu": "flair-munch SingleTask, storage 'cpu', no bucketing",
             "ours-cpu-bucketed": "flair-munch SingleTask, storage 'cpu', length bucketing",
             "store": "flair-munch SingleTask, embedding store, no bucketing",
             "store-bucketed": "flair-munch SingleTask, embedding store + length bucketing (default)"}
    sentences = results["stock-flair-cpu"][0]["sentences"]
    lines = [
        f"# Epoch time: embedding store and length bucketing vs stock Flair ({args.embeddings} embeddings)", "",
        f"Machine: {machine()}. Target {args.target} cut to {sentences} training sentences, SingleTask, batch "
        f"{args.batch_size}, {args.epochs} epochs per run, no dev evaluation; {args.repeats} repetitions, each "
        "configuration in its own process, in alternating order. Epoch time: median over epochs 2+ of all "
        "repetitions (epoch 1 fills Flair's in-memory storage); the store is built before training (its build "
        "time is the study benchmark's business). Peak RSS: the process's maximum resident set.", "",
        "| configuration | epoch s (median) | per repetition | speed-up vs stock Flair | peak RSS MB |",
        "|---|---|---|---|---|",
    ]
    for config in configs:
        later = [s for r in results[config] for s in r["epoch_seconds"][1:]]
        median = statistics.median(later)
        reps = ", ".join(f"{statistics.median(r['epoch_seconds'][1:]):.2f}" for r in results[config])
        rss = max(r["peak_rss_mb"] for r in results[config])
        lines.append(f"| {names[config]} | {median:.2f} | {reps} | {base / median:.2f}x | {rss:.0f} |")
    publish("\n".join(lines), RESULTS / f"embedding_store_epoch_{args.embeddings}.md")


def study_benchmark(args) -> None:
    ways = ("stock-way", "store-unbucketed", "store")
    results = {config: run_one("study", config, args) for config in ways}
    stock, same, store = (results[w] for w in ways)
    f1_same = max(abs(same["runs"][k] - stock["runs"][k]) for k in stock["runs"])
    loss_same = max(abs(a - b) for k in stock["losses"] for a, b in zip(stock["losses"][k], same["losses"][k]))
    epochs = sum(len(v) for v in stock["losses"].values())
    hits = sum(h for h, _ in store["ensure"])
    total = sum(n for _, n in store["ensure"])
    lookups, misses = store["lookups"]
    mean = {w: statistics.mean(results[w]["runs"].values()) for w in ways}
    lines = [
        f"# A whole study: embedding store vs the stock-Flair way ({args.embeddings} embeddings)", "",
        f"Machine: {machine()}. " + (
            "Embeddings: shipped FastText 100-d + forward and backward character LMs of pubmed's architecture "
            "(hidden 2048, 1 layer) with random weights: the same compute as pubmed-forward/backward, and speed "
            "does not depend on the weights. " if args.embeddings == "paper"
            else "Embeddings: the shipped small set (`default-small`). ")
        + f"Study: targets {', '.join(args.targets)} (train cut to {args.train_size}), aux "
        f"{', '.join(args.aux)} (cut to {args.aux_size}), dev and test cut to {args.eval_size}, all eight "
        f"schedule runs of munchables-lowres (single-task, multi-task, single-aux-best, conc, iter, stack, iter and "
        f"stack dev-sorted) x seeds {args.seeds}, {args.epochs} epochs per stage, batch {args.batch_size}, "
        f"checkpoint_every {args.checkpoint_every:g} s. SingleAux runs are shared between SingleAux-best and the "
        "dev-sorted orders in every way. Each way runs in its own process, one after the other.", "",
        "- **stock-Flair way**: every run embeds its sentences again and keeps them in memory for that run "
        "(storage 'cpu'), batches drawn without length bucketing (as Flair's DataLoader does; the epoch "
        "benchmark shows this trainer then runs at stock Flair's speed, 1.00x);",
        "- **store, unbucketed**: every sentence embedded once into the store, all runs read it; the same "
        "batches as the stock way, so it must give the same numbers;",
        "- **store** (the default): the store plus length-bucketed batches.", "",
        "| way | wall time s | speed-up | peak RSS MB | mean test F1 |", "|---|---|---|---|---|",
    ]
    labels = {"stock-way": "stock-Flair way (embed per run, storage 'cpu')", "store-unbucketed": "store, unbucketed",
              "store": "**store + length bucketing (default)**"}
    for way in ways:
        r = results[way]
        lines.append(f"| {labels[way]} | {r['seconds']:.0f} | {stock['seconds'] / r['seconds']:.2f}x | "
                     f"{r['peak_rss_mb']:.0f} | {mean[way]:.4f} |")
    lines += [
        "", f"Store hit rate over the runs' corpora (default way): {hits} of {total} sentence look-ups at the start "
        f"of runs were already stored ({100 * hits / max(total, 1):.1f} %); batch look-ups during training: "
        f"{lookups}, misses {misses}.", "",
        f"Same results: between the stock way and the unbucketed store, test F1 differs by at most {f1_same:.2e} "
        f"over {len(stock['runs'])} runs and the target's training loss by at most {loss_same:.2e} over all "
        f"{epochs} epochs. Bucketing changes the batches, so its numbers differ within seed noise (see "
        "length_bucketing_small.md).", "",
        "Why not more: the store removes every re-embedding, but a run still trains its epochs, and with 4196-d "
        "inputs the BiLSTM-CRF step (reprojection, LSTM, CRF, forward and backward) is compute-bound on this CPU. "
        "`embedding_store_costs_paper.md` measures both per sentence and predicts the speed-up by epochs per run: "
        "about 3x at 3 epochs, 1.9x at 10 and 1.5x at 40.", "",
        "| run | test F1 stock way | test F1 store, unbucketed | test F1 store | final target loss stock / store, "
        "unbucketed |", "|---|---|---|---|---|",
    ]
    lines += [f"| {k} | {stock['runs'][k]:.4f} | {same['runs'][k]:.4f} | {store['runs'][k]:.4f} | "
              f"{stock['losses'][k][-1]:.4f} / {same['losses'][k][-1]:.4f} |" for k in stock["runs"]]
    publish("\n".join(lines), RESULTS / f"embedding_store_study_{args.embeddings}.md")


def costs_benchmark(args) -> None:
    """Per-sentence costs of stock Flair and the store, and the per-run speed-up they predict by epoch count."""
    stock = run_one("epoch", "stock-flair-cpu", args)
    store = run_one("epoch", "store-bucketed", args)
    n = stock["sentences"]
    train_stock = statistics.median(stock["epoch_seconds"][1:]) / n
    embed_stock = max(stock["epoch_seconds"][0] / n - train_stock, 0.0)
    train_store = statistics.median(store["epoch_seconds"][1:]) / n
    embed_store = store["build_seconds"] / n
    lines = [
        f"# Per-sentence costs: stock Flair vs the store ({args.embeddings} embeddings)", "",
        f"Machine: {machine()}. SingleTask on {args.target} cut to {n} training sentences, batch {args.batch_size}, "
        f"{args.epochs} epochs, no evaluation, each in its own process. Stock Flair (ModelTrainer + SequenceTagger, "
        "storage 'cpu') embeds in its first epoch: its embedding cost is epoch 1 minus a later epoch. The store "
        "embeds in its build (sentences sorted by length), then trains with length bucketing.", "",
        "| cost per sentence (ms) | stock Flair | store |", "|---|---|---|",
        f"| embedding (once per run for stock Flair, once per study for the store) | {1000 * embed_stock:.1f} | "
        f"{1000 * embed_store:.1f} |",
        f"| one training epoch | {1000 * train_stock:.1f} | {1000 * train_store:.1f} |", "",
        "Predicted speed-up of a run that trains N epochs over its sentences, when the store is shared by R runs "
        "(stock: embed + N x epoch; store: embed / R + N x epoch):", "",
        "| epochs N | R = 10 | R = 36 (this study benchmark) | R = 1000 (munchables-lowres) |", "|---|---|---|---|",
    ]
    for epochs in (1, 3, 5, 10, 20, 40):
        cells = [(embed_stock + epochs * train_stock) / (embed_store / r + epochs * train_store) for r in (10, 36, 1000)]
        lines.append(f"| {epochs} | " + " | ".join(f"{c:.2f}x" for c in cells) + " |")
    publish("\n".join(lines), RESULTS / f"embedding_store_costs_{args.embeddings}.md")


def memory_benchmark(args) -> None:
    run_one("memory", "store", args)  # builds the store, so the measured run only reads it
    results = {config: run_one("memory", config, args) for config in ("flair-cpu", "store")}
    lines = [
        "# Peak memory of MultiTask over all available corpora", "",
        f"Machine: {machine()}. MultiTask with target {ALL[0]} (1000 sentences) and {', '.join(ALL[1:])} (2000 "
        f"each), as munchables-lowres cuts them (BC4CHEMD is not available here); {args.embeddings} embeddings, "
        f"batch {args.batch_size}, {args.epochs} epochs, no dev evaluation; each configuration in its own process.",
        "", "| configuration | peak RSS MB | epoch s (epochs 2+) |", "|---|---|---|",
    ]
    for config, label in (("flair-cpu", "Flair's storage 'cpu' (embeddings kept on the tokens)"),
                          ("store", "embedding store (memory-mapped)")):
        r = results[config]
        later = r["epoch_seconds"][1:] or r["epoch_seconds"]
        lines.append(f"| {label} | {r['peak_rss_mb']:.0f} | {statistics.median(later):.1f} |")
    publish("\n".join(lines), RESULTS / f"embedding_store_memory_{args.embeddings}.md")


def bucketing_benchmark(args) -> None:
    """Test F1 with and without length bucketing, several seeds: does bucketing change results beyond seeds?"""
    target = load_corpus(args.target, train_size=args.train_size, seed=1)
    embeddings = embeddings_for(args.embeddings, args)
    store = EmbeddingStore(embeddings, root=Path(args.work) / "store")
    store.ensure([s for split in (target.train, target.dev, target.test) for s in split], progress=False)
    scores = {False: [], True: []}
    seconds = {False: [], True: []}
    for seed in args.seeds:
        for bucketing in (False, True):
            flair.set_seed(seed)
            trainer = AuxiliaryTrainer(MultiHeadTagger.from_corpora(embeddings, [target]), [target],
                                       embedding_store=store)
            # runs are kept under --work, so a table's number can be re-derived (benchmarks/rescore_run.py)
            run_dir = Path(args.work) / "bucketing-runs" / f"seed{seed}-bucketing-{bucketing}"
            result = trainer.train(target.name, base_path=run_dir, max_epochs=args.epochs, seed=seed,
                                   mini_batch_size=args.batch_size, evaluate_dev=False, progress=False,
                                   length_bucketing=bucketing)
            scores[bucketing].append(100 * result.test["f1"])
            seconds[bucketing].append(statistics.median(row["seconds"] for row in result.history))
            print(f"seed {seed} bucketing {bucketing}: test F1 {scores[bucketing][-1]:.2f}", flush=True)
    from flair_munch.evaluation.statistics import paired_difference

    diff = paired_difference(scores[True], scores[False])
    lines = [
        f"# Length bucketing: same results beyond seeds? ({args.embeddings} embeddings)", "",
        f"Machine: {machine()}. SingleTask on {args.target} cut to {len(target.train)} training sentences (full "
        f"test), SGD lr 0.1, batch {args.batch_size}, {args.epochs} epochs, annealing as docs/methods.md §1.3, embeddings from "
        f"the store, seeds {args.seeds}; the only difference is `length_bucketing`.", "",
        "| length_bucketing | test F1 per seed | mean ± sd | epoch s (median) |", "|---|---|---|---|",
    ]
    for bucketing in (False, True):
        values = scores[bucketing]
        lines.append(f"| {bucketing} | {', '.join(f'{v:.2f}' for v in values)} | {statistics.mean(values):.2f} ± "
                     f"{statistics.stdev(values):.2f} | {statistics.median(seconds[bucketing]):.2f} |")
    lines += ["", f"Paired difference (bucketing - plain): {diff['mean']:+.2f} ± {diff['sd']:.2f} F1 points, "
              f"t-test p = {diff['t_p']:.3g}."]
    publish("\n".join(lines), RESULTS / f"length_bucketing_{args.embeddings}.md")


def profile_benchmark(args) -> None:
    """cProfile of SingleTask epochs 2+ with storage 'cpu' and from the store: where the time goes."""
    target = load_corpus(args.target, train_size=args.train_size, seed=1)
    embeddings = embeddings_for(args.embeddings, args)
    sections = []
    for config in ("cpu", "store"):
        store = EmbeddingStore(embeddings, root=Path(args.work) / "store") if config == "store" else None
        if store is not None:
            store.ensure(list(target.train), progress=False)
        for sentence in target.train:
            sentence.clear_embeddings()
        flair.set_seed(1)
        trainer = AuxiliaryTrainer(MultiHeadTagger.from_corpora(embeddings, [target]), [target], embedding_store=store)
        profiler = cProfile.Profile()
        common = dict(mini_batch_size=args.batch_size, evaluate_dev=False, progress=False, save_model=False,
                      embeddings_storage_mode="cpu", length_bucketing=config == "store")
        with tempfile.TemporaryDirectory() as tmp:
            trainer.train(target.name, base_path=Path(tmp) / "warm", max_epochs=1, **common)  # fills 'cpu' storage
            profiler.enable()
            trainer.train(target.name, base_path=Path(tmp) / "run", max_epochs=2, seed=2, **common)
            profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).sort_stats("tottime")
        stats.print_stats(15)
        body = "\n".join(line for line in text.getvalue().splitlines() if line.strip())
        sections.append(f"## {'storage cpu, no bucketing' if config == 'cpu' else 'store + bucketing'}\n\n```\n"
                        f"{body}\n```")
    header = (f"# Profile: two SingleTask epochs after warm-up ({args.embeddings} embeddings)\n\nMachine: {machine()}. "
              f"{args.target} cut to {len(target.train)} sentences, batch {args.batch_size}; cProfile, top 15 "
              "functions by own time.\n")
    publish(header + "\n" + "\n\n".join(sections), RESULTS / f"embedding_store_profile_{args.embeddings}.md")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", choices=["epoch", "study", "memory", "profile", "bucketing", "costs"])
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--embeddings", choices=["small", "paper"], default="small")
    parser.add_argument("--target", default="ncbi-disease")
    parser.add_argument("--targets", nargs="+", default=["ncbi-disease", "bc5cdr-chem"])
    parser.add_argument("--aux", nargs="+", default=["ncbi-disease", "bc5cdr-chem", "bc5cdr-disease", "s800"])
    parser.add_argument("--train-size", default="2000")
    parser.add_argument("--aux-size", default="2000")
    parser.add_argument("--eval-size", type=int, default=10**9)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checkpoint-every", type=float, default=0.0)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "flair-munch-bench"))
    args = parser.parse_args()
    args.train_size = int(args.train_size) if str(args.train_size).isdigit() else args.train_size
    args.aux_size = int(args.aux_size) if str(args.aux_size).isdigit() else args.aux_size
    args.passthrough = [a for a in sys.argv[2:] if a not in ("--one",)]
    if args.one:
        function = {"epoch": one_epoch_config, "study": study_config, "memory": memory_config}[args.benchmark]
        print(json.dumps(function(args.one, args)))
        return
    {"epoch": epoch_benchmark, "study": study_benchmark, "memory": memory_benchmark,
     "profile": profile_benchmark, "bucketing": bucketing_benchmark, "costs": costs_benchmark}[args.benchmark](args)


if __name__ == "__main__":
    main()
