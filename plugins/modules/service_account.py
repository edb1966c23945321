#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An app's own account (and database) in the host's PostgreSQL, MariaDB or Redis."""
from __future__ import annotations

DOCUMENTATION = r"""
module: service_account
short_description: An app's own database and account in the host's PostgreSQL or MariaDB, or its ACL user in Redis
description:
  - B(PostgreSQL) drives C(psql) as the C(postgres) superuser over the local socket (peer
    authentication) to make a login role named after the app, owning a database of the same name, with
    C(CONNECT) revoked from C(PUBLIC). C(pg_hba.conf) (role the pyweb.deploy.postgresql role) lets a role
    reach only the database named after it (C(sameuser)), so one app cannot log in to another's.
  - The role and the database it makes carry the comment C(pyweb.deploy app <app>). A role with the
    app's name that lacks it (an admin's role, C(postgres)), or that has any privilege beyond LOGIN
    (superuser, createrole, createdb, replication, bypassrls), and a database with the app's name
    that lacks it and is not that role's, are refused before anything is written (never given a
    new password, LOGIN, a new owner, nor dropped).
  - B(MariaDB) drives the C(mariadb) client as root over the local socket (root@localhost by
    C(unix_socket); SQL on standard input) to make a database named after the app (utf8mb4, with the
    comment C(pyweb.deploy app <app>)) and the user C(<app>@localhost) with C(ALL PRIVILEGES) on that
    database only (its C(_) escaped, so no other database matches), logging in with its password
    (C(mysql_native_password)) or, over the socket, as the unix user of its name (C(unix_socket),
    the app's dumps run so). A database with the app's name that lacks the comment, and a user with
    the app's name at another host, with a global privilege, a grant beyond that database, or
    without the collection's database beside it (an admin's, C(root), C(mysql)), are refused before
    anything is written.
  - B(Redis) keeps one line per app in the ACL file, C(user <app> on) with the password's SHA-256
    and C(~<app>:* &<app>:* +@all -@dangerous), less C(KEYS), C(SCAN), C(RANDOMKEY), C(PUBSUB CHANNELS),
    C(PUBSUB SHARDCHANNELS), C(PUBSUB NUMSUB), C(SCRIPT FLUSH), C(FUNCTION) and, unless O(scripting=true),
    C(@scripting) (C(EVAL), C(EVALSHA), C(SCRIPT LOAD); Redis's Lua engine has had sandbox escapes); the app may touch only
    keys and channels that start with C(<app>:), cannot list other apps' key or channel names, nor flush
    the server's scripts. The C(default) user stays off. The caller restarts Redis when the task changed something.
  - The password is generated once (URL-safe, 256 bits) and kept in O(password_file), root only;
    or given in O(password) (from a vault), which replaces the kept one. It reaches C(psql) on its
    standard input, never on a command line, and is never returned.
  - O(state=absent) drops the database and the role (PostgreSQL), the database and the user
    (MariaDB) or the ACL line (Redis), and
    removes O(password_file), with the same refusals. The backup playbook takes a final dump first.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  app:
    description: The app's name (its unix user); the role, database and ACL user take it.
    type: str
    required: true
  engine:
    description: The server.
    type: str
    choices: [postgresql, mariadb, redis]
    required: true
  state:
    description: C(present) creates what is missing; C(absent) drops it.
    type: str
    choices: [present, absent]
    default: present
  password:
    description: The password to use instead of a generated one.
    type: str
  password_file:
    description: Where the password is kept (root, 0600); its folder must exist.
    type: path
    required: true
  acl_file:
    description: Redis's ACL file (C(aclfile) in redis.conf).
    type: path
    default: /etc/redis/users.acl
  scripting:
    description:
      - Let the app's Redis user run Lua scripts (C(@scripting), that is C(EVAL), C(EVALSHA), C(SCRIPT LOAD)), which
        some libraries need (redis-py's C(Lock), some queues). Off by default, since a bug in Redis's Lua
        engine gives an app the C(redis) user and every app's keys. Redis only.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: The app's own database and role
  pyweb.deploy.service_account:
    app: blog
    engine: postgresql
    password_file: /srv/apps/blog/.pyweb/postgresql_password

- name: The app's own MariaDB database and user
  pyweb.deploy.service_account:
    app: blog
    engine: mariadb
    password_file: /srv/apps/blog/.pyweb/mariadb_password

- name: The app's Redis ACL user
  pyweb.deploy.service_account:
    app: blog
    engine: redis
    password_file: /srv/apps/blog/.pyweb/redis_password
  register: blog_redis
"""

RETURN = r"""
created:
  description: What was created or dropped (C(role), C(user), C(grant), C(database), C(password), C(acl)).
  returned: always
  type: list
  elements: str
  sample: [role, database]
"""

import hashlib
import json
import os
import secrets
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.deploy.plugins.module_utils import filestate

from ansible_collections.pyweb.deploy.plugins.module_utils import mariadb, postgresql, redisacl
from ansible_collections.pyweb.deploy.plugins.module_utils.postgresql import quote_ident, quote_literal


def marker(app: str) -> str:
    """The comment on the role and the database this module made: only those are ever changed."""
    return f"pyweb.deploy app {app}"


def postgresql_found_sql(app: str) -> str:
    """One JSON line: the role and the database named after the app (null when missing), with
    what decides whether they are the collection's (the comment) and whether the role is privileged."""
    name = quote_literal(app)
    return (
        "SELECT json_build_object("
        "'role', (SELECT json_build_object('comment', shobj_description(oid, 'pg_authid'), "
        "'privileged', rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls) "
        f"FROM pg_roles WHERE rolname = {name}), "
        "'database', (SELECT json_build_object('comment', shobj_description(oid, 'pg_database'), "
        "'owner', pg_get_userbyid(datdba)) "
        f"FROM pg_database WHERE datname = {name}));\n")


def postgresql_refusal(app: str, found: dict) -> str | None:
    """Why the role or database named after the app must not be touched, or None.

    A role is the app's only if this module made it (its comment) and it has no privilege beyond
    LOGIN; a database only if this module made it or it belongs to that role. Anything else with
    the app's name (an admin's role, ``postgres``, another tool's database) is never taken over:
    no new password, no LOGIN, no new owner, no DROP."""
    role, database = found.get("role"), found.get("database")
    if role is not None:
        if role.get("privileged"):
            return (f"the PostgreSQL role {app!r} exists with privileges (superuser, createrole, createdb, "
                    "replication or bypassrls); an app's role is never one of those")
        if role.get("comment") != marker(app):
            return (f"the PostgreSQL role {app!r} exists and was not made by pyweb.deploy (its comment "
                    f"is not {marker(app)!r}); rename the app or drop that role")
    if database is not None and database.get("comment") != marker(app) and not (
            role is not None and database.get("owner") == app):
        return (f"the PostgreSQL database {app!r} exists and was not made by pyweb.deploy (its comment "
                f"is not {marker(app)!r}); rename the app or drop that database")
    return None


def postgresql_sql(app: str, found: dict, password: str, set_password: bool) -> tuple[str, list]:
    """The SQL that makes the app's role and database as wanted, and what it creates.

    ``found`` is what postgresql_found_sql read: the role and the database (None when missing),
    already checked by postgresql_refusal."""
    role, statements, created = quote_ident(app), [], []
    comment = quote_literal(marker(app))
    if found.get("role") is None:
        statements.append(f"CREATE ROLE {role} LOGIN PASSWORD {quote_literal(password)};")
        statements.append(f"COMMENT ON ROLE {role} IS {comment};")
        created.append("role")
    elif set_password:
        statements.append(f"ALTER ROLE {role} LOGIN PASSWORD {quote_literal(password)};")
        created.append("password")
    database = found.get("database")
    if database is None:
        statements.append(f"CREATE DATABASE {role} OWNER {role};")
        statements.append(f"REVOKE ALL ON DATABASE {role} FROM PUBLIC;")
        statements.append(f"COMMENT ON DATABASE {role} IS {comment};")
        created.append("database")
    elif database.get("owner") != app:
        statements.append(f"ALTER DATABASE {role} OWNER TO {role};")
        statements.append(f"REVOKE ALL ON DATABASE {role} FROM PUBLIC;")
        created.append("owner")
    return "\n".join(statements), created


def postgresql_found(module, app: str) -> dict:
    found = json.loads(psql(module, postgresql_found_sql(app)).strip())
    refusal = postgresql_refusal(app, found)
    if refusal:
        module.fail_json(msg=f"service_account: {refusal}")
    return found


# Beyond @dangerous (Redis 7.0 puts KEYS there, but not SCAN nor RANDOMKEY): the commands that
# show other apps' key or channel names (Django's session ids are in its cache keys), or that
# act on the whole server's scripts and functions. The key patterns do not restrict these.
REDIS_DENIED = ("-keys", "-scan", "-randomkey", "-pubsub|channels", "-pubsub|shardchannels",
                "-pubsub|numsub", "-script|flush", "-function")


def redis_acl_line(app: str, password: str, scripting: bool = False) -> str:
    """The app's ACL line. Without scripting, no Lua (EVAL, EVALSHA, SCRIPT LOAD, FUNCTION): Redis's
    Lua engine has had sandbox escapes that run code as the redis user (CVE-2022-0543,
    CVE-2025-49844), which would reach every app's keys."""
    digest = hashlib.sha256(password.encode()).hexdigest()
    return (f"user {app} on #{digest} resetkeys ~{app}:* resetchannels &{app}:* "
            "-@all +@all -@dangerous " + ("" if scripting else "-@scripting ") + " ".join(REDIS_DENIED))


DEFAULT_ACL = redisacl.DEFAULT_ACL


def redis_acl_merge(text: str, app: str, line: str | None) -> str:
    """The ACL file with the app's line set (``line``) or removed (None); default stays off."""
    return redisacl.set_user_line(text, app, line)


def psql(module, sql: str, database: str = "postgres") -> str:
    """Run SQL as the postgres superuser over the local socket; SQL (and any password) on stdin."""
    try:
        return postgresql.run_psql(sql, database)
    except RuntimeError as exc:
        module.fail_json(msg=str(exc))


def mariadb_found(module, app: str) -> dict:
    found = mariadb.parse_found(mariadb_sql(module, mariadb.found_sql(app)))
    refused = mariadb.refusal(app, found)
    if refused:
        module.fail_json(msg=f"service_account: {refused}")
    return found


def mariadb_sql(module, sql: str) -> str:
    try:
        return mariadb.run_sql(sql)
    except RuntimeError as exc:
        module.fail_json(msg=str(exc))


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
            "app": {"type": "str", "required": True},
            "engine": {"type": "str", "choices": ["postgresql", "mariadb", "redis"], "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "password": {"type": "str", "no_log": True},
            "password_file": {"type": "path", "required": True, "no_log": False},
            "acl_file": {"type": "path", "default": "/etc/redis/users.acl"},
            "scripting": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    app, engine = p["app"], p["engine"]
    if not app.replace("_", "").isalnum() or not app[0].isalpha() or app != app.lower():
        module.fail_json(msg=f"service_account: app {app!r} must match [a-z][a-z0-9_]*")
    kept = read_text(p["password_file"])
    kept = kept.strip() if kept else None
    created = []

    if p["state"] == "absent":
        client = {"postgresql": "psql", "mariadb": "mariadb"}.get(engine)
        # Without the server's client on this host, the server is not here: nothing to drop.
        installed = client is None or shutil.which(client, path="/usr/sbin:/usr/bin:/sbin:/bin") is not None
        if not installed:
            pass
        elif engine == "postgresql":
            found = postgresql_found(module, app)
            if found.get("database") is not None:
                created.append("database")
            if found.get("role") is not None:
                created.append("role")
            if created and not module.check_mode:
                psql(module, f"DROP DATABASE IF EXISTS {quote_ident(app)} WITH (FORCE);\n"
                             f"DROP ROLE IF EXISTS {quote_ident(app)};\n")
        elif engine == "mariadb":
            found = mariadb_found(module, app)
            if found.get("database") is not None:
                created.append("database")
            if found.get("hosts"):
                created.append("user")
            if created and not module.check_mode:
                mariadb_sql(module, mariadb.drop_sql(app))
        elif engine == "redis" and (text := read_text(p["acl_file"])) is not None:
            merged = redis_acl_merge(text, app, None)
            if merged != text:
                created.append("acl")
                if not module.check_mode:
                    write_secret(p["acl_file"], merged, group=_gid("redis"), mode=0o640)
        if kept is not None:
            created.append("password")
            if not module.check_mode:
                os.unlink(p["password_file"])
        module.exit_json(changed=bool(created), created=created)

    # A role or database that is not the app's is refused before anything is written.
    found = (postgresql_found(module, app) if engine == "postgresql"
             else mariadb_found(module, app) if engine == "mariadb" else None)
    password = p["password"] or kept or secrets.token_urlsafe(32)
    new_password = password != kept
    if new_password:
        created.append("password_file")
        if not module.check_mode:
            write_secret(p["password_file"], password + "\n")
    if engine == "postgresql":
        sql, done = postgresql_sql(app, found, password, new_password)
        created += done
        if sql and not module.check_mode:
            psql(module, sql + "\n")
    elif engine == "mariadb":
        sql, done = mariadb.account_sql(app, found, password, new_password)
        created += done
        if sql and not module.check_mode:
            mariadb_sql(module, sql + "\n")
    else:
        text = read_text(p["acl_file"]) or ""
        merged = redis_acl_merge(text, app, redis_acl_line(app, password, p["scripting"]))
        if merged != text:
            created.append("acl")
            if not module.check_mode:
                write_secret(p["acl_file"], merged, group=_gid("redis"), mode=0o640)
    module.exit_json(changed=bool(created), created=created)


def _gid(name: str) -> int:
    import grp
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return 0


if __name__ == "__main__":
    main()
