"""pyweb.deploy.package_state and module_utils/dpkg.py: dpkg's status file and apt's cache age."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.module_utils import dpkg  # noqa: E402

_spec = importlib.util.spec_from_file_location("pyweb_package_state", ROOT / "plugins" / "modules" / "package_state.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)

STATUS = """\
Package: nginx
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 1.22.1-9+deb12u1
Depends: libc6 (>= 2.34),
 libssl3 (>= 3.0.0)
Description: small, powerful, scalable web/proxy server
 Nginx ("engine X") is a high-performance web and reverse proxy server.

Package: logrotate
Status: deinstall ok config-files
Architecture: amd64
Version: 3.21.0-1

Package: exim4-daemon-light
Status: hold ok installed
Architecture: amd64
Version: 4.96-15
Provides: mail-transport-agent

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9

Package: python3-venv
Status: install ok half-installed
Architecture: amd64
Version: 3.11.2-1+b1

Package: nginx-common
Status: install ok installed
Architecture: all
Version: 1:1.26.0-1
"""


def test_only_installed_packages_count():
    installed = dpkg.parse_status(STATUS)
    found, missing = dpkg.find_installed(["nginx", "logrotate", "python3-venv", "certbot"], installed)
    assert found == {"nginx": "1.22.1-9+deb12u1"}
    assert missing == ["logrotate", "python3-venv", "certbot"]


def test_virtual_names_architectures_and_held_packages():
    installed = dpkg.parse_status(STATUS)
    found, missing = dpkg.find_installed(
        ["mail-transport-agent", "exim4-daemon-light", "libc6:i386", "libc6:arm64", "nginx-common:amd64"], installed)
    assert found == {"mail-transport-agent": "exim4-daemon-light 4.96-15", "exim4-daemon-light": "4.96-15",
                     "libc6:i386": "2.36-9", "nginx-common:amd64": "1:1.26.0-1"}
    assert missing == ["libc6:arm64"]


def test_upstream_version_drops_epoch_and_revision():
    assert dpkg.upstream_version("1.22.1-9+deb12u1") == "1.22.1"
    assert dpkg.upstream_version("1:1.26.0-1") == "1.26.0"
    assert dpkg.upstream_version("2.4") == "2.4"
    assert dpkg.upstream_version("exim4-daemon-light 4.96-15") == "4.96"


def _cache(tmp_path, lists=("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4",), stamp_age=None):
    folder = tmp_path / "lists"
    folder.mkdir(parents=True)
    for name in lists:
        (folder / name).write_text("x")
    (folder / "lock").write_text("")
    os.utime(folder, (1000, 1000))
    stamp = tmp_path / "stamp"
    if stamp_age is not None:
        stamp.write_text("")
        os.utime(stamp, (10000 - stamp_age, 10000 - stamp_age))
    return str(stamp), str(folder)


def test_cache_age_from_the_stamp_else_the_lists_folder(tmp_path):
    stamp, lists = _cache(tmp_path / "a", stamp_age=100)
    assert dpkg.cache_state(3600, now=10000, stamp=stamp, lists=lists) == {"age": 100, "lists": 1, "stale": False}
    assert dpkg.cache_state(60, now=10000, stamp=stamp, lists=lists)["stale"] is True
    stamp, lists = _cache(tmp_path / "b")
    assert dpkg.cache_state(3600, now=10000, stamp=stamp, lists=lists) == {"age": 9000, "lists": 1, "stale": True}


def test_a_lists_folder_without_lists_is_no_cache(tmp_path):
    stamp, lists = _cache(tmp_path / "c", lists=(), stamp_age=5)
    assert dpkg.cache_state(3600, now=10000, stamp=stamp, lists=lists) == {"age": 5, "lists": 0, "stale": True}
    assert dpkg.cache_state(3600, now=10000, stamp=str(tmp_path / "none"), lists=str(tmp_path / "none")) == {
        "age": -1, "lists": 0, "stale": True}


def test_the_module_result():
    installed = dpkg.parse_status(STATUS)
    result = mod.package_state(["nginx", "certbot"], 3600, installed, {"age": 10, "lists": 3, "stale": False})
    assert result == {"changed": False, "missing": ["certbot"], "versions": {"nginx": "1.22.1-9+deb12u1"},
                      "upstream_versions": {"nginx": "1.22.1"}, "cache_age": 10, "cache_lists": 3,
                      "cache_stale": False}
