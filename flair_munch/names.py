"""Name suggestions for typos ("Did you mean ..."), said the same way by the recipe schema, schedules and corpora."""

import difflib
from collections.abc import Iterable, Mapping
from typing import Optional


def close_names(name: str, choices: Iterable[str], n: int = 1, cutoff: float = 0.6, ignore_case: bool = False,
                shown: Optional[Mapping[str, str]] = None) -> list[str]:
    """The choices nearest to ``name`` (difflib's ratio >= ``cutoff``), best first, without repeats.

    ``shown`` maps a choice to the name to suggest instead (e.g. a corpus's folder to its registered name).
    """
    fold = str.lower if ignore_case else str
    by_spelling = {fold(str(choice)): (shown or {}).get(choice, str(choice)) for choice in choices}
    near = difflib.get_close_matches(fold(str(name)), list(by_spelling), n=n, cutoff=cutoff)
    return list(dict.fromkeys(by_spelling[spelling] for spelling in near))


def did_you_mean(name: str, choices: Iterable[str], n: int = 1, cutoff: float = 0.6, ignore_case: bool = False,
                 shown: Optional[Mapping[str, str]] = None, quote: str = "`") -> str:
    """``"Did you mean `x`? "`` (several: ``"`x`, `y`"``) to put before a message's fix, or ``""`` if none is near."""
    near = close_names(name, choices, n=n, cutoff=cutoff, ignore_case=ignore_case, shown=shown)
    return f"Did you mean {', '.join(f'{quote}{item}{quote}' for item in near)}? " if near else ""
