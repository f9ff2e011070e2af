"""Turn declared dependencies, runtimes and images into component lists.

Direct dependencies of the manifests are all listed. A lock file gives them
their resolved version and licence when it sits in the same directory. Packages
that only a lock file lists are often thousands. They are listed only when the
catalogue names their product or their licence is restricted, and the rest are
counted.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from collectors.catalogues import (
    ECOSYSTEMS,
    RESTRICTED_CLASSES,
    Licence,
    Product,
    classify_licence,
    entry,
    match_image,
    match_package,
)
from collectors.repository.declarations import LOCK, Declarations
from collectors.repository.records import (
    APK,
    DEB,
    RPM,
    Dependency,
    ImageUse,
    Runtime,
    normalise_python_name,
)
from collectors.repository.tree import Tree

# Evidence entries kept per component; the total is given when more were found.
MAX_EVIDENCE = 20
AI_KINDS = ("ai_framework", "inference_server")
OS_PACKAGE_ECOSYSTEMS = (DEB, RPM, APK)
# Runtime names by the catalogue's `language` of a runtime product, spelled as
# the manifest readers and the catalogue name them.
LANGUAGE_RUNTIMES = {
    "python": "Python",
    "java": "Java",
    "node": "Node.js",
    "dotnet": ".NET",
    "go": "Go",
    "php": "PHP",
    "ruby": "Ruby",
}


def package_key(ecosystem: str, name: str) -> str:
    """Return a package name as the ecosystem compares names."""
    if ecosystem == "pypi":
        return normalise_python_name(name)
    if ecosystem in ("nuget", "maven", DEB, RPM, APK):
        return name.lower()
    return name


def compared_name(dependency: Dependency) -> str:
    return package_key(dependency.ecosystem, dependency.name)


def image_parts(reference: str) -> tuple[str, str | None]:
    """Split an image reference into (repository, tag or digest)."""
    repository, _, digest = reference.partition("@")
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = repository.rsplit(":", 1)
        return repository, tag
    return repository, digest or None


@dataclass
class Components:
    """Components keyed by identity, each a dict ready for a fact value."""

    items: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)

    def add(
        self, identity: tuple[Any, ...], base: dict[str, Any], evidence: dict[str, Any]
    ) -> dict[str, Any]:
        item = self.items.get(identity)
        if item is None:
            item = {**base, "evidence": []}
            self.items[identity] = item
        add_evidence(item, evidence)
        return item

    def values(self) -> list[dict[str, Any]]:
        return sorted(
            self.items.values(),
            key=lambda item: (item["name"].lower(), str(item.get("version") or "")),
        )


def add_evidence(item: dict[str, Any], evidence: dict[str, Any]) -> None:
    if evidence in item["evidence"]:
        return
    if len(item["evidence"]) < MAX_EVIDENCE:
        item["evidence"].append(evidence)
    else:
        item["evidence_total"] = item.get("evidence_total", MAX_EVIDENCE) + 1


def _add_to(values: list[str], value: str | None) -> None:
    if value and value not in values:
        values.append(value)


@dataclass
class StackRead:
    """The component lists of a tree and the counts behind them."""

    components: Components = field(default_factory=Components)
    proprietary: Components = field(default_factory=Components)
    ai: Components = field(default_factory=Components)
    runtimes: Components = field(default_factory=Components)
    lock_entries: int = 0
    lock_entries_listed: int = 0
    licence_classes: Counter[str] = field(default_factory=Counter)
    unresolved_images: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, list[str]] = field(default_factory=dict)
    _licences: dict[str, Licence] = field(default_factory=dict)

    def classify(self, text: str) -> Licence:
        # Lock files repeat a few licence texts thousands of times.
        licence = self._licences.get(text)
        if licence is None:
            licence = classify_licence(text)
            self._licences[text] = licence
        return licence


def _catalogue_ecosystem(ecosystem: str) -> str | None:
    # Alpine package names are looked up in every ecosystem of the catalogue.
    return ecosystem if ecosystem in ECOSYSTEMS else None


def _match_package(dependency: Dependency, version: str | None) -> Product | None:
    return match_package(
        dependency.name, version, _catalogue_ecosystem(dependency.ecosystem)
    )


def _product_fields(product: Product | None) -> dict[str, Any]:
    if product is None:
        return {}
    fields = {
        "product": product.name,
        "vendor": product.vendor,
        "product_kind": product.kind,
        "licence_class": product.licence_class,
        "catalogue_licence_class": product.licence_class,
    }
    if product.note:
        fields["catalogue_note"] = product.note
    return fields


def _record_product(
    stack: StackRead,
    product: Product | None,
    version: str | None,
    evidence: dict[str, Any],
) -> None:
    """File a catalogue match under software.proprietary and ai.components."""
    if product is None:
        return
    base = {
        "name": product.name,
        "version": version,
        "vendor": product.vendor,
        "kind": product.kind,
        "licence_class": product.licence_class,
        "basis": "catalogue",
        "catalogue_source": product.source,
    }
    if product.note:
        base["catalogue_note"] = product.note
    if product.licence_class in RESTRICTED_CLASSES:
        stack.proprietary.add((product.name, version), base, evidence)
    if product.kind in AI_KINDS:
        stack.ai.add((product.name, version), base, evidence)


def _record_licence(
    stack: StackRead, dependency: Dependency, version: str | None, licence: Licence
) -> None:
    if licence.licence_class not in RESTRICTED_CLASSES:
        return
    base = {
        "name": dependency.name,
        "version": version,
        "ecosystem": dependency.ecosystem,
        "licence": licence.raw,
        "licence_spdx": licence.spdx,
        "licence_class": licence.licence_class,
        "basis": "declared licence",
    }
    evidence = dependency.location.evidence(package=dependency.name)
    stack.proprietary.add((dependency.name, version), base, evidence)


def _package_kind(dependency: Dependency, product: Product | None) -> str:
    if product is not None:
        return product.kind
    if dependency.ecosystem in OS_PACKAGE_ECOSYSTEMS:
        return "os-package"
    return "library"


def _add_package(
    stack: StackRead, dependency: Dependency, locked: Dependency | None
) -> None:
    version = dependency.version or (locked.version if locked else None)
    licence_text = dependency.licence or (locked.licence if locked else None)
    product = _match_package(dependency, version)
    base: dict[str, Any] = {
        "name": dependency.name,
        "version": version,
        "kind": _package_kind(dependency, product),
        "ecosystem": dependency.ecosystem,
        "constraints": [],
        "scopes": [],
        **_product_fields(product),
    }
    evidence = dependency.location.evidence()
    identity = ("package", dependency.ecosystem, compared_name(dependency), version)
    item = stack.components.add(identity, base, evidence)
    _add_to(item["constraints"], dependency.constraint)
    _add_to(item["scopes"], dependency.scope)
    if licence_text:
        # The package's own licence field outranks the catalogue's class, which
        # stays in catalogue_licence_class.
        licence = stack.classify(licence_text)
        item["licence"] = licence.raw
        item["licence_class"] = licence.licence_class
        _record_licence(stack, dependency, version, licence)
    package_evidence = dependency.location.evidence(package=dependency.name)
    _record_product(stack, product, version, package_evidence)
    _add_product_runtime(stack, product, package_evidence)


def _add_lock_entry(stack: StackRead, dependency: Dependency) -> None:
    stack.lock_entries += 1
    licence = stack.classify(dependency.licence) if dependency.licence else None
    if licence is not None:
        stack.licence_classes[licence.licence_class] += 1
    product = _match_package(dependency, dependency.version)
    restricted = licence is not None and licence.licence_class in RESTRICTED_CLASSES
    if product is None and not restricted:
        return
    stack.lock_entries_listed += 1
    _add_package(stack, dependency, None)


def _lock_index(declarations: Declarations) -> dict[tuple[str, str, str], Dependency]:
    """Index locked packages by (directory, ecosystem, compared name)."""
    index: dict[tuple[str, str, str], Dependency] = {}
    for manifest in declarations.manifests:
        if manifest.role != LOCK:
            continue
        for dependency in manifest.read.dependencies:
            key = (manifest.directory, dependency.ecosystem, compared_name(dependency))
            # The first entry is the top-level install of the package; nested
            # node_modules copies of other versions come later.
            index.setdefault(key, dependency)
    return index


def _add_runtime(stack: StackRead, runtime: Runtime) -> None:
    base = {
        "name": runtime.name,
        "version": runtime.version,
        "kind": "runtime",
        "constraints": [],
    }
    evidence = runtime.location.evidence(
        **({"field": runtime.field} if runtime.field else {})
    )
    item = stack.runtimes.add((runtime.name, runtime.version), base, evidence)
    _add_to(item["constraints"], runtime.constraint)


def add_manifests(stack: StackRead, declarations: Declarations) -> None:
    """Add direct dependencies, runtimes and listed lock entries."""
    locks = _lock_index(declarations)
    direct: set[tuple[str, str, str]] = set()
    for manifest in declarations.manifests:
        stack.sources.setdefault(f"{manifest.role} files", []).append(manifest.path)
        for runtime in manifest.read.runtimes:
            _add_runtime(stack, runtime)
        if manifest.role == LOCK:
            continue
        for dependency in manifest.read.dependencies:
            key = (manifest.directory, dependency.ecosystem, compared_name(dependency))
            direct.add(key)
            _add_package(stack, dependency, locks.get(key))
    for manifest in declarations.manifests:
        if manifest.role != LOCK:
            continue
        for dependency in manifest.read.dependencies:
            key = (manifest.directory, dependency.ecosystem, compared_name(dependency))
            if key in direct and locks.get(key) is dependency:
                # Already listed with its manifest entry; count its licence only.
                stack.lock_entries += 1
                if dependency.licence:
                    stack.licence_classes[
                        stack.classify(dependency.licence).licence_class
                    ] += 1
                continue
            _add_lock_entry(stack, dependency)


def add_runtimes_to_components(stack: StackRead) -> None:
    """List the runtimes among the components; call once all sources are added."""
    for identity, item in stack.runtimes.items.items():
        copy = {**item, "constraints": list(item["constraints"])}
        copy["evidence"] = list(item["evidence"])
        stack.components.items[("runtime", *identity)] = copy


def _add_product_runtime(
    stack: StackRead, product: Product | None, evidence: dict[str, Any]
) -> None:
    """Add the language runtime a catalogue product provides (a python image)."""
    if product is None or product.kind != "runtime":
        return
    found = entry(product.name)
    name = LANGUAGE_RUNTIMES.get(found.language or "") if found else None
    if name is None:
        return
    base = {"name": name, "version": None, "kind": "runtime", "constraints": []}
    stack.runtimes.add((name, None), base, evidence)


def add_image(stack: StackRead, image: ImageUse) -> None:
    """Add a container image, the product it runs and what that product implies."""
    repository, tag = image_parts(image.reference)
    product = match_image(image.reference)
    evidence = image.location.evidence(image=image.reference)
    if image.context:
        evidence["context"] = image.context
    base = {
        "name": repository,
        "version": tag,
        "kind": product.kind if product else "container-image",
        "image": image.reference,
        **_product_fields(product),
    }
    stack.components.add(("image", repository, tag), base, evidence)
    _record_product(stack, product, tag, evidence)
    _add_product_runtime(stack, product, evidence)


def add_dockerfiles(stack: StackRead, declarations: Declarations) -> None:
    """Add the base images of every Dockerfile and the packages RUN lines install."""
    for path, read in declarations.dockerfiles.items():
        stack.sources.setdefault("Dockerfiles", []).append(path)
        for image in read.images:
            add_image(stack, image)
        for package in read.packages:
            _add_package(stack, package, None)
        stack.unresolved_images.extend(read.unresolved)


# Weight and model files of common machine learning formats: ONNX, safetensors,
# GGUF (llama.cpp), TensorFlow Lite and SavedModel, PyTorch, Keras, Core ML.
MODEL_SUFFIXES = (
    ".onnx",
    ".safetensors",
    ".gguf",
    ".tflite",
    ".pt",
    ".pth",
    ".keras",
    ".mlmodel",
)
MODEL_NAMES = ("saved_model.pb",)
# Python also names its path configuration files *.pth, and those are text.
# torch.save writes a zip archive (PyTorch 1.6 and later) or, with the legacy
# format, a pickle, which starts with the PROTO opcode 0x80.
PYTORCH_SUFFIXES = (".pt", ".pth")
PYTORCH_SIGNATURES = (b"PK\x03\x04", b"\x80")


def _is_model_file(tree: Tree, path: str) -> bool:
    name = posixpath.basename(path)
    suffix = posixpath.splitext(name)[1].lower()
    if name in MODEL_NAMES:
        return True
    if suffix not in MODEL_SUFFIXES:
        return False
    if suffix in PYTORCH_SUFFIXES:
        head = tree.read_head(path, 4) or b""
        return head.startswith(PYTORCH_SIGNATURES)
    return True


def add_model_files(stack: StackRead, tree: Tree) -> None:
    """Add machine learning model files to ai.components.

    Files are recognised by name, and PyTorch suffixes also by their first bytes.
    """
    for path in tree.files:
        if _is_model_file(tree, path):
            name = posixpath.basename(path)
            suffix = posixpath.splitext(name)[1].lower()
            base = {
                "name": name,
                "version": None,
                "kind": "model",
                "format": suffix or name,
            }
            stack.ai.add(("model", path), base, {"file": path})
