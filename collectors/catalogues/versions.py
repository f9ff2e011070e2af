"""Parse version strings from package databases, paths and image tags.

Only the leading numeric part counts ("7.11.2-1" is (7, 11, 2)), which is what
licence changes are stated in. Epochs ("1:") and a leading "v" are dropped.
"""

from __future__ import annotations

import re

_EPOCH = re.compile(r"^\d+:")
_NUMERIC = re.compile(r"^v?(\d+(?:\.\d+)*)")


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """Return the numeric components of a version, or None when it has none."""
    if not text:
        return None
    match = _NUMERIC.match(_EPOCH.sub("", text.strip()))
    if match is None:
        return None
    return tuple(int(part) for part in match.group(1).split("."))


def upstream_version(package_version: str) -> str:
    """Return the upstream part of a Debian or RPM package version.

    "1:10.11.6-0+deb12u1" becomes "10.11.6" and "15.20-0+deb12u1" becomes
    "15.20": the epoch, the packaging revision after the last "-" and suffixes
    after "+" or "~" are dropped.
    """
    version = _EPOCH.sub("", package_version.strip())
    if "-" in version:
        version = version.rsplit("-", 1)[0]
    return re.split(r"[+~]", version, maxsplit=1)[0]


def compare(left: tuple[int, ...], right: tuple[int, ...]) -> int:
    """Compare two parsed versions, padding the shorter with zeros."""
    width = max(len(left), len(right))
    padded_left = left + (0,) * (width - len(left))
    padded_right = right + (0,) * (width - len(right))
    return (padded_left > padded_right) - (padded_left < padded_right)


def in_range(
    version: tuple[int, ...], start: tuple[int, ...], below: tuple[int, ...] | None
) -> bool:
    """Return whether start <= version < below (no upper bound when below is None)."""
    if compare(version, start) < 0:
        return False
    return below is None or compare(version, below) < 0
