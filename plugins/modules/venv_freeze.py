#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make a virtualenv that an app's user built root-owned, without following its links."""
from __future__ import annotations

DOCUMENTATION = r"""
module: venv_freeze
short_description: Prepare a virtualenv's build by an app's user, then make it root-owned and record what it holds
description:
  - Three steps of pyweb.deploy.venv's build, each one call, run by root around the build command
    that the app's user runs (O(action)).
  - O(action=prepare), before the build; creates the folder that holds O(path) when it is missing
    (C(root:root) C(0755)), removes what an interrupted run left at C(<path>.previous), moves the
    current virtualenv there, makes O(path) an empty folder owned by O(user):O(group) C(0700) for
    the build, and writes O(config) (the installer's configuration, which may hold an index
    password) into a new folder under C(/run), C(root:<group>) C(0750), each file C(0640), so
    the build can read it and no one else (RV(config_dir)).
  - O(action=freeze), after the build command has returned. Walks O(path) by file descriptor without following
    symbolic links and gives every entry to root:root (links themselves included), then the top
    folder root:O(group) mode C(0750), so the app's user can use the virtualenv but no longer
    change it, and other apps cannot read it.
  - Modes of the entries are not changed. Nothing in the tree is opened but folders, and nothing
    is executed.
  - Refuses (and changes nothing more) a tree with a device file, a hard-linked file (its other
    name could be outside the tree), or a file that keeps a set-user-ID or set-group-ID bit.
  - Then replaces whatever is at O(marker) in the top folder by a new root-owned C(0644) file
    holding O(marker_content), the record pyweb.deploy.venv_info trusts.
  - Then removes C(<path>.previous) and O(config_dir).
  - O(action=restore), when the build or the freeze failed; removes a half-built virtualenv (one
    that is not frozen), puts C(<path>.previous) back, and removes O(config_dir).
  - Nothing is followed, everything is removed without following links, and nothing in the tree
    is executed. Skipped in check mode.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  action:
    description: Which step (see above).
    type: str
    choices: [prepare, freeze, restore]
    default: freeze
  path:
    description: The virtualenv's folder (a real directory, not a link).
    type: path
    required: true
  group:
    description: The group of the top folder (the app's).
    type: str
    required: true
  user:
    description: With O(action=prepare), the user who builds (owns the empty folder); O(group) when not given.
    type: str
  config:
    description:
      - With O(action=prepare), the files to write into RV(config_dir), file name to content. They
        may hold credentials, so the option is C(no_log) and nothing of it is returned.
    type: dict
    default: {}
  config_dir:
    description: With O(action=freeze) or O(action=restore), the folder O(action=prepare) returned, removed.
    type: path
  marker:
    description: The name of the record inside the top folder.
    type: str
    default: .pyweb-venv.json
  marker_content:
    description: The record's text; required with O(action=freeze).
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: partial
    details: Nothing is changed in check mode; the result then reports no change.
"""

EXAMPLES = r"""
- name: Move the current venv aside and give blog an empty folder to build in
  pyweb.deploy.venv_freeze:
    action: prepare
    path: /srv/apps/blog/venv
    group: blog
    config:
      pip.conf: "[global]\nno-input = true\n"
  register: prepared

- name: Freeze the venv blog's user built
  pyweb.deploy.venv_freeze:
    path: /srv/apps/blog/venv
    group: blog
    marker_content: '{"hash": "..."}'
    config_dir: "{{ prepared.config_dir }}"
"""

RETURN = r"""
entries:
  description: How many entries below the top folder were given to root.
  returned: with O(action=freeze)
  type: int
config_dir:
  description: The folder that holds O(config).
  returned: with O(action=prepare)
  type: str
moved_aside:
  description: The current virtualenv was moved to C(<path>.previous).
  returned: with O(action=prepare)
  type: bool
restored:
  description: C(<path>.previous) was put back.
  returned: with O(action=restore)
  type: bool
"""

import grp
import os
import pwd
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

# The installer's configuration goes here: the build runs in a transient unit with a private /tmp
# (pyweb.deploy.app_command), which can read /run but would see an empty /tmp.
CONFIG_PARENT = "/run"


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


def remove(path: str) -> bool:
    """Remove whatever is at path (a link itself, never what it points to); True if something was."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        # rmtree works by file descriptor here and follows no link inside the tree.
        shutil.rmtree(path)
    else:
        os.unlink(path)
    return True


def prepare(path: str, uid: int, gid: int, config: dict, config_parent: str = CONFIG_PARENT) -> dict:
    """Before the build: the parent, the previous venv aside, an empty folder for the builder,
    and the installer's configuration readable by the builder's group only."""
    for name in config:
        if "/" in name or name in ("", ".", ".."):
            raise Refused(f"config file {name!r} is not a plain file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.lexists(parent):
        # root:root 0755, like `mkdir -p -m 0755`: parents made on the way get the same.
        old = os.umask(0o022)
        try:
            os.makedirs(parent, 0o755)
        finally:
            os.umask(old)
    previous = path + ".previous"
    remove(previous)  # what an interrupted run left
    moved = os.path.lexists(path)
    if moved:
        os.rename(path, previous)
    os.mkdir(path, 0o700)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    config_dir = tempfile.mkdtemp(prefix="pyweb-venv-", dir=config_parent)
    os.chown(config_dir, 0, gid)
    os.chmod(config_dir, 0o750)
    for name, content in config.items():
        fd = os.open(os.path.join(config_dir, name),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
        try:
            os.fchown(fd, 0, gid)
            os.fchmod(fd, 0o640)
            os.write(fd, str(content).encode("utf-8"))
        finally:
            os.close(fd)
    return {"config_dir": config_dir, "moved_aside": moved}


def restore(path: str, config_dir: str | None) -> dict:
    """After a failure: the half-built venv removed, the previous one back, the configuration gone.
    A frozen venv at path (root's, so not half-built) is kept when there is nothing to put back."""
    previous = path + ".previous"
    have_previous = os.path.lexists(previous)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and (have_previous or not (stat.S_ISDIR(st.st_mode) and st.st_uid == 0
                                                 and not st.st_mode & 0o022)):
        remove(path)
    if have_previous:
        os.rename(previous, path)
    if config_dir:
        remove(config_dir)
    return {"restored": have_previous}


def finish(path: str, config_dir: str | None) -> None:
    """After the freeze: the previous venv and the configuration removed."""
    remove(path + ".previous")
    if config_dir:
        remove(config_dir)


def main():
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "choices": ["prepare", "freeze", "restore"], "default": "freeze"},
            "path": {"type": "path", "required": True},
            "group": {"type": "str", "required": True},
            "user": {"type": "str"},
            "config": {"type": "dict", "default": {}, "no_log": True},
            "config_dir": {"type": "path"},
            "marker": {"type": "str", "default": ".pyweb-venv.json"},
            "marker_content": {"type": "str"},
        },
        required_if=[("action", "freeze", ["marker_content"])],
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, msg="skipped in check mode")
    try:
        gid = grp.getgrnam(p["group"]).gr_gid
    except KeyError:
        module.fail_json(msg=f"group {p['group']} does not exist")
    what = {"prepare": "prepared for its build", "freeze": "frozen", "restore": "put back"}[p["action"]]
    try:
        if p["action"] == "prepare":
            try:
                uid = pwd.getpwnam(p["user"] or p["group"]).pw_uid
            except KeyError:
                module.fail_json(msg=f"user {p['user'] or p['group']} does not exist")
            result = prepare(p["path"], uid, gid, p["config"])
        elif p["action"] == "restore":
            result = restore(p["path"], p["config_dir"])
        else:
            result = {"entries": freeze(p["path"], gid)}
            write_marker(p["path"], p["marker"], p["marker_content"])
            finish(p["path"], p["config_dir"])
    except Refused as exc:
        module.fail_json(msg=f"the virtualenv {p['path']} was not {what}: {exc}")
    except OSError as exc:
        module.fail_json(msg=f"the virtualenv {p['path']} was not {what}: {exc.filename or p['path']}: {exc.strerror}")
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
