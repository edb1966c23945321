"""pyweb.deploy.exporter_accounts: the exporters' accounts in PostgreSQL, MariaDB and Redis, with
the least privilege, and the accounts of that name it refuses to take over."""
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.modules import exporter_accounts as ea  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.modules import redis_admin as ra  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.modules import service_account as sa  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.module_utils import redisacl  # noqa: E402

OURS = {"comment": ea.MARKER, "privileged": False, "login": True, "password": False, "member_of": ["pg_monitor"]}


# ---- PostgreSQL

def test_postgresql_role_is_made_without_password_in_pg_monitor_only():
    sql = ea.pg_sql("prometheus", None)
    assert sql.splitlines() == ['CREATE ROLE "prometheus" LOGIN;',
                                "COMMENT ON ROLE \"prometheus\" IS 'pyweb.deploy exporter';",
                                'GRANT pg_monitor TO "prometheus";']
    assert "PASSWORD" not in sql and "SUPERUSER" not in sql


def test_postgresql_role_as_wanted_needs_nothing():
    assert ea.pg_sql("prometheus", OURS) == ""
    assert ea.pg_refusal("prometheus", OURS) is None


def test_postgresql_role_made_by_hand_as_debian_says_is_taken_over():
    # Debian's README.Debian: CREATE USER prometheus; GRANT pg_monitor TO prometheus (peer, no password).
    by_hand = {"comment": None, "privileged": False, "login": True, "password": False, "members": 0, "objects": 0,
               "member_of": []}
    assert ea.pg_refusal("prometheus", by_hand) is None
    assert ea.pg_sql("prometheus", by_hand).splitlines() == [
        "COMMENT ON ROLE \"prometheus\" IS 'pyweb.deploy exporter';", 'GRANT pg_monitor TO "prometheus";']
    assert ea.pg_sql("prometheus", {**OURS, "login": False}) == 'ALTER ROLE "prometheus" LOGIN;'
    # Ours, with a password someone set since: dropped.
    assert ea.pg_refusal("prometheus", {**OURS, "password": True}) is None
    assert ea.pg_sql("prometheus", {**OURS, "password": True}) == 'ALTER ROLE "prometheus" PASSWORD NULL;'


def test_postgresql_refuses_someone_elses_role_with_a_password_members_or_objects():
    by_hand = {"comment": None, "privileged": False, "login": True, "password": False, "members": 0, "objects": 0,
               "member_of": ["pg_monitor"]}
    assert "has a password and is not the exporter's" in ea.pg_refusal("prometheus", {**by_hand, "password": True})
    assert "has members and" in ea.pg_refusal("prometheus", {**by_hand, "comment": "admin's", "members": 2})
    assert "has objects or privileges and" in ea.pg_refusal("prometheus", {**by_hand, "objects": 3})


def test_postgresql_refuses_a_privileged_role_an_apps_role_and_other_memberships():
    assert "superuser" in ea.pg_refusal("prometheus", {**OURS, "privileged": True})
    assert "an app's" in ea.pg_refusal("prometheus", {**OURS, "comment": "pyweb.deploy app prometheus"})
    assert "member of blog" in ea.pg_refusal("prometheus", {**OURS, "member_of": ["blog", "pg_monitor"]})


def test_postgresql_found_sql_reads_the_role_by_its_quoted_name():
    sql = ea.pg_found_sql("o'brien")
    assert "r.rolname = 'o''brien'" in sql and "rolpassword IS NOT NULL" in sql and "pg_auth_members" in sql
    assert "m.roleid = r.oid" in sql and "pg_shdepend" in sql


# ---- MariaDB

def rows(*lines):
    return "".join("\t".join([key] + [value.encode().hex().upper() for value in values]) + "\n"
                   for key, *values in lines)


def test_mariadb_user_is_made_by_unix_socket_with_slave_monitor_only():
    found = ea.my_parse("")
    assert ea.my_refusal("prometheus", found) is None
    assert ea.my_sql("prometheus", found).splitlines() == [
        "CREATE USER 'prometheus'@'localhost' IDENTIFIED VIA unix_socket;",
        "GRANT SLAVE MONITOR ON *.* TO 'prometheus'@'localhost';"]
    assert "PROCESS" not in ea.my_sql("prometheus", found)


def test_mariadb_user_as_wanted_needs_nothing():
    # information_schema may name SLAVE MONITOR "REPLICA MONITOR".
    found = ea.my_parse(rows(("host", "localhost", "unix_socket", "", ""), ("global", "REPLICA MONITOR")))
    assert found["global"] == ["SLAVE MONITOR"]
    assert ea.my_refusal("prometheus", found) is None
    assert ea.my_sql("prometheus", found) == ""


def test_mariadb_user_of_an_earlier_run_loses_process():
    found = ea.my_parse(rows(("host", "localhost", "unix_socket", "", ""), ("global", "PROCESS"),
                             ("global", "SLAVE MONITOR")))
    assert ea.my_refusal("prometheus", found) is None
    assert ea.my_sql("prometheus", found) == "REVOKE PROCESS ON *.* FROM 'prometheus'@'localhost';"


def test_mariadb_user_without_password_or_grant_is_fixed():
    # CREATE USER prometheus@localhost (anyone could log in as it): unix_socket only from now on.
    found = ea.my_parse(rows(("host", "localhost", "mysql_native_password", "", "")))
    assert ea.my_refusal("prometheus", found) is None
    assert ea.my_sql("prometheus", found).splitlines() == [
        "ALTER USER 'prometheus'@'localhost' IDENTIFIED VIA unix_socket;",
        "GRANT SLAVE MONITOR ON *.* TO 'prometheus'@'localhost';"]


def test_mariadb_refuses_a_user_elsewhere_with_a_password_or_with_more_privileges():
    elsewhere = ea.my_parse(rows(("host", "localhost", "unix_socket", "", ""), ("host", "%", "mysql_native_password", "", "")))
    assert "exists at %, localhost" in ea.my_refusal("prometheus", elsewhere)
    password = ea.my_parse(rows(("host", "localhost", "mysql_native_password", "", "password")))
    assert "has a password" in ea.my_refusal("prometheus", password)
    either = ea.my_parse(rows(("host", "localhost", "unix_socket", "or", "")))
    assert "has a password (or another way in" in ea.my_refusal("prometheus", either)
    select_all = ea.my_parse(rows(("host", "localhost", "unix_socket", "", ""), ("global", "PROCESS"), ("global", "SELECT")))
    assert "beyond the exporter's (SELECT)" in ea.my_refusal("prometheus", select_all)
    apps = ea.my_parse(rows(("host", "localhost", "unix_socket", "", ""), ("other", "prometheus")))
    assert "beyond the exporter's (prometheus)" in ea.my_refusal("prometheus", apps)


# ---- Redis

def test_redis_line_allows_figures_only():
    line = ea.redis_line("pyweb-monitor", "pw")
    assert line.startswith(f"user pyweb-monitor on #{hashlib.sha256(b'pw').hexdigest()} resetkeys resetchannels -@all ")
    allowed = line.split()[7:]
    assert allowed == ["+ping", "+info", "+latency|latest", "+latency|histogram", "+slowlog|len"]
    # No key, no channel, no CONFIG, no SLOWLOG GET (other apps' arguments), no CLIENT, no password in clear.
    assert "~" not in line and "&" not in line and "config" not in line and "client" not in line
    assert "slowlog|get" not in line and ">pw" not in line


def test_redis_password_map_serves_both_exporter_versions():
    pw_map = ea.redis_password_map("127.0.0.1", 6379, "pyweb-monitor", "s3cret")
    assert pw_map == {"redis://127.0.0.1:6379": "s3cret", "redis://pyweb-monitor@127.0.0.1:6379": "s3cret"}
    text = json.dumps(pw_map)
    assert ea.redis_kept_password(text, "127.0.0.1", 6379, "pyweb-monitor") == "s3cret"


def test_redis_password_is_made_again_when_the_map_is_not_whole():
    for text in (None, "", "not json", "[]", json.dumps({"redis://127.0.0.1:6379": "a"}),
                 json.dumps({"redis://127.0.0.1:6379": "a", "redis://pyweb-monitor@127.0.0.1:6379": "b"}),
                 json.dumps(ea.redis_password_map("127.0.0.1", 6380, "pyweb-monitor", "a"))):
        assert ea.redis_kept_password(text, "127.0.0.1", 6379, "pyweb-monitor") is None


def test_redis_line_keeps_the_admin_and_the_apps_lines_in_the_order_the_others_keep():
    text = redisacl.DEFAULT_ACL + "\n"
    text = ra.acl_merge(text, ra.admin_line("a"))
    text = sa.redis_acl_merge(text, "blog", sa.redis_acl_line("blog", "b" * 20))
    merged = redisacl.set_user_line(text, "pyweb-monitor", ea.redis_line("pyweb-monitor", "m"))
    assert merged.splitlines()[0] == redisacl.DEFAULT_ACL
    assert [line.split()[1] for line in merged.splitlines()[1:]] == ["blog", "pyweb-admin", "pyweb-monitor"]
    # Each module then leaves the others' lines alone.
    assert ra.acl_merge(merged, ra.admin_line("a")) == merged
    assert sa.redis_acl_merge(merged, "blog", sa.redis_acl_line("blog", "b" * 20)) == merged
    assert redisacl.set_user_line(merged, "pyweb-monitor", ea.redis_line("pyweb-monitor", "m")) == merged
