# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Versions of the distributions in a virtualenv, read from their ``.dist-info/METADATA`` files.

Nothing in the virtualenv is executed (root never runs a venv's python, whose site-packages a
dependency wrote), and no final link is followed when a file is opened. The same reading as
``pyweb.deploy.venv_info``'s (which may import it from here).
"""
from __future__ import annotations

import hashlib
import os
import re
import stat

MAX_READ = 1 << 20


def read_text(path: str, limit: int = MAX_READ) -> str | None:
    """The text of a regular file, without following a final link; None when it is not one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit).decode("utf-8", "replace")
    finally:
        os.close(fd)


def file_digest(path: str, algorithm: str = "sha256") -> str | None:
    """The hex digest of a regular file's whole content, not following a final link; None
    when the path is absent, a link or not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.new(algorithm)
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return digest.hexdigest()
            digest.update(chunk)
    finally:
        os.close(fd)


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def metadata_fields(text: str) -> dict:
    """Name and Version from a METADATA file's headers."""
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, _sep, value = line.partition(":")
        if key in ("Name", "Version") and key not in fields:
            fields[key] = value.strip()
    return fields


def site_packages(venv: str) -> list:
    """The site-packages folders of a virtualenv (lib/python*/site-packages)."""
    lib = os.path.join(venv, "lib")
    try:
        names = sorted(os.listdir(lib))
    except OSError:
        return []
    return [os.path.join(lib, n, "site-packages") for n in names if n.startswith("python")]


def installed_versions(venv: str, names: list) -> dict:
    """{name: version} for each name asked ('' when the virtualenv has not that distribution)."""
    wanted = {normalize(n): n for n in names}
    found = {n: "" for n in names}
    for folder in site_packages(venv):
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            if not entry.endswith(".dist-info"):
                continue
            if normalize(entry[: -len(".dist-info")].rsplit("-", 1)[0]) not in wanted:
                continue
            fields = metadata_fields(read_text(os.path.join(folder, entry, "METADATA")) or "")
            key = normalize(fields.get("Name", ""))
            if key in wanted and fields.get("Version"):
                found[wanted[key]] = fields["Version"]
    return found
