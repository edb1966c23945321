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


# Left out of a project's hash: what pip or setuptools leave in the tree is not the project, nor
# what pyweb.deploy writes into a release (.pyweb-built, .pyweb-release, .pyweb-locked.txt...).
PROJECT_SKIP = re.compile(r"^(\.git|__pycache__|build|.*\.egg-info|\.pyweb-.*)$")


def sha256sum_line(digest: str, name: str) -> str:
    """One line of GNU sha256sum's output; a name with a backslash or line break is escaped."""
    if "\\" in name or "\n" in name or "\r" in name:
        escaped = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{digest}  {escaped}\n"
    return f"{digest}  {name}\n"


def project_hash(root: str) -> str:
    """The hash of a project's regular files, as the role's former shell pipeline printed it:
    `find . ( -name .git -o -name __pycache__ -o -name build -o -name '*.egg-info' ) -prune -o
    -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum`. No link is followed."""
    names = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel = "./" + os.path.relpath(dirpath, root) if os.path.relpath(dirpath, root) != "." else "."
        kept = []
        for name in dirnames:
            if PROJECT_SKIP.match(name):
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in filenames:
            if PROJECT_SKIP.match(name):
                continue
            if stat.S_ISREG(os.lstat(os.path.join(dirpath, name)).st_mode):
                names.append(f"{rel}/{name}")
    names.sort(key=os.fsencode)
    listing = "".join(sha256sum_line(file_digest(os.path.join(root, n[2:]), "sha256") or "", n) for n in names)
    return hashlib.sha256(listing.encode("utf-8", "surrogateescape")).hexdigest()
