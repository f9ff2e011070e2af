"""Read the rpm database when it is the SQLite backend (rpm 4.16 and later).

`{root}/var/lib/rpm/rpmdb.sqlite` has a table `Packages(hnum, blob)` whose
blobs are rpm headers as headerExport writes them: the index entry count and
the data size (32-bit big-endian), the index entries (tag, type, offset, count;
each 32-bit big-endian), then the data. Strings are NUL-terminated.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
from pathlib import Path

from collectors.catalogues import classify_licence, match_package
from collectors.software.records import (
    ABSENT,
    OK,
    UNREADABLE,
    UNSUPPORTED,
    Package,
    SourceStatus,
)

logger = logging.getLogger(__name__)

SQLITE_DB = "var/lib/rpm/rpmdb.sqlite"
# Older backends: Berkeley DB ("Packages") and ndb ("Packages.db").
OTHER_DBS = (
    "var/lib/rpm/Packages",
    "var/lib/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages.db",
)
# The header magic that precedes the index count in files but not in the db.
HEADER_MAGIC = b"\x8e\xad\xe8\x01\x00\x00\x00\x00"

TAG_NAME = 1000
TAG_VERSION = 1001
TAG_RELEASE = 1002
TAG_EPOCH = 1003
TAG_LICENSE = 1014
TYPE_INT32 = 4
TYPE_STRING = 6
TYPE_STRING_ARRAY = 8
TYPE_I18NSTRING = 9
_WANTED = {TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_LICENSE}


def parse_header(blob: bytes) -> dict[int, str | int]:
    """Return the name, version, release, epoch and licence tags of a header.

    Raises ValueError when the blob is not a header.
    """
    blob = blob.removeprefix(HEADER_MAGIC)
    if len(blob) < 8:
        raise ValueError("header shorter than its 8-byte preamble")
    count, data_size = struct.unpack(">II", blob[:8])
    data_start = 8 + 16 * count
    if data_start + data_size > len(blob):
        raise ValueError(f"header declares {count} entries and {data_size} data bytes")
    data = blob[data_start : data_start + data_size]
    tags: dict[int, str | int] = {}
    for index in range(count):
        tag, kind, offset, _ = struct.unpack_from(">iiii", blob, 8 + 16 * index)
        if tag not in _WANTED or not 0 <= offset < len(data):
            continue
        if kind in (TYPE_STRING, TYPE_STRING_ARRAY, TYPE_I18NSTRING):
            end = data.find(b"\0", offset)
            end = len(data) if end < 0 else end
            tags[tag] = data[offset:end].decode("utf-8", errors="replace")
        elif kind == TYPE_INT32 and offset + 4 <= len(data):
            tags[tag] = struct.unpack_from(">i", data, offset)[0]
    return tags


def _package(tags: dict[int, str | int], display: str) -> Package | None:
    name = tags.get(TAG_NAME)
    if not isinstance(name, str) or name == "gpg-pubkey":
        return None
    version = tags.get(TAG_VERSION)
    release = tags.get(TAG_RELEASE)
    full = None
    if isinstance(version, str):
        full = f"{version}-{release}" if isinstance(release, str) else version
        if isinstance(tags.get(TAG_EPOCH), int):
            full = f"{tags[TAG_EPOCH]}:{full}"
    licence_text = tags.get(TAG_LICENSE)
    licence_text = licence_text if isinstance(licence_text, str) else None
    return Package(
        ecosystem="rpm",
        name=name,
        version=full,
        licence=classify_licence(licence_text),
        path=display,
        licence_from="rpm License tag" if licence_text else None,
        product=match_package(
            name, version if isinstance(version, str) else None, "rpm"
        ),
    )


def _read_sqlite(location: Path, display: str) -> tuple[list[Package], int]:
    uri = f"file:{location}?mode=ro&immutable=1"
    connection = sqlite3.connect(uri, uri=True)
    try:
        rows = connection.execute("SELECT blob FROM Packages").fetchall()
    finally:
        connection.close()
    packages: list[Package] = []
    malformed = 0
    for (blob,) in rows:
        try:
            package = _package(parse_header(bytes(blob)), display)
        except (ValueError, struct.error) as exc:
            logger.debug("rpm header in %s not parsed: %s", display, exc)
            malformed += 1
            continue
        if package is not None:
            packages.append(package)
    return packages, malformed


def read_packages(root: str) -> tuple[list[Package], SourceStatus]:
    """Read installed packages from the rpm SQLite database under root."""
    location = Path(root) / SQLITE_DB
    display = "/" + SQLITE_DB
    if not location.exists():
        for other in OTHER_DBS:
            if (Path(root) / other).exists():
                # TODO: read the Berkeley DB and ndb rpm backends.
                message = f"/{other}: this rpm database format is not read"
                return [], SourceStatus(
                    UNSUPPORTED, locations=["/" + other], message=message
                )
        return [], SourceStatus(ABSENT, locations=[display])
    try:
        packages, malformed = _read_sqlite(location, display)
    except sqlite3.Error as exc:
        logger.warning("rpm database %s unreadable: %s", location, exc)
        return [], SourceStatus(
            UNREADABLE, locations=[display], message=f"{display}: {exc}"
        )
    status = SourceStatus(OK, items=len(packages), locations=[display])
    if malformed:
        status.extra["malformed_headers"] = malformed
    return packages, status
