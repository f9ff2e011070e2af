"""The time grid of a scan and the reading of its interval peaks.

The collector requests from Prometheus the maximum of a measure over each step of a
range query. Each step is a whole number of subquery resolutions and divides a
day, so the steps tile the window and each day, and the largest step value is
the peak over the window at the subquery's resolution.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from collectors.prometheus.client import Sample

DAY = 86400
# Prometheus rejects a range query of more than 11,000 points per series
# (error "exceeded maximum resolution of 11,000 points per timeseries").
MAX_POINTS = 11_000
# A day enters a trend only when at least this fraction of its steps has data,
# so a day cut by the window's start or by an outage does not count as low.
MIN_DAY_COVERAGE = 0.5


def iso_time(seconds: float) -> str:
    """Format unix seconds as ISO 8601 UTC with a Z suffix."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def choose_step(window: float, resolution: float) -> float:
    """Return the smallest step that keeps the range under MAX_POINTS.

    The step is a multiple of `resolution` and divides a day, or is a whole
    number of days, so that the steps of a range tile every day.
    """
    needed = window / MAX_POINTS
    multiple = max(1, math.ceil(needed / resolution))
    while True:
        step = multiple * resolution
        if step >= needed and (DAY % step == 0 or step % DAY == 0):
            return float(step)
        multiple += 1


@dataclass(frozen=True)
class Grid:
    """The time range of a scan: `end` and the step, in unix seconds.

    Points of a range query lie at end - k * step for k = 0 .. steps - 1, so
    the first point's interval starts at the window's start.
    """

    end: float
    window: float
    step: float

    @property
    def steps(self) -> int:
        return max(1, math.floor(self.window / self.step))

    @property
    def first_point(self) -> float:
        return self.end - (self.steps - 1) * self.step

    @property
    def start(self) -> float:
        return self.first_point - self.step


@dataclass(frozen=True)
class DailyValue:
    """One day's value and the time (unix s) it was observed."""

    time: float
    value: float


@dataclass(frozen=True)
class PeakSummary:
    """Peak, peak time, coverage and daily peaks of one measure."""

    peak: float
    # End of the step whose interval contains the peak, so precise to one step.
    peak_time: float
    first_time: float
    last_time: float
    steps_with_data: int
    steps: int
    daily: list[DailyValue]


def summarize(samples: list[Sample], grid: Grid) -> PeakSummary | None:
    """Return the peak, its time, the coverage and the daily peaks; None if empty."""
    if not samples:
        return None
    top = max(samples, key=lambda sample: sample.value)
    return PeakSummary(
        peak=top.value,
        peak_time=top.time,
        first_time=samples[0].time,
        last_time=samples[-1].time,
        steps_with_data=len(samples),
        steps=grid.steps,
        daily=daily_peaks(samples, grid),
    )


def daily_peaks(samples: list[Sample], grid: Grid) -> list[DailyValue]:
    """Return each day's largest interval peak, days counted back from the end.

    A day's value is placed at the time of its peak, so that a trend through
    peaks that recur at the same hour is not shifted by half a day.
    """
    by_day: dict[int, list[Sample]] = {}
    for sample in samples:
        index = int(round(grid.end - sample.time) // DAY)
        by_day.setdefault(index, []).append(sample)
    steps_per_day = DAY / grid.step if grid.step < DAY else 1
    daily = []
    for day_samples in by_day.values():
        if len(day_samples) >= MIN_DAY_COVERAGE * steps_per_day:
            top = max(day_samples, key=lambda sample: sample.value)
            daily.append(DailyValue(top.time, top.value))
    return sorted(daily, key=lambda day: day.time)


def is_short(summary: PeakSummary, grid: Grid, rate_window: float) -> bool:
    """True when data begin after the window's start or end before its end.

    One step and one rate window of slack on each side allow for the first rate
    that needs a full window of samples and for the last scrape before `end`.
    """
    slack = grid.step + rate_window
    begins_late = summary.first_time - grid.first_point > slack
    ends_early = grid.end - summary.last_time > slack
    return begins_late or ends_early
