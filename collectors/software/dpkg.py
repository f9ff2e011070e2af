"""Read the dpkg database: installed packages, their licences and files.

`/var/lib/dpkg/status` holds one RFC 822 paragraph per package. A licence is
read only from a machine-readable copyright file (DEP-5, a first line starting
with "Format:"), whose `License:` fields name the licences of its files.
"""

from __future__ import annotations

import logging
from pathlib import Path

from collectors.catalogues import Licence, classify_licence, match_package
from collectors.catalogues.licences import combine_all, normalise_spdx
from collectors.catalogues.versions import upstream_version
from collectors.software.records import ABSENT, OK, UNREADABLE, Package, SourceStatus

logger = logging.getLogger(__name__)

STATUS = "var/lib/dpkg/status"
INFO = "var/lib/dpkg/info"
COPYRIGHT = "usr/share/doc/{package}/copyright"
INSTALLED = "install ok installed"


def parse_status(text: str) -> list[dict[str, str]]:
    """Split a dpkg status file into paragraphs of field name to first-line value."""
    paragraphs: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                paragraphs.append(current)
                current = {}
            continue
        if line[0] in " \t":
            continue  # continuation lines of Description and Conffiles
        name, separator, value = line.partition(":")
        if separator:
            current[name.strip()] = value.strip()
    if current:
        paragraphs.append(current)
    return paragraphs


def copyright_licence(root: str, package: str) -> Licence | None:
    """Return the licence of a DEP-5 copyright file, or None when there is none.

    Each `License:` field's first line is a short name or expression; the
    distinct ones all apply (to different files), so they combine with AND.
    """
    location = Path(root) / COPYRIGHT.format(package=package)
    try:
        text = location.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        logger.debug("cannot read %s: %s", location, exc)
        return None
    if not text.startswith("Format:"):
        return None
    names: list[str] = []
    for line in text.splitlines():
        if line.startswith("License:"):
            name = line.partition(":")[2].strip()
            if name and name not in names:
                names.append(name)
    if not names:
        return None
    parts = [classify_licence(name) for name in names]
    spdx = None
    if all(part.spdx for part in parts):
        spdx = normalise_spdx(" AND ".join(f"({part.spdx})" for part in parts))
    return Licence("; ".join(names), spdx, combine_all(p.licence_class for p in parts))


def read_packages(root: str) -> tuple[list[Package], SourceStatus]:
    """Read installed packages from {root}/var/lib/dpkg/status."""
    location = Path(root) / STATUS
    display = "/" + STATUS
    try:
        text = location.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        return [], SourceStatus(ABSENT, locations=[display])
    except OSError as exc:
        logger.warning("dpkg status %s unreadable: %s", location, exc)
        message = f"{display}: {exc.strerror or exc}"
        return [], SourceStatus(UNREADABLE, locations=[display], message=message)
    packages = []
    for paragraph in parse_status(text):
        name = paragraph.get("Package")
        if not name or paragraph.get("Status") != INSTALLED:
            continue
        version = paragraph.get("Version")
        licence = copyright_licence(root, name)
        upstream = upstream_version(version) if version else None
        packages.append(
            Package(
                ecosystem="dpkg",
                name=name,
                version=version,
                licence=licence or classify_licence(None),
                path=display,
                licence_from=None
                if licence is None
                else COPYRIGHT.format(package=name),
                product=match_package(name, upstream, "dpkg"),
            )
        )
    return packages, SourceStatus(OK, items=len(packages), locations=[display])


def package_owns(root: str, package: str, path: str) -> bool:
    """Return whether the dpkg file list of `package` contains `path`."""
    info = Path(root) / INFO
    candidates = [info / f"{package}.list"]
    candidates.extend(info.glob(f"{package}:*.list"))
    for candidate in candidates:
        try:
            with candidate.open(encoding="utf-8", errors="replace") as handle:
                if any(line.rstrip("\n") == path for line in handle):
                    return True
        except FileNotFoundError:
            continue
        except OSError as exc:
            logger.debug("cannot read %s: %s", candidate, exc)
    return False
