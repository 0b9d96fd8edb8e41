"""``flair-munch export``: a run's head as a stock Flair tagger with its model card, optionally pushed to the hub."""

import argparse
from pathlib import Path


def add_export_parser(commands) -> None:
    """The ``export`` subcommand on the CLI's subparsers."""
    export = commands.add_parser(
        "export", help="one head of a run's model as a stock Flair SequenceTagger with a model card (README.md)")
    export.add_argument("source", type=Path, metavar="RUN_DIR_OR_MODEL",
                        help="a run folder (OUTPUT/runs/<run id>) or a saved model (final-model.pt)")
    export.add_argument("--head", help="the head (corpus) to export (default: the run's target, or the model's "
                        "main or only head)")
    export.add_argument("--out", type=Path, required=True,
                        help="new folder for final-model.pt, pytorch_model.bin and README.md (all or nothing)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    export.add_argument("--push-to-hub", metavar="REPO",
                        help="then upload pytorch_model.bin and README.md to this Hugging Face Hub repo (user/name)")
    export.add_argument("--private", action="store_true", help="with --push-to-hub: create the repo private")
    export.set_defaults(run=export_command)


def export_command(args: argparse.Namespace) -> int:
    from flair_munch.export import export_model, push_to_hub

    exported = export_model(args.source, args.out, head=args.head, repo_id=args.push_to_hub, overwrite=args.overwrite)
    print(exported.summary())
    if args.push_to_hub:
        url = push_to_hub(exported.folder, args.push_to_hub, private=args.private or None)
        print(f"pushed: {url}")
    return 0
