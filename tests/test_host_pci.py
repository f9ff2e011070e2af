"""The PCI catalogue as data, and specialised hardware found in prepared trees."""

from __future__ import annotations

import re
from importlib import resources

import pytest
import yaml

from collectors import errors
from collectors.host import pci, specialised
from tests import host_trees as trees

HEX_ID = re.compile(r"^0x[0-9a-f]{4}$")
KINDS = {"gpu", "accelerator", "fpga", "hsm", "infiniband", "fibre_channel"}


@pytest.fixture(scope="module")
def raw_catalogue() -> dict:
    text = resources.files("collectors.host").joinpath("pci_catalogue.yaml").read_text()
    return yaml.safe_load(text)


def all_entries(raw: dict) -> list[dict]:
    return raw["classes"] + raw["vendors"] + raw["devices"]


def test_catalogue_entries_have_sources(raw_catalogue):
    missing = [
        e for e in all_entries(raw_catalogue) if not str(e.get("source", "")).strip()
    ]
    assert missing == []


def test_catalogue_ids_are_hex(raw_catalogue):
    ids = [e["code"] for e in raw_catalogue["classes"]]
    ids += [e["id"] for e in raw_catalogue["vendors"]]
    ids += [e["vendor"] for e in raw_catalogue["devices"]]
    ids += [e["device"] for e in raw_catalogue["devices"]]
    for entry in raw_catalogue["classes"]:
        if entry["vendors"] != "any":
            ids += entry["vendors"]
    invalid = [i for i in ids if not HEX_ID.match(i)]
    assert invalid == []


def test_catalogue_vendor_ids_unique(raw_catalogue):
    ids = [e["id"] for e in raw_catalogue["vendors"]]
    assert len(ids) == len(set(ids))


def test_catalogue_class_codes_unique(raw_catalogue):
    codes = [e["code"] for e in raw_catalogue["classes"]]
    assert len(codes) == len(set(codes))


def test_catalogue_device_ids_unique(raw_catalogue):
    pairs = [(e["vendor"], e["device"]) for e in raw_catalogue["devices"]]
    assert len(pairs) == len(set(pairs))


def test_catalogue_kinds_known(raw_catalogue):
    kinds = {e["kind"] for e in all_entries(raw_catalogue) if e.get("kind")}
    assert kinds <= KINDS


def test_catalogue_loads():
    catalogue = pci.load_catalogue()
    assert catalogue.vendors[0x10DE].name == "NVIDIA"


def test_parse_rejects_duplicate_vendor():
    data = {
        "kinds": ["gpu"],
        "vendors": [
            {"id": "0x10de", "name": "A", "source": "s"},
            {"id": "0x10de", "name": "B", "source": "s"},
        ],
    }
    with pytest.raises(ValueError, match="duplicate"):
        pci.parse_catalogue(data)


def test_parse_rejects_missing_source():
    data = {"kinds": ["gpu"], "vendors": [{"id": "0x10de", "name": "A"}]}
    with pytest.raises(ValueError, match="source"):
        pci.parse_catalogue(data)


def test_parse_rejects_short_id():
    data = {"kinds": ["gpu"], "vendors": [{"id": "0x10d", "name": "A", "source": "s"}]}
    with pytest.raises(ValueError, match="hex id"):
        pci.parse_catalogue(data)


def inventory(root) -> list[dict]:
    return specialised.specialised_hardware(str(root)).value


def gpu_host(root):
    trees.pci_function(
        root, "0000:3b:00.0", class_code="0x030200", vendor="0x10de", device="0x20b0"
    )
    trees.dev_nodes(root, "nvidia0", "nvidiactl", "nvidia-uvm")
    trees.nvidia_driver_gpu(
        root, "0000:3b:00.0", model="NVIDIA A100-SXM4-40GB", minor=0
    )
    return root


def test_gpu_host_lists_one_gpu(tmp_path):
    items = inventory(gpu_host(tmp_path))
    assert len(items) == 1
    gpu = items[0]
    assert gpu["kind"] == "gpu"
    assert gpu["vendor_id"] == "0x10de"
    assert gpu["device_id"] == "0x20b0"
    assert gpu["class"] == "0x030200"
    assert gpu["pci_address"] == "0000:3b:00.0"
    assert gpu["layer"] == "pci"
    assert gpu["model"] == "NVIDIA A100-SXM4-40GB"
    assert gpu["confirmed_by"] == ["/proc/driver/nvidia/gpus", "/dev/nvidia0"]


def test_virtual_machine_devices_are_empty(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:00:00.0",
        class_code="0x060000",
        vendor="0x8086",
        device="0x29c0",
    )
    trees.pci_function(
        tmp_path,
        "0000:00:01.0",
        class_code="0x030000",
        vendor="0x1234",
        device="0x1111",
    )
    trees.pci_function(
        tmp_path,
        "0000:00:02.0",
        class_code="0x020000",
        vendor="0x1af4",
        device="0x1041",
    )
    trees.pci_function(
        tmp_path,
        "0000:00:1e.0",
        class_code="0x060400",
        vendor="0x1b36",
        device="0x0001",
    )
    reading = specialised.specialised_hardware(str(tmp_path))
    assert reading.value == []
    assert reading.bound is None
    assert reading.details["layers"]["/sys/bus/pci/devices"] == "4 functions read"


def test_bmc_vga_is_not_gpu(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:03:00.0",
        class_code="0x030000",
        vendor="0x1a03",
        device="0x2000",
    )
    trees.pci_function(
        tmp_path,
        "0000:04:00.0",
        class_code="0x030000",
        vendor="0x102b",
        device="0x0538",
    )
    assert inventory(tmp_path) == []


def test_infiniband_hca_is_listed(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:5e:00.0",
        class_code="0x020700",
        vendor="0x15b3",
        device="0x101b",
    )
    trees.infiniband_device(
        tmp_path, "mlx5_0", pci_address="0000:5e:00.0", link_layers=["InfiniBand"]
    )
    items = inventory(tmp_path)
    assert [item["kind"] for item in items] == ["infiniband"]
    assert items[0]["confirmed_by"] == ["/sys/class/infiniband"]
    assert items[0]["link_layers"] == ["InfiniBand"]


def test_roce_nic_is_not_infiniband(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:5e:00.0",
        class_code="0x020000",
        vendor="0x15b3",
        device="0x101d",
    )
    trees.infiniband_device(
        tmp_path, "mlx5_0", pci_address="0000:5e:00.0", link_layers=["Ethernet"]
    )
    reading = specialised.specialised_hardware(str(tmp_path))
    assert reading.value == []
    assert reading.details["rdma_over_ethernet"][0]["device"] == "mlx5_0"


def test_ethernet_ports_override_ib_class(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:5e:00.0",
        class_code="0x020700",
        vendor="0x15b3",
        device="0x101b",
    )
    trees.infiniband_device(
        tmp_path,
        "mlx5_0",
        pci_address="0000:5e:00.0",
        link_layers=["Ethernet", "Ethernet"],
    )
    assert inventory(tmp_path) == []


def test_vpi_port_in_ib_mode_is_added(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:5e:00.0",
        class_code="0x028000",
        vendor="0x15b3",
        device="0x1003",
    )
    trees.infiniband_device(
        tmp_path, "mlx4_0", pci_address="0000:5e:00.0", link_layers=["InfiniBand"]
    )
    items = inventory(tmp_path)
    assert [item["kind"] for item in items] == ["infiniband"]
    assert items[0]["layer"] == "/sys/class/infiniband"
    assert items[0]["vendor_id"] == "0x15b3"


def test_fibre_channel_hba(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:af:00.0",
        class_code="0x0c0400",
        vendor="0x10df",
        device="0xf100",
    )
    items = inventory(tmp_path)
    assert [item["kind"] for item in items] == ["fibre_channel"]
    assert items[0]["vendor"] == "Emulex"


def test_fpga_vendor_any_class(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:d8:00.0",
        class_code="0x058000",
        vendor="0x10ee",
        device="0x5004",
    )
    assert [item["kind"] for item in inventory(tmp_path)] == ["fpga"]


def test_utimaco_is_hsm(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:86:00.0",
        class_code="0x0b4000",
        vendor="0x168a",
        device="0xc051",
    )
    assert [item["kind"] for item in inventory(tmp_path)] == ["hsm"]


def test_inferentia_by_device_id(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:00:1f.0",
        class_code="0x088000",
        vendor="0x1d0f",
        device="0x7264",
    )
    items = inventory(tmp_path)
    assert [item["kind"] for item in items] == ["accelerator"]
    assert items[0]["name"] == "AWS Inferentia2 (NeuronDevice)"


def test_amazon_nic_is_not_specialised(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:00:05.0",
        class_code="0x020000",
        vendor="0x1d0f",
        device="0xec20",
    )
    assert inventory(tmp_path) == []


def test_processing_accelerator_class(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:00:04.0",
        class_code="0x120000",
        vendor="0x1ae0",
        device="0x0063",
    )
    items = inventory(tmp_path)
    assert [item["kind"] for item in items] == ["accelerator"]
    assert items[0]["vendor"] == "Google"


def test_cpu_crypto_coprocessor_excluded(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:07:00.2",
        class_code="0x108000",
        vendor="0x1022",
        device="0x1468",
    )
    assert inventory(tmp_path) == []


def test_virtual_function_skipped(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:5e:00.0",
        class_code="0x020700",
        vendor="0x15b3",
        device="0x101b",
    )
    trees.pci_function(
        tmp_path,
        "0000:5e:00.1",
        class_code="0x020700",
        vendor="0x15b3",
        device="0x101c",
        physfn="0000:5e:00.0",
    )
    reading = specialised.specialised_hardware(str(tmp_path))
    assert [item["pci_address"] for item in reading.value] == ["0000:5e:00.0"]
    assert reading.details["virtual_functions_skipped"] == 1


def test_accel_class_device(tmp_path):
    trees.pci_function(
        tmp_path,
        "0000:1a:00.0",
        class_code="0x0b4000",
        vendor="0x1da3",
        device="0x1020",
    )
    trees.write(tmp_path, "/sys/class/accel/accel0/dev", "261:0\n")
    (tmp_path / "sys/class/accel/accel0/device").symlink_to(
        "../../../bus/pci/devices/0000:1a:00.0"
    )
    items = inventory(tmp_path)
    assert len(items) == 1
    assert items[0]["confirmed_by"] == ["/sys/class/accel"]


def test_driver_gpu_without_pci_entry(tmp_path):
    trees.empty_pci(tmp_path)
    trees.nvidia_driver_gpu(tmp_path, "0000:65:00.0", model="Tesla T4", minor=0)
    items = inventory(tmp_path)
    assert len(items) == 1
    assert items[0]["layer"] == "/proc/driver/nvidia/gpus"
    assert items[0]["name"] == "NVIDIA Tesla T4"


def test_missing_pci_raises_no_data(tmp_path):
    with pytest.raises(errors.SourceError) as caught:
        specialised.specialised_hardware(str(tmp_path))
    assert caught.value.reason == errors.NO_DATA


def test_empty_pci_directory_raises_no_data(tmp_path):
    (tmp_path / "sys/bus/pci/devices").mkdir(parents=True)
    with pytest.raises(errors.SourceError) as caught:
        specialised.specialised_hardware(str(tmp_path))
    assert caught.value.reason == errors.NO_DATA
    assert caught.value.message == "/sys/bus/pci/devices lists no devices"


def test_missing_pci_with_device_node_is_lower_bound(tmp_path):
    trees.dev_nodes(tmp_path, "nvidia0", "nvidia1")
    reading = specialised.specialised_hardware(str(tmp_path))
    assert [item["layer"] for item in reading.value] == ["/dev/nvidia*", "/dev/nvidia*"]
    assert reading.bound == "lower"


def test_unreadable_function_is_lower_bound(tmp_path):
    trees.write(tmp_path, "/sys/bus/pci/devices/0000:00:03.0/vendor", "0x10de\n")
    reading = specialised.specialised_hardware(str(tmp_path))
    assert reading.value == []
    assert reading.bound == "lower"
    assert (
        reading.details["unreadable_pci_functions"][0]["pci_address"] == "0000:00:03.0"
    )


def test_live_inventory_never_raises_unexpectedly():
    try:
        reading = specialised.specialised_hardware("/")
    except errors.SourceError as exc:
        assert exc.reason in errors.REASON_CODES
    else:
        assert isinstance(reading.value, list)
