"""The result type the host readers return, and the error for missing evidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collectors import errors


@dataclass(frozen=True)
class Reading:
    """One value a reader established, with the method and evidence behind it."""

    value: Any
    method: str
    details: dict[str, Any] | None = None
    uncertain: bool = False
    bound: str | None = None
    provenance: str = "measured"


@dataclass(frozen=True)
class Missing:
    """A key a reader could not establish, with the reason code and why."""

    key: str
    reason: str
    message: str


class NoData(errors.SourceError):
    """The evidence a reader needs is absent, so the fact cannot be established."""

    reason = errors.NO_DATA
