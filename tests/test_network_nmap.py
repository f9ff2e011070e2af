"""nmap preflight and runs: real nmap against listeners on loopback addresses.

Each test that scans binds its own 127.77.0.X address (tests/listeners.py) and
its own port. Tests that need an unprivileged process run a small Python
program as nobody with setpriv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import types
from pathlib import Path

import pytest

from collectors.network import nmap as runner
from collectors.network.nmap import NmapError, Preflight, port_spec, preflight, run_scan
from tests.listeners import SSH_BANNER, Listener, loopback_address, loopback_pair

NMAP = shutil.which("nmap")
REPO = Path(__file__).resolve().parents[1]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

pytestmark = pytest.mark.skipif(NMAP is None, reason="nmap is not installed")


@pytest.fixture(scope="module")
def connect_preflight() -> Preflight:
    return preflight(nmap_path=None, scan_type="connect", service_detection=True)


def process_gone(pid: int, wait: float = 5.0) -> bool:
    """Tell whether the process has exited (a zombie counts as gone) within `wait` s."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def write_script(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def nmap_like(directory: Path, scan_body: str) -> Path:
    """Write a script that prints nmap's -V output and otherwise runs `scan_body`."""
    return write_script(
        directory,
        "nmap",
        f'if [ "$1" = "-V" ]; then exec {NMAP} -V; fi\n{scan_body}',
    )


def status_file(directory: Path, *, uid: int, eff=0, amb=0, bnd=0x1FFFEFFFFFF, nnp=0):
    path = directory / "status"
    path.write_text(
        f"Name:\tpython3\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"
        f"CapInh:\t{0:016x}\nCapPrm:\t{eff:016x}\nCapEff:\t{eff:016x}\n"
        f"CapBnd:\t{bnd:016x}\nCapAmb:\t{amb:016x}\nNoNewPrivs:\t{nnp}\n"
    )
    return str(path)


def shared_dir() -> Path:
    """Make a directory uid 65534 can enter, unlike pytest's tmp_path (mode 0700)."""
    path = Path(tempfile.mkdtemp(prefix="techcomplex-nmap-"))
    path.chmod(0o755)
    return path


@pytest.fixture
def capable_nmap():
    """Copy nmap to a new directory, give the copy cap_net_raw+eip, remove after."""
    directory = shared_dir()
    copy = directory / "nmap"
    shutil.copy2(NMAP, copy)
    copy.chmod(0o755)
    subprocess.run(["setcap", "cap_net_raw+eip", str(copy)], check=True)
    yield copy
    shutil.rmtree(directory)


def run_as_nobody(program: str) -> dict:
    """Run Python code as uid 65534 and return the JSON object it prints."""
    completed = subprocess.run(
        [*NOBODY, sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


needs_setpriv = pytest.mark.skipif(
    shutil.which("setpriv") is None or shutil.which("setcap") is None,
    reason="setpriv (util-linux) and setcap (libcap2-bin) are needed",
)


# --- port_spec -------------------------------------------------------------------


def test_port_spec_merges_sorted_ranges():
    assert port_spec([1521, (1560, 1591), 22, 1522, (1580, 1600)]) == (
        "22,1521-1522,1560-1600"
    )


def test_port_spec_rejects_port_zero():
    with pytest.raises(ValueError, match="port range 0-0 is not within 1-65535"):
        port_spec([0])


def test_port_spec_rejects_reversed_range():
    with pytest.raises(ValueError, match="port range 90-80"):
        port_spec([(90, 80)])


def test_port_spec_rejects_empty_list():
    with pytest.raises(ValueError, match="no ports to scan"):
        port_spec([])


# --- preflight ------------------------------------------------------------------


def test_preflight_reads_nmap_version():
    first_line = subprocess.run(
        [NMAP, "-V"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    expected = first_line.split()[2]  # "Nmap version 7.93 ( https://nmap.org )"
    found = preflight(nmap_path=NMAP, scan_type="connect", service_detection=True)
    assert found.nmap_version == expected
    assert found.usable is True


def test_preflight_missing_binary_path(tmp_path):
    missing = str(tmp_path / "opt" / "nmap")
    found = preflight(nmap_path=missing, scan_type="connect", service_detection=True)
    assert found.usable is False
    assert [p.capability for p in found.problems] == ["nmap_binary"]
    assert found.problems[0].message == f"nmap_path {str(missing)!r} does not exist"
    assert "apt-get install nmap" in found.problems[0].fix


def test_preflight_module_without_portscanner():
    impostor = types.ModuleType("nmap")
    impostor.__file__ = "/srv/site-packages/nmap/__init__.py"
    found = preflight(
        nmap_path=NMAP,
        scan_type="connect",
        service_detection=True,
        import_module=lambda name: impostor,
    )
    assert found.usable is False
    assert [p.capability for p in found.problems] == ["python_nmap"]
    assert "/srv/site-packages/nmap/__init__.py" in found.problems[0].message
    assert found.problems[0].fix == "pip uninstall nmap && pip install python-nmap"


def test_preflight_import_failure_names_fix():
    def refuse(name):
        raise ModuleNotFoundError(f"No module named {name!r}")

    found = preflight(
        nmap_path=NMAP,
        scan_type="connect",
        service_detection=True,
        import_module=refuse,
    )
    assert found.usable is False
    assert found.problems[0].capability == "python_nmap"
    assert found.problems[0].fix == "pip uninstall nmap && pip install python-nmap"


def test_preflight_rejects_non_nmap_script(tmp_path):
    impostor = write_script(tmp_path, "nmap", "echo 'Ncat: Version 7.93'\n")
    found = preflight(
        nmap_path=str(impostor), scan_type="connect", service_detection=True
    )
    assert found.usable is False
    assert [p.capability for p in found.problems] == ["nmap_binary"]
    assert found.problems[0].message.startswith(f"{impostor} is not nmap")


def test_preflight_hanging_binary_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "VERSION_CHECK_SECONDS", 0.5)
    child_pid = tmp_path / "child.pid"
    hanging = write_script(
        tmp_path, "nmap", f"sleep 30 &\necho $! > {child_pid}\nwait\n"
    )
    started = time.monotonic()
    found = preflight(
        nmap_path=str(hanging), scan_type="connect", service_detection=True
    )
    assert time.monotonic() - started < 5
    assert found.usable is False
    assert found.problems[0].message == f"{hanging} -V did not finish within 0.5 s"
    # The script's own child is killed with it, so no pipe stays open.
    assert process_gone(int(child_pid.read_text()))


def test_preflight_syn_unprivileged_falls_back(tmp_path):
    status = status_file(tmp_path, uid=1000)
    found = preflight(
        nmap_path=NMAP, scan_type="syn", service_detection=True, status_path=status
    )
    assert found.scan_type_requested == "syn"
    assert found.scan_type == "connect"
    assert found.usable is True
    assert [p.capability for p in found.problems] == ["syn_scan"]
    assert f"setcap cap_net_raw+eip {NMAP}" in found.problems[0].fix


def test_preflight_auto_unprivileged_uses_connect(tmp_path):
    status = status_file(tmp_path, uid=1000)
    found = preflight(
        nmap_path=NMAP, scan_type="auto", service_detection=True, status_path=status
    )
    assert found.scan_type == "connect"
    assert found.problems == ()


def test_preflight_auto_root_uses_syn(tmp_path):
    status = status_file(tmp_path, uid=0)
    found = preflight(
        nmap_path=NMAP, scan_type="auto", service_detection=True, status_path=status
    )
    assert found.scan_type == "syn"
    assert found.privilege == "root"


def test_preflight_effective_cap_not_inherited(tmp_path):
    # CAP_NET_RAW (bit 13) effective but not ambient is lost at execve.
    status = status_file(tmp_path, uid=1000, eff=1 << 13)
    found = preflight(
        nmap_path=NMAP, scan_type="auto", service_detection=True, status_path=status
    )
    assert found.scan_type == "connect"


def test_preflight_ambient_net_raw_allows_syn(tmp_path):
    status = status_file(tmp_path, uid=1000, eff=1 << 13, amb=1 << 13)
    found = preflight(
        nmap_path=NMAP, scan_type="syn", service_detection=True, status_path=status
    )
    assert found.scan_type == "syn"
    assert found.privilege == "ambient capability"


@needs_setpriv
def test_preflight_file_capability_allows_syn(tmp_path, capable_nmap):
    status = status_file(tmp_path, uid=1000)
    found = preflight(
        nmap_path=str(capable_nmap),
        scan_type="syn",
        service_detection=True,
        status_path=status,
    )
    assert found.scan_type == "syn"
    assert found.privilege == "file capability"


@needs_setpriv
def test_no_new_privs_blocks_file_capability(tmp_path, capable_nmap):
    status = status_file(tmp_path, uid=1000, nnp=1)
    found = preflight(
        nmap_path=str(capable_nmap),
        scan_type="syn",
        service_detection=True,
        status_path=status,
    )
    assert found.scan_type == "connect"
    assert "no_new_privs" in found.problems[0].message


@needs_setpriv
def test_preflight_as_nobody_falls_back():
    program = textwrap.dedent(f"""
        import json
        from collectors.network.nmap import preflight
        found = preflight(nmap_path={NMAP!r}, scan_type="syn", service_detection=True)
        print(json.dumps({{
            "used": found.scan_type,
            "problems": [p.capability for p in found.problems],
        }}))
    """)
    assert run_as_nobody(program) == {"used": "connect", "problems": ["syn_scan"]}


@needs_setpriv
def test_syn_scan_as_nobody_with_capability(capable_nmap):
    address, port = loopback_address(), 42111
    program = textwrap.dedent(f"""
        import json
        from collectors.network.nmap import preflight, run_scan
        found = preflight(nmap_path={str(capable_nmap)!r}, scan_type="syn",
                          service_detection=False)
        result = run_scan([{address!r}], "{port}", preflight=found,
                          service_detection=False, budget=60)
        print(json.dumps({{
            "privilege": found.privilege,
            "command": result.command,
            "ports": [[p.port, p.state, p.reason] for p in result.ports],
        }}))
    """)
    with Listener(address, port):
        outcome = run_as_nobody(program)
    assert outcome["privilege"] == "file capability"
    assert outcome["command"][4:8] == ["-Pn", "-n", "-sS", "--privileged"]
    # A connect scan reports the same reason, syn-ack, so the command above is
    # what proves the scan type.
    assert outcome["ports"] == [[port, "open", "syn-ack"]]


# --- running --------------------------------------------------------------------


def test_scan_command_arguments(connect_preflight):
    address, port = loopback_address(), 42112
    with Listener(address, port):
        result = run_scan(
            [address],
            str(port),
            preflight=connect_preflight,
            service_detection=False,
            budget=60,
            host_timeout=30,
        )
    assert result.command == [
        NMAP,
        "-oX",
        "-",
        "--noninteractive",
        "-Pn",
        "-n",
        "-sT",
        "-p",
        str(port),
        "--host-timeout",
        "30000ms",
        "--max-hostgroup",
        "64",
        "--",
        address,
    ]


def test_scan_command_version_intensity(connect_preflight):
    address, port = loopback_address(), 42119
    with Listener(address, port, banner=SSH_BANNER):
        result = run_scan(
            [address],
            str(port),
            preflight=connect_preflight,
            service_detection=True,
            budget=60,
            version_intensity=0,
        )
    start = result.command.index("-sV")
    assert result.command[start : start + 3] == ["-sV", "--version-intensity", "0"]
    assert result.ports[0].service == "ssh"


def test_scan_rejects_intensity_ten(connect_preflight):
    with pytest.raises(ValueError, match="version_intensity must be from 0 to 9"):
        run_scan(
            ["127.0.0.1"],
            "22",
            preflight=connect_preflight,
            service_detection=True,
            budget=5,
            version_intensity=10,
        )


def test_scan_silent_port_uses_table(connect_preflight):
    address = loopback_address()
    with Listener(address, 1521):
        result = run_scan(
            [address],
            "1521",
            preflight=connect_preflight,
            service_detection=False,
            budget=60,
        )
    assert result.complete is True
    assert len(result.ports) == 1
    record = result.ports[0]
    assert (record.host, record.port, record.state) == (address, 1521, "open")
    # nmap-services: "oracle 1521/tcp".
    assert (record.service, record.method, record.conf) == ("oracle", "table", 3)


def test_scan_banner_port_is_probed(connect_preflight):
    address, port = loopback_address(), 42113
    with Listener(address, port, banner=SSH_BANNER):
        result = run_scan(
            [address],
            str(port),
            preflight=connect_preflight,
            service_detection=True,
            budget=60,
        )
    record = result.ports[0]
    assert (record.service, record.product, record.method) == (
        "ssh",
        "OpenSSH",
        "probed",
    )
    assert record.conf == 10


def test_scan_skips_closed_port(connect_preflight):
    address, port = loopback_address(), 42114
    result = run_scan(
        [address],
        str(port),
        preflight=connect_preflight,
        service_detection=False,
        budget=60,
    )
    assert result.ports == []
    assert [(h.address, h.state, h.reason) for h in result.hosts] == [
        (address, "up", "user-set")
    ]


def test_budget_cut_keeps_finished_host(connect_preflight):
    fast, slow, port = loopback_address(), loopback_address(), 42115
    with Listener(fast, port, banner=SSH_BANNER), Listener(slow, port):
        started = time.monotonic()
        result = run_scan(
            [fast, slow],
            str(port),
            preflight=connect_preflight,
            service_detection=True,
            budget=5,
            host_group=1,
        )
        took = time.monotonic() - started
    assert result.complete is False
    assert [host.address for host in result.hosts] == [fast]
    assert [record.service for record in result.ports] == ["ssh"]
    assert result.unfinished == [slow]
    assert result.error == "cut by the budget of 5.0 s"
    assert took < 5 + runner._DRAIN_SECONDS + 1
    with pytest.raises(ProcessLookupError):
        os.kill(result.pid, 0)


def test_slow_first_host_blocks_rest(connect_preflight):
    # nmap reports hosts in target order, a group at a time: behind a slow
    # host nothing is written before the cut.
    slow, fast, port = loopback_address(), loopback_address(), 42116
    with Listener(fast, port, banner=SSH_BANNER), Listener(slow, port):
        result = run_scan(
            [slow, fast],
            str(port),
            preflight=connect_preflight,
            service_detection=True,
            budget=4,
            host_group=1,
        )
    assert result.hosts == []
    assert result.unfinished == [slow, fast]


def test_budget_cut_lists_unfinished_network(connect_preflight):
    first, port = loopback_address(), 42117
    # A /31 of two addresses; a silent listener keeps -sV busy on the first.
    busy, _idle = loopback_pair()
    network = f"{busy}/31"
    with Listener(first, port, banner=SSH_BANNER), Listener(busy, port):
        result = run_scan(
            [first, network],
            str(port),
            preflight=connect_preflight,
            service_detection=True,
            budget=4,
            host_group=1,
        )
    assert [host.address for host in result.hosts] == [first]
    assert result.unfinished == [network]


def test_host_timeout_marks_host(connect_preflight):
    address, port = loopback_address(), 42118
    with Listener(address, port):
        result = run_scan(
            [address],
            str(port),
            preflight=connect_preflight,
            service_detection=True,
            budget=60,
            host_timeout=1,
        )
    assert result.complete is True
    assert [(h.address, h.timed_out) for h in result.hosts] == [(address, True)]
    assert result.ports == []


def test_failing_nmap_raises_with_stderr(tmp_path):
    wrapper = nmap_like(
        tmp_path, "echo 'cannot open raw socket: simulated' >&2\nexit 1\n"
    )
    found = preflight(
        nmap_path=str(wrapper), scan_type="connect", service_detection=True
    )
    with pytest.raises(NmapError) as caught:
        run_scan(
            ["127.77.0.1"], "9", preflight=found, service_detection=False, budget=30
        )
    assert caught.value.message == "nmap wrote no output (exit status 1)"
    assert caught.value.stderr == "cannot open raw socket: simulated\n"


def test_empty_output_is_error(tmp_path):
    wrapper = nmap_like(tmp_path, "exit 0\n")
    found = preflight(
        nmap_path=str(wrapper), scan_type="connect", service_detection=True
    )
    with pytest.raises(NmapError, match=r"nmap wrote no output \(exit status 0\)"):
        run_scan(
            ["127.77.0.1"], "9", preflight=found, service_detection=False, budget=30
        )


RAW_SOCKET_FAILURE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap" start="1796400000" version="7.93" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="1" services="22"/>
<runstats><finished time="1796400000" elapsed="0.02" exit="error" errormsg="Couldn&apos;t open a raw socket. Error: Operation not permitted (1)"/><hosts up="1" down="0" total="0"/>
</runstats>
</nmaprun>
"""


def test_xml_error_before_hosts_raises(tmp_path):
    # The document nmap 7.93 writes when a SYN scan cannot open a raw socket.
    document = tmp_path / "failure.xml"
    document.write_text(RAW_SOCKET_FAILURE)
    wrapper = nmap_like(tmp_path, f"cat {document}\nexit 1\n")
    found = preflight(
        nmap_path=str(wrapper), scan_type="connect", service_detection=True
    )
    with pytest.raises(NmapError) as caught:
        run_scan(
            ["127.77.0.1"], "22", preflight=found, service_detection=False, budget=30
        )
    assert caught.value.message == (
        "nmap failed before finishing any host: "
        "Couldn't open a raw socket. Error: Operation not permitted (1)"
    )


def test_stderr_warnings_are_split(tmp_path, connect_preflight):
    address, port = loopback_address(), 42119
    wrapper = nmap_like(
        tmp_path, f"echo 'Warning: simulated warning' >&2\nexec {NMAP} \"$@\"\n"
    )
    found = preflight(
        nmap_path=str(wrapper), scan_type="connect", service_detection=True
    )
    with Listener(address, port):
        result = run_scan(
            [address], str(port), preflight=found, service_detection=False, budget=60
        )
    assert result.warnings == ["Warning: simulated warning"]
    assert result.stderr == "Warning: simulated warning\n"
    assert result.complete is True


CANNED = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap" start="1796400000" version="7.93" xmloutputversion="1.05">
<host starttime="1796400000" endtime="1796400001"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="127.77.0.201" addrtype="ipv4"/>
<hostnames><hostname name="db.internal" type="user"/></hostnames>
<ports><port protocol="tcp" portid="5432"><state state="open" reason="syn-ack" reason_ttl="0"/><service name="postgresql" method="table" conf="3" servicefp="{fingerprint}"/></port>
<port protocol="tcp" portid="5433"><state state="filtered" reason="no-response" reason_ttl="0"/><service name="pyrrho" method="table" conf="3"/></port>
<port protocol="tcp" portid="5434"><state state="closed" reason="conn-refused" reason_ttl="0"/><service name="sgi-arrayd" method="table" conf="3"/></port>
</ports>
</host>
<host starttime="1796400000" endtime="1796400001"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="127.77.0.202" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="5432"><state state="open"
"""


def test_truncated_xml_keeps_finished_hosts(tmp_path):
    document = tmp_path / "canned.xml"
    document.write_text(CANNED.format(fingerprint="F" * 5000))
    wrapper = nmap_like(tmp_path, f"cat {document}\nexit 0\n")
    found = preflight(
        nmap_path=str(wrapper), scan_type="connect", service_detection=True
    )
    result = run_scan(
        ["127.77.0.201", "127.77.0.202"],
        "5432-5434",
        preflight=found,
        service_detection=False,
        budget=30,
    )
    assert result.complete is False
    assert result.error == "nmap's XML report ended early"
    assert [h.address for h in result.hosts] == ["127.77.0.201"]
    assert result.hosts[0].hostnames == ("db.internal",)
    assert [(p.port, p.state) for p in result.ports] == [
        (5432, "open"),
        (5433, "filtered"),
    ]
    assert result.unfinished == ["127.77.0.202"]


def test_fingerprint_is_cut_to_limit(tmp_path):
    document = tmp_path / "canned.xml"
    document.write_text(CANNED.format(fingerprint="F" * 5000))
    wrapper = nmap_like(tmp_path, f"cat {document}\nexit 0\n")
    found = preflight(
        nmap_path=str(wrapper), scan_type="connect", service_detection=True
    )
    result = run_scan(
        ["127.77.0.201"], "5432", preflight=found, service_detection=False, budget=30
    )
    assert result.ports[0].fingerprint == "F" * 1999 + "…"


def test_mixed_families_are_rejected(connect_preflight):
    with pytest.raises(ValueError, match="targets mix IPv4 and IPv6"):
        run_scan(
            ["127.77.0.1", "::1"],
            "22",
            preflight=connect_preflight,
            service_detection=False,
            budget=30,
        )


def test_port_text_with_option_rejected(connect_preflight):
    with pytest.raises(ValueError, match="is not a list of ports"):
        run_scan(
            ["127.77.0.1"],
            "22 --script=all",
            preflight=connect_preflight,
            service_detection=False,
            budget=30,
        )


def test_unusable_preflight_refuses_to_run(tmp_path):
    found = preflight(
        nmap_path=str(tmp_path / "nmap"), scan_type="connect", service_detection=True
    )
    with pytest.raises(NmapError, match="does not exist"):
        run_scan(
            ["127.77.0.1"], "22", preflight=found, service_detection=False, budget=30
        )


PATH_PROBLEMS = [
    ("directory", "is not a file"),
    ("not-executable", "is not executable"),
    (
        "group-writable",
        (
            "is writable by its group or by others (mode 775); make it writable by "
            "its owner only"
        ),
    ),
]


@pytest.mark.parametrize(
    ("kind", "message"), PATH_PROBLEMS, ids=[k for k, _ in PATH_PROBLEMS]
)
def test_preflight_rejects_unsafe_nmap_path(tmp_path, kind, message):
    if kind == "directory":
        path = tmp_path / "nmap"
        path.mkdir()
    else:
        path = write_script(tmp_path, "nmap", 'exec /usr/bin/nmap "$@"\n')
        path.chmod(0o644 if kind == "not-executable" else 0o775)
    found = preflight(nmap_path=str(path), scan_type="connect", service_detection=True)
    assert found.usable is False
    assert found.problems[0].message == f"nmap_path {str(path)!r} {message}"


def test_preflight_rejects_nmap_in_open_directory(tmp_path):
    directory = tmp_path / "open"
    directory.mkdir()
    directory.chmod(0o777)
    program = write_script(directory, "nmap", 'exec /usr/bin/nmap "$@"\n')
    found = preflight(
        nmap_path=str(program), scan_type="connect", service_detection=True
    )
    assert found.usable is False
    assert found.problems[0].message == (
        f"nmap_path {str(program)!r} lies in {directory}, which its group or others "
        "may write (mode 777); move nmap to a directory writable by its owner only"
    )
