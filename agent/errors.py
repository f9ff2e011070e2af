"""Errors of the agent itself, each mapped to a documented exit code."""

from __future__ import annotations

# Exit codes, documented in the README and stable across releases.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_OUTPUT = 3


class AgentError(Exception):
    exit_code = EXIT_INTERNAL


class ConfigError(AgentError):
    """An invalid configuration file, secret or rule pack; nothing was scanned."""

    exit_code = EXIT_USAGE

    def __init__(self, origin: str, message: str) -> None:
        super().__init__(f"{origin}: {message}")
        self.origin = origin


class OutputError(AgentError):
    """The report could not be written; any earlier report at the path is intact."""

    exit_code = EXIT_OUTPUT
