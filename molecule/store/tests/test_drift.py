"""Hand-made changes to the chain: converge puts the rules back, and a second converge changes nothing."""

import pytest
from conftest import CHAIN, WEB_NODES, chain_rules, converge, expected_chain, get_node, iptables_rules, web_addresses

pytestmark = pytest.mark.changes_nodes

FLUSHED = "store-web2"
DOUBLE_JUMP = "store-web1"
APPLY_TASK = "firewall : Apply the rules"
JUMP = f"-A INPUT -j {CHAIN}"


@pytest.fixture(scope="module")
def drift_runs():
    """Flush the chain on one node and add a second jump on another, then converge twice."""
    get_node(FLUSHED).check_output(f"iptables -w -F {CHAIN}")
    get_node(DOUBLE_JUMP).check_output(f"iptables -w -A INPUT -j {CHAIN}")
    try:
        first = converge()
        second = converge()
    finally:
        # If a converge failed, the role's own apply script still restores the chain.
        for name in (FLUSHED, DOUBLE_JUMP):
            host = get_node(name)
            if host.run("/usr/local/sbin/tier-firewall check").rc != 0:
                host.check_output("/usr/local/sbin/tier-firewall apply")
    return first, second


def test_drift_converge_succeeds(drift_runs):
    first, _ = drift_runs
    assert first.returncode == 0, first.output


@pytest.mark.parametrize("name", [FLUSHED, DOUBLE_JUMP])
def test_drift_apply_changed(drift_runs, name):
    first, _ = drift_runs
    assert first.task_results(APPLY_TASK)[name].get("changed") is True


def test_drift_untouched_node_skipped(drift_runs):
    first, _ = drift_runs
    untouched = next(name for name in WEB_NODES if name not in (FLUSHED, DOUBLE_JUMP))
    assert first.task_results(APPLY_TASK)[untouched].get("skipped") is True


def test_drift_flushed_chain_restored(drift_runs):
    assert chain_rules(get_node(FLUSHED)) == expected_chain(web_addresses())


def test_drift_double_jump_removed(drift_runs):
    assert iptables_rules(get_node(DOUBLE_JUMP), "INPUT").count(JUMP) == 1


def test_drift_jump_back_first(drift_runs):
    # The extra jump went to the end of INPUT, below the foreign rule. The
    # repair must keep the jump at the top, not whichever copy is left.
    input_rules = [rule for rule in iptables_rules(get_node(DOUBLE_JUMP), "INPUT") if rule.startswith("-A ")]
    assert input_rules[0] == JUMP


def test_drift_foreign_rule_kept(drift_runs):
    assert "-A INPUT -p tcp -m tcp --dport 2222 -j FOREIGN-GUARD" in iptables_rules(get_node(DOUBLE_JUMP))


def test_drift_second_converge_succeeds(drift_runs):
    _, second = drift_runs
    assert second.returncode == 0, second.output


@pytest.mark.parametrize("name", WEB_NODES)
def test_drift_second_converge_unchanged(drift_runs, name):
    _, second = drift_runs
    assert second.stats[name]["changed"] == 0
