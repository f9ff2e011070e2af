"""The fact vocabulary: type, unit and combination rule of every fact key."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

TYPES = ("number", "bool", "string", "date", "components")
COMBINES = ("sum", "max", "min", "union", "any", "distinct")


def _is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class KeySpec:
    key: str
    type: str
    combine: str
    description: str
    unit: str | None = None
    sources: tuple[str, ...] = ()

    @property
    def expectation(self) -> str:
        """Describe the values the key accepts, for messages."""
        return {
            "number": "a finite number of zero or more",
            "bool": "true or false",
            "string": "a text",
            "date": "an ISO date (YYYY-MM-DD)",
            "components": "a list of objects with a name",
        }[self.type]

    def accepts(self, value: Any) -> bool:
        """Tell whether a value has this key's type."""
        if self.type == "number":
            number = isinstance(value, int | float) and not isinstance(value, bool)
            # Every number in the vocabulary is a count, a rate, a size or a
            # duration, so a negative value is a broken observation.
            return number and math.isfinite(value) and value >= 0
        if self.type == "bool":
            return isinstance(value, bool)
        if self.type == "date":
            return isinstance(value, str) and _is_iso_date(value)
        if self.type == "string":
            return isinstance(value, str)
        return isinstance(value, list) and all(
            isinstance(item, dict) and isinstance(item.get("name"), str)
            for item in value
        )


class Vocabulary:
    def __init__(self, specs: dict[str, KeySpec]) -> None:
        self._specs = specs

    def __contains__(self, key: str) -> bool:
        return key in self._specs

    def __getitem__(self, key: str) -> KeySpec:
        return self._specs[key]

    def __iter__(self):
        return iter(self._specs)

    def keys(self) -> list[str]:
        return list(self._specs)


def parse_vocabulary(data: dict[str, Any]) -> Vocabulary:
    specs = {}
    for key, entry in data["keys"].items():
        if entry["type"] not in TYPES:
            raise ValueError(f"vocabulary key {key}: unknown type {entry['type']!r}")
        if entry["combine"] not in COMBINES:
            raise ValueError(
                f"vocabulary key {key}: unknown combine rule {entry['combine']!r}"
            )
        specs[key] = KeySpec(
            key=key,
            type=entry["type"],
            combine=entry["combine"],
            description=entry["description"],
            unit=entry.get("unit"),
            sources=tuple(entry.get("sources", ())),
        )
    return Vocabulary(specs)


@lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    """Load the vocabulary shipped with the package."""
    text = resources.files("rules").joinpath("vocabulary.yaml").read_text("utf-8")
    return parse_vocabulary(yaml.safe_load(text))
