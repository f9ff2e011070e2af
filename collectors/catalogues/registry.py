"""Indexes over catalogue entries and the matchers that use them."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from collectors.catalogues import licences, versions
from collectors.catalogues.products import (
    Entry,
    Product,
    glob_regex,
    is_glob,
    normalise_image,
    normalise_package,
)


@dataclass(frozen=True)
class ServiceMatch:
    """A product named from nmap's service fields, and which field named it.

    `field` is the catalogue field that matched ("service_cpes",
    "service_products" or "services"), `value` nmap's text and `pattern` the
    catalogue's name or glob.
    """

    product: Product
    field: str
    value: str
    pattern: str


@dataclass(frozen=True)
class _NameIndex:
    """Exact names and globs of one namespace, each naming its entry."""

    exact: dict[str, Entry]
    globs: tuple[tuple[re.Pattern[str], Entry], ...]
    any_glob: re.Pattern[str] | None
    # The glob text of each entry of `globs`, for evidence that cites it.
    glob_texts: tuple[str, ...] = ()

    @classmethod
    def build(cls, pairs: Iterable[tuple[str, Entry]]) -> _NameIndex:
        exact: dict[str, Entry] = {}
        globs: list[tuple[str, Entry]] = []
        for pattern, entry in pairs:
            if is_glob(pattern):
                globs.append((pattern, entry))
            else:
                # The first entry listing a name wins, so user entries (first
                # in the registry) take precedence over the shipped catalogue.
                exact.setdefault(pattern, entry)
        compiled = tuple(
            (re.compile(fnmatch.translate(pattern)), entry) for pattern, entry in globs
        )
        texts = tuple(pattern for pattern, _ in globs)
        return cls(exact, compiled, glob_regex(list(texts)), texts)

    def find(self, name: str) -> Entry | None:
        found = self.find_pattern(name)
        return None if found is None else found[0]

    def find_pattern(self, name: str) -> tuple[Entry, str] | None:
        """Return the entry that `name` matches and the name or glob it matched."""
        entry = self.exact.get(name)
        if entry is not None:
            return entry, name
        if self.any_glob is None or not self.any_glob.match(name):
            return None
        for (pattern, candidate), text in zip(self.globs, self.glob_texts, strict=True):
            if pattern.match(name):
                return candidate, text
        return None


def library_version(file_name: str) -> str | None:
    """Return the version in a shared library name: "libfoo.so.4.5.1" gives "4.5.1"."""
    _, separator, suffix = file_name.partition(".so.")
    return suffix if separator and versions.parse_version(suffix) else None


def resolve_product(entry: Entry, version: str | None) -> Product:
    """Return the entry as a Product, its licence class resolved for `version`."""
    if not entry.rules:
        return _product(entry, entry.licence_class, entry.note)
    rule = version_rule(entry, version)
    if rule is not None:
        note = rule.note or f"{rule.licence or rule.licence_class} {rule.text}"
        return _product(entry, rule.licence_class, note)
    parsed = versions.parse_version(version)
    classes = {entry.licence_class, *(r.licence_class for r in entry.rules)}
    if parsed is None and len(classes) == 1:
        return _product(entry, entry.licence_class, entry.note)
    if parsed is None:
        ranges = "; ".join(f"{r.licence_class} {r.text}" for r in entry.rules)
        note = f"version not known, and the licence depends on it: {ranges}"
        return _product(entry, licences.UNKNOWN, note)
    return _product(entry, entry.licence_class, entry.note)


def version_rule(entry: Entry, version: str | None):
    """Return the licence rule that covers `version`, or None."""
    parsed = versions.parse_version(version)
    if parsed is None:
        return None
    for rule in entry.rules:
        if versions.in_range(parsed, rule.start, rule.below):
            return rule
    return None


def licence_text(entry: Entry, version: str | None) -> str | None:
    """Return the licence the catalogue states for this version, if any."""
    rule = version_rule(entry, version)
    if rule is not None and rule.licence:
        return rule.licence
    if entry.rules and versions.parse_version(version) is None:
        return None
    return entry.licence


def _product(entry: Entry, licence_class: str, note: str | None) -> Product:
    return Product(
        name=entry.name,
        vendor=entry.vendor,
        kind=entry.kind,
        licence_class=licence_class,
        source=entry.source,
        note=note,
    )


def _process_specificity(entry: Entry) -> int:
    # Command-line rules are most specific (java running weblogic.Server), then
    # executable paths (an OpenJDK build), then executable names alone.
    if entry.cmdline:
        return 0
    if entry.exe_paths:
        return 1
    return 2


class Registry:
    """All catalogue entries, in precedence order, with their indexes."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = tuple(entries)
        self.by_name = {entry.name: entry for entry in entries}
        ecosystems: dict[str, list[tuple[str, Entry]]] = {}
        for entry in entries:
            for ecosystem, names in entry.packages.items():
                ecosystems.setdefault(ecosystem, []).extend((n, entry) for n in names)
        self.packages = {
            ecosystem: _NameIndex.build(pairs)
            for ecosystem, pairs in ecosystems.items()
        }
        self.images = _NameIndex.build(
            (image, entry) for entry in entries for image in entry.images
        )
        self.libraries = _NameIndex.build(
            (library.lower(), entry) for entry in entries for library in entry.libraries
        )
        self.os_ids = _NameIndex.build(
            (os_id.lower(), entry) for entry in entries for os_id in entry.os_ids
        )
        self.services = _NameIndex.build(
            (name, entry) for entry in entries for name in entry.services
        )
        self.service_products = _NameIndex.build(
            (pattern, entry) for entry in entries for pattern in entry.service_products
        )
        self.service_cpes = _NameIndex.build(
            (pattern, entry) for entry in entries for pattern in entry.service_cpes
        )
        process_entries = [
            entry
            for entry in entries
            if entry.processes or entry.cmdline or entry.exe_paths
        ]
        self.process_entries = tuple(sorted(process_entries, key=_process_specificity))
        self.process_names = {
            entry.name: glob_regex(list(entry.processes)) for entry in process_entries
        }

    def match_package(
        self, name: str, version: str | None, ecosystem: str | None
    ) -> Product | None:
        ecosystems = [ecosystem] if ecosystem else list(self.packages)
        for candidate in ecosystems:
            index = self.packages.get(candidate)
            if index is None:
                continue
            entry = index.find(normalise_package(name, candidate))
            if entry is not None:
                return resolve_product(entry, version)
        return None

    def match_process_entry(self, exe: str, cmdline: list[str]) -> Entry | None:
        names = {os.path.basename(exe)} if exe else set()
        if cmdline:
            names.add(os.path.basename(cmdline[0].split(" ", 1)[0]))
        names.discard("")
        joined = " ".join(cmdline)
        for entry in self.process_entries:
            if entry.processes:
                pattern = self.process_names[entry.name]
                if pattern is None or not any(pattern.match(n) for n in names):
                    continue
            if entry.cmdline and not any(r.search(joined) for r in entry.cmdline):
                continue
            if entry.exe_paths and not any(
                r.search(exe or "") for r in entry.exe_paths
            ):
                continue
            return entry
        return None

    def match_image(self, reference: str) -> Product | None:
        repository, tag = normalise_image(reference)
        entry = self.images.find(repository)
        if entry is None:
            return None
        return resolve_product(entry, tag)

    def match_port(self, port: int) -> list[Product]:
        return [
            resolve_product(entry, None)
            for entry in self.entries
            if any(low <= port <= high for low, high in entry.ports)
        ]

    def match_service(
        self,
        name: str | None,
        product: str | None,
        cpes: Iterable[str],
        version: str | None,
    ) -> ServiceMatch | None:
        # The most specific field wins: a CPE names vendor and product (nmap
        # reports MariaDB with product "MySQL" and a mariadb CPE), a product
        # name comes next, and a service name names only the protocol.
        tiers = (
            ("service_cpes", self.service_cpes, list(cpes)),
            ("service_products", self.service_products, [product] if product else []),
            ("services", self.services, [name] if name else []),
        )
        for field_name, index, values in tiers:
            for value in values:
                found = index.find_pattern(value.strip().lower())
                if found is not None:
                    entry, pattern = found
                    return ServiceMatch(
                        resolve_product(entry, version), field_name, value, pattern
                    )
        return None

    def match_library(self, path: str) -> Product | None:
        name = os.path.basename(path).lower()
        entry = self.libraries.find(name)
        if entry is None:
            return None
        return resolve_product(entry, library_version(name))

    def match_os(self, os_id: str, version: str | None) -> Product | None:
        entry = self.os_ids.find(os_id.lower())
        return None if entry is None else resolve_product(entry, version)
