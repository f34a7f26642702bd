"""Unit tests for the PHP session settings in filter_plugins/session.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from filter_plugins.session import FilterModule, php_session_ini

SERVERS = ["192.0.2.11:11211", "192.0.2.12:11211", "[2001:db8::13]:11211"]


def test_session_ini_store_settings():
    assert php_session_ini(SERVERS, "tier.sess.") == {
        "session.save_handler": "memcached",
        "session.save_path": "192.0.2.11:11211,192.0.2.12:11211,[2001:db8::13]:11211",
        "memcached.sess_prefix": "tier.sess.",
    }


def test_session_ini_store_settings_come_first():
    settings = php_session_ini(SERVERS, "p.", {"session.gc_maxlifetime": 7200})
    assert list(settings)[:3] == ["session.save_handler", "session.save_path", "memcached.sess_prefix"]


@pytest.mark.parametrize(
    ("value", "rendered"),
    [(7200, "7200"), (True, "On"), (False, "Off"), (0.5, "0.5"), ("strict", "strict")],
)
def test_session_ini_extra_value_rendering(value, rendered):
    settings = php_session_ini(SERVERS, "p.", {"session.name": value})
    assert settings["session.name"] == rendered


def test_session_ini_same_input_same_output():
    assert php_session_ini(list(SERVERS), "p.") == php_session_ini(list(SERVERS), "p.")


@pytest.mark.parametrize("prefix", ["", "has space", "a" * 65, "new\nline", None, 5])
def test_session_ini_invalid_prefix_rejected(prefix):
    with pytest.raises(AnsibleFilterError, match="php_session_prefix"):
        php_session_ini(SERVERS, prefix)


@pytest.mark.parametrize("servers", [[], "192.0.2.11:11211", None])
def test_session_ini_invalid_server_list_rejected(servers):
    with pytest.raises(AnsibleFilterError, match="non-empty list"):
        php_session_ini(servers, "p.")


@pytest.mark.parametrize("server", ["192.0.2.11", "memcache://192.0.2.11:11211", "web1:11211", 11211])
def test_session_ini_invalid_server_rejected(server):
    with pytest.raises(AnsibleFilterError, match="host:port"):
        php_session_ini([server], "p.")


@pytest.mark.parametrize("name", ["session.save_handler", "session.save_path", "memcached.sess_prefix"])
def test_session_ini_store_setting_not_overridable(name):
    with pytest.raises(AnsibleFilterError, match=f"php_extra_ini: {name} is set by the session store"):
        php_session_ini(SERVERS, "p.", {name: "files"})


@pytest.mark.parametrize("name", ["Session.Name", "nodot", "bad name", 5])
def test_session_ini_invalid_name_rejected(name):
    with pytest.raises(AnsibleFilterError, match="not a php.ini setting name"):
        php_session_ini(SERVERS, "p.", {name: "x"})


@pytest.mark.parametrize("value", ['a"b', "a\nb", "a\\b", ["list"], {"a": 1}, None])
def test_session_ini_unsafe_value_rejected(value):
    with pytest.raises(AnsibleFilterError, match="php_extra_ini: session.name"):
        php_session_ini(SERVERS, "p.", {"session.name": value})


def test_session_ini_extra_must_be_mapping():
    with pytest.raises(AnsibleFilterError, match="php_extra_ini must be a mapping"):
        php_session_ini(SERVERS, "p.", ["session.name"])


def test_filter_module_exposes_session_ini():
    assert FilterModule().filters() == {"php_session_ini": php_session_ini}
