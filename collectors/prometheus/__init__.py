"""Prometheus collector: peak TPS, peak concurrent users, records and forecasts.

Importing this package sends no request; the collector connects in collect().
"""

from collectors.prometheus.collector import PrometheusCollector

__all__ = ["PrometheusCollector"]
