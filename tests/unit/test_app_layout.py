"""pyweb.deploy.app_paths action=layout: the app's account and folders in one call, no link followed."""
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(_ROOT / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.module_utils import safepath  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.modules import app_paths  # noqa: E402

IS_ROOT = os.getuid() == 0
root_only = pytest.mark.skipif(not IS_ROOT, reason="changing owners needs root")
APP = (4242, 4243)
NOLOGIN = "/usr/sbin/nologin"


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def owner(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid


# --- the account --------------------------------------------------------------------------

def test_a_new_app_gets_its_group_then_its_user():
    assert app_paths.account_plan("blog", "/srv/apps/blog", None, None) == [
        ["groupadd", "--system", "blog"],
        ["useradd", "--system", "--gid", "blog", "--home-dir", "/srv/apps/blog", "--no-create-home",
         "--shell", NOLOGIN, "blog"]]


def test_an_account_as_wanted_needs_nothing():
    assert app_paths.account_plan("blog", "/srv/apps/blog", 990, (990, 990, "/srv/apps/blog", NOLOGIN)) == []
    assert app_paths.account_plan("blog", "/srv/apps/blog/", 990, (990, 990, "/srv/apps/blog", NOLOGIN)) == []


def test_a_login_shell_another_home_or_group_is_fixed_in_one_command():
    plan = app_paths.account_plan("blog", "/opt/webapps/blog", 990, (991, 100, "/srv/apps/blog", "/bin/bash"))
    assert plan == [["usermod", "--gid", "blog", "--home", "/opt/webapps/blog", "--shell", NOLOGIN, "blog"]]


def test_a_missing_group_of_an_existing_user_is_created_and_given_to_it():
    plan = app_paths.account_plan("blog", "/srv/apps/blog", None, (991, 100, "/srv/apps/blog", NOLOGIN))
    assert plan == [["groupadd", "--system", "blog"], ["usermod", "--gid", "blog", "blog"]]


# --- the folders --------------------------------------------------------------------------

@root_only
def test_layout_makes_every_folder_with_its_owner_and_mode(tmp_path):
    base = tmp_path / "opt" / "webapps" / "blog"  # app_root's parents missing too
    changes = app_paths.layout(str(base), ["media", "data"], APP, True, False)
    assert owner(base) == (0, APP[1]) and mode(base) == 0o755
    assert mode(tmp_path / "opt") == 0o755 and owner(tmp_path / "opt" / "webapps") == (0, 0)
    assert owner(base / "releases") == (0, 0) and mode(base / "releases") == 0o755
    assert owner(base / ".pyweb") == (0, 0) and mode(base / ".pyweb") == 0o700
    for folder in ("shared", "log", "shared/media", "shared/data"):
        assert owner(base / folder) == APP and mode(base / folder) == 0o750, folder
    assert owner(base / "venvs") == (0, 0) and mode(base / "venvs") == 0o755
    assert f"{base}/shared/media" in {c["path"] for c in changes}
    # the second time: nothing to do
    assert app_paths.layout(str(base), ["media", "data"], APP, True, False) == []


def test_layout_without_venvs_leaves_venvs_out(tmp_path):
    app_paths.layout(str(tmp_path / "site"), [], (os.getuid(), os.getgid()), False, False)
    assert not (tmp_path / "site" / "venvs").exists() and (tmp_path / "site" / "releases").is_dir()


def test_layout_check_mode_changes_nothing_and_says_what_it_would(tmp_path):
    base = tmp_path / "apps" / "blog"
    changes = app_paths.layout(str(base), ["media"], (-1, -1), True, True)
    assert not (tmp_path / "apps").exists()
    paths = [c["path"] for c in changes]
    assert paths[:2] == [str(tmp_path / "apps"), str(base)]
    assert {f"{base}/releases", f"{base}/shared", f"{base}/venvs", f"{base}/shared/media"} <= set(paths)


@root_only
def test_layout_fixes_a_mode_and_owner_through_the_folder(tmp_path):
    base = tmp_path / "blog"
    app_paths.layout(str(base), [], APP, False, False)
    os.chmod(base / "releases", 0o777)
    os.chown(base / "shared", 0, 0)
    changes = app_paths.layout(str(base), [], APP, False, False)
    assert sorted(c["path"] for c in changes) == [f"{base}/releases", f"{base}/shared"]
    assert mode(base / "releases") == 0o755 and owner(base / "shared") == APP


def test_a_link_the_app_planted_in_shared_is_refused_not_followed(tmp_path):
    base = tmp_path / "blog"
    me = (os.getuid(), os.getgid())
    app_paths.layout(str(base), [], me, False, False)
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    os.symlink(outside, base / "shared" / "media")
    with pytest.raises(safepath.UnsafePath, match="media is a symbolic link"):
        app_paths.layout(str(base), ["media"], me, False, True)
    assert mode(outside) == 0o755 and os.listdir(outside) == []


def test_a_base_folder_that_is_a_link_is_refused(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    os.symlink(real, tmp_path / "blog")
    with pytest.raises(safepath.UnsafePath):
        app_paths.layout(str(tmp_path / "blog"), [], (os.getuid(), os.getgid()), False, True)
    assert os.listdir(real) == []


def test_read_current_names_the_release(tmp_path):
    assert app_paths.read_current(str(tmp_path)) == ""
    os.symlink(tmp_path / "releases" / "0123456789ab", tmp_path / "current")
    assert app_paths.read_current(str(tmp_path)) == "0123456789ab"


# --- issue 15: releases/ readable by the app's group and the web server only ------------------

def test_the_releases_acl_is_the_kernels_format():
    blob = app_paths.releases_acl(33)
    assert blob[:4] == b"\x02\x00\x00\x00" and len(blob) == 4 + 5 * 8
    assert app_paths.acl_groups(blob) == [33] and app_paths.acl_groups(None) == []


def test_without_a_web_group_releases_stays_world_readable():
    assert dict(app_paths.layout_folders(APP, False))["releases"] == (0, 0, 0o755)
    assert dict(app_paths.layout_folders(APP, False, 33))["releases"] == (0, APP[1], 0o750)


@root_only
def test_releases_is_closed_to_others_and_open_to_the_web_group(tmp_path):
    base = tmp_path / "blog"
    changes = app_paths.layout(str(base), [], APP, False, False, web_gid=4300)
    assert owner(base / "releases") == (0, APP[1]) and mode(base / "releases") == 0o750
    assert os.getxattr(base / "releases", app_paths.ACL_XATTR) == app_paths.releases_acl(4300)
    assert any(c["after"].get("acl_groups") == [4300] for c in changes)
    assert app_paths.layout(str(base), [], APP, False, False, web_gid=4300) == []
    # an old host: releases/ root 0755 without an ACL is closed on the next run
    os.removexattr(base / "releases", app_paths.ACL_XATTR)
    os.chmod(base / "releases", 0o755)
    changes = app_paths.layout(str(base), [], APP, False, True, web_gid=4300)  # check mode: reported only
    assert {c["path"] for c in changes} == {f"{base}/releases"} and mode(base / "releases") == 0o755
    app_paths.layout(str(base), [], APP, False, False, web_gid=4300)
    assert mode(base / "releases") == 0o750
    assert os.getxattr(base / "releases", app_paths.ACL_XATTR) == app_paths.releases_acl(4300)


@root_only
def test_another_user_cannot_enter_releases_but_the_web_group_can():
    # Not under tmp_path: pytest's own folder is root's alone, so no other user could reach it.
    top = Path(tempfile.mkdtemp(prefix="pyweb-acl-"))
    os.chmod(top, 0o755)
    base = top / "blog"
    app_paths.layout(str(base), [], APP, False, False, web_gid=4300)
    (base / "releases" / "r1").mkdir(mode=0o755)
    (base / "releases" / "r1" / "index.html").write_text("hi")
    os.chmod(base / "releases" / "r1" / "index.html", 0o644)

    def can_read(uid, gid):
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                with open(base / "releases" / "r1" / "index.html") as handle:
                    handle.read()
                os._exit(0)
            except BaseException:
                os._exit(1)
        return os.waitpid(pid, 0)[1] == 0

    try:
        assert can_read(4400, 4300)        # the web server's group
        assert can_read(4401, APP[1])      # the app's group
        assert not can_read(4402, 4402)    # another app
    finally:
        shutil.rmtree(top)
