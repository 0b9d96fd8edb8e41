"""Mixed precision (issue 34): epoch time and peak memory of fp32 vs bf16 (and a bfloat16 store), and F1 parity.

``speed``: each configuration trains in its own process (one torch thread, as a study's worker),
repetitions interleaved in alternating order, so the ratios are side by side in one run: SingleTask
and MUNCH-Iter on the ``default`` embeddings read from the embedding store (float32, or bfloat16 with
``--store``), and the ECTTLNER tagger fine-tuning MiniLM (no store). Epoch time: the median of epochs
2+ over the repetitions (epoch 1 warms up), of the process's first run and of a second identical run
in the same process (warm: bf16's oneDNN kernels are made per batch shape, so a fresh process pays for
them in its first epochs); peak memory: the process's maximum resident set. The test split is cut to
100 sentences there (not timed; F1 is the parity mode's question).

``parity``: SingleTask on two targets, three seeds, trained in fp32, bf16 and bf16 from a bfloat16
store, through a recipe (so the runs are a study's, resumable); each row against fp32 with the
study-level test the report uses (targets independent, Welch–Satterthwaite, Holm over the rows).

    FLAIR_MUNCH_DATA=... python benchmarks/precision.py speed          # -> results/precision_speed.md
    FLAIR_MUNCH_DATA=... python benchmarks/precision.py parity         # -> results/precision_parity.md
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CONFIGS = {"fp32": ("fp32", "float32"), "bf16": ("bf16", "float32"), "bf16 + bf16 store": ("bf16", "bfloat16")}
MODELS = ("single-task", "munch-iter", "ecttlner")


def child(args) -> None:
    """One configuration in this process: train, then print epoch seconds and the peak RSS as JSON."""
    import flair
    import torch

    from flair_munch import AuxiliaryTrainer, ECTTLNERTagger, MultiHeadTagger, MunchIter, SingleTask
    from flair_munch import load_corpus, load_embeddings, load_encoder
    from flair_munch.embeddings.store import EmbeddingStore

    torch.set_num_threads(1)
    flair.set_seed(1)
    target = load_corpus(args.target, train_size=args.train_size, seed=1, dev_size=50)
    target._test = list(target.test)[:100]  # the timed epochs do not read it; F1 parity is the parity mode's
    aux = [load_corpus(name, train_size=args.aux_size, seed=1) for name in args.aux] if args.model == "munch-iter" else []
    corpora = [target, *aux]
    settings = {"max_epochs": args.epochs, "evaluate_dev": False, "progress": False, "save_model": False,
                "precision": args.precision, "mini_batch_size": 16}
    if args.model == "ecttlner":
        encoder = load_encoder("default")
        settings.update(optimizer="AdamW", learning_rate=5e-5, lr_schedule="linear-warmup", max_grad_norm=1.0,
                        embeddings_storage_mode="none")

        def trainer():
            model = ECTTLNERTagger.from_corpora(encoder, corpora, tasks=["sce", "sen", "tie", "tbl"], w=0.3)
            return AuxiliaryTrainer(model, corpora)
    else:
        embeddings = load_embeddings("default")
        store = EmbeddingStore(embeddings, root=args.store_root, dtype=args.store_dtype)

        def trainer():
            return AuxiliaryTrainer(MultiHeadTagger.from_corpora(embeddings, corpora, hidden_size=128), corpora,
                                    embedding_store=store)
    epochs = {}
    for run in ("cold", "warm"):  # warm: a second run in the same process, as a study's reused worker trains
        flair.set_seed(1)
        schedule = MunchIter(order="given") if args.model == "munch-iter" else SingleTask()
        with tempfile.TemporaryDirectory() as tmp:
            result = trainer().train(target.name, [c.name for c in aux], schedule, Path(tmp) / "run", **settings)
        epochs[run] = [row["seconds"] for row in result.history]
    print(json.dumps({"epochs": epochs, "updates": result.updates["shared"],
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_child(model: str, config: str, args, store_root: Path) -> dict:
    precision, store_dtype = CONFIGS[config]
    command = [sys.executable, __file__, "child", "--model", model, "--precision", precision, "--store-dtype",
               store_dtype, "--store-root", str(store_root), "--target", args.target, "--aux", *args.aux,
               "--epochs", str(args.epochs if model != "ecttlner" else args.ecttlner_epochs),
               "--train-size", str(args.train_size if model != "ecttlner" else args.ecttlner_train_size),
               "--aux-size", str(args.aux_size)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{model} {config} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def speed(args) -> None:
    import torch
    import flair

    store_root = Path(tempfile.mkdtemp(prefix="precision-store-"))
    measured = {(m, c): [] for m in args.models for c in CONFIGS if not (m == "ecttlner" and "store" in c)}
    for model, config in measured:  # warm-up, not timed: builds both stores, reads every file once
        if config != "bf16":
            run_child(model, config, _one_epoch(args), store_root)
    for repeat in range(args.repeats):
        keys = list(measured) if repeat % 2 == 0 else list(measured)[::-1]
        for key in keys:
            measured[key].append(run_child(*key, args, store_root))
            print(f"repeat {repeat} {key}: epochs {measured[key][-1]['epochs']}", flush=True)
    lines = [
        "# Mixed precision: epoch time and peak memory, fp32 vs bf16 (issue 34)", "",
        "Command: `FLAIR_MUNCH_DATA=... python benchmarks/precision.py speed` (nothing else running).", "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, bf16 units: "
        f"{_bf16_flags()}; one torch thread per process (a study worker's setting), torch {torch.__version__}, "
        f"flair {flair.__version__}. Target {args.target} cut to {args.train_size} training sentences (ECTTLNER: "
        f"{args.ecttlner_train_size}), MUNCH-Iter's auxiliaries {', '.join(args.aux)} cut to {args.aux_size}; "
        f"batch 16; SingleTask and MUNCH-Iter: `default` embeddings from the embedding store, BiLSTM h128, SGD; "
        f"ECTTLNER: MiniLM fine-tuned + BiLSTM 256 + CRF + the four derived heads, AdamW. {args.repeats} "
        "repetitions in alternating order, each configuration in its own process; epoch time is the median "
        "of epochs 2+ over the repetitions, of the process's first run (fresh: bf16's oneDNN kernels are made "
        "for each new batch shape) and of a second, identical run in the same process (warm, as a study's reused "
        "worker trains); peak memory the largest resident set.", "",
        "| model | arithmetic | epoch s, first run (median) | speed-up | epoch s, warm (median) | speed-up | "
        "peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in args.models:
        base = {}
        for config in CONFIGS:
            if (model, config) not in measured:
                continue
            runs = measured[(model, config)]
            cells = []
            for run in ("cold", "warm"):
                seconds = statistics.median(s for r in runs for s in (r["epochs"][run][1:] or r["epochs"][run]))
                base.setdefault(run, seconds)
                cells += [f"{seconds:.2f}", f"{base[run] / seconds:.2f}x"]
            rss = max(r["peak_rss_mb"] for r in runs)
            lines.append(f"| {model} | {config} | {' | '.join(cells)} | {rss:.0f} |")
    _publish("\n".join(lines), RESULTS / "precision_speed.md")


def _one_epoch(args):
    warm = argparse.Namespace(**vars(args))
    warm.epochs, warm.ecttlner_epochs = 1, 1
    return warm


def _bf16_flags() -> str:
    from flair_munch.training.precision import CPU_BF16_FLAGS, _cpu_flags

    return ", ".join(sorted(_cpu_flags() & set(CPU_BF16_FLAGS))) or "none"


def _publish(table: str, path: Path) -> None:
    print("\n" + table)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(table + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["speed", "parity", "child"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--model", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    parser.add_argument("--store-dtype", default="float32", help=argparse.SUPPRESS)
    parser.add_argument("--store-root", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--target", default="ncbi-disease")
    parser.add_argument("--aux", nargs="+", default=["bc5cdr-disease", "s800"])
    parser.add_argument("--train-size", type=int, default=500)
    parser.add_argument("--aux-size", type=int, default=500)
    parser.add_argument("--ecttlner-train-size", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--ecttlner-epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--study-dir", type=Path, default=RESULTS / "precision-parity")
    args = parser.parse_args()
    if args.mode == "child":
        return child(args)
    if args.mode == "speed":
        return speed(args)
    from precision_parity import parity  # noqa: E402  (the study half, in its own file)

    return parity(args)


if __name__ == "__main__":
    main()
