"""Jinja filters that resolve and validate the addresses of the web tier.

Every web node runs Apache+PHP and a memcached that stores the PHP sessions of
the whole tier, so each node must know the address of every other node. These
filters turn inventory variables and gathered facts into those addresses and
raise ``AnsibleFilterError`` with the host, the variable, the bad value and the
fix, so that a wrong inventory fails the play instead of rendering a broken
configuration.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_MEMCACHED_PORT = 11211

# Separators accepted between addresses in a string value of
# memcached_extra_listen_addresses: commas, whitespace or both.
_LISTEN_SEPARATORS = re.compile(r"[\s,]+")
_DIGITS = re.compile(r"[0-9]+")


# Parsing and classifying single addresses


def _parse_ip(value: Any) -> IPAddress | None:
    """Return ``value`` as an IP address, or None unless it is a valid address string.

    Only strings are parsed, because ``ipaddress.ip_address`` also accepts
    integers and packed bytes, and ``5`` is not meant as ``0.0.0.5``.
    """
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _unmapped(address: IPAddress) -> IPAddress:
    """Return the IPv4 address inside an IPv4-mapped IPv6 address, else ``address``.

    Python 3.11 reports ``::ffff:127.0.0.1`` as neither loopback nor
    unspecified, so the checks below look at the embedded IPv4 address.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_loopback(address: IPAddress) -> bool:
    return _unmapped(address).is_loopback


def _is_unspecified(address: IPAddress) -> bool:
    return _unmapped(address).is_unspecified


def _unreachable_kind(address: IPAddress) -> str | None:
    """Return why peers cannot connect to ``address``, or None if they can."""
    if _is_loopback(address):
        return "a loopback address"
    if _is_unspecified(address):
        return "the unspecified address"
    return None


def _is_ordered_collection(value: Any) -> bool:
    """Return whether ``value`` is a list-like iterable with a stable order.

    Strings, bytes, mappings and sets are excluded because iterating them yields
    characters, keys or an arbitrary order, and an arbitrary order would change
    the rendered file on every run.
    """
    if isinstance(value, (str, bytes, Mapping, Set)):
        return False
    return isinstance(value, Iterable)


# Reading host variables and facts


def _host_variables(host: Any, hostvars: Any) -> Mapping[str, Any]:
    """Return the variables of ``host``, raising unless ``hostvars`` has the host."""
    if not isinstance(host, str) or not host:
        raise AnsibleFilterError(
            f"host name {host!r} is not a non-empty string; "
            "pass an inventory host name, for example 'web1' | tier_host_address(hostvars)"
        )
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError(
            f"hostvars is a {type(hostvars).__name__}, not a mapping of host names to variables; "
            f"pass the hostvars variable, for example '{host}' | tier_host_address(hostvars)"
        )
    if host not in hostvars:
        raise AnsibleFilterError(
            f"host '{host}' is not in the inventory; " "add it to the inventory or correct the host name"
        )
    return hostvars[host]


def _is_set(value: Any) -> bool:
    """Return whether an inventory variable has a value: not None and not blank."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    return True


def _fact(variables: Mapping[str, Any], name: str) -> Any:
    """Return the fact ``name`` (without the ``ansible_`` prefix), or None if missing.

    Facts are looked up as top-level ``ansible_<name>`` variables first, then in
    ``ansible_facts``, which still works when INJECT_FACTS_AS_VARS is off.
    """
    value = variables.get(f"ansible_{name}")
    if value is not None:
        return value
    facts = variables.get("ansible_facts")
    if isinstance(facts, Mapping):
        return facts.get(name)
    return None


def _interface_fact_name(interface: str) -> str:
    """Return the fact name of an interface as the setup module writes it.

    For example, ``ens-3`` becomes ``ens_3`` and ``eth0.100`` becomes ``eth0_100``.
    """
    return interface.replace("-", "_").replace(".", "_")


def _interface_address(host: str, interface: Any, variables: Mapping[str, Any]) -> tuple[str, Any]:
    """Return the fact path and value of the IPv4 address of ``interface``.

    An interface without IPv4 yields its first IPv6 address with scope ``global``.
    """
    if not isinstance(interface, str):
        raise AnsibleFilterError(
            f"host '{host}': tier_interface {interface!r} is not a string; "
            "set it to an interface name such as 'eth1'"
        )

    interface = interface.strip()
    # Named as a play reads it with inject_facts_as_vars off, as ansible.cfg sets.
    fact = f"ansible_facts.{_interface_fact_name(interface)}"
    details = _fact(variables, _interface_fact_name(interface))
    if not isinstance(details, Mapping):
        raise AnsibleFilterError(
            f"host '{host}': no facts for tier_interface '{interface}' (fact '{fact}' is missing); "
            "gather the host's facts first (run the play without --limit, or enable fact caching), "
            "check the interface name, or set tier_address"
        )

    ipv4 = details.get("ipv4")
    if isinstance(ipv4, Mapping) and _is_set(ipv4.get("address")):
        return f"{fact}.ipv4.address", ipv4["address"]

    for entry in details.get("ipv6") or []:
        if isinstance(entry, Mapping) and entry.get("scope") == "global" and _is_set(entry.get("address")):
            return f"global address in {fact}.ipv6", entry["address"]

    raise AnsibleFilterError(
        f"host '{host}': tier_interface '{interface}' has no IPv4 address and no global IPv6 address; "
        "set tier_interface to the interface on the tier network, or set tier_address"
    )


def _raw_host_address(host: str, variables: Mapping[str, Any]) -> tuple[str, Any]:
    """Return the name of the variable or fact that supplies the host's address, and its raw value."""
    tier_address = variables.get("tier_address")
    if _is_set(tier_address):
        return "tier_address", tier_address

    tier_interface = variables.get("tier_interface")
    if _is_set(tier_interface):
        return _interface_address(host, tier_interface, variables)

    default_ipv4 = _fact(variables, "default_ipv4")
    if isinstance(default_ipv4, Mapping) and _is_set(default_ipv4.get("address")):
        return "ansible_facts.default_ipv4.address", default_ipv4["address"]

    raise AnsibleFilterError(
        f"host '{host}' has no known tier address: set tier_address in the inventory, "
        "or gather its facts first (run the play without --limit, or enable fact caching)"
    )


def _validated_host_address(host: str, source: str, value: Any) -> IPAddress:
    """Parse the address that ``source`` supplied for ``host``, rejecting 0.0.0.0 and ::."""
    address = _parse_ip(value)
    if address is None:
        raise AnsibleFilterError(
            f"host '{host}': {source} {value!r} is not a valid IP address; "
            "set tier_address to the node's address on the tier network"
        )
    if _is_unspecified(address):
        raise AnsibleFilterError(
            f"host '{host}': {source} '{address}' is the unspecified address, which no peer "
            "can connect to; set tier_address to the node's address on the tier network"
        )
    return address


def _resolve_host_address(host: Any, hostvars: Any) -> IPAddress:
    variables = _host_variables(host, hostvars)
    source, value = _raw_host_address(host, variables)
    return _validated_host_address(host, source, value)


# Public filters


def tier_host_address(host: str, hostvars: Mapping[str, Mapping[str, Any]]) -> str:
    """Return the address that the other tier nodes use to reach ``host``.

    The first of these that is set wins:

    1. the inventory variable ``tier_address``;
    2. the inventory variable ``tier_interface``, looked up in the gathered
       facts: the interface's IPv4 address, else its first IPv6 address with
       scope ``global``;
    3. the fact ``ansible_facts.default_ipv4.address``.

    The result is a valid IPv4 or IPv6 address other than 0.0.0.0 and ::, in
    compressed canonical form.

    Raise AnsibleFilterError when the host is not in ``hostvars`` or when the
    address is invalid. Also raise it when nothing supplies an address, which is
    typical for a run with ``--limit`` that gathered no facts for the host, and
    when ``tier_interface`` has no facts or no usable address.
    """
    return str(_resolve_host_address(host, hostvars))


def _host_names(hosts: Any, group: str, setting: str | None = None) -> list[str]:
    """Return ``hosts`` as a list, raising if it is not a non-empty list of unique names."""
    if not _is_ordered_collection(hosts):
        raise AnsibleFilterError(
            f"tier_addresses: group '{group}' is given as {hosts!r}, not as a list of host names; "
            f"pass the group's host list, for example groups['{group}'] | tier_addresses(hostvars, '{group}')"
        )

    names = list(hosts)
    if not names and setting:
        raise AnsibleFilterError(
            f"{setting} '{group}' is invalid: group '{group}' is missing or empty in the inventory. "
            f"Add the nodes to it, or set {setting} to the group that contains them."
        )
    if not names:
        raise AnsibleFilterError(f"group '{group}' is empty: add the {group} nodes to it in the inventory")

    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not name:
            raise AnsibleFilterError(
                f"tier_addresses: group '{group}' contains {name!r}, which is not a host name; "
                "pass a list of inventory host names"
            )
        if name in seen:
            raise AnsibleFilterError(f"host '{name}' is listed twice in group '{group}'; list each host once")
        seen.add(name)
    return names


def tier_addresses(
    hosts: Sequence[str],
    hostvars: Mapping[str, Mapping[str, Any]],
    group: str = "web",
    setting: str | None = None,
) -> list[str]:
    """Return the tier address of each host in ``hosts``, in the same order.

    Each address is resolved as in ``tier_host_address``. ``group`` and
    ``setting`` are used only in error messages: ``setting`` is the variable
    that chose the group, and the message for an empty group names it.
    Raise AnsibleFilterError when the list is empty or names a host twice,
    when any address cannot be resolved, when an address is a loopback
    address (the other nodes cannot reach it), or when two hosts resolve to
    the same address.
    """
    owners: dict[IPAddress, str] = {}
    for host in _host_names(hosts, group, setting):
        address = _resolve_host_address(host, hostvars)
        if _is_loopback(address):
            raise AnsibleFilterError(
                f"host '{host}': tier address '{address}' is a loopback address, which the other "
                f"nodes in group '{group}' cannot reach; set tier_address to the node's private address"
            )
        if address in owners:
            raise AnsibleFilterError(
                f"hosts '{owners[address]}' and '{host}' in group '{group}' both have the tier address "
                f"'{address}'; set tier_address so that each node has its own address"
            )
        owners[address] = host
    return [str(address) for address in owners]


def _port_number(port: Any) -> int:
    """Return ``port`` as an int from 1 to 65535. A string must contain only ASCII digits."""
    number: int | None = None
    if isinstance(port, int) and not isinstance(port, bool):
        number = port
    elif isinstance(port, str) and _DIGITS.fullmatch(port.strip()):
        number = int(port.strip())

    if number is None or not 1 <= number <= 65535:
        raise AnsibleFilterError(
            f"tier_server_list: port {port!r} is not a TCP port number; "
            f"set it to an integer from 1 to 65535, for example {DEFAULT_MEMCACHED_PORT}"
        )
    return number


def _format_endpoint(address: IPAddress, port: int) -> str:
    if address.version == 6:
        return f"[{address}]:{port}"
    return f"{address}:{port}"


def tier_server_list(addresses: Sequence[str], port: int | str = DEFAULT_MEMCACHED_PORT) -> list[str]:
    """Return ``address:port`` for each address, in the same order.

    IPv6 addresses are written in brackets, as in ``[2001:db8::1]:11211``.
    ``port`` is an int or a string of digits from 1 to 65535. Raise
    AnsibleFilterError when the list is empty, or when an entry is not a valid
    IP address, is a loopback or unspecified address, or repeats another entry.
    """
    number = _port_number(port)
    if not _is_ordered_collection(addresses):
        raise AnsibleFilterError(
            f"tier_server_list: {addresses!r} is not a list of addresses; "
            "pass a list, for example groups['web'] | tier_addresses(hostvars) | tier_server_list"
        )

    seen: set[IPAddress] = set()
    endpoints: list[str] = []
    for value in addresses:
        address = _parse_ip(value)
        if address is None:
            raise AnsibleFilterError(
                f"tier_server_list: {value!r} is not a valid IP address; "
                "list only node addresses, as tier_addresses returns them"
            )
        unreachable_kind = _unreachable_kind(address)
        if unreachable_kind is not None:
            raise AnsibleFilterError(
                f"tier_server_list: '{address}' is {unreachable_kind}, which the other nodes "
                "cannot connect to; list each node's private address"
            )
        if address in seen:
            raise AnsibleFilterError(
                f"tier_server_list: address '{address}' is listed twice; list each node once"
            )
        seen.add(address)
        endpoints.append(_format_endpoint(address, number))

    if not endpoints:
        raise AnsibleFilterError(
            "tier_server_list: the address list is empty; add the web nodes to the inventory"
        )
    return endpoints


def _split_extra_addresses(extra: Any) -> list[str]:
    """Return the items of memcached_extra_listen_addresses as a list of strings."""
    if extra is None:
        return []
    if isinstance(extra, str):
        return [item for item in _LISTEN_SEPARATORS.split(extra) if item]
    if not _is_ordered_collection(extra):
        raise AnsibleFilterError(
            f"memcached_extra_listen_addresses {extra!r} is not a string or a list; "
            "set it to an address, a comma-separated string or a list of addresses"
        )

    items: list[str] = []
    for item in extra:
        if not isinstance(item, str) or not item.strip():
            raise AnsibleFilterError(
                f"memcached_extra_listen_addresses contains {item!r}, which is not an address string; "
                "list each address as a quoted string, for example '127.0.0.1'"
            )
        items.append(item.strip())
    return items


def _listen_any_flag(listen_any: Any) -> bool:
    """Parse memcached_listen_any with Ansible's boolean rules, so 'false' is False."""
    try:
        return boolean(listen_any, strict=True)
    except TypeError as error:
        raise AnsibleFilterError(
            f"memcached_listen_any {listen_any!r} is not a boolean; set it to true or false"
        ) from error


def _without_shadowed(addresses: list[IPAddress]) -> list[IPAddress]:
    """Drop specific addresses of a family whose wildcard is also in the list.

    memcached cannot bind 10.0.0.1 next to 0.0.0.0 on the same port. It binds
    IPv6 sockets with IPV6_V6ONLY (memcached.c, server_socket), so :: does not
    cover IPv4 and an IPv4 address next to :: stays in the list.
    """
    wildcard_families = {address.version for address in addresses if address.is_unspecified}
    return [
        address for address in addresses if address.is_unspecified or address.version not in wildcard_families
    ]


def memcached_listen_addresses(primary: str, extra: Any = None, listen_any: bool = False) -> list[str]:
    """Return the addresses memcached listens on: ``primary`` first, then ``extra``.

    ``extra`` is None, a string of addresses separated by commas and/or
    whitespace, or a list of address strings. The result contains each address
    once, in first-seen order and canonical form. A wildcard (0.0.0.0 or ::)
    is rejected unless ``listen_any`` is true. When it is true, a wildcard
    replaces the specific addresses of its own family, because memcached
    cannot bind both. Raise AnsibleFilterError on an invalid address, a
    non-string list item, a rejected wildcard or a non-boolean ``listen_any``.
    """
    allow_any = _listen_any_flag(listen_any)

    if not _is_set(primary):
        raise AnsibleFilterError(
            f"memcached_listen_addresses: primary address {primary!r} is empty; "
            "pass the node's tier address, for example inventory_hostname | tier_host_address(hostvars)"
        )
    labelled = [("primary address", primary)]
    labelled += [("memcached_extra_listen_addresses", item) for item in _split_extra_addresses(extra)]

    addresses: list[IPAddress] = []
    for source, value in labelled:
        address = _parse_ip(value)
        if address is None:
            raise AnsibleFilterError(
                f"memcached_listen_addresses: {source} {value!r} is not a valid IP address; "
                "use addresses such as '127.0.0.1' or '::1'"
            )
        if address.is_unspecified and not allow_any:
            raise AnsibleFilterError(
                f"memcached_listen_addresses: {source} '{address}' would expose memcached on every "
                "interface; list specific addresses, or set memcached_listen_any: true to allow it explicitly"
            )
        if address not in addresses:
            addresses.append(address)

    return [str(address) for address in _without_shadowed(addresses)]


class FilterModule:
    """Ansible filter plugin with the web tier address filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "tier_host_address": tier_host_address,
            "tier_addresses": tier_addresses,
            "tier_server_list": tier_server_list,
            "memcached_listen_addresses": memcached_listen_addresses,
        }
