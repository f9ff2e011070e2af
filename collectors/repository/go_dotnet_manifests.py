"""Go modules (go.mod) and .NET projects (*.csproj, *.fsproj, *.vbproj,
packages.config)."""

from __future__ import annotations

import re

from collectors.repository.records import (
    GO,
    NUGET,
    Dependency,
    Location,
    MalformedFile,
    ManifestRead,
    Runtime,
)
from collectors.repository.xmltools import child, local_name, parse_xml

GO_RUNTIME = "Go"
# .NET Core was renamed .NET from version 5, so both are one runtime here, and a
# .NET Standard library runs on whichever runtime loads it. .NET Framework is
# the separate, Windows-only runtime.
DOTNET = ".NET"
DOTNET_FRAMEWORK = ".NET Framework"

_GO_DIRECTIVE = re.compile(r"^go\s+(\d+(?:\.\d+){0,2}\S*)\s*$")
_GO_REQUIREMENT = re.compile(
    r"^(?P<path>\S+)\s+(?P<version>v\S+)\s*(?://(?P<note>.*))?$"
)


def read_go_mod(path: str, text: str) -> ManifestRead:
    """Read the go directive and the required modules of a go.mod file."""
    result = ManifestRead()
    has_module = False
    in_require = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("module "):
            has_module = True
        directive = _GO_DIRECTIVE.match(line)
        if directive:
            result.runtimes.append(
                Runtime(
                    GO_RUNTIME,
                    Location(path, number),
                    version=directive.group(1),
                    field="go",
                )
            )
            continue
        if line.startswith("require ("):
            in_require = True
            continue
        if in_require and line.startswith(")"):
            in_require = False
            continue
        if line.startswith("require "):
            requirement = line[len("require ") :].strip()
        elif in_require:
            requirement = line
        else:
            continue
        match = _GO_REQUIREMENT.match(requirement)
        if match is None:
            continue
        indirect = "indirect" in (match.group("note") or "")
        result.dependencies.append(
            Dependency(
                match.group("path"),
                GO,
                Location(path, number),
                version=match.group("version"),
                scope="indirect" if indirect else None,
            )
        )
    if not has_module:
        raise MalformedFile("no module directive")
    if not result.runtimes:
        result.runtimes.append(Runtime(GO_RUNTIME, Location(path)))
    return result


_MODERN = re.compile(r"^net(\d+)\.(\d+)(?:-[\w.]+)?$")
_CORE = re.compile(r"^netcoreapp(\d+\.\d+)$")
_STANDARD = re.compile(r"^netstandard(\d+\.\d+)$")
_FRAMEWORK = re.compile(r"^net(\d)(\d)(\d?)$")


def dotnet_runtime(moniker: str) -> tuple[str, str | None] | None:
    """Map a target framework moniker (e.g. "net8.0", "net472") to (name, version).

    Monikers follow the .NET SDK's list of target frameworks: net5.0 and later
    and netcoreappX.Y are .NET, net11 to net481 are .NET Framework, and
    netstandardX.Y names no runtime version.
    """
    moniker = moniker.strip().lower()
    modern = _MODERN.match(moniker)
    if modern and int(modern.group(1)) >= 5:
        return DOTNET, f"{modern.group(1)}.{modern.group(2)}"
    core = _CORE.match(moniker)
    if core:
        return DOTNET, core.group(1)
    if _STANDARD.match(moniker):
        return DOTNET, None
    framework = _FRAMEWORK.match(moniker)
    if framework:
        parts = [part for part in framework.groups() if part]
        return DOTNET_FRAMEWORK, ".".join(parts)
    return None


def _line_with(text: str, *needles: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if all(needle in line for needle in needles):
            return number
    return None


def _targets(path: str, text: str, project) -> list[Runtime]:
    runtimes: list[Runtime] = []
    for group in project.iter():
        tag = local_name(group)
        if tag not in ("TargetFramework", "TargetFrameworks", "TargetFrameworkVersion"):
            continue
        for moniker in (group.text or "").split(";"):
            moniker = moniker.strip()
            if tag == "TargetFrameworkVersion":
                # Old-style projects write "v4.7.2".
                mapped = (DOTNET_FRAMEWORK, moniker.lstrip("v")) if moniker else None
            else:
                mapped = dotnet_runtime(moniker) if moniker else None
            if mapped is None:
                continue
            name, version = mapped
            runtimes.append(
                Runtime(
                    name,
                    Location(path, _line_with(text, f"<{tag}>")),
                    version=version,
                    field=f"{tag} {moniker}",
                )
            )
    return runtimes


def read_project_file(path: str, text: str) -> ManifestRead:
    """Read PackageReference items and target frameworks of an MSBuild project."""
    project = parse_xml(text)
    if local_name(project) != "Project":
        raise MalformedFile(f"root element is <{local_name(project)}>, not <Project>")
    result = ManifestRead()
    for element in project.iter():
        if local_name(element) != "PackageReference":
            continue
        name = element.get("Include") or element.get("Update")
        if not name:
            continue
        version_element = child(element, "Version")
        version = element.get("Version") or (
            version_element.text.strip()
            if version_element is not None and version_element.text
            else None
        )
        # NuGet reads a bare version as a minimum; brackets mark a range.
        ranged = version is not None and version[:1] in "[("
        result.dependencies.append(
            Dependency(
                name,
                NUGET,
                Location(path, _line_with(text, "PackageReference", f'"{name}"')),
                version=None if ranged else version,
                constraint=version if ranged else None,
            )
        )
    result.runtimes.extend(_targets(path, text, project))
    if not result.runtimes:
        result.runtimes.append(Runtime(DOTNET, Location(path)))
    return result


def read_packages_config(path: str, text: str) -> ManifestRead:
    """Read the packages of a NuGet packages.config (.NET Framework projects)."""
    root = parse_xml(text)
    if local_name(root) != "packages":
        raise MalformedFile(f"root element is <{local_name(root)}>, not <packages>")
    result = ManifestRead()
    for element in root:
        if local_name(element) != "package":
            continue
        name = element.get("id")
        if not name:
            continue
        result.dependencies.append(
            Dependency(
                name,
                NUGET,
                Location(path, _line_with(text, f'"{name}"')),
                version=element.get("version"),
            )
        )
        moniker = element.get("targetFramework")
        mapped = dotnet_runtime(moniker) if moniker else None
        if mapped and not result.runtimes:
            result.runtimes.append(
                Runtime(
                    mapped[0],
                    Location(path, _line_with(text, f'"{name}"')),
                    version=mapped[1],
                    field=f"targetFramework {moniker}",
                )
            )
    return result
