"""Read .NET dependency files (*.deps.json) written by the .NET SDK.

Their `libraries` map "Name/Version" to an object whose `type` is "package"
for a NuGet package or "project" for the application's own projects.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from collectors.catalogues import classify_licence, match_package
from collectors.software.records import Package

logger = logging.getLogger(__name__)


def read_deps(path: Path) -> list[Package]:
    """Return the NuGet packages a deps.json lists; raises OSError or ValueError."""
    data = json.loads(path.read_text("utf-8", errors="replace"))
    libraries = data.get("libraries") if isinstance(data, dict) else None
    if not isinstance(libraries, dict):
        # Invalid input of any type is a ValueError: callers report it as such.
        raise ValueError(f"{path}: no 'libraries' object")  # noqa: TRY004
    packages = []
    for key, library in libraries.items():
        if not isinstance(library, dict) or library.get("type") != "package":
            continue
        name, _, version = key.partition("/")
        packages.append(
            Package(
                ecosystem="nuget",
                name=name,
                version=version or None,
                # TODO: read licences from the .nuspec files of the NuGet cache.
                licence=classify_licence(None),
                path=str(path),
                product=match_package(name, version or None, "nuget"),
            )
        )
    return packages
