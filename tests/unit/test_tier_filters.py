"""Unit tests for the web tier address filters in filter_plugins/tier.py."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleError, AnsibleFilterError

from filter_plugins.tier import (
    FilterModule,
    memcached_listen_addresses,
    tier_addresses,
    tier_host_address,
    tier_server_list,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_IPV4 = {"ansible_default_ipv4": {"address": "192.0.2.99", "interface": "eth0"}}


def interface_facts(ipv4: str | None = None, ipv6: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Build an interface fact shaped like the one the setup module gathers."""
    facts: dict[str, Any] = {"active": True, "device": "eth1"}
    if ipv4 is not None:
        facts["ipv4"] = {"address": ipv4, "netmask": "255.255.255.0"}
    if ipv6 is not None:
        facts["ipv6"] = ipv6
    return facts


def error_text(excinfo: pytest.ExceptionInfo[AnsibleFilterError]) -> str:
    return str(excinfo.value)


# tier_host_address: resolution order


def test_host_address_prefers_inventory_variable():
    hostvars = {
        "web1": {
            "tier_address": "192.0.2.11",
            "tier_interface": "eth1",
            "ansible_eth1": interface_facts(ipv4="198.51.100.11"),
            **DEFAULT_IPV4,
        }
    }

    assert tier_host_address("web1", hostvars) == "192.0.2.11"


def test_host_address_uses_interface_before_default():
    hostvars = {
        "web1": {
            "tier_interface": "eth1",
            "ansible_eth1": interface_facts(ipv4="198.51.100.11"),
            **DEFAULT_IPV4,
        }
    }

    assert tier_host_address("web1", hostvars) == "198.51.100.11"


def test_host_address_falls_back_to_default_ipv4():
    hostvars = {"web1": dict(DEFAULT_IPV4)}

    assert tier_host_address("web1", hostvars) == "192.0.2.99"


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_host_address_skips_blank_inventory_variable(blank):
    hostvars = {"web1": {"tier_address": blank, **DEFAULT_IPV4}}

    assert tier_host_address("web1", hostvars) == "192.0.2.99"


@pytest.mark.parametrize("blank", [None, ""])
def test_host_address_skips_blank_interface_variable(blank):
    hostvars = {"web1": {"tier_interface": blank, **DEFAULT_IPV4}}

    assert tier_host_address("web1", hostvars) == "192.0.2.99"


@pytest.mark.parametrize(
    ("interface", "fact"),
    [
        ("eth1", "ansible_eth1"),
        ("ens-3", "ansible_ens_3"),
        ("eth0.100", "ansible_eth0_100"),
        ("br-lan.5", "ansible_br_lan_5"),
    ],
)
def test_host_address_maps_interface_name_to_fact(interface, fact):
    hostvars = {"web1": {"tier_interface": interface, fact: interface_facts(ipv4="198.51.100.11")}}

    assert tier_host_address("web1", hostvars) == "198.51.100.11"


def test_host_address_nested_interface_fact():
    # With INJECT_FACTS_AS_VARS off, facts exist only under ansible_facts.
    hostvars = {
        "web1": {
            "tier_interface": "ens-3",
            "ansible_facts": {"ens_3": interface_facts(ipv4="198.51.100.11")},
        }
    }

    assert tier_host_address("web1", hostvars) == "198.51.100.11"


def test_host_address_nested_default_ipv4():
    hostvars = {"web1": {"ansible_facts": {"default_ipv4": {"address": "192.0.2.99"}}}}

    assert tier_host_address("web1", hostvars) == "192.0.2.99"


def test_host_address_ipv6_only_interface():
    ipv6 = [
        {"address": "fe80::5054:ff:fe12:3456", "prefix": "64", "scope": "link"},
        {"address": "2001:DB8:0:0::11", "prefix": "64", "scope": "global"},
        {"address": "2001:db8::99", "prefix": "64", "scope": "global"},
    ]
    hostvars = {"web1": {"tier_interface": "eth1", "ansible_eth1": interface_facts(ipv6=ipv6)}}

    assert tier_host_address("web1", hostvars) == "2001:db8::11"


def test_host_address_interface_prefers_ipv4():
    ipv6 = [{"address": "2001:db8::11", "prefix": "64", "scope": "global"}]
    hostvars = {
        "web1": {"tier_interface": "eth1", "ansible_eth1": interface_facts(ipv4="198.51.100.11", ipv6=ipv6)}
    }

    assert tier_host_address("web1", hostvars) == "198.51.100.11"


@pytest.mark.parametrize(
    "ipv6",
    [
        None,
        [],
        [{"address": "fe80::5054:ff:fe12:3456", "prefix": "64", "scope": "link"}],
    ],
)
def test_host_address_interface_without_address(ipv6):
    hostvars = {
        "web2": {"tier_interface": "eth1", "ansible_eth1": interface_facts(ipv6=ipv6), **DEFAULT_IPV4}
    }

    with pytest.raises(AnsibleFilterError, match="no IPv4 address and no global IPv6 address") as excinfo:
        tier_host_address("web2", hostvars)

    assert "host 'web2'" in error_text(excinfo)
    assert "'eth1'" in error_text(excinfo)


def test_host_address_interface_facts_missing():
    # A missing interface fact must not fall back to the default route address.
    hostvars = {"web2": {"tier_interface": "ens-3", **DEFAULT_IPV4}}

    with pytest.raises(AnsibleFilterError, match="no facts for tier_interface") as excinfo:
        tier_host_address("web2", hostvars)

    assert "host 'web2'" in error_text(excinfo)
    assert "'ens-3'" in error_text(excinfo)
    assert "ansible_facts.ens_3" in error_text(excinfo)
    assert "gather" in error_text(excinfo)
    assert "set tier_address" in error_text(excinfo)


@pytest.mark.parametrize("interface", [3, ["eth1"]])
def test_host_address_interface_not_a_string(interface):
    hostvars = {"web2": {"tier_interface": interface}}

    with pytest.raises(AnsibleFilterError, match="tier_interface .* is not a string") as excinfo:
        tier_host_address("web2", hostvars)

    assert "host 'web2'" in error_text(excinfo)
    assert repr(interface) in error_text(excinfo)


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"ansible_default_ipv4": {}},
        {"ansible_facts": {}},
        {"tier_address": "", "inventory_hostname": "web2"},
    ],
    ids=["no-variables", "no-default-route", "empty-facts", "blank-tier-address"],
)
def test_host_address_missing_facts_after_limit(variables):
    # A run with --limit leaves the other hosts without facts.
    hostvars = {"web2": variables}
    expected = (
        "host 'web2' has no known tier address: set tier_address in the inventory, or gather its facts "
        "first (run the play without --limit, or enable fact caching)"
    )

    with pytest.raises(AnsibleFilterError, match=re.escape(expected)):
        tier_host_address("web2", hostvars)


def test_host_address_unknown_host():
    hostvars = {"web1": {"tier_address": "192.0.2.11"}}

    with pytest.raises(AnsibleFilterError, match="host 'web9' is not in the inventory"):
        tier_host_address("web9", hostvars)


@pytest.mark.parametrize("host", [None, "", 7])
def test_host_address_host_not_a_name(host):
    with pytest.raises(AnsibleFilterError, match="is not a non-empty string") as excinfo:
        tier_host_address(host, {})

    assert repr(host) in error_text(excinfo)


def test_host_address_hostvars_not_a_mapping():
    with pytest.raises(AnsibleFilterError, match="hostvars is a list, not a mapping"):
        tier_host_address("web1", ["web1"])


# tier_host_address: validation of the resolved address


@pytest.mark.parametrize(
    "value",
    [
        "10.0.0.300",
        "web1.example.com",
        "192.0.2.11/24",
        "192.0.2.011",
        "2001:db8::g",
        "192.0.2.11:80",
        167772161,
        ["192.0.2.11"],
    ],
)
def test_host_address_rejects_invalid_value(value):
    hostvars = {"web2": {"tier_address": value}}

    with pytest.raises(AnsibleFilterError, match="is not a valid IP address") as excinfo:
        tier_host_address("web2", hostvars)

    assert "host 'web2'" in error_text(excinfo)
    assert f"tier_address {value!r}" in error_text(excinfo)
    assert "set tier_address to the node's address on the tier network" in error_text(excinfo)


def test_host_address_names_fact_of_invalid_value():
    hostvars = {"web2": {"tier_interface": "eth1", "ansible_eth1": interface_facts(ipv4="not-an-ip")}}

    with pytest.raises(AnsibleFilterError, match="is not a valid IP address") as excinfo:
        tier_host_address("web2", hostvars)

    assert "ansible_facts.eth1.ipv4.address 'not-an-ip'" in error_text(excinfo)


@pytest.mark.parametrize("value", ["0.0.0.0", "::", "0:0:0:0:0:0:0:0", "::ffff:0.0.0.0"])
def test_host_address_rejects_unspecified(value):
    hostvars = {"web2": {"tier_address": value}}

    with pytest.raises(AnsibleFilterError, match="is the unspecified address") as excinfo:
        tier_host_address("web2", hostvars)

    assert "host 'web2'" in error_text(excinfo)


def test_host_address_rejects_unspecified_default_route():
    hostvars = {"web2": {"ansible_default_ipv4": {"address": "0.0.0.0"}}}

    with pytest.raises(AnsibleFilterError, match="ansible_facts.default_ipv4.address '0.0.0.0'"):
        tier_host_address("web2", hostvars)


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("192.0.2.11", "192.0.2.11"),
        (" 192.0.2.11 ", "192.0.2.11"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8:0000::0001", "2001:db8::1"),
    ],
)
def test_host_address_returns_canonical_form(value, canonical):
    hostvars = {"web1": {"tier_address": value}}

    assert tier_host_address("web1", hostvars) == canonical


# tier_addresses


def test_addresses_preserve_inventory_order():
    hostvars = {
        "web1": {"tier_address": "192.0.2.11"},
        "web2": {"tier_address": "192.0.2.12"},
        "web3": {"tier_address": "192.0.2.13"},
    }

    assert tier_addresses(["web3", "web1", "web2"], hostvars) == ["192.0.2.13", "192.0.2.11", "192.0.2.12"]


def test_addresses_mix_resolution_steps():
    hostvars = {
        "web1": {"tier_address": "192.0.2.11"},
        "web2": {"tier_interface": "ens-3", "ansible_ens_3": interface_facts(ipv4="192.0.2.12")},
        "web3": {"ansible_default_ipv4": {"address": "192.0.2.13"}},
        "web4": {"tier_address": "2001:DB8::14"},
    }

    result = tier_addresses(["web1", "web2", "web3", "web4"], hostvars, "web")

    assert result == ["192.0.2.11", "192.0.2.12", "192.0.2.13", "2001:db8::14"]


@pytest.mark.parametrize("hosts", [[], ()])
def test_addresses_reject_empty_group(hosts):
    expected = "group 'web' is empty: add the web nodes to it in the inventory"

    with pytest.raises(AnsibleFilterError, match=re.escape(expected)):
        tier_addresses(hosts, {}, "web")


def test_addresses_empty_group_names_group():
    with pytest.raises(AnsibleFilterError, match="group 'app' is empty: add the app nodes"):
        tier_addresses([], {}, "app")


def test_addresses_empty_group_names_setting():
    expected = (
        "memcached_peer_group 'app' is invalid: group 'app' is missing or empty in the inventory. "
        "Add the nodes to it, or set memcached_peer_group to the group that contains them."
    )

    with pytest.raises(AnsibleFilterError, match=re.escape(expected)):
        tier_addresses([], {}, "app", "memcached_peer_group")


def test_addresses_host_without_facts():
    # The --limit case: web2 has neither tier_address nor facts.
    hostvars = {"web1": {"tier_address": "192.0.2.11"}, "web2": {}}

    with pytest.raises(AnsibleFilterError, match="host 'web2' has no known tier address"):
        tier_addresses(["web1", "web2"], hostvars)


@pytest.mark.parametrize("value", ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
def test_addresses_reject_loopback(value):
    hostvars = {"web1": {"tier_address": "192.0.2.11"}, "web2": {"tier_address": value}}

    with pytest.raises(AnsibleFilterError, match="is a loopback address") as excinfo:
        tier_addresses(["web1", "web2"], hostvars)

    assert "host 'web2'" in error_text(excinfo)
    assert f"'{ipaddress.ip_address(value)}'" in error_text(excinfo)
    assert "set tier_address to the node's private address" in error_text(excinfo)


def test_addresses_reject_loopback_default_route():
    hostvars = {"web1": {"ansible_default_ipv4": {"address": "127.0.1.1"}}}

    with pytest.raises(AnsibleFilterError, match="host 'web1': tier address '127.0.1.1' is a loopback"):
        tier_addresses(["web1"], hostvars)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("192.0.2.11", "192.0.2.11"),
        ("2001:db8::11", "2001:DB8:0::11"),
    ],
)
def test_addresses_reject_duplicate_across_hosts(first, second):
    hostvars = {
        "web1": {"tier_address": first},
        "web2": {"tier_address": "192.0.2.12"},
        "web3": {"tier_address": second},
    }

    with pytest.raises(AnsibleFilterError, match="both have the tier address") as excinfo:
        tier_addresses(["web1", "web2", "web3"], hostvars)

    assert "'web1'" in error_text(excinfo)
    assert "'web3'" in error_text(excinfo)
    assert f"'{first}'" in error_text(excinfo)


def test_addresses_duplicate_from_interface():
    hostvars = {
        "web1": {"tier_address": "192.0.2.11"},
        "web2": {"tier_interface": "eth1", "ansible_eth1": interface_facts(ipv4="192.0.2.11")},
    }

    with pytest.raises(AnsibleFilterError, match="hosts 'web1' and 'web2' in group 'web' both have"):
        tier_addresses(["web1", "web2"], hostvars)


def test_addresses_reject_host_listed_twice():
    hostvars = {"web1": {"tier_address": "192.0.2.11"}}

    with pytest.raises(AnsibleFilterError, match="host 'web1' is listed twice in group 'web'"):
        tier_addresses(["web1", "web1"], hostvars)


def test_addresses_accept_generator():
    hostvars = {"web1": {"tier_address": "192.0.2.11"}, "web2": {"tier_address": "192.0.2.12"}}

    assert tier_addresses((name for name in ["web2", "web1"]), hostvars) == ["192.0.2.12", "192.0.2.11"]


@pytest.mark.parametrize("hosts", ["web1", None, 3, {"web1"}, {"web1": {}}])
def test_addresses_reject_non_list(hosts):
    with pytest.raises(AnsibleFilterError, match="not as a list of host names") as excinfo:
        tier_addresses(hosts, {"web1": {"tier_address": "192.0.2.11"}})

    assert repr(hosts) in error_text(excinfo)


@pytest.mark.parametrize("name", [None, "", 1, {"name": "web1"}])
def test_addresses_reject_non_string_host(name):
    with pytest.raises(AnsibleFilterError, match="which is not a host name") as excinfo:
        tier_addresses([name], {})

    assert repr(name) in error_text(excinfo)


def test_addresses_reject_unknown_host():
    with pytest.raises(AnsibleFilterError, match="host 'web9' is not in the inventory"):
        tier_addresses(["web9"], {"web1": {"tier_address": "192.0.2.11"}})


# tier_server_list


def test_server_list_default_port():
    assert tier_server_list(["192.0.2.11", "192.0.2.12"]) == ["192.0.2.11:11211", "192.0.2.12:11211"]


def test_server_list_keeps_order():
    assert tier_server_list(["192.0.2.12", "192.0.2.11"], 11211) == ["192.0.2.12:11211", "192.0.2.11:11211"]


@pytest.mark.parametrize(
    ("address", "endpoint"),
    [
        ("2001:db8::1", "[2001:db8::1]:11211"),
        ("2001:DB8:0:0::1", "[2001:db8::1]:11211"),
    ],
)
def test_server_list_brackets_ipv6(address, endpoint):
    assert tier_server_list([address], 11211) == [endpoint]


@pytest.mark.parametrize(
    ("port", "suffix"), [(11211, ":11211"), ("11211", ":11211"), (1, ":1"), ("65535", ":65535")]
)
def test_server_list_accepts_port(port, suffix):
    assert tier_server_list(["192.0.2.11"], port) == [f"192.0.2.11{suffix}"]


@pytest.mark.parametrize(
    "port", [0, 65536, -1, "abc", "", "0", "65536", "+80", "1_1211", "11211.0", 11211.0, True, None]
)
def test_server_list_rejects_port(port):
    with pytest.raises(AnsibleFilterError, match="is not a TCP port number") as excinfo:
        tier_server_list(["192.0.2.11"], port)

    assert f"port {port!r}" in error_text(excinfo)
    assert "1 to 65535" in error_text(excinfo)


@pytest.mark.parametrize(
    ("value", "kind"),
    [("127.0.0.1", "loopback"), ("::1", "loopback"), ("0.0.0.0", "unspecified"), ("::", "unspecified")],
)
def test_server_list_rejects_unreachable(value, kind):
    with pytest.raises(AnsibleFilterError, match=f"is (a|the) {kind} address") as excinfo:
        tier_server_list(["192.0.2.11", value])

    assert f"'{value}'" in error_text(excinfo)


@pytest.mark.parametrize("value", ["192.0.2.300", "web1", "192.0.2.11:11211", "", None, 3232236043])
def test_server_list_rejects_invalid_address(value):
    with pytest.raises(AnsibleFilterError, match="is not a valid IP address") as excinfo:
        tier_server_list([value])

    assert repr(value) in error_text(excinfo)


def test_server_list_rejects_duplicates():
    with pytest.raises(AnsibleFilterError, match="address '2001:db8::1' is listed twice"):
        tier_server_list(["2001:db8::1", "192.0.2.11", "2001:DB8::0:1"])


def test_server_list_rejects_empty():
    with pytest.raises(AnsibleFilterError, match="the address list is empty"):
        tier_server_list([])


@pytest.mark.parametrize("addresses", ["192.0.2.11", None, {"192.0.2.11"}])
def test_server_list_rejects_non_list(addresses):
    with pytest.raises(AnsibleFilterError, match="is not a list of addresses"):
        tier_server_list(addresses)


# memcached_listen_addresses


@pytest.mark.parametrize("extra", [None, "", "  ", []])
def test_listen_primary_only(extra):
    assert memcached_listen_addresses("192.0.2.11", extra) == ["192.0.2.11"]


@pytest.mark.parametrize(
    "extra",
    [
        "127.0.0.1, ::1",
        "127.0.0.1,::1",
        "127.0.0.1 ::1",
        " 127.0.0.1,\n::1, ",
        ["127.0.0.1", "::1"],
        ("127.0.0.1", " ::1 "),
    ],
)
def test_listen_string_and_list_agree(extra):
    assert memcached_listen_addresses("192.0.2.11", extra) == ["192.0.2.11", "127.0.0.1", "::1"]


def test_listen_single_string():
    assert memcached_listen_addresses("192.0.2.11", "127.0.0.1") == ["192.0.2.11", "127.0.0.1"]


def test_listen_keeps_first_seen_order():
    result = memcached_listen_addresses("192.0.2.11", ["::1", "127.0.0.1", "::1", "192.0.2.11"])

    assert result == ["192.0.2.11", "::1", "127.0.0.1"]


def test_listen_deduplicates_canonical_forms():
    result = memcached_listen_addresses("2001:DB8::11", "2001:db8:0::11, 0:0:0:0:0:0:0:1, ::1")

    assert result == ["2001:db8::11", "::1"]


@pytest.mark.parametrize(
    ("primary", "extra"),
    [
        ("0.0.0.0", None),
        ("::", None),
        ("192.0.2.11", "0.0.0.0"),
        ("192.0.2.11", ["127.0.0.1", "::"]),
    ],
)
def test_listen_rejects_wildcard_by_default(primary, extra):
    with pytest.raises(AnsibleFilterError, match="memcached_listen_any: true") as excinfo:
        memcached_listen_addresses(primary, extra)

    assert "every interface" in error_text(excinfo)


@pytest.mark.parametrize("listen_any", [False, "false", "no", 0])
def test_listen_false_strings_reject_wildcard(listen_any):
    with pytest.raises(AnsibleFilterError, match="memcached_listen_any"):
        memcached_listen_addresses("192.0.2.11", "0.0.0.0", listen_any)


@pytest.mark.parametrize("listen_any", [True, "true", "yes", 1])
def test_listen_wildcard_accepted_with_opt_in(listen_any):
    assert memcached_listen_addresses("192.0.2.11", "127.0.0.1, 0.0.0.0", listen_any) == ["0.0.0.0"]


def test_listen_both_wildcards_returned_alone():
    result = memcached_listen_addresses("192.0.2.11", ["::", "::1", "0.0.0.0", "127.0.0.1"], True)

    assert result == ["::", "0.0.0.0"]


def test_listen_ipv6_wildcard_keeps_ipv4_addresses():
    # memcached sets IPV6_V6ONLY, so :: does not accept IPv4 connections.
    result = memcached_listen_addresses("192.0.2.11", "::1, ::, 127.0.0.1", True)

    assert result == ["192.0.2.11", "::", "127.0.0.1"]


def test_listen_opt_in_without_wildcard():
    assert memcached_listen_addresses("192.0.2.11", "::1", True) == ["192.0.2.11", "::1"]


@pytest.mark.parametrize("listen_any", ["maybe", None, [True]])
def test_listen_rejects_non_boolean_opt_in(listen_any):
    with pytest.raises(AnsibleFilterError, match="memcached_listen_any .* is not a boolean") as excinfo:
        memcached_listen_addresses("192.0.2.11", None, listen_any)

    assert repr(listen_any) in error_text(excinfo)


@pytest.mark.parametrize("item", [11211, {"address": "127.0.0.1"}, None, "", ["127.0.0.1"]])
def test_listen_rejects_non_string_item(item):
    with pytest.raises(AnsibleFilterError, match="memcached_extra_listen_addresses contains") as excinfo:
        memcached_listen_addresses("192.0.2.11", ["127.0.0.1", item])

    assert repr(item) in error_text(excinfo)


@pytest.mark.parametrize("extra", [11211, {"127.0.0.1": True}, {"127.0.0.1", "::1"}, b"127.0.0.1"])
def test_listen_rejects_non_list_extra(extra):
    with pytest.raises(AnsibleFilterError, match="is not a string or a list") as excinfo:
        memcached_listen_addresses("192.0.2.11", extra)

    assert "memcached_extra_listen_addresses" in error_text(excinfo)


@pytest.mark.parametrize("extra", ["127.0.0.300", "localhost", "127.0.0.1;::1", ["[::1]"]])
def test_listen_rejects_invalid_extra(extra):
    with pytest.raises(AnsibleFilterError, match="is not a valid IP address") as excinfo:
        memcached_listen_addresses("192.0.2.11", extra)

    assert "memcached_extra_listen_addresses" in error_text(excinfo)


@pytest.mark.parametrize("primary", ["192.0.2.300", 3232236043])
def test_listen_rejects_invalid_primary(primary):
    with pytest.raises(AnsibleFilterError, match="is not a valid IP address") as excinfo:
        memcached_listen_addresses(primary)

    assert f"primary address {primary!r}" in error_text(excinfo)


@pytest.mark.parametrize("primary", [None, "", " "])
def test_listen_rejects_empty_primary(primary):
    with pytest.raises(AnsibleFilterError, match="primary address .* is empty"):
        memcached_listen_addresses(primary)


# FilterModule and Ansible templating


def test_filter_module_exposes_all_filters():
    filters = FilterModule().filters()

    assert filters == {
        "tier_host_address": tier_host_address,
        "tier_addresses": tier_addresses,
        "tier_server_list": tier_server_list,
        "memcached_listen_addresses": memcached_listen_addresses,
    }


INVENTORY = """\
web:
  hosts:
    web1:
      tier_address: 192.0.2.11
    web2:
      tier_interface: ens-3
      ansible_ens_3:
        ipv4:
          address: 192.0.2.12
    web3:
      tier_address: "{{ tier_prefix }}.13"
      tier_prefix: 192.0.2
"""


@pytest.fixture
def templar(tmp_path):
    """Return a real Templar over a YAML inventory, with this project's filter plugins loaded."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import add_all_plugin_dirs
    from ansible.template import Templar
    from ansible.vars.hostvars import HostVars
    from ansible.vars.manager import VariableManager

    inventory_path = tmp_path / "inventory.yml"
    inventory_path.write_text(INVENTORY)

    add_all_plugin_dirs(str(PROJECT_ROOT))
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(inventory_path)])
    variable_manager = VariableManager(loader=loader, inventory=inventory)
    HostVars(inventory=inventory, variable_manager=variable_manager, loader=loader)
    variables = variable_manager.get_vars(host=inventory.get_host("web1"))
    return Templar(loader=loader, variables=variables)


def render(templar, expression: str) -> Any:
    from ansible.template import trust_as_template

    return templar.template(trust_as_template(expression))


def test_templar_renders_server_list(templar):
    result = render(
        templar, "{{ groups['web'] | tier_addresses(hostvars, 'web') | tier_server_list(11211) }}"
    )

    assert result == ["192.0.2.11:11211", "192.0.2.12:11211", "192.0.2.13:11211"]


def test_templar_renders_listen_addresses(templar):
    result = render(
        templar, "{{ 'web2' | tier_host_address(hostvars) | memcached_listen_addresses('127.0.0.1') }}"
    )

    assert result == ["192.0.2.12", "127.0.0.1"]


def test_templar_reports_unknown_host(templar):
    # ansible-core 2.19 wraps the filter's error but keeps its message.
    with pytest.raises(AnsibleError, match="host 'web9' is not in the inventory"):
        render(templar, "{{ 'web9' | tier_host_address(hostvars) }}")
