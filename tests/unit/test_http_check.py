"""plugins/modules/http_check.py: when an answer counts as healthy, retries, and the message."""
import http.server
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.module_utils import httpprobe  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.modules import http_check  # noqa: E402


def params(**kw):
    p = {"domain": "blog.example.test", "path": "/health/", "scheme": "http", "address": "127.0.0.1",
         "port": None, "status": 200, "contains": "", "validate_certs": False, "timeout": 2,
         "retries": 3, "delay": 0}
    p.update(kw)
    return p


@pytest.mark.parametrize("status, body, want, contains, problem", [
    (200, "ok", 200, "", ""),
    (200, '{"status": "ok"}', 200, '"status": "ok"', ""),
    (500, "ok", 200, "", "status 500, expected 200"),
    (200, "fine", 200, "ok", "status 200, but the body lacks 'ok'"),
    (404, "", 404, "", ""),
])
def test_judge(status, body, want, contains, problem):
    assert httpprobe.judge(status, body, want, contains) == problem


def test_retries_until_healthy_and_sleeps_between():
    answers = iter([OSError("refused"), (502, "bad gateway"), (200, "ok")])
    sleeps = []

    def asker(p):
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a
    ok, result = http_check.check(params(delay=5), asker=asker, sleep=sleeps.append)
    assert ok and result["attempts"] == 3 and result["status"] == 200 and result["changed"] is False
    assert sleeps == [5, 5]


def test_fails_with_the_last_problem_and_the_body():
    ok, result = http_check.check(params(retries=2), asker=lambda p: (500, "Traceback: boom"),
                                  sleep=lambda s: None)
    assert not ok
    assert result["msg"] == ("health check of http://blog.example.test/health/ through 127.0.0.1 failed "
                             "after 2 tries: status 500, expected 200\nbody: Traceback: boom")


def test_no_answer_is_said():
    def refuse(p):
        raise ConnectionRefusedError(111, "Connection refused")
    ok, result = http_check.check(params(retries=1), asker=refuse, sleep=lambda s: None)
    assert not ok and "no answer: [Errno 111] Connection refused" in result["msg"] and result["status"] is None


def test_asks_a_real_server_with_the_host_header():
    seen = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen["host"], seen["path"] = self.headers["Host"], self.path
            body = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ok, result = http_check.check(params(port=server.server_port, contains='"status": "ok"'))
    finally:
        server.shutdown()
    assert ok, result
    assert seen == {"host": "blog.example.test", "path": "/health/"}
