"""roles/wsgi/files/pyweb-wsgi-check: the import check and the in-process health request."""
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "wsgi" / "files" / "pyweb-wsgi-check"
_loader = importlib.machinery.SourceFileLoader("pyweb_wsgi_check", str(SCRIPT))
_spec = importlib.util.spec_from_loader("pyweb_wsgi_check", _loader)
check = importlib.util.module_from_spec(_spec)
_loader.exec_module(check)


def echo_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    keys = ("PATH_INFO", "QUERY_STRING", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT",
            "wsgi.url_scheme", "HTTP_X_FORWARDED_PROTO")
    return [" ".join(f"{k}={environ.get(k, '')}" for k in keys).encode()]


def test_request_as_nginx_forwards_it():
    status, body = check.wsgi_request(echo_app, "/health/?full=1", "blog.example.test", https=True)
    assert status == 200
    assert body.decode() == ("PATH_INFO=/health/ QUERY_STRING=full=1 HTTP_HOST=blog.example.test "
                             "SERVER_NAME=blog.example.test SERVER_PORT=443 wsgi.url_scheme=https "
                             "HTTP_X_FORWARDED_PROTO=https")


def test_request_with_a_port_and_plain_http():
    _status, body = check.wsgi_request(echo_app, "/", "blog.example.test:8080", https=False)
    assert b"SERVER_PORT=8080" in body and b"wsgi.url_scheme=http " in body


def test_close_is_called_on_the_result():
    closed = []

    class Result(list):
        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("503 Service Unavailable", [])
        return Result([b"down"])
    assert check.wsgi_request(app, "/", "x", False) == (503, b"down")
    assert closed == [True]


class Args:
    request, host, https, status, contains, timeout, retries = "/health/", "x", False, 200, "ok", 2, 2


def test_health_passes_and_fails_with_what_it_got(capsys, monkeypatch):
    monkeypatch.setattr(check.time, "sleep", lambda s: None)

    def ok(environ, start_response):
        start_response("200 OK", [])
        return [b'{"status": "ok"}']

    def broken(environ, start_response):
        raise RuntimeError("database is gone")
    assert check.health(ok, Args) == 0
    assert check.health(broken, Args) == 1
    err = capsys.readouterr().err
    assert "wanted status 200 and text 'ok', got an exception" in err and "database is gone" in err


def write_app(tmp_path, source):
    (tmp_path / "site_app.py").write_text(source)
    sys.modules.pop("site_app", None)


@pytest.mark.parametrize("source, target, rc, text", [
    ("def application(e, s):\n    s('200 OK', [])\n    return [b'ok']\n", "site_app:application", 0,
     "imports and is callable"),
    ("raise ImportError('no module named django')\n", "site_app:application", 1, "no module named django"),
    ("application = 42\n", "site_app:application", 1, "is a int, not a WSGI callable"),
    ("def create_app():\n    return lambda e, s: [b'']\n", "site_app:create_app()", 0, "imports and is callable"),
])
def test_main_imports_the_app(tmp_path, monkeypatch, capsys, source, target, rc, text):
    write_app(tmp_path, source)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["pyweb-wsgi-check", "--chdir", str(tmp_path), target])
    assert check.main() == rc
    out = capsys.readouterr()
    assert text in (out.out + out.err)


def test_main_reads_no_env_file_option():
    # systemd reads the environment file (EnvironmentFile= of app_command's unit); the check has
    # no parser of its own that could disagree with it.
    assert not hasattr(check, "read_env_file")
    assert "--env-file" not in SCRIPT.read_text()
