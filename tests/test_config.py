"""Configuration validation: errors name the file, the field and what was expected."""

from __future__ import annotations

import datetime as dt

import pytest

from agent.config import load_config, parse_duration, read_secret
from agent.errors import ConfigError

GOOD = """\
system:
  name: e-licensing
declared:
  declared_by: {name: A. Nurlanov, role: CTO}
  declared_on: 2026-11-01
  development_started: 2024-02-01
  commissioning_phases:
    - {name: first stage, commissioned: 2025-03-01}
  domain: payments
sources:
  host: {}
  databases:
    - name: main
      dsn: postgresql://reader@127.0.0.1:5432/app
      password_file: /run/secrets/db-password
rules:
  pack: order-308
  modes: {4: loose}
  thresholds: {4.tps: 500}
"""


def write(tmp_path, text):
    path = tmp_path / "techcomplex.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_good_config_loads(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.system.name == "e-licensing"
    assert config.declared.commissioning_phases[0].commissioned == dt.date(2025, 3, 1)
    assert config.sources.databases[0].name == "main"
    assert config.rules.modes == {4: "loose"}
    assert config.rules.thresholds == {"4.tps": 500}


def test_missing_system_name(tmp_path):
    path = write(tmp_path, "system: {}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: system.name: Field required"


def test_unknown_field_named(tmp_path):
    path = write(tmp_path, GOOD.replace("  host: {}", "  hosts: {}"))
    with pytest.raises(
        ConfigError, match=r"sources\.hosts: Extra inputs are not permitted"
    ):
        load_config(path)


def test_bad_date_named_with_value(tmp_path):
    path = write(tmp_path, GOOD.replace("declared_on: 2026-11-01", "declared_on: soon"))
    with pytest.raises(ConfigError, match=r"declared\.declared_on: .*\(got 'soon'\)"):
        load_config(path)


def test_nested_list_index_named(tmp_path):
    text = GOOD.replace("commissioned: 2025-03-01", "commissioned: yesterday")
    with pytest.raises(
        ConfigError, match=r"declared\.commissioning_phases\[0\]\.commissioned"
    ):
        load_config(write(tmp_path, text))


def test_dsn_with_password_rejected_without_echo(tmp_path):
    text = GOOD.replace("reader@", "reader:Canary-Pa55@")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert "sources.databases[0].dsn" in str(caught.value)
    assert "password_file" in str(caught.value)
    assert "Canary-Pa55" not in str(caught.value)


def test_dsn_scheme_checked(tmp_path):
    text = GOOD.replace("postgresql://", "oracle://")
    with pytest.raises(ConfigError, match=r"expected postgresql://USER@HOST:PORT/DB"):
        load_config(write(tmp_path, text))


def test_duplicate_database_names(tmp_path):
    text = GOOD + ""
    text = text.replace(
        "      password_file: /run/secrets/db-password\n",
        "      password_file: /run/secrets/db-password\n"
        "    - name: main\n      dsn: mysql://root@127.0.0.1:3306/test\n",
    )
    with pytest.raises(ConfigError, match=r"repeated: \['main'\]"):
        load_config(write(tmp_path, text))


def test_development_finished_before_start(tmp_path):
    text = GOOD.replace(
        "development_started: 2024-02-01",
        "development_started: 2024-02-01\n  development_finished: 2023-01-01",
    )
    with pytest.raises(ConfigError, match="must not be before development_started"):
        load_config(write(tmp_path, text))


def test_invalid_yaml_names_line(tmp_path):
    path = write(tmp_path, "system:\n  name: [x\n")
    with pytest.raises(ConfigError, match=r"line 3: not valid YAML"):
        load_config(path)


def test_empty_file(tmp_path):
    with pytest.raises(ConfigError, match="the file is empty"):
        load_config(write(tmp_path, ""))


def test_named_file_must_exist(tmp_path):
    missing = str(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(missing)


def test_no_file_means_this_host(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert config.sources.host is not None
    assert config.sources.databases == []
    assert config.origin == "built-in defaults"


def test_sources_without_host_scan_no_host(tmp_path):
    text = "system: {name: x}\nsources:\n  databases: []\n"
    assert load_config(write(tmp_path, text)).sources.host is None


def test_secret_from_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret-value\n", encoding="utf-8")
    assert read_secret("db", file=secret, env=None) == "s3cret-value"


def test_secret_from_env(monkeypatch):
    monkeypatch.setenv("TCA_TEST_PW", "from-env")
    assert read_secret("db", file=None, env="TCA_TEST_PW") == "from-env"


def test_secret_env_missing(monkeypatch):
    monkeypatch.delenv("TCA_TEST_ABSENT", raising=False)
    with pytest.raises(ConfigError, match="TCA_TEST_ABSENT is not set"):
        read_secret("db", file=None, env="TCA_TEST_ABSENT")


def test_secret_file_missing(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the secret file"):
        read_secret("db", file=tmp_path / "absent", env=None)


PROMETHEUS = """\
system: {name: x}
sources:
  prometheus:
    url: http://127.0.0.1:9090
    window: 30d
    rate_window: 5m
    selector: 'namespace="e-licensing"'
    queries:
      tps: sum(rate(http_requests_total[5m]))
"""


def test_prometheus_source_loads(tmp_path):
    source = load_config(write(tmp_path, PROMETHEUS)).sources.prometheus
    assert source.url == "http://127.0.0.1:9090"
    assert source.queries.tps == "sum(rate(http_requests_total[5m]))"
    assert source.queries.concurrent_users is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 2_592_000), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5x", "1h 30m", "m5"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="expected a duration such as 30d"):
        parse_duration(text)


def test_prometheus_bad_window_named(tmp_path):
    path = write(tmp_path, PROMETHEUS.replace("window: 30d", "window: a month"))
    with pytest.raises(
        ConfigError, match=r"sources\.prometheus\.window: .*30d, 5m or 1h30m"
    ):
        load_config(path)


def test_prometheus_url_password_rejected(tmp_path):
    text = PROMETHEUS.replace("http://127.0.0.1", "http://admin:Canary-Pa55@127.0.0.1")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert "sources.prometheus.url" in str(caught.value)
    assert "Canary-Pa55" not in str(caught.value)


def test_prometheus_authorization_header_rejected(tmp_path):
    text = PROMETHEUS + "    headers: {Authorization: Bearer abc}\n"
    with pytest.raises(ConfigError, match="header Authorization carries a secret"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "declared_on: 2026-11-01",
            "declared_on: 2026-13-45",
            r"declared\.declared_on: ",
        ),
        (
            "commissioned: 2025-03-01",
            "commissioned: 2025-02-30",
            r"declared\.commissioning_phases\[0\]\.commissioned: ",
        ),
        (
            "declared_on: 2026-11-01",
            "declared_on: 2999-01-01",
            "must not be in the future",
        ),
        (
            "declared_on: 2026-11-01",
            "declared_on: 2026-11-01\n  expires: 2026-10-01",
            r"declared\.expires: .*must not be before declared_on",
        ),
        (
            "    - {name: first stage, commissioned: 2025-03-01}",
            (
                "    - {name: first stage, commissioned: 2025-03-01}\n"
                "    - {name: first stage, commissioned: 2025-04-01}"
            ),
            r"stage names must be unique; repeated: \['first stage'\]",
        ),
        (
            "  domain: payments",
            "  domain: payments\n  interstate_partners: [{name: KazPost, country: KZ}]",
            "a partner in Kazakhstan does not make a project interstate",
        ),
        (
            "      password_file: /run/secrets/db-password",
            "      password_file: /run/secrets/db-password\n      password_env: DB_PW",
            "give password_file or password_env, not both",
        ),
        (
            "/app\n",
            "/app?dbname=other\n",
            "the DSN parameter 'dbname' is not accepted",
        ),
        ("127.0.0.1:5432", "127.0.0.1:notaport", "port must be a number"),
        (
            "rules:\n",
            "  database_settings: {statement_timeout: 1.0e+12}\nrules:\n",
            r"database_settings\.statement_timeout: Input should be less than or equal",
        ),
        (
            "rules:\n",
            "  database_settings: {timeout: 8}\nrules:\n",
            r"timeout \(8 s\) must exceed connect_timeout plus tps_sample_seconds",
        ),
    ],
)
def test_invalid_value_named(tmp_path, old, new, message):
    assert old in GOOD
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, GOOD.replace(old, new)))


def test_repeated_yaml_key_rejected(tmp_path):
    path = write(
        tmp_path, GOOD.replace("sources:\n", "system: {name: other}\nsources:\n")
    )
    with pytest.raises(
        ConfigError, match=r"line 10: not valid YAML: key 'system' appears twice"
    ):
        load_config(path)


def test_password_env_value_not_echoed(tmp_path):
    text = GOOD.replace(
        "      password_file: /run/secrets/db-password",
        "      password_env: 'Canary-Pa55 word!'",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert "not its value" in str(caught.value)
    assert "Canary-Pa55" not in str(caught.value)


def test_same_database_listed_twice(tmp_path):
    text = GOOD.replace(
        "      password_file: /run/secrets/db-password\n",
        "      password_file: /run/secrets/db-password\n"
        "    - name: again\n      dsn: postgresql://other@localhost/app\n",
    )
    with pytest.raises(ConfigError, match="databases 'main' and 'again' name the same"):
        load_config(write(tmp_path, text))


def test_dsn_tls_parameter_accepted(tmp_path):
    text = GOOD.replace("/app\n", "/app?sslmode=verify-full\n")
    assert (
        load_config(write(tmp_path, text))
        .sources.databases[0]
        .dsn.endswith("sslmode=verify-full")
    )


def test_repeated_dsn_list_not_echoed(tmp_path):
    text = GOOD.replace(
        "      password_file: /run/secrets/db-password\n",
        "      password_file: /run/secrets/db-password\n"
        "    - name: main\n      dsn: mysql://root@127.0.0.1:3306/test?ssl_key=Canary-Key\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert "Canary-Key" not in str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  domain: payments",
            "  domain: payments\n  expected_users: true",
            r"declared\.expected_users: Value error, expected a number|declared\.expected_users: expected a number",
        ),
        (
            "  domain: payments",
            "  domain: payments\n  expected_users: '8000'",
            r"declared\.expected_users: expected a number, not text or true/false",
        ),
        (
            "  pack: order-308",
            "  pack: order-308\n  min_met: true",
            r"rules\.min_met: expected a number",
        ),
    ],
)
def test_number_fields_reject_booleans_and_text(tmp_path, old, new, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, GOOD.replace(old, new)))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "    token_file: /a\n    token_env: B\n",
            "give token_file or token_env, not both",
        ),
        ("    headers: {'Authorization ': x}\n", "is not a valid HTTP header name"),
        ("    headers: {Cookie: session=1}\n", "header Cookie carries a secret"),
        (
            '    headers: {X-Tenant: "a\\r\\nb"}\n',
            "header X-Tenant needs a one-line text value",
        ),
        ("    evaluation_time: 2999-01-01T00:00:00Z\n", "must not be in the future"),
        (
            "    timeout: 1.0e+9\n",
            r"timeout: Input should be less than or equal to 86400",
        ),
    ],
)
def test_prometheus_source_rejects(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, PROMETHEUS + extra))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "http://127.0.0.1:9090",
            "http://127.0.0.1:9090/?access_token=x",
            "must not have a",
        ),
        (
            'namespace="e-licensing"',
            'namespace!="other"',
            "at least one matcher must select",
        ),
        ('namespace="e-licensing"', 'namespace="x', "expected label matchers"),
        (
            "rate_window: 5m",
            "rate_window: 1h\n    window: 5m",
            "must not be longer than",
        ),
    ],
)
def test_prometheus_values_rejected(tmp_path, old, new, message):
    text = PROMETHEUS.replace(old, new).replace(
        "    window: 30d\n", "", 1 if "window: 5m" in new else 0
    )
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{name: MariaDB, source: x, colour: red}",
            r"supported_stack_extra\[0\]\.colour: Extra inputs",
        ),
        (
            "{name: MariaDB, source: '  '}",
            r"supported_stack_extra\[0\]\.source: String should match",
        ),
        ("{name: MariaDB}", r"supported_stack_extra\[0\]\.source: Field required"),
    ],
)
def test_supported_stack_extra_validated(tmp_path, entry, message):
    text = GOOD.replace(
        "  pack: order-308", f"  pack: order-308\n  supported_stack_extra: [{entry}]"
    )
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_nested_quantifier_tag_pattern_rejected(tmp_path):
    text = GOOD.replace(
        "  host: {}", "  host: {}\n  repository: {stage_tag_pattern: '^(a+)+$'}"
    )
    with pytest.raises(ConfigError, match="can take exponential time"):
        load_config(write(tmp_path, text))
