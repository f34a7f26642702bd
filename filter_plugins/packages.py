"""Filter that lists the requested Debian packages a host has not installed.

``apt`` with ``state: present`` opens the whole package cache even when every
package is installed, which took one to three seconds per host and task on
the lab. One ``dpkg-query`` call gives the installed state in a fraction of
that, so the playbooks run it first and run ``apt`` only for a missing package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

def _package_name(spec: str) -> str:
    """Return the bare name of an apt package spec (``name``, ``name=version`` or ``name:arch``)."""
    return spec.split("=", 1)[0].split(":", 1)[0]


def packages_missing(dpkg_output: Any, requested: Any) -> list[str]:
    """Return the specs in ``requested`` that ``dpkg-query`` does not report as installed.

    ``dpkg_output`` is the standard output of
    ``dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n' NAME...``. A package
    counts as installed when its state letter is ``i`` and it has no error
    flag. A package that dpkg has never seen is absent from the output
    (dpkg-query names it on standard error), so it counts as missing. The
    result keeps the order and spelling of ``requested``.
    """
    if not isinstance(dpkg_output, str):
        raise AnsibleFilterError(
            f"packages_missing expects the text output of dpkg-query, got {type(dpkg_output).__name__} {dpkg_output!r}"
        )
    if isinstance(requested, str) or not isinstance(requested, Sequence):
        raise AnsibleFilterError(f"packages_missing expects a list of package names, got {requested!r}")
    installed = set()
    for line in dpkg_output.splitlines():
        status, _, name = line.partition(" ")
        name = name.strip()
        if len(status) >= 2 and status[1] == "i" and status[2:].strip() == "" and name:
            installed.add(name)
    missing = []
    for spec in requested:
        if not isinstance(spec, str) or not spec.strip():
            raise AnsibleFilterError(f"packages_missing got an invalid package name {spec!r} in {list(requested)!r}")
        if _package_name(spec.strip()) not in installed:
            missing.append(spec)
    return missing


class FilterModule:
    """Package filters of the playbooks and roles."""

    def filters(self) -> dict[str, Any]:
        return {"packages_missing": packages_missing}
