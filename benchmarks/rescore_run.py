"""Re-derives a run's recorded test F1 two other ways, before a table built from it is committed.

1. seqeval (strict IOB2, the conlleval numbers) on the run's ``test-predictions.conll`` (or, in a
   committed study, its compact ``test-predictions.tags.gz``), not the package's own span scorer, after
   checking that the file's gold tags are the corpus's test split, sentence by sentence;
2. ``MultiHeadTagger.load(final-model.pt)`` evaluated again on the corpus's test split, with the model
   put in train mode first (scores must not depend on the mode), where the run saved its model.

Prints the three numbers and exits 1 when they differ.

    FLAIR_MUNCH_DATA=... python benchmarks/rescore_run.py RUN_DIR --corpus ncbi-disease
    python benchmarks/rescore_run.py runs/quickstart/runs/RUN_ID --corpus ncbi-disease --samples
"""

import argparse
import json
import sys
from pathlib import Path

from seqeval.metrics import f1_score
from seqeval.scheme import IOB2

from flair_munch.corpora import load_corpus
from flair_munch.corpora.spans import span_tags
from flair_munch.evaluation.prediction_file import read_prediction_file
from flair_munch.models import MultiHeadTagger


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--corpus", required=True, help="the run's target corpus (its test split is never cut)")
    parser.add_argument("--head", default=None, help="the head to evaluate (default: the corpus name)")
    parser.add_argument("--samples", action="store_true", help="the corpus's shipped sample (the quickstart's runs)")
    args = parser.parse_args()

    recorded = json.loads((args.run_dir / "metrics.json").read_text(encoding="utf-8"))["test"]["f1"]
    path = args.run_dir / "test-predictions.conll"
    path = path if path.is_file() else args.run_dir / "test-predictions.tags.gz"  # a committed study's copy
    gold, predicted = read_prediction_file(path)
    test = list(load_corpus(args.corpus, samples=args.samples).test)
    same_test = gold == [span_tags(sentence, "ner") for sentence in test]
    rescored = f1_score(gold, predicted, mode="strict", scheme=IOB2)
    line = (f"{args.run_dir}: recorded test F1 {recorded:.6f}, seqeval on {path.name} {rescored:.6f}"
            f" (its gold tags {'are' if same_test else 'are NOT'} {args.corpus}'s {len(test)} test sentences)")
    agree = abs(rescored - recorded) < 1e-9 and same_test
    model_path = args.run_dir / "final-model.pt"
    if model_path.is_file():
        model = MultiHeadTagger.load(model_path)
        model.train()
        reloaded = model.evaluate(test, head=args.head or args.corpus).main_score
        line += f", reloaded model (train mode) {reloaded:.6f}"
        agree = agree and abs(reloaded - recorded) < 1e-9
    print(line + ("" if agree else "  MISMATCH"))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
