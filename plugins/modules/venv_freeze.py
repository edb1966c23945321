#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make a virtualenv that an app's user built root-owned, without following its links."""
from __future__ import annotations

DOCUMENTATION = r"""
module: venv_freeze
short_description: Make a virtualenv an app's user built root-owned, and record what it holds
description:
  - Run after the build command has returned. Walks O(path) by file descriptor without following
    symbolic links and gives every entry to root:root (links themselves included), then the top
    folder root:O(group) mode C(0750), so the app's user can use the virtualenv but no longer
    change it, and other apps cannot read it.
  - Modes of the entries are not changed. Nothing in the tree is opened but folders, and nothing
    is executed.
  - Refuses (and changes nothing more) a tree with a device file, a hard-linked file (its other
    name could be outside the tree), or a file that keeps a set-user-ID or set-group-ID bit.
  - Then replaces whatever is at O(marker) in the top folder by a new root-owned C(0644) file
    holding O(marker_content), the record pyweb.deploy.venv_info trusts.
  - Skipped in check mode.
version_added: 0.2.0
author: pyweb.deploy developers
options:
  path:
    description: The virtualenv's folder (a real directory, not a link).
    type: path
    required: true
  group:
    description: The group of the top folder (the app's).
    type: str
    required: true
  marker:
    description: The name of the record inside the top folder.
    type: str
    default: .pyweb-venv.json
  marker_content:
    description: The record's text.
    type: str
    required: true
attributes:
  check_mode:
    support: none
    details: Skipped in check mode (reports no change).
"""

EXAMPLES = r"""
- name: Freeze the venv blog's user built
  pyweb.deploy.venv_freeze:
    path: /srv/apps/blog/venv
    group: blog
    marker_content: '{"hash": "..."}'
"""

RETURN = r"""
entries:
  description: How many entries below the top folder were given to root.
  returned: when run
  type: int
"""

import grp
import os
import stat

from ansible.module_utils.basic import AnsibleModule


class Refused(Exception):
    pass


def check_entry(name: str, st) -> None:
    mode = st.st_mode
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise Refused(f"{name} is a device file")
    if not stat.S_ISDIR(mode) and not stat.S_ISLNK(mode) and st.st_nlink > 1:
        raise Refused(f"{name} is a hard link ({st.st_nlink} names)")


def check_after(name: str, st) -> None:
    # Linux clears these bits when root changes a file's owner; a kernel that does not fails here.
    if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
        raise Refused(f"{name} keeps a set-user-ID or set-group-ID bit")


def freeze(path: str, gid: int) -> int:
    """Give the tree to root without following links; the top folder root:gid 0750."""
    top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    count = 0
    try:
        # First look, then change: a refused tree is left as the builder made it.
        for dirpath, dirnames, filenames, dirfd in os.fwalk(dir_fd=top, follow_symlinks=False):
            for name in dirnames + filenames:
                check_entry(os.path.join(path, dirpath, name), os.stat(name, dir_fd=dirfd, follow_symlinks=False))
        for dirpath, dirnames, filenames, dirfd in os.fwalk(dir_fd=top, follow_symlinks=False):
            for name in dirnames + filenames:
                os.chown(name, 0, 0, dir_fd=dirfd, follow_symlinks=False)
                check_after(os.path.join(path, dirpath, name), os.stat(name, dir_fd=dirfd, follow_symlinks=False))
                count += 1
        os.fchown(top, 0, gid)
        os.fchmod(top, 0o750)
    finally:
        os.close(top)
    return count


def write_marker(path: str, name: str, content: str) -> None:
    if "/" in name or name in ("", ".", ".."):
        raise Refused(f"marker {name!r} is not a plain file name")
    top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        try:
            st = os.stat(name, dir_fd=top, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None:
            if stat.S_ISDIR(st.st_mode):
                raise Refused(f"{os.path.join(path, name)} is a folder")
            os.unlink(name, dir_fd=top)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=top)
        try:
            os.fchown(fd, 0, 0)
            os.fchmod(fd, 0o644)
            os.write(fd, content.encode("utf-8"))
        finally:
            os.close(fd)
    finally:
        os.close(top)


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "group": {"type": "str", "required": True},
            "marker": {"type": "str", "default": ".pyweb-venv.json"},
            "marker_content": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, msg="skipped in check mode")
    try:
        gid = grp.getgrnam(p["group"]).gr_gid
    except KeyError:
        module.fail_json(msg=f"group {p['group']} does not exist")
    try:
        entries = freeze(p["path"], gid)
        write_marker(p["path"], p["marker"], p["marker_content"])
    except Refused as exc:
        module.fail_json(msg=f"the virtualenv {p['path']} was not frozen: {exc}")
    except OSError as exc:
        module.fail_json(msg=f"the virtualenv {p['path']} was not frozen: {exc.filename or p['path']}: {exc.strerror}")
    module.exit_json(changed=True, entries=entries)


if __name__ == "__main__":
    main()
