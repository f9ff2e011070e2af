"""Classify licence texts into the classes of LICENCE_CLASSES.

A text is an SPDX id or expression, a free-form name ("Apache Software
License", "GPLv3", "UNLICENSED"), or a whole licence file. licences.yaml holds
the data: which SPDX ids fall in which class, aliases, and phrases that
recognise whole texts. SPDX expressions are parsed and normalised with the
license-expression library.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import license_expression
import yaml

logger = logging.getLogger(__name__)

LICENCE_CLASSES = (
    "permissive",
    "weak_copyleft",
    "copyleft",
    "source_available",
    "proprietary",
    "unknown",
)
UNKNOWN = "unknown"
# Rank from most to least free; `unknown` has no rank.
_RANK = {name: rank for rank, name in enumerate(LICENCE_CLASSES[:-1])}
RESTRICTED_CLASSES = ("source_available", "proprietary")

# Texts that state no licence: PyPI's "UNKNOWN" placeholder, SPDX NOASSERTION.
_NO_LICENCE = {"", "unknown", "none", "noassertion", "n/a", "other", "license"}
# A text longer than this, or with a line break, is read as a licence file.
_SHORT_TEXT_MAX = 200
_COMPOUND = re.compile(r"\s+(and|or)\s+", re.IGNORECASE)

CATALOGUE_FILE = "licences.yaml"


@dataclass(frozen=True)
class Licence:
    """A licence text as found, its SPDX expression when it has one, its class."""

    raw: str
    spdx: str | None
    licence_class: str


@dataclass(frozen=True)
class _Alias:
    spdx: str | None
    licence_class: str | None


@dataclass(frozen=True)
class _Table:
    exact: dict[str, str]
    globs: tuple[tuple[re.Pattern[str], str], ...]
    exceptions: tuple[tuple[re.Pattern[str], str], ...]
    aliases: dict[str, _Alias]
    signatures: tuple[tuple[tuple[str, ...], str], ...]
    keywords: tuple[tuple[re.Pattern[str], str], ...]


def fold(text: str) -> str:
    """Return text in lower case with commas dropped and whitespace folded."""
    return " ".join(text.lower().replace(",", " ").split())


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern.lower()))


def _checked_class(value: Any, where: str) -> str:
    if value not in LICENCE_CLASSES or value == UNKNOWN:
        raise ValueError(f"{where}: class {value!r} is not a licence class")
    return value


def _require_source(entry: dict[str, Any], where: str) -> None:
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"{where}: missing source")


def _load_classes(data: dict[str, Any]) -> tuple[dict[str, str], list]:
    exact: dict[str, str] = {}
    globs: list[tuple[re.Pattern[str], str]] = []
    for name, entry in data.items():
        where = f"{CATALOGUE_FILE}: classes.{name}"
        licence_class = _checked_class(name, where)
        _require_source(entry, where)
        for licence_id in entry["ids"]:
            if "*" in licence_id:
                globs.append((_glob(licence_id), licence_class))
            else:
                exact[licence_id.lower()] = licence_class
    return exact, globs


def _load_aliases(groups: list[dict[str, Any]]) -> dict[str, _Alias]:
    aliases: dict[str, _Alias] = {}
    for index, group in enumerate(groups):
        where = f"{CATALOGUE_FILE}: aliases[{index}]"
        _require_source(group, where)
        for name, target in group["names"].items():
            key = fold(name)
            if key in aliases:
                raise ValueError(f"{where}: alias {name!r} is listed twice")
            if isinstance(target, dict):
                licence_class = _checked_class(target.get("class"), f"{where} {name}")
                aliases[key] = _Alias(None, licence_class)
            else:
                aliases[key] = _Alias(str(target), None)
    return aliases


@lru_cache(maxsize=1)
def _table() -> _Table:
    text = resources.files(__package__).joinpath(CATALOGUE_FILE).read_text("utf-8")
    data = yaml.safe_load(text)
    exact, globs = _load_classes(data["classes"])
    exceptions = []
    for entry in data["exceptions"]:
        where = f"{CATALOGUE_FILE}: exceptions {entry.get('id')}"
        _require_source(entry, where)
        exceptions.append((_glob(entry["id"]), _checked_class(entry["class"], where)))
    signatures = []
    for entry in data["signatures"]:
        _require_source(entry, f"{CATALOGUE_FILE}: signature {entry.get('spdx')}")
        signatures.append((tuple(fold(p) for p in entry["phrases"]), entry["spdx"]))
    keywords = []
    for entry in data["keywords"]:
        where = f"{CATALOGUE_FILE}: keyword {entry.get('pattern')}"
        _require_source(entry, where)
        pattern = re.compile(entry["pattern"])
        keywords.append((pattern, _checked_class(entry["class"], where)))
    return _Table(
        exact=exact,
        globs=tuple(globs),
        exceptions=tuple(exceptions),
        aliases=_load_aliases(data["aliases"]),
        signatures=tuple(signatures),
        keywords=tuple(keywords),
    )


@lru_cache(maxsize=1)
def _licensing() -> license_expression.Licensing:
    return license_expression.get_spdx_licensing()


def class_of_id(licence_id: str) -> str:
    """Return the class of one SPDX licence id or LicenseRef, or "unknown"."""
    table = _table()
    key = licence_id.lower()
    if key in table.exact:
        return table.exact[key]
    for pattern, licence_class in table.globs:
        if pattern.match(key):
            return licence_class
    return UNKNOWN


def _exception_class(exception_id: str) -> str | None:
    key = exception_id.lower()
    for pattern, licence_class in _table().exceptions:
        if pattern.match(key):
            return licence_class
    return None


def combine_all(classes: Iterable[str]) -> str:
    """Return the class of licences that all apply (SPDX AND).

    A proprietary part makes the whole proprietary. Otherwise an unknown part
    makes the whole unknown, and else the least free part decides.
    """
    values = list(classes)
    if "proprietary" in values:
        return "proprietary"
    if not values or UNKNOWN in values:
        return UNKNOWN
    return max(values, key=_RANK.__getitem__)


def combine_any(classes: Iterable[str]) -> str:
    """Return the class of licences offered as a choice (SPDX OR).

    The freest known option decides, unless an unknown option might be freer
    than a restricted one, in which case the whole is unknown.
    """
    values = list(classes)
    known = [value for value in values if value != UNKNOWN]
    if not known:
        return UNKNOWN
    best = min(known, key=_RANK.__getitem__)
    if len(known) < len(values) and best in RESTRICTED_CLASSES:
        return UNKNOWN
    return best


def _expression_class(expression: Any) -> str:
    licensing = _licensing()
    if isinstance(expression, license_expression.LicenseWithExceptionSymbol):
        base = class_of_id(expression.license_symbol.key)
        ceiling = _exception_class(expression.exception_symbol.key)
        if base == UNKNOWN or ceiling is None or _RANK[ceiling] >= _RANK[base]:
            return base
        return ceiling
    if isinstance(expression, license_expression.LicenseSymbol):
        return class_of_id(expression.key)
    parts = [_expression_class(arg) for arg in expression.args]
    if isinstance(expression, licensing.AND):
        return combine_all(parts)
    return combine_any(parts)


def _parse_spdx(text: str) -> Any | None:
    """Parse an SPDX expression; None when it is not one or names unknown ids."""
    licensing = _licensing()
    try:
        expression = licensing.parse(text, validate=False, simple=False)
    except license_expression.ExpressionError:
        return None
    if expression is None:
        return None
    for key in licensing.unknown_license_keys(expression):
        if not key.lower().startswith("licenseref-"):
            return None
    return expression


def normalise_spdx(text: str) -> str | None:
    """Return the normalised SPDX expression of text, or None if it is not one."""
    expression = _parse_spdx(text)
    return None if expression is None else expression.render()


def _from_spdx(raw: str, spdx_text: str) -> Licence:
    expression = _parse_spdx(spdx_text)
    if expression is None:
        logger.debug("licence alias target %r is not an SPDX expression", spdx_text)
        return Licence(raw, None, UNKNOWN)
    return Licence(raw, expression.render(), _expression_class(expression))


def _classify_name(raw: str, text: str) -> Licence | None:
    """Classify a short name by alias, then as an SPDX expression."""
    alias = _table().aliases.get(fold(text))
    if alias is not None:
        if alias.spdx is None:
            return Licence(raw, None, alias.licence_class or UNKNOWN)
        return _from_spdx(raw, alias.spdx)
    if _parse_spdx(text) is not None:
        return _from_spdx(raw, text)
    return None


def _classify_compound(raw: str, text: str) -> Licence | None:
    """Classify "A or B and C" where the parts are names, not SPDX ids.

    AND binds tighter than OR, as in SPDX expressions.
    """
    tokens = _COMPOUND.split(text)
    if len(tokens) < 3:
        return None
    groups: list[list[Licence]] = [[]]
    for index, token in enumerate(tokens):
        if index % 2 == 1:
            if token.lower() == "or":
                groups.append([])
            continue
        part = _classify_name(token, token.strip()) or _classify_keywords(token)
        groups[-1].append(part)
    licence_class = combine_any(
        combine_all(part.licence_class for part in group) for group in groups
    )
    spdx = None
    if all(part.spdx for group in groups for part in group):
        joined = " OR ".join(
            "(" + " AND ".join(part.spdx or "" for part in group) + ")"
            for group in groups
        )
        spdx = normalise_spdx(joined)
    return Licence(raw, spdx, licence_class)


def _classify_keywords(text: str) -> Licence:
    folded = fold(text)
    for pattern, licence_class in _table().keywords:
        if pattern.search(folded):
            return Licence(text, None, licence_class)
    return Licence(text, None, UNKNOWN)


def _classify_text(raw: str, text: str) -> Licence:
    """Classify a whole licence file by the phrases of licences.yaml."""
    folded = fold(text)
    for phrases, spdx in _table().signatures:
        if all(phrase in folded for phrase in phrases):
            return _from_spdx(raw, spdx)
    return Licence(raw, None, UNKNOWN)


@lru_cache(maxsize=8192)
def classify_licence(text: str | None) -> Licence:
    """Classify a licence text; None, "" and "UNKNOWN" give class "unknown"."""
    if text is None:
        return Licence("", None, UNKNOWN)
    stripped = text.strip()
    if fold(stripped) in _NO_LICENCE:
        return Licence(text, None, UNKNOWN)
    if "\n" in stripped or len(stripped) > _SHORT_TEXT_MAX:
        return _classify_text(text, stripped)
    named = _classify_name(text, stripped) or _classify_compound(text, stripped)
    if named is not None:
        return named
    keyword = _classify_keywords(stripped)
    return Licence(text, None, keyword.licence_class)


def classify_classifiers(classifiers: Iterable[str]) -> Licence:
    """Classify PyPI "License :: …" classifiers; several mean a choice (OR)."""
    found = [c.strip() for c in classifiers if c.strip().startswith("License ::")]
    if not found:
        return Licence("", None, UNKNOWN)
    parts = []
    for classifier in found:
        segments = [segment.strip() for segment in classifier.split("::")]
        # "License :: OSI Approved" alone names no licence.
        if segments[-1] in ("License", "OSI Approved"):
            parts.append(Licence(classifier, None, UNKNOWN))
            continue
        parts.append(classify_licence(segments[-1]))
    raw = "; ".join(found)
    licence_class = combine_any(part.licence_class for part in parts)
    spdx = None
    if all(part.spdx for part in parts):
        spdx = normalise_spdx(" OR ".join(f"({part.spdx})" for part in parts))
    return Licence(raw, spdx, licence_class)
