"""Label maps: rename (or drop) a corpus's entity types while it is loaded.

Transfer between corpora needs one label set: a CrossNER domain's ``writer``
or ``politician`` means nothing to a CoNLL-2003 model, ``PER`` does (docs/methods.md §5:
normalising domain labels to person/location/organisation/misc tripled F1 for
the weakest domain). The map is a small YAML file, so a study states its label
choices in one reviewed place instead of in code; it is validated with file,
line and fix, and a label the map does not cover is an error rather than a
silently kept or dropped span.

Format (one ``source: target`` per line)::

    writer: PER          # rename
    literarygenre: O     # O or null: drop the span (its tokens become O)
    default: MISC        # optional: the target of every label not listed
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import yaml

from flair_munch.corpora.bio import bio_spans
from flair_munch.resources import resources_dir

DEFAULT_KEY = "default"
"""The YAML key whose value maps every label the file does not list."""

DROP_VALUES = ("O", None)
"""Targets meaning "drop the span": its tokens become ``O``."""

LabelMapSource = Union[str, Path, Mapping[str, Optional[str]], "LabelMap"]

_TAG_PREFIX = re.compile(r"^[BIES]-")
_DICT_SOURCE = "the label_map dict"


class LabelMapError(ValueError):
    """A label map that cannot be read or applied; the message names the file, line and fix."""

    def __init__(self, message: str, path: Optional[Union[str, Path]] = None, line: Optional[int] = None) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.line = line


@dataclass(frozen=True)
class LabelMap:
    """Entity type -> new entity type, or ``None`` to drop the span.

    Attributes:
        mapping: the listed labels.
        default: target of unlisted labels (``None``: drop them); only used when ``has_default``.
        has_default: whether the map has a ``default:`` entry.
        source: the file the map came from, or a description of where else.
        lines: line of each listed label in ``source`` (for error messages).
    """

    mapping: dict[str, Optional[str]]
    default: Optional[str] = None
    has_default: bool = False
    source: str = _DICT_SOURCE
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def covers(self, label: str) -> bool:
        """Whether ``label`` has a target (listed, or caught by ``default``)."""
        return label in self.mapping or self.has_default

    def __call__(self, label: str) -> Optional[str]:
        """The new type of ``label`` (``None``: drop the span).

        Raises:
            KeyError: ``label`` is not listed and the map has no default.
        """
        if label in self.mapping:
            return self.mapping[label]
        if self.has_default:
            return self.default
        raise KeyError(label)

    def unmapped(self, labels: Sequence[str]) -> list[str]:
        """The labels of ``labels`` this map has no target for, sorted."""
        return sorted({label for label in labels if not self.covers(label)})


def _error(source: str, line: Optional[int], problem: str, fix: str) -> LabelMapError:
    where = f"{source}:{line}" if line is not None else source
    return LabelMapError(f"{where}: {problem}. {fix}", None if source == _DICT_SOURCE else source, line)


def _target(value: Any, key: str, source: str, line: Optional[int]) -> Optional[str]:
    """A validated target label (``None`` for a dropped span)."""
    if value is None or value == "O":
        return None
    if not isinstance(value, str) or not value.strip():
        raise _error(
            source, line, f"`{key}` maps to {value!r} ({type(value).__name__}), not a label",
            "Give an entity type such as PER, or O / null to drop the span; quote values YAML reads as "
            "numbers or booleans (e.g. 'yes').",
        )
    return _label(value, "target", key, source, line)


def _label(text: str, role: str, key: str, source: str, line: Optional[int]) -> str:
    if _TAG_PREFIX.match(text):
        raise _error(
            source, line, f"{role} label {text!r} of `{key}` has a tag prefix",
            f"Map entity types, not tags: write {text[2:]!r} (B-/I- prefixes are handled for you).",
        )
    if any(ch.isspace() for ch in text):
        raise _error(source, line, f"{role} label {text!r} of `{key}` contains whitespace",
                     "Labels become CoNLL tags; use e.g. '_' instead of spaces.")
    return text


def _from_pairs(pairs: list[tuple[Any, Any, Optional[int]]], source: str) -> LabelMap:
    mapping: dict[str, Optional[str]] = {}
    lines: dict[str, int] = {}
    default: Optional[str] = None
    has_default = False
    for key, value, line in pairs:
        if not isinstance(key, str) or not key.strip():
            raise _error(source, line, f"key {key!r} ({type(key).__name__}) is not a label",
                         "Write `source_label: TARGET`; quote keys YAML reads as numbers or booleans.")
        if key in mapping or (key == DEFAULT_KEY and has_default):
            first = lines.get(key)
            raise _error(source, line, f"`{key}` is mapped twice" + (f" (first on line {first})" if first else ""),
                         "Keep one entry per label.")
        if key == DEFAULT_KEY:
            default, has_default = _target(value, key, source, line), True
            if line is not None:
                lines[key] = line
            continue
        mapping[_label(key, "source", key, source, line)] = _target(value, key, source, line)
        if line is not None:
            lines[key] = line
    if not mapping and not has_default:
        raise _error(source, None, "the label map is empty",
                     "List one `source_label: TARGET` per line (and optionally `default: TARGET`).")
    return LabelMap(mapping, default, has_default, source, lines)


def _shipped_dir() -> Path:
    return resources_dir() / "label_maps"


def shipped_label_maps() -> list[str]:
    """Names of the label maps in ``flair_munch/resources/label_maps`` (usable as ``label_map=NAME``)."""
    folder = _shipped_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def _resolve_path(path: Union[str, Path]) -> Path:
    candidate = Path(path).expanduser()
    if candidate.is_file():
        return candidate
    shipped = _shipped_dir() / f"{path}.yaml"
    if isinstance(path, str) and "/" not in path and shipped.is_file():
        return shipped
    names = shipped_label_maps()
    raise LabelMapError(
        f"label map {path}: file does not exist. Pass the path of a YAML file of `source_label: TARGET` "
        f"lines, or the name of a shipped map ({', '.join(names) or 'none shipped'}).",
        candidate,
    )


def read_label_map(path: Union[str, Path]) -> LabelMap:
    """Read and validate a YAML label map (a file path or a shipped map's name, e.g. ``crossner-to-conll``).

    Raises:
        LabelMapError: missing file, YAML syntax, a non-mapping, a duplicate key, a tag
            prefix (``B-PER``) or a non-label value; the message names file, line and fix.
    """
    file = _resolve_path(path)
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LabelMapError(f"{source}: not UTF-8 ({exc.reason}). Save the file as UTF-8.", file) from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise _error(source, None, "the label map is empty",
                         "List one `source_label: TARGET` per line (and optionally `default: TARGET`).")
        if not isinstance(root, yaml.MappingNode):
            raise _error(source, root.start_mark.line + 1, "expected a mapping of `source_label: TARGET` lines",
                         "Write one `source_label: TARGET` per line, without list dashes.")
        pairs = []
        for key_node, value_node in root.value:
            line = key_node.start_mark.line + 1
            if not isinstance(value_node, yaml.ScalarNode) or not isinstance(key_node, yaml.ScalarNode):
                raise _error(source, line, "a label must map to a single label, not a list or mapping",
                             "Write `source_label: TARGET` (one target per label).")
            pairs.append((loader.construct_object(key_node), loader.construct_object(value_node), line))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise _error(source, line, f"(yaml) {exc.problem or exc}", "Fix the YAML syntax.") from None
    finally:
        loader.dispose()
    return _from_pairs(pairs, source)


def load_label_map(label_map: LabelMapSource) -> LabelMap:
    """A :class:`LabelMap` from a YAML path, a shipped map's name, a dict or a ``LabelMap``.

    A dict takes the same form as the file: ``{"writer": "PER", "default": "MISC"}``.
    """
    if isinstance(label_map, LabelMap):
        return label_map
    if isinstance(label_map, Mapping):
        return _from_pairs([(k, v, None) for k, v in label_map.items()], _DICT_SOURCE)
    if isinstance(label_map, (str, Path)):
        return read_label_map(label_map)
    raise TypeError(f"label_map must be a path, a shipped map name or a dict, not {type(label_map).__name__}")


def map_tags(tags: Sequence[str], label_map: LabelMap) -> list[str]:
    """BIO tags with every span's type replaced by its target; dropped spans become ``O``.

    Each span re-opens with ``B-``, so two neighbouring spans that map to one type stay two spans.

    Raises:
        KeyError: a span type the map does not cover.
    """
    out = ["O"] * len(tags)
    for start, end, entity_type in bio_spans(tags):
        target = label_map(entity_type)
        if target is None:
            continue
        out[start] = f"B-{target}"
        for i in range(start + 1, end):
            out[i] = f"I-{target}"
    return out


def apply_label_map(
    rows_by_split: dict[str, list[list[tuple[str, str]]]],
    label_map: LabelMap,
    corpus: str = "(unnamed)",
) -> dict[str, list[list[tuple[str, str]]]]:
    """Map the ``(token, BIO tag)`` sentences of every split; checks coverage first.

    Raises:
        LabelMapError: types the map does not cover (and it has no default): names each with
            its count, the corpus and the map, and how to fix the map.
    """
    counts: Counter = Counter(
        entity_type
        for rows in rows_by_split.values()
        for sentence in rows
        for _, _, entity_type in bio_spans([tag for _, tag in sentence])
    )
    missing = label_map.unmapped(list(counts))
    if missing:
        listed = ", ".join(f"{label!r} ({counts[label]} spans)" for label in missing)
        example = missing[0]
        raise LabelMapError(
            f"corpus {corpus} has entity type(s) {listed} that label map {label_map.source} does not map, "
            f"and the map has no `{DEFAULT_KEY}:` entry. Add a line per label (e.g. `{example}: MISC`, or "
            f"`{example}: O` to drop those spans) or a `{DEFAULT_KEY}: TARGET` line.",
            None if label_map.source == _DICT_SOURCE else label_map.source,
        )
    return {
        split: [list(zip([token for token, _ in sentence], map_tags([tag for _, tag in sentence], label_map)))
                for sentence in rows]
        for split, rows in rows_by_split.items()
    }
