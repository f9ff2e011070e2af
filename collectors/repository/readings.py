"""Facts from what the repository readers found, as (key, unit, Reading) outcomes.

A repository shows what its files declare, not everything deployed. A
negative (an empty list, false, a count of zero stages) is therefore recorded as
a lower bound, which the rules read as deciding nothing. A positive is exact
unless some file could not be read.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from collectors import errors
from collectors.host.reading import Missing, Reading
from collectors.repository import history as git_history
from collectors.repository.declarations import read_declarations
from collectors.repository.kubernetes import KubernetesRead
from collectors.repository.records import ImageUse
from collectors.repository.stack import (
    StackRead,
    add_dockerfiles,
    add_image,
    add_manifests,
    add_model_files,
    add_runtimes_to_components,
)
from collectors.repository.tree import MAX_FILE_BYTES, Tree

STACK = "stack.components"
PROPRIETARY = "software.proprietary"
AI = "ai.components"
RUNTIMES = "architecture.runtimes"
SERVICES = "architecture.services"
HARDWARE = "hardware.specialized"
DEDICATED = "infrastructure.dedicated_servers"
ISOLATED = "network.isolated_segment"
MONTHS = "project.development_months"
PHASES = "project.commissioning_phases"

Outcome = tuple[str, str | None, Reading] | Missing

# Names listed in one note before the rest is only counted.
MAX_NAMES_IN_NOTE = 10
MAX_OTHER_TAGS = 50
# A commit dated this far after the scan comes from a wrong clock, not from
# clock skew between machines.
FUTURE_TOLERANCE = dt.timedelta(days=1)

NOT_EXHAUSTIVE = (
    "; a repository shows only what its files declare, so finding none rules "
    "nothing out and the value is a lower bound"
)
PARTIAL_TREE = (
    "; some files were not parsed (see the tree summary), so the list is a lower bound"
)


def _negative_bound(found: bool, tree: Tree) -> str | None:
    return None if found and not tree.incomplete else "lower"


# --- stack -----------------------------------------------------------------

STACK_METHOD = (
    "dependency manifests and lock files (Python, Node.js, Maven, Gradle, Go, "
    ".NET), Dockerfile FROM and RUN install lines, and images named in "
    "Kubernetes manifests, Helm values and Compose files, with products and "
    "licence classes from the catalogue"
)


def stack_readings(tree: Tree, images: list[ImageUse]) -> list[Outcome]:
    """Return stack.components, software.proprietary, ai.components and
    architecture.runtimes."""
    declarations = read_declarations(tree)
    stack = StackRead()
    add_manifests(stack, declarations)
    add_dockerfiles(stack, declarations)
    for image in images:
        referring = stack.sources.setdefault("image references", [])
        if image.location.file not in referring:
            referring.append(image.location.file)
        add_image(stack, image)
    add_model_files(stack, tree)
    add_runtimes_to_components(stack)
    outcomes: list[Outcome] = [(AI, None, _ai(stack, tree))]
    if not stack.components.items and not stack.sources and not stack.unresolved_images:
        message = (
            "no dependency manifest, lock file, Dockerfile or container image "
            "reference in the tree"
        )
        return outcomes + [
            Missing(key, errors.NO_DATA, message)
            for key in (STACK, PROPRIETARY, RUNTIMES)
        ]
    outcomes.append((STACK, None, _components(stack, tree)))
    outcomes.append((PROPRIETARY, None, _proprietary(stack, tree)))
    outcomes.append(_runtimes(stack, tree))
    return outcomes


def _components(stack: StackRead, tree: Tree) -> Reading:
    incomplete = tree.incomplete or bool(stack.unresolved_images)
    details: dict[str, Any] = {
        "sources": stack.sources,
        "lock_entries": stack.lock_entries,
        "lock_entries_listed": stack.lock_entries_listed,
        "lock_entries_note": "packages only a lock file lists appear when the "
        "catalogue names them or their licence is restricted",
        "files": tree.summary(),
    }
    if stack.unresolved_images:
        details["unresolved_images"] = stack.unresolved_images
    method = STACK_METHOD + (PARTIAL_TREE if incomplete else "")
    return Reading(
        stack.components.values(),
        method,
        details,
        bound="lower" if incomplete else None,
    )


def _proprietary(stack: StackRead, tree: Tree) -> Reading:
    items = stack.proprietary.values()
    method = (
        "catalogue products with a proprietary or source-available licence, and "
        "packages whose lock file entry declares such a licence (package-lock.json "
        "license fields; Python lock files carry none)"
    )
    bound = _negative_bound(bool(items), tree)
    if bound:
        method += NOT_EXHAUSTIVE if not items else PARTIAL_TREE
    details = {
        "lock_entry_licence_classes": dict(sorted(stack.licence_classes.items())),
        "lock_entries": stack.lock_entries,
    }
    return Reading(items, method, details, bound=bound)


def _ai(stack: StackRead, tree: Tree) -> Reading:
    items = stack.ai.values()
    method = (
        "catalogue products of kind ai_framework or inference_server among "
        "dependencies and images, and model files by extension"
    )
    bound = _negative_bound(bool(items), tree)
    if bound:
        method += NOT_EXHAUSTIVE if not items else PARTIAL_TREE
    return Reading(items, method, None, bound=bound)


def _runtimes(stack: StackRead, tree: Tree) -> Outcome:
    runtimes = stack.runtimes.values()
    names = sorted({item["name"] for item in runtimes})
    if not names:
        return Missing(
            RUNTIMES, errors.NO_DATA, "no manifest in the tree declares a runtime"
        )
    method = (
        "distinct language runtimes that manifests declare (requires-python, "
        "engines.node, Java level, go directive, TargetFramework) or imply by "
        "their kind (a package.json implies Node.js)"
    )
    details = {"runtimes": runtimes, "names": names}
    bound = "lower" if tree.incomplete else None
    if bound:
        method += PARTIAL_TREE
    return (
        RUNTIMES,
        "count",
        Reading(len(names), method, details, bound=bound, provenance="derived"),
    )


# --- Kubernetes ------------------------------------------------------------


def kubernetes_readings(kube: KubernetesRead, tree: Tree) -> list[Outcome]:
    """Return architecture.services, hardware.specialized,
    infrastructure.dedicated_servers and network.isolated_segment."""
    if not kube.has_kubernetes:
        message = "no Kubernetes manifest or Helm chart values in the tree"
        if kube.templates_skipped:
            message += (
                f" apart from {len(kube.templates_skipped)} Helm templates, which "
                "are not rendered"
            )
        keys = (SERVICES, HARDWARE, DEDICATED, ISOLATED)
        return [Missing(key, errors.NO_DATA, message) for key in keys]
    files = {
        "manifests": kube.manifests,
        "values_files": kube.values_files,
        "helm_templates_not_rendered": len(kube.templates_skipped),
    }
    incomplete = bool(kube.templates_skipped) or tree.incomplete
    return [
        _services(kube, files, incomplete),
        (HARDWARE, None, _hardware(kube, files, incomplete)),
        (DEDICATED, None, _dedicated(kube, files)),
        (ISOLATED, None, _isolated(kube, files)),
    ]


def _services(kube: KubernetesRead, files: dict[str, Any], incomplete: bool) -> Outcome:
    if not kube.workloads:
        return Missing(
            SERVICES,
            errors.NO_DATA,
            f"no Deployment, StatefulSet or DaemonSet in {len(kube.manifests)} "
            "Kubernetes manifests",
        )
    method = (
        "distinct names of Deployments, StatefulSets and DaemonSets in "
        "Kubernetes manifests"
    )
    if incomplete:
        method += (
            "; Helm templates or other files were not read, so the count is a "
            "lower bound"
        )
    workloads = [
        {"name": name, **entry} for name, entry in sorted(kube.workloads.items())
    ]
    details = {"workloads": workloads, **files}
    reading = Reading(
        len(workloads),
        method,
        details,
        bound="lower" if incomplete else None,
        provenance="derived",
    )
    return (SERVICES, "count", reading)


def _hardware(kube: KubernetesRead, files: dict[str, Any], incomplete: bool) -> Reading:
    items = [kube.hardware[name] for name in sorted(kube.hardware)]
    method = (
        "extended resource requests and limits of containers (nvidia.com/gpu, "
        "amd.com/gpu, habana.ai/gaudi, xilinx.com/fpga*, intel.com/*, "
        "aws.amazon.com/neuron*, google.com/tpu) in manifests and Helm values"
    )
    bound = None if items and not incomplete else "lower"
    if not items:
        method += NOT_EXHAUSTIVE
    elif incomplete:
        method += PARTIAL_TREE
    return Reading(items, method, dict(files), bound=bound)


def _dedicated(kube: KubernetesRead, files: dict[str, Any]) -> Reading:
    method = (
        "nodeSelector, required nodeAffinity and tolerations that name a dedicated "
        "node, pool or role (dedicated, pool, node pool and node group labels, "
        "node-role.kubernetes.io/* other than the control plane)"
    )
    found = bool(kube.dedicated)
    if not found:
        method += NOT_EXHAUSTIVE
    details = {"evidence": kube.dedicated, **files}
    return Reading(found, method, details, bound=None if found else "lower")


def _isolated(kube: KubernetesRead, files: dict[str, Any]) -> Reading:
    denying = [policy for policy in kube.network_policies if policy["default_deny"]]
    method = (
        "NetworkPolicies that select every pod of their namespace and allow no "
        "traffic of a listed policy type (default deny)"
    )
    found = bool(denying)
    if not found:
        method += (
            "; none found, and isolation by firewalls or cloud networks is not "
            "visible in a repository, so false is a lower bound"
        )
    details = {"policies": kube.network_policies, **files}
    return Reading(found, method, details, bound=None if found else "lower")


# --- git history -----------------------------------------------------------


def history_readings(
    found: git_history.History, moment: dt.datetime, stage_tags: re.Pattern[str]
) -> list[Outcome]:
    """Return project.development_months and project.commissioning_phases."""
    return [_months(found, moment), (PHASES, "count", _phases(found, stage_tags))]


def _phases(found: git_history.History, stage_tags: re.Pattern[str]) -> Reading:
    stages = [tag for tag in found.tags if stage_tags.search(tag.name)]
    stages.sort(key=lambda tag: (_instant(tag.date), tag.name))
    stage_names = {tag.name for tag in stages}
    others = sorted(tag.name for tag in found.tags if tag.name not in stage_names)
    method = (
        "git tags whose names match the stage tag pattern, each taken as one "
        "stage put into operation; a stage released without such a tag is not "
        "visible, so the count is a lower bound"
    )
    if found.shallow:
        method += "; this is a shallow clone, which may lack older tags"
    details = {
        "pattern": stage_tags.pattern,
        "stages": [
            {
                "tag": tag.name,
                "date": tag.date,
                "commit": tag.commit,
                "annotated": tag.annotated,
            }
            for tag in stages
        ],
        "tags_total": len(found.tags),
        "other_tags": others[:MAX_OTHER_TAGS],
        "tag_dates": "tagger date of annotated tags, committer date of the "
        "commit for lightweight tags",
    }
    return Reading(len(stages), method, details, bound="lower", provenance="derived")


def _instant(date: str) -> dt.datetime:
    """Parse an ISO 8601 date for sorting; an unparsable one sorts first."""
    try:
        return dt.datetime.fromisoformat(date)
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def _commit_details(commit: git_history.Commit) -> dict[str, str]:
    return {
        "hash": commit.hash,
        "author_date": commit.author_date.isoformat(),
        "committer_date": commit.committer_date.isoformat(),
    }


def _months(found: git_history.History, moment: dt.datetime) -> Outcome:
    first, last = found.first, found.last
    months = git_history.months_between(first.author_date, last.author_date)
    if months < 0:
        return Missing(
            MONTHS,
            errors.BAD_RESPONSE,
            f"the first commit {first.hash} has an author date after that of HEAD "
            f"{last.hash}; the history's dates are not usable",
        )
    method = (
        "months from the author date of the first (root) commit to that of HEAD, "
        "30.436875 days a month; author dates, because rebases, cherry-picks and "
        "squash merges reset committer dates to the time of rewriting"
    )
    if found.shallow:
        method += (
            "; this is a shallow clone, so the first commit is the depth boundary "
            "and the value is a lower bound"
        )
    details: dict[str, Any] = {
        "first_commit": _commit_details(first),
        "last_commit": _commit_details(last),
        "commit_count": found.commit_count,
        "commit_range": f"{first.hash}..{last.hash}",
        "date_used": "author",
        "repository_root": found.toplevel,
        "shallow": found.shallow,
    }
    uncertain = last.author_date > moment + FUTURE_TOLERANCE
    if uncertain:
        details["caveat"] = (
            f"HEAD's author date {last.author_date.isoformat()} is after the scan "
            "time, so the author's clock was wrong"
        )
    reading = Reading(
        months,
        method,
        details,
        uncertain=uncertain,
        bound="lower" if found.shallow else None,
        provenance="derived",
    )
    return (MONTHS, "months", reading)


# --- notes -------------------------------------------------------------------


def _files(count: int, noun: str = "files") -> str:
    return f"{count} {noun[:-1] if count == 1 else noun}"


def _listed(names: list[str]) -> str:
    listed = ", ".join(names[:MAX_NAMES_IN_NOTE])
    rest = len(names) - MAX_NAMES_IN_NOTE
    return f"{listed} and {rest} more" if rest > 0 else listed


def tree_notes(tree: Tree, kube: KubernetesRead | None) -> list[str]:
    """Return one note per kind of file that was skipped or could not be parsed."""
    notes = []
    if tree.malformed:
        described = [
            f"{path} ({reason})" for path, reason in sorted(tree.malformed.items())
        ]
        notes.append(
            f"{_files(len(described))} left out because parsing failed: "
            f"{_listed(described)}"
        )
    if tree.too_large:
        notes.append(
            f"{_files(len(tree.too_large))} over {MAX_FILE_BYTES // (1024 * 1024)} MiB "
            f"skipped: {_listed(sorted(tree.too_large))}"
        )
    if tree.unreadable:
        described = [
            f"{path} ({reason})" for path, reason in sorted(tree.unreadable.items())
        ]
        notes.append(
            f"{_files(len(described))} could not be read: {_listed(described)}"
        )
    if tree.outside_links:
        notes.append(
            f"{_files(len(tree.outside_links), 'symbolic links')} pointing out of "
            f"the tree not followed: {_listed(sorted(tree.outside_links))}"
        )
    if kube is not None and kube.templates_skipped:
        notes.append(
            f"{_files(len(kube.templates_skipped), 'Helm template files')} not "
            f"rendered or read: {_listed(sorted(kube.templates_skipped))}"
        )
    return notes
