"""Unit tests of plugins/module_utils/safepath.py and the app_paths module's functions: root
never follows a link below a path the app or its repository controls."""
import os
import stat
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
# Imported as the collection (make link), like the other module tests: app_paths imports safepath
# from there, so the exceptions the tests expect are the same classes.
sys.path.insert(0, str(_ROOT / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.module_utils import safepath  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.modules import app_paths  # noqa: E402

ME = (os.getuid(), os.getgid())
IS_ROOT = os.getuid() == 0
root_only = pytest.mark.skipif(not IS_ROOT, reason="changing owners needs root")
OTHER = 4242  # a uid that is neither the app nor root


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def outside(tmp_path):
    """A folder standing for /usr/local/share or /etc: it must never change."""
    d = tmp_path / "outside"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    (d / "passwd").write_text("root:x:0:0\n")
    os.chmod(d / "passwd", 0o644)
    return d


def snapshot(path):
    return sorted((str(p), os.lstat(p).st_uid, os.lstat(p).st_gid, mode(p)) for p in [path, *path.rglob("*")])


@pytest.fixture
def base(tmp_path):
    b = tmp_path / "base"
    (b / "shared").mkdir(parents=True)
    os.chmod(b / "shared", 0o750)
    (b / "releases" / "r1").mkdir(parents=True)
    return b


@pytest.mark.parametrize("rel", ["/etc", "../x", "a/../../b", "", "."])
def test_components_refuses_paths_leaving(rel):
    with pytest.raises(safepath.UnsafePath):
        safepath.components(rel)


def test_components_splits():
    assert safepath.components("a//b/./c") == ["a", "b", "c"]


def test_shared_creates_folders_and_links(base):
    changes = app_paths.shared("site", str(base), ["media", "a/conf.d"], str(base / "releases/r1"), ME, False)
    assert (base / "shared/media").is_dir() and mode(base / "shared/media") == 0o750
    assert mode(base / "shared/a") == 0o750 and (base / "shared/a/conf.d").is_dir()
    assert os.readlink(base / "releases/r1/media") == f"{base}/shared/media"
    assert os.readlink(base / "releases/r1/a/conf.d") == f"{base}/shared/a/conf.d"
    assert mode(base / "releases/r1/a") == 0o755
    assert {c["path"] for c in changes} >= {f"{base}/shared/media", f"{base}/releases/r1/media"}
    # the second time: nothing to do
    assert app_paths.shared("site", str(base), ["media", "a/conf.d"], str(base / "releases/r1"), ME, False) == []


def test_shared_check_mode_changes_nothing(base):
    changes = app_paths.shared("site", str(base), ["media", "x/y"], str(base / "releases/r1"), ME, True)
    assert not (base / "shared/media").exists() and not (base / "releases/r1/media").exists()
    assert f"{base}/shared/x/y" in {c["path"] for c in changes}
    assert f"{base}/releases/r1/x/y" in {c["path"] for c in changes}
    # a release not exported yet (check mode, new release)
    changes = app_paths.shared("site", str(base), ["media"], str(base / "releases/new"), ME, True)
    assert changes[-1]["after"]["target"] == f"{base}/shared/media"


def test_shared_replaces_the_release_copy(base):
    rel = base / "releases/r1"
    (rel / "media/sub").mkdir(parents=True)
    (rel / "media/sub/README").write_text("shipped")
    app_paths.shared("site", str(base), ["media"], str(rel), ME, False)
    assert os.readlink(rel / "media") == f"{base}/shared/media"
    assert not (base / "shared/media/README").exists()


def test_shared_fixes_mode_through_the_folder(base):
    (base / "shared/media").mkdir(mode=0o777)
    os.chmod(base / "shared/media", 0o777)
    changes = app_paths.shared("site", str(base), ["media"], None, ME, False)
    assert mode(base / "shared/media") == 0o750
    assert changes[0]["before"]["mode"] == "0777" and changes[0]["after"]["mode"] == "0750"
    owner = f"{app_paths._name(app_paths.pwd.getpwuid, ME[0])}:{app_paths._name(app_paths.grp.getgrgid, ME[1])}"
    assert app_paths.diff_of(changes)["after"] == f"{base}/shared/media: directory {owner} 0750\n"


def test_a_link_planted_in_shared_is_refused_and_not_followed(base, outside):
    """Attack (a): the app replaces shared/media with a link to /usr/local/share."""
    before = snapshot(outside)
    os.chmod(base / "shared", 0o750)
    (base / "shared/media").symlink_to(outside)
    with pytest.raises(safepath.UnsafePath, match=f"{base}/shared/media is a symbolic link \\(to {outside}\\)"):
        app_paths.shared("site", str(base), ["media"], str(base / "releases/r1"), ME, False)
    assert snapshot(outside) == before
    assert not (base / "releases/r1/media").exists()


def test_a_link_as_a_parent_in_shared_is_refused(base, outside):
    (base / "shared/a").symlink_to(outside)
    with pytest.raises(safepath.UnsafePath, match="shared/a is a symbolic link"):
        app_paths.shared("site", str(base), ["a/conf.d"], None, ME, False)
    assert not (outside / "conf.d").exists()


def test_a_refusal_changes_nothing_even_for_the_paths_before_it(base, outside):
    (base / "shared/b").symlink_to(outside)
    # main() runs this dry pass first: b refuses before a is created
    with pytest.raises(safepath.UnsafePath):
        app_paths.shared("site", str(base), ["a", "b"], None, ME, True)
    assert not (base / "shared/a").exists()


def test_a_committed_link_as_a_parent_of_a_shared_path_is_refused(base, outside):
    """Attack (c): a committed a -> /etc/nginx plus the shared path a/conf.d."""
    (outside / "conf.d").mkdir()
    rel = base / "releases/r1"
    (rel / "a").symlink_to(outside)
    with pytest.raises(safepath.UnsafePath, match="r1/a is a symbolic link"):
        app_paths.shared("site", str(base), ["a/conf.d"], str(rel), ME, False)
    assert (outside / "conf.d").is_dir() and not (outside / "conf.d").is_symlink()


@pytest.mark.parametrize("links, leaving", [
    ({"staticfiles": "/etc"}, ["staticfiles"]),
    ({"a": "/etc/nginx"}, ["a"]),
    ({"x": "../y"}, ["x"]),
    ({"d/x": "../y"}, []),
    ({"d/x": "../../y"}, ["d/x"]),
    ({"d/e/x": "../../y/./z"}, []),
    ({"up": "d/..", "x": "up/../.."}, ["x"]),
    ({"d": "e/f", "x": "d/../../.."}, ["x"]),       # d/.. is e/f/.. = e, .. = top, .. leaves
    ({"p": "q", "q": "p"}, ["p", "q"]),              # a loop
    ({"p": "q", "q": "/etc"}, ["p", "q"]),           # through another link
    ({"static": "assets", "assets/css": "../../../etc"}, ["assets/css"]),
    ({"lib": "d/e", "x": "lib/../../../etc"}, ["x"]),
])
def test_leaves_is_lexical_and_follows_links_inside(links, leaving):
    assert sorted(link for link in links if safepath.leaves(link, links)) == leaving


def test_check_release_refuses_and_removes_the_release(base, outside):
    """Attack (b): a committed staticfiles -> /etc."""
    rel = base / "releases/r1"
    (rel / "index.html").write_text("hi")
    (rel / "staticfiles").symlink_to(outside)
    (rel / "ok").symlink_to("index.html")
    before = snapshot(outside)
    assert app_paths.check_release(str(rel), True) == ([("staticfiles", str(outside))], [])
    assert rel.exists()  # check mode removes nothing
    assert app_paths.check_release(str(rel), False) == ([("staticfiles", str(outside))], [])
    assert not rel.exists() and snapshot(outside) == before


def test_check_release_accepts_links_inside(base):
    rel = base / "releases/r1"
    (rel / "assets").mkdir()
    (rel / "static").symlink_to("assets")
    (rel / "assets/latest").symlink_to("../static/v1")
    assert app_paths.check_release(str(rel), False) == ([], []) and rel.exists()
    assert app_paths.check_release(str(base / "releases/none"), False) == ([], [])


def test_check_release_refuses_a_committed_entry_at_a_name_the_deploy_writes(base):
    """H4: a committed .pyweb-built -> media/x, media becoming the link to the app-writable
    shared/media, would have root write and chown the app's files through the marker."""
    rel = base / "releases/r1"
    (rel / "media").mkdir()
    (rel / ".pyweb-built").symlink_to("media/x")  # inside the release: links_leaving allows it
    (rel / ".pyweb-locked.txt").write_text("flask==3.0.3\n")
    (rel / "pyweb_wsgi_file.py").write_text("application = None\n")
    (rel / ".pyweb-release").mkdir()
    (rel / "sub").mkdir()
    (rel / "sub" / ".pyweb-built").write_text("deeper down, not a name the deploy writes\n")
    (rel / ".pywebrc").write_text("not reserved\n")
    expected = ([], [".pyweb-built", ".pyweb-locked.txt", ".pyweb-release", "pyweb_wsgi_file.py"])
    assert app_paths.check_release(str(rel), True) == expected
    assert rel.exists() and (rel / "media").is_dir()  # check mode removes nothing
    assert app_paths.check_release(str(rel), False) == expected
    assert not rel.exists()


def test_lend_gives_an_empty_folder_and_refuses_a_link(base, outside):
    rel = base / "releases/r1"
    (rel / "site").mkdir()
    (rel / "site/old.html").write_text("old")
    changes = app_paths.lend(str(rel), "site", ME, False)
    assert (rel / "site").is_dir() and os.listdir(rel / "site") == [] and mode(rel / "site") == 0o755
    assert changes
    (rel / "build").symlink_to(outside)
    with pytest.raises(safepath.UnsafePath, match="r1/build is a symbolic link"):
        app_paths.lend(str(rel), "build/html", ME, False)
    assert sorted(os.listdir(outside)) == ["passwd"]


def test_lend_nested_creates_root_parents(base):
    rel = base / "releases/r1"
    app_paths.lend(str(rel), "build/html", ME, False)
    assert (rel / "build/html").is_dir() and mode(rel / "build") == 0o755


def test_reclaim_never_follows_a_link_in_the_tree(base, outside):
    """A tree with a link to the outside (what a leftover process swaps in): the link itself is
    handled, its target never."""
    rel = base / "releases/r1"
    out = rel / "site"
    (out / "css").mkdir(parents=True)
    (out / "css/a.css").write_text("a")
    os.chmod(out / "css/a.css", 0o666)
    (out / "evil").symlink_to(outside)
    os.chmod(outside / "passwd", 0o666)
    before = snapshot(outside)
    with_ = app_paths.reclaim(str(rel), "site", ME, False)
    assert with_[1] == [("evil", str(outside))]  # and the module refuses the release
    assert snapshot(outside) == before
    assert mode(out / "css/a.css") == 0o644  # group/other write removed


def test_reclaim_strips_set_id_bits_and_write(base):
    rel = base / "releases/r1"
    (rel / "site").mkdir(mode=0o777)
    os.chmod(rel / "site", 0o777)
    (rel / "site/run").write_text("x")
    os.chmod(rel / "site/run", 0o6777)
    count, bad = app_paths.reclaim(str(rel), "site", ME, False)
    assert bad == [] and count == 2
    assert mode(rel / "site") == 0o755 and mode(rel / "site/run") == 0o755
    assert app_paths.reclaim(str(rel), "site", ME, False) == (0, [])


def test_reclaim_refuses_a_hard_link(base, outside):
    rel = base / "releases/r1"
    (rel / "site").mkdir()
    os.link(outside / "passwd", rel / "site/passwd")
    with pytest.raises(safepath.UnsafePath, match="site/passwd has 2 hard links"):
        app_paths.reclaim(str(rel), "site", ME, True)
    assert mode(outside / "passwd") == 0o644


def test_reclaim_refuses_a_fifo(base):
    rel = base / "releases/r1"
    (rel / "site").mkdir()
    os.mkfifo(rel / "site/pipe")
    with pytest.raises(safepath.UnsafePath, match="site/pipe is a fifo"):
        app_paths.reclaim(str(rel), "site", ME, False)


def test_reclaim_refuses_the_output_itself_as_a_link(base, outside):
    rel = base / "releases/r1"
    (rel / "site").symlink_to(outside)
    with pytest.raises(safepath.UnsafePath, match="r1/site is a symbolic link"):
        app_paths.reclaim(str(rel), "site", ME, False)


def test_reclaim_refuses_a_foreign_owner(base):
    """An entry owned by another uid than the app's or root's is refused (simulated by passing an
    app uid that is not the file's owner when not root)."""
    rel = base / "releases/r1"
    (rel / "site").mkdir()
    (rel / "site/f").write_text("x")
    app = (OTHER, OTHER)
    if IS_ROOT:
        os.chown(rel / "site/f", 5151, 5151)
        os.chown(rel / "site", OTHER, OTHER)
        with pytest.raises(safepath.UnsafePath, match="site/f is owned by uid 5151"):
            app_paths.reclaim(str(rel), "site", app, False)
        assert os.lstat(rel / "site/f").st_uid == 5151
    else:
        with pytest.raises(safepath.UnsafePath, match=f"site is owned by uid {os.getuid()}"):
            safepath.reclaim_tree(os.open(rel, os.O_RDONLY), "site", "site", 0, 0, {OTHER}, True)


@root_only
def test_reclaim_gives_the_tree_to_root(base, outside):
    rel = base / "releases/r1"
    (rel / "site/sub").mkdir(parents=True)
    (rel / "site/sub/i.html").write_text("x")
    (rel / "site/l").symlink_to("sub/i.html")
    for p in [rel / "site", rel / "site/sub", rel / "site/sub/i.html"]:
        os.chown(p, OTHER, OTHER)
    os.chown(rel / "site/l", OTHER, OTHER, follow_symlinks=False)
    count, bad = app_paths.reclaim(str(rel), "site", (OTHER, OTHER), False)
    assert bad == [] and count == 4
    assert all(os.lstat(p).st_uid == 0 and os.lstat(p).st_gid == 0 for p in [rel / "site", *(rel / "site").rglob("*")])


@root_only
def test_shared_sets_the_app_owner(base):
    app_paths.shared("site", str(base), ["media"], None, (OTHER, OTHER), False)
    st = os.lstat(base / "shared/media")
    assert (st.st_uid, st.st_gid) == (OTHER, OTHER)


def test_swap_during_the_walk_is_refused(base, outside, monkeypatch):
    """A folder swapped for a link between the listing and the open (a process of the app left
    running): the open with O_NOFOLLOW refuses it, the link's target is untouched."""
    rel = base / "releases/r1"
    (rel / "site/sub").mkdir(parents=True)
    before = snapshot(outside)
    real_lstat = os.lstat

    def racing_lstat(name, *args, **kwargs):
        st = real_lstat(name, *args, **kwargs)
        if name == "sub" and not (rel / "site/sub").is_symlink():
            os.rmdir(rel / "site/sub")
            os.symlink(outside, rel / "site/sub")
        return st
    monkeypatch.setattr(safepath.os, "lstat", racing_lstat)
    with pytest.raises(safepath.UnsafePath, match="site/sub is a symbolic link"):
        safepath.reclaim_tree(os.open(rel, os.O_RDONLY), "site", "site", *ME, {os.getuid()}, False)
    monkeypatch.undo()
    assert snapshot(outside) == before


def test_swap_of_a_file_for_a_link_is_refused(base, outside, monkeypatch):
    rel = base / "releases/r1"
    (rel / "site").mkdir()
    (rel / "site/f").write_text("x")
    real_lstat = os.lstat

    def racing_lstat(name, *args, **kwargs):
        st = real_lstat(name, *args, **kwargs)
        if name == "f" and not (rel / "site/f").is_symlink():
            os.unlink(rel / "site/f")
            os.symlink(outside / "passwd", rel / "site/f")
        return st
    monkeypatch.setattr(safepath.os, "lstat", racing_lstat)
    with pytest.raises(safepath.UnsafePath, match="site/f was replaced by a link"):
        safepath.reclaim_tree(os.open(rel, os.O_RDONLY), "site", "site", *ME, {os.getuid()}, False)
    monkeypatch.undo()
    assert mode(outside / "passwd") == 0o644


def test_read_file_at_reads_a_regular_file_and_never_follows_a_link(tmp_path):
    rel = tmp_path / "rel"
    (rel / "sub").mkdir(parents=True)
    (rel / "sub" / "f").write_bytes(b"0123456789")
    (tmp_path / "secret").write_text("x")
    fd = os.open(rel, os.O_RDONLY | os.O_DIRECTORY)
    try:
        data, st = safepath.read_file_at(fd, "sub/f", "rel/sub/f", 100)
        assert data == b"0123456789" and stat.S_ISREG(st.st_mode)
        # at most limit + 1 bytes: the caller tells a file too large
        assert safepath.read_file_at(fd, "sub/f", "rel/sub/f", 4)[0] == b"01234"
        assert safepath.read_file_at(fd, "sub/missing", "rel/sub/missing", 100) is None
        assert safepath.read_file_at(fd, "nothere/f", "rel/nothere/f", 100) is None
        os.symlink(tmp_path / "secret", rel / "link")
        with pytest.raises(safepath.UnsafePath, match=r"^rel/link is not a regular file"):
            safepath.read_file_at(fd, "link", "rel/link", 100)
        os.symlink(tmp_path, rel / "up")
        with pytest.raises(safepath.UnsafePath, match=r"^rel/up is a symbolic link .*, not a folder"):
            safepath.read_file_at(fd, "up/secret", "rel/up/secret", 100)
        with pytest.raises(safepath.UnsafePath, match=r"^rel/sub is not a regular file"):
            safepath.read_file_at(fd, "sub", "rel/sub", 100)
        with pytest.raises(safepath.UnsafePath, match="not a relative path"):
            safepath.read_file_at(fd, "../secret", "secret", 100)
    finally:
        os.close(fd)


def test_root_counts_a_folder_s_entries_itself_without_following_links(tmp_path, outside):
    rel = tmp_path / "rel"
    (rel / "empty").mkdir(parents=True)
    (rel / "full").mkdir()
    (rel / "full" / "a").write_text("x")
    (rel / "file").write_text("x")
    (rel / "link").symlink_to(outside)
    (rel / "deep").symlink_to(outside)
    state = safepath.folder_state
    assert state(str(rel), "empty") == "empty"
    assert state(str(rel), "missing") == "absent"
    assert state(str(rel), "missing/below") == "absent"
    assert state(str(rel), "full") == "1 entries"
    assert state(str(rel), "file") == "a file"
    assert state(str(rel), "link") == "a symbolic link"
    assert state(str(rel), "deep/x") == "below a symbolic link (deep)"
    assert app_paths.survey(str(rel), ["empty", "full", "link", "Procfile", "s; }"]) == {
        "empty": "empty", "full": "1 entries", "link": "a symbolic link",
        "Procfile": "refused: " + safepath.plain_path_problem("Procfile"),
        "s; }": "refused: " + safepath.plain_path_problem("s; }")}
    assert app_paths.survey(str(tmp_path / "none"), ["static"]) == {}
    # the deploy's own link into shared/ (an earlier try of this release), and only that one
    (rel / "media").symlink_to("/srv/apps/blog/shared/media")
    assert app_paths.survey(str(rel), ["media", "link"], "/srv/apps/blog") == {
        "media": "shared", "link": "a symbolic link"}
    assert app_paths.survey(str(rel), ["media"]) == {"media": "a symbolic link"}


def test_plain_paths():
    for good in ("static", "media/", "a/b/c/d", "assets_1.0/x-y"):
        assert safepath.plain_path_problem(good) == "", good
    for bad in ("", "/abs", "a b", "s;", "{x}", "$x", "#x", "'x'", ".pyweb-built", "-x", "a/b/c/d/e",
                "Procfile", "app.json", "requirements.txt", "x/requirements", "uv.lock", "pyproject.toml",
                "pyweb_wsgi_file.py", "a/../b", None):
        assert safepath.plain_path_problem(bad), bad
