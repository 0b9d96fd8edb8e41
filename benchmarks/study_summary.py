"""What a study's README reads besides its report: which auxiliary corpus helps each target, and what it cost.

From the study folder alone (its committed records: results.jsonl and each run's metrics.json):

- per target, each SingleAux run's target dev and test F1 (mean over seeds) by auxiliary corpus, and the
  corpus SingleAux-best chose per seed (best target dev F1, the paper's selection): the most helpful
  auxiliary corpus, by the selection and by test;
- per schedule: runs, mean epochs, how many converged (learning rate below the floor) or hit the epoch
  cap, and training hours (each run's own seconds; SingleAux sub-runs counted once, with the rows that
  share them).

    python benchmarks/study_summary.py benchmarks/results/munchables-cpu     # writes STUDY/summary.md
"""

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

from flair_munch.evaluation import read_results
from flair_munch.evaluation.report_controls import converged
from flair_munch.evaluation.results_index import selected
from flair_munch.training.result import TrainingResult


def _mean(values) -> str:
    values = [v for v in values if v is not None]
    return f"{100 * statistics.mean(values):.2f}" if values else "—"


def single_aux_runs(study: Path) -> list[TrainingResult]:
    """Every finished SingleAux sub-run of the study (``shared-runs/``), at the default options."""
    runs = [TrainingResult.load(path) for path in sorted(study.glob("shared-runs/*/metrics.json"))]
    return [r for r in runs if r.schedule == "single-aux" and r.settings.get("schedule", "").startswith("SingleAux(")
            and "aux_ratio" not in r.settings.get("schedule", "") and "aux_loss_weight" not in r.settings["schedule"]]


def aux_table(study: Path, records) -> list[str]:
    """Per target and auxiliary corpus: SingleAux dev / test F1 (mean over seeds), and the choices per seed."""
    by_pair = defaultdict(list)
    for run in single_aux_runs(study):
        by_pair[(run.target, run.aux[0])].append(run)
    chosen = defaultdict(list)
    for record in records:
        if record.schedule == "single-aux-best" and record.aux_order:
            chosen[record.target].append((record.seed, record.aux_order[0]))
    lines = ["| target | auxiliary corpus | seeds | SingleAux dev F1 | SingleAux test F1 | chosen by SingleAux-best |",
             "|---|---|---|---|---|---|"]
    for target in dict.fromkeys(t for t, _ in by_pair):
        pairs = {aux: runs for (t, aux), runs in by_pair.items() if t == target}
        best_test = max(pairs, key=lambda aux: statistics.mean(r.test["f1"] for r in pairs[aux]))
        for aux, runs in sorted(pairs.items(), key=lambda item: -statistics.mean(r.test["f1"] for r in item[1])):
            seeds = sorted({r.settings["seed"] for r in runs})
            picks = [f"seed {seed}" for seed, name in sorted(chosen[target]) if name == aux]
            test = _mean(r.test["f1"] for r in runs)
            lines.append(f"| {target} | {aux} | {len(seeds)} | {_mean(r.dev['f1'] for r in runs)} | "
                         f"{f'**{test}**' if aux == best_test else test} | {', '.join(picks) or '—'} |")
    return lines


def cost_table(study: Path, records) -> list[str]:
    """Per report row: runs, mean epochs, converged vs capped, and training hours."""
    rows = defaultdict(list)
    for record in records:
        rows[record.schedule].append(record)
    lines = ["| schedule | runs | epochs (mean) | converged / at the epoch cap | training hours |", "|---|---|---|---|---|"]
    total = 0.0
    for schedule, group in rows.items():
        flags = [converged(r, study) for r in group]
        own = [r for r in group if Path(r.run_dir or "").parent.name != "shared-runs"]  # a selection's: its sub-run's
        hours = sum(r.seconds for r in own) / 3600
        total += hours
        lines.append(f"| {schedule} | {len(group)} | {statistics.mean(r.epochs for r in group):.1f} | "
                     f"{sum(f is True for f in flags)} / {sum(f is False for f in flags)} | "
                     f"{f'{hours:.2f}' if own else 'in the sub-runs'} |")
    sub_runs = single_aux_runs(study)
    sub_hours = sum(r.seconds for r in sub_runs) / 3600
    lines.append(f"| SingleAux sub-runs (SingleAux-best's candidates) | {len(sub_runs)} | — | — | {sub_hours:.2f} |")
    lines += ["", f"Training hours in all: {total + sub_hours:.2f} (each run's own time; runs ran two at a time, so "
                  f"the box needed about half that, plus the store and start-up)."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", type=Path)
    args = parser.parse_args()
    records = selected(read_results(args.study))
    text = "\n".join(["# Summary: auxiliary corpora and cost", "", "Written by `python benchmarks/study_summary.py "
                      f"{args.study}` from the study's records.", "", "## Which auxiliary corpus helps each target",
                      "", *aux_table(args.study, records), "", "## Runs and cost", "", *cost_table(args.study, records)])
    (args.study / "summary.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
