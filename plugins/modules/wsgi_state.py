#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the state of one app's WSGI server and decide what it must be told."""
from __future__ import annotations

DOCUMENTATION = r"""
module: wsgi_state
short_description: Read the state of an app's WSGI server and decide whether to start, reload or restart it
description:
  - The reading half of pyweb.deploy.wsgi, in one call per step. It only reads (check mode is the
    same run); the role writes files with pyweb.deploy.config_files and tells systemd what this
    module decided.
  - O(read=install) reads the server's version from the virtualenv's C(METADATA) files (the
    virtualenv's python is never run), the import checker's content, mode and owner, and the files
    Debian's uWSGI packages install; it fails, naming the virtualenv, when the server wanted is not
    in it, and returns RV(install_needed) when the checker or the packages must be installed.
  - O(read=preflight) does the same, and first checks that the app's user and group, the socket's
    group and the virtualenv's C(bin/python) (root-owned, as in a frozen virtualenv) exist, failing
    with the list of what is missing; it returns the host's processors and memory and the worker
    count, and which optional server options the server's binary knows (read from the binary's
    bytes, not by running it).
  - O(read=service) fingerprints what the running server depends on (the socket and service
    units, the environment as systemd parses it, the server's configuration, the code's files and
    the virtualenv's packages), compares it with the JSON state file the role writes after each
    successful start or reload (O(state_file)), adds the kinds of files written in this run
    (O(written_tags)), reads the units' states, and returns the decision RV(action) with its
    reasons. A changed environment file whose variables are the same (a comment) changes nothing.
  - Links are not followed below the code's folder; the environment file's values are never
    returned.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  app:
    description: The app's name (its user, group and units C(<app>.socket), C(<app>.service)).
    type: str
    required: true
  read:
    description: What to read (see the description).
    type: str
    choices: [install, preflight, service]
    default: preflight
  server:
    description: The WSGI server.
    type: str
    choices: [gunicorn, uwsgi]
    default: gunicorn
  venv:
    description: The app's virtualenv.
    type: path
    required: true
  socket_group:
    description: The group that connects to the socket (O(read=preflight)).
    type: str
    default: www-data
  server_in_venv:
    description: Whether the server must be a distribution in the virtualenv (Gunicorn, a uWSGI pip built).
    type: bool
    default: true
  server_version:
    description: The version wanted; empty accepts any.
    type: str
    default: ""
  build_packages:
    description: Debian packages a pip-built server compiles with, named in the failure message.
    type: list
    elements: str
    default: []
  server_binary:
    description: The server's binary, whose bytes are searched for the optional options (empty for none).
    type: path
  optional_options:
    description: Options some versions of the server lack; RV(server_options) says which the binary has.
    type: list
    elements: str
    default: []
  required_files:
    description: Files a package install provides (Debian's uWSGI); a missing one sets RV(install_needed).
    type: list
    elements: path
    default: []
  checker:
    description: The import checker's path (root:root 0755 in a root:root 0755 folder).
    type: path
  checker_sha1:
    description: The SHA-1 of the checker as the role ships it.
    type: str
    default: ""
  workers:
    description: The worker count asked for; null computes it from the host (2 x processors + 1, at most memory / 256 MiB, at least 1).
    type: int
  chdir:
    description: The app's code folder (O(read=service)); a link (C(current)) is resolved, nothing below it is followed.
    type: path
  state_file:
    description: The JSON file the role writes with RV(state) after a successful start or reload.
    type: path
  files:
    description: The files the server runs with (O(read=service)), by kind.
    type: dict
    suboptions:
      socket:
        description: The socket unit.
        type: path
      service:
        description: The service unit.
        type: path
      env:
        description: The environment file (compared by the variables systemd reads from it).
        type: path
      config:
        description: The server's configuration.
        type: path
  written_tags:
    description: The tags of the files pyweb.deploy.config_files wrote in this run (or would, in check mode); each counts as changed.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Check the accounts and the virtualenv, and size the server
  pyweb.deploy.wsgi_state:
    app: blog
    read: preflight
    venv: /srv/apps/blog/venvs/v3
    socket_group: www-data
    checker: /usr/local/lib/pyweb/pyweb-wsgi-check
    checker_sha1: "{{ lookup('ansible.builtin.file', 'pyweb-wsgi-check', rstrip=false) | hash('sha1') }}"
  register: host

- name: Decide what the running server must be told
  pyweb.deploy.wsgi_state:
    app: blog
    read: service
    venv: /srv/apps/blog/venvs/v3
    chdir: /srv/apps/blog/releases/5f1c0e2a9b3d
    state_file: /var/lib/pyweb/wsgi/blog.state
    files:
      socket: /etc/systemd/system/blog.socket
      service: /etc/systemd/system/blog.service
      env: /etc/pyweb/blog.env
      config: /etc/pyweb/blog.gunicorn.conf.py
    written_tags: "{{ written.tags }}"
  register: decision
"""

RETURN = r"""
server_version:
  description: The server's version in the virtualenv (empty when it has none, or O(server_in_venv=false)).
  returned: always
  type: str
install_needed:
  description: Whether the import checker or the server's packages must be installed.
  returned: always
  type: bool
install_reasons:
  description: Why RV(install_needed) is true.
  returned: always
  type: list
  elements: str
server_options:
  description: The O(optional_options) the server's binary has.
  returned: always
  type: list
  elements: str
cpus:
  description: Processors this process may run on (O(read=preflight)).
  returned: when read is preflight
  type: int
memtotal_mb:
  description: The host's memory in MiB (O(read=preflight)).
  returned: when read is preflight
  type: int
workers:
  description: The worker count (O(workers), or computed).
  returned: when read is preflight
  type: int
action:
  description: >-
    C(nothing), C(start) (the service is not running), C(reload) (graceful, for code or Gunicorn
    configuration) or C(restart) (units, environment, uWSGI configuration, socket).
  returned: when read is service
  type: str
daemon_reload:
  description: Whether systemd must read the units again.
  returned: when read is service
  type: bool
restart_socket:
  description: Whether the service must be stopped and the socket restarted (a changed socket unit of a server that ran before).
  returned: when read is service
  type: bool
start_units:
  description: The units to start and enable (not active, not enabled, or stopped for the socket's restart).
  returned: when read is service
  type: list
  elements: str
reset_failed:
  description: The socket and server units to C(systemctl reset-failed) before they are started or restarted
    (a crash loop that hit its start limit leaves them failed; the deploys' own restarts count towards it).
  returned: when read is service
  type: list
  elements: str
check_import:
  description: Whether the app must be import-checked before the server is told anything (something it runs with changed).
  returned: when read is service
  type: bool
record_state:
  description: Whether the state file must be written (RV(state) differs from it, or its mode or owner is not root 0600 in a root 0700 folder).
  returned: when read is service
  type: bool
pending:
  description: Whether there is anything to do at all.
  returned: when read is service
  type: bool
reasons:
  description: What changed, in words.
  returned: when read is service
  type: list
  elements: str
state:
  description: The fingerprints to record once the server runs with them (hashes only).
  returned: when read is service
  type: dict
units:
  description: Each unit's C(ActiveState) and C(UnitFileState).
  returned: when read is service
  type: dict
"""

import grp
import hashlib
import json
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.deploy.plugins.module_utils import distinfo, envfile
from ansible_collections.pyweb.deploy.plugins.module_utils.unitstate import parse_units

STATE_FORMAT = 2
KINDS = ("server", "socket", "service", "env", "config", "code")
PRUNE = frozenset((".git", "__pycache__", "node_modules"))
WORDS = {
    "server": "the server changed",
    "socket": "the socket unit changed",
    "service": "the service unit changed",
    "env": "the environment changed",
    "config": "the server's configuration changed",
    "code": "the code or the virtualenv changed",
}
MAX_BINARY = 64 << 20


# --- the decision ---------------------------------------------------------------------------

def restart_kinds(server: str) -> set:
    """What the server reads only when it starts. A uWSGI chain reload replaces the workers but the
    master keeps the options it started with, so its ini needs a restart; Gunicorn re-reads its
    configuration on HUP."""
    return {"server", "service", "env"} | ({"config"} if server == "uwsgi" else set())


def reload_kinds(server: str) -> set:
    return {"code"} | ({"config"} if server == "gunicorn" else set())


def changed_kinds(old: dict | None, new: dict, tags=()) -> list:
    """The kinds whose fingerprint differs from the recorded state, plus those written now."""
    if not old or old.get("format") != STATE_FORMAT:
        found = set(KINDS)
    else:
        found = {k for k in KINDS if old.get(k) != new.get(k)}
    found |= {t for t in tags if t in KINDS}
    return [k for k in KINDS if k in found]


def decide(old: dict | None, new: dict, server: str, units: dict, app: str, tags=(),
           state_file_ok: bool = True) -> dict:
    """What the role must do, from the recorded state, the new one, the units' states and the
    tags of the files written in this run. Pure: the unit tests hold it to a table."""
    socket_unit, service_unit = f"{app}.socket", f"{app}.service"
    changed = changed_kinds(old, new, tags)
    ran_before = bool(old)
    service_active = units.get(service_unit, {}).get("active") == "active"
    reasons = [WORDS[k] for k in changed] if ran_before else ["no state recorded: first start"]
    restart_socket = "socket" in changed and ran_before
    if restart_socket:
        action = "restart"
    elif not service_active:
        action = "start"
        if ran_before:
            reasons.append(f"{service_unit} is not running")
    elif set(changed) & restart_kinds(server):
        action = "restart"
    elif set(changed) & reload_kinds(server):
        action = "reload"
    else:
        action = "nothing"
    start_units = [u for u in (socket_unit, service_unit)
                   if units.get(u, {}).get("active") != "active" or units.get(u, {}).get("enabled") != "enabled"]
    if restart_socket and service_unit not in start_units:
        start_units.append(service_unit)
    for unit in start_units:
        if units.get(unit, {}).get("enabled") != "enabled" and ran_before:
            reasons.append(f"{unit} is not enabled")
    record = not state_file_ok or (old or {}) != new
    result = {
        "action": action,
        "daemon_reload": bool({"socket", "service"} & set(changed)),
        "restart_socket": restart_socket,
        "start_units": start_units,
        # reset-failed before a start or restart: a crash loop's failed state would refuse it, and the
        # deploys' own restarts count towards the start limit, which the reset clears.
        # (Only loaded units: failed ones, and the running server; systemd refuses a unit not loaded.)
        "reset_failed": [u for u in (socket_unit, service_unit)
                         if units.get(u, {}).get("active") == "failed"
                         or (u == service_unit and action == "restart" and service_active)],
        "check_import": bool(set(changed) & (restart_kinds(server) | reload_kinds(server) | {"socket"})),
        "record_state": record,
        "changed_kinds": changed,
        "reasons": reasons if action != "nothing" or start_units else [],
    }
    result["pending"] = bool(action != "nothing" or start_units or record or result["daemon_reload"])
    return result


def default_workers(cpus: int, memtotal_mb: int) -> int:
    """2 x processors + 1, at most one per 256 MiB of memory, at least 1."""
    return max(1, min(2 * cpus + 1, memtotal_mb // 256))


# --- reading the host -------------------------------------------------------------------------

def sha256_file(path: str | None) -> str:
    """The SHA-256 of a regular file (no final link followed), or 'absent'."""
    return (distinfo.file_digest(path, "sha256") if path else None) or "absent"


def sha1_file(path: str) -> str:
    return distinfo.file_digest(path, "sha1") or ""


def env_fingerprint(path: str | None) -> str:
    """The variables systemd sets from the file (envfile.parse), hashed: a changed comment or
    quoting that means the same values is no change. 'absent' for no file."""
    text = distinfo.read_text(path) if path else None
    if text is None:
        return "absent"
    env = envfile.parse(text)
    return hashlib.sha256(json.dumps(sorted(env.items())).encode()).hexdigest()


def tree_listing(top: str) -> list:
    """'path size mtime_ns' for each regular file and 'path -> target' for each link below top,
    sorted; .git, __pycache__ and node_modules pruned, other filesystems not entered, no link
    followed."""
    lines = []
    try:
        dev = os.lstat(top).st_dev
    except OSError:
        return ["absent"]
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(top, rel) if rel else top))
        except OSError:
            continue
        for entry in entries:
            path = f"{rel}/{entry.name}" if rel else entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                try:
                    lines.append(f"{path} -> {os.readlink(entry.path)}")
                except OSError:
                    pass
            elif stat.S_ISDIR(st.st_mode):
                if entry.name not in PRUNE and st.st_dev == dev:
                    stack.append(path)
            elif stat.S_ISREG(st.st_mode):
                lines.append(f"{path} {st.st_size} {st.st_mtime_ns}")
    return sorted(lines)


def code_fingerprint(chdir: str, venv: str) -> str:
    """The code's resolved folder and its files, and the virtualenv's packages (names and times)."""
    code = os.path.realpath(chdir)
    real_venv = os.path.realpath(venv)
    parts = [code] + tree_listing(code) + [real_venv]
    for folder in distinfo.site_packages(real_venv):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            try:
                parts.append(f"{entry.name} {entry.stat(follow_symlinks=False).st_mtime_ns}")
            except OSError:
                continue
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def new_state(server: str, files: dict, chdir: str, venv: str) -> dict:
    return {
        "format": STATE_FORMAT,
        "server": server,
        "socket": sha256_file(files.get("socket")),
        "service": sha256_file(files.get("service")),
        "env": env_fingerprint(files.get("env")),
        "config": sha256_file(files.get("config")),
        "code": code_fingerprint(chdir, venv),
    }


def read_state_file(path: str) -> tuple:
    """(the recorded state or None, whether the file and its folder are root 0600 / 0700)."""
    try:
        folder = os.lstat(os.path.dirname(path))
        st = os.lstat(path)
    except OSError:
        return None, False
    ok = (stat.S_ISDIR(folder.st_mode) and folder.st_uid == 0 and folder.st_gid == 0
          and stat.S_IMODE(folder.st_mode) == 0o700 and stat.S_ISREG(st.st_mode)
          and st.st_uid == 0 and st.st_gid == 0 and stat.S_IMODE(st.st_mode) == 0o600)
    try:
        value = json.loads(distinfo.read_text(path) or "")
    except ValueError:
        return None, False
    return (value if isinstance(value, dict) else None), ok


def missing_accounts(app: str, socket_group: str, venv: str) -> list:
    missing = []
    try:
        pwd.getpwnam(app)
    except KeyError:
        missing.append(f"user {app}")
    for group in (app, socket_group):
        try:
            grp.getgrnam(group)
        except KeyError:
            missing.append(f"group {group}")
    python = os.path.join(venv, "bin", "python")
    try:
        st = os.lstat(python)
    except OSError:
        missing.append(python)
    else:
        if st.st_uid != 0:
            missing.append(f"{python} owned by root (the virtualenv is not frozen: owner uid {st.st_uid})")
    return missing


def binary_options(path: str | None, options: list) -> list:
    """The options whose name the binary holds (uWSGI keeps its option table as C strings)."""
    if not path or not options:
        return []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        data = b""
        while len(data) < MAX_BINARY:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            data += block
    finally:
        os.close(fd)
    # Null-terminated; no leading NUL required, since a linker may store it as another string's tail.
    return [o for o in options if o.encode() + b"\0" in data]


def install_state(p: dict) -> dict:
    reasons = []
    checker = p["checker"]
    if checker:
        folder = os.path.dirname(checker)
        try:
            fst = os.lstat(folder)
            folder_ok = (stat.S_ISDIR(fst.st_mode) and fst.st_uid == 0 and fst.st_gid == 0
                         and stat.S_IMODE(fst.st_mode) == 0o755)
        except OSError:
            folder_ok = False
        try:
            cst = os.lstat(checker)
            file_ok = (stat.S_ISREG(cst.st_mode) and cst.st_uid == 0 and cst.st_gid == 0
                       and stat.S_IMODE(cst.st_mode) == 0o755 and sha1_file(checker) == p["checker_sha1"])
        except OSError:
            file_ok = False
        if not (folder_ok and file_ok):
            reasons.append(f"{checker} is not as shipped (content, root:root 0755, folder root:root 0755)")
    for path in p["required_files"]:
        if not os.path.exists(path):
            reasons.append(f"{path} is missing")
    return {"install_needed": bool(reasons), "install_reasons": reasons}


def version_problem(p: dict, found: str) -> str | None:
    wanted = p["server_version"]
    if found and (not wanted or found == wanted):
        return None
    server = p["server"]
    requirement = server + (f"=={wanted}" if wanted else "")
    has = f"no {server}" if not found else f"{server} {found}"
    after = (f", after the packages uWSGI compiles with ({', '.join(p['build_packages'])})"
             if server == "uwsgi" and p["build_packages"] else "")
    return (f"wsgi: {p['app']}: the virtualenv {p['venv']} has {has} but {requirement} is wanted. "
            f"The server is installed when the virtualenv is built, by the app's user: build it with "
            f"pyweb.deploy.venv with '{requirement}' in venv_packages (pyweb.deploy.app does this){after}.")


def host_size() -> tuple:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    memtotal_mb = 0
    text = distinfo.read_text("/proc/meminfo") or ""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            memtotal_mb = int(line.split()[1]) // 1024
    return cpus, memtotal_mb


def main():
    module = AnsibleModule(
        argument_spec={
            "app": {"type": "str", "required": True},
            "read": {"type": "str", "choices": ["install", "preflight", "service"], "default": "preflight"},
            "server": {"type": "str", "choices": ["gunicorn", "uwsgi"], "default": "gunicorn"},
            "venv": {"type": "path", "required": True},
            "socket_group": {"type": "str", "default": "www-data"},
            "server_in_venv": {"type": "bool", "default": True},
            "server_version": {"type": "str", "default": ""},
            "build_packages": {"type": "list", "elements": "str", "default": []},
            "server_binary": {"type": "path"},
            "optional_options": {"type": "list", "elements": "str", "default": []},
            "required_files": {"type": "list", "elements": "path", "default": []},
            "checker": {"type": "path"},
            "checker_sha1": {"type": "str", "default": ""},
            "workers": {"type": "int"},
            "chdir": {"type": "path"},
            "state_file": {"type": "path"},
            "files": {"type": "dict", "options": {
                "socket": {"type": "path"}, "service": {"type": "path"},
                "env": {"type": "path"}, "config": {"type": "path"}}},
            "written_tags": {"type": "list", "elements": "str", "default": []},
        },
        required_if=[("read", "service", ("chdir", "state_file", "files"))],
        supports_check_mode=True,
    )
    p = module.params
    app = p["app"]
    result = {"changed": False}

    if p["read"] == "service":
        files = {k: v for k, v in (p["files"] or {}).items() if v}
        new = new_state(p["server"], files, p["chdir"], p["venv"])
        old, state_ok = read_state_file(p["state_file"])
        units = [f"{app}.socket", f"{app}.service"]
        rc, out, err = module.run_command(
            ["systemctl", "show", "--property=Id,ActiveState,UnitFileState", "--"] + units)
        if rc != 0:
            module.fail_json(msg=f"wsgi: {app}: systemctl show failed: {err.strip()}")
        unit_states = parse_units(out, units)
        result.update(decide(old, new, p["server"], unit_states, app, p["written_tags"], state_ok))
        result.update(state=new, units=unit_states)
        module.exit_json(**result)

    if p["read"] == "preflight":
        missing = missing_accounts(app, p["socket_group"], p["venv"])
        if missing:
            module.fail_json(msg=(
                f"wsgi: {app} needs the user and group {app}, the socket group {p['socket_group']} and a "
                f"virtualenv at {p['venv']} before this role runs (the venv role creates the user, the group "
                f"and the venv; Nginx's package creates www-data). Missing: {', '.join(missing)}."),
                missing=missing)
        cpus, memtotal_mb = host_size()
        result.update(cpus=cpus, memtotal_mb=memtotal_mb,
                      workers=p["workers"] if p["workers"] is not None else default_workers(cpus, memtotal_mb))

    found = ""
    if p["server_in_venv"]:
        found = distinfo.installed_versions(p["venv"], [p["server"]])[p["server"]]
        problem = version_problem(p, found)
        if problem:
            module.fail_json(msg=problem, server_version=found)
    result["server_version"] = found
    result.update(install_state(p))
    result["server_options"] = binary_options(p["server_binary"], p["optional_options"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
