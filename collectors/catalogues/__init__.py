"""Catalogues of software products and licences, and the matchers over them.

Collectors name what they find with these: a package, process, image, port or
mapped library becomes a `Product` with a kind and a licence class, and a
licence text becomes a `Licence`. The catalogues are YAML files in this
package (docs/catalogues.md describes the format); every entry names the
source of its facts. `extend` adds entries from the user's config, which take
precedence over the shipped ones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from collectors.catalogues.licences import (
    LICENCE_CLASSES,
    RESTRICTED_CLASSES,
    Licence,
    classify_classifiers,
    classify_licence,
)
from collectors.catalogues.products import (
    ECOSYSTEMS,
    KINDS,
    LANGUAGES,
    Entry,
    Product,
    parse_entry,
)
from collectors.catalogues.registry import (
    Registry,
    ServiceMatch,
    licence_text,
    resolve_product,
)

logger = logging.getLogger(__name__)

__all__ = [
    "ECOSYSTEMS",
    "KINDS",
    "LANGUAGES",
    "LICENCE_CLASSES",
    "RESTRICTED_CLASSES",
    "Licence",
    "Product",
    "ServiceMatch",
    "catalogue_licence",
    "catalogue_ports",
    "classify_classifiers",
    "classify_licence",
    "entry",
    "extend",
    "for_version",
    "is_extension",
    "load_file",
    "match_image",
    "match_library",
    "match_os",
    "match_package",
    "match_port",
    "match_process",
    "match_service",
    "product_files",
    "reset_extensions",
]

PRODUCT_FILES = (
    "commercial.yaml",
    "free.yaml",
    "ai.yaml",
    "video.yaml",
    "crypto.yaml",
)

_lock = threading.Lock()
_extensions: list[Entry] = []


def product_files() -> tuple[str, ...]:
    """Return the names of the product catalogue files shipped in this package."""
    return PRODUCT_FILES


def load_file(name: str) -> list[Entry]:
    """Load and validate one shipped catalogue file."""
    text = resources.files(__package__).joinpath(name).read_text("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("products"), list):
        # Invalid input of any type is a ValueError: callers report it as such.
        raise ValueError(f"catalogue {name}: expected a mapping with a 'products' list")  # noqa: TRY004
    return [parse_entry(raw, f"catalogue {name}") for raw in data["products"]]


def _check_unique(entries: list[Entry]) -> None:
    seen: dict[str, str] = {}
    for item in entries:
        if item.name in seen:
            raise ValueError(
                f"{item.origin}: entry {item.name!r} is already defined in "
                f"{seen[item.name]}; names must be unique"
            )
        seen[item.name] = item.origin


@lru_cache(maxsize=1)
def _shipped() -> tuple[Entry, ...]:
    entries = [item for name in PRODUCT_FILES for item in load_file(name)]
    _check_unique(entries)
    return tuple(entries)


_registry: Registry | None = None


def _current() -> Registry:
    global _registry
    registry = _registry
    if registry is None:
        with _lock:
            if _registry is None:
                _registry = Registry(list(_extensions) + list(_shipped()))
            registry = _registry
    return registry


def extend(entries: dict[str, Any]) -> None:
    """Add entries from the user's config: {"products": [entry, …]}.

    Entries use the schema of the YAML catalogues and take precedence over
    them. Raises ValueError naming the entry and field when one is invalid or
    reuses a name; nothing is added then.
    """
    global _registry
    if not isinstance(entries, dict) or not isinstance(entries.get("products"), list):
        # Invalid input of any type is a ValueError: callers report it as such.
        raise ValueError(  # noqa: TRY004
            "catalogue extension: expected a mapping with a 'products' list"
        )
    parsed = [parse_entry(raw, "catalogue extension") for raw in entries["products"]]
    with _lock:
        _check_unique(parsed + _extensions + list(_shipped()))
        _extensions[:0] = parsed
        _registry = None
    logger.info("catalogue extended with %d entries", len(parsed))


def is_extension(name: str) -> bool:
    """Tell whether a product entry came from the user's config, not the package."""
    with _lock:
        return any(entry.name == name for entry in _extensions)


def reset_extensions() -> None:
    """Remove every entry added with `extend`."""
    global _registry
    with _lock:
        _extensions.clear()
        _registry = None


def entry(name: str) -> Entry | None:
    """Return the catalogue entry of a product name, or None."""
    return _current().by_name.get(name)


def catalogue_licence(name: str, version: str | None = None) -> str | None:
    """Return the licence the catalogue states for a product and version."""
    found = entry(name)
    return None if found is None else licence_text(found, version)


def for_version(product: Product, version: str | None) -> Product:
    """Return a catalogue product with its licence class resolved for `version`."""
    found = entry(product.name)
    return product if found is None else resolve_product(found, version)


def match_package(
    name: str, version: str | None = None, ecosystem: str | None = None
) -> Product | None:
    """Name the product of a package: dpkg, rpm, pypi, npm, maven, nuget or go.

    Maven names are "groupId:artifactId"; go names are module paths. Without
    an ecosystem every ecosystem is tried.
    """
    return _current().match_package(name, version, ecosystem)


def match_process(
    exe: str, cmdline: list[str], version: str | None = None
) -> Product | None:
    """Name the product a process runs, from its executable and command line."""
    found = _current().match_process_entry(exe, cmdline)
    return None if found is None else resolve_product(found, version)


def match_image(reference: str) -> Product | None:
    """Name the product of a container image; the tag gives the version."""
    return _current().match_image(reference)


def match_port(port: int) -> list[Product]:
    """Return the products whose default ports include `port`."""
    return _current().match_port(port)


def match_service(
    name: str | None,
    product: str | None = None,
    cpes: Iterable[str] = (),
    version: str | None = None,
) -> ServiceMatch | None:
    """Name the product nmap found on a port, from its service fields.

    `name` is nmap's service name, `product` its product field and `cpes` its
    CPE names. A CPE match wins over a product match, which wins over a
    service-name match; within a field the first entry in precedence order
    wins. The licence class is resolved for `version`.
    """
    return _current().match_service(name, product, cpes, version)


def catalogue_ports() -> list[tuple[int, int]]:
    """Return every default port range the product entries list, sorted, unique."""
    return sorted({ports for item in _current().entries for ports in item.ports})


def match_library(path: str) -> Product | None:
    """Name the product of a shared library path, by its file name."""
    return _current().match_library(path)


def match_os(os_id: str, version: str | None = None) -> Product | None:
    """Name the operating system of an os-release ID."""
    return _current().match_os(os_id, version)
