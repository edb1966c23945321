"""roles/alerts/files/pyweb_alert.py: when an alert fires and resolves, what it sends, to whom."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# On the host httpprobe.py sits beside the script; here it is the collection's module_utils file.
sys.path.insert(0, str(ROOT / "plugins" / "module_utils"))
_spec = importlib.util.spec_from_file_location("pyweb_alert", ROOT / "roles/alerts/files/pyweb_alert.py")
alert = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(alert)

CHECK = {"app": "blog", "domain": "blog.example.com", "path": "/health", "scheme": "https",
         "status": 200, "contains": "ok", "timeout": 5}
KEY = "blog https://blog.example.com/health"


def test_fires_after_n_failures_once_then_resolves():
    state, events = alert.step({}, {KEY: "status 502, expected 200"}, 2)
    assert events == [] and state[KEY]["failures"] == 1
    state, events = alert.step(state, {KEY: "status 502, expected 200"}, 2)
    assert events == [{"status": "firing", "key": KEY, "detail": "status 502, expected 200"}]
    state, events = alert.step(state, {KEY: "no answer: timed out"}, 2)
    assert events == [] and state[KEY]["failures"] == 3
    state, events = alert.step(state, {KEY: ""}, 2)
    assert events == [{"status": "resolved", "key": KEY, "detail": "answers again"}]
    state, events = alert.step(state, {KEY: ""}, 2)
    assert events == [] and state[KEY] == {"failures": 0, "alerted": False}


def test_a_blip_below_the_threshold_says_nothing():
    state, events = alert.step({}, {KEY: "status 502, expected 200"}, 2)
    state, events2 = alert.step(state, {KEY: ""}, 2)
    assert events == events2 == [] and state[KEY]["failures"] == 0


def test_forgets_checks_that_are_gone():
    state, events = alert.step({"old": {"failures": 5, "alerted": True}}, {KEY: ""}, 1)
    assert events == []
    assert list(state) == [KEY]


@pytest.mark.parametrize("answer, problem", [
    ((200, '{"status": "ok"}'), ""),
    ((502, "Bad Gateway"), "status 502, expected 200"),
    ((200, "maintenance"), "status 200, but the body lacks 'ok'"),
])
def test_probe_judges_like_the_deploy(answer, problem):
    seen = []
    assert alert.probe(CHECK, asker=lambda p: seen.append(p) or answer) == problem
    assert seen[0]["address"] == "127.0.0.1" and seen[0]["domain"] == "blog.example.com"


def test_probe_says_when_nothing_answers():
    def refuse(_p):
        raise ConnectionRefusedError(111, "Connection refused")
    assert alert.probe(CHECK, asker=refuse).startswith("no answer: ")


def test_payload_suits_slack_matrix_and_ntfy():
    config = {"host": "web1", "webhook": {"url": "https://hooks.example/x", "topic": "ops"}}
    body = alert.payload(config, {"status": "firing", "key": KEY, "detail": "status 502, expected 200"},
                         "health", "blog", "https://blog.example.com/health")
    assert body["text"] == "[FIRING] blog on web1: https://blog.example.com/health: status 502, expected 200"
    assert body["title"] == "[FIRING] blog on web1: https://blog.example.com/health"
    assert body["message"] == body["text"] and body["topic"] == "ops"
    assert body["status"] == "firing" and body["app"] == "blog" and body["kind"] == "health"
    unit = alert.payload({"host": "web1"}, {"status": "firing", "key": "blog-job-x.service",
                                            "detail": "exit-code, exit status 1"},
                         "unit", "blog", "blog-job-x.service")
    assert unit["text"] == ("[FIRING] blog on web1: unit blog-job-x.service failed (exit-code, exit status 1); "
                            "see journalctl -u blog-job-x.service")
    assert "topic" not in unit


def test_run_check_sends_then_remembers(tmp_path):
    sent = []
    config = {"host": "web1", "failures": 1, "checks": [CHECK], "webhook": {"url": "http://r/x"}}
    state = tmp_path / "state.json"
    senders = {"webhook": lambda target, body: sent.append(body), "email": None}
    alert.run_check(config, str(state), asker=lambda p: (503, "down"), senders=senders)
    alert.run_check(config, str(state), asker=lambda p: (503, "down"), senders=senders)
    assert [b["status"] for b in sent] == ["firing"]
    alert.run_check(config, str(state), asker=lambda p: (200, "ok"), senders=senders)
    assert [b["status"] for b in sent] == ["firing", "resolved"]
    assert json.loads(state.read_text()) == {KEY: {"failures": 0, "alerted": False}}


def test_an_alert_not_delivered_is_sent_again(tmp_path, capsys):
    config = {"host": "web1", "failures": 1, "checks": [CHECK],
              "webhook": {"url": "http://secret-token@r/x"}}
    state = tmp_path / "state.json"

    def down(target, body):
        raise OSError(f"cannot reach {target['url']}")
    alert.run_check(config, str(state), asker=lambda p: (503, "down"), senders={"webhook": down})
    assert "could not send the webhook alert: OSError: cannot reach <url>" in capsys.readouterr().err
    sent = []
    alert.run_check(config, str(state), asker=lambda p: (503, "down"),
                    senders={"webhook": lambda t, b: sent.append(b)})
    assert [b["status"] for b in sent] == ["firing"]


def test_one_receiver_down_the_other_delivers():
    sent = []

    def down(_t, _b):
        raise OSError("refused")
    config = {"webhook": {"url": "http://r"}, "email": {"to": ["ops@example.com"]}}
    assert alert.notify(config, {"title": "t"}, {"webhook": down, "email": lambda t, b: sent.append(t)})
    assert sent == [{"to": ["ops@example.com"]}]
    assert not alert.notify(config, {"title": "t"}, {"webhook": down, "email": down})


def test_failed_unit_names_the_unit_and_its_app():
    sent = []
    env = {"MONITOR_UNIT": "blog-worker@2.service", "MONITOR_SERVICE_RESULT": "exit-code",
           "MONITOR_EXIT_STATUS": "1"}
    assert alert.run_failed({"host": "web1", "webhook": {"url": "u"}}, "blog-worker", env,
                            {"webhook": lambda t, b: sent.append(b)})
    assert sent[0]["app"] == "blog" and sent[0]["target"] == "blog-worker@2.service"
    assert sent[0]["detail"] == "exit-code, exit status 1"
    # systemd older than 251 sets no MONITOR_*: the instance name is what is known
    sent.clear()
    alert.run_failed({"webhook": {"url": "u"}}, "shop.service", {}, {"webhook": lambda t, b: sent.append(b)})
    assert sent[0]["app"] == "shop" and sent[0]["target"] == "shop.service" and sent[0]["detail"] == "failed"


def test_post_webhook_sends_json_with_the_headers():
    seen = {}

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self, _n):
            return b""

    def opener(request, timeout):
        seen.update(url=request.full_url, data=json.loads(request.data), headers=dict(request.header_items()),
                    timeout=timeout)
        return Response()
    alert.post_webhook({"url": "https://hooks.example/x", "headers": {"Authorization": "Bearer t"}},
                       {"text": "hi"}, opener=opener)
    assert seen["data"] == {"text": "hi"} and seen["headers"]["Authorization"] == "Bearer t"
    assert seen["headers"]["Content-type"] == "application/json" and seen["timeout"] == 10


def test_send_email_through_the_smarthost():
    log = []

    class SMTP:
        def __init__(self, host, port, timeout):
            log.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def starttls(self):
            log.append(("starttls",))

        def login(self, user, password):
            log.append(("login", user))

        def send_message(self, msg):
            log.append(("send", msg["Subject"], msg["To"]))
    alert.send_email({"host": "smtp.example.com", "port": 587, "starttls": True, "username": "u",
                      "password": "p", "from": "alerts@example.com", "to": ["a@example.com", "b@example.com"]},
                     {"title": "[FIRING] x", "text": "x"}, smtp_class=SMTP)
    assert log == [("connect", "smtp.example.com", 587), ("starttls",), ("login", "u"),
                   ("send", "[FIRING] x", "a@example.com, b@example.com")]
