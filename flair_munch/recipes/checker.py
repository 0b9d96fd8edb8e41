"""Where a recipe problem is and how it is said: ``file:line: key: problem. fix``, every problem at once."""

from __future__ import annotations

import collections.abc
import typing
from pathlib import Path
from typing import Any, Optional, Union

from flair_munch.names import did_you_mean
from flair_munch.recipes.recipe import TRAINING_MOVED, KeyPath


class RecipeError(ValueError):
    """One or more recipe problems, one per line as ``{file}:{line}: {key}: {problem}. {fix}``."""

    def __init__(self, message: str, file: str = "", line: Optional[int] = None, key: str = "") -> None:
        super().__init__(message)
        self.file, self.line, self.key = file, line, key


def _fmt_path(path: KeyPath) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))


def _type_ok(value: Any, tp: Any) -> bool:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return True
    if origin is Union:
        return any(_type_ok(value, arg) for arg in args)
    if tp is type(None):
        return value is None
    if tp in (bool, int, str, dict, list):
        return isinstance(value, tp) and (tp is bool or not isinstance(value, bool))
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is Path:
        return isinstance(value, str)
    if origin in (list, collections.abc.Sequence):
        return isinstance(value, list) and all(_type_ok(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_type_ok(k, args[0]) and _type_ok(v, args[1]) for k, v in value.items())
    return True


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Union:
        return " or ".join(dict.fromkeys(_type_name(a) for a in typing.get_args(tp)))
    if typing.get_origin(tp) in (list, collections.abc.Sequence):
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if typing.get_origin(tp) is dict:
        return "a mapping of {} to {}".format(*map(_type_name, typing.get_args(tp)))
    return {type(None): "null", dict: "a mapping", list: "a list", Path: "str"}.get(tp, getattr(tp, "__name__", str(tp)))


class _Checker:
    """Collects every problem with its location, so one run of a recipe reports them all."""

    def __init__(self, file: str, locations: dict) -> None:
        self.file, self.locations, self.problems = file, locations, []

    def where(self, path: KeyPath) -> tuple[Optional[int], str]:
        for end in range(len(path), -1, -1):
            if path[:end] in self.locations:
                loc = self.locations[path[:end]]
                return (loc, f"{self.file}:{loc}") if isinstance(loc, int) else (None, f"{self.file} ({loc})")
        return 1, f"{self.file}:1"

    def error(self, path: KeyPath, problem: str, fix: str) -> None:
        self.problems.append((path, problem, fix))

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        lines, first = [], None
        by_line = sorted(self.problems, key=lambda p: (self.where(p[0])[0] or 10**9))  # --set problems last
        for path, problem, fix in by_line:
            line, where = self.where(path)
            first = first or (line, _fmt_path(path) or "(recipe)")
            lines.append(f"{where}: {_fmt_path(path) or '(recipe)'}: {problem}. {fix}".rstrip())
        raise RecipeError("\n".join(lines), self.file, first[0], first[1])

    def mapping(self, value: Any, path: KeyPath, valid: dict, what: str = "keys") -> dict:
        """The known entries of a mapping section; reports unknown keys and wrong value types."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping, got {value!r}", f"Write `{_fmt_path(path)}:` with {what} below it.")
            return {}
        known = {}
        for key, item in value.items():
            if key not in valid:
                moved = TRAINING_MOVED.get(key) if path == ("training",) else None
                fix = f"Set it with {moved} instead." if moved else did_you_mean(key, valid) + f"Valid {what}: {', '.join(valid)}."
                self.error(path + (key,), f"unknown key `{key}`", fix)
            elif self.typed(item, path + (key,), valid[key][0]):
                known[key] = item
        return known

    def typed(self, value: Any, path: KeyPath, tp: Any) -> bool:
        if _type_ok(value, tp):
            return True
        self.error(path, f"expected {_type_name(tp)}, got {value!r} ({type(value).__name__})",
                   f"Change the value of `{_fmt_path(path)}` to {_type_name(tp)}.")
        return False
