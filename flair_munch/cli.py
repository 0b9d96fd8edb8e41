"""The ``flair-munch`` command line: its parser and the error convention (one line, exit 2); the subcommands' work
is in ``flair_munch.commands``."""

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional

from flair_munch import commands as handlers
from flair_munch.aux_ranking.command import add_ranking_arguments
from flair_munch.corpora.download_command import add_download_parser
from flair_munch.export.command import add_export_parser


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help="folder with one sub-folder per corpus (default: $FLAIR_MUNCH_DATA)",
    )
    parser.add_argument(
        "--samples",
        action="store_true",
        help="use the small corpus samples shipped in flair_munch/resources/corpora instead of the full corpora",
    )


def _add_corpus_parsers(commands) -> None:
    corpus = commands.add_parser("corpus", help="inspect corpora").add_subparsers(
        dest="corpus_command", required=True, metavar="SUBCOMMAND"
    )
    stats = corpus.add_parser("stats", help="sentences, tokens and mentions per split and entity type")
    stats.add_argument("names", nargs="+", metavar="NAME", help="registry name (e.g. ncbi-disease) or corpus folder")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_data_arguments(stats)
    stats.set_defaults(run=handlers.corpus_stats)
    listing = corpus.add_parser("list", help="the corpora the registry knows")
    listing.set_defaults(run=handlers.corpus_list)
    add_download_parser(corpus)


def _add_embeddings_parsers(commands) -> None:
    embeddings = commands.add_parser("embeddings", help="offline embeddings").add_subparsers(
        dest="embeddings_command", required=True, metavar="SUBCOMMAND"
    )
    build = embeddings.add_parser(
        "build",
        help="train FastText word vectors and forward/backward Flair character LMs on corpus training text",
    )
    build.add_argument("--corpora", nargs="+", required=True, metavar="NAME", help="corpora whose train text is used")
    build.add_argument("--out", required=True, type=Path, help="output folder (written atomically)")
    build.add_argument("--word-dim", type=int, default=100, help="word vector size (default 100)")
    build.add_argument("--word-epochs", type=int, default=10, help="FastText epochs (default 10)")
    build.add_argument("--max-vocab", type=int, default=25000, help="most frequent words kept (default 25000)")
    build.add_argument("--lm-hidden", type=int, default=256, help="character LM hidden size (default 256)")
    build.add_argument("--lm-epochs", type=int, default=8, help="character LM epochs (default 8)")
    build.add_argument(
        "--lm-max-chars", type=int, default=None, help="cap on characters of LM training text (seeded sample)"
    )
    build.add_argument("--seed", type=int, default=1)
    build.add_argument("--num-threads", type=int, default=None, help="torch threads for the LMs (default: torch's)")
    build.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    _add_data_arguments(build)
    build.set_defaults(run=handlers.embeddings_build)
    cache = embeddings.add_parser(
        "cache", help="embed what a recipe reads (targets: all splits; auxiliaries: train) once into the embedding store"
    )
    cache.add_argument("recipe", type=Path, help="recipe file")
    cache.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe key (repeatable)")
    cache.add_argument("--no-progress", action="store_true", help="no progress bar")
    cache.add_argument("--rebuild", action="store_true",
                       help="delete the recipe's store folder first and embed everything again (a damaged store)")
    cache.set_defaults(run=handlers.embeddings_cache)


def _add_train_parser(commands) -> None:
    from flair_munch.training.schedules import SCHEDULES

    train = commands.add_parser(
        "train", help="train one run: the first --corpus is the target, the others auxiliary, under --schedule")
    train.add_argument("--corpus", action="append", required=True, metavar="NAME",
                       help="a corpus (repeat): the first is the target, the others auxiliary corpora")
    train.add_argument("--schedule", default="single-task", metavar="NAME",
                       help=f"the training schedule, a registered one: {', '.join(SCHEDULES)} (default single-task); "
                       "options need a recipe")
    train.add_argument("--embeddings", nargs="+", default=["default"],
                       help="embeddings (default: shipped set + MiniLM; default-small: without MiniLM)")
    train.add_argument("--out", type=Path, default=Path("runs/train"), help="the run's folder (default runs/train)")
    train.add_argument("--epochs", type=int, default=10, help="max_epochs per stage (default 10)")
    train.add_argument("--lr", type=float, default=0.1, help="learning_rate (default 0.1)")
    train.add_argument("--batch-size", type=int, default=32, help="mini_batch_size (default 32)")
    train.add_argument("--hidden-size", type=int, default=256)
    train.add_argument("--train-size", default=None, help="cut each train split: a count (1000) or fraction (10%%)")
    train.add_argument("--seed", type=int, default=1)
    train.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    train.add_argument("--precision", metavar="P", help="fp32, bf16, fp16 (CUDA) or auto: bf16 where the CPU or GPU "
                       "has native bf16, else fp32 (default: the precision setting's default; docs/python-api.md)")
    train.add_argument("--embeddings-storage-mode", default="cpu", choices=["none", "cpu", "gpu"],
                       help="Flair's storage mode")
    train.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="any other TrainingSettings field, e.g. --set patience=3 (repeatable)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_data_arguments(train)
    train.set_defaults(run=handlers.train)


def _add_run_parser(commands) -> None:
    from flair_munch.execution import Executor

    run = commands.add_parser("run", help="run a study recipe (YAML): every target x schedule x hyperparameters x seed")
    run.add_argument("recipe", type=Path, help="recipe file, e.g. recipes/quickstart.yaml")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a recipe key, e.g. --set training.max_epochs=3 (repeatable)")
    run.add_argument("--dry-run", action="store_true", help="list every run and whether it is done; train nothing")
    run.add_argument("--executor", choices=list(Executor.registry), help="who runs the runs (default: the recipe's "
                     "execution.executor, else sequential); ray needs pip install -e \".[ray]\"")
    run.add_argument("--address", help="Ray cluster to join: auto or HOST:PORT (default: start a local one)")
    run.add_argument("--workers", type=int, help="Ray: runs at once on the local cluster (default: CPUs / cpus per run)")
    run.add_argument("--cpus-per-run", type=int, help="Ray: CPUs (and torch threads) per run (default 1)")
    run.add_argument("--gpus-per-run", type=float, help="Ray: GPUs per run; 0.25 packs four runs per GPU (default 0)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars (log lines only)")
    run.add_argument("--retry-failed", action="store_true",
                     help="train runs again that diverged earlier (failed.json); by default they are skipped")
    run.add_argument("--log-to", metavar="TRACKERS", help="log every run to mlflow, tensorboard and/or wandb "
                     "(comma-separated; none: no tracker); replaces the recipe's log_to (docs/recipes.md#tracking)")
    run.set_defaults(run=handlers.run)


def _add_report_parser(commands) -> None:
    report = commands.add_parser("report", help="tables (Markdown, CSV), significance and plots of a study")
    report.add_argument("study_dir", type=Path, help="the recipe's output_dir")
    report.add_argument("--out", type=Path, default=None, help="where to write (default STUDY_DIR/report)")
    report.set_defaults(run=handlers.report)


def _add_predict_parser(commands) -> None:
    predict = commands.add_parser("predict", help="tag raw text (a sentence per line) or a CoNLL file with one head")
    predict.add_argument("model", type=Path, help="a saved MultiHeadTagger (final-model.pt)")
    predict.add_argument("file", type=Path, help="raw text, one sentence per line, or CoNLL (token<TAB>tag)")
    predict.add_argument("--head", required=True, help="the head (corpus name) that tags")
    predict.add_argument("--out", type=Path, default=None, help="CoNLL output file (default: stdout)")
    predict.add_argument("--batch-size", type=int, default=32)
    predict.set_defaults(run=handlers.predict)


def _add_rank_aux_parser(commands) -> None:
    rank = commands.add_parser("rank-aux", help="rank auxiliary corpora for a target by corpus similarity (seconds) "
                               "or a model-based predictor (--method)")
    rank.add_argument("target", help="the target corpus (name or folder)")
    rank.add_argument("--candidates", nargs="+", required=True, metavar="NAME", help="candidate auxiliary corpora")
    rank.add_argument("--embeddings", nargs="+", default=None,
                      help="also compare mean sentence vectors of these frozen embeddings (e.g. default)")
    rank.add_argument("--max-sentences", type=int, default=2000, help="train sentences read per corpus (default 2000)")
    add_ranking_arguments(rank)
    _add_data_arguments(rank)
    rank.set_defaults(run=handlers.rank_aux)


def _add_uncertain_parser(commands) -> None:
    uncertain = commands.add_parser(
        "uncertain", help="sentences to re-annotate: per-token entropy of a head's CRF marginals, ranked")
    uncertain.add_argument("model", type=Path, help="a saved model (final-model.pt)")
    uncertain.add_argument("file", type=Path, help="CoNLL (token<TAB>tag) or raw text, one sentence per line")
    uncertain.add_argument("--head", required=True, help="the head (corpus) whose marginals are used")
    uncertain.add_argument("--threshold", type=float, default=0.0,
                           help="keep sentences whose token entropy (nats) reaches this (default 0: all)")
    uncertain.add_argument("--reduce", choices=["max", "mean"], default="max", help="sentence score (default max)")
    uncertain.add_argument("--out", type=Path, default=None,
                           help="output CoNLL: token, gold, predicted, entropy (default FILE.uncertain.conll)")
    uncertain.add_argument("--batch-size", type=int, default=32)
    uncertain.add_argument("--show", type=int, default=10, help="print the N most uncertain sentences")
    uncertain.set_defaults(run=handlers.uncertain)


def _add_errors_parser(commands) -> None:
    errors = commands.add_parser(
        "errors", help="classify prediction errors (no annotation, no extraction, wrong range / tag / both)"
    )
    errors.add_argument("predictions", type=Path, help="CoNLL file: token<TAB>gold<TAB>predicted (test-predictions.conll)")
    errors.set_defaults(run=handlers.errors)


SUBCOMMAND_PARSERS = (_add_corpus_parsers, _add_embeddings_parsers, _add_train_parser, _add_run_parser,
                      _add_report_parser, _add_predict_parser, _add_rank_aux_parser, _add_uncertain_parser,
                      _add_errors_parser)
"""One function per subcommand, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flair-munch", description="NER with auxiliary corpora on top of Flair (MUNCHABLES, ECTTLNER)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser in SUBCOMMAND_PARSERS:
        add_parser(commands)
    add_export_parser(commands)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return args.run(args)
    except (FileNotFoundError, FileExistsError, ValueError, KeyError, RuntimeError) as error:
        if args.verbose:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"flair-munch: error: {message}", file=sys.stderr)
        return 2
    except OSError as error:  # no permission, a folder where a file belongs, a full disk
        if args.verbose:
            raise
        where = f"{error.filename}: " if error.filename else ""
        print(f"flair-munch: error: {where}{error.strerror or error}. Check the path, its type (file or folder) "
              "and its permissions.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
