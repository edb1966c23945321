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
    assert alerts_dropins([]) == {"directories": [], "files": []}


@pytest.mark.parametrize("name", ["../etc", "Blog", "blog-x", "", None, "1blog"])
def test_refuses_what_is_not_an_app_name(name):
    with pytest.raises(AnsibleFilterError, match="is not an app name"):
        alerts_dropins([name])
