"""Unit tests of the apps_nginx_sites filter: each app's Nginx site, as pyweb.deploy.nginx reads it.
(It replaced a set_fact whose Jinja built the same dicts; both gave equal results on six apps of
every type before the Jinja was removed.)"""
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "pyweb_apps_filter", Path(__file__).resolve().parents[2] / "plugins" / "filter" / "apps.py")
apps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(apps)


def site(raw, root="/srv/apps", certs=None):
    return apps.apps_nginx_sites(apps.apps_normalized([raw]), root, certs)[0]


def test_static_site_serves_the_built_folder_under_the_app_root():
    s = site({"name": "docs", "type": "static", "domains": ["docs.test"], "source": {"path": "/x"},
              "build": {"command": "make", "output": "out/"}, "tls": {"mode": "none"}}, root="/opt/web/")
    assert s == {"name": "docs", "domains": ["docs.test"], "tls": {"mode": "none", "redirect": False},
                 "hsts": {"enabled": False}, "backend": "static", "root": "/opt/web/docs/current/out"}


def test_django_site_has_media_static_and_upload_size_and_the_app_overrides_win():
    s = site({"name": "blog", "type": "django", "domains": ["blog.test"], "source": {"path": "/x"},
              "wsgi_server": "uwsgi", "static_dir": "st", "static_url": "/s/", "client_max_body_size": "50m",
              "nginx": {"client_max_body_size": "1m"}})
    assert s["backend"] == "uwsgi" and s["client_max_body_size"] == "1m"
    assert s["media_alias"] == {"url": "/media/", "path": "/srv/apps/blog/shared/media/",
                                "symlinks_from": "/srv/apps/blog"}
    assert s["static_alias"] == {"url": "/s/", "path": "/srv/apps/blog/current/st/",
                                 "symlinks_from": "/srv/apps/blog/current"}
    assert s["tls"] == {"mode": "selfsigned", "redirect": True} and s["hsts"] == {"enabled": True}


def test_flask_site_has_a_static_alias_only_with_a_static_dir():
    plain = site({"name": "hello", "type": "flask", "domains": ["h.test"], "source": {"path": "/x"}})
    assert plain["backend"] == "proxy" and "static_alias" not in plain and "client_max_body_size" not in plain
    with_static = site({"name": "hello", "type": "flask", "domains": ["h.test"], "source": {"path": "/x"},
                        "static_dir": "hello/static"})
    assert with_static["static_alias"] == {
        "url": "/static/", "path": "/srv/apps/hello/current/hello/static/", "symlinks_from": "/srv/apps/hello/current"}


def test_only_the_tls_keys_nginx_reads_are_passed_and_a_backend_certificate_replaces_self_signed():
    raw = {"name": "hello", "type": "flask", "domains": ["h.test"], "source": {"path": "/x"},
           "tls": {"mode": "selfsigned", "hsts": False}}
    s = site(raw, certs={"hello": {"cert": "CERT", "key": "KEY"}, "other": {"cert": "X", "key": "Y"}})
    assert s["tls"] == {"mode": "provided", "cert": "CERT", "key": "KEY", "redirect": True}
    assert s["hsts"] == {"enabled": False}
    acme = site(dict(raw, tls={"mode": "acme", "acme_email": "a@b.c"}), certs={"hello": {"cert": "C", "key": "K"}})
    assert acme["tls"] == {"mode": "acme", "acme_email": "a@b.c", "redirect": True}


def test_static_url_on_a_cdn_serves_its_path_briefly_cached_with_font_cors():
    s = site({"name": "blog", "type": "django", "domains": ["blog.test"], "source": {"path": "/x"},
              "static_url": "https://cdn.example.com/assets/v2/", "static_purge": "true"})
    assert s["static_alias"] == {"url": "/assets/v2/", "path": "/srv/apps/blog/current/staticfiles/",
                                 "symlinks_from": "/srv/apps/blog/current",
                                 "expires": "1h", "cors_fonts": True}


def test_static_url_parts():
    assert apps.static_url_parts("https://cdn.example.com:8443/static/") == ("https://cdn.example.com:8443", "/static/")
    assert apps.static_url_parts("/s/") == ("", "/s/")
    assert apps.static_url_parts(None) == ("", "/static/")


def test_static_url_and_purge_accepted():
    base = {"name": "blog", "type": "django", "domains": ["blog.test"], "source": {"git": "https://g.test/b.git"},
            "wsgi_app": "blog.wsgi:application"}
    for url in ("/static/", "https://cdn.example.com/static/", "http://cdn.example.com:8080/s/"):
        assert apps.app_errors([{**base, "static_url": url, "static_purge": "curl -fsS -X POST https://cdn.test/purge"}]) == []
    assert apps.app_errors([{**base, "static_url": "ftp://cdn.example.com/static/"}]) != []
    assert apps.app_errors([{**base, "static_url": "https://cdn.example.com/static"}]) != []


def test_a_procfile_web_process_of_its_own_is_forwarded_to_its_loopback_port():
    raw = {"name": "shop", "type": "flask", "domains": ["shop.test"], "source": {"path": "/x"}, "wsgi_server": "uwsgi"}
    normalized = apps.apps_normalized([raw, {**raw, "name": "blog", "domains": ["blog.test"]}])
    shop, blog = apps.apps_nginx_sites(normalized, "/srv/apps", None, {"shop": "127.0.0.1:20201"})
    # the nginx role's servers: its upstream file, which its upstreams entry point rewrites alone
    assert shop["backend"] == "proxy" and shop["servers"] == [{"address": "127.0.0.1:20201", "name": "web"}]
    assert "servers" not in blog and blog["backend"] == "uwsgi"
    assert "servers" not in apps.apps_nginx_sites(normalized)[0]


def test_a_django_static_folder_adopted_from_the_settings_is_served():
    raw = {"name": "cms", "type": "django", "domains": ["cms.test"], "source": {"path": "/x"}}
    [adopted] = apps.apps_nginx_sites(apps.apps_normalized([raw]), "/srv/apps", None, None, {"cms": "static"})
    assert adopted["static_alias"]["path"] == "/srv/apps/cms/current/static/"
    assert site(raw)["static_alias"]["path"] == "/srv/apps/cms/current/staticfiles/"
