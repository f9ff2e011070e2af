"""The product and licence catalogues: data checks and matchers."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from collectors import catalogues
from collectors.catalogues import (
    KINDS,
    LICENCE_CLASSES,
    classify_classifiers,
    classify_licence,
    match_image,
    match_library,
    match_package,
    match_port,
    match_process,
)
from collectors.catalogues.products import parse_entry


def raw_entries():
    for name in catalogues.product_files():
        text = resources.files("collectors.catalogues").joinpath(name).read_text()
        for entry in yaml.safe_load(text)["products"]:
            yield name, entry


@pytest.fixture(autouse=True)
def no_extensions():
    catalogues.reset_extensions()
    yield
    catalogues.reset_extensions()


# --- the catalogue as data ------------------------------------------------


def test_every_entry_has_source():
    for file_name, entry in raw_entries():
        source = entry.get("source")
        assert isinstance(source, str) and source.strip(), (file_name, entry["name"])


def test_names_unique():
    names = [entry["name"] for _, entry in raw_entries()]
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert repeated == []


def test_entries_validate():
    for file_name, entry in raw_entries():
        parsed = parse_entry(entry, file_name)
        assert parsed.kind in KINDS
        assert parsed.licence_class in LICENCE_CLASSES


def test_version_rules_parse():
    entries = [e for _, e in raw_entries() if e.get("licence_by_version")]
    assert len(entries) >= 8
    for raw in entries:
        entry = catalogues.entry(raw["name"])
        assert entry is not None
        assert len(entry.rules) == len(raw["licence_by_version"])
        for rule in entry.rules:
            assert rule.licence_class in LICENCE_CLASSES
            if rule.below is not None:
                assert rule.below > rule.start


def test_licence_sections_have_sources():
    text = (
        resources.files("collectors.catalogues").joinpath("licences.yaml").read_text()
    )
    data = yaml.safe_load(text)
    for name, section in data["classes"].items():
        assert section.get("source"), name
    for group in data["aliases"]:
        assert group.get("source")
    for item in data["exceptions"] + data["signatures"] + data["keywords"]:
        assert item.get("source"), item


def test_national_crypto_entries():
    for name in ("KalkanCrypt", "NCALayer", "NCANode"):
        entry = catalogues.entry(name)
        assert entry is not None, name
        assert entry.kind == "crypto"
        assert entry.licence_class == "unknown"
        assert "NCA RK" in entry.source


# --- matchers -------------------------------------------------------------


@pytest.mark.parametrize(
    "name, version, ecosystem, expected, licence_class",
    [
        ("postgresql-15", "15.20", "dpkg", "PostgreSQL", "permissive"),
        ("mariadb-server", "10.11.6", "dpkg", "MariaDB", "copyleft"),
        ("Scikit_Learn", "1.4.0", "pypi", "scikit-learn", "permissive"),
        (
            "com.oracle.database.jdbc:ojdbc8",
            "19.3",
            "maven",
            "Oracle JDBC driver",
            "proprietary",
        ),
        ("@nestjs/core", "10.0.0", "npm", "NestJS", "permissive"),
        ("Microsoft.AspNetCore.Mvc", "2.2.0", "nuget", "ASP.NET Core", "permissive"),
        (
            "1c-enterprise-8.3.23.1688-server",
            None,
            "dpkg",
            "1C:Enterprise",
            "proprietary",
        ),
        ("cprocsp-base", "5.0", "dpkg", "CryptoPro CSP", "proprietary"),
        ("mssql-server", "16.0", "rpm", "Microsoft SQL Server", "proprietary"),
    ],
)
def test_match_package(name, version, ecosystem, expected, licence_class):
    product = match_package(name, version, ecosystem)
    assert product is not None
    assert product.name == expected
    assert product.licence_class == licence_class


def test_match_package_unknown_name():
    assert match_package("left-pad", "1.3.0", "npm") is None


def test_match_package_any_ecosystem():
    assert match_package("torch").name == "PyTorch"


@pytest.mark.parametrize(
    "name, ecosystem, version, licence_class",
    [
        ("redis-server", "dpkg", "5:7.0.15-1~deb12u1", "permissive"),
        ("redis-server", "dpkg", "7.4.1", "source_available"),
        ("redis-server", "dpkg", "8.0.2", "copyleft"),
        ("redis-server", "dpkg", None, "unknown"),
        ("mongodb-org-server", "dpkg", "4.0.2", "copyleft"),
        ("mongodb-org-server", "dpkg", "4.0.3", "source_available"),
        ("mongodb-org-server", "dpkg", "3.6.9", "source_available"),
        ("mongodb-org-server", "dpkg", "3.6.8", "copyleft"),
        ("mongodb-org-server", "dpkg", "3.4.18", "source_available"),
        ("elasticsearch", "dpkg", "6.2.4", "permissive"),
        ("elasticsearch", "dpkg", "7.11.0", "source_available"),
        ("kibana", "rpm", "8.11.0", "source_available"),
        ("terraform", "dpkg", "1.5.7", "weak_copyleft"),
        ("terraform", "dpkg", "1.6.0", "source_available"),
        ("vault", "dpkg", "1.14.8", "weak_copyleft"),
        ("vault", "dpkg", "1.15.0", "source_available"),
        ("consul", "dpkg", "1.16.4", "weak_copyleft"),
        ("consul", "dpkg", "1.17.0", "source_available"),
    ],
)
def test_licence_by_version(name, ecosystem, version, licence_class):
    product = match_package(name, version, ecosystem)
    assert product is not None
    assert product.licence_class == licence_class


def test_unknown_version_note_states_rule():
    product = match_package("redis-server", None, "dpkg")
    assert "7.4" in product.note


@pytest.mark.parametrize(
    "exe, cmdline, expected",
    [
        (
            "/usr/lib/postgresql/15/bin/postgres",
            ["postgres: 15/main: checkpointer"],
            "PostgreSQL",
        ),
        ("/usr/sbin/mariadbd", ["/usr/sbin/mariadbd"], "MariaDB"),
        (
            "/usr/bin/java",
            ["java", "-cp", "x.jar", "weblogic.Server"],
            "Oracle WebLogic Server",
        ),
        (
            "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
            ["java", "-jar", "app.jar"],
            "OpenJDK",
        ),
        (
            "/usr/lib/jvm/jdk-21-oracle-x64/bin/java",
            ["java", "-jar", "app.jar"],
            "Oracle JDK",
        ),
        ("/opt/vendor/bin/java", ["java", "-jar", "app.jar"], "Java"),
        (
            "/opt/mssql/bin/sqlservr",
            ["/opt/mssql/bin/sqlservr"],
            "Microsoft SQL Server",
        ),
        (
            "/opt/1cv8/x86_64/8.3.23.1688/rphost",
            ["rphost", "-range", "1560:1591"],
            "1C:Enterprise",
        ),
        (
            "/usr/bin/python3.11",
            ["python3", "-m", "vllm.entrypoints.openai.api_server"],
            "vLLM",
        ),
        ("/usr/local/bin/ollama", ["ollama", "serve"], "Ollama"),
        ("/usr/bin/java", ["java", "-jar", "/opt/NCALayer/ncalayer.jar"], "NCALayer"),
    ],
)
def test_match_process(exe, cmdline, expected):
    product = match_process(exe, cmdline)
    assert product is not None
    assert product.name == expected


def test_match_process_unknown():
    assert match_process("/usr/bin/bash", ["bash"]) is None


@pytest.mark.parametrize(
    "reference, expected, licence_class",
    [
        (
            "container-registry.oracle.com/database/enterprise:21.3.0",
            "Oracle Database",
            "proprietary",
        ),
        (
            "mcr.microsoft.com/mssql/server:2022-latest",
            "Microsoft SQL Server",
            "proprietary",
        ),
        ("gvenzl/oracle-xe", "Oracle Database", "proprietary"),
        ("docker.io/library/redis:7.2.4", "Redis", "permissive"),
        ("redis:7.4.0@sha256:" + "0" * 64, "Redis", "source_available"),
        ("redis:latest", "Redis", "unknown"),
        (
            "docker.elastic.co/elasticsearch/elasticsearch:8.11.0",
            "Elasticsearch",
            "source_available",
        ),
        (
            "nvcr.io/nvidia/tritonserver:24.01-py3",
            "NVIDIA Triton Inference Server",
            "permissive",
        ),
        (
            "nvcr.io/nvidia/deepstream:7.0-triton-multiarch",
            "NVIDIA DeepStream",
            "proprietary",
        ),
    ],
)
def test_match_image(reference, expected, licence_class):
    product = match_image(reference)
    assert product is not None
    assert product.name == expected
    assert product.licence_class == licence_class


@pytest.mark.parametrize(
    "port, expected",
    [
        (1521, "Oracle Database"),
        (1433, "Microsoft SQL Server"),
        (50000, "IBM Db2"),
        (7001, "Oracle WebLogic Server"),
        (1540, "1C:Enterprise"),
        (1541, "1C:Enterprise"),
        (1560, "1C:Enterprise"),
        (1591, "1C:Enterprise"),
        (554, "RTSP service"),
        (8000, "NVIDIA Triton Inference Server"),
        (8001, "NVIDIA Triton Inference Server"),
        (11434, "Ollama"),
        (13579, "NCALayer"),
    ],
)
def test_match_port(port, expected):
    assert expected in [product.name for product in match_port(port)]


def test_match_port_outside_range():
    assert match_port(1592) == []


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/usr/local/cuda/lib64/libcudart.so.12", "NVIDIA CUDA runtime"),
        ("/usr/lib/x86_64-linux-gnu/libnvinfer.so.8", "NVIDIA TensorRT"),
        ("/usr/lib/x86_64-linux-gnu/libopencv_core.so.4.5d", "OpenCV"),
        ("/usr/lib/x86_64-linux-gnu/libgstreamer-1.0.so.0", "GStreamer"),
        ("/usr/lib/x86_64-linux-gnu/libgstvideo-1.0.so.0", "GStreamer"),
        ("/usr/lib/x86_64-linux-gnu/libavcodec.so.59", "FFmpeg"),
        ("/opt/kalkan/libkalkancryptwr-64.so.2.0.2", "KalkanCrypt"),
        ("/venv/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so", "PyTorch"),
        ("/opt/deepstream/lib/libnvds_infer.so", "NVIDIA DeepStream"),
    ],
)
def test_match_library(path, expected):
    product = match_library(path)
    assert product is not None
    assert product.name == expected


def test_match_library_unknown():
    assert match_library("/usr/lib/x86_64-linux-gnu/libz.so.1") is None


# --- licences ---------------------------------------------------------------

MIT_TEXT = """MIT License

Copyright (c) 2024 Test Authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction.
"""
GPL3_TEXT = """                    GNU GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007

 Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>
"""
SSPL_TEXT = """                     Server Side Public License
                     VERSION 1, OCTOBER 16, 2018
"""


@pytest.mark.parametrize(
    "text, spdx, licence_class",
    [
        ("MIT", "MIT", "permissive"),
        ("MIT OR Apache-2.0", "MIT OR Apache-2.0", "permissive"),
        ("Apache Software License", None, "permissive"),
        ("MIT License", "MIT", "permissive"),
        ("Apache License, Version 2.0", "Apache-2.0", "permissive"),
        ("GPLv3", "GPL-3.0-only", "copyleft"),
        ("LGPL-2.1-or-later", "LGPL-2.1-or-later", "weak_copyleft"),
        (
            "GPL-2.0-only WITH Classpath-exception-2.0",
            "GPL-2.0-only WITH Classpath-exception-2.0",
            "weak_copyleft",
        ),
        ("GPL-2+ or Artistic", "GPL-2.0-or-later OR Artistic-1.0", "permissive"),
        ("UNLICENSED", "LicenseRef-Proprietary", "proprietary"),
        ("Proprietary", "LicenseRef-Proprietary", "proprietary"),
        ("Commercial", None, "proprietary"),
        ("EULA", "LicenseRef-EULA", "proprietary"),
        ("SSPL-1.0", "SSPL-1.0", "source_available"),
        ("BUSL-1.1", "BUSL-1.1", "source_available"),
        ("Elastic-2.0", "Elastic-2.0", "source_available"),
        ("RSAL", "LicenseRef-RSAL-2.0", "source_available"),
        ("Apache 2.0 with Commons Clause", None, "source_available"),
        ("SSPL-1.0 OR MIT", "SSPL-1.0 OR MIT", "permissive"),
        (
            "MIT AND LicenseRef-Proprietary",
            "MIT AND LicenseRef-Proprietary",
            "proprietary",
        ),
        (MIT_TEXT, "MIT", "permissive"),
        (GPL3_TEXT, "GPL-3.0-only", "copyleft"),
        (SSPL_TEXT, "SSPL-1.0", "source_available"),
    ],
)
def test_classify_licence(text, spdx, licence_class):
    licence = classify_licence(text)
    assert licence.raw == text
    assert licence.licence_class == licence_class
    if spdx is not None:
        assert licence.spdx == spdx


def test_commercial_normalised_to_licenseref():
    assert classify_licence("Commercial").spdx.startswith("LicenseRef-")


@pytest.mark.parametrize("text", [None, "", "UNKNOWN", "  unknown ", "NOASSERTION"])
def test_no_licence_is_unknown(text):
    assert classify_licence(text).licence_class == "unknown"


def test_unknown_option_not_free():
    # A choice between a proprietary licence and an unknown one may or may not
    # offer a free option, so it counts as neither.
    assert (
        classify_licence("LicenseRef-Proprietary OR LicenseRef-Foo").licence_class
        == "unknown"
    )


@pytest.mark.parametrize(
    "classifiers, spdx, licence_class",
    [
        (["License :: OSI Approved :: MIT License"], "MIT", "permissive"),
        (
            ["License :: Other/Proprietary License"],
            "LicenseRef-Proprietary",
            "proprietary",
        ),
        (["License :: OSI Approved :: Apache Software License"], None, "permissive"),
        (
            ["License :: OSI Approved :: GNU General Public License v3 (GPLv3)"],
            "GPL-3.0-only",
            "copyleft",
        ),
        (["License :: OSI Approved"], None, "unknown"),
        (["Programming Language :: Python :: 3"], None, "unknown"),
    ],
)
def test_classify_classifiers(classifiers, spdx, licence_class):
    licence = classify_classifiers(classifiers)
    assert licence.licence_class == licence_class
    assert licence.spdx == spdx


# --- user entries -------------------------------------------------------------

USER_ENTRY = {
    "name": "Acme Ledger",
    "vendor": "Acme",
    "kind": "database",
    "licence_class": "proprietary",
    "match": {"packages": {"dpkg": ["acme-ledger*"]}, "ports": [7410]},
    "source": "Acme Ledger licence agreement, contract 2024-17",
}


def test_extend_adds_entry():
    catalogues.extend({"products": [USER_ENTRY]})
    product = match_package("acme-ledger-server", "2.1", "dpkg")
    assert product is not None
    assert product.name == "Acme Ledger"
    assert [p.name for p in match_port(7410)] == ["Acme Ledger"]


def test_extend_rejects_missing_source():
    entry = {k: v for k, v in USER_ENTRY.items() if k != "source"}
    with pytest.raises(ValueError, match="'Acme Ledger'.*'source'"):
        catalogues.extend({"products": [entry]})


def test_extend_rejects_bad_kind():
    with pytest.raises(ValueError, match="'Acme Ledger'.*'kind'"):
        catalogues.extend({"products": [{**USER_ENTRY, "kind": "ledger"}]})


def test_extend_rejects_bad_version_rule():
    rule = [{"from": "latest", "class": "proprietary"}]
    with pytest.raises(ValueError, match="licence_by_version"):
        catalogues.extend({"products": [{**USER_ENTRY, "licence_by_version": rule}]})


def test_extend_rejects_duplicate_name():
    with pytest.raises(ValueError, match="'Oracle Database'"):
        catalogues.extend({"products": [{**USER_ENTRY, "name": "Oracle Database"}]})


def test_extend_failure_adds_nothing():
    broken = {**USER_ENTRY, "name": "Broken", "kind": "nonsense"}
    with pytest.raises(ValueError):
        catalogues.extend({"products": [USER_ENTRY, broken]})
    assert catalogues.entry("Acme Ledger") is None


def test_reset_removes_extensions():
    catalogues.extend({"products": [USER_ENTRY]})
    catalogues.reset_extensions()
    assert match_package("acme-ledger-server", "2.1", "dpkg") is None
