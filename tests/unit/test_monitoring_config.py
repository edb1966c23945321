"""plugins/filter/monitoring.py: Prometheus, blackbox, rules and Alertmanager configuration as data."""
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.pyweb.deploy.plugins.filter import monitoring as m  # noqa: E402

CHECK = {"app": "blog", "domain": "blog.example.com", "path": "/health", "scheme": "https",
         "status": 200, "contains": '"status":"ok"', "timeout": 5}


DOOR1 = {"name": "web1", "address": "10.0.0.5", "port": 9101, "password_file": "/etc/prometheus/doors/web1.password"}
DOOR2 = {"name": "web2", "address": "fd00::6", "port": 9101, "password_file": "/etc/prometheus/doors/web2.password"}


def test_prometheus_scrapes_every_host_through_its_door_and_probes_every_app_through_its_domain():
    cfg = m.monitoring_prometheus([DOOR1, DOOR2], [CHECK], {"scrape_interval": "15s"})
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    web1, web2 = jobs["door_web1"], jobs["door_web2"]
    auth1 = {"username": "pyweb-monitoring", "password_file": "/etc/prometheus/doors/web1.password"}
    assert web1["basic_auth"] == auth1
    assert web1["http_sd_configs"] == [{"url": "http://10.0.0.5:9101/targets.json", "refresh_interval": "15s",
                                        "basic_auth": auth1}]
    assert web2["http_sd_configs"][0]["url"] == "http://[fd00::6]:9101/targets.json"
    # The door's address comes from the URL the targets were read from (Prometheus anchors the regex).
    relabel = web1["relabel_configs"][0]
    found = re.fullmatch(relabel["regex"], web2["http_sd_configs"][0]["url"])
    assert relabel["source_labels"] == ["__meta_url"] and relabel["target_label"] == "__address__"
    assert found.expand(relabel["replacement"].replace("$1", r"\1")) == "[fd00::6]:9101"
    assert "node" not in jobs and "nginx" not in jobs
    health = jobs["health_blog_blog_example_com"]
    assert health["static_configs"] == [{"targets": ["https://blog.example.com/health"], "labels": {"app": "blog"}}]
    assert health["params"] == {"module": ["pyweb_blog_blog_example_com"]}
    assert health["relabel_configs"][-1] == {"target_label": "__address__", "replacement": "127.0.0.1:9115"}
    assert cfg["global"]["scrape_interval"] == "15s" and cfg["rule_files"] == ["rules/*.yml"]
    assert cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]


def test_a_monitoring_host_that_is_no_web_host_scrapes_its_own_node_exporter():
    jobs = {j["job_name"]: j for j in m.monitoring_prometheus([DOOR1], [], {"local_node": "mon"})["scrape_configs"]}
    assert jobs["node"]["static_configs"] == [{"targets": ["127.0.0.1:9100"], "labels": {"host": "mon"}}]


def test_prometheus_gives_its_password_to_the_guarded_servers_only():
    auth = {"username": "pyweb-monitoring", "password_file": "/etc/prometheus/pyweb-monitoring.password"}
    cfg = m.monitoring_prometheus([DOOR1], [CHECK], {"basic_auth": auth})
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    for name in ("prometheus", "alertmanager", "blackbox", "health_blog_blog_example_com"):
        assert jobs[name]["basic_auth"] == auth
    assert jobs["door_web1"]["basic_auth"]["password_file"] == DOOR1["password_file"]
    assert cfg["alerting"]["alertmanagers"][0]["basic_auth"] == auth
    plain = m.monitoring_prometheus([], [CHECK])
    assert not any("basic_auth" in j for j in plain["scrape_configs"] + plain["alerting"]["alertmanagers"])
    with pytest.raises(AnsibleFilterError, match="basic_auth needs a username and an absolute password_file"):
        m.monitoring_prometheus([], [], {"basic_auth": {"username": "u", "password_file": "relative"}})


def test_prometheus_refuses_a_host_without_address_or_password_file():
    with pytest.raises(AnsibleFilterError, match="each host needs a name, an address and a password_file"):
        m.monitoring_prometheus([{"name": "web1", "address": "10.0.0.5"}], [])
    with pytest.raises(AnsibleFilterError, match="two hosts make the job door_web_1"):
        m.monitoring_prometheus([dict(DOOR1, name="web-1"), dict(DOOR1, name="web.1")], [])


def test_blackbox_module_per_check_with_its_status_and_text():
    mod = m.monitoring_blackbox([CHECK])["modules"]["pyweb_blog_blog_example_com"]
    assert mod["prober"] == "http" and mod["timeout"] == "5s"
    assert mod["http"]["valid_status_codes"] == [200]
    assert mod["http"]["fail_if_body_not_matches_regexp"] == ['"status":"ok"']
    assert mod["http"]["fail_if_not_ssl"] is True
    assert mod["http"]["tls_config"] == {"insecure_skip_verify": False}
    assert m.monitoring_blackbox([CHECK], insecure=True)["modules"]["pyweb_blog_blog_example_com"]["http"][
        "tls_config"] == {"insecure_skip_verify": True}


def test_rules_cover_the_issue_with_their_thresholds():
    rules = {r["alert"]: r for r in m.monitoring_rules({"disk_percent": 80, "cert_days": 14, "for": "30s"})["groups"][0]["rules"]}
    assert set(rules) == {"AppDown", "AppServerErrors", "AppServerErrorRate", "CertificateExpiresSoon", "UnitFailed",
                          "ScheduledJobFailed",
                          "UnitRestartLoop", "DiskFull", "MemoryPressure", "TargetDown", "AppWorkersBusy",
                          "PostgreSQLDown", "MariaDBDown", "RedisDown", "PostgreSQLConnectionsNearLimit",
                          "MariaDBConnectionsNearLimit", "RedisRejectsConnections"}
    assert rules["AppDown"]["for"] == "30s"
    assert rules["CertificateExpiresSoon"]["expr"] == "probe_ssl_earliest_cert_expiry - time() < 1209600"
    assert rules["DiskFull"]["expr"].endswith("* 100 > 80")
    assert rules["AppDown"]["annotations"]["summary"].startswith("{{ $labels.app }}")
    # 5 % of at least 10 requests in 5 minutes, counted by mtail from the access logs
    rate = rules["AppServerErrorRate"]["expr"]
    assert 'pyweb_nginx_requests_total{status=~"5.."}[5m]' in rate and " > 5 and " in rate and rate.endswith(" >= 10")
    assert " > 20 and " in {r["alert"]: r for r in m.monitoring_rules({"error_percent": 20})["groups"][0]["rules"]}[
        "AppServerErrorRate"]["expr"]


@pytest.mark.parametrize("bad, message", [({"disk_percent": 0}, "disk_percent must be a positive number"),
                                          ({"error_percent": "5"}, "error_percent must be a positive number"),
                                          ({"for": "soon"}, "for must be a duration like 2m")])
def test_rules_refuse_bad_thresholds(bad, message):
    with pytest.raises(AnsibleFilterError, match=message):
        m.monitoring_rules(bad)


def test_alertmanager_routes_to_the_webhook_and_email():
    cfg = m.monitoring_alertmanager({"webhook": {"url": "https://hooks.example/x"},
                                     "email": {"to": ["a@example.com"], "from": "am@example.com", "host": "smtp.example.com",
                                               "port": 587, "starttls": True, "username": "u", "password": "p"},
                                     "group_wait": "5s"})
    receiver = cfg["receivers"][0]
    assert cfg["route"]["receiver"] == receiver["name"] == "pyweb" and cfg["route"]["group_wait"] == "5s"
    assert receiver["webhook_configs"] == [{"url": "https://hooks.example/x", "send_resolved": True}]
    assert receiver["email_configs"][0]["smarthost"] == "smtp.example.com:587"
    assert receiver["email_configs"][0]["require_tls"] is True and receiver["email_configs"][0]["auth_password"] == "p"


def test_alertmanager_needs_a_receiver():
    with pytest.raises(AnsibleFilterError, match="no receiver"):
        m.monitoring_alertmanager({})


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.5", "192.168.1.2", "172.16.0.1", "fd00::6",
                                     "100.100.1.1", "[fd00::6]"])
def test_exporters_may_listen_on_loopback_and_private_addresses(address):
    assert m.monitoring_listen_problem(address) == ""


@pytest.mark.parametrize("address, message", [
    ("0.0.0.0", "listens on every address"), ("::", "listens on every address"),
    ("203.0.113.7", "is a public address"), ("2001:db8::1", "is a public address"),
    ("172.32.0.1", "is a public address"), ("8.8.8.8", "is a public address"),
    ("web1.example.com", "must be an IP address")])
def test_exporters_refuse_public_addresses_unless_asked(address, message):
    assert message in m.monitoring_listen_problem(address)
    if "IP address" not in message:
        assert m.monitoring_listen_problem(address, public=True) == ""


def test_mtail_program_reads_the_access_log_format_nginx_writes():
    """The mtail program's pattern (RE2, here the same as Python's) matches a line written with
    the nginx role's nginx_access_log_format, so AppServerErrorRate sees every request."""
    import yaml

    root = Path(__file__).resolve().parents[2]
    fmt = yaml.safe_load((root / "roles/nginx/defaults/main.yml").read_text())["nginx_access_log_format"]
    values = {"remote_addr": "203.0.113.9", "remote_user": "-", "time_local": "29/Nov/2026:04:06:09 +0000",
              "request": "GET /error?x=\\x22 HTTP/1.1", "status": "502", "body_bytes_sent": "265",
              "http_referer": "-", "http_user_agent": "Mozilla/5.0 (X11; Linux) \\x22quoted\\x22",
              "host": "blog.example.com", "request_time": "0.010", "upstream_response_time": "-",
              "upstream_cache_status": "-"}
    line = re.sub(r"\$([a-z_]+)", lambda mt: values[mt.group(1)], fmt)
    program = (root / "roles/monitoring/templates/etc/mtail/pyweb-nginx.mtail.j2").read_text()
    pattern = re.search(r"^  /(.+) / \{$", program, re.M).group(1) + " "
    found = re.search(pattern, line)
    assert found and found.group("status") == "502" and found.group("site") == "blog.example.com"
    app = re.search(r"^getfilename\(\) =~ /(.+)/ \{$", program, re.M).group(1).replace("\\/", "/")
    assert re.search(app, "/var/log/nginx/blog.access.log").group("app") == "blog"


def test_rules_say_when_a_backing_service_is_down_or_near_its_connection_limit():
    rules = {r["alert"]: r for r in m.monitoring_rules({"for": "1m"})["groups"][0]["rules"]}
    for alert, expr in (("PostgreSQLDown", "pg_up == 0"), ("MariaDBDown", "mysql_up == 0"), ("RedisDown", "redis_up == 0")):
        assert rules[alert]["expr"] == expr
        assert rules[alert]["for"] == "1m" and rules[alert]["labels"]["severity"] == "critical"
    # Connections against max_connections, 80 % by default, per host (the exporters' targets).
    pg = rules["PostgreSQLConnectionsNearLimit"]["expr"]
    assert pg == ("100 * sum by (host, instance) (pg_stat_database_numbackends)"
                  " / max by (host, instance) (pg_settings_max_connections) > 80")
    my = rules["MariaDBConnectionsNearLimit"]["expr"]
    assert "mysql_global_status_threads_connected" in my and "mysql_global_variables_max_connections" in my
    assert my.endswith(" > 80")
    # Redis: the clients turned away (no CONFIG GET for the exporter's user, so no maxclients).
    assert rules["RedisRejectsConnections"]["expr"] == "increase(redis_rejected_connections_total[5m]) > 0"
    tighter = {r["alert"]: r for r in m.monitoring_rules({"connections_percent": 60})["groups"][0]["rules"]}
    assert tighter["MariaDBConnectionsNearLimit"]["expr"].endswith(" > 60")
    assert "60 %" in tighter["PostgreSQLConnectionsNearLimit"]["annotations"]["summary"]


@pytest.mark.parametrize("bad", [0, 101, "80", True])
def test_rules_refuse_a_connections_percent_beyond_1_to_100(bad):
    with pytest.raises(AnsibleFilterError, match="connections_percent must be a number from 1 to 100"):
        m.monitoring_rules({"connections_percent": bad})


@pytest.mark.parametrize("address", ["fe80::1%eth0", "fe80::1%eth0];\nauth_basic\noff;#", "10.0.0.5 ", " 10.0.0.5",
                                     "10.0.0.5\n", "[fd00::6", "fd00::6]", "10.0.0.5;", "::ffff:10.0.0.5%1", ""])
def test_the_door_address_is_a_plain_ip_whatever_public_says(address):
    # The value goes into Nginx's listen line: a scope id or any other character is refused early.
    for public in (False, True):
        assert "must be an IP address" in m.monitoring_listen_problem(address, public)


@pytest.mark.parametrize("address, loopback", [("127.0.0.1", True), ("127.0.1.1", True), ("::1", True),
                                               ("[::1]", True), ("10.0.0.5", False), ("fd00::6", False),
                                               ("::1%lo", False), ("localhost", False)])
def test_the_door_needs_nonlocal_bind_unless_on_loopback(address, loopback):
    assert m.monitoring_listen_loopback(address) is loopback


def test_each_door_job_labels_its_host_by_inventory_name_and_keeps_known_jobs_only():
    cfg = m.monitoring_prometheus([DOOR1, DOOR2], [], {"door_jobs": ["node", "nginx", "mtail", "node"]})
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    for name in ("web1", "web2"):
        relabels = jobs[f"door_{name}"]["relabel_configs"]
        assert {"target_label": "host", "replacement": name} in relabels
        keep = relabels[-1]
        assert keep["action"] == "keep" and keep["source_labels"] == ["job"]
        # Prometheus anchors the regex.
        assert [j for j in ("node", "nginx", "mtail", "evil", "node_x") if re.fullmatch(keep["regex"], j)] == \
            ["node", "nginx", "mtail"]
    # The host label is set after the address (the door's list cannot override it).
    assert relabels.index({"target_label": "host", "replacement": "web2"}) > 0


@pytest.mark.parametrize("bad", [[], ["Node"], ["node", "a|b"], "node", [1]])
def test_door_jobs_are_plain_names(bad):
    with pytest.raises(AnsibleFilterError, match="door_jobs"):
        m.monitoring_prometheus([DOOR1], [], {"door_jobs": bad})


def test_only_the_services_of_packages_not_yet_installed_are_masked_before_apt():
    packages = ["prometheus-node-exporter", "prometheus-nginx-exporter", "mtail", "python3-bcrypt",
                "prometheus", "prometheus-alertmanager", "prometheus-redis-exporter"]
    missing = ["mtail", "python3-bcrypt", "prometheus", "prometheus-redis-exporter", "prometheus-alertmanager",
               "prometheus-postgres-exporter"]
    assert m.monitoring_units_to_mask(packages, missing) == [
        "mtail", "prometheus", "prometheus-alertmanager", "prometheus-redis-exporter"]
    # A converged host: nothing missing, nothing masked (idempotent, --check clean).
    assert m.monitoring_units_to_mask(packages, []) == []
    with pytest.raises(AnsibleFilterError, match="lists"):
        m.monitoring_units_to_mask("prometheus", [])
