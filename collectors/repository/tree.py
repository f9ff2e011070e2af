"""Walk a source tree and read its files within limits.

The walk skips version control, dependency and virtualenv directories, does not
follow symbolic links to directories, and ignores links that point out of the
tree. Reads skip files over the size limit and anything that is not a regular
file (a FIFO would block the read). Every skipped, unreadable or malformed file
is counted and named, so a caller can tell a partial view from an empty one.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field

from collectors import errors

logger = logging.getLogger(__name__)

# Directories that hold other projects' code or version control data, not the
# repository's own declarations. A directory with a pyvenv.cfg file is a Python
# virtual environment under any name and is skipped too.
SKIPPED_DIRECTORIES = frozenset({".git", "node_modules", "vendor", ".venv"})
VIRTUALENV_MARKER = "pyvenv.cfg"
# Largest file read, in bytes (5 MiB). Lock files of large Node projects reach
# 1-2 MiB; anything bigger among the files read is almost surely generated data.
MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass
class Tree:
    """The files of a source tree, by relative path with / separators."""

    root: str
    files: list[str] = field(default_factory=list)
    too_large: list[str] = field(default_factory=list)
    outside_links: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    malformed: dict[str, str] = field(default_factory=dict)
    virtualenvs: list[str] = field(default_factory=list)
    max_file_bytes: int = MAX_FILE_BYTES

    def read(self, relative: str) -> str | None:
        """Return the text of a file, or None when it is too large or unreadable.

        Text is decoded as UTF-8 with a byte order mark removed, and bytes that
        are not UTF-8 become U+FFFD.
        """
        location = os.path.join(self.root, relative)
        try:
            info = os.stat(location)
            if not stat.S_ISREG(info.st_mode):
                self.unreadable[relative] = "not a regular file"
                return None
            if info.st_size > self.max_file_bytes:
                self._too_large(relative)
                return None
            with open(location, "rb") as handle:
                data = handle.read(self.max_file_bytes + 1)
        except OSError as exc:
            logger.debug("cannot read %s: %s", location, exc)
            self.unreadable[relative] = exc.strerror or type(exc).__name__
            return None
        if len(data) > self.max_file_bytes:
            # The file grew between stat and read.
            self._too_large(relative)
            return None
        return data.decode("utf-8-sig", errors="replace")

    def read_head(self, relative: str, size: int) -> bytes | None:
        """Return the first `size` bytes of a regular file, or None."""
        location = os.path.join(self.root, relative)
        try:
            if not stat.S_ISREG(os.stat(location).st_mode):
                return None
            with open(location, "rb") as handle:
                return handle.read(size)
        except OSError as exc:
            logger.debug("cannot read %s: %s", location, exc)
            return None

    def mark_malformed(self, relative: str, reason: str) -> None:
        logger.info("repository file %s not parsed: %s", relative, reason)
        self.malformed[relative] = reason

    @property
    def incomplete(self) -> bool:
        """Tell whether some file that would have been read was not parsed."""
        return bool(self.too_large or self.unreadable or self.malformed)

    def summary(self) -> dict[str, object]:
        """Return the counts and names of files not parsed, for fact details."""
        return {
            "files_seen": len(self.files),
            "too_large": sorted(self.too_large),
            "max_file_bytes": self.max_file_bytes,
            "unreadable": dict(sorted(self.unreadable.items())),
            "malformed": dict(sorted(self.malformed.items())),
            "links_out_of_tree": sorted(self.outside_links),
            "virtualenvs_skipped": sorted(self.virtualenvs),
        }

    def _too_large(self, relative: str) -> None:
        if relative not in self.too_large:
            self.too_large.append(relative)


def walk(root: str) -> Tree:
    """List the files below root; raise SourceError when root cannot be listed."""
    real_root = os.path.realpath(root)
    if not os.path.isdir(real_root):
        raise errors.SourceError(
            f"repository {root}",
            "directory not found; set sources.repository.path to a checkout",
        )
    if not os.access(real_root, os.R_OK | os.X_OK):
        raise errors.PermissionDenied(
            f"repository {root}", "permission denied listing the directory"
        )
    tree = Tree(real_root)

    def record_error(exc: OSError) -> None:
        relative = _relative(real_root, exc.filename or real_root)
        logger.debug("cannot list %s: %s", exc.filename, exc)
        tree.unreadable[relative] = exc.strerror or type(exc).__name__

    for directory, subdirectories, names in os.walk(
        real_root, onerror=record_error, followlinks=False
    ):
        if VIRTUALENV_MARKER in names and directory != real_root:
            tree.virtualenvs.append(_relative(real_root, directory))
            subdirectories[:] = []
            continue
        subdirectories[:] = sorted(
            name for name in subdirectories if name not in SKIPPED_DIRECTORIES
        )
        for name in sorted(names):
            location = os.path.join(directory, name)
            relative = _relative(real_root, location)
            if os.path.islink(location) and not _inside(real_root, location):
                tree.outside_links.append(relative)
                continue
            tree.files.append(relative)
    return tree


def _relative(root: str, location: str) -> str:
    return os.path.relpath(location, root).replace(os.sep, "/")


def _inside(root: str, location: str) -> bool:
    target = os.path.realpath(location)
    return os.path.commonpath([root, target]) == root
