"""Unit tests for the resync in roles/memcached's tier-memcached-resync helper.

Two small in-process servers speak the part of memcached's text protocol
that the helper uses (lru_crawler metadump, mg, add, set, delete and
version): one is the peer, one is the local memcached that gets refilled.
"""

from __future__ import annotations

import dataclasses
import importlib.machinery
import importlib.util
import os
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest

HELPER = (
    Path(__file__).resolve().parents[2] / "roles/memcached/files/usr/local/sbin/tier-memcached-resync"
)


def _load_helper():
    loader = importlib.machinery.SourceFileLoader("tier_memcached_resync", str(HELPER))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the file runs.
    sys.modules[loader.name] = module
    loader.exec_module(module)
    return module


resync = _load_helper()


class FakeMemcached(socketserver.ThreadingTCPServer):
    """A key-value store with memcached's expiry rules, served on 127.0.0.1."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        # key -> (flags, absolute expiry or None, value)
        self.items: dict[bytes, tuple[int, float | None, bytes]] = {}
        # key -> Unix time of the last write, which metadump lists as la=
        self.written: dict[bytes, int] = {}
        self.lock = threading.Lock()
        self.commands: list[bytes] = []

    @property
    def port(self) -> int:
        return self.server_address[1]

    def put(self, key: bytes, value: bytes, flags: int = 0, ttl: float | None = None, written: float | None = None) -> None:
        self.items[key] = (flags, None if ttl is None else time.time() + ttl, value)
        self.written[key] = int(time.time() if written is None else written)

    def live(self, key: bytes) -> tuple[int, float | None, bytes] | None:
        item = self.items.get(key)
        if item is None or (item[1] is not None and item[1] <= time.time()):
            return None
        return item


class _Handler(socketserver.StreamRequestHandler):
    server: FakeMemcached

    def handle(self) -> None:
        while True:
            line = self.rfile.readline()
            if not line:
                return
            words = line.rstrip(b"\r\n").split()
            with self.server.lock:
                self.server.commands.append(words[0] if words else b"")
            if words == [b"lru_crawler", b"metadump", b"all"]:
                self._metadump()
            elif words and words[0] == b"mg":
                self._meta_get(words[1], words[2:])
            elif words and words[0] in (b"add", b"set"):
                self._store(words)
            elif words and words[0] == b"delete":
                found = self.server.items.pop(words[1], None) is not None
                self.wfile.write(b"DELETED\r\n" if found else b"NOT_FOUND\r\n")
            elif words == [b"version"]:
                self.wfile.write(b"VERSION 1.6.99\r\n")
            else:
                self.wfile.write(b"ERROR\r\n")

    def _metadump(self) -> None:
        for key, (_, expiry, value) in list(self.server.items.items()):
            exp = -1 if expiry is None else int(expiry)
            written = self.server.written.get(key, 0)
            line = b"key=%s exp=%d la=%d cas=1 fetch=no cls=1 size=%d\n" % (
                quote_from_bytes(key).encode(), exp, written, len(value)
            )
            self.wfile.write(line)
        self.wfile.write(b"END\r\n")

    def _meta_get(self, key: bytes, flags: list[bytes]) -> None:
        item = self.server.live(key)
        if item is None:
            self.wfile.write(b"EN\r\n")
            return
        if b"v" not in flags:
            self.wfile.write(b"HD\r\n")
            return
        item_flags, expiry, value = item
        ttl = -1 if expiry is None else int(expiry - time.time())
        self.wfile.write(b"VA %d f%d t%d\r\n%s\r\n" % (len(value), item_flags, ttl, value))

    def _store(self, words: list[bytes]) -> None:
        command, key, flags, exptime, size = words[0], words[1], int(words[2]), int(words[3]), int(words[4])
        value = self.rfile.read(size + 2)[:-2]
        if command == b"add" and self.server.live(key) is not None:
            self.wfile.write(b"NOT_STORED\r\n")
            return
        if exptime == 0:
            expiry = None
        elif exptime > resync.MAX_RELATIVE_EXPIRY:
            expiry = float(exptime)
        else:
            expiry = time.time() + exptime
        self.server.items[key] = (flags, expiry, value)
        self.server.written[key] = int(time.time())
        self.wfile.write(b"STORED\r\n")


@pytest.fixture
def servers() -> Iterator[tuple[FakeMemcached, FakeMemcached]]:
    started = []
    for _ in range(2):
        server = FakeMemcached()
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        started.append(server)
    yield started[0], started[1]
    for server in started:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """Return a local port with no listener, so a connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_for(local: int, peers: list[int], **changes):
    """Return settings for a local memcached on 127.0.0.1:``local`` and peers on 127.0.0.1."""
    data = {
        "port": local,
        "local_address": "127.0.0.1",
        "listen_addresses": ["127.0.0.1"],
        "peers": [],
        "resync": True,
        "exclude_prefixes": ["p.lock."],
        "ready_timeout": 2,
        "resync_timeout": 10,
        "connect_timeout": 1,
        "io_timeout": 2,
        "memory_file": None,
        "warm_restart_max_age": 10,
        "user": "memcache",
    }
    data.update(changes)
    # In a tier every peer listens on the same port; here each has its own.
    return dataclasses.replace(
        resync.Settings.from_dict(data), peers=tuple(resync.Endpoint("127.0.0.1", port) for port in peers)
    )


def copy(local: FakeMemcached, peer_ports: list[int], **changes) -> list:
    """Run the first pass over each peer; return the reports."""
    settings = settings_for(local.port, peer_ports, **changes)
    deadline = resync.Deadline(settings.resync_timeout)
    run = resync.Run(blocked=True)
    return [resync.copy_from_peer(settings, peer, deadline, run) for peer in settings.peers]


def test_copy_fills_missing_keys(servers):
    peer, local = servers
    for i in range(450):
        peer.put(b"p.%d" % i, b"value-%d" % i, flags=3, ttl=600)
    (report,) = copy(local, [peer.port])
    assert report.error is None
    assert report.copied == 450
    assert local.live(b"p.7") is not None
    assert local.live(b"p.7")[2] == b"value-7"


def test_copy_keeps_client_flags(servers):
    peer, local = servers
    peer.put(b"p.a", b"x", flags=65536, ttl=600)
    copy(local, [peer.port])
    assert local.live(b"p.a")[0] == 65536


def test_copy_keeps_remaining_ttl(servers):
    peer, local = servers
    peer.put(b"p.a", b"x", ttl=300)
    copy(local, [peer.port])
    remaining = local.live(b"p.a")[1] - time.time()
    assert 295 <= remaining <= 301


def test_copy_keeps_no_expiry(servers):
    peer, local = servers
    peer.put(b"p.a", b"x")
    copy(local, [peer.port])
    assert local.live(b"p.a")[1] is None


def test_copy_never_overwrites_local(servers):
    peer, local = servers
    peer.put(b"p.a", b"from peer", ttl=600)
    local.put(b"p.a", b"local", ttl=600)
    (report,) = copy(local, [peer.port])
    assert local.live(b"p.a")[2] == b"local"
    assert report.present == 1
    assert report.copied == 0


def test_copy_checks_before_fetching(servers):
    peer, local = servers
    peer.put(b"p.a", b"x", ttl=600)
    local.put(b"p.a", b"x", ttl=600)
    copy(local, [peer.port])
    assert b"add" not in local.commands


def test_copy_skips_excluded_prefix(servers):
    peer, local = servers
    peer.put(b"p.lock.abc", b"1", ttl=30)
    peer.put(b"p.abc", b"data", ttl=600)
    (report,) = copy(local, [peer.port])
    assert local.live(b"p.lock.abc") is None
    assert local.live(b"p.abc") is not None
    assert report.excluded == 1


def test_copy_decodes_dumped_keys(servers):
    peer, local = servers
    peer.put(b"p.100%", b"x", ttl=600)
    copy(local, [peer.port])
    assert local.live(b"p.100%") is not None


def test_copy_counts_vanished_keys(servers):
    peer, local = servers
    peer.put(b"p.gone", b"x", ttl=600)
    # Expire the item after the dump lists it: the fetch then misses.
    original = _Handler._metadump

    def dump_then_expire(handler):
        original(handler)
        peer.items[b"p.gone"] = (0, time.time() - 1, b"x")

    _Handler._metadump = dump_then_expire
    try:
        (report,) = copy(local, [peer.port])
    finally:
        _Handler._metadump = original
    assert report.vanished == 1
    assert report.copied == 0


def test_copy_from_second_peer_after_refused(servers):
    peer, local = servers
    peer.put(b"p.a", b"x", ttl=600)
    down, up = copy(local, [closed_port(), peer.port])
    assert down.error is not None
    assert up.error is None
    assert local.live(b"p.a") is not None


@pytest.fixture
def busy_dump(monkeypatch) -> None:
    """Make the servers reject every key dump, as memcached does while its crawler is busy."""

    def busy(handler):
        handler.wfile.write(b"BUSY currently processing crawler request\r\n")

    monkeypatch.setattr(_Handler, "_metadump", busy)


def test_copy_rejected_dump_reported(servers, busy_dump):
    peer, local = servers
    (report,) = copy(local, [peer.port])
    assert "BUSY" in report.error


def test_copy_stops_at_deadline(servers):
    peer, local = servers
    peer.put(b"p.a", b"x", ttl=600)
    settings = settings_for(local.port, [peer.port])
    deadline = resync.Deadline(0)
    report = resync.copy_from_peer(settings, settings.peers[0], deadline, resync.Run(blocked=True))
    assert report.error is not None
    assert local.live(b"p.a") is None


def test_catch_up_refreshes_changed_copy(servers):
    peer, local = servers
    peer.put(b"p.a", b"count=1", ttl=600)
    settings = settings_for(local.port, [peer.port])
    run = resync.Run(blocked=True)
    deadline = resync.Deadline(10)
    started = time.time()
    resync.copy_from_peer(settings, settings.peers[0], deadline, run)
    # A client writes the session on the peer while the first pass runs.
    peer.put(b"p.a", b"count=2", ttl=600)
    report = resync.copy_from_peer(settings, settings.peers[0], deadline, run, since=started - 1)
    assert report.refreshed == 1
    assert local.live(b"p.a")[2] == b"count=2"


def test_catch_up_adds_new_keys(servers):
    peer, local = servers
    settings = settings_for(local.port, [peer.port])
    run = resync.Run(blocked=True)
    deadline = resync.Deadline(10)
    started = time.time()
    resync.copy_from_peer(settings, settings.peers[0], deadline, run)
    peer.put(b"p.new", b"x", ttl=600)
    report = resync.copy_from_peer(settings, settings.peers[0], deadline, run, since=started - 1)
    assert report.copied == 1
    assert local.live(b"p.new") is not None


def test_catch_up_keeps_local_items(servers):
    peer, local = servers
    local.put(b"p.a", b"restored", ttl=600)
    peer.put(b"p.a", b"peer", ttl=600)
    settings = settings_for(local.port, [peer.port])
    run = resync.Run(blocked=True)
    report = resync.copy_from_peer(settings, settings.peers[0], resync.Deadline(10), run, since=time.time() - 5)
    assert report.refreshed == 0
    assert local.live(b"p.a")[2] == b"restored"


def test_catch_up_ignores_old_writes(servers):
    peer, local = servers
    peer.put(b"p.old", b"x", ttl=600, written=time.time() - 100)
    settings = settings_for(local.port, [peer.port])
    report = resync.copy_from_peer(
        settings, settings.peers[0], resync.Deadline(10), resync.Run(blocked=True), since=time.time() - 5
    )
    assert report.copied == 0
    assert local.live(b"p.old") is None


def test_catch_up_unblocked_never_sets(servers):
    peer, local = servers
    peer.put(b"p.a", b"count=1", ttl=600)
    settings = settings_for(local.port, [peer.port])
    run = resync.Run(blocked=False)
    deadline = resync.Deadline(10)
    started = time.time()
    resync.copy_from_peer(settings, settings.peers[0], deadline, run)
    peer.put(b"p.a", b"count=2", ttl=600)
    report = resync.copy_from_peer(settings, settings.peers[0], deadline, run, since=started - 1)
    assert report.refreshed == 0
    assert b"set" not in local.commands


def test_final_refresh_replaces_hot_keys(servers):
    peer, local = servers
    peer.put(b"p.a", b"count=1", ttl=600)
    settings = settings_for(local.port, [peer.port])
    run = resync.Run(blocked=True)
    deadline = resync.Deadline(10)
    started = time.time()
    resync.copy_from_peer(settings, settings.peers[0], deadline, run)
    peer.put(b"p.a", b"count=2", ttl=600)
    resync.copy_from_peer(settings, settings.peers[0], deadline, run, since=started - 1)
    # Written again after the catch-up pass read it.
    peer.put(b"p.a", b"count=3", ttl=600)
    assert resync.refresh_hot_keys(settings, deadline, run) == (1, 0)
    assert local.live(b"p.a")[2] == b"count=3"


def test_final_refresh_deletes_destroyed_keys(servers):
    peer, local = servers
    peer.put(b"p.a", b"count=1", ttl=600)
    settings = settings_for(local.port, [peer.port])
    run = resync.Run(blocked=True)
    deadline = resync.Deadline(10)
    started = time.time()
    resync.copy_from_peer(settings, settings.peers[0], deadline, run)
    peer.put(b"p.a", b"count=2", ttl=600)
    resync.copy_from_peer(settings, settings.peers[0], deadline, run, since=started - 1)
    # A logout destroys the session on the peer.
    del peer.items[b"p.a"]
    assert resync.refresh_hot_keys(settings, deadline, run) == (0, 1)
    assert local.live(b"p.a") is None


def test_final_refresh_keeps_key_when_peer_down(servers):
    peer, local = servers
    local.put(b"p.a", b"count=2", ttl=600)
    settings = settings_for(local.port, [peer.port, closed_port()])
    run = resync.Run(added={b"p.a"}, hot={b"p.a": None}, blocked=True)
    assert resync.refresh_hot_keys(settings, resync.Deadline(10), run) == (0, 0)
    assert local.live(b"p.a")[2] == b"count=2"


def test_copy_reports_peer_reached(servers):
    peer, local = servers
    down, up = copy(local, [closed_port(), peer.port])
    assert down.reached is False
    assert up.reached is True


@pytest.mark.parametrize(("blocked", "left_out"), [(False, False), (True, True)], ids=["not-blocked", "peer-left-out"])
def test_final_refresh_keeps_local_value(servers, blocked, left_out):
    """Without the block, or with the one peer left out, nothing is read or deleted."""
    peer, local = servers
    local.put(b"p.a", b"count=1", ttl=600)
    peer.put(b"p.a", b"count=2", ttl=600)
    settings = settings_for(local.port, [peer.port])
    run = resync.Run(added={b"p.a"}, hot={b"p.a": None}, blocked=blocked)
    unreachable = frozenset(settings.peers) if left_out else frozenset()
    assert resync.refresh_hot_keys(settings, resync.Deadline(10), run, unreachable) == (0, 0)
    assert local.live(b"p.a")[2] == b"count=1"


@pytest.fixture
def copy_calls(monkeypatch) -> list:
    """Record each copy_from_peer call of a resync as (peer port, catch-up pass)."""
    calls = []
    real = resync.copy_from_peer

    def recorded(settings, peer, deadline, run, since=None):
        calls.append((peer.port, since is not None))
        return real(settings, peer, deadline, run, since)

    monkeypatch.setattr(resync, "copy_from_peer", recorded)
    return calls


def test_resync_skips_peer_without_connection(servers, copy_calls, caplog):
    peer, local = servers
    peer.put(b"p.a", b"x", ttl=600)
    down = closed_port()
    settings = settings_for(local.port, [down, peer.port])
    with caplog.at_level("INFO", logger="tier-memcached-resync"):
        resync.resync(settings, blocked=True)
    assert copy_calls == [(peer.port, False), (peer.port, True)]
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith(f"resync from 127.0.0.1:{down} skipped: connection failed") for message in messages)
    assert f"catch-up from 127.0.0.1:{down} skipped: the peer accepted no connection before" in messages
    assert any("copied 1 keys" in message and "1 of 2 peers" in message for message in messages)
    assert local.live(b"p.a") is not None


def test_catch_up_skips_peer_lost_later(servers, copy_calls, monkeypatch, caplog):
    peer, local = servers
    down = closed_port()
    # The peer accepted the probe's connection and stopped before the first pass.
    monkeypatch.setattr(resync, "probe_peers", lambda settings, deadline: {})
    with caplog.at_level("INFO", logger="tier-memcached-resync"):
        resync.resync(settings_for(local.port, [down, peer.port]), blocked=True)
    assert copy_calls == [(down, False), (peer.port, False), (peer.port, True)]
    messages = [record.getMessage() for record in caplog.records]
    assert f"catch-up from 127.0.0.1:{down} skipped: the peer accepted no connection before" in messages


@pytest.fixture
def silent_ports() -> Iterator[list[int]]:
    """Two local ports whose accept queues are full, so a new connection times out, as on a blocked peer."""
    listeners, pending_clients = [], []
    for _ in range(2):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        listeners.append(listener)
        for _ in range(4):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(listener.getsockname())
            pending_clients.append(client)
    time.sleep(0.1)
    yield [listener.getsockname()[1] for listener in listeners]
    for sock in pending_clients + listeners:
        sock.close()


def test_probe_tries_peers_together(servers, silent_ports):
    peer, local = servers
    settings = settings_for(local.port, [*silent_ports, peer.port], connect_timeout=0.5)
    started = time.monotonic()
    failed = resync.probe_peers(settings, resync.Deadline(10))
    # One after the other, the two timeouts would take 1 s.
    assert time.monotonic() - started < 0.9
    assert set(failed) == set(settings.peers[:2])
    assert all("timed out" in error for error in failed.values())


def test_probe_tries_again_when_none_answer(servers, silent_ports, caplog):
    _, local = servers
    settings = settings_for(local.port, silent_ports, connect_timeout=0.5)
    started = time.monotonic()
    with caplog.at_level("INFO", logger="tier-memcached-resync"):
        failed = resync.probe_peers(settings, resync.Deadline(10))
    elapsed = time.monotonic() - started
    # Two rounds of one timeout each, not four timeouts one after the other.
    assert 0.9 < elapsed < 1.8
    assert set(failed) == set(settings.peers)
    assert any("each is tried once more" in record.getMessage() for record in caplog.records)


def test_probe_second_try_finds_peer(servers, monkeypatch):
    peer, local = servers
    down = closed_port()
    settings = settings_for(local.port, [down, peer.port])
    tries = []
    real = resync._connection_error

    def failing_first_try(endpoint, settings, deadline):
        tries.append(endpoint.port)
        if tries.count(endpoint.port) == 1:
            return "Connection refused"
        return real(endpoint, settings, deadline)

    monkeypatch.setattr(resync, "_connection_error", failing_first_try)
    failed = resync.probe_peers(settings, resync.Deadline(10))
    assert list(failed) == [settings.peers[0]]
    assert sorted(tries) == sorted([down, down, peer.port, peer.port])


def test_probe_keeps_answering_peers(servers):
    peer, local = servers
    settings = settings_for(local.port, [peer.port, closed_port()])
    assert list(resync.probe_peers(settings, resync.Deadline(10))) == [settings.peers[1]]


def test_catch_up_retries_rejected_dump(servers, busy_dump, copy_calls):
    peer, local = servers
    resync.resync(settings_for(local.port, [peer.port]), blocked=True)
    # Connected, then rejected the dump: the catch-up pass tries again.
    assert copy_calls == [(peer.port, False), (peer.port, True)]


def test_resync_runs_both_passes(servers, caplog):
    peer, local = servers
    peer.put(b"p.a", b"x", ttl=600)
    settings = settings_for(local.port, [peer.port])
    with caplog.at_level("INFO", logger="tier-memcached-resync"):
        resync.resync(settings, blocked=True)
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("resync from") for message in messages)
    assert any(message.startswith("catch-up from") for message in messages)
    assert any("copied 1 keys" in message and "1 of 1 peers" in message for message in messages)


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [(None, 0), (0, None), (-5, None), (1, 1), (2592000, 2592000)],
)
def test_expiry_time_relative(ttl, expected):
    assert resync.expiry_time(ttl) == expected


def test_expiry_time_long_ttl_absolute():
    assert abs(resync.expiry_time(2592001) - (time.time() + 2592001)) < 2


@pytest.mark.parametrize(
    ("key", "valid"),
    [(b"tier.sess.abc", True), (b"a b", False), (b"a\x00b", False), (b"", False), (b"k" * 251, False), (b"k" * 250, True)],
)
def test_key_validity(key, valid):
    assert resync.is_valid_key(key) is valid


def test_wait_until_ready_answers(servers):
    _, local = servers
    assert resync.wait_until_ready(settings_for(local.port, [])) is True


def test_wait_until_ready_times_out():
    settings = settings_for(closed_port(), [], ready_timeout=0.5)
    started = time.monotonic()
    assert resync.wait_until_ready(settings) is False
    assert time.monotonic() - started < 3


def test_old_memory_file_discarded(tmp_path):
    memory = tmp_path / "memory_file"
    memory.write_bytes(b"x")
    meta = tmp_path / "memory_file.meta"
    meta.write_text("saved")
    old = time.time() - 60
    os.utime(meta, (old, old))
    resync.discard_old_memory_file(settings_for(1, [], memory_file=str(memory)))
    assert not memory.exists()
    assert not meta.exists()


def test_recent_memory_file_kept(tmp_path):
    memory = tmp_path / "memory_file"
    memory.write_bytes(b"x")
    (tmp_path / "memory_file.meta").write_text("saved")
    resync.discard_old_memory_file(settings_for(1, [], memory_file=str(memory)))
    assert memory.exists()


def test_blocks_only_with_peers():
    assert settings_for(1, []).blocks is False
    assert settings_for(1, [2]).blocks is True
    assert settings_for(1, [2], resync=False).blocks is False


def _save_memory_file(tmp_path: Path, saved: float) -> str:
    memory = tmp_path / "memory_file"
    memory.write_bytes(b"x")
    meta = tmp_path / "memory_file.meta"
    meta.write_text("saved")
    os.utime(meta, (saved, saved))
    return str(memory)


def test_start_waits_out_save_second(tmp_path):
    saved = time.time()
    settings = settings_for(1, [], memory_file=_save_memory_file(tmp_path, saved))
    resync.wait_for_save_second(settings)
    assert int(time.time()) > int(saved)
    assert time.time() - saved < 1.2


@pytest.fixture
def clock(monkeypatch) -> dict:
    """Fix time.time at clock["now"] and record the sleeps instead of sleeping."""
    state = {"now": 1000.0, "sleeps": []}
    monkeypatch.setattr(resync.time, "time", lambda: state["now"])
    monkeypatch.setattr(resync.time, "sleep", state["sleeps"].append)
    return state


def test_start_wait_covers_lagging_timestamp(tmp_path, clock):
    # Stopped just after 1001.0 by the system clock, stamped 1000.99 by the file system.
    clock["now"] = 1001.004
    resync.wait_for_save_second(settings_for(1, [], memory_file=_save_memory_file(tmp_path, 1000.99)))
    assert clock["sleeps"] == [pytest.approx(0.996)]


def test_start_wait_capped_for_future_save(tmp_path, clock):
    # The clock was set back by an hour after memcached stopped.
    resync.wait_for_save_second(settings_for(1, [], memory_file=_save_memory_file(tmp_path, 1000.0 + 3600)))
    assert clock["sleeps"] == [pytest.approx(1.05)]


def test_start_after_old_save_immediate(tmp_path):
    settings = settings_for(1, [], memory_file=_save_memory_file(tmp_path, time.time() - 5))
    started = time.monotonic()
    resync.wait_for_save_second(settings)
    assert time.monotonic() - started < 0.5


def test_start_without_memory_file_immediate(tmp_path):
    started = time.monotonic()
    resync.wait_for_save_second(settings_for(1, [], memory_file=str(tmp_path / "memory_file")))
    resync.wait_for_save_second(settings_for(1, []))
    assert time.monotonic() - started < 0.5
