"""memcached between the nodes: peers connect and receive the version reply, everyone else is dropped."""

import itertools

import pytest
from conftest import NODE_ADDRESSES, OUTSIDE_NODES, WEB_NODES, probe_tcp, probe_udp

PEER_PAIRS = [(source, target) for source, target in itertools.permutations(WEB_NODES, 2)]
OUTSIDE_PAIRS = list(itertools.product(OUTSIDE_NODES, WEB_NODES))


@pytest.mark.parametrize(("source", "target"), PEER_PAIRS)
def test_peer_tcp_open(source, target):
    result = probe_tcp(source, NODE_ADDRESSES[target])
    assert result.status == "open", result.detail
    assert result.detail.startswith("VERSION "), result.detail


def test_loopback_listener_answers():
    result = probe_tcp("store-web1", "127.0.0.1")
    assert result.status == "open", result.detail
    assert result.detail.startswith("VERSION "), result.detail


@pytest.mark.parametrize(("source", "target"), OUTSIDE_PAIRS)
def test_outsider_tcp_dropped(source, target):
    # DROP, not REJECT: the connection attempt times out.
    assert probe_tcp(source, NODE_ADDRESSES[target]).status == "timeout"


@pytest.mark.parametrize("target", WEB_NODES)
def test_peer_udp_refused(target):
    # The firewall lets the peer's datagram in, and the kernel replies with ICMP
    # port unreachable because memcached runs with -U 0.
    source = next(name for name in WEB_NODES if name != target)
    assert probe_udp(source, NODE_ADDRESSES[target]).status == "refused"


@pytest.mark.parametrize("target", WEB_NODES)
def test_outsider_udp_dropped(target):
    assert probe_udp(OUTSIDE_NODES[0], NODE_ADDRESSES[target]).status == "timeout"
