"""pyweb.deploy.app_paths action=layout: the app's account and folders in one call, no link followed."""
import os
import stat
import sys
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
