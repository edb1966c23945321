#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refuse app names that an account, group or unit of the host already has."""
from __future__ import annotations

DOCUMENTATION = r"""
module: app_names
short_description: Refuse app names that the host's accounts, groups or units already use
description:
  - Each app gets a unix user and group and systemd units named after it. A name that the host
    already uses for something else would hand it to the app (an existing group such as C(disk)
    or C(docker) would become the app's primary group, an existing account would be rewritten)
    or shadow a packaged unit (C(/etc/systemd/system/ssh.service) would replace sshd's).
  - This module only reads. It fails, naming each app and what is in the way, when a name is
    taken by something the collection did not create. An account the collection created has
    its app's folder as home and no login shell; its group and the units in
    C(/etc/systemd/system) are then the app's own.
  - Run it before anything on the host changes (the site playbooks do, for every app at once).
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  names:
    description: The app names to check.
    type: list
    elements: str
    required: true
  app_root:
    description: The folder the apps live in (each app's account has C(<app_root>/<name>) as home).
    type: path
    default: /srv/apps
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: It only reads.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details: It changes nothing.
"""

EXAMPLES = r"""
- name: Refuse app names the host uses for something else
  pyweb.deploy.app_names:
    names: "{{ pyweb_apps | map(attribute='name') | list }}"
    app_root: /srv/apps
"""

RETURN = r"""
problems:
  description: One message per name in the way (empty when every name is free or the app's own).
  returned: always
  type: list
  elements: str
existing:
  description: The names whose app account already exists (apps deployed before).
  returned: always
  type: list
  elements: str
"""

import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule

# Where packages install units (an app's unit in /etc/systemd/system would shadow these) and
# where an administrator's or another tool's units live.
VENDOR_UNIT_DIRS = ("/lib/systemd/system", "/usr/lib/systemd/system", "/usr/local/lib/systemd/system")
ADMIN_UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system")
UNIT_SUFFIXES = (".service", ".socket", ".timer")
NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false")


def is_app_account(entry, name: str, app_root: str) -> bool:
    """An account the collection created: its home is the app's folder, it cannot log in."""
    return entry.pw_dir.rstrip("/") == os.path.join(app_root, name).rstrip("/") and entry.pw_shell in NOLOGIN


def name_problems(name: str, app_root: str, getpwnam=pwd.getpwnam, getgrnam=grp.getgrnam,
                  exists=os.path.lexists) -> tuple[list[str], bool]:
    """The problems of one name, and whether its app account exists already."""
    problems = []
    try:
        account = getpwnam(name)
    except KeyError:
        account = None
    ours = account is not None and is_app_account(account, name, app_root)
    if account is not None and not ours:
        problems.append(
            f"{name}: an account {name} exists on this host (home {account.pw_dir}, shell {account.pw_shell}) "
            f"and is not this collection's app account (home {os.path.join(app_root, name)}, no login): "
            "choose another name for the app (it would take the account over)")
    if account is None:
        try:
            group = getgrnam(name)
        except KeyError:
            group = None
        if group is not None:
            members = ", ".join(group.gr_mem) or "none"
            problems.append(
                f"{name}: a group {name} exists on this host (gid {group.gr_gid}, members {members}) without "
                "an app account: choose another name for the app (the group would become its primary group); "
                f"if it is left over from an interrupted first deploy of this app, remove it (groupdel {name})")
    for suffix in UNIT_SUFFIXES:
        for folder in VENDOR_UNIT_DIRS:
            path = os.path.join(folder, name + suffix)
            if exists(path):
                problems.append(f"{name}: the unit {name}{suffix} is installed by a package ({path}): the app's "
                                "unit would shadow it; choose another name for the app")
        if not ours:
            for folder in ADMIN_UNIT_DIRS:
                path = os.path.join(folder, name + suffix)
                if exists(path):
                    problems.append(f"{name}: the unit file {path} exists and is not an app's (no app account "
                                    f"{name}): choose another name for the app, or remove that unit")
    return problems, ours


def check_names(names, app_root: str, **lookups) -> dict:
    problems, existing = [], []
    for name in names:
        found, ours = name_problems(name, app_root, **lookups)
        problems += found
        if ours:
            existing.append(name)
    return {"problems": problems, "existing": existing}


def main():
    module = AnsibleModule(
        argument_spec={
            "names": {"type": "list", "elements": "str", "required": True},
            "app_root": {"type": "path", "default": "/srv/apps"},
        },
        supports_check_mode=True,
    )
    result = check_names(module.params["names"], module.params["app_root"])
    if result["problems"]:
        module.fail_json(msg="app names in use on this host:\n- " + "\n- ".join(result["problems"]),
                         changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
