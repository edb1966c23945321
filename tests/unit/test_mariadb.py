"""MariaDB: the tuning formula, the environment an app gets, the SQL of service_account and
mariadb_secure (module_utils/mariadb), and the dumps' commands (module_utils/dbbackup)."""
import os
import pwd
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.filter import services  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.filter import apps  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.module_utils import dbbackup, mariadb  # noqa: E402


def test_mariadb_tuning_follows_the_readme_formula():
    # 8 GiB, 25 %: P = 2048 MB
    assert services.mariadb_tuning(8192) == {
        "innodb_buffer_pool_size": "1536M", "innodb_log_file_size": "384M", "tmp_table_size": "32M",
        "max_heap_table_size": "32M", "key_buffer_size": "16M", "max_connections": 100}


def test_mariadb_tuning_floors_caps_and_chunks():
    small = services.mariadb_tuning(512)
    assert small["innodb_buffer_pool_size"] == "128M" and small["innodb_log_file_size"] == "48M"
    assert small["tmp_table_size"] == "16M" and small["key_buffer_size"] == "8M"
    big = services.mariadb_tuning(1024 * 1024, 50, 500)
    assert big["innodb_log_file_size"] == "2048M" and big["tmp_table_size"] == "256M"
    assert big["key_buffer_size"] == "64M" and big["max_connections"] == 500
    # A multiple of InnoDB's 128 MB chunk: 24000 MB at 5 % is P = 1200, 3/4 = 900 -> 896.
    assert services.mariadb_tuning(24000, 5)["innodb_buffer_pool_size"] == "896M"


@pytest.mark.parametrize("memory,percent,connections", [(0, 25, 100), (1024, 0, 100), (1024, 95, 100), (1024, 25, 0)])
def test_mariadb_tuning_refuses_nonsense(memory, percent, connections):
    with pytest.raises(ValueError):
        services.mariadb_tuning(memory, percent, connections)


def app(**services_):
    return {"name": "blog", "type": "flask", "domains": ["blog.example.com"],
            "source": {"git": "https://git.example.com/blog.git"}, "wsgi_app": "blog:app",
            "services": services_}


def test_env_of_a_local_mariadb_goes_over_the_socket():
    spec = app(mariadb={})
    env = services.app_services_env(spec, {"mariadb": "p/w+"})
    assert env["DATABASE_URL"] == ("mysql://blog:p%2Fw%2B@localhost/blog?unix_socket=/run/mysqld/mysqld.sock"
                                   "&charset=utf8mb4")
    assert env["DATABASE_ENGINE"] == "mysql" and env["DATABASE_HOST"] == "/run/mysqld/mysqld.sock"
    assert env["DATABASE_NAME"] == env["DATABASE_USER"] == "blog" and env["DATABASE_PASSWORD"] == "p/w+"
    assert env["DATABASE_PORT"] == "3306"
    secret = services.app_services_env(spec, {"mariadb": "p" * 43}, part="secret")
    assert sorted(secret) == ["DATABASE_PASSWORD", "DATABASE_URL"]
    assert services.app_services_env(app(mariadb={"url": "mysql://u:p@db.example.com/b"}), {}) == {
        "DATABASE_URL": "mysql://u:p@db.example.com/b"}
    assert services.apps_services([spec, app(redis={})]) == ["mariadb", "redis"]


@pytest.mark.parametrize("spec,message", [
    ({"postgresql": {}, "mariadb": {}}, "give postgresql or mariadb, not both"),
    ({"mariadb": {"url": "postgresql://db/x"}}, "services.mariadb.url must be a URL starting with mysql:// or mariadb://"),
    ({"mariadb": {"user": "x"}}, "services.mariadb: unknown field(s) user"),
])
def test_bad_mariadb_services(spec, message):
    errors = apps.app_errors([{**app(), "services": spec}])
    assert any(message in e for e in errors), errors


def test_quoting_and_grant_wildcards():
    assert mariadb.quote_string("it's a \\ test") == "'it\\'s a \\\\ test'"
    assert mariadb.quote_ident("a`b") == "`a``b`"
    # A grant on my_app must not open myxapp: "_" is a wildcard in GRANT.
    assert mariadb.grant_database("my_app") == "my\\_app"


def test_account_sql_creates_the_database_first_and_grants_its_own_only():
    sql, done = mariadb.account_sql("my_app", {"hosts": [], "database": None}, "it's", True)
    assert done == ["database", "user"]
    lines = sql.splitlines()
    assert lines[0] == ("CREATE DATABASE `my_app` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci "
                        "COMMENT 'pyweb.deploy app my_app';")
    assert lines[1] == ("CREATE USER 'my_app'@'localhost' IDENTIFIED VIA mysql_native_password "
                        "USING '*03433C6B3A6A40A98822153A1ABC5C0A8A21B8CB' OR unix_socket;")
    assert "it's" not in sql and "it\\'s" not in sql
    assert lines[2] == "GRANT ALL PRIVILEGES ON `my\\_app`.* TO 'my_app'@'localhost';"
    mine = {"hosts": ["localhost"], "global": ["USAGE"], "schemas": ["my\\_app"], "other": [],
            "database": {"comment": "pyweb.deploy app my_app"}}
    assert mariadb.account_sql("my_app", mine, "x", False) == ("", [])
    sql, done = mariadb.account_sql("my_app", mine, "new", True)
    assert done == ["password"] and sql.startswith("ALTER USER 'my_app'@'localhost' IDENTIFIED VIA")
    sql, done = mariadb.account_sql("my_app", {**mine, "schemas": []}, "x", False)
    assert done == ["grant"] and "GRANT ALL" in sql


def test_native_hash_is_mariadbs_password_function():
    # What SELECT PASSWORD(...) answers on MariaDB (checked on Debian 12's 10.11).
    assert mariadb.native_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
    assert mariadb.native_hash("it's") == "*03433C6B3A6A40A98822153A1ABC5C0A8A21B8CB"


def test_found_is_read_from_hex_rows():
    text = "\n".join([
        "host\t" + b"localhost".hex(), "global\t" + b"USAGE".hex(), "schema\t" + b"blog".hex(),
        "database\t" + b"pyweb.deploy app blog\ttab".hex(), ""])
    found = mariadb.parse_found(text)
    assert found == {"hosts": ["localhost"], "global": ["USAGE"], "schemas": ["blog"], "other": [],
                     "database": {"comment": "pyweb.deploy app blog\ttab"}}
    assert mariadb.parse_found("") == {"hosts": [], "global": [], "schemas": [], "other": [], "database": None}
    sql = mariadb.found_sql("blog")
    assert "GRANTEE = '\\'blog\\'@\\'localhost\\''" in sql and "SCHEMA_COMMENT" in sql


MINE = {"hosts": ["localhost"], "global": ["USAGE"], "schemas": ["blog"], "other": [],
        "database": {"comment": "pyweb.deploy app blog"}}


@pytest.mark.parametrize("found,message", [
    ({**MINE, "hosts": ["%", "localhost"]}, "exists at %, localhost"),
    ({**MINE, "global": ["USAGE", "SUPER", "FILE"]}, "exists with global privileges (FILE, SUPER)"),
    ({**MINE, "schemas": ["blog", "shop"]}, "grants beyond its own database (shop)"),
    ({**MINE, "other": ["proxy"]}, "grants beyond its own database (proxy)"),
    ({**MINE, "database": None}, "MariaDB user 'blog' exists and was not made by pyweb.deploy"),
    ({**MINE, "database": {"comment": ""}}, "MariaDB user 'blog' exists and was not made by pyweb.deploy"),
    ({"hosts": [], "database": {"comment": "an admin's"}}, "MariaDB database 'blog' exists and was not made"),
])
def test_refuses_what_is_not_the_apps(found, message):
    assert message in mariadb.refusal("blog", found)


@pytest.mark.parametrize("found", [
    {"hosts": [], "database": None},
    {"hosts": [], "database": {"comment": "pyweb.deploy app blog"}},
    MINE,
    {**MINE, "schemas": []},
])
def test_accepts_the_apps_own(found):
    assert mariadb.refusal("blog", found) is None


def test_hardening_removes_anonymous_remote_root_and_the_empty_test_database():
    text = "\n".join([
        "user\t" + b"root".hex() + "\t" + b"127.0.0.1".hex(),
        "user\t\t" + b"localhost".hex(),
        "admin\t" + b"root".hex(),
        "testdb\t" + b"test".hex() + "\t" + b"0".hex(),
        "testgrant\t" + b"test\\_%".hex() + "\t\t" + b"%".hex(), ""])
    found = mariadb.parse_hardening(text)
    assert found["users"] == [["root", "127.0.0.1"], ["", "localhost"]] and found["admins"] == ["root"]
    sql, done, warnings = mariadb.hardening_sql(found, ["root"])
    assert sql.splitlines() == [
        "DROP USER 'root'@'127.0.0.1';", "DROP USER ''@'localhost';",
        "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket;", "DROP DATABASE `test`;",
        "DELETE FROM mysql.db WHERE Db IN ('test', 'test\\\\_%');", "FLUSH PRIVILEGES;"]
    assert done[1] == "user (anonymous)@localhost" and warnings == []
    kept = mariadb.hardening_sql({"test_database": {"tables": 3}}, [])
    assert kept[0] == "" and "has 3 table(s): kept" in kept[2][0]
    assert mariadb.hardening_sql(mariadb.parse_hardening("admin\t" + b"root".hex()), []) == ("", [], [])


@pytest.mark.parametrize("text,ok", [
    ("CREATE USER `root`@`localhost` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket", True),
    ("CREATE USER `root`@`localhost` IDENTIFIED VIA unix_socket\n", True),
    ("CREATE USER `root`@`localhost` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'", False),
    ("CREATE USER `root`@`localhost` IDENTIFIED VIA mysql_native_password USING '*24' OR unix_socket", False),
])
def test_root_logs_in_by_unix_socket_only(text, ok):
    assert mariadb.admin_auth_ok(text) is ok


def test_run_sql_sends_the_sql_on_stdin_as_root_over_the_socket():
    seen = {}

    def run(argv, **kwargs):
        seen.update(argv=argv, **kwargs)
        return type("Proc", (), {"returncode": 0, "stdout": "ok", "stderr": ""})()

    assert mariadb.run_sql("SELECT 'secret';", run=run) == "ok"
    assert seen["input"] == "SELECT 'secret';" and "secret" not in " ".join(seen["argv"])
    assert seen["argv"][:2] == ["mariadb", "--no-defaults"] and "--user=root" in seen["argv"]
    assert seen["env"] == mariadb.TOOL_ENV

    def fail(argv, **kwargs):
        return type("Proc", (), {"returncode": 1, "stdout": "", "stderr": "ERROR 1045"})()

    with pytest.raises(RuntimeError, match="ERROR 1045"):
        mariadb.run_sql("x", run=fail)


def test_mariadb_dumps_run_as_the_apps_own_account(tmp_path):
    cmd = dbbackup.dump_command("blog", "mariadb")
    assert cmd[:5] == ["runuser", "-u", "blog", "--", "mariadb-dump"] and cmd[-1] == "blog"
    assert "--single-transaction" in cmd and "--user=blog" in cmd and "--no-defaults" in cmd
    restore = dbbackup.restore_command("blog", "mariadb")
    assert restore[:5] == ["runuser", "-u", "blog", "--", "mariadb"] and "--sandbox" in restore
    assert dbbackup.dump_name("blog", "predeploy", 0, "mariadb") == "blog-19700101T000000Z-predeploy.sql"
    assert dbbackup.dump_engine("/x/blog-19700101T000000Z-predeploy.sql") == "mariadb"
    assert dbbackup.dump_engine("/x/blog-19700101T000000Z-predeploy.pgdump") == "postgresql"
    with pytest.raises(RuntimeError):
        dbbackup.dump_engine("/x/notes.txt")
    for name in ("blog-20260101T000000Z-timer.sql", "blog-20260102T000000Z-timer.pgdump"):
        (tmp_path / name).write_text("x")
    assert [os.path.basename(p) for p in dbbackup.dumps("blog", str(tmp_path), "mariadb")] == [
        "blog-20260101T000000Z-timer.sql"]
    assert len(dbbackup.dumps("blog", str(tmp_path))) == 2
    (tmp_path / ".pyweb").mkdir()
    assert dbbackup.engines_of("blog", str(tmp_path)) == []
    (tmp_path / ".pyweb" / "mariadb_password").write_text("x")
    assert dbbackup.engines_of("blog", str(tmp_path)) == ["mariadb"]


def test_mariadb_restore_feeds_roots_file_to_the_apps_client(tmp_path):
    seen = {}

    def run(cmd, stdin, **kwargs):
        seen.update(cmd=cmd, data=stdin.read())
        return type("Proc", (), {"returncode": 0, "stderr": b""})()

    dump = tmp_path / "blog-20260101T000000Z-manual.sql"
    dump.write_bytes(b"CREATE TABLE t (x int);")
    user = {"blog": pwd.struct_passwd(("blog", "x", 998, 998, "", "/srv/apps/blog", "/usr/sbin/nologin"))}
    dbbackup.restore("blog", str(dump), run=run, getpwnam=user.__getitem__)
    assert seen == {"cmd": dbbackup.restore_command("blog", "mariadb"), "data": b"CREATE TABLE t (x int);"}
    with pytest.raises(RuntimeError, match="is not an app"):
        dbbackup.app_user("mysql")


def test_mariadb_settings_problems_refuses_owned_and_opening_options():
    from ansible_collections.pyweb.deploy.plugins.filter.services import mariadb_settings_problems as problems

    assert problems({"wait_timeout": 600, "innodb-flush-log-at-trx-commit": "2", "character_set_server": "utf8mb4"}) == []
    assert "mariadb_bind_address" in problems({"bind-address": "0.0.0.0"})[0]
    for name in ("skip-grant-tables", "skip_networking", "local-infile", "plugin_load_add", "ssl_ca", "init-file"):
        assert problems({name: 1}), name
    assert problems({"max_allowed_packet": "64M\nskip-grant-tables"})
    assert problems({"log_warnings": "2 ; x"})
    assert "ON or OFF" in problems({"performance_schema": True})[0]
    assert problems({"Bad Name": 1}) and problems(["x"])
