"""YAML loading that remembers the line of every mapping, for error messages."""

from __future__ import annotations

from typing import Any

import yaml


class LineDict(dict):
    """A mapping loaded from YAML, with the 1-based line it started on."""

    line: int = 0
    key_lines: dict

    def line_of_key(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict(loader.construct_pairs(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {
        key_node.value: key_node.start_mark.line + 1 for key_node, _ in node.value
    }
    return mapping


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def load_with_lines(text: str) -> Any:
    """Parse YAML text; every mapping in the result is a LineDict."""
    return yaml.load(text, Loader=_LineLoader)


def line_of(value: Any, key: str | None = None) -> int | None:
    """Return the line of a mapping, or of one of its keys when given."""
    if key is not None and isinstance(value, LineDict):
        return value.line_of_key(key)
    return getattr(value, "line", None)
