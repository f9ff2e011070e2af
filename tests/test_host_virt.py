"""Container, hypervisor and bare-metal detection on prepared trees and this machine."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from collectors.host import virt
from tests import host_trees as trees


def container_of(root) -> virt.Detection:
    return virt.detect_container(str(root), live=False)


def test_dockerenv_means_docker(tmp_path):
    trees.plain_host(tmp_path)
    trees.write(tmp_path, "/.dockerenv")
    assert container_of(tmp_path).value == "docker"


def test_containerenv_means_podman(tmp_path):
    trees.plain_host(tmp_path)
    trees.write(tmp_path, "/run/.containerenv", 'engine="podman-4.9.3"\n')
    assert container_of(tmp_path).value == "podman"


def test_kubepods_cgroup_means_kubernetes(tmp_path):
    trees.plain_host(tmp_path)
    trees.write(tmp_path, "/.dockerenv")
    trees.pid1(
        tmp_path,
        cgroup="0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-1f.scope\n",
        environ=b"PATH=/usr/bin\0",
    )
    assert container_of(tmp_path).value == "kubernetes"


def test_docker_v1_cgroup_path(tmp_path):
    trees.plain_host(tmp_path)
    trees.pid1(tmp_path, cgroup="4:cpu,cpuacct:/docker/0123abcd\n", environ=b"")
    assert container_of(tmp_path).value == "docker"


def test_environ_container_variable(tmp_path):
    trees.plain_host(tmp_path)
    trees.pid1(tmp_path, cgroup="0::/\n", environ=b"HOME=/\0container=lxc\0")
    assert container_of(tmp_path).value == "lxc"


def test_no_markers_is_uncertain_none(tmp_path):
    trees.plain_host(tmp_path)
    detection = container_of(tmp_path)
    assert detection.value == "none"
    assert detection.uncertain is True


def test_unreadable_environ_leaves_container_open(tmp_path):
    trees.plain_host(tmp_path)
    (tmp_path / "proc/1/environ").unlink()
    detection = container_of(tmp_path)
    assert detection.value is None
    assert "/proc/1/environ is absent" in detection.reason


def test_container_evidence_lists_each_source(tmp_path):
    trees.plain_host(tmp_path)
    sources = [entry["source"] for entry in container_of(tmp_path).evidence]
    assert sources == [
        "/.dockerenv",
        "/run/.containerenv",
        "/proc/1/cgroup",
        "/proc/1/environ",
    ]


def hypervisor_of(root) -> virt.HostVirtualisation:
    return virt.detect_hypervisor(str(root), live=False)


def test_cpu_flag_alone_means_other(tmp_path):
    trees.plain_host(tmp_path, hypervisor=True)
    host = hypervisor_of(tmp_path)
    assert host.hypervisor.value == "other"
    assert host.bare_metal.value is False


def test_dmi_names_qemu(tmp_path):
    trees.plain_host(tmp_path, hypervisor=True)
    trees.dmi(
        tmp_path, sys_vendor="QEMU", product_name="Standard PC (Q35 + ICH9, 2009)"
    )
    assert hypervisor_of(tmp_path).hypervisor.value == "qemu"


def test_dmi_product_kvm_wins_over_qemu(tmp_path):
    trees.plain_host(tmp_path, hypervisor=True)
    trees.dmi(tmp_path, sys_vendor="QEMU", product_name="KVM")
    assert hypervisor_of(tmp_path).hypervisor.value == "kvm"


def test_dmi_names_vmware(tmp_path):
    trees.plain_host(tmp_path, hypervisor=True)
    trees.dmi(
        tmp_path, sys_vendor="VMware, Inc.", product_name="VMware Virtual Platform"
    )
    assert hypervisor_of(tmp_path).hypervisor.value == "vmware"


def test_hypervisor_type_names_xen(tmp_path):
    trees.plain_host(tmp_path, hypervisor=True)
    trees.write(tmp_path, "/sys/hypervisor/type", "xen\n")
    assert hypervisor_of(tmp_path).hypervisor.value == "xen"


def test_physical_dmi_without_flag_is_bare_metal(tmp_path):
    trees.plain_host(tmp_path, hypervisor=False)
    trees.dmi(tmp_path, sys_vendor="Dell Inc.", product_name="PowerEdge R750")
    host = hypervisor_of(tmp_path)
    assert host.hypervisor.value == "none"
    assert host.bare_metal.value is True


def test_ec2_metal_is_bare_metal(tmp_path):
    trees.plain_host(tmp_path, hypervisor=False)
    trees.dmi(tmp_path, sys_vendor="Amazon EC2", product_name="m5.metal")
    assert hypervisor_of(tmp_path).bare_metal.value is True


def test_ec2_instance_is_amazon(tmp_path):
    trees.plain_host(tmp_path, hypervisor=True)
    trees.dmi(tmp_path, sys_vendor="Amazon EC2", product_name="m5.large")
    assert hypervisor_of(tmp_path).hypervisor.value == "amazon"


def test_no_flag_without_dmi_is_unknown(tmp_path):
    trees.plain_host(tmp_path, hypervisor=False)
    host = hypervisor_of(tmp_path)
    assert host.hypervisor.value is None
    assert host.bare_metal.value is None
    assert host.hypervisor.reason


def test_cpuinfo_without_flags_line_is_no_evidence(tmp_path):
    trees.write(tmp_path, "/proc/cpuinfo", "processor\t: 0\nFeatures\t: fp asimd\n")
    flag, evidence = virt.cpuinfo_hypervisor_flag(str(tmp_path))
    assert flag is None
    assert evidence["value"] == "no flags line"


def test_live_detection_never_raises():
    container = virt.detect_container("/", live=True)
    host = virt.detect_hypervisor("/", live=True)
    assert container.value is not None or container.reason
    assert host.hypervisor.value is not None or host.hypervisor.reason


@pytest.mark.skipif(
    shutil.which("systemd-detect-virt") is None, reason="systemd-detect-virt missing"
)
def test_live_hypervisor_matches_systemd():
    # systemd-detect-virt prints "none" with exit code 1, so the code is not checked.
    done = subprocess.run(
        ["systemd-detect-virt", "--vm"],
        check=False,
        capture_output=True,
        text=True,
        timeout=10,
    )
    expected = done.stdout.strip()
    expected = virt.DETECT_VIRT_NAMES.get(expected, expected)
    host = virt.detect_hypervisor("/", live=True)
    assert host.hypervisor.value == expected
    assert host.bare_metal.value is (expected == "none")
