"""Parsers of the repository collector on file texts in their real formats."""

from __future__ import annotations

import pytest

from collectors.repository import dockerfiles, kubernetes
from collectors.repository.go_dotnet_manifests import dotnet_runtime
from collectors.repository.jvm_manifests import read_gradle, read_pom
from collectors.repository.python_manifests import (
    parse_requirement,
    read_setup_cfg,
    read_setup_py,
)
from collectors.repository.records import MalformedFile
from collectors.repository.stack import image_parts

# --- Dockerfile syntax -------------------------------------------------------


def test_instructions_join_continuations():
    text = 'FROM alpine\n\nRUN apk add \\\n# a comment inside\n    curl\nCMD ["sh"]\n'
    assert dockerfiles.instructions(text) == [
        (1, "FROM", "alpine"),
        (3, "RUN", "apk add  curl"),
        (6, "CMD", '["sh"]'),
    ]


def test_escape_directive_backtick():
    text = "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\n"
    text += "RUN choco install `\n    git\n"
    assert dockerfiles.instructions(text)[1] == (3, "RUN", "choco install  git")


@pytest.mark.parametrize(
    ("text", "expected", "missing"),
    [
        ("${BASE}", "python:3.12", []),
        ("$BASE", "python:3.12", []),
        ("${TAG:-21}", "21", []),
        ("${BASE:+set}", "set", []),
        ("${UNSET}/x", "${UNSET}/x", ["UNSET"]),
    ],
)
def test_substitute(text, expected, missing):
    result = dockerfiles.substitute(text, {"BASE": "python:3.12"})
    assert result == (expected, missing)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "apt-get -y install --no-install-recommends libpq5",
            [("libpq5", "dpkg", None)],
        ),
        ("apt-get install -y -o Dpkg::Options::=x tzdata", [("tzdata", "dpkg", None)]),
        ("yum install -y --enablerepo epel jq", [("jq", "rpm", None)]),
        ("microdnf install -y java-17-openjdk", [("java-17-openjdk", "rpm", None)]),
        ("apk add --no-cache --virtual .deps gcc", [("gcc", "apk", None)]),
        ("apk add curl=8.5.0-r0", [("curl", "apk", "8.5.0-r0")]),
        (
            "pip install -r requirements.txt gunicorn==21.2.0",
            [("gunicorn", "pypi", "21.2.0")],
        ),
        ("/usr/local/bin/pip3.12 install .", []),
        ("uv pip install --system numpy==1.26.4", [("numpy", "pypi", "1.26.4")]),
        ("npm install -g @angular/cli@17.3.0", [("@angular/cli", "npm", "17.3.0")]),
        ("sudo apt-get install -y ./local.deb $EXTRA", []),
        ("echo apt-get install vim", []),
        ("apt-get update", []),
    ],
)
def test_installed_packages(command, expected):
    packages = dockerfiles.installed_packages("Dockerfile", 1, command)
    assert [(p.name, p.ecosystem, p.version) for p in packages] == expected


def test_installed_packages_split_on_shell_operators():
    command = "apt-get update && apt-get install -y curl; pip install flask | tee log"
    packages = dockerfiles.installed_packages("Dockerfile", 4, command)
    assert [p.name for p in packages] == ["curl", "flask"]


def test_run_exec_form_and_flags():
    text = (
        'FROM debian:12\nRUN ["apt-get", "install", "-y", "git"]\n'
        "RUN --mount=type=cache,target=/root/.cache pip install httpx==0.27.0\n"
    )
    read = dockerfiles.read_dockerfile("Dockerfile", text)
    assert [p.name for p in read.packages] == ["git", "httpx"]


def test_stage_reference_is_not_an_image():
    text = "FROM golang:1.22 AS builder\nFROM builder\nFROM gcr.io/distroless/static\n"
    read = dockerfiles.read_dockerfile("Dockerfile", text)
    assert [image.reference for image in read.images] == [
        "golang:1.22",
        "gcr.io/distroless/static",
    ]


def test_arg_inside_stage_does_not_apply_to_from():
    text = "FROM alpine:3.19\nARG NEXT=debian:12\nFROM ${NEXT}\n"
    read = dockerfiles.read_dockerfile("Dockerfile", text)
    assert [image.reference for image in read.images] == ["alpine:3.19"]
    assert read.unresolved[0]["missing_args"] == ["NEXT"]


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("python:3.12-slim", ("python", "3.12-slim")),
        ("registry:5000/team/app:1.0", ("registry:5000/team/app", "1.0")),
        ("registry:5000/team/app", ("registry:5000/team/app", None)),
        ("redis@sha256:abc", ("redis", "sha256:abc")),
    ],
)
def test_image_parts(reference, expected):
    assert image_parts(reference) == expected


# --- requirements and build files --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Django==4.2.11", ("Django", "4.2.11", None)),
        ("requests>=2.31,<3", ("requests", None, ">=2.31,<3")),
        ("uvicorn[standard]===0.29.0", ("uvicorn", "0.29.0", None)),
        ("numpy==1.*", ("numpy", None, "==1.*")),
        (
            "pkg @ https://example.invalid/pkg.whl",
            ("pkg", None, "@ https://example.invalid/pkg.whl"),
        ),
        ("attrs; python_version < '3.8'", ("attrs", None, None)),
        ("./local-package", None),
        ("https://example.invalid/x.tar.gz", None),
    ],
)
def test_parse_requirement(text, expected):
    assert parse_requirement(text) == expected


def test_setup_cfg_requirements():
    text = (
        "[metadata]\nname = svc\n\n[options]\npython_requires = >=3.9\n"
        "install_requires =\n    requests>=2.31\n    attrs==23.2.0\n"
    )
    read = read_setup_cfg("setup.cfg", text)
    assert [(d.name, d.version, d.location.line) for d in read.dependencies] == [
        ("requests", None, 7),
        ("attrs", "23.2.0", 8),
    ]
    assert read.runtimes[0].constraint == ">=3.9"


def test_setup_cfg_invalid_names_line_only():
    with pytest.raises(MalformedFile) as raised:
        read_setup_cfg("setup.cfg", "token = s3cr3t\n")
    assert str(raised.value) == "invalid INI at line 1: MissingSectionHeaderError"


def test_setup_py_python_requires_literal():
    text = "from setuptools import setup\nsetup(\n    python_requires='>=3.10',\n)\n"
    runtime = read_setup_py("setup.py", text).runtimes[0]
    assert runtime.constraint == ">=3.10"
    assert runtime.location.line == 3


def test_gradle_groovy_map_notation():
    text = (
        "dependencies {\n"
        "    implementation group: 'org.hibernate', name: 'hibernate-core', "
        "version: '6.4.4.Final'\n"
        "    compileOnly 'org.projectlombok:lombok:1.18.32'\n"
        "    id 'not.a:dependency:1'\n"
        "}\nsourceCompatibility = JavaVersion.VERSION_1_8\n"
    )
    read = read_gradle("build.gradle", text)
    assert [(d.name, d.version, d.scope) for d in read.dependencies] == [
        ("org.hibernate:hibernate-core", "6.4.4.Final", "implementation"),
        ("org.projectlombok:lombok", "1.18.32", "compileOnly"),
    ]
    assert read.runtimes[0].version == "1.8"
    assert read.runtimes[0].field == "sourceCompatibility"


def test_pom_compiler_plugin_release():
    text = (
        "<project><build><plugins><plugin>"
        "<artifactId>maven-compiler-plugin</artifactId>"
        "<configuration><release>21</release></configuration>"
        "</plugin></plugins></build></project>"
    )
    runtime = read_pom("pom.xml", text).runtimes[0]
    assert runtime.version == "21"
    assert runtime.field == "maven-compiler-plugin release"


def test_pom_unknown_property_stays_a_constraint():
    text = (
        "<project><dependencies><dependency><groupId>g</groupId>"
        "<artifactId>a</artifactId><version>${from.parent}</version>"
        "</dependency></dependencies></project>"
    )
    dependency = read_pom("pom.xml", text).dependencies[0]
    assert dependency.version is None
    assert dependency.constraint == "${from.parent}"


def test_pom_managed_version_and_bom():
    text = (
        "<project><dependencyManagement><dependencies>"
        "<dependency><groupId>org.springframework.boot</groupId>"
        "<artifactId>spring-boot-dependencies</artifactId><version>3.2.4</version>"
        "<type>pom</type><scope>import</scope></dependency>"
        "<dependency><groupId>g</groupId><artifactId>a</artifactId>"
        "<version>1.2.3</version></dependency>"
        "</dependencies></dependencyManagement>"
        "<dependencies><dependency><groupId>g</groupId><artifactId>a</artifactId>"
        "</dependency></dependencies></project>"
    )
    dependencies = read_pom("pom.xml", text).dependencies
    assert [(d.name, d.version, d.scope) for d in dependencies] == [
        ("org.springframework.boot:spring-boot-dependencies", "3.2.4", "import"),
        ("g:a", "1.2.3", None),
    ]


def test_pom_with_wrong_root_is_malformed():
    with pytest.raises(MalformedFile, match="not <project>"):
        read_pom("pom.xml", "<settings/>")


@pytest.mark.parametrize(
    ("moniker", "expected"),
    [
        ("net8.0", (".NET", "8.0")),
        ("net6.0-windows", (".NET", "6.0")),
        ("netcoreapp3.1", (".NET", "3.1")),
        ("netstandard2.0", (".NET", None)),
        ("net472", (".NET Framework", "4.7.2")),
        ("net48", (".NET Framework", "4.8")),
        ("uap10.0", None),
    ],
)
def test_dotnet_runtime(moniker, expected):
    assert dotnet_runtime(moniker) == expected


# --- Kubernetes semantics ------------------------------------------------------


def policy(spec):
    return kubernetes.network_policy("p.yaml", {"name": "p"}, {"spec": spec})


def test_policy_without_types_denies_ingress():
    result = policy({"podSelector": {}})
    assert result["default_deny"] is True
    assert result["denies"] == ["Ingress"]


def test_policy_allowing_all_ingress_is_not_deny():
    result = policy({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]})
    assert result["default_deny"] is False


def test_policy_egress_only_deny():
    result = policy(
        {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}]}
    )
    assert result["denies"] == ["Egress"]
    assert result["default_deny"] is True


def test_policy_for_some_pods_is_not_default():
    result = policy(
        {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]}
    )
    assert result["default_deny"] is False


@pytest.mark.parametrize(
    ("resource", "kind"),
    [
        ("nvidia.com/gpu", "gpu"),
        ("nvidia.com/mig-1g.5gb", "gpu"),
        ("amd.com/gpu", "gpu"),
        ("habana.ai/gaudi", "accelerator"),
        ("xilinx.com/fpga-xilinx_u250_gen3x16_xdma_shell_4_1-0", "fpga"),
        ("intel.com/fpga-arria10", "fpga"),
        ("gpu.intel.com/i915", "gpu"),
        ("qat.intel.com/generic", "accelerator"),
        ("aws.amazon.com/neuroncore", "accelerator"),
        ("google.com/tpu", "accelerator"),
        ("memory", None),
        ("example.com/foo", None),
    ],
)
def test_extended_resource_kind(resource, kind):
    assert kubernetes.extended_resource_kind(resource) == kind


def test_classify_yaml_files():
    files = [
        "chart/Chart.yaml",
        "chart/values.yaml",
        "chart/values-prod.yaml",
        "chart/templates/deploy.yaml",
        "chart/templates/sub/x.yml",
        "docker-compose.override.yml",
        "k8s/app.yaml",
        "README.md",
    ]
    assert kubernetes.classify(files) == (
        ["k8s/app.yaml"],
        ["chart/values.yaml", "chart/values-prod.yaml"],
        ["docker-compose.override.yml"],
        ["chart/templates/deploy.yaml", "chart/templates/sub/x.yml"],
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Dockerfile", True),
        ("Dockerfile.prod", True),
        ("Dockerfile.a b", True),
        ("Dockerfile.ünï cødé", True),
        ("api.Dockerfile", True),
        ("my api.dockerfile", True),
        ("Containerfile", True),
        ("Dockerfile.", False),
        ("Dockerfiles", False),
        ("README.md", False),
    ],
)
def test_dockerfile_names(name, expected):
    from collectors.repository.declarations import is_dockerfile

    assert is_dockerfile(f"deploy/{name}") is expected
