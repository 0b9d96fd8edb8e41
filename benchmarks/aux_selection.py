"""Issue 37: which auxiliary corpus helps a target? Each ranking method against a transfer matrix.

Reads the SingleAux runs of a study folder (``--matrix``: the transfer matrix, or today the
munchables-cpu study's SingleAux runs, 7 targets x 6 auxiliaries x 3 seeds, as a stand-in), ranks the
same candidates for every target with each ``--methods`` (on the same corpus cuts as the study, from its
recipe.json), and prints per method: mean Spearman with the 3-seed mean test-F1 ranking, top-1 hits,
regret@1 and @3 (target test F1 x 100) and the compute as a fraction of SingleAux-best's (one SingleAux
run per candidate), beside the matrix's noise ceiling and SingleAux-best's own dev choice.

    FLAIR_MUNCH_DATA=../shared/corpora python benchmarks/aux_selection.py --matrix benchmarks/results/munchables-cpu \
        --methods similarity lookahead --option lookahead:steps=20 [--targets ncbi-disease] [--out table.md]
"""

import argparse
import json
import statistics
from pathlib import Path

from flair_munch.aux_ranking import rank_aux
from flair_munch.aux_ranking.command import method_options
from flair_munch.aux_ranking.evaluation import (
    agreement, brute_force_seconds, dev_choice, mean_test, noise_ceiling, read_matrix, summarise,
)
from flair_munch.corpora import load_corpus


def corpus_cuts(matrix_dir: Path) -> dict:
    """The study's target/aux train sizes and dev size (recipe.json), so the methods see the corpora the runs saw."""
    path = matrix_dir / "recipe.json"
    recipe = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {key: recipe.get(key) for key in ("target_train_size", "aux_train_size", "dev_size", "samples")}


def rank_target(target: str, candidates: list, method: str, options: dict, cuts: dict):
    load = dict(samples=bool(cuts["samples"]))
    corpus = load_corpus(target, train_size=cuts["target_train_size"], dev_size=cuts["dev_size"], **load)
    others = [load_corpus(name, train_size=cuts["aux_train_size"], **load) for name in candidates]
    return rank_aux(corpus, others, method, **options)


def row_text(name: str, summary: dict, fraction: str) -> str:
    return (f"| {name} | {summary['spearman']:+.2f} | {summary['top1']}/{summary['cases']} | "
            f"{summary['regret1']:.2f} | {summary['regret3']:.2f} | {fraction} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=Path("benchmarks/results/munchables-cpu"))
    parser.add_argument("--methods", nargs="+", default=["similarity"])
    parser.add_argument("--option", action="append", default=[], metavar="METHOD:KEY=VALUE")
    parser.add_argument("--targets", nargs="+", default=None, help="default: every target of the matrix")
    parser.add_argument("--out", type=Path, default=None, help="also write the table (markdown) here")
    args = parser.parse_args()
    matrix = read_matrix(args.matrix)
    targets = args.targets or sorted(matrix)
    matrix = {t: matrix[t] for t in targets}
    cuts = corpus_cuts(args.matrix)
    lines = [f"Matrix: {args.matrix} ({len(targets)} targets). Noise ceiling (split-half Spearman, one seed vs the "
             f"others' mean): {noise_ceiling(matrix):+.2f}.", "",
             "| ranking | mean Spearman | top-1 hits | regret@1 | regret@3 | compute vs SingleAux-best |",
             "|---|---|---|---|---|---|",
             row_text("SingleAux-best's dev choice (one seed)", summarise(dev_choice(matrix)), "1.000")]
    for method in args.methods:
        options = method_options(method, [o.split(":", 1)[1] for o in args.option if o.startswith(f"{method}:")])
        found, fractions = [], []
        for target in targets:
            ranking = rank_target(target, sorted(matrix[target]), method, options, cuts)
            found.append(agreement(ranking.scores, mean_test(matrix[target])))
            fractions.append(ranking.compute.seconds / brute_force_seconds(matrix[target]))
            print(f"{target} {method}: {ranking.names} ({ranking.compute.describe()})", flush=True)
        lines.append(row_text(method, summarise(found), f"{statistics.fmean(fractions):.3f}"))
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
