"""Helpers for the failover scenario: the nodes, the load script run on the
client, key lookups run on a web node, and ansible-playbook runs.

The tests run on the Docker host. They reach the containers with `docker
exec`, through testinfra's docker backend or directly when a script needs
its input on stdin, and they stop and start only this scenario's containers.
Measured figures are collected in FIGURES, printed at the end of the run and
written to failover-figures.json in molecule's ephemeral directory.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import testinfra

TESTS_DIR = Path(__file__).resolve().parent
SCENARIO_DIR = TESTS_DIR.parent
PROJECT_DIR = SCENARIO_DIR.parents[1]
sys.path.insert(0, str(PROJECT_DIR / "molecule" / "shared"))

import scenario_support  # noqa: E402
from scenario_support import PlaybookRun, docker, group_nodes, node_addresses, scenario_platforms  # noqa: E402,F401

SCENARIO = "failover"
_PLATFORMS = scenario_platforms(SCENARIO_DIR)
NODE_ADDRESSES: dict[str, str] = node_addresses(_PLATFORMS)
WEB_NODES = group_nodes(_PLATFORMS, "web")
BALANCER = group_nodes(_PLATFORMS, "balancers")[0]
CLIENT = group_nodes(_PLATFORMS, "clients")[0]

MEMCACHED_PORT = 11211
SESSION_URL = f"http://{NODE_ADDRESSES[BALANCER]}/session.php"
# The load script gives up on a request after this many seconds.
REQUEST_TIMEOUT = 5
BOOT_TIMEOUT = 120
PLAYBOOK_TIMEOUT = 300

# Figures measured by the tests, by name, reported at the end of the run.
FIGURES: dict[str, Any] = {}


def record(name: str, value: Any) -> None:
    FIGURES[name] = value
    print(f"\n[failover] {name}: {json.dumps(value)}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("failover figures")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name}: {json.dumps(value)}")
    ephemeral = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    if ephemeral:
        path = Path(ephemeral) / "failover-figures.json"
        path.write_text(json.dumps(FIGURES, indent=2))
        terminalreporter.write_line(f"written to {path}")


# Containers


def host(name: str) -> testinfra.host.Host:
    return testinfra.get_host(f"docker://{name}")


def run_script(container: str, script: str, order: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run a script of this directory with the container's python3, the order as JSON on stdin."""
    source = (TESTS_DIR / script).read_text()
    result = docker(
        "exec", "-i", container, "python3", "-c", source, input_text=json.dumps(order), timeout=timeout
    )
    assert result.returncode == 0, f"{script} on {container} exited with {result.returncode}: {result.stderr}"
    return json.loads(result.stdout)


def wait_for_boot(container: str, timeout: float = BOOT_TIMEOUT) -> str:
    """Wait until systemd in ``container`` has started every unit; return its state.

    memcached's start includes the resync from its peers, so "running" also
    means that the resync has ended.
    """
    return scenario_support.wait_for_boot(container, timeout)


def unit_log(container: str, unit: str, since: str) -> str:
    """Return the journal of ``unit`` since a `journalctl --since` time such as "@1700000000"."""
    return host(container).check_output(f"journalctl --no-pager -o cat -u {unit} --since {since}")


# Sessions through the balancer


@dataclass
class Pass:
    """The results of one load run: one entry per session, in the order sent."""

    duration: float
    results: list[dict[str, Any]]

    @property
    def slowest(self) -> float:
        return max((r["elapsed"] for r in self.results), default=0.0)

    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] != 200 or r["error"]]


def create_sessions(count: int, concurrency: int = 8, budget: float = 120) -> Pass:
    order = {"url": SESSION_URL, "mode": "create", "count": count, "concurrency": concurrency,
             "timeout": REQUEST_TIMEOUT, "budget": budget}  # fmt: skip
    report = run_script(CLIENT, "session_load.py", order, timeout=budget + 30)
    return Pass(report["duration"], report["results"])


def revisit_sessions(sessions: list[dict[str, Any]], concurrency: int = 8, budget: float = 120) -> Pass:
    order = {"url": SESSION_URL, "mode": "revisit", "sessions": sessions, "concurrency": concurrency,
             "timeout": REQUEST_TIMEOUT, "budget": budget}  # fmt: skip
    report = run_script(CLIENT, "session_load.py", order, timeout=budget + 30)
    return Pass(report["duration"], report["results"])


@dataclass
class Outcome:
    """How each revisited session fared against its expected counter."""

    continued: int
    lost: list[str]
    stale: list[str]
    new_id: list[str]
    failed: list[str]

    def as_figures(self, run: Pass) -> dict[str, Any]:
        return {
            "sessions": len(run.results),
            "continued": self.continued,
            "lost": len(self.lost),
            "stale": len(self.stale),
            "new_session_id": len(self.new_id),
            "failed": len(self.failed),
            "slowest_s": round(run.slowest, 3),
            "slowest_nodes": [
                f"{r.get('backend')} {r['elapsed']:.2f} s"
                for r in sorted(run.results, key=lambda r: r["elapsed"], reverse=True)[:3]
            ],
            "duration_s": round(run.duration, 2),
        }


def classify(sessions: list[dict[str, Any]], run: Pass) -> Outcome:
    """Compare each response with the session's last counter.

    continued: the counter went up by one in the same session. lost: the
    session came back empty (counter 1). stale: an older counter came back.
    new_id: PHP returned another session id. failed: no usable response.
    """
    outcome = Outcome(0, [], [], [], [])
    for session, result in zip(sessions, run.results):
        label = session["session_id"]
        if result["status"] != 200 or result["error"] or result.get("count") is None:
            outcome.failed.append(f"{label}: status {result['status']}, {result['error']}")
        elif result["session_id"] != session["session_id"]:
            outcome.new_id.append(label)
        elif result["count"] == session["count"] + 1:
            outcome.continued += 1
        elif result["count"] == 1:
            outcome.lost.append(label)
        else:
            outcome.stale.append(f"{label}: {result['count']} after {session['count']}")
    return outcome


def advance(sessions: list[dict[str, Any]], run: Pass) -> list[dict[str, Any]]:
    """Return the sessions with the counters and cookies of ``run``, for the next pass."""
    updated = []
    for session, result in zip(sessions, run.results):
        if result["status"] == 200 and result.get("count") is not None:
            updated.append({"cookie": result["cookie"], "session_id": result["session_id"], "count": result["count"]})
        else:
            updated.append(session)
    return updated


# memcached


def session_keys(prefix: str, sessions: Iterable[dict[str, Any]]) -> list[str]:
    return [f"{prefix}{session['session_id']}" for session in sessions]


def memcached_servers(names: Iterable[str] | None = None) -> list[str]:
    return [f"{NODE_ADDRESSES[name]}:{MEMCACHED_PORT}" for name in (names or WEB_NODES)]


def locate_keys(keys: list[str], via: str = WEB_NODES[0]) -> dict[str, Any]:
    """Return, for each key, the memcached servers that hold it, asked from web node ``via``."""
    return run_script(via, "memcached_keys.py", {"action": "locate", "servers": memcached_servers(), "keys": keys},
                      timeout=60)  # fmt: skip


# ansible-playbook


def run_playbook(playbook: Path, *args: str, timeout: float = PLAYBOOK_TIMEOUT) -> PlaybookRun:
    """Run ``playbook`` against molecule's inventory; the result carries the whole output.

    Results are printed as JSON, which keeps each message on one line, as the
    role wrote it.
    """
    return scenario_support.run_playbook(
        SCENARIO, playbook, *args, json_output=False, timeout=timeout, env={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
    )
