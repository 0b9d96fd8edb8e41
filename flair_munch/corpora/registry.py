"""Known corpora and how a corpus name becomes a folder with three splits.

The package ships no full corpora (licences, size), so names resolve against a
user-supplied data folder; errors say exactly which files to put where.
"""

from __future__ import annotations

import errno
import filecmp
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from flair_munch.corpora.sources import download_hint
from flair_munch.names import did_you_mean
from flair_munch.resources import resources_dir

log = logging.getLogger("flair_munch")

DATA_ENV_VAR = "FLAIR_MUNCH_DATA"
SPLITS = ("train", "dev", "test")
_SPLIT_STEMS = {"train": ("train",), "dev": ("dev", "devel"), "test": ("test",)}
_SPLIT_SUFFIXES = (".tsv", ".txt")


class CorpusNotFoundError(FileNotFoundError):
    """A corpus name or folder that cannot be resolved; the message says how to fix it."""

    def __str__(self) -> str:  # FileNotFoundError would otherwise print the errno tuple
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class CorpusInfo:
    """One registered corpus: where its folder is named and what it annotates."""

    name: str
    folder: str
    entity_type: str
    description: str
    huner_loader: Optional[str] = None


def _bio(name: str, folder: str, entity_type: str, loader: str, description: str) -> CorpusInfo:
    return CorpusInfo(name, folder, entity_type, description, loader)


_CORPORA = [
    _bio("ncbi-disease", "NCBI-disease", "Disease", "BIOBERT_DISEASE_NCBI", "NCBI disease corpus (PubMed abstracts)"),
    _bio("bc5cdr-disease", "BC5CDR-disease", "Disease", "BIOBERT_DISEASE_BC5CDR", "BioCreative V CDR, disease mentions"),
    _bio("bc5cdr-chem", "BC5CDR-chem", "Chemical", "BIOBERT_CHEMICAL_BC5CDR", "BioCreative V CDR, chemical mentions"),
    _bio("bc4chemd", "BC4CHEMD", "Chemical", "BIOBERT_CHEMICAL_BC4CHEMD", "BioCreative IV CHEMDNER chemicals"),
    _bio("bc2gm", "BC2GM", "Gene/Protein", "BIOBERT_GENE_BC2GM", "BioCreative II gene mention"),
    _bio("jnlpba", "JNLPBA", "Gene/Protein", "BIOBERT_GENE_JNLPBA", "JNLPBA 2004 (protein, DNA, RNA merged)"),
    _bio("linnaeus", "linnaeus", "Species", "BIOBERT_SPECIES_LINNAEUS", "LINNAEUS species (PMC full texts)"),
    _bio("s800", "s800", "Species", "BIOBERT_SPECIES_S800", "SPECIES-800 species (PubMed abstracts)"),
    CorpusInfo("conll2003", "CoNLL-2003", "PER/LOC/ORG/MISC", "CoNLL-2003 English news NER (Reuters)"),
]
_CORPORA += [
    CorpusInfo(f"crossner-{d}", f"CrossNER-{d}", f"CrossNER-{d}", f"CrossNER {d} domain (Wikipedia)")
    for d in ("ai", "literature", "music", "politics", "science")
]

REGISTRY: dict[str, CorpusInfo] = {info.name: info for info in _CORPORA}
BIOMEDICAL_CORPORA: tuple[str, ...] = (
    "ncbi-disease",
    "bc5cdr-disease",
    "bc5cdr-chem",
    "bc4chemd",
    "bc2gm",
    "jnlpba",
    "linnaeus",
    "s800",
)

# docs/methods.md §1.4 (the MUNCHABLES paper / BioBERT release): split -> (sentences, mentions).
PAPER_STATS: dict[str, dict[str, tuple[int, int]]] = {
    "ncbi-disease": {"train": (5424, 5134), "dev": (923, 787), "test": (940, 960)},
    "bc5cdr-disease": {"train": (4560, 4182), "dev": (4581, 4246), "test": (4797, 4424)},
    "bc5cdr-chem": {"train": (4560, 5203), "dev": (4581, 5347), "test": (4797, 5385)},
    "bc4chemd": {"train": (30682, 29478), "dev": (30639, 29486), "test": (26364, 25346)},
    "bc2gm": {"train": (12574, 15197), "dev": (2519, 3061), "test": (5038, 6325)},
    "jnlpba": {"train": (14690, 32178), "dev": (3856, 8575), "test": (3856, 6241)},
    "linnaeus": {"train": (11935, 2119), "dev": (4078, 711), "test": (7142, 1433)},
    "s800": {"train": (5733, 2557), "dev": (830, 384), "test": (1630, 767)},
}

_PREPARE_HINT = (
    "Pass data_dir= (CLI: --data-dir) or set {env} to a folder with one sub-folder per corpus "
    "(e.g. NCBI-disease/) holding train.tsv, dev.tsv and test.tsv (token<TAB>BIO-tag, blank line "
    "between sentences). Online, `flair-munch corpus download NAME` (Python: load_corpus(NAME, download=True)) "
    "fetches a registered corpus from its pinned source, checked byte for byte, into {env} or, unset, the cache "
    "folder ~/.cache/flair_munch/corpora (docs/corpora.md); Flair's loaders (e.g. "
    "flair.datasets.BIOBERT_DISEASE_NCBI()) are another source. Or use the shipped samples (samples=True, "
    "CLI: --samples)."
)


def lookup(name: str) -> Optional[CorpusInfo]:
    """Registry entry for a name or folder name, case-insensitively; None if unknown."""
    key = name.strip().lower()
    for info in REGISTRY.values():
        if key in (info.name, info.folder.lower()):
            return info
    return None


def downloaded_corpora_dir() -> Path:
    """Where downloads go when no folder is given and ``$FLAIR_MUNCH_DATA`` is unset: beside the embedding store
    (``$FLAIR_MUNCH_CACHE/corpora``, else ``~/.cache/flair_munch/corpora``)."""
    from flair_munch.embeddings.store import default_store_root

    return default_store_root().parent / "corpora"


def resolve_data_dir(data_dir: Union[str, Path, None] = None) -> Path:
    """Folder holding the full corpora: explicit argument, else ``$FLAIR_MUNCH_DATA``, else the folder downloads
    go to without either (:func:`downloaded_corpora_dir`) when it exists.

    Raises:
        CorpusNotFoundError: neither is given, or the folder does not exist.
    """
    source = "data_dir"
    if data_dir is None:
        data_dir, source = os.environ.get(DATA_ENV_VAR) or None, DATA_ENV_VAR
    if data_dir is None:
        if downloaded_corpora_dir().is_dir():
            return downloaded_corpora_dir()
        raise CorpusNotFoundError("No corpus data folder is configured. " + _PREPARE_HINT.format(env=DATA_ENV_VAR))
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise CorpusNotFoundError(
            f"Corpus data folder {path} (from {source}) does not exist. " + _PREPARE_HINT.format(env=DATA_ENV_VAR)
        )
    return path


def find_split_files(folder: Union[str, Path]) -> dict[str, Path]:
    """Map train/dev/test to files in ``folder`` (``dev`` or ``devel``, ``.tsv`` or ``.txt``).

    Raises:
        CorpusNotFoundError: a split is missing, its name is not a readable file (a folder, a
            dangling symlink, a symlink loop); the message says which file and what to do.
        ValueError: two files of one split differ (dev.tsv and devel.tsv).
    """
    folder = Path(folder)
    found: dict[str, Path] = {}
    for split in SPLITS:
        candidates = [folder / f"{stem}{suffix}" for stem in _SPLIT_STEMS[split] for suffix in _SPLIT_SUFFIXES]
        files = [c for c in candidates if c.is_file()]
        if files:
            found[split] = _one_file(split, files)
        elif broken := next((c for c in candidates if os.path.lexists(c)), None):
            raise CorpusNotFoundError(f"Corpus folder {folder}: the {split} split {broken} {_not_a_file(broken)}. "
                                      f"Put the {split} split there as a plain UTF-8 file (token<TAB>BIO-tag lines).")
    missing = [s for s in SPLITS if s not in found]
    if missing:
        raise CorpusNotFoundError(
            f"Corpus folder {folder} lacks the {', '.join(missing)} split(s). Put these files there: "
            + ", ".join(str(folder / f"{s}.tsv") for s in SPLITS)
            + " (UTF-8, one token<TAB>BIO-tag per line, blank line between sentences; "
            "devel.tsv or .txt names are accepted too)."
        )
    return found


def _not_a_file(path: Path) -> str:
    """What is at a split's path instead of a file, in words."""
    if not path.is_symlink():
        return "is a folder, not a file" if path.is_dir() else "is not a regular file"
    try:
        path.resolve(strict=True)
    except (RuntimeError, OSError) as exc:  # a loop: RuntimeError before Python 3.13, ELOOP since
        if not isinstance(exc, OSError) or exc.errno == errno.ELOOP:
            return f"is a symlink loop ({path} -> {os.readlink(path)} -> ... -> itself)"
        return f"is a dangling symlink: it points to {os.readlink(path)}, which does not exist"
    return f"is a symlink to {path.resolve()}, which {_not_a_file(path.resolve())}"


_TOLD: set[str] = set()


def warn_once(message: str) -> None:
    """Log a warning about a corpus once per process: a folder is resolved and loaded several times in a study."""
    if message not in _TOLD:
        _TOLD.add(message)
        log.warning(message)


def _one_file(split: str, files: list[Path]) -> Path:
    """The split's file when a folder holds several spellings (dev.tsv, devel.tsv, dev.txt): refused if they differ."""
    chosen, others = files[0], files[1:]
    differ = [f.name for f in others if not filecmp.cmp(chosen, f, shallow=False)]
    if differ:
        raise ValueError(
            f"Corpus folder {chosen.parent} holds {chosen.name} and {', '.join(differ)} with different content for "
            f"the {split} split: it is unclear which to use. Keep one of them (remove or rename the others).")
    if others:
        warn_once(f"{chosen.parent}: using {chosen.name} for the {split} split "
                  f"({', '.join(f.name for f in others)}: the same content)")
    return chosen


def _child_dir(base: Path, folder: str) -> Optional[Path]:
    exact = base / folder
    if exact.is_dir():
        return exact
    if base.is_dir():
        for child in sorted(base.iterdir()):
            if child.is_dir() and child.name.lower() == folder.lower():
                return child
    return None


def _unknown(name: str) -> CorpusNotFoundError:
    names = sorted(REGISTRY)
    spellings = {**{n: n for n in names}, **{info.folder: info.name for info in REGISTRY.values()}}
    hint = did_you_mean(name, spellings, cutoff=0.5, ignore_case=True, shown=spellings, quote="'")
    return CorpusNotFoundError(
        f"Unknown corpus '{name}': not a registered name and not an existing folder. {hint}"
        f"Valid names: {', '.join(names)}; or pass a folder with train.tsv/dev.tsv/test.tsv."
    )


def resolve_corpus(
    name_or_path: Union[str, Path],
    data_dir: Union[str, Path, None] = None,
    samples: bool = False,
) -> tuple[Optional[CorpusInfo], Path]:
    """Resolve a registry name (or folder name) or a folder path to ``(info, folder)``.

    ``info`` is None for a custom corpus folder. With ``samples=True`` a
    registered name resolves to the small shipped sample instead of the data dir.

    Raises:
        CorpusNotFoundError: unknown name, unconfigured data dir, or missing split files.
    """
    text = str(name_or_path)
    info = lookup(text) if isinstance(name_or_path, str) else None
    if info is None:
        path = Path(name_or_path).expanduser()
        if path.is_dir():
            find_split_files(path)
            return None, path
        if len(path.parts) == 1 and not samples:  # a custom corpus folder inside the data dir, by its name
            try:
                inside = resolve_data_dir(data_dir) / path
            except CorpusNotFoundError:
                inside = None
            if inside is not None and inside.is_dir():
                find_split_files(inside)
                return None, inside
        raise _unknown(text)

    if samples:
        base = resources_dir() / "corpora"
        folder = _child_dir(base, info.folder)
        if folder is None:
            shipped = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
            raise CorpusNotFoundError(
                f"No shipped sample for '{info.name}' (expected {base / info.folder}). "
                f"Samples exist for: {', '.join(shipped) or 'none'}. Use the full data instead: "
                + _PREPARE_HINT.format(env=DATA_ENV_VAR)
            )
        find_split_files(folder)
        return info, folder

    base = resolve_data_dir(data_dir)
    folder = _child_dir(base, info.folder)
    if folder is None:
        target = base / info.folder
        raise CorpusNotFoundError(
            f"Corpus '{info.name}' is registered but {target} does not exist. Put these files there: "
            f"{target / 'train.tsv'}, {target / 'dev.tsv'}, {target / 'test.tsv'} (UTF-8, one "
            f"token<TAB>BIO-tag per line, blank line between sentences). {download_hint(info.name, str(base))}"
        )
    find_split_files(folder)
    return info, folder
