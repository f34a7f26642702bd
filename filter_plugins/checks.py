"""Filter that collects the messages of failed input checks.

Each role checks its variables in one ``assert`` task instead of one task per
rule, because every task costs Ansible itself 45-60 ms on the four-node lab
(bench/converge-speed's controller probe), and every run checks every role.
The task lists its rules as ``{ok, msg}`` items and fails with the messages
of every rule that does not hold, so an operator sees all faults of a role
at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean


def failed_checks(checks: Any) -> list[str]:
    """Return the ``msg`` of each check whose ``ok`` is false, in the order given.

    ``checks`` is a list of mappings with the keys ``ok`` (a boolean, or a
    string that Ansible reads as one) and ``msg`` (the message for the
    operator). A malformed item is an error in the role, not in the
    operator's input, and raises ``AnsibleFilterError`` naming the item.
    """
    if isinstance(checks, (str, bytes)) or not isinstance(checks, Sequence):
        raise AnsibleFilterError(f"failed_checks: expected a list of checks, got {type(checks).__name__}")

    messages = []
    for index, check in enumerate(checks):
        if not isinstance(check, Mapping) or "ok" not in check or "msg" not in check:
            raise AnsibleFilterError(f"failed_checks: check {index} needs the keys 'ok' and 'msg', got {check!r}")
        try:
            passed = boolean(check["ok"], strict=True)
        except TypeError as error:
            raise AnsibleFilterError(
                f"failed_checks: 'ok' of check {index} ({check['msg']!r}) is not a boolean: {check['ok']!r}"
            ) from error
        if not passed:
            messages.append(str(check["msg"]).strip())
    return messages


class FilterModule:
    """Ansible filter plugin with the input check filter."""

    def filters(self) -> dict[str, Any]:
        return {"failed_checks": failed_checks}
