"""Issue 21: does MUNCH-Conc collapse because of the schedule or because of a defect?

The quickstart setting (shipped samples: target ncbi-disease, aux bc5cdr-disease, bc5cdr-chem and
s800; SGD, annealing capped at each setting's epochs; final model, scored in eval mode), run the way a
recipe runs it (model weights drawn from the seed, embedding store, length bucketing). Besides each
run's scores, a trainer plugin records every step: which corpora the batch holds, each head's
loss per token, the gradient norm before clipping and whether clipping cut it.

    FLAIR_MUNCH_DATA=../shared/corpora python benchmarks/conc_collapse.py --out /tmp/i21 run --setting issue \
        --schedules single-task munch-conc "single-aux[s800]" --seeds 1 2 3
    python benchmarks/conc_collapse.py --out /tmp/i21 table      # the tables of benchmarks/results/conc_collapse.md
    python benchmarks/conc_collapse.py --out /tmp/i21 heads      # each aux head's losses, Conc vs SingleAux

``run`` appends one JSON line per finished run to ``OUT/runs.jsonl`` (its step trace to
``OUT/traces/``) and skips runs already there, so an interrupted measurement resumes.
"""

import argparse
import glob
import json
import statistics
import time
from collections import Counter
from pathlib import Path

import flair
import torch
from flair.trainers.plugins import TrainerPlugin

from flair_munch import AuxiliaryTrainer, MultiHeadTagger, load_corpus, load_embeddings
from flair_munch.embeddings.store import EmbeddingStore
from flair_munch.training.schedules import Schedule

TARGET, AUX = "ncbi-disease", ["bc5cdr-disease", "bc5cdr-chem", "s800"]

# name -> (embeddings, hidden size, learning rate, batch size, max epochs); "issue" is the table
SETTINGS = {
    "issue": ("default-small", 256, 0.1, 16, 8),
    "lr0.05": ("default-small", 256, 0.05, 16, 8),
    "batch32": ("default-small", 256, 0.1, 32, 8),
    "quickstart": ("default", 128, 0.1, 16, 6),
    "epochs20": ("default-small", 256, 0.1, 16, 20),
}


class StepTrace(TrainerPlugin):
    """Per step: source, sentences per head, each head's loss per token, gradient norm before clipping.

    It reads what the loop computes without changing it: the per-head losses through a wrapper around
    the model's ``forward_loss_per_head``, the norm through one around ``clip_grad_norm_`` (which returns it).
    """

    def __init__(self, model: MultiHeadTagger, max_grad_norm: float) -> None:
        super().__init__()
        self.tagger, self.max_grad_norm, self.steps = model, max_grad_norm, []
        per_head, clip = model.forward_loss_per_head, torch.nn.utils.clip_grad_norm_

        def recording_per_head(sentences):
            self.per_head = per_head(sentences)
            return self.per_head

        def recording_clip(*args, **kwargs):
            self.norm = float(clip(*args, **kwargs))
            return self.norm

        model.forward_loss_per_head = recording_per_head
        torch.nn.utils.clip_grad_norm_ = recording_clip
        self.restore = lambda: setattr(torch.nn.utils, "clip_grad_norm_", clip)

    @TrainerPlugin.hook
    def after_training_batch(self, step, batch, loss, **kw):
        counts = Counter(self.tagger.head_of(sentence) for sentence in batch)
        self.steps.append({"source": step.key, "heads": counts, "loss": loss, "tokens": sum(len(s) for s in batch),
                           "head_loss": {name: term.item() / max(n, 1) for name, (term, n) in self.per_head.items()},
                           "norm": self.norm, "clipped": self.norm > self.max_grad_norm})

    @TrainerPlugin.hook
    def after_training_loop(self, **kw):
        self.restore()


def schedule_named(name: str) -> Schedule:
    if name.startswith("single-aux["):
        return Schedule.registry["single-aux"](name[len("single-aux["):-1])
    return Schedule.registry[name]()


def read_runs(out: Path) -> list[dict]:
    path = out / "runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def measure(args) -> None:
    out = Path(args.out)
    embeddings_name, hidden, lr, batch, epochs = SETTINGS[args.setting]
    done = {(r["setting"], r["schedule"], r["seed"]) for r in read_runs(out)}
    corpora = [load_corpus(name, samples=True) for name in [TARGET, *AUX]]
    embeddings = load_embeddings(embeddings_name)
    store = EmbeddingStore(embeddings, root=args.store)
    for seed in args.seeds:
        for name in args.schedules:
            if (args.setting, name, seed) in done:
                continue
            flair.set_seed(seed)  # as a recipe's job: the weights follow the seed alone
            model = MultiHeadTagger.from_corpora(embeddings, corpora, hidden_size=hidden)
            trace = StepTrace(model, 5.0)
            trainer = AuxiliaryTrainer(model, corpora, cache_dir=out / "shared-runs", embedding_store=store,
                                       plugins=[trace])
            schedule = schedule_named(name)
            aux = [name[len("single-aux["):-1]] if name.startswith("single-aux[") else AUX
            start = time.time()
            result = trainer.train(TARGET, aux, schedule, out / args.setting / f"{name}-seed{seed}",
                                   learning_rate=lr, mini_batch_size=batch, max_epochs=epochs, seed=seed,
                                   progress=False)
            (out / "traces").mkdir(parents=True, exist_ok=True)
            (out / "traces" / f"{args.setting}-{name}-seed{seed}.json").write_text(json.dumps(trace.steps))
            record = {"setting": args.setting, "schedule": name, "seed": seed, "test_f1": result.test["f1"],
                      "dev_f1": result.dev["f1"], "dev_history": [row["dev_f1"] for row in result.history],
                      "lr_history": [row["lr"] for row in result.history], "updates": result.updates,
                      "aux_order": result.aux_order, "run_dir": result.run_dir,
                      "seconds": round(time.time() - start, 1), "steps": summarise(trace.steps, TARGET)}
            with (out / "runs.jsonl").open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            print(f"{args.setting} {name} seed {seed}: test F1 {record['test_f1']:.4f}, dev "
                  f"{[round(f, 3) for f in record['dev_history']]}, {record['seconds']} s", flush=True)


def summarise(steps: list[dict], target: str) -> dict:
    """Aux vs target steps: mean loss per token, mean gradient norm, share clipped; mixed batches."""
    summary = {}
    for kind, chosen in (("target", [s for s in steps if s["source"] == target]),
                         ("aux", [s for s in steps if s["source"] != target])):
        if chosen:
            summary[kind] = {"steps": len(chosen),
                             "loss_per_token": statistics.mean(s["loss"] / s["tokens"] for s in chosen),
                             "norm": statistics.mean(s["norm"] for s in chosen),
                             "clipped": sum(s["clipped"] for s in chosen) / len(chosen),
                             "mixed": sum(len(s["heads"]) > 1 for s in chosen) / len(chosen)}
    return summary


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * sd:.2f}"


def table(args) -> None:
    runs = read_runs(Path(args.out))
    lines = []
    for setting in SETTINGS:
        rows = [r for r in runs if r["setting"] == setting]
        if not rows:
            continue
        embeddings_name, hidden, lr, batch, epochs = SETTINGS[setting]
        lines += ["", f"### {setting}: `{embeddings_name}`, BiLSTM h{hidden}, lr {lr}, batch {batch}, "
                      f"{epochs} epochs", "",
                  "| schedule | test F1 per seed | mean ± sd | paired Δ vs single-task | target dev F1 per epoch "
                  "(per seed) | dev swing | target / aux updates | aux steps: loss/token, grad norm, clipped, mixed | "
                  "target steps: loss/token, grad norm, clipped |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name in dict.fromkeys(r["schedule"] for r in rows):
            chosen = sorted((r for r in rows if r["schedule"] == name), key=lambda r: r["seed"])
            per_seed = ", ".join(f"{100 * r['test_f1']:.1f} (s{r['seed']})" for r in chosen)
            curves = "<br>".join(" ".join(f"{100 * f:.0f}" for f in r["dev_history"]) for r in chosen)
            updates = chosen[0]["updates"]
            aux_updates = updates["shared"] - updates[TARGET]
            baseline = [r for r in rows if r["schedule"] == "single-task"]
            lines.append(f"| {name} | {per_seed} | {mean_sd([r['test_f1'] for r in chosen])} | "
                         f"{paired(chosen, baseline)} | {curves} | {swing(chosen):.1f} | {updates[TARGET]} / "
                         f"{aux_updates} | {steps_cell(chosen, 'aux', True)} | {steps_cell(chosen, 'target', False)} |")
    print("\n".join(lines).strip())


def paired(runs: list[dict], baseline: list[dict]) -> str:
    """Test F1 minus single-task's of the same seed (points): each seed, then the mean."""
    base = {r["seed"]: r["test_f1"] for r in baseline}
    deltas = [100 * (r["test_f1"] - base[r["seed"]]) for r in runs if r["seed"] in base]
    if not deltas or runs[0]["schedule"] == "single-task":
        return "-"
    return f"{', '.join(f'{d:+.1f}' for d in deltas)} (mean {statistics.mean(deltas):+.1f})"


def swing(runs: list[dict]) -> float:
    """Mean change of target dev F1 (points) from one epoch to the next, over the second half of training."""
    changes = [abs(b - a) for r in runs for a, b in zip(r["dev_history"][len(r["dev_history"]) // 2:],
                                                         r["dev_history"][len(r["dev_history"]) // 2 + 1:])]
    return 100 * statistics.mean(changes) if changes else 0.0


def steps_cell(runs: list[dict], kind: str, mixed: bool) -> str:
    parts = [r["steps"].get(kind) for r in runs]
    if not all(parts):
        return "-"
    loss, norm = statistics.mean(p["loss_per_token"] for p in parts), statistics.mean(p["norm"] for p in parts)
    cell = f"{loss:.3f}, {norm:.1f}, {100 * statistics.mean(p['clipped'] for p in parts):.0f} %"
    return cell + (f", {100 * statistics.mean(p['mixed'] for p in parts):.0f} %" if mixed else "")


def heads(args) -> None:
    """Each aux head's loss per token on aux steps, early and late, in Conc vs SingleAux (traces of ``--setting``)."""
    out = Path(args.out)
    print("| aux head | schedule | loss/token, first quarter of steps | last quarter | grad norm of its aux steps |\n"
          "|---|---|---|---|---|")
    for head in AUX:
        for name in ("munch-conc", f"single-aux[{head}]"):
            early, late, norms = [], [], []
            for path in sorted((out / "traces").glob(f"{args.setting}-{glob.escape(name)}-seed*.json")):
                aux = [s for s in json.loads(path.read_text()) if s["source"] != TARGET and head in s["head_loss"]]
                quarter = len(aux) // 4
                early += [s["head_loss"][head] for s in aux[:quarter]]
                late += [s["head_loss"][head] for s in aux[-quarter:]]
                norms += [s["norm"] for s in aux]
            if early:
                print(f"| {head} | {name} | {statistics.mean(early):.3f} | {statistics.mean(late):.3f} | "
                      f"{statistics.mean(norms):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/conc-collapse")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train the runs not yet in OUT/runs.jsonl")
    run.add_argument("--setting", choices=list(SETTINGS), default="issue")
    run.add_argument("--schedules", nargs="+", default=["single-task", "munch-conc"],
                     help="schedule names; single-aux[NAME] for SingleAux with one aux corpus")
    run.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    run.add_argument("--store", default=None, help="embedding store folder (default: the user cache)")
    sub.add_parser("table", help="print the tables from OUT/runs.jsonl")
    per_head = sub.add_parser("heads", help="per-head aux losses, Conc vs SingleAux, from OUT/traces")
    per_head.add_argument("--setting", choices=list(SETTINGS), default="issue")
    args = parser.parse_args()
    {"run": measure, "table": table, "heads": heads}[args.command](args)


if __name__ == "__main__":
    main()
