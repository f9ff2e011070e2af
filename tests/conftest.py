"""Shared test helpers: facts as the report holds them, and the built-in rules."""

from __future__ import annotations

import datetime as dt

import pytest

from rules.pack import load_pack
from rules.vocabulary import load_vocabulary

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


@pytest.fixture(scope="session")
def vocabulary():
    return load_vocabulary()


@pytest.fixture(scope="session")
def pack(vocabulary):
    return load_pack("order-308", vocabulary)


@pytest.fixture
def free_port():
    """A loopback TCP port that nothing listens on (connections are refused)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
