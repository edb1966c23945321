# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dumps of an app's database, their restore and their pruning.

Plain Python with no Ansible import: the module pyweb.deploy.app_backup uses it, and the same
file is installed as /usr/local/lib/pyweb/pyweb-db-backup, which each app's backup timer runs:

    python3 /usr/local/lib/pyweb/pyweb-db-backup --app blog --dir /var/backups/pyweb/blog \
        --keep 14 --max-age-days 30

Root runs the server's own tools, never anything of the app's, and not as the database
superuser: ``pg_dump`` and ``pg_restore`` run as the app's own unix user (``runuser -u <app> --``;
peer authentication makes it the app's role), so a schema the app shaped (functions, operators,
casts run while dumping or restoring) gets no more rights than the app has. Root opens the dump
file (root-only) and hands it over as standard output or input; the app's user never opens it.

MariaDB (``--engine mariadb``) is dumped the same way: ``mariadb-dump --single-transaction`` as the
app's unix user, which logs in as the app's own account over the socket (``unix_socket``
authentication; no password on a command line), into ``<app>-<time>-<reason>.sql``; restored
with the ``mariadb`` client as the app's user, in its sandbox mode (no shell or file commands
from the dump).
"""
from __future__ import annotations

import argparse
import calendar
import os
import pwd
import re
import subprocess
import sys
import time

SUFFIX = {"postgresql": ".pgdump", "mariadb": ".sql"}
ENGINES = tuple(SUFFIX)
NAME_RE = re.compile(r"(?P<app>[a-z][a-z0-9_]*)-(?P<stamp>[0-9]{8}T[0-9]{6}Z)-(?P<reason>[a-z0-9_-]+)"
                     r"\.(?P<ext>pgdump|sql)")
MARIADB_SOCKET = "/run/mysqld/mysqld.sock"


def dump_name(app: str, reason: str, now: float, engine: str = "postgresql") -> str:
    return f"{app}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))}-{reason}{SUFFIX[engine]}"


def dump_engine(path: str) -> str:
    """The server a dump is of, from its name."""
    found = NAME_RE.fullmatch(os.path.basename(path))
    if not found:
        raise RuntimeError(f"dbbackup: {os.path.basename(path)!r} is not the name of a dump")
    return "postgresql" if found.group("ext") == "pgdump" else "mariadb"


def engines_of(app: str, base: str) -> list[str]:
    """The servers of this host that hold a database of the app: those whose password file the
    collection keeps in <base>/.pyweb/ (service_account writes it when it makes the account)."""
    return [engine for engine in ENGINES
            if os.path.isfile(os.path.join(base, ".pyweb", f"{engine}_password"))]


# The tools' environment: nothing of root's (PG* variables, HOME with a .pgpass) reaches them.
TOOL_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/", "LC_ALL": "C.UTF-8"}
# Accounts a dump must never run as: the superuser's own, and root.
REFUSED_USERS = ("root", "postgres", "mysql")


def app_user(app: str, getpwnam=pwd.getpwnam) -> str:
    """The app's unix user, which runs its dump and restore; refused if missing or privileged."""
    if not NAME_RE.fullmatch(f"{app}-20000101T000000Z-x.pgdump") or app in REFUSED_USERS:
        raise RuntimeError(f"dbbackup: {app!r} is not an app (its dumps run as its own unix user)")
    try:
        entry = getpwnam(app)
    except KeyError:
        raise RuntimeError(f"dbbackup: no unix user {app!r}: its dumps run as the app's own user") from None
    if entry.pw_uid == 0:
        raise RuntimeError(f"dbbackup: the unix user {app!r} is root")
    return app


def _mariadb_client(app: str) -> list[str]:
    # No option file of the host's decides where it connects; the socket logs the unix user in
    # as the account of the same name (unix_socket), so no password is needed or shown.
    return ["--no-defaults", "--protocol=socket", f"--socket={MARIADB_SOCKET}", f"--user={app}"]


def dump_command(app: str, engine: str = "postgresql") -> list[str]:
    if engine == "mariadb":
        return ["runuser", "-u", app, "--", "mariadb-dump", *_mariadb_client(app), "--single-transaction",
                "--no-tablespaces", "--hex-blob", "--triggers", app]
    return ["runuser", "-u", app, "--", "pg_dump", "-Fc", "--no-owner", "-d", app]


def restore_command(app: str, engine: str = "postgresql") -> list[str]:
    if engine == "mariadb":
        # Sandbox mode: the client refuses the dump's shell and file commands (system, source...).
        return ["runuser", "-u", app, "--", "mariadb", *_mariadb_client(app), "--batch", "--sandbox",
                "--binary-mode", app]
    # One transaction: a restore that fails leaves the database as it was.
    return ["runuser", "-u", app, "--", "pg_restore", "--clean", "--if-exists", "--no-owner",
            "--single-transaction", "--exit-on-error", "-d", app]


def ensure_dir(path: str) -> None:
    """The backup folder, root 0700 (made if missing; a link there is refused)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, 0, 0)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def dump(app: str, folder: str, reason: str, now: float | None = None, run=subprocess.run,
         getpwnam=pwd.getpwnam, engine: str = "postgresql") -> str:
    """Dump the app's database into folder; returns the file's path. A failed dump leaves no file."""
    app_user(app, getpwnam)
    ensure_dir(folder)
    path = os.path.join(folder, dump_name(app, reason, time.time() if now is None else now, engine))
    tmp = path + ".part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            proc = run(dump_command(app, engine), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE,
                       check=False, cwd="/", env=TOOL_ENV)
            out.flush()
            os.fsync(out.fileno())
        if proc.returncode != 0:
            tool = "mariadb-dump" if engine == "mariadb" else "pg_dump"
            raise RuntimeError(f"{tool} of {app} failed: {proc.stderr.decode(errors='replace').strip()}")
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    return path


def dumps(app: str, folder: str, engine: str | None = None) -> list[str]:
    """The app's dumps in folder (of one engine's, if given), oldest first (by the time in their names)."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    found = [(m.group("stamp"), name) for name in names
             if (m := NAME_RE.fullmatch(name)) and m.group("app") == app
             and (engine is None or name.endswith(SUFFIX[engine]))]
    return [os.path.join(folder, name) for stamp, name in sorted(found)]


def dump_time(path: str) -> float:
    """The UTC time in a dump's name, as seconds since the epoch."""
    found = NAME_RE.fullmatch(os.path.basename(path))
    return float(calendar.timegm(time.strptime(found.group("stamp"), "%Y%m%dT%H%M%SZ")))


def to_prune(paths: list[str], keep: int, max_age_days: int, now: float, stamp=None) -> list[str]:
    """Which dumps go: all but the newest ``keep``, and any older than ``max_age_days`` except
    the newest one (the last good dump is never pruned by age alone)."""
    stamp = stamp or dump_time
    paths = sorted(paths, key=stamp)
    keep = max(int(keep), 1)
    gone = paths[:-keep]
    if max_age_days and int(max_age_days) > 0:
        limit = now - int(max_age_days) * 86400
        gone += [p for p in paths[-keep:-1] if stamp(p) < limit]
    return gone


def prune(app: str, folder: str, keep: int, max_age_days: int, now: float | None = None,
          engine: str | None = None) -> list[str]:
    gone = to_prune(dumps(app, folder, engine), keep, max_age_days, time.time() if now is None else now)
    for path in gone:
        os.unlink(path)
    return gone


def restore(app: str, path: str, run=subprocess.run, getpwnam=pwd.getpwnam) -> None:
    """Restore a dump into the app's database, as the app's own user, from root's file on stdin."""
    app_user(app, getpwnam)
    engine = dump_engine(path)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as src:
        proc = run(restore_command(app, engine), stdin=src, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   check=False, cwd="/", env=TOOL_ENV)
    if proc.returncode != 0:
        tool = "mariadb" if engine == "mariadb" else "pg_restore"
        raise RuntimeError(f"{tool} into {app} failed: {proc.stderr.decode(errors='replace').strip()}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Dump an app's database and prune old dumps.")
    parser.add_argument("--app", required=True)
    parser.add_argument("--engine", choices=ENGINES, default="postgresql")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--keep", type=int, default=14)
    parser.add_argument("--max-age-days", type=int, default=30)
    parser.add_argument("--reason", default="timer")
    args = parser.parse_args(argv)
    os.umask(0o077)
    path = dump(args.app, args.dir, args.reason, engine=args.engine)
    sys.stdout.write(f"{args.app}: dumped to {path}\n")
    for gone in prune(args.app, args.dir, args.keep, args.max_age_days, engine=args.engine):
        sys.stdout.write(f"{args.app}: pruned {gone}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
