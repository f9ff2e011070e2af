"""Find the dependency manifests, lock files and Dockerfiles of a tree and read them.

A file that cannot be parsed is recorded in the tree as malformed and costs only
its own declarations.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from collectors.repository import (
    dockerfiles,
    go_dotnet_manifests,
    jvm_manifests,
    node_manifests,
    python_manifests,
)
from collectors.repository.records import MalformedFile, ManifestRead
from collectors.repository.tree import Tree

logger = logging.getLogger(__name__)

MANIFEST = "manifest"
LOCK = "lock"

Reader = Callable[[str, str], ManifestRead]

# Exact file names: the reader and whether the file declares or locks.
# TODO: yarn.lock, pnpm-lock.yaml, Gradle lockfiles and .NET central package
# versions (Directory.Packages.props) are not read yet.
_BY_NAME: dict[str, tuple[Reader, str]] = {
    "pyproject.toml": (python_manifests.read_pyproject, MANIFEST),
    "setup.cfg": (python_manifests.read_setup_cfg, MANIFEST),
    "setup.py": (python_manifests.read_setup_py, MANIFEST),
    "poetry.lock": (python_manifests.read_poetry_lock, LOCK),
    "Pipfile.lock": (python_manifests.read_pipfile_lock, LOCK),
    "package.json": (node_manifests.read_package_json, MANIFEST),
    "package-lock.json": (node_manifests.read_package_lock, LOCK),
    "npm-shrinkwrap.json": (node_manifests.read_package_lock, LOCK),
    "pom.xml": (jvm_manifests.read_pom, MANIFEST),
    "build.gradle": (jvm_manifests.read_gradle, MANIFEST),
    "build.gradle.kts": (jvm_manifests.read_gradle, MANIFEST),
    "go.mod": (go_dotnet_manifests.read_go_mod, MANIFEST),
    "packages.config": (go_dotnet_manifests.read_packages_config, MANIFEST),
}
_REQUIREMENTS = re.compile(r"^requirements[\w.-]*\.txt$")
_PROJECT_FILE = re.compile(r"^[^.].*\.(cs|fs|vb)proj$")
# Any suffix or prefix is accepted, spaces included ("Dockerfile.a b"), because
# build tools take whatever file name they are given.
_DOCKERFILE = re.compile(
    r"^(Dockerfile|Containerfile)(\.[^/]+)?$|^[^/]+\.[Dd]ockerfile$"
)


@dataclass(frozen=True)
class ManifestFile:
    path: str
    role: str
    read: ManifestRead

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.path)


@dataclass
class Declarations:
    manifests: list[ManifestFile] = field(default_factory=list)
    dockerfiles: dict[str, dockerfiles.DockerfileRead] = field(default_factory=dict)


def manifest_reader(path: str) -> tuple[Reader, str] | None:
    """Return the reader of a dependency manifest or lock file, by its name."""
    name = posixpath.basename(path)
    if name in _BY_NAME:
        return _BY_NAME[name]
    parent = posixpath.basename(posixpath.dirname(path))
    if _REQUIREMENTS.match(name) or (
        parent == "requirements" and name.endswith(".txt")
    ):
        return python_manifests.read_requirements, MANIFEST
    if _PROJECT_FILE.match(name):
        return go_dotnet_manifests.read_project_file, MANIFEST
    return None


def is_dockerfile(path: str) -> bool:
    """Tell whether a file name is a Dockerfile (Dockerfile, Dockerfile.prod,
    api.Dockerfile, Containerfile)."""
    return bool(_DOCKERFILE.match(posixpath.basename(path)))


def parse_file(tree: Tree, path: str, parse: Callable[[str, str], object]):
    """Read and parse one file; return None when it is unreadable or malformed."""
    text = tree.read(path)
    if text is None:
        return None
    try:
        return parse(path, text)
    except MalformedFile as exc:
        tree.mark_malformed(path, str(exc))
    except RecursionError:
        tree.mark_malformed(path, "nested too deeply to parse")
    return None


def read_declarations(tree: Tree) -> Declarations:
    """Read every dependency manifest, lock file and Dockerfile of the tree."""
    result = Declarations()
    for path in tree.files:
        found = manifest_reader(path)
        if found is not None:
            reader, role = found
            read = parse_file(tree, path, reader)
            if read is not None:
                result.manifests.append(ManifestFile(path, role, read))
        elif is_dockerfile(path):
            read = parse_file(tree, path, dockerfiles.read_dockerfile)
            if read is not None:
                result.dockerfiles[path] = read
    logger.debug(
        "repository %s: %d manifests and lock files, %d Dockerfiles",
        tree.root,
        len(result.manifests),
        len(result.dockerfiles),
    )
    return result
