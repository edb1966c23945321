#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis's admin user, which may only reload the ACL file: a new app's user without a restart."""
from __future__ import annotations

DOCUMENTATION = r"""
module: redis_admin
short_description: Redis's admin ACL user, allowed only ACL LOAD, and the reload of the ACL file through it
description:
  - Keeps one line in Redis's ACL file for the user C(pyweb-admin) (a name no app can take, as app
    names have no hyphen), allowed C(ACL LOAD) and C(PING) and nothing else (no keys, no channels).
    Its password is generated once (URL-safe, 256 bits) into O(password_file), root only, and the
    file holds its SHA-256 only.
  - With O(load=true), it then asks the running Redis to read the ACL file again (C(AUTH) and
    C(ACL LOAD) over loopback TCP; the password goes over the socket, never on a command line), so
    an app's new ACL user (module C(pyweb.deploy.service_account)) works without a restart, which
    would drop every client and the data written since the last snapshot. C(loaded) is false when
    the running Redis does not know the admin user yet (the line was just added, or Redis was
    started before it); the caller restarts Redis then.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  acl_file:
    description: Redis's ACL file (C(aclfile) in redis.conf).
    type: path
    default: /etc/redis/users.acl
  password_file:
    description: Where the admin's password is kept (root, 0600).
    type: path
    default: /etc/redis/pyweb-admin.password
  load:
    description: Ask the running Redis to load the ACL file (C(ACL LOAD)).
    type: bool
    default: false
  host:
    description: Where Redis listens.
    type: str
    default: 127.0.0.1
  port:
    description: Redis's TCP port.
    type: int
    default: 6379
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: The admin user in the ACL file
  pyweb.deploy.redis_admin:
  register: redis_admin

- name: Load the ACL file with an app's new user
  pyweb.deploy.redis_admin:
    load: true
  register: redis_loaded
"""

RETURN = r"""
acl_changed:
  description: Whether the admin's line was added or changed in the ACL file (Redis must restart to know it).
  returned: always
  type: bool
loaded:
  description: Whether Redis loaded the ACL file (only with O(load=true)).
  returned: always
  type: bool
error:
  description: Why the load did not happen (Redis's answer, no secret).
  returned: when the load failed
  type: str
"""

import grp
import hashlib
import secrets

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.deploy.plugins.module_utils import filestate, redisacl
from ansible_collections.pyweb.deploy.plugins.module_utils.redisacl import ADMIN, ask


def admin_line(password: str) -> str:
    digest = hashlib.sha256(password.encode()).hexdigest()
    return f"user {ADMIN} on #{digest} resetkeys resetchannels -@all +acl|load +ping"


def acl_merge(text: str, line: str) -> str:
    """The ACL file with the admin's line set (redisacl: the default user first and off, the rest sorted)."""
    return redisacl.set_user_line(text, ADMIN, line)


def read_text(path: str) -> str | None:
    """The text of the regular file at path, or None; a link there is not followed (filestate)."""
    data = filestate.read_file(path)
    return None if data is None else data.decode()


def write_secret(path: str, content: str, group: int = 0, mode: int = 0o600) -> None:
    """Replace path with content, root:group, mode (filestate: a link there is replaced)."""
    filestate.write_file(path, content.encode(), mode, 0, group)


def main():
    module = AnsibleModule(
        argument_spec={
            "acl_file": {"type": "path", "default": "/etc/redis/users.acl"},
            "password_file": {"type": "path", "default": "/etc/redis/pyweb-admin.password", "no_log": False},
            "load": {"type": "bool", "default": False},
            "host": {"type": "str", "default": "127.0.0.1"},
            "port": {"type": "int", "default": 6379},
        },
        supports_check_mode=True,
    )
    p = module.params
    kept = (read_text(p["password_file"]) or "").strip()
    password = kept or secrets.token_urlsafe(32)
    text = read_text(p["acl_file"]) or ""
    merged = acl_merge(text, admin_line(password))
    acl_changed = merged != text
    changed = acl_changed or not kept
    if not module.check_mode:
        if not kept:
            write_secret(p["password_file"], password + "\n")
        if acl_changed:
            try:
                gid = grp.getgrnam("redis").gr_gid
            except KeyError:
                gid = 0
            write_secret(p["acl_file"], merged, group=gid, mode=0o640)
    result = {"changed": changed, "acl_changed": acl_changed, "loaded": False}
    if p["load"] and not module.check_mode:
        try:
            error = ask(p["host"], p["port"], password)
        except OSError as exc:
            error = f"cannot reach Redis at {p['host']}:{p['port']}: {exc}"
        if error is None:
            result.update(changed=True, loaded=True)
        else:
            result["error"] = error
    module.exit_json(**result)


if __name__ == "__main__":
    main()
