"""Reading, validating and writing two-column CoNLL (token, BIO tag) files.

Flair's ``ColumnCorpus`` accepts almost anything and fails later with vague
errors; this reader checks every line up front and names the file and line of
the first problem, so a broken corpus is fixed before hours of training.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

from flair.data import Sentence

from flair_munch.atomic_files import atomic_write
from flair_munch.corpora.bio import bio_spans, chunk_bounds, iobes_error, iobes_to_bio, repair_bio, split_tag

log = logging.getLogger("flair_munch")

CORPUS_LABEL_TYPE = "corpus"
"""Sentence-level label that tells the multi-head model which head scores it."""

LONG_SENTENCE_MODES = ("split", "reject")

TaggedSentence = list[tuple[str, str]]

INVISIBLE = {"\x00": "a NUL byte", "\u200b": "a zero-width space", "\u200c": "a zero-width non-joiner",
             "\u200d": "a zero-width joiner", "\u2060": "a word joiner", "\ufeff": "a byte order mark (BOM)"}
"""Characters that are never part of a real token: text that holds them was damaged on its way here."""


class ConllFormatError(ValueError):
    """A CoNLL file that cannot be read; the message names file, line and fix."""

    def __init__(self, path: Union[str, Path], line: Optional[int], problem: str, fix: str):
        where = f"{path}, line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}. {fix}")
        self.path = Path(path)
        self.line = line


@dataclass
class ConllReadResult:
    """Sentences of one file plus what the reader had to change to get them."""

    sentences: list[TaggedSentence]
    repaired_i_after_o: int = 0
    converted_from_iobes: bool = False
    split_sentences: int = 0
    path: Optional[Path] = None
    start_lines: list[int] = field(default_factory=list, repr=False)


@dataclass
class _RawSentence:
    tokens: list[str]
    tags: list[str]
    lines: list[int]


def _utf16_kind(head: bytes) -> Optional[tuple[str, str]]:
    """``(what it is, iconv's name for it)`` for UTF-16 text, told by a BOM or a NUL in every other byte."""
    if head[:2] == b"\xff\xfe":
        return "UTF-16 little-endian (byte order mark FF FE)", "UTF-16"
    if head[:2] == b"\xfe\xff":
        return "UTF-16 big-endian (byte order mark FE FF)", "UTF-16"
    pairs = len(head) // 2
    even, odd = head[0:2 * pairs:2].count(0), head[1:2 * pairs:2].count(0)
    if pairs >= 2 and even == 0 and odd > 0.8 * pairs:  # ASCII text in UTF-16 without a BOM
        return "UTF-16 little-endian (no byte order mark: a NUL byte after every character)", "UTF-16LE"
    if pairs >= 2 and odd == 0 and even > 0.8 * pairs:
        return "UTF-16 big-endian (no byte order mark: a NUL byte before every character)", "UTF-16BE"
    return None


def not_utf8_text(path: Path, head: bytes) -> Optional[ConllFormatError]:
    """A gzip or UTF-16 file, told by its first bytes, so the fix named is the right one (not latin-1's)."""
    if head.startswith(b"\x1f\x8b"):
        return ConllFormatError(path, None, "the file is gzip-compressed (it starts with the gzip bytes 1F 8B)",
                                f"Decompress it, e.g. `gunzip -c {path} > FIXED && mv FIXED {path}`.")
    kind = _utf16_kind(head)
    if kind is None:
        return None
    return ConllFormatError(path, None, f"the file is {kind[0]}, not UTF-8", "Re-encode it as UTF-8, e.g. "
                            f"`iconv -f {kind[1]} -t UTF-8 {path} > FIXED && mv FIXED {path}`.")


def _decode_lines(path: Path) -> Iterable[tuple[int, str]]:
    """Yield ``(line_number, text)`` with line ends removed, strict UTF-8."""
    offset = 0
    with open(path, "rb") as fh:
        error = not_utf8_text(path, fh.read(4096))
        if error is not None:
            raise error
        fh.seek(0)
        for lineno, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ConllFormatError(
                    path,
                    lineno,
                    f"bytes are not UTF-8 (byte {raw[exc.start]:#04x} at byte offset "
                    f"{offset + exc.start} of the file, column {exc.start + 1} of the line)",
                    "Re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`.",
                ) from None
            offset += len(raw)
            if lineno == 1:
                text = text.lstrip("\ufeff")
            text = text.rstrip("\r\n")
            if "\r" in text:
                raise ConllFormatError(
                    path, lineno, "the file has CR-only line ends (old Mac style): it reads as one line",
                    "Convert the line ends to LF, e.g. `tr '\\r' '\\n' < FILE > FIXED`.",
                )
            yield lineno, text


def _parse(path: Path, column_sep: Optional[str], token_column: int, tag_column: int) -> list[_RawSentence]:
    """The file's token lines grouped into sentences; the first line that breaks a rule raises, naming it."""
    sentences: list[_RawSentence] = []
    current = _RawSentence([], [], [])
    first_columns: Optional[tuple[int, int]] = None  # (count, first line with it)
    for lineno, line in _decode_lines(path):
        if _is_sentence_break(path, lineno, line, column_sep):
            if current.tokens:
                sentences.append(current)
                current = _RawSentence([], [], [])
            continue
        cols = _columns(path, lineno, line, column_sep)
        first_columns = first_columns or (len(cols), lineno)
        _check_same_columns(path, lineno, cols, first_columns)
        token, tag = _token_and_tag(path, lineno, line, cols, token_column, tag_column)
        current.tokens.append(token)
        current.tags.append(tag)
        current.lines.append(lineno)
    if current.tokens:
        sentences.append(current)
    return sentences


def _is_sentence_break(path: Path, lineno: int, line: str, column_sep: Optional[str]) -> bool:
    """Blank and ``-DOCSTART-`` lines end a sentence; a line of only separators and spaces is neither token nor break."""
    if line.strip() == "" and column_sep is not None and column_sep in line:
        raise ConllFormatError(
            path, lineno, f"the line holds only {_sep_name(column_sep)} and whitespace (a token line with an "
            "empty token and tag, or a sentence break with stray characters)",
            "Make sentence breaks empty lines and give every token line a token and a tag.",
        )
    return not line.strip() or line.startswith("-DOCSTART-")


def _columns(path: Path, lineno: int, line: str, column_sep: Optional[str]) -> list[str]:
    cols = line.split(column_sep)
    if column_sep is not None:
        cols = [c.strip() for c in cols]
    if len(cols) < 2:
        raise ConllFormatError(
            path,
            lineno,
            f"expected 2 columns (token{_sep_name(column_sep)}tag), found {len(cols)}: {line!r}",
            "Put the token and its BIO tag on one line separated by a tab; "
            "end each sentence with a blank line.",
        )
    return cols


def _check_same_columns(path: Path, lineno: int, cols: list[str], first_columns: tuple[int, int]) -> None:
    if len(cols) != first_columns[0]:
        raise ConllFormatError(
            path,
            lineno,
            f"found {len(cols)} columns but line {first_columns[1]} has {first_columns[0]}",
            "Every token line must have the same columns; a token that contains the "
            "column separator is the usual cause.",
        )


def _token_and_tag(path: Path, lineno: int, line: str, cols: list[str], token_column: int,
                   tag_column: int) -> tuple[str, str]:
    try:
        token, tag = cols[token_column], cols[tag_column]
    except IndexError:
        raise ConllFormatError(
            path, lineno, f"no column {token_column} or {tag_column} in {line!r}", "Check token_column/tag_column."
        ) from None
    if not token or any(ch.isspace() for ch in token):
        raise ConllFormatError(
            path, lineno, f"token {token!r} is empty or contains whitespace", "Split it into separate tokens."
        )
    _check_visible(path, lineno, line)
    _check_tag(path, lineno, tag)
    return token, tag


def _check_visible(path: Path, lineno: int, line: str) -> None:
    for char, name in INVISIBLE.items():
        if char in line:
            raise ConllFormatError(
                path, lineno, f"the line holds {name} (U+{ord(char):04X}) at column {line.index(char) + 1}",
                "Remove it: such characters are not text and would become part of a token.",
            )


def _check_tag(path: Path, lineno: int, tag: str) -> None:
    if any(ch.isspace() for ch in tag):
        raise ConllFormatError(
            path, lineno, f"tag {tag!r} contains whitespace: it would become the entity type {tag[2:]!r}",
            "Put one tag per line in the last column (B-<type>, I-<type> or O), nothing after it.",
        )
    try:
        split_tag(tag)
    except ValueError:
        raise ConllFormatError(
            path,
            lineno,
            f"tag {tag!r} is not O, B-<type> or I-<type> (IOBES S-/E- also accepted)",
            "Use typed IOB2 tags such as B-Disease / I-Disease / O.",
        ) from None


def _sep_name(sep: Optional[str]) -> str:
    return "<TAB>" if sep == "\t" else " " if sep is None else repr(sep)


def _uses_iobes(raw: Sequence[_RawSentence]) -> bool:
    return any(tag[:2] in ("S-", "E-") for s in raw for tag in s.tags)


def read_conll(
    path: Union[str, Path],
    *,
    max_length: Optional[int] = 512,
    long_sentences: str = "split",
    column_sep: Optional[str] = "\t",
    token_column: int = 0,
    tag_column: int = -1,
) -> ConllReadResult:
    """Read a CoNLL file into ``(token, BIO tag)`` sentences, validating every line.

    Args:
        path: File with one ``token<TAB>tag`` per line and blank lines between sentences.
        max_length: Longest sentence kept whole (transformer windows, CRF memory);
            ``None`` disables the limit, e.g. for statistics.
        long_sentences: ``"split"`` cuts long sentences outside entities,
            ``"reject"`` raises on the first one.
        column_sep: Column separator; ``None`` splits on any whitespace.
        token_column: Column holding the token.
        tag_column: Column holding the tag (default: the last one).

    Raises:
        ConllFormatError: naming file and line of the first problem.
    """
    path = Path(path)
    if long_sentences not in LONG_SENTENCE_MODES:
        raise ValueError(f"long_sentences must be one of {LONG_SENTENCE_MODES}, got {long_sentences!r}")
    if not path.is_file():
        raise ConllFormatError(path, None, "file does not exist", "Check the corpus folder.")
    raw = _parse(path, column_sep, token_column, tag_column)
    if not raw:
        raise ConllFormatError(
            path, None, "file is empty (no token lines)", "Fill it with token<TAB>tag lines or remove the split."
        )

    result = ConllReadResult(sentences=[], path=path, converted_from_iobes=_uses_iobes(raw))
    for sent in raw:
        tags, repaired = _bio_tags(path, sent, result.converted_from_iobes)
        result.repaired_i_after_o += repaired
        _append_sentence(result, path, sent, tags, max_length, long_sentences)
    _log_changes(result, path, max_length)
    return result


def _bio_tags(path: Path, sent: _RawSentence, iobes: bool) -> tuple[list[str], int]:
    """The sentence's tags as BIO, and how many I- tags after O had to become B- (IOBES input: none)."""
    if not iobes:
        return repair_bio(sent.tags)
    err = iobes_error(sent.tags)
    if err is not None:
        idx, reason = err
        line = sent.lines[idx] if idx < len(sent.lines) else sent.lines[-1]
        raise ConllFormatError(
            path,
            line,
            f"the file uses S-/E- tags but is not valid IOBES: {reason}",
            "Use one tag scheme per file: IOB2 (B-/I-/O) or IOBES (B-/I-/E-/S-/O).",
        )
    return iobes_to_bio(sent.tags), 0


def _log_changes(result: ConllReadResult, path: Path, max_length: Optional[int]) -> None:
    """Says what the reader changed, so a converted or repaired corpus is never silently different."""
    if result.converted_from_iobes:
        log.info("%s: converted IOBES -> BIO", path)
    if result.repaired_i_after_o:
        log.warning(
            "%s: repaired %d I- tag(s) that followed O or another type to B- (as conlleval does)",
            path,
            result.repaired_i_after_o,
        )
    if result.split_sentences:
        log.info("%s: split %d sentence(s) longer than %d tokens", path, result.split_sentences, max_length)


def _append_sentence(
    result: ConllReadResult,
    path: Path,
    sent: _RawSentence,
    tags: list[str],
    max_length: Optional[int],
    long_sentences: str,
) -> None:
    if max_length is None or len(tags) <= max_length:
        result.sentences.append(list(zip(sent.tokens, tags)))
        result.start_lines.append(sent.lines[0])
        return
    if long_sentences == "reject":
        raise ConllFormatError(
            path,
            sent.lines[0],
            f"sentence starting here has {len(tags)} tokens, more than max_length={max_length}",
            "Raise max_length, or pass long_sentences='split' to cut it outside entities.",
        )
    result.split_sentences += 1
    for start, end in chunk_bounds(tags, max_length):
        chunk_tags = list(tags[start:end])
        if chunk_tags[0].startswith("I-"):
            chunk_tags[0] = "B-" + chunk_tags[0][2:]
        result.sentences.append(list(zip(sent.tokens[start:end], chunk_tags)))
        result.start_lines.append(sent.lines[start])


def to_flair_sentences(
    sentences: Iterable[Sequence[tuple[str, str]]],
    label_type: str = "ner",
    corpus_name: Optional[str] = None,
) -> list[Sentence]:
    """Build Flair sentences with one span label per BIO entity.

    Tokens are passed as a list so Flair keeps the corpus tokenisation. When
    ``corpus_name`` is given, each sentence gets a ``corpus`` label so the
    multi-head model can route it to that corpus's head.
    """
    out = []
    for rows in sentences:
        tokens = [row[0] for row in rows]
        tags = [row[1] for row in rows]
        sentence = Sentence(tokens)
        for start, end, entity_type in bio_spans(tags):
            sentence[start:end].add_label(label_type, entity_type)
        if corpus_name is not None:
            sentence.add_label(CORPUS_LABEL_TYPE, corpus_name)
        out.append(sentence)
    return out


def write_conll(path: Union[str, Path], rows: Iterable[Sequence[Sequence[str]]], column_sep: str = "\t") -> Path:
    """Write sentences of column tuples (e.g. token, gold, predicted) atomically.

    A temp file in the target folder plus ``os.replace`` means readers never
    see a half-written sample or prediction file if the process dies.
    """
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            for sentence in rows:
                for row in sentence:
                    fh.write(column_sep.join(str(c) for c in row) + "\n")
                fh.write("\n")

    return atomic_write(path, write)
