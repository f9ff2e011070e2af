"""Logging setup: plain or JSON lines, with every known secret masked."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading

MASK = "***"


class Redactor:
    """Masks the secret values the config loaded, wherever text leaves the agent."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str | None) -> None:
        # Very short values would mask ordinary words; a secret of under four
        # characters is masked only where it appears alone.
        if secret:
            with self._lock:
                self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if len(secret) >= 4:
                text = text.replace(secret, MASK)
            elif text == secret:
                text = MASK
        return text


REDACTOR = Redactor()
_json_lines = False


def json_lines_enabled() -> bool:
    """Tell whether log lines are JSON objects, so errors should be too."""
    return _json_lines


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = REDACTOR(message)
        record.args = None
        if record.exc_info:
            record.exc_text = REDACTOR(
                logging.Formatter().formatException(record.exc_info)
            )
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure(*, level: str = "INFO", json_lines: bool = False) -> None:
    """Send log lines to stderr, masked, as text or one JSON object per line."""
    global _json_lines
    _json_lines = json_lines
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
