"""Fixtures shared by the tests: the built-in rules and a free loopback port."""

from __future__ import annotations

import pytest

from rules.pack import load_pack
from rules.vocabulary import load_vocabulary


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
