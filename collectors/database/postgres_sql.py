"""SQL the PostgreSQL session runs. Values are bound as parameters.

Every statement is a read of the catalog or the statistics views, so it runs
inside the session's READ ONLY transactions.
"""

from __future__ import annotations

SERVER_INFO = """
SELECT current_setting('server_version'),
       current_setting('server_version_num')::int,
       current_database()
"""

# system_identifier is set by initdb and shared by a primary and its physical
# standbys, which contain the same rows. The oid distinguishes the databases
# of one cluster.
IDENTITY = """
SELECT (SELECT system_identifier FROM pg_catalog.pg_control_system())::text,
       (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
"""

# One row per leaf table. relkind 'r' covers plain tables and partitions but not
# a partitioned parent ('p'), so a partitioned table's rows are counted once.
# PostgreSQL 14+ stores reltuples = -1 for a table never vacuumed or analysed.
# Before 14 such a table has reltuples = 0 and relpages = 0, the same as an
# analysed empty table, and counting an empty table exactly costs nothing.
# has_any_column_privilege is true with table-level SELECT or SELECT on any
# column, either of which is enough for count(*).
TABLE_CATALOG = """
SELECT n.nspname,
       c.relname,
       CASE
           WHEN c.reltuples < 0 THEN NULL
           WHEN c.reltuples = 0 AND c.relpages = 0
                AND current_setting('server_version_num')::int < 140000 THEN NULL
           ELSE c.reltuples::bigint
       END,
       coalesce(has_any_column_privilege(c.oid, 'SELECT'), false),
       coalesce(row_security_active(c.oid), false)
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%'
  AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[]))
"""

# Filled with psycopg.sql.Identifier for the schema and the table.
COUNT_ROWS = "SELECT count(*) FROM {}.{}"

# With stats_fetch_consistency = cache (the default) or snapshot, a transaction
# keeps the statistics it has read until it ends or this function is called.
CLEAR_STATS_SNAPSHOT = "SELECT pg_catalog.pg_stat_clear_snapshot()"

TRANSACTION_COUNTERS = """
SELECT xact_commit, xact_rollback, stats_reset
FROM pg_catalog.pg_stat_database
WHERE datname = current_database()
"""

# For a role without pg_read_all_stats, other roles' sessions show backend_type
# NULL, so those rows are counted separately as sessions of unknown type.
CLIENT_SESSIONS = """
SELECT count(*) FILTER (WHERE backend_type = 'client backend'
                          AND datname = current_database()),
       count(*) FILTER (WHERE backend_type IS NULL
                          AND datname = current_database()),
       count(*) FILTER (WHERE backend_type = 'client backend')
FROM pg_catalog.pg_stat_activity
WHERE pid <> pg_backend_pid()
"""

# For a role without pg_read_all_stats, pg_stat_replication shows every column
# but pid as NULL, so sync_state is NULL too.
INTEGRITY = """
SELECT current_setting('synchronous_standby_names'),
       current_setting('synchronous_commit'),
       current_setting('max_prepared_transactions')::int,
       (SELECT count(*) FROM pg_catalog.pg_stat_replication),
       (SELECT count(*) FROM pg_catalog.pg_stat_replication
        WHERE sync_state IN ('sync', 'quorum')),
       (SELECT count(*) FROM pg_catalog.pg_stat_replication
        WHERE sync_state IS NULL),
       (SELECT count(*) FROM pg_catalog.pg_prepared_xacts)
"""
