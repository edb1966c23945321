"""plugins/filter/monitoring_door.py: the door's targets, the doors a monitoring host scrapes, the clean-up."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.pyweb.deploy.plugins.filter import monitoring_door as d  # noqa: E402

EXPORTERS = [{"name": "node", "port": 9100}, {"name": "nginx", "port": 9113}, {"name": "postgres", "port": 9187}]


def test_targets_name_each_exporter_its_job_and_path_through_the_door():
    targets = d.monitoring_door_targets(EXPORTERS, "web1")
    assert [t["labels"] for t in targets] == [
        {"job": "node", "__metrics_path__": "/metrics/node", "host": "web1"},
        {"job": "nginx", "__metrics_path__": "/metrics/nginx", "host": "web1"},
        {"job": "postgres", "__metrics_path__": "/metrics/postgres", "host": "web1"},
    ]
    assert all(t["targets"] == ["door"] for t in targets)


@pytest.mark.parametrize("bad", [{"name": "bad name", "port": 1}, {"name": "x", "port": "9100"},
                                 {"name": "x", "port": True}, {"name": "x", "port": 70000}, "node"])
def test_an_exporter_without_a_plain_name_and_port_is_refused(bad):
    with pytest.raises(AnsibleFilterError, match="each exporter needs a name and a port"):
        d.monitoring_door_exporters([bad])


def test_the_same_exporter_twice_is_kept_once_two_ports_refused():
    assert d.monitoring_door_exporters(EXPORTERS + [{"name": "node", "port": 9100}]) == EXPORTERS
    with pytest.raises(AnsibleFilterError, match="two exporters named node"):
        d.monitoring_door_exporters(EXPORTERS + [{"name": "node", "port": 9200}])


def test_doors_read_each_web_hosts_address_and_port_from_the_inventory():
    hostvars = {"web1": {"monitoring_listen_address": "10.0.0.5"},
                "web2": {"monitoring_listen_address": "[fd00::6]", "monitoring_door_port": "9201"}}
    doors = d.monitoring_doors(["web1", "web2"], hostvars, {"self": "mon"})
    assert doors == [
        {"name": "web1", "address": "10.0.0.5", "port": 9101, "password_file": "/etc/prometheus/doors/web1.password"},
        {"name": "web2", "address": "fd00::6", "port": 9201, "password_file": "/etc/prometheus/doors/web2.password"},
    ]


def test_a_host_that_monitors_itself_uses_the_roles_address_even_loopback():
    doors = d.monitoring_doors(["web1"], {"web1": {}}, {"self": "web1", "address": "127.0.0.1", "port": 9101})
    assert doors == [{"name": "web1", "address": "127.0.0.1", "port": 9101,
                      "password_file": "/etc/prometheus/doors/web1.password"}]


def test_a_web_host_on_loopback_cannot_be_monitored_from_elsewhere():
    with pytest.raises(AnsibleFilterError, match="web1's monitoring_listen_address is 127.0.0.1 .*mon cannot reach"):
        d.monitoring_doors(["web1"], {"web1": {}}, {"self": "mon"})


def test_password_files_are_plain_names_and_never_shared():
    doors = d.monitoring_doors(["../web 1"], {"../web 1": {"monitoring_listen_address": "10.0.0.5"}}, {"self": "mon"})
    assert doors[0]["password_file"] == "/etc/prometheus/doors/_web_1.password"
    hv = {"a b": {"monitoring_listen_address": "10.0.0.5"}, "a_b": {"monitoring_listen_address": "10.0.0.6"}}
    with pytest.raises(AnsibleFilterError, match="share a password file"):
        d.monitoring_doors(["a b", "a_b"], hv, {"self": "mon"})


def test_nothing_installed_nothing_removed():
    assert d.monitoring_leftovers([], {}) == {"absent": [], "units": [], "nginx": False}
    assert d.monitoring_leftovers(d.MARKERS, {"exporters": True, "server": True}) == {"absent": [], "units": [], "nginx": False}


def test_mode_off_removes_both_parts_marker_last():
    left = d.monitoring_leftovers(d.MARKERS, {"exporters": False, "server": False})
    assert left["nginx"] is True
    assert set(left["units"]) == {"prometheus-node-exporter", "prometheus-nginx-exporter", "mtail", "prometheus",
                                  "prometheus-alertmanager", "prometheus-blackbox-exporter",
                                  "pyweb-app-metrics.socket", "pyweb-app-metrics.service"}
    assert left["units"].index("pyweb-app-metrics.socket") < left["units"].index("pyweb-app-metrics.service")
    absent = left["absent"]
    assert "/etc/nginx/conf.d/pyweb-monitoring-door.conf" in absent and "/etc/prometheus/alertmanager.yml" in absent
    assert absent.index("/etc/nginx/conf.d/pyweb-stub-status.conf") > absent.index("/etc/default/mtail")
    assert absent.index("/etc/prometheus/pyweb-monitoring.password") > absent.index("/etc/prometheus/alertmanager.yml")
    assert len(absent) == len(set(absent))


def test_app_metrics_go_when_turned_off_or_with_the_exporters():
    files = {"/etc/systemd/system/pyweb-app-metrics.service", "/etc/systemd/system/pyweb-app-metrics.socket",
             "/usr/local/lib/pyweb/pyweb-app-metrics", "/etc/pyweb/app-metrics.json"}
    off = d.monitoring_leftovers(d.MARKERS, {"exporters": True, "server": True, "app_metrics": False})
    assert set(off["absent"]) == files and off["absent"][-1] == "/etc/pyweb/app-metrics.json"
    assert off["units"] == ["pyweb-app-metrics.socket", "pyweb-app-metrics.service"] and off["nginx"] is False
    gone = d.monitoring_leftovers(d.MARKERS, {"exporters": False, "server": True, "app_metrics": True})
    assert files <= set(gone["absent"])
    kept = d.monitoring_leftovers(d.MARKERS, {"exporters": True, "server": False})
    assert not files & set(kept["absent"])
    assert d.monitoring_leftovers([], {"exporters": False}) == {"absent": [], "units": [], "nginx": False}


def test_a_prometheus_the_role_did_not_install_is_left_alone():
    left = d.monitoring_leftovers(["/etc/nginx/conf.d/pyweb-stub-status.conf"], {"exporters": False, "server": False})
    assert not any(p.startswith("/etc/prometheus") for p in left["absent"]) and "prometheus" not in left["units"]


def test_a_web_host_whose_server_moved_to_a_monitoring_host_keeps_its_exporters():
    left = d.monitoring_leftovers(d.MARKERS, {"exporters": True, "server": False})
    assert left["units"] == ["prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"]
    assert "/etc/default/prometheus-node-exporter" not in left["absent"] and left["nginx"] is False


def test_a_web_host_that_is_also_a_monitoring_host_keeps_its_server_in_the_web_play():
    # The site playbook's first play runs the role with server false and server_kept true on it; the
    # `monitoring` play then configures the server: nothing is removed and rebuilt on each run.
    assert d.monitoring_leftovers(d.MARKERS, {"exporters": True, "server": False, "server_kept": True}) == \
        {"absent": [], "units": [], "nginx": False}
    # Monitoring turned off: the `monitoring` play (server false, nothing kept) removes it.
    assert "prometheus" in d.monitoring_leftovers(d.MARKERS, {"exporters": False, "server": False})["units"]


def test_the_site_playbook_keeps_the_server_of_monitoring_hosts_in_its_web_play():
    import yaml
    site = yaml.safe_load((Path(__file__).resolve().parents[2] / "playbooks" / "site.yml").read_text())
    roles = [t for play in site for t in play.get("tasks", [])
             if t.get("ansible.builtin.include_role", {}).get("name") == "pyweb.deploy.monitoring"]
    assert len(roles) == 2
    assert "groups['monitoring']" in roles[0]["vars"]["monitoring_server_kept"]
    assert "inventory_hostname in" in roles[0]["vars"]["monitoring_server_kept"]
    assert "monitoring_server_kept" not in roles[1]["vars"]


def test_door_passwords_become_secret_files_for_the_hosts_that_had_one():
    results = [{"item": {"name": "web1", "password_file": "/etc/prometheus/doors/web1.password"},
                "content": "c2VjcmV0LXBhc3N3b3Jk\n"},
               {"item": {"name": "web2", "password_file": "/etc/prometheus/doors/web2.password"}, "failed": True}]
    assert d.monitoring_door_password_files(results) == [
        {"dest": "/etc/prometheus/doors/web1.password", "content": "secret-password", "mode": "0640",
         "group": "prometheus", "secret": True, "tag": "door"}]


def test_the_role_looks_for_the_markers_the_filter_knows():
    import yaml
    role_vars = yaml.safe_load((Path(__file__).resolve().parents[2] / "roles/monitoring/vars/main.yml").read_text())
    assert role_vars["__monitoring_markers"] == d.MARKERS
