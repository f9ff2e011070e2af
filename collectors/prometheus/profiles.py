"""The built-in query profiles (profiles.yaml) and the choice among them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import yaml

MEASURES = ("tps", "concurrent_users", "records")
SELECTIONS = ("first", "sum")
PROFILE_FIELDS = {
    "name",
    "metric_families",
    "query",
    "measures",
    "why",
    "source",
    "bound",
}


@dataclass(frozen=True)
class Profile:
    """One way to read a measure from the metric families of a known exporter."""

    name: str
    metric_families: tuple[str, ...]
    query: str
    measures: str
    why: str
    source: str
    bound: str | None = None


@dataclass(frozen=True)
class MeasureProfiles:
    """The profiles of one measure, in order of preference, and how they combine."""

    measure: str
    selection: str
    order: str
    profiles: tuple[Profile, ...]

    def applicable(self, families: set[str]) -> list[Profile]:
        """Return the profiles whose metric families all exist, in order."""
        return [
            profile
            for profile in self.profiles
            if all(name in families for name in profile.metric_families)
        ]

    def families(self) -> set[str]:
        return {name for profile in self.profiles for name in profile.metric_families}


def _profile(measure: str, entry: dict) -> Profile:
    unknown = set(entry) - PROFILE_FIELDS
    missing = PROFILE_FIELDS - {"bound"} - set(entry)
    if unknown or missing:
        raise ValueError(
            f"profiles.yaml: {measure} profile {entry.get('name')!r}: "
            f"unknown fields {sorted(unknown)}, missing fields {sorted(missing)}"
        )
    if entry.get("bound") not in (None, "lower"):
        raise ValueError(f"profiles.yaml: {entry['name']}: bound must be 'lower'")
    return Profile(
        name=entry["name"],
        metric_families=tuple(entry["metric_families"]),
        query=entry["query"],
        measures=" ".join(entry["measures"].split()),
        why=" ".join(entry["why"].split()),
        source=entry["source"],
        bound=entry.get("bound"),
    )


def parse_profiles(text: str) -> dict[str, MeasureProfiles]:
    """Parse profiles.yaml text; raise ValueError when its shape is wrong."""
    document = yaml.safe_load(text)
    if not isinstance(document, dict) or set(document) != set(MEASURES):
        raise ValueError(f"profiles.yaml must have exactly the sections {MEASURES}")
    parsed = {}
    for measure in MEASURES:
        section = document[measure]
        if section.get("selection") not in SELECTIONS:
            raise ValueError(
                f"profiles.yaml: {measure}: selection must be one of {SELECTIONS}"
            )
        parsed[measure] = MeasureProfiles(
            measure=measure,
            selection=section["selection"],
            order=" ".join(section["order"].split()),
            profiles=tuple(_profile(measure, entry) for entry in section["profiles"]),
        )
    return parsed


@functools.cache
def load_profiles() -> dict[str, MeasureProfiles]:
    """Load the built-in profiles shipped with this package."""
    text = (
        resources.files("collectors.prometheus")
        .joinpath("profiles.yaml")
        .read_text("utf-8")
    )
    return parse_profiles(text)
