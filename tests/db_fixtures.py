"""Helpers for the database tests, which give each test its own database.

PostgreSQL 15 on 127.0.0.1:5432 (user postgres, trust auth) and MariaDB on
127.0.0.1:3306 (root, empty password). Databases and roles are named tca_*
with a random suffix and dropped after the test.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator

import psycopg
import pymysql
from psycopg import sql

from collectors.base import Fact, Findings

HOST = "127.0.0.1"
PG_PORT = 5432
PG_ADMIN_USER = "postgres"
MYSQL_PORT = 3306
MYSQL_ADMIN_USER = "root"


def unique_name(prefix: str = "tca") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def pg_connect(dbname: str, autocommit: bool = True) -> psycopg.Connection:
    """Open a superuser connection to `dbname`, autocommit by default."""
    return psycopg.connect(
        host=HOST,
        port=PG_PORT,
        user=PG_ADMIN_USER,
        dbname=dbname,
        autocommit=autocommit,
    )


def mysql_connect(database: str | None = None) -> pymysql.Connection:
    """Open an autocommit root connection, with `database` as the default."""
    return pymysql.connect(
        host=HOST,
        port=MYSQL_PORT,
        user=MYSQL_ADMIN_USER,
        password="",
        database=database,
        autocommit=True,
    )


def free_port() -> int:
    """Return a loopback TCP port that nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """Listen on a loopback port; yield the port, whose connections get no reply.

    The kernel completes each TCP handshake, but nothing ever reads or writes,
    so a client waits for the server's first message until its own timeout.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind((HOST, 0))
        listener.listen(8)
        yield listener.getsockname()[1]
    finally:
        listener.close()


def facts_by_key(findings: Findings, scope: str | None = None) -> dict[str, Fact]:
    """Return the recorded facts by key, for one scope when given."""
    facts, _, _ = findings.snapshot()
    return {fact.key: fact for fact in facts if scope is None or fact.scope == scope}


def gaps_by_key(findings: Findings, scope: str | None = None) -> dict[str, str]:
    """Return the recorded gaps' reasons by key, for one scope when given."""
    _, gaps, _ = findings.snapshot()
    return {gap.key: gap.reason for gap in gaps if scope is None or gap.scope == scope}


def all_recorded_text(findings: Findings) -> str:
    """Return every fact, gap and note as one string, to search for secrets."""
    facts, gaps, notes = findings.snapshot()
    parts = [repr(fact.to_dict()) for fact in facts]
    parts += [repr(gap.to_dict()) for gap in gaps]
    parts += notes
    return "\n".join(parts)


@contextlib.contextmanager
def temporary_pg_database() -> Iterator[str]:
    """Create an empty PostgreSQL database and drop it on exit, sessions and all."""
    name = unique_name()
    with pg_connect("postgres") as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with pg_connect("postgres") as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


@contextlib.contextmanager
def temporary_mysql_database() -> Iterator[str]:
    """Create an empty MariaDB database and drop it on exit."""
    name = unique_name()
    with mysql_connect() as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
    try:
        yield name
    finally:
        with mysql_connect() as admin, admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
