"""Errors a collector raises when its source cannot give evidence.

Each error carries the source it was reading and a reason code that the report
shows next to the facts it cost. Messages must never contain a secret: build them
from host, port, database and user names, not from DSNs or exception text that may
echo a password back.
"""

from __future__ import annotations

# Reason codes, shared with the report. A missing fact is explained by one of them.
NOT_CONFIGURED = "not_configured"
SOURCE_FAILED = "source_failed"
UNREACHABLE = "unreachable"
AUTHENTICATION_FAILED = "authentication_failed"
PERMISSION_DENIED = "permission_denied"
BAD_RESPONSE = "bad_response"
TIMED_OUT = "timed_out"
NO_DATA = "no_data"
CRASHED = "crashed"
# Used by the rules only: a declaration past its expiry date.
EXPIRED = "expired"

REASON_CODES = (
    NOT_CONFIGURED,
    SOURCE_FAILED,
    UNREACHABLE,
    AUTHENTICATION_FAILED,
    PERMISSION_DENIED,
    BAD_RESPONSE,
    TIMED_OUT,
    NO_DATA,
    CRASHED,
    EXPIRED,
)


class SourceError(Exception):
    """A source that could not be read; `reason` is one of REASON_CODES."""

    reason = SOURCE_FAILED

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


class SourceUnreachable(SourceError):
    reason = UNREACHABLE


class AuthenticationFailed(SourceError):
    reason = AUTHENTICATION_FAILED


class PermissionDenied(SourceError):
    reason = PERMISSION_DENIED


class BadResponse(SourceError):
    reason = BAD_RESPONSE


class SourceTimeout(SourceError):
    reason = TIMED_OUT
