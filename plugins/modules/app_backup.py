#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dump an app's database into a root-only folder, restore a named dump, prune old ones."""
from __future__ import annotations

DOCUMENTATION = r"""
module: app_backup
short_description: Dump an app's PostgreSQL or MariaDB database, restore a dump, prune old dumps
description:
  - O(action=dump) runs C(pg_dump -Fc) as the app's own unix user (its role, by peer authentication
    over the local socket; never the superuser, so a schema the app shaped gets no more rights than
    the app has) into O(dir) (root, 0700; the file 0600, named C(<app>-<UTC time>-<reason>.pgdump)), then prunes
    with O(keep) and O(max_age_days). A failed dump leaves no file and fails the task.
  - O(action=restore) restores O(file) (a name in O(dir)) with C(pg_restore --clean --if-exists
    --single-transaction) as the app's own user, the objects owned by the app's role; root opens
    the file and passes it on standard input (and opens the dump's file and passes it as standard
    output). The unix user must exist and be neither C(root), C(postgres) nor C(mysql). A failed restore changes nothing.
  - B(MariaDB) (O(engine=mariadb)) the same way, C(mariadb-dump --single-transaction) as the app's
    unix user, logged in as the app's own account over the socket (C(unix_socket)), into
    C(<app>-<UTC time>-<reason>.sql). Its restore (the engine is read from the file's name) has no
    single transaction; root first drops and recreates the app's database (only one the collection
    made, with its comment; the app's grant stays), then the C(mariadb) client, as the app's user
    and in its sandbox mode, replays the dump. The database as it was is dumped first
    (C(<app>-<time>-prerestore.sql), RV(saved)); a restore that fails midway leaves the database
    partly restored, and that dump puts it back.
  - O(engine=auto) dumps each database the collection made for the app on this host (those whose
    password file it keeps in O(base)C(/.pyweb/)); the backup playbook uses it.
  - O(action=list) returns the dumps, oldest first.
  - Nothing of the app's runs; only the server's own tools run, as the app's user.
  - The same code (module_utils C(dbbackup)) is what each app's backup timer runs.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  app:
    description: The app (its database and role are named after it).
    type: str
    required: true
  engine:
    description: The server (for O(action=dump); a restore reads it from the dump's name).
    type: str
    choices: [postgresql, mariadb, auto]
    default: postgresql
  base:
    description: The app's base folder, where O(engine=auto) looks for C(.pyweb/<engine>_password).
      Defaults to C(/srv/apps/<app>).
    type: path
  action:
    description: What to do.
    type: str
    choices: [dump, restore, list]
    required: true
  dir:
    description: The app's backup folder.
    type: path
    required: true
  reason:
    description: A word in the dump's name (C(predeploy), C(manual), C(final), C(timer)).
    type: str
    default: manual
  file:
    description: The dump to restore, a name in O(dir) (or C(latest)).
    type: str
  keep:
    description: How many of the newest dumps to keep.
    type: int
    default: 14
  max_age_days:
    description: Dumps older than this go, the newest excepted (0 keeps them by count only).
    type: int
    default: 30
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode nothing is dumped or restored.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Dump blog's database before its migrations
  pyweb.deploy.app_backup:
    app: blog
    action: dump
    dir: /var/backups/pyweb/blog
    reason: predeploy

- name: Restore a named dump
  pyweb.deploy.app_backup:
    app: blog
    action: restore
    dir: /var/backups/pyweb/blog
    file: blog-20261129T010203Z-predeploy.pgdump
"""

RETURN = r"""
path:
  description: The dump written (dump; the last one with O(engine=auto)) or restored (restore).
  returned: when a dump was written or restored
  type: str
saved:
  description: The dump of the MariaDB database as it was, taken before a restore replaced it.
  returned: when a MariaDB dump was restored
  type: str
paths:
  description: The dumps written.
  returned: when dumps were written
  type: list
  elements: str
dumps:
  description: The app's dumps in O(dir), oldest first, after the action.
  returned: always
  type: list
  elements: str
pruned:
  description: The dumps removed by the pruning.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyweb.deploy.plugins.module_utils import dbbackup
from ansible_collections.pyweb.deploy.plugins.module_utils import mariadb


def mariadb_recreate(app: str) -> None:
    """Before a restore: the app's database, empty (tables a later migration made would stay
    otherwise). Only the collection's database is dropped; the app's grant is by name and stays."""
    found = mariadb.parse_found(mariadb.run_sql(mariadb.found_sql(app)))
    refused = mariadb.refusal(app, found)
    if refused or found.get("database") is None:
        raise RuntimeError(f"app_backup: {refused or f'no MariaDB database {app!r} to restore into'}")
    mariadb.run_sql(mariadb.recreate_sql(app))


def main():
    module = AnsibleModule(
        argument_spec={
            "app": {"type": "str", "required": True},
            "engine": {"type": "str", "choices": ["postgresql", "mariadb", "auto"], "default": "postgresql"},
            "base": {"type": "path"},
            "action": {"type": "str", "choices": ["dump", "restore", "list"], "required": True},
            "dir": {"type": "path", "required": True},
            "reason": {"type": "str", "default": "manual"},
            "file": {"type": "str"},
            "keep": {"type": "int", "default": 14},
            "max_age_days": {"type": "int", "default": 30},
        },
        required_if=[("action", "restore", ["file"])],
        supports_check_mode=True,
    )
    p = module.params
    app, folder = p["app"], p["dir"]
    if not dbbackup.NAME_RE.fullmatch(f"{app}-20000101T000000Z-{p['reason']}.pgdump"):
        module.fail_json(msg=f"app_backup: app {app!r} or reason {p['reason']!r} is not a plain name")
    result = {"changed": False, "pruned": []}
    try:
        if p["action"] == "dump":
            engines = [p["engine"]]
            # A name that is not an app (postgres, root, mysql) is refused before anything is looked for.
            if p["engine"] == "auto" or not module.check_mode:
                dbbackup.app_user(app)
            if p["engine"] == "auto":
                base = p["base"] or f"/srv/apps/{app}"
                engines = dbbackup.engines_of(app, base)
                if not engines:
                    module.fail_json(msg=f"app_backup: {app} has no database of the collection's on this host "
                                         f"(no {base}/.pyweb/<engine>_password)", dumps=dbbackup.dumps(app, folder), pruned=[])
            result["changed"] = True
            if not module.check_mode:
                result["paths"] = []
                for engine in engines:
                    result["path"] = dbbackup.dump(app, folder, p["reason"], engine=engine)
                    result["paths"].append(result["path"])
                    result["pruned"] += dbbackup.prune(app, folder, p["keep"], p["max_age_days"], engine=engine)
        elif p["action"] == "restore":
            have = dbbackup.dumps(app, folder)
            name = os.path.basename(have[-1]) if p["file"] == "latest" and have else p["file"]
            path = os.path.join(folder, name)
            if os.path.basename(name) != name or path not in have:
                module.fail_json(msg=f"app_backup: no dump {name!r} of {app} in {folder} (dumps: "
                                     f"{', '.join(os.path.basename(d) for d in have) or 'none'})",
                                 dumps=have, pruned=[])
            result.update(changed=True, path=path)
            if not module.check_mode:
                dbbackup.app_user(app)
                if dbbackup.dump_engine(path) == "mariadb":
                    # No single transaction here: the database as it is goes to a dump first.
                    result["saved"] = dbbackup.dump(app, folder, "prerestore", engine="mariadb")
                    mariadb_recreate(app)
                dbbackup.restore(app, path)
    except (RuntimeError, OSError) as exc:
        module.fail_json(msg=str(exc), dumps=dbbackup.dumps(app, folder), pruned=[])
    result["dumps"] = dbbackup.dumps(app, folder)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
