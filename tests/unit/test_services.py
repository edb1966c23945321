"""Backing services: the tuning formulas, the services field, the URLs an app gets, the SQL and
Redis ACL lines of service_account, and the dumps' pruning (module_utils/dbbackup)."""
import importlib.util
import os
import pwd
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


services = load("pyweb_services_filter", "plugins/filter/services.py")
apps = load("pyweb_apps_filter_s", "plugins/filter/apps.py")
account = load("pyweb_service_account", "plugins/modules/service_account.py")
dbbackup = load("pyweb_dbbackup", "plugins/module_utils/dbbackup.py")


def test_postgresql_tuning_follows_the_readme_formula():
    # 8 GiB host, 25 %: P = 2048 MB
    assert services.postgresql_tuning(8192) == {
        "shared_buffers": "512MB", "effective_cache_size": "2048MB",
        "maintenance_work_mem": "128MB", "work_mem": "5MB", "max_connections": 100}


def test_postgresql_tuning_floors_and_caps():
    small = services.postgresql_tuning(512)
    assert small["shared_buffers"] == "32MB" and small["effective_cache_size"] == "128MB"
    assert small["maintenance_work_mem"] == "16MB" and small["work_mem"] == "4MB"
    big = services.postgresql_tuning(1024 * 1024, 50)
    assert big["shared_buffers"] == "8192MB" and big["maintenance_work_mem"] == "1024MB"


@pytest.mark.parametrize("memory,percent", [(0, 25), (1024, 0), (1024, 95)])
def test_tuning_refuses_nonsense(memory, percent):
    with pytest.raises(ValueError):
        services.postgresql_tuning(memory, percent)
    with pytest.raises(ValueError):
        services.redis_tuning(memory, percent)


def test_redis_tuning():
    assert services.redis_tuning(8192) == {"maxmemory": "819mb", "maxmemory_policy": "allkeys-lru"}
    assert services.redis_tuning(100)["maxmemory"] == "32mb"


def app(**services_):
    return {"name": "blog", "type": "django", "domains": ["blog.example.com"],
            "source": {"git": "https://git.example.com/blog.git"}, "wsgi_app": "blog.wsgi:application",
            "services": services_}


def test_services_accepted_and_normalized():
    good = app(postgresql={}, redis=None)
    assert apps.app_errors([good]) == []
    assert apps.apps_normalized([good])[0]["services"] == {"postgresql": {}, "redis": {}}
    assert apps.apps_normalized([{**good, "services": None}])[0]["services"] == {}


@pytest.mark.parametrize("spec,message", [
    ("postgres", "services must be a mapping"),
    ({"postgresql": []}, "services.postgresql must be a mapping"),
    ({"postgresql": {"user": "x"}}, "services.postgresql: unknown field(s) user"),
    ({"redis": {"url": "http://cache"}}, "services.redis.url must be a URL starting with redis://"),
    ({"postgresql": {"url": "postgresql://a b"}}, "without spaces"),
    ({"postgresql": {"url": "postgresql://db/x", "password": "p" * 20}}, "give url or password, not both"),
    ({"redis": {"password": "has a space in it!!"}}, "services.redis.password must be 16 to 128"),
    ({"redis": {"scripting": "yes"}}, "services.redis.scripting must be true or false"),
    ({"redis": {"url": "redis://cache", "scripting": True}}, "services.redis.scripting must be true or false"),
])
def test_bad_services(spec, message):
    errors = apps.app_errors([{**app(), "services": spec}])
    assert any(message in e for e in errors), errors


def test_apps_services_names_only_local_servers():
    listed = [app(redis={}, postgresql={"url": "postgresql://db.example.com/blog"}),
              {**app(postgresql={}), "name": "shop"}, {**app(), "services": {}}]
    assert services.apps_services(listed) == ["postgresql", "redis"]
    assert services.apps_services([app(postgresql={"url": "postgresql://x/y"})]) == []


def test_env_of_local_services():
    env = services.app_services_env(app(postgresql={}, redis={}), {"postgresql": "p/w+", "redis": "r:s"})
    assert env["DATABASE_URL"] == "postgresql://blog:p%2Fw%2B@localhost:5432/blog?sslmode=disable"
    assert env["DATABASE_HOST"] == "/var/run/postgresql" and env["DATABASE_USER"] == "blog"
    assert env["DATABASE_PASSWORD"] == "p/w+" and env["DATABASE_NAME"] == "blog"
    assert env["REDIS_URL"] == "redis://blog:r%3As@127.0.0.1:6379/0"
    assert env["REDIS_KEY_PREFIX"] == "blog"
    tls = services.app_services_env(app(postgresql={}), {"postgresql": "x"}, postgresql_ssl=True)
    assert tls["DATABASE_URL"].endswith("?sslmode=require")


def test_env_parts_keep_the_apps_name_out_of_the_secrets():
    spec = app(postgresql={}, redis={})
    passwords = {"postgresql": "p" * 43, "redis": "r" * 43}
    secret = services.app_services_env(spec, passwords, part="secret")
    public = services.app_services_env(spec, passwords, part="public")
    assert sorted(secret) == ["DATABASE_PASSWORD", "DATABASE_URL", "REDIS_URL"]
    assert {**secret, **public} == services.app_services_env(spec, passwords)
    # No secret value is the app's name alone (Ansible would mask "blog" in every result).
    assert "blog" not in secret.values() and public["DATABASE_NAME"] == "blog"
    with pytest.raises(ValueError):
        services.app_services_env(spec, passwords, part="both")


def test_env_of_external_services_is_the_url_alone():
    env = services.app_services_env(app(postgresql={"url": "postgresql://u:p@db.example.com/b"},
                                        redis={"url": "rediss://cache.example.com"}), {})
    assert env == {"DATABASE_URL": "postgresql://u:p@db.example.com/b",
                   "REDIS_URL": "rediss://cache.example.com", "REDIS_KEY_PREFIX": "blog"}


MINE = {"comment": "pyweb.deploy app blog", "privileged": False}


def test_postgresql_sql_creates_what_is_missing_only():
    sql, done = account.postgresql_sql("blog", {"role": None, "database": None}, "it's", True)
    assert done == ["role", "database"]
    assert "CREATE ROLE \"blog\" LOGIN PASSWORD 'it''s';" in sql
    assert 'CREATE DATABASE "blog" OWNER "blog";' in sql and 'REVOKE ALL ON DATABASE "blog" FROM PUBLIC;' in sql
    # Both are marked as the collection's: only marked ones are changed or dropped later.
    assert "COMMENT ON ROLE \"blog\" IS 'pyweb.deploy app blog';" in sql
    assert "COMMENT ON DATABASE \"blog\" IS 'pyweb.deploy app blog';" in sql
    found = {"role": MINE, "database": {"comment": "pyweb.deploy app blog", "owner": "blog"}}
    assert account.postgresql_sql("blog", found, "x", False) == ("", [])
    found = {"role": MINE, "database": {"comment": "pyweb.deploy app blog", "owner": "postgres"}}
    sql, done = account.postgresql_sql("blog", found, "x", True)
    assert done == ["password", "owner"] and "ALTER ROLE" in sql and "OWNER TO" in sql


def test_postgresql_found_sql_quotes_the_name():
    sql = account.postgresql_found_sql("blog")
    assert "rolname = 'blog'" in sql and "datname = 'blog'" in sql and "rolsuper" in sql


@pytest.mark.parametrize("found,message", [
    ({"role": {"comment": None, "privileged": True}, "database": None}, "exists with privileges"),
    ({"role": {"comment": "pyweb.deploy app blog", "privileged": True}, "database": None}, "exists with privileges"),
    ({"role": {"comment": None, "privileged": False}, "database": None}, "role 'blog' exists and was not made by pyweb.deploy"),
    ({"role": {"comment": "pyweb.deploy app shop", "privileged": False}, "database": None}, "not made by pyweb.deploy"),
    ({"role": None, "database": {"comment": None, "owner": "postgres"}}, "database 'blog' exists and was not made"),
    ({"role": None, "database": {"comment": None, "owner": "blog"}}, "database 'blog' exists and was not made"),
    ({"role": MINE, "database": {"comment": "an admin's", "owner": "admin"}}, "database 'blog' exists and was not made"),
])
def test_postgresql_refuses_what_is_not_the_apps(found, message):
    assert message in account.postgresql_refusal("blog", found)


@pytest.mark.parametrize("found", [
    {"role": None, "database": None},
    {"role": MINE, "database": None},
    {"role": MINE, "database": {"comment": "pyweb.deploy app blog", "owner": "blog"}},
    # The app owns its database and may change its comment: still its own.
    {"role": MINE, "database": {"comment": "the app's own words", "owner": "blog"}},
    {"role": None, "database": {"comment": "pyweb.deploy app blog", "owner": "postgres"}},
])
def test_postgresql_accepts_the_apps_own(found):
    assert account.postgresql_refusal("blog", found) is None


def test_redis_acl_keeps_other_apps_and_the_default_off():
    line = account.redis_acl_line("blog", "secret")
    assert line.startswith("user blog on #2bb80d53") and "~blog:*" in line and "-@dangerous" in line
    # Not in Redis 7.0's @dangerous, and not limited by the key patterns: other apps' key and
    # channel names, the server's scripts and functions.
    rules = line.split()
    for denied in ("-scan", "-randomkey", "-keys", "-pubsub|channels", "-pubsub|shardchannels",
                   "-pubsub|numsub", "-script|flush", "-function"):
        assert denied in rules and rules.index(denied) > rules.index("+@all"), denied
    # no Lua unless the app asks for it (services.redis.scripting)
    assert "-@scripting" in rules and rules.index("-@scripting") > rules.index("+@all")
    assert "-@scripting" not in account.redis_acl_line("blog", "secret", scripting=True).split()
    text = account.redis_acl_merge("user default on nopass ~* +@all\nuser shop on #ab ~shop:*\n", "blog", line)
    assert text.splitlines() == [account.DEFAULT_ACL, line, "user shop on #ab ~shop:*"]
    assert account.redis_acl_merge(text, "blog", line) == text
    assert account.redis_acl_merge(text, "blog", None).splitlines() == [account.DEFAULT_ACL, "user shop on #ab ~shop:*"]


def test_dump_names_and_pruning(tmp_path):
    day = 86400
    now = 1_800_000_000.0
    names = [dbbackup.dump_name("blog", "timer", now - n * day) for n in (40, 35, 3, 2, 1, 0)]
    for name in names + ["shop-20260101T000000Z-timer.pgdump", "blog-notes.txt"]:
        (tmp_path / name).write_text("x")
    found = dbbackup.dumps("blog", str(tmp_path))
    assert [os.path.basename(p) for p in found] == names
    assert dbbackup.dump_time(found[-1]) == now
    gone = dbbackup.to_prune(found, keep=4, max_age_days=30, now=now)
    assert [os.path.basename(p) for p in gone] == names[:2]
    gone = dbbackup.to_prune(found, keep=10, max_age_days=30, now=now)
    assert [os.path.basename(p) for p in gone] == names[:2]
    assert dbbackup.to_prune(found, keep=10, max_age_days=0, now=now) == []
    # The newest dump stays, however old.
    assert dbbackup.to_prune(found[:1], keep=3, max_age_days=1, now=now) == []


def test_dump_writes_root_only_and_leaves_nothing_when_it_fails(tmp_path):
    class Proc:
        def __init__(self, rc):
            self.returncode, self.stderr = rc, b"boom"

    def ok(cmd, stdout, **kwargs):
        # The app's own user runs pg_dump (not the superuser), with none of root's environment;
        # root's open file is its standard output.
        assert cmd[:5] == ["runuser", "-u", "blog", "--", "pg_dump"] and cmd[-2:] == ["-d", "blog"]
        assert kwargs["env"] == dbbackup.TOOL_ENV
        stdout.write(b"PGDMP")
        return Proc(0)

    def user(name):
        return pwd.struct_passwd((name, "x", 998, 998, "", "/srv/apps/" + name, "/usr/sbin/nologin"))

    folder = tmp_path / "backups" / "blog"
    if os.geteuid() != 0:
        pytest.skip("the backup folder is chowned to root")
    path = dbbackup.dump("blog", str(folder), "manual", now=0, run=ok, getpwnam=user)
    assert Path(path).read_bytes() == b"PGDMP" and (os.stat(path).st_mode & 0o777) == 0o600
    assert (os.stat(folder).st_mode & 0o777) == 0o700
    with pytest.raises(RuntimeError, match="boom"):
        dbbackup.dump("blog", str(folder), "manual", now=60, run=lambda cmd, stdout, **_: Proc(1), getpwnam=user)
    assert sorted(os.listdir(folder)) == [os.path.basename(path)]


def test_restore_runs_as_the_app_user_in_one_transaction(tmp_path):
    cmd = dbbackup.restore_command("blog")
    assert cmd[:5] == ["runuser", "-u", "blog", "--", "pg_restore"]
    assert "--single-transaction" in cmd and "--no-owner" in cmd and cmd[-2:] == ["-d", "blog"]
    seen = {}

    def run(cmd, stdin, **kwargs):
        seen.update(cmd=cmd, data=stdin.read(), env=kwargs["env"])
        return type("Proc", (), {"returncode": 0, "stderr": b""})()

    dump = tmp_path / "blog-20260101T000000Z-manual.pgdump"
    dump.write_bytes(b"PGDMP")
    user = {"blog": pwd.struct_passwd(("blog", "x", 998, 998, "", "/srv/apps/blog", "/usr/sbin/nologin"))}
    dbbackup.restore("blog", str(dump), run=run, getpwnam=user.__getitem__)
    assert seen == {"cmd": cmd, "data": b"PGDMP", "env": dbbackup.TOOL_ENV}


@pytest.mark.parametrize("app,message", [
    ("postgres", "is not an app"),
    ("root", "is not an app"),
    ("Blog; x", "is not an app"),
    ("ghost", "no unix user 'ghost'"),
    ("toor", "is root"),
])
def test_dumps_never_run_as_a_privileged_or_missing_user(tmp_path, app, message):
    users = {"toor": pwd.struct_passwd(("toor", "x", 0, 0, "", "/root", "/bin/sh"))}

    def run(*_, **__):
        raise AssertionError("nothing may run")

    with pytest.raises(RuntimeError, match=message):
        dbbackup.dump(app, str(tmp_path / "b"), "manual", run=run, getpwnam=users.__getitem__)
    with pytest.raises(RuntimeError, match=message):
        dbbackup.restore(app, str(tmp_path / "none"), run=run, getpwnam=users.__getitem__)
    assert not (tmp_path / "b").exists()


# Memcached (issue 18): each app's own instance on a socket, or external servers.
def test_memcached_tuning_follows_the_readme_formula():
    assert services.memcached_tuning(8192) == {"memory_mb": 409}
    assert services.memcached_tuning(8192, 10) == {"memory_mb": 819}
    assert services.memcached_tuning(200) == {"memory_mb": 16}
    assert services.memcached_tuning(4 * 1024 * 1024, 90) == {"memory_mb": 65536}
    for memory, percent in [(0, 5), (1024, 0), (1024, 95)]:
        with pytest.raises(ValueError):
            services.memcached_tuning(memory, percent)


def test_memcached_env_is_the_apps_own_socket_or_the_servers_given():
    assert services.app_services_env(app(memcached={}), {}) == {
        "MEMCACHED_SERVERS": "unix:/run/memcached-blog/memcached.sock"}
    external = app(memcached={"servers": ["10.0.0.5:11211", "[::1]:11212"]})
    assert services.app_services_env(external, {}) == {"MEMCACHED_SERVERS": "10.0.0.5:11211,[::1]:11212"}
    one = app(memcached={"servers": "cache.example.com:11211, unix:/run/mc.sock"})
    assert services.app_services_env(one, {})["MEMCACHED_SERVERS"] == "cache.example.com:11211,unix:/run/mc.sock"
    # Not a secret: in the public part.
    assert services.app_services_env(app(memcached={}, redis={}), {"redis": "r" * 20}, part="public") == {
        "MEMCACHED_SERVERS": "unix:/run/memcached-blog/memcached.sock", "REDIS_KEY_PREFIX": "blog"}


def test_memcached_is_a_local_server_only_without_servers():
    assert services.apps_services([app(memcached={})]) == ["memcached"]
    assert services.apps_services([app(memcached={"servers": "cache:11211"})]) == []
    listed = [app(memcached={}), {**app(memcached={"servers": ["cache:11211"]}), "name": "shop"},
              {**app(redis={}), "name": "wiki"}, {**app(), "services": None, "name": "docs"}]
    assert services.apps_without_memcached(listed) == ["shop", "wiki", "docs"]


def test_memcached_field_accepted():
    assert apps.app_errors([app(memcached={})]) == []
    assert apps.app_errors([app(memcached=None, postgresql={})]) == []
    assert apps.app_errors([app(memcached={"servers": ["cache.example.com:11211", "unix:/run/mc.sock"]})]) == []


@pytest.mark.parametrize("spec,message", [
    ({"memcached": {"url": "memcache://x"}}, "services.memcached: unknown field(s) url (known: servers)"),
    ({"memcached": {"servers": []}}, "services.memcached.servers must be host:port"),
    ({"memcached": {"servers": "a b:1"}}, "services.memcached.servers must be host:port"),
    ({"memcached": {"servers": [11211]}}, "services.memcached.servers must be host:port"),
    ({"memcached": "yes"}, "services.memcached must be a mapping"),
])
def test_bad_memcached(spec, message):
    errors = apps.app_errors([{**app(), "services": spec}])
    assert any(message in e for e in errors), errors
