"""The configuration file: its shape, validation and secrets.

One YAML file names the system, its boundary, the owner's declarations, the
evidence sources and rule overrides. It is validated whole before anything is
scanned; an error names the file, the field path and what was expected. Secrets
come only from environment variables or files and are kept out of every message.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from agent.errors import ConfigError
from collectors.network.scope import (
    MIN_PREFIX_V4,
    MIN_PREFIX_V6,
    ScopePolicy,
    check_probe_host,
    check_targets,
)
from rules.yamlload import load_with_lines

DEFAULT_CONFIG = "techcomplex.yaml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _plain_number(value: Any) -> Any:
    # YAML reads `true` as a boolean and `"8000"` as text; neither is a number the
    # user meant, so they are rejected instead of converted.
    if isinstance(value, bool | str):
        raise ValueError("expected a number, not text or true/false")  # noqa: TRY004
    return value


Number = Annotated[float, BeforeValidator(_plain_number)]
Count = Annotated[int, BeforeValidator(_plain_number)]


class SystemConfig(Strict):
    name: str = Field(min_length=1)
    description: str | None = None
    owner: str | None = None


class Declarant(Strict):
    name: str = Field(min_length=1)
    role: str = Field(min_length=1)


class Stage(Strict):
    name: str = Field(min_length=1)
    commissioned: dt.date


# Names a partner in Kazakhstan may be given; such a partner is not interstate.
DOMESTIC_COUNTRIES = {"kz", "kaz", "kazakhstan", "казахстан", "қазақстан"}


class Partner(Strict):
    name: str = Field(min_length=1)
    country: str | None = None
    endpoint: str | None = None

    @field_validator("country")
    @classmethod
    def _foreign(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() in DOMESTIC_COUNTRIES:
            raise ValueError(
                "a partner in Kazakhstan does not make a project interstate; "
                "list foreign partners only"
            )
        return value


class DeclaredConfig(Strict):
    declared_by: Declarant
    declared_on: dt.date
    expires: dt.date | None = None
    development_started: dt.date | None = None
    development_finished: dt.date | None = None
    commissioning_phases: list[Stage] | None = None
    domain: str | None = None
    interstate_partners: list[Partner] | None = None
    expected_users: Count | None = Field(default=None, ge=0)
    facts: dict[str, Any] = Field(default_factory=dict)

    @field_validator("declared_on", "development_started")
    @classmethod
    def _not_in_future(cls, value: dt.date | None) -> dt.date | None:
        today = dt.datetime.now(dt.UTC).date()
        if value is not None and value > today:
            raise ValueError(f"must not be in the future (today is {today})")
        return value

    @field_validator("expires")
    @classmethod
    def _expires_after_declaration(cls, value, info):
        declared_on = info.data.get("declared_on")
        if value and declared_on and value < declared_on:
            raise ValueError(f"must not be before declared_on ({declared_on})")
        return value

    @field_validator("development_finished")
    @classmethod
    def _finished_after_start(cls, value, info):
        started = info.data.get("development_started")
        if value and started and value < started:
            raise ValueError(f"must not be before development_started ({started})")
        return value

    @field_validator("commissioning_phases")
    @classmethod
    def _unique_stages(cls, value: list[Stage] | None) -> list[Stage] | None:
        names = [stage.name for stage in value or []]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"stage names must be unique; repeated: {repeated}")
        return value


# Maximum timeout accepted for any wait, in seconds (one day).
MAX_SECONDS = 86400.0
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# DSN query parameters that choose TLS; anything else could change what is read.
DSN_PARAMETERS = {
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "ssl_ca",
    "ssl_cert",
    "ssl_key",
}
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class HostSource(Strict):
    root: str = "/"
    timeout: Number = Field(default=60.0, gt=0, le=MAX_SECONDS)


class DatabaseSource(Strict):
    name: str = Field(min_length=1)
    dsn: str
    password_file: Path | None = None
    password_env: str | None = None
    schemas: list[str] | None = None

    @field_validator("dsn")
    @classmethod
    def _dsn_shape(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("postgresql", "postgres", "mysql", "mariadb"):
            raise ValueError(
                "expected postgresql://USER@HOST:PORT/DB or mysql://USER@HOST:PORT/DB"
            )
        if parts.password is not None:
            # The value is not echoed back because it contains a secret.
            raise ValueError(
                "the DSN contains a password; remove it and set password_file "
                "or password_env instead"
            )
        if not parts.hostname or not parts.path.strip("/"):
            raise ValueError("the DSN needs a host and a database name")
        try:
            parts.port  # noqa: B018 - urlsplit checks the port only when asked
        except ValueError:
            raise ValueError(
                "the DSN's port must be a number from 1 to 65535"
            ) from None
        if parts.fragment:
            raise ValueError("the DSN must not have a #fragment")
        for name, _ in parse_qsl(parts.query, keep_blank_values=True):
            if name not in DSN_PARAMETERS:
                allowed = ", ".join(sorted(DSN_PARAMETERS))
                raise ValueError(
                    f"the DSN parameter {name!r} is not accepted; allowed: {allowed}"
                )
        return value

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(
                "expected the name of an environment variable (letters, digits, _), "
                "not its value"
            )
        return value

    @model_validator(mode="after")
    def _one_secret_source(self) -> DatabaseSource:
        if self.password_file is not None and self.password_env is not None:
            raise ValueError("give password_file or password_env, not both")
        return self

    def identity(self) -> tuple[str, str, int | None, str]:
        """Return (engine family, host, port, database) for finding repeats."""
        parts = urlsplit(self.dsn)
        family = "postgresql" if parts.scheme.startswith("postgres") else "mysql"
        host = (parts.hostname or "").lower()
        if host in _LOOPBACK_NAMES:
            host = "loopback"
        default_port = 5432 if family == "postgresql" else 3306
        return family, host, parts.port or default_port, parts.path.strip("/")


class DatabaseSettings(Strict):
    timeout: Number = Field(default=120.0, gt=0, le=MAX_SECONDS)
    exact_band: Number = Field(default=0.10, ge=0, le=1)
    tps_sample_seconds: Number = Field(default=5.0, ge=0.1, le=300)
    statement_timeout: Number = Field(default=30.0, gt=0, le=MAX_SECONDS)
    lock_timeout: Number = Field(default=5.0, gt=0, le=MAX_SECONDS)
    connect_timeout: Number = Field(default=10.0, gt=0, le=MAX_SECONDS)

    @model_validator(mode="after")
    def _timeout_covers_connect_and_sample(self) -> DatabaseSettings:
        # Connecting and the commit-counter sample come before any count, so a
        # collector timeout shorter than both would cut every database.
        needed = self.connect_timeout + self.tps_sample_seconds
        if self.timeout <= needed:
            raise ValueError(
                f"timeout ({self.timeout:g} s) must exceed connect_timeout plus "
                f"tps_sample_seconds ({needed:g} s)"
            )
        return self


_DURATION_UNITS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
    "y": 31536000,
}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def parse_duration(text: str) -> float:
    """Parse a Prometheus duration such as 30d, 5m or 1h30m into seconds."""
    text = str(text).strip()
    parts = _DURATION.findall(text)
    if not text or "".join(f"{n}{u}" for n, u in parts) != text:
        raise ValueError(f"expected a duration such as 30d, 5m or 1h30m, got {text!r}")
    return float(sum(int(number) * _DURATION_UNITS[unit] for number, unit in parts))


# Headers that carry credentials; they belong in token_file or password_file.
SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "x-auth-token",
    "x-access-token",
}
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_MATCHER = re.compile(
    r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*'
)


def check_selector(text: str) -> None:
    """Check label matchers such as `namespace="x", job=~"api.*"`; raise ValueError.

    Prometheus rejects a selector whose matchers all match the empty label value,
    so at least one must be an equality with a value or a regular expression that
    does not match the empty string.
    """
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    position, selective = 0, False
    while position < len(body):
        match = _MATCHER.match(body, position)
        if match is None:
            raise ValueError(
                f'expected label matchers such as namespace="x", got {text!r}'
            )
        _, op, value = match.groups()
        if op == "=" and value or op == "=~" and not re.fullmatch(value, ""):
            selective = True
        position = match.end()
        if position < len(body):
            if body[position] != ",":
                raise ValueError(f"expected a comma between matchers in {text!r}")
            position += 1
    if not selective:
        raise ValueError(
            "at least one matcher must select something (= with a value, or =~ "
            "with a pattern that does not match the empty string)"
        )


class PrometheusQueries(Strict):
    """Explicit PromQL; each wins over the detected profiles for its measure."""

    concurrent_users: str | None = None
    tps: str | None = None
    records: str | None = None


class PrometheusSource(Strict):
    url: str
    token_file: Path | None = None
    token_env: str | None = None
    username: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    ca_file: Path | None = None
    insecure_skip_verify: bool = False
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Number = Field(default=30.0, gt=0, le=MAX_SECONDS)
    window: str = "30d"
    rate_window: str = "5m"
    selector: str | None = None
    queries: PrometheusQueries = Field(default_factory=PrometheusQueries)
    # Evaluate every query at this instant instead of now, for reproducible reports.
    evaluation_time: dt.datetime | None = None

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "expected an http:// or https:// URL of the Prometheus server"
            )
        if parts.password is not None:
            raise ValueError(
                "the URL contains a password; remove it and set password_file or "
                "password_env instead"
            )
        if parts.query or parts.fragment:
            # A query string could carry a token, and it would not reach the API.
            raise ValueError(
                "the URL must not have a ?query or #fragment; give the server's base URL"
            )
        return value.rstrip("/")

    @field_validator("window", "rate_window")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError("must be longer than zero")
        return value

    @field_validator("headers")
    @classmethod
    def _no_auth_header(cls, value: dict[str, str]) -> dict[str, str]:
        for name, content in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(
                    f"header name {name!r} is not a valid HTTP header name"
                )
            if name.lower() in SECRET_HEADERS:
                raise ValueError(
                    f"header {name} carries a secret; use token_file or password_file"
                )
            if not isinstance(content, str) or "\r" in content or "\n" in content:
                raise ValueError(f"header {name} needs a one-line text value")
        return value

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is not None:
            check_selector(value)
        return value

    @field_validator("evaluation_time")
    @classmethod
    def _evaluation_not_future(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return value
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        if moment > dt.datetime.now(dt.UTC):
            raise ValueError("must not be in the future")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PrometheusSource:
        if self.token_file is not None and self.token_env is not None:
            raise ValueError("give token_file or token_env, not both")
        if self.password_file is not None and self.password_env is not None:
            raise ValueError("give password_file or password_env, not both")
        if parse_duration(self.rate_window) > parse_duration(self.window):
            raise ValueError(
                f"rate_window ({self.rate_window}) must not be longer than "
                f"window ({self.window})"
            )
        return self


class SoftwareSource(Strict):
    root: str = "/"
    # Directories searched for Python environments, node_modules, jars, .NET
    # dependency files and model files, besides the system interpreter's packages.
    paths: list[str] = Field(default_factory=list)
    rtsp_endpoints: list[str] = Field(default_factory=list)
    llm_apis: list[str] = Field(default_factory=list)
    timeout: Number = Field(default=120.0, gt=0, le=MAX_SECONDS)


_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[*+}](?:[^()\\]|\\.)*\)[*+{?]")
DEFAULT_STAGE_TAGS = r"^(v?\d+\.0\.0|release-.*|stage-.*)$"


class RepositorySource(Strict):
    path: str = "."
    # Tags whose names match this pattern mark stages put into operation.
    stage_tag_pattern: str = DEFAULT_STAGE_TAGS
    timeout: Number = Field(default=300.0, gt=0, le=MAX_SECONDS)

    @field_validator("stage_tag_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        # Python's re holds the interpreter lock while it matches, so a pattern
        # that backtracks exponentially on a crafted tag name would stall the
        # whole scan past every timeout. NOTE: a heuristic: it rejects a
        # quantified group that contains a quantifier, such as (a+)+.
        if _NESTED_QUANTIFIER.search(value):
            raise ValueError(
                "a repeated group that contains a repetition, such as (a+)+, can "
                "take exponential time on some tag names; rewrite it without nesting"
            )
        return value


def _address_text(value: Any) -> Any:
    # YAML reads an unquoted 127.1 as a float and 0x7f000001 as an integer.
    if isinstance(value, bool | int | float):
        raise ValueError(  # noqa: TRY004 (pydantic reports ValueError)
            f"YAML read {value!r} as a number, not an address; write the address in "
            "quotes"
        )
    return value


AddressText = Annotated[str, BeforeValidator(_address_text)]

_PORT_RANGE = re.compile(r"(\d{1,5})-(\d{1,5})")


def _port_entry(value: Any) -> tuple[int, int]:
    """Parse one port or "first-last" range into an inclusive (first, last) pair."""
    if isinstance(value, bool):
        raise ValueError(  # noqa: TRY004 (pydantic reports ValueError)
            f"port {value!r} is true/false; give a number from 1 to 65535"
        )
    if isinstance(value, int):
        first = last = value
    elif isinstance(value, str) and (match := _PORT_RANGE.fullmatch(value.strip())):
        first, last = int(match.group(1)), int(match.group(2))
    else:
        raise ValueError(
            f'port {value!r} is not a port number or a range such as "1560-1591"'
        )
    if not 1 <= first <= last <= 65535:
        raise ValueError(
            f"port {value!r} must lie from 1 to 65535, with the first port of a "
            "range not above the last"
        )
    return first, last


class Probe(Strict):
    """One TCP connection the network collector tries, to one host and port."""

    name: str = Field(min_length=1)
    host: AddressText = Field(min_length=1)
    port: Count = Field(ge=1, le=65535)

    @field_validator("host")
    @classmethod
    def _one_host(cls, value: str) -> str:
        check_probe_host(value)
        return value


class ProbesConfig(Strict):
    """Reachability probes that show whether the system's segment is isolated."""

    # Hosts an isolated segment must not reach: the platform's shared segment, an
    # internet canary of the operator's choosing.
    blocked: list[Probe] = Field(default_factory=list)
    # Controls the segment must reach, so that blocked probes prove isolation
    # rather than an outage of the agent's own network.
    reachable: list[Probe] = Field(default_factory=list)
    # Names to resolve with the host's resolvers; one that resolves shows a DNS
    # path to where it lives. Nothing is resolved unless listed.
    resolve: list[str] = Field(default_factory=list)
    timeout: Number = Field(default=3.0, gt=0, le=60)

    @field_validator("resolve")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            target = check_probe_host(name)
            if target.name is None:
                raise ValueError(f"resolve entry {name!r} is an address, not a name")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> ProbesConfig:
        names = [probe.name for probe in self.blocked + self.reachable]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"probe names must be unique; repeated: {repeated}")
        return self


class NetworkSource(Strict):
    """Network targets, the scope they must stay in, probes and scan settings.

    The scope guard checks every target before any packet is sent. With no
    targets nothing is scanned; the collector still reads the host's interfaces
    and routes, and runs the configured probes.
    """

    # Addresses, CIDR networks and host names to probe.
    targets: list[AddressText] = Field(default_factory=list)
    # Networks the operator allows; every address of a target must lie in one.
    allowlist: list[AddressText] = Field(default_factory=list)
    # Host names allowed as targets; they are never resolved during validation.
    allowed_names: list[str] = Field(default_factory=list)
    max_prefix_v4: Count = Field(default=22, ge=MIN_PREFIX_V4, le=32)
    max_prefix_v6: Count = Field(default=118, ge=MIN_PREFIX_V6, le=128)
    allow_public_targets: bool = False
    # TCP ports to scan: numbers and "first-last" ranges. Empty: the ports of the
    # product catalogue and common service ports.
    ports: list[Any] = Field(default_factory=list)
    # auto: a SYN scan when privileged (root or CAP_NET_RAW), else a TCP connect scan.
    scan_type: Literal["auto", "connect", "syn"] = "auto"
    # nmap -sV: probes each open port for its service and version.
    service_detection: bool = True
    # nmap --version-intensity, 0 to 9. Probes registered for a port are always
    # sent, and higher levels add generic probes that each wait on a silent
    # port. A port that sends nothing took 11 s at 0, 31 s at 2 and 164 s at 7
    # (nmap 7.93).
    version_intensity: Count = Field(default=2, ge=0, le=9)
    # nmap --host-timeout, in seconds: a host that takes longer is given up.
    host_timeout: Number | None = Field(default=None, gt=0, le=MAX_SECONDS)
    nmap_path: str | None = None
    probes: ProbesConfig = Field(default_factory=ProbesConfig)
    # Bounds the whole collector: interfaces, probes and the nmap run.
    timeout: Number = Field(default=300.0, gt=0, le=MAX_SECONDS)

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: list[Any]) -> list[Any]:
        for entry in value:
            _port_entry(entry)
        return value

    def port_ranges(self) -> list[tuple[int, int]]:
        """Return the configured ports as inclusive (first, last) pairs."""
        return [_port_entry(entry) for entry in self.ports]

    def scope_policy(self) -> ScopePolicy:
        """Build the guard's policy; raises ScopeError for an invalid allowlist."""
        return ScopePolicy(
            allowlist=tuple(self.allowlist),
            allowed_names=tuple(self.allowed_names),
            max_prefix_v4=self.max_prefix_v4,
            max_prefix_v6=self.max_prefix_v6,
            allow_public=self.allow_public_targets,
        )

    @model_validator(mode="after")
    def _in_scope(self) -> NetworkSource:
        # ScopeError is a ValueError, so pydantic reports its message under
        # sources.network and the CLI exits 2 before anything runs.
        check_targets(self.targets, self.scope_policy())
        return self


class SourcesConfig(Strict):
    # A sources section without `host` scans no host; with no sources section at
    # all, the default is this host and its software.
    host: HostSource | None = None
    databases: list[DatabaseSource] = Field(default_factory=list)
    database_settings: DatabaseSettings = Field(default_factory=DatabaseSettings)
    prometheus: PrometheusSource | None = None
    software: SoftwareSource | None = None
    repository: RepositorySource | None = None
    # Accepted so that a config written for later versions validates; this version
    # reports the collector as skipped.
    # TODO: a collector for kubernetes.
    kubernetes: dict[str, Any] | None = None
    network: NetworkSource | None = None

    @field_validator("databases")
    @classmethod
    def _unique_names(cls, value: list[DatabaseSource]) -> list[DatabaseSource]:
        names = [db.name for db in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"database names must be unique; repeated: {repeated}")
        seen: dict[tuple, str] = {}
        for db in value:
            identity = db.identity()
            if identity in seen:
                raise ValueError(
                    f"databases {seen[identity]!r} and {db.name!r} name the same "
                    "database; list each database once so its rows count once"
                )
            seen[identity] = db.name
        return value


class StackEntry(Strict):
    """One technology the operator confirms the platform supports."""

    name: str = Field(min_length=1, pattern=r"\S")
    aliases: list[str] = Field(default_factory=list)
    kind: str | None = None
    source: str = Field(min_length=1, pattern=r"\S")


class RulesConfig(Strict):
    pack: str = "order-308"
    min_met: Count | None = Field(default=None, ge=1)
    modes: dict[int, str] = Field(default_factory=dict)
    # Values are checked against the pack's own thresholds when the pack loads.
    thresholds: dict[str, Any] = Field(default_factory=dict)
    uncertain_band: Number = Field(default=0.10, ge=0, le=1)
    # A supported-stack catalogue file replacing the built-in unofficial profile,
    # and entries added to whichever is used.
    supported_stack: str | None = None
    supported_stack_extra: list[StackEntry] = Field(default_factory=list)


class Config(Strict):
    system: SystemConfig
    declared: DeclaredConfig | None = None
    # Without a sources section: this host, its software and its interfaces.
    sources: SourcesConfig = Field(default_factory=lambda: _default_sources())
    rules: RulesConfig = Field(default_factory=RulesConfig)
    # Entries added to the detection catalogues, e.g. {products: [...]}; the
    # entry schema is the one of the shipped catalogues.
    catalogues: dict[str, Any] = Field(default_factory=dict)
    # Where the config came from, for messages and fact sources.
    origin: str = Field(default="built-in defaults", exclude=True)


def _default_sources() -> SourcesConfig:
    # The network section has no targets and no probes, so it sends nothing: it
    # reads this host's interfaces and routes only.
    return SourcesConfig(
        host=HostSource(), software=SoftwareSource(), network=NetworkSource()
    )


def default_config() -> Config:
    """Return the configuration used when no file exists: this host, its software
    and its network interfaces."""
    import socket

    return Config(
        system=SystemConfig(name=socket.gethostname()), sources=_default_sources()
    )


def with_repository(config: Config, path: str) -> Config:
    """Return the config with its repository source set to path (`scan --repo`).

    With only the built-in defaults, the scan covers the repository alone: a CI
    job has no live system, so the build machine's host is not scanned.
    """
    if not Path(path).is_dir():
        raise ConfigError(path, "--repo needs a directory (the repository's work tree)")
    if config.origin == "built-in defaults":
        return Config(
            system=SystemConfig(name=Path(path).resolve().name),
            sources=SourcesConfig(repository=RepositorySource(path=path)),
            origin=f"--repo {path}",
        )
    existing = config.sources.repository or RepositorySource()
    repository = existing.model_copy(update={"path": path})
    sources = config.sources.model_copy(update={"repository": repository})
    updated = config.model_copy(update={"sources": sources})
    updated.origin = config.origin
    return updated


def _format_location(location: tuple[Any, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _may_hold_secret(field: str) -> bool:
    # A DSN or URL can embed a password and a header a token, so their invalid
    # values are never echoed back in an error.
    return field in ("dsn", "url", "headers") or "password" in field or "token" in field


def _describe(error: dict[str, Any]) -> str:
    location = _format_location(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    secret_field = any(_may_hold_secret(str(part)) for part in error["loc"])
    # A whole mapping or list is too long to echo and may contain secrets.
    structured = isinstance(error["input"], dict | list)
    if error["type"] in ("missing", "extra_forbidden") or secret_field or structured:
        return f"{location}: {message}"
    return f"{location}: {message} (got {error['input']!r})"


def parse_config(data: Any, origin: str) -> Config:
    if data is None:
        raise ConfigError(
            origin, "the file is empty; expected a YAML mapping with 'system'"
        )
    if not isinstance(data, dict):
        raise ConfigError(origin, f"expected a YAML mapping, got {type(data).__name__}")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(error) for error in exc.errors()]
        raise ConfigError(origin, "; ".join(lines)) from None
    config.origin = origin
    return config


def load_config(path: str | None) -> Config:
    """Load the config file, or the built-in default when none is given or found.

    An explicitly named file must exist; the default name is optional.
    """
    if path is None:
        if not Path(DEFAULT_CONFIG).exists():
            return default_config()
        path = DEFAULT_CONFIG
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise ConfigError(
            path, f"cannot read the config file ({exc.strerror})"
        ) from None
    try:
        data = load_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise ConfigError(path, f"{where}not valid YAML: {problem}") from None
    return parse_config(data, path)


def read_secret(field: str, *, file: Path | None, env: str | None) -> str | None:
    """Read a secret from a file or an environment variable; never from the config."""
    if file is not None:
        try:
            return file.read_text("utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(
                field, f"cannot read the secret file {file} ({exc.strerror})"
            ) from None
    if env is not None:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(field, f"the environment variable {env} is not set")
        return value
    return None
