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


# balancer_sites / balancer_app_hosts: the balancer's nginx_sites as data (was a template that
# printed YAML for from_yaml, which broke on a quote in a name or a backslash in a path).
balancer_sites = _balancer.balancer_sites
balancer_app_hosts = _balancer.balancer_app_hosts


@pytest.fixture(autouse=True)
def _collection_on_path(monkeypatch):
    import sys
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
    yield
    sys.modules.pop("apps", None)


def _app(name, **extra):
    return {"name": name, "type": extra.pop("type", "flask"), "domains": extra.pop("domains", [f"{name}.test"]),
            "source": {"path": "x"}, **extra}


def test_app_hosts_in_the_order_the_apps_appear():
    hostvars = {"a1": {"pyweb_apps": [_app("blog"), _app("shop")]}, "a2": {"pyweb_apps": [_app("shop")]},
                "a3": {"pyweb_apps": None}}
    assert balancer_app_hosts(["a1", "a2", "a3"], hostvars) == {"blog": ["a1"], "shop": ["a1", "a2"]}
    assert list(balancer_app_hosts(["a2", "a1"], hostvars)) == ["shop", "blog"]


def test_a_self_signed_app_over_https_verified_against_the_backend_certificate():
    hostvars = {"a1": {"pyweb_apps": [_app("blog", domains=["*.blog.test", "blog.test"])], "ansible_host": "10.0.0.11"},
                "a2": {"pyweb_apps": [_app("blog", domains=["*.blog.test", "blog.test"])],
                       "pyweb_balancer_address": "[fd00::12]"}}
    [site] = balancer_sites(["a1", "a2"], hostvars, {"blog": ["a2"]},
                            {"backend_certs": {"blog": {"cert": "PEM", "key": "K"}}})
    assert site == {
        "name": "blog", "domains": ["*.blog.test", "blog.test"], "backend": "proxy", "backend_scheme": "https",
        "tls": {"mode": "selfsigned", "redirect": True}, "hsts": {"enabled": True},
        "client_max_body_size": "1m", "upstream_keepalive": 16,
        "next_upstream": "error timeout http_502 http_503 http_504",
        "backend_ssl_trusted_certificate": "PEM", "backend_ssl_name": "blog.test", "connect_timeout": "3s",
        "servers": [
            {"address": "10.0.0.11:443", "name": "a1", "down": False, "max_fails": 3, "fail_timeout": "10s"},
            {"address": "[fd00::12]:443", "name": "a2", "down": True, "max_fails": 3, "fail_timeout": "10s"}]}


def test_plain_http_app_has_no_backend_tls_and_port_80():
    hostvars = {"a1": {"pyweb_apps": [_app("docs", type="django", tls={"mode": "none"})]}}
    [site] = balancer_sites(["a1"], hostvars, {}, {"keepalive": "4", "max_fails": "5"})
    assert site["backend_scheme"] == "http" and site["hsts"] == {"enabled": False}
    assert "backend_ssl_trusted_certificate" not in site and "backend_ssl_name" not in site
    assert site["client_max_body_size"] == "20m" and site["upstream_keepalive"] == 4
    assert site["servers"] == [{"address": "a1:80", "name": "a1", "down": False, "max_fails": 5, "fail_timeout": "10s"}]


def test_the_balancers_own_tls_and_ca_win():
    hostvars = {"a1": {"pyweb_apps": [_app("shop", tls={"mode": "provided", "cert": "/c", "key": "/k", "hsts": False}),
                                      _app("wild", domains=["*.wild.test"]), _app("blog")]}}
    settings = {"tls": {"shop": {"mode": "acme", "acme_email": "ops@x.test"}, "blog": {"hsts": False}},
                "backend_ca": {"shop": "/etc/ssl/shop-ca.pem"}, "backend_system_ca": "/ca.pem"}
    shop, wild, blog = balancer_sites(["a1"], hostvars, None, settings)
    # A mode given for the balancer brings HSTS with it; the app host's files stay the app host's.
    assert shop["tls"] == {"mode": "acme", "cert": "/c", "key": "/k", "acme_email": "ops@x.test", "redirect": True}
    assert shop["hsts"] == {"enabled": True}
    assert shop["backend_ssl_trusted_certificate"] == "/etc/ssl/shop-ca.pem"
    # Self-signed without a backend certificate read yet (check mode on a fresh cluster): the system CA.
    assert wild["backend_ssl_trusted_certificate"] == "/ca.pem"
    assert wild["backend_ssl_name"] == "backend.wild.test"
    assert blog["hsts"] == {"enabled": False} and blog["tls"]["mode"] == "selfsigned"


def test_a_quote_in_a_name_and_a_backslash_in_a_path_pass_through_unchanged():
    # The template printed these into YAML: a `"` or a `\` in the wrong place broke from_yaml or
    # changed the value. As data they pass through as they are.
    name = 'bl"og'
    path = "C:\\certs\\ca.pem"
    hostvars = {'a"1': {"pyweb_apps": [_app(name)], "ansible_host": 'h\\"x'}}
    [site] = balancer_sites(['a"1'], hostvars, {name: ['a"1']}, {"backend_ca": {name: path}})
    assert site["name"] == name
    assert site["backend_ssl_trusted_certificate"] == path
    assert site["servers"][0]["address"] == 'h\\"x:443'
    assert site["servers"][0]["name"] == 'a"1' and site["servers"][0]["down"] is True


def test_unknown_settings_are_refused():
    with pytest.raises(AnsibleFilterError, match="unknown settings"):
        balancer_sites([], {}, {}, {"keepalives": 3})


def test_no_app_hosts_no_sites():
    assert balancer_sites([], {}, {}, {}) == []
    assert balancer_app_hosts(["a1"], {"a1": {}}) == {}


def test_a_plain_http_app_behind_an_acme_balancer_is_redirected_to_https():
    # molecule/acme: the app hosts serve lbapp over HTTP; the balancer's mode acme brings the
    # 308 to HTTPS and HSTS with it (the app's own tls.redirect was false for mode none).
    hostvars = {"a1": {"pyweb_apps": [_app("lbapp", tls={"mode": "none"}), _app("kept", tls={"mode": "none"})]}}
    settings = {"tls": {"lbapp": {"mode": "acme"}, "kept": {"mode": "acme", "redirect": False}}}
    lbapp, kept = balancer_sites(["a1"], hostvars, None, settings)
    assert lbapp["tls"] == {"mode": "acme", "redirect": True} and lbapp["hsts"] == {"enabled": True}
    assert lbapp["backend_scheme"] == "http"
    assert kept["tls"] == {"mode": "acme", "redirect": False}


def test_the_monitoring_hosts_sources_come_the_same_way_from_their_own_variable():
    hostvars = {"mon1": dict(facts("10.0.0.7"), pyweb_balancer_source="192.0.2.1"),
                "mon2": dict(facts("10.0.0.8"), pyweb_monitoring_source="10.9.0.0/24")}
    assert balancer_sources(["mon1", "mon2"], hostvars, "pyweb_monitoring_source", "monitoring host") == [
        "10.0.0.7", "10.9.0.0/24"]
    with pytest.raises(AnsibleFilterError, match="monitoring host mon3: its address is not known.*pyweb_monitoring_source"):
        balancer_sources(["mon3"], {"mon3": {}}, "pyweb_monitoring_source", "monitoring host")
