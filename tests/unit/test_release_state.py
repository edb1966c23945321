"""pyweb.deploy.release_state: switch, history and pruning on real folders (a temp dir)."""
import importlib.util
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("pyweb_release_state", ROOT / "plugins" / "modules" / "release_state.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)


def app(tmp_path, releases, current=None, history=None, failed=()):
    (tmp_path / ".pyweb").mkdir()
    for index, name in enumerate(releases):
        folder = tmp_path / "releases" / name
        folder.mkdir(parents=True)
        os.utime(folder, (1000 + index, 1000 + index))
        if name in failed:
            (folder / ".pyweb-failed").write_text("put back\n")
    if current:
        os.symlink(tmp_path / "releases" / current, tmp_path / "current")
    if history is not None:
        (tmp_path / ".pyweb" / "history").write_text("".join(f"{r}\n" for r in history))
    return str(tmp_path)


def switch(base, release, keep=5, protect=(), check=False):
    return mod.run({"base_dir": base, "state": "switched", "release": release, "keep": keep,
                    "protect": list(protect)}, check)


def test_first_switch_records_the_history_as_json(tmp_path):
    base = app(tmp_path, ["r1"])
    result = switch(base, "r1")
    assert result["switched"] and result["changed"] and result["previous"] == ""
    assert os.readlink(tmp_path / "current") == str(tmp_path / "releases" / "r1")
    data = json.loads((tmp_path / ".pyweb" / "history.json").read_text())
    assert [e["release"] for e in data["switches"]] == ["r1"] and data["version"] == 1
    assert oct((tmp_path / ".pyweb" / "history.json").stat().st_mode & 0o777) == "0o600"
    again = switch(base, "r1")
    assert not again["changed"] and not again["switched"] and again["removed"] == []


def test_check_mode_reports_and_changes_nothing(tmp_path):
    base = app(tmp_path, ["r1", "r2"], current="r1", history=["r1"])
    result = switch(base, "r2", check=True)
    assert result["switched"] and result["changed"] and result["current"] == "r2"
    assert os.readlink(tmp_path / "current").endswith("/r1")
    assert not (tmp_path / ".pyweb" / "history.json").exists()


def test_failed_and_refused_releases_go_before_good_ones(tmp_path):
    # r1 r2 r3 switched to in turn; r4 refused before its switch; r5 switched then put back (failed);
    # now r6 becomes current. keep 3: r6, r3 (previous) and then the newest good one, r2.
    base = app(tmp_path, ["r1", "r2", "r3", "r4", "r5", "r6"], current="r3",
               history=["r1", "r2", "r3", "r5", "r3"], failed=["r5"])
    result = switch(base, "r6", keep=3)
    assert sorted(result["removed"]) == ["r1", "r4", "r5"]
    assert sorted(os.listdir(tmp_path / "releases")) == ["r2", "r3", "r6"]
    assert result["history"] == ["r2", "r3", "r3", "r6"]
    assert result["rollback_candidate"] == "r3"
    assert not (tmp_path / ".pyweb" / "history").exists()


def test_protected_releases_are_kept_beyond_keep(tmp_path):
    base = app(tmp_path, ["r1", "r2", "r3"], current="r2", history=["r1", "r2"])
    result = switch(base, "r3", keep=1, protect=["r1"])
    assert result["removed"] == [] and sorted(os.listdir(tmp_path / "releases")) == ["r1", "r2", "r3"]


def test_rollback_candidate_skips_current_failed_and_removed(tmp_path):
    base = app(tmp_path, ["r1", "r2", "r3"], current="r3", history=["r9", "r1", "r2", "r3"], failed=["r2"])
    result = mod.run({"base_dir": base, "state": "present", "release": None, "keep": 5, "protect": []}, False)
    assert result["rollback_candidate"] == "r1"
    assert result["releases"][0] == "r3" and result["failed_releases"] == ["r2"] and "failed" not in result and not result["changed"]


def test_a_link_in_releases_is_not_a_release_and_is_never_followed(tmp_path):
    base = app(tmp_path, ["r1", "r2"], current="r2", history=["r1", "r2"])
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep-me").write_text("x")
    os.symlink(outside, tmp_path / "releases" / "r0")
    switch(base, "r2", keep=1)
    assert (outside / "keep-me").exists() and os.path.islink(tmp_path / "releases" / "r0")


def test_current_that_is_not_a_link_is_refused(tmp_path):
    base = app(tmp_path, ["r1"])
    (tmp_path / "current").mkdir()
    with pytest.raises(ValueError, match="is not a symlink"):
        switch(base, "r1")


def test_an_unknown_release_is_refused(tmp_path):
    base = app(tmp_path, ["r1"])
    with pytest.raises(ValueError, match="no release 'r2'"):
        switch(base, "r2")
