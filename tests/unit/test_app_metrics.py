"""roles/monitoring/files/pyweb-app-metrics: statsd lines, senders by uid, the Prometheus text."""
import importlib.machinery
import importlib.util
import json
import os
import re
import socket
import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "monitoring" / "files" / "pyweb-app-metrics"
_loader = importlib.machinery.SourceFileLoader("pyweb_app_metrics", str(SCRIPT))
_spec = importlib.util.spec_from_loader("pyweb_app_metrics", _loader)
am = importlib.util.module_from_spec(_spec)
_loader.exec_module(am)


def sample(text, name, **labels):
    """The value of one sample in the text format, or None."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    line = f"{name}{{{want}}} " if want else f"{name} "
    for row in text.splitlines():
        if row.startswith(line):
            return float(row[len(line):])
    return None


# --- parse_line --------------------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    (b"blog.gunicorn.requests:1|c|@1.0", ("blog.gunicorn.requests", 1.0, "c")),
    (b"blog.gunicorn.requests:1|c|@0.5", ("blog.gunicorn.requests", 2.0, "c")),
    (b"blog.gunicorn.request.duration:12.5|ms", ("blog.gunicorn.request.duration", 12.5, "ms")),
    (b"blog.gunicorn.workers:3|g", ("blog.gunicorn.workers", 3.0, "g")),
    (b"blog.gunicorn.backlog:0|h|#env:prod", ("blog.gunicorn.backlog", 0.0, "h")),
    ("blog.gunicorn.requests:1|c", ("blog.gunicorn.requests", 1.0, "c")),
])
def test_parse_line_reads_what_gunicorn_sends(line, expected):
    assert am.parse_line(line) == expected


@pytest.mark.parametrize("line", [
    b"", b"no-colon", b"name:1", b"name:1|x", b"name:abc|c", b"name:nan|c", b"name:inf|g",
    b"name:1e12|c", b"name:1|c|@0", b"name:1|c|@2", b"name:1|c|@x", b"name:1|c|junk",
    b"bad name:1|c", b"n\xffame:1|c", b":1|c", ("x" * 201).encode() + b":1|c",
    b'a"b:1|c', b"a\nb:1|c",
])
def test_parse_line_refuses_what_is_not_a_statsd_line(line):
    with pytest.raises(am.Drop) as drop:
        am.parse_line(line)
    assert drop.value.args[0] == "malformed"


# --- classify ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, kind, expected", [
    ("blog.gunicorn.requests", "c", ("requests", None)),
    ("blog.gunicorn.request.duration", "ms", ("duration", None)),
    ("blog.gunicorn.request.status.200", "c", ("responses", "2xx")),
    ("blog.gunicorn.request.status.503", "c", ("responses", "5xx")),
    ("blog.gunicorn.workers", "g", ("workers", None)),
    ("blog.gunicorn.backlog", "h", ("backlog", None)),
    ("blog.gunicorn.log.error", "c", ("log", "error")),
])
def test_classify_knows_gunicorns_names(name, kind, expected):
    assert am.classify("blog", name, kind) == expected


@pytest.mark.parametrize("name, kind, reason", [
    ("shop.gunicorn.requests", "c", "prefix"),           # another app's prefix
    ("blogx.gunicorn.requests", "c", "prefix"),
    ("gunicorn.requests", "c", "unknown_metric"),          # no prefix at all
    ("blog.gunicorn.requests", "g", "unknown_metric"),     # the wrong type
    ("blog.gunicorn.request.status.999", "c", "unknown_metric"),
    ("blog.gunicorn.request.status.20", "c", "unknown_metric"),
    ("blog.gunicorn.request.status.abc", "c", "unknown_metric"),
    ("blog.gunicorn.log.debug", "c", "unknown_metric"),
    ("blog.gunicorn.anything.else", "c", "unknown_metric"),
    ("blog.myapp.signups", "c", "unknown_metric"),
])
def test_classify_drops_other_names(name, kind, reason):
    with pytest.raises(am.Drop) as drop:
        am.classify("blog", name, kind)
    assert drop.value.args[0] == reason


# --- Store -------------------------------------------------------------------------------------

def test_store_counts_a_gunicorn_request():
    store = am.Store(["blog", "shop"])
    assert store.record("blog", b"blog.gunicorn.request.duration:120|ms\nblog.gunicorn.requests:1|c|@1.0\n"
                                b"blog.gunicorn.request.status.404:1|c|@1.0") == 3
    store.record("blog", b"blog.gunicorn.workers:3|g")
    text = store.render()
    assert sample(text, "pyweb_app_requests_total", app="blog") == 1
    assert sample(text, "pyweb_app_requests_total", app="shop") == 0
    assert sample(text, "pyweb_app_responses_total", app="blog", code="4xx") == 1
    assert sample(text, "pyweb_app_responses_total", app="blog", code="2xx") == 0
    assert sample(text, "pyweb_app_request_duration_seconds_bucket", app="blog", le="0.1") == 0
    assert sample(text, "pyweb_app_request_duration_seconds_bucket", app="blog", le="0.25") == 1
    assert sample(text, "pyweb_app_request_duration_seconds_bucket", app="blog", le="+Inf") == 1
    assert sample(text, "pyweb_app_request_duration_seconds_sum", app="blog") == pytest.approx(0.12)
    assert sample(text, "pyweb_app_workers", app="blog") == 3
    assert sample(text, "pyweb_app_workers", app="shop") is None


def test_store_never_counts_a_line_for_another_app_whatever_its_prefix():
    store = am.Store(["blog", "shop"])
    # shop's user sends blog's prefix: not blog's, and not shop's either.
    assert store.record("shop", b"blog.gunicorn.requests:1000|c") == 0
    text = store.render()
    assert sample(text, "pyweb_app_requests_total", app="blog") == 0
    assert sample(text, "pyweb_app_requests_total", app="shop") == 0
    assert sample(text, "pyweb_app_statsd_dropped_total", reason="prefix") == 1


def test_store_drops_senders_that_are_no_app():
    store = am.Store(["blog"])
    assert store.record(None, b"blog.gunicorn.requests:1|c\nblog.gunicorn.requests:1|c") == 0
    assert store.record("root", b"blog.gunicorn.requests:1|c") == 0
    text = store.render()
    assert sample(text, "pyweb_app_requests_total", app="blog") == 0
    assert sample(text, "pyweb_app_statsd_dropped_total", reason="unknown_sender") == 3
    assert 'app="root"' not in text


def test_store_counts_bad_lines_and_keeps_the_good_ones():
    store = am.Store(["blog"])
    counted = store.record("blog", b"garbage\nblog.gunicorn.requests:-5|c\nblog.gunicorn.requests:2|c\n"
                                   b"blog.custom.thing:1|c")
    assert counted == 1
    text = store.render()
    assert sample(text, "pyweb_app_requests_total", app="blog") == 2
    assert sample(text, "pyweb_app_statsd_dropped_total", reason="malformed") == 2
    assert sample(text, "pyweb_app_statsd_dropped_total", reason="unknown_metric") == 1


def test_store_refuses_a_datagram_of_too_many_lines():
    store = am.Store(["blog"])
    assert store.record("blog", b"\n".join([b"blog.gunicorn.requests:1|c"] * (am.MAX_LINES + 1))) == 0
    assert sample(store.render(), "pyweb_app_requests_total", app="blog") == 0


def test_the_series_do_not_grow_with_what_apps_send():
    store = am.Store(["blog"])
    store.record("blog", b"blog.gunicorn.requests:1|c")
    before = len(store.render().splitlines())
    for i in range(2000):
        store.record("blog", f"blog.gunicorn.request.status.{100 + i % 900}:1|c\nblog.gunicorn.x{i}:1|c\n"
                             f"other{i}.gunicorn.requests:1|c\nblog.gunicorn.log.level{i}:1|c".encode())
        store.record(f"app{i}", b"blog.gunicorn.requests:1|c")
    assert len(store.render().splitlines()) == before
    assert len(store.apps) == 1


# --- the text format ---------------------------------------------------------------------------

def test_label_values_are_escaped():
    assert am.label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    text = am.Store(['we"ird\\app\n']).render()
    assert 'pyweb_app_requests_total{app="we\\"ird\\\\app\\n"} 0' in text


def test_every_family_has_help_and_type_and_every_line_parses():
    store = am.Store(["blog"])
    store.record("blog", b"blog.gunicorn.workers:2|g\nblog.gunicorn.request.duration:3|ms")
    text = store.render()
    sample_line = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)$')
    families = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            families.add(line.split()[2])
        elif not line.startswith("# HELP "):
            assert sample_line.match(line), line
            assert any(line.startswith(f) for f in families), line
    assert text.endswith("\n")
    assert am.number(1.0) == "1" and am.number(0.005) == "0.005" and am.number(float("inf")) == "+Inf"


# --- senders -----------------------------------------------------------------------------------

def test_senders_map_a_uid_to_its_app_user_only():
    users = {1001: "blog", 1002: "shop", 0: "root", 1003: "mallory"}

    def getpwuid(uid):
        if uid not in users:
            raise KeyError(uid)
        return SimpleNamespace(pw_name=users[uid])

    senders = am.Senders(["blog", "shop"], getpwuid)
    assert senders.app(1001) == "blog"
    assert senders.app(1002) == "shop"
    assert senders.app(0) is None
    assert senders.app(1003) is None
    assert senders.app(4242) is None


def test_senders_cache_is_bounded():
    senders = am.Senders(["blog"], lambda uid: SimpleNamespace(pw_name=f"u{uid}"))
    for uid in range(am.MAX_UIDS * 3):
        senders.app(uid)
    assert len(senders.cache) <= am.MAX_UIDS


# --- the real socket: the kernel's credentials, end to end -------------------------------------

def test_a_datagram_is_counted_for_the_user_the_kernel_names(tmp_path):
    me = __import__("pwd").getpwuid(os.getuid()).pw_name
    path = str(tmp_path / "statsd.sock")
    store = am.Store([me, "other"])
    sock = am.statsd_socket(path)
    thread = threading.Thread(target=am.receive, args=(sock, store, am.Senders([me, "other"])), daemon=True)
    thread.start()
    client = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    client.connect(path)
    client.send(f"{me}.gunicorn.requests:1|c|@1.0".encode())
    client.send(b"other.gunicorn.requests:1|c|@1.0")      # my uid naming another app
    client.send(b"x" * (am.MAX_PACKET + 10))               # too long: truncated, dropped
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and store.apps[me].packets + store.dropped["oversize"] < 3:
        time.sleep(0.01)
    text = store.render()
    assert sample(text, "pyweb_app_requests_total", app=me) == 1
    assert sample(text, "pyweb_app_requests_total", app="other") == 0
    assert sample(text, "pyweb_app_statsd_dropped_total", reason="prefix") == 1
    assert sample(text, "pyweb_app_statsd_dropped_total", reason="oversize") == 1


def test_credentials_close_passed_file_descriptors():
    r, w = os.pipe()
    os.close(w)
    data = __import__("struct").pack("i", r)
    assert am.credentials([(socket.SOL_SOCKET, socket.SCM_RIGHTS, data)]) is None
    with pytest.raises(OSError):
        os.fstat(r)
    creds = am._CREDS.pack(10, 1234, 1234)
    assert am.credentials([(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)]) == 1234


def test_http_serves_metrics_only(tmp_path):
    store = am.Store(["blog"])
    server = am.Server(("127.0.0.1", 0), am.handler_for(store))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:  # noqa: S310
            assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert 'pyweb_app_requests_total{app="blog"} 0' in answer.read().decode()
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)  # noqa: S310
        assert error.value.code == 404
    finally:
        server.shutdown()


def test_main_refuses_to_start_without_a_socket(tmp_path, monkeypatch):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"apps": ["blog"], "port": 0}))
    monkeypatch.delenv("LISTEN_FDS", raising=False)
    with pytest.raises(SystemExit) as stop:
        am.main(["--config", str(config)])
    assert "pyweb-app-metrics.socket" in str(stop.value)


def test_reload_keeps_the_figures_of_apps_still_there():
    store = am.Store(["blog", "shop"])
    store.record("blog", b"blog.gunicorn.requests:4|c\nblog.gunicorn.workers:2|g")
    store.set_apps(["blog", "wiki"])
    text = store.render()
    assert sample(text, "pyweb_app_requests_total", app="blog") == 4
    assert sample(text, "pyweb_app_workers", app="blog") == 2
    assert sample(text, "pyweb_app_requests_total", app="wiki") == 0
    assert sample(text, "pyweb_app_requests_total", app="shop") is None


# --- the rule ----------------------------------------------------------------------------------

def _filters():
    import importlib
    import sys
    collections = str(Path(__file__).resolve().parents[2] / ".cache" / "collections")
    if collections not in sys.path:
        sys.path.insert(0, collections)
    return importlib.import_module("ansible_collections.pyweb.deploy.plugins.filter.monitoring")


def test_busy_rule_divides_the_time_answering_by_the_workers():
    rules = {r["alert"]: r for r in _filters().monitoring_rules({"busy_percent": 80})["groups"][0]["rules"]}
    busy = rules["AppWorkersBusy"]
    assert busy["expr"] == ("100 * sum by (host, app) (rate(pyweb_app_request_duration_seconds_sum[5m]))"
                            " / sum by (host, app) (pyweb_app_workers) > 80"
                            " or 100 * sum by (host, app) (avg_over_time(pyweb_app_workers_busy[5m]))"
                            " / sum by (host, app) (pyweb_app_workers) > 80")
    assert busy["for"] == "5m"
    assert "{{ $labels.app }}" in busy["annotations"]["summary"]
    assert " > 90" in {r["alert"]: r for r in _filters().monitoring_rules({})["groups"][0]["rules"]}[
        "AppWorkersBusy"]["expr"]


@pytest.mark.parametrize("bad", [0, 101, "90", True, -5])
def test_busy_rule_refuses_a_bad_threshold(bad):
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="busy_percent must be a number above 0 and at most 100"):
        _filters().monitoring_rules({"busy_percent": bad})


# --- uWSGI's stats server ----------------------------------------------------------------------

UWSGI_STATS = {
    "version": "2.0.28", "listen_queue": 3, "pid": 10,
    "workers": [
        {"id": 1, "status": "busy", "requests": 10, "exceptions": 1, "harakiri_count": 0,
         "cores": [{"id": 0, "in_request": 1, "vars": ["HTTP_COOKIE=session=secret-cookie-1"]}]},
        {"id": 2, "status": "idle", "requests": 5, "exceptions": 0, "harakiri_count": 2},
        {"id": 3, "status": "cheap", "requests": 99},
        {"id": 4, "status": "idle", "requests": "lots", "exceptions": -3, "harakiri_count": True},
        "junk",
    ],
}


def test_uwsgi_figures_takes_numbers_only():
    figures = am.uwsgi_figures(UWSGI_STATS)
    assert figures == {"requests": 15, "exceptions": 1, "harakiri": 2, "workers": 3, "busy": 1, "backlog": 3}
    assert "secret-cookie" not in repr(figures)


@pytest.mark.parametrize("bad", [[], "x", {}, {"workers": "many"}, None])
def test_uwsgi_figures_refuses_what_is_not_uwsgi_stats(bad):
    with pytest.raises(am.StatsError) as error:
        am.uwsgi_figures(bad)
    assert error.value.args[0] == "invalid"


def _stats_server(tmp_path, payload):
    path = str(tmp_path / "stats.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)

    def serve():
        while True:
            try:
                conn, _address = server.accept()
            except OSError:
                return
            try:
                conn.sendall(payload)
            except OSError:
                pass
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return path, server


def test_read_uwsgi_reads_the_apps_own_socket(tmp_path):
    path, server = _stats_server(tmp_path, json.dumps(UWSGI_STATS).encode())
    try:
        assert am.read_uwsgi(path, os.getuid())["busy"] == 1
    finally:
        server.close()


def test_read_uwsgi_refuses_a_socket_another_user_listens_on(tmp_path):
    # The app's folder holds a link to a socket that is not the app's: nothing is read.
    path, server = _stats_server(tmp_path, json.dumps(UWSGI_STATS).encode())
    link = tmp_path / "app" / "stats.sock"
    link.parent.mkdir()
    link.symlink_to(path)
    try:
        with pytest.raises(am.StatsError) as error:
            am.read_uwsgi(str(link), os.getuid() + 1)
        assert error.value.args[0] == "peer"
    finally:
        server.close()


def test_read_uwsgi_bounds_and_checks_what_it_reads(tmp_path):
    path, server = _stats_server(tmp_path, b"{" * 10 + b"not json")
    try:
        with pytest.raises(am.StatsError, match="invalid"):
            am.read_uwsgi(path, os.getuid())
    finally:
        server.close()
    (tmp_path / "big").mkdir()
    big, server = _stats_server(tmp_path / "big", b" " * (am.UWSGI_MAX + 10))
    try:
        with pytest.raises(am.StatsError, match="invalid"):
            am.read_uwsgi(big, os.getuid())
    finally:
        server.close()


def test_read_uwsgi_without_a_socket_is_no_figures(tmp_path):
    assert am.read_uwsgi(str(tmp_path / "none.sock"), os.getuid()) is None
    (tmp_path / "file").write_text("x")
    assert am.read_uwsgi(str(tmp_path / "file" / "stats.sock"), os.getuid()) is None


def test_uwsgi_all_asks_each_app_with_its_own_uid():
    asked = []

    def read(path, uid):
        asked.append((path, uid))
        if "shop" in path:
            raise am.StatsError("peer")
        if "blog" in path:
            return {"requests": 7, "exceptions": 0, "harakiri": 0, "workers": 2, "busy": 2, "backlog": 0}
        return None

    uids = {"blog": 1001, "shop": 1002, "wiki": 1003}

    def getpwnam(name):
        if name not in uids:
            raise KeyError(name)
        return SimpleNamespace(pw_uid=uids[name])

    figures, errors = am.uwsgi_all(["blog", "shop", "wiki", "gone", "../etc"], getpwnam, read=read)
    assert asked == [("/run/blog/stats/stats.sock", 1001), ("/run/shop/stats/stats.sock", 1002),
                     ("/run/wiki/stats/stats.sock", 1003)]
    assert figures == {"blog": {"requests": 7, "exceptions": 0, "harakiri": 0, "workers": 2, "busy": 2, "backlog": 0}}
    assert errors == {("shop", "peer"): 1}

    store = am.Store(["blog", "shop", "wiki"])
    store.record("blog", b"blog.gunicorn.workers:9|g")
    text = store.render(figures, errors)
    assert sample(text, "pyweb_app_requests_total", app="blog") == 7
    assert sample(text, "pyweb_app_workers", app="blog") == 2      # uWSGI's, read now
    assert sample(text, "pyweb_app_workers_busy", app="blog") == 2
    assert sample(text, "pyweb_app_workers_busy", app="wiki") is None
    assert sample(text, "pyweb_app_stats_errors_total", app="shop", reason="peer") == 1
    text = store.render(figures, errors)
    assert sample(text, "pyweb_app_stats_errors_total", app="shop", reason="peer") == 2


# --- review 9: one app never blanks or stalls the others (M1, M2) --------------------------------

def test_a_huge_integer_is_no_figure_and_blanks_no_other_app():
    # An int of 4000 digits: math.isfinite() of it raises OverflowError.
    huge = int("1" + "0" * 3999)
    assert am._count(huge) == 0
    assert am.uwsgi_figures({"workers": [{"requests": huge, "status": "idle"}]})["requests"] == 0

    def read(path, _uid):
        if "shop" in path:
            raise OverflowError("hostile")
        return {"requests": 3, "exceptions": 0, "harakiri": 0, "workers": 1, "busy": 0, "backlog": 0}

    figures, errors = am.uwsgi_all(["blog", "shop"], lambda name: SimpleNamespace(pw_uid=1), read=read)
    assert figures["blog"]["requests"] == 3
    assert errors == {("shop", "invalid"): 1}


def test_read_uwsgi_has_one_deadline_however_the_app_drips(tmp_path):
    path = str(tmp_path / "drip.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    stop = threading.Event()

    def drip():
        conn, _address = server.accept()
        with conn:
            while not stop.is_set():
                try:
                    conn.sendall(b" ")
                except OSError:
                    return
                stop.wait(0.1)

    threading.Thread(target=drip, daemon=True).start()
    try:
        with pytest.raises(am.StatsError, match="unreachable"):
            am.read_uwsgi(path, os.getuid(), timeout=0.5)  # each recv() gets a byte well within 0.5 s
    finally:
        stop.set()
        server.close()


def test_a_silent_connection_holds_no_other_scrape(monkeypatch):
    monkeypatch.setattr(am, "HTTP_TIMEOUT", 30)
    store = am.Store(["blog"])
    server = am.Server(("127.0.0.1", 0), am.handler_for(store), handlers=2)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    silent = [socket.create_connection(("127.0.0.1", port)) for _conn in range(5)]
    try:
        # Two handlers at most: the silent ones beyond are closed, and each scrape gets its own thread.
        for conn in silent[2:]:
            conn.settimeout(5)
            assert conn.recv(1) == b""
        silent[0].close()
        silent[1].close()
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:  # noqa: S310
                    assert b"pyweb_app_requests_total" in answer.read()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        for conn in silent:
            conn.close()
        server.shutdown()


def test_sighup_while_a_scrape_holds_the_lock_does_not_hang(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"apps": ["blog", "wiki"]}))
    store = am.Store(["blog"])
    senders = am.Senders(["blog"])
    handler = am.reload_handler(str(config), store, senders)
    with store.lock:            # the main thread is inside render() when the signal lands
        handler(1, None)        # returns at once: the reload waits in a thread of its own
    deadline = time.monotonic() + 5
    while "wiki" not in store.apps:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert senders.apps == {"blog", "wiki"}


# --- review 9 H1: Gunicorn never blocks on the statsd socket ------------------------------------

GUNICORN_CONF = Path(__file__).resolve().parents[2] / "roles" / "wsgi" / "templates" / "etc" / "pyweb" / "app.gunicorn.conf.py.j2"


def _gunicorn_conf(metrics):
    import jinja2
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters.update(comment=lambda text: "# " + text, to_json=json.dumps, bool=bool)
    text = env.from_string(GUNICORN_CONF.read_text()).render(
        ansible_managed="managed", wsgi_app_name="blog", wsgi_app="app:application", wsgi_chdir="/srv",
        __wsgi_socket="/run/blog/web.sock", __wsgi_workers=2, wsgi_threads=1, wsgi_gunicorn_worker_class="",
        wsgi_timeout=30, wsgi_graceful_timeout=30, wsgi_max_requests=0, wsgi_max_requests_jitter=0,
        wsgi_log_files=False, wsgi_access_log=False, wsgi_gunicorn_options={}, wsgi_metrics=metrics)
    namespace = {}
    exec(compile(text, "gunicorn.conf.py", "exec"), namespace)  # noqa: S102 (our own template)
    return namespace


def test_gunicorn_statsd_sends_never_block_when_the_exporter_stops_reading():
    conf = _gunicorn_conf(True)
    ours, exporter = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)  # nobody reads `exporter`
    server = SimpleNamespace(log=SimpleNamespace(sock=ours))
    conf["on_starting"](server)
    worker = SimpleNamespace(log=server.log)
    conf["post_fork"](server, worker)
    conf["post_worker_init"](worker)
    conf["on_reload"](server)
    done = threading.Event()

    def flood():  # what Gunicorn's Statsd logger does after each request, far past a full queue
        for _count in range(5000):
            server.log.sock.send(b"blog.gunicorn.requests:1|c|@1.0")
        done.set()

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    thread.join(30)
    try:
        assert done.is_set(), "a statsd send blocked on a full queue"
        assert ours.gettimeout() == 0.0
        assert exporter.recv(100) == b"blog.gunicorn.requests:1|c|@1.0"   # figures still go while there is room
    finally:
        ours.close()
        exporter.close()


def test_gunicorn_hooks_only_with_metrics_and_without_statsd_they_do_nothing():
    assert "on_starting" not in _gunicorn_conf(False)
    conf = _gunicorn_conf(True)
    log = SimpleNamespace(sock=None)
    conf["when_ready"](SimpleNamespace(log=log))
    assert log.sock is None
