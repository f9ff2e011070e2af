"""Read-only PostgreSQL session: catalog estimates, counters, sessions, integrity.

psycopg is imported inside `connect`, so importing this module costs nothing
when no PostgreSQL database is configured.
"""

from __future__ import annotations

import logging
import math
import re
import time
from typing import TYPE_CHECKING, Any

from collectors import errors
from collectors.database import postgres_sql as q
from collectors.database.readings import (
    CounterReading,
    Observation,
    ServerInfo,
    TableCatalog,
    TableEstimate,
)
from collectors.database.target import DatabaseTarget, scrub

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

APPLICATION_NAME = "techcomplex-agent"
# libpq treats a connect_timeout below 2 s as 2 s.
MIN_CONNECT_TIMEOUT_SECONDS = 2

# SQLSTATE codes (PostgreSQL appendix A, "Error Codes") mapped to the error kind.
SQLSTATE_ERRORS: dict[str, type[errors.SourceError]] = {
    "57014": errors.SourceTimeout,  # query_canceled, raised by statement_timeout
    "55P03": errors.SourceTimeout,  # lock_not_available, raised by lock_timeout
    "42501": errors.PermissionDenied,  # insufficient_privilege
    "28000": errors.AuthenticationFailed,  # invalid_authorization_specification
    "28P01": errors.AuthenticationFailed,  # invalid_password
}
# SQLSTATE class 08 is "connection exception".
CONNECTION_EXCEPTION_CLASS = "08"

# libpq reports a failed connection attempt as text without a SQLSTATE, so the
# kind is read from the message. These are libpq's and the server's English
# messages.
# TODO: a server or client with localized messages (lc_messages, LANG) falls
# through to a plain source_failed.
_CONNECT_MESSAGES: tuple[tuple[str, type[errors.SourceError]], ...] = (
    (r"connection refused", errors.SourceUnreachable),
    (r"could not translate host name", errors.SourceUnreachable),
    (r"no route to host", errors.SourceUnreachable),
    (r"network is unreachable", errors.SourceUnreachable),
    (r"no such file or directory", errors.SourceUnreachable),
    (r"server closed the connection", errors.SourceUnreachable),
    (r"the connection is (closed|lost)", errors.SourceUnreachable),
    (r"timeout expired", errors.SourceTimeout),
    (r"authentication failed", errors.AuthenticationFailed),
    (r"no pg_hba\.conf entry", errors.AuthenticationFailed),
    (r"no password supplied", errors.AuthenticationFailed),
    (r"not permitted to log in", errors.AuthenticationFailed),
    (r'role ".*" does not exist', errors.AuthenticationFailed),
    (r"permission denied", errors.PermissionDenied),
)
CONNECT_MESSAGE_ERRORS = tuple(
    (re.compile(pattern, re.IGNORECASE), error_class)
    for pattern, error_class in _CONNECT_MESSAGES
)

# synchronous_commit values with which a commit waits for a synchronous standby.
WAITING_SYNCHRONOUS_COMMIT = ("on", "remote_write", "remote_apply")


def connect(
    target: DatabaseTarget,
    *,
    statement_timeout: float,
    lock_timeout: float,
    connect_timeout: float,
) -> PostgresSession:
    """Open a read-only session; raise a SourceError subclass when that fails.

    The session is read-only in two ways: default_transaction_read_only is set
    at connection start, and every transaction opens with BEGIN READ ONLY.
    """
    import psycopg

    options = (
        "-c default_transaction_read_only=on"
        f" -c statement_timeout={_milliseconds(statement_timeout)}"
        f" -c lock_timeout={_milliseconds(lock_timeout)}"
    )
    seconds = max(MIN_CONNECT_TIMEOUT_SECONDS, math.ceil(connect_timeout))
    logger.debug("connecting to %s", target.source)
    try:
        connection = psycopg.connect(
            target.dsn,
            password=target.password,
            connect_timeout=seconds,
            application_name=APPLICATION_NAME,
            options=options,
            autocommit=False,
        )
    except psycopg.Error as exc:
        raise translate_error(exc, target, "connect") from None
    connection.read_only = True
    return PostgresSession(connection, target)


def translate_error(
    exc: Exception, target: DatabaseTarget, action: str
) -> errors.SourceError:
    """Return the SourceError subclass for a psycopg error, without secrets."""
    sqlstate = getattr(exc, "sqlstate", None)
    detail = scrub(str(exc), target.password)
    error_class = _classify(sqlstate, detail)
    code = f", SQLSTATE {sqlstate}" if sqlstate else ""
    message = f"{action} failed ({type(exc).__name__}{code}): {detail}"
    return error_class(target.source, message)


def _classify(sqlstate: str | None, detail: str) -> type[errors.SourceError]:
    if sqlstate:
        if sqlstate in SQLSTATE_ERRORS:
            return SQLSTATE_ERRORS[sqlstate]
        if sqlstate.startswith(CONNECTION_EXCEPTION_CLASS):
            return errors.SourceUnreachable
        return errors.SourceError
    for pattern, error_class in CONNECT_MESSAGE_ERRORS:
        if pattern.search(detail):
            return error_class
    return errors.SourceError


def _milliseconds(seconds: float) -> int:
    # 0 disables both timeouts in PostgreSQL, so a positive value stays >= 1 ms.
    return max(1, round(seconds * 1000))


class PostgresSession:
    """One read-only connection to one PostgreSQL database."""

    estimate_source = "pg_class.reltuples"
    no_estimate_template = "{count} never-analysed {tables}"
    transactions_method = (
        "pg_stat_database xact_commit + xact_rollback of this database"
    )
    # PostgreSQL 15+ pgstat_report_stat() in src/backend/utils/activity/pgstat.c.
    transactions_delay = (
        "each backend publishes its commits to these counters at most once a "
        "second, and later when the counters' lock is busy, so commits near "
        "either end of the sample can fall outside it"
    )

    def __init__(self, connection: psycopg.Connection, target: DatabaseTarget):
        self.connection = connection
        self.target = target
        self.source = target.source

    def close(self) -> None:
        self.connection.close()

    def _fetch(self, action: str, query: Any, params: Any = None) -> list[tuple]:
        """Run one statement in its own READ ONLY transaction and return its rows."""
        import psycopg

        try:
            with self.connection.transaction():
                return self.connection.execute(query, params).fetchall()
        except psycopg.Error as exc:
            raise translate_error(exc, self.target, action) from None

    def _fetch_one(self, action: str, query: Any, params: Any = None) -> tuple:
        rows = self._fetch(action, query, params)
        if len(rows) != 1:
            raise errors.BadResponse(
                self.source, f"{action} returned {len(rows)} rows, expected 1"
            )
        return rows[0]

    def server_info(self) -> ServerInfo:
        version_full, _, database = self._fetch_one("read version", q.SERVER_INFO)
        # server_version looks like "15.20 (Debian 15.20-0+deb12u1)".
        version = version_full.split()[0]
        return ServerInfo("PostgreSQL", version, version_full, database)

    def read_identity(self, schemas: tuple[str, ...] | None) -> dict[str, Any]:
        system_identifier, database_oid = self._fetch_one(
            "read pg_control_system", q.IDENTITY
        )
        return {
            "system_identifier": system_identifier,
            "database_oid": database_oid,
            "schemas": sorted(schemas) if schemas is not None else None,
        }

    def read_table_catalog(self, schemas: tuple[str, ...] | None) -> TableCatalog:
        params = {"schemas": list(schemas) if schemas is not None else None}
        rows = self._fetch("read pg_class", q.TABLE_CATALOG, params)
        tables = [
            TableEstimate(schema, table, estimate, readable, row_security)
            for schema, table, estimate, readable, row_security in rows
        ]
        return TableCatalog(tables)

    def count_rows(self, schema: str, table: str) -> int:
        from psycopg import sql

        query = sql.SQL(q.COUNT_ROWS).format(
            sql.Identifier(schema), sql.Identifier(table)
        )
        (count,) = self._fetch_one(f"count(*) on {schema}.{table}", query)
        return count

    def read_transaction_counters(self) -> CounterReading:
        from psycopg.pq import TransactionStatus

        # Each _fetch commits its own transaction, which discards the statistics
        # snapshot. With stats_fetch_consistency = cache (the default) or
        # snapshot, a transaction left open would serve the second reading from
        # the snapshot of the first, and the rate would come out as 0.
        if self.connection.info.transaction_status != TransactionStatus.IDLE:
            self._fetch("clear statistics snapshot", q.CLEAR_STATS_SNAPSHOT)
        started = time.monotonic()
        row = self._fetch_one("read pg_stat_database", q.TRANSACTION_COUNTERS)
        finished = time.monotonic()
        commits, rollbacks, stats_reset = row
        return CounterReading(
            transactions=commits + rollbacks,
            epoch=stats_reset,
            monotonic_at=(started + finished) / 2,
            counters={"xact_commit": commits, "xact_rollback": rollbacks},
        )

    def read_client_sessions(self) -> Observation:
        row = self._fetch_one("read pg_stat_activity", q.CLIENT_SESSIONS)
        this_database, unknown_type, server = row
        method = (
            "pg_stat_activity client backends connected to this database, "
            "without the agent's own session"
        )
        if unknown_type:
            method += (
                f"; {unknown_type} sessions whose type this role may not see "
                "(it lacks pg_read_all_stats) are counted as client sessions"
            )
        details = {
            "client_backends": this_database,
            "sessions_of_unknown_type": unknown_type,
            "client_backends_on_server": server,
        }
        value = this_database + unknown_type
        return Observation(value, method, details, bool(unknown_type))

    def read_integrity(self) -> Observation:
        row = self._fetch_one("read replication settings", q.INTEGRITY)
        return judge_integrity(*row)


def judge_integrity(
    standby_names: str,
    synchronous_commit: str,
    max_prepared: int,
    standbys: int,
    sync_standbys: int,
    standbys_state_hidden: int,
    prepared: int,
) -> Observation:
    """Decide whether commits are guaranteed beyond one server, from the settings.

    The tool's policy: true when synchronous replication is configured and
    active (synchronous_standby_names set, synchronous_commit waits for the
    standby, at least one standby in sync or quorum state), or when two-phase
    commit is enabled (max_prepared_transactions > 0) and in use (a prepared
    transaction exists at the moment of reading).
    """
    configured = bool(standby_names.strip())
    waits = synchronous_commit in WAITING_SYNCHRONOUS_COMMIT
    synchronous_replication = configured and waits and sync_standbys > 0
    two_phase_commit = max_prepared > 0 and prepared > 0
    value = synchronous_replication or two_phase_commit
    details = {
        "synchronous_standby_names": standby_names,
        "synchronous_commit": synchronous_commit,
        "standbys": standbys,
        "sync_standbys": sync_standbys,
        "standbys_state_hidden": standbys_state_hidden,
        "max_prepared_transactions": max_prepared,
        "prepared_transactions": prepared,
        "synchronous_replication": synchronous_replication,
        "two_phase_commit_in_use": two_phase_commit,
    }
    # synchronous_commit is read in the agent's session, which per-role and
    # per-database settings of the application's role do not reach.
    method = (
        "synchronous_standby_names, synchronous_commit (as set for the agent's "
        "session), pg_stat_replication sync_state, max_prepared_transactions and "
        "pg_prepared_xacts; true when synchronous replication is active or a "
        "prepared transaction exists"
    )
    # A standby whose sync_state this role may not read could be synchronous.
    uncertain = not value and configured and standbys_state_hidden > 0
    if uncertain:
        method += (
            f"; the state of {standbys_state_hidden} standbys is hidden from this "
            "role (it lacks pg_read_all_stats)"
        )
    return Observation(value, method, details, uncertain)
