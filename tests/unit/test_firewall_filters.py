"""Unit tests for the iptables rule rendering in filter_plugins/firewall.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from filter_plugins.firewall import FilterModule, firewall_chain_rules

CHAIN = "TIER-INPUT"
MEMCACHED = {
    "name": "memcached",
    "port": 11211,
    "protocols": ["tcp", "udp"],
    "sources": ["192.0.2.11", "192.0.2.12", "2001:db8::11"],
}
HTTP = {"name": "http", "port": "80", "protocols": ["tcp"], "sources": ["192.0.2.10", "10.0.0.5/8"]}


def test_rules_ipv4_match_iptables_output():
    assert firewall_chain_rules([MEMCACHED], CHAIN, 4) == [
        "-A TIER-INPUT -i lo -j RETURN",
        "-A TIER-INPUT -s 192.0.2.11/32 -p tcp -m tcp --dport 11211 -m comment --comment memcached -j ACCEPT",
        "-A TIER-INPUT -s 192.0.2.12/32 -p tcp -m tcp --dport 11211 -m comment --comment memcached -j ACCEPT",
        "-A TIER-INPUT -p tcp -m tcp --dport 11211 -m comment --comment memcached -j DROP",
        "-A TIER-INPUT -s 192.0.2.11/32 -p udp -m udp --dport 11211 -m comment --comment memcached -j ACCEPT",
        "-A TIER-INPUT -s 192.0.2.12/32 -p udp -m udp --dport 11211 -m comment --comment memcached -j ACCEPT",
        "-A TIER-INPUT -p udp -m udp --dport 11211 -m comment --comment memcached -j DROP",
    ]


def test_rules_ipv6_keep_only_ipv6_sources():
    rules = firewall_chain_rules([MEMCACHED], CHAIN, 6)
    accepted = [rule for rule in rules if rule.endswith("-j ACCEPT")]
    assert accepted == [
        "-A TIER-INPUT -s 2001:db8::11/128 -p tcp -m tcp --dport 11211 -m comment --comment memcached -j ACCEPT",
        "-A TIER-INPUT -s 2001:db8::11/128 -p udp -m udp --dport 11211 -m comment --comment memcached -j ACCEPT",
    ]


def test_rules_ipv6_still_drop_the_port():
    rules = firewall_chain_rules([MEMCACHED], CHAIN, 6)
    assert "-A TIER-INPUT -p tcp -m tcp --dport 11211 -m comment --comment memcached -j DROP" in rules


def test_rules_network_written_canonically():
    rules = firewall_chain_rules([HTTP], CHAIN, 4)
    assert "-A TIER-INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 80 -m comment --comment http -j ACCEPT" in rules


def test_rules_duplicate_sources_listed_once():
    service = dict(MEMCACHED, sources=["192.0.2.11", "192.0.2.11/32"], protocols=["tcp"])
    rules = firewall_chain_rules([service], CHAIN, 4)
    assert len([rule for rule in rules if "-s 192.0.2.11/32" in rule]) == 1


def test_rules_keep_service_order():
    rules = firewall_chain_rules([HTTP, MEMCACHED], CHAIN, 4)
    ports = [rule.split("--dport ")[1].split()[0] for rule in rules if "--dport" in rule]
    assert ports.index("80") < ports.index("11211")


@pytest.mark.parametrize(
    ("family", "target"),
    [
        (4, "-j REJECT --reject-with icmp-port-unreachable"),
        (6, "-j REJECT --reject-with icmp6-port-unreachable"),
    ],
)
def test_rules_reject_target_per_family(family, target):
    rules = firewall_chain_rules([HTTP], CHAIN, family, "REJECT")
    assert rules[-1].endswith(target)


def test_rules_empty_services_only_return_loopback():
    assert firewall_chain_rules([], CHAIN, 4) == ["-A TIER-INPUT -i lo -j RETURN"]


def test_rules_default_protocol_is_tcp():
    rules = firewall_chain_rules([{"name": "ssh", "port": 22, "sources": []}], CHAIN, 4)
    assert rules[-1] == "-A TIER-INPUT -p tcp -m tcp --dport 22 -m comment --comment ssh -j DROP"


@pytest.mark.parametrize("chain", ["INPUT", "FORWARD", "", "A" * 29, "has space", 5])
def test_chain_name_rejected(chain):
    with pytest.raises(AnsibleFilterError, match="firewall_chain"):
        firewall_chain_rules([], chain, 4)


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ({"name": "http", "port": 0, "sources": []}, "port 0 is invalid"),
        ({"name": "http", "port": 65536, "sources": []}, "port 65536 is invalid"),
        ({"name": "http", "port": "eighty", "sources": []}, "port 'eighty' is invalid"),
        ({"name": "http", "port": True, "sources": []}, "port True is invalid"),
        ({"name": "http", "port": 80, "protocols": ["sctp"], "sources": []}, "protocol 'sctp' is invalid"),
        ({"name": "http", "port": 80, "sources": ["192.0.2.300"]}, "'192.0.2.300' is not an IP address"),
        ({"name": "http", "port": 80, "sources": [11]}, "source 11 is not a string"),
        ({"name": "http", "port": 80, "sources": "192.0.2.1"}, "sources must be a list"),
        ({"name": "has space", "port": 80, "sources": []}, "name 'has space' is invalid"),
        ({"port": 80, "sources": []}, "name None is invalid"),
        ("http", "is not a mapping"),
    ],
)
def test_invalid_service_rejected(service, message):
    with pytest.raises(AnsibleFilterError, match=message):
        firewall_chain_rules([service], CHAIN, 4)


def test_port_claimed_twice_rejected():
    other = dict(HTTP, name="web")
    with pytest.raises(AnsibleFilterError, match="'web' and 'http' both claim tcp port 80"):
        firewall_chain_rules([HTTP, other], CHAIN, 4)


def test_invalid_action_rejected():
    with pytest.raises(AnsibleFilterError, match="firewall_deny_action 'ACCEPT'"):
        firewall_chain_rules([HTTP], CHAIN, 4, "ACCEPT")


def test_invalid_family_rejected():
    with pytest.raises(AnsibleFilterError, match="family 5"):
        firewall_chain_rules([HTTP], CHAIN, 5)


def test_services_mapping_rejected():
    with pytest.raises(AnsibleFilterError, match="must be a list of services"):
        firewall_chain_rules(HTTP, CHAIN, 4)


def test_filter_module_exposes_rules():
    assert FilterModule().filters() == {"firewall_chain_rules": firewall_chain_rules}
