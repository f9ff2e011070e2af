"""RepositoryCollector on real Kubernetes manifests, Helm charts and Compose files."""

from __future__ import annotations

import pytest

from collectors import errors
from collectors.repository import RepositoryCollector
from tests import repo_builders as builders
from tests.repo_builders import (
    ALLOW_WEB_POLICY,
    DEFAULT_DENY_POLICY,
    GPU_DEPLOYMENT,
    MSSQL_IMAGE,
    workload,
    write,
)

SERVICES = "architecture.services"
HARDWARE = "hardware.specialized"
DEDICATED = "infrastructure.dedicated_servers"
ISOLATED = "network.isolated_segment"
STACK = "stack.components"
PROPRIETARY = "software.proprietary"
AI = "ai.components"


def run(path):
    return builders.collect(RepositoryCollector(str(path)))


@pytest.fixture
def cluster(tmp_path):
    """Manifests of an ML system: a GPU trainer on a dedicated pool, a default deny."""
    write(tmp_path, "deploy/trainer.yaml", GPU_DEPLOYMENT)
    write(
        tmp_path,
        "deploy/policies.yaml",
        DEFAULT_DENY_POLICY + "---\n" + ALLOW_WEB_POLICY,
    )
    write(
        tmp_path,
        "deploy/base/api.yaml",
        workload("Deployment", "api")
        + "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n",
    )
    write(tmp_path, "deploy/overlays/prod/api.yaml", workload("Deployment", "api"))
    write(
        tmp_path, "deploy/db.yaml", workload("StatefulSet", "db", image="postgres:16")
    )
    write(tmp_path, "deploy/agent.yml", workload("DaemonSet", "log-agent"))
    return tmp_path


def test_gpu_request_is_specialised_hardware(cluster):
    facts, _, _ = run(cluster)
    assert facts[HARDWARE].value == [
        {
            "name": "nvidia.com/gpu",
            "kind": "gpu",
            "evidence": [
                {
                    "file": "deploy/trainer.yaml",
                    "workload": "Deployment/trainer container trainer",
                    "limits": 1,
                }
            ],
        }
    ]
    assert facts[HARDWARE].bound is None


def test_dedicated_toleration(cluster):
    fact = run(cluster)[0][DEDICATED]
    assert fact.value is True
    assert fact.bound is None
    assert fact.details["evidence"] == [
        {
            "file": "deploy/trainer.yaml",
            "workload": "Deployment/trainer",
            "via": "toleration",
            "key": "dedicated",
            "value": "ml",
            "effect": "NoSchedule",
        }
    ]


def test_default_deny_policy_isolates(cluster):
    fact = run(cluster)[0][ISOLATED]
    assert fact.value is True
    deny, allow = fact.details["policies"]
    assert deny["name"] == "default-deny-all"
    assert deny["default_deny"] is True
    assert deny["denies"] == ["Ingress", "Egress"]
    assert deny["file"] == "deploy/policies.yaml"
    assert allow["name"] == "allow-web"
    assert allow["default_deny"] is False


def test_services_are_distinct_workload_names(cluster):
    fact = run(cluster)[0][SERVICES]
    assert fact.value == 4
    assert [w["name"] for w in fact.details["workloads"]] == [
        "api",
        "db",
        "log-agent",
        "trainer",
    ]
    assert fact.details["workloads"][0]["files"] == [
        "deploy/base/api.yaml",
        "deploy/overlays/prod/api.yaml",
    ]
    assert fact.provenance == "derived"
    assert fact.unit == "count"
    assert fact.bound is None


def test_workload_images_are_components(cluster):
    facts, _, _ = run(cluster)
    postgres = [item for item in facts[STACK].value if item["name"] == "postgres"]
    assert len(postgres) == 1
    assert postgres[0]["product"] == "PostgreSQL"
    assert postgres[0]["evidence"] == [
        {
            "file": "deploy/db.yaml",
            "line": 14,
            "image": "postgres:16",
            "context": "StatefulSet/db",
        }
    ]


def test_inference_server_image_is_ai(cluster):
    facts, _, _ = run(cluster)
    names = [item["name"] for item in facts[AI].value]
    assert names == ["NVIDIA Triton Inference Server"]


def test_no_default_deny_is_lower_bound(tmp_path):
    write(tmp_path, "k8s/policy.yaml", ALLOW_WEB_POLICY)
    write(tmp_path, "k8s/app.yaml", workload("Deployment", "web"))
    fact = run(tmp_path)[0][ISOLATED]
    assert fact.value is False
    assert fact.bound == "lower"


def test_no_dedicated_scheduling_is_lower_bound(tmp_path):
    write(tmp_path, "k8s/app.yaml", workload("Deployment", "web"))
    facts, _, _ = run(tmp_path)
    assert facts[DEDICATED].value is False
    assert facts[DEDICATED].bound == "lower"
    assert facts[HARDWARE].value == []
    assert facts[HARDWARE].bound == "lower"


def test_control_plane_toleration_not_dedicated(tmp_path):
    pod = (
        "      tolerations:\n"
        "        - key: node-role.kubernetes.io/control-plane\n"
        "          effect: NoSchedule\n"
        "        - operator: Exists\n"
    )
    write(tmp_path, "k8s/agent.yaml", workload("DaemonSet", "agent", pod_extra=pod))
    assert run(tmp_path)[0][DEDICATED].value is False


def test_required_node_affinity_is_dedicated(tmp_path):
    pod = (
        "      affinity:\n"
        "        nodeAffinity:\n"
        "          requiredDuringSchedulingIgnoredDuringExecution:\n"
        "            nodeSelectorTerms:\n"
        "              - matchExpressions:\n"
        "                  - key: node-role.kubernetes.io/ml\n"
        "                    operator: Exists\n"
    )
    write(tmp_path, "k8s/app.yaml", workload("Deployment", "scorer", pod_extra=pod))
    fact = run(tmp_path)[0][DEDICATED]
    assert fact.value is True
    assert fact.details["evidence"][0]["via"] == "nodeAffinity"
    assert fact.details["evidence"][0]["key"] == "node-role.kubernetes.io/ml"


def test_node_selector_pool_is_dedicated(tmp_path):
    pod = "      nodeSelector:\n        cloud.google.com/gke-nodepool: payments\n"
    write(tmp_path, "k8s/app.yaml", workload("Deployment", "ledger", pod_extra=pod))
    fact = run(tmp_path)[0][DEDICATED]
    assert fact.details["evidence"] == [
        {
            "file": "k8s/app.yaml",
            "workload": "Deployment/ledger",
            "via": "nodeSelector",
            "key": "cloud.google.com/gke-nodepool",
            "value": "payments",
        }
    ]


def test_cronjob_fpga_request(tmp_path):
    write(
        tmp_path,
        "k8s/batch.yaml",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\n"
        "spec:\n  schedule: '0 1 * * *'\n  jobTemplate:\n    spec:\n      template:\n"
        "        spec:\n          containers:\n            - name: run\n"
        "              image: busybox:1.36\n              resources:\n"
        "                requests:\n"
        "                  xilinx.com/fpga-xilinx_u250: '1'\n",
    )
    facts, gaps, _ = run(tmp_path)
    assert facts[HARDWARE].value[0]["kind"] == "fpga"
    assert facts[HARDWARE].value[0]["evidence"][0]["requests"] == 1
    assert gaps[SERVICES].reason == errors.NO_DATA


def test_list_kind_unpacked(tmp_path):
    write(
        tmp_path,
        "k8s/all.yaml",
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: one}\n"
        "    spec: {template: {spec: {containers: [{name: a, image: 'redis:7.2'}]}}}\n",
    )
    assert run(tmp_path)[0][SERVICES].value == 1


@pytest.fixture
def chart(tmp_path):
    write(tmp_path, "charts/scoring/Chart.yaml", "apiVersion: v2\nname: scoring\n")
    write(
        tmp_path,
        "charts/scoring/values.yaml",
        "image:\n  repository: registry.example.invalid/scoring\n  tag: '1.4.2'\n"
        "worker:\n  resources:\n    limits:\n      amd.com/gpu: 2\n"
        "  nodeSelector:\n    pool: gpu\n",
    )
    write(
        tmp_path,
        "charts/scoring/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        "  name: {{ .Release.Name }}\n{{- if .Values.worker }}\n",
    )
    return tmp_path


def test_helm_values_hardware(chart):
    fact = run(chart)[0][HARDWARE]
    assert fact.value == [
        {
            "name": "amd.com/gpu",
            "kind": "gpu",
            "evidence": [
                {
                    "file": "charts/scoring/values.yaml",
                    "workload": "values worker.resources",
                    "limits": 2,
                }
            ],
        }
    ]


def test_helm_values_dedicated_pool(chart):
    fact = run(chart)[0][DEDICATED]
    assert fact.value is True
    assert fact.details["evidence"][0]["key"] == "pool"


def test_helm_values_image(chart):
    facts, _, _ = run(chart)
    scoring = [
        item
        for item in facts[STACK].value
        if item["name"] == "registry.example.invalid/scoring"
    ]
    assert scoring[0]["version"] == "1.4.2"
    assert scoring[0]["evidence"] == [
        {
            "file": "charts/scoring/values.yaml",
            "line": 2,
            "image": "registry.example.invalid/scoring:1.4.2",
            "context": "values image",
        }
    ]


def test_helm_templates_not_parsed(chart):
    facts, gaps, notes = run(chart)
    expected = (
        "1 Helm template file not rendered or read: "
        "charts/scoring/templates/deployment.yaml"
    )
    assert notes == [expected]
    assert gaps[SERVICES].reason == errors.NO_DATA
    assert facts[STACK].details["files"]["malformed"] == {}


def test_malformed_manifest_noted_others_kept(cluster):
    write(cluster, "deploy/broken.yaml", "apiVersion: v1\nkind: ConfigMap\ndata: [\n")
    facts, _, notes = run(cluster)
    assert "deploy/broken.yaml (invalid YAML at line" in notes[0]
    assert facts[SERVICES].value == 4
    assert facts[SERVICES].bound == "lower"


def test_compose_image_is_proprietary(tmp_path):
    write(
        tmp_path,
        "docker-compose.yml",
        f"services:\n  reports:\n    image: {MSSQL_IMAGE}\n"
        "  cache:\n    image: redis:7\n",
    )
    facts, gaps, _ = run(tmp_path)
    item = [i for i in facts[PROPRIETARY].value if i["name"] == "Microsoft SQL Server"]
    assert item[0]["evidence"] == [
        {
            "file": "docker-compose.yml",
            "line": 3,
            "image": MSSQL_IMAGE,
            "context": "compose service reports",
        }
    ]
    assert gaps[SERVICES].reason == errors.NO_DATA


def test_yaml_without_manifests_is_no_data(tmp_path):
    write(tmp_path, ".github/workflows/ci.yml", "on: push\njobs: {}\n")
    write(tmp_path, "openapi.yaml", "openapi: 3.0.0\ninfo: {title: x}\n")
    _, gaps, notes = run(tmp_path)
    for key in (SERVICES, HARDWARE, DEDICATED, ISOLATED):
        assert gaps[key].reason == errors.NO_DATA
    assert notes == []


def test_alias_bomb_in_values_is_bounded(tmp_path):
    write(tmp_path, "chart/Chart.yaml", "apiVersion: v2\nname: c\n")
    lines = ["a0: &a0 {resources: {limits: {nvidia.com/gpu: 1}}}"]
    for level in range(1, 30):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 8)}]")
    write(tmp_path, "chart/values.yaml", "\n".join(lines) + "\n")
    fact = run(tmp_path)[0][HARDWARE]
    assert fact.value[0]["name"] == "nvidia.com/gpu"
