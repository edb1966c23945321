# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backing services (PostgreSQL, MariaDB, Redis, Memcached) of the apps: checks, tuning, and the URLs an app gets.

``memory_mb | pyweb.deploy.postgresql_tuning(percent)``, ``memory_mb |
pyweb.deploy.mariadb_tuning(percent)`` and ``memory_mb | pyweb.deploy.redis_tuning(percent)`` turn the host's memory into the servers' settings (the
formulas are in the roles' READMEs). ``apps | pyweb.deploy.apps_services`` names the servers the
host must run; ``app | pyweb.deploy.app_services_env(passwords)`` is the environment an app gets.
"""
from __future__ import annotations

import re
from urllib.parse import quote

ENGINES = ("postgresql", "mariadb", "redis")
SERVICE_FIELDS = {
    "postgresql": {"url", "password"},
    "mariadb": {"url", "password"},
    "redis": {"url", "password", "scripting"},
}
URL_SCHEMES = {
    "postgresql": ("postgres://", "postgresql://"),
    "mariadb": ("mysql://", "mariadb://"),
    "redis": ("redis://", "rediss://", "unix://"),
}
# The environment variables each service sets (the README's "Databases and caches").
ENV_NAMES = {
    "postgresql": ("DATABASE_URL", "DATABASE_ENGINE", "DATABASE_NAME", "DATABASE_USER",
                   "DATABASE_PASSWORD", "DATABASE_HOST", "DATABASE_PORT"),
    "mariadb": ("DATABASE_URL", "DATABASE_ENGINE", "DATABASE_NAME", "DATABASE_USER",
                "DATABASE_PASSWORD", "DATABASE_HOST", "DATABASE_PORT"),
    "redis": ("REDIS_URL", "REDIS_KEY_PREFIX"),
}
# The unix socket of Debian's MariaDB, where the apps on the host connect (MARIADB_SOCKET in
# module_utils/mariadb.py and module_utils/dbbackup.py).
MARIADB_SOCKET = "/run/mysqld/mysqld.sock"
PASSWORD_RE = re.compile(r"[!-~]{16,128}")
# The variables that hold a password (or a URL that may): the app's secret environment. The
# others (the app's name as database, user and key prefix, the socket, the port) are public:
# as no_log values Ansible would mask every occurrence of the app's name in the results of the
# modules that take them (a virtualenv path became /srv/apps/********/venvs/...).
SECRET_ENV_NAMES = ("DATABASE_URL", "DATABASE_PASSWORD", "REDIS_URL")

# Memcached: no accounts nor passwords (it has no per-key access control), so each app that asks
# for it gets its own instance, memcached@<app>, on a unix socket in a folder only the app's group
# may enter (roles/memcached). ``servers`` names external ones instead.
ENGINES += ("memcached",)
SERVICE_FIELDS.update(memcached={"servers"})
ENV_NAMES.update(memcached=("MEMCACHED_SERVERS",))
MEMCACHED_SERVER_RE = re.compile(
    r"unix:/[^\s,;]+|/[^\s,;]+|[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def memcached_socket(app: str) -> str:
    """The socket of the app's own memcached (memcached@<app>.service)."""
    return f"/run/memcached-{app}/memcached.sock"


def _mb(value: float) -> str:
    return f"{max(int(value), 1)}MB"


def postgresql_tuning(memory_mb, percent=25, max_connections=100) -> dict:
    """PostgreSQL's memory settings from the host's memory.

    P = memory_mb * percent / 100 is what PostgreSQL may plan for (the rest is the apps' and the
    page cache's). shared_buffers = P / 4 (32 MB to 8 GB); effective_cache_size = P (at least
    128 MB: the page cache PostgreSQL can count on); maintenance_work_mem = P / 16 (16 MB to 1 GB);
    work_mem = P / (4 * max_connections) (at least 4 MB)."""
    memory = int(memory_mb)
    if memory <= 0 or not 1 <= int(percent) <= 90:
        raise ValueError(f"postgresql_tuning: memory_mb must be positive and percent 1-90 (got {memory_mb}, {percent})")
    plan = memory * int(percent) / 100
    return {
        "shared_buffers": _mb(min(max(plan / 4, 32), 8192)),
        "effective_cache_size": _mb(max(plan, 128)),
        "maintenance_work_mem": _mb(min(max(plan / 16, 16), 1024)),
        "work_mem": _mb(max(plan / (4 * int(max_connections)), 4)),
        "max_connections": int(max_connections),
    }


def redis_tuning(memory_mb, percent=10) -> dict:
    """Redis's maxmemory: memory_mb * percent / 100, at least 32 MB; past it the least recently
    used keys are evicted (a cache, not a store of record)."""
    memory = int(memory_mb)
    if memory <= 0 or not 1 <= int(percent) <= 90:
        raise ValueError(f"redis_tuning: memory_mb must be positive and percent 1-90 (got {memory_mb}, {percent})")
    return {"maxmemory": _mb(max(memory * int(percent) / 100, 32)).replace("MB", "mb"),
            "maxmemory_policy": "allkeys-lru"}


def mariadb_tuning(memory_mb, percent=25, max_connections=100) -> dict:
    """MariaDB's memory settings from the host's memory.

    P = memory_mb * percent / 100 is what MariaDB may use. innodb_buffer_pool_size = 3/4 of P,
    rounded down to a multiple of 128 MB (InnoDB's chunk), at least 128 MB; innodb_log_file_size
    = a quarter of the buffer pool, 48 MB to 2 GB; tmp_table_size = max_heap_table_size = P / 64,
    16 MB to 256 MB; key_buffer_size (MyISAM's indexes: the system tables only) = P / 128,
    8 MB to 64 MB."""
    memory = int(memory_mb)
    if memory <= 0 or not 1 <= int(percent) <= 90 or int(max_connections) < 1:
        raise ValueError(f"mariadb_tuning: memory_mb must be positive, percent 1-90 and max_connections "
                         f"at least 1 (got {memory_mb}, {percent}, {max_connections})")
    plan = memory * int(percent) / 100
    pool = max(int(plan * 3 / 4) // 128 * 128, 128)
    tmp = _mb(min(max(plan / 64, 16), 256))
    return {
        "innodb_buffer_pool_size": f"{pool}M",
        "innodb_log_file_size": f"{min(max(pool // 4, 48), 2048)}M",
        "tmp_table_size": tmp.replace("MB", "M"),
        "max_heap_table_size": tmp.replace("MB", "M"),
        "key_buffer_size": _mb(min(max(plan / 128, 8), 64)).replace("MB", "M"),
        "max_connections": int(max_connections),
    }


def memcached_tuning(memory_mb, percent=5) -> dict:
    """One memcached instance's memory (-m): memory_mb * percent / 100, 16 MB to 64 GB. Each app's
    instance may grow to it; memcached takes its memory as items arrive, not at start."""
    memory = int(memory_mb)
    if memory <= 0 or not 1 <= int(percent) <= 90:
        raise ValueError(f"memcached_tuning: memory_mb must be positive and percent 1-90 (got {memory_mb}, {percent})")
    return {"memory_mb": min(max(int(memory * int(percent) / 100), 16), 65536)}


def memcached_servers(servers) -> list[str]:
    """``services.memcached.servers`` as a list (a string may hold several, comma-separated)."""
    if isinstance(servers, str):
        return [part.strip() for part in servers.split(",") if part.strip()]
    return list(servers or [])


def _check_memcached(where: str, spec: dict) -> list[str]:
    errors = []
    unknown = sorted(set(spec) - SERVICE_FIELDS["memcached"])
    if unknown:
        errors.append(f"{where}: services.memcached: unknown field(s) {', '.join(unknown)} (known: servers)")
    if "servers" in spec:
        servers = spec["servers"]
        good = isinstance(servers, (str, list)) and all(isinstance(s, str) for s in servers)
        listed = memcached_servers(servers) if good else []
        if not listed or not all(MEMCACHED_SERVER_RE.fullmatch(s) for s in listed):
            errors.append(f"{where}: services.memcached.servers must be host:port, [v6]:port or "
                          "unix:/path entries (a list, or one string, comma-separated)")
    return errors


def apps_without_memcached(apps) -> list[str]:
    """The apps whose memcached instance this host must not run (no local memcached asked)."""
    return [app["name"] for app in apps or []
            if "memcached" not in (app.get("services") or {})
            or ((app.get("services") or {}).get("memcached") or {}).get("servers")]


# The mariadb role's own settings, and those that would open the server (a typo must not become a
# hole): mariadb_settings refuses them, naming the variable that owns them where there is one.
MARIADB_OWNED = {
    "bind_address": "mariadb_bind_address", "port": "mariadb_port", "skip_networking": "",
    "skip_grant_tables": "", "local_infile": "", "symbolic_links": "", "secure_file_priv": "",
    "require_secure_transport": "mariadb_require_secure_transport", "init_file": "",
    "init_connect": "", "plugin_load": "", "plugin_load_add": "", "general_log": "",
    "general_log_file": "", "sql_mode": "", "skip_name_resolve": "", "user": "",
    "max_connections": "mariadb_max_connections",
}
MARIADB_OWNED_PREFIXES = ("ssl", "tls_")
MARIADB_NAME_RE = re.compile(r"[a-z][a-z0-9_-]*")
MARIADB_VALUE_RE = re.compile(r"[A-Za-z0-9_.,:/+@%=-]{1,256}")


def mariadb_settings_problems(settings) -> list[str]:
    """What is wrong with ``mariadb_settings`` (empty: nothing): names that are not option names,
    options the role owns or that would open the server, values that are not one plain word."""
    if not isinstance(settings, dict):
        return ["mariadb_settings must be a mapping of option names to values"]
    problems = []
    for name, value in settings.items():
        if not isinstance(name, str) or not MARIADB_NAME_RE.fullmatch(name):
            problems.append(f"mariadb_settings: {name!r} is not an option name ([a-z0-9_-])")
            continue
        key = name.replace("-", "_")
        if key in MARIADB_OWNED or key.startswith(MARIADB_OWNED_PREFIXES):
            owner = MARIADB_OWNED.get(key, "")
            problems.append(f"mariadb_settings: {name} is the role's own or would open the server"
                            + (f": set {owner}" if owner else ": it is refused"))
            continue
        if isinstance(value, bool):
            problems.append(f"mariadb_settings: {name}: write ON or OFF (quoted), not a YAML boolean")
        elif not isinstance(value, (str, int, float)) or not MARIADB_VALUE_RE.fullmatch(str(value)):
            problems.append(f"mariadb_settings: {name}'s value must be one word of letters, digits "
                            "and _.,:/+@%=- (no spaces, quotes or control characters)")
    return problems


def check_services(where: str, services, kind=None) -> list[str]:
    """The problems of one app's ``services`` field (app_errors calls this)."""
    if services is None:
        return []
    if not isinstance(services, dict):
        return [f"{where}: services must be a mapping such as {{postgresql: {{}}, redis: {{}}}}"]
    errors = []
    if "postgresql" in services and "mariadb" in services:
        errors.append(f"{where}: services: give postgresql or mariadb, not both (both set DATABASE_URL)")
    if kind == "static" and services:
        errors.append(f"{where}: services are for django and flask apps")
    for engine, spec in services.items():
        if engine not in ENGINES:
            errors.append(f"{where}: services: unknown service {engine!r} (known: {', '.join(ENGINES)})")
            continue
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            errors.append(f"{where}: services.{engine} must be a mapping ({{}} for the host's own server)")
            continue
        if engine == "memcached":
            errors += _check_memcached(where, spec)
            continue
        unknown = sorted(set(spec) - SERVICE_FIELDS[engine])
        if unknown:
            errors.append(f"{where}: services.{engine}: unknown field(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(SERVICE_FIELDS[engine]))})")
        # A url or password given as null is refused (not taken for "none given").
        url = spec.get("url")
        if "url" in spec and (not isinstance(url, str) or not url.startswith(URL_SCHEMES[engine])
                              or any(c.isspace() for c in url)):
            errors.append(f"{where}: services.{engine}.url must be a URL starting with "
                          f"{' or '.join(URL_SCHEMES[engine])}, without spaces")
        if "scripting" in spec and (not isinstance(spec["scripting"], bool) or "url" in spec):
            errors.append(f"{where}: services.{engine}.scripting must be true or false, for the host's own "
                          "Redis (no url)")
        password = spec.get("password")
        if "password" in spec:
            if "url" in spec:
                errors.append(f"{where}: services.{engine}: give url or password, not both")
            elif not isinstance(password, str) or not PASSWORD_RE.fullmatch(password):
                errors.append(f"{where}: services.{engine}.password must be 16 to 128 printable "
                              "ASCII characters without spaces (put it in a vault)")
    return errors


def services_normalized(services) -> dict:
    """``services`` with each engine's mapping filled in (None -> {})."""
    return {engine: dict(spec or {}) for engine, spec in (services or {}).items()}


def apps_services(apps) -> list[str]:
    """The servers this host runs for its apps: the engines some app uses without a url."""
    wanted = set()
    for app in apps or []:
        for engine, spec in (app.get("services") or {}).items():
            if not (spec or {}).get("url") and not (spec or {}).get("servers"):
                wanted.add(engine)
    return [engine for engine in ENGINES if engine in wanted]


def app_services_env(app, passwords=None, postgresql_port=5432, postgresql_ssl=False,
                     postgresql_socket_dir="/var/run/postgresql", redis_port=6379, part="all",
                     mariadb_socket=MARIADB_SOCKET, mariadb_port=3306) -> dict:
    """The environment variables of one app's services.

    ``passwords`` maps an engine to the app's password on this host (read from its root-only
    file). An engine with a ``url`` gives that URL alone. ``part``: ``secret`` (the variables of
    SECRET_ENV_NAMES, which hold passwords), ``public`` (the others) or ``all``."""
    if part not in ("all", "secret", "public"):
        raise ValueError(f"app_services_env: part must be all, secret or public (got {part!r})")
    env = _services_env(app, passwords or {}, postgresql_port, postgresql_ssl, postgresql_socket_dir, redis_port)
    env.update(_mariadb_env(app, passwords or {}, mariadb_socket, mariadb_port))
    if part == "all":
        return env
    return {k: v for k, v in env.items() if (k in SECRET_ENV_NAMES) == (part == "secret")}


def _services_env(app, passwords, postgresql_port, postgresql_ssl, postgresql_socket_dir, redis_port) -> dict:
    name = app["name"]
    env = {}
    services = app.get("services") or {}
    if "postgresql" in services:
        spec = services["postgresql"] or {}
        if spec.get("url"):
            env["DATABASE_URL"] = spec["url"]
        else:
            password = passwords["postgresql"]
            sslmode = "require" if postgresql_ssl else "disable"
            env.update({
                "DATABASE_URL": f"postgresql://{name}:{quote(password, safe='')}@localhost:"
                                f"{int(postgresql_port)}/{name}?sslmode={sslmode}",
                # Django's DATABASES from separate variables: the socket, peer authentication as
                # the app's own unix user (the password is there for clients that send one).
                "DATABASE_ENGINE": "postgresql",
                "DATABASE_NAME": name,
                "DATABASE_USER": name,
                "DATABASE_PASSWORD": password,
                "DATABASE_HOST": postgresql_socket_dir,
                "DATABASE_PORT": str(int(postgresql_port)),
            })
    if "redis" in services:
        spec = services["redis"] or {}
        if spec.get("url"):
            env["REDIS_URL"] = spec["url"]
        else:
            password = passwords["redis"]
            env["REDIS_URL"] = f"redis://{name}:{quote(password, safe='')}@127.0.0.1:{int(redis_port)}/0"
        # The app's ACL user may touch only keys (and channels) that start with "<app>:".
        env["REDIS_KEY_PREFIX"] = name
    if "memcached" in services:
        # pymemcache's HashClient (Django's PyMemcacheCache) reads unix:/path, host:port, [v6]:port;
        # Django splits LOCATION on commas.
        servers = (services["memcached"] or {}).get("servers")
        env["MEMCACHED_SERVERS"] = ",".join(memcached_servers(servers)) if servers else "unix:" + memcached_socket(name)
    return env


def _mariadb_env(app, passwords, socket, port) -> dict:
    spec = (app.get("services") or {}).get("mariadb")
    if spec is None and "mariadb" not in (app.get("services") or {}):
        return {}
    spec = spec or {}
    if spec.get("url"):
        return {"DATABASE_URL": spec["url"]}
    name, password = app["name"], passwords["mariadb"]
    # Over the unix socket (libmysqlclient, PyMySQL, SQLAlchemy and dj-database-url read
    # unix_socket): the account is name@localhost only, and TLS or require_secure_transport on
    # TCP never stands in the way of the apps on the host.
    return {
        "DATABASE_URL": f"mysql://{name}:{quote(password, safe='')}@localhost/{name}"
                        f"?unix_socket={quote(socket, safe='/')}&charset=utf8mb4",
        # Django's DATABASES (ENGINE django.db.backends.mysql): a HOST starting with / is the socket.
        "DATABASE_ENGINE": "mysql",
        "DATABASE_NAME": name,
        "DATABASE_USER": name,
        "DATABASE_PASSWORD": password,
        "DATABASE_HOST": socket,
        "DATABASE_PORT": str(int(port)),
    }


class FilterModule:
    def filters(self):
        return {
            "postgresql_tuning": postgresql_tuning,
            "mariadb_tuning": mariadb_tuning,
            "mariadb_settings_problems": mariadb_settings_problems,
            "redis_tuning": redis_tuning,
            "memcached_tuning": memcached_tuning,
            "apps_without_memcached": apps_without_memcached,
            "apps_services": apps_services,
            "app_services_env": app_services_env,
        }
