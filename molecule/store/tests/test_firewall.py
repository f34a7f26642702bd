"""The firewall chain on every node: exact rules, one jump, foreign rules untouched."""

import pytest
from conftest import ALL_NODES, CHAIN, FOREIGN_RULES, OUTSIDE_NODES, expected_chain, iptables_rules, web_addresses

testinfra_hosts = ["ansible://web"]

JUMP = f"-A INPUT -j {CHAIN}"


def test_rules_no_duplicates(host):
    rules = iptables_rules(host)
    duplicates = sorted({rule for rule in rules if rules.count(rule) > 1})
    assert duplicates == []


def test_input_single_jump(host):
    assert iptables_rules(host, "INPUT").count(JUMP) == 1


def test_input_jump_first(host):
    input_rules = [rule for rule in iptables_rules(host, "INPUT") if rule.startswith("-A ")]
    assert input_rules[0] == JUMP


def test_chain_rules_in_order(host):
    live = [rule for rule in iptables_rules(host, CHAIN) if rule.startswith("-A ")]
    assert live == expected_chain(web_addresses())


def test_input_policy_unchanged(host):
    assert "-P INPUT ACCEPT" in iptables_rules(host)


def test_rules_file_matches_chain(host):
    lines = host.file("/etc/tier-firewall/rules.v4").content_string.splitlines()
    assert [line for line in lines if line.startswith("-A ")] == expected_chain(web_addresses())


def test_boot_unit_enabled(host):
    assert host.service("tier-firewall").is_enabled


@pytest.mark.parametrize("name", ALL_NODES)
@pytest.mark.parametrize("rule", FOREIGN_RULES)
def test_foreign_rule_kept(node, name, rule):
    assert rule in iptables_rules(node(name))


@pytest.mark.parametrize("name", OUTSIDE_NODES)
def test_outside_node_no_chain(node, name):
    assert node(name).run(f"iptables -w -S {CHAIN}").rc != 0
