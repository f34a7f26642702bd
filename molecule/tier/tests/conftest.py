"""Fixtures for the tier scenarios: the nodes by inventory group, and HTTP
requests sent from the client container through the balancer."""

from __future__ import annotations

import json
import os
import shlex
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

PROJECT_DIR = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(PROJECT_DIR / "molecule" / "shared"))

from scenario_support import PlaybookRun, run_playbook  # noqa: E402

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
PLAYBOOK_DIR = PROJECT_DIR / "playbooks"
RUNNER = AnsibleRunner(INVENTORY)


def get_host(name: str) -> testinfra.host.Host:
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


def group_hosts(group: str) -> list[str]:
    return RUNNER.get_hosts(group)


def address_of(name: str) -> str:
    return RUNNER.get_variables(name).get("tier_address") or get_host(name).interface("eth0").addresses[0]


@pytest.fixture(scope="session")
def web_names() -> list[str]:
    return group_hosts("web")


@pytest.fixture(scope="session")
def web_hosts(web_names: list[str]) -> list[testinfra.host.Host]:
    return [get_host(name) for name in web_names]


@pytest.fixture(scope="session")
def balancer() -> testinfra.host.Host:
    return get_host(group_hosts("balancers")[0])


@pytest.fixture(scope="session")
def balancer_address() -> str:
    return address_of(group_hosts("balancers")[0])


@pytest.fixture(scope="session")
def client() -> testinfra.host.Host:
    return get_host(group_hosts("clients")[0])


@pytest.fixture(scope="session")
def client_address() -> str:
    return address_of(group_hosts("clients")[0])


class BalancerSession:
    """Requests /session.php through the balancer from the client, with one cookie jar."""

    def __init__(self, client: testinfra.host.Host, balancer_address: str) -> None:
        self.client = client
        self.balancer_address = balancer_address
        self.jar = f"/tmp/cookies-{uuid.uuid4().hex}"

    def get(self, path: str = "/session.php", headers: dict[str, str] | None = None) -> dict:
        """Return the decoded JSON response, with the HTTP status under ``status``."""
        header_args = " ".join(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in (headers or {}).items())
        result = self.client.run(
            f"curl -sS -m 5 -b {self.jar} -c {self.jar} {header_args} -w '\\n%{{http_code}}' "
            f"http://{self.balancer_address}{path}"
        )
        assert result.rc == 0, result.stderr
        body, _, status = result.stdout.rpartition("\n")
        answer = json.loads(body) if body.strip().startswith("{") else {"body": body}
        answer["status"] = int(status)
        return answer


@pytest.fixture(scope="session")
def new_session(client: testinfra.host.Host, balancer_address: str) -> Callable[[], BalancerSession]:
    """Return a factory of sessions, each with a cookie jar of its own."""
    return lambda: BalancerSession(client, balancer_address)


def run_project_playbook(name: str, *args: str, json_output: bool = True) -> PlaybookRun:
    """Run playbooks/``name`` against the scenario's inventory, with the JSON callback if ``json_output``."""
    scenario = os.environ.get("MOLECULE_SCENARIO_NAME", "tier")
    return run_playbook(scenario, PLAYBOOK_DIR / name, *args, json_output=json_output)
