"""Interfaces read from prepared sysfs trees and from real network namespaces."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.network.interfaces import (
    InterfaceError,
    Vlan,
    judge_dedicated,
    read_interfaces,
    read_rdma,
    read_vlan_config,
)
from tests import net_trees as trees

REPO = Path(__file__).resolve().parent.parent


def read(root: Path, addresses: dict[str, list[str]] | None = None):
    return read_interfaces(
        sys_root=root / "sys",
        proc_root=root / "proc",
        read_addresses=lambda: dict(addresses or {}),
    )


def by_name(interfaces) -> dict:
    return {interface.name: interface for interface in interfaces}


def judge(root: Path, addresses: dict[str, list[str]] | None = None):
    return judge_dedicated(read(root, addresses), read_rdma(sys_root=root / "sys"))


def rules(judgement) -> list[str]:
    return [entry["rule"] for entry in judgement.details["evidence"]]


def vm(root: Path) -> Path:
    trees.loopback(root)
    trees.virtio_nic(root, "eth0", address="0000:00:03.0", index=0)
    return root


def server(root: Path) -> Path:
    trees.loopback(root)
    trees.pci_nic(root, "eth0", address="0000:3b:00.0")
    trees.pci_nic(root, "eth1", address="0000:3b:00.1")
    return root


# Trees: what read_interfaces reports.


def test_vm_virtio_is_paravirtual(tmp_path):
    eth0 = by_name(read(vm(tmp_path)))["eth0"]
    assert eth0.kind == "paravirtual"
    assert eth0.driver == "virtio_net"
    assert eth0.bus == "virtio"
    assert eth0.type == 1
    assert eth0.type_name == "ether"


def test_vm_loopback_is_virtual(tmp_path):
    lo = by_name(read(vm(tmp_path)))["lo"]
    assert lo.kind == "virtual"
    assert lo.virtual_type == "loopback"
    assert lo.type == 772
    assert lo.driver is None


def test_vm_virtio_speed_unknown(tmp_path):
    assert by_name(read(vm(tmp_path)))["eth0"].speed_mbps is None


def test_server_nic_reads_attributes(tmp_path):
    eth0 = by_name(read(server(tmp_path)))["eth0"]
    assert eth0.kind == "physical"
    assert eth0.driver == "ixgbe"
    assert eth0.bus == "pci"
    assert eth0.speed_mbps == 10000
    assert eth0.operstate == "up"
    # lo is written first (ifindex 1), so eth0 has ifindex 2.
    assert eth0.mac == "02:00:00:00:00:02"


def test_interfaces_sorted_by_name(tmp_path):
    names = [i.name for i in read(server(tmp_path))]
    assert names == ["eth0", "eth1", "lo"]


def test_emulated_e1000_is_paravirtual(tmp_path):
    trees.pci_nic(
        tmp_path,
        "ens3",
        address="0000:00:03.0",
        driver="e1000",
        device_id="0x100e",
        subsystem_vendor="0x1af4",
    )
    ens3 = by_name(read(tmp_path))["ens3"]
    assert ens3.kind == "paravirtual"
    assert ens3.kind_reason == (
        "PCI ids of Red Hat (virtio, QEMU) (subsystem_vendor 0x1af4), an emulated NIC"
    )


def test_ena_driver_is_paravirtual(tmp_path):
    trees.pci_nic(
        tmp_path, "ens5", address="0000:00:05.0", driver="ena", vendor="0x1d0f"
    )
    assert by_name(read(tmp_path))["ens5"].kind == "paravirtual"


def test_hypervisor_vendor_is_paravirtual(tmp_path):
    # VMware's older vmxnet NIC: a driver not listed, a VMware vendor id.
    trees.pci_nic(
        tmp_path,
        "eth0",
        address="0000:00:11.0",
        driver="vmxnet",
        vendor="0x15ad",
        device_id="0x0720",
        subsystem_vendor="0x0000",
    )
    eth0 = by_name(read(tmp_path))["eth0"]
    assert eth0.kind == "paravirtual"
    assert eth0.kind_reason == "PCI ids of VMware (vendor 0x15ad), an emulated NIC"


def test_addresses_become_subnets(tmp_path):
    addresses = {"eth0": ["10.1.0.5/24", "fe80::1/64", "2001:db8:1::5/64"]}
    eth0 = by_name(read(server(tmp_path), addresses))["eth0"]
    assert eth0.addresses == ("10.1.0.5/24", "fe80::1/64", "2001:db8:1::5/64")
    assert eth0.subnets == ("10.1.0.0/24", "2001:db8:1::/64")


def test_address_reader_failure_gives_none(tmp_path):
    def failing() -> dict[str, list[str]]:
        raise OSError("getifaddrs failed")

    server(tmp_path)
    interfaces = read_interfaces(
        sys_root=tmp_path / "sys", proc_root=tmp_path / "proc", read_addresses=failing
    )
    assert by_name(interfaces)["eth0"].addresses is None


def test_sriov_pf_counts_read(tmp_path):
    trees.pci_nic(tmp_path, "eth0", address="0000:3b:00.0", total_vfs=64, num_vfs=4)
    sriov = by_name(read(tmp_path))["eth0"].sriov
    assert sriov.total_vfs == 64
    assert sriov.num_vfs == 4
    assert sriov.physfn is None


def test_sriov_vf_physfn_read(tmp_path):
    trees.pci_nic(tmp_path, "eth0", address="0000:3b:00.0", total_vfs=64, num_vfs=1)
    trees.pci_nic(
        tmp_path,
        "eth0v0",
        address="0000:3b:10.0",
        driver="ixgbevf",
        device_id="0x10ed",
        physfn="0000:3b:00.0",
    )
    vf = by_name(read(tmp_path))["eth0v0"]
    assert vf.sriov.physfn == "0000:3b:00.0"
    assert vf.kind == "physical"


def test_bond_mode_and_slaves(tmp_path):
    server(tmp_path)
    trees.bond(tmp_path, "bond0", ["eth0", "eth1"], mode="active-backup 1")
    interfaces = by_name(read(tmp_path))
    bond0 = interfaces["bond0"]
    assert bond0.kind == "virtual"
    assert bond0.virtual_type == "bond"
    assert bond0.bond.mode == "active-backup"
    assert bond0.bond.slaves == ("eth0", "eth1")
    assert bond0.lowers == ("eth0", "eth1")
    assert interfaces["eth0"].master == "bond0"


def test_vlan_from_proc_config(tmp_path):
    vm(tmp_path)
    trees.vlan(tmp_path, "eth0.100", parent="eth0", vid=100)
    vlan = by_name(read(tmp_path))["eth0.100"]
    assert vlan.vlan == Vlan(id=100, parent="eth0")
    assert vlan.virtual_type == "vlan"


def test_vlan_without_proc_config(tmp_path):
    vm(tmp_path)
    trees.vlan(tmp_path, "eth0.200", parent="eth0", vid=200, proc_config=False)
    assert by_name(read(tmp_path))["eth0.200"].vlan == Vlan(id=None, parent="eth0")


def test_vlan_config_kernel_format(tmp_path):
    text = (
        "VLAN Dev name\t | VLAN ID\n"
        "Name-Type: VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD\n"
        "eth0.100       | 100  | eth0\n"
        "bond0.4000     | 4000  | bond0\n"
    )
    (tmp_path / "net/vlan").mkdir(parents=True)
    (tmp_path / "net/vlan/config").write_text(text)
    assert read_vlan_config(tmp_path) == {
        "eth0.100": Vlan(id=100, parent="eth0"),
        "bond0.4000": Vlan(id=4000, parent="bond0"),
    }


def test_vlan_config_skips_malformed(tmp_path):
    text = "VLAN Dev name\t | VLAN ID\neth0.x | x | eth0\neth0.7 | 7 | eth0\n"
    (tmp_path / "net/vlan").mkdir(parents=True)
    (tmp_path / "net/vlan/config").write_text(text)
    assert read_vlan_config(tmp_path) == {"eth0.7": Vlan(id=7, parent="eth0")}


def test_veth_pair_recognised(tmp_path):
    trees.virtual_netdev(tmp_path, "veth0", iflink=2)
    trees.virtual_netdev(tmp_path, "veth1", iflink=1)
    interfaces = by_name(read(tmp_path))
    assert interfaces["veth0"].virtual_type == "veth"
    assert interfaces["veth1"].virtual_type == "veth"


def test_sys_missing_raises(tmp_path):
    with pytest.raises(InterfaceError) as caught:
        read(tmp_path)
    assert caught.value.path == "/sys/class/net"
    assert caught.value.reason == "no_data"
    assert "/sys/class/net" in str(caught.value)


def test_sys_empty_raises(tmp_path):
    (tmp_path / "sys/class/net").mkdir(parents=True)
    with pytest.raises(InterfaceError) as caught:
        read(tmp_path)
    assert caught.value.path == "/sys/class/net"


def test_rdma_absent_gives_no_ports(tmp_path):
    server(tmp_path)
    assert read_rdma(sys_root=tmp_path / "sys") == []


def test_rdma_roce_port_maps_netdev(tmp_path):
    trees.pci_nic(
        tmp_path, "eth2", address="0000:5e:00.0", driver="mlx5_core", vendor="0x15b3"
    )
    trees.rdma_device(
        tmp_path,
        "mlx5_0",
        address="0000:5e:00.0",
        ports=[("Ethernet", "4: ACTIVE", "eth2")],
    )
    (port,) = read_rdma(sys_root=tmp_path / "sys")
    assert port.device == "mlx5_0"
    assert port.port == 1
    assert port.link_layer == "Ethernet"
    assert port.hardware is True
    assert port.driver == "mlx5_core"
    assert port.netdevs == ("eth2",)


# Trees: what judge_dedicated decides.


def test_vm_judged_lower_bound(tmp_path):
    judgement = judge(vm(tmp_path), {"eth0": ["10.0.2.15/24"]})
    assert judgement.value is False
    assert judgement.bound == "lower"
    assert judgement.details["evidence"] == []
    assert "not_visible" in judgement.details


def test_vm_details_list_examined(tmp_path):
    judgement = judge(vm(tmp_path), {"eth0": ["10.0.2.15/24"]})
    names = [entry["name"] for entry in judgement.details["interfaces"]]
    assert names == ["eth0", "lo"]
    assert judgement.details["rules_checked"] == [
        "infiniband",
        "roce",
        "sriov_pf",
        "sriov_vf",
        "physical_bond",
        "routed_subnets",
    ]


def test_physical_nics_distinct_subnets(tmp_path):
    addresses = {"eth0": ["10.1.0.5/24"], "eth1": ["10.2.0.5/24"]}
    judgement = judge(server(tmp_path), addresses)
    assert judgement.value is True
    assert judgement.bound is None
    assert rules(judgement) == ["routed_subnets"]
    assert judgement.details["evidence"][0]["interfaces"] == ["eth0", "eth1"]


def test_physical_nics_same_subnet(tmp_path):
    addresses = {"eth0": ["10.1.0.5/24"], "eth1": ["10.1.0.6/24"]}
    judgement = judge(server(tmp_path), addresses)
    assert judgement.value is False
    assert judgement.bound == "lower"


def test_one_physical_nic_addressed(tmp_path):
    judgement = judge(server(tmp_path), {"eth0": ["10.1.0.5/24"]})
    assert judgement.value is False


def test_subnet_on_vlan_reaches_nic(tmp_path):
    server(tmp_path)
    trees.vlan(tmp_path, "eth0.10", parent="eth0", vid=10)
    judgement = judge(tmp_path, {"eth0.10": ["10.10.0.5/24"], "eth1": ["10.2.0.5/24"]})
    assert rules(judgement) == ["routed_subnets"]


def test_wireless_nic_not_counted(tmp_path):
    trees.pci_nic(tmp_path, "eth0", address="0000:3b:00.0")
    trees.pci_nic(
        tmp_path,
        "wlan0",
        address="0000:02:00.0",
        driver="iwlwifi",
        device_id="0x2723",
        devtype="wlan",
    )
    judgement = judge(tmp_path, {"eth0": ["10.1.0.5/24"], "wlan0": ["10.2.0.5/24"]})
    assert judgement.value is False


def test_bond_of_physical_nics(tmp_path):
    server(tmp_path)
    trees.bond(tmp_path, "bond0", ["eth0", "eth1"])
    judgement = judge(tmp_path, {"bond0": ["10.1.0.5/24"]})
    assert judgement.value is True
    assert rules(judgement) == ["physical_bond"]
    assert judgement.details["evidence"][0]["interfaces"] == ["bond0", "eth0", "eth1"]


def test_bond_of_virtio_nics(tmp_path):
    trees.virtio_nic(tmp_path, "eth0", address="0000:00:03.0", index=0)
    trees.virtio_nic(tmp_path, "eth1", address="0000:00:04.0", index=1)
    trees.bond(tmp_path, "bond0", ["eth0", "eth1"])
    judgement = judge(tmp_path, {"bond0": ["10.1.0.5/24"]})
    assert judgement.value is False


def test_sriov_pf_with_vfs(tmp_path):
    trees.pci_nic(tmp_path, "eth0", address="0000:3b:00.0", total_vfs=64, num_vfs=4)
    judgement = judge(tmp_path)
    assert judgement.value is True
    assert rules(judgement) == ["sriov_pf"]
    assert judgement.details["evidence"][0]["detail"] == (
        "eth0 is an SR-IOV PF with 4 VFs enabled"
    )


def test_sriov_pf_without_vfs(tmp_path):
    trees.pci_nic(tmp_path, "eth0", address="0000:3b:00.0", total_vfs=64, num_vfs=0)
    assert judge(tmp_path).value is False


def test_sriov_vf_in_system(tmp_path):
    trees.pci_nic(
        tmp_path,
        "eth0",
        address="0000:3b:10.0",
        driver="ixgbevf",
        device_id="0x10ed",
        physfn="0000:3b:00.0",
    )
    judgement = judge(tmp_path)
    assert judgement.value is True
    assert rules(judgement) == ["sriov_vf"]


def test_infiniband_interface_type(tmp_path):
    trees.pci_nic(
        tmp_path,
        "ib0",
        address="0000:5e:00.0",
        driver="mlx5_core",
        vendor="0x15b3",
        device_id="0x101b",
        link_type=32,
    )
    judgement = judge(tmp_path)
    assert judgement.value is True
    assert rules(judgement) == ["infiniband"]
    assert by_name(read(tmp_path))["ib0"].type_name == "infiniband"


def test_infiniband_rdma_port(tmp_path):
    trees.pci_nic(
        tmp_path,
        "ib0",
        address="0000:5e:00.0",
        driver="mlx5_core",
        vendor="0x15b3",
        link_type=32,
    )
    trees.rdma_device(
        tmp_path,
        "mlx5_0",
        address="0000:5e:00.0",
        ports=[("InfiniBand", "4: ACTIVE", None)],
    )
    judgement = judge(tmp_path)
    assert rules(judgement) == ["infiniband", "infiniband"]
    assert judgement.details["evidence"][1]["interfaces"] == ["ib0"]


def test_roce_link_layer_ethernet(tmp_path):
    trees.pci_nic(
        tmp_path, "eth2", address="0000:5e:00.0", driver="mlx5_core", vendor="0x15b3"
    )
    trees.rdma_device(
        tmp_path,
        "mlx5_0",
        address="0000:5e:00.0",
        ports=[("Ethernet", "4: ACTIVE", "eth2")],
    )
    judgement = judge(tmp_path)
    assert judgement.value is True
    assert rules(judgement) == ["roce"]
    assert judgement.details["evidence"][0]["interfaces"] == ["eth2"]


def test_roce_port_down_not_counted(tmp_path):
    trees.pci_nic(
        tmp_path, "eth2", address="0000:5e:00.0", driver="mlx5_core", vendor="0x15b3"
    )
    trees.rdma_device(
        tmp_path,
        "mlx5_0",
        address="0000:5e:00.0",
        ports=[("Ethernet", "1: DOWN", "eth2")],
    )
    assert judge(tmp_path).value is False


def test_soft_roce_not_counted(tmp_path):
    vm(tmp_path)
    trees.rdma_device(
        tmp_path, "rxe0", address=None, ports=[("Ethernet", "4: ACTIVE", "eth0")]
    )
    (port,) = read_rdma(sys_root=tmp_path / "sys")
    assert port.hardware is False
    assert judge(tmp_path).value is False


def test_vf_under_netvsc_not_counted(tmp_path):
    # Hyper-V accelerated networking: each synthetic NIC has a VF below it.
    for index, (synthetic, vf) in enumerate([("eth0", "enP1"), ("eth1", "enP2")]):
        trees.pci_nic(
            tmp_path, synthetic, address=f"0000:00:0{index}.0", driver="hv_netvsc"
        )
        trees.pci_nic(
            tmp_path,
            vf,
            address=f"000{index + 1}:00:02.0",
            driver="mlx5_core",
            vendor="0x15b3",
            device_id="0x1016",
        )
        trees.enslave(tmp_path, synthetic, vf)
    addresses = {"eth0": ["10.1.0.4/24"], "eth1": ["10.2.0.4/24"]}
    judgement = judge(tmp_path, addresses)
    assert by_name(read(tmp_path))["enP1"].kind == "physical"
    assert judgement.value is False


def test_vlan_only_not_dedicated(tmp_path):
    vm(tmp_path)
    trees.vlan(tmp_path, "eth0.100", parent="eth0", vid=100)
    judgement = judge(tmp_path, {"eth0.100": ["10.100.0.5/24"]})
    assert judgement.value is False
    assert judgement.bound == "lower"
    assert judgement.details["vlans"] == [
        {"name": "eth0.100", "id": 100, "parent": "eth0"}
    ]


# Real kernel: interfaces created in a network namespace of the test's own.

needs_netns = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="network namespaces need root and iproute2",
)

READ_IN_NAMESPACE = """
import dataclasses, json
from collectors.network import interfaces as net
found = net.read_interfaces()
judgement = net.judge_dedicated(found, net.read_rdma())
print(json.dumps({
    "interfaces": {i.name: dataclasses.asdict(i) for i in found},
    "value": judgement.value,
    "bound": judgement.bound,
}))
"""


def ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=30, check=False
    )


def ip_ok(*args: str) -> None:
    result = ip(*args)
    assert result.returncode == 0, f"ip {' '.join(args)}: {result.stderr}"


def add_link_or_skip(namespace: str, *args: str) -> None:
    """Add a link in the namespace, or skip when this kernel lacks the type."""
    result = ip("-n", namespace, "link", "add", *args)
    if "Unknown device type" in result.stderr:
        pytest.skip(f"this kernel cannot create: ip link add {' '.join(args)}")
    assert result.returncode == 0, result.stderr


def read_in_namespace(namespace: str) -> dict:
    # ip netns exec mounts the namespace's own /sys for the command it runs.
    result = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", READ_IN_NAMESPACE],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def namespace(request):
    """Create a network namespace named after the test; delete it afterwards."""
    name = f"tc-{request.node.name.removeprefix('test_')[:30]}-{os.getpid()}"
    ip_ok("netns", "add", name)
    yield name
    ip_ok("netns", "delete", name)


@needs_netns
def test_namespace_veth_bridge_tap(namespace):
    ip_ok("-n", namespace, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ip_ok("-n", namespace, "link", "add", "br0", "type", "bridge")
    ip_ok("-n", namespace, "link", "set", "v1", "master", "br0")
    ip_ok("-n", namespace, "tuntap", "add", "t0", "mode", "tap")
    found = read_in_namespace(namespace)["interfaces"]
    kinds = {name: (i["kind"], i["virtual_type"]) for name, i in found.items()}
    assert kinds == {
        "lo": ("virtual", "loopback"),
        "v0": ("virtual", "veth"),
        "v1": ("virtual", "veth"),
        "br0": ("virtual", "bridge"),
        "t0": ("virtual", "tun"),
    }
    assert found["br0"]["bridge_ports"] == ["v1"]
    assert found["v1"]["master"] == "br0"


@needs_netns
def test_namespace_addresses_read(namespace):
    ip_ok("-n", namespace, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ip_ok("-n", namespace, "address", "add", "10.77.1.1/24", "dev", "v0")
    ip_ok("-n", namespace, "address", "add", "10.77.2.1/24", "dev", "v1")
    result = read_in_namespace(namespace)
    assert result["interfaces"]["v0"]["subnets"] == ["10.77.1.0/24"]
    assert result["interfaces"]["v1"]["subnets"] == ["10.77.2.0/24"]
    # Virtual NICs in distinct subnets are no dedicated network.
    assert result["value"] is False
    assert result["bound"] == "lower"


@needs_netns
def test_namespace_vlan_id_parent(namespace):
    ip_ok("-n", namespace, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    add_link_or_skip(
        namespace, "link", "v0", "name", "v0.100", "type", "vlan", "id", "100"
    )
    found = read_in_namespace(namespace)["interfaces"]
    assert found["v0.100"]["kind"] == "virtual"
    assert found["v0.100"]["vlan"] == {"id": 100, "parent": "v0"}


@needs_netns
def test_namespace_dummy_is_virtual(namespace):
    add_link_or_skip(namespace, "d0", "type", "dummy")
    found = read_in_namespace(namespace)["interfaces"]
    assert found["d0"]["kind"] == "virtual"


@needs_netns
def test_namespace_bond_of_veths(namespace):
    ip_ok("-n", namespace, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    add_link_or_skip(namespace, "b0", "type", "bond", "mode", "active-backup")
    ip_ok("-n", namespace, "link", "set", "v0", "master", "b0")
    ip_ok("-n", namespace, "link", "set", "v1", "master", "b0")
    result = read_in_namespace(namespace)
    bond = result["interfaces"]["b0"]
    assert bond["kind"] == "virtual"
    assert bond["bond"] == {"mode": "active-backup", "slaves": ["v0", "v1"]}
    # A bond over virtual NICs is no dedicated network.
    assert result["value"] is False
