"""Unit tests for the input check filter in filter_plugins/checks.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from filter_plugins.checks import FilterModule, failed_checks


def test_all_passed_returns_empty():
    assert failed_checks([{"ok": True, "msg": "a"}, {"ok": "yes", "msg": "b"}]) == []


def test_failed_messages_in_order():
    checks = [
        {"ok": False, "msg": "first"},
        {"ok": True, "msg": "passed"},
        {"ok": "False", "msg": "  second\n"},
        {"ok": 0, "msg": "third"},
    ]
    assert failed_checks(checks) == ["first", "second", "third"]


def test_empty_list_returns_empty():
    assert failed_checks([]) == []


@pytest.mark.parametrize("checks", ["ok", {"ok": True, "msg": "a"}, None, 5])
def test_not_a_list_rejected(checks):
    with pytest.raises(AnsibleFilterError, match="expected a list of checks"):
        failed_checks(checks)


@pytest.mark.parametrize("check", [{"ok": True}, {"msg": "a"}, "ok", None])
def test_malformed_check_rejected(check):
    with pytest.raises(AnsibleFilterError, match=r"check 1 needs the keys 'ok' and 'msg'"):
        failed_checks([{"ok": True, "msg": "a"}, check])


@pytest.mark.parametrize("value", [None, "maybe", 2, ""])
def test_non_boolean_ok_rejected(value):
    with pytest.raises(AnsibleFilterError, match=r"'ok' of check 0 \('port'\) is not a boolean"):
        failed_checks([{"ok": value, "msg": "port"}])


def test_filter_registered():
    assert FilterModule().filters()["failed_checks"] is failed_checks
