"""pyweb.deploy.app_names: a name the host uses for something else is refused before anything
changes; an app's own account (deployed earlier) is not."""
import grp
import importlib.util
import pwd
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("pyweb_app_names", ROOT / "plugins" / "modules" / "app_names.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)


def pw(name, home, shell="/usr/sbin/nologin"):
    return pwd.struct_passwd((name, "x", 990, 990, "", home, shell))


def gr(name, members=()):
    return grp.struct_group((name, "x", 6, list(members)))


def lookups(users=(), groups=(), files=()):
    users = {u.pw_name: u for u in users}
    groups = {g.gr_name: g for g in groups}

    def getpwnam(name):
        return users[name]

    def getgrnam(name):
        return groups[name]

    return {"getpwnam": getpwnam, "getgrnam": getgrnam, "exists": lambda p: p in set(files)}


def test_a_new_name_is_free():
    assert mod.check_names(["blog"], "/srv/apps", **lookups()) == {"problems": [], "existing": []}


def test_the_apps_own_account_and_units_pass():
    found = mod.check_names(["blog"], "/srv/apps", **lookups(
        users=[pw("blog", "/srv/apps/blog")], groups=[gr("blog")],
        files=["/etc/systemd/system/blog.service", "/etc/systemd/system/blog.socket"]))
    assert found == {"problems": [], "existing": ["blog"]}


def test_an_app_root_elsewhere_is_followed():
    found = mod.check_names(["blog"], "/opt/web", **lookups(users=[pw("blog", "/opt/web/blog/")]))
    assert found["existing"] == ["blog"]
    found = mod.check_names(["blog"], "/srv/apps", **lookups(users=[pw("blog", "/opt/web/blog")]))
    assert found["problems"] and "is not this collection's app account" in found["problems"][0]


def test_an_existing_system_account_is_refused():
    found = mod.check_names(["postgres"], "/srv/apps", **lookups(
        users=[pw("postgres", "/var/lib/postgresql", "/bin/bash")], groups=[gr("postgres")]))
    assert found["problems"] == [
        "postgres: an account postgres exists on this host (home /var/lib/postgresql, shell /bin/bash) and is "
        "not this collection's app account (home /srv/apps/postgres, no login): choose another name for the "
        "app (it would take the account over)"]


def test_a_group_without_an_app_account_is_refused():
    found = mod.check_names(["disk"], "/srv/apps", **lookups(groups=[gr("disk")]))
    assert len(found["problems"]) == 1
    assert found["problems"][0].startswith("disk: a group disk exists on this host (gid 6, members none)")


def test_a_packaged_unit_would_be_shadowed():
    found = mod.check_names(["ssh"], "/srv/apps", **lookups(files=["/lib/systemd/system/ssh.service",
                                                                   "/lib/systemd/system/ssh.socket"]))
    assert found["problems"] == [
        "ssh: the unit ssh.service is installed by a package (/lib/systemd/system/ssh.service): the app's unit "
        "would shadow it; choose another name for the app",
        "ssh: the unit ssh.socket is installed by a package (/lib/systemd/system/ssh.socket): the app's unit "
        "would shadow it; choose another name for the app"]


def test_an_administrators_unit_is_not_taken_over():
    found = mod.check_names(["backup2"], "/srv/apps", **lookups(files=["/etc/systemd/system/backup2.timer"]))
    assert found["problems"] == [
        "backup2: the unit file /etc/systemd/system/backup2.timer exists and is not an app's (no app account "
        "backup2): choose another name for the app, or remove that unit"]


def test_every_name_is_reported_at_once():
    found = mod.check_names(["disk", "blog", "ssh"], "/srv/apps", **lookups(
        groups=[gr("disk")], files=["/lib/systemd/system/ssh.service"]))
    assert [p.split(":")[0] for p in found["problems"]] == ["disk", "ssh"]
