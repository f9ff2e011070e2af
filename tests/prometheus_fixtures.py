"""A model of 30 days of metrics, its backfill into Prometheus, and stub servers.

`LoadModel` generates every sample from formulas and computes the values the
collector must find (peak rates, gauge maxima, crossing dates) by brute force
over the same samples, without any code of the collector. The samples are
written as OpenMetrics, turned into TSDB blocks by promtool and served by a
Prometheus started on a free loopback port.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import math
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import requests

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
HOST = "127.0.0.1"

DAY = 86400
MINUTE = 60
START = 1788220800  # 2026-09-01T00:00:00Z
DAYS = 30
END = START + DAYS * DAY  # 2026-10-01T00:00:00Z, also the evaluation time
# Row gauges are scraped every ten minutes, as table statistics often are.
ROWS_INTERVAL = 600
THRESHOLDS = {"tps": 300.0, "concurrent_users": 5000.0, "records": 50_000_000.0}


def free_port() -> int:
    """Return a loopback TCP port that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def minute_times(start: int = START, end: int = END) -> list[int]:
    return list(range(start, end + 1, MINUTE))


def daily_shape(moment: int, low: float) -> float:
    """1 at noon UTC and `low` at midnight, following a cosine."""
    minute_of_day = (moment % DAY) / MINUTE
    return low + (1 - low) * (1 - math.cos(2 * math.pi * minute_of_day / 1440)) / 2


@dataclass
class CounterSeries:
    """A counter scraped every minute: increments per minute and the scraped values.

    `reset_at` restarts the counter from zero at that minute (the sample there
    holds only that minute's increment). Minutes in `missing` are not scraped,
    though requests keep arriving.
    """

    labels: str
    times: list[int]
    increments: list[int]
    reset_at: int | None = None
    missing: range | None = None

    def samples(self) -> list[tuple[int, int]]:
        value = 0
        out = []
        for moment, increment in zip(self.times, self.increments, strict=True):
            value = increment if moment == self.reset_at else value + increment
            if self.missing is None or moment not in self.missing:
                out.append((moment, value))
        return out

    def scraped(self) -> set[int]:
        return {moment for moment, _ in self.samples()}


@dataclass
class GaugeSeries:
    labels: str
    points: list[tuple[int, float]]


@dataclass
class Family:
    name: str
    kind: str
    counters: list[CounterSeries] = field(default_factory=list)
    gauges: list[GaugeSeries] = field(default_factory=list)


def request_rate(moment: int, base: float, amplitude: float) -> float:
    """Requests per second: `base` at midnight, `base + amplitude` at noon."""
    return base + amplitude * daily_shape(moment, 0.0)


def counter(
    labels: str,
    rate: Callable[[int], float],
    times: list[int] | None = None,
    **options,
) -> CounterSeries:
    times = times or minute_times()
    increments = [0] + [round(rate(moment) * MINUTE) for moment in times[1:]]
    return CounterSeries(labels, times, increments, **options)


def true_rates(series: list[CounterSeries], window: int = 300) -> list[float]:
    """Return sum(increments in (t - window, t]) / window for every minute t.

    Only windows in which every series was scraped at every minute count, so
    each value is what rate() returns there without extrapolation.
    """
    per_minute = window // MINUTE
    scraped = [s.scraped() for s in series]
    by_time = [dict(zip(s.times, s.increments, strict=True)) for s in series]
    rates = []
    for moment in series[0].times[per_minute:]:
        span = range(moment - window, moment + 1, MINUTE)
        if not all(all(t in have for t in span) for have in scraped):
            continue
        total = sum(
            increments[t] for increments in by_time for t in span if t > span[0]
        )
        rates.append(total / window)
    return rates


def quantile(values: list[float], phi: float) -> float:
    """The phi-quantile with linear interpolation between ranks, as PromQL does."""
    ordered = sorted(values)
    rank = phi * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class LoadModel:
    """Every series of the test data, and the true values derived from them."""

    def __init__(self) -> None:
        self.families = [
            self._http_requests(),
            self._micrometer(),
            self._keycloak(),
            self._pg_rows(),
            self._mysql_rows(),
        ]

    # -- job="api": generic counters with a reset, a gap and a spike ------------

    SPIKE = range(START + 17 * DAY + 10 * 3600, START + 17 * DAY + 10 * 3600 + 1800)
    RESET_AT = START + 12 * DAY + 8 * 3600
    GAP = range(START + 20 * DAY + 14 * 3600, START + 20 * DAY + 16 * 3600)
    LATE_START = START + 20 * DAY

    def _http_requests(self) -> Family:
        def rate_a(moment: int) -> float:
            # Half an hour at 400 requests/s, once, for the known peak.
            if moment in self.SPIKE:
                return 400.0
            return request_rate(moment, 20, 40)

        self.api_a = counter('job="api",instance="a"', rate_a, missing=self.GAP)
        self.api_b = counter(
            'job="api",instance="b"',
            lambda moment: request_rate(moment, 10, 30),
            reset_at=self.RESET_AT,
        )
        # A service whose metrics begin ten days before the end of the window.
        self.late = counter(
            'job="late",instance="c"',
            lambda moment: 5.0,
            times=minute_times(self.LATE_START),
        )
        return Family(
            "http_requests", "counter", counters=[self.api_a, self.api_b, self.late]
        )

    # -- job="spring": Micrometer, with actuator requests that must not count ---

    SPRING_SPIKE = range(
        START + 9 * DAY + 15 * 3600, START + 9 * DAY + 15 * 3600 + 1200
    )

    def _micrometer(self) -> Family:
        def rate_app(moment: int) -> float:
            if moment in self.SPRING_SPIKE:
                return 250.0
            return request_rate(moment, 30, 90)

        self.spring_app = counter('job="spring",uri="/api/applications"', rate_app)
        self.spring_actuator = counter(
            'job="spring",uri="/actuator/prometheus"', lambda moment: 1000.0
        )
        return Family(
            "http_server_requests_seconds_count",
            "unknown",
            counters=[self.spring_app, self.spring_actuator],
        )

    # -- job="api": Keycloak session gauges, growing 18 users a day -------------

    USERS_BASE: ClassVar = {"portal": 1800.0, "mobile": 900.0, "cabinet": 200.0}
    USERS_GROWTH: ClassVar = {"portal": 15.0, "mobile": 7.5, "cabinet": 3.0}

    def users(self, client: str, moment: int) -> int:
        days = (moment - START) / DAY
        level = self.USERS_BASE[client] + self.USERS_GROWTH[client] * days
        return round(level * daily_shape(moment, 0.2))

    def _keycloak(self) -> Family:
        realms = {"portal": "citizens", "mobile": "citizens", "cabinet": "staff"}
        gauges = [
            GaugeSeries(
                f'job="api",realm="{realm}",client="{client}"',
                [(moment, self.users(client, moment)) for moment in minute_times()],
            )
            for client, realm in realms.items()
        ]
        return Family("keycloak_active_user_sessions", "gauge", gauges=gauges)

    # -- job="db": rows growing 400,000 a day; job="flatdb": constant rows ------

    ROWS_GROWING = (20_000_000, 400_000)  # rows at START, rows added per day
    ROWS_CONSTANT = 5_000_000
    ROWS_FLAT = 12_345_678

    def rows_at(self, moment: int) -> int:
        base, per_day = self.ROWS_GROWING
        return round(base + per_day * (moment - START) / DAY)

    def _pg_rows(self) -> Family:
        times = range(START, END + 1, ROWS_INTERVAL)
        growing = GaugeSeries(
            'job="db",datname="egov",relname="applications"',
            [(moment, self.rows_at(moment)) for moment in times],
        )
        constant = GaugeSeries(
            'job="db",datname="egov",relname="citizens"',
            [(moment, self.ROWS_CONSTANT) for moment in times],
        )
        return Family(
            "pg_stat_user_tables_n_live_tup", "gauge", gauges=[growing, constant]
        )

    def _mysql_rows(self) -> Family:
        times = range(START, END + 1, ROWS_INTERVAL)
        flat = GaugeSeries(
            'job="flatdb",schema="registry",table="documents"',
            [(moment, self.ROWS_FLAT) for moment in times],
        )
        return Family("mysql_info_schema_table_rows", "gauge", gauges=[flat])

    # -- true values ------------------------------------------------------------

    def api_peak_tps(self) -> float:
        return max(true_rates([self.api_a, self.api_b]))

    def api_p95_tps(self) -> float:
        return quantile(true_rates([self.api_a, self.api_b]), 0.95)

    def spring_peak_tps(self) -> float:
        return max(true_rates([self.spring_app]))

    def keycloak_peak(self, combine: Callable[[dict[str, int]], int]) -> int:
        best = 0
        for moment in minute_times():
            counts = {c: self.users(c, moment) for c in self.USERS_BASE}
            best = max(best, combine(counts))
        return best

    def users_peak_max_by_realm(self) -> int:
        return self.keycloak_peak(
            lambda c: max(c["portal"], c["mobile"]) + c["cabinet"]
        )

    def users_peak_sum(self) -> int:
        return self.keycloak_peak(lambda c: sum(c.values()))

    def users_crossing_date(self) -> dt.date:
        """Date the noon peak of max-by-realm users passes the threshold."""
        base = self.USERS_BASE["portal"] + self.USERS_BASE["cabinet"]
        growth = self.USERS_GROWTH["portal"] + self.USERS_GROWTH["cabinet"]
        days = (THRESHOLDS["concurrent_users"] - base) / growth
        return _date(START + days * DAY)

    def rows_total_at_end(self) -> int:
        return self.rows_at(END) + self.ROWS_CONSTANT

    def rows_crossing_date(self) -> dt.date:
        base, per_day = self.ROWS_GROWING
        days = (THRESHOLDS["records"] - self.ROWS_CONSTANT - base) / per_day
        return _date(START + days * DAY)

    # -- OpenMetrics ------------------------------------------------------------

    def write_openmetrics(self, path: Path) -> int:
        """Write every family, its series one after another; return the samples."""
        count = 0
        with path.open("w", encoding="utf-8") as out:
            for family in self.families:
                count += write_family(out, family)
            out.write("# EOF\n")
        return count


def write_family(out, family: Family) -> int:
    out.write(f"# TYPE {family.name} {family.kind}\n")
    sample_name = family.name + ("_total" if family.kind == "counter" else "")
    count = 0
    for series in family.counters:
        for moment, value in series.samples():
            out.write(f"{sample_name}{{{series.labels}}} {value} {moment}\n")
            count += 1
    for series in family.gauges:
        for moment, value in series.points:
            out.write(f"{sample_name}{{{series.labels}}} {value!r} {moment}\n")
            count += 1
    return count


def _date(seconds: float) -> dt.date:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).date()


# -- backfill and server ------------------------------------------------------


def backfill(openmetrics: Path, data_dir: Path) -> None:
    """Create TSDB blocks from an OpenMetrics file with promtool."""
    if not PROMTOOL.exists():
        raise RuntimeError(
            f"{PROMTOOL} not found; install the Debian package prometheus"
        )
    # 744h (31 days) keeps the 30 days in one or two blocks.
    subprocess.run(
        [
            str(PROMTOOL),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=744h",
            str(openmetrics),
            str(data_dir),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )


@contextlib.contextmanager
def running_prometheus(data_dir: Path, work_dir: Path) -> Iterator[str]:
    """Serve `data_dir` with a Prometheus on a free loopback port; yield its URL.

    The server is stopped by its PID on exit, also when the test fails.
    """
    if not PROMETHEUS.exists():
        raise RuntimeError(
            f"{PROMETHEUS} not found; install the Debian package prometheus"
        )
    port = free_port()
    config = work_dir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    log_path = work_dir / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={config}",
                f"--storage.tsdb.path={data_dir}",
                # Retention must keep blocks from September 2026 on any later clock.
                "--storage.tsdb.retention.time=3650d",
                f"--web.listen-address={HOST}:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{HOST}:{port}"
    try:
        wait_ready(url, process, log_path)
        yield url
    finally:
        stop(process)


def wait_ready(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"prometheus exited with {process.returncode}: "
                f"{log_path.read_text(errors='replace')[-2000:]}"
            )
        try:
            if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        except requests.exceptions.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"prometheus at {url} not ready within 60 s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


# -- stub HTTP server for broken responses -------------------------------------


@dataclass
class Reply:
    """A canned response; `body` may be a function of the request headers."""

    status: int = 200
    body: str | bytes | Callable[[dict[str, str]], str] = ""
    content_type: str = "application/json"
    delay: float = 0.0


def success(data) -> Reply:
    return Reply(body=json.dumps({"status": "success", "data": data}))


def vector(value: str) -> Reply:
    result = [{"metric": {}, "value": [END, value]}]
    return success({"resultType": "vector", "result": result})


def matrix(values: list[tuple[float, str]]) -> Reply:
    result = [{"metric": {}, "values": [[t, v] for t, v in values]}] if values else []
    return success({"resultType": "matrix", "result": result})


@dataclass
class StubPrometheus:
    """Replies by API path; records the headers of every request received."""

    replies: dict[str, Reply]
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """Create a certificate and key for 127.0.0.1 with openssl; return their paths."""
    certificate, key = directory / "server.crt", directory / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return certificate, key


@contextlib.contextmanager
def stub_prometheus(
    replies: dict[str, Reply], tls: tuple[Path, Path] | None = None
) -> Iterator[StubPrometheus]:
    """Run an HTTP server on a free loopback port in a thread; stop it on exit.

    With `tls` (certificate and key paths) the server speaks HTTPS.
    """
    stub = StubPrometheus(replies)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            stub.requests.append(dict(self.headers))
            path = self.path.split("?")[0]
            reply = stub.replies.get(path, Reply(404, "not found", "text/plain"))
            if reply.delay:
                time.sleep(reply.delay)
            body = (
                reply.body(dict(self.headers)) if callable(reply.body) else reply.body
            )
            body = body.encode() if isinstance(body, str) else body
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first, as in the timeout test

        def log_message(self, format, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    stub.url = f"{scheme}://{HOST}:{server.server_address[1]}"
    # A short poll interval lets shutdown() return quickly after each test.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
