"""The predictions file a run writes: ``token<TAB>gold<TAB>predicted``, a blank line between sentences."""

from __future__ import annotations

from pathlib import Path


def read_prediction_file(
    path: str | Path,
) -> tuple[list[list[str]], list[list[str]]]:
    """Read a ``token<TAB>gold<TAB>predicted`` CoNLL file (blank line between sentences).

    This is the ``test-predictions.conll`` a training run writes.

    Returns:
        ``(gold, pred)``: one list of tags per sentence each.

    Raises:
        ValueError: a non-blank line does not have exactly three tab-separated
            columns; the message names the file and the line number.
    """
    path = Path(path)
    gold: list[list[str]] = []
    pred: list[list[str]] = []
    g_sent: list[str] = []
    p_sent: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                if g_sent:
                    gold.append(g_sent)
                    pred.append(p_sent)
                    g_sent, p_sent = [], []
                continue
            fields = line.split("\t")
            if len(fields) != 3 or not all(f.strip() for f in fields):
                raise ValueError(
                    f"{path}:{lineno}: expected 'token<TAB>gold<TAB>predicted', got {line!r}"
                )
            g_sent.append(fields[1].strip())
            p_sent.append(fields[2].strip())
    if g_sent:
        gold.append(g_sent)
        pred.append(p_sent)
    return gold, pred
