# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask a site for a page through a given address, as a browser that resolved its domain would.

Plain standard library, no Ansible import: the module http_check uses it on the managed host, and
the alerts role ships this same file beside its health-check script (roles/alerts), so the timer
judges an answer exactly as a deploy does.

``p`` is a dict with the keys of http_check's options: domain, path, scheme, address, port,
status, contains, validate_certs, timeout, retries, delay; and optionally headers (more request
headers, such as X-Forwarded-Proto for an app asked directly as Nginx would forward to it).
"""
from __future__ import annotations

import http.client
import socket
import ssl
import time


class _HTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to one address that presents another name (SNI)."""

    def __init__(self, address, port, server_name, context, timeout):
        super().__init__(address, port, context=context, timeout=timeout)
        self._server_name = server_name

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)


def ask(p):
    port = p["port"] or (443 if p["scheme"] == "https" else 80)
    if p["scheme"] == "https":
        context = ssl.create_default_context()
        if not p["validate_certs"]:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        conn = _HTTPSConnection(p["address"], port, p["domain"], context, p["timeout"])
    else:
        conn = http.client.HTTPConnection(p["address"], port, timeout=p["timeout"])
    try:
        headers = {"Host": p["domain"], "User-Agent": "pyweb.deploy-health-check", **(p.get("headers") or {})}
        conn.request("GET", p["path"], headers=headers)
        resp = conn.getresponse()
        body = resp.read(65536).decode("utf-8", "replace")
        return resp.status, body
    finally:
        conn.close()


def judge(status, body, want_status, contains):
    """What is wrong with an answer, in words; "" when it is the one wanted."""
    if status != want_status:
        return f"status {status}, expected {want_status}"
    if contains and contains not in body:
        return f"status {status}, but the body lacks {contains!r}"
    return ""


def check(p, asker=None, sleep=time.sleep):
    """Ask up to p["retries"] times; returns (ok, result). ``asker`` and ``sleep`` for tests."""
    asker = asker or ask
    url = f"{p['scheme']}://{p['domain']}{p['path']}"
    problem, status, body = "", None, ""
    tries = max(1, p["retries"])
    for attempt in range(1, tries + 1):
        try:
            status, body = asker(p)
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            problem = f"no answer: {exc}"
            status, body = None, ""
        else:
            problem = judge(status, body, p["status"], p["contains"])
            if not problem:
                return True, {"changed": False, "status": status, "body": body[:500],
                              "attempts": attempt, "url": url}
        if attempt < tries:
            sleep(p["delay"])
    return False, {
        "msg": f"health check of {url} through {p['address']} failed after {tries} tries: {problem}"
               + (f"\nbody: {body[:300]}" if body else ""),
        "status": status, "body": body[:500], "attempts": tries, "url": url}
