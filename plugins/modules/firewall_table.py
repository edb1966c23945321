#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make sure the firewall role's nftables table is loaded, or remove it and its rules file."""
from __future__ import annotations

DOCUMENTATION = r"""
module: firewall_table
short_description: Load the firewall role's nftables table if it is not loaded, or remove it
description:
  - O(state=loaded) loads O(path) with C(nft -f) when the table O(family) O(name) is not in the
    kernel's ruleset (after C(nft flush ruleset), or on a first run where the service has not
    loaded it); a loaded table is left as it is (the role's handler loads a changed file).
  - O(state=absent) removes O(path) only if it defines the table (a rules file of another tool is
    left alone; RV(file_removed)), and deletes the table from the ruleset if it is loaded. Other
    tables (Docker's, fail2ban's) are never touched.
  - Check mode reports what would change and changes nothing; without C(nft) installed (check
    mode on a fresh host) the table counts as not loaded.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  state:
    description: C(loaded) or C(absent).
    type: str
    choices: [loaded, absent]
    default: loaded
  path:
    description: The rules file that defines the table.
    type: path
    default: /etc/nftables.conf
  name:
    description: The table's name.
    type: str
    default: pyweb_firewall
  family:
    description: The table's family.
    type: str
    default: inet
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Load the rules now if they are not loaded
  pyweb.deploy.firewall_table:
    path: /etc/nftables.conf

- name: Remove the role's rules file and its table
  pyweb.deploy.firewall_table:
    state: absent
  register: removed
"""

RETURN = r"""
loaded_before:
  description: Whether the table was in the ruleset before this call.
  returned: always
  type: bool
loaded:
  description: Whether the table is in the ruleset after this call (in check mode, would be).
  returned: always
  type: bool
file_removed:
  description: Whether O(path) was this role's and was removed (would be, in check mode).
  returned: always
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule


def defines_table(text: str, family: str, name: str) -> bool:
    """Whether a rules file's text defines the table (the role's own file says so on a line)."""
    wanted = ["table", family, name]
    for line in text.splitlines():
        words = line.split("#", 1)[0].replace("{", " ").split()
        if words[:3] == wanted:
            return True
    return False


def run(nft, params: dict, check_mode: bool) -> dict:
    """``nft(args)`` runs nft with those arguments and returns (rc, stderr); None: nft is missing."""
    family, name, path = params["family"], params["name"], params["path"]
    loaded_before = nft is not None and nft(["list", "table", family, name])[0] == 0
    result = {"changed": False, "loaded_before": loaded_before, "loaded": loaded_before, "file_removed": False}
    if params["state"] == "loaded":
        if loaded_before:
            return result
        result.update(changed=True, loaded=True)
        if not check_mode:
            if nft is None:
                raise ValueError("nft is not installed")
            rc, err = nft(["-f", path])
            if rc != 0:
                raise ValueError(f"nft -f {path} failed: {err.strip()}")
        return result
    # absent
    if os.path.isfile(path) and not os.path.islink(path):
        with open(path, encoding="utf-8", errors="replace") as handle:
            ours = defines_table(handle.read(), family, name)
        if ours:
            result.update(changed=True, file_removed=True)
            if not check_mode:
                os.unlink(path)
    if loaded_before:
        result.update(changed=True, loaded=False)
        if not check_mode:
            rc, err = nft(["delete", "table", family, name])
            if rc != 0:
                raise ValueError(f"nft delete table {family} {name} failed: {err.strip()}")
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["loaded", "absent"], "default": "loaded"},
            "path": {"type": "path", "default": "/etc/nftables.conf"},
            "name": {"type": "str", "default": "pyweb_firewall"},
            "family": {"type": "str", "default": "inet"},
        },
        supports_check_mode=True,
    )
    binary = module.get_bin_path("nft", required=False, opt_dirs=["/usr/sbin", "/sbin"])

    def nft(args):
        rc, _out, err = module.run_command([binary] + args)
        return rc, err

    try:
        result = run(nft if binary else None, module.params, module.check_mode)
    except (OSError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
