"""SQL the MySQL/MariaDB session runs. Values are bound as parameters.

pymysql substitutes parameters on the client with its own escaping, and expands
a tuple bound to `IN %s` into a parenthesised list.
"""

from __future__ import annotations

SERVER_INFO = "SELECT VERSION(), DATABASE()"

# MySQL 5.6+ generates server_uuid at first start; MariaDB has no such
# variable, so hostname and port stand in for it there.
IDENTITY = """
SHOW GLOBAL VARIABLES WHERE Variable_name IN ('server_uuid', 'hostname', 'port')
"""

# Applies to every later transaction of the session, autocommit statements too.
SESSION_READ_ONLY = "SET SESSION TRANSACTION READ ONLY"
# MariaDB 10.1+: seconds, fractions allowed, applies to every statement.
MARIADB_STATEMENT_TIMEOUT = "SET SESSION max_statement_time = %s"
# MySQL 5.7.8+: milliseconds, applies to SELECT statements only.
MYSQL_STATEMENT_TIMEOUT = "SET SESSION max_execution_time = %s"
# Whole seconds a statement waits for a metadata lock, for example behind an
# ALTER TABLE. Row locks do not block the consistent reads the session runs.
LOCK_WAIT_TIMEOUT = "SET SESSION lock_wait_timeout = %s"

# MariaDB reports a system-versioned table as 'SYSTEM VERSIONED' instead of
# 'BASE TABLE'; both contain rows. TABLE_ROWS is NULL where the engine keeps no
# estimate.
_TABLE_CATALOG = """
SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS
FROM information_schema.TABLES
WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
  AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
"""
TABLE_CATALOG_ALL = _TABLE_CATALOG
TABLE_CATALOG_IN = _TABLE_CATALOG + "  AND TABLE_SCHEMA IN %s\n"

# Filled with backtick-quoted identifiers.
COUNT_ROWS = "SELECT COUNT(*) FROM {}.{}"

# information_schema writes a grantee as 'user'@'host', CURRENT_USER() as
# user@host.
_GRANTEE = (
    "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', "
    "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')"
)
GLOBAL_SELECT_PRIVILEGE = f"""
SELECT COUNT(*)
FROM information_schema.USER_PRIVILEGES
WHERE PRIVILEGE_TYPE = 'SELECT' AND GRANTEE = {_GRANTEE}
"""
SCHEMAS_WITH_SELECT_PRIVILEGE = f"""
SELECT DISTINCT TABLE_SCHEMA
FROM information_schema.SCHEMA_PRIVILEGES
WHERE PRIVILEGE_TYPE = 'SELECT' AND GRANTEE = {_GRANTEE}
"""

# Handler_commit counts engine commits. On MariaDB 10.11 an autocommit statement
# on an InnoDB table adds 1 (a SELECT too), and an explicit transaction of k
# statements adds k + 1, because each statement's own commit is counted as
# well. Com_commit and Com_rollback count only explicit COMMIT and ROLLBACK
# statements, so they miss autocommit work entirely. Handler_commit +
# Handler_rollback is therefore the rate, and Com_* is kept as a lower bound.
# Uptime - Uptime_since_flush_status stays constant until FLUSH STATUS or a
# restart, so it marks a counter reset.
TRANSACTION_COUNTERS = """
SHOW GLOBAL STATUS WHERE Variable_name IN (
    'Handler_commit', 'Handler_rollback', 'Com_commit', 'Com_rollback',
    'Uptime', 'Uptime_since_flush_status'
)
"""

CLIENT_SESSIONS = "SHOW GLOBAL STATUS WHERE Variable_name = 'Threads_connected'"

# MySQL 8.0.26+ names the semi-synchronous replication variables "source"
# instead of "master"; whichever the server has is read.
INTEGRITY_VARIABLES = """
SHOW GLOBAL VARIABLES WHERE Variable_name IN (
    'rpl_semi_sync_master_enabled', 'rpl_semi_sync_source_enabled', 'wsrep_on'
)
"""
INTEGRITY_STATUS = """
SHOW GLOBAL STATUS WHERE Variable_name IN (
    'Rpl_semi_sync_master_status', 'Rpl_semi_sync_master_clients',
    'Rpl_semi_sync_source_status', 'Rpl_semi_sync_source_clients',
    'wsrep_ready', 'wsrep_cluster_size', 'Com_xa_commit'
)
"""
