"""How the Prometheus collector reports a server that fails, on loopback stubs."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from collectors import errors
from collectors.base import Findings
from collectors.prometheus import PrometheusCollector
from tests.prometheus_fixtures import (
    END,
    Reply,
    matrix,
    self_signed_certificate,
    stub_prometheus,
    success,
    vector,
)

LABELS = "/api/v1/label/__name__/values"
RANGE = "/api/v1/query_range"
INSTANT = "/api/v1/query"
FAMILIES = [
    "http_requests_total",
    "keycloak_active_user_sessions",
    "pg_stat_user_tables_n_live_tup",
]
CANARY_TOKEN = "canary-token-5f3a9c"
CANARY_PASSWORD = "canary-pass-81be2d"
HTML_PAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def healthy_replies() -> dict[str, Reply]:
    points = [(END - 240 * k, "12") for k in range(3, -1, -1)]
    return {LABELS: success(FAMILIES), RANGE: matrix(points), INSTANT: vector("10")}


def promql_error(text: str, status: int = 400) -> Reply:
    body = {"status": "error", "errorType": "bad_data", "error": text}
    return Reply(status, json.dumps(body))


def run(url: str, **options) -> tuple[dict, dict, list[str]]:
    options.setdefault("evaluation_time", END)
    findings = Findings()
    PrometheusCollector(url, **options).collect(findings)
    facts, gaps, notes = findings.snapshot()
    return {f.key: f for f in facts}, {g.key: g for g in gaps}, notes


def recorded_text(findings: Findings) -> str:
    facts, gaps, notes = findings.snapshot()
    parts = [repr(fact.to_dict()) for fact in facts]
    parts += [repr(gap.to_dict()) for gap in gaps]
    return "\n".join(parts + notes)


# -- the whole server fails: the collector raises ------------------------------


def test_refused_raises_unreachable(free_port):
    collector = PrometheusCollector(f"http://127.0.0.1:{free_port}")
    with pytest.raises(errors.SourceUnreachable) as caught:
        collector.collect(Findings())
    assert "connection refused" in str(caught.value)


def test_refused_records_gaps(free_port):
    findings = Findings()
    collector = PrometheusCollector(f"http://127.0.0.1:{free_port}")
    with pytest.raises(errors.SourceUnreachable):
        collector.collect(findings)
    _, gaps, _ = findings.snapshot()
    assert {gap.reason for gap in gaps} == {errors.UNREACHABLE}
    assert len(gaps) == 6


def test_401_raises_authentication_failed():
    with (
        stub_prometheus({LABELS: Reply(401, "Unauthorized", "text/plain")}) as stub,
        pytest.raises(errors.AuthenticationFailed),
    ):
        run(stub.url, token=CANARY_TOKEN)


def test_403_raises_permission_denied():
    with (
        stub_prometheus({LABELS: Reply(403, "Forbidden", "text/plain")}) as stub,
        pytest.raises(errors.PermissionDenied),
    ):
        run(stub.url, token=CANARY_TOKEN)


def test_html_everywhere_raises_bad_response():
    page = Reply(502, HTML_PAGE, "text/html")
    with (
        stub_prometheus({LABELS: page}) as stub,
        pytest.raises(errors.BadResponse) as caught,
    ):
        run(stub.url)
    assert "expected JSON, got text/html" in str(caught.value)


def test_timeout_everywhere_raises_timed_out():
    slow = Reply(body=json.dumps({"status": "success", "data": []}), delay=2.0)
    with stub_prometheus({LABELS: slow}) as stub, pytest.raises(errors.SourceTimeout):
        run(stub.url, timeout=0.3)


# -- one query fails: gaps for its keys, the rest recorded ----------------------


def test_query_timeout_is_gap():
    replies = healthy_replies()
    replies[RANGE] = Reply(body=replies[RANGE].body, delay=2.0)
    with stub_prometheus(replies) as stub:
        facts, gaps, _ = run(stub.url, timeout=0.3)
    assert gaps["load.tps_peak"].reason == errors.TIMED_OUT
    assert "no response within 0.3 s" in gaps["load.tps_peak"].message
    assert facts == {}


def test_promql_error_is_bad_response():
    replies = healthy_replies()
    replies[RANGE] = promql_error('1:6: parse error: unexpected "}"')
    with stub_prometheus(replies) as stub:
        _, gaps, _ = run(stub.url)
    gap = gaps["load.tps_peak"]
    assert gap.reason == errors.BAD_RESPONSE
    assert 'bad_data: 1:6: parse error: unexpected "}"' in gap.message


def test_execution_timeout_error_is_timed_out():
    replies = healthy_replies()
    body = {"status": "error", "errorType": "timeout", "error": "query timed out"}
    replies[RANGE] = Reply(503, json.dumps(body))
    with stub_prometheus(replies) as stub:
        _, gaps, _ = run(stub.url)
    assert gaps["load.tps_peak"].reason == errors.TIMED_OUT


def test_html_from_proxy_is_bad_response():
    replies = healthy_replies()
    replies[RANGE] = Reply(200, HTML_PAGE, "text/html")
    with stub_prometheus(replies) as stub:
        _, gaps, _ = run(stub.url)
    gap = gaps["load.tps_peak"]
    assert gap.reason == errors.BAD_RESPONSE
    assert "HTTP 200: expected JSON, got text/html" in gap.message


def test_empty_result_is_no_data():
    replies = healthy_replies()
    replies[RANGE] = matrix([])
    with stub_prometheus(replies) as stub:
        facts, gaps, _ = run(stub.url)
    assert "load.tps_peak" not in facts
    assert gaps["load.tps_peak"].reason == errors.NO_DATA
    assert "returned no data" in gaps["load.tps_peak"].message


@pytest.mark.parametrize("text", ["+Inf", "-Inf"])
def test_non_finite_value_is_bad_response(text):
    replies = healthy_replies()
    replies[RANGE] = matrix([(END - 240, "3"), (END, text)])
    with stub_prometheus(replies) as stub:
        facts, gaps, _ = run(stub.url)
    assert "load.tps_peak" not in facts
    assert gaps["load.tps_peak"].reason == errors.BAD_RESPONSE
    assert f"returned {text}" in gaps["load.tps_peak"].message


def test_nan_steps_skipped_in_range():
    replies = healthy_replies()
    replies[RANGE] = matrix([(END - 480, "7"), (END - 240, "NaN"), (END, "3")])
    with stub_prometheus(replies) as stub:
        facts, _, _ = run(stub.url)
    assert facts["load.tps_peak"].value == 7.0


def test_all_nan_range_is_bad_response():
    replies = healthy_replies()
    replies[RANGE] = matrix([(END - 240, "NaN"), (END, "NaN")])
    with stub_prometheus(replies) as stub:
        facts, gaps, _ = run(stub.url)
    assert "load.tps_peak" not in facts
    assert gaps["load.tps_peak"].reason == errors.BAD_RESPONSE
    assert "returned only NaN" in gaps["load.tps_peak"].message


def test_healthy_stub_gives_facts():
    with stub_prometheus(healthy_replies()) as stub:
        facts, _, _ = run(stub.url)
    assert facts["load.tps_peak"].value == 12.0
    assert facts["data.records_total"].value == 12


def test_failed_p95_keeps_peak():
    replies = healthy_replies()
    replies[INSTANT] = promql_error("quantile failed", status=422)
    with stub_prometheus(replies) as stub:
        facts, _, notes = run(stub.url)
    assert facts["load.tps_peak"].value == 12.0
    assert "p95" not in facts["load.tps_peak"].details
    assert any("p95 not read" in note for note in notes)


# -- transport: credentials, headers, TLS options --------------------------------


def test_bearer_token_and_tenant_header_sent():
    with stub_prometheus(healthy_replies()) as stub:
        run(stub.url, token=CANARY_TOKEN, headers={"X-Scope-OrgID": "egov"})
    first = stub.requests[0]
    assert first["Authorization"] == f"Bearer {CANARY_TOKEN}"
    assert first["X-Scope-OrgID"] == "egov"


def test_basic_auth_sent():
    with stub_prometheus(healthy_replies()) as stub:
        run(stub.url, username="alice", password=CANARY_PASSWORD)
    expected = base64.b64encode(f"alice:{CANARY_PASSWORD}".encode()).decode()
    assert stub.requests[0]["Authorization"] == f"Basic {expected}"


def test_source_has_no_user_info():
    with stub_prometheus(healthy_replies()) as stub:
        port = stub.url.rsplit(":", 1)[1]
        facts, _, _ = run(f"http://alice@127.0.0.1:{port}/")
    assert facts["load.tps_peak"].source == f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def test_untrusted_certificate_raises(certificate):
    with (
        stub_prometheus(healthy_replies(), tls=certificate) as stub,
        pytest.raises(errors.SourceError) as caught,
    ):
        run(stub.url)
    assert caught.value.reason == errors.SOURCE_FAILED
    assert "TLS certificate is not trusted" in str(caught.value)


def test_ca_file_trusts_certificate(certificate):
    with stub_prometheus(healthy_replies(), tls=certificate) as stub:
        facts, _, _ = run(stub.url, ca_file=str(certificate[0]))
    assert facts["load.tps_peak"].value == 12.0


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_insecure_skips_verification(certificate):
    with stub_prometheus(healthy_replies(), tls=certificate) as stub:
        facts, _, _ = run(stub.url, insecure=True)
    assert facts["load.tps_peak"].value == 12.0


def test_token_with_password_rejected():
    with pytest.raises(ValueError, match="either a bearer token or"):
        PrometheusCollector(
            "http://127.0.0.1:9090", token="t", username="u", password="p"
        )


def test_authorization_header_rejected():
    with pytest.raises(ValueError, match="carries credentials"):
        PrometheusCollector("http://127.0.0.1:9090", headers={"Authorization": "x"})


# -- secrets never leave the collector -------------------------------------------


def echo_credentials(headers: dict[str, str]) -> str:
    """A PromQL-style error that repeats the request's credentials, decoded too."""
    header = headers.get("Authorization", "")
    decoded = ""
    if header.startswith("Basic "):
        decoded = base64.b64decode(header[6:]).decode()
    text = f"rejected {header} ({decoded})"
    return json.dumps({"status": "error", "errorType": "bad_data", "error": text})


@pytest.mark.parametrize(
    "credentials",
    [{"token": CANARY_TOKEN}, {"username": "alice", "password": CANARY_PASSWORD}],
    ids=["token", "password"],
)
def test_canary_never_recorded(credentials, caplog):
    replies = healthy_replies()
    replies[RANGE] = Reply(400, echo_credentials)
    replies[INSTANT] = Reply(400, echo_credentials)
    findings = Findings()
    with stub_prometheus(replies) as stub, caplog.at_level(logging.DEBUG):
        collector = PrometheusCollector(stub.url, evaluation_time=END, **credentials)
        collector.collect(findings)
    secret = credentials.get("token") or credentials["password"]
    text = recorded_text(findings)
    assert "rejected" in text
    assert secret not in text
    assert secret not in caplog.text


def test_canary_not_in_raised_error():
    echo = Reply(400, echo_credentials)
    with (
        stub_prometheus({LABELS: echo}) as stub,
        pytest.raises(errors.BadResponse) as caught,
    ):
        run(stub.url, username="alice", password=CANARY_PASSWORD)
    assert "rejected" in str(caught.value)
    assert CANARY_PASSWORD not in str(caught.value)
