"""Shared helpers for the store scenario's testinfra tests.

The tests run on the Docker host. They reach the nodes through testinfra's
ansible backend, which runs ``docker exec`` for the community.docker.docker
connection, and they run ``ansible-playbook`` against molecule's inventory for
the converge, scale and bad-input cases.

Tests marked ``changes_nodes`` change the nodes and put them back afterwards.
They run after every other test, so that the read-only checks see the nodes
as the converge left them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import testinfra
import yaml

SCENARIO_DIR = Path(__file__).resolve().parents[1]
PROJECT_DIR = SCENARIO_DIR.parents[1]
sys.path.insert(0, str(PROJECT_DIR / "molecule" / "shared"))

import scenario_support  # noqa: E402
from scenario_support import (  # noqa: E402,F401  (imported by the tests)
    PlaybookRun,
    docker,
    group_nodes,
    molecule_inventory,
    node_addresses,
    wait_for_boot,
    write_inventory,
)

SCENARIO = "store"
CONVERGE_PLAYBOOK = SCENARIO_DIR / "converge.yml"
PREPARE_PLAYBOOK = SCENARIO_DIR / "prepare.yml"
CHECK_PLAYBOOK = PROJECT_DIR / "playbooks" / "check.yml"

MEMCACHED_PORT = 11211
CHAIN = "TIER-INPUT"
FOREIGN_RULES = (
    "-N FOREIGN-GUARD",
    "-A INPUT -p tcp -m tcp --dport 2222 -j FOREIGN-GUARD",
    "-A FOREIGN-GUARD -p tcp -m tcp --dport 2222 -j DROP",
)
# Connect and read timeout of every probe, in seconds. A dropped connection
# shows up as a timeout after this long.
PROBE_TIMEOUT = 2.0
PLAYBOOK_TIMEOUT = 300
BOOT_TIMEOUT = 90


def _load_scenario() -> dict[str, Any]:
    return yaml.safe_load((SCENARIO_DIR / "molecule.yml").read_text())


_SCENARIO = _load_scenario()
_PLATFORMS = _SCENARIO["platforms"]
_HOST_VARS = _SCENARIO["provisioner"]["inventory"].get("host_vars", {})

# Each node's address on the scenario network, as molecule.yml pins it.
NODE_ADDRESSES: dict[str, str] = node_addresses(_PLATFORMS)
WEB_NODES = group_nodes(_PLATFORMS, "web")
# Nodes that are not in group web and must never reach memcached.
OUTSIDE_NODES = [name for name in NODE_ADDRESSES if name not in WEB_NODES]
SPARE_NODE = "store-web4"
ALL_NODES = list(NODE_ADDRESSES)


def web_addresses(nodes: list[str] | None = None) -> list[str]:
    """Return the addresses of ``nodes`` (default: the web group), in inventory order."""
    return [NODE_ADDRESSES[name] for name in (nodes or WEB_NODES)]


def expected_listen_addresses(name: str) -> set[str]:
    """Return the addresses memcached on ``name`` must listen on: its own and its extra ones."""
    extra = _HOST_VARS.get(name, {}).get("memcached_extra_listen_addresses", [])
    if isinstance(extra, str):
        extra = [item for item in re.split(r"[\s,]+", extra) if item]
    return {NODE_ADDRESSES[name], *extra}


def expected_chain(sources: list[str]) -> list[str]:
    """Return the rules of TIER-INPUT, in order, as ``iptables -S`` prints them."""
    rules = [f"-A {CHAIN} -i lo -j RETURN"]
    for protocol in ("tcp", "udp"):
        match = f"-p {protocol} -m {protocol} --dport {MEMCACHED_PORT} -m comment --comment memcached"
        rules += [f"-A {CHAIN} -s {source}/32 {match} -j ACCEPT" for source in sources]
        rules.append(f"-A {CHAIN} {match} -j DROP")
    return rules


# Test ordering


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "changes_nodes: the test changes the nodes and restores them; runs last")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the tests that change nodes after the read-only ones, keeping each group's order."""
    read_only = [item for item in items if item.get_closest_marker("changes_nodes") is None]
    changing = [item for item in items if item.get_closest_marker("changes_nodes") is not None]
    items[:] = read_only + changing


# Nodes


def get_node(name: str) -> testinfra.host.Host:
    """Return the testinfra host of node ``name``, connected through molecule's inventory."""
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=str(molecule_inventory(SCENARIO).parent))


@pytest.fixture(scope="session")
def node() -> Callable[[str], testinfra.host.Host]:
    return get_node


def iptables_rules(host: testinfra.host.Host, chain: str | None = None) -> list[str]:
    """Return the lines of ``iptables -S`` (for one chain if given) on ``host``."""
    command = "iptables -w -S" if chain is None else f"iptables -w -S {chain}"
    return host.check_output(command).splitlines()


def chain_rules(host: testinfra.host.Host) -> list[str]:
    """Return the ``-A`` rules of TIER-INPUT on ``host``, or an empty list if the chain is missing."""
    result = host.run(f"iptables -w -S {CHAIN}")
    if result.rc != 0:
        return []
    return [line for line in result.stdout.splitlines() if line.startswith("-A ")]


def memcached_config_options(host: testinfra.host.Host) -> list[str]:
    """Return the option lines of /etc/memcached.conf, without comments and blank lines."""
    lines = host.file("/etc/memcached.conf").content_string.splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def tcp_listeners(host: testinfra.host.Host, port: int = MEMCACHED_PORT) -> set[str]:
    """Return the addresses with a TCP socket listening on ``port``."""
    listeners = set()
    for spec in host.socket.get_listening_sockets():
        match = re.fullmatch(r"tcp://(.+):(\d+)", spec)
        if match and int(match.group(2)) == port:
            listeners.add(match.group(1))
    return listeners


def udp_listeners(host: testinfra.host.Host, port: int = MEMCACHED_PORT) -> set[str]:
    """Return the addresses with a UDP socket bound to ``port``."""
    listeners = set()
    for spec in host.socket.get_listening_sockets():
        match = re.fullmatch(r"udp://(.+):(\d+)", spec)
        if match and int(match.group(2)) == port:
            listeners.add(match.group(1))
    return listeners


# Probes, run inside the source node with its own python3

_TCP_PROBE = """
import socket, sys
address, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
try:
    conn = socket.create_connection((address, port), timeout=timeout)
except TimeoutError:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
except OSError as error:
    print("error", error)
else:
    with conn:
        conn.sendall(b"version\\r\\n")
        try:
            reply = conn.recv(256).decode("ascii", "replace").strip()
        except TimeoutError:
            reply = "(no reply)"
    print("open", reply)
"""

# A memcached UDP request starts with an 8-byte frame header: request id,
# sequence number, datagram count and a reserved field.
_UDP_PROBE = """
import socket, sys
address, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(timeout)
try:
    sock.connect((address, port))
    sock.send(b"\\x00\\x01\\x00\\x00\\x00\\x01\\x00\\x00version\\r\\n")
    reply = sock.recv(256)
except TimeoutError:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
except OSError as error:
    print("error", error)
else:
    print("open", reply[8:].decode("ascii", "replace").strip())
"""


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of one probe: open, refused, timeout or error, and the reply or error text."""

    status: str
    detail: str


def _run_probe(script: str, source: str, address: str, port: int, timeout: float) -> ProbeResult:
    host = get_node(source)
    result = host.run("timeout 10 python3 -c %s %s %s %s", script, address, str(port), str(timeout))
    if result.rc != 0:
        return ProbeResult("error", f"probe exited with {result.rc}: {result.stderr.strip()}")
    status, _, detail = result.stdout.strip().partition(" ")
    return ProbeResult(status, detail)


def probe_tcp(source: str, address: str, port: int = MEMCACHED_PORT, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    """Connect from node ``source`` to ``address:port`` over TCP and send memcached's ``version``."""
    return _run_probe(_TCP_PROBE, source, address, port, timeout)


def probe_udp(source: str, address: str, port: int = MEMCACHED_PORT, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    """Send a memcached ``version`` datagram from node ``source`` to ``address:port``.

    "refused" means that the target sent ICMP port unreachable, so nothing
    listens there and no firewall dropped the datagram. "timeout" means that
    the datagram was dropped, or that the ICMP reply was rate-limited.
    """
    return _run_probe(_UDP_PROBE, source, address, port, timeout)


# ansible-playbook


def run_playbook(playbook: Path, *args: str, **options: Any) -> PlaybookRun:
    """Run ``playbook`` against molecule's inventory; see scenario_support.run_playbook."""
    return scenario_support.run_playbook(SCENARIO, playbook, *args, timeout=PLAYBOOK_TIMEOUT, **options)


def converge(*args: str, extra_inventory: Path | None = None) -> PlaybookRun:
    """Run the scenario's converge.yml with the JSON callback."""
    return run_playbook(CONVERGE_PLAYBOOK, *args, extra_inventory=extra_inventory)


# Containers


def wait_for_running(container: str, timeout: int = BOOT_TIMEOUT) -> str:
    """Wait until ``container`` has booted; return the last systemd state seen."""
    return wait_for_boot(container, timeout)


def snapshot_nodes() -> dict[str, bytes]:
    """Capture each node's memcached.conf, firewall rules file and ``iptables -S`` output, as bytes."""
    snapshots = {}
    for name in ALL_NODES:
        result = get_node(name).run(
            "cat /etc/memcached.conf 2>&1; echo ---; cat /etc/tier-firewall/rules.v4 2>&1; echo ---; iptables -w -S"
        )
        snapshots[name] = result.stdout_bytes
    return snapshots


@pytest.fixture(scope="module")
def inventory_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("inventory")
