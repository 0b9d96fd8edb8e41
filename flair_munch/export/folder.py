"""An export folder as Flair's hub models are laid out (``pytorch_model.bin`` + ``README.md``), and its upload."""

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from huggingface_hub import HfApi

from flair_munch.atomic_files import atomic_dir
from flair_munch.export.model_card import flair_model_card, model_card
from flair_munch.export.run_record import MODEL_FILE, find_run
from flair_munch.models.sequence_tagger_export import ExportError, export_head, head_to_export

HUB_MODEL_FILE = "pytorch_model.bin"  # the file ``SequenceTagger.load("user/repo")`` downloads
CARD_FILE = "README.md"
UPLOADED = (HUB_MODEL_FILE, CARD_FILE)
"""What a push uploads: ``final-model.pt`` is the same file under Flair's local name."""


@dataclass
class ExportedModel:
    """Where an export was written, which head of which run it holds, and the files in it."""

    folder: Path
    head: str
    run_id: Optional[str]
    files: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        size = sum({f.stat().st_ino: f.stat().st_size for f in self.files}.values()) / 1e6  # a hard link once
        run = f" of run {self.run_id}" if self.run_id else ""
        return (f"head {self.head}{run} exported as a Flair SequenceTagger -> {self.folder} "
                f"({', '.join(f.name for f in self.files)}; {size:.1f} MB)")


def export_model(source: Union[str, Path], out: Union[str, Path], head: Optional[str] = None,
                 repo_id: Optional[str] = None, overwrite: bool = False) -> ExportedModel:
    """Exports ``head`` of a run folder's (or model file's) tagger into the folder ``out``, whole or not at all.

    ``out`` gets ``final-model.pt`` (Flair's ``save``), ``pytorch_model.bin`` (the same file, as the hub names
    it; a hard link where the file system allows) and the model card ``README.md``; ``repo_id`` is the hub repo
    the card's example loads from.
    """
    from flair_munch.tagging import load_model

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: is a file; --out takes a folder (the export is several files).")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists. Give a new folder to --out, or pass --overwrite to replace it.")
    record = find_run(source)
    model = load_model(record.model_path)
    name = head_to_export(model, head if head is not None else _target_head(record, model))
    tagger = export_head(model, name)
    tagger.model_card = flair_model_card(record, name, model)
    card = model_card(record, name, model, tagger, where=repo_id or str(out / MODEL_FILE))
    with atomic_dir(out, overwrite=True) as partial:
        tagger.save(partial / MODEL_FILE)
        _link_or_copy(partial / MODEL_FILE, partial / HUB_MODEL_FILE)
        card.save(partial / CARD_FILE)
    return ExportedModel(out, name, record.run_id, [out / MODEL_FILE, out / HUB_MODEL_FILE, out / CARD_FILE])


def _target_head(record, model) -> Optional[str]:
    """A run's target when the model has a head of that name (the head a user of the run means), else None."""
    target = record.result.target if record.result else None
    return target if target in model.heads else None


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def push_to_hub(folder: Union[str, Path], repo_id: str, token: Optional[str] = None, private: Optional[bool] = None,
                say=print) -> str:
    """Uploads an export folder's ``pytorch_model.bin`` and ``README.md`` with huggingface_hub, after saying what goes.

    Returns the repository's URL. The token is huggingface_hub's usual one (``huggingface-cli login`` or
    ``HF_TOKEN``) unless given.
    """
    folder = Path(folder)
    missing = [name for name in UPLOADED if not (folder / name).is_file()]
    if missing:
        raise ExportError(f"{folder}: not an export folder (no {', '.join(missing)}). Export first: "
                          "flair-munch export RUN_DIR --out DIR")
    say(f"uploading to the Hugging Face Hub repo {repo_id}{' (private)' if private else ''}:")
    for name in UPLOADED:
        say(f"  {name}  {(folder / name).stat().st_size / 1e6:.1f} MB")
    api = HfApi(token=token)
    url = api.create_repo(repo_id=repo_id, private=private, exist_ok=True)
    api.upload_folder(repo_id=repo_id, folder_path=folder, allow_patterns=list(UPLOADED),
                      commit_message="Add a Flair SequenceTagger exported by flair-munch")
    return str(url)
