"""A node restart: tier-firewall.service restores the chain and memcached comes back."""

import pytest
from conftest import (
    FOREIGN_RULES,
    NODE_ADDRESSES,
    OUTSIDE_NODES,
    PREPARE_PLAYBOOK,
    docker,
    expected_chain,
    get_node,
    chain_rules,
    iptables_rules,
    probe_tcp,
    run_playbook,
    wait_for_running,
    web_addresses,
)

pytestmark = pytest.mark.changes_nodes

RESTARTED = "store-web3"


@pytest.fixture(scope="module")
def restarted():
    """Restart the node's container and wait for systemd, then put the foreign rules back after the tests."""
    result = docker("restart", "--time", "20", RESTARTED, timeout=60)
    assert result.returncode == 0, result.stderr
    state = wait_for_running(RESTARTED)
    yield state

    # Docker gives the restarted container a new network namespace, so the
    # foreign rules that prepare.yml added without any persistence are gone.
    # Only the firewall role's chain is restored at boot.
    if not set(FOREIGN_RULES) <= set(iptables_rules(get_node(RESTARTED))):
        run = run_playbook(PREPARE_PLAYBOOK, "--limit", RESTARTED)
        assert run.returncode == 0, run.output


def test_restart_system_running(restarted):
    assert restarted == "running"


def test_restart_boot_unit_ran(restarted):
    assert get_node(RESTARTED).run("systemctl is-active tier-firewall").stdout.strip() == "active"


def test_restart_chain_restored(restarted):
    assert chain_rules(get_node(RESTARTED)) == expected_chain(web_addresses())


def test_restart_single_jump(restarted):
    assert iptables_rules(get_node(RESTARTED), "INPUT").count("-A INPUT -j TIER-INPUT") == 1


def test_restart_memcached_active(restarted):
    assert get_node(RESTARTED).run("systemctl is-active memcached").stdout.strip() == "active"


def test_restart_peer_reaches_node(restarted):
    result = probe_tcp("store-web1", NODE_ADDRESSES[RESTARTED])
    assert result.status == "open", result.detail
    assert result.detail.startswith("VERSION "), result.detail


def test_restart_outsider_dropped(restarted):
    assert probe_tcp(OUTSIDE_NODES[0], NODE_ADDRESSES[RESTARTED]).status == "timeout"
