"""Helpers that the testinfra tests of several Molecule scenarios share.

The tests run on the Docker host. They read the scenario's platforms from its
molecule.yml, run ``ansible-playbook`` against molecule's inventory with
molecule's ansible.cfg (so that every run shares molecule's fact cache), and
run the docker CLI on the scenario's own containers only.

Each scenario's conftest.py puts this directory on ``sys.path`` and imports
from here; the tests keep importing from their conftest.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml


def scenario_platforms(scenario_dir: Path) -> list[dict[str, Any]]:
    """Return the platforms of the scenario in ``scenario_dir``, as molecule.yml lists them."""
    return yaml.safe_load((scenario_dir / "molecule.yml").read_text())["platforms"]


def node_addresses(platforms: list[dict[str, Any]]) -> dict[str, str]:
    """Return each node's address on the scenario network, as molecule.yml pins it."""
    return {platform["name"]: platform["networks"][0]["ipv4_address"] for platform in platforms}


def group_nodes(platforms: list[dict[str, Any]], group: str) -> list[str]:
    """Return the names of the platforms in inventory group ``group``, in molecule.yml order."""
    return [platform["name"] for platform in platforms if group in platform.get("groups", [])]


def _molecule_hint(scenario: str) -> str:
    return f"run these tests with `molecule verify -s {scenario}`"


def molecule_inventory(scenario: str) -> Path:
    """Return molecule's inventory file of the running scenario."""
    value = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not value:
        pytest.fail(f"MOLECULE_INVENTORY_FILE is not set; {_molecule_hint(scenario)}")
    return Path(value)


def ansible_environment(scenario: str, *, json_output: bool = True, **overrides: str) -> dict[str, str]:
    """Return the environment for ansible-playbook: molecule's ansible.cfg, no colours.

    With ``json_output`` the ansible.posix.json callback prints one report at
    the end of the run; otherwise ansible.cfg's callback prints as usual.
    ``overrides`` are set last.
    """
    env = dict(os.environ)
    if not env.get("ANSIBLE_CONFIG"):
        ephemeral = env.get("MOLECULE_EPHEMERAL_DIRECTORY")
        if not ephemeral:
            pytest.fail(f"neither ANSIBLE_CONFIG nor MOLECULE_EPHEMERAL_DIRECTORY is set; {_molecule_hint(scenario)}")
        env["ANSIBLE_CONFIG"] = str(Path(ephemeral) / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    if json_output:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    else:
        env.pop("ANSIBLE_STDOUT_CALLBACK", None)
    env.update(overrides)
    return env


@dataclass
class PlaybookRun:
    """Result of one ansible-playbook run."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    json_output: bool = True
    duration_s: float = 0.0
    _report: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def output(self) -> str:
        """The command, its exit code and the end of its output, for assertion messages."""
        return f"$ {' '.join(self.command)}\nexit code {self.returncode}\n{self.stdout[-20000:]}\n{self.stderr[-5000:]}"

    @property
    def report(self) -> dict[str, Any]:
        """Return the parsed output of the ansible.posix.json callback."""
        if not self.json_output:
            raise ValueError("this run used the default callback and has no JSON report; run it with json_output=True")
        if self._report is None:
            try:
                self._report = json.loads(self.stdout)
            except json.JSONDecodeError as error:
                raise AssertionError(f"ansible-playbook printed no JSON report ({error}):\n{self.output}") from None
        return self._report

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        return self.report["stats"]

    def _tasks(self) -> list[dict[str, Any]]:
        return [task for play in self.report["plays"] for task in play["tasks"]]

    def task_results(self, name_suffix: str) -> dict[str, dict[str, Any]]:
        """Return each host's result of the tasks whose name ends with ``name_suffix``.

        A later run of such a task replaces the host's earlier result.
        """
        results: dict[str, dict[str, Any]] = {}
        for task in self._tasks():
            if task["task"]["name"].endswith(name_suffix):
                results.update(task["hosts"])
        return results

    def task_runs(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        """Return (host, result) for every run of the task called ``name`` that was not skipped, in order."""
        return [
            (host, result)
            for task in self._tasks()
            if task["task"]["name"] == name
            for host, result in task["hosts"].items()
            if not result.get("skipped")
        ]

    def first_run_position(self, name_suffix: str) -> int:
        """Return the position of the first task or handler whose name ends with ``name_suffix`` and that ran on a host."""
        for position, task in enumerate(self._tasks()):
            ran = any(not result.get("skipped") for result in task["hosts"].values())
            if task["task"]["name"].endswith(name_suffix) and ran:
                return position
        raise AssertionError(f"no task ending with {name_suffix!r} ran:\n{self.output}")

    def failure_messages(self) -> list[str]:
        """Return the message of every failed task result, loop items included."""
        messages = []
        for task in self._tasks():
            for result in task["hosts"].values():
                for item in [result, *result.get("results", [])]:
                    if item.get("failed") and item.get("msg"):
                        messages.append(str(item["msg"]))
        return messages


def run_playbook(
    scenario: str,
    playbook: Path,
    *args: str,
    extra_inventory: Path | None = None,
    json_output: bool = True,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> PlaybookRun:
    """Run ``playbook`` against molecule's inventory, plus ``extra_inventory`` if given.

    Ansible also logs every task to a temporary file, because the JSON
    callback prints nothing until the run ends. A run that times out fails the
    test with the end of that log and keeps the file; a finished run removes it.
    """
    command = ["ansible-playbook", "-i", str(molecule_inventory(scenario))]
    if extra_inventory is not None:
        command += ["-i", str(extra_inventory)]
    command += [str(playbook), *args]
    descriptor, log_name = tempfile.mkstemp(prefix=f"{scenario}-ansible-", suffix=".log")
    os.close(descriptor)
    log_file = Path(log_name)
    environment = ansible_environment(scenario, json_output=json_output, ANSIBLE_LOG_PATH=str(log_file), **(env or {}))
    start = time.monotonic()
    try:
        completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        log_tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-60:])
        pytest.fail(f"{' '.join(command)} timed out after {timeout} s. End of {log_file}:\n{log_tail}")
    log_file.unlink()
    return PlaybookRun(
        command, completed.returncode, completed.stdout, completed.stderr, json_output, time.monotonic() - start
    )


def write_inventory(directory: Path, name: str, content: dict[str, Any]) -> Path:
    """Write a YAML inventory that ansible-playbook reads next to molecule's inventory."""
    path = directory / f"{name}.yml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def docker(*args: str, input_text: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a docker CLI command on the host. Callers name only their scenario's own containers."""
    return subprocess.run(
        ["docker", *args], input=input_text, capture_output=True, text=True, timeout=timeout, check=False
    )


def wait_for_boot(container: str, timeout: float) -> str:
    """Poll ``systemctl is-system-running`` in ``container`` until it leaves the boot states.

    Return the last state seen: running, degraded, or the state at the deadline.
    """
    deadline = time.monotonic() + timeout
    state = "unknown"
    while time.monotonic() < deadline:
        try:
            result = docker("exec", container, "systemctl", "is-system-running", timeout=10)
            state = result.stdout.strip() or result.stderr.strip()
        except subprocess.TimeoutExpired:
            state = "no answer within 10 s"
        if state in ("running", "degraded"):
            return state
        time.sleep(1)
    return state
