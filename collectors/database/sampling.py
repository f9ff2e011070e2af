"""Transaction rate from two readings of a server's cumulative counters.

The rate is a short sample at scan time, so the collector records it as a lower
bound on the peak over a window: a server idle during the sample reports a low
rate whatever its daily peak is.

PostgreSQL 15+ backends publish their counters to shared memory at most once a
second (PGSTAT_MIN_INTERVAL). A backend that finds the counters' lock busy keeps
its commits pending and tries again later, and waits for the lock only once
they have been pending for 60 s (PGSTAT_MAX_INTERVAL). An idle backend
publishes what is left after up to 10 s (PGSTAT_IDLE_INTERVAL). All three are
in src/backend/utils/activity/pgstat.c. A short sample under load can therefore
miss many of the commits made during it. The session's own first reading adds
at most one transaction to the sample.

NOTE: commits made before the first reading and published during the sample
are counted too, so under lock contention a PostgreSQL sample can also exceed
the rate over the seconds it covers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from collectors.database.readings import CounterReading, DatabaseSession, Observation

logger = logging.getLogger(__name__)


class InvalidSample(Exception):
    """Two counter readings that cannot give a rate; the message gives the reason."""


def measure_transaction_rate(
    session: DatabaseSession,
    seconds: float,
    wait: Callable[[float], None] = time.sleep,
) -> Observation:
    """Read the counters, wait `seconds`, read them again and return the rate.

    The session runs nothing else between the readings, so the agent's own
    queries stay out of the sample. `wait` is called once with the seconds left.
    Raises InvalidSample when the counters were reset in between, and a
    SourceError when a reading fails.
    """
    first = session.read_transaction_counters()
    wait(max(0.0, first.monotonic_at + seconds - time.monotonic()))
    second = session.read_transaction_counters()
    return transaction_rate(
        first, second, session.transactions_method, session.transactions_delay
    )


def transaction_rate(
    first: CounterReading,
    second: CounterReading,
    counters_method: str,
    counters_delay: str | None = None,
) -> Observation:
    """Return transactions per second between two readings of the same server."""
    if second.epoch != first.epoch:
        raise InvalidSample(
            "the server's statistics were reset during the sample "
            f"(reset marker {first.epoch} changed to {second.epoch})"
        )
    delta = second.transactions - first.transactions
    if delta < 0:
        raise InvalidSample(
            f"the transaction counter went down from {first.transactions} to "
            f"{second.transactions}, so the statistics were reset or the server "
            "restarted during the sample"
        )
    elapsed = second.monotonic_at - first.monotonic_at
    if elapsed <= 0:
        raise InvalidSample(f"the readings are {elapsed:.3f} s apart")
    method = (
        f"{counters_method}, read twice {elapsed:.1f} s apart: a short sample at "
        "scan time, so a lower bound on the peak over a window"
    )
    if counters_delay:
        method += f"; {counters_delay}"
    details = {
        "transactions": delta,
        "seconds": round(elapsed, 3),
        "counters_first": first.counters,
        "counters_second": second.counters,
    }
    return Observation(round(delta / elapsed, 3), method, details)
