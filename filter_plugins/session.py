"""Filters that compute the PHP session settings every web node must share.

Each node renders these settings where its PHP runtime reads them (Apache
vhost or FPM pool). They are computed here once, from the same inputs on every
node, so the handler, server list and key prefix cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

# memcached reads an expiry above 30 days as an absolute Unix time, so a
# session lifetime above this would store every session already expired.
MEMCACHED_MAX_RELATIVE_TTL = 2592000

# High-availability and locking options with their defaults. Each becomes one
# memcached.sess_* setting (see _ha_settings); the names are those of
# php-memcached 3.x, the release in Debian 12/13 and Ubuntu 22.04/24.04.
SESSION_OPTION_DEFAULTS: dict[str, Any] = {
    # None: servers - 1, so every node stores every session. The extension puts
    # replicas on the next servers in save_path order, not on the next ring
    # point, so fewer replicas lose the sessions that a failover reroutes.
    "replicas": None,
    "binary_protocol": True,
    "consistent_hash": True,
    "remove_failed_servers": True,
    # 1: a server leaves the ring after its first failure; 0 would mean
    # libmemcached's default of 5 failed requests per lost node.
    "server_failure_limit": 1,
    # Milliseconds; 0 would mean libmemcached's 4000 ms.
    "connect_timeout_ms": 200,
    "locking": True,
    "lock_wait_min_ms": 2,
    "lock_wait_max_ms": 2,
    "lock_retries": 15000,
    "lifetime": 1440,
    "max_execution_time": 30,
}
# Memcached keys may not contain spaces or control characters; the prefix is
# kept short and plain so every key stays far below memcached's 250 bytes.
PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
INI_NAME_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
SERVER_PATTERN = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[0-9.]+):[0-9]{1,5}$")


def _ini_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "On" if value else "Off"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise AnsibleFilterError(f"php_extra_ini: {name} = {value!r} is not a string, number or boolean")
    if any(char in value for char in '"\n\r\\'):
        raise AnsibleFilterError(
            f"php_extra_ini: {name} = {value!r} contains a quote, backslash or line break, "
            "which cannot be written safely as an Apache or FPM admin value"
        )
    return value


def _int_option(options: Mapping[str, Any], name: str, minimum: int, maximum: int) -> int:
    value = options[name]
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise AnsibleFilterError(
            f"php_session_{name} {value!r} is invalid: use a whole number from {minimum} to {maximum}"
        )
    number = int(value)
    if not minimum <= number <= maximum:
        raise AnsibleFilterError(f"php_session_{name} {number} is out of range: use {minimum} to {maximum}")
    return number


def _bool_option(options: Mapping[str, Any], name: str) -> bool:
    """Read a boolean the way Ansible does, so "false" from -e counts as false."""
    value = options[name]
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise AnsibleFilterError(f"php_session_{name} {value!r} is not a boolean") from None


def _ha_settings(server_count: int, options: Mapping[str, Any]) -> dict[str, str]:
    """Validate the HA and locking options and return their memcached.sess_* settings."""
    unknown = sorted(set(options) - set(SESSION_OPTION_DEFAULTS))
    if unknown:
        raise AnsibleFilterError(f"unknown php session option(s) {unknown}; known are {sorted(SESSION_OPTION_DEFAULTS)}")
    merged = {**SESSION_OPTION_DEFAULTS, **{k: v for k, v in options.items() if v is not None}}

    binary = _bool_option(merged, "binary_protocol")
    replicas = server_count - 1 if merged["replicas"] is None else _int_option(merged, "replicas", 0, 1000)
    if replicas > server_count - 1:
        raise AnsibleFilterError(
            f"php_session_replicas {replicas} is too high for {server_count} memcached server(s): "
            f"use at most {server_count - 1} (servers minus one)"
        )
    if replicas > 0 and not binary:
        raise AnsibleFilterError(
            f"php_session_replicas {replicas} needs the binary protocol, which php_session_binary_protocol "
            "turns off; without it php-memcached silently stores one copy. Set php_session_binary_protocol: true"
        )
    lifetime = _int_option(merged, "lifetime", 1, 10**9)
    if lifetime > MEMCACHED_MAX_RELATIVE_TTL:
        raise AnsibleFilterError(
            f"php_session_lifetime {lifetime} exceeds memcached's limit of {MEMCACHED_MAX_RELATIVE_TTL} s "
            "(30 days): longer expiry times are read as absolute Unix times and the sessions expire at once. "
            f"Use at most {MEMCACHED_MAX_RELATIVE_TTL}"
        )
    max_execution_time = _int_option(merged, "max_execution_time", 1, 86400)
    wait_min = _int_option(merged, "lock_wait_min_ms", 1, 60000)
    wait_max = _int_option(merged, "lock_wait_max_ms", 1, 60000)
    if wait_min > wait_max:
        raise AnsibleFilterError(
            f"php_session_lock_wait_min_ms {wait_min} is above php_session_lock_wait_max_ms {wait_max}"
        )

    def flag(value: bool) -> str:
        return "On" if value else "Off"

    return {
        "memcached.sess_binary_protocol": flag(binary),
        "memcached.sess_consistent_hash": flag(_bool_option(merged, "consistent_hash")),
        "memcached.sess_consistent_hash_type": "ketama",
        "memcached.sess_number_of_replicas": str(replicas),
        # Random replica reads flap between copies after a failure. With
        # replicas, persistent connections make every session lock write fail
        # with NOT FOUND (php-memcached 3.2.0 and 3.3.0). So they stay off,
        # although new connections cost up to half the requests per second.
        "memcached.sess_randomize_replica_read": "Off",
        "memcached.sess_persistent": "Off",
        "memcached.sess_remove_failed_servers": flag(_bool_option(merged, "remove_failed_servers")),
        "memcached.sess_server_failure_limit": str(_int_option(merged, "server_failure_limit", 1, 1000)),
        "memcached.sess_connect_timeout": str(_int_option(merged, "connect_timeout_ms", 1, 60000)),
        "memcached.sess_locking": flag(_bool_option(merged, "locking")),
        "memcached.sess_lock_wait_min": str(wait_min),
        "memcached.sess_lock_wait_max": str(wait_max),
        "memcached.sess_lock_retries": str(_int_option(merged, "lock_retries", 1, 100000)),
        # The lock lives as long as a request may run, so it never expires
        # under a request that still holds the session.
        "memcached.sess_lock_expire": str(max_execution_time),
        "max_execution_time": str(max_execution_time),
        "session.gc_maxlifetime": str(lifetime),
    }


def php_session_ini(
    servers: Sequence[str],
    prefix: str,
    options: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Return the php.ini admin values for memcached sessions, in a fixed order.

    ``servers`` is the output of ``tier_server_list`` (``host:port`` entries in
    inventory order). ``options`` sets replication, failover and locking (keys of
    SESSION_OPTION_DEFAULTS; missing or None keys take the default). ``extra``
    adds application settings and may not override the session store's own.
    The result maps each setting name to its value as a string, ready to render
    as ``php_admin_value``. Raises AnsibleFilterError naming the variable and
    the bad value, e.g. replicas without the binary protocol.
    """
    if isinstance(servers, str) or not isinstance(servers, Sequence) or not servers:
        raise AnsibleFilterError(
            f"php session servers {servers!r} must be a non-empty list of host:port entries"
        )
    for server in servers:
        if not isinstance(server, str) or not SERVER_PATTERN.match(server):
            raise AnsibleFilterError(f"php session server {server!r} is not in host:port form")
    if not isinstance(prefix, str) or not PREFIX_PATTERN.match(prefix):
        raise AnsibleFilterError(
            f"php_session_prefix {prefix!r} is invalid: use 1-64 letters, digits, '.', ':', '-' or '_'"
        )

    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise AnsibleFilterError(f"php session options must be a mapping, not {options!r}")

    settings = {
        "session.save_handler": "memcached",
        "session.save_path": ",".join(servers),
        "memcached.sess_prefix": prefix,
        **_ha_settings(len(servers), options),
    }
    if extra is None:
        extra = {}
    if not isinstance(extra, Mapping):
        raise AnsibleFilterError(f"php_extra_ini must be a mapping of setting names to values, not {extra!r}")
    for name, value in extra.items():
        if not isinstance(name, str) or not INI_NAME_PATTERN.match(name):
            raise AnsibleFilterError(f"php_extra_ini: {name!r} is not a php.ini setting name such as session.gc_maxlifetime")
        if name in settings:
            raise AnsibleFilterError(
                f"php_extra_ini: {name} is set by the php role; "
                "use the matching php_session_* variable instead"
            )
        settings[name] = _ini_value(name, value)
    return settings


class FilterModule:
    """Session settings shared by the PHP and Apache roles."""

    def filters(self) -> dict[str, Any]:
        return {"php_session_ini": php_session_ini}
