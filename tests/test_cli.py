"""The `techcomplex` command as a user runs it: real processes, real files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from agent.output import write_atomic

ROOT = Path(__file__).resolve().parent.parent
CANARY = "Canary-7f3a9-secret"


def run(args, cwd, env=None, timeout=120):
    """Run `python -m agent ARGS` in cwd; return the completed process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def schema():
    text = resources.files("agent").joinpath("schema", "report.schema.json").read_text()
    return json.loads(text)


def write_config(tmp_path, text, name="techcomplex.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_version(tmp_path):
    result = run(["--version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("techcomplex, version ")


def test_default_scan_prints_thirteen_criteria(tmp_path):
    result = run(["scan"], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for criterion_id in range(1, 14):
        assert any(line.startswith(f"│ {criterion_id:>3} │") for line in lines), (
            criterion_id
        )
    assert "Technologically complex:" in result.stdout


def test_default_scan_json_matches_schema(tmp_path):
    result = run(["scan", "--format", "json"], tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, schema())
    assert [c["id"] for c in report["criteria"]] == list(range(1, 14))
    assert [c["name"] for c in report["collectors"]] == ["host", "software", "network"]
    assert report["rule_pack"]["id"] == "order-308"


def test_host_facts_in_default_scan(tmp_path):
    report = json.loads(run(["scan", "--format", "json"], tmp_path).stdout)
    assert report["resolved"]["host.cpu_count"]["value"] == os.cpu_count()
    assert report["resolved"]["host.cpu_count"]["provenance"] == "measured"


def test_invalid_config_exits_2_naming_field(tmp_path):
    path = write_config(tmp_path, "system: {name: x}\nsources:\n  host: {rot: /}\n")
    result = run(["scan", "--config", str(path)], tmp_path)
    assert result.returncode == 2
    assert f"{path}: sources.host.rot: Extra inputs are not permitted" in result.stderr
    assert result.stdout == ""


def test_bad_pack_exits_2_naming_key_and_line(tmp_path):
    pack = write_config(
        tmp_path,
        "id: p\nversion: '1'\ncriteria:\n  - id: 1\n    title_ru: a\n    title_en: b\n"
        "    condition: {fact: load.nope, op: gt, value: 1, name: n, basis: order}\n",
        name="pack.yaml",
    )
    config = write_config(tmp_path, f"system: {{name: x}}\nrules: {{pack: {pack}}}\n")
    result = run(["scan", "--config", str(config)], tmp_path)
    assert result.returncode == 2
    assert f"{pack}:7: unknown fact key 'load.nope'" in result.stderr


def test_unwritable_output_exits_3(tmp_path):
    target = tmp_path / "missing-dir" / "report.json"
    result = run(["scan", "--format", "json", "--output", str(target)], tmp_path)
    assert result.returncode == 3
    assert "cannot write the report" in result.stderr
    assert not target.exists()


def test_output_file_written(tmp_path):
    target = tmp_path / "report.md"
    result = run(["scan", "--format", "markdown", "--output", str(target)], tmp_path)
    assert result.returncode == 0
    assert result.stdout == ""
    assert target.read_text("utf-8").startswith("# ")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []


def test_failed_write_keeps_previous_report(tmp_path):
    target = tmp_path / "report.json"
    target.write_text('{"previous": true}', encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "half a report \ud800 and the rest")
    assert target.read_text("utf-8") == '{"previous": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_criteria_lists_pack(tmp_path):
    result = run(["criteria"], tmp_path)
    assert result.returncode == 0
    assert "4.tps: load.tps_peak gt 300 (basis order)" in result.stdout
    assert "4.records: data.records_total gt 50000000 (basis order)" in result.stdout
    headings = [
        line for line in result.stdout.splitlines() if re.match(r"\d+\. ", line)
    ]
    assert len(headings) == 13


def test_criteria_shows_overrides(tmp_path):
    config = write_config(
        tmp_path, "system: {name: x}\nrules: {thresholds: {4.tps: 1000}}\n"
    )
    result = run(["criteria", "--config", str(config)], tmp_path)
    assert "4.tps: load.tps_peak gt 1000 (basis policy)" in result.stdout


def test_json_log_lines(tmp_path):
    result = run(["--log-format", "json", "scan", "--format", "json"], tmp_path)
    log_lines = [json.loads(line) for line in result.stderr.splitlines()]
    messages = [entry["message"] for entry in log_lines]
    assert any(m.startswith("collector host finished in") for m in messages)
    assert {entry["level"] for entry in log_lines} <= {"info", "warning", "error"}


def test_declared_section_judged(tmp_path):
    config = write_config(
        tmp_path,
        "system: {name: e-licensing}\n"
        "declared:\n"
        "  declared_by: {name: A. Nurlanov, role: CTO}\n"
        "  declared_on: 2026-11-01\n"
        "  development_started: 2020-01-01\n"
        "  domain: payments\n"
        "sources: {}\n",
    )
    report = json.loads(
        run(["scan", "--config", str(config), "--format", "json"], tmp_path).stdout
    )
    by_id = {c["id"]: c for c in report["criteria"]}
    assert by_id[2]["verdict"] == "met"
    assert by_id[10]["verdict"] == "met"
    assert report["classification"]["technologically_complex"] is True
    assert [c["name"] for c in report["collectors"]] == ["declared"]


@pytest.mark.postgres
def test_unreachable_database_gives_unknown_and_exit_0(tmp_path, free_port):
    secret = tmp_path / "db-password"
    secret.write_text(CANARY, encoding="utf-8")
    config = write_config(
        tmp_path,
        "system: {name: e-licensing}\n"
        "sources:\n"
        "  databases:\n"
        "    - name: main\n"
        f"      dsn: postgresql://reader@127.0.0.1:{free_port}/app\n"
        f"      password_file: {secret}\n"
        "  database_settings: {connect_timeout: 3, tps_sample_seconds: 0.2}\n",
    )
    target = tmp_path / "report.json"
    result = run(
        ["scan", "--config", str(config), "--format", "json", "--output", str(target)],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(target.read_text("utf-8"))
    criterion_4 = next(c for c in report["criteria"] if c["id"] == 4)
    missing = {m["key"]: m for m in criterion_4["facts_missing"]}
    assert criterion_4["verdict"] == "unknown"
    assert missing["data.records_total"]["reason"] == "unreachable"
    assert report["collectors"][0]["status"] == "failed"


@pytest.mark.postgres
def test_canary_secret_in_no_output(tmp_path, free_port):
    secret = tmp_path / "db-password"
    secret.write_text(CANARY, encoding="utf-8")
    config = write_config(
        tmp_path,
        "system: {name: canary}\n"
        "sources:\n"
        "  host: {}\n"
        "  databases:\n"
        "    - name: refused\n"
        f"      dsn: postgresql://reader@127.0.0.1:{free_port}/app\n"
        f"      password_file: {secret}\n"
        "    - name: envpw\n"
        f"      dsn: mysql://reader@127.0.0.1:{free_port}/app\n"
        "      password_env: TCA_CANARY\n"
        "  database_settings: {connect_timeout: 3, tps_sample_seconds: 0.2}\n",
    )
    outputs = []
    for fmt in ("table", "json", "markdown", "html"):
        for log_format in ("text", "json"):
            target = tmp_path / f"out.{fmt}.{log_format}"
            for extra in ([], ["--output", str(target)]):
                result = run(
                    [
                        "--log-level",
                        "DEBUG",
                        "--log-format",
                        log_format,
                        "scan",
                        "--config",
                        str(config),
                        "--format",
                        fmt,
                        *extra,
                    ],
                    tmp_path,
                    env={"TCA_CANARY": CANARY},
                )
                assert result.returncode == 0, result.stderr
                outputs += [result.stdout, result.stderr]
            outputs.append(target.read_text("utf-8"))
    # 4 formats x 2 log formats x (stdout and stderr of 2 runs, plus the file)
    assert len(outputs) == 40
    assert all(CANARY not in text for text in outputs)


def test_terminal_shows_progress_and_table(tmp_path):
    """On a terminal, collectors report as they finish and no info log lines appear."""
    import pty
    import select

    main_fd, child_fd = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160", "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "scan"],
        cwd=tmp_path,
        env=env,
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
    )
    os.close(child_fd)
    chunks = []
    while True:
        ready, _, _ = select.select([main_fd], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(main_fd, 65536)
        except OSError:  # the terminal closes with EIO once the process exits
            break
        if not data:
            break
        chunks.append(data)
    os.close(main_fd)
    assert process.wait(timeout=60) == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "✓ host ok" in screen
    assert "INFO" not in screen
    assert "Technologically complex:" in screen


def test_full_standard_output_exits_3(tmp_path):
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "agent", "--log-level", "ERROR", "scan"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 3
    assert "cannot write the report to standard output" in result.stderr


def test_repo_scan_without_config(tmp_path):
    repo = tmp_path / "app"
    repo.mkdir()
    (repo / "Dockerfile").write_text(
        "FROM container-registry.oracle.com/database/enterprise:21.3.0\n", "utf-8"
    )
    result = run(["scan", "--repo", str(repo), "--format", "json"], tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [c["name"] for c in report["collectors"]] == ["repository"]
    criterion_5 = next(c for c in report["criteria"] if c["id"] == 5)
    assert criterion_5["verdict"] == "met"


def test_repo_must_be_directory(tmp_path):
    result = run(["scan", "--repo", str(tmp_path / "absent")], tmp_path)
    assert result.returncode == 2
    assert "--repo needs a directory" in result.stderr


def test_repo_scan_meets_criteria_2_and_5(tmp_path):
    from tests import repo_builders as builders

    repo = builders.init_repository(tmp_path / "registry")
    dockerfile = {"db/Dockerfile": f"FROM {builders.ORACLE_IMAGE}\n"}
    builders.commit(repo, "start", builders.utc(2024, 1, 15), files=dockerfile)
    builders.commit(repo, "release", builders.utc(2025, 3, 15))
    result = run(["scan", "--repo", str(repo), "--format", "json"], tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    by_id = {c["id"]: c for c in report["criteria"]}
    months = next(
        f for f in report["facts"] if f["key"] == "project.development_months"
    )
    proprietary = next(f for f in report["facts"] if f["key"] == "software.proprietary")
    # 2024-01-15 to 2025-03-15 is 425 days; 425 / 30.436875 = 13.96
    assert months["value"] == 14.0
    assert by_id[2]["verdict"] == "met"
    assert ".." in months["details"]["commit_range"]
    assert by_id[5]["verdict"] == "met"
    assert proprietary["value"][0]["evidence"][0]["file"] == "db/Dockerfile"


@pytest.mark.postgres
@pytest.mark.mariadb
def test_default_scan_lists_runtimes_of_this_machine(tmp_path):
    report = json.loads(run(["scan", "--format", "json"], tmp_path).stdout)
    components = report["resolved"]["stack.components"]["value"]
    versions = {(c["name"], c.get("version")) for c in components}
    python = ".".join(str(part) for part in sys.version_info[:3])
    assert ("Python", python) in versions
    assert any(name == "PostgreSQL" and version for name, version in versions)
    assert any(name == "MariaDB" and version for name, version in versions)
    assert all(c.get("evidence") for c in components if c["name"] == "PostgreSQL")


def test_proprietary_python_package_meets_criterion_5(tmp_path):
    site = tmp_path / "env" / "lib" / "python3.11" / "site-packages"
    info = site / "vendorsdk-2.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vendorsdk\nVersion: 2.1\nLicense: Proprietary\n",
        "utf-8",
    )
    config = write_config(
        tmp_path,
        f"system: {{name: x}}\nsources:\n  software: {{paths: [{tmp_path / 'env'}]}}\n",
    )
    report = json.loads(
        run(["scan", "--config", str(config), "--format", "json"], tmp_path).stdout
    )
    criterion_5 = next(c for c in report["criteria"] if c["id"] == 5)
    used = criterion_5["facts_used"][0]["value"]
    vendorsdk = [item for item in used if item["name"] == "vendorsdk"]
    assert criterion_5["verdict"] == "met"
    assert len(vendorsdk) == 1
    assert vendorsdk[0]["licence"] == "Proprietary"


def _site_package(root, name, version, licence):
    info = (
        root
        / "env"
        / "lib"
        / "python3.11"
        / "site-packages"
        / f"{name}-{version}.dist-info"
    )
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: {licence}\n",
        "utf-8",
    )


def test_operator_catalogue_entry_decides_licence(tmp_path):
    _site_package(tmp_path, "acme-registry-sdk", "2.0", "MIT")
    config = write_config(
        tmp_path,
        "system: {name: x}\n"
        f"sources:\n  software: {{paths: [{tmp_path / 'env'}]}}\n"
        "catalogues:\n  products:\n"
        "    - {name: Registry SDK, vendor: ACME, kind: other, licence_class: proprietary,\n"
        "       source: contract 2025-17, match: {packages: {pypi: [acme-registry-sdk]}}}\n",
    )
    report = json.loads(
        run(["scan", "--config", str(config), "--format", "json"], tmp_path).stdout
    )
    proprietary = report["resolved"]["software.proprietary"]["value"]
    sdk = [item for item in proprietary if item["name"] == "Registry SDK"]
    assert len(sdk) == 1
    assert sdk[0]["licence_source"] == "operator catalogue entry"


def test_unknown_licence_shown_as_caveat(tmp_path):
    _site_package(tmp_path, "mystery", "1.0", "UNKNOWN")
    config = write_config(
        tmp_path,
        f"system: {{name: x}}\nsources:\n  software: {{paths: [{tmp_path / 'env'}]}}\n",
    )
    report = json.loads(
        run(["scan", "--config", str(config), "--format", "json"], tmp_path).stdout
    )
    fact = next(f for f in report["facts"] if f["key"] == "software.proprietary")
    assert "pypi:mystery" in fact["details"]["unknown_licences"]["application_packages"]
    criterion_5 = next(c for c in report["criteria"] if c["id"] == 5)
    assert "could still be proprietary" in criterion_5["explanation"]
