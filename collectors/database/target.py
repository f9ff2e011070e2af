"""A database to read, its display name and the scrubbing of secrets from text.

The DSN never carries the password, so the DSN itself can be shown in reports.
Driver messages are still passed through `scrub` before they reach a fact, a gap,
a log line or an exception, because a driver may echo connection parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

POSTGRESQL = "postgresql"
MYSQL = "mysql"

# URL schemes accepted in a DSN, mapped to the engine family that reads them.
SCHEMES = {
    "postgresql": POSTGRESQL,
    "postgres": POSTGRESQL,
    "mysql": MYSQL,
    "mariadb": MYSQL,
}
DEFAULT_PORTS = {POSTGRESQL: 5432, MYSQL: 3306}
# Maximum length of a driver message in a gap or log line; the rest is cut.
MAX_DETAIL_CHARS = 300


@dataclass(frozen=True)
class DatabaseTarget:
    """One database to observe.

    `name` is the config's name for it and becomes the scope of its facts. `dsn`
    has the form postgresql://user@host:port/db or mysql://user@host:port/db and
    must not contain the password, which goes in `password`. `schemas` limits the
    tables counted; None means every user schema (for MySQL and MariaDB, where a
    schema is a database, None means the DSN's database, or every user database
    when the DSN names none).
    """

    name: str
    dsn: str
    password: str | None = field(default=None, repr=False)
    schemas: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.dsn)
        if parts.scheme not in SCHEMES:
            raise ValueError(
                f"database {self.name!r}: DSN scheme {parts.scheme!r} is not one of "
                f"{', '.join(SCHEMES)}"
            )
        if parts.password is not None:
            # The DSN is not echoed back because it contains a secret.
            raise ValueError(
                f"database {self.name!r}: the DSN contains a password; "
                "pass it separately as password"
            )
        if self.schemas is not None:
            object.__setattr__(self, "schemas", tuple(self.schemas))

    @property
    def engine(self) -> str:
        """Engine family: POSTGRESQL or MYSQL (MySQL and MariaDB)."""
        return SCHEMES[urlsplit(self.dsn).scheme]

    @property
    def host(self) -> str | None:
        hostname = urlsplit(self.dsn).hostname
        return unquote(hostname) if hostname else None

    @property
    def port(self) -> int:
        return urlsplit(self.dsn).port or DEFAULT_PORTS[self.engine]

    @property
    def user(self) -> str | None:
        username = urlsplit(self.dsn).username
        return unquote(username) if username else None

    @property
    def database(self) -> str | None:
        path = urlsplit(self.dsn).path.strip("/")
        return unquote(path) if path else None

    @property
    def source(self) -> str:
        """DSN without query parameters, shown as the source of facts and gaps."""
        user = f"{self.user}@" if self.user else ""
        host = self.host or "[local]"
        if ":" in host:
            host = f"[{host}]"
        return f"{self.engine}://{user}{host}:{self.port}/{self.database or ''}"


def scrub(text: str, password: str | None) -> str:
    """Return driver text on one line, cut to MAX_DETAIL_CHARS, without the password.

    The password is replaced in its plain and its URL-encoded form.
    """
    one_line = re.sub(r"\s+", " ", text).strip()
    if password:
        for form in {password, quote(password, safe="")}:
            one_line = one_line.replace(form, "***")
    if len(one_line) > MAX_DETAIL_CHARS:
        one_line = one_line[: MAX_DETAIL_CHARS - 3] + "..."
    return one_line
