"""Check that web.yml runs every part of each role's main tasks but the checks and packages."""

from __future__ import annotations

import yaml

from conftest import PROJECT_ROOT

WEB_PLAYBOOK = PROJECT_ROOT / "playbooks" / "web.yml"
# web.yml runs the roles' checks through tasks/validate_web_roles.yml.
CHECKS_FILE = "validate.yml"


def web_imports() -> list[tuple[str, str]]:
    """Return (role, tasks_from) for each import_role in web.yml, in order."""
    play = yaml.safe_load(WEB_PLAYBOOK.read_text())[0]
    imports = [task["ansible.builtin.import_role"] for task in play["tasks"] if "ansible.builtin.import_role" in task]
    return [(entry["name"], entry.get("tasks_from", "main.yml")) for entry in imports]


def main_task_files(role: str) -> list[str]:
    """Return the task files that a role's tasks/main.yml imports, in order."""
    tasks = yaml.safe_load((PROJECT_ROOT / "roles" / role / "tasks" / "main.yml").read_text())
    return [task["ansible.builtin.import_tasks"] for task in tasks if "ansible.builtin.import_tasks" in task]


def test_web_playbook_imports_every_task_file():
    imports = web_imports()
    roles = list(dict.fromkeys(role for role, _ in imports))
    assert roles, "web.yml imports no role"

    for role in roles:
        expected = [name for name in main_task_files(role) if name != CHECKS_FILE]
        imported = [tasks_from for name, tasks_from in imports if name == role]
        for task_file in expected:
            assert task_file in imported, f"web.yml does not import {role}'s {task_file}"


def test_web_playbook_keeps_role_order():
    # Each role's files in the order main.yml runs them.
    imports = web_imports()
    for role in dict.fromkeys(role for role, _ in imports):
        expected = [name for name in main_task_files(role) if name != CHECKS_FILE]
        imported = [tasks_from for name, tasks_from in imports if name == role and tasks_from in expected]
        assert imported == expected, f"web.yml imports {role}'s files as {imported}, main.yml runs {expected}"


def test_web_playbook_imports_no_whole_role():
    # A whole role would run its checks and package task again.
    assert all(tasks_from != "main.yml" for _, tasks_from in web_imports())
