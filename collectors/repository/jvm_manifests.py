"""JVM build files: Maven pom.xml and Gradle build scripts.

Gradle scripts are programs, so they are scanned for the usual literal forms of
dependency declarations and Java version settings, never evaluated. A version
held in a variable stays unresolved and is kept as written.
"""

from __future__ import annotations

import re
from dataclasses import replace
from xml.etree import ElementTree

from collectors.repository.records import (
    MAVEN,
    Dependency,
    Location,
    MalformedFile,
    ManifestRead,
    Runtime,
    line_of,
)
from collectors.repository.xmltools import (
    child,
    child_text,
    children,
    local_name,
    parse_xml,
)

JAVA = "Java"
# Maven properties that set the Java language level, most specific first
# (maven-compiler-plugin reads release before source).
JAVA_PROPERTIES = (
    "maven.compiler.release",
    "maven.compiler.source",
    "java.version",
    "maven.compiler.target",
)
_PROPERTY = re.compile(r"\$\{([^}]+)\}")


def _properties(project: ElementTree.Element) -> dict[str, str]:
    values: dict[str, str] = {}
    properties = child(project, "properties")
    for prop in list(properties) if properties is not None else []:
        if isinstance(prop.tag, str) and prop.text and prop.text.strip():
            values[local_name(prop)] = prop.text.strip()
    version = child_text(project, "version")
    parent = child(project, "parent")
    parent_version = child_text(parent, "version") if parent is not None else None
    if version or parent_version:
        values["project.version"] = version or parent_version or ""
    if parent_version:
        values["project.parent.version"] = parent_version
    return values


def _substitute(value: str | None, properties: dict[str, str]) -> str | None:
    """Replace ${name} references with property values; unknown ones stay."""
    if value is None:
        return None
    for _ in range(5):  # properties may refer to properties, a few levels deep
        replaced = _PROPERTY.sub(
            lambda m: properties.get(m.group(1), m.group(0)), value
        )
        if replaced == value:
            break
        value = replaced
    return value


def _coordinates(
    path: str,
    text: str,
    element: ElementTree.Element,
    properties: dict[str, str],
    scope: str | None,
    managed: dict[str, str] | None = None,
) -> Dependency | None:
    group, artifact = child_text(element, "groupId"), child_text(element, "artifactId")
    if not group or not artifact:
        return None
    version = _substitute(child_text(element, "version"), properties)
    if version is None and managed:
        # The pom's own dependencyManagement section sets the version.
        version = managed.get(f"{group}:{artifact}")
    resolved = version is not None and "${" not in version
    # A range such as "[1.0,2.0)" is a constraint, not a version.
    exact = resolved and not version.startswith(("[", "("))
    return Dependency(
        f"{group}:{artifact}",
        MAVEN,
        Location(path, line_of(text, f"<artifactId>{artifact}</artifactId>")),
        version=version if exact else None,
        constraint=None if exact else version,
        scope=scope or child_text(element, "scope"),
    )


def _java_runtime(
    path: str, text: str, project: ElementTree.Element, properties: dict[str, str]
) -> Runtime:
    for name in JAVA_PROPERTIES:
        value = _substitute(properties.get(name), properties)
        if value and "${" not in value:
            location = Location(path, line_of(text, f"<{name}>"))
            return Runtime(JAVA, location, version=value, field=name)
    build = child(project, "build")
    plugins = child(build, "plugins") if build is not None else None
    for plugin in children(plugins, "plugin"):
        if child_text(plugin, "artifactId") != "maven-compiler-plugin":
            continue
        configuration = child(plugin, "configuration")
        for name in ("release", "source"):
            value = _substitute(child_text(configuration, name), properties)
            if value and "${" not in value:
                location = Location(path, line_of(text, f"<{name}>"))
                return Runtime(
                    JAVA, location, version=value, field=f"maven-compiler-plugin {name}"
                )
    return Runtime(JAVA, Location(path))


def read_pom(path: str, text: str) -> ManifestRead:
    """Read the parent, dependencies, imported BOMs and Java level of a pom.xml."""
    project = parse_xml(text)
    if local_name(project) != "project":
        raise MalformedFile(f"root element is <{local_name(project)}>, not <project>")
    properties = _properties(project)
    result = ManifestRead()
    parent = child(project, "parent")
    if parent is not None:
        dependency = _coordinates(path, text, parent, properties, "parent")
        if dependency:
            result.dependencies.append(dependency)
    management = child(project, "dependencyManagement")
    managed_elements = children(child(management, "dependencies"), "dependency")
    managed: dict[str, str] = {}
    for element in managed_elements:
        dependency = _coordinates(path, text, element, properties, "managed")
        if dependency and dependency.version:
            managed[dependency.name] = dependency.version
        # Only imported BOMs (e.g. spring-boot-dependencies) name a framework in
        # use; other managed entries only pin versions.
        if dependency and child_text(element, "scope") == "import":
            result.dependencies.append(replace(dependency, scope="import"))
    for element in children(child(project, "dependencies"), "dependency"):
        dependency = _coordinates(path, text, element, properties, None, managed)
        if dependency:
            result.dependencies.append(dependency)
    result.runtimes.append(_java_runtime(path, text, project, properties))
    return result


# `implementation("group:artifact:version")`, `api 'group:artifact'`, also
# wrapped in platform(...) or enforcedPlatform(...).
_GRADLE_STRING = re.compile(
    r"""^\s*(?P<configuration>[A-Za-z]\w*)\s*\(?\s*"""
    r"""(?:(?:enforced)?[pP]latform\s*\(\s*)?"""
    r"""["'](?P<group>[\w.-]+):(?P<artifact>[\w.-]+)(?::(?P<version>[^"':@]+))?"""
    r"""(?:[:@][^"']*)?["']"""
)
# `implementation group: 'g', name: 'a', version: 'v'` (Groovy map notation).
_GRADLE_MAP = re.compile(
    r"""^\s*(?P<configuration>[A-Za-z]\w*)\s*\(?\s*"""
    r"""group\s*[:=]\s*["'](?P<group>[^"']+)["']"""
    r"""\s*,\s*name\s*[:=]\s*["'](?P<artifact>[^"']+)["']"""
    r"""(?:\s*,\s*version\s*[:=]\s*["'](?P<version>[^"']+)["'])?"""
)
# Java level settings; group "field" names the setting, group "version" its value.
_GRADLE_JAVA = (
    re.compile(r"(?P<field>JavaLanguageVersion\.of)\(\s*[\"']?(?P<version>\d+)"),
    re.compile(r"(?P<field>jvmToolchain)\(\s*(?P<version>\d+)"),
    re.compile(
        r"(?P<field>(?:source|target)Compatibility)\s*=\s*"
        r"JavaVersion\.VERSION_(?P<version>\d+(?:_\d+)?)"
    ),
    re.compile(
        r"(?P<field>(?:source|target)Compatibility)\s*=\s*"
        r"[\"']?(?P<version>\d+(?:\.\d+)?)"
    ),
)
# Words that start a line like a dependency but are not configurations.
_NOT_CONFIGURATIONS = frozenset({"id", "version", "group", "name", "include"})


def _gradle_dependency(path: str, number: int, line: str) -> Dependency | None:
    match = _GRADLE_STRING.match(line) or _GRADLE_MAP.match(line)
    if match is None or match.group("configuration") in _NOT_CONFIGURATIONS:
        return None
    version = match.group("version")
    exact = version is not None and "$" not in version and not version.endswith("+")
    return Dependency(
        f"{match.group('group')}:{match.group('artifact')}",
        MAVEN,
        Location(path, number),
        version=version if exact else None,
        constraint=None if exact else version,
        scope=match.group("configuration"),
    )


def _gradle_java(path: str, number: int, line: str) -> Runtime | None:
    for pattern in _GRADLE_JAVA:
        match = pattern.search(line)
        if match:
            version = match.group("version").replace("_", ".")
            return Runtime(
                JAVA,
                Location(path, number),
                version=version,
                field=match.group("field"),
            )
    return None


def read_gradle(path: str, text: str) -> ManifestRead:
    """Read dependency declarations and the Java level of a Gradle build script."""
    result = ManifestRead()
    java: Runtime | None = None
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("//", 1)[0]
        dependency = _gradle_dependency(path, number, code)
        if dependency:
            result.dependencies.append(dependency)
        if java is None:
            java = _gradle_java(path, number, code)
    result.runtimes.append(java or Runtime(JAVA, Location(path)))
    return result
