"""RepositoryCollector on real manifests, lock files and Dockerfiles."""

from __future__ import annotations

import json
import os

import pytest

from collectors import errors
from collectors.repository import RepositoryCollector
from tests import repo_builders as builders
from tests.repo_builders import MSSQL_IMAGE, ORACLE_IMAGE, line_number, write

STACK = "stack.components"
PROPRIETARY = "software.proprietary"
RUNTIMES = "architecture.runtimes"
AI = "ai.components"


def run(path):
    return builders.collect(RepositoryCollector(str(path)))


def component(fact, name, kind=None):
    matches = [
        item
        for item in fact.value
        if item["name"] == name and (kind is None or item["kind"] == kind)
    ]
    assert len(matches) == 1, f"{name}: {matches}"
    return matches[0]


def item_named(items, name):
    matches = [item for item in items if item["name"] == name]
    assert len(matches) == 1, f"{name}: {items}"
    return matches[0]


# --- Dockerfiles -------------------------------------------------------------


@pytest.fixture
def database_images(tmp_path):
    write(
        tmp_path,
        "db/Dockerfile",
        f"# Database image\nFROM {ORACLE_IMAGE}\nENV ORACLE_SID=ORCL\n",
    )
    write(
        tmp_path,
        "reporting/Dockerfile",
        f"FROM {MSSQL_IMAGE}\nENV ACCEPT_EULA=Y\n",
    )
    return tmp_path


def test_oracle_base_image_is_proprietary(database_images):
    facts, _, _ = run(database_images)
    item = item_named(facts[PROPRIETARY].value, "Oracle Database")
    assert item["version"] == "21.3.0"
    assert item["licence_class"] == "proprietary"
    assert item["evidence"] == [
        {"file": "db/Dockerfile", "line": 2, "image": ORACLE_IMAGE}
    ]


def test_mssql_base_image_is_proprietary(database_images):
    facts, _, _ = run(database_images)
    item = item_named(facts[PROPRIETARY].value, "Microsoft SQL Server")
    assert item["vendor"] == "Microsoft"
    assert item["evidence"] == [
        {"file": "reporting/Dockerfile", "line": 1, "image": MSSQL_IMAGE}
    ]


def test_base_images_are_components(database_images):
    facts, _, _ = run(database_images)
    oracle = component(
        facts[STACK], "container-registry.oracle.com/database/enterprise"
    )
    assert oracle["version"] == "21.3.0"
    assert oracle["product"] == "Oracle Database"
    assert oracle["kind"] == "database"


def test_proprietary_found_is_exact(database_images):
    fact = run(database_images)[0][PROPRIETARY]
    assert fact.bound is None
    assert fact.provenance == "measured"


def test_multi_stage_with_arg_default(tmp_path):
    write(
        tmp_path,
        "api/Dockerfile",
        "ARG PYTHON=python:3.12-slim\n"
        "ARG REGISTRY\n"
        "FROM --platform=linux/amd64 ${PYTHON} AS build\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        "FROM build AS test\n"
        "FROM ${REGISTRY}/runtime:1.0\n"
        "FROM scratch\n",
    )
    facts, _, _ = run(tmp_path)
    python = component(facts[STACK], "python", kind="runtime")
    assert python["version"] == "3.12-slim"
    assert python["evidence"] == [
        {
            "file": "api/Dockerfile",
            "line": 3,
            "image": "python:3.12-slim",
            "context": "FROM ${PYTHON}",
        }
    ]
    images = [item["name"] for item in facts[STACK].value if "image" in item]
    assert images == ["python"]


def test_arg_without_default_is_unresolved(tmp_path):
    write(tmp_path, "Dockerfile", "ARG REGISTRY\nFROM ${REGISTRY}/runtime:1.0\n")
    fact = run(tmp_path)[0][STACK]
    assert fact.details["unresolved_images"] == [
        {
            "file": "Dockerfile",
            "line": 2,
            "image": "${REGISTRY}/runtime:1.0",
            "missing_args": ["REGISTRY"],
        }
    ]
    assert fact.bound == "lower"


def test_run_line_packages(tmp_path):
    write(
        tmp_path,
        "worker.Dockerfile",
        "FROM debian:12\n"
        "RUN apt-get update && \\\n"
        "    DEBIAN_FRONTEND=noninteractive apt-get install -y \\\n"
        "      --no-install-recommends openjdk-17-jre-headless curl=7.88.1-10 \\\n"
        "    && rm -rf /var/lib/apt/lists/*\n"
        "RUN python3 -m pip install torch==2.2.0 'uvicorn[standard]>=0.29'\n",
    )
    facts, _, _ = run(tmp_path)
    curl = component(facts[STACK], "curl")
    assert curl["version"] == "7.88.1-10"
    assert curl["ecosystem"] == "dpkg"
    assert curl["kind"] == "os-package"
    assert curl["evidence"] == [{"file": "worker.Dockerfile", "line": 2}]
    torch = component(facts[STACK], "torch")
    assert torch["version"] == "2.2.0"
    assert torch["evidence"] == [{"file": "worker.Dockerfile", "line": 6}]
    uvicorn = component(facts[STACK], "uvicorn")
    assert uvicorn["constraints"] == [">=0.29"]


def test_run_line_runtime_and_ai(tmp_path):
    write(
        tmp_path,
        "Containerfile",
        "FROM debian:12\nRUN apt-get install -y openjdk-17-jre-headless\n"
        "RUN pip3 install torch==2.2.0\n",
    )
    facts, _, _ = run(tmp_path)
    assert facts[RUNTIMES].details["names"] == ["Java"]
    pytorch = item_named(facts[AI].value, "PyTorch")
    assert pytorch["kind"] == "ai_framework"
    assert pytorch["evidence"] == [
        {"file": "Containerfile", "line": 3, "package": "torch"}
    ]


# --- Node.js -------------------------------------------------------------------


@pytest.fixture
def node_project(tmp_path):
    write(
        tmp_path,
        "web/package.json",
        json.dumps(
            {
                "name": "web",
                "version": "1.0.0",
                "engines": {"node": ">=20"},
                "dependencies": {"express": "^4.18.2", "@acme/reports": "2.1.0"},
                "devDependencies": {"jest": "^29.7.0"},
            },
            indent=2,
        ),
    )
    write(
        tmp_path,
        "web/package-lock.json",
        builders.package_lock(
            {
                "express": {"version": "4.18.2", "license": "MIT"},
                "@acme/reports": {"version": "2.1.0", "license": "UNLICENSED"},
                "jest": {"version": "29.7.0", "license": "MIT", "dev": True},
                "debug": {"version": "2.6.9", "license": "MIT"},
                "sharp-engine": {"version": "0.3.1", "license": "BUSL-1.1"},
            }
        ),
    )
    return tmp_path


def test_unlicensed_dependency_is_proprietary(node_project):
    facts, _, _ = run(node_project)
    item = item_named(facts[PROPRIETARY].value, "@acme/reports")
    lock = node_project / "web/package-lock.json"
    assert item["licence"] == "UNLICENSED"
    assert item["licence_class"] == "proprietary"
    assert item["version"] == "2.1.0"
    assert item["evidence"] == [
        {
            "file": "web/package.json",
            "line": line_number(node_project / "web/package.json", '"@acme/reports"'),
            "package": "@acme/reports",
        }
    ]
    assert line_number(lock, "node_modules/@acme/reports") > 0


def test_transitive_source_available_is_listed(node_project):
    facts, _, _ = run(node_project)
    item = item_named(facts[PROPRIETARY].value, "sharp-engine")
    assert item["licence_class"] == "source_available"
    assert item["evidence"] == [
        {
            "file": "web/package-lock.json",
            "line": line_number(
                node_project / "web/package-lock.json", '"node_modules/sharp-engine"'
            ),
            "package": "sharp-engine",
        }
    ]


def test_direct_dependency_gets_locked_version(node_project):
    facts, _, _ = run(node_project)
    express = component(facts[STACK], "express")
    assert express["version"] == "4.18.2"
    assert express["constraints"] == ["^4.18.2"]
    assert express["licence"] == "MIT"
    assert express["product"] == "Express"
    assert express["evidence"] == [
        {
            "file": "web/package.json",
            "line": line_number(node_project / "web/package.json", '"express"'),
        }
    ]


def test_dev_dependency_scope(node_project):
    facts, _, _ = run(node_project)
    assert component(facts[STACK], "jest")["scopes"] == ["dev"]


def test_transitive_permissive_is_counted_not_listed(node_project):
    facts, _, _ = run(node_project)
    names = [item["name"] for item in facts[STACK].value]
    assert "debug" not in names
    assert facts[STACK].details["lock_entries"] == 5
    assert facts[PROPRIETARY].details["lock_entry_licence_classes"] == {
        "permissive": 3,
        "proprietary": 1,
        "source_available": 1,
    }


def test_node_runtime_from_engines(node_project):
    facts, _, _ = run(node_project)
    node = component(facts[STACK], "Node.js")
    assert node["kind"] == "runtime"
    assert node["constraints"] == [">=20"]
    assert node["evidence"] == [
        {
            "file": "web/package.json",
            "line": line_number(node_project / "web/package.json", '"node"'),
            "field": "engines.node",
        }
    ]


def test_lock_file_v1(tmp_path):
    write(
        tmp_path,
        "package-lock.json",
        json.dumps(
            {
                "lockfileVersion": 1,
                "dependencies": {
                    "express": {
                        "version": "4.17.1",
                        "dependencies": {"qs": {"version": "6.7.0"}},
                    }
                },
            }
        ),
    )
    fact = run(tmp_path)[0][STACK]
    assert component(fact, "express")["version"] == "4.17.1"
    assert fact.details["lock_entries"] == 2


# --- Python ----------------------------------------------------------------------


def test_pyproject_requires_python(tmp_path):
    write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "svc"\nrequires-python = ">=3.11"\n'
        'dependencies = [\n  "django>=5.0,<6",\n  "psycopg[binary]==3.1.18",\n]\n',
    )
    facts, _, _ = run(tmp_path)
    python = component(facts[STACK], "Python")
    assert python["constraints"] == [">=3.11"]
    assert python["evidence"] == [
        {"file": "pyproject.toml", "line": 3, "field": "requires-python"}
    ]
    assert component(facts[STACK], "psycopg")["version"] == "3.1.18"
    django = component(facts[STACK], "django")
    assert django["constraints"] == [">=5.0,<6"]
    assert django["evidence"] == [{"file": "pyproject.toml", "line": 5}]
    assert django["product"] == "Django"


def test_poetry_project_and_lock(tmp_path):
    write(
        tmp_path,
        "pyproject.toml",
        '[tool.poetry]\nname = "svc"\n\n[tool.poetry.dependencies]\n'
        'python = "^3.10"\nfastapi = "^0.110"\nredis = "5.0.1"\n\n'
        '[tool.poetry.group.dev.dependencies]\npytest = "^8"\n',
    )
    write(
        tmp_path,
        "poetry.lock",
        '[[package]]\nname = "fastapi"\nversion = "0.110.2"\n\n'
        '[[package]]\nname = "starlette"\nversion = "0.37.2"\n',
    )
    facts, _, _ = run(tmp_path)
    assert component(facts[STACK], "fastapi")["version"] == "0.110.2"
    assert component(facts[STACK], "redis")["version"] == "5.0.1"
    assert component(facts[STACK], "pytest")["scopes"] == ["group:dev"]
    python = component(facts[STACK], "Python")
    assert python["constraints"] == ["^3.10"]


def test_requirements_and_pipfile_lock(tmp_path):
    write(
        tmp_path,
        "requirements/base.txt",
        "# pinned\nDjango==4.2.11  # LTS\n-r other.txt\n"
        "celery[redis] >= 5.3 ; python_version >= '3.8'\n"
        "gunicorn \\\n  ==21.2.0\n",
    )
    write(
        tmp_path,
        "Pipfile.lock",
        json.dumps(
            {
                "_meta": {"requires": {"python_version": "3.11"}},
                "default": {"requests": {"version": "==2.31.0"}},
                "develop": {},
            },
            indent=4,
        ),
    )
    facts, _, _ = run(tmp_path)
    django = component(facts[STACK], "Django")
    assert django["version"] == "4.2.11"
    assert django["evidence"] == [{"file": "requirements/base.txt", "line": 2}]
    assert component(facts[STACK], "celery")["constraints"] == [">= 5.3"]
    assert component(facts[STACK], "gunicorn")["version"] == "21.2.0"
    pinned = [item for item in facts[STACK].value if item["name"] == "Python"]
    assert sorted(str(item["version"]) for item in pinned) == ["3.11", "None"]


# --- JVM, Go, .NET -----------------------------------------------------------


POM = """\
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.2.4</version>
  </parent>
  <artifactId>registry</artifactId>
  <properties>
    <java.version>17</java.version>
    <ojdbc.version>23.3.0.23.09</ojdbc.version>
  </properties>
  <dependencies>
    <dependency>
      <groupId>com.oracle.database.jdbc</groupId>
      <artifactId>ojdbc11</artifactId>
      <version>${ojdbc.version}</version>
    </dependency>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-web</artifactId>
    </dependency>
  </dependencies>
</project>
"""


def test_maven_dependencies_and_java(tmp_path):
    write(tmp_path, "registry/pom.xml", POM)
    facts, _, _ = run(tmp_path)
    ojdbc = component(facts[STACK], "com.oracle.database.jdbc:ojdbc11")
    assert ojdbc["version"] == "23.3.0.23.09"
    assert ojdbc["evidence"] == [{"file": "registry/pom.xml", "line": 17}]
    java = component(facts[STACK], "Java")
    assert java["version"] == "17"
    assert java["evidence"] == [
        {"file": "registry/pom.xml", "line": 11, "field": "java.version"}
    ]
    parent = component(
        facts[STACK], "org.springframework.boot:spring-boot-starter-parent"
    )
    assert parent["scopes"] == ["parent"]


def test_maven_oracle_driver_is_proprietary(tmp_path):
    write(tmp_path, "registry/pom.xml", POM)
    facts, _, _ = run(tmp_path)
    item = item_named(facts[PROPRIETARY].value, "Oracle JDBC driver")
    assert item["evidence"] == [
        {
            "file": "registry/pom.xml",
            "line": 17,
            "package": "com.oracle.database.jdbc:ojdbc11",
        }
    ]


def test_gradle_kotlin_script(tmp_path):
    write(
        tmp_path,
        "build.gradle.kts",
        'plugins { id("org.springframework.boot") version "3.2.4" }\n'
        "java { toolchain { languageVersion = JavaLanguageVersion.of(21) } }\n"
        "dependencies {\n"
        '    implementation("org.postgresql:postgresql:42.7.3")\n'
        '    testImplementation("org.junit.jupiter:junit-jupiter:$junitVersion")\n'
        "}\n",
    )
    facts, _, _ = run(tmp_path)
    driver = component(facts[STACK], "org.postgresql:postgresql")
    assert driver["version"] == "42.7.3"
    assert driver["evidence"] == [{"file": "build.gradle.kts", "line": 4}]
    junit = component(facts[STACK], "org.junit.jupiter:junit-jupiter")
    assert junit["constraints"] == ["$junitVersion"]
    assert component(facts[STACK], "Java")["version"] == "21"


def test_go_module(tmp_path):
    write(
        tmp_path,
        "go.mod",
        "module example.org/gateway\n\ngo 1.22\n\nrequire (\n"
        "\tgithub.com/gin-gonic/gin v1.9.1\n"
        "\tgolang.org/x/net v0.22.0 // indirect\n)\n",
    )
    facts, _, _ = run(tmp_path)
    gin = component(facts[STACK], "github.com/gin-gonic/gin")
    assert gin["version"] == "v1.9.1"
    assert gin["evidence"] == [{"file": "go.mod", "line": 6}]
    assert component(facts[STACK], "golang.org/x/net")["scopes"] == ["indirect"]
    go = component(facts[STACK], "Go")
    assert go["version"] == "1.22"


def test_dotnet_project(tmp_path):
    write(
        tmp_path,
        "src/Api/Api.csproj",
        '\ufeff<Project Sdk="Microsoft.NET.Sdk.Web">\n'
        "  <PropertyGroup>\n    <TargetFramework>net8.0</TargetFramework>\n"
        "  </PropertyGroup>\n  <ItemGroup>\n"
        '    <PackageReference Include="Npgsql" Version="8.0.2" />\n'
        '    <PackageReference Include="Serilog">\n'
        "      <Version>[3.1,4.0)</Version>\n    </PackageReference>\n"
        "  </ItemGroup>\n</Project>\n",
    )
    facts, _, _ = run(tmp_path)
    npgsql = component(facts[STACK], "Npgsql")
    assert npgsql["version"] == "8.0.2"
    assert npgsql["evidence"] == [{"file": "src/Api/Api.csproj", "line": 6}]
    assert component(facts[STACK], "Serilog")["constraints"] == ["[3.1,4.0)"]
    dotnet = component(facts[STACK], ".NET")
    assert dotnet["version"] == "8.0"


def test_runtimes_counted_once_each(tmp_path):
    write(
        tmp_path,
        "a/pyproject.toml",
        '[project]\nname = "a"\nrequires-python = ">=3.11"\n',
    )
    write(tmp_path, "b/requirements.txt", "flask==3.0.2\n")
    write(tmp_path, "c/package.json", '{"name": "c"}')
    write(tmp_path, "d/pom.xml", POM)
    write(tmp_path, "e/go.mod", "module x\n\ngo 1.22\n")
    write(tmp_path, "f/Dockerfile", "FROM python:3.12\n")
    fact = run(tmp_path)[0][RUNTIMES]
    assert fact.value == 4
    assert fact.details["names"] == ["Go", "Java", "Node.js", "Python"]
    assert fact.provenance == "derived"
    assert fact.unit == "count"


# --- files the walk skips or cannot parse ----------------------------------


def test_malformed_package_json_noted(tmp_path):
    write(tmp_path, "web/package.json", '{"name": "web", "dependencies": {')
    write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "a"\nrequires-python = ">=3.11"\n',
    )
    facts, gaps, notes = run(tmp_path)
    assert len(notes) == 1
    assert notes[0].startswith("1 file left out because parsing failed")
    assert "web/package.json (invalid JSON" in notes[0]
    assert component(facts[STACK], "Python")["constraints"] == [">=3.11"]
    assert facts[STACK].bound == "lower"
    assert "web/package.json" in facts[STACK].details["files"]["malformed"]
    assert STACK not in gaps


def test_malformed_files_of_each_format(tmp_path):
    write(tmp_path, "a/pyproject.toml", "[project\n")
    write(tmp_path, "b/pom.xml", "<project><dependencies></project>")
    write(tmp_path, "c/go.mod", "go 1.22\n")
    write(tmp_path, "d/deploy.yaml", "apiVersion: v1\nkind: Service\nmetadata: [\n")
    write(tmp_path, "e/Pipfile.lock", "[]")
    write(tmp_path, "f/requirements.txt", "flask==3.0.2\n")
    facts, _, _ = run(tmp_path)
    malformed = facts[STACK].details["files"]["malformed"]
    assert sorted(malformed) == [
        "a/pyproject.toml",
        "b/pom.xml",
        "c/go.mod",
        "d/deploy.yaml",
        "e/Pipfile.lock",
    ]
    assert malformed["c/go.mod"] == "no module directive"
    assert component(facts[STACK], "flask")["version"] == "3.0.2"


def test_xml_entities_rejected(tmp_path):
    write(
        tmp_path,
        "pom.xml",
        '<?xml version="1.0"?>\n<!DOCTYPE p [<!ENTITY a "aaaa">]>\n'
        "<project><artifactId>&a;</artifactId></project>\n",
    )
    facts, gaps, _ = run(tmp_path)
    assert gaps[STACK].reason == errors.NO_DATA
    assert facts[AI].bound == "lower"


def test_skipped_directories(tmp_path):
    write(tmp_path, "package.json", '{"name": "app", "dependencies": {"a": "1.0.0"}}')
    for directory in ("node_modules/b", "vendor/c", ".venv/d", ".git/e"):
        write(
            tmp_path,
            f"{directory}/package.json",
            '{"name": "x", "dependencies": {"hidden": "1.0.0"}}',
        )
    facts, _, _ = run(tmp_path)
    names = [item["name"] for item in facts[STACK].value]
    assert names == ["a", "Node.js"]


def test_large_file_skipped_and_counted(tmp_path):
    write(tmp_path, "package.json", '{"name": "app", "dependencies": {"a": "1.0.0"}}')
    padding = " " * (5 * 1024 * 1024)
    write(tmp_path, "package-lock.json", '{"lockfileVersion": 3,' + padding + "}")
    facts, _, notes = run(tmp_path)
    assert facts[STACK].details["files"]["too_large"] == ["package-lock.json"]
    assert notes == ["1 file over 5 MiB skipped: package-lock.json"]
    assert facts[STACK].bound == "lower"


def test_link_out_of_tree_not_followed(tmp_path):
    outside = write(
        tmp_path,
        "outside/package.json",
        '{"name": "x", "dependencies": {"secret": "1.0.0"}}',
    )
    tree = tmp_path / "tree"
    write(tree, "requirements.txt", "flask==3.0.2\n")
    os.symlink(outside, tree / "package.json")
    os.symlink(tmp_path / "outside", tree / "linked-dir")
    facts, _, notes = run(tree)
    names = [item["name"] for item in facts[STACK].value]
    assert "secret" not in names
    assert facts[STACK].details["files"]["links_out_of_tree"] == ["package.json"]
    assert notes[0] == (
        "1 symbolic link pointing out of the tree not followed: package.json"
    )


def test_fifo_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "package.json")
    write(tmp_path, "requirements.txt", "flask==3.0.2\n")
    facts, _, notes = run(tmp_path)
    assert facts[STACK].details["files"]["unreadable"] == {
        "package.json": "not a regular file"
    }
    assert component(facts[STACK], "flask")["version"] == "3.0.2"
    assert "package.json (not a regular file)" in notes[0]


def test_model_files_are_ai_components(tmp_path):
    write(tmp_path, "models/classifier.onnx", b"\x08\x07")
    write(tmp_path, "models/export/saved_model.pb", b"\x00")
    write(tmp_path, "requirements.txt", "numpy==1.26.4\n")
    facts, _, _ = run(tmp_path)
    onnx = item_named(facts[AI].value, "classifier.onnx")
    assert onnx["kind"] == "model"
    assert onnx["evidence"] == [{"file": "models/classifier.onnx"}]
    assert len(facts[AI].value) == 2
    assert facts[AI].bound is None


def test_pytorch_suffix_needs_binary_content(tmp_path):
    write(tmp_path, "weights/detector.pt", b"PK\x03\x04archive")
    write(tmp_path, "weights/legacy.pth", b"\x80\x02pickle")
    write(tmp_path, "site/extra-paths.pth", "import sys; sys.path.append('x')\n")
    fact = run(tmp_path)[0][AI]
    assert [item["name"] for item in fact.value] == ["detector.pt", "legacy.pth"]


def test_virtualenv_under_any_name_skipped(tmp_path):
    write(tmp_path, "requirements.txt", "flask==3.0.2\n")
    write(tmp_path, "env/pyvenv.cfg", "home = /usr/bin\n")
    write(tmp_path, "env/lib/python3.11/site-packages/x/setup.py", "")
    write(tmp_path, "env/lib/python3.11/site-packages/x/model.onnx", b"\x08")
    facts, _, _ = run(tmp_path)
    evidence = component(facts[STACK], "Python")["evidence"]
    assert evidence == [{"file": "requirements.txt"}]
    assert facts[AI].value == []
    assert facts[STACK].details["files"]["virtualenvs_skipped"] == ["env"]


def test_empty_tree_gaps(tmp_path):
    write(tmp_path, "README.md", "nothing here\n")
    facts, gaps, _ = run(tmp_path)
    for key in (STACK, PROPRIETARY, RUNTIMES):
        assert gaps[key].reason == errors.NO_DATA
    assert facts[AI].value == []
    assert facts[AI].bound == "lower"


def test_none_proprietary_is_lower_bound(tmp_path):
    write(tmp_path, "requirements.txt", "flask==3.0.2\n")
    fact = run(tmp_path)[0][PROPRIETARY]
    assert fact.value == []
    assert fact.bound == "lower"


def test_missing_directory_fails_source(tmp_path):
    collector = RepositoryCollector(str(tmp_path / "absent"))
    with pytest.raises(errors.SourceError, match="directory not found"):
        builders.collect(collector)


def test_facts_match_vocabulary(node_project, vocabulary):
    write(node_project, "db/Dockerfile", f"FROM {ORACLE_IMAGE}\n")
    facts, _, _ = run(node_project)
    for key, fact in facts.items():
        assert key in vocabulary
        assert vocabulary[key].accepts(fact.value), key
        assert fact.unit == vocabulary[key].unit, key
