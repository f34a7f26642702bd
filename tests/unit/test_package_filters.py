"""Unit tests for filter_plugins/packages.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from filter_plugins.packages import FilterModule, packages_missing

# Output of dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' for a host
# with Apache installed, memcached removed with its configuration kept, and
# iptables half-configured.
DPKG_OUTPUT = "ii  apache2\nrc  memcached\niF  iptables\nii  python3\n"


def test_installed_packages_are_not_missing():
    assert packages_missing(DPKG_OUTPUT, ["apache2", "python3"]) == []


def test_uninstalled_packages_are_missing():
    # php8.2-curl is not in the output at all: dpkg has never seen it.
    assert packages_missing(DPKG_OUTPUT, ["memcached", "iptables", "php8.2-curl"]) == [
        "memcached",
        "iptables",
        "php8.2-curl",
    ]


def test_missing_keeps_request_order():
    assert packages_missing(DPKG_OUTPUT, ["php8.2-curl", "apache2", "memcached=1.6.18-1"]) == [
        "php8.2-curl",
        "memcached=1.6.18-1",
    ]


@pytest.mark.parametrize("spec", ["apache2=2.4.71-1~deb12u1", "apache2:amd64", " apache2 "])
def test_version_and_arch_ignored(spec):
    assert packages_missing(DPKG_OUTPUT, [spec]) == []


@pytest.mark.parametrize(
    "line",
    [
        "hi  apache2",  # on hold, installed
        "ii  apache2  ",  # trailing blanks
    ],
)
def test_installed_states(line):
    assert packages_missing(line + "\n", ["apache2"]) == []


@pytest.mark.parametrize(
    "line",
    [
        "iiR apache2",  # reinstallation required
        "un  apache2",  # known, not installed
        "iU  apache2",  # unpacked only
        "",
    ],
)
def test_not_installed_states(line):
    assert packages_missing(line + "\n", ["apache2"]) == ["apache2"]



def test_other_lines_ignored():
    # web.yml puts a policy-rc.d line before dpkg-query's output.
    output = "policy-rc.d 57365d9cfac4439b8848ffb2f2dfb8eddead6d68\npolicy-rc.d link\nii  memcached\n"
    assert packages_missing(output, ["memcached", "iptables"]) == ["iptables"]

def test_empty_requested_list():
    assert packages_missing(DPKG_OUTPUT, []) == []


@pytest.mark.parametrize("output", [None, ["ii  apache2"], 3])
def test_non_text_output_rejected(output):
    with pytest.raises(AnsibleFilterError, match="text output of dpkg-query"):
        packages_missing(output, ["apache2"])


@pytest.mark.parametrize("requested", ["apache2", None, {"apache2": 1}])
def test_non_list_request_rejected(requested):
    with pytest.raises(AnsibleFilterError, match="list of package names"):
        packages_missing(DPKG_OUTPUT, requested)


@pytest.mark.parametrize("spec", ["", "  ", None, 5])
def test_invalid_names_rejected(spec):
    with pytest.raises(AnsibleFilterError, match="invalid package name"):
        packages_missing(DPKG_OUTPUT, ["apache2", spec])


def test_filter_is_registered():
    assert FilterModule().filters()["packages_missing"] is packages_missing
