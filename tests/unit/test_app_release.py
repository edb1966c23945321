"""pyweb.deploy.app_release: the no-change decision, the Django key, the kept environment and
the virtualenvs pruned, on real folders (a temp dir)."""
import hashlib
import json
import os
import stat
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(_ROOT / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.module_utils import envfile, safepath  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.modules import app_release  # noqa: E402

IS_ROOT = os.getuid() == 0
root_only = pytest.mark.skipif(not IS_ROOT, reason="root-owned markers need root")
REL = "0123456789ab"
REQ = b"flask==3.0.0\n"


def params(base, **kw):
    p = {"action": "check", "base_dir": str(base), "release": REL, "wsgi": True, "requirements": "requirements.txt",
         "python": "python3", "project_format": "auto", "packages": ["gunicorn"], "env": {"A": "1"}, "secret_env": {"S": "s3cret"},
         "django_secret_key": None, "env_file": None, "venv": None}
    p.update(kw)
    return p


def venv_of(base):
    return f"{base}/venvs/" + app_release.venv_name(hashlib.sha256(REQ).hexdigest(), "python3", ["gunicorn"])


@pytest.fixture
def app(tmp_path):
    """A converged WSGI app: current is REL, built for its venv, its environment kept."""
    base = tmp_path / "blog"
    rel = base / "releases" / REL
    rel.mkdir(parents=True)
    (rel / "requirements.txt").write_bytes(REQ)
    (base / "venvs").mkdir()
    (base / ".pyweb" / "env").mkdir(parents=True)
    os.chmod(base / ".pyweb" / "env", 0o700)
    (rel / ".pyweb-built").write_text(json.dumps({"id": REL, "venv": venv_of(base)}))
    Path(venv_of(base)).mkdir()
    kept = base / ".pyweb" / "env" / f"{REL}.env"
    # As the wsgi role's template writes it: a comment header, KEY="value" lines.
    kept.write_text('#\n# Ansible managed\n#\n# The environment of blog.\nA="1"\nS="s3cret"\n')
    os.chmod(kept, 0o600)
    os.symlink(rel, base / "current")
    return base


def test_venv_name_is_the_formula_hosts_already_use():
    # The Jinja the app role used: "{{ sha }} {{ python }} {{ packages | join(' ') }}" | hash('sha256') | truncate(12)
    key = "abc python3 gunicorn"
    assert app_release.venv_name("abc", "python3", ["gunicorn"]) == hashlib.sha256(key.encode()).hexdigest()[:12]
    assert app_release.venv_name("abc", "python3", []) == hashlib.sha256(b"abc python3 ").hexdigest()[:12]


@root_only
def test_a_converged_release_is_up_to_date(app):
    result = app_release.check(params(app), False)
    assert result["up_to_date"], result["reasons"]
    assert result["venv"] == venv_of(app) and not result["changed"]


@root_only
def test_a_changed_environment_goes_through_the_pipeline(app):
    result = app_release.check(params(app, env={"A": "2"}), False)
    assert not result["up_to_date"] and not result["env_matches"]
    assert result["reasons"] == ["the environment differs from the one the release runs with"]


@root_only
def test_a_changed_secret_goes_through_the_pipeline_without_being_named(app):
    result = app_release.check(params(app, secret_env={"S": "other"}), False)
    assert not result["up_to_date"] and "other" not in json.dumps(result) and "s3cret" not in json.dumps(result)


@root_only
def test_a_changed_venv_goes_through_the_pipeline(app):
    result = app_release.check(params(app, packages=["gunicorn", "sentry-sdk"]), False)
    assert not result["up_to_date"] and result["built"] and not result["marker_matches"]
    assert result["venv"] != venv_of(app)


@root_only
def test_a_failed_mark_goes_through_the_pipeline(app):
    (app / "releases" / REL / ".pyweb-failed").write_text("put back\n")
    result = app_release.check(params(app), False)
    assert not result["up_to_date"] and result["marked_failed"]


@root_only
def test_a_release_that_is_not_current_goes_through_the_pipeline(app):
    os.unlink(app / "current")
    result = app_release.check(params(app), False)
    assert not result["up_to_date"] and result["current"] == ""


def test_quoted_values_compare_as_systemd_reads_them():
    text = envfile.render({"Q": 'a "b" $c \\ `d`'})
    assert app_release.decide(REL, REL, {"id": REL, "venv": "/v"}, 0, "/v", False, True, True, envfile.parse(text),
                              True, {"Q": 'a "b" $c \\ `d`'})["up_to_date"]


def test_a_marker_not_of_roots_does_not_count(tmp_path):
    assert not app_release.decide(REL, REL, {"id": REL, "venv": ""}, 1000, "", False, False, True, None, False,
                                  {})["up_to_date"]
    assert app_release.decide(REL, REL, {"id": REL, "venv": ""}, 0, "", False, False, True, None, False,
                              {})["up_to_date"]


def test_a_kept_environment_with_a_loose_mode_does_not_count():
    d = app_release.decide(REL, REL, {"id": REL, "venv": "/v"}, 0, "/v", False, True, True, {"A": "1"}, False,
                           {"A": "1"})
    assert not d["up_to_date"] and not d["env_matches"]


def test_a_marker_that_is_a_link_is_refused(tmp_path, app):
    marker = app / "releases" / REL / ".pyweb-built"
    marker.unlink()
    os.symlink("/etc/passwd", marker)
    with pytest.raises(safepath.UnsafePath):
        app_release.check(params(app), False)


def test_the_wanted_environment_is_strings_as_systemd_reads_them():
    assert app_release.wanted_env({"N": 2, "B": True}, {"S": "x"}, "k") == {
        "N": "2", "B": "True", "S": "x", "DJANGO_SECRET_KEY": "k"}


def test_the_django_key_is_created_once_root_only_and_never_returned(tmp_path):
    (tmp_path / ".pyweb").mkdir()
    path = str(tmp_path / ".pyweb" / "django_secret_key")
    key, created = app_release.ensure_key(path, True)
    assert (key, created) == (None, True) and not os.path.exists(path)
    key, created = app_release.ensure_key(path, False)
    assert created and len(key) >= 50 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert app_release.ensure_key(path, False) == (key, False)


def test_check_returns_no_key(tmp_path, app):
    result = app_release.check(params(app, django_secret_key=str(app / ".pyweb" / "django_secret_key")), False)
    key = (app / ".pyweb" / "django_secret_key").read_text().strip()
    assert result["key_created"] and result["changed"] and key not in json.dumps(result)


def test_prune_plan_keeps_used_in_use_and_build_venvs():
    venvs = ["/b/venvs/aaa", "/b/venvs/bbb", "/b/venvs/ccc", "/b/venvs/build-123"]
    assert app_release.prune_plan(venvs, ["/b/venvs/aaa"], "/b/venvs/bbb") == ["/b/venvs/ccc"]


@root_only
def test_keep_copies_the_environment_and_prunes_unused_venvs(app, tmp_path):
    old = app / "venvs" / "0ld0ld0ld0ld"
    old.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keepme").write_text("x")
    os.symlink(outside, old / "link")  # a link inside a venv is removed, never followed
    server = tmp_path / "etc" / "blog.env"
    server.parent.mkdir()
    server.write_text('A="1"\nS="new"\n')
    p = params(app, action="keep", env_file=str(server), venv=venv_of(app))
    dry = app_release.keep(p, True)
    assert dry["pruned"] == [str(old)] and dry["env_kept"] and old.exists()
    result = app_release.keep(p, False)
    assert result["pruned"] == [str(old)] and not old.exists() and (outside / "keepme").exists()
    kept = app / ".pyweb" / "env" / f"{REL}.env"
    assert kept.read_text() == server.read_text() and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert result["used"] == [venv_of(app)] and Path(venv_of(app)).exists()
    again = app_release.keep(p, False)
    assert not again["changed"]


@root_only
def test_keep_fixes_a_loose_mode_of_the_kept_copy(app, tmp_path):
    server = tmp_path / "blog.env"
    kept = app / ".pyweb" / "env" / f"{REL}.env"
    server.write_bytes(kept.read_bytes())
    os.chmod(kept, 0o644)
    assert app_release.keep(params(app, action="keep", env_file=str(server)), False)["env_kept"]
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_discard_release_removes_a_refused_new_release_but_never_current_nor_through_a_link(tmp_path):
    base = tmp_path / "app"
    (base / "releases" / REL / "sub").mkdir(parents=True)
    (base / "releases" / REL / "sub" / "f").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    os.symlink(outside, base / "releases" / REL / "link")
    assert app_release.discard_release(str(base), REL) is True
    assert not (base / "releases" / REL).exists() and (outside / "keep").exists()
    assert app_release.discard_release(str(base), REL) is False  # nothing left
    (base / "releases" / "other").mkdir()
    os.symlink("releases/other", base / "current")
    assert app_release.discard_release(str(base), "other") is False
    assert (base / "releases" / "other").is_dir()
    with pytest.raises(safepath.UnsafePath):
        app_release.discard_release(str(base), "../outside")


@root_only
def test_the_static_folder_the_marker_names_is_returned(app):
    assert app_release.check(params(app), False)["static_dir"] == ""
    marker = app / "releases" / REL / ".pyweb-built"
    marker.write_text(json.dumps({"id": REL, "venv": venv_of(app), "static_dir": "static"}))
    result = app_release.check(params(app), False)
    assert result["static_dir"] == "static" and result["up_to_date"], result["reasons"]
    marker.write_text(json.dumps({"id": REL, "venv": venv_of(app), "static_dir": ["x"]}))
    assert app_release.check(params(app), False)["static_dir"] == ""
    # a folder that would inject Nginx configuration, or names a file the deploy reads, is not served
    for bad in ("s; } location / { alias /; }", "Procfile", "a b", ".pyweb-x"):
        marker.write_text(json.dumps({"id": REL, "venv": venv_of(app), "static_dir": bad}))
        assert app_release.check(params(app), False)["static_dir"] == "", bad
