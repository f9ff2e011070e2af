"""The Prometheus collector: peak load, stored records and their trends.

One label-values request finds the metric families in the window. Each measure
then costs one or two queries, all computed by Prometheus: the peaks of every
step of a range (peak, its time, coverage and daily peaks), the window's p95,
and for records the last value of each day. A scan sends at most six requests.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from collectors import errors
from collectors.base import Collector, Fact, Findings
from collectors.prometheus import promql
from collectors.prometheus.client import PrometheusClient, Sample
from collectors.prometheus.forecast import Forecast, forecast_crossing
from collectors.prometheus.peaks import (
    DAY,
    MAX_POINTS,
    DailyValue,
    Grid,
    PeakSummary,
    choose_step,
    is_short,
    iso_time,
    summarize,
)
from collectors.prometheus.plans import (
    Plan,
    explicit_plan,
    profile_plan,
    unlisted_plan,
)
from collectors.prometheus.profiles import MEASURES

logger = logging.getLogger(__name__)

TPS = "load.tps_peak"
USERS = "load.concurrent_users_peak"
RECORDS = "data.records_total"
TPS_FORECAST = "load.tps_forecast"
USERS_FORECAST = "load.concurrent_users_forecast"
RECORDS_FORECAST = "data.records_forecast"

# Criterion 4 of Order No. 308/НҚ: more than 5,000 concurrent users, more than
# 300 transactions per second, more than 50,000,000 records.
DEFAULT_THRESHOLDS = {"concurrent_users": 5000.0, "tps": 300.0, "records": 50_000_000.0}
# Seconds between the evaluations of a measure inside a subquery. A gauge spike
# shorter than this between two evaluations is not seen.
RESOLUTION = 60.0
P95 = 0.95

PEAK_KEYS = {"tps": (TPS, TPS_FORECAST), "concurrent_users": (USERS, USERS_FORECAST)}
UNITS = {"tps": "tps", "concurrent_users": "users"}
NOUNS = {"tps": "daily TPS peaks", "concurrent_users": "daily user peaks"}


class PrometheusCollector(Collector):
    """Reads peak load and stored records from a Prometheus-compatible server.

    Times are unix seconds and durations seconds. `queries` maps a measure
    (concurrent_users, tps, records) to PromQL that replaces the built-in
    profiles; it is summed into one series. `thresholds` (same keys) are the
    values the forecasts look for. With `collect_records` false no
    data.records_total fact is recorded, but the records forecast still is.
    """

    name = "prometheus"
    provides = (TPS, USERS, RECORDS, TPS_FORECAST, USERS_FORECAST, RECORDS_FORECAST)

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        insecure: bool = False,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
        window_seconds: float = 30 * 86400,
        rate_window_seconds: float = 300,
        selector: str | None = None,
        queries: dict[str, str] | None = None,
        evaluation_time: float | None = None,
        thresholds: dict[str, float] | None = None,
        collect_records: bool = True,
    ) -> None:
        if not RESOLUTION <= window_seconds <= MAX_POINTS * DAY:
            raise ValueError(
                f"window_seconds must lie between {RESOLUTION:g} and "
                f"{MAX_POINTS * DAY}, got {window_seconds}"
            )
        if rate_window_seconds <= 0:
            raise ValueError(
                f"rate_window_seconds must be positive, got {rate_window_seconds}"
            )
        self.client = PrometheusClient(
            url,
            token=token,
            username=username,
            password=password,
            ca_file=ca_file,
            insecure=insecure,
            headers=headers,
            timeout=timeout,
        )
        self.window = float(window_seconds)
        self.rate_window = float(rate_window_seconds)
        self.matchers = promql.parse_selector(selector) if selector else None
        self.scope = f"{{{self.matchers}}}" if self.matchers else "prometheus"
        self.queries = _checked_queries(queries or {})
        self.thresholds = _checked_thresholds(thresholds or {})
        self.evaluation_time = evaluation_time
        self.collect_records = collect_records
        self.source = self.client.source

    # -- the scan ---------------------------------------------------------------

    def collect(self, findings: Findings) -> None:
        now = self.evaluation_time if self.evaluation_time is not None else time.time()
        # Aligning the end to the resolution makes every step start on an
        # evaluation of the subquery.
        end = math.floor(now / RESOLUTION) * RESOLUTION
        grid = Grid(end, self.window, choose_step(self.window, RESOLUTION))
        scan = Scan()
        try:
            plans = self._plan(grid, scan, findings)
            if plans is not None:
                for measure in ("tps", "concurrent_users"):
                    self._read_peak(plans[measure], grid, scan, findings)
                self._read_records(plans["records"], grid, scan, findings)
        finally:
            self.client.close()
        scan.raise_if_nothing_read()

    def _gap(self, findings: Findings, key: str, reason: str, message: str) -> None:
        # A missing metric or a flat trend is a result, not a failure.
        level = logging.INFO if reason == errors.NO_DATA else logging.WARNING
        logger.log(level, "prometheus %s: no %s: %s", self.source, key, message)
        findings.gap(key, reason, message, scope=self.scope)

    def _error_gaps(
        self, findings: Findings, keys: tuple[str, ...], exc: errors.SourceError
    ) -> None:
        for key in keys:
            self._gap(findings, key, exc.reason, str(exc))

    # -- profiles ---------------------------------------------------------------

    def _plan(
        self, grid: Grid, scan: Scan, findings: Findings
    ) -> dict[str, Plan] | None:
        """Choose each measure's expression; None when the server cannot be read."""
        needed = [measure for measure in MEASURES if measure not in self.queries]
        families: set[str] = set()
        if needed:
            try:
                families = set(
                    self.client.label_values(
                        "__name__",
                        match=self.scope if self.matchers else None,
                        start=grid.start,
                        end=grid.end,
                    )
                )
                scan.succeeded += 1
            except errors.SourceError as exc:
                scan.errors.append(exc)
                if isinstance(
                    exc, (errors.SourceUnreachable, errors.AuthenticationFailed)
                ):
                    # Every other request would fail the same way.
                    self._error_gaps(findings, self.provides, exc)
                    return None
                return {m: self._failed_plan(m, exc) for m in MEASURES}
        return {measure: self._choose(measure, families) for measure in MEASURES}

    def _failed_plan(self, measure: str, exc: errors.SourceError) -> Plan:
        if measure in self.queries:
            return explicit_plan(measure, self.queries[measure])
        return unlisted_plan(measure, exc)

    def _choose(self, measure: str, families: set[str]) -> Plan:
        if measure in self.queries:
            return explicit_plan(measure, self.queries[measure])
        return profile_plan(measure, families, self.matchers, self.rate_window)

    # -- peaks ------------------------------------------------------------------

    def _read_peak(
        self, plan: Plan, grid: Grid, scan: Scan, findings: Findings
    ) -> None:
        key, forecast_key = PEAK_KEYS[plan.measure]
        if plan.expression is None:
            reason = plan.missing_reason
            self._gap(findings, key, reason, plan.missing)
            self._gap(findings, forecast_key, reason, f"no {key}: {plan.missing}")
            return
        query = promql.interval_peak_query(plan.expression, grid.step, RESOLUTION)
        try:
            samples = self.client.query_range(
                query, grid.first_point, grid.end, grid.step
            )
            scan.succeeded += 1
        except errors.SourceError as exc:
            scan.errors.append(exc)
            self._error_gaps(findings, (key, forecast_key), exc)
            return
        summary = summarize(samples, grid)
        if summary is None:
            message = _no_data_message(query, grid)
            self._gap(findings, key, errors.NO_DATA, message)
            self._gap(findings, forecast_key, errors.NO_DATA, f"no {key}: {message}")
            return
        details = self._peak_details(plan, query, summary, grid)
        details.update(self._p95(plan, grid, scan, findings))
        findings.add(self._peak_fact(plan, key, summary, grid, details))
        self._record_forecast(
            findings, plan, forecast_key, summary.daily, summary.peak, key
        )

    def _p95(
        self, plan: Plan, grid: Grid, scan: Scan, findings: Findings
    ) -> dict[str, Any]:
        span = grid.steps * grid.step
        query = promql.window_quantile_query(plan.expression, P95, span, RESOLUTION)
        try:
            sample = self.client.query(query, grid.end)
            scan.succeeded += 1
        except errors.SourceError as exc:
            scan.errors.append(exc)
            logger.warning("prometheus %s: p95 not read: %s", self.source, exc)
            findings.note(f"{plan.measure} p95 not read: {exc}")
            return {"p95_query": query, "p95_error": str(exc)}
        return {"p95": sample.value if sample else None, "p95_query": query}

    def _peak_details(
        self, plan: Plan, query: str, summary: PeakSummary, grid: Grid
    ) -> dict[str, Any]:
        details = {"query": query, **plan.details()}
        details["range"] = _range_details(grid.first_point, grid.end, grid.step)
        details["window_seconds"] = self.window
        details["resolution_seconds"] = RESOLUTION
        if plan.measure == "tps" and plan.profile != "explicit":
            details["rate_window_seconds"] = self.rate_window
        details["peak_time"] = iso_time(summary.peak_time)
        details["peak_time_precision_seconds"] = grid.step
        details["coverage"] = {
            "first": iso_time(summary.first_time),
            "last": iso_time(summary.last_time),
            "steps_with_data": summary.steps_with_data,
            "steps": summary.steps,
            "short": is_short(summary, grid, self.rate_window),
        }
        return details

    def _peak_fact(
        self,
        plan: Plan,
        key: str,
        summary: PeakSummary,
        grid: Grid,
        details: dict[str, Any],
    ) -> Fact:
        value: float | int = summary.peak
        if plan.measure == "concurrent_users" and float(value).is_integer():
            value = int(value)
        what = (
            f"sum of rate[{promql.format_duration(self.rate_window)}]"
            if plan.measure == "tps" and plan.profile != "explicit"
            else "sum"
        )
        method = (
            f"peak of the {what} over {_days(self.window)} at "
            f"{promql.format_duration(RESOLUTION)} resolution, computed by "
            f"Prometheus (profile {plan.profile})"
        )
        if details["coverage"]["short"]:
            covered = summary.last_time - summary.first_time + grid.step
            method += f"; short window: data cover only {_days(covered)}"
            # The rules show a caveat next to every verdict that uses this fact.
            details["caveat"] = (
                f"the observation window is short: data cover only {_days(covered)}"
                f" of the {_days(self.window)} asked for"
            )
        # A peak over part of the window cannot show more than the whole window's
        # peak, so a short window makes it a lower bound.
        bound = "lower" if details["coverage"]["short"] else plan.bound
        return self._fact(key, value, UNITS[plan.measure], method, details, bound)

    # -- records ----------------------------------------------------------------

    def _read_records(
        self, plan: Plan, grid: Grid, scan: Scan, findings: Findings
    ) -> None:
        keys = (
            (RECORDS, RECORDS_FORECAST) if self.collect_records else (RECORDS_FORECAST,)
        )
        if not self.collect_records:
            findings.note(
                "data.records_total is not recorded from Prometheus because the "
                "database collector counts the records"
            )
        if plan.expression is None:
            for key in keys:
                self._gap(findings, key, plan.missing_reason, plan.missing)
            return

        days = max(1, math.floor(grid.steps * grid.step / DAY))
        first_day = grid.end - (days - 1) * DAY
        query = promql.day_last_query(plan.expression, RESOLUTION)
        try:
            samples = self.client.query_range(query, first_day, grid.end, DAY)
            scan.succeeded += 1
        except errors.SourceError as exc:
            scan.errors.append(exc)
            self._error_gaps(findings, keys, exc)
            return
        if not samples:
            message = _no_data_message(query, grid)
            for key in keys:
                self._gap(findings, key, errors.NO_DATA, message)
            return

        latest = samples[-1]
        if self.collect_records:
            details = {"query": query, **plan.details()}
            details["range"] = _range_details(first_day, grid.end, DAY)
            details["resolution_seconds"] = RESOLUTION
            details["latest_time"] = iso_time(latest.time)
            details["days_with_data"] = len(samples)
            findings.add(self._records_fact(plan, latest, grid, details))
        daily = [DailyValue(sample.time, sample.value) for sample in samples]
        self._record_forecast(
            findings, plan, RECORDS_FORECAST, daily, latest.value, RECORDS
        )

    def _records_fact(
        self, plan: Plan, latest: Sample, grid: Grid, details: dict[str, Any]
    ) -> Fact:
        method = (
            "latest sum of the row estimates that database exporters report, "
            f"from exporter metrics (profile {plan.profile})"
        )
        if grid.end - latest.time >= DAY:
            method += f"; the latest value is from {iso_time(latest.time)}"
        rows = round(latest.value)
        return self._fact(RECORDS, rows, "rows", method, details, plan.bound)

    # -- forecasts --------------------------------------------------------------

    def _record_forecast(
        self,
        findings: Findings,
        plan: Plan,
        key: str,
        daily: list[DailyValue],
        current: float,
        measured_key: str,
    ) -> None:
        threshold = self.thresholds[plan.measure]
        noun = NOUNS.get(plan.measure, "daily record counts")
        result = forecast_crossing(daily, current, threshold, noun)
        if result.date is None:
            self._gap(findings, key, errors.NO_DATA, result.reason)
            return
        details = self._forecast_details(result, daily, current, threshold, plan)
        method = (
            f"least-squares trend of {len(daily)} {noun} "
            f"({measured_key}) extended to {threshold:g}"
        )
        findings.add(
            Fact(
                key=key,
                value=result.date,
                source=self.source,
                method=method,
                scope=self.scope,
                provenance="derived",
                details=details,
            )
        )

    def _forecast_details(
        self,
        result: Forecast,
        daily: list[DailyValue],
        current: float,
        threshold: float,
        plan: Plan,
    ) -> dict[str, Any]:
        trend = result.trend
        return {
            "trend_per_day": trend.slope_per_day,
            "current_value": current,
            "threshold": threshold,
            "points_used": trend.points,
            "first_point_time": iso_time(daily[0].time),
            "last_point_time": iso_time(daily[-1].time),
            "trend_value_at_last_point": trend.value_at(daily[-1].time),
            "profile": plan.profile,
            "expression": plan.expression,
        }

    def _fact(
        self,
        key: str,
        value: Any,
        unit: str,
        method: str,
        details: dict[str, Any],
        bound: str | None,
    ) -> Fact:
        return Fact(
            key=key,
            value=value,
            unit=unit,
            source=self.source,
            method=method,
            scope=self.scope,
            details=details,
            bound=bound,
        )


@dataclass
class Scan:
    """Successful requests and errors of one collect()."""

    succeeded: int = 0
    errors: list[errors.SourceError] = field(default_factory=list)

    def raise_if_nothing_read(self) -> None:
        """Raise the first error when no request succeeded at all."""
        if self.succeeded or not self.errors:
            return
        kinds = {type(error) for error in self.errors}
        error_class = kinds.pop() if len(kinds) == 1 else errors.SourceError
        first = self.errors[0]
        raise error_class(first.source, first.message)


def _no_data_message(query: str, grid: Grid) -> str:
    window = f"{iso_time(grid.start)} and {iso_time(grid.end)}"
    return f"{query} returned no data between {window}"


def _range_details(start: float, end: float, step: float) -> dict[str, Any]:
    return {"start": iso_time(start), "end": iso_time(end), "step_seconds": float(step)}


def _days(seconds: float) -> str:
    days = seconds / DAY
    return f"{days:.0f} days" if days >= 2 else f"{seconds / 3600:.1f} hours"


def _checked_queries(queries: dict[str, str]) -> dict[str, str]:
    unknown = set(queries) - set(MEASURES)
    if unknown:
        raise ValueError(
            f"queries: unknown measures {sorted(unknown)}; "
            f"expected {', '.join(MEASURES)}"
        )
    for measure, text in queries.items():
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"queries: {measure} must be non-empty PromQL")
    return dict(queries)


def _checked_thresholds(thresholds: dict[str, float]) -> dict[str, float]:
    unknown = set(thresholds) - set(MEASURES)
    if unknown:
        raise ValueError(
            f"thresholds: unknown measures {sorted(unknown)}; "
            f"expected {', '.join(MEASURES)}"
        )
    merged = {**DEFAULT_THRESHOLDS, **{k: float(v) for k, v in thresholds.items()}}
    for measure, value in merged.items():
        if not value > 0:
            raise ValueError(f"thresholds: {measure} must be positive, got {value}")
    return merged
