"""The predictions file a run writes: ``token<TAB>gold<TAB>predicted``, a blank line between sentences.

A study committed as it goes keeps a compact copy instead (``test-predictions.tags.gz``: ``gold<TAB>
predicted``, gzipped): the tags are all a report needs (micro F1, the paired bootstrap), and the
test tokens, the same for every run of a target, are what makes the full file large.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from flair_munch.atomic_files import atomic_write_bytes

TAGS_SUFFIX = ".tags.gz"
PREDICTIONS_FILE = "test-predictions.conll"  # what a run writes in its folder
PACKED_PREDICTIONS_FILE = PREDICTIONS_FILE.replace(".conll", TAGS_SUFFIX)  # the compact copy a committed study keeps


def read_prediction_file(
    path: str | Path,
) -> tuple[list[list[str]], list[list[str]]]:
    """Read a ``token<TAB>gold<TAB>predicted`` CoNLL file (blank line between sentences), or its
    compact ``gold<TAB>predicted`` copy (a name ending in ``.tags.gz``).

    This is the ``test-predictions.conll`` a training run writes.

    Returns:
        ``(gold, pred)``: one list of tags per sentence each.

    Raises:
        ValueError: a non-blank line does not have exactly three (compact: two) tab-separated
            columns; the message names the file and the line number.
    """
    path = Path(path)
    compact = path.name.endswith(TAGS_SUFFIX)
    expected, shape = (2, "gold<TAB>predicted") if compact else (3, "token<TAB>gold<TAB>predicted")
    gold: list[list[str]] = []
    pred: list[list[str]] = []
    g_sent: list[str] = []
    p_sent: list[str] = []
    with (gzip.open(path, "rt", encoding="utf-8") if compact else path.open(encoding="utf-8")) as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                if g_sent:
                    gold.append(g_sent)
                    pred.append(p_sent)
                    g_sent, p_sent = [], []
                continue
            fields = line.split("\t")
            if len(fields) != expected or not all(f.strip() for f in fields):
                raise ValueError(f"{path}:{lineno}: expected '{shape}', got {line!r}")
            g_sent.append(fields[-2].strip())
            p_sent.append(fields[-1].strip())
    if g_sent:
        gold.append(g_sent)
        pred.append(p_sent)
    return gold, pred


def write_tag_file(path: str | Path, gold: list[list[str]], pred: list[list[str]]) -> Path:
    """The compact copy: ``gold<TAB>predicted`` per token, gzipped without a timestamp (same tags, same bytes)."""
    text = "".join("".join(f"{g}\t{p}\n" for g, p in zip(gs, ps)) + "\n" for gs, ps in zip(gold, pred))
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as handle:
        handle.write(text.encode("utf-8"))
    return atomic_write_bytes(path, buffer.getvalue())
