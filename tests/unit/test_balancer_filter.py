"""balancer_sources: where the app hosts let HTTP(S) and X-Forwarded-For come from."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

_spec = importlib.util.spec_from_file_location(
    "pyweb_balancer_filter", Path(__file__).resolve().parents[2] / "plugins" / "filter" / "balancer.py")
_balancer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_balancer)
balancer_sources = _balancer.balancer_sources


def facts(v4=None, v6=None):
    out = {}
    if v4:
        out["default_ipv4"] = {"address": v4, "interface": "eth0"}
    if v6:
        out["default_ipv6"] = {"address": v6, "interface": "eth0"}
    return {"ansible_facts": out}


def test_gathered_addresses_of_each_balancer_in_order():
    hostvars = {"lb1": facts("10.0.0.5", "fd00::5"), "lb2": facts("10.0.0.6"), "app1": facts("10.0.0.9")}
    assert balancer_sources(["lb1", "lb2"], hostvars) == ["10.0.0.5", "fd00::5", "10.0.0.6"]


def test_the_override_wins_over_the_facts():
    hostvars = {"lb1": dict(facts("172.18.0.2"), pyweb_balancer_source="192.0.2.10"),
                "lb2": dict(facts("172.18.0.3"), pyweb_balancer_source=["10.1.0.0/24", "2001:db8::7"])}
    assert balancer_sources(["lb1", "lb2"], hostvars) == ["192.0.2.10", "10.1.0.0/24", "2001:db8::7"]


def test_duplicates_are_listed_once():
    hostvars = {"lb1": {"pyweb_balancer_source": "10.0.0.0/24"}, "lb2": {"pyweb_balancer_source": "10.0.0.0/24"}}
    assert balancer_sources(["lb1", "lb2"], hostvars) == ["10.0.0.0/24"]


def test_no_balancers_no_sources():
    assert balancer_sources([], {}) == []


def test_a_balancer_without_facts_or_override_is_refused_by_name():
    with pytest.raises(AnsibleFilterError, match="balancer lb2: its address is not known"):
        balancer_sources(["lb1", "lb2"], {"lb1": facts("10.0.0.5"), "lb2": {"ansible_facts": {}}})


@pytest.mark.parametrize("bad", ["10.0.0.5; include /tmp/x", "lb.example.com", "10.0.0.999", "{ 0.0.0.0/0 }"])
def test_an_override_that_is_not_an_address_is_refused(bad):
    # It is written into nginx.conf and the nftables rules: nothing but an address may pass.
    with pytest.raises(AnsibleFilterError, match="is not an IP address or network"):
        balancer_sources(["lb1"], {"lb1": {"pyweb_balancer_source": bad}})


def test_backend_apps_are_the_self_signed_ones_once_each():
    import hashlib
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
    from ansible_collections.pyweb.deploy.plugins.filter.balancer import balancer_backend_apps
    blog = {"name": "blog", "type": "static", "domains": ["blog.test", "www.blog.test"], "source": {"path": "x"}}
    shop = {**blog, "name": "shop", "domains": ["shop.test"], "tls": {"mode": "provided", "cert": "c", "key": "k"}}
    plain = {**blog, "name": "plain", "domains": ["plain.test"], "tls": {"mode": "none"}}
    hostvars = {"app1": {"pyweb_apps": [blog, shop, plain]}, "app2": {"pyweb_apps": [blog]}, "app3": {}}
    digest = hashlib.sha1(b"blog.test,www.blog.test").hexdigest()[:10]
    assert balancer_backend_apps(["app1", "app2", "app3"], hostvars, "/etc/pyweb/balancer/backend") == [
        {"name": "blog", "domains": ["blog.test", "www.blog.test"], "base": f"/etc/pyweb/balancer/backend/blog-{digest}"}]
    assert balancer_backend_apps(["app3"], hostvars, "/x") == []
