"""Unit tests for the PHP session settings in filter_plugins/session.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from filter_plugins.session import FilterModule, php_session_ini

SERVERS = ["192.0.2.11:11211", "192.0.2.12:11211", "[2001:db8::13]:11211"]


def test_session_ini_store_settings():
    settings = php_session_ini(SERVERS, "tier.sess.")
    assert settings["session.save_handler"] == "memcached"
    assert settings["session.save_path"] == "192.0.2.11:11211,192.0.2.12:11211,[2001:db8::13]:11211"
    assert settings["memcached.sess_prefix"] == "tier.sess."


def test_session_ini_defaults_for_three_servers():
    settings = php_session_ini(SERVERS, "p.")
    assert {name: value for name, value in settings.items() if name.startswith("memcached.sess_") or "." not in name or name in ("max_execution_time", "session.gc_maxlifetime")} == {
        "memcached.sess_prefix": "p.",
        "memcached.sess_binary_protocol": "On",
        "memcached.sess_consistent_hash": "On",
        "memcached.sess_consistent_hash_type": "ketama",
        "memcached.sess_number_of_replicas": "2",
        "memcached.sess_randomize_replica_read": "Off",
        "memcached.sess_persistent": "Off",
        "memcached.sess_remove_failed_servers": "On",
        "memcached.sess_server_failure_limit": "1",
        "memcached.sess_connect_timeout": "200",
        "memcached.sess_locking": "On",
        "memcached.sess_lock_wait_min": "2",
        "memcached.sess_lock_wait_max": "2",
        "memcached.sess_lock_retries": "15000",
        "memcached.sess_lock_expire": "30",
        "max_execution_time": "30",
        "session.gc_maxlifetime": "1440",
    }


@pytest.mark.parametrize(("count", "replicas"), [(1, "0"), (2, "1"), (3, "2"), (5, "4")])
def test_session_ini_default_replicas_cover_every_node(count, replicas):
    servers = [f"192.0.2.{10 + index}:11211" for index in range(count)]
    assert php_session_ini(servers, "p.")["memcached.sess_number_of_replicas"] == replicas


def test_session_ini_explicit_replicas_kept():
    settings = php_session_ini(SERVERS, "p.", {"replicas": 1})
    assert settings["memcached.sess_number_of_replicas"] == "1"


def test_session_ini_none_option_takes_default():
    settings = php_session_ini(SERVERS, "p.", {"replicas": None, "lifetime": None})
    assert settings["session.gc_maxlifetime"] == "1440"


def test_session_ini_replicas_above_servers_rejected():
    with pytest.raises(AnsibleFilterError, match="php_session_replicas 3 is too high for 3 memcached server"):
        php_session_ini(SERVERS, "p.", {"replicas": 3})


def test_session_ini_replicas_need_binary_protocol():
    with pytest.raises(AnsibleFilterError, match="php_session_replicas 1 needs the binary protocol"):
        php_session_ini(SERVERS, "p.", {"replicas": 1, "binary_protocol": False})


def test_session_ini_no_replicas_allow_text_protocol():
    settings = php_session_ini(SERVERS, "p.", {"replicas": 0, "binary_protocol": False})
    assert settings["memcached.sess_binary_protocol"] == "Off"


def test_session_ini_lifetime_at_memcached_limit_accepted():
    settings = php_session_ini(SERVERS, "p.", {"lifetime": 2592000})
    assert settings["session.gc_maxlifetime"] == "2592000"


def test_session_ini_lifetime_above_30_days_rejected():
    with pytest.raises(AnsibleFilterError, match="php_session_lifetime 2678400 exceeds memcached's limit of 2592000"):
        php_session_ini(SERVERS, "p.", {"lifetime": 2678400})


def test_session_ini_lock_expire_follows_execution_time():
    settings = php_session_ini(SERVERS, "p.", {"max_execution_time": 120})
    assert settings["memcached.sess_lock_expire"] == "120"


def test_session_ini_lock_wait_order_checked():
    with pytest.raises(AnsibleFilterError, match="lock_wait_min_ms 50 is above"):
        php_session_ini(SERVERS, "p.", {"lock_wait_min_ms": 50, "lock_wait_max_ms": 10})


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("replicas", -1, "php_session_replicas -1 is invalid: use a whole number from 0 to"),
        ("replicas", "two", "php_session_replicas 'two' is invalid: use a whole number from 0 to"),
        ("server_failure_limit", 0, "php_session_server_failure_limit 0 is out of range"),
        ("connect_timeout_ms", 0, "php_session_connect_timeout_ms 0 is out of range"),
        ("lock_retries", True, "php_session_lock_retries True is invalid: use a whole number from"),
        ("locking", "maybe", "php_session_locking 'maybe' is not a boolean"),
        ("lifetime", 0, "php_session_lifetime 0 is out of range"),
    ],
)
def test_session_ini_invalid_option_rejected(option, value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        php_session_ini(SERVERS, "p.", {option: value})


def test_session_ini_boolean_strings_accepted():
    settings = php_session_ini(SERVERS, "p.", {"replicas": "0", "binary_protocol": "false"})
    assert settings["memcached.sess_binary_protocol"] == "Off"


def test_session_ini_unknown_option_rejected():
    with pytest.raises(AnsibleFilterError, match="unknown php session option"):
        php_session_ini(SERVERS, "p.", {"retry_timeout": 5})


def test_session_ini_store_settings_come_first():
    settings = php_session_ini(SERVERS, "p.", None, {"session.cookie_secure": True})
    assert list(settings)[:3] == ["session.save_handler", "session.save_path", "memcached.sess_prefix"]


@pytest.mark.parametrize(
    ("value", "rendered"),
    [(7200, "7200"), (True, "On"), (False, "Off"), (0.5, "0.5"), ("strict", "strict")],
)
def test_session_ini_extra_value_rendering(value, rendered):
    settings = php_session_ini(SERVERS, "p.", None, {"session.name": value})
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


@pytest.mark.parametrize(
    "name",
    ["session.save_handler", "session.save_path", "memcached.sess_prefix", "session.gc_maxlifetime", "max_execution_time"],
)
def test_session_ini_store_setting_not_overridable(name):
    with pytest.raises(AnsibleFilterError, match=f"php_extra_ini: {name} is set by the php role"):
        php_session_ini(SERVERS, "p.", None, {name: "files"})


@pytest.mark.parametrize("name", ["Session.Name", "x..y", "bad name", ".lead", 5])
def test_session_ini_invalid_name_rejected(name):
    with pytest.raises(AnsibleFilterError, match="not a php.ini setting name"):
        php_session_ini(SERVERS, "p.", None, {name: "x"})


@pytest.mark.parametrize("value", ['a"b', "a\nb", "a\\b", ["list"], {"a": 1}, None])
def test_session_ini_unsafe_value_rejected(value):
    with pytest.raises(AnsibleFilterError, match="php_extra_ini: session.name"):
        php_session_ini(SERVERS, "p.", None, {"session.name": value})


def test_session_ini_extra_must_be_mapping():
    with pytest.raises(AnsibleFilterError, match="php_extra_ini must be a mapping"):
        php_session_ini(SERVERS, "p.", None, ["session.name"])


def test_filter_module_exposes_session_ini():
    assert FilterModule().filters() == {"php_session_ini": php_session_ini}
