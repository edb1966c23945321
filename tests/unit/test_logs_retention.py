"""plugins/filter/logs.py: log limits bounded by the disk's size."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.pyweb.deploy.plugins.filter.logs import logs_retention  # noqa: E402

GIB = 1024 ** 3


def test_a_10_gib_disk():
    got = logs_retention(10 * GIB)
    assert got["disk_bytes"] == 10 * GIB
    assert got["journal"] == {"SystemMaxUse": "512M", "SystemKeepFree": "1024M",
                              "SystemMaxFileSize": "64M", "MaxRetentionSec": "30day"}
    assert got["nginx"] == {"rotate": 14, "maxsize": "14M"}


def test_a_big_disk_is_capped():
    got = logs_retention(40 * GIB)
    assert got["disk_bytes"] == 40 * GIB
    assert got["journal"]["SystemMaxUse"] == "2048M"
    assert got["journal"]["SystemKeepFree"] == "4096M"
    assert got["journal"]["SystemMaxFileSize"] == "128M"
    assert got["nginx"]["maxsize"] == "58M"


def test_a_tiny_disk_keeps_a_floor():
    got = logs_retention(512 * 1024 * 1024)
    assert got["journal"]["SystemMaxUse"] == "64M"
    assert got["journal"]["SystemKeepFree"] == "64M"
    assert got["journal"]["SystemMaxFileSize"] == "8M"
    assert got["nginx"]["maxsize"] == "10M"


def test_settings_change_the_decision():
    got = logs_retention(10 * GIB, journal_percent=1, journal_days=7, nginx_days=7, nginx_percent=10)
    assert got["journal"]["SystemMaxUse"] == "102M"
    assert got["journal"]["MaxRetentionSec"] == "7day"
    assert got["nginx"] == {"rotate": 7, "maxsize": "146M"}


@pytest.mark.parametrize("kwargs, message", [
    ({"journal_percent": 0}, "journal_percent must be a whole number from 1 to 50, not 0"),
    ({"nginx_days": "14"}, "nginx_days must be a whole number from 1 to 3650, not '14'"),
    ({"keep_free_percent": True}, "keep_free_percent must be a whole number"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        logs_retention(10 * GIB, **kwargs)


@pytest.mark.parametrize("size", [0, None, "40G", True])
def test_a_size_that_is_not_bytes_is_a_clear_error(size):
    with pytest.raises(AnsibleFilterError, match="the disk's size must be a positive number of bytes"):
        logs_retention(size)
