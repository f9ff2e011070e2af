"""Walk the configured directories once and sort what they contain.

Python environments are `lib/python3*/site-packages` (or dist-packages)
directories; the walk does not descend into them or into node_modules, which
their own readers read.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from collectors.software.models import CANDIDATE_SUFFIXES, SAVED_MODEL

logger = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".jar", ".war", ".ear")
DEPS_SUFFIX = ".deps.json"
SKIPPED_DIRS = {".git", "__pycache__", ".hg", ".svn"}


@dataclass
class Found:
    """Locations found below the configured paths, by kind."""

    site_dirs: list[Path] = field(default_factory=list)
    node_modules: list[Path] = field(default_factory=list)
    archives: list[Path] = field(default_factory=list)
    deps_files: list[Path] = field(default_factory=list)
    model_candidates: list[Path] = field(default_factory=list)
    saved_models: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    files_seen: int = 0


def is_site_dir(directory: Path) -> bool:
    """Return whether a directory is lib/python3*/site-packages or dist-packages."""
    parent = directory.parent
    return (
        directory.name in ("site-packages", "dist-packages")
        and parent.name.startswith("python3")
        and parent.parent.name in ("lib", "lib64")
    )


def _sort_files(found: Found, parent: Path, files: list[str]) -> None:
    for name in files:
        found.files_seen += 1
        lower = name.lower()
        path = parent / name
        if lower.endswith(ARCHIVE_SUFFIXES):
            found.archives.append(path)
        elif lower.endswith(DEPS_SUFFIX):
            found.deps_files.append(path)
        elif name == SAVED_MODEL:
            found.saved_models.append(parent)
        elif lower.endswith(CANDIDATE_SUFFIXES):
            found.model_candidates.append(path)


def walk(paths: list[str]) -> Found:
    """Walk each path without following symbolic links."""
    found = Found()
    for start in paths:
        if not os.path.isdir(start):
            found.missing.append(start)
            continue

        def unreadable(error: OSError) -> None:
            found.unreadable.append(str(error.filename))
            logger.debug("cannot list %s: %s", error.filename, error)

        for parent, directories, files in os.walk(start, onerror=unreadable):
            here = Path(parent)
            kept = []
            for name in sorted(directories):
                child = here / name
                if name in SKIPPED_DIRS:
                    continue
                if name == "node_modules":
                    found.node_modules.append(child)
                elif is_site_dir(child):
                    found.site_dirs.append(child)
                else:
                    kept.append(name)
            directories[:] = kept
            _sort_files(found, here, files)
    return found
