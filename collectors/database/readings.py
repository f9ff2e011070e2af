"""Engine-neutral readings of a database session, and the session interface.

The PostgreSQL and MySQL/MariaDB modules each implement `DatabaseSession`. They
translate driver errors into `collectors.errors.SourceError` subclasses whose
messages contain no secret, so the collector can turn any of them into a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ServerInfo:
    """Product and version of the server behind one session."""

    product: str  # "PostgreSQL", "MariaDB" or "MySQL"
    version: str  # numeric release such as "15.20"
    version_full: str  # the server's own version string
    database: str | None


@dataclass(frozen=True)
class TableEstimate:
    """One user table as the catalog describes it."""

    schema: str
    table: str
    # Catalog row estimate, or None when the catalog has none (never analysed).
    estimate: int | None
    # False when the session's role is known to lack SELECT on the table.
    readable: bool = True
    # True when PostgreSQL row-level security filters the rows count(*) returns.
    row_security: bool = False


@dataclass(frozen=True)
class TableCatalog:
    """The user tables of one database, read with one catalog query."""

    tables: list[TableEstimate]
    # Set when the catalog may hide tables from this account, because MySQL and
    # MariaDB list only the tables an account has a privilege on.
    hidden_tables_reason: str | None = None


@dataclass(frozen=True)
class CounterReading:
    """Transaction counters read at one moment."""

    transactions: int
    # Changes when the counters were reset between two readings.
    epoch: Any
    monotonic_at: float
    counters: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """A value read from the server, with the details that explain it."""

    value: Any
    method: str
    details: dict[str, Any]
    uncertain: bool = False


class DatabaseSession(Protocol):
    """An open, read-only connection to one database."""

    source: str
    # Catalog column the row estimates come from, as written in the method text.
    estimate_source: str
    # Phrase for tables counted because they had no estimate, with {count} and
    # {tables} ("table" or "tables") to fill in, as written in the method text.
    no_estimate_template: str
    # Description of the counters the transaction rate is computed from.
    transactions_method: str
    # Reason these counters can lag behind the commits, as written in the
    # method text, or None when the server updates them at commit.
    transactions_delay: str | None

    def server_info(self) -> ServerInfo: ...

    def read_identity(self, schemas: tuple[str, ...] | None) -> dict[str, Any]:
        """Return the server's own identity of the data that `schemas` selects.

        Two sessions return equal identities when they read the same tables,
        whatever host name, address or account their DSNs use.
        """
        ...

    def read_table_catalog(self, schemas: tuple[str, ...] | None) -> TableCatalog: ...

    def count_rows(self, schema: str, table: str) -> int: ...

    def read_transaction_counters(self) -> CounterReading: ...

    def read_client_sessions(self) -> Observation: ...

    def read_integrity(self) -> Observation: ...

    def close(self) -> None: ...
