"""Tagging files with a trained model: raw text (one sentence per line) or CoNLL columns."""

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Union

from flair.data import Sentence
from flair.splitter import NoSentenceSplitter
from flair.tokenization import SegtokTokenizer

from flair_munch.corpora.conll import not_utf8_text, read_conll, to_flair_sentences
from flair_munch.corpora.spans import span_tags

log = logging.getLogger("flair_munch")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters other than tab and line ends: a tokenizer would make a token of a NUL byte."""


def _is_conll(path: Path) -> bool:
    """A file whose non-blank lines hold tab-separated columns is CoNLL; anything else is raw text."""
    for line in _text(path).splitlines():
        if line.strip():
            return "\t" in line
    return False


def _text(path: Path) -> str:
    """The input file as UTF-8 text; other encodings fail naming the file, line and what to do."""
    data = Path(path).read_bytes()
    compressed_or_utf16 = not_utf8_text(Path(path), data[:4096])
    if compressed_or_utf16 is not None:
        raise compressed_or_utf16
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(f"{path}, line {line}: bytes are not UTF-8 (byte {data[error.start]:#04x}). Re-encode the "
                         "file as UTF-8, e.g. `iconv -f latin1 -t utf-8`.") from None


MAX_PREDICT_LENGTH = 512
"""Longer input sentences are tagged in pieces of this many tokens (as training splits long sentences)."""


def tag_file(model, path: Union[str, Path], head: str, mini_batch_size: int = 32,
             max_length: int = MAX_PREDICT_LENGTH) -> list[list[tuple[str, ...]]]:
    """Rows per sentence: ``(token, predicted)`` for raw text, ``(token, gold, predicted)`` for CoNLL input.

    Raw text is tokenized with Flair's default tokenizer (segtok), one sentence per line. A sentence
    longer than ``max_length`` tokens is tagged in consecutive pieces whose tags are joined back, so
    one huge line costs what its pieces cost (an unsplit 5000-token line took minutes).
    """
    if head not in model.heads:
        raise KeyError(f"unknown head {head!r}; the model's heads are {model.head_names}")
    sentences = read_sentences(path, model.tag_type)
    gold = [span_tags(s, model.tag_type, "BIO") for s in sentences] if _is_conll(Path(path)) else None
    if gold:
        _warn_unknown_gold_types(path, gold, model.heads[head], head)
    pieces = [[Sentence([t.text for t in s][i : i + max_length]) for i in range(0, len(s), max_length)]
              for s in sentences]
    model.predict([piece for parts in pieces for piece in parts], head=head, mini_batch_size=mini_batch_size)
    rows = []
    for i, sentence in enumerate(sentences):
        predicted = [tag for piece in pieces[i] for tag in span_tags(piece, model.tag_type, "BIO")]
        tokens = [token.text for token in sentence]
        rows.append(list(zip(tokens, gold[i], predicted)) if gold else list(zip(tokens, predicted)))
    return rows


def _entity_types(tags) -> set[str]:
    return {tag.split("-", 1)[1] for tag in tags if "-" in tag}


def _warn_unknown_gold_types(path, gold: list[list[str]], tagging_head, head: str) -> None:
    """Gold entities of a type the head never tags count as missed: say so, else scores of 0 have no word."""
    gold_types = _entity_types(tag for sentence in gold for tag in sentence)
    known = _entity_types(tagging_head.label_dictionary.get_items())
    unknown = sorted(gold_types - known)
    if unknown:
        log.warning("%s: gold entity type(s) %s are not what head %r tags (it knows %s): the types differ, so "
                    "those gold entities count as missed in the scores", path, ", ".join(unknown), head,
                    ", ".join(sorted(known)) or "no type")


def read_sentences(path: Union[str, Path], label_type: str = "ner") -> list[Sentence]:
    """Sentences of a CoNLL file (gold spans as ``label_type`` labels) or of raw text (one per line, segtok)."""
    path = Path(path)
    if _is_conll(path):
        return to_flair_sentences(read_conll(path, max_length=None).sentences, label_type)
    splitter = NoSentenceSplitter(tokenizer=SegtokTokenizer())
    lines = [line.strip() for line in _without_control_characters(path, _text(path).splitlines()) if line.strip()]
    if not lines:
        raise ValueError(f"no sentences in {path}: the file is empty or holds only whitespace. Give raw text (a "
                         "sentence per line) or CoNLL (token<TAB>tag).")
    return [splitter.split(line)[0] for line in lines]


def _without_control_characters(path: Path, lines: list[str]) -> list[str]:
    """The lines with control characters (NUL, escape, ...) replaced by spaces, and a warning naming the first."""
    found = [(number, match.group()) for number, line in enumerate(lines, start=1)
             for match in CONTROL_CHARACTERS.finditer(line)]
    if found:
        number, char = found[0]
        log.warning("%s, line %d: %d control character(s) (the first U+%04X) replaced by spaces: they are no text",
                    path, number, len(found), ord(char))
    return [CONTROL_CHARACTERS.sub(" ", line) for line in lines]


def load_model(path: Path):
    """A saved tagger, or a one-line error naming the file: a folder, an empty, truncated or foreign file."""
    import pickle

    from flair_munch.models import MultiHeadTagger

    path = Path(path)
    fix = "Give a run's final-model.pt (e.g. OUTPUT/runs/<run id>/final-model.pt)."
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a model file. {fix}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file. {fix}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the model file is empty (an interrupted copy?). {fix}")
    try:
        return MultiHeadTagger.load(path)
    except (pickle.UnpicklingError, EOFError, RuntimeError, KeyError, TypeError, AttributeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{path}: not a readable flair-munch model ({type(error).__name__}: {reason[:120]}). "
                         f"{fix}") from None


def check_output_file(path: Path, flag: str = "--out") -> None:
    """Refuses an output file that is a folder before anything is computed (the writer would name its temp file)."""
    if path.is_dir():
        raise ValueError(f"{flag} {path}: is a folder, not a file. Give a file name, e.g. "
                         f"{flag} {path / 'predictions.conll'}")


@contextmanager
def writing_output(path: Path, flag: str = "--out") -> Iterator[None]:
    """Any OS error while writing ``path`` names ``path`` and the flag, not a temp file or a parent folder."""
    check_output_file(path, flag)
    try:
        yield
    except OSError as error:
        parent = error.filename and Path(error.filename) in path.parents  # a folder it cannot make, not a temp file
        where = f" ({error.filename})" if parent else ""
        raise ValueError(f"{flag} {path}: cannot write it: {error.strerror or error}{where}. Give a file in a "
                         "folder you can write to.") from None

