#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Describe a virtualenv by reading its files, never by running its interpreter."""
from __future__ import annotations

DOCUMENTATION = r"""
module: venv_info
short_description: Describe a virtualenv from its files, without running its python
description:
  - Reads a virtualenv's C(pyvenv.cfg), the record pyweb.deploy.venv writes after a build, and
    the versions of named distributions from their C(.dist-info/METADATA) files. Nothing in the
    virtualenv is executed, so a C(.pth) file or a changed interpreter shipped by a dependency
    never runs as the caller (root).
  - The record is trusted only in a frozen virtualenv (its top folder a real directory owned by
    root, not writable by group or others) and only when it is a regular root-owned file; a
    half-built virtualenv, still owned by the app, reports no record.
  - Optionally checks a requirements file for C(-r)/C(-c) lines that leave its folder (an absolute
    path or C(..)), following relative includes.
  - Files are opened without following a final symbolic link and read up to 1 MiB.
version_added: 0.2.0
author: pyweb.deploy developers
options:
  path:
    description: The virtualenv's folder.
    type: path
    required: true
  marker:
    description: The name of the record inside the virtualenv.
    type: str
    default: .pyweb-venv.json
  packages:
    description: Distribution names whose installed versions to report (any spelling PEP 503 allows).
    type: list
    elements: str
    default: []
  requirements_file:
    description: A requirements file to check for includes that escape its folder; empty for none.
    type: path
attributes:
  check_mode:
    support: full
"""

EXAMPLES = r"""
- name: Read the venv's interpreter version, record and Gunicorn's version
  pyweb.deploy.venv_info:
    path: /srv/apps/blog/venv
    packages: [gunicorn]
  register: venv

- name: Fail when Gunicorn is missing
  ansible.builtin.fail:
    msg: no gunicorn in the venv
  when: venv.packages.gunicorn == ''
"""

RETURN = r"""
exists:
  description: Something is at O(path) (a dangling link counts).
  returned: always
  type: bool
frozen:
  description: O(path) is a real directory owned by root and writable by root only.
  returned: always
  type: bool
pyvenv_cfg:
  description: The keys and values of C(pyvenv.cfg) (empty when it is missing or not a regular file).
  returned: always
  type: dict
version:
  description: The interpreter version C(pyvenv.cfg) records (C(version) or uv's C(version_info)); empty when none.
  returned: always
  type: str
parent_safe:
  description:
    - The folder that holds O(path) is a real directory owned by root and writable by root only
      (or does not exist yet), so no other user can put a link where the virtualenv is built.
  returned: always
  type: bool
python_found:
  description: C(bin/python) leads to an existing file (it is not run).
  returned: always
  type: bool
marker:
  description: The record of the last build, only from a frozen virtualenv; empty otherwise.
  returned: always
  type: dict
packages:
  description: For each name of O(packages), the installed version, or an empty string.
  returned: always
  type: dict
requirements_escapes:
  description: The C(-r)/C(-c) lines of O(requirements_file) (and its includes) naming a file outside its folder, each as the path of the file it is in, a colon and the line.
  returned: always
  type: list
  elements: str
"""

import json
import os
import re
import stat

from ansible.module_utils.basic import AnsibleModule

MAX_READ = 1 << 20
INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+|(?=[^\s=]))(\S+)")


def read_text(path: str) -> str | None:
    """The text of a regular file, without following a final link; None when it is not one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, MAX_READ).decode("utf-8", "replace")
    finally:
        os.close(fd)


def parse_pyvenv_cfg(text: str) -> dict:
    cfg = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            cfg[key.strip()] = value.strip()
    return cfg


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def metadata_fields(text: str) -> dict:
    """Name and Version from a METADATA file's headers."""
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        if key in ("Name", "Version") and key not in fields:
            fields[key] = value.strip()
    return fields


def site_packages(venv: str) -> list:
    lib = os.path.join(venv, "lib")
    try:
        names = sorted(os.listdir(lib))
    except OSError:
        return []
    return [os.path.join(lib, n, "site-packages") for n in names if n.startswith("python")]


def installed_versions(venv: str, names: list) -> dict:
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
            # The folder's name says which distribution it is; METADATA says exactly.
            if normalize(entry[: -len(".dist-info")].rsplit("-", 1)[0]) not in wanted:
                continue
            text = read_text(os.path.join(folder, entry, "METADATA"))
            fields = metadata_fields(text or "")
            key = normalize(fields.get("Name", ""))
            if key in wanted and fields.get("Version"):
                found[wanted[key]] = fields["Version"]
    return found


def is_frozen(st) -> bool:
    return stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and not st.st_mode & 0o022


def read_marker(venv: str, name: str) -> dict:
    path = os.path.join(venv, name)
    try:
        st = os.lstat(path)
    except OSError:
        return {}
    if not stat.S_ISREG(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
        return {}
    try:
        value = json.loads(read_text(path) or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def requirement_escapes(path: str, depth: int = 0, seen: set | None = None) -> list:
    """`-r`/`-c` lines that name an absolute path or go up with `..`, in the file and its includes."""
    seen = set() if seen is None else seen
    real = os.path.realpath(path)
    if real in seen or depth > 10:
        return []
    seen.add(real)
    text = read_text(path)
    if text is None:
        return []
    found = []
    for raw in text.splitlines():
        match = INCLUDE.match(raw)
        if not match:
            continue
        target = match.group(1)
        if "://" in target:
            found.append(f"{path}: {raw.strip()}")
        elif os.path.isabs(target) or ".." in target.replace("\\", "/").split("/"):
            found.append(f"{path}: {raw.strip()}")
        else:
            found.extend(requirement_escapes(os.path.join(os.path.dirname(path), target), depth + 1, seen))
    return found


def describe(path: str, marker: str, packages: list) -> dict:
    try:
        st = os.lstat(path)
    except OSError:
        st = None
    frozen = st is not None and is_frozen(st)
    cfg_text = read_text(os.path.join(path, "pyvenv.cfg")) if st is not None else None
    cfg = parse_pyvenv_cfg(cfg_text) if cfg_text is not None else {}
    try:
        parent = os.lstat(os.path.dirname(os.path.abspath(path)))
    except FileNotFoundError:
        parent = None  # root makes it (check mode on a new host)
    return {
        "exists": st is not None,
        "parent_safe": parent is None or is_frozen(parent),
        "frozen": frozen,
        "pyvenv_cfg": cfg,
        "version": cfg.get("version") or cfg.get("version_info") or "",
        "python_found": os.path.isfile(os.path.join(path, "bin", "python")),
        "marker": read_marker(path, marker) if frozen else {},
        "packages": installed_versions(path, packages) if st is not None else {n: "" for n in packages},
    }


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "marker": {"type": "str", "default": ".pyweb-venv.json"},
            "packages": {"type": "list", "elements": "str", "default": []},
            "requirements_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params
    result = describe(p["path"], p["marker"], p["packages"])
    result["requirements_escapes"] = requirement_escapes(p["requirements_file"]) if p["requirements_file"] else []
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
