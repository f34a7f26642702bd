"""playbooks/check.yml against the scenario: it passes, prints the matrix and catches a hole."""

import re

import pytest
from conftest import (
    CHAIN,
    CHECK_PLAYBOOK,
    MEMCACHED_PORT,
    NODE_ADDRESSES,
    WEB_NODES,
    chain_rules,
    run_playbook,
    write_inventory,
)

OUTSIDER = "store-out"


def matrix_rows(stdout: str) -> dict[str, list[str]]:
    """Return the printed matrix as {row label: cells}. The header row's label is "source (address)"."""
    rows: dict[str, list[str]] = {}
    in_matrix = False
    for line in stdout.splitlines():
        stripped = line.strip()
        if stripped.startswith("source (address)"):
            in_matrix = True
        elif "connections as expected" in stripped:
            in_matrix = False
        if in_matrix:
            label, *cells = re.split(r"\s{2,}", stripped)
            rows[label] = cells
    return rows


def collapsed_output(run) -> str:
    """Return stdout and stderr with whitespace collapsed.

    Failure messages go to stderr when display_failed_stderr is on, and the
    YAML callback may wrap them.
    """
    return " ".join((run.stdout + run.stderr).split())


def row_label(name: str) -> str:
    return f"{name} ({NODE_ADDRESSES[name]})"


@pytest.fixture(scope="module")
def check_run():
    return run_playbook(CHECK_PLAYBOOK, json_output=False)


def test_check_passes(check_run):
    assert check_run.returncode == 0, check_run.output


def test_check_matrix_header(check_run):
    assert matrix_rows(check_run.stdout).get("source (address)") == ["expected", *WEB_NODES], check_run.stdout


@pytest.mark.parametrize("name", WEB_NODES)
def test_check_web_row_open(check_run, name):
    cells = matrix_rows(check_run.stdout).get(row_label(name))
    assert cells == ["open"] * (len(WEB_NODES) + 1), check_run.stdout


def test_check_outsider_row_blocked(check_run):
    cells = matrix_rows(check_run.stdout).get(row_label(OUTSIDER))
    assert cells == ["blocked"] * (len(WEB_NODES) + 1), check_run.stdout


def test_check_summary_line(check_run):
    total = len(WEB_NODES) * (len(WEB_NODES) + 1)
    assert f"{total} of {total} connections as expected." in check_run.stdout


def test_check_empty_outsider_group():
    run = run_playbook(CHECK_PLAYBOOK, "-e", "check_outsider_group=no_such_group", json_output=False)
    assert run.returncode == 0, run.output
    assert "Group 'no_such_group' (check_outsider_group) has no host outside" in collapsed_output(run)
    assert row_label(OUTSIDER) not in matrix_rows(run.stdout)


def test_check_empty_web_group():
    run = run_playbook(CHECK_PLAYBOOK, "-e", "tier_web_group=no_such_group", json_output=False)
    assert run.returncode != 0, run.output
    assert "Group 'no_such_group' (tier_web_group) has no hosts" in collapsed_output(run)


def test_check_inventory_web_group(inventory_dir):
    # The play's host pattern cannot see inventory variables, so a web group
    # named only in the inventory must fail instead of checking the wrong hosts.
    extra = write_inventory(inventory_dir, "check-web-group", {"all": {"vars": {"tier_web_group": "spare"}}})
    run = run_playbook(CHECK_PLAYBOOK, extra_inventory=extra, json_output=False)
    assert run.returncode != 0, run.output
    assert "set tier_web_group with -e" in collapsed_output(run)


@pytest.mark.changes_nodes
def test_check_flags_open_outsider(node):
    # A hole for the outsider on one node, inserted before the chain's DROP.
    target = "store-web2"
    hole = f"-s {NODE_ADDRESSES[OUTSIDER]}/32 -p tcp -m tcp --dport {MEMCACHED_PORT} -j ACCEPT"
    host = node(target)
    rules_before = chain_rules(host)
    host.check_output(f"iptables -w -I {CHAIN} 1 {hole}")
    try:
        run = run_playbook(CHECK_PLAYBOOK, json_output=False)
    finally:
        host.check_output(f"iptables -w -D {CHAIN} {hole}")

    cells = matrix_rows(run.stdout).get(row_label(OUTSIDER), [])
    column = WEB_NODES.index(target) + 1
    assert run.returncode != 0, run.output
    assert cells[column : column + 1] == ["open (WRONG)"], run.stdout
    message = f"{OUTSIDER} -> {target} {NODE_ADDRESSES[target]}:{MEMCACHED_PORT} is open, expected blocked"
    assert message in collapsed_output(run)
    assert chain_rules(host) == rules_before
