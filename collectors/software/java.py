"""Read Java archives: manifests, Maven pom.properties and nested library jars.

A jar's META-INF/MANIFEST.MF may name it (Implementation-Title and -Version,
Bundle-SymbolicName and Bundle-Version) and its licence (Bundle-License).
META-INF/maven/<groupId>/<artifactId>/pom.properties gives its coordinates;
a shaded jar holds several. Spring Boot and web archives keep their libraries
as jars under BOOT-INF/lib/ and WEB-INF/lib/, which are read too.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from pathlib import Path

from collectors.catalogues import classify_licence, match_package
from collectors.catalogues.licences import UNKNOWN
from collectors.software.records import Package

logger = logging.getLogger(__name__)

MANIFEST = "META-INF/MANIFEST.MF"
LICENCE_ENTRIES = ("META-INF/LICENSE", "META-INF/LICENSE.txt", "META-INF/LICENSE.md")
NESTED_DIRS = ("BOOT-INF/lib/", "WEB-INF/lib/")
# Nested jars larger than this are listed by name only, to bound memory.
MAX_NESTED_BYTES = 64 * 1024 * 1024
MAX_TEXT_BYTES = 256 * 1024
_POM = re.compile(r"^META-INF/maven/[^/]+/[^/]+/pom\.properties$")


def parse_manifest(text: str) -> dict[str, str]:
    """Parse MANIFEST.MF main attributes; lines starting with a space continue."""
    attributes: dict[str, str] = {}
    last = None
    for line in text.splitlines():
        if not line.strip():
            break  # the main section ends at the first blank line
        if line.startswith(" ") and last is not None:
            attributes[last] += line[1:]
            continue
        name, separator, value = line.partition(":")
        if separator:
            last = name.strip()
            attributes[last] = value.strip()
    return attributes


def parse_properties(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        name, separator, value = line.partition("=")
        if separator:
            values[name.strip()] = value.strip()
    return values


def _read_text(archive: zipfile.ZipFile, name: str) -> str | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_TEXT_BYTES:
        return None
    return archive.read(info).decode("utf-8", errors="replace")


def _jar_licence(archive: zipfile.ZipFile, manifest: dict[str, str]):
    declared = manifest.get("Bundle-License")
    if declared:
        licence = classify_licence(declared)
        if licence.licence_class != UNKNOWN:
            return licence, "MANIFEST.MF Bundle-License"
    for entry in LICENCE_ENTRIES:
        text = _read_text(archive, entry)
        if text:
            licence = classify_licence(text)
            if licence.licence_class != UNKNOWN:
                return licence, entry
    if declared:
        return classify_licence(declared), "MANIFEST.MF Bundle-License"
    return classify_licence(None), None


def _own_pom(poms: list[dict[str, str]], jar_name: str) -> dict[str, str] | None:
    if len(poms) == 1:
        return poms[0]
    for pom in poms:
        if jar_name.startswith(f"{pom.get('artifactId')}-{pom.get('version')}"):
            return pom
    return None


def read_archive(
    archive: zipfile.ZipFile, display: str, jar_name: str
) -> list[Package]:
    """Return the packages one opened archive contains, nested jars included."""
    manifest = parse_manifest(_read_text(archive, MANIFEST) or "")
    licence, origin = _jar_licence(archive, manifest)
    poms = []
    for name in archive.namelist():
        if _POM.match(name):
            poms.append(parse_properties(_read_text(archive, name) or ""))
    own = _own_pom(poms, jar_name)
    packages = []
    for pom in poms:
        if "groupId" not in pom or "artifactId" not in pom:
            continue
        coordinate = f"{pom['groupId']}:{pom['artifactId']}"
        is_own = pom is own
        packages.append(
            Package(
                ecosystem="maven",
                name=coordinate,
                version=pom.get("version"),
                licence=licence if is_own else classify_licence(None),
                path=display,
                licence_from=origin if is_own else None,
                product=match_package(coordinate, pom.get("version"), "maven"),
            )
        )
    if own is None:
        title = manifest.get("Bundle-SymbolicName", "").split(";")[0].strip()
        title = title or manifest.get("Implementation-Title") or Path(jar_name).stem
        version = manifest.get("Bundle-Version") or manifest.get(
            "Implementation-Version"
        )
        packages.append(
            Package(
                ecosystem="maven",
                name=title,
                version=version,
                licence=licence,
                path=display,
                licence_from=origin,
                product=match_package(title, version, "maven"),
            )
        )
    packages.extend(_nested(archive, display))
    return packages


def _nested(archive: zipfile.ZipFile, display: str) -> list[Package]:
    packages: list[Package] = []
    for info in archive.infolist():
        if not info.filename.endswith(".jar"):
            continue
        if not info.filename.startswith(NESTED_DIRS):
            continue
        nested_display = f"{display}!/{info.filename}"
        if info.file_size > MAX_NESTED_BYTES:
            logger.debug("nested jar %s too large to read", nested_display)
            continue
        try:
            with zipfile.ZipFile(io.BytesIO(archive.read(info))) as nested:
                name = Path(info.filename).name
                packages.extend(read_archive(nested, nested_display, name))
        except (zipfile.BadZipFile, OSError) as exc:
            logger.debug("nested jar %s unreadable: %s", nested_display, exc)
    return packages


def read_jar(path: Path) -> list[Package]:
    """Read one jar, war or ear file; raises OSError or zipfile.BadZipFile."""
    with zipfile.ZipFile(path) as archive:
        return read_archive(archive, str(path), path.name)
