"""plugins/filter/alerts.py: the OnFailure= drop-ins of the apps' units."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.pyweb.deploy.plugins.filter.alerts import alerts_dropins  # noqa: E402


def test_two_dropins_per_app_the_unit_and_its_prefix():
    got = alerts_dropins(["blog", "shop", "blog"])
    assert [d["path"] for d in got["directories"]] == [
        "/etc/systemd/system/blog.service.d", "/etc/systemd/system/blog-.service.d",
        "/etc/systemd/system/shop.service.d", "/etc/systemd/system/shop-.service.d"]
    assert [f["dest"] for f in got["files"]][:2] == [
        "/etc/systemd/system/blog.service.d/50-pyweb-alerts.conf",
        "/etc/systemd/system/blog-.service.d/50-pyweb-alerts.conf"]
    for f in got["files"]:
        # %p: one "@" in the alert unit's name even for blog-worker@1.service
        assert "OnFailure=pyweb-alert@%p.service" in f["content"] and f["tag"] == "unit"
        assert f["content"].index("[Unit]") < f["content"].index("OnFailure=")


def test_no_apps_no_dropins():
    assert alerts_dropins([]) == {"directories": [], "files": [], "absent": []}


@pytest.mark.parametrize("name", ["../etc", "Blog", "blog-x", "", None, "1blog"])
def test_refuses_what_is_not_an_app_name(name):
    with pytest.raises(AnsibleFilterError, match="is not an app name"):
        alerts_dropins([name])


def test_the_dropins_of_apps_no_longer_wanted_are_absent():
    present = ["/etc/systemd/system/blog.service.d/50-pyweb-alerts.conf",
               "/etc/systemd/system/gone.service.d/50-pyweb-alerts.conf",
               "/etc/systemd/system/gone-.service.d/50-pyweb-alerts.conf",
               # never ours: another file name, another folder, a path outside the units' folder
               "/etc/systemd/system/gone.service.d/override.conf",
               "/etc/systemd/system/50-pyweb-alerts.conf",
               "/etc/systemd/system/a/b.service.d/50-pyweb-alerts.conf",
               "/srv/apps/gone.service.d/50-pyweb-alerts.conf"]
    assert alerts_dropins(["blog"], present=present)["absent"] == [
        "/etc/systemd/system/gone-.service.d/50-pyweb-alerts.conf",
        "/etc/systemd/system/gone.service.d/50-pyweb-alerts.conf"]
    # alerts off: every app's drop-ins go
    assert alerts_dropins([], present=present[:3])["absent"] == sorted(present[:3])
