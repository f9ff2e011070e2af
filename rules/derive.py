"""Facts the rules derive from other facts: the stack outside the supported catalogue.

The supported-stack catalogue is a judgement about the Qaztech platform, not an
observation, so the comparison lives with the rules. A component is supported when
its name, lower-cased, equals one of an entry's aliases or starts with an alias
followed by a space, a dash or a digit ("PostgreSQL 15", "python3.11").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rules.resolve import Resolution, Resolved

DEFAULT_CATALOGUE = "qaztech-stack"
UNSUPPORTED = "stack.unsupported"
COMPONENTS = "stack.components"
DEFAULT_CAVEAT = (
    "the supported-stack catalogue is the tool's unofficial default; confirm it "
    "against the platform operator's current list"
)


class CatalogueError(Exception):
    """A supported-stack catalogue that cannot be used; the message names the entry."""


@dataclass
class StackCatalogue:
    profile: str
    official: bool
    aliases: dict[str, str]
    ignore_kinds: set[str] = field(default_factory=set)
    ignore_usage: set[str] = field(default_factory=set)
    origin: str = "built-in"

    def supported_as(self, name: str) -> str | None:
        """Return the catalogue entry a component name matches, or None."""
        lowered = name.strip().lower()
        for alias, entry in self.aliases.items():
            if lowered == alias or re.match(rf"{re.escape(alias)}[\s\-_0-9]", lowered):
                return entry
        return None


def parse_catalogue(data: Any, origin: str) -> StackCatalogue:
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise CatalogueError(f"{origin}: expected a mapping with a list of 'entries'")
    aliases: dict[str, str] = {}
    for index, entry in enumerate(data["entries"]):
        where = f"{origin}: entries[{index}]"
        if not isinstance(entry, dict) or not entry.get("name"):
            raise CatalogueError(f"{where}: each entry needs a 'name'")
        if not entry.get("source"):
            raise CatalogueError(
                f"{where} ({entry['name']}): each entry needs a 'source'"
            )
        names = [entry["name"], *entry.get("aliases", [])]
        for alias in names:
            aliases[str(alias).strip().lower()] = str(entry["name"])
    return StackCatalogue(
        profile=str(data.get("profile", origin)),
        official=bool(data.get("official", False)),
        aliases=aliases,
        ignore_kinds=set(data.get("ignore_kinds", [])),
        ignore_usage=set(data.get("ignore_usage", [])),
        origin=origin,
    )


def load_catalogue(
    path: str | None = None, extra: list[dict] | None = None
) -> StackCatalogue:
    """Load the built-in catalogue or a user's file, plus extra entries from the config."""
    if path is None:
        text = resources.files("rules").joinpath(
            "catalogues", f"{DEFAULT_CATALOGUE}.yaml"
        )
        data = yaml.safe_load(text.read_text("utf-8"))
        origin = "built-in"
    else:
        try:
            data = yaml.safe_load(Path(path).read_text("utf-8"))
        except OSError as exc:
            raise CatalogueError(
                f"{path}: cannot read the catalogue ({exc.strerror})"
            ) from None
        except yaml.YAMLError as exc:
            raise CatalogueError(f"{path}: not valid YAML ({exc})") from None
        origin = str(path)
    if extra:
        data = {**data, "entries": [*data.get("entries", []), *extra]}
    return parse_catalogue(data, origin)


UNKNOWN_VENDOR = "unknown"


def derive_unsupported(
    resolution: Resolution, catalogue: StackCatalogue
) -> dict[str, Any] | None:
    """Add `stack.unsupported` to the resolution from `stack.components`.

    Returns the derived fact as a report entry, or None when there is nothing to
    derive from or the key was already observed directly.
    """
    components = resolution.resolved.get(COMPONENTS)
    if components is None or UNSUPPORTED in resolution.resolved:
        return None
    compared = [
        item
        for item in components.value
        if item.get("kind") not in catalogue.ignore_kinds
        and item.get("usage") not in catalogue.ignore_usage
        # Catalogue entries of vendor "unknown" are placeholders (an RTSP server
        # of unknown make, a Java runtime of unknown build), not products.
        # NOTE: a placeholder kind in ignore_kinds would state this as data.
        and item.get("vendor") != UNKNOWN_VENDOR
    ]
    unsupported = [
        item for item in compared if catalogue.supported_as(item["name"]) is None
    ]
    caveats = list(components.caveats)
    if not catalogue.official:
        caveats.append(
            DEFAULT_CAVEAT
            if catalogue.origin == "built-in"
            else (
                f"the supported-stack catalogue {catalogue.origin} is not marked official"
            )
        )
    resolution.resolved[UNSUPPORTED] = Resolved(
        key=UNSUPPORTED,
        value=unsupported,
        unit=None,
        provenance="derived",
        scopes=components.scopes,
        sources=[f"catalogue {catalogue.profile} ({catalogue.origin})"],
        bound=components.bound,
        caveats=caveats,
    )
    return {
        "key": UNSUPPORTED,
        "value": unsupported,
        "unit": None,
        "provenance": "derived",
        "source": f"catalogue {catalogue.profile} ({catalogue.origin})",
        "method": f"{len(compared)} components compared with {len(catalogue.aliases)} "
        "names of the supported-stack catalogue",
        "scope": "system",
        "observed_at": "",
        "details": {
            "catalogue": catalogue.origin,
            "profile": catalogue.profile,
            "official": catalogue.official,
            "ignored_kinds": sorted(catalogue.ignore_kinds),
            "ignored_usage": sorted(catalogue.ignore_usage),
            "supported": [
                {"name": item["name"], "entry": catalogue.supported_as(item["name"])}
                for item in compared
                if catalogue.supported_as(item["name"]) is not None
            ],
        },
    }
