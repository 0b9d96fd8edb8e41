"""``flair-munch corpus download``: its parser and what it does (``flair_munch.corpora.download`` does the work)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_download_parser(corpus_commands) -> None:
    """Adds ``download`` to the ``corpus`` subcommands (``cli._add_corpus_parsers`` calls this)."""
    from flair_munch.corpora.sources import MIRROR_ENV_VAR, SOURCES

    download = corpus_commands.add_parser(
        "download", help="fetch registered corpora from their pinned sources, verified byte for byte, into the data "
        "folder", description="Fetches each corpus's pinned files (printing where from and their terms first), "
        "checks every file's git blob id, converts them to train/dev/test.tsv, checks the published counts and "
        f"moves the folder into place. Downloadable: {', '.join(SOURCES)}. Proxies come from HTTPS_PROXY/HTTP_PROXY; "
        f"{MIRROR_ENV_VAR} replaces https://raw.githubusercontent.com.")
    download.add_argument("names", nargs="*", metavar="NAME", help="registry names (e.g. ncbi-disease bc2gm)")
    download.add_argument("--all", action="store_true", dest="all_corpora",
                          help="every downloadable corpus (bc4chemd only when named or with --include-unclear)")
    download.add_argument("--include-unclear", action="store_true",
                          help="with --all, also corpora whose redistribution status is unclear (bc4chemd)")
    download.add_argument("--to", type=Path, default=None, metavar="DIR",
                          help="data folder (default: $FLAIR_MUNCH_DATA, else ~/.cache/flair_munch/corpora or "
                          "$FLAIR_MUNCH_CACHE/corpora)")
    download.add_argument("--timeout", type=float, default=30.0, help="seconds without a byte before a try fails "
                          "(default 30)")
    download.add_argument("--retries", type=int, default=3, help="tries after the first (default 3)")
    download.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")
    download.set_defaults(run=corpus_download)


def corpus_download(args: argparse.Namespace) -> int:
    from flair_munch.corpora.download import download_corpora
    from flair_munch.corpora.transfer import TransferSettings

    if not args.names and not args.all_corpora:
        raise ValueError("corpus download: name the corpora to download (e.g. `flair-munch corpus download "
                         "ncbi-disease`) or give --all")
    if args.timeout <= 0 or args.retries < 0:
        raise ValueError(f"corpus download: --timeout must be > 0 and --retries >= 0, got {args.timeout:g} and "
                         f"{args.retries}")
    progress = False if args.no_progress else None  # None: a bar on a terminal, log lines otherwise
    settings = TransferSettings(timeout=args.timeout, retries=args.retries, progress=progress)
    folders = download_corpora(args.names, args.to, all_corpora=args.all_corpora,
                               include_unclear=args.include_unclear, settings=settings, notice=print)
    for name, folder in folders.items():
        print(f"{name:<22} {folder}")
    return 0
