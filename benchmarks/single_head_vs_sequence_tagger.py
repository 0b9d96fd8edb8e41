"""Single-head MultiHeadTagger vs Flair's SequenceTagger: same corpus, embeddings, seed and trainer.

Both models are trained by Flair's ModelTrainer (SGD, lr 0.1, batch 32, storage mode "cpu"),
alternating which goes first in each repetition, so that machine noise hits both alike. The
training corpus has no dev split: Flair's ``evaluate`` draws one random number per batch
(a DataLoader each), which would shift the dropout masks of the two models apart; without
it, the same seed gives both models the same trajectory, and test F1 must agree exactly.
Prints a Markdown table and writes it to benchmarks/results/single_head_vs_sequence_tagger.md.

    python benchmarks/single_head_vs_sequence_tagger.py --corpus ncbi-disease --train-size 1000 \
        --epochs 3 --repeats 3            # full corpora via $FLAIR_MUNCH_DATA
    python benchmarks/single_head_vs_sequence_tagger.py --samples   # shipped samples
"""

import argparse
import platform
import statistics
import tempfile
from pathlib import Path

import torch

import flair
from flair.data import Corpus
from flair.models import SequenceTagger
from flair.trainers import ModelTrainer

from flair_munch import MultiHeadTagger, load_corpus, load_embeddings
from measure import EpochTimer, clear_embeddings, publish

RESULTS = Path(__file__).resolve().parent / "results" / "single_head_vs_sequence_tagger.md"


def train_one(kind, corpus, embeddings, args, seed):
    flair.set_seed(seed)
    if kind == "SequenceTagger":
        model = SequenceTagger(embeddings, corpus.make_label_dictionary("ner"), "ner")
    else:
        model = MultiHeadTagger.from_corpora(embeddings, [corpus])
    timer = EpochTimer()
    train_only = Corpus(train=corpus.train, dev=None, test=corpus.test, sample_missing_splits=False)
    with tempfile.TemporaryDirectory() as tmp:
        ModelTrainer(model, train_only).train(
            tmp, max_epochs=args.epochs, mini_batch_size=32, learning_rate=0.1,
            embeddings_storage_mode="cpu", plugins=[timer], save_final_model=False,
            create_file_logs=False, create_loss_file=False,
        )
    test_f1 = model.evaluate(corpus.test, gold_label_type="ner", mini_batch_size=64).main_score
    clear_embeddings([corpus])
    return timer.seconds, test_f1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="ncbi-disease")
    parser.add_argument("--samples", action="store_true")
    parser.add_argument("--train-size", default=None)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--embeddings", nargs="+", default=["default-small"])
    args = parser.parse_args()

    torch.set_num_threads(torch.get_num_threads())
    corpus = load_corpus(args.corpus, samples=args.samples, train_size=args.train_size, seed=1)
    embeddings = load_embeddings(args.embeddings)
    rows = {"SequenceTagger": [], "MultiHeadTagger": []}
    for repeat in range(args.repeats):
        order = ["SequenceTagger", "MultiHeadTagger"][:: 1 if repeat % 2 == 0 else -1]
        for kind in order:
            seconds, f1 = train_one(kind, corpus, embeddings, args, seed=100 + repeat)
            rows[kind].append((seconds, f1))
            print(f"repeat {repeat} {kind}: epochs {['%.1f' % s for s in seconds]} s, test F1 {f1:.4f}", flush=True)

    n_train = len(corpus.train)

    def later_epochs(kind):  # after warm-up: epoch 1 fills the "cpu" embedding store
        return [s for seconds, _ in rows[kind] for s in seconds[1:]] or [s for seconds, _ in rows[kind] for s in seconds]

    lines = [
        "# Single-head MultiHeadTagger vs Flair SequenceTagger",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, flair {flair.__version__}. Corpus: {args.corpus}"
        f"{' (shipped sample)' if args.samples else ''}, {n_train} training sentences, {len(corpus.test)} test "
        f"sentences. Embeddings: {' + '.join(args.embeddings)}. ModelTrainer, SGD lr 0.1, batch 32, storage 'cpu', "
        f"{args.epochs} epochs, {args.repeats} repetitions (seed 100+r, same seed for both models).",
        "",
        "| model | first epoch s (median) | later epochs s (median) | sentences/s later | test F1 (mean ± sd) |",
        "|---|---|---|---|---|",
    ]
    for kind, runs in rows.items():
        first = statistics.median(seconds[0] for seconds, _ in runs)
        later = statistics.median(later_epochs(kind))
        f1s = [f1 for _, f1 in runs]
        sd = statistics.stdev(f1s) if len(f1s) > 1 else 0.0
        lines.append(
            f"| {kind} | {first:.1f} | {later:.1f} | {n_train / later:.0f} | {statistics.mean(f1s):.4f} ± {sd:.4f} |"
        )
    ratio = statistics.median(later_epochs("SequenceTagger")) / statistics.median(later_epochs("MultiHeadTagger"))
    same = all(abs(a[1] - b[1]) < 1e-9 for a, b in zip(rows["SequenceTagger"], rows["MultiHeadTagger"]))
    lines += [
        "",
        f"Speed ratio (SequenceTagger epoch time / MultiHeadTagger epoch time, later epochs, median): {ratio:.2f}x.",
        f"Test F1 identical for the same seed in every repetition: {'yes' if same else 'no'}.",
    ]
    table = "\n".join(lines)
    publish(table, RESULTS)


if __name__ == "__main__":
    main()
