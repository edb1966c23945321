"""plugins/filter/logs.py: log limits bounded by the disk's size."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.pyweb.deploy.plugins.filter.logs import logs_retention  # noqa: E402

GIB = 1024 ** 3
MOUNTS = [{"mount": "/", "size_total": 40 * GIB}, {"mount": "/boot", "size_total": GIB},
          {"mount": "/var/log", "size_total": 10 * GIB}, {"mount": "/var/lib", "size_total": 100 * GIB}]


def test_the_mount_that_holds_the_logs_decides():
    got = logs_retention(MOUNTS)
    assert got["disk_bytes"] == 10 * GIB
    assert got["journal"] == {"SystemMaxUse": "512M", "SystemKeepFree": "1024M",
                              "SystemMaxFileSize": "64M", "MaxRetentionSec": "30day"}
    assert got["nginx"] == {"rotate": 14, "maxsize": "14M"}


def test_a_big_disk_is_capped():
    got = logs_retention(MOUNTS, path="/srv")
    assert got["disk_bytes"] == 40 * GIB
    assert got["journal"]["SystemMaxUse"] == "2048M"
    assert got["journal"]["SystemKeepFree"] == "4096M"
    assert got["journal"]["SystemMaxFileSize"] == "128M"
    assert got["nginx"]["maxsize"] == "58M"


def test_a_tiny_disk_keeps_a_floor():
    got = logs_retention([], disk_bytes=512 * 1024 * 1024)
    assert got["journal"]["SystemMaxUse"] == "64M"
    assert got["journal"]["SystemKeepFree"] == "64M"
    assert got["journal"]["SystemMaxFileSize"] == "8M"
    assert got["nginx"]["maxsize"] == "10M"


def test_settings_change_the_decision():
    got = logs_retention(MOUNTS, journal_percent=1, journal_days=7, nginx_days=7, nginx_percent=10)
    assert got["journal"]["SystemMaxUse"] == "102M"
    assert got["journal"]["MaxRetentionSec"] == "7day"
    assert got["nginx"] == {"rotate": 7, "maxsize": "146M"}


def test_a_path_between_mounts_takes_the_closest():
    assert logs_retention(MOUNTS, path="/var/lib/x")["disk_bytes"] == 100 * GIB
    assert logs_retention(MOUNTS, path="/var/logs")["disk_bytes"] == 40 * GIB


@pytest.mark.parametrize("kwargs, message", [
    ({"journal_percent": 0}, "journal_percent must be a whole number from 1 to 50, not 0"),
    ({"nginx_days": "14"}, "nginx_days must be a whole number from 1 to 3650, not '14'"),
    ({"keep_free_percent": True}, "keep_free_percent must be a whole number"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        logs_retention(MOUNTS, **kwargs)


def test_no_mount_facts_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match="no mount in the facts holds /var/log"):
        logs_retention([])
