# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that check and complete the ``pyweb_apps`` list of the site playbooks.

``pyweb_apps | pyweb.deploy.app_errors`` returns one message per problem, each naming the app
and the field, so that a play can refuse bad input before it touches any host.
``pyweb_apps | pyweb.deploy.apps_normalized`` returns the apps with every default filled in.
``apps | pyweb.deploy.apps_health_checks`` returns one health check per domain, without secrets.
"""
from __future__ import annotations

import re


TYPES = ("static", "django", "flask")
WSGI_SERVERS = ("gunicorn", "uwsgi")
TLS_MODES = ("none", "selfsigned", "provided", "acme")
KNOWN_FIELDS = {
    "name", "type", "domains", "source", "wsgi_server", "wsgi_app", "requirements", "env",
    "secret_env", "tls", "shared_paths", "release_commands", "health_check", "python",
    "python_packages", "build", "static_dir", "static_url", "keep_releases", "workers", "threads",
    "django_superuser", "wsgi", "nginx", "client_max_body_size", "static_purge",
    "services",
}
# Heroku-style apps (Procfile, app.json, process counts, scheduled jobs), issue 17.
KNOWN_FIELDS |= {"procfile", "app_json", "processes", "schedules"}
# How an app declares what it installs (plugins/module_utils/projectformat.py), issue 17.
PROJECT_FORMATS = ("auto", "uv", "poetry", "pipenv", "requirements", "pyproject")
KNOWN_FIELDS |= {"project_format", "wsgi_file"}
# A PythonAnywhere-style WSGI file is served through a module the deploy writes into the release.
WSGI_FILE_MODULE = "pyweb_wsgi_file"
SOURCE_FIELDS = {"git", "version", "path", "submodules", "key", "accept_hostkey", "depth"}
TLS_FIELDS = {"mode", "cert", "key", "acme_email", "hsts", "redirect"}
HEALTH_FIELDS = {"path", "status", "contains", "timeout", "retries"}
BUILD_FIELDS = {"command", "output", "requirements", "packages"}
# Names an app may not take: Debian's system accounts and groups, accounts and units of the
# services a web host runs, and the app layout's own folders. The site playbooks also refuse, on
# each host, a name whose account, group or unit exists there and is not an app's
# (module pyweb.deploy.app_names): this list catches the common ones before any host is asked.
RESERVED_NAMES = {
    # Debian base accounts and groups (base-passwd, systemd, common packages)
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp",
    "proxy", "www_data", "backup", "list", "irc", "gnats", "nobody", "nogroup", "adm", "tty",
    "disk", "kmem", "dialout", "fax", "voice", "cdrom", "floppy", "tape", "sudo", "audio", "dip",
    "operator", "src", "shadow", "utmp", "video", "sasl", "plugdev", "staff", "users",
    "input", "sgx", "kvm", "render", "crontab", "netdev", "messagebus", "systemd", "polkitd",
    "_apt", "apt", "wheel", "admin", "lxd", "docker", "podman", "containerd", "tss", "uuidd",
    # services and their accounts and units on a web host
    "ssh", "sshd", "nginx", "certbot", "nftables", "iptables", "ufw", "cron", "dbus", "rsyslog",
    "postgres", "postgresql", "mysql", "mariadb", "redis", "valkey", "memcache", "memcached",
    "prometheus", "alertmanager", "grafana", "node_exporter", "uwsgi", "gunicorn", "git",
    "networking", "getty", "journald", "logrotate", "pyweb",
    # the app layout
    "shared", "current", "releases", "venvs", "log",
}
# Whole-string patterns (fullmatch): `$` would also match before a final newline.
NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
LABEL_RE = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
WSGI_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\(\))?")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# A URL path prefix: /, or /name/.../ with URL-safe characters.
STATIC_URL_RE = re.compile(r"/(?:[A-Za-z0-9._~-]+/)*")
SIZE_RE = re.compile(r"[0-9]{1,9}[kKmMgG]?")
# Git: https, http, ssh and git URLs, or scp-like user@host:path. Not ext::, file://, fd:: or
# any other transport git would run a program or read the host's files for.
GIT_URL_RE = re.compile(r"(?:(?:https?|ssh|git(?:\+ssh)?)://[^\s/?#@]+(?:@[^\s/?#]+)?(?::[0-9]+)?/[^\s]*"
                        r"|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!/*:)[^\s:][^\s]*)")
# file:///path: only with pyweb_allow_local_git (a mirror on the host, the tests' fixtures).
LOCAL_GIT_RE = re.compile(r"file:///[A-Za-z0-9._/+-]+")
# A branch, tag or commit: git's ref rules, and never an option.
VERSION_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/+-]{0,254}")
INTERPRETER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*|/[A-Za-z0-9._+/-]+")
HEALTH_PATH_RE = re.compile(r"/[\x21-\x7e]*")
HEADER_NAME_RE = re.compile(r"[A-Za-z0-9-]+")
# What pyweb_apps[].nginx may set over the generated site: how it serves, not what it is (its
# name, domains, backend, root, socket, aliases and TLS come from the app's own fields).
NGINX_OVERRIDE_FIELDS = {
    "index", "try_files", "error_page_404", "immutable_assets", "upstream_keepalive",
    "backend_timeout", "buffering", "locations", "headers", "hsts", "raw",
}
NGINX_HSTS_FIELDS = {"enabled", "max_age", "include_subdomains", "preload"}
# Fields whose text may span lines (PEM, Nginx snippets, shell): newlines and tabs allowed there,
# any other control character refused like everywhere else.
MULTILINE_FIELDS = {
    ("tls", "cert"), ("tls", "key"), ("source", "key"), ("nginx", "raw"),
    ("nginx", "locations", "*", "config"), ("release_commands", "*"), ("build", "command"),
    ("static_purge",),
}
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MULTILINE_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
DEFAULT_WSGI_APP = {"flask": "app:app"}


def is_hostname(value) -> bool:
    if not isinstance(value, str) or not value or len(value) > 253 or value != value.lower():
        return False
    labels = value.split(".")
    if labels[0] == "*":  # a wildcard server name: *.example.com
        labels = labels[1:]
        if len(labels) < 2:
            return False
    return all(LABEL_RE.fullmatch(label) for label in labels)


def is_relative_path(value) -> bool:
    return (isinstance(value, str) and value != "" and not value.startswith("/")
            and ".." not in value.split("/") and "\x00" not in value)


# A static_dir or shared path goes into Nginx's configuration and root's file operations: plain
# names only, a few levels deep, none the deploy reads or writes in the release (the same rule as
# plugins/module_utils/safepath.py's plain_path_problem and plugins/filter/django.py's).
PLAIN_PATH_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*")
PLAIN_PATH_DEPTH = 4
DEPLOY_NAMES = ("procfile", "app.json", "pipfile", "pyproject.toml", "runtime.txt", "pyweb_wsgi_file.py")
PLAIN_PATH_RULE = ("letters, digits, '_', '.' and '-' in names not starting with '.' or '-', at most "
                   f"{PLAIN_PATH_DEPTH} deep, none of Procfile, app.json, requirements*, *.lock, Pipfile, "
                   "pyproject.toml, runtime.txt, pyweb_wsgi_file.py")


def is_plain_path(value) -> bool:
    if not isinstance(value, str):
        return False
    path = value.strip("/") if not value.startswith("/") else ""
    parts = path.split("/")
    return bool(PLAIN_PATH_RE.fullmatch(path)) and len(parts) <= PLAIN_PATH_DEPTH and not any(
        p.lower() in DEPLOY_NAMES or p.lower().startswith("requirements") or p.lower().endswith(".lock")
        for p in parts)


def _label(index: int, app) -> str:
    name = app.get("name") if isinstance(app, dict) else None
    if isinstance(name, str) and name and not CONTROL_RE.search(name):
        return f"pyweb_apps[{index}] ({name})"
    return f"pyweb_apps[{index}]"


def _unknown(where: str, value: dict, known: set) -> list[str]:
    extra = sorted(set(value) - known)
    if not extra:
        return []
    return [f"{where}: unknown field{'s' if len(extra) > 1 else ''} {', '.join(extra)} "
            f"(known: {', '.join(sorted(known))})"]


MIN_SECRET_LENGTH = 8


def _check_env(where: str, field: str, value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [f"{where}: {field} must be a mapping of variable names to values"]
    errors = []
    for key, val in value.items():
        if not isinstance(key, str) or not ENV_RE.fullmatch(key):
            errors.append(f"{where}: {field}: {key!r} is not a valid environment variable name")
        elif isinstance(val, (dict, list)):
            errors.append(f"{where}: {field}: {key} must be a string or number, not a {type(val).__name__}")
        elif field == "secret_env" and 0 < len(str(val)) < MIN_SECRET_LENGTH:
            # Ansible hides a secret's value wherever it appears in output: a short one hides
            # paths and names that contain it (and is no secret).
            errors.append(f"{where}: secret_env: {key} is shorter than {MIN_SECRET_LENGTH} characters: "
                          "Ansible hides a secret's value wherever it appears in the output, so a short "
                          "one hides unrelated text; use a longer value, or env if it is not secret")
    return errors


def _not_whole(value, minimum: int) -> bool:
    """Set, and not a whole number of at least ``minimum`` (true and false are not numbers)."""
    return value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < minimum)


def _field_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _multiline(parts) -> bool:
    pattern = tuple("*" if isinstance(p, int) else p for p in parts)
    return pattern in MULTILINE_FIELDS


def _control_characters(where: str, value, parts=()) -> list[str]:
    """One message per string (key or value) holding a control character. The value itself is
    never printed: it may be a secret, and the character would break the message."""
    errors = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and CONTROL_RE.search(key):
                errors.append(f"{where}: {_field_path(parts) or 'a field'} has a key with a control character "
                              f"(U+{ord(CONTROL_RE.search(key).group()):04X}): remove it")
                continue
            errors += _control_characters(where, item, (*parts, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            errors += _control_characters(where, item, (*parts, index))
    elif isinstance(value, str):
        found = (MULTILINE_CONTROL_RE if _multiline(parts) else CONTROL_RE).search(value)
        if found:
            what = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL byte"}.get(
                found.group(), f"U+{ord(found.group()):04X}")
            errors.append(f"{where}: {_field_path(parts)} has a control character ({what}): "
                          "it would break the files it is written to; remove it")
    return errors


def _check_packages(where: str, field: str, value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return [f"{where}: {field} must be a list of requirement specifiers (for example gunicorn==23.0.0)"]
    return [f"{where}: {field}: {v!r} is an option, not a requirement (put index and install options "
            "in the venv role's variables)" for v in value if v.lstrip().startswith("-")]


def _check_nginx(where: str, nginx) -> list[str]:
    if nginx is None:
        return []
    if not isinstance(nginx, dict):
        return [f"{where}: nginx must be a mapping of site settings to override"]
    extra = sorted(set(nginx) - NGINX_OVERRIDE_FIELDS)
    if extra:
        return [f"{where}: nginx: {', '.join(map(str, extra))} cannot be overridden (the app's own fields set the "
                f"site's name, domains, backend, root, socket, aliases and TLS; nginx may set: "
                f"{', '.join(sorted(NGINX_OVERRIDE_FIELDS))})"]
    errors = []
    for key in ("index", "try_files", "error_page_404", "immutable_assets", "backend_timeout"):
        value = nginx.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or (key != "immutable_assets" and re.search(r"[;{}\"'\\]", value)):
            errors.append(f"{where}: nginx.{key} must be one directive's value (no ; {{ }} quotes or backslashes)")
    if _not_whole(nginx.get("upstream_keepalive"), 0):
        errors.append(f"{where}: nginx.upstream_keepalive must be a whole number of at least 0")
    if nginx.get("buffering") is not None and not isinstance(nginx["buffering"], bool):
        errors.append(f"{where}: nginx.buffering must be true or false")
    headers = nginx.get("headers")
    if headers is not None:
        if not isinstance(headers, dict):
            errors.append(f"{where}: nginx.headers must be a mapping of header names to values")
        else:
            errors += [f"{where}: nginx.headers: {name!r} is not a header name" for name in headers
                       if not isinstance(name, str) or not HEADER_NAME_RE.fullmatch(name)]
    hsts = nginx.get("hsts")
    if hsts is not None:
        if not isinstance(hsts, dict):
            errors.append(f"{where}: nginx.hsts must be a mapping (enabled, max_age, include_subdomains, preload)")
        else:
            errors += _unknown(f"{where}: nginx.hsts", hsts, NGINX_HSTS_FIELDS)
    locations = nginx.get("locations")
    if locations is not None and (not isinstance(locations, list) or not all(
            isinstance(loc, dict) and isinstance(loc.get("path"), str) and isinstance(loc.get("config"), str)
            and set(loc) <= {"path", "config"} and not re.search(r"[;{}]", loc["path"]) for loc in locations)):
        errors.append(f"{where}: nginx.locations must be a list of {{path, config}} (a location's match and "
                      "its directives)")
    if nginx.get("raw") is not None and not isinstance(nginx["raw"], str):
        errors.append(f"{where}: nginx.raw must be text (directives added to the site's server block)")
    return errors


def _check_source(where: str, source, allow_local_git: bool = False) -> list[str]:
    if not isinstance(source, dict):
        return [f"{where}: source is required: a mapping with exactly one of git or path"]
    errors = _unknown(f"{where}: source", source, SOURCE_FIELDS)
    kinds = [k for k in ("git", "path") if source.get(k) not in (None, "")]
    if len(kinds) != 1:
        found = " and ".join(kinds) if kinds else "neither"
        errors.append(f"{where}: source needs exactly one of git or path (found {found})")
    for key in ("git", "path", "version"):
        if source.get(key) is not None and not isinstance(source[key], str):
            errors.append(f"{where}: source.{key} must be a string")
    if "path" in kinds and source.get("version") is not None:
        errors.append(f"{where}: source.version goes with source.git, not source.path")
    git = source.get("git")
    local = allow_local_git and isinstance(git, str) and LOCAL_GIT_RE.fullmatch(git)
    if "git" in kinds and isinstance(git, str) and not (GIT_URL_RE.fullmatch(git) or local):
        errors.append(f"{where}: source.git must be an https://, ssh://, git:// or user@host:path URL "
                      "(not ext::, file:// or another transport, and not an option)")
    version = source.get("version")
    if isinstance(version, str) and "git" in kinds and (
            not VERSION_RE.fullmatch(version) or ".." in version or "//" in version or "/." in version
            or version.endswith(("/", ".", ".lock")) or "@{" in version):
        errors.append(f"{where}: source.version {version!r} is not a branch, tag or commit name")
    for key in ("submodules", "accept_hostkey"):
        if source.get(key) is not None and not isinstance(source[key], bool):
            errors.append(f"{where}: source.{key} must be true or false")
    depth = source.get("depth")
    if _not_whole(depth, 1):
        errors.append(f"{where}: source.depth must be a whole number of at least 1")
    return errors


def _check_tls(where: str, tls, domains) -> list[str]:
    if tls is None:
        return []
    if not isinstance(tls, dict):
        return [f"{where}: tls must be a mapping such as {{mode: selfsigned}}"]
    errors = _unknown(f"{where}: tls", tls, TLS_FIELDS)
    mode = tls.get("mode", "selfsigned")
    if mode not in TLS_MODES:
        return errors + [f"{where}: tls.mode must be one of {', '.join(TLS_MODES)} (got {mode!r})"]
    if mode == "provided":
        missing = [k for k in ("cert", "key") if not tls.get(k)]
        if missing:
            errors.append(f"{where}: tls.mode provided needs tls.{' and tls.'.join(missing)} "
                          "(the certificate chain and its private key, as PEM text or file paths)")
    if mode == "acme":
        email = tls.get("acme_email")
        if not isinstance(email, str) or not EMAIL_RE.fullmatch(email):
            errors.append(f"{where}: tls.mode acme needs tls.acme_email, a contact address for Let's Encrypt")
        if isinstance(domains, list) and any(isinstance(d, str) and d.startswith("*.") for d in domains):
            errors.append(f"{where}: tls.mode acme cannot serve wildcard domains (the webroot challenge "
                          "cannot prove them)")
    return errors


PROCESS_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,30}")
JOB_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
SCHEDULE_FIELDS = {"name", "command", "on_calendar"}


def _check_processes(where: str, app: dict) -> list[str]:
    """procfile, app_json, processes and schedules: a Heroku-style app's Procfile, its counts, and
    its scheduled jobs (the Procfile itself is read on the host, from the release)."""
    errors = []
    kind = app.get("type")
    fields = [f for f in ("procfile", "app_json", "processes", "schedules") if app.get(f) not in (None, False)]
    if kind == "static" and fields:
        return [f"{where}: {', '.join(fields)} do{'es' if len(fields) == 1 else ''} not apply to a static app"]
    for field in ("procfile", "app_json"):
        value = app.get(field)
        if value is not None and value is not False and not is_relative_path(value):
            errors.append(f"{where}: {field} must be a path relative to the source root, without '..' "
                          "(or false to ignore the file)")
    processes = app.get("processes")
    if processes is not None:
        if not isinstance(processes, dict):
            errors.append(f"{where}: processes must be a mapping of Procfile process names to counts "
                          "(for example {worker: 2})")
        else:
            for name, count in processes.items():
                if not isinstance(name, str) or not PROCESS_NAME_RE.fullmatch(name):
                    errors.append(f"{where}: processes: {str(name)[:40]!r} is not a Procfile process name "
                                  "(letters, digits, _ or -, at most 30)")
                elif name in ("web", "release"):
                    errors.append(f"{where}: processes: {name} takes no count (web is sized by workers, "
                                  "release runs once per deploy)")
                elif _not_whole(count, 0) or count > 32:
                    errors.append(f"{where}: processes: {name} must be a whole number from 0 to 32")
                elif name == "clock" and count > 1:
                    errors.append(f"{where}: processes: clock runs at most once (two clocks would run each job twice)")
    schedules = app.get("schedules")
    if schedules is not None:
        if not isinstance(schedules, list):
            return errors + [f"{where}: schedules must be a list of {{name, command, on_calendar}}"]
        seen = set()
        for i, job in enumerate(schedules):
            if not isinstance(job, dict):
                errors.append(f"{where}: schedules[{i}] must be a mapping {{name, command, on_calendar}}")
                continue
            errors += _unknown(f"{where}: schedules[{i}]", job, SCHEDULE_FIELDS)
            name = job.get("name")
            if not isinstance(name, str) or not JOB_NAME_RE.fullmatch(name):
                errors.append(f"{where}: schedules[{i}]: name must match [a-z0-9][a-z0-9_-]* (at most 40): it "
                              "names the units <app>-job-<name>.timer and .service")
            elif name in seen:
                errors.append(f"{where}: schedules[{i}]: name {name} is used twice")
            seen.add(name)
            if not isinstance(job.get("command"), str) or not job["command"].strip():
                errors.append(f"{where}: schedules[{i}]: command is required (a shell command run in the release)")
            calendar = job.get("on_calendar")
            if not isinstance(calendar, str) or not calendar.strip():
                errors.append(f"{where}: schedules[{i}]: on_calendar is required (a systemd calendar "
                              "expression such as daily or *-*-* 03:00:00)")
    return errors


def _processes_normalized(app: dict) -> dict:
    """The defaults of procfile, app_json, processes and schedules ('' for a file not read)."""
    out = {}
    for field, default in (("procfile", "Procfile"), ("app_json", "app.json")):
        value = app.get(field, default)
        out[field] = "" if value in (None, False) else value
    out["processes"] = dict(app.get("processes") or {})
    out["schedules"] = [dict(job) for job in app.get("schedules") or []]
    return out


def _check_project_format(where: str, app: dict) -> list[str]:
    """project_format: one of PROJECT_FORMATS, for a WSGI app; requirements names the file of
    the requirements format only. wsgi_file: a .py file in the release, instead of wsgi_app."""
    errors = []
    wsgi_file = app.get("wsgi_file")
    if wsgi_file is not None:
        if app.get("type") == "static":
            errors.append(f"{where}: wsgi_file does not apply to a static app")
        elif not is_relative_path(wsgi_file) or not str(wsgi_file).endswith(".py"):
            errors.append(f"{where}: wsgi_file must be the path of a .py file relative to the source root, without '..'")
        elif app.get("wsgi_app") is not None:
            errors.append(f"{where}: wsgi_file and wsgi_app both name the app: keep one")
    fmt = app.get("project_format")
    if fmt is None:
        return errors
    errors += _check_format_value(where, app, fmt)
    return errors


def _check_format_value(where: str, app: dict, fmt) -> list[str]:
    if app.get("type") == "static":
        return [f"{where}: project_format is for django and flask apps (a static site installs nothing)"]
    if fmt not in PROJECT_FORMATS:
        return [f"{where}: project_format {fmt!r} must be one of {', '.join(PROJECT_FORMATS)}"]
    if app.get("requirements") is not None and fmt not in ("auto", "requirements"):
        return [f"{where}: requirements names a requirements file, which project_format {fmt} does not read"]
    return []


def _project_fields(app: dict) -> dict:
    """What code.yml's app_release is given to detect the project format and the interpreter:
    what the user named, with nothing filled in (empty: detect)."""
    fields = {"project_format": app.get("project_format", "auto"),
              "requirements_named": app.get("requirements", ""),
              "python_named": app.get("python", "")}
    if app.get("wsgi_file"):
        fields["wsgi_app"] = f"{WSGI_FILE_MODULE}:application"
    return fields


def _check_app(index: int, app, allow_local_git: bool = False) -> list[str]:
    where = _label(index, app)
    if not isinstance(app, dict):
        return [f"{where}: each app must be a mapping (got {type(app).__name__})"]
    control = _control_characters(where, app)
    if control:
        # Nothing else of this app is judged: the rest of its checks would only repeat these.
        return control
    errors = _unknown(where, app, KNOWN_FIELDS)
    name = app.get("name")
    if not isinstance(name, str) or not name:
        errors.append(f"{where}: name is required")
    elif not NAME_RE.fullmatch(name) or len(name) > 32:
        errors.append(f"{where}: name {name!r} must match [a-z][a-z0-9_]* and have at most 32 characters "
                      "(it names the unix user, paths and units)")
    elif name in RESERVED_NAMES:
        errors.append(f"{where}: name {name!r} is reserved (a system account or a layout directory)")
    kind = app.get("type")
    if kind not in TYPES:
        errors.append(f"{where}: type must be one of {', '.join(TYPES)} (got {kind!r})")
    domains = app.get("domains")
    if not isinstance(domains, list) or not domains:
        errors.append(f"{where}: domains is required: a list of host names, the first one canonical")
    else:
        for domain in domains:
            if not is_hostname(domain):
                errors.append(f"{where}: domains: {domain!r} is not a valid lower-case host name")
        if len(set(map(str, domains))) != len(domains):
            errors.append(f"{where}: domains lists a name twice")
    errors += _check_source(where, app.get("source"), allow_local_git)
    if kind == "static":
        for field in ("wsgi_server", "wsgi_app", "workers", "threads"):
            if app.get(field) is not None:
                errors.append(f"{where}: {field} does not apply to a static app")
    if app.get("wsgi_server") is not None and app["wsgi_server"] not in WSGI_SERVERS:
        errors.append(f"{where}: wsgi_server must be one of {', '.join(WSGI_SERVERS)} "
                      f"(got {app['wsgi_server']!r})")
    wsgi_app = app.get("wsgi_app")
    if wsgi_app is not None and (not isinstance(wsgi_app, str) or not WSGI_RE.fullmatch(wsgi_app)):
        errors.append(f"{where}: wsgi_app {wsgi_app!r} must be module:callable "
                      "(for example blog.wsgi:application, or hello:create_app() for a factory)")
    if kind == "django" and wsgi_app is None and app.get("wsgi_file") is None:
        errors.append(f"{where}: wsgi_app is required for a django app (for example blog.wsgi:application)")
    for field in ("requirements", "static_dir"):
        if app.get(field) is not None and not is_relative_path(app[field]):
            errors.append(f"{where}: {field} must be a path relative to the source root, without '..'")
    if is_relative_path(app.get("static_dir")) and not is_plain_path(app["static_dir"]):
        errors.append(f"{where}: static_dir {app['static_dir']!r} must be a plain path relative to the "
                      f"source root ({PLAIN_PATH_RULE})")
    errors += _check_env(where, "env", app.get("env"))
    errors += _check_env(where, "secret_env", app.get("secret_env"))
    errors += _check_tls(where, app.get("tls"), domains)
    shared = app.get("shared_paths")
    if shared is not None:
        if not isinstance(shared, list):
            errors.append(f"{where}: shared_paths must be a list of paths relative to the release")
        else:
            errors += [f"{where}: shared_paths: {p!r} must be relative to the release, without '..'"
                       if not is_relative_path(p) else
                       f"{where}: shared_paths: {p!r} must be a plain path relative to the release ({PLAIN_PATH_RULE})"
                       for p in shared if not is_plain_path(p)]
    commands = app.get("release_commands")
    if commands is not None and (not isinstance(commands, list)
                                 or not all(isinstance(c, str) and c.strip() for c in commands)):
        errors.append(f"{where}: release_commands must be a list of command lines")
    health = app.get("health_check")
    if health is not None:
        if not isinstance(health, dict):
            errors.append(f"{where}: health_check must be a mapping such as {{path: /}}")
        else:
            errors += _unknown(f"{where}: health_check", health, HEALTH_FIELDS)
            path = health.get("path", "/")
            if not isinstance(path, str) or not path.startswith("/"):
                errors.append(f"{where}: health_check.path must start with /")
            elif not HEALTH_PATH_RE.fullmatch(path):
                errors.append(f"{where}: health_check.path must be a URL path without spaces")
            status = health.get("status", 200)
            if not isinstance(status, int) or not 100 <= status <= 599:
                errors.append(f"{where}: health_check.status must be an HTTP status code")
    build = app.get("build")
    if build is not None:
        if kind != "static":
            errors.append(f"{where}: build is for static apps (a site generator's command and output)")
        elif not isinstance(build, dict) or not build.get("command") or not build.get("output"):
            errors.append(f"{where}: build needs command (run in the release with a build venv) and output "
                          "(the folder it writes, relative to the source root)")
        else:
            errors += _unknown(f"{where}: build", build, BUILD_FIELDS)
            if not is_relative_path(build["output"]):
                errors.append(f"{where}: build.output must be relative to the source root, without '..'")
    superuser = app.get("django_superuser")
    if superuser is not None:
        if kind != "django":
            errors.append(f"{where}: django_superuser is for django apps")
        elif not isinstance(superuser, dict) or not superuser.get("username") or not superuser.get("password"):
            errors.append(f"{where}: django_superuser needs username and password (put the password in a vault)")
    errors += _check_static_cdn(where, app)
    size = app.get("client_max_body_size")
    if size is not None and (isinstance(size, bool) or not SIZE_RE.fullmatch(str(size))):
        errors.append(f"{where}: client_max_body_size {size!r} must be a size such as 20m, 512k or 1g")
    python = app.get("python")
    if python is not None and (not isinstance(python, str) or not INTERPRETER_RE.fullmatch(python)
                               or ".." in python.split("/")):
        errors.append(f"{where}: python {python!r} must be an interpreter name (python3.12) or an absolute path")
    errors += _check_packages(where, "python_packages", app.get("python_packages"))
    if isinstance(build, dict):
        errors += _check_packages(where, "build.packages", build.get("packages"))
        if build.get("requirements") is not None and not is_relative_path(build["requirements"]):
            errors.append(f"{where}: build.requirements must be a path relative to the source root, without '..'")
    for field in ("workers", "threads"):
        value = app.get(field)
        if _not_whole(value, 1):
            errors.append(f"{where}: {field} must be a whole number of at least 1")
    errors += _check_nginx(where, app.get("nginx"))
    errors += _check_project_format(where, app)
    errors += _check_services(where, app)
    keep = app.get("keep_releases")
    if _not_whole(keep, 1):
        errors.append(f"{where}: keep_releases must be a whole number of at least 1")
    errors += _check_processes(where, app)
    return errors


# static_url on a CDN: https://cdn.example.com/static/ (the CDN pulls from the origin at the
# URL's path, so the origin serves the files at that path).
STATIC_CDN_URL_RE = re.compile(r"(https?)://([a-z0-9.-]+(?::[0-9]{1,5})?)(/.*)")


def static_url_parts(static_url) -> tuple:
    """(origin or '', path) of a static_url: ('https://cdn.example.com', '/static/') or ('', '/static/')."""
    match = STATIC_CDN_URL_RE.fullmatch(static_url or "")
    if match:
        return f"{match.group(1)}://{match.group(2)}", match.group(3)
    return "", static_url or "/static/"


def _check_static_cdn(where, app) -> list[str]:
    """static_url (a path, or an absolute URL on a CDN) and static_purge."""
    errors = []
    static_url = app.get("static_url")
    if static_url is not None:
        origin, path = static_url_parts(static_url) if isinstance(static_url, str) else ("", None)
        host = origin.split("://", 1)[-1].rsplit(":", 1)[0] if origin else ""
        if (not isinstance(path, str) or not STATIC_URL_RE.fullmatch(path) or "/../" in path or "/./" in path
                or (origin and not is_hostname(host))):
            errors.append(f"{where}: static_url {static_url!r} must be a URL path that starts and ends with / "
                          "(for example /static/), of letters, digits and . _ ~ -, or an absolute http(s) "
                          "URL on a CDN ending with such a path (https://cdn.example.com/static/)")
    purge = app.get("static_purge")
    if purge is not None and (not isinstance(purge, str) or not purge.strip()):
        errors.append(f"{where}: static_purge must be a command line (run as the app after a successful switch)")
    return errors


def _services():
    """plugins/filter/services.py (backing services), also when this file is loaded alone."""
    try:
        from ansible_collections.pyweb.deploy.plugins.filter import services
    except ImportError:
        import importlib.util
        from pathlib import Path
        spec = importlib.util.spec_from_file_location("pyweb_services_filter", Path(__file__).with_name("services.py"))
        services = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(services)
    return services


def _check_services(where: str, app: dict) -> list[str]:
    return _services().check_services(where, app.get("services"), app.get("type"))


def app_errors(apps, allow_local_git=False) -> list[str]:
    """One message per problem in ``apps``; an empty list when it is valid.

    ``allow_local_git`` also accepts ``file:///path`` Git URLs (a repository on the host itself:
    root reads it, so it is off unless the inventory says so)."""
    if apps is None:
        return ["pyweb_apps is not defined: list the apps of this host (see inventories/example)"]
    if not isinstance(apps, list):
        return [f"pyweb_apps must be a list of apps (got {type(apps).__name__})"]
    errors = []
    for index, app in enumerate(apps):
        errors += _check_app(index, app, bool(allow_local_git))
    names: dict[str, int] = {}
    owners: dict[str, str] = {}
    for index, app in enumerate(apps):
        if not isinstance(app, dict):
            continue
        name = app.get("name")
        if isinstance(name, str) and name:
            if name in names:
                errors.append(f"{_label(index, app)}: name {name!r} is already used by pyweb_apps[{names[name]}]")
            names.setdefault(name, index)
        for domain in app.get("domains") or []:
            if not isinstance(domain, str):
                continue
            if domain in owners and owners[domain] != _label(index, app):
                errors.append(f"{_label(index, app)}: domain {domain} is already claimed by {owners[domain]}")
            owners.setdefault(domain, _label(index, app))
    return errors


def apps_normalized(apps, keep_releases=5) -> list[dict]:
    """The apps with every default filled in (call only on a list app_errors accepts)."""
    out = []
    for app in apps:
        kind = app["type"]
        source = dict(app["source"])
        if source.get("git"):
            source.setdefault("version", "HEAD")
            source.setdefault("submodules", False)
            source.setdefault("accept_hostkey", False)
        tls = {"mode": "selfsigned", **(app.get("tls") or {})}
        tls.setdefault("hsts", tls["mode"] != "none")
        tls.setdefault("redirect", tls["mode"] != "none")
        health = {"path": "/", "status": 200, "contains": "", "timeout": 10, "retries": 3,
                  **(app.get("health_check") or {})}
        item = {
            **app,
            "source": source,
            "tls": tls,
            "health_check": health,
            "env": dict(app.get("env") or {}),
            "secret_env": dict(app.get("secret_env") or {}),
            "shared_paths": list(app.get("shared_paths") or []),
            "release_commands": list(app.get("release_commands") or []),
            "keep_releases": app.get("keep_releases", keep_releases),
            "python": app.get("python", "python3"),
            "python_packages": list(app.get("python_packages") or []),
            "services": _services().services_normalized(app.get("services")),
        }
        if kind != "static":
            item.update(_processes_normalized(app))
        if kind == "static":
            for key in ("wsgi_server", "wsgi_app", "requirements"):
                item.pop(key, None)
        else:
            item["requirements"] = app.get("requirements", "requirements.txt")
            item["wsgi_server"] = app.get("wsgi_server") or "gunicorn"
            item["wsgi_app"] = app.get("wsgi_app") or DEFAULT_WSGI_APP.get(kind)
            item.update(_project_fields(app))
        out.append(item)
    return out


def apps_health_checks(apps) -> list[dict]:
    """One health check per domain of each normalized app, holding only what the check needs
    (a loop over the apps themselves would print their secrets with their items at -vvv)."""
    checks = []
    for app in apps:
        health = app["health_check"]
        for domain in app["domains"]:
            checks.append({
                "app": app["name"], "domain": domain, "path": health["path"],
                "scheme": "http" if app["tls"]["mode"] == "none" else "https",
                "status": health["status"], "contains": health["contains"],
                "timeout": health["timeout"], "retries": health["retries"],
            })
    return checks


_SITE_TLS_KEYS = ("mode", "cert", "key", "acme_email", "redirect")


def app_nginx_site(app, app_root="/srv/apps", backend_cert=None, web_server=None, static_dir=None) -> dict:
    """The Nginx site (pyweb.deploy.nginx's nginx_sites item) of one normalized app.

    backend_cert: {cert, key} served instead of a self-signed certificate (the backend
    certificate the load balancers trust). web_server: 127.0.0.1:<port> of a Procfile web process
    of its own (the app role's app_web_servers), forwarded to instead of the WSGI socket.
    static_dir: a Django release's static folder the app role adopted from its settings
    (app_static_dirs), served instead of the app's static_dir."""
    if static_dir and app["type"] == "django":
        app = {**app, "static_dir": static_dir}
    name, kind = app["name"], app["type"]
    base = f"{str(app_root).rstrip('/')}/{name}"
    tls = dict(app.get("tls") or {})
    if backend_cert and tls.get("mode") == "selfsigned":
        tls.update(mode="provided", cert=backend_cert["cert"], key=backend_cert["key"])
    static_dir = (app["build"]["output"] if app.get("build") else app.get("static_dir", "")) or ""
    proxy = "proxy" if app.get("wsgi_server", "gunicorn") == "gunicorn" else "uwsgi"
    site = {"name": name, "domains": list(app["domains"]),
            "tls": {k: tls[k] for k in _SITE_TLS_KEYS if k in tls},
            "hsts": {"enabled": tls.get("hsts", tls.get("mode", "selfsigned") != "none")}}
    if kind == "static":
        site.update(backend="static", root=f"{base}/current/{static_dir}".rstrip("/"))
    elif kind == "django":
        # Django upload forms need more than Nginx's default; an app's own value wins below.
        # symlinks_from: Nginx follows no link below the app's folder (shared/ is the app's).
        site.update(backend=proxy, media_alias={"url": "/media/", "path": f"{base}/shared/media/",
                                                "symlinks_from": base},
                    client_max_body_size="20m")
    else:
        site.update(backend=proxy)
    if web_server and kind != "static":
        site.update(backend="proxy", servers=[{"address": str(web_server), "name": "web"}])
    if kind == "django" or (kind == "flask" and app.get("static_dir") is not None):
        site["static_alias"] = {"url": app.get("static_url") or "/static/",
                                "path": f"{base}/current/{app.get('static_dir') or 'staticfiles'}/",
                                # current is root's own link; none below it is followed
                                "symlinks_from": f"{base}/current"}
        site["static_alias"].update(_static_cdn(app))
    if app.get("client_max_body_size") is not None:
        site["client_max_body_size"] = app["client_max_body_size"]
    site.update(app.get("nginx") or {})
    return site


def _static_cdn(app) -> dict:
    """The static location's url, and for a static_url on another host (a CDN pulling from this
    origin): a short cache for files that are not fingerprinted, and CORS for fonts."""
    origin, path = static_url_parts(app.get("static_url"))
    if not origin:
        return {}
    return {"url": path, "expires": "1h", "cors_fonts": True}


def apps_nginx_sites(apps, app_root="/srv/apps", backend_certs=None, web_servers=None, static_dirs=None) -> list[dict]:
    """Every normalized app's Nginx site, in order (backend_certs: app name -> {cert, key};
    web_servers: app name -> 127.0.0.1:<port> of its Procfile web process of its own;
    static_dirs: app name -> the static folder adopted from a Django release's settings)."""
    certs, web, static = backend_certs or {}, web_servers or {}, static_dirs or {}
    return [app_nginx_site(app, app_root, certs.get(app["name"]), web.get(app["name"]), static.get(app["name"]))
            for app in apps]


class FilterModule:
    """pyweb_apps filters."""

    def filters(self):
        return {"app_errors": app_errors, "apps_normalized": apps_normalized,
                "apps_health_checks": apps_health_checks, "app_nginx_site": app_nginx_site,
                "apps_nginx_sites": apps_nginx_sites}
