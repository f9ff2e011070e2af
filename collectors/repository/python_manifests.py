"""Python manifests: requirements files, pyproject.toml, setup.cfg, setup.py and
the lock files of Poetry and Pipenv.

None of these lock formats records a licence, so Python packages carry no
licence evidence here.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from typing import Any

from collectors.repository.records import (
    PYPI,
    Dependency,
    Location,
    MalformedFile,
    ManifestRead,
    Runtime,
    line_of,
)

PYTHON = "Python"

# A PEP 508 requirement: name, optional extras, then the version specifier and
# markers, which are kept as written.
_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*"
    r"(?:\[[^\]]*\])?\s*(?P<rest>.*)$"
)
_EXACT = re.compile(r"^===?\s*(?P<version>[A-Za-z0-9.+!*-]+)$")
_URL = re.compile(r"^[a-z][\w+.-]*://")
_BARE_VERSION = re.compile(r"^\d[\w.+!-]*$")
_PYTHON_REQUIRES = re.compile(r"""python_requires\s*=\s*["']([^"']+)["']""")


def parse_requirement(text: str) -> tuple[str, str | None, str | None] | None:
    """Split a PEP 508 requirement into (name, exact version, constraint).

    Return None for text that is not a named requirement (a URL or a path).
    """
    requirement = text.split(";", 1)[0].strip()
    if not requirement or _URL.match(requirement) or requirement.startswith((".", "/")):
        return None
    match = _REQUIREMENT.match(requirement)
    if match is None:
        return None
    rest = match.group("rest").strip().strip("()").strip()
    if rest.startswith("@"):
        # A direct reference ("name @ https://..."): no version to record.
        return match.group("name"), None, rest
    exact = _EXACT.match(rest.replace(" ", ""))
    if exact and "*" not in exact.group("version"):
        return match.group("name"), exact.group("version"), None
    return match.group("name"), None, rest or None


def read_requirements(path: str, text: str) -> ManifestRead:
    """Read a pip requirements file; options and includes are skipped."""
    result = ManifestRead()
    pending = ""
    pending_line = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            pending_line = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        if not logical or logical.startswith("-"):
            continue
        parsed = parse_requirement(logical)
        if parsed is None:
            continue
        name, version, constraint = parsed
        result.dependencies.append(
            Dependency(
                name,
                PYPI,
                Location(path, pending_line),
                version=version,
                constraint=constraint,
            )
        )
    result.runtimes.append(Runtime(PYTHON, Location(path)))
    return result


def _load_toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MalformedFile(f"invalid TOML: {exc}") from None


def _pep621(path: str, text: str, project: dict[str, Any], result: ManifestRead):
    groups: list[tuple[str | None, Any]] = [(None, project.get("dependencies"))]
    optional = project.get("optional-dependencies")
    if isinstance(optional, dict):
        groups += [(f"optional:{name}", deps) for name, deps in optional.items()]
    for scope, requirements in groups:
        if not isinstance(requirements, list):
            continue
        for requirement in requirements:
            if not isinstance(requirement, str):
                continue
            parsed = parse_requirement(requirement)
            if parsed is None:
                continue
            name, version, constraint = parsed
            location = Location(path, line_of(text, f'"{requirement}'))
            result.dependencies.append(
                Dependency(
                    name,
                    PYPI,
                    location,
                    version=version,
                    constraint=constraint,
                    scope=scope,
                )
            )
    requires = project.get("requires-python")
    if isinstance(requires, str):
        location = Location(path, line_of(text, "requires-python"))
        result.runtimes.append(
            Runtime(PYTHON, location, constraint=requires, field="requires-python")
        )


def _poetry_version(spec: Any) -> str | None:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict) and isinstance(spec.get("version"), str):
        return spec["version"]
    return None


def _poetry_spec(written: str | None) -> tuple[str | None, str | None]:
    """Split a Poetry version requirement into (exact version, constraint)."""
    if not written:
        return None, None
    exact = _EXACT.match(written.replace(" ", ""))
    if exact:
        return exact.group("version"), None
    # Poetry reads a bare version such as "1.2.3" as an exact requirement.
    if _BARE_VERSION.match(written):
        return written, None
    return None, written


def _poetry_table(
    path: str, text: str, table: Any, scope: str | None, result: ManifestRead
) -> None:
    if not isinstance(table, dict):
        return
    for name, spec in table.items():
        written = _poetry_version(spec)
        if name.lower() == "python":
            if written:
                location = Location(path, line_of(text, "python ="))
                result.runtimes.append(
                    Runtime(
                        PYTHON,
                        location,
                        constraint=written,
                        field="tool.poetry.dependencies.python",
                    )
                )
            continue
        version, constraint = _poetry_spec(written)
        result.dependencies.append(
            Dependency(
                name,
                PYPI,
                Location(path, line_of(text, f"{name} =") or line_of(text, name)),
                version=version,
                constraint=constraint,
                scope=scope,
            )
        )


def _poetry(path: str, text: str, poetry: dict[str, Any], result: ManifestRead):
    _poetry_table(path, text, poetry.get("dependencies"), None, result)
    _poetry_table(path, text, poetry.get("dev-dependencies"), "dev", result)
    groups = poetry.get("group")
    if isinstance(groups, dict):
        for group, body in groups.items():
            if isinstance(body, dict):
                deps = body.get("dependencies")
                _poetry_table(path, text, deps, f"group:{group}", result)


def read_pyproject(path: str, text: str) -> ManifestRead:
    """Read PEP 621 and Poetry dependencies and the Python requirement."""
    data = _load_toml(text)
    result = ManifestRead()
    project = data.get("project")
    if isinstance(project, dict):
        _pep621(path, text, project, result)
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if isinstance(poetry, dict):
        _poetry(path, text, poetry, result)
    if not result.runtimes:
        result.runtimes.append(Runtime(PYTHON, Location(path)))
    return result


def read_poetry_lock(path: str, text: str) -> ManifestRead:
    """Read the locked packages of a poetry.lock file."""
    data = _load_toml(text)
    packages = data.get("package")
    if not isinstance(packages, list):
        raise MalformedFile("no [[package]] tables")
    result = ManifestRead()
    for package in packages:
        if not isinstance(package, dict):
            continue
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str):
            continue
        category = package.get("category")
        result.dependencies.append(
            Dependency(
                name,
                PYPI,
                Location(path, line_of(text, f'name = "{name}"')),
                version=version if isinstance(version, str) else None,
                scope=category if isinstance(category, str) else None,
            )
        )
    return result


def read_pipfile_lock(path: str, text: str) -> ManifestRead:
    """Read the locked packages and the Python version of a Pipfile.lock."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedFile(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedFile("expected a JSON object")
    result = ManifestRead()
    for section, scope in (("default", None), ("develop", "dev")):
        entries = data.get(section)
        if not isinstance(entries, dict):
            continue
        for name, entry in entries.items():
            written = entry.get("version") if isinstance(entry, dict) else None
            version = written.lstrip("=") if isinstance(written, str) else None
            result.dependencies.append(
                Dependency(
                    name,
                    PYPI,
                    Location(path, line_of(text, f'"{name}": {{')),
                    version=version,
                    scope=scope,
                )
            )
    meta = data.get("_meta")
    requires = meta.get("requires") if isinstance(meta, dict) else None
    if isinstance(requires, dict):
        for key in ("python_full_version", "python_version"):
            value = requires.get(key)
            if isinstance(value, str):
                result.runtimes.append(
                    Runtime(
                        PYTHON,
                        Location(path, line_of(text, f'"{key}"')),
                        version=value,
                        field=f"_meta.requires.{key}",
                    )
                )
                break
    return result


def read_setup_cfg(path: str, text: str) -> ManifestRead:
    """Read install_requires and python_requires of a setup.cfg."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        # The exception text quotes the offending line, so only its number is kept.
        problems = getattr(exc, "errors", None)
        line = problems[0][0] if problems else getattr(exc, "lineno", None)
        where = f" at line {line}" if line else ""
        raise MalformedFile(f"invalid INI{where}: {type(exc).__name__}") from None
    result = ManifestRead()
    if not parser.has_section("options"):
        return result
    options = parser["options"]
    for requirement in options.get("install_requires", "").splitlines():
        parsed = parse_requirement(requirement)
        if parsed is None:
            continue
        name, version, constraint = parsed
        result.dependencies.append(
            Dependency(
                name,
                PYPI,
                Location(path, line_of(text, requirement.strip())),
                version=version,
                constraint=constraint,
            )
        )
    requires = options.get("python_requires")
    if requires:
        location = Location(path, line_of(text, "python_requires"))
        result.runtimes.append(
            Runtime(PYTHON, location, constraint=requires, field="python_requires")
        )
    else:
        result.runtimes.append(Runtime(PYTHON, Location(path)))
    return result


def read_setup_py(path: str, text: str) -> ManifestRead:
    """Read python_requires from a setup.py literal; the script is never run."""
    result = ManifestRead()
    match = _PYTHON_REQUIRES.search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        result.runtimes.append(
            Runtime(
                PYTHON,
                Location(path, line),
                constraint=match.group(1),
                field="python_requires",
            )
        )
    else:
        result.runtimes.append(Runtime(PYTHON, Location(path)))
    return result
