#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask a site for a page the way a browser would, through a given address, and judge the answer."""
from __future__ import annotations

DOCUMENTATION = r"""
module: http_check
short_description: Check that a site answers through Nginx with the expected status and text
description:
  - Connects to O(address) (default the host itself) but asks for O(domain), both in the TLS
    handshake (SNI) and in the C(Host) header, as a browser that resolved the domain would.
  - Retries O(retries) times O(delay) seconds apart; fails with what it got last (status, the
    start of the body, or the connection error).
  - Changes nothing; runs in check mode too.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  domain:
    description: The site's host name.
    type: str
    required: true
  path:
    description: The path to ask for.
    type: str
    default: /
  scheme:
    description: C(https) or C(http).
    type: str
    default: https
    choices: [http, https]
  address:
    description: The address to connect to.
    type: str
    default: 127.0.0.1
  port:
    description: The port; default 443 for https, 80 for http.
    type: int
  status:
    description: The status expected.
    type: int
    default: 200
  contains:
    description: Text the body must contain (empty means any).
    type: str
    default: ""
  validate_certs:
    description: Verify the certificate (off for self-signed ones).
    type: bool
    default: false
  timeout:
    description: Seconds to wait for one answer.
    type: int
    default: 10
  retries:
    description: How many times to ask before failing.
    type: int
    default: 3
  delay:
    description: Seconds between tries.
    type: int
    default: 2
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
"""

EXAMPLES = r"""
- name: Ask Nginx on this host for the blog's health page, as a client of blog.example.com would
  pyweb.deploy.http_check:
    domain: blog.example.com
    path: /health/
    scheme: https
    status: 200
    contains: ok
    retries: 3

- name: Check one app host directly, behind a load balancer (SNI and Host still name the site)
  pyweb.deploy.http_check:
    domain: shop.example.com
    address: 10.0.0.12
    scheme: https
    validate_certs: false
"""

RETURN = r"""
status:
  description: The status of the last answer.
  returned: when an answer came
  type: int
body:
  description: The first 500 characters of the last answer's body.
  returned: when an answer came
  type: str
attempts:
  description: How many tries it took.
  returned: always
  type: int
"""

import http.client
import socket
import ssl
import time

from ansible.module_utils.basic import AnsibleModule


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
        conn.request("GET", p["path"], headers={"Host": p["domain"], "User-Agent": "pyweb.deploy-health-check"})
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


def main():
    module = AnsibleModule(
        argument_spec={
            "domain": {"type": "str", "required": True},
            "path": {"type": "str", "default": "/"},
            "scheme": {"type": "str", "default": "https", "choices": ["http", "https"]},
            "address": {"type": "str", "default": "127.0.0.1"},
            "port": {"type": "int"},
            "status": {"type": "int", "default": 200},
            "contains": {"type": "str", "default": ""},
            "validate_certs": {"type": "bool", "default": False},
            "timeout": {"type": "int", "default": 10},
            "retries": {"type": "int", "default": 3},
            "delay": {"type": "int", "default": 2},
        },
        supports_check_mode=True,
    )
    ok, result = check(module.params)
    if ok:
        module.exit_json(**result)
    module.fail_json(**result)


if __name__ == "__main__":
    main()
