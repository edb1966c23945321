# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Heroku-style apps: the Procfile, app.json's env, and the systemd units of their processes.

Plain Python, no Ansible import: tests/unit tests every function. The module
pyweb.deploy.app_processes reads the files from the release and acts on what these decide.

- ``parse_procfile``: ``name: command`` lines, comments and blank lines; a bad line is an error
  naming its number.
- ``web_wsgi``: the ``web`` command, when it is Gunicorn or uWSGI naming a WSGI app, as the WSGI
  app and the server options the wsgi role takes (the collection serves it on its own socket).
- ``web_ports`` / ``web_plan`` / ``web_retire_plan``: any other ``web`` command runs as a process
  of its own on one of two loopback ports (blue/green), behind Nginx.
- ``tcp_listeners`` / ``web_listener_problem``: who listens on a web port (/proc/net/tcp and
  tcp6), and whether that is the app's own process on loopback only.
- ``exec_start``: a command line as systemd's ExecStart= runs it through ``/bin/sh -c``.
- ``app_json_env``: app.json's ``env`` as defaults, secrets to generate and required names missing.
- ``plan_processes``: the Procfile's processes with their counts (``processes: {worker: 2}``).
- ``retire_plan`` / ``apply_plan``: which unit instances to stop, start and restart.
"""
from __future__ import annotations

import ipaddress
import re
import shlex
import struct
import sys

# Heroku's process type names; they become part of unit names (<app>-<process>@<n>.service).
PROCESS_RE = re.compile(r"[A-Za-z0-9_-]{1,30}")
LINE_RE = re.compile(r"([^:\s]*)\s*:\s*(.*)")
# What the Procfile's processes are for the collection: web is served behind Nginx by the wsgi
# role, release runs in the new release before the switch; every other one is a service.
SPECIAL = ("web", "release")
MAX_PROCFILE = 64 * 1024
# A module path and an optional :callable (Gunicorn's APP_MODULE, uWSGI's --module).
WSGI_TARGET_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*(\(\))?)?")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
UNIT_RE = re.compile(r"(?P<app>[a-z][a-z0-9_]*)-(?P<process>[A-Za-z0-9_-]+)@(?P<n>[0-9]+)\.service")


class ProcfileError(ValueError):
    """A Procfile or app.json the collection cannot run as written; the message says where."""


def parse_procfile(text: str) -> dict:
    """{process: command} in the file's order. Comments (#) and blank lines are skipped; any other
    line must be ``name: command``."""
    processes: dict = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        found = LINE_RE.fullmatch(line)
        if not found or not found.group(1):
            raise ProcfileError(f"Procfile line {number}: {line[:80]!r} is not 'name: command'")
        name, command = found.group(1), found.group(2).strip()
        if not PROCESS_RE.fullmatch(name):
            raise ProcfileError(f"Procfile line {number}: process name {name[:40]!r} must be letters, digits, "
                                "_ or - (at most 30)")
        if not command:
            raise ProcfileError(f"Procfile line {number}: process {name} has no command")
        if any(ord(c) < 32 and c != "\t" or c == "\x7f" for c in command):
            raise ProcfileError(f"Procfile line {number}: process {name}'s command has a control character")
        if name in processes:
            raise ProcfileError(f"Procfile line {number}: process {name} is defined twice")
        processes[name] = command
    return processes


# Gunicorn options the wsgi role takes from the web command; options that only say where to listen
# or log are dropped (the collection's socket and the journal); anything else is reported ignored.
_GUNICORN_TAKEN = {"-w": "workers", "--workers": "workers", "--threads": "threads", "-t": "timeout",
                   "--timeout": "timeout", "--graceful-timeout": "graceful_timeout",
                   "--max-requests": "max_requests", "--max-requests-jitter": "max_requests_jitter",
                   "-k": "worker_class", "--worker-class": "worker_class"}
_GUNICORN_DROPPED_ARG = {"-b", "--bind", "--log-file", "--error-logfile", "--access-logfile", "--log-level",
                         "--access-logformat", "--pid", "-p", "--chdir", "--name", "-n", "--forwarded-allow-ips",
                         "--log-config", "--capture-output"}
_GUNICORN_DROPPED_FLAG = {"--preload", "--reload", "--capture-output", "--enable-stdio-inheritance",
                          "--no-control-socket"}
_UWSGI_TARGET = {"--module", "-w", "--wsgi", "--wsgi-file", "--file", "--callable", "--mount"}
_UWSGI_TAKEN = {"--processes": "workers", "-p": "workers", "--workers": "workers", "--threads": "threads",
                "--harakiri": "timeout", "--max-requests": "max_requests"}
_INT_OPTIONS = {"workers", "threads", "timeout", "graceful_timeout", "max_requests", "max_requests_jitter"}


def _split(command: str) -> list:
    try:
        return shlex.split(command)
    except ValueError as e:
        raise ProcfileError(f"Procfile: web: {command!r} cannot be split into words ({e})") from None


def _options(words: list, taken: dict, dropped_arg: set, dropped_flag: set, server: str):
    """(positional words, taken options, ignored words) of a server's command line."""
    positional, maybe_values, options, ignored = [], [], {}, []
    after_unknown = False
    i = 0
    while i < len(words):
        word = words[i]
        key, eq, inline = word.partition("=")
        follows_unknown, after_unknown = after_unknown, False
        if word.startswith("-") and (key in taken or key in dropped_arg):
            if eq:
                value = inline
            elif i + 1 < len(words):
                i += 1
                value = words[i]
            else:
                raise ProcfileError(f"Procfile: web: {server} option {key} has no value")
            if key in taken:
                name = taken[key]
                if name in _INT_OPTIONS:
                    if not re.fullmatch(r"[0-9]+", value) or int(value) < (0 if name.startswith("max") else 1):
                        raise ProcfileError(f"Procfile: web: {server} option {key} {value!r} is not a whole number "
                                            "(the collection does not expand variables such as $WEB_CONCURRENCY "
                                            "there: leave the option out to get the host's default)")
                    value = int(value)
                options[name] = value
        elif word.startswith("-") and key in dropped_flag:
            pass
        elif word.startswith("-"):
            ignored.append(word)
            after_unknown = not eq
        elif follows_unknown:
            # the value of an option not known here, or the app after a flag: decided below
            maybe_values.append(word)
        else:
            positional.append(word)
        i += 1
    if not positional and len(maybe_values) == 1:
        positional = maybe_values
    else:
        ignored += maybe_values
    return positional, options, ignored


def web_wsgi(command: str):
    """The web command as {server, wsgi_app, options, ignored} when it runs Gunicorn or uWSGI on
    one WSGI app; None for any other command (a server of its own, an ASGI server, a script)."""
    words = _split(command)
    # `exec gunicorn ...`, `python -m gunicorn ...`, `bin/gunicorn`
    while words and words[0] in ("exec", "env"):
        words = words[1:]
    if len(words) >= 3 and re.fullmatch(r"python[0-9.]*", words[0]) and words[1] == "-m":
        words = words[2:]
    if not words:
        return None
    program = words[0].rsplit("/", 1)[-1]
    if any(re.search(r"[;&|<>`]|\$\(", w) for w in words):
        return None
    if program == "gunicorn":
        positional, options, ignored = _options(words[1:], _GUNICORN_TAKEN, _GUNICORN_DROPPED_ARG,
                                                _GUNICORN_DROPPED_FLAG, "gunicorn")
        if len(positional) != 1 or not WSGI_TARGET_RE.fullmatch(positional[0]):
            return None
        target = positional[0]
        if ":" not in target:
            target += ":application"
        return {"server": "gunicorn", "wsgi_app": target, "options": options, "ignored": ignored}
    if program == "uwsgi":
        module = callable_ = None
        rest, i = [], 1
        while i < len(words):
            key, eq, inline = words[i].partition("=")
            if key in _UWSGI_TARGET:
                value = inline if eq else (words[i + 1] if i + 1 < len(words) else "")
                i += 0 if eq else 1
                if key in ("--module", "-w", "--wsgi"):
                    module = value
                elif key == "--callable":
                    callable_ = value
                else:
                    return None  # a file or a mount point: not a module the wsgi role imports
            else:
                rest.append(words[i])
            i += 1
        if not module or not WSGI_TARGET_RE.fullmatch(module):
            return None
        _positional, options, ignored = _options(
            rest, _UWSGI_TAKEN, {"--http", "--http-socket", "--socket", "-s", "--uwsgi-socket", "--chdir",
                                 "--logto", "--pidfile"},
            {"--master", "--die-on-term", "--enable-threads", "--strict", "--need-app", "--vacuum",
             "--single-interpreter", "--lazy-apps"}, "uwsgi")
        if ":" not in module:
            module += ":" + (callable_ or "application")
        return {"server": "uwsgi", "wsgi_app": module, "options": options, "ignored": ignored}
    return None


def check_web(command: str, wsgi_server: str):
    """web_wsgi(command), None for a web command that is a server of its own (``python app.py``,
    ``uvicorn app:app --port $PORT``: run as the web process on a loopback port, see web_ports),
    or a ProcfileError for the other WSGI server than the app's wsgi_server (Nginx speaks HTTP to
    Gunicorn and the uwsgi protocol to uWSGI)."""
    found = web_wsgi(command)
    if found is None:
        return None
    if found["server"] != wsgi_server:
        raise ProcfileError(f"the Procfile's web process runs {found['server']}, but wsgi_server is {wsgi_server}: "
                            f"set wsgi_server: {found['server']} (Nginx speaks to each differently)")
    return found


# A web process that is its own server listens on PORT, one of two loopback ports of the app's
# own (blue/green): the new release starts on the idle one, Nginx switches to it once it answers
# its health check, then the old one stops. Below the kernel's ephemeral range (32768-60999 on
# Linux), so no outgoing connection holds one; two per uid, so no two apps of a host share one.
WEB_PORT_BASE = 20000
WEB_PORT_LIMIT = 32768


def web_ports(uid: int) -> list:
    """The app's two web ports, from its user's uid (unique on the host)."""
    first = WEB_PORT_BASE + 2 * int(uid)
    if uid < 0 or first + 1 >= WEB_PORT_LIMIT:
        raise ProcfileError(f"the app's uid {uid} is too high for its web ports ({WEB_PORT_BASE} + 2 x uid must stay "
                            f"below {WEB_PORT_LIMIT}); give the app a system account (uid below "
                            f"{(WEB_PORT_LIMIT - WEB_PORT_BASE) // 2 - 1})")
    return [first, first + 1]


# A web process unit's name, whatever the app: <app>-web-<port>.service.
WEB_UNIT_RE = re.compile(r"[a-z][a-z0-9_]*-web-[0-9]{1,5}\.service")


def web_unit(app: str, port: int) -> str:
    """The unit of the web process on a port: <app>-web-<port>.service (not an instance of a
    process template, whose names have an @)."""
    return f"{app}-web-{int(port)}.service"


def web_plan(ports: list, recorded, running: list) -> dict:
    """Which port serves and which one a new release starts on.

    recorded: the port the last switch recorded (or None); running: the ports whose units run.
    The active port is the recorded one when it runs, else the one port that runs, else none;
    the next port is the other one (the first when none is active)."""
    running = [p for p in ports if p in running]
    if recorded in running:
        active = recorded
    elif len(running) == 1:
        active = running[0]
    else:
        active = None
    following = ports[1] if active == ports[0] else ports[0]
    return {"active": active, "next": following}


def web_retire_plan(ports: list, keep, running: list, enabled: list) -> dict:
    """After Nginx moved to keep: start (and enable) keep when it does not run or is not enabled,
    stop and disable the other port's unit when it runs or is enabled. ``keep`` None (Nginx moved
    to the app's WSGI server): every port's unit that runs or is enabled stops."""
    if keep is None:
        return {"start": False, "stop": [p for p in ports if p in running or p in enabled]}
    if keep not in ports:
        raise ProcfileError(f"port {keep} is not one of the app's web ports {ports}")
    other = [p for p in ports if p != keep and (p in running or p in enabled)]
    return {"start": keep not in running or keep not in enabled, "stop": other}


# /proc/net/tcp's state column: 0A is TCP_LISTEN.
TCP_LISTEN = "0A"


def _proc_address(text: str, byteorder: str) -> str:
    """An address of /proc/net/tcp{,6} (32-bit words in hex, each in the kernel's byte order)."""
    order = "<" if byteorder == "little" else ">"
    raw = b"".join(struct.pack(order + "I", int(text[i:i + 8], 16)) for i in range(0, len(text), 8))
    ip = ipaddress.ip_address(raw)
    mapped = getattr(ip, "ipv4_mapped", None)
    return f"::ffff:{mapped}" if mapped else str(ip)


def tcp_listeners(text: str, byteorder: str = sys.byteorder) -> list:
    """The LISTEN sockets of /proc/net/tcp or /proc/net/tcp6: [{address, port, uid}]."""
    found = []
    for line in text.splitlines()[1:]:
        words = line.split()
        if len(words) < 8 or words[3] != TCP_LISTEN or ":" not in words[1]:
            continue
        address, _sep, port = words[1].rpartition(":")
        try:
            found.append({"address": _proc_address(address, byteorder), "port": int(port, 16), "uid": int(words[7])})
        except (ValueError, struct.error):
            continue
    return found


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def web_listener_problem(listeners: list, port: int, uid: int, names: dict = None):
    """None when every LISTEN socket on the port belongs to the app's uid and is bound to loopback
    (127.0.0.1, ::1) only, else what is wrong: another user's process holds the port (it would get
    the app's traffic), or the app's process listens on every interface (visitors would reach it
    past Nginx). "" when nothing listens on the port (yet). names: uid -> user name."""
    names = names or {}
    on_port = [entry for entry in listeners if entry["port"] == int(port)]
    if not on_port:
        return ""

    def shown(entry):
        address = entry["address"]
        return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"

    strangers = [entry for entry in on_port if entry["uid"] != int(uid)]
    if strangers:
        who = ", ".join(f"user {names.get(entry['uid'], entry['uid'])} (uid {entry['uid']}) on {shown(entry)}"
                        for entry in strangers)
        return (f"port {port} is taken by {who}: another process listens on the app's web port, "
                "so the release's own web process cannot, and its traffic would go there")
    wide = [entry for entry in on_port if not _loopback(entry["address"])]
    if wide:
        return (f"the web process listens on {', '.join(shown(entry) for entry in wide)}; bind 127.0.0.1 "
                "(the HOST variable) so that only Nginx reaches it")
    return None


NGINX_BINARY = "/usr/sbin/nginx"


def nginx_workers(processes: list, master, binary: str = NGINX_BINARY) -> list:
    """The pids of Nginx's worker processes, from (pid, ppid, exe) triples: the children of the
    master (its pid from /run/nginx.pid) that run Nginx's binary, the ones a reload replaces,
    whose exit tells that no worker sends requests to the old upstream any more. Not told by
    their command line, which any process can set to "nginx: worker process"."""
    if not master:
        return []
    return sorted(pid for pid, ppid, exe in processes if ppid == master and exe in (binary, binary + " (deleted)"))


def exec_start(command: str) -> str:
    """ExecStart= for ``/bin/sh -c COMMAND``: systemd unquotes one double-quoted word (\\ and "
    escaped), and expands $NAME and %x itself, so both are doubled; the shell then expands the
    command's own $PORT as Heroku's does."""
    if "\n" in command or "\r" in command:
        raise ProcfileError("a command may not span lines")
    quoted = command.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%")
    return f'/bin/sh -c "{quoted}"'


def app_json_env(data, given: set) -> dict:
    """app.json's ``env``: {defaults: {name: value}, generate: [names], required: [names]}.

    Names the inventory sets (``given``) are left out. An entry is ``"NAME": "value"`` or
    ``{"value", "required", "generator", "description"}``; as on Heroku, an entry is required
    unless it says ``required: false``, and a value or a generator satisfies it."""
    if not isinstance(data, dict):
        raise ProcfileError("app.json must be a JSON object")
    env = data.get("env", {})
    if env is None:
        env = {}
    if not isinstance(env, dict):
        raise ProcfileError("app.json: env must be an object of variable names")
    defaults, generate, required = {}, [], []
    for name, entry in env.items():
        if not isinstance(name, str) or not ENV_NAME_RE.fullmatch(name):
            raise ProcfileError(f"app.json: env: {str(name)[:40]!r} is not a variable name")
        if isinstance(entry, (str, int, float)) and not isinstance(entry, bool):
            entry = {"value": str(entry)}
        if not isinstance(entry, dict):
            raise ProcfileError(f"app.json: env.{name} must be a string or an object")
        generator = entry.get("generator")
        if generator not in (None, "secret"):
            raise ProcfileError(f"app.json: env.{name}: generator {str(generator)[:20]!r} is not known "
                                "(only secret)")
        value = entry.get("value")
        if value is not None and (isinstance(value, (dict, list, bool))):
            raise ProcfileError(f"app.json: env.{name}: value must be a string")
        if value is not None and re.search(r"[\x00-\x1f\x7f]", str(value)):
            raise ProcfileError(f"app.json: env.{name}: value has a control character")
        if name in given:
            continue
        if generator == "secret":
            generate.append(name)
        elif value is not None and str(value) != "":
            defaults[name] = str(value)
        elif entry.get("required", True) is not False:
            required.append(name)
    return {"defaults": defaults, "generate": sorted(generate), "required": sorted(required)}


def plan_processes(procfile: dict, counts: dict) -> dict:
    """The processes run as systemd services, with their counts: {name: {command, count}}, and
    the web and release commands. A count for a process the Procfile lacks is an error; clock runs
    once at most (two clocks would run each job twice)."""
    unknown = sorted(set(counts) - set(procfile))
    if unknown:
        raise ProcfileError(f"processes names {', '.join(unknown)}, which the Procfile does not define "
                            f"(it defines {', '.join(procfile) or 'nothing'})")
    if counts.get("web", 1) != 1 or "release" in counts:
        raise ProcfileError("processes: web and release take no count (web is sized by workers, "
                            "release runs once per deploy)")
    if counts.get("clock", 1) > 1:
        raise ProcfileError("processes: clock runs at most once (two clocks would run each job twice)")
    services = {name: {"command": command, "count": int(counts.get(name, 1)),
                       "exec_start": exec_start(command)}
                for name, command in procfile.items() if name not in SPECIAL}
    return {"services": services, "web": procfile.get("web"), "release": procfile.get("release")}


def active_units(listing: str) -> list:
    """The units of `systemctl list-units --all --plain --no-legend` that run (or are starting or
    stopping): a stopped or failed one needs no stop."""
    units = []
    for line in listing.splitlines():
        words = line.split()
        if len(words) >= 3 and words[2] in ("active", "activating", "deactivating", "reloading"):
            units.append(words[0])
    return units


def instance_names(app: str, services: dict) -> list:
    """Every wanted instance, <app>-<process>@<n>.service, n from 1."""
    return [f"{app}-{name}@{n}.service" for name, spec in sorted(services.items())
            for n in range(1, spec["count"] + 1)]


def retire_plan(app: str, wanted: list, wanted_jobs: list, instances: list, timers: list) -> dict:
    """What to stop and disable before the units are written: instances (running or enabled) that
    are not wanted any more, and the timers of removed schedules."""
    stop = sorted(u for u in instances if u not in wanted and UNIT_RE.fullmatch(u)
                  and UNIT_RE.fullmatch(u).group("app") == app)
    keep = {f"{app}-job-{name}.timer" for name in wanted_jobs}
    stop_timers = sorted(t for t in timers if t not in keep)
    return {"stop": stop, "stop_timers": stop_timers}


def apply_plan(wanted: list, timers: list, states: dict, changed: set) -> dict:
    """What to do after the units are written. states: unit -> {active, enabled}; changed: the
    keys whose files changed since the units last started ("process <name>": its template or the
    environment file; "<timer>": its file). A running instance of a changed process restarts onto
    it (graceful: SIGTERM, then TimeoutStopSec); one that does not run is started."""
    start, restart = [], []
    for unit in wanted:
        state = states.get(unit, {})
        process = UNIT_RE.fullmatch(unit).group("process") if UNIT_RE.fullmatch(unit) else unit
        if state.get("active") not in ("active", "activating", "reloading") or state.get("enabled") != "enabled":
            start.append(unit)
        elif f"process {process}" in changed:
            restart.append(unit)
    start_timers = [t for t in timers if states.get(t, {}).get("active") != "active"
                    or states.get(t, {}).get("enabled") != "enabled"]
    restart_timers = [t for t in timers if t in changed and t not in start_timers]
    # systemctl reset-failed before every start and restart: a unit that ended failed (a crash loop
    # that hit its start limit) would refuse the start, and the deploys' own restarts count towards
    # the limit (StartLimitBurst=), which the reset clears.
    # (Only loaded units, failed or running: systemd refuses a unit it has not loaded.)
    reset_failed = [u for u in start if states.get(u, {}).get("active") == "failed"] + restart
    return {"start": start, "restart": restart, "start_timers": start_timers, "restart_timers": restart_timers,
            "reset_failed": reset_failed}
