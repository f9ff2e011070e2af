"""Read-only MySQL/MariaDB session: catalog estimates, counters, sessions, integrity.

pymysql is imported inside `connect`, so importing this module costs nothing
when no MySQL or MariaDB database is configured.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

from collectors import errors
from collectors.database import mysql_sql as q
from collectors.database.readings import (
    CounterReading,
    Observation,
    ServerInfo,
    TableCatalog,
    TableEstimate,
)
from collectors.database.target import DatabaseTarget, scrub

if TYPE_CHECKING:
    import pymysql

logger = logging.getLogger(__name__)

APPLICATION_NAME = "techcomplex-agent"
# The client gives up on a reply this many seconds after the server-side
# statement timeout should have fired, in case the server does not enforce it
# (MySQL's max_execution_time covers SELECT only).
READ_TIMEOUT_MARGIN_SECONDS = 5.0
# MySQL added max_execution_time in 5.7.8.
MYSQL_EXECUTION_TIME_SINCE = (5, 7, 8)

# Server and client error numbers (MariaDB and MySQL error references).
ERRNO_ERRORS: dict[int, type[errors.SourceError]] = {
    1044: errors.PermissionDenied,  # ER_DBACCESS_DENIED_ERROR
    1045: errors.AuthenticationFailed,  # ER_ACCESS_DENIED_ERROR
    1142: errors.PermissionDenied,  # ER_TABLEACCESS_DENIED_ERROR
    1143: errors.PermissionDenied,  # ER_COLUMNACCESS_DENIED_ERROR
    1227: errors.PermissionDenied,  # ER_SPECIFIC_ACCESS_DENIED_ERROR
    1205: errors.SourceTimeout,  # ER_LOCK_WAIT_TIMEOUT
    1969: errors.SourceTimeout,  # ER_STATEMENT_TIMEOUT, MariaDB max_statement_time
    3024: errors.SourceTimeout,  # ER_QUERY_TIMEOUT, MySQL max_execution_time
    2003: errors.SourceUnreachable,  # CR_CONN_HOST_ERROR
    2006: errors.SourceUnreachable,  # CR_SERVER_GONE_ERROR
    2013: errors.SourceUnreachable,  # CR_SERVER_LOST
}
# pymysql raises these client errors for a socket timeout as well.
TIMEOUT_CAPABLE_ERRNOS = (2003, 2013)


def connect(
    target: DatabaseTarget,
    *,
    statement_timeout: float,
    lock_timeout: float,
    connect_timeout: float,
) -> MysqlSession:
    """Open a read-only session; raise a SourceError subclass when that fails."""
    import pymysql

    logger.debug("connecting to %s", target.source)
    # NOTE: pymysql waits for the server's greeting up to read_timeout, not
    # connect_timeout, so a server that accepts the connection and never sends
    # the greeting blocks this call for statement_timeout +
    # READ_TIMEOUT_MARGIN_SECONDS. The collector's survey deadline bounds how
    # long a scan waits for it.
    try:
        connection = pymysql.connect(
            host=target.host or "localhost",
            port=target.port,
            user=target.user,
            password=target.password or "",
            database=target.database,
            connect_timeout=connect_timeout,
            read_timeout=statement_timeout + READ_TIMEOUT_MARGIN_SECONDS,
            write_timeout=statement_timeout + READ_TIMEOUT_MARGIN_SECONDS,
            autocommit=True,
            charset="utf8mb4",
            program_name=APPLICATION_NAME,
        )
    except pymysql.MySQLError as exc:
        raise translate_error(exc, target, "connect") from None
    # TODO: TLS options in the DSN are not passed to pymysql yet.
    session = MysqlSession(connection, target)
    try:
        session.configure(statement_timeout, lock_timeout)
    except errors.SourceError:
        session.close()
        raise
    return session


def translate_error(
    exc: Exception, target: DatabaseTarget, action: str
) -> errors.SourceError:
    """Return the SourceError subclass for a pymysql error, without secrets."""
    errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = exc.args[1] if len(exc.args) > 1 else str(exc)
    detail = scrub(str(text), target.password)
    error_class = ERRNO_ERRORS.get(errno, errors.SourceError) if errno else None
    if errno in TIMEOUT_CAPABLE_ERRNOS and _caused_by_timeout(exc):
        error_class = errors.SourceTimeout
    code = f", error {errno}" if errno else ""
    message = f"{action} failed ({type(exc).__name__}{code}): {detail}"
    return (error_class or errors.SourceError)(target.source, message)


def _caused_by_timeout(exc: Exception) -> bool:
    # pymysql keeps the socket error as original_exception on connect, and
    # chains it on a failed read.
    causes = (getattr(exc, "original_exception", None), exc.__cause__, exc.__context__)
    return any(isinstance(cause, TimeoutError) for cause in causes)


def _parse_version(version: str) -> tuple[int, ...]:
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    return tuple(int(part) for part in match.groups()) if match else ()


def _quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MysqlSession:
    """One read-only connection to a MySQL or MariaDB server."""

    estimate_source = "information_schema.TABLES.TABLE_ROWS"
    no_estimate_template = "{count} {tables} with NULL TABLE_ROWS"
    transactions_method = (
        "global status Handler_commit + Handler_rollback, server-wide (all "
        "databases); an explicit transaction also adds one per statement"
    )
    transactions_delay = None

    def __init__(self, connection: pymysql.Connection, target: DatabaseTarget):
        self.connection = connection
        self.target = target
        self.source = target.source
        self._info: ServerInfo | None = None

    def close(self) -> None:
        import pymysql

        try:
            self.connection.close()
        except pymysql.MySQLError as exc:
            # close() sends COM_QUIT and raises when the socket is already gone.
            logger.debug("closing %s: %s", self.source, type(exc).__name__)

    def _fetch(self, action: str, query: str, params: Any = None) -> list[tuple]:
        import pymysql

        try:
            with self.connection.cursor() as cursor:
                cursor.execute(query, params)
                return list(cursor.fetchall())
        except pymysql.MySQLError as exc:
            raise translate_error(exc, self.target, action) from None

    def _status(self, action: str, query: str) -> dict[str, str]:
        return {name: value for name, value in self._fetch(action, query)}

    def configure(self, statement_timeout: float, lock_timeout: float) -> None:
        """Make the session read-only and bound its statements and lock waits."""
        self._fetch("set read only", q.SESSION_READ_ONLY)
        info = self.server_info()
        if info.product == "MariaDB":
            self._fetch(
                "set timeout", q.MARIADB_STATEMENT_TIMEOUT, (statement_timeout,)
            )
        elif _parse_version(info.version) >= MYSQL_EXECUTION_TIME_SINCE:
            milliseconds = max(1, round(statement_timeout * 1000))
            self._fetch("set timeout", q.MYSQL_STATEMENT_TIMEOUT, (milliseconds,))
        else:
            logger.warning(
                "%s: MySQL %s has no max_execution_time; only the client read "
                "timeout bounds statements",
                self.source,
                info.version,
            )
        # lock_wait_timeout takes whole seconds, at least 1.
        self._fetch(
            "set lock timeout", q.LOCK_WAIT_TIMEOUT, (max(1, round(lock_timeout)),)
        )

    def server_info(self) -> ServerInfo:
        if self._info is None:
            rows = self._fetch("read version", q.SERVER_INFO)
            version_full, database = rows[0]
            # MariaDB reports e.g. "10.11.19-MariaDB-0+deb12u1", MySQL "8.0.36".
            product = "MariaDB" if "mariadb" in version_full.lower() else "MySQL"
            version = version_full.split("-")[0]
            self._info = ServerInfo(product, version, version_full, database)
        return self._info

    def _schemas_in_scope(
        self, schemas: tuple[str, ...] | None
    ) -> tuple[str, ...] | None:
        if schemas is not None:
            return schemas
        if self.target.database:
            return (self.target.database,)
        return None

    def read_identity(self, schemas: tuple[str, ...] | None) -> dict[str, Any]:
        variables = self._status("read server identity", q.IDENTITY)
        scope = self._schemas_in_scope(schemas)
        if variables.get("server_uuid"):
            identity: dict[str, Any] = {"server_uuid": variables["server_uuid"]}
        elif variables.get("hostname") and variables.get("port"):
            # NOTE: two hosts with the same host name (cloned virtual machines
            # or containers) and port would be taken for one server.
            identity = {
                "hostname": variables["hostname"],
                "port": int(variables["port"]),
            }
        else:
            raise errors.BadResponse(
                self.source, "global variables lack server_uuid, hostname and port"
            )
        identity["schemas"] = sorted(scope) if scope is not None else None
        return identity

    def read_table_catalog(self, schemas: tuple[str, ...] | None) -> TableCatalog:
        scope = self._schemas_in_scope(schemas)
        if scope is None:
            rows = self._fetch("read information_schema.TABLES", q.TABLE_CATALOG_ALL)
        elif not scope:
            rows = []
        else:
            rows = self._fetch(
                "read information_schema.TABLES", q.TABLE_CATALOG_IN, (scope,)
            )
        tables = [
            TableEstimate(schema, table, None if rows_ is None else int(rows_))
            for schema, table, rows_ in rows
        ]
        return TableCatalog(tables, self._hidden_tables_reason(scope))

    def _hidden_tables_reason(self, scope: tuple[str, ...] | None) -> str | None:
        """Say why tables may be missing from information_schema, or return None.

        information_schema lists only the tables the account has a privilege
        on. Without SELECT on the whole server or schema, some tables may be
        invisible.
        """
        # TODO: privileges granted through a role and schema grants written
        # with wildcards (GRANT ... ON `app\_%`.*) are not recognised here, so
        # such an account is reported as possibly missing tables.
        (global_select,) = self._fetch("read privileges", q.GLOBAL_SELECT_PRIVILEGE)[0]
        if global_select:
            return None
        rows = self._fetch("read privileges", q.SCHEMAS_WITH_SELECT_PRIVILEGE)
        with_select = {schema for (schema,) in rows}
        if scope is None:
            return (
                "the account has no server-wide SELECT privilege, and "
                "information_schema lists only tables it holds a privilege on"
            )
        missing = sorted(set(scope) - with_select)
        if not missing:
            return None
        return (
            f"the account has no SELECT privilege on the whole of "
            f"{', '.join(missing)}, and information_schema lists only tables it "
            "holds a privilege on"
        )

    def count_rows(self, schema: str, table: str) -> int:
        query = q.COUNT_ROWS.format(_quote_identifier(schema), _quote_identifier(table))
        rows = self._fetch(f"COUNT(*) on {schema}.{table}", query)
        return int(rows[0][0])

    def read_transaction_counters(self) -> CounterReading:
        started = time.monotonic()
        status = self._status("read global status", q.TRANSACTION_COUNTERS)
        finished = time.monotonic()
        try:
            counters = {name: int(value) for name, value in status.items()}
            transactions = counters["Handler_commit"] + counters["Handler_rollback"]
            epoch = counters["Uptime"] - counters["Uptime_since_flush_status"]
        except (KeyError, ValueError) as exc:
            raise errors.BadResponse(
                self.source, f"global status lacks a transaction counter: {exc}"
            ) from None
        return CounterReading(
            transactions=transactions,
            epoch=epoch,
            monotonic_at=(started + finished) / 2,
            counters={
                name: counters[name]
                for name in (
                    "Handler_commit",
                    "Handler_rollback",
                    "Com_commit",
                    "Com_rollback",
                )
                if name in counters
            },
        )

    def read_client_sessions(self) -> Observation:
        status = self._status("read global status", q.CLIENT_SESSIONS)
        if "Threads_connected" not in status:
            raise errors.BadResponse(
                self.source, "global status lacks Threads_connected"
            )
        connected = int(status["Threads_connected"])
        method = (
            "global status Threads_connected, server-wide (all databases), minus "
            "the agent's own connection"
        )
        details = {"threads_connected": connected}
        return Observation(max(0, connected - 1), method, details)

    def read_integrity(self) -> Observation:
        variables = self._status("read global variables", q.INTEGRITY_VARIABLES)
        status = self._status("read global status", q.INTEGRITY_STATUS)
        return judge_integrity(variables, status)


def _on(value: str | None) -> bool:
    return (value or "").upper() in ("ON", "1", "YES", "TRUE")


def _number(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def judge_integrity(variables: dict[str, str], status: dict[str, str]) -> Observation:
    """Decide whether commits are guaranteed beyond one server, from the settings.

    The tool's policy gives true in three cases. Semi-synchronous replication is
    enabled and active with at least one replica connected. Galera (wsrep) is on
    and ready in a cluster of at least two nodes. XA transactions have committed
    since the status counters were last reset; InnoDB always supports XA, so use
    is the whole condition for it.
    """
    semi_sync_enabled = _on(
        variables.get("rpl_semi_sync_master_enabled")
        or variables.get("rpl_semi_sync_source_enabled")
    )
    semi_sync_status = _on(
        status.get("Rpl_semi_sync_master_status")
        or status.get("Rpl_semi_sync_source_status")
    )
    semi_sync_clients = _number(
        status.get("Rpl_semi_sync_master_clients")
        or status.get("Rpl_semi_sync_source_clients")
    )
    wsrep_on = _on(variables.get("wsrep_on"))
    wsrep_ready = _on(status.get("wsrep_ready"))
    cluster_size = _number(status.get("wsrep_cluster_size"))
    xa_commits = _number(status.get("Com_xa_commit"))

    semi_sync = semi_sync_enabled and semi_sync_status and semi_sync_clients > 0
    galera = wsrep_on and wsrep_ready and cluster_size >= 2
    xa_in_use = xa_commits > 0
    details = {
        "rpl_semi_sync_master_enabled": semi_sync_enabled,
        "rpl_semi_sync_master_status": semi_sync_status,
        "rpl_semi_sync_master_clients": semi_sync_clients,
        "wsrep_on": wsrep_on,
        "wsrep_ready": wsrep_ready,
        "wsrep_cluster_size": cluster_size,
        "com_xa_commit": xa_commits,
        "semi_synchronous_replication": semi_sync,
        "galera_cluster": galera,
        "xa_in_use": xa_in_use,
    }
    method = (
        "rpl_semi_sync_master_enabled with Rpl_semi_sync_master_status and _clients, "
        "wsrep_on with wsrep_ready and wsrep_cluster_size, and Com_xa_commit; true "
        "when semi-synchronous replication or Galera is active or XA commits occurred"
    )
    return Observation(semi_sync or galera or xa_in_use, method, details)
