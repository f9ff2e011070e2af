"""PromQL text: the selector, profile templates and the wrappers around a measure.

A measure's expression returns one series at any instant (a sum). The wrappers
turn it into the queries the collector sends: interval peaks over a range, a
quantile over the whole window and the last value of each day.
"""

from __future__ import annotations

import re
import string

QUOTES = "\"'`"
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*(=~|!~|!=|=)")


def _scan_unquoted(text: str):
    """Yield (index, char) for every character outside PromQL string literals.

    Double- and single-quoted strings take backslash escapes; backquoted strings
    are raw, as in PromQL.
    """
    quote = None
    escaped = False
    for index, char in enumerate(text):
        if quote is None:
            if char in QUOTES:
                quote = char
            else:
                yield index, char
        elif escaped:
            escaped = False
        elif char == "\\" and quote != "`":
            escaped = True
        elif char == quote:
            quote = None


def parse_selector(selector: str) -> str:
    """Return the label matchers of `selector` without braces, for adding to queries.

    Accepts `{job="api", env="prod"}` or the same without braces. Raises
    ValueError for a metric name or nested braces, which a selector must not have.
    """
    text = selector.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    text = text.rstrip(",").strip()
    if not text:
        raise ValueError(
            'selector is empty; expected label matchers such as {job="api"}'
        )
    braces = [char for _, char in _scan_unquoted(text) if char in "{}"]
    if braces or not _LABEL_NAME.match(text):
        raise ValueError(
            f"selector {selector!r} is not a list of label matchers; "
            'expected a form such as {job="api", namespace="prod"}'
        )
    return text


def add_matchers(template: str, matchers: str | None) -> str:
    """Add `matchers` to every label-matcher block of `template`.

    A block that stays empty is removed, so `metric{}` becomes `metric`.
    """
    pieces: list[str] = []
    last = 0
    opened: int | None = None
    for index, char in _scan_unquoted(template):
        if char == "{":
            opened = index
        elif char == "}" and opened is not None:
            inside = template[opened + 1 : index].strip().rstrip(",").strip()
            merged = ", ".join(part for part in (inside, matchers or "") if part)
            pieces.append(template[last:opened])
            pieces.append(f"{{{merged}}}" if merged else "")
            last = index + 1
            opened = None
    pieces.append(template[last:])
    return "".join(pieces)


def format_duration(seconds: float) -> str:
    """Format seconds as a PromQL duration such as 5m, 30d or 1500ms."""
    milliseconds = round(seconds * 1000)
    if milliseconds <= 0:
        raise ValueError(f"a duration must be positive, got {seconds} s")
    if milliseconds % 1000:
        return f"{milliseconds}ms"
    whole = milliseconds // 1000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def render_profile_query(
    template: str, matchers: str | None, rate_window_seconds: float
) -> str:
    """Fill in a profile's query: the selector's matchers and the rate window."""
    filled = string.Template(template).substitute(
        rate_window=format_duration(rate_window_seconds)
    )
    return add_matchers(filled, matchers)


def _is_single_call(expr: str) -> bool:
    """True when `expr` is one function call or aggregation, such as sum(...)."""
    match = re.match(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*\(", expr)
    if not match:
        return False
    depth = 0
    closing = None
    for index, char in _scan_unquoted(expr):
        if index < match.end() - 1:
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                closing = index
                break
    return closing is not None and not expr[closing + 1 :].strip()


def subquery(expr: str, range_seconds: float, resolution_seconds: float) -> str:
    """Return `expr[range:resolution]`, in parentheses unless it is one call."""
    operand = expr.strip() if _is_single_call(expr) else f"({expr.strip()})"
    return (
        f"{operand}[{format_duration(range_seconds)}:"
        f"{format_duration(resolution_seconds)}]"
    )


def interval_peak_query(expr: str, step: float, resolution: float) -> str:
    """Range query whose point at t is the maximum of `expr` over (t - step, t]."""
    return f"max_over_time({subquery(expr, step, resolution)})"


def window_quantile_query(
    expr: str, quantile: float, window: float, resolution: float
) -> str:
    """Instant query for the `quantile` of `expr` over the window, at `resolution`."""
    return f"quantile_over_time({quantile:g}, {subquery(expr, window, resolution)})"


def day_last_query(expr: str, resolution: float) -> str:
    """Range query (step one day) whose point is the last value of `expr` that day."""
    return f"last_over_time({subquery(expr, 86400, resolution)})"


def summed(expr: str) -> str:
    """Wrap an explicit query in sum() so that it returns a single series."""
    return f"sum({expr.strip()})"
