"""Sessions survive the loss of a node, its return, and restarts of memcached.

The tests run in file order and build on each other: 300 sessions are
created through the balancer, then every step revisits all of them and
checks that each counter went up by one in the same session. The steps:

  1. every session is stored on replicas + 1 memcached nodes;
  2. only memcached stops on web3 while Apache keeps running. It starts
     again after the warm restart limit, so cold, and resyncs. For
     comparison, a cold restart without the resync loses sessions;
  3. the resync's block drops peers and local non-root users, not root;
  4. web2's container stops: the sessions live on the other nodes;
  5. web2 comes back with an empty memcached, which copies the keys from its
     peers before it accepts clients: no session reads as empty;
  6. an invalid session lifetime, memory file or resync setting fails
     before any host changes;
  7. a configuration change restarts web1's memcached warm: 1000 items stay.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import (
    CLIENT,
    NODE_ADDRESSES,
    SCENARIO_DIR,
    SESSION_URL,
    TESTS_DIR,
    WEB_NODES,
    Outcome,
    Pass,
    advance,
    classify,
    create_sessions,
    docker,
    host,
    locate_keys,
    record,
    revisit_sessions,
    run_playbook,
    run_script,
    session_keys,
    unit_log,
    wait_for_boot,
)

SESSIONS = 300
# Every request through the balancer must complete within this many seconds.
MAX_RESPONSE_TIME = 2.0
STOPPED_NODE = "failover-web2"
MEMCACHED_STOPPED_NODE = "failover-web3"
WARM_NODE = "failover-web1"
WARM_ITEMS = 1000
# memcached_warm_restart_max_age, the role's default.
WARM_RESTART_MAX_AGE = 10


@dataclass
class Tier:
    """The sessions with their latest counters, and the store settings PHP reports."""

    sessions: list[dict[str, Any]]
    prefix: str
    replicas: int


@dataclass
class Step:
    """One revisit of every session: the raw results and how they compare."""

    run: Pass
    outcome: Outcome


def revisit(tier: Tier, figure: str) -> Step:
    """Revisit every session, record the figures, and advance the tier's counters."""
    run = revisit_sessions(tier.sessions)
    outcome = classify(tier.sessions, run)
    record(figure, outcome.as_figures(run))
    tier.sessions = advance(tier.sessions, run)
    return Step(run, outcome)


def slow_requests(run: Pass) -> list[str]:
    """Return the requests that took MAX_RESPONSE_TIME or longer, with the node that served each."""
    return [
        f"{r.get('backend')}: {r['elapsed']:.2f} s" for r in run.results if r["elapsed"] >= MAX_RESPONSE_TIME
    ]


def resync_summary(log: str) -> str:
    prefixes = ("blocked", "resync", "catch-up", "cold start", "warm restart", "unblocked")
    lines = [line for line in log.splitlines() if line.startswith(prefixes)]
    return " | ".join(lines)


# Fixtures, one per step, each depending on the step before it


@pytest.fixture(scope="module")
def tier() -> Tier:
    settings = json.loads(host(CLIENT).check_output(f"curl -sS -m 5 {SESSION_URL}"))
    created = create_sessions(SESSIONS)
    sessions = [
        {"cookie": r.get("cookie"), "session_id": r.get("session_id"), "count": r.get("count")}
        for r in created.results
    ]
    record("create", {"sessions": len(created.results), "failed": len(created.failed()),
                      "slowest_s": round(created.slowest, 3), "duration_s": round(created.duration, 2)})  # fmt: skip
    return Tier(sessions, settings["sess_prefix"], int(settings["settings"]["memcached.sess_number_of_replicas"]))


@pytest.fixture(scope="module")
def node_lost(tier: Tier, blocked: dict[str, str]) -> Step:
    result = docker("stop", "--time", "20", STOPPED_NODE, timeout=60)
    assert result.returncode == 0, result.stderr
    return revisit(tier, f"{STOPPED_NODE} container stopped")


@pytest.fixture(scope="module")
def node_back(tier: Tier, node_lost: Step) -> Step:
    started = int(time.time())
    result = docker("start", STOPPED_NODE, timeout=60)
    assert result.returncode == 0, result.stderr
    state = wait_for_boot(STOPPED_NODE)
    assert state in ("running", "degraded"), f"{STOPPED_NODE} did not finish booting: {state}"
    record(f"{STOPPED_NODE} resync at boot", resync_summary(unit_log(STOPPED_NODE, "memcached", f"@{started}")))
    return revisit(tier, f"{STOPPED_NODE} back")


@pytest.fixture(scope="module")
def memcached_down(tier: Tier) -> tuple[Step, float]:
    host(MEMCACHED_STOPPED_NODE).check_output("systemctl stop memcached")
    stopped = time.time()
    return revisit(tier, f"memcached stopped on {MEMCACHED_STOPPED_NODE}"), stopped


@pytest.fixture(scope="module")
def memcached_back(tier: Tier, memcached_down: tuple[Step, float]) -> tuple[Step, str]:
    # After the warm restart limit the memory file is discarded: memcached
    # starts empty and copies the sessions from its peers.
    _, stopped = memcached_down
    time.sleep(max(0.0, stopped + WARM_RESTART_MAX_AGE + 1 - time.time()))
    started = int(time.time())
    host(MEMCACHED_STOPPED_NODE).check_output("systemctl start memcached")
    log = unit_log(MEMCACHED_STOPPED_NODE, "memcached", f"@{started}")
    record(f"memcached on {MEMCACHED_STOPPED_NODE} back", resync_summary(log))
    return revisit(tier, f"memcached back on {MEMCACHED_STOPPED_NODE}"), log


# 1. Creation and replication


def test_create_all_succeed(tier):
    assert [s["count"] for s in tier.sessions].count(None) == 0


def test_create_sessions_new(tier):
    assert {s["count"] for s in tier.sessions} == {1}


def test_create_session_ids_unique(tier):
    assert len({s["session_id"] for s in tier.sessions}) == SESSIONS


def test_replicas_cover_every_node(tier):
    assert tier.replicas == len(WEB_NODES) - 1


def test_sessions_on_replicas_plus_one_nodes(tier):
    located = locate_keys(session_keys(tier.prefix, tier.sessions))
    assert located["errors"] == {}
    copies = {key: len(servers) for key, servers in located["holders"].items()}
    record("copies per session after create", sorted(set(copies.values())))
    short = {key: n for key, n in copies.items() if n != tier.replicas + 1}
    assert short == {}, f"{len(short)} sessions not on {tier.replicas + 1} nodes"


# 2. Only memcached stops on one node, then starts cold


def test_memcached_down_no_failed_request(memcached_down):
    step, _ = memcached_down
    assert step.outcome.failed == []


def test_memcached_down_no_session_lost(memcached_down):
    step, _ = memcached_down
    assert step.outcome.lost == []


def test_memcached_down_no_stale_session(memcached_down):
    step, _ = memcached_down
    assert step.outcome.stale == []


def test_memcached_down_responses_fast(memcached_down):
    step, _ = memcached_down
    slow = slow_requests(step.run)
    assert slow == [], f"{len(slow)} requests took {MAX_RESPONSE_TIME} s or more"


def test_memcached_down_apache_serves(memcached_down):
    step, _ = memcached_down
    assert MEMCACHED_STOPPED_NODE in {r.get("backend") for r in step.run.results}


def test_memcached_back_started_cold(memcached_back):
    _, log = memcached_back
    assert "cold start: deleted" in log


def test_memcached_back_resynced(memcached_back):
    _, log = memcached_back
    assert "resync finished" in log
    assert "2 of 2 peers read completely" in log


def test_memcached_back_no_session_lost(memcached_back):
    step, _ = memcached_back
    assert step.outcome.lost == []


def test_memcached_back_no_stale_session(memcached_back):
    step, _ = memcached_back
    assert step.outcome.stale == []


def test_memcached_back_no_failed_request(memcached_back):
    step, _ = memcached_back
    assert step.outcome.failed == []


def test_memcached_back_responses_fast(memcached_back):
    step, _ = memcached_back
    slow = slow_requests(step.run)
    assert slow == [], f"{len(slow)} requests took {MAX_RESPONSE_TIME} s or more"


# 2b. The same node restarted cold without the resync, for comparison


@pytest.fixture(scope="module")
def without_resync(tier: Tier, memcached_back) -> Step:
    """Restart memcached cold with the resync off, revisit, then restore the role's defaults.

    Turning warm restart off changes memcached.conf, so the role restarts
    memcached, and it starts empty. Turning it back on restarts it once more,
    with the resync, which copies every session back.
    """
    node = MEMCACHED_STOPPED_NODE
    switched_off = run_playbook(
        TESTS_DIR / "memcached_role.yml", "--limit", node,
        "-e", "memcached_resync_on_start=false", "-e", "memcached_warm_restart=false",
    )  # fmt: skip
    assert switched_off.returncode == 0, switched_off.stdout[-3000:]
    step = revisit(tier, f"memcached on {node} restarted cold without resync")
    restored = run_playbook(TESTS_DIR / "memcached_role.yml", "--limit", node)
    assert restored.returncode == 0, restored.stdout[-3000:]
    return step


def test_without_resync_no_failed_request(without_resync):
    assert without_resync.outcome.failed == []


# Every session whose primary copy is on the restarted node reads as empty,
# because php-memcached reads the primary only: about a third of them.
def test_without_resync_loses_primary_share(without_resync):
    lost = len(without_resync.outcome.lost)
    assert lost > 0, "no session was lost: php-memcached may now read replicas on a miss, so re-measure"
    assert lost <= SESSIONS // 2


def test_without_resync_no_stale_session(without_resync):
    assert without_resync.outcome.stale == []


# 3. The resync's block, applied by hand on a running node

_PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], 11211), timeout=1.5).close()
    print("open")
except TimeoutError:
    print("timeout")
except OSError as error:
    print("error", error.errno)
"""


def probe(container: str, target: str, user: str = "root") -> str:
    command = f"runuser -u {user} -- python3 -c {shlex.quote(_PROBE)} {target}"
    return host(container).check_output(command)


@pytest.fixture(scope="module")
def blocked(without_resync) -> dict[str, str]:
    node = MEMCACHED_STOPPED_NODE
    address = NODE_ADDRESSES[node]
    helper = host(node)
    helper.check_output("tier-memcached-resync prestart")
    try:
        seen = {
            "peer": probe(WARM_NODE, address),
            "local www-data": probe(node, address, "www-data"),
            "local root": probe(node, address),
            "firewall check": str(helper.run("tier-firewall check").rc),
        }
    finally:
        helper.check_output("tier-memcached-resync unblock")
    seen["peer after unblock"] = probe(WARM_NODE, address)
    seen["mangle rules after unblock"] = helper.check_output("iptables -w -t mangle -S")
    return seen


def test_block_drops_peer(blocked):
    assert blocked["peer"] == "timeout"


def test_block_drops_local_user(blocked):
    # TCP retransmits a SYN dropped in OUTPUT, so connect() times out.
    assert blocked["local www-data"] == "timeout"


def test_block_lets_root_in(blocked):
    assert blocked["local root"] == "open"


def test_block_not_firewall_drift(blocked):
    assert blocked["firewall check"] == "0"


def test_unblock_opens_peer(blocked):
    assert blocked["peer after unblock"] == "open"


def test_unblock_removes_chains(blocked):
    assert "TIER-RESYNC" not in blocked["mangle rules after unblock"]


# 4. A web node's container stops


def test_node_lost_no_failed_request(node_lost):
    assert node_lost.outcome.failed == []


def test_node_lost_no_session_lost(node_lost):
    assert node_lost.outcome.lost == []


def test_node_lost_no_stale_session(node_lost):
    assert node_lost.outcome.stale == []


def test_node_lost_no_new_session(node_lost):
    assert node_lost.outcome.new_id == []


def test_node_lost_responses_fast(node_lost):
    slow = slow_requests(node_lost.run)
    assert slow == [], f"{len(slow)} requests took {MAX_RESPONSE_TIME} s or more"


def test_node_lost_not_serving(node_lost):
    assert STOPPED_NODE not in {r.get("backend") for r in node_lost.run.results}


# 5. The node comes back with an empty memcached and resyncs


def test_rejoin_no_failed_request(node_back):
    assert node_back.outcome.failed == []


def test_rejoin_no_session_lost(node_back):
    assert node_back.outcome.lost == []


def test_rejoin_no_stale_session(node_back):
    assert node_back.outcome.stale == []


def test_rejoin_no_new_session(node_back):
    assert node_back.outcome.new_id == []


def test_rejoin_responses_fast(node_back):
    slow = slow_requests(node_back.run)
    assert slow == [], f"{len(slow)} requests took {MAX_RESPONSE_TIME} s or more"


def test_rejoin_copies_on_every_node(tier, node_back):
    located = locate_keys(session_keys(tier.prefix, tier.sessions))
    assert located["errors"] == {}
    missing = [key for key, servers in located["holders"].items() if len(servers) != len(WEB_NODES)]
    assert missing == [], f"{len(missing)} sessions are not on every node"


def test_rejoin_block_removed(node_back):
    rules = host(STOPPED_NODE).check_output("iptables -w -t mangle -S")
    assert "TIER-RESYNC" not in rules


# 6. Invalid settings fail before any host changes

# Each case: the extra variable, and a part of the message that must name it.
INVALID_SETTINGS = {
    # memcached reads an expiry above 30 days as an absolute Unix time.
    "session lifetime over 30 days": ("php_session_lifetime=2678400", "exceeds memcached's limit of 2592000"),
    "memory file larger than the tmpfs": ("memcached_memory_mb=100000000", "memcached_memory_mb=100000000 needs"),
    "memory file on disk": ("memcached_warm_restart_dir=/var/lib/memcached-warm", "not on a tmpfs"),
    "resync time limit zero": ("memcached_resync_timeout=0", "memcached_resync_timeout '0' is invalid"),
}

_WATCHED_FILES = [
    "/etc/apache2/sites-available/tier-app.conf",
    "/etc/memcached.conf",
    "/etc/tier-memcached-resync.json",
]


def read_watched(name: str) -> dict[str, bytes]:
    result = {}
    for path in _WATCHED_FILES:
        completed = docker("exec", name, "cat", path)
        result[path] = completed.stdout.encode()
    return result


@pytest.fixture(scope="module")
def invalid_runs(node_back) -> dict[str, Any]:
    """Run converge.yml once per invalid setting, in parallel, and read the watched files around it."""
    before = {name: read_watched(name) for name in WEB_NODES}
    with ThreadPoolExecutor(max_workers=len(INVALID_SETTINGS)) as pool:
        runs = list(pool.map(lambda case: run_playbook(SCENARIO_DIR / "converge.yml", "-e", case[0]),
                             INVALID_SETTINGS.values()))  # fmt: skip
    after = {name: read_watched(name) for name in WEB_NODES}
    return {"runs": dict(zip(INVALID_SETTINGS, runs)), "before": before, "after": after}


@pytest.mark.parametrize("case", list(INVALID_SETTINGS))
def test_invalid_setting_fails(invalid_runs, case):
    run = invalid_runs["runs"][case]
    assert run.returncode != 0, run.stdout[-3000:]


@pytest.mark.parametrize("case", list(INVALID_SETTINGS))
def test_invalid_setting_named(invalid_runs, case):
    run = invalid_runs["runs"][case]
    _, message = INVALID_SETTINGS[case]
    # ansible-core 2.19 prints failed results on stderr.
    assert message in run.stdout + run.stderr, run.stderr[-3000:]


@pytest.mark.parametrize("case", list(INVALID_SETTINGS))
def test_invalid_setting_no_host_changed(invalid_runs, case):
    run = invalid_runs["runs"][case]
    changed = re.findall(r"\bchanged=([0-9]+)", run.stdout)
    assert changed, run.stdout[-3000:]
    assert set(changed) == {"0"}


def test_invalid_settings_files_unchanged(invalid_runs):
    before, after = invalid_runs["before"], invalid_runs["after"]
    for name in WEB_NODES:
        for path in _WATCHED_FILES:
            assert before[name][path], f"{name}: {path} is empty or missing"
            assert after[name][path] == before[name][path], f"{name}: {path} changed"


# 7. A configuration change restarts memcached warm


def memcached_pid(name: str) -> str:
    return host(name).check_output("systemctl show --property MainPID --value memcached")


def count_items(prefix: str) -> dict[str, int]:
    order = {"action": "count", "server": f"{NODE_ADDRESSES[WARM_NODE]}:11211", "prefix": prefix, "count": WARM_ITEMS}
    return run_script(WARM_NODE, "memcached_keys.py", order, timeout=60)


@pytest.fixture(scope="module")
def warm_restart(invalid_runs) -> dict[str, Any]:
    prefix = f"failover.warm.{int(time.time())}."
    order = {"action": "fill", "server": f"{NODE_ADDRESSES[WARM_NODE]}:11211", "prefix": prefix,
             "count": WARM_ITEMS, "ttl": 3600}  # fmt: skip
    stored = run_script(WARM_NODE, "memcached_keys.py", order, timeout=60)["stored"]
    pid_before = memcached_pid(WARM_NODE)
    started = int(time.time())

    changed = run_playbook(
        TESTS_DIR / "memcached_role.yml", "--limit", WARM_NODE, "-e", "memcached_max_connections=1000"
    )
    pid_changed = memcached_pid(WARM_NODE)
    after_change = count_items(prefix)
    config = host(WARM_NODE).file("/etc/memcached.conf").content_string

    # Put the scenario's configuration back, which restarts warm once more.
    restored = run_playbook(TESTS_DIR / "memcached_role.yml", "--limit", WARM_NODE)
    pid_restored = memcached_pid(WARM_NODE)
    after_restore = count_items(prefix)
    log = unit_log(WARM_NODE, "memcached", f"@{started}")

    figures = {"stored": stored, "after change": after_change, "after restore": after_restore}
    record(f"warm restart on {WARM_NODE}", figures)
    return {
        "stored": stored,
        "runs": (changed, restored),
        "pids": (pid_before, pid_changed, pid_restored),
        "config": config,
        "after_change": after_change,
        "after_restore": after_restore,
        "log": log,
    }


def test_warm_items_stored(warm_restart):
    assert warm_restart["stored"] == WARM_ITEMS


def test_warm_playbooks_succeed(warm_restart):
    for run in warm_restart["runs"]:
        assert run.returncode == 0, run.stdout[-3000:]


def test_warm_config_changed(warm_restart):
    assert "-c 1000" in warm_restart["config"].splitlines()


def test_warm_memcached_restarted(warm_restart):
    before, changed, restored = warm_restart["pids"]
    assert changed != before
    assert restored != changed


def test_warm_items_survive_change(warm_restart):
    assert warm_restart["after_change"] == {"present": WARM_ITEMS, "intact": WARM_ITEMS}


def test_warm_items_survive_restore(warm_restart):
    assert warm_restart["after_restore"] == {"present": WARM_ITEMS, "intact": WARM_ITEMS}


def test_warm_restart_file_kept(warm_restart):
    assert warm_restart["log"].count("warm restart: keeping") == 2


def test_warm_restart_not_discarded(warm_restart):
    # memcached logs "[restart] ... starting with a clean cache" when it
    # cannot use the memory file (seen with 1.6.18).
    assert "starting with a clean cache" not in warm_restart["log"]


# The end state


def test_no_block_left(warm_restart):
    for name in WEB_NODES:
        assert "TIER-RESYNC" not in host(name).check_output("iptables -w -t mangle -S"), name


def test_firewall_without_drift(warm_restart):
    for name in WEB_NODES:
        assert host(name).run("tier-firewall check").rc == 0, name
