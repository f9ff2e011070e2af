"""Read installed Python distributions and their licences.

A distribution's licence is taken from, in order, the first of these that
gives a known class: the License-Expression field (PEP 639), the License
field, the "License ::" classifiers, then licence files in its metadata
directory. The raw text of the one used is kept.
"""

from __future__ import annotations

import logging
import site
import sys
from importlib import metadata
from pathlib import Path

from collectors.catalogues import (
    Licence,
    classify_classifiers,
    classify_licence,
    match_package,
)
from collectors.catalogues.licences import UNKNOWN
from collectors.software.records import ABSENT, OK, Package, SourceStatus

logger = logging.getLogger(__name__)

# Python directories of the operating system's interpreters, below the root.
SYSTEM_PATTERNS = (
    "usr/lib/python3/dist-packages",
    "usr/lib/python3*/site-packages",
    "usr/lib64/python3*/site-packages",
    "usr/local/lib/python3*/dist-packages",
    "usr/local/lib/python3*/site-packages",
)
# Licence files that wheels and sdists put in the metadata directory.
LICENCE_FILES = (
    "LICENSE",
    "LICENSE.txt",
    "LICENSE.md",
    "LICENCE",
    "LICENCE.txt",
    "COPYING",
    "COPYING.txt",
    "licenses/LICENSE",
    "licenses/LICENSE.txt",
    "licenses/LICENSE.md",
)
# Larger licence files are not read: real licence texts are far smaller.
MAX_LICENCE_BYTES = 256 * 1024


def system_site_dirs(root: str, live: bool) -> list[Path]:
    """Return the OS interpreters' package directories that exist under root.

    On the live system the running interpreter's site-packages count too,
    unless it runs in a virtual environment (its own packages are the agent's,
    not the system's).
    """
    found: list[Path] = []
    for pattern in SYSTEM_PATTERNS:
        found.extend(sorted(Path(root).glob(pattern)))
    if live and sys.prefix == sys.base_prefix:
        found.extend(Path(p) for p in site.getsitepackages())
    unique: list[Path] = []
    for directory in found:
        if directory.is_dir() and directory not in unique:
            unique.append(directory)
    return unique


def _first_known(candidates: list[tuple[str, Licence]]) -> tuple[Licence, str | None]:
    for origin, licence in candidates:
        if licence.licence_class != UNKNOWN:
            return licence, origin
    for origin, licence in candidates:
        if licence.raw.strip():
            return licence, origin
    return classify_licence(None), None


def _licence_file(dist: metadata.Distribution) -> tuple[str, str] | None:
    names = list(dist.metadata.get_all("License-File") or [])
    candidates = [f"licenses/{name}" for name in names] + names + list(LICENCE_FILES)
    for candidate in candidates:
        try:
            text = dist.read_text(candidate)
        except (OSError, UnicodeDecodeError) as exc:
            logger.debug("licence file %s unreadable: %s", candidate, exc)
            continue
        if text and len(text) <= MAX_LICENCE_BYTES:
            return candidate, text
    return None


def distribution_licence(dist: metadata.Distribution) -> tuple[Licence, str | None]:
    """Return a distribution's licence and the field or file it came from."""
    meta = dist.metadata
    candidates: list[tuple[str, Licence]] = []
    for field in ("License-Expression", "License"):
        value = meta.get(field)
        if value:
            candidates.append((field, classify_licence(value)))
    classifiers = meta.get_all("Classifier") or []
    if any(c.startswith("License ::") for c in classifiers):
        candidates.append(("Classifier", classify_classifiers(classifiers)))
    licence, origin = _first_known(candidates)
    if licence.licence_class != UNKNOWN:
        return licence, origin
    found = _licence_file(dist)
    if found is not None:
        name, text = found
        from_file = classify_licence(text)
        if from_file.licence_class != UNKNOWN:
            return from_file, name
    return licence, origin


def read_directory(directory: Path) -> list[Package]:
    """Read every distribution installed in one site-packages directory."""
    packages = []
    for dist in metadata.distributions(path=[str(directory)]):
        name = dist.metadata.get("Name")
        if not name:
            logger.debug("distribution without a Name in %s", directory)
            continue
        version = dist.version
        licence, origin = distribution_licence(dist)
        packages.append(
            Package(
                ecosystem="pypi",
                name=name,
                version=version,
                licence=licence,
                path=str(directory),
                licence_from=origin,
                product=match_package(name, version, "pypi"),
            )
        )
    return packages


def read_distributions(directories: list[Path]) -> tuple[list[Package], SourceStatus]:
    """Read distributions from each directory; the status counts them all."""
    if not directories:
        return [], SourceStatus(ABSENT)
    packages: list[Package] = []
    for directory in directories:
        packages.extend(read_directory(directory))
    locations = [str(directory) for directory in directories]
    return packages, SourceStatus(OK, items=len(packages), locations=locations)
