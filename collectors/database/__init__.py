"""Database collector for PostgreSQL, MySQL and MariaDB.

Importing this package loads no database driver; psycopg and pymysql are
imported when the first connection to their engine opens.
"""

from collectors.database.collector import DatabaseCollector
from collectors.database.target import DatabaseTarget

__all__ = ["DatabaseCollector", "DatabaseTarget"]
