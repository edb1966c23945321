"""pyweb.deploy.balancer_state: the drained hosts of a balancer, in a JSON file (a temp dir)."""
import importlib.util
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("pyweb_balancer_state", ROOT / "plugins" / "modules" / "balancer_state.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)

SITES = {"hello": ["app1", "app2"], "docs": ["app1", "app2"], "solo": ["app1"]}


def call(tmp_path, drain=(), undrain=(), sites=None, check=False):
    return mod.run({"sites": SITES if sites is None else sites, "drain": list(drain), "undrain": list(undrain),
                    "path": str(tmp_path / "balancer" / "state.json"),
                    "upstreams_dir": str(tmp_path / "upstreams")}, check)


def state(tmp_path):
    return json.loads((tmp_path / "balancer" / "state.json").read_text())


def test_a_fresh_balancer_writes_an_empty_state_then_reports_nothing(tmp_path):
    first = call(tmp_path)
    assert first["changed"] and first["migrated"]
    assert first["down"] == {"hello": [], "docs": [], "solo": []}
    assert state(tmp_path) == {"version": 1, "down": {"docs": [], "hello": [], "solo": []}}
    assert oct(os.stat(tmp_path / "balancer" / "state.json").st_mode & 0o777) == "0o644"
    again = call(tmp_path)
    assert not again["changed"] and not again["migrated"] and "diff" not in again


def test_drain_never_takes_a_sites_last_host(tmp_path):
    call(tmp_path)
    result = call(tmp_path, drain=["app1"])
    assert result["changed"]
    # solo has no other host: app1 keeps serving it while it is deployed.
    assert result["down"] == {"hello": ["app1"], "docs": ["app1"], "solo": []}
    assert result["drained"] == ["app1"]
    # A batch of every host: none is drained.
    assert call(tmp_path, undrain=["app1"])["down"]["hello"] == []
    assert call(tmp_path, drain=["app1", "app2"])["down"]["hello"] == []


def test_drained_hosts_stay_drained_until_undrained(tmp_path):
    call(tmp_path, drain=["app1"])
    # A read (the main entry point, a re-run) keeps them; the state file is what is read.
    read = call(tmp_path)
    assert not read["changed"] and read["down"]["hello"] == ["app1"]
    # A drain of the other host now would take the last one: refused, app1 stays out.
    assert call(tmp_path, drain=["app2"])["down"]["hello"] == ["app1"]
    back = call(tmp_path, undrain=["app1"])
    assert back["changed"] and back["down"] == {"hello": [], "docs": [], "solo": []}
    assert state(tmp_path)["down"]["hello"] == []


def test_drain_and_undrain_cancel_out_in_the_file(tmp_path):
    call(tmp_path)
    before = (tmp_path / "balancer" / "state.json").read_text()
    call(tmp_path, drain=["app1"])
    call(tmp_path, undrain=["app1"])
    assert (tmp_path / "balancer" / "state.json").read_text() == before


def test_check_mode_writes_nothing_and_shows_the_diff(tmp_path):
    call(tmp_path)
    before = (tmp_path / "balancer" / "state.json").read_text()
    result = call(tmp_path, drain=["app2"], check=True)
    assert result["changed"] and result["down"]["hello"] == ["app2"]
    assert (tmp_path / "balancer" / "state.json").read_text() == before
    assert '"app2"' in result["diff"]["after"] and '"app2"' not in result["diff"]["before"]
    fresh = call(tmp_path / "other", check=True)
    assert fresh["changed"] and not (tmp_path / "other" / "balancer").exists()


def test_a_new_site_starts_with_the_hosts_drained_elsewhere(tmp_path):
    call(tmp_path, drain=["app1"])
    result = call(tmp_path, sites={**SITES, "shop": ["app1", "app2"], "one": ["app1"]})
    assert result["down"]["shop"] == ["app1"]
    assert result["down"]["one"] == []  # never its last host
    # A site gone from the app hosts is dropped from the file.
    call(tmp_path, sites={"hello": ["app1", "app2"]})
    assert state(tmp_path)["down"] == {"hello": ["app1"]}


def test_upgrade_reads_the_old_comments_once(tmp_path):
    upstreams = tmp_path / "upstreams"
    upstreams.mkdir()
    (upstreams / "hello.conf").write_text(
        "# Ansible managed\nupstream pyweb_hello {\n"
        "    server pyweb-cluster-app1:443 max_fails=3 fail_timeout=10s down;  # pyweb-cluster-app1\n"
        "    server pyweb-cluster-app2:443 max_fails=3 fail_timeout=10s;  # pyweb-cluster-app2\n"
        "    keepalive 16;\n}\n")
    (upstreams / "docs.conf").write_text(
        "upstream pyweb_docs {\n    server pyweb-cluster-app1:443 max_fails=3 fail_timeout=10s;  # pyweb-cluster-app1\n}\n")
    sites = {"hello": ["pyweb-cluster-app1", "pyweb-cluster-app2"], "docs": ["pyweb-cluster-app1", "pyweb-cluster-app2"]}
    first = call(tmp_path, sites=sites)
    assert first["migrated"] and first["changed"]
    assert first["down"] == {"hello": ["pyweb-cluster-app1"], "docs": []}
    assert state(tmp_path)["down"]["hello"] == ["pyweb-cluster-app1"]
    # From now on the comments are not read: the state file is.
    (upstreams / "hello.conf").write_text("upstream pyweb_hello {\n    server x:443;  # pyweb-cluster-app2\n}\n")
    again = call(tmp_path, sites=sites)
    assert not again["migrated"] and not again["changed"]
    assert again["down"]["hello"] == ["pyweb-cluster-app1"]


def test_a_broken_state_file_fails_with_its_path(tmp_path):
    (tmp_path / "balancer").mkdir()
    (tmp_path / "balancer" / "state.json").write_text("{not json")
    with pytest.raises(ValueError, match="state.json is not JSON"):
        call(tmp_path)
    (tmp_path / "balancer" / "state.json").write_text('{"down": ["app1"]}')
    with pytest.raises(ValueError, match="is not a balancer state file"):
        call(tmp_path)


def test_a_link_in_place_of_the_state_file_is_refused(tmp_path):
    (tmp_path / "balancer").mkdir()
    (tmp_path / "elsewhere.json").write_text('{"version": 1, "down": {}}')
    os.symlink(tmp_path / "elsewhere.json", tmp_path / "balancer" / "state.json")
    with pytest.raises(ValueError, match="is a link"):
        call(tmp_path)
