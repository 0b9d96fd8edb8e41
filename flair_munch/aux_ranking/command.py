"""``flair-munch rank-aux``: rank candidate auxiliary corpora for a target with one of the ranking methods."""

from __future__ import annotations

import argparse
import logging

import yaml

from flair_munch.aux_ranking.base import format_aux_ranking, predictor_names, rank_aux

log = logging.getLogger("flair_munch")


def add_ranking_arguments(parser: argparse.ArgumentParser) -> None:
    """``--method`` and ``--option KEY=VALUE`` (the method's options, docs/transfer.md)."""
    parser.add_argument("--method", default="similarity", metavar="NAME",
                        help=f"ranking method: {', '.join(predictor_names())} (default similarity: seconds, no model)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of the method, e.g. epochs=1 (probe) or steps=20 (lookahead); repeatable")


def method_options(method: str, pairs: list[str]) -> dict:
    """``["epochs=1", ...]`` as ``{"epochs": 1}`` (values read as YAML scalars); ``ValueError`` for a malformed pair."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--option {pair!r}: expected KEY=VALUE, e.g. --option epochs=1 for --method {method}")
        options[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return options


def rank_aux_command(args: argparse.Namespace) -> int:
    """Loads the target and the candidates, ranks them with ``--method`` and prints the table; the compute is logged."""
    from flair_munch.corpora import load_corpus
    from flair_munch.corpora.similarity import distinct_candidates

    if args.max_sentences < 1:
        raise ValueError(f"--max-sentences: expected a positive number of sentences, got {args.max_sentences}. "
                         "Use 1 or more (default 2000).")
    options = {"max_sentences": args.max_sentences, **method_options(args.method, args.option)}
    if args.embeddings:
        options["embeddings"] = args.embeddings
    from flair_munch.aux_ranking.base import make_predictor

    make_predictor(args.method, **options)  # an unknown method or option fails before any corpus is read
    candidates = distinct_candidates(args.target, args.candidates, data_dir=args.data_dir, samples=args.samples)

    def load(name):
        return load_corpus(name, data_dir=args.data_dir, samples=args.samples, name=name)

    ranking = rank_aux(load(args.target), [load(name) for name in candidates], args.method, **options)
    print(f"auxiliary corpora for {args.target} by {args.method}, most helpful first:")
    print(format_aux_ranking(ranking, compute=False))
    log.info("rank-aux --method %s: %s", args.method, ranking.compute.describe())
    return 0
