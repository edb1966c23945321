"""Unit tests of plugins/modules/venv_info.py and venv_freeze.py: a venv is judged from its files,
a record is trusted only in a root-owned venv, and freezing follows no link out of the tree."""
import importlib.util
import json
import os
from pathlib import Path

import pytest

MODULES = Path(__file__).resolve().parents[2] / "plugins" / "modules"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"pyweb_{name}", MODULES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


venv_info = _load("venv_info")
venv_freeze = _load("venv_freeze")
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="chown to root needs root")


def make_venv(tmp_path, version="3.11.2", key="version", dists=()):
    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "pyvenv.cfg").write_text(f"home = /usr/bin\ninclude-system-site-packages = false\n{key} = {version}\n")
    (venv / "bin" / "python3").write_text("")  # stands for the interpreter; never run
    (venv / "bin" / "python").symlink_to("python3")
    for name, ver in dists:
        info = site / f"{name.replace('-', '_')}-{ver}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n\nbody\n")
    return venv


def test_pyvenv_cfg_of_pip_and_uv():
    assert venv_info.parse_pyvenv_cfg("home = /usr/bin\nversion = 3.11.2\n# x = y\n") == {
        "home": "/usr/bin", "version": "3.11.2"}


def test_describe_reads_versions_from_files(tmp_path):
    venv = make_venv(tmp_path, key="version_info", dists=[("gunicorn", "23.0.0"), ("Zope.Interface", "7.1")])
    found = venv_info.describe(str(venv), ".pyweb-venv.json", ["Gunicorn", "zope-interface", "uwsgi"])
    assert found["version"] == "3.11.2"
    assert found["python_found"]
    assert found["packages"] == {"Gunicorn": "23.0.0", "zope-interface": "7.1", "uwsgi": ""}


def test_missing_venv_and_dangling_python(tmp_path):
    found = venv_info.describe(str(tmp_path / "none"), ".pyweb-venv.json", ["gunicorn"])
    assert not found["exists"] and found["pyvenv_cfg"] == {} and found["packages"] == {"gunicorn": ""}
    venv = make_venv(tmp_path)
    (venv / "bin" / "python3").unlink()
    (venv / "bin" / "python3").symlink_to("/usr/bin/python3.99")
    assert not venv_info.describe(str(venv), ".pyweb-venv.json", [])["python_found"]


def test_a_link_is_not_read_as_pyvenv_cfg(tmp_path):
    venv = make_venv(tmp_path)
    (tmp_path / "other.cfg").write_text("version = 9.9.9\n")
    (venv / "pyvenv.cfg").unlink()
    (venv / "pyvenv.cfg").symlink_to(tmp_path / "other.cfg")
    assert venv_info.describe(str(venv), ".pyweb-venv.json", [])["pyvenv_cfg"] == {}


def test_record_in_a_venv_the_app_owns_is_not_trusted(tmp_path):
    venv = make_venv(tmp_path)
    (venv / ".pyweb-venv.json").write_text(json.dumps({"hash": "forged"}))
    os.chmod(venv, 0o777)
    found = venv_info.describe(str(venv), ".pyweb-venv.json", [])
    assert not found["frozen"] and found["marker"] == {}


@needs_root
def test_record_in_a_frozen_venv_is_trusted_unless_it_is_a_link(tmp_path):
    venv = make_venv(tmp_path)
    venv_freeze.freeze(str(venv), 0)
    venv_freeze.write_marker(str(venv), ".pyweb-venv.json", json.dumps({"hash": "abc"}))
    assert venv_info.describe(str(venv), ".pyweb-venv.json", [])["marker"] == {"hash": "abc"}
    (tmp_path / "forged.json").write_text(json.dumps({"hash": "forged"}))
    os.unlink(venv / ".pyweb-venv.json")
    os.symlink(tmp_path / "forged.json", venv / ".pyweb-venv.json")
    assert venv_info.describe(str(venv), ".pyweb-venv.json", [])["marker"] == {}


@pytest.mark.parametrize("line", ["-r /srv/apps/other/.pyweb/secret", "-c ../up.txt", "--requirement=../../x",
                                  "-r/etc/shadow", "--constraint https://example.com/c.txt"])
def test_includes_leaving_the_folder_are_found(tmp_path, line):
    req = tmp_path / "requirements.txt"
    req.write_text(f"six==1.17.0\n{line}\n")
    assert venv_info.requirement_escapes(str(req)) == [f"{req}: {line}"]


def test_relative_includes_are_followed(tmp_path):
    (tmp_path / "req").mkdir()
    (tmp_path / "req" / "base.txt").write_text("-r /etc/passwd\n")
    (tmp_path / "requirements.txt").write_text("-r req/base.txt\n-c constraints.txt\n--config-settings x=y\n")
    (tmp_path / "constraints.txt").write_text("-c requirements.txt\n")
    assert venv_info.requirement_escapes(str(tmp_path / "requirements.txt")) == [
        f"{tmp_path}/req/base.txt: -r /etc/passwd"]


@needs_root
def test_freeze_gives_the_tree_to_root_and_follows_no_link(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("not the venv's")
    os.chown(outside, 1234, 1234)
    os.chown(tmp_path, 1234, 1234)
    venv = make_venv(tmp_path)
    (venv / "lib" / "escape").symlink_to(outside)
    (venv / "lib" / "escape-dir").symlink_to(tmp_path)
    for dirpath, dirnames, filenames in os.walk(venv):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), 1234, 1234, follow_symlinks=False)
    os.chown(venv, 1234, 1234)
    os.chmod(venv, 0o700)
    count = venv_freeze.freeze(str(venv), 4321)
    st = os.stat(venv)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 4321, 0o750)
    assert count == len(list(venv.rglob("*")))
    assert all(os.lstat(p).st_uid == 0 and os.lstat(p).st_gid == 0 for p in venv.rglob("*"))
    # What the links point at is untouched.
    assert os.stat(outside).st_uid == 1234 and os.stat(tmp_path).st_uid == 1234


def test_freeze_refuses_a_hard_link_and_changes_nothing(tmp_path):
    venv = make_venv(tmp_path)
    os.link(venv / "pyvenv.cfg", venv / "lib" / "twin")
    before = os.stat(venv)
    with pytest.raises(venv_freeze.Refused, match="hard link"):
        venv_freeze.freeze(str(venv), 0)
    assert os.stat(venv).st_mode == before.st_mode


def test_freeze_refuses_a_top_folder_that_is_a_link(tmp_path):
    venv = make_venv(tmp_path)
    (tmp_path / "link").symlink_to(venv)
    with pytest.raises(OSError):
        venv_freeze.freeze(str(tmp_path / "link"), 0)


@needs_root
def test_marker_replaces_a_planted_link_without_writing_through_it(tmp_path):
    venv = make_venv(tmp_path)
    target = tmp_path / "target"
    target.write_text("keep")
    (venv / ".pyweb-venv.json").symlink_to(target)
    venv_freeze.write_marker(str(venv), ".pyweb-venv.json", "{}\n")
    assert target.read_text() == "keep"
    st = os.lstat(venv / ".pyweb-venv.json")
    assert (st.st_uid, oct(st.st_mode & 0o777)) == (0, "0o644")


def test_a_parent_others_can_write_is_not_safe(tmp_path):
    venv = make_venv(tmp_path)
    os.chmod(tmp_path, 0o777)
    assert not venv_info.describe(str(venv), ".pyweb-venv.json", [])["parent_safe"]
    os.chmod(tmp_path, 0o755)
    assert venv_info.describe(str(venv), ".pyweb-venv.json", [])["parent_safe"] == (os.stat(tmp_path).st_uid == 0)
    assert venv_info.describe(str(tmp_path / "new" / "venv"), ".pyweb-venv.json", [])["parent_safe"]
