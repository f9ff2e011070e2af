"""Builders of procfs and sysfs trees for the host collector tests.

Each builder writes real files below a root directory in the formats the kernel
uses, so the readers under test run unchanged against them.
"""

from __future__ import annotations

import os
from pathlib import Path

KIB = 1024
# MemTotal of the prepared hosts: 16 GiB, written in kB as /proc/meminfo does.
HOST_MEMTOTAL_KB = 16 * 1024 * 1024
V1_UNLIMITED_MEMORY = 9223372036854771712


def write(root: Path, path: str, text: str | bytes = "") -> Path:
    """Write a file at host path `path` below root, creating its directories."""
    location = root / path.lstrip("/")
    location.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        location.write_bytes(text)
    else:
        location.write_text(text)
    return location


def cpuinfo(root: Path, cpus: int, *, hypervisor: bool) -> None:
    flags = "fpu vme de pse tsc msr pae sse sse2"
    if hypervisor:
        flags += " hypervisor"
    blocks = [
        f"processor\t: {n}\nvendor_id\t: GenuineIntel\nflags\t\t: {flags}\n"
        for n in range(cpus)
    ]
    write(root, "/proc/cpuinfo", "\n".join(blocks))


def meminfo(root: Path, memtotal_kb: int = HOST_MEMTOTAL_KB) -> None:
    write(
        root,
        "/proc/meminfo",
        f"MemTotal:       {memtotal_kb} kB\nMemFree:         1024 kB\n",
    )


def self_status(root: Path, cpus_allowed_list: str) -> None:
    write(
        root,
        "/proc/self/status",
        "Name:\tpython\nState:\tR (running)\n"
        f"Cpus_allowed_list:\t{cpus_allowed_list}\n",
    )


def cgroup_v2(
    root: Path,
    *,
    cpu_max: str | None,
    memory_max: str | None,
    path: str = "/",
    directory_exists: bool = True,
) -> None:
    """Write a unified hierarchy with the limits in this process's cgroup."""
    write(root, "/proc/self/cgroup", f"0::{path}\n")
    write(root, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n")
    directory = "/sys/fs/cgroup" + ("" if path == "/" else path)
    if not directory_exists:
        directory = "/sys/fs/cgroup"
    if cpu_max is not None:
        write(root, f"{directory}/cpu.max", f"{cpu_max}\n")
    if memory_max is not None:
        write(root, f"{directory}/memory.max", f"{memory_max}\n")


def cgroup_v1(
    root: Path,
    *,
    quota_us: int,
    period_us: int,
    memory_limit: int,
    path: str = "/",
) -> None:
    """Write v1 "cpu,cpuacct" and "memory" hierarchies with limits at `path`."""
    write(
        root,
        "/proc/self/cgroup",
        f"12:memory:{path}\n4:cpu,cpuacct:{path}\n1:name=systemd:{path}\n0::{path}\n",
    )
    suffix = "" if path == "/" else path
    cpu_dir = f"/sys/fs/cgroup/cpu,cpuacct{suffix}"
    write(root, f"{cpu_dir}/cpu.cfs_quota_us", f"{quota_us}\n")
    write(root, f"{cpu_dir}/cpu.cfs_period_us", f"{period_us}\n")
    write(
        root,
        f"/sys/fs/cgroup/memory{suffix}/memory.limit_in_bytes",
        f"{memory_limit}\n",
    )


def pci_function(
    root: Path,
    address: str,
    *,
    class_code: str,
    vendor: str,
    device: str,
    physfn: str | None = None,
) -> Path:
    """Write /sys/bus/pci/devices/<address>/{class,vendor,device} as sysfs does."""
    base = f"/sys/bus/pci/devices/{address}"
    write(root, f"{base}/class", f"{class_code}\n")
    write(root, f"{base}/vendor", f"{vendor}\n")
    location = write(root, f"{base}/device", f"{device}\n").parent
    if physfn is not None:
        os.symlink(f"../{physfn}", location / "physfn")
    return location


def empty_pci(root: Path) -> None:
    (root / "sys/bus/pci/devices").mkdir(parents=True, exist_ok=True)


def infiniband_device(
    root: Path, name: str, *, pci_address: str, link_layers: list[str]
) -> None:
    """Write /sys/class/infiniband/<name> with a device link and port link layers."""
    base = f"/sys/class/infiniband/{name}"
    for port, layer in enumerate(link_layers, start=1):
        write(root, f"{base}/ports/{port}/link_layer", f"{layer}\n")
    os.symlink(
        f"../../../bus/pci/devices/{pci_address}", root / base.lstrip("/") / "device"
    )


def nvidia_driver_gpu(root: Path, pci_address: str, *, model: str, minor: int) -> None:
    """Write the NVIDIA driver's /proc/driver/nvidia/gpus/<address>/information."""
    write(
        root,
        f"/proc/driver/nvidia/gpus/{pci_address}/information",
        f"Model: \t\t {model}\nIRQ:   \t\t 42\nBus Type: \t PCIe\n"
        f"Bus Location: \t {pci_address}\nDevice Minor: \t {minor}\n",
    )


def dev_nodes(root: Path, *names: str) -> None:
    for name in names:
        write(root, f"/dev/{name}")


def dmi(root: Path, *, sys_vendor: str, product_name: str) -> None:
    write(root, "/sys/class/dmi/id/sys_vendor", f"{sys_vendor}\n")
    write(root, "/sys/class/dmi/id/product_name", f"{product_name}\n")


def pid1(root: Path, *, cgroup: str, environ: bytes | None) -> None:
    """Write PID 1's cgroup and, unless None, its NUL-separated environment."""
    write(root, "/proc/1/cgroup", cgroup)
    if environ is not None:
        write(root, "/proc/1/environ", environ)


def proc_stat(root: Path, pid: int, command: str, state: str) -> None:
    write(root, f"/proc/{pid}/stat", f"{pid} ({command}) {state} 1 {pid} {pid} 0 -1\n")


def plain_host(root: Path, *, cpus: int = 4, hypervisor: bool = False) -> Path:
    """Write a complete tree of a host with no limits, containers or devices."""
    cpuinfo(root, cpus, hypervisor=hypervisor)
    meminfo(root)
    self_status(root, f"0-{cpus - 1}")
    cgroup_v2(root, cpu_max="max 100000", memory_max="max")
    pid1(root, cgroup="0::/init.scope\n", environ=b"HOME=/\0TERM=linux\0")
    proc_stat(root, 1, "systemd", "S")
    empty_pci(root)
    return root
