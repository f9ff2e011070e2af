"""Dockerfiles and Containerfiles: base images and packages installed by RUN.

Instructions are read as the Dockerfile reference describes them. A trailing
escape character (backslash, or the one an `# escape=` directive sets) continues
a line, and comment lines inside a continued instruction are dropped. An ARG
declared before the first FROM may be used in a FROM line. Such an ARG is read
with its default value, because a --build-arg given at build time is not in the
file. Heredocs (`RUN <<EOF`) are not expanded.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

from collectors.repository.records import (
    APK,
    DEB,
    NPM,
    PYPI,
    RPM,
    Dependency,
    ImageUse,
    Location,
)

_DIRECTIVE = re.compile(r"^#\s*(\w+)\s*=\s*(\S+)\s*$")
_VARIABLE = re.compile(r"\$\{(\w+)(?::?([-+])([^}]*))?\}|\$(\w+)")
_SHELL_SEPARATORS = re.compile(r"&&|\|\||;|\||\n")


@dataclass
class DockerfileRead:
    """Base images, unresolved FROM lines and installed packages of a Dockerfile."""

    images: list[ImageUse] = field(default_factory=list)
    unresolved: list[dict[str, object]] = field(default_factory=list)
    packages: list[Dependency] = field(default_factory=list)


def _escape_character(lines: list[str]) -> str:
    # Parser directives are only read at the very top of the file.
    for line in lines:
        match = _DIRECTIVE.match(line.strip())
        if match is None:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            return match.group(2)
    return "\\"


def instructions(text: str) -> list[tuple[int, str, str]]:
    """Split a Dockerfile into (first line number, INSTRUCTION, arguments)."""
    lines = text.splitlines()
    escape = _escape_character(lines)
    result: list[tuple[int, str, str]] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not parts and not stripped):
            continue
        if not parts:
            start = number
        if stripped.endswith(escape):
            parts.append(stripped[:-1])
            continue
        parts.append(stripped)
        result.append(_instruction(start, " ".join(parts)))
        parts = []
    if parts:
        result.append(_instruction(start, " ".join(parts)))
    return result


def _instruction(line: int, text: str) -> tuple[int, str, str]:
    keyword, _, arguments = text.strip().partition(" ")
    return line, keyword.upper(), arguments.strip()


def substitute(text: str, variables: dict[str, str]) -> tuple[str, list[str]]:
    """Expand $NAME, ${NAME}, ${NAME:-default} and ${NAME:+alternative}.

    Return the expanded text and the names that had no value.
    """
    missing: list[str] = []

    def expand(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        value = variables.get(name)
        operator, word = match.group(2), match.group(3)
        if operator == "-":
            return value if value else word
        if operator == "+":
            return word if value else ""
        if value is None:
            missing.append(name)
            return match.group(0)
        return value

    return _VARIABLE.sub(expand, text), missing


def _arg_definitions(arguments: str) -> dict[str, str | None]:
    try:
        words = shlex.split(arguments)
    except ValueError:
        words = arguments.split()
    definitions: dict[str, str | None] = {}
    for word in words:
        name, equals, default = word.partition("=")
        definitions[name] = default if equals else None
    return definitions


def _from_image(arguments: str) -> tuple[str, str | None]:
    """Return the image of a FROM line and its stage name (AS name), if any."""
    words = [word for word in arguments.split() if not word.startswith("--")]
    image = words[0] if words else ""
    stage = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    return image, stage


def read_dockerfile(path: str, text: str) -> DockerfileRead:
    """Read the base image of every stage and the packages RUN lines install."""
    result = DockerfileRead()
    global_args: dict[str, str] = {}
    stages: set[str] = set()
    seen_from = False
    for line, keyword, arguments in instructions(text):
        if keyword == "ARG" and not seen_from:
            for name, default in _arg_definitions(arguments).items():
                if default is not None:
                    global_args[name] = default
        elif keyword == "FROM":
            seen_from = True
            _read_from(path, line, arguments, global_args, stages, result)
        elif keyword == "RUN":
            result.packages.extend(
                installed_packages(path, line, _run_command(arguments))
            )
    return result


def _read_from(
    path: str,
    line: int,
    arguments: str,
    global_args: dict[str, str],
    stages: set[str],
    result: DockerfileRead,
) -> None:
    written, stage = _from_image(arguments)
    image, missing = substitute(written, global_args)
    earlier_stage = image.lower() in stages
    if stage:
        stages.add(stage.lower())
    if not image or image.lower() == "scratch" or earlier_stage:
        # "scratch" is an empty image, and a stage name refers to an earlier stage.
        return
    location = Location(path, line)
    if missing:
        result.unresolved.append(
            location.evidence(image=written, missing_args=sorted(set(missing)))
        )
        return
    # The FROM line as written shows which ARG gave the image.
    context = f"FROM {written}" if written != image else None
    result.images.append(ImageUse(image, location, context=context))


def _run_command(arguments: str) -> str:
    """Return the command of a RUN line; the exec form is joined into one string."""
    if arguments.startswith("["):
        try:
            words = json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
        if isinstance(words, list):
            return " ".join(str(word) for word in words)
    # Drop RUN flags such as --mount=... and --network=...
    while arguments.startswith("--"):
        _, _, arguments = arguments.partition(" ")
    return arguments


@dataclass(frozen=True)
class Installer:
    """A package manager's ecosystem and its options that take a separate value,
    so that value is not read as a package name."""

    ecosystem: str
    options_with_value: frozenset[str]


_APT = Installer(DEB, frozenset({"-o", "-t", "--target-release", "-c"}))
_RPM = Installer(
    RPM,
    frozenset({"--enablerepo", "--disablerepo", "--installroot", "--releasever", "-c"}),
)
_APK = Installer(
    APK,
    frozenset({"--repository", "-X", "--virtual", "-t", "--root", "-p", "--arch"}),
)
_PIP = Installer(
    PYPI,
    frozenset(
        {
            "-r",
            "--requirement",
            "-c",
            "--constraint",
            "-e",
            "--editable",
            "-i",
            "--index-url",
            "--extra-index-url",
            "-f",
            "--find-links",
            "-t",
            "--target",
            "--prefix",
            "--root",
            "--trusted-host",
            "--src",
            "--platform",
            "--python-version",
            "--implementation",
            "--abi",
            "--cache-dir",
            "--log",
            "--progress-bar",
        }
    ),
)
_NPM = Installer(NPM, frozenset({"--prefix", "--registry", "--cache"}))

# The words that start an install, after options, by package manager.
INSTALL_COMMANDS: dict[tuple[str, ...], Installer] = {
    ("apt-get", "install"): _APT,
    ("apt", "install"): _APT,
    ("yum", "install"): _RPM,
    ("dnf", "install"): _RPM,
    ("microdnf", "install"): _RPM,
    ("apk", "add"): _APK,
    ("pip", "install"): _PIP,
    ("uv", "pip", "install"): _PIP,
    ("npm", "install"): _NPM,
    ("npm", "i"): _NPM,
}
_ENV_ASSIGNMENT = re.compile(r"^\w+=")
_PYTHON = re.compile(r"^python[\d.]*$")
_VERSIONED_PIP = re.compile(r"^pip[\d.]+$")
_PINNED = re.compile(
    r"^(?P<name>[^=<>~!]+?)(?P<operator>==?|~=|>=|<=|~|>|<|!=)(?P<rest>.+)$"
)


def _command_words(segment: str) -> list[str]:
    """Split a shell command into words, normalising how the tool is named."""
    try:
        words = shlex.split(segment)
    except ValueError:
        words = segment.split()
    # Leading environment assignments and sudo do not change the command.
    while words and (words[0] == "sudo" or _ENV_ASSIGNMENT.match(words[0])):
        words = words[1:]
    if not words:
        return words
    words[0] = words[0].rsplit("/", 1)[-1]
    if len(words) > 2 and _PYTHON.match(words[0]) and words[1] == "-m":
        words = words[2:]  # "python3 -m pip install" runs pip
    words[0] = _VERSIONED_PIP.sub("pip", words[0])
    return words


def _installer(words: list[str]) -> tuple[Installer, list[str]] | None:
    """Return the installer a command runs and the words after its sub-command."""
    for prefix, installer in INSTALL_COMMANDS.items():
        positional: list[str] = []
        skip_next = False
        for index, word in enumerate(words):
            if skip_next:
                skip_next = False
                continue
            if word.startswith("-"):
                # Options may sit between the tool and its sub-command.
                skip_next = word in installer.options_with_value
                continue
            positional.append(word)
            if len(positional) == len(prefix):
                if tuple(positional) == prefix:
                    return installer, words[index + 1 :]
                break
    return None


def _package_names(installer: Installer, words: list[str]) -> list[str]:
    names: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        if word.startswith("-"):
            skip_next = word in installer.options_with_value
            continue
        if word.startswith((">", "<", "2>", "1>")):
            break
        if "$" in word or word in (".", "..") or "://" in word:
            continue
        if "/" in word and not (installer.ecosystem == NPM and word.startswith("@")):
            continue  # a local path
        if word.endswith((".txt", ".whl", ".tar.gz", ".zip", ".rpm", ".deb", ".apk")):
            continue
        names.append(word)
    return names


def installed_packages(path: str, line: int, command: str) -> list[Dependency]:
    """Return the packages a shell command installs with a known package manager."""
    packages: list[Dependency] = []
    for segment in _SHELL_SEPARATORS.split(command):
        words = _command_words(segment)
        found = _installer(words) if words else None
        if found is None:
            continue
        installer, arguments = found
        for word in _package_names(installer, arguments):
            packages.append(_package(path, line, installer, word))
    return packages


def _package(path: str, line: int, installer: Installer, word: str) -> Dependency:
    name, version, constraint = word, None, None
    if installer.ecosystem == NPM and word.rfind("@") > 0:
        name, _, version = word.rpartition("@")
    else:
        pinned = _PINNED.match(word)
        if pinned:
            name = pinned.group("name")
            exact = pinned.group("operator") in ("=", "==")
            version = pinned.group("rest") if exact else None
            constraint = (
                None if exact else pinned.group("operator") + pinned.group("rest")
            )
    name = name.split("[", 1)[0]  # pip extras: "uvicorn[standard]"
    return Dependency(
        name,
        installer.ecosystem,
        Location(path, line),
        version=version,
        constraint=constraint,
    )
