"""Kubernetes manifests, Helm chart values and Compose files in a source tree.

From manifests: workloads (their names count as services), container images,
extended resource requests (GPUs, FPGAs, accelerators), scheduling onto
dedicated nodes, and NetworkPolicies. From Helm values: the same resource,
scheduling and image settings wherever they sit in the values tree. From
Compose files: service images only, since Compose services are often local
development helpers.

Helm templates are not rendered, so files under a chart's templates/ directory
are counted and left out.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from collectors.repository.records import ImageUse, Location, MalformedFile, line_of

logger = logging.getLogger(__name__)

SERVICE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
# Path of mapping keys to the pod spec, by workload kind.
POD_SPEC_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}
CONTAINER_LISTS = ("initContainers", "containers")

# Extended resources of device plugins, by resource name prefix. Names follow the
# device plugins' documentation (NVIDIA, AMD, Habana, Xilinx, AWS Neuron, Google
# TPU on GKE); Intel's plugins use both intel.com/* and gpu.intel.com/* forms.
_EXTENDED_RESOURCES = (
    (re.compile(r"^nvidia\.com/(gpu|mig-.+)$"), "gpu"),
    (re.compile(r"^amd\.com/gpu$"), "gpu"),
    (re.compile(r"^habana\.ai/gaudi.*$"), "accelerator"),
    (re.compile(r"^xilinx\.com/fpga.*$"), "fpga"),
    (re.compile(r"^aws\.amazon\.com/neuron.*$"), "accelerator"),
    (re.compile(r"^google\.com/tpu$"), "accelerator"),
    (re.compile(r"^([\w-]+\.)?intel\.com/.*fpga.*$"), "fpga"),
    (re.compile(r"^([\w-]+\.)?intel\.com/(.*gpu.*|i915.*|xe)$"), "gpu"),
    (re.compile(r"^([\w-]+\.)?intel\.com/.+$"), "accelerator"),
)
# Node label and taint keys that name a dedicated node, pool or role. The
# control-plane role is left out: tolerating it is how cluster add-ons run
# everywhere, not a sign of nodes reserved for the system.
_DEDICATED_KEY = re.compile(
    r"^(?:[\w.-]+/)?(?:dedicated|pool|nodepool|node-pool|agentpool|gke-nodepool"
    r"|nodegroup|nodegroup-name)$"
    r"|^node-role\.kubernetes\.io/(?!master$|control-plane$).+$"
)
_YAML_SUFFIXES = (".yaml", ".yml")
_API_VERSION = re.compile(r"^\s*apiVersion\s*:", re.MULTILINE)
_KIND = re.compile(r"^\s*kind\s*:", re.MULTILINE)
_VALUES_FILE = re.compile(r"^values[\w.-]*\.ya?ml$")
_COMPOSE_FILE = re.compile(r"^(docker-)?compose[\w.-]*\.ya?ml$")


@dataclass
class KubernetesRead:
    """Workloads, images, resource requests, scheduling and policies that the
    manifests, chart values and Compose files of a tree declare."""

    manifests: list[str] = field(default_factory=list)
    values_files: list[str] = field(default_factory=list)
    compose_files: list[str] = field(default_factory=list)
    templates_skipped: list[str] = field(default_factory=list)
    workloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: list[ImageUse] = field(default_factory=list)
    hardware: dict[str, dict[str, Any]] = field(default_factory=dict)
    dedicated: list[dict[str, Any]] = field(default_factory=list)
    network_policies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_kubernetes(self) -> bool:
        return bool(self.manifests or self.values_files)


def chart_directories(files: list[str]) -> set[str]:
    """Return the directories that contain a Chart.yaml."""
    return {
        posixpath.dirname(path)
        for path in files
        if posixpath.basename(path) == "Chart.yaml"
    }


# TODO: render charts with `helm template` when helm is installed, so templated
# workloads count as services.
def classify(files: list[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """Split YAML files into (candidate manifests, chart values, Compose files,
    chart templates)."""
    charts = chart_directories(files)
    manifests, values, compose, templates = [], [], [], []
    for path in files:
        name = posixpath.basename(path)
        if not name.endswith(_YAML_SUFFIXES) or name == "Chart.yaml":
            continue
        directory = posixpath.dirname(path)
        if _in_templates(directory, charts):
            templates.append(path)
        elif directory in charts and _VALUES_FILE.match(name):
            values.append(path)
        elif _COMPOSE_FILE.match(name):
            compose.append(path)
        else:
            manifests.append(path)
    return manifests, values, compose, templates


def _in_templates(directory: str, charts: set[str]) -> bool:
    for chart in charts:
        templates = posixpath.join(chart, "templates") if chart else "templates"
        if directory == templates or directory.startswith(templates + "/"):
            return True
    return False


def looks_like_manifest(text: str) -> bool:
    return bool(_API_VERSION.search(text) and _KIND.search(text))


def load_documents(text: str) -> list[Any]:
    """Parse every YAML document of a file; raise MalformedFile when one is invalid."""
    try:
        return [
            document for document in yaml.safe_load_all(text) if document is not None
        ]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise MalformedFile(f"invalid YAML{where}: {problem}") from None


def _objects(documents: list[Any]) -> Iterator[dict[str, Any]]:
    """Yield Kubernetes objects, unpacking `kind: List` documents."""
    for document in documents:
        if not isinstance(document, dict):
            continue
        if document.get("kind") == "List" and isinstance(document.get("items"), list):
            yield from (item for item in document["items"] if isinstance(item, dict))
        elif "apiVersion" in document and "kind" in document:
            yield document


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def read_manifest(path: str, text: str, result: KubernetesRead) -> int:
    """Add the workloads, images, resources, scheduling and policies of one file.

    Return the number of Kubernetes objects read: 0 for YAML that is not a
    manifest, which is not parsed at all.
    """
    if not looks_like_manifest(text):
        return 0
    count = 0
    for item in _objects(load_documents(text)):
        count += 1
        kind = item.get("kind")
        metadata = (
            item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        )
        name = str(metadata.get("name", "")) or "(unnamed)"
        if kind == "NetworkPolicy":
            result.network_policies.append(network_policy(path, metadata, item))
            continue
        pod_path = POD_SPEC_PATHS.get(str(kind))
        if pod_path is None:
            continue
        workload = f"{kind}/{name}"
        if kind in SERVICE_KINDS:
            entry = result.workloads.setdefault(name, {"kinds": [], "files": []})
            if kind not in entry["kinds"]:
                entry["kinds"].append(kind)
            if path not in entry["files"]:
                entry["files"].append(path)
        pod = _dig(item, pod_path)
        if isinstance(pod, dict):
            _read_pod(path, text, workload, pod, result)
    return count


def _containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in CONTAINER_LISTS:
        containers = pod.get(key)
        if isinstance(containers, list):
            yield from (c for c in containers if isinstance(c, dict))


def _read_pod(
    path: str, text: str, workload: str, pod: dict[str, Any], result: KubernetesRead
) -> None:
    for container in _containers(pod):
        container_name = str(container.get("name", ""))
        image = container.get("image")
        if isinstance(image, str) and image.strip():
            line = line_of(text, image)
            result.images.append(
                ImageUse(image.strip(), Location(path, line), context=workload)
            )
        _read_resources(
            path,
            f"{workload} container {container_name}",
            container.get("resources"),
            result,
        )
    _read_scheduling(path, workload, pod, result)


def extended_resource_kind(resource: str) -> str | None:
    """Return "gpu", "fpga" or "accelerator" for a device plugin resource name."""
    for pattern, kind in _EXTENDED_RESOURCES:
        if pattern.match(resource):
            return kind
    return None


def _quantity(value: Any) -> int | float | str:
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def _read_resources(
    path: str, workload: str, resources: Any, result: KubernetesRead
) -> None:
    if not isinstance(resources, dict):
        return
    for section in ("limits", "requests"):
        amounts = resources.get(section)
        if not isinstance(amounts, dict):
            continue
        for resource, amount in amounts.items():
            kind = extended_resource_kind(str(resource))
            quantity = _quantity(amount)
            if kind is None or quantity == 0:
                continue
            item = result.hardware.setdefault(
                str(resource), {"name": str(resource), "kind": kind, "evidence": []}
            )
            evidence = {"file": path, "workload": workload, section: quantity}
            if evidence not in item["evidence"]:
                item["evidence"].append(evidence)


def _read_scheduling(
    path: str, workload: str, pod: dict[str, Any], result: KubernetesRead
) -> None:
    for entry in dedicated_scheduling(pod):
        result.dedicated.append({"file": path, "workload": workload, **entry})


def dedicated_scheduling(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the node selectors, affinities and tolerations that name dedicated nodes.

    Only required node affinity counts: a preferred term still lets the pod run
    anywhere.
    """
    found: list[dict[str, Any]] = []
    selector = pod.get("nodeSelector")
    if isinstance(selector, dict):
        for key, value in selector.items():
            if _DEDICATED_KEY.match(str(key)):
                found.append({"via": "nodeSelector", "key": str(key), "value": value})
    tolerations = pod.get("tolerations")
    for toleration in tolerations if isinstance(tolerations, list) else []:
        if isinstance(toleration, dict) and _DEDICATED_KEY.match(
            str(toleration.get("key", ""))
        ):
            found.append(
                {
                    "via": "toleration",
                    "key": toleration.get("key"),
                    "value": toleration.get("value"),
                    "effect": toleration.get("effect"),
                }
            )
    terms = _dig(
        pod,
        (
            "affinity",
            "nodeAffinity",
            "requiredDuringSchedulingIgnoredDuringExecution",
            "nodeSelectorTerms",
        ),
    )
    for term in terms if isinstance(terms, list) else []:
        expressions = term.get("matchExpressions") if isinstance(term, dict) else None
        for expression in expressions if isinstance(expressions, list) else []:
            if isinstance(expression, dict) and _DEDICATED_KEY.match(
                str(expression.get("key", ""))
            ):
                found.append(
                    {
                        "via": "nodeAffinity",
                        "key": expression.get("key"),
                        "operator": expression.get("operator"),
                        "values": expression.get("values"),
                    }
                )
    return found


def network_policy(
    path: str, metadata: dict[str, Any], item: dict[str, Any]
) -> dict[str, Any]:
    """Describe a NetworkPolicy and whether it denies all traffic by default.

    A default-deny policy selects every pod (an empty podSelector) and lists a
    policy type without rules for it, as in the Kubernetes NetworkPolicy
    documentation. Without policyTypes, the API server assumes Ingress, plus
    Egress when egress rules are present.
    """
    spec = item.get("spec") if isinstance(item.get("spec"), dict) else {}
    selector = spec.get("podSelector")
    selects_all = selector == {} or (
        isinstance(selector, dict)
        and not selector.get("matchLabels")
        and not selector.get("matchExpressions")
    )
    types = spec.get("policyTypes")
    if not isinstance(types, list):
        types = ["Ingress"] + (["Egress"] if "egress" in spec else [])
    denied = [
        kind
        for kind in types
        if kind in ("Ingress", "Egress") and not spec.get(kind.lower())
    ]
    return {
        "name": str(metadata.get("name", "")),
        "namespace": metadata.get("namespace"),
        "file": path,
        "pod_selector": "all pods" if selects_all else selector,
        "policy_types": types,
        "default_deny": bool(selects_all and denied),
        "denies": denied if selects_all else [],
    }


def _walk_values(
    data: Any, trail: tuple[str, ...], seen: set[int]
) -> Iterator[tuple[tuple[str, ...], str, Any]]:
    """Yield (key path, key, value) of every mapping entry, once per object.

    YAML aliases can make a small file describe a very large tree; visiting each
    object once keeps the walk linear in the file size.
    """
    if id(data) in seen:
        return
    if isinstance(data, dict):
        seen.add(id(data))
        for key, value in data.items():
            path = (*trail, str(key))
            yield path, str(key), value
            yield from _walk_values(value, path, seen)
    elif isinstance(data, list):
        seen.add(id(data))
        for index, value in enumerate(data):
            yield from _walk_values(value, (*trail, str(index)), seen)


def _values_image(value: Any) -> str | None:
    """Return an image reference from a chart's `image` value (string or mapping)."""
    if isinstance(value, str):
        return value.strip() or None
    if not isinstance(value, dict) or not isinstance(value.get("repository"), str):
        return None
    reference = value["repository"]
    registry = value.get("registry")
    if isinstance(registry, str) and registry:
        reference = f"{registry}/{reference}"
    tag = value.get("tag")
    if isinstance(tag, str | int | float) and str(tag):
        reference = f"{reference}:{tag}"
    return reference


def read_values(path: str, text: str, result: KubernetesRead) -> bool:
    """Add the images, resources and scheduling settings of a chart's values file.

    Return True once the file is parsed.
    """
    for document in load_documents(text):
        for trail, key, value in _walk_values(document, (), set()):
            where = ".".join(trail)
            if key == "image":
                image = _values_image(value)
                if image:
                    written = value["repository"] if isinstance(value, dict) else image
                    line = line_of(text, written)
                    result.images.append(
                        ImageUse(image, Location(path, line), context=f"values {where}")
                    )
            elif key == "resources":
                _read_resources(path, f"values {where}", value, result)
            elif key in ("nodeSelector", "tolerations", "affinity"):
                pod = {key: value}
                for entry in dedicated_scheduling(pod):
                    result.dedicated.append(
                        {"file": path, "workload": f"values {where}", **entry}
                    )
    return True


def read_compose(path: str, text: str, result: KubernetesRead) -> bool:
    """Add the service images of a Compose file; return True once it is parsed."""
    for document in load_documents(text):
        services = document.get("services") if isinstance(document, dict) else None
        if not isinstance(services, dict):
            continue
        for name, service in services.items():
            image = service.get("image") if isinstance(service, dict) else None
            if isinstance(image, str) and image.strip():
                line = line_of(text, image)
                result.images.append(
                    ImageUse(
                        image.strip(),
                        Location(path, line),
                        context=f"compose service {name}",
                    )
                )
    return True
