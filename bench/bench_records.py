"""Benchmark the database collector's row count against SELECT count(*).

Run from the repository root against a local PostgreSQL server with trust auth:

    PYTHONPATH=. python bench/bench_records.py [--rows N] [--tables N] [--keep]

Part 1 loads one table of --rows rows (one int column) into its own database,
runs ANALYZE, then times the collector's row count (connect, one catalog query,
sum) against one SELECT count(*) and reports the ratio and the estimate's error.
Part 2 creates --tables small ANALYZEd tables in a second database and times the
collector's estimate phase over them. The peak RSS of this process is printed
last. Both databases are dropped at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import time

import psycopg
from psycopg import sql

from collectors.base import Findings
from collectors.database import DatabaseCollector, DatabaseTarget
from collectors.database.records import DatabaseTally, count_tables_without_estimate

logger = logging.getLogger("bench_records")

ROWS_DATABASE = "tca_bench_rows"
TABLES_DATABASE = "tca_bench_tables"
# Tables created per transaction: each CREATE TABLE keeps a lock until commit,
# and the lock table has room for max_locks_per_transaction x max_connections.
TABLES_PER_BATCH = 500
ROWS_PER_SMALL_TABLE = 10

# Creates tables t_<lo>..t_<hi> with a few rows each. The bounds are bound
# parameters; format() with %I quotes the generated names.
MAKE_TABLES_FUNCTION = """
CREATE FUNCTION make_tables(lo int, hi int, per_table int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN lo..hi LOOP
        EXECUTE format('CREATE TABLE %I (id int)', 't_' || i);
        EXECUTE format('INSERT INTO %I SELECT generate_series(1, $1)', 't_' || i)
            USING per_table;
    END LOOP;
END
$$
"""
MAKE_TABLES = "SELECT make_tables(%s, %s, %s)"
LOAD_ROWS = "INSERT INTO numbers SELECT generate_series(1, %s)"
COUNT_ROWS = "SELECT count(*) FROM numbers"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5432)
    parser.add_argument("--user", default="postgres")
    parser.add_argument(
        "--rows", type=int, default=60_000_000, help="rows in the large table"
    )
    parser.add_argument(
        "--tables", type=int, default=10_000, help="number of small tables"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep both databases after the run"
    )
    return parser.parse_args()


def admin_connection(args: argparse.Namespace, dbname: str) -> psycopg.Connection:
    return psycopg.connect(
        host=args.host, port=args.port, user=args.user, dbname=dbname, autocommit=True
    )


def recreate_database(args: argparse.Namespace, name: str) -> None:
    with admin_connection(args, "postgres") as admin:
        identifier = sql.Identifier(name)
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier)
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(identifier))


def drop_database(args: argparse.Namespace, name: str) -> None:
    with admin_connection(args, "postgres") as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )


def target_for(args: argparse.Namespace, dbname: str) -> DatabaseTarget:
    dsn = f"postgresql://{args.user}@{args.host}:{args.port}/{dbname}"
    return DatabaseTarget(name=dbname, dsn=dsn)


def timed_estimate(collector: DatabaseCollector, target: DatabaseTarget):
    """Run the collector's phase 1 row count and return (total, tables, seconds).

    The time covers what the collector does for one database: connect, read the
    catalog in one query, count tables without an estimate, and sum.
    """
    started = time.perf_counter()
    session = collector.connect(target)
    try:
        tally = DatabaseTally.from_catalog(session.read_table_catalog(None))
        count_tables_without_estimate(session, tally)
        total = tally.total
    finally:
        session.close()
    return total, len(tally.tables), time.perf_counter() - started


def bench_large_table(args: argparse.Namespace, collector: DatabaseCollector) -> None:
    recreate_database(args, ROWS_DATABASE)
    started = time.perf_counter()
    with admin_connection(args, ROWS_DATABASE) as conn:
        conn.execute("CREATE TABLE numbers (n int)")
        conn.execute(LOAD_ROWS, (args.rows,))
        conn.execute("ANALYZE numbers")
    print(
        f"loaded and analysed {args.rows:,} rows in {time.perf_counter() - started:.1f} s"
    )

    estimate, _, agent_seconds = timed_estimate(
        collector, target_for(args, ROWS_DATABASE)
    )
    with admin_connection(args, ROWS_DATABASE) as conn:
        started = time.perf_counter()
        (actual,) = conn.execute(COUNT_ROWS).fetchone()
        count_seconds = time.perf_counter() - started
    error = abs(estimate - actual) / actual
    print(f"collector row count: {estimate:,} rows in {agent_seconds * 1000:.1f} ms")
    print(f"SELECT count(*):     {actual:,} rows in {count_seconds * 1000:.1f} ms")
    print(f"time ratio (collector / count(*)): 1/{count_seconds / agent_seconds:,.0f}")
    print(f"estimate error: {error:.4%}")


def bench_many_tables(args: argparse.Namespace, collector: DatabaseCollector) -> None:
    recreate_database(args, TABLES_DATABASE)
    started = time.perf_counter()
    with admin_connection(args, TABLES_DATABASE) as conn:
        conn.execute(MAKE_TABLES_FUNCTION)
        for low in range(1, args.tables + 1, TABLES_PER_BATCH):
            high = min(low + TABLES_PER_BATCH - 1, args.tables)
            conn.execute(MAKE_TABLES, (low, high, ROWS_PER_SMALL_TABLE))
        conn.execute("ANALYZE")
    print(
        f"created and analysed {args.tables:,} tables in "
        f"{time.perf_counter() - started:.1f} s"
    )
    target = target_for(args, TABLES_DATABASE)
    total, tables, seconds = timed_estimate(collector, target)
    print(
        f"estimate phase: {tables:,} tables, {total:,} rows in {seconds * 1000:.1f} ms"
    )

    findings = Findings()
    started = time.perf_counter()
    DatabaseCollector([target], tps_sample_seconds=0.1).collect(findings)
    print(
        "full collect (0.1 s TPS sample included): "
        f"{time.perf_counter() - started:.2f} s"
    )


def print_machine(args: argparse.Namespace) -> None:
    with admin_connection(args, "postgres") as conn:
        (version,) = conn.execute("SHOW server_version").fetchone()
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    print(
        f"CPUs: {os.cpu_count()}, memory: {pages / 2**30:.1f} GiB, PostgreSQL {version}"
    )


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    args = parse_args()
    print_machine(args)
    collector = DatabaseCollector([])
    try:
        bench_large_table(args, collector)
        bench_many_tables(args, collector)
    finally:
        if not args.keep:
            drop_database(args, ROWS_DATABASE)
            drop_database(args, TABLES_DATABASE)
    # ru_maxrss is in kilobytes on Linux.
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS: {peak_kib / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
