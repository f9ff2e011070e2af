"""Product catalogue entries: schema, validation and the indexes matchers use.

Each YAML file of this package except licences.yaml contains `products:`, a list
of entries. docs/catalogues.md describes the schema; `parse_entry` enforces it
and raises ValueError naming the entry and the field.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

from collectors.catalogues import licences, versions

KINDS = (
    "database",
    "middleware",
    "os",
    "runtime",
    "framework",
    "broker",
    "web_server",
    "crypto",
    "ai_framework",
    "inference_server",
    "video",
    "virtualisation",
    "security",
    "other",
)
ECOSYSTEMS = ("dpkg", "rpm", "pypi", "npm", "maven", "nuget", "go", "image")
LANGUAGES = ("python", "java", "node", "dotnet", "go", "php", "ruby")
VIDEO_ROLES = ("library", "analytics", "stream")

_ENTRY_FIELDS = {
    "name",
    "vendor",
    "kind",
    "licence_class",
    "licence",
    "licence_by_version",
    "note",
    "language",
    "video_role",
    "match",
    "source",
}
_MATCH_FIELDS = {
    "packages",
    "processes",
    "cmdline",
    "exe_paths",
    "exe_version",
    "images",
    "ports",
    "ports_identify",
    "libraries",
    "os_ids",
    "services",
    "service_products",
    "service_cpes",
}
_RULE_FIELDS = {"from", "below", "class", "licence", "note"}
_PORT_RANGE = re.compile(r"^(\d+)-(\d+)$")
# nmap service names (nmap-services, nmap-service-probes): letters, digits and
# "-", "_", ".", "+", "/", as in "oracle-tns", "ms-sql-s" and "1c-server".
_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.+/-]*$")


@dataclass(frozen=True)
class Product:
    """A product worth naming in evidence, with its licence class.

    `licence_class` is resolved for the version the match was given: a product
    whose licence changed between versions has class "unknown" when the
    version is not known, and `note` then states the rule.
    """

    name: str
    vendor: str
    kind: str
    licence_class: str
    source: str
    note: str | None = None


@dataclass(frozen=True)
class VersionRule:
    """From version `start` (inclusive) below `below` (exclusive), use this class."""

    start: tuple[int, ...]
    below: tuple[int, ...] | None
    licence_class: str
    licence: str | None
    note: str | None
    text: str


@dataclass(frozen=True)
class Entry:
    """One validated catalogue entry with its match rules."""

    name: str
    vendor: str
    kind: str
    licence_class: str
    licence: str | None
    rules: tuple[VersionRule, ...]
    note: str | None
    language: str | None
    video_role: str | None
    source: str
    packages: dict[str, tuple[str, ...]]
    processes: tuple[str, ...]
    cmdline: tuple[re.Pattern[str], ...]
    exe_paths: tuple[re.Pattern[str], ...]
    exe_version: re.Pattern[str] | None
    images: tuple[str, ...]
    ports: tuple[tuple[int, int], ...]
    ports_identify: bool
    libraries: tuple[str, ...]
    os_ids: tuple[str, ...]
    origin: str
    # nmap service names, and globs on nmap's product and CPE fields, all in
    # lower case; see docs/catalogues.md.
    services: tuple[str, ...] = ()
    service_products: tuple[str, ...] = ()
    service_cpes: tuple[str, ...] = ()


class _Fields:
    """Typed access to one raw entry's fields; errors name entry and field."""

    def __init__(self, raw: dict[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where

    def fail(self, field: str, problem: str) -> ValueError:
        return ValueError(f"{self.where}: field {field!r} {problem}")

    def text(self, field: str, *, required: bool = True) -> str | None:
        value = self.raw.get(field)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "must be a non-empty string")
        return value.strip()

    def choice(self, field: str, allowed: tuple[str, ...], *, required=True):
        value = self.text(field, required=required)
        if value is not None and value not in allowed:
            raise self.fail(
                field, f"must be one of {', '.join(allowed)}; got {value!r}"
            )
        return value

    def strings(self, mapping: dict[str, Any], field: str) -> tuple[str, ...]:
        value = mapping.get(field, [])
        if not isinstance(value, list) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            raise self.fail(field, "must be a list of non-empty strings")
        return tuple(item.strip() for item in value)

    def regexes(self, mapping: dict[str, Any], field: str) -> tuple[re.Pattern, ...]:
        compiled = []
        for pattern in self.strings(mapping, field):
            try:
                compiled.append(re.compile(pattern))
            except re.error as exc:
                raise self.fail(field, f"has an invalid regex {pattern!r}: {exc}")
        return tuple(compiled)


def _version(fields: _Fields, field: str, value: Any) -> tuple[int, ...]:
    parsed = versions.parse_version(str(value)) if value is not None else None
    if parsed is None:
        raise fields.fail(field, f"has {value!r}, which is not a version like '7.11'")
    return parsed


def _rules(fields: _Fields) -> tuple[VersionRule, ...]:
    raw = fields.raw.get("licence_by_version", [])
    if not isinstance(raw, list):
        raise fields.fail("licence_by_version", "must be a list")
    rules = []
    for index, item in enumerate(raw):
        field = f"licence_by_version[{index}]"
        if not isinstance(item, dict) or "from" not in item or "class" not in item:
            raise fields.fail(field, "must be a mapping with 'from' and 'class'")
        unknown = set(item) - _RULE_FIELDS
        if unknown:
            raise fields.fail(field, f"has unknown keys {sorted(unknown)}")
        start = _version(fields, f"{field}.from", item["from"])
        below = item.get("below")
        upper = None if below is None else _version(fields, f"{field}.below", below)
        if upper is not None and versions.compare(upper, start) <= 0:
            raise fields.fail(field, "has 'below' not above 'from'")
        licence_class = item["class"]
        if licence_class not in licences.LICENCE_CLASSES:
            raise fields.fail(f"{field}.class", f"has unknown class {licence_class!r}")
        text = f"from {item['from']}" + (f" below {below}" if below else "")
        rules.append(
            VersionRule(
                start, upper, licence_class, item.get("licence"), item.get("note"), text
            )
        )
    return tuple(rules)


def _packages(fields: _Fields, match: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    raw = match.get("packages", {})
    if not isinstance(raw, dict):
        raise fields.fail("match.packages", "must map ecosystems to name lists")
    packages = {}
    for ecosystem in raw:
        if ecosystem not in ECOSYSTEMS or ecosystem == "image":
            raise fields.fail("match.packages", f"has unknown ecosystem {ecosystem!r}")
        listed = fields.strings(raw, ecosystem)
        packages[ecosystem] = tuple(
            normalise_package(name, ecosystem) for name in listed
        )
    return packages


def _ports(fields: _Fields, match: dict[str, Any]) -> tuple[tuple[int, int], ...]:
    raw = match.get("ports", [])
    if not isinstance(raw, list):
        raise fields.fail("match.ports", "must be a list of ports or 'low-high' ranges")
    ports = []
    for item in raw:
        if isinstance(item, int) and not isinstance(item, bool):
            low = high = item
        elif isinstance(item, str) and _PORT_RANGE.match(item):
            low, high = (int(part) for part in item.split("-"))
        else:
            raise fields.fail("match.ports", f"has {item!r}, not a port or range")
        if not 0 < low <= high <= 65535:
            raise fields.fail("match.ports", f"has {item!r} outside 1-65535")
        ports.append((low, high))
    return tuple(ports)


def _services(fields: _Fields, match: dict[str, Any]) -> tuple[str, ...]:
    names = tuple(name.lower() for name in fields.strings(match, "services"))
    for name in names:
        if not _SERVICE_NAME.match(name):
            raise fields.fail(
                "match.services", f"has {name!r}, not an nmap service name"
            )
    return names


def _service_cpes(fields: _Fields, match: dict[str, Any]) -> tuple[str, ...]:
    patterns = tuple(item.lower() for item in fields.strings(match, "service_cpes"))
    for pattern in patterns:
        if not pattern.startswith("cpe:/"):
            raise fields.fail(
                "match.service_cpes",
                f"has {pattern!r}; nmap's CPE names start with 'cpe:/', "
                "as in 'cpe:/a:mariadb:mariadb*'",
            )
    return patterns


def _match(fields: _Fields) -> dict[str, Any]:
    match = fields.raw.get("match", {})
    if not isinstance(match, dict):
        raise fields.fail("match", "must be a mapping")
    unknown = set(match) - _MATCH_FIELDS
    if unknown:
        raise fields.fail("match", f"has unknown keys {sorted(unknown)}")
    identify = match.get("ports_identify", True)
    if not isinstance(identify, bool):
        raise fields.fail("match.ports_identify", "must be true or false")
    exe_version = None
    if "exe_version" in match:
        (exe_version,) = fields.regexes(
            {"exe_version": [match["exe_version"]]}, "exe_version"
        )
        if exe_version.groups != 1:
            raise fields.fail("match.exe_version", "must have exactly one group")
    return {
        "packages": _packages(fields, match),
        "processes": fields.strings(match, "processes"),
        "cmdline": fields.regexes(match, "cmdline"),
        "exe_paths": fields.regexes(match, "exe_paths"),
        "exe_version": exe_version,
        "images": tuple(
            normalise_image(image)[0] for image in fields.strings(match, "images")
        ),
        "ports": _ports(fields, match),
        "ports_identify": identify,
        "libraries": fields.strings(match, "libraries"),
        "os_ids": fields.strings(match, "os_ids"),
        "services": _services(fields, match),
        "service_products": tuple(
            item.lower() for item in fields.strings(match, "service_products")
        ),
        "service_cpes": _service_cpes(fields, match),
    }


def parse_entry(raw: Any, origin: str) -> Entry:
    """Validate one raw entry; raise ValueError naming the entry and the field."""
    if not isinstance(raw, dict):
        # Invalid input of any type is a ValueError: callers report it as such.
        raise ValueError(f"{origin}: entry {raw!r} is not a mapping")  # noqa: TRY004
    name = raw.get("name")
    fields = _Fields(raw, f"{origin}: entry {name!r}")
    fields.text("name")
    unknown = set(raw) - _ENTRY_FIELDS
    if unknown:
        raise fields.fail(min(unknown), "is not an entry field")
    match = _match(fields)
    if not any(match[key] for key in _MATCH_FIELDS - {"ports_identify"}):
        raise fields.fail("match", "must name at least one way to recognise it")
    return Entry(
        name=str(name).strip(),
        vendor=fields.text("vendor") or "",
        kind=fields.choice("kind", KINDS),
        licence_class=fields.choice("licence_class", licences.LICENCE_CLASSES),
        licence=fields.text("licence", required=False),
        rules=_rules(fields),
        note=fields.text("note", required=False),
        language=fields.choice("language", LANGUAGES, required=False),
        video_role=fields.choice("video_role", VIDEO_ROLES, required=False),
        source=fields.text("source") or "",
        origin=origin,
        **match,
    )


def normalise_package(name: str, ecosystem: str | None) -> str:
    """Return a package name as matching compares it.

    Names compare in lower case; PyPI names also fold runs of "-", "_" and "."
    to "-" (PEP 503).
    """
    folded = name.strip().lower()
    if ecosystem == "pypi":
        folded = re.sub(r"[-_.]+", "-", folded)
    return folded


def normalise_image(reference: str) -> tuple[str, str | None]:
    """Split an image reference into its repository and tag.

    The digest is dropped, Docker Hub's registry names and "library/" prefix
    are removed, so "docker.io/library/redis:7.2" gives ("redis", "7.2").
    """
    text = reference.strip().lower().split("@", 1)[0]
    last = text.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        text, tag = text.rsplit(":", 1)
    parts = text.split("/")
    if len(parts) > 1 and parts[0] in (
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
    ):
        parts = parts[1:]
    if len(parts) == 2 and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts), tag


def is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def glob_regex(patterns: list[str]) -> re.Pattern[str] | None:
    """Compile globs into one regex, or None when the list is empty."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))
