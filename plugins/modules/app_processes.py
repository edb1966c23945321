#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Heroku-style app's Procfile and app.json, and the systemd units of its processes and jobs."""
from __future__ import annotations

DOCUMENTATION = r"""
module: app_processes
short_description: Read an app's Procfile and app.json; stop, start and restart its process and job units
description:
  - O(action=read) reads the release's Procfile and app.json (as root, never following a link,
    for the release is root's but its content the repository's), and returns the processes to run as
    services with their counts, the web command (as a WSGI app when it is Gunicorn or uWSGI naming
    one), the release command, app.json's default values and the names of its secrets. A secret
    (C(generator) C(secret)) is generated once into O(secrets_file) (root, 0600) and kept across
    deploys; its values are never returned. A bad Procfile line, a count for a process the
    Procfile lacks, a bad C(on_calendar) (checked with C(systemd-analyze calendar)) or a required
    app.json entry that nothing sets fails, naming it.
  - O(action=retire), before the units are written, stops and disables the instances
    (C(<app>-<process>@<n>.service)) and timers (C(<app>-job-<name>.timer)) no longer wanted (a
    removed process, a lowered count, a removed schedule) and returns the unit files to remove.
  - O(action=apply), after the units are written, enables and starts the wanted instances and
    timers that are not running, and restarts the running instances when a unit file or the
    environment file changed since they were started (a new release moves their
    C(WorkingDirectory)); the stop is graceful (C(SIGTERM), then the unit's C(TimeoutStopSec)).
    It records what they run with in O(state_file) (root, 0600).
  - A Procfile C(web) that is not Gunicorn or uWSGI naming a WSGI app (C(python app.py),
    C(uvicorn app:app --port $PORT)) is a server of its own, which runs as
    C(<app>-web-<port>.service) on one of two loopback ports of the app's (C(20000 + 2 x uid) and
    the next), with C(PORT) set. O(action=web_plan) tells which port serves (from O(state_file)
    and the units that run) and which one a new release starts on, and the pids of Nginx's
    workers; O(action=web_start) (re)starts the unit on O(port) (its file written before), waits
    until the port has a LISTEN socket in C(/proc/net/tcp)/C(tcp6), accepts it only when every
    listener on the port is the app's uid bound to C(127.0.0.1) or C(::1) (not another user's
    process, not C(0.0.0.0)/C(::)), and asks it for O(health) on C(127.0.0.1), stopping it again and
    failing with its journal (and what listens) otherwise; O(action=web_retire), once Nginx's
    upstream names O(port), waits for the Nginx workers of O(wait_pids) to exit (they may still
    send requests to the old port), stops and disables the other port's unit and removes that
    port's environment file (a copy of the app's secrets), enables O(port)'s (starting it if it
    does not run) and records O(port) in O(state_file); without O(port) (Nginx now forwards to the
    app's WSGI server) it stops and disables both ports' units and removes their unit files,
    environment files and O(state_file); with O(retire_wsgi) (a web process of its own serves now)
    it also stops and disables the WSGI server's C(<app>.socket) and C(<app>.service) and removes
    their unit files, the server's configuration and its state.
  - O(action=read) also tells whether the host still has the app's web process units
    (RV(web_units_present)) and its WSGI server's (RV(wsgi_units_present)), so that an app that switched
    between the two retires the one it left once Nginx forwards to the other (the site playbook).
  - Check mode reports what would change and changes nothing.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  action:
    description: What to do.
    type: str
    choices: [read, retire, apply, web_plan, web_start, web_retire]
    default: read
  app:
    description: The app's name (its units start with it).
    type: str
    required: true
  release_dir:
    description: The release to read (O(action=read)); a missing folder reads as no Procfile.
    type: path
  procfile:
    description: The Procfile, relative to the release; empty for none.
    type: str
    default: Procfile
  app_json:
    description: app.json, relative to the release; empty for none.
    type: str
    default: app.json
  wsgi_server:
    description:
      - The app's WSGI server (O(action=read)). A Procfile web line that runs the other one on a
        WSGI app fails, naming it; a web line that runs neither is a server of its own (RV(web_process)).
    type: str
    choices: [gunicorn, uwsgi]
    default: gunicorn
  counts:
    description: Instances per process type (C(processes) of the app's spec); a type not named runs once.
    type: dict
    default: {}
  given_env:
    description: The names the inventory sets (env, secret_env); app.json's entries for them are left out.
    type: list
    elements: str
    default: []
  secrets_file:
    description: Where app.json's generated secrets are kept (O(action=read)).
    type: path
  schedules:
    description:
      - The app's scheduled jobs, each C(name), C(command) and C(on_calendar) (O(action=read)); each
        C(on_calendar) is checked with C(systemd-analyze calendar).
    type: list
    elements: dict
    default: []
  processes:
    description:
      - The processes run as services (O(action=retire), O(action=apply)), name to a dict with
        C(count) (RV(services) of O(action=read)); each runs as C(<app>-<process>@1.service) to
        C(@<count>.service).
    type: dict
    default: {}
  jobs:
    description: The wanted schedules' names (O(action=retire), O(action=apply)).
    type: list
    elements: str
    default: []
  files:
    description: The unit files and the environment file the processes run with (O(action=apply)).
    type: list
    elements: path
    default: []
  state_file:
    description: Where O(action=apply) records what the processes run with, or the web actions the port that serves.
    type: path
  port:
    description:
      - The web port to start (O(action=web_start)), to keep (O(action=web_retire)) or to check (O(action=web_plan)).
      - O(action=web_retire) without it keeps none.
    type: int
  health:
    description:
      - O(action=web_start)'s health check, asked of C(127.0.0.1:<port>) as Nginx would forward it; keys
        C(path), C(domain), C(status), C(contains), C(timeout), C(retries), C(https) (sets C(X-Forwarded-Proto)).
    type: dict
    default: {}
  env_file:
    description:
      - The environment file the release runs with (O(action=web_start)); copied to
        C(/etc/pyweb/<app>.web-<port>.env), which the port's unit reads.
    type: path
  start_timeout:
    description: Seconds O(action=web_start) waits for the app's process to listen on the port.
    type: int
    default: 60
  check_listener:
    description:
      - O(action=web_plan) fails unless what listens on O(port) (or the port that serves) is the app's
        own process on C(127.0.0.1)/C(::1) only, read from C(/proc/net/tcp) and C(/proc/net/tcp6) (before
        Nginx is pointed at it).
    type: bool
    default: false
  wait_pids:
    description: Nginx worker pids (RV(nginx_workers) of O(action=web_plan)) O(action=web_retire) waits for, at most 60 seconds.
    type: list
    elements: int
    default: []
  retire_wsgi:
    description:
      - O(action=web_retire) also stops and disables the app's WSGI server units and removes their files
        and the server's configuration (the app's web process of its own serves now).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the Procfile and app.json of the new release
  pyweb.deploy.app_processes:
    app: shop
    release_dir: /srv/apps/shop/releases/20261129T003000Z
    counts: {worker: 2}
    given_env: [DATABASE_URL]
    secrets_file: /srv/apps/shop/.pyweb/app_json_secrets.json
  register: procfile

- name: Stop the instances no longer wanted
  pyweb.deploy.app_processes:
    action: retire
    app: shop
    processes: {worker: {count: 2}}
    jobs: [cleanup]
"""

RETURN = r"""
found:
  description: Whether the release has a Procfile (O(action=read)).
  type: bool
  returned: success
services:
  description: The processes run as services, name to C(command), C(count) and C(exec_start) (O(action=read)).
  type: dict
  returned: success
web:
  description: The Procfile's web command, or null.
  type: str
  returned: success
web_process:
  description: Whether the web command is a server of its own (not Gunicorn or uWSGI naming a WSGI app), run on a loopback port.
  type: bool
  returned: success
web_exec_start:
  description: The web process's C(ExecStart=) when RV(web_process) is true, else null.
  type: str
  returned: success
ports:
  description: The app's two web ports (O(action=web_plan)).
  type: list
  returned: success
active:
  description: The web port that serves, or null (O(action=web_plan)).
  type: int
  returned: success
next:
  description: The web port a new release starts on (O(action=web_plan)).
  type: int
  returned: success
nginx_workers:
  description: The pids of Nginx's worker processes (O(action=web_plan)).
  type: list
  returned: success
nginx_ready:
  description: Whether the nginx role configured the host (its upstreams folder is there; O(action=web_plan)).
  type: bool
  returned: success
web_wsgi:
  description: The web command as C(server), C(wsgi_app), C(options) and C(ignored) options when it runs Gunicorn or uWSGI on a WSGI app; null otherwise.
  type: dict
  returned: success
jobs:
  description: The schedules with the C(exec_start) of their command (O(action=read)).
  type: list
  returned: success
units_present:
  description: Whether the host has unit files of the app's processes or jobs (O(action=read)).
  type: bool
  returned: success
web_units_present:
  description: Whether the host has a unit file of the app's web process of its own or the record of its port (O(action=read)).
  type: bool
  returned: success
wsgi_units_present:
  description: Whether the host has the app's WSGI server units (C(<app>.socket), C(<app>.service); O(action=read)).
  type: bool
  returned: success
removed:
  description: The files O(action=web_retire) removed (or would remove).
  type: list
  returned: success
release:
  description: The Procfile's release command, or null.
  type: str
  returned: success
env_defaults:
  description: app.json's values for the names the inventory does not set.
  type: dict
  returned: success
secret_names:
  description: The names of app.json's generated secrets the inventory does not set (values only in O(secrets_file)).
  type: list
  returned: success
web_concurrency:
  description: The host's default worker count (2 x processors + 1, at most one per 256 MiB).
  type: int
  returned: success
absent:
  description: The unit files of processes and schedules no longer wanted (O(action=retire)).
  type: list
  returned: success
stopped:
  description: The units stopped and disabled (O(action=retire)), or started and restarted (O(action=apply)).
  type: list
  returned: success
"""

import hashlib
import json
import os
import pwd
import secrets
import stat
import time

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible_collections.pyweb.deploy.plugins.module_utils import distinfo, envfile, filestate, httpprobe, procfile
    from ansible_collections.pyweb.deploy.plugins.module_utils.safepath import UnsafePath, open_anchor, read_file_at
    from ansible_collections.pyweb.deploy.plugins.module_utils.unitstate import parse_units
except ImportError:  # tests/unit loads this file alone, with module_utils on sys.path
    import distinfo  # type: ignore[no-redef]
    import envfile  # type: ignore[no-redef]
    import filestate  # type: ignore[no-redef]
    import httpprobe  # type: ignore[no-redef]
    import procfile  # type: ignore[no-redef]
    from safepath import UnsafePath, open_anchor, read_file_at  # type: ignore[no-redef]
    from unitstate import parse_units  # type: ignore[no-redef]

_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
UNIT_DIR = "/etc/systemd/system"
# Where the web actions record the port that serves (roles/wsgi's __wsgi_web_state_file).
WEB_STATE_DIR = "/var/lib/pyweb/wsgi"
# The nginx role's folder of upstream files: there once it configured the host.
NGINX_UPSTREAMS = "/etc/nginx/pyweb/upstreams"
NGINX_PID = "/run/nginx.pid"


def read_in_release(release: str, rel: str):
    """The text of rel in the release, or None when missing; never following a link."""
    fd = open_anchor(release)
    try:
        found = read_file_at(fd, rel, f"{release}/{rel}", procfile.MAX_PROCFILE)
    finally:
        os.close(fd)
    if found is None:
        return None
    if len(found[0]) > procfile.MAX_PROCFILE:
        raise procfile.ProcfileError(f"{rel} is larger than {procfile.MAX_PROCFILE} bytes")
    return found[0].decode("utf-8", "replace")


def ensure_secrets(path: str, names: list, check: bool) -> bool:
    """Generate the missing secrets into path (root 0600 JSON, kept across deploys). Returns
    whether it changed (or would)."""
    folder, name = os.path.split(path)
    dfd = open_anchor(folder)
    try:
        current = {}
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=dfd)
        except FileNotFoundError:
            fd = None
        if fd is not None:
            with os.fdopen(fd, "rb") as handle:
                st = os.fstat(handle.fileno())
                if not stat.S_ISREG(st.st_mode) or st.st_uid != 0 or stat.S_IMODE(st.st_mode) & 0o077:
                    raise UnsafePath(f"{path} must be a regular file of root's, mode 0600")
                try:
                    current = json.loads(handle.read().decode("utf-8") or "{}")
                except ValueError:
                    raise UnsafePath(f"{path} is not JSON; remove it to generate new secrets") from None
        missing = [n for n in names if n not in current]
        if not missing:
            return False
        if check:
            return True
        for n in missing:
            current[n] = secrets.token_hex(32)  # Heroku's generator: 64 hex characters
        tmp = f".{name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchown(handle.fileno(), 0, 0)
            os.fchmod(handle.fileno(), 0o600)
            json.dump(current, handle, indent=1, sort_keys=True)
            handle.write("\n")
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        return True
    finally:
        os.close(dfd)


def default_workers() -> int:
    """The wsgi role's default (pyweb.deploy.wsgi_state): 2 x processors + 1, at most one per 256 MiB."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    mem_mb = 1024
    text = distinfo.read_text("/proc/meminfo") or ""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            mem_mb = int(line.split()[1]) // 1024
    return max(1, min(2 * cpus + 1, mem_mb // 256))


def read(module, p) -> dict:
    result = {"changed": False, "found": False, "services": {}, "web": None, "web_wsgi": None, "web_process": False,
              "web_exec_start": None, "release": None,
              "env_defaults": {}, "secret_names": [], "web_concurrency": default_workers(), "ignored": []}
    jobs = []
    for job in p["schedules"]:
        expr = str(job.get("on_calendar", ""))
        rc, _out, err = module.run_command(["systemd-analyze", "calendar", "--", expr])
        if rc != 0:
            module.fail_json(msg=f"{p['app']}: schedules: {job.get('name')}: on_calendar {expr!r} is not a systemd "
                                 f"calendar expression: {err.strip()[-200:]}")
        jobs.append({"name": job["name"], "on_calendar": expr, "exec_start": procfile.exec_start(str(job["command"]))})
    result["jobs"] = jobs
    result["units_present"] = any(is_process_unit_file(p["app"], n) for n in os.listdir(UNIT_DIR)) \
        if os.path.isdir(UNIT_DIR) else False
    result["web_units_present"] = (os.path.isdir(UNIT_DIR) and any(
        procfile.WEB_UNIT_RE.fullmatch(n) and n.startswith(f"{p['app']}-web-") for n in os.listdir(UNIT_DIR))) \
        or os.path.lexists(f"{WEB_STATE_DIR}/{p['app']}.web.json")
    result["wsgi_units_present"] = bool(wsgi_server_files(p["app"])[0])
    release = p["release_dir"]
    if not release or not os.path.isdir(release):
        return result
    try:
        text = read_in_release(release, p["procfile"]) if p["procfile"] else None
        if text is not None:
            plan = procfile.plan_processes(procfile.parse_procfile(text), p["counts"])
            result.update(found=True, services=plan["services"], web=plan["web"], release=plan["release"])
            if plan["web"]:
                result["web_wsgi"] = procfile.check_web(plan["web"], p["wsgi_server"])
                result["web_process"] = result["web_wsgi"] is None
                result["web_exec_start"] = procfile.exec_start(plan["web"]) if result["web_process"] else None
        elif p["counts"]:
            raise procfile.ProcfileError(f"processes is set but the release has no {p['procfile']}")
        data = read_in_release(release, p["app_json"]) if p["app_json"] else None
        if data is not None:
            try:
                parsed = json.loads(data)
            except ValueError as e:
                raise procfile.ProcfileError(f"{p['app_json']} is not JSON ({e})") from None
            env = procfile.app_json_env(parsed, set(p["given_env"]))
            if env["required"]:
                raise procfile.ProcfileError(
                    f"{p['app_json']} requires {', '.join(env['required'])}, which nothing sets: put "
                    f"{'them' if len(env['required']) > 1 else 'it'} in the app's env or secret_env")
            result.update(env_defaults=env["defaults"], secret_names=env["generate"])
            if env["generate"]:
                if not p["secrets_file"]:
                    module.fail_json(msg=f"{p['app']}: app_processes needs secrets_file for app.json's generated secrets")
                result["changed"] = ensure_secrets(p["secrets_file"], env["generate"], module.check_mode)
    except (procfile.ProcfileError, UnsafePath) as e:
        module.fail_json(msg=f"{p['app']}: {e}")
    return result


def is_process_unit_file(app: str, name: str) -> bool:
    """A unit file of the app's processes (<app>-<process>@.service) or jobs (<app>-job-<name>.timer
    and .service); not a drop-in folder such as the alerts role's <app>-.service.d."""
    if name.endswith(".d") or name.endswith(".wants"):
        return False
    return name.startswith(f"{app}-job-") or (name.startswith(f"{app}-") and name.endswith("@.service"))


def list_units(module, app: str) -> tuple:
    """(instances loaded or enabled, job timers loaded or enabled, unit files of the app's processes and jobs)."""
    files = sorted(n for n in os.listdir(UNIT_DIR) if is_process_unit_file(app, n))
    names = set()
    for entry in os.listdir(UNIT_DIR):
        if entry.endswith(".wants") and os.path.isdir(f"{UNIT_DIR}/{entry}"):
            names.update(n for n in os.listdir(f"{UNIT_DIR}/{entry}") if n.startswith(f"{app}-"))
    rc, out, _err = module.run_command(["systemctl", "list-units", "--all", "--plain", "--no-legend", "--full",
                                        "--", f"{app}-*"])
    if rc == 0:
        # UNIT LOAD ACTIVE SUB ...: running ones (a stopped or failed instance is left alone)
        names.update(procfile.active_units(out))
    instances = sorted(n for n in names if procfile.UNIT_RE.fullmatch(n))
    timers = sorted(n for n in names | set(files) if n.startswith(f"{app}-job-") and n.endswith(".timer"))
    return instances, timers, files


def retire(module, p) -> dict:
    app = p["app"]
    instances, timers, files = list_units(module, app)
    plan = procfile.retire_plan(app, p["instances"], p["jobs"], instances, timers)
    wanted_files = {f"{app}-{n.split('-', 1)[1].split('@')[0]}@.service" for n in p["instances"]}
    wanted_files |= {f"{app}-job-{j}.{kind}" for j in p["jobs"] for kind in ("timer", "service")}
    absent = [f"{UNIT_DIR}/{f}" for f in files if f not in wanted_files]
    units = plan["stop"] + plan["stop_timers"]
    result = {"changed": bool(units), "stopped": units, "absent": absent}
    if units and not module.check_mode:
        rc, _out, err = module.run_command(["systemctl", "disable", "--now", "--"] + units)
        if rc != 0:
            module.fail_json(msg=f"{app}: stopping {', '.join(units)} failed: {err.strip()}", **result)
    return result


def fingerprint(files: list) -> str:
    parts = []
    for path in files:
        text = distinfo.read_text(path)
        if text is None:
            parts.append(f"{path} absent")
        elif path.endswith(".env") or path.endswith(".env.new"):
            parts.append(f"{path} " + json.dumps(sorted(envfile.parse(text).items())))
        else:
            parts.append(f"{path} {hashlib.sha256(text.encode()).hexdigest()}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def unit_states(module, units: list) -> dict:
    if not units:
        return {}
    rc, out, err = module.run_command(["systemctl", "show", "--property=Id,ActiveState,UnitFileState", "--"] + units)
    if rc != 0:
        module.fail_json(msg=f"systemctl show failed: {err.strip()}")
    return parse_units(out, units)


def apply(module, p) -> dict:
    app = p["app"]
    timers = [f"{app}-job-{j}.timer" for j in p["jobs"]]
    env = [f for f in p["files"] if not f.startswith(UNIT_DIR + "/")]
    # What each unit runs with: a process's template and the environment file; a timer's file.
    # Only what changed restarts: a new schedule does not restart the workers.
    new = {"all": fingerprint(p["files"])}
    for name in sorted({u.split("-", 1)[1].split("@")[0] for u in p["instances"]}):
        new[f"process {name}"] = fingerprint([f"{UNIT_DIR}/{app}-{name}@.service"] + env)
    for timer in timers:
        new[timer] = fingerprint([f"{UNIT_DIR}/{timer}"])
    try:
        old = json.loads(distinfo.read_text(p["state_file"]) or "{}") if p["state_file"] else {}
    except ValueError:
        old = {}
    old = old if isinstance(old, dict) else {}
    changed = {key for key, value in new.items() if old.get(key) != value}
    if "all" in changed and not module.check_mode and p["instances"] + timers:
        module.run_command(["systemctl", "daemon-reload"], check_rc=True)
    states = unit_states(module, p["instances"] + timers)
    plan = procfile.apply_plan(p["instances"], timers, states, changed)
    acted = plan["start"] + plan["restart"] + plan["start_timers"] + plan["restart_timers"]
    result = {"changed": bool(acted) or bool(changed), "stopped": acted, **plan}
    if module.check_mode:
        return result
    if plan["reset_failed"]:
        # A crash loop that hit the start limit leaves the unit failed, and a start would be refused;
        # the deploys' own restarts count towards the limit too: reset both.
        module.run_command(["systemctl", "reset-failed", "--"] + plan["reset_failed"])
    for argv, units in ((["enable", "--now"], plan["start"] + plan["start_timers"]),
                        (["restart"], plan["restart"] + plan["restart_timers"])):
        if units:
            rc, _out, err = module.run_command(["systemctl"] + argv + ["--"] + units)
            if rc != 0:
                _rc, journal, _e = module.run_command(["journalctl", "--no-pager", "-n", "30"]
                                                      + [a for u in units for a in ("-u", u)])
                module.fail_json(msg=f"{app}: systemctl {' '.join(argv)} {' '.join(units)} failed: {err.strip()}\n"
                                     f"{journal}", **result)
    if changed and p["state_file"]:
        folder = os.path.dirname(p["state_file"])
        os.makedirs(folder, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
        tmp = f"{p['state_file']}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(new, indent=1, sort_keys=True) + "\n")
        os.rename(tmp, p["state_file"])
    return result


# --- a web process that is its own server (blue/green on two loopback ports) -------------------

def web_env_file(app, port) -> str:
    """The environment file of the web process on a port (the unit template's EnvironmentFile=)."""
    return f"/etc/pyweb/{app}.web-{int(port)}.env"


def _record(path):
    try:
        data = json.loads(distinfo.read_text(path) or "{}") if path else {}
    except ValueError:
        data = {}
    port = data.get("active") if isinstance(data, dict) else None
    return port if isinstance(port, int) else None


def _write_record(path, port):
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps({"active": port}) + "\n")
    os.rename(tmp, path)


def _ports(module, app):
    try:
        uid = pwd.getpwnam(app).pw_uid
    except KeyError:
        module.fail_json(msg=f"{app}: the app's user does not exist (its web ports come from its uid)")
    try:
        return procfile.web_ports(uid)
    except procfile.ProcfileError as e:
        module.fail_json(msg=f"{app}: {e}")


def _web_states(module, app, ports):
    units = [procfile.web_unit(app, port) for port in ports]
    states = unit_states(module, units)
    running = [port for port, unit in zip(ports, units)
               if states[unit]["active"] in ("active", "activating", "reloading")]
    enabled = [port for port, unit in zip(ports, units) if states[unit]["enabled"] == "enabled"]
    return running, enabled


def _nginx_processes():
    try:
        master = int(distinfo.read_text(NGINX_PID) or "0")
    except ValueError:
        master = 0
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
            exe = os.readlink(f"/proc/{entry}/exe") if ppid == master else ""
        except (OSError, ValueError, IndexError):
            continue
        found.append((int(entry), ppid, exe))
    return procfile.nginx_workers(found, master)


def _web_listener_problem(app, port):
    """None when the app's own process listens on 127.0.0.1/::1:port only, "" when nothing listens
    there, else what listens there instead (procfile.web_listener_problem)."""
    listeners = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                listeners += procfile.tcp_listeners(handle.read())
        except OSError:
            continue
    names = {}
    for entry in listeners:
        try:
            names[entry["uid"]] = pwd.getpwuid(entry["uid"]).pw_name
        except KeyError:
            pass
    return procfile.web_listener_problem(listeners, port, pwd.getpwnam(app).pw_uid, names)


def _journal(module, unit):
    _rc, out, _err = module.run_command(["journalctl", "--no-pager", "-o", "cat", "-n", "20", "-u", unit])
    return out.strip()[-3000:]


def web_plan(module, p) -> dict:
    ports = _ports(module, p["app"])
    running, enabled = _web_states(module, p["app"], ports)
    plan = procfile.web_plan(ports, _record(p["state_file"]), running)
    # Before Nginx is pointed at a port: the app's own process on loopback must be what listens there.
    port = p["port"] or plan["active"]
    if p["check_listener"] and port:
        if port not in ports:
            module.fail_json(msg=f"{p['app']}: port {port} is not one of the app's web ports")
        problem = _web_listener_problem(p["app"], port)
        if problem:
            module.fail_json(msg=f"{p['app']}: Nginx is not pointed at port {port}: {problem}")
    return {"changed": False, "ports": ports, "running": running, "enabled": enabled,
            "units": {str(port): procfile.web_unit(p["app"], port) for port in ports},
            "nginx_workers": _nginx_processes(), "nginx_ready": os.path.isdir(NGINX_UPSTREAMS), **plan}


def web_start(module, p) -> dict:
    app, port = p["app"], p["port"]
    if port not in _ports(module, app):
        module.fail_json(msg=f"{app}: port {port} is not one of the app's web ports")
    unit = procfile.web_unit(app, port)
    result = {"changed": True, "port": port, "unit": unit}
    if module.check_mode:
        return result
    # The port's own copy of the environment the release runs with (root:<app> 0640, never printed).
    content = filestate.read_file(p["env_file"]) if p["env_file"] else None
    if content is None:
        module.fail_json(msg=f"{app}: the environment file {p['env_file']} is not there")
    filestate.write_file(web_env_file(app, port), content, 0o640, 0, pwd.getpwnam(app).pw_gid)
    module.run_command(["systemctl", "daemon-reload"], check_rc=True)
    # A restart: a unit left on this port (a failed switch, or the release before last) stops first.
    rc, _out, err = module.run_command(["systemctl", "restart", "--", unit])
    problem = "" if rc == 0 else f"systemctl restart {unit} failed: {err.strip()}"
    deadline = time.monotonic() + p["start_timeout"]
    while not problem:
        # Who listens on the port, from the kernel's table rather than a connection (which anyone's
        # listener would accept): the app's own uid, on loopback only, or the deploy stops here.
        found = _web_listener_problem(app, port)
        if found:
            problem = found
            break
        if found is None:
            break
        states = unit_states(module, [unit])
        if states[unit]["active"] not in ("active", "activating", "reloading"):
            problem = f"{unit} stopped before it listened on 127.0.0.1:{port}"
        elif time.monotonic() > deadline:
            problem = f"{unit} did not listen on 127.0.0.1:{port} within {p['start_timeout']} seconds"
        else:
            time.sleep(0.5)
    if not problem:
        health = p["health"] or {}
        ok, answer = httpprobe.check({
            "address": "127.0.0.1", "port": port, "scheme": "http", "domain": str(health.get("domain", "localhost")),
            "path": str(health.get("path", "/")), "status": int(health.get("status", 200)),
            "contains": str(health.get("contains", "")), "validate_certs": False,
            "timeout": int(health.get("timeout", 10)), "retries": int(health.get("retries", 3)), "delay": 1,
            "headers": {"X-Forwarded-Proto": "https"} if health.get("https") else {}})
        # Still the app's own listener that answered (nothing took its place meanwhile).
        found = _web_listener_problem(app, port)
        if ok and found is None:
            return {**result, "status": answer["status"]}
        if ok:
            answer = {"msg": found or f"nothing listens on 127.0.0.1:{port} any more"}
        problem = answer["msg"].replace("http://", "", 1)
    journal = _journal(module, unit)
    module.run_command(["systemctl", "stop", "--", unit])
    if os.path.lexists(web_env_file(app, port)):
        os.unlink(web_env_file(app, port))
    module.fail_json(msg=f"{app}: {problem}", journal=journal, **result)
    return result


def wsgi_server_files(app) -> tuple:
    """The WSGI server's units and files (roles/wsgi's names), retired once a web process of the
    app's own serves instead: (units that exist, other files that exist)."""
    units = [u for u in (f"{app}.socket", f"{app}.service") if os.path.lexists(f"{UNIT_DIR}/{u}")]
    files = [f for f in (f"/etc/pyweb/{app}.gunicorn.conf.py", f"/etc/pyweb/{app}.uwsgi.ini",
                         f"/var/lib/pyweb/wsgi/{app}.state") if os.path.lexists(f)]
    return units, files


def web_retire(module, p) -> dict:
    """Nginx forwards to ``port`` now (or, without one, to the app's WSGI server): the other web
    unit stops; without a port every web unit stops and its files go; with ``retire_wsgi`` the
    WSGI server's units stop and their files go."""
    app, keep = p["app"], p["port"]
    ports = _ports(module, app)
    running, enabled = _web_states(module, app, ports)
    try:
        plan = procfile.web_retire_plan(ports, keep, running, enabled)
    except procfile.ProcfileError as e:
        module.fail_json(msg=f"{app}: {e}")
    stop = [procfile.web_unit(app, port) for port in plan["stop"]]
    if keep is None:
        record = bool(p["state_file"]) and os.path.lexists(p["state_file"])
        removed = [f"{UNIT_DIR}/{procfile.web_unit(app, port)}" for port in ports
                   if os.path.lexists(f"{UNIT_DIR}/{procfile.web_unit(app, port)}")]
    else:
        record, removed = _record(p["state_file"]) != keep, []
    wsgi_units, wsgi_files = wsgi_server_files(app) if p["retire_wsgi"] else ([], [])
    stop += wsgi_units
    removed += [f"{UNIT_DIR}/{u}" for u in wsgi_units] + wsgi_files
    # The other port's copy of the app's environment: not left on disk once its unit is stopped.
    removed += [web_env_file(app, port) for port in ports if port != keep and os.path.lexists(web_env_file(app, port))]
    result = {"changed": bool(plan["start"] or stop or record or removed), "stopped": stop, "started": plan["start"],
              "removed": removed}
    if module.check_mode or not result["changed"]:
        return result
    if stop:
        # Nginx's old workers may still forward requests to the old port: they exit once those are done.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in p["wait_pids"]):
            time.sleep(0.2)
        rc, _out, err = module.run_command(["systemctl", "disable", "--now", "--"] + stop)
        if rc != 0:
            module.fail_json(msg=f"{app}: stopping {', '.join(stop)} failed: {err.strip()}", **result)
    for path in removed:
        os.unlink(path)
    if any(path.startswith(UNIT_DIR + "/") for path in removed):
        module.run_command(["systemctl", "daemon-reload"], check_rc=True)
    if plan["start"]:
        unit = procfile.web_unit(app, keep)
        rc, _out, err = module.run_command(["systemctl", "enable", "--now", "--", unit])
        if rc != 0:
            module.fail_json(msg=f"{app}: starting {unit} failed: {err.strip()}\n{_journal(module, unit)}", **result)
    if p["state_file"] and keep is not None:
        _write_record(p["state_file"], keep)
    elif record:
        os.unlink(p["state_file"])
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "choices": ["read", "retire", "apply", "web_plan", "web_start", "web_retire"],
                       "default": "read"},
            "app": {"type": "str", "required": True},
            "release_dir": {"type": "path"},
            "procfile": {"type": "str", "default": "Procfile"},
            "app_json": {"type": "str", "default": "app.json"},
            "wsgi_server": {"type": "str", "choices": ["gunicorn", "uwsgi"], "default": "gunicorn"},
            "counts": {"type": "dict", "default": {}},
            "given_env": {"type": "list", "elements": "str", "default": []},
            "secrets_file": {"type": "path"},
            "schedules": {"type": "list", "elements": "dict", "default": []},
            "processes": {"type": "dict", "default": {}},
            "jobs": {"type": "list", "elements": "str", "default": []},
            "files": {"type": "list", "elements": "path", "default": []},
            "state_file": {"type": "path"},
            "port": {"type": "int"},
            "health": {"type": "dict", "default": {}},
            "start_timeout": {"type": "int", "default": 60},
            "env_file": {"type": "path"},
            "wait_pids": {"type": "list", "elements": "int", "default": []},
            "check_listener": {"type": "bool", "default": False},
            "retire_wsgi": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    p["counts"] = {str(k): int(v) for k, v in (p["counts"] or {}).items()}
    p["instances"] = procfile.instance_names(p["app"], {
        str(k): {"count": int((v or {}).get("count", 1)) if isinstance(v, dict) else int(v)}
        for k, v in (p["processes"] or {}).items()})
    action = {"read": read, "retire": retire, "apply": apply, "web_plan": web_plan, "web_start": web_start,
              "web_retire": web_retire}[p["action"]]
    module.exit_json(**action(module, p))


if __name__ == "__main__":
    main()
