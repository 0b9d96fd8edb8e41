"""What each ``flair-munch`` subcommand does; the parser (``flair_munch.cli``) hands each its arguments."""

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger("flair_munch")


def corpus_stats(args: argparse.Namespace) -> int:
    from flair_munch.corpora import corpus_stats, format_stats

    stats = [corpus_stats(name, data_dir=args.data_dir, samples=args.samples) for name in args.names]
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
    return 0


def corpus_list(args: argparse.Namespace) -> int:
    from flair_munch.corpora import REGISTRY

    print(f"{'name':<22} {'entity type':<22} folder")
    for info in REGISTRY.values():
        print(f"{info.name:<22} {info.entity_type:<22} {info.folder}")
    return 0


def embeddings_build(args: argparse.Namespace) -> int:
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


def train(args: argparse.Namespace) -> int:
    """One run, as a study runs it: the first corpus is the target, the others auxiliary, under ``--schedule``."""
    import flair
    import yaml
    from flair_munch.corpora import load_corpus
    from flair_munch.device import select_device
    from flair_munch.embeddings import load_embeddings
    from flair_munch.models import MultiHeadTagger
    from flair_munch.plugins import load_plugins
    from flair_munch.training import SCHEDULES, AuxiliaryTrainer, TrainingSettings
    from flair_munch.training.precision import resolve_precision
    from flair_munch.training.settings import FIELDS

    load_plugins()

    overrides = {key.strip(): yaml.safe_load(value) for key, _, value in (text.partition("=") for text in args.set or [])}
    if set(overrides) - set(FIELDS):
        raise ValueError(f"--set {', '.join(sorted(set(overrides) - set(FIELDS)))}: not a training setting; use KEY=VALUE "
                         f"with KEY one of {', '.join(FIELDS)}")
    settings = TrainingSettings(max_epochs=args.epochs, learning_rate=args.lr, mini_batch_size=args.batch_size,
                                seed=args.seed, embeddings_storage_mode=args.embeddings_storage_mode,
                                progress=not args.no_progress).replace(**overrides)
    if args.precision is not None:
        settings = settings.replace(precision=args.precision)
    if args.schedule not in SCHEDULES:
        raise ValueError(f"--schedule {args.schedule}: unknown schedule; choose one of {', '.join(SCHEDULES)}")
    schedule = SCHEDULES[args.schedule]()
    select_device(args.device)
    resolve_precision(settings.precision, flair.device)  # refused before corpora and embeddings load
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


def embeddings_cache(args: argparse.Namespace) -> int:
    from flair_munch.recipes import check_data, load_recipe
    from flair_munch.study.driver import cache_embeddings

    recipe = load_recipe(args.recipe, overrides=args.set or [])
    check_data(recipe)
    store, report = cache_embeddings(recipe, progress=not args.no_progress, rebuild=args.rebuild)
    print(f"{store}: {report.sentences} sentences of the study, {report.hits} already stored, "
          f"{report.embedded} embedded ({report.tokens_written} tokens, {report.bytes_written / 1e6:.1f} MB) "
          f"in {report.seconds:.1f} s")
    return 0


def apply_execution_flags(recipe, args: argparse.Namespace) -> None:
    """The flags override the recipe's `execution:` keys; Ray-only ones with the sequential executor are refused
    (flags: the user asked for them) or warned about (recipe keys: e.g. a Ray recipe run with --executor sequential)."""
    from flair_munch.execution import Executor
    from flair_munch.execution.settings import execution_problems, ignored_by_sequential

    flags = dict(executor=args.executor, address=args.address, workers=args.workers, cpus_per_run=args.cpus_per_run,
                 gpus_per_run=args.gpus_per_run)
    recipe.execution = recipe.execution.with_flags(**flags)
    for key, problem, fix in execution_problems(recipe.execution.to_dict(), Executor.registry):
        raise ValueError(f"--{key.replace('_', '-')}: {problem}. {fix}")
    for key in ignored_by_sequential(recipe.execution):
        flag, value = f"--{key.replace('_', '-')}", getattr(recipe.execution, key)
        if flags.get(key) is not None:
            raise ValueError(f"{flag} {value}: applies to the Ray executor only, and this study runs sequentially. "
                             f"Add --executor ray, or leave out {flag}.")
        print(f"flair-munch: warning: execution.{key} ({value}) is ignored: the sequential executor trains one run "
              f"at a time in this process; run with --executor ray to use it.", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from flair_munch.recipes import check_data, load_recipe
    from flair_munch.study.driver import run_study, study_status
    from flair_munch.tracking import log_study_report, parse_log_to_flag

    from flair_munch.recipes import RecipeError

    recipe = load_recipe(args.recipe, overrides=args.set or [])
    apply_execution_flags(recipe, args)  # before --dry-run returns: it refuses bad flags too
    if args.log_to is not None:  # --log-to replaces the recipe's log_to
        recipe.log_to = parse_log_to_flag(args.log_to)
    if args.dry_run:
        from flair_munch.study.folder import check_runnable

        check_runnable(recipe)  # what the run refuses (device, downloads, output_dir), without writing anything
        print(study_status(recipe).format())
        try:
            check_data(recipe, fetch=False)  # `download: true` fetches when the study runs, not at --dry-run
        except RecipeError as error:
            print(f"flair-munch: warning: the study cannot run yet:\n{error}", file=sys.stderr)
        return 0
    check_data(recipe)
    status = run_study(recipe, progress=not args.no_progress, retry_failed=args.retry_failed)
    print(status.format())
    from flair_munch.evaluation import write_report

    if status.done:
        paths = write_report(status.output_dir)
        log_study_report(status.output_dir, Path(paths.table_md).parent)  # log_to: e.g. MLflow's parent run
        print((Path(paths.table_md)).read_text(encoding="utf-8"))
        print(f"report and plots: {Path(paths.table_md).parent}")
    for failure in status.failed:
        print(f"flair-munch: error: {failure}", file=sys.stderr)
    return 2 if status.failed else 0


def report(args: argparse.Namespace) -> int:
    from flair_munch.evaluation import write_report
    from flair_munch.tracking import log_study_report

    paths = write_report(args.study_dir, out_dir=args.out)
    log_study_report(args.study_dir, Path(paths.table_md).parent)  # a study that logs to MLflow keeps its report there
    for name in ("table_md", "significance_md"):
        path = getattr(paths, name, None)
        if path:
            print(Path(path).read_text(encoding="utf-8"))
    print(f"report and plots: {Path(paths.table_md).parent}")
    return 0


def predict(args: argparse.Namespace) -> int:
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


def rank_aux(args: argparse.Namespace) -> int:
    from flair_munch.aux_ranking.command import rank_aux_command

    return rank_aux_command(args)


def uncertain(args: argparse.Namespace) -> int:
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


def errors(args: argparse.Namespace) -> int:
    from flair_munch.evaluation.error_analysis import classify_errors
    from flair_munch.evaluation.prediction_file import read_prediction_file

    gold, predicted = read_prediction_file(args.predictions)
    counts = classify_errors(gold, predicted)
    print(counts.format())
    print("shares: " + ", ".join(f"{name} {share:.1%}" for name, share in counts.rates.items()))
    return 0
