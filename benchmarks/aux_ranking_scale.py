"""Issue 37, item 5: rank all twelve other corpora of the data folder for each biomedical target, with wall time.

Every corpus of the data folder (seven biomedical, CoNLL-2003 and the five CrossNER domains) is loaded once;
each biomedical target's twelve candidates are then ranked by ``rank_aux(method=...)``. The distractors
(CoNLL-2003, CrossNER: news and Wikipedia text, person/place/organisation types) should rank below every
biomedical candidate. Prints a markdown table and writes it to benchmarks/results/aux_ranking_scale.md.

    FLAIR_MUNCH_DATA=../shared/corpora python benchmarks/aux_ranking_scale.py [--method similarity]
"""

import argparse
import platform
import time
from pathlib import Path

import torch

from flair_munch.aux_ranking import rank_aux
from flair_munch.corpora import load_corpus

BIOMEDICAL = ["ncbi-disease", "bc5cdr-disease", "bc5cdr-chem", "bc2gm", "jnlpba", "linnaeus", "s800"]
DISTRACTORS = ["conll2003", "crossner-ai", "crossner-literature", "crossner-music", "crossner-politics",
               "crossner-science"]
RESULT = Path(__file__).resolve().parent / "results" / "aux_ranking_scale.md"


def rank_all(method: str, options: dict) -> tuple[list[str], float]:
    """The table's rows (one per target) and the seconds spent loading the thirteen corpora."""
    start = time.perf_counter()
    corpora = {name: load_corpus(name, name=name) for name in BIOMEDICAL + DISTRACTORS}
    loading = time.perf_counter() - start
    rows = []
    for target in BIOMEDICAL:
        candidates = [corpora[name] for name in corpora if name != target]
        ranking = rank_aux(corpora[target], candidates, method, **options)
        names = ranking.names
        last_biomedical = max(names.index(name) for name in BIOMEDICAL if name != target) + 1
        first_distractor = min(names.index(name) for name in DISTRACTORS) + 1
        rows.append(f"| {target} | {', '.join(names[:3])} | {last_biomedical} | {first_distractor} "
                    f"({names[first_distractor - 1]}) | {'yes' if last_biomedical < first_distractor else 'no'} "
                    f"| {ranking.compute.seconds:.1f} |")
    return rows, loading


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="similarity")
    parser.add_argument("--max-sentences", type=int, default=2000, help="train sentences per corpus the method reads")
    args = parser.parse_args()
    rows, loading = rank_all(args.method, {"max_sentences": args.max_sentences})
    header = [
        f"# Ranking all twelve other corpora for each biomedical target (`{args.method}`)",
        "",
        f"`FLAIR_MUNCH_DATA=../shared/corpora python benchmarks/aux_ranking_scale.py --method {args.method}` "
        f"(max_sentences {args.max_sentences}); {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch thread(s). Loading the 13 corpora (all splits) once: {loading:.0f} s.",
        "",
        "Candidates: the six other biomedical corpora and six distractors (CoNLL-2003, five CrossNER domains). "
        "'last biomedical': the rank of the lowest-ranked biomedical candidate; 'first distractor': the rank of "
        "the highest-ranked distractor; separated: every biomedical candidate ranks above every distractor.",
        "",
        "| target | top 3 | last biomedical | first distractor | separated | ranking s |",
        "|---|---|---|---|---|---|",
    ]
    text = "\n".join(header + rows) + "\n"
    print(text)
    RESULT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
