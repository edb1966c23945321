#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of the wanted OS packages are missing, and whether apt's package lists need a refresh."""
from __future__ import annotations

DOCUMENTATION = r"""
module: package_state
short_description: Which wanted OS packages are missing, and whether apt's cache is too old
description:
  - Reads dpkg's status file and the age of apt's package lists, in one call and without running
    apt or dpkg, so that the task that installs runs only when something is missing.
  - A package counts as installed when dpkg marks it installed (not only its config files left);
    a virtual name counts when an installed package provides it; C(name:arch) asks for one
    architecture.
  - The cache's age is reckoned as M(ansible.builtin.apt) does for C(cache_valid_time) (apt's
    periodic update-success stamp, else the lists folder's mtime); a lists folder without package
    lists (container images, cleaned hosts) counts as no cache.
  - It only reads.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  names:
    description: The packages wanted, by their name on this host.
    type: list
    elements: str
    required: true
  cache_valid_time:
    description: The apt cache is stale (RV(cache_stale)) when older than this many seconds.
    type: int
    default: 3600
  manager:
    description: The package manager; only apt (dpkg) is read.
    type: str
    choices: [apt]
    default: apt
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
- name: Read which packages are missing and how old the apt cache is
  pyweb.deploy.package_state:
    names: [nginx, logrotate]
    cache_valid_time: 3600
  register: nginx_packages_state

- name: Install what is missing (the cache refreshed only when stale)
  ansible.builtin.apt:
    name: "{{ nginx_packages_state.missing }}"
    update_cache: "{{ nginx_packages_state.cache_stale }}"
  when: nginx_packages_state.missing | length > 0
"""

RETURN = r"""
missing:
  description: The wanted packages dpkg has not installed, in the order asked.
  returned: always
  type: list
  elements: str
  sample: [certbot]
versions:
  description: The installed version of each wanted package that is installed (for a virtual name, the provider and its version).
  returned: always
  type: dict
  sample: {nginx: 1.22.1-9+deb12u1}
upstream_versions:
  description: The same versions without epoch and Debian revision, for version comparisons.
  returned: always
  type: dict
  sample: {nginx: 1.22.1}
cache_age:
  description: Seconds since apt's package lists were refreshed; -1 when there is no trace of a refresh.
  returned: always
  type: int
cache_lists:
  description: How many package lists apt has.
  returned: always
  type: int
cache_stale:
  description: True when there are no package lists or they are older than O(cache_valid_time).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyweb.deploy.plugins.module_utils import dpkg


def package_state(names: list, cache_valid_time: int, installed: dict, cache: dict) -> dict:
    """The result for wanted ``names`` given dpkg's installed packages and the cache's state."""
    found, missing = dpkg.find_installed(names, installed)
    return {
        "changed": False,
        "missing": missing,
        "versions": found,
        "upstream_versions": {name: dpkg.upstream_version(v) for name, v in found.items()},
        "cache_age": cache["age"],
        "cache_lists": cache["lists"],
        "cache_stale": cache["stale"],
    }


def main():
    module = AnsibleModule(
        argument_spec={
            "names": {"type": "list", "elements": "str", "required": True},
            "cache_valid_time": {"type": "int", "default": 3600},
            "manager": {"type": "str", "choices": ["apt"], "default": "apt"},
        },
        supports_check_mode=True,
    )
    try:
        installed = dpkg.read_installed()
    except OSError as exc:
        module.fail_json(msg=f"cannot read dpkg's status file {dpkg.DPKG_STATUS}: {exc.strerror}; "
                             "this host has no dpkg, and pyweb.deploy only installs with apt")
    cache = dpkg.cache_state(module.params["cache_valid_time"])
    module.exit_json(**package_state(module.params["names"], module.params["cache_valid_time"], installed, cache))


if __name__ == "__main__":
    main()
