"""A spare node joins group web and leaves it again, and the peers' chains follow the inventory.

The converge runs only on group web, so it cannot clean up a node that has
left the group. The module's teardown removes memcached and the firewall from
the spare node by hand, which puts the scenario back in its original state.
"""

import pytest
from conftest import (
    CHAIN,
    MEMCACHED_PORT,
    NODE_ADDRESSES,
    OUTSIDE_NODES,
    SPARE_NODE,
    WEB_NODES,
    chain_rules,
    converge,
    expected_chain,
    get_node,
    iptables_rules,
    memcached_config_options,
    probe_tcp,
    tcp_listeners,
    web_addresses,
    write_inventory,
)

pytestmark = pytest.mark.changes_nodes

SCALED_NODES = [*WEB_NODES, SPARE_NODE]
OUTSIDER = next(name for name in OUTSIDE_NODES if name != SPARE_NODE)
SPARE_ADDRESS = NODE_ADDRESSES[SPARE_NODE]

# Shell script that removes what the two roles installed on the spare node.
# With the rules files gone, `tier-firewall apply` deletes the chain and its
# jump from INPUT. The arguments are the packages that the scale-out added.
REMOVE_FROM_SPARE = """
set -e
systemctl disable tier-firewall.service >/dev/null 2>&1 || true
if [ -x /usr/local/sbin/tier-firewall ]; then
  rm -f /etc/tier-firewall/rules.v4 /etc/tier-firewall/rules.v6
  /usr/local/sbin/tier-firewall apply
fi
rm -rf /etc/tier-firewall /usr/local/sbin/tier-firewall /etc/systemd/system/tier-firewall.service
systemctl daemon-reload
if [ "$#" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "$@" >/dev/null
fi
rm -f /etc/memcached.conf /var/log/memcached.log
# The memcached role's start helper, its settings and unit drop-ins, where present.
rm -rf /usr/local/sbin/tier-memcached-resync /etc/tier-memcached-resync.json /etc/systemd/system/memcached.service.d
systemctl daemon-reload
"""
INSTALLED_PACKAGES = "dpkg-query -W -f '${db:Status-Status} ${Package}\\n' | awk '$1 == \"installed\" {print $2}'"


def installed_packages(host):
    return set(host.check_output(INSTALLED_PACKAGES).split())


class ScaleState:
    """Runs of the scale-out and scale-in converges, shared by the module's tests."""

    def __init__(self):
        self.scaled_out = None
        self.scaled_in = None


@pytest.fixture(scope="module")
def scale():
    state = ScaleState()
    spare = get_node(SPARE_NODE)
    spare_rules_before = iptables_rules(spare)
    packages_before = installed_packages(spare)
    yield state

    # Put group web back as molecule.yml defines it if the scale-in run did
    # not happen or failed, then clean the spare node.
    if state.scaled_in is None or state.scaled_in.returncode != 0:
        converge()
    new_packages = sorted(installed_packages(spare) - packages_before)
    command = "timeout 120 bash -c %s remove-from-spare" + " %s" * len(new_packages)
    result = spare.run(command, REMOVE_FROM_SPARE, *new_packages)
    assert result.rc == 0, result.stderr
    assert iptables_rules(spare) == spare_rules_before
    assert installed_packages(spare) == packages_before


@pytest.fixture(scope="module")
def scaled_out(scale, inventory_dir):
    extra = write_inventory(inventory_dir, "scale-out", {"web": {"hosts": {SPARE_NODE: None}}})
    scale.scaled_out = converge(extra_inventory=extra)
    return scale.scaled_out


@pytest.fixture(scope="module")
def scaled_in(scale, scaled_out):
    scale.scaled_in = converge()
    return scale.scaled_in


# Scale out: the spare node joins group web.


def test_scale_out_converges(scaled_out):
    assert scaled_out.returncode == 0, scaled_out.output


def test_scale_out_memcached_active(scaled_out):
    assert get_node(SPARE_NODE).run("systemctl is-active memcached").stdout.strip() == "active"


def test_scale_out_single_process(scaled_out):
    # The package starts memcached on install; no process from that start may remain.
    assert get_node(SPARE_NODE).run("pgrep -c -x memcached").stdout.strip() == "1"


def test_scale_out_process_matches_config(scaled_out):
    host = get_node(SPARE_NODE)
    pid = host.check_output("systemctl show --property MainPID --value memcached")
    arguments = [part.decode() for part in host.file(f"/proc/{pid}/cmdline").content.split(b"\0") if part]
    options = [line for line in memcached_config_options(host) if not line.startswith("logfile ")]
    assert arguments[1:] == [word for line in options for word in line.split()]


def test_scale_out_listens_on_own_address(scaled_out):
    assert tcp_listeners(get_node(SPARE_NODE)) == {SPARE_ADDRESS}


@pytest.mark.parametrize("peer", WEB_NODES)
def test_scale_out_spare_reaches_peer(scaled_out, peer):
    result = probe_tcp(SPARE_NODE, NODE_ADDRESSES[peer])
    assert result.status == "open", result.detail
    assert result.detail.startswith("VERSION "), result.detail


@pytest.mark.parametrize("peer", WEB_NODES)
def test_scale_out_peer_reaches_spare(scaled_out, peer):
    result = probe_tcp(peer, SPARE_ADDRESS)
    assert result.status == "open", result.detail
    assert result.detail.startswith("VERSION "), result.detail


@pytest.mark.parametrize("name", SCALED_NODES)
def test_scale_out_chain_lists_spare(scaled_out, name):
    assert chain_rules(get_node(name)) == expected_chain(web_addresses(SCALED_NODES))


def test_scale_out_outsider_dropped(scaled_out):
    assert probe_tcp(OUTSIDER, SPARE_ADDRESS).status == "timeout"


# Scale in: the spare node is back in group spare only.


def test_scale_in_converges(scaled_in):
    assert scaled_in.returncode == 0, scaled_in.output


@pytest.mark.parametrize("peer", WEB_NODES)
def test_scale_in_spare_dropped(scaled_in, peer):
    assert probe_tcp(SPARE_NODE, NODE_ADDRESSES[peer]).status == "timeout"


@pytest.mark.parametrize("name", WEB_NODES)
def test_scale_in_no_spare_rule(scaled_in, name):
    rules = iptables_rules(get_node(name))
    assert [rule for rule in rules if SPARE_ADDRESS in rule] == []


@pytest.mark.parametrize("name", WEB_NODES)
def test_scale_in_chain_restored(scaled_in, name):
    assert chain_rules(get_node(name)) == expected_chain(web_addresses())


@pytest.mark.parametrize("name", WEB_NODES)
def test_scale_in_rules_file_clean(scaled_in, name):
    content = get_node(name).file("/etc/tier-firewall/rules.v4").content_string
    assert SPARE_ADDRESS not in content


def test_scale_in_peers_still_connect(scaled_in):
    # memcached must still serve the remaining peers on port 11211 after the change.
    result = probe_tcp(WEB_NODES[0], NODE_ADDRESSES[WEB_NODES[-1]], MEMCACHED_PORT)
    assert result.status == "open", result.detail


def test_scale_in_single_jump(scaled_in):
    assert iptables_rules(get_node(WEB_NODES[0]), "INPUT").count(f"-A INPUT -j {CHAIN}") == 1
