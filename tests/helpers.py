"""Builders shared by the tests: report fact entries and the scan date."""

from __future__ import annotations

import datetime as dt

TODAY = dt.date(2026, 12, 4)


def fact(key, value, *, scope="main", provenance="measured", source="test", **extra):
    """A report fact entry as a collector would record it."""
    entry = {
        "key": key,
        "value": value,
        "unit": None,
        "provenance": provenance,
        "source": source,
        "method": "set by the test",
        "scope": scope,
        "observed_at": "2026-12-04T00:00:00Z",
    }
    entry.update(extra)
    return entry
