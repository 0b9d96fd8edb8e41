"""Issue 7: auxiliary order by corpus similarity (rank-aux) against the dev-sorted order.

For every target: rank the candidate auxiliaries by corpus similarity (``rank_aux``, seconds, no
training), train one SingleAux run per candidate (the dev-sorted ranking: the target's dev F1), and
compare the two rankings (Spearman's rho, top-1 agreement). Then MUNCH-Iter and MUNCH-Stack in both
orders: target test F1, and the compute each order costs (similarity: the ranking plus the run;
dev-sorted: every SingleAux run plus the run). Writes benchmarks/results/aux_ranking_<name>.md.

    FLAIR_MUNCH_DATA=... python benchmarks/aux_ranking.py --name lowres
"""

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import flair
import torch
from scipy import stats

from flair_munch import (
    AuxiliaryTrainer, MultiHeadTagger, MunchIter, MunchStack, SingleTask, TrainingResult, load_corpus, load_embeddings,
)
from flair_munch.corpora.similarity import rank_aux
from flair_munch.embeddings.store import EmbeddingStore

from measure import publish  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ALL = ["ncbi-disease", "bc5cdr-disease", "bc5cdr-chem", "bc2gm", "jnlpba", "linnaeus", "s800"]


def cut(corpus, dev_size: int):
    corpus._dev = type(corpus.dev)(list(corpus.dev)[:dev_size])
    return corpus


def timed(function):
    start = time.time()
    value = function()
    return value, time.time() - start


def one_target(target_name: str, args, embeddings, store) -> dict:
    candidates = [name for name in args.candidates if name != target_name]
    target = cut(load_corpus(target_name, train_size=args.train_size, seed=1), args.dev_size)
    aux = [cut(load_corpus(name, train_size=args.aux_size, seed=1), args.dev_size) for name in candidates]
    out = Path(args.out) / target_name
    flair.set_seed(args.seed)
    model = MultiHeadTagger.from_corpora(embeddings, [target, *aux])
    trainer = AuxiliaryTrainer(model, [target, *aux], cache_dir=out / "shared", embedding_store=store)
    settings = dict(max_epochs=args.max_epochs, mini_batch_size=args.batch_size, seed=args.seed, progress=False,
                    checkpoint_every=60)

    ranking, rank_seconds = timed(lambda: rank_aux(target, aux))
    with_embeddings, embed_seconds = timed(lambda: rank_aux(target, aux, embeddings=embeddings))
    runs = {}
    for name, schedule in (("single-task", SingleTask()),
                           ("munch-iter dev-sorted", MunchIter(order="dev-sorted")),
                           ("munch-stack dev-sorted", MunchStack(order="dev-sorted")),
                           ("munch-iter similarity", MunchIter(order="similarity")),
                           ("munch-stack similarity", MunchStack(order="similarity"))):
        result, seconds = timed(lambda: trainer.train(target.name, candidates, schedule,
                                                      base_path=out / name.replace(" ", "-"), **settings))
        runs[name] = {"test": result.test["f1"], "dev": result.dev["f1"], "seconds": seconds,
                      "order": result.aux_order}
        print(f"{target_name} {name}: test {result.test['f1']:.4f} order {result.aux_order} ({seconds:.0f} s)",
              flush=True)
    single_aux = {}
    for metrics in sorted((out / "shared").glob("single-aux_*/metrics.json")):
        sub = TrainingResult.load(metrics)
        single_aux[sub.aux[0]] = {"dev": sub.dev["f1"], "test": sub.test["f1"], "seconds": sub.seconds}
    # the dev-sorted Iter run trained every SingleAux run inside its wall time: its own part is the rest
    sub_seconds = sum(r["seconds"] for r in single_aux.values())
    runs["munch-iter dev-sorted"]["own_seconds"] = runs["munch-iter dev-sorted"]["seconds"] - sub_seconds
    runs["munch-stack dev-sorted"]["own_seconds"] = runs["munch-stack dev-sorted"]["seconds"]
    for name in ("munch-iter similarity", "munch-stack similarity"):
        runs[name]["own_seconds"] = runs[name]["seconds"]
    dev = [single_aux[name]["dev"] for name in candidates]
    ranked = len(set(dev)) > 1  # every SingleAux dev F1 equal (e.g. all 0): no dev-sorted ranking to agree with
    rho = {label: stats.spearmanr([{r.name: r.combined for r in rows}[name] for name in candidates], dev).statistic
           if ranked else None for label, rows in (("counts", ranking), ("counts+embedding", with_embeddings))}
    best = max(candidates, key=lambda name: single_aux[name]["dev"]) if ranked else None
    return {"target": target_name, "sizes": (len(target.train), len(aux[0].train), len(target.dev)),
            "ranking": [r.name for r in ranking], "ranking_embedding": [r.name for r in with_embeddings],
            "dev_sorted": sorted(candidates, key=lambda name: -single_aux[name]["dev"]), "rho": rho,
            "top1": best and ranking[0].name == best, "top1_embedding": best and with_embeddings[0].name == best,
            "rank_seconds": rank_seconds, "rank_embedding_seconds": embed_seconds, "single_aux": single_aux,
            "sub_seconds": sub_seconds, "runs": runs}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+", default=["ncbi-disease", "bc5cdr-chem", "s800"])
    parser.add_argument("--candidates", nargs="+", default=ALL)
    parser.add_argument("--train-size", type=int, default=300)
    parser.add_argument("--aux-size", type=int, default=300)
    parser.add_argument("--dev-size", type=int, default=200)
    parser.add_argument("--max-epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--name", default="lowres")
    parser.add_argument("--out", default="runs/aux-ranking")
    args = parser.parse_args()

    embeddings = load_embeddings("default-small")
    store = EmbeddingStore(embeddings)
    results = [one_target(name, args, embeddings, store) for name in args.targets]

    sizes = results[0]["sizes"]
    lines = [
        "# Auxiliary order by corpus similarity vs dev-sorted", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch "
        f"{torch.__version__}, flair {flair.__version__}. Targets {', '.join(args.targets)} cut to {sizes[0]} train "
        f"sentences (dev cut to {sizes[2]}, full test); candidates: the other corpora of {', '.join(args.candidates)} "
        f"cut to {sizes[1]}; shipped offline embeddings (from the embedding store); SGD lr 0.1, batch "
        f"{args.batch_size}, at most {args.max_epochs} epochs per stage; seed {args.seed}. The dev-sorted ranking "
        "is by the target dev F1 of one SingleAux run per candidate; the similarity ranking is `rank_aux` (counts: "
        "vocabulary, entity types, entity strings; `aux_order: similarity` uses it) and, for comparison, the same "
        "plus the mean-embedding cosine.", "",
        "## Do the rankings agree?", "",
        "| target | dev-sorted (SingleAux dev F1) | similarity order | Spearman rho | top-1 same | "
        "rho with embedding | top-1 same |", "|---|---|---|---|---|---|---|",
    ]
    def cell(value, fmt):
        return "undefined (all dev F1 equal)" if value is None else fmt(value)

    for r in results:
        dev_sorted = ", ".join(f"{n} ({r['single_aux'][n]['dev']:.3f})" for n in r["dev_sorted"])
        yes = (lambda v: "yes" if v else "no")
        lines.append(f"| {r['target']} | {dev_sorted} | {', '.join(r['ranking'])} | "
                     f"{cell(r['rho']['counts'], '{:.2f}'.format)} | {cell(r['top1'], yes)} | "
                     f"{cell(r['rho']['counts+embedding'], '{:.2f}'.format)} | {cell(r['top1_embedding'], yes)} |")
    defined = [r for r in results if r["rho"]["counts"] is not None]
    mean_rho = statistics.mean(r["rho"]["counts"] for r in defined) if defined else float("nan")
    mean_rho_e = statistics.mean(r["rho"]["counts+embedding"] for r in defined) if defined else float("nan")
    lines += ["", f"Mean Spearman rho over the {len(defined)} targets with a dev-sorted ranking: {mean_rho:.2f} "
              f"(counts), {mean_rho_e:.2f} (with the embedding cosine).", "",
              "## Target F1 and compute", "",
              "Compute of an order: similarity = the ranking + the run; dev-sorted = every SingleAux run + the run.", "",
              "| target | schedule | order | test F1 | dev F1 | compute s | fraction of dev-sorted |",
              "|---|---|---|---|---|---|---|"]
    for r in results:
        st = r["runs"]["single-task"]
        lines.append(f"| {r['target']} | single-task | - | {st['test']:.4f} | {st['dev']:.4f} | {st['seconds']:.0f} | - |")
        for schedule in ("munch-iter", "munch-stack"):
            dev_sorted = r["runs"][f"{schedule} dev-sorted"]
            similar = r["runs"][f"{schedule} similarity"]
            dev_cost = r["sub_seconds"] + dev_sorted["own_seconds"]
            sim_cost = r["rank_seconds"] + similar["own_seconds"]
            lines.append(f"| {r['target']} | {schedule} | dev-sorted: {', '.join(dev_sorted['order'])} | "
                         f"{dev_sorted['test']:.4f} | {dev_sorted['dev']:.4f} | {dev_cost:.0f} | 1.00 |")
            lines.append(f"| {r['target']} | {schedule} | similarity: {', '.join(similar['order'])} | "
                         f"{similar['test']:.4f} | {similar['dev']:.4f} | {sim_cost:.0f} | {sim_cost / dev_cost:.2f} |")
    diffs = {schedule: [r["runs"][f"{schedule} similarity"]["test"] - r["runs"][f"{schedule} dev-sorted"]["test"]
                        for r in results] for schedule in ("munch-iter", "munch-stack")}
    lines += ["", "Test F1 of the similarity order minus dev-sorted: " + "; ".join(
        f"{schedule} {', '.join(f'{100 * d:+.2f}' for d in values)} (mean {100 * statistics.mean(values):+.2f})"
        for schedule, values in diffs.items()) + f". Ranking took {statistics.mean(r['rank_seconds'] for r in results):.1f} s "
        f"a target ({statistics.mean(r['rank_embedding_seconds'] for r in results):.1f} s with the embedding cosine); "
        f"the SingleAux runs {statistics.mean(r['sub_seconds'] for r in results):.0f} s a target."]
    publish("\n".join(lines), RESULTS / f"aux_ranking_{args.name}.md")


if __name__ == "__main__":
    main()
