"""Check how web.yml and rolling_update.yml call the web node roles."""

from __future__ import annotations

from typing import Any

import yaml

from conftest import PROJECT_ROOT

WEB_PLAYBOOK = PROJECT_ROOT / "playbooks" / "web.yml"
ROLLING_PLAYBOOK = PROJECT_ROOT / "playbooks" / "rolling_update.yml"
# web.yml runs the roles' checks through tasks/validate_web_roles.yml.
CHECKS_FILE = "validate.yml"


def web_play() -> dict[str, Any]:
    return yaml.safe_load(WEB_PLAYBOOK.read_text())[0]


def update_play() -> dict[str, Any]:
    """Return the play of rolling_update.yml that applies the web node roles."""
    plays = yaml.safe_load(ROLLING_PLAYBOOK.read_text())
    return next(play for play in plays if play.get("name") == "Update the web nodes one batch at a time")


def imported_task_files(tasks: list[dict]) -> list[str]:
    """Return the file of each import_tasks entry in a task list, in order."""
    return [task["ansible.builtin.import_tasks"] for task in tasks if "ansible.builtin.import_tasks" in task]


def web_imports() -> list[tuple[str, str]]:
    """Return (role, tasks_from) for each import_role in web.yml, in order."""
    imports = [task["ansible.builtin.import_role"] for task in web_play()["tasks"] if "ansible.builtin.import_role" in task]
    return [(entry["name"], entry.get("tasks_from", "main.yml")) for entry in imports]


def web_roles() -> list[str]:
    """Return the roles that web.yml imports, in the order of their first import."""
    return list(dict.fromkeys(role for role, _ in web_imports()))


def expected_task_files(role: str) -> list[str]:
    """Return the files that a role's tasks/main.yml imports, in order, without its checks."""
    tasks = yaml.safe_load((PROJECT_ROOT / "roles" / role / "tasks" / "main.yml").read_text())
    return [name for name in imported_task_files(tasks) if name != CHECKS_FILE]


def test_web_playbook_imports_every_task_file():
    roles = web_roles()
    assert roles, "web.yml imports no role"

    imports = web_imports()
    for role in roles:
        imported = [tasks_from for name, tasks_from in imports if name == role]
        for task_file in expected_task_files(role):
            assert task_file in imported, f"web.yml does not import {role}'s {task_file}"


def test_web_playbook_keeps_role_order():
    # Each role's files in the order main.yml runs them.
    imports = web_imports()
    for role in web_roles():
        expected = expected_task_files(role)
        imported = [tasks_from for name, tasks_from in imports if name == role and tasks_from in expected]
        assert imported == expected, f"web.yml imports {role}'s files as {imported}, main.yml runs {expected}"


def test_web_playbook_imports_no_whole_role():
    # A whole role would run its checks and package task again.
    assert all(tasks_from != "main.yml" for _, tasks_from in web_imports())


def test_rolling_roles_match_web_playbook():
    roles = web_roles()
    assert roles, "web.yml imports no role"
    assert update_play()["vars"]["__rolling_update_web_roles"] == roles


def test_rolling_vars_files_match_web_playbook():
    assert "tasks/load_web_vars.yml" in imported_task_files(web_play()["tasks"])
    assert "tasks/load_web_vars.yml" in imported_task_files(update_play()["tasks"])
