"""pyweb.deploy.wsgi_state: the fingerprint -> action table, and what it reads from files."""
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.modules import wsgi_state as ws  # noqa: E402

APP = "blog"
UP = {"blog.socket": {"active": "active", "enabled": "enabled"},
      "blog.service": {"active": "active", "enabled": "enabled"}}
DOWN = {"blog.socket": {"active": "inactive", "enabled": ""},
        "blog.service": {"active": "inactive", "enabled": ""}}


def state(**changes):
    base = {"format": ws.STATE_FORMAT, "server": "gunicorn", "socket": "s1", "service": "u1",
            "env": "e1", "config": "c1", "code": "k1"}
    base.update(changes)
    return base


# (server, what differs from the recorded state, tags written now, units) ->
# (action, daemon_reload, restart_socket, check_import)
TABLE = [
    ("gunicorn", {}, [], UP, ("nothing", False, False, False)),
    ("gunicorn", {"code": "k2"}, [], UP, ("reload", False, False, True)),
    ("gunicorn", {"config": "c2"}, [], UP, ("reload", False, False, True)),
    ("uwsgi", {"config": "c2"}, [], UP, ("restart", False, False, True)),
    ("uwsgi", {"code": "k2"}, [], UP, ("reload", False, False, True)),
    ("gunicorn", {"env": "e2"}, [], UP, ("restart", False, False, True)),
    ("gunicorn", {"service": "u2"}, [], UP, ("restart", True, False, True)),
    ("gunicorn", {"service": "u2", "code": "k2"}, [], UP, ("restart", True, False, True)),
    ("gunicorn", {"socket": "s2"}, [], UP, ("restart", True, True, True)),
    ("gunicorn", {"server": "uwsgi"}, [], UP, ("restart", False, False, True)),
    # Files written in this run count even when the fingerprint on disk is the recorded one
    # (a hand edit put back), and tags that are not a kind (logrotate) change nothing.
    ("gunicorn", {}, ["service"], UP, ("restart", True, False, True)),
    ("gunicorn", {}, ["env"], UP, ("restart", False, False, True)),
    ("gunicorn", {}, ["config"], UP, ("reload", False, False, True)),
    ("gunicorn", {}, ["logrotate"], UP, ("nothing", False, False, False)),
    # A stopped server is started (no import check when nothing it runs with changed).
    ("gunicorn", {}, [], DOWN, ("start", False, False, False)),
    ("gunicorn", {"code": "k2"}, [], DOWN, ("start", False, False, True)),
]


@pytest.mark.parametrize("server,diff,tags,units,expected", TABLE)
def test_action_table(server, diff, tags, units, expected):
    old = state(server=server)
    new = dict(old, **diff)
    got = ws.decide(old, new, server, units, APP, tags)
    assert (got["action"], got["daemon_reload"], got["restart_socket"], got["check_import"]) == expected
    assert got["pending"] == (expected[0] != "nothing" or got["start_units"] != [] or got["record_state"]
                              or expected[1])
    if expected[0] == "nothing":
        assert got["reasons"] == [] and not got["pending"]
    else:
        assert got["reasons"]


def test_first_start_checks_the_import_and_starts_both_units():
    got = ws.decide(None, state(), "gunicorn", DOWN, APP)
    assert got["action"] == "start"
    assert got["check_import"] and got["daemon_reload"] and got["record_state"]
    assert not got["restart_socket"]  # nothing ran before: starting the socket is enough
    assert got["start_units"] == ["blog.socket", "blog.service"]
    assert got["reasons"] == ["no state recorded: first start"]


def test_a_state_of_an_earlier_format_counts_as_no_state():
    old = {"server": "gunicorn", "socket": "x", "restart": "y", "reload": "z"}
    got = ws.decide(old, state(), "gunicorn", UP, APP)
    assert got["action"] == "restart" and got["check_import"] and got["record_state"]


def test_a_changed_socket_stops_and_starts_the_service_even_if_enabled():
    got = ws.decide(state(), state(socket="s2"), "gunicorn", UP, APP)
    assert got["start_units"] == ["blog.service"]


def test_an_unenabled_unit_is_enabled_without_touching_the_server():
    units = {"blog.socket": {"active": "active", "enabled": "disabled"}, "blog.service": UP["blog.service"]}
    got = ws.decide(state(), state(), "gunicorn", units, APP)
    assert got["action"] == "nothing" and got["start_units"] == ["blog.socket"] and got["pending"]
    assert got["reasons"] == ["blog.socket is not enabled"]


def test_a_state_file_with_the_wrong_mode_is_written_again():
    got = ws.decide(state(), state(), "gunicorn", UP, APP, state_file_ok=False)
    assert got["action"] == "nothing" and got["record_state"] and got["pending"]


# --- fingerprints --------------------------------------------------------------------------

def test_env_fingerprint_is_the_variables_not_the_text(tmp_path):
    a, b, c = tmp_path / "a.env", tmp_path / "b.env", tmp_path / "c.env"
    a.write_text('# managed\nKEY="v 1"\nSECRET="s$x"\n')
    b.write_text("# another header\nKEY='v 1'\n\nSECRET=\"s\\$x\"\n")
    c.write_text('KEY="v 2"\nSECRET="s$x"\n')
    assert ws.env_fingerprint(str(a)) == ws.env_fingerprint(str(b))
    assert ws.env_fingerprint(str(a)) != ws.env_fingerprint(str(c))
    assert ws.env_fingerprint(str(tmp_path / "none.env")) == "absent"
    # Only a hash: no value of the file in it.
    assert "s$x" not in ws.env_fingerprint(str(a))


def test_env_fingerprint_does_not_follow_a_link(tmp_path):
    target = tmp_path / "real.env"
    target.write_text("A=1\n")
    (tmp_path / "link.env").symlink_to(target)
    assert ws.env_fingerprint(str(tmp_path / "link.env")) == "absent"


def test_code_fingerprint_sees_files_and_links_but_follows_none(tmp_path):
    code, venv, outside = tmp_path / "rel", tmp_path / "venv", tmp_path / "outside"
    (code / "pkg").mkdir(parents=True)
    (code / "__pycache__").mkdir()
    outside.mkdir()
    (code / "app.py").write_text("x = 1\n")
    (code / "pkg" / "m.py").write_text("y = 2\n")
    (code / "out").symlink_to(outside)
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    first = ws.code_fingerprint(str(code), str(venv))
    (code / "__pycache__" / "app.pyc").write_bytes(b"\0")
    (outside / "big.py").write_text("z = 3\n")
    assert ws.code_fingerprint(str(code), str(venv)) == first
    (code / "pkg" / "m.py").write_text("y = 3\n")
    second = ws.code_fingerprint(str(code), str(venv))
    assert second != first
    (site / "flask").mkdir()
    assert ws.code_fingerprint(str(code), str(venv)) != second
    listing = ws.tree_listing(str(code))
    assert any(line.startswith("out -> ") for line in listing)
    assert not any("big.py" in line for line in listing)


def test_code_fingerprint_names_the_resolved_release(tmp_path):
    for name in ("1", "2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text("x = 1\n")
        os.utime(tmp_path / name / "app.py", (1000, 1000))
    (tmp_path / "current").symlink_to(tmp_path / "1")
    one = ws.code_fingerprint(str(tmp_path / "current"), str(tmp_path / "venv"))
    (tmp_path / "current").unlink()
    (tmp_path / "current").symlink_to(tmp_path / "2")
    assert ws.code_fingerprint(str(tmp_path / "current"), str(tmp_path / "venv")) != one


def test_state_file_round_trip_and_ownership(tmp_path):
    folder = tmp_path / "wsgi"
    folder.mkdir(mode=0o700)
    path = folder / "blog.state"
    path.write_text(json.dumps(state()) + "\n")
    path.chmod(0o600)
    value, ok = ws.read_state_file(str(path))
    assert value == state()
    assert ok == (os.getuid() == 0 and os.getgid() == 0)
    path.write_text("not json")
    assert ws.read_state_file(str(path)) == (None, False)
    assert ws.read_state_file(str(folder / "none.state")) == (None, False)


def test_parse_units():
    text = ("Id=blog.socket\nActiveState=active\nUnitFileState=enabled\n\n"
            "Id=blog.service\nActiveState=failed\nUnitFileState=disabled\n")
    assert ws.parse_units(text, ["blog.socket", "blog.service"]) == {
        "blog.socket": {"active": "active", "enabled": "enabled"},
        "blog.service": {"active": "failed", "enabled": "disabled"},
    }


# --- install and preflight -------------------------------------------------------------------

@pytest.mark.parametrize("cpus,mem,workers", [(1, 8192, 3), (2, 24000, 5), (8, 512, 2), (4, 100, 1)])
def test_default_workers(cpus, mem, workers):
    assert ws.default_workers(cpus, mem) == workers


def params(**kw):
    p = {"app": APP, "server": "gunicorn", "venv": "/v", "server_version": "", "build_packages": [],
         "checker": None, "checker_sha1": "", "required_files": []}
    p.update(kw)
    return p


def test_version_problem_names_the_venv_and_what_to_do():
    assert ws.version_problem(params(), "23.0.0") is None
    assert ws.version_problem(params(server_version="23.0.0"), "23.0.0") is None
    msg = ws.version_problem(params(server_version="23.0.0"), "22.0.0")
    assert "has gunicorn 22.0.0 but gunicorn==23.0.0 is wanted" in msg and "/v" in msg
    msg = ws.version_problem(params(server="uwsgi", build_packages=["gcc"]), "")
    assert "has no uwsgi but uwsgi is wanted" in msg and "(gcc)" in msg


def test_binary_options_reads_the_option_table(tmp_path):
    binary = tmp_path / "uwsgi"
    binary.write_bytes(b"\x7fELF\0max-requests\0reload-mercy\0")
    assert ws.binary_options(str(binary), ["max-requests-delta", "reload-mercy"]) == ["reload-mercy"]
    binary.write_bytes(b"\x7fELF\0max-requests-delta\0")
    assert ws.binary_options(str(binary), ["max-requests-delta"]) == ["max-requests-delta"]
    assert ws.binary_options(str(tmp_path / "none"), ["max-requests-delta"]) == []


def test_install_state_wants_the_checker_as_shipped(tmp_path):
    checker = tmp_path / "lib" / "check"
    checker.parent.mkdir(mode=0o755)
    checker.write_text("#!/usr/bin/env python3\n")
    checker.chmod(0o755)
    import hashlib
    sha1 = hashlib.sha1(checker.read_bytes()).hexdigest()
    got = ws.install_state(params(checker=str(checker), checker_sha1=sha1))
    assert got["install_needed"] == (os.getuid() != 0)  # root:root wanted
    got = ws.install_state(params(checker=str(checker), checker_sha1="0" * 40))
    assert got["install_needed"] and str(checker) in got["install_reasons"][0]
    got = ws.install_state(params(required_files=[str(tmp_path / "uwsgi-core")]))
    assert got == {"install_needed": True, "install_reasons": [f"{tmp_path}/uwsgi-core is missing"]}


def test_a_crash_looped_server_is_reset_before_it_starts():
    units = {"blog.socket": {"active": "failed", "enabled": "enabled"},
             "blog.service": {"active": "failed", "enabled": "enabled"}}
    got = ws.decide(state(), state(), "gunicorn", units, APP)
    assert got["action"] == "start" and got["start_units"] == ["blog.socket", "blog.service"]
    assert got["reset_failed"] == ["blog.socket", "blog.service"]
    assert ws.decide(state(), state(), "gunicorn", UP, APP)["reset_failed"] == []
    # never a unit systemd has not loaded (a first start): it would refuse the reset
    assert ws.decide(None, state(), "gunicorn", DOWN, APP)["reset_failed"] == []
    # a restart by the deploy clears the start limit's count, so that deploys never hit it
    assert ws.decide(state(), state(env="e2"), "gunicorn", UP, APP)["reset_failed"] == ["blog.service"]
