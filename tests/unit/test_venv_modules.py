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


# --- the checks and the decision of pyweb.deploy.venv (venv_info with python) --------------------

INTERPRETER = {"version": "3.11.2 (main, x) [GCC 12.2.0]", "executable": "/usr/bin/python3.11",
               "version_info": "3.11.2", "ensurepip": True}


def test_the_hash_is_the_one_the_role_wrote_before():
    # `{{ __venv_inputs | to_json | hash('sha256') }}` of the former vars/main.yml, for these
    # inputs (computed with ansible-core 2.19): an existing venv is not rebuilt by the upgrade.
    assert venv_info.inputs_hash(INTERPRETER, "pip", "0.13.9", "abc", "", "",
                                 {"packages": ["idna==3.7", "\u00e9"]}) == (
        "4230b6cd16613ac2dd2dbfdb6304f4c07c780a9ff5f7da517a0b5706f56315ee")


def test_the_hash_changes_with_what_decides_the_content():
    base = venv_info.inputs_hash(INTERPRETER, "pip", "", "abc", "", "", {"packages": ["six"]})
    assert venv_info.inputs_hash(INTERPRETER, "pip", "", "abd", "", "", {"packages": ["six"]}) != base
    assert venv_info.inputs_hash(INTERPRETER, "pip", "", "abc", "", "", {"packages": ["six==1"]}) != base
    assert venv_info.inputs_hash(INTERPRETER, "uv", "0.1", "abc", "", "", {"packages": ["six"]}) != base
    # uv's version counts only with uv; a password is not an input at all.
    assert venv_info.inputs_hash(INTERPRETER, "pip", "0.9", "abc", "", "", {"packages": ["six"]}) == base


def state_of(tmp_path, marker_hash=None, version="3.11.2"):
    venv = make_venv(tmp_path, version=version)
    if marker_hash is not None:
        venv_freeze.freeze(str(venv), 0)
        venv_freeze.write_marker(str(venv), ".pyweb-venv.json", json.dumps({"hash": marker_hash}))
    return venv_info.describe(str(venv), ".pyweb-venv.json", [])


def test_reasons_to_rebuild(tmp_path):
    missing = venv_info.describe(str(tmp_path / "none"), ".pyweb-venv.json", [])
    assert venv_info.rebuild_reason(missing, INTERPRETER, "h") == "no venv yet"
    state = state_of(tmp_path)
    assert venv_info.rebuild_reason(state, INTERPRETER, "h") == "no record of a finished install"
    assert venv_info.rebuild_reason({**state, "python_found": False}, INTERPRETER, "h") == (
        "the venv is broken (its python is missing)")
    assert venv_info.rebuild_reason({**state, "version": "3.11.1"}, INTERPRETER, "h") == (
        "its interpreter changed (3.11.1 -> 3.11.2)")
    assert venv_info.rebuild_reason({**state, "marker": {"hash": "g"}}, INTERPRETER, "h") == (
        "what it should hold changed")
    assert venv_info.rebuild_reason({**state, "marker": {"hash": "h"}}, INTERPRETER, "h") == ""


@needs_root
def test_decide_current_venv_and_a_changed_requirements_file(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("six==1.16.0\n")
    params = {"app": "blog", "path": str(tmp_path / "venv"), "requirements_file": str(req),
              "project_path": None, "installer": "pip", "uv_dir": None, "uv_version": "",
              "inputs": {"packages": []}}
    wanted = venv_info.decide(params, state_of(tmp_path), [], INTERPRETER)["hash"]
    (tmp_path / "venv").chmod(0o755)
    venv_freeze.write_marker(str(tmp_path / "venv"), ".pyweb-venv.json", json.dumps({"hash": wanted}))
    state = venv_info.describe(str(tmp_path / "venv"), ".pyweb-venv.json", [])
    current = venv_info.decide(params, state, [], INTERPRETER)
    assert (current["rebuild"], current["reason"]) == (False, "")
    req.write_text("six==1.17.0\n")
    changed = venv_info.decide(params, state, [], INTERPRETER)
    assert (changed["rebuild"], changed["reason"]) == (True, "what it should hold changed")


def test_missing_inputs_are_refused_with_their_path(tmp_path):
    state = {"parent_safe": True}
    with pytest.raises(venv_info.Refused, match=f"venv_requirements_file {tmp_path}/no.txt does not exist"):
        venv_info.check_inputs("blog", str(tmp_path / "no.txt"), None, [], state, "/v")
    (tmp_path / "real.txt").write_text("six\n")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    with pytest.raises(venv_info.Refused, match="not a regular file"):
        venv_info.check_inputs("blog", str(tmp_path / "link.txt"), None, [], state, "/v")
    with pytest.raises(venv_info.Refused, match=f"venv_project_path {tmp_path} has no pyproject.toml"):
        venv_info.check_inputs("blog", None, str(tmp_path), [], state, "/v")
    with pytest.raises(venv_info.Refused, match="blog: the requirements file .* includes files outside .*-r /etc/x"):
        venv_info.check_inputs("blog", str(tmp_path / "real.txt"), None, ["f: -r /etc/x"], state, "/v")
    with pytest.raises(venv_info.Refused, match=r"the folder of venv_path \(/srv/x\) must be a directory owned by root"):
        venv_info.check_inputs("blog", None, None, [], {"parent_safe": False}, "/srv/x/venv")
    venv_info.check_inputs("blog", str(tmp_path / "real.txt"), None, [], state, "/v")


def test_an_account_that_is_not_there_is_named(tmp_path):
    with pytest.raises(venv_info.Refused, match="not a valid app name"):
        venv_info.check_account("Blog", str(tmp_path))
    with pytest.raises(venv_info.Refused, match=(
            f"pywebghost: the user pywebghost, the group pywebghost, the base folder {tmp_path}/none must exist")):
        venv_info.check_account("pywebghost", str(tmp_path / "none"))
    (tmp_path / "file").write_text("")
    with pytest.raises(venv_info.Refused, match="the base folder .*/file \\(it is not a directory\\)"):
        venv_info.check_account("root", str(tmp_path / "file"))
    venv_info.check_account("root", str(tmp_path))


def test_what_the_interpreter_says(tmp_path):
    with pytest.raises(venv_info.Refused, match="venv_python 'python3.99' was not found"):
        venv_info.parse_interpreter("python3.99", None, 127, "", "", "pip")
    with pytest.raises(venv_info.Refused, match=r"\(/usr/bin/python3.9\) does not run: Segmentation fault"):
        venv_info.parse_interpreter("python3.9", "/usr/bin/python3.9", 139, "", "Segmentation fault\n", "pip")
    out = json.dumps({**INTERPRETER, "ensurepip": False})
    with pytest.raises(venv_info.Refused, match="has no ensurepip"):
        venv_info.parse_interpreter("python3", "/usr/bin/python3", 0, out, "", "pip")
    assert venv_info.parse_interpreter("python3", "/usr/bin/python3", 0, out, "", "uv")["version_info"] == "3.11.2"


def test_uv_version_is_read_from_its_files(tmp_path):
    uv_dir = make_venv(tmp_path, dists=[("uv", "0.13.9")])
    (uv_dir / "bin" / "uv").write_text("")
    params = {"app": "blog", "path": str(tmp_path / "app-venv"), "requirements_file": None,
              "project_path": None, "installer": "uv", "uv_dir": str(uv_dir), "uv_version": "0.13.9",
              "inputs": {}}
    missing = venv_info.describe(params["path"], ".pyweb-venv.json", [])
    found = venv_info.decide(params, missing, [], INTERPRETER)
    assert (found["uv_installed"], found["reason"]) == ("0.13.9", "no venv yet")
    (uv_dir / "bin" / "uv").unlink()
    assert venv_info.decide(params, missing, [], INTERPRETER)["uv_installed"] == ""


def test_project_hash_is_the_shell_pipeline_s(tmp_path):
    import shutil
    import subprocess
    if not shutil.which("sha256sum"):
        pytest.skip("no sha256sum")
    project = tmp_path / "p"
    (project / "pkg" / "__pycache__").mkdir(parents=True)
    (project / "build").mkdir()
    (project / "x.egg-info").mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (project / "pkg" / "__init__.py").write_text("")
    (project / "pkg" / "__pycache__" / "a.pyc").write_text("skipped")
    (project / "build" / "lib.py").write_text("skipped")
    (project / "back\\slash").write_text("odd name")
    (project / "link").symlink_to("/etc/hostname")
    shell = subprocess.run(
        ["bash", "-c", "set -o pipefail; find . \\( -name .git -o -name __pycache__ -o -name build "
         "-o -name '*.egg-info' \\) -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r "
         "sha256sum | sha256sum | cut -d' ' -f1"], cwd=project, capture_output=True, text=True, check=True)
    before = venv_info.project_hash(str(project))
    assert before == shell.stdout.strip()
    (project / "build" / "lib.py").write_text("still skipped")
    assert venv_info.project_hash(str(project)) == before
    (project / "pkg" / "__init__.py").write_text("x = 1\n")
    assert venv_info.project_hash(str(project)) != before


# --- venv_freeze's prepare and restore ----------------------------------------------------------


@needs_root
def test_prepare_moves_the_venv_aside_and_writes_the_configuration_for_the_group(tmp_path):
    venv = state_of(tmp_path, marker_hash="h") and tmp_path / "venv"
    (tmp_path / "venv.previous").mkdir()  # an interrupted run's
    run = tmp_path / "run"
    run.mkdir()
    done = venv_freeze.prepare(str(venv), 1234, 4321, {"pip.conf": "[global]\n"}, config_parent=str(run))
    assert done["moved_aside"]
    assert (tmp_path / "venv.previous" / ".pyweb-venv.json").exists()
    st = os.lstat(venv)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777, os.listdir(venv)) == (1234, 4321, 0o700, [])
    conf = os.path.join(done["config_dir"], "pip.conf")
    assert (os.stat(done["config_dir"]).st_gid, os.stat(done["config_dir"]).st_mode & 0o777) == (4321, 0o750)
    assert (os.stat(conf).st_uid, os.stat(conf).st_gid, os.stat(conf).st_mode & 0o777) == (0, 4321, 0o640)
    # The build failed: the half-built venv goes, the previous one and nothing else comes back.
    (venv / "half").write_text("")
    assert venv_freeze.restore(str(venv), done["config_dir"]) == {"restored": True}
    assert (venv / ".pyweb-venv.json").exists() and not (tmp_path / "venv.previous").exists()
    assert not os.path.exists(done["config_dir"])


@needs_root
def test_prepare_makes_a_missing_parent_root_s(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    venv = tmp_path / "venvs" / "one"
    done = venv_freeze.prepare(str(venv), 1234, 1234, {}, config_parent=str(run))
    assert not done["moved_aside"]
    st = os.stat(tmp_path / "venvs")
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o755)
    # A first build that failed leaves nothing.
    assert venv_freeze.restore(str(venv), None) == {"restored": False}
    assert not venv.exists()


@needs_root
def test_restore_keeps_a_frozen_venv_when_nothing_was_moved(tmp_path):
    venv = state_of(tmp_path, marker_hash="h") and tmp_path / "venv"
    assert venv_freeze.restore(str(venv), None) == {"restored": False}
    assert (venv / ".pyweb-venv.json").exists()


@needs_root
def test_finish_removes_the_previous_venv_without_following_links(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("")
    venv = make_venv(tmp_path)
    (tmp_path / "venv.previous").symlink_to(outside)
    venv_freeze.finish(str(venv), None)
    assert not os.path.lexists(tmp_path / "venv.previous") and (outside / "keep").exists()


def test_the_question_to_the_interpreter_runs_on_this_python():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-I", "-c", venv_info.ASK_INTERPRETER],
                         capture_output=True, text=True, check=True).stdout
    info = venv_info.parse_interpreter("python3", sys.executable, 0, out, "", "uv")
    assert info["version_info"] == "%d.%d.%d" % sys.version_info[:3]
    assert info["pip_wheel"] == "" or (info["pip_wheel"].endswith(".whl") and os.path.isfile(info["pip_wheel"]))
