# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring door: each web host's one authenticated way in to its exporters, and what the
monitoring host and the clean-up decide from it (roles/monitoring).

- ``exporters | pyweb.deploy.monitoring_door_targets(host)``: the door's ``/targets.json`` (Prometheus's
  http_sd), one target per exporter, scraped through the door at ``/metrics/<name>``.
- ``names | pyweb.deploy.monitoring_doors(hostvars, settings)``: the doors a monitoring host scrapes,
  each web host's address, port and the file its password is copied to.
- ``results | pyweb.deploy.monitoring_door_password_files(group)``: the copies of the doors' passwords.
- ``markers | pyweb.deploy.monitoring_leftovers(keep)``: what the role installed and is no longer
  wanted (files to remove, units to stop and disable).
"""
from __future__ import annotations

import base64
import re

from ansible.errors import AnsibleFilterError

DOOR_PORT = 9101
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def _exporters(exporters):
    seen = {}
    for exporter in exporters or []:
        if not isinstance(exporter, dict) or not _NAME.fullmatch(str(exporter.get("name", ""))) \
                or isinstance(exporter.get("port"), bool) or not isinstance(exporter.get("port"), int) \
                or not 0 < exporter["port"] < 65536:
            raise AnsibleFilterError(f"monitoring door: each exporter needs a name and a port, not {exporter!r}")
        if seen.get(exporter["name"], exporter["port"]) != exporter["port"]:
            raise AnsibleFilterError(f"monitoring door: two exporters named {exporter['name']}")
        seen[exporter["name"]] = exporter["port"]
    return [{"name": name, "port": port} for name, port in seen.items()]


def monitoring_door_exporters(exporters):
    """The exporters the door proxies, checked ({name, port}, names unique, in their order)."""
    return _exporters(exporters)


def monitoring_door_targets(exporters, host):
    """/targets.json: one target group per exporter. The address is a placeholder: Prometheus puts the
    door's own (from the URL it read the list from) in its place, so the host need not know how it is
    reached."""
    if not host:
        raise AnsibleFilterError("monitoring_door_targets: the host's name is missing")
    return [{"targets": ["door"],
             "labels": {"job": e["name"], "__metrics_path__": f"/metrics/{e['name']}", "host": str(host)}}
            for e in _exporters(exporters)]


def _get(hostvars, name, key, default):
    try:
        value = hostvars[name][key]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def monitoring_doors(names, hostvars, settings=None):
    """The doors a monitoring host scrapes: [{name, address, port, password_file}].

    ``names``: the web hosts (inventory names); their ``monitoring_listen_address`` (default
    127.0.0.1) and ``monitoring_door_port`` (default 9101) come from ``hostvars``. ``settings``:
    ``self`` (this host's name), ``address`` and ``port`` (this host's own, from the role: a host
    that monitors itself may be given them by the play, not the inventory), ``password_dir``
    (where the copies of the doors' passwords go, one file per host). Fails for a door on loopback
    that is not this host's (the monitoring host could not reach it)."""
    settings = settings or {}
    me = settings.get("self")
    password_dir = str(settings.get("password_dir", "/etc/prometheus/doors")).rstrip("/")
    if not password_dir.startswith("/"):
        raise AnsibleFilterError("monitoring_doors: password_dir must be absolute")
    doors, files = [], {}
    for name in names or []:
        name = str(name)
        if name == me:
            address = settings.get("address") or _get(hostvars, name, "monitoring_listen_address", "127.0.0.1")
            port = settings.get("port") or _get(hostvars, name, "monitoring_door_port", DOOR_PORT)
        else:
            address = _get(hostvars, name, "monitoring_listen_address", "127.0.0.1")
            port = _get(hostvars, name, "monitoring_door_port", DOOR_PORT)
        address = str(address).strip("[]")
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise AnsibleFilterError(f"monitoring_doors: {name}'s monitoring_door_port is not a port: {port!r}")
        if name != me and (address.startswith("127.") or address in ("::1", "localhost")):
            raise AnsibleFilterError(
                f"monitoring_doors: {name}'s monitoring_listen_address is {address} (loopback): the monitoring "
                f"host {me} cannot reach its exporters; give {name} a private address it reaches "
                "(monitoring_listen_address in the inventory)")
        file_name = _FILE_CHARS.sub("_", name).lstrip(".") or "_"
        if file_name in files:
            raise AnsibleFilterError(f"monitoring_doors: {name} and {files[file_name]} would share a password file")
        files[file_name] = name
        doors.append({"name": name, "address": address, "port": port,
                      "password_file": f"{password_dir}/{file_name}.password"})
    return doors


def monitoring_door_password_files(results, group="prometheus"):
    """config_files' files for the copies of the doors' passwords: one per result of the slurp loop
    over ``monitoring_doors`` that read one (``item.password_file``, ``content`` base64), secret."""
    files = []
    for result in results or []:
        item = result.get("item") or {}
        if not result.get("content") or not str(item.get("password_file", "")).startswith("/"):
            continue
        try:
            password = base64.b64decode(result["content"]).decode().strip()
        except (ValueError, UnicodeDecodeError):
            raise AnsibleFilterError(f"monitoring_door_password_files: {item.get('name')}'s door password is not text")
        files.append({"dest": item["password_file"], "content": password, "mode": "0640", "group": group,
                      "secret": True, "tag": "door"})
    return files


# What the role installs, by part. The marker is the file only this role writes; the others are
# package files it overwrote (/etc/default, /etc/prometheus), removed only when the marker says the
# role was there (a Prometheus installed by something else keeps its files).
PARTS = {
    "exporters": {
        "marker": "/etc/nginx/conf.d/pyweb-stub-status.conf",
        "files": ["/etc/nginx/conf.d/pyweb-monitoring-door.conf", "/etc/nginx/pyweb-monitoring",
                  "/etc/pyweb-monitoring", "/etc/mtail/pyweb-nginx.mtail", "/etc/sysctl.d/60-pyweb-monitoring-door.conf",
                  "/etc/default/prometheus-node-exporter", "/etc/default/prometheus-nginx-exporter",
                  "/etc/default/mtail"],
        "units": ["prometheus-node-exporter", "prometheus-nginx-exporter", "mtail"],
    },
    "server": {
        "marker": "/etc/prometheus/pyweb-monitoring.password",
        "files": ["/etc/prometheus/prometheus.yml", "/etc/prometheus/rules/pyweb.yml", "/etc/prometheus/blackbox.yml",
                  "/etc/prometheus/alertmanager.yml", "/etc/prometheus/web.yml", "/etc/prometheus/doors",
                  "/etc/default/prometheus", "/etc/default/prometheus-alertmanager",
                  "/etc/default/prometheus-blackbox-exporter"],
        "units": ["prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"],
    },
    # pyweb-app-metrics (tasks/app_metrics.yml): its user and folders stay, like the packages.
    "app_metrics": {
        "marker": "/etc/pyweb/app-metrics.json",
        "files": ["/etc/systemd/system/pyweb-app-metrics.service", "/etc/systemd/system/pyweb-app-metrics.socket",
                  "/usr/local/lib/pyweb/pyweb-app-metrics"],
        "units": ["pyweb-app-metrics.socket", "pyweb-app-metrics.service"],
    },
}
MARKERS = [part["marker"] for part in PARTS.values()]


def monitoring_leftovers(markers, keep=None):
    """What to remove: {absent: [paths], units: [names], nginx: bool (Nginx's configuration changes)}.

    ``markers``: the markers (``MARKERS``) that exist on the host; ``keep``: {exporters: bool,
    server: bool, server_kept: bool, app_metrics: bool}, the parts still wanted (``server_kept``: the
    server is not this run's but another's, such as the site playbook's `monitoring` play on a web
    host that is also a monitoring host: left as it is). A monitoring host without exporters runs a
    node exporter of its own, configured by the server part: it goes with the server unless the
    exporters stay. The app metrics (default: kept) go with the exporters."""
    keep = dict(keep or {})
    keep["server"] = keep.get("server") or keep.get("server_kept")
    keep["app_metrics"] = bool(keep.get("app_metrics", True) and keep.get("exporters"))
    present = {str(m) for m in markers or []}
    absent, units = [], []
    for name, part in PARTS.items():
        if keep.get(name) or part["marker"] not in present:
            continue
        # The marker last: a clean-up stopped half-way is found again by the next run.
        absent += part["files"] + [part["marker"]]
        units += part["units"]
        if name == "server" and not keep.get("exporters"):
            units.append("prometheus-node-exporter")
            absent.append("/etc/default/prometheus-node-exporter")
    return {"absent": list(dict.fromkeys(absent)), "units": list(dict.fromkeys(units)),
            "nginx": any(p.startswith("/etc/nginx/") for p in absent)}


class FilterModule:
    def filters(self):
        return {"monitoring_door_targets": monitoring_door_targets, "monitoring_door_exporters": monitoring_door_exporters,
                "monitoring_doors": monitoring_doors, "monitoring_leftovers": monitoring_leftovers,
                "monitoring_door_password_files": monitoring_door_password_files}
