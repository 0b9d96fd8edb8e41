"""Compares rows of one or more committed studies with the report's study-level test, as one Holm family.

`flair-munch report` compares each row with its own study's baseline; a reading often needs other pairs:
pooling against pooling, a row of one study against a row of another (50 % mixing from the most dissimilar
domain in one folder against the most similar in another). Each ``--pair ROW BASELINE`` names two rows as
``FOLDER:ROW`` (ROW: a schedule label of the folder's ``report/table.md``); the runs pair by target and seed,
the macro test is the report's (targets independent, Welch–Satterthwaite df) and Holm's correction runs over
all the pairs given. Prints a markdown table and the conclusion sentences.

    python benchmarks/compare_rows.py \\
        --pair "benchmarks/results/mt-biobert-cpu:single-task all max" "benchmarks/results/mt-biobert-cpu:single-task all cls" \\
        --pair "benchmarks/results/mt-biobert-cpu:single-task all max" "benchmarks/results/mt-biobert-cpu:single-task all mean"
"""

import argparse
import dataclasses
import sys
from pathlib import Path

from flair_munch.evaluation.results_index import read_results, selected
from flair_munch.evaluation.study_statistics import compare_rows


def parse_row(text: str) -> tuple[Path, str]:
    """``FOLDER:ROW`` -> (folder, row); the folder must hold a study's ``results.jsonl``."""
    folder, sep, row = text.partition(":")
    if not sep or not row:
        raise SystemExit(f"compare_rows.py: error: {text!r}: expected FOLDER:ROW, e.g. "
                         "'benchmarks/results/mt-biobert-cpu:single-task all max'")
    if not (Path(folder) / "results.jsonl").is_file():
        raise SystemExit(f"compare_rows.py: error: {folder}: no results.jsonl; name a study folder")
    return Path(folder), row


def aliased_records(pairs: list[tuple[str, str]]) -> tuple[list, dict[str, str]]:
    """The runs of every named row under an alias per pair (so a row may appear in several pairs), and the pairs
    as ``alias -> baseline alias`` for one ``compare_rows`` call (one Holm family)."""
    cache: dict[Path, list] = {}
    records, family = [], {}
    for index, (row_text, baseline_text) in enumerate(pairs, 1):
        aliases = []
        for text in (row_text, baseline_text):
            folder, row = parse_row(text)
            runs = [r for r in selected(cache.setdefault(folder, read_results(folder))) if r.schedule == row]
            if not runs:
                raise SystemExit(f"compare_rows.py: error: {folder} has no runs of row {row!r}; "
                                 f"its rows: {sorted({r.schedule for r in cache[folder]})}")
            alias = f"#{index} {folder.name}:{row}"
            records += [dataclasses.replace(r, schedule=alias) for r in runs]
            aliases.append(alias)
        family[aliases[0]] = aliases[1]
    return records, family


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", nargs=2, action="append", required=True, metavar=("ROW", "BASELINE"),
                        help="FOLDER:ROW FOLDER:ROW (repeat; all pairs are one Holm family)")
    args = parser.parse_args()
    records, family = aliased_records(args.pair)
    rows = compare_rows(records, family)
    print("| row | baseline | Δ macro [Holm-level CI] | df | p | Holm p | verdict | detectable Δ |")
    print("|---|---|---|---|---|---|---|---|")
    for c in rows:
        m = c.macro
        print(f"| {c.row} | {c.baseline} | {m.delta:+.2f} [{m.ci_low:+.2f}, {m.ci_high:+.2f}] | {m.df:.1f} "
              f"| {m.p:.3g} | {c.p_holm:.3g} (m={len(rows)}) | {c.verdict} | {c.min_detectable:.1f} |")
    print()
    for c in rows:
        print(f"- {c.conclusion}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
