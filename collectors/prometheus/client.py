"""HTTP client for the Prometheus query API, with its failures as SourceErrors.

Works with Prometheus and with servers that offer the same API (Thanos, Mimir,
Cortex, VictoriaMetrics), which may need extra headers such as X-Scope-OrgID.
Secrets are sent in headers only, and every text that reaches an exception
message passes through `Redactor`, because a proxy may echo a request back.
"""

from __future__ import annotations

import base64
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from collectors import errors

logger = logging.getLogger(__name__)

# Maximum length of server text (a PromQL error, a page title) in a message.
MAX_DETAIL_CHARS = 300
# Headers that carry credentials. They are set only from token or username and password.
AUTH_HEADERS = ("authorization", "proxy-authorization")


@dataclass
class Redactor:
    """Replaces secrets in text, in their plain, URL-encoded and base64 forms."""

    secrets: list[str] = field(default_factory=list, repr=False)

    def add(self, secret: str | None) -> None:
        if not secret:
            return
        for form in (secret, quote(secret, safe="")):
            if form not in self.secrets:
                self.secrets.append(form)

    def scrub(self, text: str) -> str:
        """Return `text` on one line, cut to MAX_DETAIL_CHARS, with secrets masked."""
        one_line = re.sub(r"\s+", " ", text).strip()
        # Longest first, so that a secret containing another is masked whole.
        for secret in sorted(self.secrets, key=len, reverse=True):
            one_line = one_line.replace(secret, "***")
        if len(one_line) > MAX_DETAIL_CHARS:
            one_line = one_line[: MAX_DETAIL_CHARS - 3] + "..."
        return one_line


def public_url(url: str) -> str:
    """Return `url` without user info, query or fragment, as shown in reports."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class Sample:
    """One point of a series: unix time in seconds and a finite value."""

    time: float
    value: float


class PrometheusClient:
    """Sends queries to one Prometheus server over a requests Session.

    `timeout` (seconds) applies to each request. `token` is sent as a bearer
    token; `username` and `password` as basic auth. `calls` counts the requests
    sent, for the benchmark and for tests.
    """

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
    ) -> None:
        _check_options(url, token, username, password, ca_file, insecure, timeout)
        _check_headers(headers or {})
        parts = urlsplit(url)
        self.base_url = urlunsplit(
            (
                parts.scheme,
                parts.netloc.rpartition("@")[2],
                parts.path.rstrip("/"),
                "",
                "",
            )
        )
        self.source = public_url(url)
        self.timeout = timeout
        self.calls = 0
        self.nan_steps_skipped = 0
        self.redactor = Redactor()
        # Passed with each request, because requests lets REQUESTS_CA_BUNDLE and
        # CURL_CA_BUNDLE override a Session's own verify setting.
        self.verify: bool | str = False if insecure else (ca_file or True)
        if insecure:
            logger.warning("%s: TLS certificate verification is off", self.source)
        self.session = self._build_session(token, username, password, headers or {})

    def _build_session(
        self,
        token: str | None,
        username: str | None,
        password: str | None,
        headers: dict[str, str],
    ) -> requests.Session:
        session = requests.Session()
        session.headers.update(headers)
        session.headers["Accept"] = "application/json"
        if token:
            self.redactor.add(token)
            session.headers["Authorization"] = f"Bearer {token}"
        elif username:
            self.redactor.add(password)
            pair = f"{username}:{password or ''}".encode()
            self.redactor.add(base64.b64encode(pair).decode("ascii"))
            session.auth = (username, password or "")
        return session

    def close(self) -> None:
        self.session.close()

    def label_values(
        self, label: str, *, match: str | None, start: float, end: float
    ) -> list[str]:
        """Return the values of `label` on series matching `match` in [start, end]."""
        params: dict[str, Any] = {"start": _api_time(start), "end": _api_time(end)}
        if match:
            params["match[]"] = match
        data = self._get(f"/api/v1/label/{label}/values", params)
        if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
            raise errors.BadResponse(
                self.source, "label values: expected a list of strings in data"
            )
        return data

    def query(self, promql: str, time: float) -> Sample | None:
        """Run an instant query that returns at most one series; None when empty."""
        data = self._get("/api/v1/query", {"query": promql, "time": _api_time(time)})
        result = self._result(data, "vector")
        if not result:
            return None
        if len(result) > 1:
            raise errors.BadResponse(
                self.source, f"expected one series, got {len(result)}"
            )
        return self._sample(result[0].get("value"))

    def query_range(
        self, promql: str, start: float, end: float, step: float
    ) -> list[Sample]:
        """Run a range query that returns at most one series; [] when empty."""
        params = {
            "query": promql,
            "start": _api_time(start),
            "end": _api_time(end),
            "step": f"{step:g}",
        }
        data = self._get("/api/v1/query_range", params)
        result = self._result(data, "matrix")
        if not result:
            return []
        if len(result) > 1:
            raise errors.BadResponse(
                self.source, f"expected one series, got {len(result)}"
            )
        values = result[0].get("values")
        if not isinstance(values, list):
            raise errors.BadResponse(self.source, "range result has no values list")
        samples = [self._sample(pair, allow_nan=True) for pair in values]
        # A gauge that was NaN for a few scrapes leaves NaN steps in the range.
        # The other steps still measure, so only an all-NaN range is rejected.
        finite = [sample for sample in samples if not math.isnan(sample.value)]
        if samples and not finite:
            raise errors.BadResponse(
                self.source, "the query returned only NaN; a NaN is not a measurement"
            )
        if len(finite) < len(samples):
            self.nan_steps_skipped += len(samples) - len(finite)
            logger.warning(
                "%s: skipped %d NaN steps of a range query",
                self.source,
                len(samples) - len(finite),
            )
        return finite

    def _result(self, data: Any, expected_type: str) -> list[dict[str, Any]]:
        if not isinstance(data, dict) or data.get("resultType") != expected_type:
            got = data.get("resultType") if isinstance(data, dict) else type(data)
            raise errors.BadResponse(
                self.source, f"expected a {expected_type} result, got {got}"
            )
        result = data.get("result")
        if not isinstance(result, list):
            raise errors.BadResponse(self.source, "result is not a list")
        return result

    def _sample(self, pair: Any, *, allow_nan: bool = False) -> Sample:
        try:
            moment, text = pair
            value = float(text)
            moment = float(moment)
        except (TypeError, ValueError) as exc:
            raise errors.BadResponse(
                self.source, f"invalid sample {self.redactor.scrub(repr(pair))}"
            ) from exc
        if allow_nan and math.isnan(value):
            return Sample(moment, value)
        if not math.isfinite(value):
            raise errors.BadResponse(
                self.source,
                f"the query returned {text} at {_api_time(moment)}; a NaN or "
                "infinite value is not a measurement",
            )
        return Sample(moment, value)

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        self.calls += 1
        try:
            response = self.session.get(
                self.base_url + path,
                params=params,
                timeout=self.timeout,
                verify=self.verify,
            )
        except requests.exceptions.RequestException as exc:
            raise self._transport_error(exc) from None
        return self._payload(response)

    def _transport_error(self, exc: requests.exceptions.RequestException):
        # The exception text contains the URL and its query. Only fixed phrases
        # are reported, so nothing a proxy echoed can reach a message.
        text = str(exc)
        if isinstance(exc, requests.exceptions.Timeout):
            return errors.SourceTimeout(
                self.source, f"no response within {self.timeout:g} s"
            )
        if isinstance(exc, requests.exceptions.SSLError):
            if "CERTIFICATE_VERIFY_FAILED" in text:
                message = (
                    "the server's TLS certificate is not trusted; set ca_file to "
                    "the CA bundle that signed it"
                )
            else:
                message = "the TLS handshake failed"
            return errors.SourceError(self.source, message)
        if isinstance(exc, requests.exceptions.ConnectionError):
            if "refused" in text.lower():
                reason = "connection refused"
            elif "resolve" in text.lower() or "name or service" in text.lower():
                reason = "host name not resolved"
            else:
                reason = "connection failed"
            return errors.SourceUnreachable(self.source, f"cannot connect: {reason}")
        return errors.BadResponse(self.source, f"request failed: {type(exc).__name__}")

    def _payload(self, response: requests.Response) -> Any:
        status = response.status_code
        if status == 401:
            raise errors.AuthenticationFailed(
                self.source,
                "HTTP 401: the server rejected the credentials; check the token "
                "or username and password",
            )
        if status == 403:
            raise errors.PermissionDenied(
                self.source,
                "HTTP 403: the credentials may not read this API",
            )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != "application/json":
            shown = content_type or "no content type"
            raise errors.BadResponse(
                self.source, f"HTTP {status}: expected JSON, got {shown}"
            )
        try:
            body = response.json()
        except ValueError:
            raise errors.BadResponse(
                self.source, f"HTTP {status}: invalid JSON"
            ) from None
        if not isinstance(body, dict):
            raise errors.BadResponse(self.source, f"HTTP {status}: not a JSON object")
        if body.get("status") != "success":
            self._raise_api_error(status, body)
        if status != 200:
            raise errors.BadResponse(self.source, f"HTTP {status} with status success")
        return body.get("data")

    def _raise_api_error(self, status: int, body: dict[str, Any]) -> None:
        error_type = str(body.get("errorType") or "unknown")
        text = self.redactor.scrub(str(body.get("error") or "no error text"))
        message = f"HTTP {status}: {error_type}: {text}"
        if error_type in ("timeout", "canceled"):
            raise errors.SourceTimeout(self.source, message)
        raise errors.BadResponse(self.source, message)


def _api_time(seconds: float) -> str:
    """Format unix seconds for the API: up to millisecond precision, no exponent."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def _check_options(
    url: str,
    token: str | None,
    username: str | None,
    password: str | None,
    ca_file: str | None,
    insecure: bool,
    timeout: float,
) -> None:
    """Raise ValueError for a URL or a combination of options that cannot work."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"Prometheus URL {public_url(url)!r} must be an http:// or https:// "
            "URL with a host"
        )
    if parts.password is not None:
        raise ValueError("the Prometheus URL contains a password; pass it as password")
    if token and (username or password):
        raise ValueError("set either a bearer token or username and password, not both")
    if password and not username:
        raise ValueError("a password was given without a username")
    if ca_file and insecure:
        raise ValueError("set either ca_file or insecure, not both")
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")


def _check_headers(headers: dict[str, str]) -> None:
    for name in headers:
        if name.lower() in AUTH_HEADERS:
            raise ValueError(
                f"header {name} carries credentials; pass token or "
                "username and password instead"
            )
