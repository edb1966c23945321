#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A password made once and its hash (bcrypt for Prometheus, salted SHA-1 for Nginx) in a Prometheus web
configuration or an Nginx user file (basic auth)."""
from __future__ import annotations

DOCUMENTATION = r"""
module: web_auth
short_description: Basic auth for Prometheus, Alertmanager, the blackbox exporter or an Nginx server (a password made once)
description:
  - Makes a random password once and keeps it in O(password_file) (for the clients, such as
    Prometheus's C(basic_auth.password_file)), and writes O(web_config), the C(--web.config.file) of
    Prometheus, Alertmanager and the exporters, with the password's bcrypt hash under
    C(basic_auth_users); with O(format=htpasswd), Nginx's C(auth_basic_user_file) instead
    (C(user:{SSHA}hash), salted SHA-1, which Nginx checks itself without C(crypt)).
  - No slow hash for Nginx, because Nginx checks the user file in its worker's event loop, so a bcrypt
    check (about 100 ms) per request stalls every site that worker serves, and anyone who reaches
    the server can send wrong passwords for nothing else. The password is 256 random bits, so a slow
    hash adds nothing to it.
  - An existing password is kept; an existing hash is kept while it matches the password (each hash
    is salted, so a new one on every run would not be idempotent). A hash of another kind (an Nginx
    user file with a bcrypt hash, from an older version) is made again. Both files are written
    through a temporary file renamed over the old one, never through a link, with the owner and
    mode given (root and the services' group only, so the apps cannot read them).
  - With O(format=prometheus), needs the C(bcrypt) Python module on the host (Debian's C(python3-bcrypt)).
  - The password never appears in output, nor in C(--diff). Check mode is supported.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  user:
    description: The user name clients give.
    type: str
    default: pyweb-monitoring
  password_file:
    description: Where the password is kept (made when absent).
    type: path
    required: true
  web_config:
    description: The web configuration file the servers read (C(--web.config.file)).
    type: path
    required: true
  group:
    description: The group that reads both files (the servers' and Prometheus's group).
    type: str
    default: prometheus
  password_group:
    description: The password file's group, when another than O(group) (C(root) keeps it to root).
    type: str
  format:
    description: O(web_config)'s format, a Prometheus web configuration or an Nginx user file.
    type: str
    choices: [prometheus, htpasswd]
    default: prometheus
  mode:
    description: Both files' mode.
    type: str
    default: "0640"
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Shows which file changes, never its content.
    support: full
"""

EXAMPLES = r"""
- name: Require a password for Prometheus, Alertmanager and the blackbox exporter
  pyweb.deploy.web_auth:
    password_file: /etc/prometheus/pyweb-monitoring.password
    web_config: /etc/prometheus/web.yml

- name: Require a password for an Nginx server (the password root's only, the hash Nginx's workers')
  pyweb.deploy.web_auth:
    password_file: /etc/pyweb-monitoring/door.password
    web_config: /etc/nginx/pyweb-monitoring/htpasswd
    format: htpasswd
    group: www-data
    password_group: root
"""

RETURN = r"""
written:
  description: The files written.
  returned: success
  type: list
  elements: str
user:
  description: The user name clients give.
  returned: success
  type: str
  sample: pyweb-monitoring
"""

import base64
import hashlib
import hmac
import re
import secrets

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.deploy.plugins.module_utils import filestate

_USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_PASSWORD_RE = re.compile(r"[A-Za-z0-9_-]{32,}")
HEADER = "# pyweb.deploy: basic auth of Prometheus, Alertmanager and the blackbox exporter (--web.config.file).\n"


_HASH = r"\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}"
# Salted SHA-1 as Nginx reads it: {SSHA}base64(sha1(password + salt) + salt).
_SSHA = r"\{SSHA\}[A-Za-z0-9+/]{28,}={0,2}"
HTPASSWD_HEADER = "# pyweb.deploy: basic auth of an Nginx server (auth_basic_user_file).\n"


def render(user: str, hashed: str, fmt: str = "prometheus") -> str:
    if fmt == "htpasswd":
        return f"{HTPASSWD_HEADER}{user}:{hashed}\n"
    return f"{HEADER}basic_auth_users:\n  {user}: '{hashed}'\n"


def hash_in(text: str, user: str, fmt: str = "prometheus") -> str:
    """The hash ``render`` wrote for ``user`` (bcrypt, or {SSHA} for htpasswd), or ""."""
    line = rf"^{re.escape(user)}:({_SSHA})$" if fmt == "htpasswd" else rf"^  {re.escape(user)}: '({_HASH})'$"
    match = re.search(line, text or "", re.M)
    return match.group(1) if match else ""


def wanted(user: str, old_password: str, old_web: str, hasher, checker, generate=None, fmt: str = "prometheus") -> tuple:
    """(password, web configuration or Nginx user file): the old password when it is one of ours, the
    old hash while it matches it; else new ones."""
    if not _USER_RE.fullmatch(user):
        raise ValueError(f"web_auth: user {user!r} is not a plain name")
    password = (old_password or "").strip()
    if not _PASSWORD_RE.fullmatch(password):
        password = (generate or (lambda: secrets.token_urlsafe(32)))()
    hashed = hash_in(old_web, user, fmt)
    if not hashed or not checker(password, hashed):
        hashed = hasher(password)
    return password, render(user, hashed, fmt)


def ssha(password: str, salt: bytes = None) -> str:
    """{SSHA}: salted SHA-1, which Nginx checks natively (fast: the password is random, not guessable)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def ssha_matches(password: str, hashed: str) -> bool:
    try:
        raw = base64.b64decode(hashed[len("{SSHA}"):], validate=True)
    except ValueError:
        return False
    if not hashed.startswith("{SSHA}") or len(raw) <= 20:
        return False
    return hmac.compare_digest(ssha(password, raw[20:]), hashed)


def _bcrypt():
    import bcrypt  # Debian's python3-bcrypt, on the host

    return (lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=10)).decode(),
            lambda pw, h: bcrypt.checkpw(pw.encode(), h.encode()))


def main():
    module = AnsibleModule(
        argument_spec={
            "user": {"type": "str", "default": "pyweb-monitoring"},
            "password_file": {"type": "path", "required": True, "no_log": False},  # a path, not a secret
            "web_config": {"type": "path", "required": True},
            "group": {"type": "str", "default": "prometheus"},
            "mode": {"type": "str", "default": "0640"},
            "password_group": {"type": "str", "no_log": False},  # a group name, not a secret
            "format": {"type": "str", "default": "prometheus", "choices": ["prometheus", "htpasswd"]},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["format"] == "htpasswd":
        hasher, checker = ssha, ssha_matches
    else:
        try:
            hasher, checker = _bcrypt()
        except ImportError:
            module.fail_json(msg="web_auth needs the bcrypt Python module on the host (Debian: python3-bcrypt)")
    old_password = (filestate._read(p["password_file"]) or b"").decode("utf-8", "replace")
    old_web = (filestate._read(p["web_config"]) or b"").decode("utf-8", "replace")
    try:
        password, web = wanted(p["user"], old_password, old_web, hasher, checker, fmt=p["format"])
        files = filestate.normalize_files([
            {"dest": p["password_file"], "content": password, "mode": p["mode"],
             "group": p["password_group"] or p["group"]},
            {"dest": p["web_config"], "content": web, "mode": p["mode"], "group": p["group"]},
        ], secret=True)
        todo = filestate.plan(files, [], [], [])
    except (ValueError, filestate.PlanError) as exc:
        module.fail_json(msg=str(exc))
    if not module.check_mode:
        filestate.apply(todo)
    report = filestate.report(todo)
    result = {"changed": not filestate.is_empty(todo), "written": report["written"], "user": p["user"]}
    if module._diff:
        result["diff"] = report["diff"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
