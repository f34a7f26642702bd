"""Invalid settings stop the converge before it changes any node, with a message that names the fault."""

import re

import pytest
from conftest import ALL_NODES, WEB_NODES, converge, snapshot_nodes, write_inventory

pytestmark = pytest.mark.changes_nodes

# Each case: extra arguments, extra inventory (or None), and patterns that the
# failure messages must contain: the variable or hosts, and the value.
CASES = {
    "extra_listen_wildcard": (
        ["-e", "memcached_extra_listen_addresses=0.0.0.0"],
        None,
        [r"\bmemcached_extra_listen_addresses\b", r"'0\.0\.0\.0'"],
    ),
    "listen_not_an_ip": (
        ["-e", "memcached_listen_address=not-an-ip"],
        None,
        # A word boundary, so that the filter's name memcached_listen_addresses does not count.
        [r"\bmemcached_listen_address\b", r"not-an-ip", r"\bstore-web1\b"],
    ),
    "one_host_bad_listen": (
        [],
        {"web": {"hosts": {"store-web2": {"memcached_listen_address": "300.1.1.1"}}}},
        [r"\bmemcached_listen_address\b", r"300\.1\.1\.1", r"\bstore-web2\b"],
    ),
    "memory_zero": (
        ["-e", "memcached_memory_mb=0"],
        None,
        [r"\bmemcached_memory_mb\b", r"'0'", r"whole number of 1 or more"],
    ),
    # memcached 1.6 does not start with these, so a restart would take
    # memcached down on every node.
    "item_size_over_half_memory": (
        ["-e", "memcached_max_item_size=64m"],
        None,
        [r"\bmemcached_max_item_size\b", r"'64m'", r"more than half of memcached_memory_mb"],
    ),
    "item_size_not_chunk_multiple": (
        ["-e", "memcached_max_item_size=768k"],
        None,
        [r"\bmemcached_max_item_size\b", r"'768k'", r"multiple of 512k"],
    ),
    # Two rules of one role, each broken: both messages, in one failure.
    "two_faults_at_once": (
        ["-e", "memcached_memory_mb=0", "-e", "memcached_max_item_size=huge"],
        None,
        [r"\bmemcached_memory_mb\b", r"'0'", r"\bmemcached_max_item_size\b", r"'huge'"],
    ),
    "duplicate_tier_address": (
        [],
        {"web": {"hosts": {"store-web3": {"tier_address": "172.30.11.12"}}}},
        [r"\bstore-web2\b", r"\bstore-web3\b", r"'172\.30\.11\.12'", r"\btier_address\b"],
    ),
}


@pytest.fixture(scope="module", params=list(CASES))
def bad_run(request, inventory_dir):
    """Run converge with one invalid setting and return the run, its patterns and the snapshots before and after."""
    args, inventory, patterns = CASES[request.param]
    extra = write_inventory(inventory_dir, request.param, inventory) if inventory else None
    before = snapshot_nodes()
    run = converge(*args, extra_inventory=extra)
    after = snapshot_nodes()
    return run, patterns, before, after


def test_bad_input_fails(bad_run):
    run, _, _, _ = bad_run
    assert run.returncode != 0, run.output


@pytest.mark.parametrize("name", WEB_NODES)
def test_bad_input_stops_every_host(bad_run, name):
    run, _, _, _ = bad_run
    assert run.stats[name]["failures"] > 0, run.output


@pytest.mark.parametrize("name", WEB_NODES)
def test_bad_input_changes_nothing(bad_run, name):
    run, _, _, _ = bad_run
    assert run.stats[name]["changed"] == 0


def test_bad_input_message(bad_run):
    run, patterns, _, _ = bad_run
    messages = " ".join(run.failure_messages())
    for pattern in patterns:
        assert re.search(pattern, messages), f"{pattern!r} not in the failure messages:\n{messages}"


@pytest.mark.parametrize("name", ALL_NODES)
def test_bad_input_node_untouched(bad_run, name):
    _, _, before, after = bad_run
    assert after[name] == before[name]
