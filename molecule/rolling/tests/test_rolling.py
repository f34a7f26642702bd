"""Rolling updates of the web tier under load, a node that fails its health
check, and runs limited to one node.

The tests run in file order and share the scenario's nodes. Each group
changes the tier through a playbook and leaves it converged for the next
group, except the failed rolling update: it leaves one node broken and
drained, and the site.yml group repairs it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from conftest import (
    BALANCER,
    CLIENT,
    NODE_ADDRESSES,
    ROLLING_PLAYBOOK,
    SCENARIO_DIR,
    SITE_PLAYBOOK,
    WEB_NODES,
    DrainWatch,
    LoadSummary,
    PlaybookRun,
    RequestLoop,
    apache_main_pid,
    drained_nodes,
    get_node,
    is_down,
    local_session_response,
    remove_php_extension,
    run_playbook,
    tier_state,
    upstream_lines,
    web_node_state,
    write_inventory,
)

# A change that alters the vhost on every node (a new alias) and restarts
# Apache on every node (a new PHP extension restarts the PHP host).
ROLLING_CHANGE = {
    "php_extensions": ["curl", "mbstring"],
    "apache_vhosts": [
        {
            "name": "app",
            "server_name": "{{ inventory_hostname }}",
            "aliases": ["rolling.example"],
            "document_root": "/var/www/app",
        }
    ],
}
# A second extension, so that a plain site.yml run restarts Apache again.
SITE_CHANGE = {"php_extensions": ["curl", "mbstring", "bcmath"]}
# The node whose PHP the failing run breaks: every PHP request fails with a
# fatal error, because PHP cannot open the file to prepend.
BROKEN_NODE = WEB_NODES[0]
BROKEN_PHP = {"php_extra_ini": {"auto_prepend_file": "/nonexistent/rolling-test-prepend.php"}}
# Seconds of health check retries in the failing run, to keep it short.
FAILING_HEALTH_TIMEOUT_S = 4
# Time for the last requests to reach the balancer after a playbook ends.
SETTLE_S = 2


@dataclass
class LoadedRun:
    """A playbook run and what the background probes saw meanwhile."""

    run: PlaybookRun
    load: LoadSummary
    drained: list[set[str]]
    apache_pids_before: dict[str, int]


@dataclass
class FailedRun:
    """A rolling update that stopped at the broken node, and the other nodes' files before it."""

    loaded: LoadedRun
    others_before: dict[str, dict[str, bytes]]


@dataclass
class SiteRun:
    """A full site.yml run, and the first web node's files and session check response after it."""

    loaded: LoadedRun
    node_state: dict[str, bytes]
    node_response: dict[str, Any]


def run_under_load(playbook, *args: str, watch_drain: bool = False, **kwargs: Any) -> LoadedRun:
    """Run ``playbook`` while the client requests /session.php through the balancer."""
    pids = {name: apache_main_pid(name) for name in WEB_NODES}
    watch = DrainWatch() if watch_drain else None
    loop = RequestLoop()
    if watch is not None:
        watch.start()
    loop.start()
    try:
        run = run_playbook(playbook, *args, **kwargs)
        time.sleep(SETTLE_S)
    finally:
        records = loop.stop()
        watch_records = watch.stop() if watch is not None else []
    return LoadedRun(run, LoadSummary(records), drained_nodes(watch_records), pids)


def report(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """Print ``text`` in the test output, past pytest's capture."""
    with capsys.disabled():
        print(f"\n{text}")


# Bad input: rejected before any host changes


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-e", "rolling_update_batch_size=0"], "rolling_update_batch_size '0' is invalid"),
        (["-e", "rolling_update_batch_size=two"], "rolling_update_batch_size 'two' is invalid"),
        (["-e", "rolling_update_drain_timeout=-5"], "rolling_update_drain_timeout '-5' is invalid"),
        (["-e", "rolling_update_batch_size=3"], "would drain every node of group"),
        (["--limit", WEB_NODES[0]], "With --limit, add the balancers"),
        (
            ["-e", json.dumps({"nginx_balancer_drained_hosts": [WEB_NODES[0]]})],
            "nginx_balancer_drained_hosts is set as an extra variable",
        ),
    ],
    ids=[
        "batch-size-zero",
        "batch-size-not-a-number",
        "drain-timeout-negative",
        "batch-size-every-node",
        "limit-without-balancers",
        "drained-hosts-extra-var",
    ],
)
def test_rolling_bad_input_rejected(args, expected):
    before = tier_state()
    run = run_playbook(ROLLING_PLAYBOOK, *args)
    assert run.returncode != 0, run.output
    assert any(expected in message for message in run.failure_messages()), run.output
    assert tier_state() == before


# A rolling update under load: no failed request and no lost session


@pytest.fixture(scope="module")
def rolling_run() -> LoadedRun:
    # Without the package, the run installs it again and restarts Apache,
    # also when the tests run a second time on the same nodes.
    for name in WEB_NODES:
        remove_php_extension(name, "mbstring")
    return run_under_load(ROLLING_PLAYBOOK, "-e", json.dumps(ROLLING_CHANGE), watch_drain=True)


def test_rolling_update_succeeds(rolling_run, capsys):
    waits = rolling_run.run.task_runs("Wait until no balancer has a connection open to the node")
    checks = rolling_run.run.task_runs("Request the session check page with a new session")
    report(
        capsys,
        f"rolling_update.yml took {rolling_run.run.duration_s:.0f} s; attempts of the connection wait "
        f"{[(host, result.get('attempts', 1)) for host, result in waits]}, of the first health request "
        f"{[(host, result.get('attempts', 1)) for host, result in checks]}",
    )
    assert rolling_run.run.returncode == 0, rolling_run.run.output


def test_rolling_update_load_all_2xx(rolling_run, capsys):
    report(capsys, rolling_run.load.describe("load during rolling_update.yml"))
    assert rolling_run.load.failed == []


def test_rolling_update_counter_never_resets(rolling_run):
    counts = rolling_run.load.counts
    assert len(counts) == len(rolling_run.load.records)
    assert counts == list(range(1, len(counts) + 1))


def test_rolling_update_keeps_one_session(rolling_run):
    assert len({record.get("session_id") for record in rolling_run.load.records}) == 1


def test_rolling_update_drains_one_node_at_a_time(rolling_run):
    drained = rolling_run.drained
    assert drained[0] == set(), drained
    assert drained[-1] == set(), drained
    assert [nodes for nodes in drained if nodes] == [{name} for name in WEB_NODES], drained


def test_rolling_update_restarts_apache_everywhere(rolling_run):
    for name in WEB_NODES:
        assert apache_main_pid(name) != rolling_run.apache_pids_before[name], f"{name}: Apache was not restarted"


def test_rolling_update_changes_every_vhost(rolling_run):
    for name in WEB_NODES:
        vhost = get_node(name).file("/etc/apache2/sites-available/tier-app.conf").content_string
        assert "ServerAlias rolling.example" in vhost, name


def test_rolling_update_leaves_every_node_in_service(rolling_run):
    lines = upstream_lines()
    assert [name for name, line in lines.items() if is_down(line)] == [], lines


# A node that fails its health check


@pytest.fixture(scope="module")
def broken_inventory(tmp_path_factory: pytest.TempPathFactory):
    return write_inventory(tmp_path_factory.mktemp("inventory"), "broken-php", {"all": {"hosts": {BROKEN_NODE: BROKEN_PHP}}})


@pytest.fixture(scope="module")
def failed_run(broken_inventory) -> FailedRun:
    others = [name for name in WEB_NODES if name != BROKEN_NODE]
    before = {name: web_node_state(name) for name in others}
    loaded = run_under_load(
        ROLLING_PLAYBOOK,
        "-e",
        f"rolling_update_health_timeout={FAILING_HEALTH_TIMEOUT_S}",
        extra_inventory=broken_inventory,
    )
    return FailedRun(loaded, before)


def test_failed_health_check_stops_run(failed_run, capsys):
    report(capsys, f"rolling_update.yml with a broken node took {failed_run.loaded.run.duration_s:.0f} s")
    assert failed_run.loaded.run.returncode != 0, failed_run.loaded.run.output


def test_failed_health_check_names_node(failed_run):
    messages = failed_run.loaded.run.failure_messages()
    assert any(f"{BROKEN_NODE} failed its health check" in message for message in messages), messages


def test_failed_node_stays_drained(failed_run):
    lines = upstream_lines()
    assert is_down(lines[BROKEN_NODE]), lines


def test_other_nodes_stay_in_service(failed_run):
    lines = upstream_lines()
    for name in failed_run.others_before:
        assert not is_down(lines[name]), lines


def test_later_batches_untouched_by_failed_run(failed_run):
    for name, state in failed_run.others_before.items():
        assert failed_run.loaded.run.stats[name]["changed"] == 0, name
        assert web_node_state(name) == state, name


def test_failed_run_load_all_2xx(failed_run, capsys):
    report(capsys, failed_run.loaded.load.describe("load during the failed rolling_update.yml"))
    assert failed_run.loaded.load.failed == []


def test_requests_avoid_failed_node(failed_run):
    client = get_node(CLIENT)
    url = f"http://{NODE_ADDRESSES[BALANCER]}/session.php"
    responses = []
    for _ in range(9):
        output = client.check_output(f"curl -sS -m 5 -w '\\n%{{http_code}}' {url}")
        body, _, status = output.rpartition("\n")
        responses.append((int(status), json.loads(body).get("backend") if body.startswith("{") else body))
    assert {status for status, _ in responses} == {200}, responses
    assert BROKEN_NODE not in {backend for _, backend in responses}, responses


# A plain site.yml run whose handlers restart Apache one node at a time,
# under load. It is also the normal run that repairs the failed node and
# puts it back into the upstream.


@pytest.fixture(scope="module")
def site_run(failed_run) -> SiteRun:
    for name in WEB_NODES:
        remove_php_extension(name, "bcmath")
    loaded = run_under_load(SITE_PLAYBOOK, "-e", json.dumps(SITE_CHANGE))
    node = WEB_NODES[0]
    return SiteRun(loaded, web_node_state(node), local_session_response(node))


def test_site_run_succeeds(site_run, capsys):
    report(capsys, f"site.yml with an Apache restart took {site_run.loaded.run.duration_s:.0f} s")
    assert site_run.loaded.run.returncode == 0, site_run.loaded.run.output


def test_site_run_load_no_server_errors(site_run, capsys):
    report(capsys, site_run.loaded.load.describe("load during site.yml"))
    assert site_run.loaded.load.server_errors == []


def test_site_run_restarts_apache_everywhere(site_run):
    for name in WEB_NODES:
        assert apache_main_pid(name) != site_run.loaded.apache_pids_before[name], f"{name}: Apache was not restarted"


def test_site_run_puts_failed_node_back(site_run):
    lines = upstream_lines()
    assert [name for name, line in lines.items() if is_down(line)] == [], lines


def test_site_run_repairs_failed_node(site_run):
    assert local_session_response(BROKEN_NODE)["save_handler"] == "memcached"


# Runs limited to one web node, compared with the full site run above


@pytest.fixture(scope="module")
def limited_run(site_run) -> PlaybookRun:
    return run_playbook(SITE_PLAYBOOK, "--limit", WEB_NODES[0])


def test_limited_run_succeeds(limited_run, capsys):
    report(capsys, f"site.yml --limit {WEB_NODES[0]} took {limited_run.duration_s:.0f} s")
    assert limited_run.returncode == 0, limited_run.output


@pytest.mark.parametrize("label", ["vhost", "memcached.conf", "firewall rules file", "iptables TIER-INPUT"])
def test_limited_run_renders_like_full_run(site_run, limited_run, label):
    assert web_node_state(WEB_NODES[0])[label] == site_run.node_state[label]


def test_limited_run_keeps_save_path(site_run, limited_run):
    expected = ",".join(f"{NODE_ADDRESSES[name]}:11211" for name in WEB_NODES)
    assert site_run.node_response["save_path"] == expected
    assert local_session_response(WEB_NODES[0])["save_path"] == expected


def test_limited_run_changes_nothing(limited_run):
    assert limited_run.stats[WEB_NODES[0]]["changed"] == 0, limited_run.output


@dataclass
class UncachedRun:
    """A run that knew no other node's address, and the tier's files before and after it."""

    run: PlaybookRun
    before: dict[str, dict[str, bytes]]
    after: dict[str, dict[str, bytes]]


@pytest.fixture(
    scope="module",
    params=[
        (SITE_PLAYBOOK, WEB_NODES[0]),
        (ROLLING_PLAYBOOK, f"{WEB_NODES[0]},balancers"),
    ],
    ids=["site", "rolling_update"],
)
def uncached_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> UncachedRun:
    """Run a playbook limited to one web node with an empty fact cache, so no other web node's address is known."""
    playbook, limit = request.param
    cache = tmp_path_factory.mktemp("empty-fact-cache")
    before = tier_state()
    run = run_playbook(playbook, "--limit", limit, env={"ANSIBLE_CACHE_PLUGIN_CONNECTION": str(cache)})
    return UncachedRun(run, before, tier_state())


def test_inventory_sets_no_tier_address():
    inventory = yaml.safe_load((SCENARIO_DIR / "molecule.yml").read_text())["provisioner"]["inventory"]
    assert "tier_address" not in json.dumps(inventory)


def test_uncached_limited_run_fails(uncached_run):
    assert uncached_run.run.returncode != 0, uncached_run.run.output


def test_uncached_limited_run_names_host_and_fix(uncached_run):
    messages = uncached_run.run.failure_messages()
    unknown = WEB_NODES[1]
    assert any(f"host '{unknown}' has no known tier address" in message for message in messages), messages
    assert any("set tier_address in the inventory" in message for message in messages), messages


def test_uncached_limited_run_changes_nothing(uncached_run):
    for name, state in uncached_run.before.items():
        assert uncached_run.after[name] == state, name
