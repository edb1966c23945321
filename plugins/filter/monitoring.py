# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring host's configuration as data: Prometheus, its alert rules, the blackbox
exporter's modules and Alertmanager's routes (roles/monitoring writes them with to_nice_yaml).

- ``hosts | pyweb.deploy.monitoring_prometheus(checks, settings)``: ``prometheus.yml``. ``hosts``
  is a list of ``{name, address, port, password_file}`` (the web hosts' doors, ``monitoring_doors``); ``checks``
  the apps' health checks (``apps_health_checks``), probed by the blackbox exporter through each
  app's real domain and TLS.
- ``checks | pyweb.deploy.monitoring_blackbox(insecure)``: ``blackbox.yml``, one module per check
  (its expected status and text).
- ``thresholds | pyweb.deploy.monitoring_rules``: the alert rules (``rules/pyweb.yml``).
- ``settings | pyweb.deploy.monitoring_alertmanager``: ``alertmanager.yml``, routes to a webhook
  and e-mail.
- ``address | pyweb.deploy.monitoring_listen_problem(public)``: ``''`` when the exporters may
  listen there (loopback or private), else why not.
- ``address | pyweb.deploy.monitoring_listen_loopback``: whether the address is loopback.
- ``packages | pyweb.deploy.monitoring_units_to_mask(missing)``: the services to mask before the apt
  call installs ``packages`` (those of the packages not installed yet).
"""
from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError

PORTS = {"node": 9100, "nginx": 9113, "mtail": 3903, "prometheus": 9090, "alertmanager": 9093, "blackbox": 9115}
_MODULE_CHARS = re.compile(r"[^A-Za-z0-9_]")
_JOB = re.compile(r"[a-z][a-z0-9_]*")


def _module_name(check):
    return "pyweb_" + _MODULE_CHARS.sub("_", f"{check['app']}_{check['domain']}")


def _host_port(address, port):
    return f"[{address}]:{port}" if ":" in str(address) else f"{address}:{port}"


def monitoring_prometheus(hosts, checks, settings=None):
    """prometheus.yml as a dict."""
    settings = settings or {}
    interval = settings.get("scrape_interval", "30s")
    local = settings.get("listen_address", "127.0.0.1")
    # Prometheus, Alertmanager and the blackbox exporter ask for a password (their
    # --web.config.file): Prometheus gives it to itself, to Alertmanager and to the probes.
    auth = settings.get("basic_auth") or {}
    if auth and not (auth.get("username") and str(auth.get("password_file", "")).startswith("/")):
        raise AnsibleFilterError("monitoring_prometheus: basic_auth needs a username and an absolute password_file")
    guarded = {"basic_auth": {"username": auth["username"], "password_file": auth["password_file"]}} if auth else {}
    jobs = [
        {"job_name": name, "static_configs": [{"targets": [_host_port(local, PORTS[name])]}], **guarded}
        for name in ("prometheus", "alertmanager", "blackbox")
    ]
    # Each web host's door (monitoring_doors): Prometheus reads the host's exporters from the door's
    # /targets.json (http_sd; each target's job, metrics path and host label) and scrapes them
    # through it, with that host's password; the door's address comes from the URL the list was read from.
    if settings.get("local_node"):
        # A monitoring host that is no web host: its own node exporter, on its loopback.
        jobs.append({"job_name": "node", "static_configs": [{"targets": [_host_port(local, PORTS["node"])],
                                                             "labels": {"host": str(settings["local_node"])}}]})
    door_jobs = settings.get("door_jobs")
    if door_jobs is not None and not (isinstance(door_jobs, (list, tuple)) and door_jobs
                                      and all(isinstance(j, str) and _JOB.fullmatch(j) for j in door_jobs)):
        raise AnsibleFilterError(f"monitoring_prometheus: door_jobs must be a list of exporter names, not {door_jobs!r}")
    door_jobs_keep = ([{"source_labels": ["job"], "regex": "|".join(sorted(set(door_jobs))), "action": "keep"}]
                      if door_jobs else [])
    names = set()
    for door in hosts or []:
        if not isinstance(door, dict) or not door.get("name") or not door.get("address") \
                or not str(door.get("password_file", "")).startswith("/"):
            raise AnsibleFilterError(f"monitoring_prometheus: each host needs a name, an address and a password_file, not {door!r}")
        job = "door_" + _MODULE_CHARS.sub("_", str(door["name"]))
        if job in names:
            raise AnsibleFilterError(f"monitoring_prometheus: two hosts make the job {job}")
        names.add(job)
        door_auth = {"username": door.get("username", "pyweb-monitoring"), "password_file": door["password_file"]}
        address = _host_port(door["address"], int(door.get("port", 9101)))
        jobs.append({
            "job_name": job,
            "basic_auth": door_auth,
            "http_sd_configs": [{"url": f"http://{address}/targets.json", "refresh_interval": interval,
                                 "basic_auth": door_auth}],
            "relabel_configs": [{"source_labels": ["__meta_url"], "regex": "https?://([^/]+)/.*",
                                 "target_label": "__address__", "replacement": "$1"},
                                # The host is the inventory's name, not what the door says, and
                                # only the jobs of known exporters are kept.
                                {"target_label": "host", "replacement": str(door["name"])},
                                *door_jobs_keep],
        })
    for check in checks or []:
        url = f"{check['scheme']}://{check['domain']}{check['path']}"
        jobs.append({
            "job_name": f"health_{_module_name(check)[6:]}",
            "metrics_path": "/probe",
            "params": {"module": [_module_name(check)]},
            **guarded,
            "static_configs": [{"targets": [url], "labels": {"app": check["app"]}}],
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": _host_port(local, PORTS["blackbox"])},
            ],
        })
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [_host_port(local, PORTS["alertmanager"])]}],
                                        **guarded}]},
        "rule_files": ["rules/*.yml"],
        "scrape_configs": jobs,
    }


# Private networks: RFC 1918, carrier-grade NAT (overlay networks such as Tailscale), link-local,
# IPv6 unique local and link-local.
_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                                              "169.254.0.0/16", "fc00::/7", "fe80::/10")]


_IP_CHARS = re.compile(r"[0-9A-Fa-f:.]+")


def _plain_ip(address):
    """The address as an ipaddress object when it is a plain IPv4 or IPv6 address (brackets allowed
    around IPv6; no scope id, no space, nothing else), else None."""
    text = str(address)
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not _IP_CHARS.fullmatch(text):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def monitoring_listen_loopback(address):
    """True when ``address`` is a loopback address (the door needs no sysctl to bind it at boot)."""
    ip = _plain_ip(address)
    return bool(ip is not None and ip.is_loopback)


def monitoring_listen_problem(address, public=False):
    """'' when the exporters may listen on ``address``, else why not: an IP address (not a name),
    loopback or private (RFC 1918, 100.64.0.0/10, fc00::/7, link-local), never every address
    (0.0.0.0, ::) nor a public one unless ``public`` (monitoring_listen_public) says so."""
    ip = _plain_ip(address)
    if ip is None:
        return (f"monitoring_listen_address must be an IP address (loopback or private, no IPv6 scope such as %eth0), "
                f"not {address!r}")
    if public:
        return ""
    if ip.is_unspecified:
        return (f"monitoring_listen_address {address} listens on every address, the public ones too: give "
                "127.0.0.1 or a private address, or set monitoring_listen_public: true")
    if ip.is_loopback or any(ip.version == net.version and ip in net for net in _PRIVATE):
        return ""
    return (f"monitoring_listen_address {address} is a public address: the exporters would answer anyone; give "
            "127.0.0.1 or a private address, or set monitoring_listen_public: true (behind a firewall)")


def monitoring_blackbox(checks, insecure=False):
    """blackbox.yml as a dict: one http module per health check."""
    modules = {}
    for check in checks or []:
        http = {"method": "GET", "valid_status_codes": [int(check.get("status", 200))],
                "preferred_ip_protocol": "ip4", "fail_if_not_ssl": check["scheme"] == "https",
                "tls_config": {"insecure_skip_verify": bool(insecure)}}
        if check.get("contains"):
            http["fail_if_body_not_matches_regexp"] = [re.escape(check["contains"])]
        modules[_module_name(check)] = {"prober": "http", "timeout": f"{int(check.get('timeout', 10))}s",
                                        "http": http}
    return {"modules": modules}


def _rule(name, expr, duration, severity, summary):
    return {"alert": name, "expr": expr, "for": duration, "labels": {"severity": severity},
            "annotations": {"summary": summary}}


def monitoring_rules(thresholds=None):
    """The alert rules (a rules file as a dict)."""
    t = {"for": "2m", "disk_percent": 90, "memory_percent": 90, "cert_days": 14,
         "restarts": 3, "error_percent": 5, "error_min_requests": 10, **(thresholds or {})}
    for key in ("disk_percent", "memory_percent", "cert_days", "restarts", "error_percent", "error_min_requests"):
        value = t[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise AnsibleFilterError(f"monitoring_rules: {key} must be a positive number, not {value!r}")
    if not re.fullmatch(r"[0-9]+[smh]", str(t["for"])):
        raise AnsibleFilterError(f"monitoring_rules: for must be a duration like 2m, not {t['for']!r}")
    d = t["for"]
    rules = [
        _rule("AppDown", "probe_success == 0", d, "critical",
              "{{ $labels.app }} does not answer its health check at {{ $labels.instance }}"),
        _rule("AppServerErrors", "probe_http_status_code >= 500", d, "critical",
              "{{ $labels.app }} answers {{ $value }} at {{ $labels.instance }}"),
        # mtail counts the requests of each app's access log by status (pyweb_nginx_requests_total):
        # more than error_percent % of them 5xx over 5 minutes, with at least error_min_requests.
        _rule("AppServerErrorRate",
              f'100 * sum by (host, app) (increase(pyweb_nginx_requests_total{{status=~"5.."}}[5m]))'
              f" / sum by (host, app) (increase(pyweb_nginx_requests_total[5m])) > {t['error_percent']}"
              f" and sum by (host, app) (increase(pyweb_nginx_requests_total[5m])) >= {t['error_min_requests']}",
              d, "critical",
              f"{{{{ $labels.app }}}} on {{{{ $labels.host }}}} answers more than {t['error_percent']} % of its requests"
              " with 5xx ({{ $value | printf \"%.0f\" }} %)"),
        _rule("CertificateExpiresSoon", f"probe_ssl_earliest_cert_expiry - time() < {int(t['cert_days']) * 86400}",
              "10m", "warning",
              f"the certificate of {{{{ $labels.instance }}}} expires within {t['cert_days']} days"),
        _rule("UnitFailed", 'node_systemd_unit_state{state="failed"} == 1', "1m", "critical",
              "{{ $labels.name }} failed on {{ $labels.host }}"),
        _rule("ScheduledJobFailed", 'node_systemd_unit_state{state="failed", name=~".+-job-.+\\\\.service"} == 1',
              "0m", "warning", "the scheduled job {{ $labels.name }} failed on {{ $labels.host }}"),
        _rule("UnitRestartLoop", f"increase(node_systemd_service_restart_total[15m]) > {t['restarts']}", "0m",
              "critical", f"{{{{ $labels.name }}}} restarted more than {t['restarts']} times in 15 minutes on {{{{ $labels.host }}}}"),
        _rule("DiskFull",
              f'(1 - node_filesystem_avail_bytes{{fstype!~"tmpfs|overlay|squashfs"}} / '
              f'node_filesystem_size_bytes{{fstype!~"tmpfs|overlay|squashfs"}}) * 100 > {t["disk_percent"]}',
              "10m", "warning", f"{{{{ $labels.mountpoint }}}} on {{{{ $labels.host }}}} is more than {t['disk_percent']} % full"),
        _rule("MemoryPressure",
              f"(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * 100 > {t['memory_percent']}",
              "5m", "warning", f"{{{{ $labels.host }}}} uses more than {t['memory_percent']} % of its memory"),
        _rule("TargetDown", "up == 0", d, "critical", "{{ $labels.job }} at {{ $labels.instance }} cannot be scraped"),
    ]
    rules += _app_metrics_rules(t)
    rules += _service_rules(t)
    return {"groups": [{"name": "pyweb", "rules": rules}]}


def _app_metrics_rules(t):
    """pyweb-app-metrics's rule: an app whose workers are busy answering requests more than
    busy_percent (90) of the time over 5 minutes, for 5 minutes (its requests queue): Gunicorn's
    time answering (the durations' sum) or uWSGI's busy workers, over the workers."""
    busy = t.get("busy_percent", 90)
    if isinstance(busy, bool) or not isinstance(busy, (int, float)) or not 0 < busy <= 100:
        raise AnsibleFilterError(f"monitoring_rules: busy_percent must be a number above 0 and at most 100, not {busy!r}")
    return [
        _rule("AppWorkersBusy",
              "100 * sum by (host, app) (rate(pyweb_app_request_duration_seconds_sum[5m]))"
              f" / sum by (host, app) (pyweb_app_workers) > {busy}"
              " or 100 * sum by (host, app) (avg_over_time(pyweb_app_workers_busy[5m]))"
              f" / sum by (host, app) (pyweb_app_workers) > {busy}",
              "5m", "warning",
              f"{{{{ $labels.app }}}} on {{{{ $labels.host }}}} keeps its workers busy more than {busy} % of the time"
              " ({{ $value | printf \"%.0f\" }} %): add workers or threads"),
    ]


def _service_rules(t):
    """The backing services' rules (their exporters, roles/monitoring/tasks/services.yml): the server
    does not answer its exporter, its connections near its limit (connections_percent, 80)."""
    pct, d = t.get("connections_percent", 80), t["for"]
    if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 < pct <= 100:
        raise AnsibleFilterError(f"monitoring_rules: connections_percent must be a number from 1 to 100, not {pct!r}")
    down = (("PostgreSQLDown", "pg_up", "PostgreSQL"), ("MariaDBDown", "mysql_up", "MariaDB"), ("RedisDown", "redis_up", "Redis"))
    rules = [_rule(name, f"{metric} == 0", d, "critical", f"{server} on {{{{ $labels.host }}}} does not answer its exporter")
             for name, metric, server in down]
    by = "by (host, instance)"
    rules += [
        _rule("PostgreSQLConnectionsNearLimit",
              f"100 * sum {by} (pg_stat_database_numbackends) / max {by} (pg_settings_max_connections) > {pct}",
              "5m", "warning",
              f"PostgreSQL on {{{{ $labels.host }}}} uses more than {pct} % of max_connections"
              " ({{ $value | printf \"%.0f\" }} %)"),
        _rule("MariaDBConnectionsNearLimit",
              f"100 * max {by} (mysql_global_status_threads_connected) / max {by} (mysql_global_variables_max_connections)"
              f" > {pct}",
              "5m", "warning",
              f"MariaDB on {{{{ $labels.host }}}} uses more than {pct} % of max_connections"
              " ({{ $value | printf \"%.0f\" }} %)"),
        # Redis's maxclients needs CONFIG GET, which the exporter's user may not run: the clients
        # Redis turned away (INFO's rejected_connections) say the limit was reached.
        _rule("RedisRejectsConnections", "increase(redis_rejected_connections_total[5m]) > 0", "0m", "warning",
              "Redis on {{ $labels.host }} turned clients away (maxclients reached) in the last 5 minutes"),
    ]
    return rules


def monitoring_alertmanager(settings):
    """alertmanager.yml as a dict: every alert to the webhook and/or e-mail."""
    settings = settings or {}
    webhook, mail = settings.get("webhook") or {}, settings.get("email") or {}
    receiver = {"name": "pyweb"}
    if webhook:
        receiver["webhook_configs"] = [{"url": webhook["url"], "send_resolved": True}]
    if mail:
        cfg = {"to": ", ".join(mail["to"]), "from": mail["from"],
               "smarthost": _host_port(mail["host"], mail.get("port", 25)),
               "require_tls": bool(mail.get("starttls", False)), "send_resolved": True}
        if mail.get("username"):
            cfg["auth_username"] = mail["username"]
            cfg["auth_password"] = mail.get("password", "")
        receiver["email_configs"] = [cfg]
    if len(receiver) == 1:
        raise AnsibleFilterError("monitoring_alertmanager: no receiver: give a webhook url or an email")
    return {
        "route": {"receiver": "pyweb", "group_by": ["alertname", "host", "app"],
                  "group_wait": settings.get("group_wait", "30s"),
                  "group_interval": settings.get("group_interval", "5m"),
                  "repeat_interval": settings.get("repeat_interval", "4h")},
        "receivers": [receiver],
    }


# The packages whose service Debian starts at install with its defaults (every address, no password).
_SERVICE_PACKAGES = re.compile(r"prometheus(-[a-z0-9-]+)?|mtail")


def monitoring_units_to_mask(packages, missing):
    """The services (named as their packages) to mask before apt installs ``packages``: those of
    the exporters, Prometheus, Alertmanager and mtail among ``missing`` (package_state's, the
    packages not installed yet), in the order of ``packages``. An installed package's service is
    left alone (the role configures and runs it)."""
    if isinstance(packages, str) or isinstance(missing, str):
        raise AnsibleFilterError("monitoring_units_to_mask: packages and missing are lists of package names")
    absent = {str(name) for name in missing or []}
    return list(dict.fromkeys(str(p) for p in packages or [] if str(p) in absent and _SERVICE_PACKAGES.fullmatch(str(p))))


class FilterModule:
    def filters(self):
        return {"monitoring_prometheus": monitoring_prometheus, "monitoring_blackbox": monitoring_blackbox,
                "monitoring_rules": monitoring_rules, "monitoring_alertmanager": monitoring_alertmanager,
                "monitoring_listen_problem": monitoring_listen_problem,
                "monitoring_listen_loopback": monitoring_listen_loopback,
                "monitoring_units_to_mask": monitoring_units_to_mask}
