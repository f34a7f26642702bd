"""End-to-end checks of the tier: shared sessions through the balancer, the
session settings each node uses, client addresses and the firewall."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time

import jinja2
import pytest
import yaml
from conftest import PLAYBOOK_DIR, run_project_playbook

REQUESTS = 30
PHP_RUNTIME = os.environ.get("TIER_PHP_RUNTIME", "mod_php")


@pytest.fixture(scope="module")
def round_trip(new_session) -> list[dict]:
    """Send 30 requests with one cookie through the balancer, once per module."""
    session = new_session()
    return [session.get() for _ in range(REQUESTS)]


def test_round_trip_all_succeed(round_trip):
    assert [answer["status"] for answer in round_trip] == [200] * REQUESTS


def test_round_trip_counter_runs_in_order(round_trip):
    assert [answer["count"] for answer in round_trip] == list(range(1, REQUESTS + 1))


def test_round_trip_keeps_one_session(round_trip):
    assert len({answer["session_id"] for answer in round_trip}) == 1


def test_round_trip_reaches_every_node(round_trip, web_names):
    assert {answer["backend"] for answer in round_trip} == set(web_names)


def test_session_settings_identical(round_trip):
    settings = {(a["save_handler"], a["save_path"], a["sess_prefix"]) for a in round_trip}
    assert len(settings) == 1


def test_effective_settings_identical(round_trip):
    settings = {json.dumps(answer["settings"], sort_keys=True) for answer in round_trip}
    assert len(settings) == 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("memcached.sess_number_of_replicas", "2"),
        ("memcached.sess_binary_protocol", "On"),
        ("memcached.sess_remove_failed_servers", "On"),
        ("memcached.sess_server_failure_limit", "1"),
        ("memcached.sess_connect_timeout", "200"),
        ("memcached.sess_consistent_hash", "On"),
        ("memcached.sess_persistent", "Off"),
        ("memcached.sess_lock_expire", "30"),
        ("session.gc_maxlifetime", "1440"),
    ],
)
def test_effective_setting_matches_intent(round_trip, name, expected):
    # FPM stores admin flags parsed ("1" or ""); mod_php keeps the text "On" or "Off".
    value = round_trip[0]["settings"][name]
    if expected in ("On", "Off"):
        value = {"1": "On", "": "Off"}.get(value, value)
    assert value == expected


def test_session_handler_is_memcached(round_trip):
    assert round_trip[0]["save_handler"] == "memcached"


def test_save_path_lists_nodes_in_order(round_trip, web_names):
    from conftest import address_of

    expected = ",".join(f"{address_of(name)}:11211" for name in web_names)
    assert round_trip[0]["save_path"] == expected


def test_session_prefix_set_explicitly(round_trip):
    assert round_trip[0]["sess_prefix"] == "tier.sess."


def test_client_address_seen_by_php(round_trip, client_address):
    assert {answer["client"] for answer in round_trip} == {client_address}


def test_access_log_shows_client(round_trip, web_hosts, client_address, balancer_address):
    for host in web_hosts:
        last = host.check_output("tail -n 1 /var/log/apache2/app-access.log")
        assert last.split()[0] == client_address, last
        assert f"peer={balancer_address}" in last


def test_forged_header_through_balancer_ignored(new_session, client_address):
    answer = new_session().get(headers={"X-Forwarded-For": "203.0.113.7"})
    assert answer["client"] == client_address


def test_forged_header_from_non_balancer_ignored(web_hosts):
    # The node itself is not a balancer, so its header must not be trusted.
    fetch = (
        "import urllib.request as u; r = u.Request('http://127.0.0.1/session.php', "
        "headers={'X-Forwarded-For': '203.0.113.7'}); print(u.urlopen(r, timeout=5).read().decode())"
    )
    answer = json.loads(web_hosts[0].check_output(f'python3 -c "{fetch}"'))
    assert answer["client"] == "127.0.0.1"


def test_web_port_closed_to_client(client, web_names):
    from conftest import address_of

    for name in web_names:
        result = client.run(f"curl -s -m 2 -o /dev/null http://{address_of(name)}/session.php")
        assert result.rc == 28, f"{name}: curl exit {result.rc}, expected a timeout (28)"


def test_apache_config_valid(web_hosts):
    for host in web_hosts:
        assert host.run("apachectl -t").rc == 0, host.backend.hostname


def test_only_tier_sites_enabled(web_hosts):
    for host in web_hosts:
        assert host.check_output("ls /etc/apache2/sites-enabled") == "tier-app.conf"


def test_unknown_host_name_served_by_tier(client, web_hosts, balancer_address):
    body = client.check_output(
        f"curl -sS -m 5 -H 'Host: unknown.invalid' http://{balancer_address}/session.php"
    )
    assert json.loads(body)["save_handler"] == "memcached"


def test_admin_values_match_runtime(web_hosts):
    for host in web_hosts:
        vhost = host.file("/etc/apache2/sites-available/tier-app.conf").content_string
        if PHP_RUNTIME == "mod_php":
            assert "php_admin_value session.save_handler" in vhost
        else:
            assert "php_admin_value" not in vhost
            assert "proxy:unix:" in vhost


def test_prefork_pool_matches_runtime(web_hosts):
    """mod_php runs a fixed pool of twice the CPUs, at least 4, with KeepAlive off. FPM has no pool file."""
    for host in web_hosts:
        pool_file = host.file("/etc/apache2/conf-enabled/tier-prefork.conf")
        if PHP_RUNTIME != "mod_php":
            assert not pool_file.exists
            continue
        workers = max(2 * int(host.check_output("nproc")), 4)
        settings = dict(line.split(None, 1) for line in pool_file.content_string.splitlines()
                        if line.strip() and not line.lstrip().startswith(("#", "<")))  # fmt: skip
        assert settings["MaxRequestWorkers"].strip() == str(workers)
        assert settings["KeepAlive"].strip() == "Off"
        # The parent process and one child per worker.
        assert int(host.check_output("pgrep -c -x apache2")) == workers + 1


def test_fpm_pool_static(web_hosts):
    """FPM runs a static pool of twice the CPUs, at least 4. mod_php has no FPM pool."""
    for host in web_hosts:
        pools = host.run("cat /etc/php/*/fpm/pool.d/tier.conf")
        if PHP_RUNTIME != "fpm":
            assert pools.rc != 0, pools.stdout
            continue
        children = max(2 * int(host.check_output("nproc")), 4)
        settings = dict(line.split(" = ", 1) for line in pools.stdout.splitlines() if line.startswith("pm"))
        assert settings["pm"] == "static"
        assert settings["pm.max_children"] == str(children)
        assert "pm.max_spare_servers" not in settings
        assert int(host.check_output("pgrep -c -f '^php-fpm: pool tier'")) == children


def _fpm_children(host, expected: int) -> int:
    """Return the count of the pool's workers once it is ``expected``, or after 15 s.

    A reload replaces the workers after systemctl has returned.
    """
    deadline = time.monotonic() + 15
    while True:
        count = int(host.run("pgrep -c -f '^php-fpm: pool tier'").stdout.strip() or 0)
        if count == expected or time.monotonic() > deadline:
            return count
        time.sleep(0.5)


def _ran(run, task_name: str) -> set[str]:
    """Return the hosts on which the task or handler called ``task_name`` ran."""
    return {host for host, result in run.task_results(task_name).items() if not result.get("skipped")}


@pytest.mark.skipif(PHP_RUNTIME != "fpm", reason="mod_php has no FPM pool")
def test_fpm_pool_change_leaves_apache_running(web_hosts, web_names):
    """A pool change reloads PHP-FPM on every node and neither restarts nor reloads Apache."""
    children = max(2 * int(web_hosts[0].check_output("nproc")), 4)
    apache_pids = [host.check_output("systemctl show -P MainPID apache2") for host in web_hosts]
    try:
        run = run_project_playbook("web.yml", "-e", f"php_fpm_max_children={children + 1}")
        assert run.returncode == 0, run.output
        assert _ran(run, "Reload PHP-FPM") == set(web_names), run.output
        assert not _ran(run, "Restart PHP-FPM")
        assert not _ran(run, "Restart Apache")
        assert not _ran(run, "Reload Apache")
        for host in web_hosts:
            assert _fpm_children(host, children + 1) == children + 1
        assert [host.check_output("systemctl show -P MainPID apache2") for host in web_hosts] == apache_pids
    finally:
        restored = run_project_playbook("web.yml")
    assert restored.returncode == 0, restored.output
    for host in web_hosts:
        assert _fpm_children(host, children) == children


def _unit_state(host, unit: str) -> tuple[str, str]:
    """Return the output of systemctl is-active and is-enabled for ``unit``."""
    return (
        host.run(f"systemctl is-active {unit}").stdout.strip(),
        host.run(f"systemctl is-enabled {unit}").stdout.strip(),
    )


@pytest.mark.skipif(PHP_RUNTIME != "fpm", reason="only a tier that runs PHP-FPM can switch away from it")
def test_switch_to_mod_php_stops_fpm(web_hosts, web_names, new_session):
    """Switching to mod_php stops and disables PHP-FPM and keeps sessions working. A second run changes nothing."""
    php_version = web_hosts[0].check_output("ls /etc/php").split()[0]
    fpm_unit = f"php{php_version}-fpm"
    try:
        switched = run_project_playbook("web.yml", "-e", "php_runtime=mod_php")
        assert switched.returncode == 0, switched.output
        assert _ran(switched, "Stop and disable PHP-FPM under mod_php") == set(web_names), switched.output
        # Apache sends PHP requests to PHP-FPM until it restarts under mod_php.
        restart = switched.first_run_position("Restart Apache")
        assert restart < switched.first_run_position("Stop and disable PHP-FPM under mod_php")
        for host in web_hosts:
            assert _unit_state(host, fpm_unit) == ("inactive", "disabled"), host.backend.hostname
            assert host.file(f"/etc/apache2/mods-enabled/php{php_version}.load").exists, host.backend.hostname
        session = new_session()
        replies = [session.get() for _ in range(2 * len(web_hosts))]
        assert [reply["count"] for reply in replies] == list(range(1, len(replies) + 1)), replies
        again = run_project_playbook("web.yml", "-e", "php_runtime=mod_php")
        assert again.returncode == 0, again.output
        assert all(counts["changed"] == 0 for counts in again.stats.values()), again.output
    finally:
        restored = run_project_playbook("web.yml")
    assert restored.returncode == 0, restored.output
    for host in web_hosts:
        assert _unit_state(host, fpm_unit) == ("active", "enabled"), host.backend.hostname


# Files that a run rejected in the validation play must leave unchanged.
REJECTED_RUN_FILES = ["/etc/apache2/conf-available/tier-prefork.conf", "/etc/apache2/ports.conf"]


@pytest.mark.parametrize(
    ("extra_vars", "expected"),
    [
        ("apache_prefork_workers=0", "apache_prefork_workers '0' is invalid"),
        ("apache_port=8081", "apache_port differs on these web nodes (host: apache_port)"),
        (
            "php_runtime=fpm php_fpm_pm=dynamic php_fpm_max_spare_servers=8",
            "php_fpm_max_spare_servers (8) <= php_fpm_max_children",
        ),
        # Checked against the argument specification even with mod_php.
        ("php_fpm_pm=bogus", "value of php_fpm_pm must be one of: static, dynamic, ondemand, got: bogus"),
        ("php_fpm_max_requests=abc", "argument 'php_fpm_max_requests' is of type str"),
        # The argument specification passes a string for a list unchanged.
        ("php_extensions=mbstring", 'php_extensions "mbstring" is invalid'),
        # A group variable that names no inventory group.
        ("memcached_peer_group=nosuch", "memcached_peer_group 'nosuch' is invalid: group 'nosuch' is missing"),
        ("php_session_peer_group=nosuch", "php_session_peer_group 'nosuch' is invalid: group 'nosuch' is missing"),
        (
            "nginx_balancer_backend_group=nosuch",
            "nginx_balancer_backend_group 'nosuch' is invalid: group 'nosuch' is missing",
        ),
    ],
    ids=[
        "prefork-workers-zero",
        "web-port-not-balancer-port",
        "fpm-spare-over-children",
        "fpm-pm-unknown",
        "fpm-max-requests-not-int",
        "extensions-string-not-list",
        "memcached-peer-group-missing",
        "php-peer-group-missing",
        "balancer-backend-group-missing",
    ],
)
def test_bad_input_rejected(web_hosts, extra_vars, expected):
    """Bad input fails in the validation play, names the variable and changes no file."""
    before = [host.file(path).content_string for host in web_hosts for path in REJECTED_RUN_FILES]
    run = run_project_playbook("site.yml", "-e", extra_vars)
    assert run.returncode != 0, run.output
    assert any(expected in message for message in run.failure_messages()), run.output
    assert [host.file(path).content_string for host in web_hosts for path in REJECTED_RUN_FILES] == before


def test_web_play_stops_on_one_bad_node(web_hosts, web_names):
    """web.yml on its own stops every node when one node's value fails the argument specification."""
    bad_value = f'php_fpm_pm={{{{ "bogus" if inventory_hostname == "{web_names[1]}" else "static" }}}}'
    before = [host.file(path).content_string for host in web_hosts for path in REJECTED_RUN_FILES]
    run = run_project_playbook("web.yml", "-e", bad_value)
    assert run.returncode != 0, run.output
    assert any("got: bogus" in message for message in run.failure_messages()), run.output
    assert not _ran(run, "Find the web node packages not installed yet"), run.output
    assert [host.file(path).content_string for host in web_hosts for path in REJECTED_RUN_FILES] == before


def test_rendered_settings_known_to_php(web_hosts):
    for host in web_hosts:
        known = set(json.loads(host.check_output("php -r 'echo json_encode(array_keys(ini_get_all()));'")))
        if PHP_RUNTIME == "mod_php":
            text = host.file("/etc/apache2/sites-available/tier-app.conf").content_string
            names = {line.split()[1] for line in text.splitlines() if line.strip().startswith("php_admin_value")}
        else:
            text = host.check_output("cat /etc/php/*/fpm/pool.d/tier.conf")
            names = {line.split("[")[1].split("]")[0] for line in text.splitlines() if line.startswith("php_admin_value[")}
        assert names, host.backend.hostname
        assert names <= known, names - known


def test_services_active(web_hosts, balancer):
    services = ["memcached", "apache2", "tier-firewall"]
    if PHP_RUNTIME == "fpm":
        services.append(f"php{web_hosts[0].check_output('ls /etc/php').split()[0]}-fpm")
    for host in web_hosts:
        for service in services:
            result = host.run(f"systemctl is-active {service}")
            assert result.stdout.strip() == "active", f"{host.backend.hostname}: {service}"
    assert balancer.run("systemctl is-active nginx").stdout.strip() == "active"


POLICY_RC = "/usr/sbin/policy-rc.d"


def test_policy_rc_removed(web_hosts):
    """The web play's policy-rc.d lasts for one package transaction only."""
    for host in web_hosts:
        assert not host.file(POLICY_RC).exists, host.backend.hostname


def _web_play_policy_rc() -> str:
    """Return the policy-rc.d that web.yml writes, rendered for memcached."""
    play = yaml.safe_load((PLAYBOOK_DIR / "web.yml").read_text())[0]
    transaction = next(task for task in play["tasks"] if "__web_policy_rc_content" in task.get("vars", {}))
    template = jinja2.Template(transaction["vars"]["__web_policy_rc_content"], keep_trailing_newline=True)
    return template.render(__memcached_service="memcached")


def _write(host, path: str, content: str) -> None:
    """Write ``content`` to the executable file ``path`` on ``host``."""
    result = host.run(f"printf '%s' {shlex.quote(content)} > {path} && chmod 0755 {path}")
    assert result.rc == 0, result.stderr


SAME_FOR_BOTH_RUNTIMES = pytest.mark.skipif(
    PHP_RUNTIME == "fpm", reason="the package transaction does not depend on the PHP runtime"
)


@SAME_FOR_BOTH_RUNTIMES
def test_policy_rc_of_interrupted_run_removed(web_hosts, web_names):
    """The play's own policy-rc.d, left by an interrupted run, is removed even when no package is missing."""
    host, name = web_hosts[-1], web_names[-1]
    _write(host, POLICY_RC, _web_play_policy_rc())
    try:
        run = run_project_playbook("web.yml", "--limit", name)
        assert run.returncode == 0, run.output
        assert _ran(run, "Let packages start services again") == {name}
        assert not _ran(run, "Install the web node packages")
        assert not host.file(POLICY_RC).exists
    finally:
        host.run(f"rm -f {POLICY_RC}")


@SAME_FOR_BOTH_RUNTIMES
def test_policy_rc_removed_after_failed_install(web_hosts, web_names):
    """A failed package transaction still removes the play's policy-rc.d."""
    host, name = web_hosts[-1], web_names[-1]
    assert host.run("apt-get purge -y -q memcached").rc == 0
    try:
        run = run_project_playbook(
            "web.yml", "--limit", name, "-e", '{"web_packages": ["memcached", "tier-no-such-package"]}'
        )
        assert run.returncode != 0, run.output
        assert _ran(run, "Keep the packages from starting memcached") == {name}
        assert not host.file(POLICY_RC).exists
    finally:
        host.run(f"rm -f {POLICY_RC}")
        restored = run_project_playbook("web.yml", "--limit", name)
    assert restored.returncode == 0, restored.output
    assert host.service("memcached").is_running


@SAME_FOR_BOTH_RUNTIMES
@pytest.mark.parametrize("as_link", [False, True], ids=["file", "link"])
def test_policy_rc_of_others_kept(web_hosts, web_names, as_link):
    """Another policy-rc.d, a file or a link, stays as it is, and memcached still starts after its package."""
    host, name = web_hosts[-1], web_names[-1]
    foreign = "#!/bin/sh\n# Keeps every service from starting.\nexit 101\n"
    target = "/usr/local/sbin/site-policy-rc" if as_link else POLICY_RC
    assert host.run("apt-get purge -y -q memcached").rc == 0
    _write(host, target, foreign)
    if as_link:
        assert host.run(f"ln -s {target} {POLICY_RC}").rc == 0
    try:
        run = run_project_playbook("web.yml", "--limit", name)
        assert run.returncode == 0, run.output
        assert host.file(POLICY_RC).is_symlink == as_link
        assert host.file(POLICY_RC).content_string == foreign
        assert host.service("memcached").is_running
    finally:
        host.run(f"rm -f {POLICY_RC} /usr/local/sbin/site-policy-rc")


def test_nginx_config_valid(balancer):
    assert balancer.run("nginx -t").rc == 0


def test_upstream_uses_addresses(balancer, web_names):
    from conftest import address_of

    config = balancer.check_output("nginx -T 2>/dev/null")
    for name in web_names:
        assert f"server {address_of(name)}:80" in config
        assert f"server {name}" not in config


def test_check_playbook_round_trip():
    run = run_project_playbook("check.yml", json_output=False)
    assert run.returncode == 0, run.output
    assert "the session kept its counter across every web node" in run.stdout


def test_balancer_reloads_with_node_gone(balancer, web_names, new_session):
    """nginx must load and reload while a web node's container is stopped."""
    stopped = web_names[-1]
    subprocess.run(["docker", "stop", "-t", "5", stopped], check=True, capture_output=True, timeout=60)
    try:
        assert balancer.run("nginx -t").rc == 0
        assert balancer.run("systemctl reload nginx").rc == 0
        session = new_session()
        answers = [session.get() for _ in range(6)]
        assert [answer["status"] for answer in answers] == [200] * 6
        assert [answer["count"] for answer in answers] == list(range(1, 7))
        assert stopped not in {answer["backend"] for answer in answers}
    finally:
        subprocess.run(["docker", "start", stopped], check=True, capture_output=True, timeout=60)
        subprocess.run(
            ["docker", "exec", stopped, "systemctl", "is-system-running", "--wait"],
            capture_output=True,
            timeout=120,
            check=False,
        )
