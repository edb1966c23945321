"""plugins/filter/nginx.py: the nginx role's site checks, TLS decision and file list.

These replace templates that printed YAML for from_yaml; a backslash in a path and a quote in a
site name broke those templates, so both are tested here."""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

_spec = importlib.util.spec_from_file_location(
    "pyweb_nginx_filter", Path(__file__).resolve().parents[2] / "plugins" / "filter" / "nginx.py")
nginx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nginx)

PATTERN = "^[a-z0-9][a-z0-9_-]*$"
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----"


def static(name, *domains, **more):
    return {"name": name, "domains": list(domains) or [f"{name}.test"], "root": "/srv/www", **more}


def test_valid_sites_have_no_problems():
    balanced = {"name": "b", "domains": ["b.test"], "backend": "proxy", "servers": [{"address": "10.0.0.1:443"}]}
    sites = [static("a"), balanced]
    assert nginx.nginx_site_problems(sites, PATTERN) == []
    assert nginx.nginx_site_problems([], PATTERN) == []
    assert nginx.nginx_site_problems(None, PATTERN) == []


def test_every_problem_is_named_once():
    sites = [
        static("a", "X.test"), static("a", "x.test"),
        {"name": "Bad Name", "domains": []},
        static("p", tls={"mode": "provided", "cert": CERT}),
        static("m", tls={"mode": "acme"}),
        static("s", static_alias={"url": "static", "path": "/srv"}),
        {"name": "u", "domains": ["u.test"], "backend": "uwsgi", "servers": [{"address": ""}]},
    ]
    assert nginx.nginx_site_problems(sites, PATTERN) == [
        "site name a is used more than once",
        "domain x.test belongs to more than one site",
        "site name Bad Name must match ^[a-z0-9][a-z0-9_-]*$",
        "site Bad Name has no domains",
        "site Bad Name is static but has no root",
        "site p has tls.mode provided but lacks tls.cert or tls.key",
        "site m has tls.mode acme but no e-mail (tls.acme_email or nginx_acme_email)",
        "site s: static_alias.url must start and end with /",
        "site u has servers but backend uwsgi (servers need backend proxy)",
        "site u: servers[0] has no address",
    ]
    # The role's e-mail covers every ACME site.
    assert nginx.nginx_site_problems([static("m", tls={"mode": "acme"})], PATTERN, "ops@example.org") == []


def test_a_quote_in_a_site_name_is_reported_not_a_yaml_error():
    problems = nginx.nginx_site_problems([static('say "hi"')], PATTERN)
    assert problems == ['site name say "hi" must match ^[a-z0-9][a-z0-9_-]*$']


def test_a_site_without_a_name_is_refused():
    with pytest.raises(AnsibleFilterError, match="needs a name"):
        nginx.nginx_site_problems([{"domains": ["x.test"]}], PATTERN)


def test_tls_decision_per_mode():
    sites = [
        static("plain"),
        static("self", "self.test", "www.self.test", tls={"mode": "selfsigned"}),
        static("text", tls={"mode": "provided", "cert": CERT, "key": KEY}),
        static("paths", tls={"mode": "provided", "cert": "/etc/ssl/paths.crt", "key": "/etc/ssl/paths.key"}),
        static("acme", tls={"mode": "acme", "acme_email": "a@b.c"}),
        static("waits", tls={"mode": "acme", "acme_email": "a@b.c"}),
    ]
    tls = nginx.nginx_tls_files(sites, "pyweb/tls", "/etc/letsencrypt/live", missing=["waits"])
    digest = hashlib.sha1(b"self.test,www.self.test").hexdigest()[:10]
    assert tls["plain"] == {"name": "plain", "mode": "none", "active": False, "pending": False, "managed": [],
                            "domains": ["plain.test"]}
    assert tls["self"]["cert"] == f"pyweb/tls/self-selfsigned-{digest}.crt"
    assert tls["self"]["managed"] == [f"pyweb/tls/self-selfsigned-{digest}.crt", f"pyweb/tls/self-selfsigned-{digest}.key"]
    assert (tls["text"]["cert"], tls["text"]["key"], tls["text"]["managed"]) == (
        "pyweb/tls/text.crt", "pyweb/tls/text.key", ["pyweb/tls/text.crt", "pyweb/tls/text.key"])
    assert (tls["paths"]["cert"], tls["paths"]["cert_inline"], tls["paths"]["managed"]) == ("/etc/ssl/paths.crt", False, [])
    assert (tls["acme"]["active"], tls["acme"]["pending"]) == (True, False)
    assert (tls["waits"]["active"], tls["waits"]["pending"]) == (False, True)
    assert tls["waits"]["key"] == "/etc/letsencrypt/live/waits/privkey.pem"
    assert "secret" not in repr(tls)


def test_a_backslash_in_a_certificate_path_is_kept_as_is():
    path = "C:\\certs\\new\\site.crt"
    site = static("bs", tls={"mode": "provided", "cert": path, "key": "/k\\ey"},
                  backend_ssl_trusted_certificate="/ca\\dir\\ca.pem")
    tls = nginx.nginx_tls_files([site], "pyweb/tls", "/le")["bs"]
    assert (tls["cert"], tls["key"], tls["backend_ca"]) == (path, "/k\\ey", "/ca\\dir\\ca.pem")
    assert tls["managed"] == []


def test_a_backend_ca_given_as_text_is_managed():
    tls = nginx.nginx_tls_files([static("b", backend_ssl_trusted_certificate=CERT)], "pyweb/tls", "/le")["b"]
    assert (tls["backend_ca"], tls["backend_ca_inline"], tls["managed"]) == (
        "pyweb/tls/b-backend-ca.crt", True, ["pyweb/tls/b-backend-ca.crt"])


def test_config_files_lists_every_file_and_marks_keys_secret():
    sites = [
        static("a"),
        {"name": "lb", "domains": ["lb.test"], "backend": "proxy", "servers": [{"address": "10.0.0.1:80"}],
         "backend_ssl_trusted_certificate": CERT, "tls": {"mode": "provided", "cert": CERT, "key": KEY}},
    ]
    tls = nginx.nginx_tls_files(sites, "pyweb/tls", "/le")
    files = nginx.nginx_config_files(sites, tls, "/etc/nginx", "pyweb", "pyweb/sites", "pyweb/upstreams")
    assert [f["dest"] for f in files] == [
        "/etc/nginx/nginx.conf", "/etc/nginx/pyweb/default.conf", "/etc/nginx/pyweb/sites/a.conf",
        "/etc/nginx/pyweb/sites/lb.conf", "/etc/nginx/pyweb/upstreams/lb.conf", "/etc/nginx/pyweb/tls/lb.crt",
        "/etc/nginx/pyweb/tls/lb.key", "/etc/nginx/pyweb/tls/lb-backend-ca.crt"]
    by_dest = {f["dest"]: f for f in files}
    key = by_dest["/etc/nginx/pyweb/tls/lb.key"]
    assert (key["mode"], key["secret"], key["content"]) == ("0600", True, KEY + "\n")
    assert [f["dest"] for f in files if f.get("secret")] == ["/etc/nginx/pyweb/tls/lb.key"]
    assert by_dest["/etc/nginx/pyweb/tls/lb.crt"]["content"] == CERT
    # The key text never reaches a template's variables (they can be printed at -vvv).
    site_vars = by_dest["/etc/nginx/pyweb/sites/lb.conf"]["vars"]["site"]
    assert site_vars["tls"] == {"mode": "provided"}
    assert "PRIVATE KEY" not in repr([f.get("vars") for f in files])
    assert sites[1]["tls"]["key"] == KEY  # the input is not changed


def test_upstream_files_only_for_sites_with_servers():
    sites = [static("a"), {"name": "b", "domains": ["b.test"], "backend": "proxy", "servers": [{"address": "x:1"}]},
             {"name": "c", "domains": ["c.test"], "backend": "proxy", "servers": []}]
    files = nginx.nginx_upstream_files(sites, "/etc/nginx", "pyweb/upstreams")
    assert files == [{"dest": "/etc/nginx/pyweb/upstreams/b.conf", "mode": "0644", "tag": "upstream",
                      "template": "etc/nginx/pyweb/upstreams/upstream.conf.j2", "vars": {"site": sites[1]}}]


def test_alias_and_root_paths_nginx_would_read_as_configuration_are_refused():
    evil = "/srv/apps/blog/current/s; } location ^~ /x/ { alias /srv/apps/victim/current/; } location ^~ /y/"
    site = {"name": "blog", "domains": ["blog.example"], "backend": "proxy",
            "static_alias": {"url": "/static/", "path": evil},
            "media_alias": {"url": "/media/", "path": "/srv/apps/blog/shared/media/"}}
    [problem] = nginx.nginx_site_problems([site], PATTERN)
    assert problem.startswith("site blog: static_alias.path '/srv/apps/blog/current/s; }")
    for bad in ("/srv/a b/", "/srv/$x/", "/srv/#/", "/srv/'x'/", '/srv/"x"/', "/srv/x\n", "/srv/{x}/"):
        static = {"name": "site", "domains": ["site.example"], "backend": "static", "root": bad}
        assert nginx.nginx_site_problems([static], PATTERN) == [
            f"site site: root {bad!r} holds whitespace, ';', '{{', '}}', a quote, a backslash, '$', '#' or a "
            "control character, which Nginx would read as configuration"], bad
