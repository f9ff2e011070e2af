"""The software collector against prepared filesystem trees (root is not /)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from collectors.base import Findings
from collectors.software import SoftwareCollector, dpkg, pythonenv, rpm
from collectors.software.models import identify
from tests import software_trees as trees

DEBIAN_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'


def collect(root: Path, **options):
    findings = Findings()
    SoftwareCollector(str(root), hostname="test-host", **options).collect(findings)
    facts, gaps, _ = findings.snapshot()
    return {fact.key: fact for fact in facts}, {gap.key: gap for gap in gaps}


def names(items):
    return [item["name"] for item in items]


def by_name(items, name):
    matches = [item for item in items if item["name"] == name]
    assert len(matches) == 1, (name, names(items))
    return matches[0]


# --- dpkg ---------------------------------------------------------------------


def test_dpkg_installed_only(tmp_path):
    trees.dpkg_status(
        tmp_path,
        [
            ("nginx", "1.22.1-9"),
            ("old-tool", "1.0", "deinstall ok config-files"),
        ],
    )
    packages, status = dpkg.read_packages(str(tmp_path))
    assert [p.name for p in packages] == ["nginx"]
    assert status.items == 1


def test_dpkg_dep5_licence(tmp_path):
    trees.dpkg_status(tmp_path, [("libfoo1", "2.0-1")])
    trees.dep5_copyright(tmp_path, "libfoo1", ["MIT", "LGPL-2.1+"])
    (package,), _ = dpkg.read_packages(str(tmp_path))
    assert package.licence.raw == "MIT; LGPL-2.1+"
    assert package.licence.spdx == "MIT AND LGPL-2.1-or-later"
    assert package.licence.licence_class == "weak_copyleft"


def test_dpkg_free_form_copyright_unknown(tmp_path):
    trees.dpkg_status(tmp_path, [("libbar1", "1.0-1")])
    trees.write(tmp_path, "/usr/share/doc/libbar1/copyright", "This package is MIT.\n")
    (package,), _ = dpkg.read_packages(str(tmp_path))
    assert package.licence.licence_class == "unknown"
    assert package.licence_from is None


def test_dpkg_this_machine():
    status = Path("/var/lib/dpkg/status").read_text()
    expected = None
    for paragraph in status.split("\n\n"):
        lines = paragraph.splitlines()
        if "Package: postgresql-15" in lines:
            expected = next(line for line in lines if line.startswith("Version: "))[9:]
    assert expected is not None, "postgresql-15 is not installed on this machine"
    packages, _ = dpkg.read_packages("/")
    versions = {p.name: p.version for p in packages}
    assert versions["postgresql-15"] == expected


def test_dpkg_owner_check(tmp_path):
    trees.dpkg_file_list(
        tmp_path, "postgresql-15", ["/usr/lib/postgresql/15/bin/postgres"]
    )
    assert dpkg.package_owns(
        str(tmp_path), "postgresql-15", "/usr/lib/postgresql/15/bin/postgres"
    )
    assert not dpkg.package_owns(str(tmp_path), "postgresql-15", "/usr/bin/psql")


# --- rpm ------------------------------------------------------------------------


def test_rpm_sqlite(tmp_path):
    header = trees.rpm_header(
        {1000: "mssql-server", 1001: "16.0.4135.4", 1002: "1", 1014: "Commercial"}
    )
    trees.rpmdb(tmp_path, [header, b"\x00\x01"])
    (package,), status = rpm.read_packages(str(tmp_path))
    assert package.name == "mssql-server"
    assert package.version == "16.0.4135.4-1"
    assert package.licence.licence_class == "proprietary"
    assert status.extra["malformed_headers"] == 1


def test_rpm_berkeley_db_unsupported(tmp_path):
    trees.write(tmp_path, "/var/lib/rpm/Packages", b"\0" * 64)
    packages, status = rpm.read_packages(str(tmp_path))
    assert packages == []
    assert status.status == "unsupported"


def test_rpm_header_rejects_garbage():
    with pytest.raises(ValueError):
        rpm.parse_header(b"\x00\x00\x00\x09\x00\x00\x00\x10")


# --- Python -------------------------------------------------------------------

SSPL_FILE = "Server Side Public License\nVERSION 1, OCTOBER 16, 2018\n"


@pytest.fixture
def site(tmp_path):
    site = trees.site_packages(tmp_path / "app")
    trees.dist_info(site, "expr-only", "1.0", license_expression="Apache-2.0 OR MIT")
    trees.dist_info(
        site,
        "classifiers-only",
        "2.0",
        classifiers=(
            "License :: OSI Approved :: BSD License",
            "Programming Language :: Python",
        ),
    )
    trees.dist_info(site, "unknown-licence", "3.0", license="UNKNOWN")
    trees.dist_info(site, "sspl-thing", "4.0", license="SSPL-1.0")
    trees.dist_info(site, "closed-sdk", "5.0", license="Proprietary")
    trees.dist_info(
        site, "unknown-with-file", "6.0", license="UNKNOWN", licence_file=SSPL_FILE
    )
    trees.dist_info(
        site,
        "unknown-then-classifier",
        "7.0",
        license="UNKNOWN",
        classifiers=("License :: OSI Approved :: MIT License",),
    )
    trees.dist_info(site, "torch", "2.2.0", license="BSD-3-Clause")
    return site


def test_python_licence_forms(site):
    packages, status = pythonenv.read_distributions([site])
    found = {p.name: p for p in packages}
    assert status.items == 8
    assert found["expr-only"].licence.spdx == "Apache-2.0 OR MIT"
    assert found["expr-only"].licence_from == "License-Expression"
    assert found["classifiers-only"].licence.licence_class == "permissive"
    assert found["classifiers-only"].licence_from == "Classifier"
    assert found["unknown-licence"].licence.licence_class == "unknown"
    assert found["unknown-licence"].licence.raw == "UNKNOWN"
    assert found["sspl-thing"].licence.licence_class == "source_available"
    assert found["closed-sdk"].licence.licence_class == "proprietary"
    assert found["unknown-with-file"].licence.spdx == "SSPL-1.0"
    assert found["unknown-with-file"].licence_from == "licenses/LICENSE"
    assert found["unknown-then-classifier"].licence.spdx == "MIT"


def test_proprietary_names_packages(site, tmp_path):
    facts, _ = collect(tmp_path, paths=[str(tmp_path / "app")])
    items = facts["software.proprietary"].value
    assert sorted(names(items)) == ["closed-sdk", "sspl-thing", "unknown-with-file"]
    assert by_name(items, "sspl-thing")["licence"] == "SSPL-1.0"
    assert by_name(items, "closed-sdk")["licence"] == "Proprietary"
    assert by_name(items, "closed-sdk")["licence_class"] == "proprietary"
    assert by_name(items, "sspl-thing")["evidence"][0]["path"] == str(site)


def test_unknown_licence_not_proprietary(site, tmp_path):
    facts, _ = collect(tmp_path, paths=[str(tmp_path / "app")])
    assert "unknown-licence" not in names(facts["software.proprietary"].value)


def test_ai_framework_installed(site, tmp_path):
    facts, _ = collect(tmp_path, paths=[str(tmp_path / "app")])
    torch = by_name(facts["ai.components"].value, "PyTorch")
    assert torch["usage"] == "installed"
    assert torch["version"] == "2.2.0"
    assert torch["evidence"][0]["source"] == "pypi"


def test_proprietary_empty_when_readable(tmp_path):
    trees.dpkg_status(tmp_path, [("nginx", "1.22.1-9")])
    facts, gaps = collect(tmp_path)
    assert facts["software.proprietary"].value == []
    assert "software.proprietary" not in gaps


# --- npm, Java, .NET ------------------------------------------------------------


@pytest.fixture
def node_app(tmp_path):
    modules = tmp_path / "web" / "node_modules"
    trees.npm_package(modules, "express", "4.19.2", license="MIT")
    trees.npm_package(modules, "internal-billing", "1.2.0", license="UNLICENSED")
    trees.npm_package(
        modules, "@acme/widgets", "0.3.0", license="SEE LICENSE IN EULA.txt"
    )
    (modules / "@acme" / "widgets" / "EULA.txt").write_text(
        "ACME END USER LICENSE AGREEMENT\nThis software is licensed, not sold.\n"
    )
    trees.npm_package(
        modules, "@scope/legacy", "0.1.0", license={"type": "BSD-3-Clause"}
    )
    trees.npm_package(
        modules / "express" / "node_modules", "nested-dep", "1.0.0", license="ISC"
    )
    return tmp_path / "web"


def test_node_packages(node_app, tmp_path):
    facts, _ = collect(tmp_path, paths=[str(node_app)])
    coverage = facts["stack.components"].details["coverage"]["npm"]
    assert coverage["items"] == 5
    assert "Express" in names(facts["stack.components"].value)


def test_node_unlicensed_and_eula(node_app, tmp_path):
    facts, _ = collect(tmp_path, paths=[str(node_app)])
    items = facts["software.proprietary"].value
    assert sorted(names(items)) == ["@acme/widgets", "internal-billing"]
    assert by_name(items, "internal-billing")["licence"] == "UNLICENSED"
    assert by_name(items, "@acme/widgets")["licence"] == "SEE LICENSE IN EULA.txt"


def test_jar_manifest_and_pom(tmp_path):
    trees.jar(
        tmp_path / "srv" / "lib" / "ojdbc8-19.3.0.0.jar",
        {"Implementation-Title": "JDBC", "Implementation-Version": "19.3.0.0"},
        [("com.oracle.database.jdbc", "ojdbc8", "19.3.0.0")],
    )
    trees.jar(
        tmp_path / "srv" / "lib" / "gson-2.10.jar",
        {
            "Bundle-SymbolicName": "com.google.gson",
            "Bundle-Version": "2.10.0",
            "Bundle-License": "Apache-2.0",
        },
        [("com.google.code.gson", "gson", "2.10")],
    )
    facts, _ = collect(tmp_path, paths=[str(tmp_path / "srv")])
    oracle = by_name(facts["software.proprietary"].value, "Oracle JDBC driver")
    assert oracle["version"] == "19.3.0.0"
    assert oracle["licence_source"] == "catalogue"
    assert oracle["evidence"][0]["package"] == "com.oracle.database.jdbc:ojdbc8"
    assert facts["stack.components"].details["coverage"]["maven"]["items"] == 2


def test_jar_bundle_licence(tmp_path):
    from collectors.software import java

    path = trees.jar(
        tmp_path / "gson-2.10.jar",
        {"Bundle-SymbolicName": "com.google.gson", "Bundle-License": "Apache-2.0"},
        [("com.google.code.gson", "gson", "2.10")],
    )
    (package,) = java.read_jar(path)
    assert package.name == "com.google.code.gson:gson"
    assert package.version == "2.10"
    assert package.licence.spdx == "Apache-2.0"


def test_nested_boot_jar(tmp_path):
    from collectors.software import java

    inner = trees.jar(
        tmp_path / "inner.jar", {}, [("org.springframework", "spring-core", "6.1.2")]
    )
    outer = trees.jar(
        tmp_path / "app.jar",
        {"Implementation-Title": "app"},
        entries={"BOOT-INF/lib/spring-core-6.1.2.jar": inner.read_bytes()},
    )
    packages = java.read_jar(outer)
    spring = [p for p in packages if p.name == "org.springframework:spring-core"]
    assert spring[0].product.name == "Spring Framework"
    assert spring[0].path.endswith("app.jar!/BOOT-INF/lib/spring-core-6.1.2.jar")


def test_deps_json(tmp_path):
    trees.deps_json(
        tmp_path / "api" / "Api.deps.json",
        {
            "Api/1.0.0": "project",
            "Microsoft.AspNetCore.Authentication/2.2.0": "package",
            "Newtonsoft.Json/13.0.3": "package",
        },
    )
    facts, _ = collect(tmp_path, paths=[str(tmp_path / "api")])
    assert facts["stack.components"].details["coverage"]["nuget"]["items"] == 2
    assert "ASP.NET Core" in names(facts["stack.components"].value)
    assert facts["architecture.runtimes"].value == 1


# --- model files ------------------------------------------------------------------


@pytest.fixture
def models(tmp_path):
    directory = tmp_path / "models"
    directory.mkdir()
    trees.safetensors_file(directory / "model.safetensors")
    trees.gguf_file(directory / "llama.gguf")
    trees.pytorch_file(directory / "resnet.pt")
    trees.onnx_file(directory / "detector.onnx")
    trees.tflite_file(directory / "mobile.tflite")
    trees.saved_model(directory / "classifier" / "1")
    (directory / "random.bin").write_bytes(b"\x01\x02\x03" * 40)
    (directory / "fake.onnx").write_bytes(b"not a model at all")
    return directory


@pytest.mark.parametrize(
    "name, expected",
    [
        ("model.safetensors", "safetensors"),
        ("llama.gguf", "gguf"),
        ("resnet.pt", "pytorch"),
        ("detector.onnx", "onnx"),
        ("mobile.tflite", "tflite"),
        ("random.bin", None),
        ("fake.onnx", None),
    ],
)
def test_model_signature(models, name, expected):
    assert identify(models / name) == expected


def test_model_items(models, tmp_path):
    facts, _ = collect(tmp_path, paths=[str(models)])
    items = {item["name"]: item for item in facts["ai.components"].value}
    assert items["llama.gguf"]["format"] == "gguf"
    assert items["llama.gguf"]["size_bytes"] == (models / "llama.gguf").stat().st_size
    assert (
        items["model.safetensors"]["size_bytes"]
        == (models / "model.safetensors").stat().st_size
    )
    assert items["1"]["format"] == "tf_savedmodel"
    assert items["1"]["size_bytes"] == 42
    assert all(item["usage"] == "installed" for item in items.values())
    assert "random.bin" not in items
    coverage = facts["ai.components"].details["coverage"]["models"]
    assert coverage["unrecognised"] == 2


# --- os-release, interstate, gaps -----------------------------------------------


def test_os_release_component(tmp_path):
    trees.write(tmp_path, "/etc/os-release", DEBIAN_RELEASE)
    facts, _ = collect(tmp_path)
    debian = by_name(facts["stack.components"].value, "Debian GNU/Linux")
    assert debian["version"] == "12"
    assert debian["kind"] == "os"
    assert debian["evidence"][0]["path"] == "/etc/os-release"


def test_nothing_readable_gives_gaps(tmp_path):
    facts, gaps = collect(tmp_path)
    assert facts == {}
    for key in (
        "stack.components",
        "software.proprietary",
        "ai.components",
        "video.analytics",
    ):
        assert gaps[key].reason == "no_data"


def test_runtimes_gap_offline_without_paths(tmp_path):
    trees.dpkg_status(tmp_path, [("nginx", "1.22.1-9")])
    _, gaps = collect(tmp_path)
    assert gaps["architecture.runtimes"].reason == "no_data"


def test_interstate_from_config(tmp_path):
    trees.dpkg_status(tmp_path, [("nginx", "1.22.1-9")])
    endpoints = {
        "interstate": [
            {
                "name": "EAEU integrated system",
                "url": "https://user:secret@eaeu.example/api?key=1",
                "country": "EAEU",
            },
            {"name": "Tax authority", "url": "https://tax.example", "country": "KZ"},
        ]
    }
    facts, _ = collect(tmp_path, endpoints=endpoints)
    fact = facts["integration.interstate"]
    assert names(fact.value) == ["EAEU integrated system"]
    assert fact.value[0]["url"] == "https://eaeu.example/api"
    assert fact.value[0]["evidence"] == [{"source": "config"}]
    assert fact.provenance == "declared"
    assert names(fact.details["domestic_left_out"]) == ["Tax authority"]


def test_interstate_not_configured(tmp_path):
    trees.dpkg_status(tmp_path, [("nginx", "1.22.1-9")])
    facts, gaps = collect(tmp_path)
    assert "integration.interstate" not in facts
    assert gaps["integration.interstate"].reason == "not_configured"


def test_llm_api_from_config(tmp_path):
    trees.dpkg_status(tmp_path, [("nginx", "1.22.1-9")])
    endpoints = {"llm_apis": ["https://token@llm.example:8443/v1/chat?api_key=x"]}
    facts, _ = collect(tmp_path, endpoints=endpoints)
    item = by_name(facts["ai.components"].value, "llm.example")
    assert item["url"] == "https://llm.example:8443/v1/chat"
    assert item["usage"] == "configured"


def test_video_library_installed_alone(tmp_path):
    trees.dpkg_status(tmp_path, [("libopencv-core406", "4.6.0+dfsg-12")])
    facts, _ = collect(tmp_path)
    fact = facts["video.analytics"]
    assert fact.value == []
    assert fact.details["video_libraries"][0]["name"] == "OpenCV"
    assert fact.details["video_libraries"][0]["counted"] is False


def test_deepstream_counts_alone(tmp_path):
    trees.dpkg_status(tmp_path, [("deepstream-7.0", "7.0.0-1")])
    facts, _ = collect(tmp_path)
    item = by_name(facts["video.analytics"].value, "NVIDIA DeepStream")
    assert item["role"] == "analytics"
    assert "NVIDIA DeepStream" in names(facts["software.proprietary"].value)


def test_crypto_in_stack_not_proprietary(tmp_path):
    trees.jar(
        tmp_path / "srv" / "kalkancrypt-0.7.jar",
        {},
        [("kz.gov.pki.kalkan", "kalkancrypt", "0.7")],
    )
    facts, _ = collect(tmp_path, paths=[str(tmp_path / "srv")])
    kalkan = by_name(facts["stack.components"].value, "KalkanCrypt")
    assert kalkan["kind"] == "crypto"
    assert facts["software.proprietary"].value == []


def test_missing_path_recorded(tmp_path):
    trees.dpkg_status(tmp_path, [("nginx", "1.22.1-9")])
    facts, _ = collect(tmp_path, paths=[str(tmp_path / "absent")])
    coverage = facts["stack.components"].details["coverage"]["paths"]
    assert coverage["missing"] == [str(tmp_path / "absent")]


def test_unreadable_dpkg_caveat(tmp_path):
    status = trees.dpkg_status(tmp_path, [("nginx", "1.22.1-9")])
    status.unlink()
    status.mkdir()  # a directory where the file should be: reading fails
    site = trees.site_packages(tmp_path / "app")
    trees.dist_info(site, "flask", "3.0.0", license="BSD-3-Clause")
    facts, _ = collect(tmp_path, paths=[str(tmp_path / "app")])
    assert (
        facts["stack.components"].details["coverage"]["dpkg"]["status"] == "unreadable"
    )
    assert "dpkg" in facts["stack.components"].details["caveat"]


def test_rpm_db_closed_after_read(tmp_path):
    header = trees.rpm_header(
        {1000: "nginx", 1001: "1.24.0", 1002: "1.el9", 1014: "BSD"}
    )
    location = trees.rpmdb(tmp_path, [header])
    rpm.read_packages(str(tmp_path))
    connection = sqlite3.connect(location)
    connection.execute("DROP TABLE Packages")
    connection.close()
