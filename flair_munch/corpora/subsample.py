"""Seeded training-set subsampling for low-resource studies.

The kept sentences stay in their original order so a subsample is a plain
subset of the file (easy to diff) and reproducible from ``(size, seed)``.
"""

from __future__ import annotations

import logging
import random
from typing import Sequence, TypeVar, Union

log = logging.getLogger("flair_munch")

T = TypeVar("T")
Size = Union[int, float, str]


def _invalid(size: object, why: str) -> ValueError:
    return ValueError(
        f"invalid subsample size {size!r}: {why}. Use a sentence count (e.g. 1000 or '1000') "
        "or a fraction in (0, 1] (e.g. 0.1 or '10%')."
    )


def resolve_size(size: Size, n: int) -> int:
    """Turn a count, fraction or ``'10%'`` string into a number of sentences.

    Raises:
        ValueError: naming the offending value.
    """
    value: Union[int, float]
    if isinstance(size, bool):
        raise _invalid(size, "a boolean is not a size")
    if isinstance(size, str):
        text = size.strip()
        try:
            if text.endswith("%"):
                value = float(text[:-1]) / 100.0
                if not 0.0 < value <= 1.0:
                    raise _invalid(size, "a percentage must be in (0%, 100%]")
            elif text.isdigit():
                value = int(text)
            else:
                value = float(text)
        except ValueError as exc:
            if "invalid subsample size" in str(exc):
                raise
            raise _invalid(size, "not a number") from None
    elif isinstance(size, (int, float)):
        value = size
    else:
        raise _invalid(size, f"unsupported type {type(size).__name__}")

    if isinstance(value, int):
        if value < 1:
            raise _invalid(size, "a count must be at least 1")
        return value
    if not 0.0 < value <= 1.0:
        raise _invalid(size, "a fraction must be in (0, 1]")
    return max(1, round(value * n)) if n else 0


def subsample(sentences: Sequence[T], size: Size, seed: int) -> list[T]:
    """Keep ``size`` sentences drawn with ``random.Random(seed)``, in original order.

    A size larger than the corpus keeps everything (with a warning) rather
    than failing, so one recipe can sweep sizes over corpora of any length.
    """
    n = len(sentences)
    k = resolve_size(size, n)
    if k >= n:
        if k > n:
            log.warning("subsample size %r (%d) exceeds the %d available sentences; keeping all", size, k, n)
        return list(sentences)
    keep = sorted(random.Random(seed).sample(range(n), k))
    return [sentences[i] for i in keep]
