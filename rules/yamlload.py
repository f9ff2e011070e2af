"""YAML loading for files people write: line numbers kept, repeated keys rejected.

Mappings remember the line they start on and the line of each key, so errors can
point at the place to fix. A key written twice in one mapping is an error, not a
silent "last one wins". Dates are left as text, so that an invalid date reaches
the validator with the field it belongs to instead of failing inside the parser.
"""

from __future__ import annotations

from typing import Any

import yaml


class LineDict(dict):
    """A mapping loaded from YAML, with the 1-based line it started on."""

    line: int = 0
    key_lines: dict

    def line_of_key(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class DuplicateKeyError(yaml.MarkedYAMLError):
    pass


class _LineLoader(yaml.SafeLoader):
    pass


# Keep dates and times as strings; the schema that reads them parses them.
_LineLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag != "tag:yaml.org,2002:timestamp"
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise DuplicateKeyError(
                None,
                None,
                f"key {key!r} appears twice in one mapping (first on line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = line
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
    # _LineLoader derives from SafeLoader, so no arbitrary objects are built.
    return yaml.load(text, Loader=_LineLoader)


def line_of(value: Any, key: str | None = None) -> int | None:
    """Return the line of a mapping, or of one of its keys when given."""
    if key is not None and isinstance(value, LineDict):
        return value.line_of_key(key)
    return getattr(value, "line", None)
