"""Benchmark one Prometheus collector scan: HTTP requests sent and wall time.

Run from the repository root; it needs /usr/bin/prometheus and /usr/bin/promtool
(Debian package prometheus) and starts its own server on a free loopback port:

    PYTHONPATH=. python bench/bench_prometheus.py [--days N] [--series N] [--runs N]

It writes --series series scraped every minute for --days days as OpenMetrics:
request counters, Keycloak session gauges and PostgreSQL row gauges in the
ratio 2:1:1. It backfills them with promtool, starts Prometheus on the blocks
and times --runs scans of the whole server. Requests are counted twice: by the
collector's client and by Prometheus' own prometheus_http_requests_total.
"""

from __future__ import annotations

import argparse
import math
import re
import resource
import statistics
import tempfile
import time
from pathlib import Path

import requests

from collectors.base import Findings
from collectors.prometheus import PrometheusCollector
from tests.prometheus_fixtures import backfill, running_prometheus

DAY = 86400
MINUTE = 60
END = 1790812800  # 2026-10-01T00:00:00Z
API_HANDLERS = re.compile(
    r'^prometheus_http_requests_total\{code="\d+",handler="(/api/v1/[^"]+)"\} (\S+)$',
    re.MULTILINE,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days of data")
    parser.add_argument("--series", type=int, default=20, help="number of series")
    parser.add_argument("--runs", type=int, default=5, help="timed scans")
    return parser.parse_args()


def shape(moment: int) -> float:
    """0 at midnight UTC, 1 at noon."""
    return (1 - math.cos(2 * math.pi * (moment % DAY) / DAY)) / 2


def write_openmetrics(path: Path, days: int, series: int) -> int:
    """Write `series` series of `days` days at one-minute scrapes; return samples."""
    counters = series // 2
    gauges = series // 4
    rows = series - counters - gauges
    start = END - days * DAY
    times = range(start, END + 1, MINUTE)
    samples = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("# TYPE http_requests counter\n")
        for index in range(counters):
            value = 0
            for moment in times:
                value += round((5 + 20 * shape(moment)) * MINUTE)
                out.write(
                    f'http_requests_total{{instance="i{index}"}} {value} {moment}\n'
                )
                samples += 1
        out.write("# TYPE keycloak_active_user_sessions gauge\n")
        for index in range(gauges):
            for moment in times:
                users = round(100 + 400 * shape(moment))
                labels = f'realm="r{index}",client="portal"'
                out.write(
                    f"keycloak_active_user_sessions{{{labels}}} {users} {moment}\n"
                )
                samples += 1
        out.write("# TYPE pg_stat_user_tables_n_live_tup gauge\n")
        for index in range(rows):
            for moment in times:
                live = 1_000_000 + 10 * (moment - start) // MINUTE
                labels = f'relname="t{index}"'
                out.write(
                    f"pg_stat_user_tables_n_live_tup{{{labels}}} {live} {moment}\n"
                )
                samples += 1
        out.write("# EOF\n")
    return samples


def server_api_requests(url: str) -> float:
    """Sum of Prometheus' own counters of /api/v1 requests."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(float(value) for _, value in API_HANDLERS.findall(text))


def timed_scan(url: str) -> tuple[float, int, float, Findings]:
    collector = PrometheusCollector(url, evaluation_time=END)
    findings = Findings()
    before = server_api_requests(url)
    started = time.perf_counter()
    collector.collect(findings)
    elapsed = time.perf_counter() - started
    served = server_api_requests(url) - before
    return elapsed, collector.client.calls, served, findings


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-prometheus-") as tmp:
        work = Path(tmp)
        openmetrics = work / "bench.om"
        started = time.perf_counter()
        samples = write_openmetrics(openmetrics, args.days, args.series)
        backfill(openmetrics, work / "data")
        print(
            f"{args.series} series, {args.days} days, {samples:,} samples "
            f"generated and backfilled in {time.perf_counter() - started:.1f} s"
        )
        with running_prometheus(work / "data", work) as url:
            times = []
            for run in range(1, args.runs + 1):
                elapsed, calls, served, findings = timed_scan(url)
                times.append(elapsed)
                facts, gaps, _ = findings.snapshot()
                print(
                    f"run {run}: {elapsed * 1000:.0f} ms, {calls} requests sent, "
                    f"{served:.0f} served, {len(facts)} facts, {len(gaps)} gaps"
                )
            print(
                f"wall time: median {statistics.median(times) * 1000:.0f} ms, "
                f"max {max(times) * 1000:.0f} ms"
            )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS of the benchmark process: {peak_kib / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
