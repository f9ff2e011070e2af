"""Row totals: catalog estimates, exact counts near the threshold, and the fact.

Phase 1 sums the catalog's row estimates (one query per database) and counts
exactly only the tables the catalog has no estimate for. When the total over
all databases lies within the exact band around the records threshold, phase 2
counts every table with count(*), each bounded by the statement timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from collectors import errors
from collectors.database.readings import DatabaseSession, TableCatalog, TableEstimate

logger = logging.getLogger(__name__)

# Tables listed by name in the fact's details; the rest are only counted.
LISTED_TABLES = 20

EXACT = "exact"
ESTIMATE = "estimate"
NOT_COUNTED = "not counted"


@dataclass
class TableTally:
    """One table's estimate and, once counted, its exact row count."""

    table: TableEstimate
    exact: int | None = None
    # Why count(*) failed: "timed out", "permission denied" and so on.
    count_failure: str | None = None

    @property
    def rows(self) -> int | None:
        return self.exact if self.exact is not None else self.table.estimate

    @property
    def how(self) -> str:
        if self.exact is not None:
            return EXACT
        if self.table.estimate is not None:
            return ESTIMATE
        return NOT_COUNTED

    def describe(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "schema": self.table.schema,
            "table": self.table.table,
            "rows": self.rows,
            "how": self.how,
        }
        if self.count_failure:
            entry["count_failure"] = self.count_failure
        if self.table.row_security:
            entry["row_security"] = True
        return entry


@dataclass
class DatabaseTally:
    """The tables of one database and how each one's rows were obtained."""

    tables: list[TableTally]
    hidden_tables_reason: str | None = None
    exact_phase: bool = False
    # The grand total, threshold and band that decided whether phase 2 ran.
    band_check: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_catalog(cls, catalog: TableCatalog) -> DatabaseTally:
        tables = [TableTally(table) for table in catalog.tables]
        return cls(tables, catalog.hidden_tables_reason)

    @property
    def total(self) -> int:
        return sum(tally.rows or 0 for tally in self.tables)

    @property
    def exact_total(self) -> int:
        """Rows counted with count(*); estimates add nothing."""
        return sum(tally.exact or 0 for tally in self.tables)

    def by_how(self, how: str) -> list[TableTally]:
        return [tally for tally in self.tables if tally.how == how]

    @property
    def failed_counts(self) -> list[TableTally]:
        return [tally for tally in self.tables if tally.count_failure]

    @property
    def is_lower_bound(self) -> bool:
        row_security = any(
            tally.table.row_security and tally.how == EXACT for tally in self.tables
        )
        return (
            bool(self.by_how(NOT_COUNTED))
            or self.hidden_tables_reason is not None
            or row_security
        )

    @property
    def is_uncertain(self) -> bool:
        """True when a table kept its estimate because its exact count failed."""
        return any(tally.how == ESTIMATE for tally in self.failed_counts)


def count_table(session: DatabaseSession, tally: TableTally) -> None:
    """Count one table exactly; on failure record why and keep the estimate."""
    table = tally.table
    if not table.readable:
        tally.count_failure = "no SELECT privilege"
        return
    if table.row_security and table.estimate is not None:
        # count(*) would return only the rows the policies let this role see,
        # which is less precise than the catalog's estimate of all rows.
        tally.count_failure = "row-level security filters count(*)"
        return
    try:
        tally.exact = session.count_rows(table.schema, table.table)
    except errors.SourceTimeout as exc:
        tally.count_failure = "timed out"
        logger.debug("count(*) timed out: %s", exc)
    except errors.PermissionDenied as exc:
        tally.count_failure = "permission denied"
        logger.debug("count(*) not permitted: %s", exc)
    except errors.SourceError as exc:
        tally.count_failure = exc.reason
        logger.debug("count(*) failed: %s", exc)


def _count_each(session: DatabaseSession, tallies: list[TableTally]) -> None:
    """Count the tables exactly and log one line for all failed counts."""
    for tally in tallies:
        count_table(session, tally)
    failed = [tally for tally in tallies if tally.count_failure]
    if failed:
        logger.warning(
            "%s: count(*) failed for %d of %d tables (%s), first %s.%s",
            session.source,
            len(failed),
            len(tallies),
            _reasons(failed),
            failed[0].table.schema,
            failed[0].table.table,
        )


def count_tables_without_estimate(
    session: DatabaseSession, tally: DatabaseTally
) -> None:
    """Phase 1: count exactly the tables the catalog has no estimate for."""
    pending = [t for t in tally.tables if t.table.estimate is None]
    _count_each(session, pending)


def count_all_tables(session: DatabaseSession, tally: DatabaseTally) -> None:
    """Phase 2: count exactly every table not counted or tried yet."""
    tally.exact_phase = True
    pending = [t for t in tally.tables if t.exact is None and t.count_failure is None]
    _count_each(session, pending)


def within_band(total: int, threshold: int, band: float) -> bool:
    """True when `total` is within ±band (a fraction) of `threshold`."""
    return abs(total - threshold) <= band * threshold


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe_method(
    session: DatabaseSession, tally: DatabaseTally, threshold: int, band: float
) -> str:
    """Say what was estimated, what was counted exactly and what was left out."""
    exact = len(tally.by_how(EXACT))
    estimated = len(tally.by_how(ESTIMATE))
    if tally.exact_phase:
        grand_total = tally.band_check.get("estimated_total_all_databases", 0)
        first = (
            f"exact count(*) for {_plural(exact, 'table')}, because the estimated "
            f"total over all databases ({grand_total:,}) was within {band:.0%} of "
            f"the {threshold:,}-row threshold"
        )
        obtained = [first]
        if estimated:
            obtained.append(f"{session.estimate_source} estimate for {estimated} more")
    else:
        obtained = [
            f"{session.estimate_source} estimate for {_plural(estimated, 'table')}"
        ]
        if exact:
            tables = session.no_estimate_template.format(
                count=exact, tables="table" if exact == 1 else "tables"
            )
            obtained.append(f"exact count(*) for {tables}")
    return "; ".join([", ".join(obtained), *_caveats(tally)])


def _caveats(tally: DatabaseTally) -> list[str]:
    caveats = []
    kept = [t for t in tally.failed_counts if t.how == ESTIMATE]
    if kept:
        caveats.append(
            f"{_plural(len(kept), 'table')} kept the estimate because count(*) "
            f"failed ({_reasons(kept)})"
        )
    not_counted = tally.by_how(NOT_COUNTED)
    if not_counted:
        caveats.append(
            f"{_plural(len(not_counted), 'table')} not counted "
            f"({_reasons(not_counted)})"
        )
    if any(t.table.row_security and t.how == EXACT for t in tally.tables):
        caveats.append("row-level security hides rows from some exact counts")
    if tally.hidden_tables_reason:
        caveats.append(f"tables may be missing: {tally.hidden_tables_reason}")
    return caveats


def _reasons(tallies: list[TableTally]) -> str:
    reasons = sorted({tally.count_failure or "no estimate" for tally in tallies})
    return ", ".join(reasons)


def describe_details(
    tally: DatabaseTally, schemas: tuple[str, ...] | None
) -> dict[str, Any]:
    """Return the largest tables, table counts, band check and any lower bound."""
    counted = [t for t in tally.tables if t.rows is not None]
    counted.sort(key=lambda t: (-(t.rows or 0), t.table.schema, t.table.table))
    not_counted = tally.by_how(NOT_COUNTED)
    details: dict[str, Any] = {
        "largest_tables": [t.describe() for t in counted[:LISTED_TABLES]],
        "tables_total": len(tally.tables),
        "tables_exact": len(tally.by_how(EXACT)),
        "tables_estimated": len(tally.by_how(ESTIMATE)),
        "tables_not_counted": len(not_counted),
        "not_counted": [t.describe() for t in not_counted[:LISTED_TABLES]],
        "count_failures": len(tally.failed_counts),
        "exact_phase": tally.exact_phase,
        "schemas": list(schemas) if schemas is not None else None,
    }
    details.update(tally.band_check)
    if tally.is_uncertain or tally.is_lower_bound:
        # Rows known to exist, from exact counts only. When they alone exceed
        # a threshold, so does the uncertain or partial total.
        details["lower_bound"] = tally.exact_total
    if tally.hidden_tables_reason:
        details["hidden_tables"] = tally.hidden_tables_reason
    return details
