"""Helpers for the rolling scenario's tests.

The tests run on the Docker host. They reach the nodes through testinfra's
ansible backend (``docker exec`` under the community.docker.docker
connection) and run ``ansible-playbook`` against molecule's inventory with
molecule's ansible.cfg, so that the runs share molecule's fact cache.

Background probes run inside the scenario's own containers as transient
systemd units: a request loop on the client and a watcher of the drained
servers on the balancer. Each one stops by itself at a deadline and when its
stop file appears.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import testinfra

SCENARIO_DIR = Path(__file__).resolve().parents[1]
PROJECT_DIR = SCENARIO_DIR.parents[1]
sys.path.insert(0, str(PROJECT_DIR / "molecule" / "shared"))

import scenario_support  # noqa: E402
from scenario_support import (  # noqa: E402,F401  (imported by the tests)
    PlaybookRun,
    group_nodes,
    molecule_inventory,
    node_addresses,
    scenario_platforms,
    write_inventory,
)

SCENARIO = "rolling"
TESTS_DIR = Path(__file__).resolve().parent
SITE_PLAYBOOK = PROJECT_DIR / "playbooks" / "site.yml"
ROLLING_PLAYBOOK = PROJECT_DIR / "playbooks" / "rolling_update.yml"

# The longest run, the rolling update of three nodes, took up to 6 min on
# 2 CPUs at load average 10, so 15 min leaves room on a busy machine.
PLAYBOOK_TIMEOUT_S = 900
# Request rate of the load loop: four requests per second.
LOAD_INTERVAL_S = 0.25
# How often the balancer's configuration file is read for drained servers.
DRAIN_WATCH_INTERVAL_S = 0.2
# The probes stop by themselves after this long, even without a stop file.
PROBE_DEADLINE_S = PLAYBOOK_TIMEOUT_S + 60
BALANCER_CONFIG = "/etc/nginx/conf.d/tier-balancer.conf"


_PLATFORMS = scenario_platforms(SCENARIO_DIR)
NODE_ADDRESSES: dict[str, str] = node_addresses(_PLATFORMS)
WEB_NODES = group_nodes(_PLATFORMS, "web")
BALANCER = group_nodes(_PLATFORMS, "balancers")[0]
CLIENT = group_nodes(_PLATFORMS, "clients")[0]
ALL_NODES = list(NODE_ADDRESSES)
NODE_BY_ADDRESS = {address: name for name, address in NODE_ADDRESSES.items()}


def get_node(name: str) -> testinfra.host.Host:
    """Return the testinfra host of node ``name``, connected through molecule's inventory."""
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=str(molecule_inventory(SCENARIO).parent))


# ansible-playbook


def run_playbook(
    playbook: Path,
    *args: str,
    extra_inventory: Path | None = None,
    env: dict[str, str] | None = None,
) -> PlaybookRun:
    """Run ``playbook`` against molecule's inventory with the JSON callback; see scenario_support."""
    return scenario_support.run_playbook(
        SCENARIO, playbook, *args, extra_inventory=extra_inventory, timeout=PLAYBOOK_TIMEOUT_S, env=env
    )


# Background probes


class BackgroundProbe:
    """A script from this directory, run on a node as a transient systemd unit.

    The unit runs with RuntimeMaxSec as a second bound besides the script's
    own deadline, so a probe never outlives a test run that was interrupted.
    """

    def __init__(self, node: str, script: str, interval_s: float, *args: str) -> None:
        self.host = get_node(node)
        self.node = node
        self.script = script
        self.interval_s = interval_s
        self.args = args
        self.unit = f"rolling-probe-{uuid.uuid4().hex[:12]}"
        self.output = f"/tmp/{self.unit}.jsonl"
        self.stop_file = f"/tmp/{self.unit}.stop"
        self.remote_script = f"/tmp/{script}"

    def start(self, first_records: int = 1, timeout_s: float = 20) -> None:
        """Start the unit and wait until the script has written ``first_records`` lines."""
        copied = self.host.ansible("copy", f"src={TESTS_DIR / self.script} dest={self.remote_script} mode=0644", check=False)
        assert not copied.get("failed"), copied
        self.host.run_test(
            f"systemd-run --quiet --collect --unit={self.unit} --property=RuntimeMaxSec={PROBE_DEADLINE_S + 30} "
            f"/usr/bin/python3 {self.remote_script} {' '.join(self.args)} "
            f"{self.output} {self.stop_file} {PROBE_DEADLINE_S} {self.interval_s}"
        )
        deadline = time.monotonic() + timeout_s
        while len(self.records()) < first_records:
            if time.monotonic() > deadline:
                journal = self.host.run(f"journalctl --no-pager -n 20 -u {self.unit}").stdout
                pytest.fail(f"{self.script} on {self.node} wrote fewer than {first_records} lines in {timeout_s} s:\n{journal}")
            time.sleep(0.5)

    def stop(self, timeout_s: float = 15) -> list[dict[str, Any]]:
        """Create the stop file, wait for the unit to end and return the recorded lines."""
        self.host.run(f"touch {self.stop_file}")
        deadline = time.monotonic() + timeout_s
        while self.host.run(f"systemctl is-active --quiet {self.unit}").rc == 0:
            if time.monotonic() > deadline:
                self.host.run(f"systemctl stop {self.unit}")
                break
            time.sleep(0.5)
        return self.records()

    def records(self) -> list[dict[str, Any]]:
        result = self.host.run(f"cat {self.output}")
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


class RequestLoop(BackgroundProbe):
    """Requests /session.php through the balancer from the client, four per second, one cookie."""

    def __init__(self) -> None:
        super().__init__(CLIENT, "request_loop.py", LOAD_INTERVAL_S, f"http://{NODE_ADDRESSES[BALANCER]}/session.php")

    def start(self, first_records: int = 3, timeout_s: float = 20) -> None:
        """Start the loop and wait until traffic flows: three requests by default."""
        super().start(first_records, timeout_s)


class DrainWatch(BackgroundProbe):
    """Records the servers that the balancer's configuration file marks `down`, at each change."""

    def __init__(self) -> None:
        super().__init__(BALANCER, "drain_watch.py", DRAIN_WATCH_INTERVAL_S, BALANCER_CONFIG)


@dataclass
class LoadSummary:
    """What the request loop saw while a playbook ran."""

    records: list[dict[str, Any]]

    @property
    def statuses(self) -> Counter[int]:
        return Counter(record["status"] for record in self.records)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [record for record in self.records if not 200 <= record["status"] < 300]

    @property
    def server_errors(self) -> list[dict[str, Any]]:
        return [record for record in self.records if record["status"] >= 500]

    @property
    def counts(self) -> list[int]:
        return [record["count"] for record in self.records if record.get("count") is not None]

    @property
    def counter_steps(self) -> Counter[int]:
        """Return how often the session counter moved by each amount between two responses."""
        return Counter(later - earlier for earlier, later in zip(self.counts, self.counts[1:]))

    def describe(self, label: str) -> str:
        backends = Counter(record.get("backend") for record in self.records if record.get("backend"))
        duration = self.records[-1]["t"] if self.records else 0
        return (
            f"{label}: {len(self.records)} requests in {duration:.0f} s, "
            f"{len(self.records) - len(self.failed)} returned 2xx, {len(self.failed)} did not "
            f"(statuses {dict(sorted(self.statuses.items()))}); "
            f"counter steps {dict(sorted(self.counter_steps.items()))}; served by {dict(sorted(backends.items()))}"
        )


def drained_nodes(watch_records: list[dict[str, Any]]) -> list[set[str]]:
    """Return each drained set that the watcher saw, as node names."""
    return [{NODE_BY_ADDRESS[server.rsplit(":", 1)[0]] for server in record["down"]} for record in watch_records]


# Node state


def web_node_state(name: str) -> dict[str, bytes]:
    """Return the files and rules that the roles render on a web node, as bytes."""
    host = get_node(name)
    commands = {
        "vhost": "cat /etc/apache2/sites-available/tier-app.conf",
        "memcached.conf": "cat /etc/memcached.conf",
        "firewall rules file": "cat /etc/tier-firewall/rules.v4",
        "iptables TIER-INPUT": "iptables -w -S TIER-INPUT",
    }
    return {label: host.run(command).stdout_bytes for label, command in commands.items()}


def balancer_state() -> dict[str, bytes]:
    return {"balancer config": get_node(BALANCER).run(f"cat {BALANCER_CONFIG}").stdout_bytes}


def tier_state() -> dict[str, dict[str, bytes]]:
    """Return the rendered files of every web node and of the balancer."""
    state = {name: web_node_state(name) for name in WEB_NODES}
    state[BALANCER] = balancer_state()
    return state


def local_session_response(name: str) -> dict[str, Any]:
    """Request /session.php on the node itself over 127.0.0.1 and return the decoded JSON response."""
    fetch = "import urllib.request as u; print(u.urlopen('http://127.0.0.1/session.php', timeout=5).read().decode())"
    return json.loads(get_node(name).check_output(f'python3 -c "{fetch}"'))


def remove_php_extension(name: str, extension: str) -> None:
    """Remove the package of a PHP extension from ``name``, so that installing it again restarts Apache.

    Apache keeps the extension loaded until its next restart, so the node
    keeps serving meanwhile.
    """
    host = get_node(name)
    version = host.check_output("php -r 'echo PHP_MAJOR_VERSION, \".\", PHP_MINOR_VERSION;'")
    host.run_test(f"DEBIAN_FRONTEND=noninteractive apt-get remove -y -q php{version}-{extension}")


def apache_main_pid(name: str) -> int:
    """Return the main PID of apache2 on ``name``. A restart changes it, a graceful reload does not."""
    return int(get_node(name).check_output("systemctl show apache2 --property=MainPID --value"))


def upstream_lines() -> dict[str, str]:
    """Return each web node's server line in the configuration nginx has loaded (nginx -T)."""
    config = get_node(BALANCER).check_output("nginx -T 2>/dev/null")
    lines = {}
    for name in WEB_NODES:
        matches = [line.strip() for line in config.splitlines() if line.strip().startswith(f"server {NODE_ADDRESSES[name]}:")]
        assert len(matches) == 1, f"{name}: expected one server line, got {matches}"
        lines[name] = matches[0]
    return lines


def is_down(server_line: str) -> bool:
    return " down" in server_line.split(";", 1)[0]
