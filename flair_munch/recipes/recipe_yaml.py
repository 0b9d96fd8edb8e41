"""Reading a recipe's YAML with the line of every key, and applying ``--set`` overrides."""

from __future__ import annotations

import re
from typing import Any

import yaml

from flair_munch.recipes.checker import RecipeError, _fmt_path
from flair_munch.recipes.recipe import KeyPath


class _Loader(yaml.SafeLoader):
    """YAML 1.1 with the float spellings people write: ``1e-3`` and ``5E-5`` are numbers, not strings."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _compose(text: str, file: str) -> tuple[Any, dict]:
    """Plain data plus ``{key path: line}`` for every mapping key and list item."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise RecipeError(f"{file}:{line}: (yaml): {exc.problem or exc}. Fix the YAML syntax.", file, line) from None
    locations: dict = {(): 1}

    def walk(node, path: KeyPath):
        if isinstance(node, yaml.MappingNode):
            loader.flatten_mapping(node)
            result = {}
            for key_node, value_node in node.value:
                key, line = loader.construct_object(key_node, deep=True), key_node.start_mark.line + 1
                if key in result:
                    raise RecipeError(f"{file}:{line}: {_fmt_path(path + (key,))}: duplicate key. Keep only one.",
                                      file, line, _fmt_path(path + (key,)))
                locations[path + (key,)] = line
                result[key] = walk(value_node, path + (key,))
            return result
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                locations[path + (i,)] = item.start_mark.line + 1
            return [walk(item, path + (i,)) for i, item in enumerate(node.value)]
        return loader.construct_object(node, deep=True)

    try:
        return (walk(root, ()) if root is not None else None), locations
    finally:
        loader.dispose()


def _apply_override(data: dict, text: str, locations: dict, file: str) -> None:
    """Sets one ``key.sub=value`` override; its value is YAML, e.g. ``seeds=[1,2]``."""
    key, sep, raw = text.partition("=")
    where = f"--set {text}"
    path = tuple(part.strip() for part in key.strip().split("."))
    if not sep or not all(path):
        raise RecipeError(f"{file} ({where}): {key}: not a `key=value` override. Write e.g. "
                          "`--set training.max_epochs=3`.", file, None, key)
    try:
        value = yaml.load(raw, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise RecipeError(f"{file} ({where}): {key}: the value is not valid YAML ({exc}). Quote it.",
                          file, None, key) from None
    node = data
    for depth, part in enumerate(path[:-1]):
        if node.get(part) is None:
            node[part] = {}
        if not isinstance(node[part], dict):
            raise RecipeError(f"{file} ({where}): {_fmt_path(path[:depth + 1])}: not a mapping, so it has no "
                              f"key `{path[depth + 1]}`. Set `{_fmt_path(path[:depth + 1])}=...` instead.",
                              file, None, _fmt_path(path))
        node = node[part]
    node[path[-1]] = value
    for loc in [loc for loc in locations if loc[:len(path)] == path]:
        del locations[loc]
    locations[path] = where
