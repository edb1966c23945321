# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MariaDB for pyweb.deploy's modules: the client run as root over the socket (SQL on stdin),
what an app's account looks like, and what the hardening removes.

The modules service_account (an app's database and account) and mariadb_secure (anonymous users,
remote root, the test database) share it. The SQL is built and the answers read by plain
functions (unit-tested); ``run_sql`` is the one place that runs the client.

Root's client runs with ``--no-defaults`` (no ``~/.my.cnf`` or ``[client]`` section of the host
decides where it connects or as whom) over the unix socket, where root@localhost logs in by
``unix_socket`` authentication (Debian's default: no password exists for it).
"""
from __future__ import annotations

import hashlib
import subprocess

SOCKET = "/run/mysqld/mysqld.sock"
TOOL_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/", "LC_ALL": "C.UTF-8"}
# The two accounts Debian makes for the server's administration (unix_socket, no usable password).
ADMIN_USERS = ("root", "mysql")
ADMIN_AUTH_OK = (
    "IDENTIFIED VIA unix_socket",
    "IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket",
)


def marker(app: str) -> str:
    """The comment on an app's database this collection made: only those are ever changed."""
    return f"pyweb.deploy app {app}"


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_string(text: str) -> str:
    """A string literal under the default sql_mode (backslash escapes on)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0") + "'"


def grant_database(name: str) -> str:
    """The database as GRANT reads it: ``_`` and ``%`` are wildcards there, so they are escaped
    (a grant on ``my_app`` would otherwise open ``myxapp`` too)."""
    return name.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def account(app: str) -> str:
    return f"{quote_string(app)}@'localhost'"


def client_argv(user: str = "root") -> list[str]:
    return ["mariadb", "--no-defaults", "--protocol=socket", f"--socket={SOCKET}", f"--user={user}",
            "--batch", "--skip-column-names", "--raw"]


def run_sql(sql: str, run=subprocess.run) -> str:
    """Run SQL as root over the socket, the SQL (and any password in it) on standard input."""
    proc = run(client_argv(), input=sql, capture_output=True, text=True, check=False, cwd="/", env=TOOL_ENV)
    if proc.returncode != 0:
        raise RuntimeError(f"mariadb as root failed: {proc.stderr.strip()}")
    return proc.stdout


def _rows(text: str) -> list[tuple[str, list[str]]]:
    rows = []
    for line in text.splitlines():
        key, _sep, rest = line.partition("\t")
        rows.append((key, [bytes.fromhex(v).decode(errors="replace") if v not in ("", "NULL") else ""
                           for v in rest.split("\t")] if rest else []))
    return rows


def found_sql(app: str) -> str:
    """Rows (key, hex values) about the account and the database named after the app."""
    name, grantee = quote_string(app), quote_string(f"'{app}'@'localhost'")
    return "\n".join([
        f"SELECT 'host', HEX(Host) FROM mysql.user WHERE User = {name};",
        f"SELECT 'global', HEX(PRIVILEGE_TYPE) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = {grantee};",
        "SELECT 'schema', HEX(TABLE_SCHEMA) FROM information_schema.SCHEMA_PRIVILEGES "
        f"WHERE GRANTEE = {grantee} GROUP BY TABLE_SCHEMA;",
        f"SELECT 'other', HEX('table') FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = {grantee} LIMIT 1;",
        f"SELECT 'other', HEX('column') FROM information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = {grantee} LIMIT 1;",
        f"SELECT 'other', HEX('routine') FROM mysql.procs_priv WHERE User = {name} LIMIT 1;",
        f"SELECT 'other', HEX('proxy') FROM mysql.proxies_priv WHERE User = {name} LIMIT 1;",
        f"SELECT 'other', HEX('role') FROM mysql.roles_mapping WHERE User = {name} LIMIT 1;",
        f"SELECT 'database', HEX(SCHEMA_COMMENT) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {name};",
        "",
    ])


def parse_found(text: str) -> dict:
    found = {"hosts": [], "global": [], "schemas": [], "other": [], "database": None}
    for key, values in _rows(text):
        value = values[0] if values else ""
        if key == "host":
            found["hosts"].append(value)
        elif key == "global":
            found["global"].append(value)
        elif key == "schema":
            found["schemas"].append(value)
        elif key == "other":
            found["other"].append(value)
        elif key == "database":
            found["database"] = {"comment": value}
    return found


def refusal(app: str, found: dict) -> str | None:
    """Why the account or the database named after the app must not be touched, or None.

    The database is the app's only if this collection made it (its comment). The account only if
    it is ``<app>@localhost`` alone, with no privilege but on that database, and that database is
    the collection's: an admin's user (``root``, ``mysql``, a user at another host, one with
    global or other grants) is never given a new password, a grant, nor dropped."""
    database, hosts = found.get("database"), found.get("hosts") or []
    if hosts:
        if hosts != ["localhost"]:
            return (f"the MariaDB user {app!r} exists at {', '.join(sorted(hosts))}; an app's user is "
                    f"{app}@localhost alone, so this one was not made by pyweb.deploy")
        extra = sorted(set(found.get("global") or []) - {"USAGE"})
        if extra:
            shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
            return (f"the MariaDB user {app!r} exists with global privileges ({shown}); "
                    "an app's user is never one of those")
        schemas = sorted(set(found.get("schemas") or []) - {grant_database(app), app})
        if schemas or found.get("other"):
            return (f"the MariaDB user {app!r} exists with grants beyond its own database "
                    f"({', '.join(schemas + sorted(set(found.get('other') or [])))}); it was not made by pyweb.deploy")
        if database is None or database.get("comment") != marker(app):
            return (f"the MariaDB user {app!r} exists and was not made by pyweb.deploy (no database "
                    f"{app!r} with the comment {marker(app)!r}); rename the app or drop that user")
    if database is not None and database.get("comment") != marker(app):
        return (f"the MariaDB database {app!r} exists and was not made by pyweb.deploy (its comment "
                f"is not {marker(app)!r}); rename the app or drop that database")
    return None


def native_hash(password: str) -> str:
    """mysql_native_password's stored form: ``*`` and the upper-case hex of SHA1(SHA1(password)).
    Computed here so that the password itself is never in the SQL text (a general or slow query
    log, the process list) and needs no quoting."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def identified(password: str) -> str:
    """The app's password over TCP or the socket, or the socket alone as the app's unix user
    (its dumps run so, with no password on a command line). The hash only, never the password."""
    return f"IDENTIFIED VIA mysql_native_password USING '{native_hash(password)}' OR unix_socket"


def account_sql(app: str, found: dict, password: str, set_password: bool) -> tuple[str, list]:
    """The SQL that makes the app's database and account as wanted, and what it creates.

    The database first: an account is only the collection's beside its marked database."""
    statements, created = [], []
    user = account(app)
    if found.get("database") is None:
        statements.append(create_database_sql(app))
        created.append("database")
    if not found.get("hosts"):
        statements.append(f"CREATE USER {user} {identified(password)};")
        created.append("user")
    elif set_password:
        statements.append(f"ALTER USER {user} {identified(password)};")
        created.append("password")
    if not found.get("hosts") or grant_database(app) not in (found.get("schemas") or []):
        statements.append(f"GRANT ALL PRIVILEGES ON {quote_ident(grant_database(app))}.* TO {user};")
        if found.get("hosts"):
            created.append("grant")
    return "\n".join(statements), created


def create_database_sql(app: str) -> str:
    return (f"CREATE DATABASE {quote_ident(app)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci "
            f"COMMENT {quote_string(marker(app))};")


def recreate_sql(app: str) -> str:
    """The app's database dropped and made again, empty (before a restore); its grant is by name
    and stays."""
    return f"DROP DATABASE IF EXISTS {quote_ident(app)};\n{create_database_sql(app)}\n"


def drop_sql(app: str) -> str:
    return f"DROP DATABASE IF EXISTS {quote_ident(app)};\nDROP USER IF EXISTS {account(app)};\n"


# ---- the server's hardening (module mariadb_secure)

def hardening_found_sql() -> str:
    return "\n".join([
        # Anonymous users, and root (or Debian's mysql) at any host but localhost.
        "SELECT 'user', HEX(User), HEX(Host) FROM mysql.user "
        "WHERE User = '' OR (User IN ('root', 'mysql') AND Host <> 'localhost');",
        "SELECT 'admin', HEX(User) FROM mysql.user WHERE User IN ('root', 'mysql') AND Host = 'localhost';",
        "SELECT 'testdb', HEX(SCHEMA_NAME), HEX(CAST((SELECT COUNT(*) FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = 'test') AS CHAR)) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'test';",
        "SELECT 'testgrant', HEX(Db), HEX(User), HEX(Host) FROM mysql.db WHERE Db IN ('test', 'test\\\\_%');",
        "",
    ])


def parse_hardening(text: str) -> dict:
    found = {"users": [], "admins": [], "test_database": None, "test_grants": []}
    for key, values in _rows(text):
        if key == "user":
            found["users"].append(values[:2])
        elif key == "admin":
            found["admins"].append(values[0])
        elif key == "testdb":
            found["test_database"] = {"tables": int(values[1] or 0)}
        elif key == "testgrant":
            found["test_grants"].append(values[:3])
    return found


def admin_auth_sql(user: str) -> str:
    return f"SHOW CREATE USER {quote_string(user)}@'localhost';\n"


def admin_auth_ok(show_create: str) -> bool:
    """Whether root@localhost (or mysql@localhost) logs in by unix_socket only: Debian's
    ``mysql_native_password USING 'invalid' OR unix_socket`` (no password hashes to 'invalid')
    or unix_socket alone."""
    text = " ".join(show_create.split())
    return any(text.endswith(f"@`localhost` {ok}") for ok in ADMIN_AUTH_OK)


def hardening_sql(found: dict, admins_to_fix: list[str], drop_test: bool = True) -> tuple[str, list, list]:
    """The SQL that removes anonymous users, remote root, the test database (when empty) and its
    open grants, and sets root's login to unix_socket only; what it does; and warnings."""
    statements, done, warnings = [], [], []
    for user, host in found.get("users") or []:
        statements.append(f"DROP USER {quote_string(user)}@{quote_string(host)};")
        done.append(f"user {user or '(anonymous)'}@{host}")
    for user in admins_to_fix:
        statements.append(f"ALTER USER {quote_string(user)}@'localhost' IDENTIFIED VIA unix_socket;")
        done.append(f"{user}@localhost by unix_socket only")
    if drop_test:
        test = found.get("test_database")
        if test is not None:
            if test["tables"] == 0:
                statements.append("DROP DATABASE `test`;")
                done.append("database test")
            else:
                warnings.append(f"the database 'test' has {test['tables']} table(s): kept (drop it yourself)")
        if found.get("test_grants"):
            statements.append("DELETE FROM mysql.db WHERE Db IN ('test', 'test\\\\_%');")
            statements.append("FLUSH PRIVILEGES;")
            done.append("grants on test and test_%")
    return "\n".join(statements), done, warnings
