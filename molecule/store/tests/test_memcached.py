"""memcached on every web node: running, configured by the role, listening only where intended."""

from conftest import MEMCACHED_PORT, expected_listen_addresses, memcached_config_options, tcp_listeners, udp_listeners

testinfra_hosts = ["ansible://web"]


def test_service_active(host):
    assert host.run("systemctl is-active memcached").stdout.strip() == "active"


def test_service_enabled(host):
    assert host.run("systemctl is-enabled memcached").stdout.strip() == "enabled"


def test_single_process(host):
    # A daemon left over from the package's own start would be a second process.
    assert host.run("pgrep -c -x memcached").stdout.strip() == "1"


def test_process_matches_config(host):
    pid = host.check_output("systemctl show --property MainPID --value memcached")
    command_line = host.file(f"/proc/{pid}/cmdline").content.split(b"\0")
    arguments = [part.decode() for part in command_line if part]

    # The Debian wrapper passes every option line except `logfile` on to the daemon.
    options = [line for line in memcached_config_options(host) if not line.startswith("logfile ")]
    expected = [word for line in options for word in line.split()]

    assert arguments[0] == "/usr/bin/memcached"
    assert arguments[1:] == expected


def test_listen_tcp_exact(host):
    assert tcp_listeners(host) == expected_listen_addresses(host.backend.get_hostname())


def test_listen_not_wildcard(host):
    assert not tcp_listeners(host) & {"0.0.0.0", "::"}


def test_listen_no_udp(host):
    assert udp_listeners(host) == set()


def test_config_one_listen_line(host):
    listen_lines = [line for line in memcached_config_options(host) if line.split()[0] == "-l"]
    assert len(listen_lines) == 1


def test_config_listen_addresses(host):
    listen_line = next(line for line in memcached_config_options(host) if line.split()[0] == "-l")
    addresses = set(listen_line.split(maxsplit=1)[1].split(","))
    assert addresses == expected_listen_addresses(host.backend.get_hostname())


def test_config_udp_off(host):
    assert "-U 0" in memcached_config_options(host)


def test_config_port(host):
    assert f"-p {MEMCACHED_PORT}" in memcached_config_options(host)


def test_config_managed_header(host):
    first_line = host.file("/etc/memcached.conf").content_string.splitlines()[0]
    assert first_line == "# Ansible managed"
