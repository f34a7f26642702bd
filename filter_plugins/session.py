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

# Settings owned by the session store; php_extra_ini may not override them.
SESSION_STORE_SETTINGS = ("session.save_handler", "session.save_path", "memcached.sess_prefix")
# Memcached keys may not contain spaces or control characters; the prefix is
# kept short and plain so every key stays far below memcached's 250 bytes.
PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
INI_NAME_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
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


def php_session_ini(servers: Sequence[str], prefix: str, extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Return the php.ini admin values for memcached sessions, in a fixed order.

    ``servers`` is the output of ``tier_server_list`` (``host:port`` entries in
    inventory order). The result maps each setting name to its value as a
    string, ready to render as ``php_admin_value``. ``extra`` adds application
    settings; it may not override the session store's own settings.
    Raises AnsibleFilterError naming the variable and the bad value.
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

    settings = {
        "session.save_handler": "memcached",
        "session.save_path": ",".join(servers),
        "memcached.sess_prefix": prefix,
    }
    if extra is None:
        extra = {}
    if not isinstance(extra, Mapping):
        raise AnsibleFilterError(f"php_extra_ini must be a mapping of setting names to values, not {extra!r}")
    for name, value in extra.items():
        if not isinstance(name, str) or not INI_NAME_PATTERN.match(name):
            raise AnsibleFilterError(f"php_extra_ini: {name!r} is not a php.ini setting name such as session.gc_maxlifetime")
        if name in SESSION_STORE_SETTINGS:
            raise AnsibleFilterError(
                f"php_extra_ini: {name} is set by the session store roles; "
                "change php_session_prefix or the web group instead"
            )
        settings[name] = _ini_value(name, value)
    return settings


class FilterModule:
    """Session settings shared by the PHP and Apache roles."""

    def filters(self) -> dict[str, Any]:
        return {"php_session_ini": php_session_ini}
