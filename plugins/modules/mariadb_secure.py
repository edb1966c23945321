#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mysql_secure_installation does, as data: no anonymous user, no remote root, root by
unix_socket only, no test database."""
from __future__ import annotations

DOCUMENTATION = r"""
module: mariadb_secure
short_description: Remove MariaDB's anonymous users, remote root and test database
description:
  - Drives the C(mariadb) client as root over the local socket (root@localhost logs in by
    C(unix_socket)); the SQL goes on standard input.
  - Drops every anonymous user (C(''@any host)) and C(root) or C(mysql) at any host but
    C(localhost); sets C(root@localhost) and C(mysql@localhost) to C(unix_socket) only unless they
    are so already (Debian's C(mysql_native_password USING 'invalid' OR unix_socket) counts, as no
    password matches C(invalid)).
  - Drops the database C(test) when it has no table (one with tables is kept, with a warning) and
    the grants that open C(test) and C(test_%) to every user.
  - What a mysql_secure_installation run asks, done the same way on every run; nothing changes on a
    server that is so already.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  remove_test_database:
    description: Drop the empty database C(test) and the grants on C(test) and C(test_%).
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: No anonymous user, no remote root, no test database
  pyweb.deploy.mariadb_secure:
"""

RETURN = r"""
done:
  description: What was removed or changed (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["user (anonymous)@localhost", "database test"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyweb.deploy.plugins.module_utils import mariadb


def main():
    module = AnsibleModule(
        argument_spec={"remove_test_database": {"type": "bool", "default": True}},
        supports_check_mode=True,
    )
    try:
        found = mariadb.parse_hardening(mariadb.run_sql(mariadb.hardening_found_sql()))
        to_fix = [user for user in mariadb.ADMIN_USERS if user in found["admins"]
                  and not mariadb.admin_auth_ok(mariadb.run_sql(mariadb.admin_auth_sql(user)))]
        sql, done, warnings = mariadb.hardening_sql(found, to_fix, module.params["remove_test_database"])
        if sql and not module.check_mode:
            mariadb.run_sql(sql + "\n")
    except RuntimeError as exc:
        module.fail_json(msg=str(exc))
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=bool(done), done=done)


if __name__ == "__main__":
    main()
