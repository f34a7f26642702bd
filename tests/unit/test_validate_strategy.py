"""Check that validate.yml's play runs in lockstep whatever strategy the run uses.

The play's own strategy expression is copied into a two-host playbook on the
local connection. Host a's first task takes 2 s. In lockstep, host b's second
task starts only after that, so its result comes after host a's first one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import PROJECT_ROOT

VALIDATE_PLAYBOOK = PROJECT_ROOT / "playbooks" / "validate.yml"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def probe_playbook(strategy: str) -> list[dict]:
    return [
        {
            "name": "Probe the strategy",
            "hosts": "all",
            "gather_facts": False,
            "strategy": strategy,
            "tasks": [
                {
                    "name": "First",
                    "ansible.builtin.command": "sleep {{ 2 if inventory_hostname == 'a' else 0 }}",
                    "changed_when": False,
                },
                {"name": "Second", "ansible.builtin.debug": {"msg": "second"}},
            ],
        }
    ]


def result_order(tmp_path: Path, run_strategy: str) -> list[str]:
    """Run the probe under run_strategy and return "TASK host" for each result, in order."""
    strategy = yaml.safe_load(VALIDATE_PLAYBOOK.read_text())[0]["strategy"]
    playbook = tmp_path / "probe.yml"
    playbook.write_text(yaml.safe_dump(probe_playbook(strategy)))
    env = dict(os.environ, ANSIBLE_STRATEGY=run_strategy, ANSIBLE_NOCOLOR="1")
    output = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-c", "local", "-i", "a,b,", "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    order = []
    task = None
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK [") : line.index("]")]
        elif line.startswith("ok: [") and task:
            order.append(f"{task} {line[len('ok: [') : line.index(']')]}")
    return order


@pytest.mark.parametrize("run_strategy", ["linear", "free", "host_pinned", "mitogen_linear", "mitogen_free"])
def test_validation_play_is_lockstep(tmp_path, run_strategy):
    order = result_order(tmp_path, run_strategy)

    assert sorted(order) == ["First a", "First b", "Second a", "Second b"]
    assert order.index("First a") < order.index("Second b")
