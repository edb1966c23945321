# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pyweb.deploy's alerts without a monitoring stack (roles/alerts, minimal mode).

  pyweb_alert.py check        ask every app's health URL through Nginx; on a change of state send
                              an alert (after N failures in a row), then "resolved"
  pyweb_alert.py failed UNIT  a unit of an app failed (OnFailure= of the app's units)

Runs as the role's system user pyweb-alerts (never as root, never app code): the configuration,
which holds the receivers' secrets, is /etc/pyweb-alerts/alerts.json (0640 root:pyweb-alerts; or
$CREDENTIALS_DIRECTORY/alerts.json when given as a systemd credential), the state in
$STATE_DIRECTORY. The answers are judged by httpprobe.py, the same
file the deploy's http_check module uses, installed beside this script.
"""
from __future__ import annotations

import datetime
import email.message
import http.client
import json
import os
import re
import smtplib
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpprobe  # noqa: E402  (beside this file)

APP_RE = re.compile(r"[a-z][a-z0-9_]*")


def load_config(path=None):
    path = path or os.path.join(os.environ.get("CREDENTIALS_DIRECTORY", "/etc/pyweb-alerts"), "alerts.json")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def check_key(check):
    return f"{check['app']} {check['scheme']}://{check['domain']}{check['path']}"


def probe(check, asker=None):
    """"" when the app answers as its health check wants, else what is wrong, in words."""
    params = {"domain": check["domain"], "path": check["path"], "scheme": check["scheme"],
              "address": check.get("address", "127.0.0.1"), "port": check.get("port"),
              "validate_certs": False, "timeout": check.get("timeout", 10)}
    try:
        status, body = (asker or httpprobe.ask)(params)
    except (OSError, http.client.HTTPException) as exc:  # ssl.SSLError is an OSError
        return f"no answer: {exc}"
    return httpprobe.judge(status, body, check["status"], check.get("contains", ""))


def step(state, problems, failures_needed):
    """The new state and the events to send, from the last state and this round's problems.

    ``problems``: {key: "" or what is wrong}. An alert fires after ``failures_needed`` failures in
    a row, once; "resolved" follows the first success after a fired alert. Checks that are gone
    are forgotten.
    """
    new, events = {}, []
    for key, problem in problems.items():
        rec = dict(state.get(key, {"failures": 0, "alerted": False}))
        if problem:
            rec["failures"] += 1
            rec["problem"] = problem
            if rec["failures"] >= failures_needed and not rec["alerted"]:
                rec["alerted"] = True
                events.append({"status": "firing", "key": key, "detail": problem})
        else:
            if rec["alerted"]:
                events.append({"status": "resolved", "key": key, "detail": "answers again"})
            rec = {"failures": 0, "alerted": False}
        new[key] = rec
    return new, events


def payload(config, event, kind, app, target, now=None):
    """One JSON body for every receiver: Slack's and Matrix hookshot's ``text``, ntfy's ``title``,
    ``message`` and ``topic``, and the fields for a program."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    host = config.get("host", "")
    word = "FIRING" if event["status"] == "firing" else "RESOLVED"
    if kind == "health":
        title = f"[{word}] {app} on {host}: {target}"
        text = f"{title}: {event['detail']}"
    else:
        title = f"[{word}] {app} on {host}: unit {target} failed"
        text = f"{title} ({event['detail']}); see journalctl -u {target}"
    body = {"text": text, "title": title, "message": text, "status": event["status"], "kind": kind,
            "app": app, "host": host, "target": target, "detail": event["detail"],
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    topic = (config.get("webhook") or {}).get("topic")
    if topic:
        body["topic"] = topic
    return body


def post_webhook(webhook, body, opener=urllib.request.urlopen):
    headers = {"Content-Type": "application/json", "User-Agent": "pyweb.deploy-alerts"}
    headers.update(webhook.get("headers") or {})
    request = urllib.request.Request(webhook["url"], data=json.dumps(body).encode(), headers=headers,
                                     method="POST")
    with opener(request, timeout=webhook.get("timeout", 10)) as response:
        response.read(1024)


def send_email(mail, body, smtp_class=smtplib.SMTP):
    msg = email.message.EmailMessage()
    msg["Subject"] = body["title"]
    msg["From"] = mail["from"]
    msg["To"] = ", ".join(mail["to"])
    msg.set_content(body["text"] + "\n\n" + json.dumps(body, indent=2) + "\n")
    with smtp_class(mail["host"], mail.get("port", 25), timeout=mail.get("timeout", 10)) as smtp:
        if mail.get("starttls"):
            smtp.starttls()
        if mail.get("username"):
            smtp.login(mail["username"], mail["password"])
        smtp.send_message(msg)


def notify(config, body, senders=None):
    """Sends to every receiver; True when at least one took it. Errors go to stderr (journal),
    without the receivers' addresses (they hold tokens)."""
    senders = senders or {"webhook": post_webhook, "email": send_email}
    delivered = False
    for name in ("webhook", "email"):
        target = config.get(name)
        if not target:
            continue
        try:
            senders[name](target, body)
            delivered = True
        except Exception as exc:  # noqa: BLE001 - any failure of one receiver is reported, the next tried
            print(f"could not send the {name} alert: {type(exc).__name__}: {exc}"
                  .replace(str(target.get("url", "\0")), "<url>"), file=sys.stderr)
    return delivered


def app_of(unit):
    match = APP_RE.match(unit)
    return match.group(0) if match else unit


def run_check(config, state_path, asker=None, senders=None):
    try:
        with open(state_path, encoding="utf-8") as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        state = {}
    checks = {check_key(c): c for c in config.get("checks", [])}
    problems = {key: probe(c, asker) for key, c in checks.items()}
    new, events = step(state, problems, int(config.get("failures", 2)))
    for event in events:
        check = checks[event["key"]]
        target = f"{check['scheme']}://{check['domain']}{check['path']}"
        print(f"{event['status']}: {check['app']} {target}: {event['detail']}")
        if not notify(config, payload(config, event, "health", check["app"], target), senders):
            # Not delivered: the next round sends it again (the failures still count).
            new[event["key"]]["alerted"] = event["status"] != "firing"
    tmp = state_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(new, handle)
    os.replace(tmp, state_path)
    return events


def run_failed(config, instance, environ=None, senders=None):
    environ = os.environ if environ is None else environ
    unit = environ.get("MONITOR_UNIT") or instance
    result = environ.get("MONITOR_SERVICE_RESULT") or "failed"
    status = environ.get("MONITOR_EXIT_STATUS")
    detail = result + (f", exit status {status}" if status else "")
    event = {"status": "firing", "key": unit, "detail": detail}
    print(f"firing: {unit} failed ({detail})")
    return notify(config, payload(config, event, "unit", app_of(unit), unit), senders)


def main(argv):
    if len(argv) < 2 or argv[1] not in ("check", "failed") or (argv[1] == "failed" and len(argv) != 3):
        print(__doc__, file=sys.stderr)
        return 2
    config = load_config()
    if argv[1] == "check":
        state_dir = os.environ.get("STATE_DIRECTORY", "/var/lib/pyweb-alerts").split(":")[0]
        run_check(config, os.path.join(state_dir, "state.json"))
        return 0
    return 0 if run_failed(config, argv[2]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
