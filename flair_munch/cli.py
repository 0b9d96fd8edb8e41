"""The ``flair-munch`` command line: corpora, embeddings and training from the shell."""

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Optional

log = logging.getLogger("flair_munch")


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


def _corpus_stats(args: argparse.Namespace) -> int:
    from flair_munch.corpora import corpus_stats, format_stats

    stats = [corpus_stats(name, data_dir=args.data_dir, samples=args.samples) for name in args.names]
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
    return 0


def _corpus_list(args: argparse.Namespace) -> int:
    from flair_munch.corpora import REGISTRY

    print(f"{'name':<22} {'entity type':<22} folder")
    for info in REGISTRY.values():
        print(f"{info.name:<22} {info.entity_type:<22} {info.folder}")
    return 0


def _embeddings_build(args: argparse.Namespace) -> int:
    from flair_munch.corpora import resolve_corpus
    from flair_munch.corpora.registry import find_split_files
    from flair_munch.embeddings import build_embeddings

    files = []
    for name in args.corpora:
        _, folder = resolve_corpus(name, data_dir=args.data_dir, samples=args.samples)
        files.append(find_split_files(folder)["train"])
    summary = build_embeddings(
        files,
        args.out,
        word_dim=args.word_dim,
        word_epochs=args.word_epochs,
        max_vocab=args.max_vocab,
        lm_hidden=args.lm_hidden,
        lm_epochs=args.lm_epochs,
        lm_max_chars=args.lm_max_chars,
        seed=args.seed,
        num_threads=args.num_threads,
        overwrite=args.overwrite,
    )
    print(summary.format())
    return 0


def _train(args: argparse.Namespace) -> int:
    """One run, as a study runs it: the first corpus is the target, the others auxiliary, under ``--schedule``."""
    import flair
    import yaml
    from flair_munch.corpora import load_corpus
    from flair_munch.device import select_device
    from flair_munch.embeddings import load_embeddings
    from flair_munch.models import MultiHeadTagger
    from flair_munch.plugins import load_plugins
    from flair_munch.training import SCHEDULES, AuxiliaryTrainer, TrainingSettings
    from flair_munch.training.settings import FIELDS

    load_plugins()

    overrides = {key.strip(): yaml.safe_load(value) for key, _, value in (text.partition("=") for text in args.set or [])}
    if set(overrides) - set(FIELDS):
        raise ValueError(f"--set {', '.join(sorted(set(overrides) - set(FIELDS)))}: not a training setting; use KEY=VALUE "
                         f"with KEY one of {', '.join(FIELDS)}")
    settings = TrainingSettings(max_epochs=args.epochs, learning_rate=args.lr, mini_batch_size=args.batch_size,
                                seed=args.seed, embeddings_storage_mode=args.embeddings_storage_mode,
                                progress=not args.no_progress).replace(**overrides)
    if args.schedule not in SCHEDULES:
        raise ValueError(f"--schedule {args.schedule}: unknown schedule; choose one of {', '.join(SCHEDULES)}")
    schedule = SCHEDULES[args.schedule]()
    select_device(args.device)
    flair.set_seed(args.seed)
    corpora = [
        load_corpus(name, data_dir=args.data_dir, samples=args.samples, train_size=args.train_size, seed=args.seed)
        for name in args.corpus
    ]
    model = MultiHeadTagger.from_corpora(load_embeddings(args.embeddings), corpora, hidden_size=args.hidden_size)
    target, aux = corpora[0].name, [corpus.name for corpus in corpora[1:]]
    result = AuxiliaryTrainer(model, corpora).train(target, aux, schedule, args.out, settings)
    print(f"\n{'split':<6} {'P':>8} {'R':>8} {'F1':>8}")
    for split, scores in (("dev", result.dev), ("test", result.test)):
        if scores:
            print(f"{split:<6} {scores['precision']:>8.4f} {scores['recall']:>8.4f} {scores['f1']:>8.4f}")
    print(f"{result.summary()}\nrun folder: {result.run_dir}")
    return 0


def _embeddings_cache(args: argparse.Namespace) -> int:
    from flair_munch.recipes import check_data, load_recipe
    from flair_munch.study.driver import cache_embeddings

    recipe = load_recipe(args.recipe, overrides=args.set or [])
    check_data(recipe)
    store, report = cache_embeddings(recipe, progress=not args.no_progress, rebuild=args.rebuild)
    print(f"{store}: {report.sentences} sentences of the study, {report.hits} already stored, "
          f"{report.embedded} embedded ({report.tokens_written} tokens, {report.bytes_written / 1e6:.1f} MB) "
          f"in {report.seconds:.1f} s")
    return 0


def _apply_execution_flags(recipe, args: argparse.Namespace) -> None:
    """The flags override the recipe's `execution:` keys; Ray-only ones with the sequential executor are refused
    (flags: the user asked for them) or warned about (recipe keys: e.g. a Ray recipe run with --executor sequential)."""
    from flair_munch.execution.settings import execution_problems, ignored_by_sequential

    flags = dict(executor=args.executor, address=args.address, workers=args.workers, cpus_per_run=args.cpus_per_run,
                 gpus_per_run=args.gpus_per_run)
    recipe.execution = recipe.execution.replace(**flags)
    for key, problem, fix in execution_problems(recipe.execution.to_dict()):
        raise ValueError(f"--{key.replace('_', '-')}: {problem}. {fix}")
    for key in ignored_by_sequential(recipe.execution):
        flag, value = f"--{key.replace('_', '-')}", getattr(recipe.execution, key)
        if flags.get(key) is not None:
            raise ValueError(f"{flag} {value}: applies to the Ray executor only, and this study runs sequentially. "
                             f"Add --executor ray, or leave out {flag}.")
        print(f"flair-munch: warning: execution.{key} ({value}) is ignored: the sequential executor trains one run "
              f"at a time in this process; run with --executor ray to use it.", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from flair_munch.recipes import check_data, load_recipe
    from flair_munch.study.driver import run_study, study_status

    from flair_munch.recipes import RecipeError

    recipe = load_recipe(args.recipe, overrides=args.set or [])
    _apply_execution_flags(recipe, args)  # before --dry-run returns: it refuses bad flags too
    if args.dry_run:
        from flair_munch.study.folder import check_runnable

        check_runnable(recipe)  # what the run refuses (device, downloads, output_dir), without writing anything
        print(study_status(recipe).format())
        try:
            check_data(recipe)
        except RecipeError as error:
            print(f"flair-munch: warning: the study cannot run yet:\n{error}", file=sys.stderr)
        return 0
    check_data(recipe)
    status = run_study(recipe, progress=not args.no_progress, retry_failed=args.retry_failed)
    print(status.format())
    from flair_munch.evaluation import write_report

    if status.done:
        paths = write_report(status.output_dir)
        print((Path(paths.table_md)).read_text(encoding="utf-8"))
        print(f"report and plots: {Path(paths.table_md).parent}")
    for failure in status.failed:
        print(f"flair-munch: error: {failure}", file=sys.stderr)
    return 2 if status.failed else 0


def _report(args: argparse.Namespace) -> int:
    from flair_munch.evaluation import write_report

    paths = write_report(args.study_dir, out_dir=args.out)
    for name in ("table_md", "significance_md"):
        path = getattr(paths, name, None)
        if path:
            print(Path(path).read_text(encoding="utf-8"))
    print(f"report and plots: {Path(paths.table_md).parent}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from flair_munch.corpora import write_conll
    from flair_munch.tagging import check_output_file, load_model, tag_file, writing_output

    if args.out:
        check_output_file(args.out)
    model = load_model(args.model)
    rows = tag_file(model, args.file, head=args.head, mini_batch_size=args.batch_size)
    if args.out:
        with writing_output(args.out):
            write_conll(args.out, rows)
        print(f"{sum(len(r) for r in rows)} tokens in {len(rows)} sentences tagged -> {args.out}")
    else:
        print("\n\n".join("\n".join("\t".join(row) for row in sentence) for sentence in rows))
    if rows and rows[0] and len(rows[0][0]) == 3:  # CoNLL input with gold tags: score it as evaluate does
        from flair_munch.evaluation import span_scores

        scores = span_scores([[g for _, g, _ in s] for s in rows], [[p for _, _, p in s] for s in rows])
        print(f"exact-span micro P {scores.precision:.4f} R {scores.recall:.4f} F1 {scores.f1:.4f} "
              f"({int(scores.support)} gold entities)", file=sys.stderr if not args.out else sys.stdout)
    return 0


def _rank_aux(args: argparse.Namespace) -> int:
    from flair_munch.corpora import load_corpus
    from flair_munch.corpora.similarity import format_ranking, rank_aux

    from flair_munch.corpora.similarity import distinct_candidates

    def load(name):
        return load_corpus(name, data_dir=args.data_dir, samples=args.samples, name=name)

    if args.max_sentences < 1:
        raise ValueError(f"--max-sentences: expected a positive number of sentences, got {args.max_sentences}. "
                         "Use 1 or more (default 2000).")
    candidates = distinct_candidates(args.target, args.candidates, data_dir=args.data_dir, samples=args.samples)
    embeddings = None
    if args.embeddings:
        from flair_munch.embeddings import load_embeddings

        embeddings = load_embeddings(args.embeddings)
    rows = rank_aux(load(args.target), [load(name) for name in candidates], embeddings,
                    max_sentences=args.max_sentences)
    print(f"auxiliary corpora for {args.target}, most similar first:")
    print(format_ranking(rows))
    return 0


def _uncertain(args: argparse.Namespace) -> int:
    from flair_munch.tagging import load_model
    from flair_munch.models.marginals import rank_by_uncertainty, write_uncertainty_conll
    from flair_munch.tagging import check_output_file, read_sentences, writing_output

    if args.out:
        check_output_file(args.out)
    model = load_model(args.model)
    if args.head not in model.heads:
        raise KeyError(f"unknown head {args.head!r}; the model's heads are {model.head_names}")
    rows = rank_by_uncertainty(model, read_sentences(args.file, model.tag_type), head=args.head, reduce=args.reduce,
                               mini_batch_size=args.batch_size)
    chosen = [row for row in rows if row.score >= args.threshold]
    out = args.out or Path(args.file).with_suffix(".uncertain.conll")
    with writing_output(Path(out)):
        write_uncertainty_conll(out, chosen, label_type=model.tag_type)
    print(f"{len(chosen)} of {len(rows)} sentences have {args.reduce} token entropy >= {args.threshold} nats "
          f"(ranked, most uncertain first) -> {out}")
    for row in chosen[: args.show]:
        print(f"{row.score:.3f}  {' '.join(token.text for token in row.sentence)[:100]}")
    return 0


def _errors(args: argparse.Namespace) -> int:
    from flair_munch.evaluation.error_analysis import classify_errors
    from flair_munch.evaluation.prediction_file import read_prediction_file

    gold, predicted = read_prediction_file(args.predictions)
    counts = classify_errors(gold, predicted)
    print(counts.format())
    print("shares: " + ", ".join(f"{name} {share:.1%}" for name, share in counts.rates.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flair-munch", description="NER with auxiliary corpora on top of Flair (MUNCHABLES, ECTTLNER)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    corpus = commands.add_parser("corpus", help="inspect corpora").add_subparsers(
        dest="corpus_command", required=True, metavar="SUBCOMMAND"
    )
    stats = corpus.add_parser("stats", help="sentences, tokens and mentions per split and entity type")
    stats.add_argument("names", nargs="+", metavar="NAME", help="registry name (e.g. ncbi-disease) or corpus folder")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_data_arguments(stats)
    stats.set_defaults(run=_corpus_stats)
    listing = corpus.add_parser("list", help="the corpora the registry knows")
    listing.set_defaults(run=_corpus_list)

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
    build.set_defaults(run=_embeddings_build)
    cache = embeddings.add_parser(
        "cache", help="embed what a recipe reads (targets: all splits; auxiliaries: train) once into the embedding store"
    )
    cache.add_argument("recipe", type=Path, help="recipe file")
    cache.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe key (repeatable)")
    cache.add_argument("--no-progress", action="store_true", help="no progress bar")
    cache.add_argument("--rebuild", action="store_true",
                       help="delete the recipe's store folder first and embed everything again (a damaged store)")
    cache.set_defaults(run=_embeddings_cache)

    train = commands.add_parser(
        "train", help="train one run: the first --corpus is the target, the others auxiliary, under --schedule")
    train.add_argument("--corpus", action="append", required=True, metavar="NAME",
                       help="a corpus (repeat): the first is the target, the others auxiliary corpora")
    train.add_argument("--schedule", default="single-task", metavar="NAME",
                       help="the training schedule: single-task (default), multi-task, single-aux, single-aux-best, "
                       "munch-conc, munch-iter, munch-stack, pretrain-finetune; options need a recipe")
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
    train.add_argument("--embeddings-storage-mode", default="cpu", choices=["none", "cpu", "gpu"],
                       help="Flair's storage mode")
    train.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="any other TrainingSettings field, e.g. --set patience=3 (repeatable)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_data_arguments(train)
    train.set_defaults(run=_train)

    run = commands.add_parser("run", help="run a study recipe (YAML): every target x schedule x hyperparameters x seed")
    run.add_argument("recipe", type=Path, help="recipe file, e.g. recipes/quickstart.yaml")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a recipe key, e.g. --set training.max_epochs=3 (repeatable)")
    run.add_argument("--dry-run", action="store_true", help="list every run and whether it is done; train nothing")
    run.add_argument("--executor", choices=["sequential", "ray"], help="who runs the runs (default: the recipe's "
                     "execution.executor, else sequential); ray needs pip install -e \".[ray]\"")
    run.add_argument("--address", help="Ray cluster to join: auto or HOST:PORT (default: start a local one)")
    run.add_argument("--workers", type=int, help="Ray: runs at once on the local cluster (default: CPUs / cpus per run)")
    run.add_argument("--cpus-per-run", type=int, help="Ray: CPUs (and torch threads) per run (default 1)")
    run.add_argument("--gpus-per-run", type=float, help="Ray: GPUs per run; 0.25 packs four runs per GPU (default 0)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars (log lines only)")
    run.add_argument("--retry-failed", action="store_true",
                     help="train runs again that diverged earlier (failed.json); by default they are skipped")
    run.set_defaults(run=_run)

    report = commands.add_parser("report", help="tables (Markdown, CSV), significance and plots of a study")
    report.add_argument("study_dir", type=Path, help="the recipe's output_dir")
    report.add_argument("--out", type=Path, default=None, help="where to write (default STUDY_DIR/report)")
    report.set_defaults(run=_report)

    predict = commands.add_parser("predict", help="tag raw text (a sentence per line) or a CoNLL file with one head")
    predict.add_argument("model", type=Path, help="a saved MultiHeadTagger (final-model.pt)")
    predict.add_argument("file", type=Path, help="raw text, one sentence per line, or CoNLL (token<TAB>tag)")
    predict.add_argument("--head", required=True, help="the head (corpus name) that tags")
    predict.add_argument("--out", type=Path, default=None, help="CoNLL output file (default: stdout)")
    predict.add_argument("--batch-size", type=int, default=32)
    predict.set_defaults(run=_predict)

    rank = commands.add_parser("rank-aux", help="rank auxiliary corpora for a target by corpus similarity (seconds)")
    rank.add_argument("target", help="the target corpus (name or folder)")
    rank.add_argument("--candidates", nargs="+", required=True, metavar="NAME", help="candidate auxiliary corpora")
    rank.add_argument("--embeddings", nargs="+", default=None,
                      help="also compare mean sentence vectors of these frozen embeddings (e.g. default)")
    rank.add_argument("--max-sentences", type=int, default=2000, help="train sentences read per corpus (default 2000)")
    _add_data_arguments(rank)
    rank.set_defaults(run=_rank_aux)

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
    uncertain.set_defaults(run=_uncertain)

    errors = commands.add_parser(
        "errors", help="classify prediction errors (no annotation, no extraction, wrong range / tag / both)"
    )
    errors.add_argument("predictions", type=Path, help="CoNLL file: token<TAB>gold<TAB>predicted (test-predictions.conll)")
    errors.set_defaults(run=_errors)
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
