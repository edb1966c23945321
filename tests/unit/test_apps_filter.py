"""Unit tests of plugins/filter/apps.py: every bad pyweb_apps input gets one clear message."""
import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "pyweb_apps_filter", Path(__file__).resolve().parents[2] / "plugins" / "filter" / "apps.py")
apps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(apps)


def good(**overrides):
    app = {"name": "blog", "type": "django", "domains": ["blog.example.com"],
           "source": {"git": "https://git.example.com/blog.git", "version": "v1"},
           "wsgi_app": "blog.wsgi:application"}
    app.update(overrides)
    return {k: v for k, v in app.items() if v is not None}


def test_valid_apps_have_no_errors():
    flask = {"name": "shop", "type": "flask", "domains": ["shop.example.com", "www.shop.example.com"],
             "source": {"path": "./shop"}, "wsgi_app": "hello:create_app()", "wsgi_server": "uwsgi",
             "tls": {"mode": "acme", "acme_email": "ops@example.com"}, "shared_paths": ["instance"]}
    static = {"name": "docs", "type": "static", "domains": ["*.docs.example.com"], "source": {"path": "site"},
              "build": {"command": "mkdocs build", "output": "site"}}
    assert apps.app_errors([good(), flask, static]) == []


@pytest.mark.parametrize("app, expected", [
    (good(type="php"), "pyweb_apps[0] (blog): type must be one of static, django, flask (got 'php')"),
    (good(name="Blog-1"), "pyweb_apps[0] (Blog-1): name 'Blog-1' must match [a-z][a-z0-9_]*"),
    (good(name="root"), "name 'root' is reserved"),
    (good(domains=["blog_example"]), "domains: 'blog_example' is not a valid lower-case host name"),
    (good(domains=["Blog.example.com"]), "'Blog.example.com' is not a valid lower-case host name"),
    (good(domains=[]), "domains is required"),
    (good(source={"git": "https://x/y.git", "path": "./y"}),
     "source needs exactly one of git or path (found git and path)"),
    (good(source={}), "source needs exactly one of git or path (found neither)"),
    (good(source=None), "source is required"),
    (good(tls={"mode": "provided"}), "tls.mode provided needs tls.cert and tls.key"),
    (good(tls={"mode": "acme"}), "tls.mode acme needs tls.acme_email"),
    (good(tls={"mode": "letsencrypt"}), "tls.mode must be one of none, selfsigned, provided, acme"),
    (good(wsgi_app="blog.wsgi"), "wsgi_app 'blog.wsgi' must be module:callable"),
    (good(wsgi_app="blog.wsgi:application()x"), "must be module:callable"),
    (good(wsgi_app=None), "wsgi_app is required for a django app"),
    (good(wsgi_server="waitress"), "wsgi_server must be one of gunicorn, uwsgi (got 'waitress')"),
    (good(domain="x.example.com"), "unknown field domain"),
    (good(requirements="../secrets.txt"), "requirements must be a path relative to the source root"),
    (good(shared_paths=["/var/lib/x"]), "shared_paths: '/var/lib/x' must be relative to the release"),
    (good(env={"BAD-NAME": "x"}), "env: 'BAD-NAME' is not a valid environment variable name"),
    (good(health_check={"path": "health"}), "health_check.path must start with /"),
    (good(keep_releases=0), "keep_releases must be a whole number of at least 1"),
    (good(type="static", wsgi_app="x:y"), "wsgi_app does not apply to a static app"),
    (good(django_superuser={"username": "admin"}), "django_superuser needs username and password"),
    (good(build={"command": "mkdocs build", "output": "site"}), "build is for static apps"),
    (good(type="static", wsgi_app=None, build={"command": "mkdocs build"}), "build needs command"),
])
def test_each_bad_input_names_app_and_field(app, expected):
    errors = apps.app_errors([app])
    assert any(expected in e for e in errors), errors
    assert all(e.startswith("pyweb_apps[0]") for e in errors), errors


def test_two_apps_claiming_one_domain():
    second = good(name="blog2")
    errors = apps.app_errors([good(), second])
    assert errors == ["pyweb_apps[1] (blog2): domain blog.example.com is already claimed by pyweb_apps[0] (blog)"]


def test_duplicate_names():
    errors = apps.app_errors([good(), good(domains=["other.example.com"])])
    assert errors == ["pyweb_apps[1] (blog): name 'blog' is already used by pyweb_apps[0]"]


def test_not_a_list():
    assert apps.app_errors({"name": "x"}) == ["pyweb_apps must be a list of apps (got dict)"]
    assert "not defined" in apps.app_errors(None)[0]


def test_every_problem_is_reported_not_only_the_first():
    errors = apps.app_errors([good(type="php", domains=["bad host"], wsgi_app="nope")])
    assert len(errors) == 3, errors


def test_normalized_defaults():
    flask = {"name": "shop", "type": "flask", "domains": ["shop.example.com"], "source": {"path": "./shop"}}
    static = {"name": "docs", "type": "static", "domains": ["docs.example.com"], "source": {"git": "g"}}
    out = apps.apps_normalized([flask, static])
    assert out[0]["wsgi_app"] == "app:app"
    assert out[0]["wsgi_server"] == "gunicorn"
    assert out[0]["requirements"] == "requirements.txt"
    assert out[0]["tls"] == {"mode": "selfsigned", "hsts": True, "redirect": True}
    assert out[0]["health_check"]["path"] == "/"
    assert "wsgi_server" not in out[1] and "requirements" not in out[1]
    assert out[1]["source"]["version"] == "HEAD"
    assert out[1]["keep_releases"] == 5


def test_health_checks_hold_no_secret():
    app = good(secret_env={"K": "secret-1"}, tls={"mode": "provided", "cert": "c", "key": "secret-2"},
               domains=["blog.example.com", "www.blog.example.com"])
    checks = apps.apps_health_checks(apps.apps_normalized([app]))
    assert [c["domain"] for c in checks] == ["blog.example.com", "www.blog.example.com"]
    assert checks[0] == {"app": "blog", "domain": "blog.example.com", "path": "/", "scheme": "https",
                         "status": 200, "contains": "", "timeout": 10, "retries": 3}
    assert "secret" not in repr(checks)


def test_local_git_only_when_allowed():
    app = {"name": "blog", "type": "flask", "domains": ["blog.example.com"],
           "source": {"git": "file:///srv/fixtures/blog.git", "version": "v1"}}
    refused = apps.app_errors([app])
    assert refused and "source.git must be" in refused[0]
    assert apps.app_errors([app], allow_local_git=True) == []
    # Even allowed, a local URL is a plain path: no other transport, no option.
    for url in ("file://host/x.git", "file:///srv/x.git --upload-pack=x", "ext::sh -c x"):
        app["source"]["git"] = url
        assert apps.app_errors([app], allow_local_git=True), url


def test_valid_urls_and_versions_pass():
    for url in ("https://git.example.com/you/blog.git", "ssh://git@git.example.com:2222/you/blog.git",
                "git@github.com:you/blog.git", "git://git.example.com/blog.git",
                "https://user:token@git.example.com/blog.git"):
        for version in ("HEAD", "v1.4.2", "main", "feature/login", "0a1b2c3d4e5f", "release-2024.10"):
            app = {"name": "blog", "type": "flask", "domains": ["blog.example.com"],
                   "source": {"git": url, "version": version}}
            assert apps.app_errors([app]) == [], (url, version)


def test_multiline_fields_keep_their_newlines():
    app = {"name": "blog", "type": "flask", "domains": ["blog.example.com"],
           "source": {"path": "blog", },
           "tls": {"mode": "provided", "cert": "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
                   "key": "-----BEGIN PRIVATE KEY-----\r\nAA==\r\n-----END PRIVATE KEY-----\r\n"},
           "release_commands": ["flask db upgrade\nflask seed"],
           "nginx": {"raw": "location = /ping {\n\treturn 204;\n}\n",
                     "locations": [{"path": "/api/", "config": "proxy_read_timeout 300s;\n"}],
                     "headers": {"X-Frame-Options": "DENY"}, "hsts": {"max_age": 600},
                     "try_files": "$uri $uri/ /index.html", "upstream_keepalive": 8}}
    assert apps.app_errors([app]) == []
    app["tls"]["key"] = "-----BEGIN PRIVATE KEY-----\x00"
    assert apps.app_errors([app]) == [
        "pyweb_apps[0] (blog): tls.key has a control character (a NUL byte): it would break the files "
        "it is written to; remove it"]


def test_whole_numbers_are_checked_alike_everywhere():
    base = {"name": "blog", "type": "flask", "domains": ["blog.example.com"],
            "source": {"git": "https://git.example.com/blog.git", "version": "v1"}}
    for bad in (True, 0, "2", 1.5):
        for field, value in (("workers", bad), ("threads", bad), ("keep_releases", bad)):
            assert apps.app_errors([{**base, field: value}]), (field, value)
        assert apps.app_errors([{**base, "source": {**base["source"], "depth": bad}}]), ("depth", bad)
    assert apps.app_errors([{**base, "nginx": {"upstream_keepalive": -1}}])
    assert apps.app_errors([{**base, "nginx": {"upstream_keepalive": 0}, "workers": 3, "threads": 1,
                             "keep_releases": 2, "source": {**base["source"], "depth": 1}}]) == []


def test_project_fields_say_what_the_user_named_and_nothing_more():
    [item] = apps.apps_normalized([good()])
    assert (item["project_format"], item["requirements_named"], item["python_named"]) == ("auto", "", "")
    assert item["requirements"] == "requirements.txt"  # what the rest of the role read before
    [item] = apps.apps_normalized([good(project_format="uv", python="python3.11")])
    assert (item["project_format"], item["python_named"]) == ("uv", "python3.11")


def test_a_wsgi_file_is_served_through_the_module_the_deploy_writes():
    app = good(type="flask", wsgi_app=None, wsgi_file="var/www/example_wsgi.py")
    assert apps.app_errors([app]) == []
    [item] = apps.apps_normalized([app])
    assert item["wsgi_app"] == "pyweb_wsgi_file:application"
    assert apps.app_errors([good(wsgi_app=None, wsgi_file="mysite/wsgi.py")]) == []  # django too
    assert apps.app_errors([good(wsgi_app=None, wsgi_file="mysite/wsgi.txt")]) == [
        "pyweb_apps[0] (blog): wsgi_file must be the path of a .py file relative to the source root, without '..'"]
