"""Detect the container runtime, the hypervisor and bare metal from host evidence.

The three results are separate, because a container may run on a virtual
machine or on a physical server. Each result is None when the evidence does not
establish it, and every piece of evidence seen is returned for the fact's
details.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

from collectors.host.files import OK, PERMISSION_DENIED, first_line, read_file

logger = logging.getLogger(__name__)

DETECT_VIRT = "systemd-detect-virt"
# Seconds. systemd-detect-virt reads a few files and returns within milliseconds.
DETECT_VIRT_TIMEOUT_S = 5.0

DOCKERENV = "/.dockerenv"
CONTAINERENV = "/run/.containerenv"
PID1_CGROUP = "/proc/1/cgroup"
PID1_ENVIRON = "/proc/1/environ"
CPUINFO = "/proc/cpuinfo"
HYPERVISOR_TYPE = "/sys/hypervisor/type"
DMI_DIR = "/sys/class/dmi/id"
# Read in this order, as systemd does, so "KVM" in product_name wins over
# "QEMU" in sys_vendor.
DMI_FILES = (
    "product_name",
    "sys_vendor",
    "board_vendor",
    "bios_vendor",
    "product_version",
)

# DMI prefixes of virtual platforms, from systemd src/basic/virt.c
# (dmi_vendor_table). "Oracle Corporation" is left out because Oracle's physical
# servers report it as sys_vendor.
DMI_VIRTUAL_PLATFORMS: tuple[tuple[str, str], ...] = (
    ("KVM", "kvm"),
    ("OpenStack", "kvm"),
    ("KubeVirt", "kvm"),
    ("Amazon EC2", "amazon"),
    ("QEMU", "qemu"),
    ("VMware", "vmware"),
    ("VMW", "vmware"),
    ("innotek GmbH", "virtualbox"),
    ("VirtualBox", "virtualbox"),
    ("Xen", "xen"),
    ("Bochs", "bochs"),
    ("Parallels", "parallels"),
    ("BHYVE", "bhyve"),
    ("Hyper-V", "microsoft"),
    ("Apple Virtualization", "apple"),
    ("Google Compute Engine", "google"),
)
# EC2 bare-metal instances report "Amazon EC2" too. systemd identifies them by
# ".metal" in product_name (e.g. "m5.metal").
AMAZON_METAL_MARKER = ".metal"

# systemd-detect-virt names that differ from the names this collector emits.
DETECT_VIRT_NAMES = {"oracle": "virtualbox", "vm-other": "other"}

# Substrings of PID 1's cgroup paths and the runtime they reveal. All matches
# are collected, and RUNTIME_PRIORITY picks among them.
CGROUP_RUNTIME_PATTERNS: tuple[tuple[str, str], ...] = (
    ("kubepods", "kubernetes"),
    ("libpod", "podman"),
    ("cri-containerd", "containerd"),
    ("crio-", "cri-o"),
    ("docker", "docker"),
    ("containerd", "containerd"),
    ("/lxc/", "lxc"),
    ("lxc.payload", "lxc"),
)
# When several runtimes show, the orchestrator wins, then the engine whose own
# marker file is present.
RUNTIME_PRIORITY = ("kubernetes", "podman", "docker", "containerd", "cri-o", "lxc")


@dataclass
class Detection:
    """One virtualisation result: the value or None, and the evidence seen."""

    value: Any = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    uncertain: bool = False
    reason: str = ""


def run_detect_virt(option: str) -> tuple[str | None, dict[str, Any]]:
    """Run `systemd-detect-virt <option>` and return its output and the evidence.

    The output is "none" when systemd finds no virtualisation (it then exits with
    code 1) and None when the program is missing, fails or times out.
    """
    evidence: dict[str, Any] = {"source": f"{DETECT_VIRT} {option}"}
    program = shutil.which(DETECT_VIRT)
    if program is None:
        evidence["status"] = "not installed"
        return None, evidence
    try:
        done = subprocess.run(
            [program, option],
            capture_output=True,
            text=True,
            timeout=DETECT_VIRT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        logger.warning(
            "%s %s timed out after %s s", program, option, DETECT_VIRT_TIMEOUT_S
        )
        evidence["status"] = "timed out"
        return None, evidence
    except OSError as exc:
        logger.warning("%s %s failed to start: %s", program, option, exc)
        evidence["status"] = "failed to start"
        return None, evidence
    output = done.stdout.strip()
    evidence["status"] = OK if output else f"exit code {done.returncode}, no output"
    if not output:
        return None, evidence
    evidence["value"] = output
    return DETECT_VIRT_NAMES.get(output, output), evidence


def _cgroup_runtimes(text: str) -> list[str]:
    found = []
    for pattern, runtime in CGROUP_RUNTIME_PATTERNS:
        if pattern in text and runtime not in found:
            found.append(runtime)
    return found


def _environ_container(data: str) -> str | None:
    for entry in data.split("\0"):
        if entry.startswith("container="):
            return entry.partition("=")[2] or None
    return None


def _choose_runtime(runtimes: list[str]) -> str:
    for runtime in RUNTIME_PRIORITY:
        if runtime in runtimes:
            return runtime
    return runtimes[0]


def detect_container(root: str, live: bool) -> Detection:
    """Detect the container runtime this process runs in, or "none".

    Evidence: /.dockerenv, /run/.containerenv, PID 1's cgroup and its
    `container=` variable, and on the live system KUBERNETES_SERVICE_HOST and
    `systemd-detect-virt --container`. "none" needs every file check to be
    readable and negative. It is uncertain unless systemd-detect-virt confirms
    it, because a container with its own cgroup namespace can look like a host.
    """
    detection = Detection()
    runtimes: list[str] = []

    for path, runtime in ((DOCKERENV, "docker"), (CONTAINERENV, "podman")):
        read = read_file(root, path)
        # A marker that exists counts even when it cannot be read.
        present = read.status in (OK, PERMISSION_DENIED)
        detection.evidence.append(read.evidence("present" if present else None))
        if present:
            runtimes.append(runtime)

    cgroup = read_file(root, PID1_CGROUP)
    cgroup_runtimes = _cgroup_runtimes(cgroup.text or "")
    detection.evidence.append(
        cgroup.evidence(
            cgroup_runtimes or ("no runtime in paths" if cgroup.ok else None)
        )
    )
    runtimes.extend(cgroup_runtimes)

    # Root-only on most systems: a permission error is no evidence either way.
    environ = read_file(root, PID1_ENVIRON)
    environ_value = _environ_container(environ.text or "")
    if environ_value:
        detection.evidence.append(environ.evidence(f"container={environ_value}"))
        runtimes.append(environ_value)
    else:
        detection.evidence.append(
            environ.evidence("no container= variable" if environ.ok else None)
        )

    systemd_result = None
    if live:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            runtimes.append("kubernetes")
            detection.evidence.append(
                {"source": "environment KUBERNETES_SERVICE_HOST", "status": OK}
            )
        systemd_result, evidence = run_detect_virt("--container")
        detection.evidence.append(evidence)
        if systemd_result not in (None, "none"):
            runtimes.append(systemd_result)

    if runtimes:
        detection.value = _choose_runtime(runtimes)
        return detection
    files_readable = cgroup.ok and environ.ok
    if systemd_result == "none":
        detection.value = "none"
    elif files_readable:
        detection.value = "none"
        detection.uncertain = True
    else:
        systemd_status = "gave no result" if live else "runs only for root /"
        detection.reason = (
            f"no container marker found, but {PID1_CGROUP} is {cgroup.status}, "
            f"{PID1_ENVIRON} is {environ.status} and systemd-detect-virt "
            f"{systemd_status}"
        )
    return detection


def cpuinfo_hypervisor_flag(root: str) -> tuple[bool | None, dict[str, Any]]:
    """Return whether /proc/cpuinfo lists the x86 "hypervisor" CPU flag.

    None when the file is unreadable or has no "flags" line (e.g. on ARM).
    """
    read = read_file(root, CPUINFO)
    if not read.ok or read.text is None:
        return None, read.evidence()
    flags: set[str] = set()
    has_flags_line = False
    for line in read.text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            has_flags_line = True
            flags.update(value.split())
    if not has_flags_line:
        return None, read.evidence("no flags line")
    present = "hypervisor" in flags
    return present, read.evidence(
        "hypervisor flag set" if present else "hypervisor flag absent"
    )


def dmi_platform(root: str) -> tuple[str | None, list[dict[str, Any]]]:
    """Return the virtual platform DMI names, "none", or None if DMI is unreadable."""
    evidence = []
    values: dict[str, str] = {}
    for name in DMI_FILES:
        read = read_file(root, f"{DMI_DIR}/{name}")
        line = first_line(read)
        evidence.append(read.evidence(line))
        if line:
            values[name] = line
    if "sys_vendor" not in values and "product_name" not in values:
        return None, evidence
    for name in DMI_FILES:
        value = values.get(name, "")
        for prefix, platform in DMI_VIRTUAL_PLATFORMS:
            if not value.startswith(prefix):
                continue
            if platform == "amazon" and AMAZON_METAL_MARKER in values.get(
                "product_name", ""
            ):
                return "none", evidence
            return platform, evidence
    return "none", evidence


def _hypervisor_type(root: str) -> tuple[str | None, dict[str, Any]]:
    read = read_file(root, HYPERVISOR_TYPE)
    line = first_line(read)
    return (line or None), read.evidence(line)


@dataclass
class HostVirtualisation:
    hypervisor: Detection
    bare_metal: Detection


def detect_hypervisor(root: str, live: bool) -> HostVirtualisation:
    """Detect the hypervisor under the host and whether the host is bare metal.

    On the live system the output of systemd-detect-virt --vm decides. Else a
    hypervisor named by /sys/hypervisor/type or DMI decides, then the cpuinfo
    flag ("other" when only the flag shows one). Bare metal needs positive
    evidence: systemd's "none", or no hypervisor flag together with readable
    DMI that names no virtual platform.
    """
    evidence: list[dict[str, Any]] = []
    flag, flag_evidence = cpuinfo_hypervisor_flag(root)
    evidence.append(flag_evidence)
    dmi, dmi_evidence = dmi_platform(root)
    evidence.extend(dmi_evidence)
    hv_type, hv_evidence = _hypervisor_type(root)
    evidence.append(hv_evidence)
    systemd_result = None
    if live:
        systemd_result, systemd_evidence = run_detect_virt("--vm")
        evidence.append(systemd_evidence)

    hypervisor = _decide_hypervisor(flag, dmi, hv_type, systemd_result)
    if hypervisor is None:
        reason = _undecided_reason(flag, dmi, live)
        return HostVirtualisation(
            Detection(None, evidence, reason=reason),
            Detection(None, evidence, reason=reason),
        )
    return HostVirtualisation(
        Detection(hypervisor, evidence), Detection(hypervisor == "none", evidence)
    )


def _undecided_reason(flag: bool | None, dmi: str | None, live: bool) -> str:
    flag_text = "has no" if flag is False else "cannot show a"
    dmi_text = "names no virtual platform" if dmi == "none" else "is missing"
    systemd_text = "gave no result" if live else "runs only for root /"
    return (
        f"no hypervisor found and none ruled out: /proc/cpuinfo {flag_text} "
        f"hypervisor flag, DMI {dmi_text} and systemd-detect-virt {systemd_text}"
    )


def _decide_hypervisor(
    flag: bool | None, dmi: str | None, hv_type: str | None, systemd: str | None
) -> str | None:
    if systemd is not None:
        return systemd
    if hv_type:
        return hv_type
    if dmi not in (None, "none"):
        return dmi
    if flag:
        return "other"
    if flag is False and dmi == "none":
        return "none"
    return None
