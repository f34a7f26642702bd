"""Filters that turn the firewall role's service list into iptables rules.

The rules are rendered exactly as ``iptables -S`` prints them, so the role can
compare the live chain with the desired one line by line and change nothing
when they agree.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

PROTOCOLS = ("tcp", "udp")
ACTIONS = ("DROP", "REJECT")
# iptables limits chain names to 28 characters; built-in chains are never ours.
CHAIN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,28}$")
BUILTIN_CHAINS = frozenset({"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"})
# A comment is printed without quotes only when it has no spaces or quotes.
COMMENT_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _validate_chain(chain: Any) -> str:
    if not isinstance(chain, str) or not CHAIN_PATTERN.match(chain) or chain in BUILTIN_CHAINS:
        raise AnsibleFilterError(
            f"firewall_chain {chain!r} is invalid: use a name of your own of 1 to 28 letters, "
            "digits, '-' or '_', not a built-in chain such as INPUT"
        )
    return chain


def _parse_source(service: str, source: Any) -> Network:
    if not isinstance(source, str):
        raise AnsibleFilterError(
            f"firewall_services '{service}': source {source!r} is not a string; "
            "list addresses or networks such as 192.0.2.11 or 10.0.0.0/8"
        )
    try:
        return ipaddress.ip_network(source.strip(), strict=False)
    except ValueError as error:
        raise AnsibleFilterError(
            f"firewall_services '{service}': source {source!r} is not an IP address or network ({error})"
        ) from None


def _parse_port(service: str, port: Any) -> int:
    try:
        number = int(port)
    except (TypeError, ValueError):
        number = 0
    if isinstance(port, bool) or not 1 <= number <= 65535:
        raise AnsibleFilterError(f"firewall_services '{service}': port {port!r} is invalid; use 1-65535")
    return number


def _parse_service(service: Any) -> tuple[str, int, list[str], list[Network]]:
    if not isinstance(service, Mapping):
        raise AnsibleFilterError(
            f"firewall_services: entry {service!r} is not a mapping with name, port, protocols and sources"
        )
    name = service.get("name")
    if not isinstance(name, str) or not COMMENT_PATTERN.match(name):
        raise AnsibleFilterError(
            f"firewall_services: name {name!r} is invalid; use 1-64 letters, digits, '.', ':', '-' or '_'"
        )
    port = _parse_port(name, service.get("port"))
    protocols = service.get("protocols", ["tcp"])
    if isinstance(protocols, str):
        protocols = [protocols]
    for protocol in protocols:
        if protocol not in PROTOCOLS:
            raise AnsibleFilterError(
                f"firewall_services '{name}': protocol {protocol!r} is invalid; use tcp or udp"
            )
    sources = service.get("sources", [])
    if isinstance(sources, str) or not isinstance(sources, Sequence):
        raise AnsibleFilterError(
            f"firewall_services '{name}': sources must be a list of addresses or networks, not {sources!r}"
        )
    networks: list[Network] = []
    for source in sources:
        network = _parse_source(name, source)
        if network not in networks:
            networks.append(network)
    return name, port, list(dict.fromkeys(protocols)), networks


def _deny_target(action: str, family: int) -> str:
    if action == "DROP":
        return "-j DROP"
    icmp = "icmp-port-unreachable" if family == 4 else "icmp6-port-unreachable"
    return f"-j REJECT --reject-with {icmp}"


def firewall_chain_rules(services: Any, chain: str, family: int | str = 4, action: str = "DROP") -> list[str]:
    """Render the rules of our chain for one address family, as ``iptables -S`` prints them.

    Loopback traffic returns to the caller's chains untouched. For each service and
    protocol, the listed sources of this family are accepted and everyone else gets
    ``action``. Traffic to other ports falls through, so nothing else on the host is
    affected. Raises AnsibleFilterError naming the service and the bad value.
    """
    _validate_chain(chain)
    family = int(family)
    if family not in (4, 6):
        raise AnsibleFilterError(f"firewall family {family!r} is invalid; use 4 or 6")
    if action not in ACTIONS:
        raise AnsibleFilterError(f"firewall_deny_action {action!r} is invalid; use DROP or REJECT")
    if services is None:
        services = []
    if not isinstance(services, Sequence) or isinstance(services, (str, Mapping)):
        raise AnsibleFilterError(f"firewall_services must be a list of services, not {services!r}")

    rules = [f"-A {chain} -i lo -j RETURN"]
    seen_ports: dict[tuple[int, str], str] = {}
    for service in services:
        name, port, protocols, networks = _parse_service(service)
        for protocol in protocols:
            other = seen_ports.setdefault((port, protocol), name)
            if other != name:
                raise AnsibleFilterError(
                    f"firewall_services '{name}' and '{other}' both claim {protocol} port {port}; "
                    "merge their sources into one service"
                )
            match = f"-p {protocol} -m {protocol} --dport {port} -m comment --comment {name}"
            for network in networks:
                if network.version == family:
                    rules.append(f"-A {chain} -s {network.with_prefixlen} {match} -j ACCEPT")
            rules.append(f"-A {chain} {match} {_deny_target(action, family)}")
    return rules


class FilterModule:
    """Firewall rule rendering for the firewall role."""

    def filters(self) -> dict[str, Any]:
        return {"firewall_chain_rules": firewall_chain_rules}
