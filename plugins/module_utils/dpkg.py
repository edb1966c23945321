# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What dpkg has installed (from its status file) and how old apt's package lists are.

Plain functions over text and paths, so that they are tested without a host. The age of the
cache is reckoned as ansible.builtin.apt does for cache_valid_time: the mtime of apt's periodic
update-success stamp, else of the lists folder; a lists folder without package lists (container
images, cleaned hosts) counts as no cache at all.
"""
from __future__ import annotations

import os
import re
import time

DPKG_STATUS = "/var/lib/dpkg/status"
APT_STAMP = "/var/lib/apt/periodic/update-success-stamp"
APT_LISTS = "/var/lib/apt/lists"


def parse_status(text: str) -> dict:
    """Installed packages from dpkg's status file: name (and name:arch) -> {version, arch, provides}.

    A package counts as installed when the third word of its Status is ``installed`` (what
    ``dpkg-query``'s db:Status-Abbrev shows as ``?i``): config-files, half-installed and
    not-installed entries are left out.
    """
    installed = {}
    for stanza in re.split(r"\n\s*\n", text):
        fields, last = {}, None
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += "\n" + line
                continue
            key, sep, value = line.partition(":")
            if sep:
                last = key.strip().lower()
                fields[last] = value.strip()
        status = fields.get("status", "").split()
        if "package" not in fields or len(status) < 3 or status[2] != "installed":
            continue
        provides = [p.strip().split(" ", 1)[0].split(":", 1)[0]
                    for p in fields.get("provides", "").split(",") if p.strip()]
        info = {"version": fields.get("version", ""), "arch": fields.get("architecture", ""), "provides": provides}
        installed.setdefault(fields["package"], info)
        installed[f"{fields['package']}:{info['arch']}"] = info
    return installed


def find_installed(names: list, installed: dict) -> tuple[dict, list]:
    """(name -> version of the wanted packages installed, names missing).

    A name may carry an architecture (``libc6:amd64``); a virtual name counts as installed when an
    installed package provides it (its version is then the provider's, as ``provider version``).
    """
    provided = {}
    for pkg, info in installed.items():
        for virtual in info["provides"]:
            provided.setdefault(virtual, f"{pkg} {info['version']}")
    found, missing = {}, []
    for name in names:
        base, _sep, arch = name.partition(":")
        info = installed.get(name) or (installed.get(f"{base}:all") if arch else None)
        if info:
            found[name] = info["version"]
        elif base in provided and not arch:
            found[name] = provided[base]
        else:
            missing.append(name)
    return found, missing


def upstream_version(version: str) -> str:
    """The upstream part of a Debian version: no epoch, no Debian revision (1:1.26.0-1 -> 1.26.0)."""
    version = version.split(" ")[-1]
    if ":" in version:
        version = version.split(":", 1)[1]
    if "-" in version:
        version = version.rsplit("-", 1)[0]
    return version


def cache_state(valid_time: int, now: float | None = None, stamp: str = APT_STAMP, lists: str = APT_LISTS) -> dict:
    """age (seconds, -1 without a cache), lists (package lists there), stale (refresh needed)."""
    now = time.time() if now is None else now
    try:
        count = sum(1 for e in os.listdir(lists)
                    if "_Packages" in e and not e.startswith(".") and os.path.isfile(os.path.join(lists, e)))
    except OSError:
        count = 0
    for path in (stamp, lists):
        try:
            age = int(now - os.stat(path).st_mtime)
            break
        except OSError:
            continue
    else:
        age = -1
    return {"age": age, "lists": count, "stale": count == 0 or age < 0 or age > valid_time}


def read_installed(path: str = DPKG_STATUS) -> dict:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return parse_status(handle.read())
