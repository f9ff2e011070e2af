"""Forecast of the date on which a linear trend of daily values crosses a threshold.

The trend is an ordinary least-squares line through (day, value) points. No
date is forecast from fewer than MIN_DAYS points, from a flat or falling trend,
for a value that already exceeds the threshold, or for a crossing more than
MAX_YEARS away.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from collectors.prometheus.peaks import DAY, DailyValue

# A week of daily points is the shortest history that spans a weekly cycle.
MIN_DAYS = 7
# A crossing further away than this only shows that the trend is nearly flat.
MAX_YEARS = 10


@dataclass(frozen=True)
class Trend:
    """A least-squares line: value = intercept + slope_per_day * days since origin."""

    origin: float  # unix seconds of day 0
    intercept: float
    slope_per_day: float
    points: int

    def value_at(self, seconds: float) -> float:
        return self.intercept + self.slope_per_day * (seconds - self.origin) / DAY


@dataclass(frozen=True)
class Forecast:
    """A crossing date, or the reason there is none (`date` is then None)."""

    date: str | None
    reason: str | None
    trend: Trend | None


def fit_trend(daily: list[DailyValue]) -> Trend:
    """Fit value = a + b * days by least squares; needs at least two days."""
    origin = daily[0].time
    xs = [(day.time - origin) / DAY for day in daily]
    ys = [day.value for day in daily]
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = covariance / spread
    return Trend(origin, mean_y - slope * mean_x, slope, len(daily))


def forecast_crossing(
    daily: list[DailyValue], current: float, threshold: float, what: str
) -> Forecast:
    """Return the UTC date on which the trend first exceeds `threshold`.

    `current` is the measured value compared with the threshold now: the peak of
    the window, or the latest value. `what` names the values in reasons.
    """
    if current > threshold:
        return Forecast(
            None,
            f"{what} {current:g} already exceeds the threshold {threshold:g}, "
            "so no crossing is forecast",
            None,
        )
    if len(daily) < MIN_DAYS:
        return Forecast(
            None,
            f"only {len(daily)} daily values of {what}; a trend needs at least "
            f"{MIN_DAYS}",
            None,
        )
    trend = fit_trend(daily)
    if trend.slope_per_day <= 0:
        return Forecast(
            None,
            f"the trend of {what} is flat or falling "
            f"({trend.slope_per_day:g} per day over {trend.points} days)",
            trend,
        )
    days = (threshold - trend.intercept) / trend.slope_per_day
    crossing = trend.origin + days * DAY
    if crossing - daily[-1].time > MAX_YEARS * 365.25 * DAY:
        return Forecast(
            None,
            f"the trend of {what} ({trend.slope_per_day:g} per day) would cross "
            f"{threshold:g} more than {MAX_YEARS} years after the last value",
            trend,
        )
    date = dt.datetime.fromtimestamp(crossing, dt.UTC).date().isoformat()
    return Forecast(date, None, trend)
