"""The fact record and the contract every collector follows.

A collector observes one evidence source and records facts into a `Findings`
object that the runner hands it. It never decides a criterion. When part of its
source fails it records a gap for the keys it could not establish, so the report
can explain why those facts are missing instead of reading their absence as
"none".
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from collectors import errors

PROVENANCES = ("measured", "derived", "declared")


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string with a Z suffix."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Fact:
    """One observation of one vocabulary key in one scope.

    `bound` is "lower" when the value is a lower bound (some part could not be
    read), and `uncertain` marks an estimate that a check could not confirm.
    """

    key: str
    value: Any
    source: str
    method: str
    scope: str
    unit: str | None = None
    provenance: str = "measured"
    observed_at: str = field(default_factory=utc_now)
    details: dict[str, Any] | None = None
    bound: str | None = None
    uncertain: bool = False

    def __post_init__(self) -> None:
        if self.provenance not in PROVENANCES:
            raise ValueError(
                f"fact {self.key}: provenance {self.provenance!r} is not one of "
                f"{', '.join(PROVENANCES)}"
            )
        if self.bound not in (None, "lower"):
            raise ValueError(f"fact {self.key}: bound must be None or 'lower'")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "value": self.value,
            "unit": self.unit,
            "provenance": self.provenance,
            "source": self.source,
            "method": self.method,
            "scope": self.scope,
            "observed_at": self.observed_at,
        }
        if self.details is not None:
            data["details"] = self.details
        if self.bound is not None:
            data["bound"] = self.bound
        if self.uncertain:
            data["uncertain"] = True
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fact:
        return cls(
            key=data["key"],
            value=data["value"],
            unit=data.get("unit"),
            provenance=data.get("provenance", "measured"),
            source=data.get("source", ""),
            method=data.get("method", ""),
            scope=data.get("scope", ""),
            observed_at=data.get("observed_at") or utc_now(),
            details=data.get("details"),
            bound=data.get("bound"),
            uncertain=bool(data.get("uncertain", False)),
        )


@dataclass(frozen=True)
class Gap:
    """A key the collector looked for and could not establish, with the reason."""

    key: str
    reason: str
    message: str
    scope: str = ""

    def __post_init__(self) -> None:
        if self.reason not in errors.REASON_CODES:
            raise ValueError(f"gap {self.key}: unknown reason code {self.reason!r}")

    def to_dict(self) -> dict[str, str]:
        return {
            "key": self.key,
            "reason": self.reason,
            "message": self.message,
            "scope": self.scope,
        }


class Findings:
    """Facts and gaps recorded by one collector run.

    Thread-safe, because the runner reads what a collector has recorded so far
    when it cuts that collector at its timeout.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._facts: list[Fact] = []
        self._gaps: list[Gap] = []
        self._notes: list[str] = []

    def add(self, fact: Fact) -> None:
        with self._lock:
            self._facts.append(fact)

    def gap(self, key: str, reason: str, message: str, scope: str = "") -> None:
        with self._lock:
            self._gaps.append(Gap(key, reason, message, scope))

    def note(self, message: str) -> None:
        """Record a warning that does not cost a fact (shown with the collector)."""
        with self._lock:
            self._notes.append(message)

    def snapshot(self) -> tuple[list[Fact], list[Gap], list[str]]:
        with self._lock:
            return list(self._facts), list(self._gaps), list(self._notes)


class Collector:
    """Base class: a named source that records facts for the keys in `provides`.

    Subclasses implement `collect`. They raise a `errors.SourceError` when the
    whole source fails, and record a gap per key when only part of it does.
    """

    name: ClassVar[str] = ""
    provides: ClassVar[tuple[str, ...]] = ()
    # Seconds the runner waits before cutting the collector, unless configured.
    default_timeout: ClassVar[float] = 60.0

    def collect(self, findings: Findings) -> None:
        raise NotImplementedError
