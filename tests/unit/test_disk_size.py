"""plugins/modules/disk_size.py: the filesystem that holds a path, measured."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.modules import disk_size  # noqa: E402


def test_measures_the_filesystem_of_a_path(tmp_path):
    got = disk_size.measure(str(tmp_path))
    stats = os.statvfs(tmp_path)
    assert got["size_bytes"] == stats.f_blocks * stats.f_frsize > 0
    assert 0 <= got["available_bytes"] <= got["size_bytes"]
    assert os.path.ismount(got["mount"]) and str(tmp_path.resolve()).startswith(got["mount"])


def test_a_path_not_made_yet_is_measured_on_its_parent(tmp_path):
    assert disk_size.measure(str(tmp_path / "not" / "yet"))["mount"] == disk_size.measure(str(tmp_path))["mount"]
