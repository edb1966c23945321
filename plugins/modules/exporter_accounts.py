#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exporters' own accounts in the host's PostgreSQL, MariaDB and Redis, with the least privilege."""
from __future__ import annotations

DOCUMENTATION = r"""
module: exporter_accounts
short_description: The Prometheus exporters' least-privilege accounts in the host's PostgreSQL, MariaDB and Redis
description:
  - B(PostgreSQL) (C(psql) as C(postgres) over the socket) gets a login role named O(user), without a
    password, member of C(pg_monitor) and of nothing else, with the comment C(pyweb.deploy exporter).
    The exporter (running as the unix user O(user)) logs in over the socket by C(peer) authentication to
    the database C(postgres) (the line the pyweb.deploy.postgresql role writes in C(pg_hba.conf));
    C(pg_monitor) reads the statistics views and settings, not the apps' tables, but it does read the
    text of every session's current query in C(pg_stat_activity) (the values an app's SQL carries).
  - B(MariaDB) (the client as root over the socket) gets C(<user>@localhost) identified only by
    C(unix_socket) (no password exists), with C(SLAVE MONITOR) (C(SHOW SLAVE STATUS)) only. No
    C(PROCESS) (it shows every session's SQL in C(SHOW FULL PROCESSLIST), C(INNODB_TRX) and C(SHOW ENGINE
    INNODB STATUS)), so the exporter runs without the collectors that need it (InnoDB's compression
    tables); an account this module made earlier with C(PROCESS) loses it. C(SHOW GLOBAL STATUS) and
    C(VARIABLES) need nothing. No C(SELECT) on any database.
  - B(Redis) gets the ACL user O(redis_user), allowed C(PING), C(INFO), C(LATENCY LATEST),
    C(LATENCY HISTOGRAM) and C(SLOWLOG LEN) only (no key, no channel, no C(CONFIG), no C(SLOWLOG GET)
    whose entries hold other apps' arguments, no C(CLIENT LIST)), and the running Redis loads it
    through the admin user (C(ACL LOAD), module pyweb.deploy.redis_admin's), without a restart. Its
    password is generated once (URL-safe, 256 bits) into O(redis_password_file), the JSON map
    redis_exporter's C(--redis.password-file) reads, readable by root and O(group) only; the ACL file
    holds its SHA-256 only; it is never on a command line nor returned.
  - An account of that name that is not the exporter's is refused before anything is written; a
    privileged PostgreSQL role, an app's (its comment C(pyweb.deploy app ...)), one member of another
    role, and one without the comment C(pyweb.deploy exporter) that has a password, members (roles that
    would inherit C(pg_monitor)) or any object, privilege or default privilege in any database; a
    MariaDB user at another host, with a password (or another way in than C(unix_socket)) or with
    other privileges than C(SLAVE MONITOR) and C(PROCESS).
  - What is taken over, so, is only an account nobody else can use as it is, as Debian's README.Debian
    makes it; a PostgreSQL login role without password, members or objects (it gets the comment and
    C(pg_monitor), and keeps its settings such as C(search_path)); a MariaDB C(<user>@localhost) without
    password, with at most C(PROCESS) and C(SLAVE MONITOR) (it becomes C(unix_socket) only and loses
    C(PROCESS)).
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  services:
    description: The servers of this host whose exporter gets an account.
    type: list
    elements: str
    choices: [postgresql, mariadb, redis]
    required: true
  user:
    description: The exporters' unix user; the PostgreSQL role and the MariaDB user take its name.
    type: str
    default: prometheus
  group:
    description: The group that may read O(redis_password_file) (the exporters').
    type: str
    default: prometheus
  redis_user:
    description: The exporter's Redis ACL user (with a hyphen, which no app name has).
    type: str
    default: pyweb-monitor
  redis_password_file:
    description: The exporter's Redis password, as redis_exporter's password map (JSON).
    type: path
    default: /etc/prometheus/redis-exporter-password.json
  redis_acl_file:
    description: Redis's ACL file (C(aclfile) in redis.conf; the pyweb.deploy.redis role's).
    type: path
    default: /etc/redis/users.acl
  redis_admin_password_file:
    description: The password of Redis's admin user (module pyweb.deploy.redis_admin).
    type: path
    default: /etc/redis/pyweb-admin.password
  redis_host:
    description: Where Redis listens (loopback).
    type: str
    default: 127.0.0.1
  redis_port:
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
- name: The exporters' accounts in the servers of this host
  pyweb.deploy.exporter_accounts:
    services: [postgresql, mariadb, redis]
"""

RETURN = r"""
created:
  description: What was created or fixed (C(postgresql), C(mariadb), C(redis acl), C(redis password), C(redis load)).
  returned: always
  type: list
  elements: str
  sample: [postgresql, redis acl]
"""

import hashlib
import json
import re
import secrets
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.deploy.plugins.module_utils import filestate, mariadb, postgresql, redisacl

MARKER = "pyweb.deploy exporter"
MARIADB_PRIVILEGES = ("SLAVE MONITOR",)
# What an account of this module had before (revoked: PROCESS shows every session's SQL).
MARIADB_REVOKED = ("PROCESS",)
# Each privilege as information_schema names it (MariaDB calls SLAVE MONITOR REPLICA MONITOR too).
_MARIADB_SAME = {"REPLICA MONITOR": "SLAVE MONITOR"}
REDIS_COMMANDS = ("+ping", "+info", "+latency|latest", "+latency|histogram", "+slowlog|len")


# ---- PostgreSQL

def pg_found_sql(user: str) -> str:
    """One JSON line: the role (null when missing), its comment, privileges, password, memberships,
    members and objects."""
    return (
        "SELECT json_build_object('role', (SELECT json_build_object("
        "'comment', shobj_description(r.oid, 'pg_authid'), "
        "'privileged', r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls, "
        "'login', r.rolcanlogin, 'password', r.rolpassword IS NOT NULL, "
        "'members', (SELECT count(*) FROM pg_auth_members m WHERE m.roleid = r.oid), "
        # pg_shdepend is shared: the objects the role owns, and its privileges, policies and default
        # privileges, in every database.
        "'objects', (SELECT count(*) FROM pg_shdepend d WHERE d.refclassid = 'pg_authid'::regclass "
        "AND d.refobjid = r.oid), "
        "'member_of', COALESCE((SELECT json_agg(g.rolname ORDER BY g.rolname) FROM pg_auth_members m "
        "JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '[]'::json)) "
        f"FROM pg_authid r WHERE r.rolname = {postgresql.quote_literal(user)}));\n")


def pg_refusal(user: str, role: dict | None) -> str | None:
    if role is None:
        return None
    if role.get("privileged"):
        return (f"the PostgreSQL role {user!r} has privileges (superuser, createrole, createdb, replication "
                "or bypassrls); the exporter's role is never one of those")
    if str(role.get("comment") or "").startswith("pyweb.deploy app "):
        return f"the PostgreSQL role {user!r} is an app's ({role['comment']}); the exporter cannot share it"
    others = sorted(set(role.get("member_of") or []) - {"pg_monitor"})
    if others:
        return (f"the PostgreSQL role {user!r} is a member of {', '.join(others)}; the exporter's role is a "
                "member of pg_monitor only")
    if role.get("comment") != MARKER:
        found = [what for what, there in (("a password", role.get("password")), ("members", role.get("members")),
                                          ("objects or privileges", role.get("objects"))) if there]
        if found:
            return (f"the PostgreSQL role {user!r} has {', '.join(found)} and is not the exporter's (no comment "
                    f"{MARKER!r}); it is someone else's, so it is not taken over")
    return None


def pg_sql(user: str, role: dict | None) -> str:
    """The SQL that makes the role as wanted ('' when it is)."""
    name, statements = postgresql.quote_ident(user), []
    if role is None:
        statements.append(f"CREATE ROLE {name} LOGIN;")
    else:
        if not role.get("login"):
            statements.append(f"ALTER ROLE {name} LOGIN;")
        if role.get("password"):
            statements.append(f"ALTER ROLE {name} PASSWORD NULL;")
    if role is None or role.get("comment") != MARKER:
        statements.append(f"COMMENT ON ROLE {name} IS {postgresql.quote_literal(MARKER)};")
    if role is None or "pg_monitor" not in (role.get("member_of") or []):
        statements.append(f"GRANT pg_monitor TO {name};")
    return "\n".join(statements)


# ---- MariaDB

def my_account(user: str) -> str:
    return f"{mariadb.quote_string(user)}@'localhost'"


def my_found_sql(user: str) -> str:
    """Rows (key, hex values): the user's hosts and plugins, global and other privileges."""
    name, grantee = mariadb.quote_string(user), mariadb.quote_string(f"'{user}'@'localhost'")
    return "\n".join([
        "SELECT 'host', HEX(Host), HEX(IFNULL(JSON_VALUE(Priv, '$.plugin'), '')), "
        "HEX(IF(JSON_EXISTS(Priv, '$.auth_or'), 'or', '')), "
        "HEX(IF(IFNULL(JSON_VALUE(Priv, '$.authentication_string'), '') <> '', 'password', '')) "
        f"FROM mysql.global_priv WHERE User = {name};",
        f"SELECT 'global', HEX(PRIVILEGE_TYPE) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = {grantee};",
        f"SELECT 'other', HEX(TABLE_SCHEMA) FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = {grantee};",
        f"SELECT 'other', HEX(TABLE_NAME) FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = {grantee};",
        f"SELECT 'other', HEX('routine') FROM mysql.procs_priv WHERE User = {name} LIMIT 1;",
        f"SELECT 'other', HEX('role') FROM mysql.roles_mapping WHERE User = {name} LIMIT 1;",
        "",
    ])


def my_parse(text: str) -> dict:
    found = {"hosts": {}, "global": [], "other": []}
    for key, values in mariadb._rows(text):  # pylint: disable=protected-access
        if key == "host":
            found["hosts"][values[0]] = {"plugin": values[1] if len(values) > 1 else "",
                                         "or": len(values) > 2 and values[2] == "or",
                                         "password": len(values) > 3 and values[3] == "password"}
        elif key == "global":
            found["global"].append(_MARIADB_SAME.get(values[0], values[0]))
        elif key == "other":
            found["other"].append(values[0])
    return found


def my_refusal(user: str, found: dict) -> str | None:
    hosts = sorted(found.get("hosts") or {})
    if not hosts:
        return None
    if hosts != ["localhost"]:
        return (f"the MariaDB user {user!r} exists at {', '.join(hosts)}; the exporter's is {user}@localhost "
                "alone, so this one is someone else's")
    host = found["hosts"]["localhost"]
    if host.get("password") or host.get("or"):
        return (f"the MariaDB user {user!r} has a password (or another way in than unix_socket); the exporter's "
                "has none, so this one is someone else's (an app's or an admin's)")
    extra = sorted(set(found.get("global") or []) - set(MARIADB_PRIVILEGES) - set(MARIADB_REVOKED) - {"USAGE"})
    if extra or found.get("other"):
        shown = ", ".join(extra + sorted(set(found.get("other") or [])))
        return (f"the MariaDB user {user!r} has privileges beyond the exporter's ({shown}); "
                "it is someone else's (an app's or an admin's)")
    return None


def my_sql(user: str, found: dict) -> str:
    account, statements = my_account(user), []
    host = (found.get("hosts") or {}).get("localhost")
    if host is None:
        statements.append(f"CREATE USER {account} IDENTIFIED VIA unix_socket;")
    elif host.get("plugin") != "unix_socket" or host.get("or"):
        statements.append(f"ALTER USER {account} IDENTIFIED VIA unix_socket;")
    if host is None or set(MARIADB_PRIVILEGES) - set(found.get("global") or []):
        statements.append(f"GRANT {', '.join(MARIADB_PRIVILEGES)} ON *.* TO {account};")
    revoked = [name for name in MARIADB_REVOKED if name in (found.get("global") or [])]
    if revoked:
        statements.append(f"REVOKE {', '.join(revoked)} ON *.* FROM {account};")
    return "\n".join(statements)


# ---- Redis

def redis_line(user: str, password: str) -> str:
    digest = hashlib.sha256(password.encode()).hexdigest()
    return f"user {user} on #{digest} resetkeys resetchannels -@all " + " ".join(REDIS_COMMANDS)


def redis_password_map(host: str, port: int, user: str, password: str) -> dict:
    """redis_exporter's password map: 1.45 looks the address up as given, 1.5x+ with the user in it."""
    address = f"{host}:{port}"
    return {f"redis://{address}": password, f"redis://{user}@{address}": password}


def redis_kept_password(text: str | None, host: str, port: int, user: str) -> str | None:
    """The password of a password map this module wrote, or None (missing, not JSON, not whole)."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    password = data.get(f"redis://{host}:{port}")
    if not isinstance(password, str) or not password or data != redis_password_map(host, port, user, password):
        return None
    return password


def redis_auth_ok(host: str, port: int, user: str, password: str) -> bool:
    """Whether the running Redis takes the user's password (it knows the line)."""
    try:
        with socket.create_connection((host, port), timeout=10) as conn:
            conn.sendall(redisacl.command("AUTH", user, password))
            return conn.makefile("rb").readline().startswith(b"+OK")
    except OSError:
        return False


def _run(module, runner, sql: str) -> str:
    """The server's client (run_psql, mariadb.run_sql) on sql; its error fails the task."""
    try:
        return runner(sql)
    except (RuntimeError, OSError) as exc:
        module.fail_json(msg=f"exporter_accounts: {exc}")


def _refuse(module, refusal: str | None) -> None:
    if refusal:
        module.fail_json(msg=f"exporter_accounts: {refusal}")


def _read(path: str) -> str | None:
    data = filestate.read_file(path)
    return None if data is None else data.decode()


def _gid(name: str, module) -> int:
    import grp
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        module.fail_json(msg=f"exporter_accounts: no group {name!r} on this host (the exporters' packages make it)")


def main():
    module = AnsibleModule(
        argument_spec={
            "services": {"type": "list", "elements": "str", "required": True,
                         "choices": ["postgresql", "mariadb", "redis"]},
            "user": {"type": "str", "default": "prometheus"},
            "group": {"type": "str", "default": "prometheus"},
            "redis_user": {"type": "str", "default": "pyweb-monitor"},
            "redis_password_file": {"type": "path", "default": "/etc/prometheus/redis-exporter-password.json",
                                    "no_log": False},
            "redis_acl_file": {"type": "path", "default": "/etc/redis/users.acl"},
            "redis_admin_password_file": {"type": "path", "default": "/etc/redis/pyweb-admin.password",
                                          "no_log": False},
            "redis_host": {"type": "str", "default": "127.0.0.1"},
            "redis_port": {"type": "int", "default": 6379},
        },
        supports_check_mode=True,
    )
    p = module.params
    for key in ("user", "redis_user"):
        if not re.fullmatch(r"[a-z_][a-z0-9_-]*", p[key]):
            module.fail_json(msg=f"exporter_accounts: {key} {p[key]!r} must match [a-z_][a-z0-9_-]*")
    user, created = p["user"], []

    # Every refusal before anything is written.
    role = found = None
    if "postgresql" in p["services"]:
        role = json.loads(_run(module, postgresql.run_psql, pg_found_sql(user)).strip()).get("role")
        _refuse(module, pg_refusal(user, role))
    if "mariadb" in p["services"]:
        found = my_parse(_run(module, mariadb.run_sql, my_found_sql(user)))
        _refuse(module, my_refusal(user, found))
    acl_text = admin_password = None
    if "redis" in p["services"]:
        acl_text = _read(p["redis_acl_file"])
        admin_password = (_read(p["redis_admin_password_file"]) or "").strip()
        if acl_text is None or not admin_password:
            module.fail_json(msg=(f"exporter_accounts: Redis here has no ACL file {p['redis_acl_file']} or no admin "
                                  f"password {p['redis_admin_password_file']}: set it up with the pyweb.deploy.redis role"))

    for engine, runner, sql in (("postgresql", postgresql.run_psql, pg_sql(user, role) if "postgresql" in p["services"] else ""),
                                ("mariadb", mariadb.run_sql, my_sql(user, found) if found is not None else "")):
        if sql:
            created.append(engine)
            if not module.check_mode:
                _run(module, runner, sql + "\n")
    if acl_text is not None:
        host, port, ruser = p["redis_host"], p["redis_port"], p["redis_user"]
        password = redis_kept_password(_read(p["redis_password_file"]), host, port, ruser)
        if password is None:
            password = secrets.token_urlsafe(32)
            created.append("redis password")
            if not module.check_mode:
                content = json.dumps(redis_password_map(host, port, ruser, password), indent=2) + "\n"
                filestate.write_file(p["redis_password_file"], content.encode(), 0o640, 0, _gid(p["group"], module))
        merged = redisacl.set_user_line(acl_text, ruser, redis_line(ruser, password))
        if merged != acl_text:
            created.append("redis acl")
            if not module.check_mode:
                filestate.write_file(p["redis_acl_file"], merged.encode(), 0o640, 0, _gid("redis", module))
        # The running Redis loads the file when it does not take the password yet (a new line, or
        # a Redis started before it), through the admin: no restart.
        if not redis_auth_ok(host, port, ruser, password):
            created.append("redis load")
            if not module.check_mode:
                try:
                    error = redisacl.ask(host, port, admin_password)
                except OSError as exc:
                    error = f"cannot reach Redis at {host}:{port}: {exc}"
                if error is not None:
                    module.fail_json(msg=f"exporter_accounts: Redis did not load its ACL file: {error}", created=created)
    module.exit_json(changed=bool(created), created=created)


if __name__ == "__main__":
    main()
