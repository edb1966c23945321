#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Root's file operations in folders an app or its repository controls, never following a link."""
from __future__ import annotations

DOCUMENTATION = r"""
module: app_paths
short_description: Make an app's account and folders, its shared folders and a release's links without following links
description:
  - Root's file operations in the folders an app (C(shared/)) or its repository (a release) controls.
    Every path is walked one name at a time from a folder root owns, with C(O_NOFOLLOW); a symbolic
    link where a folder belongs is refused with a message naming the app and the path, never
    followed, and owners and modes are set through the opened folder. When it refuses, nothing
    on the host has changed (C(check_release) removes the refused release folder, which is not current).
  - "O(action=shared): the app's folders O(base_dir)/shared/<path> for each of O(paths) (owner and
    group the app, mode 0750; missing parents inside shared/ alike) and, when O(release) is set, the
    links O(release)/<path> -> O(base_dir)/shared/<path>: the release's own copy of the path is removed,
    missing parent folders are created root-owned 0755. A link the app planted in shared/ is refused."
  - "O(action=layout): the app's account and folder layout in one call: its group and its system user
    (no login shell, home O(base_dir)) when O(account=create) (with O(account=require) a missing
    user or group fails before anything changes), the missing parents of O(base_dir) (root, 0755),
    O(base_dir) (root and the app's group, 0755), C(releases/) (root, 0755; with O(web_group) root and the
    app's group, 0750, and an access ACL that lets O(web_group) read it too), C(.pyweb/) (root, 0700),
    C(shared/) and C(log/) (the app's, 0750), C(venvs/) (root, 0755) when O(venvs=true), and the folders
    O(paths) in C(shared/) (the app's, 0750). Returns where C(current) points."
  - "O(action=check_release): refuses a release that holds a symbolic link leaving it (an absolute
    target, or a relative one that resolves above the release, through other links too), or an
    entry of any type at its top named like what the deploy writes there itself (C(.pyweb-*),
    C(pyweb_wsgi_file.py)). Run it right after the code is exported, before anything else reads or
    changes the release."
  - "O(action=lend): makes O(release)/O(path) an empty folder the app owns (mode 0755; parents
    root-owned 0755), for a build step that writes there as the app; a copy the release ships is removed."
  - "O(action=reclaim): gives O(release)/O(path) and all it holds back to root, top down and never
    following a link, without set-id bits nor group or other write; refuses an entry owned by someone
    else than the app or root, a file with several hard links, a device, fifo or socket, and a link
    in it that leaves O(path)."
  - "O(action=survey): changes nothing; says what each of O(paths) is in O(release), counted by root
    without following a link (C(found)): C(absent), C(empty) (an empty real folder), C(shared) (the
    deploy's own link to O(base_dir)/shared/<path>, when O(base_dir) is set), or what else it is;
    C(refused: <why>) for a path that is not a plain relative path the deploy may adopt (letters, digits,
    C(_), C(.), C(-); at most 4 levels; no name the deploy reads or writes such as C(Procfile),
    C(requirements*), C(*.lock), C(pyproject.toml), C(.pyweb-*), C(pyweb_wsgi_file.py)). A missing
    O(release) gives an empty C(found)."
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  app:
    description: The app; its user and group (same name) own what the app may write.
    type: str
    required: true
  action:
    description: What to do (see the description).
    type: str
    required: true
    choices: [layout, shared, check_release, lend, reclaim, survey]
  base_dir:
    description: The app's folder, root-owned, holding C(shared/). Required for O(action=shared) and O(action=layout).
    type: path
  paths:
    description: Shared paths, relative to C(shared/) and to the release (no C(..)).
    type: list
    elements: str
    default: []
  release:
    description: A release folder (root-owned). Required except for O(action=shared).
    type: path
  path:
    description: The folder in O(release) that O(action=lend) and O(action=reclaim) work on.
    type: str
  account:
    description:
      - For O(action=layout). C(create) creates or fixes the app's group and user (system account, primary
        group the app's, home O(base_dir), shell C(/usr/sbin/nologin)); C(require) refuses an app whose user
        or group is missing and changes neither.
    type: str
    choices: [create, require]
    default: require
  venvs:
    description: For O(action=layout), also make C(venvs/) (root, 0755), where the app's virtualenvs go.
    type: bool
    default: false
  web_group:
    description:
      - "For O(action=layout), the group the web server (Nginx) runs as. Set, C(releases/) is root's and
        the app's group's (0750) with a POSIX access ACL C(group:<web_group>:r-x): the app and the web
        server read the releases, other apps' users do not. Empty, C(releases/) is root's, 0755."
    type: str
    default: ""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""

EXAMPLES = r"""
- name: Create the app's user, group and folders
  pyweb.deploy.app_paths:
    app: blog
    action: layout
    account: create
    base_dir: /srv/apps/blog
    paths: [media, data]
    venvs: true
    web_group: www-data
  register: layout

- name: Create the shared folders and link them into the release
  pyweb.deploy.app_paths:
    app: blog
    action: shared
    base_dir: /srv/apps/blog
    paths: [media, data]
    release: /srv/apps/blog/releases/0123456789ab

- name: Refuse a release whose repository carries a link that leaves it
  pyweb.deploy.app_paths:
    app: blog
    action: check_release
    release: /srv/apps/blog/releases/0123456789ab

- name: Lend the app the folder collectstatic writes, then give it back to root
  pyweb.deploy.app_paths:
    app: blog
    action: "{{ item }}"
    release: /srv/apps/blog/releases/0123456789ab
    path: staticfiles
  loop: [lend, reclaim]
"""

RETURN = r"""
changes:
  description: What changed (or would change in check mode), one item per path, with before and after.
  returned: always
  type: list
  elements: dict
  sample: [{path: /srv/apps/blog/shared/media, before: {state: absent},
            after: {state: directory, uid: 998, gid: 998, mode: "0750"}}]
account:
  description: The commands that created or fixed the app's group and user (O(action=layout)), or would in check mode.
  returned: when O(action=layout)
  type: list
  elements: list
  sample: [[groupadd, --system, blog], [useradd, --system, --gid, blog, --home-dir, /srv/apps/blog, --no-create-home, --shell, /usr/sbin/nologin, blog]]
uid:
  description: The app's uid (-1 in check mode before the account exists).
  returned: when O(action=layout)
  type: int
gid:
  description: The app's gid (-1 in check mode before the account exists).
  returned: when O(action=layout)
  type: int
current:
  description: The release C(current) points at (the last name of its target), empty when there is no link.
  returned: when O(action=layout)
  type: str
  sample: 0123456789ab
found:
  description: O(action=survey)'s answer per path (see the description).
  returned: when O(action=survey)
  type: dict
  sample: {static: absent, media: empty, assets: 3 entries}
reclaimed:
  description: How many entries O(action=reclaim) gave back to root.
  returned: when O(action=reclaim)
  type: int
"""

import errno
import grp
import os
import pwd
import struct

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible_collections.pyweb.deploy.plugins.module_utils.safepath import (
        UnsafePath, components, ensure_dir, ensure_link, ensure_path, folder_state, links_leaving, open_anchor,
        plain_path_problem, reclaim_tree, remove_tree)
except ImportError:  # tests/unit loads this file alone, with safepath on sys.path
    from safepath import (  # type: ignore[no-redef]
        UnsafePath, components, ensure_dir, ensure_link, ensure_path, folder_state, links_leaving, open_anchor,
        plain_path_problem, reclaim_tree, remove_tree)

ROOT = (0, 0, 0o755)
NOLOGIN = "/usr/sbin/nologin"


def account_plan(app: str, base_dir: str, group_gid, passwd) -> list:
    """The commands that make the app's group and user as wanted.

    group_gid: the gid of the group named app, or None when it is missing; passwd: (uid, gid,
    home, shell) of the user named app, or None. Returns argv lists, in order (empty: as wanted)."""
    commands = []
    if group_gid is None:
        commands.append(["groupadd", "--system", app])
    if passwd is None:
        commands.append(["useradd", "--system", "--gid", app, "--home-dir", base_dir, "--no-create-home",
                         "--shell", NOLOGIN, app])
        return commands
    _uid, gid, home, shell = passwd
    fix = []
    if group_gid is None or gid != group_gid:
        fix += ["--gid", app]
    if home.rstrip("/") != base_dir.rstrip("/"):
        fix += ["--home", base_dir]
    if shell != NOLOGIN:
        fix += ["--shell", NOLOGIN]
    if fix:
        commands.append(["usermod", *fix, app])
    return commands


def read_account(app: str) -> tuple:
    """(gid of the group named app or None, (uid, gid, home, shell) of the user or None)."""
    try:
        group_gid = grp.getgrnam(app).gr_gid
    except KeyError:
        group_gid = None
    try:
        pw = pwd.getpwnam(app)
        passwd = (pw.pw_uid, pw.pw_gid, pw.pw_dir, pw.pw_shell)
    except KeyError:
        passwd = None
    return group_gid, passwd


ACL_XATTR = "system.posix_acl_access"
_ACL_UNDEFINED_ID = 0xFFFFFFFF
# Tags of a POSIX ACL entry in the kernel's xattr format (linux/posix_acl_xattr.h).
ACL_USER_OBJ = 0x01
ACL_GROUP_OBJ = 0x04
ACL_GROUP = 0x08
ACL_MASK = 0x10
ACL_OTHER = 0x20


def releases_acl(web_gid: int) -> bytes:
    """The access ACL of releases/ with a web server's group: owner rwx, the app's group r-x, the
    web server's group r-x, others nothing (mode 0750), as the kernel stores it (version 2, entries
    in tag order)."""
    entries = [(ACL_USER_OBJ, 7, _ACL_UNDEFINED_ID), (ACL_GROUP_OBJ, 5, _ACL_UNDEFINED_ID),
               (ACL_GROUP, 5, web_gid), (ACL_MASK, 5, _ACL_UNDEFINED_ID), (ACL_OTHER, 0, _ACL_UNDEFINED_ID)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", tag, perm, ident) for tag, perm, ident in entries)


def acl_groups(blob) -> list:
    """The named groups an access ACL lets read (r), for reports: [gid]."""
    if not blob or len(blob) < 4:
        return []
    return [ident for tag, perm, ident in struct.iter_unpack("<HHI", blob[4:]) if tag == ACL_GROUP and perm & 4]


def ensure_acl(fd: int, shown: str, blob: bytes, check: bool):
    """Give the opened folder this access ACL (which also sets its mode's bits). Returns a change or None."""
    try:
        have = os.getxattr(fd, ACL_XATTR)
    except OSError as e:
        if e.errno not in (errno.ENODATA, getattr(errno, "ENOATTR", errno.ENODATA)):
            raise
        have = None
    if have == blob:
        return None
    if not check:
        os.setxattr(fd, ACL_XATTR, blob)
    return {"path": shown, "before": {"state": "directory", "acl_groups": acl_groups(have)},
            "after": {"state": "directory", "acl_groups": acl_groups(blob)}}


def layout_folders(ids: tuple, venvs: bool, web_gid=None) -> list:
    """The folders in the base directory: (name, (uid, gid, mode)). releases/ is root's and, with a
    web server's group, readable by the app's group only (and that group, through an ACL)."""
    uid, gid = ids
    releases = (0, gid, 0o750) if web_gid is not None else (0, 0, 0o755)
    folders = [("releases", releases), (".pyweb", (0, 0, 0o700)),
               ("shared", (uid, gid, 0o750)), ("log", (uid, gid, 0o750))]
    if venvs:
        folders.append(("venvs", (0, 0, 0o755)))
    return folders


def read_current(base_dir: str) -> str:
    """The release current points at (its target's last name), '' when current is not a link."""
    try:
        return os.path.basename(os.readlink(os.path.join(base_dir, "current")).rstrip("/"))
    except OSError:
        return ""


def make_parents(path: str, check: bool) -> list:
    """Create the missing folders above and at path, root 0755 (existing ones are left as they are:
    they are the host's, above every folder an app controls)."""
    changes = []
    missing = []
    cur = os.path.abspath(path)
    while not os.path.isdir(cur):
        missing.append(cur)
        cur = os.path.dirname(cur)
    for folder in reversed(missing):
        changes.append({"path": folder, "before": {"state": "absent"},
                        "after": {"state": "directory", "uid": 0, "gid": 0, "mode": "0755"}})
        if not check:
            os.mkdir(folder, 0o755)
            os.chmod(folder, 0o755)
    return changes


def layout(base_dir: str, paths: list, ids: tuple, venvs: bool, check: bool, web_gid=None) -> list:
    """The base directory (root:app 0755), its folders and shared/<paths>, never following a
    link below the base directory's parent. Returns the changes."""
    for p in paths:
        components(p)
    base_dir = base_dir.rstrip("/")
    parent, name = os.path.split(base_dir)
    uid, gid = ids
    changes = make_parents(parent, check)
    want = [(name, (0, gid, 0o755))]
    if check and not os.path.isdir(parent):
        pfd = None
    else:
        pfd = open_anchor(parent)
    try:
        base_fd = None
        if pfd is not None:
            base_fd, change = ensure_dir(pfd, name, base_dir, *want[0][1], check)
            changes += [change] if change else []
        else:
            changes.append({"path": base_dir, "before": {"state": "absent"},
                            "after": {"state": "directory", "uid": 0, "gid": gid, "mode": "0755"}})
        if base_fd is None:  # check mode, a new app: everything below is missing too
            changes += [{"path": f"{base_dir}/{n}", "before": {"state": "absent"},
                         "after": {"state": "directory", "uid": u, "gid": g, "mode": "%04o" % m}}
                        for n, (u, g, m) in layout_folders(ids, venvs, web_gid)]
            changes += [{"path": f"{base_dir}/shared/{p}", "before": {"state": "absent"},
                         "after": {"state": "directory", "uid": uid, "gid": gid, "mode": "0750"}} for p in paths]
            return changes
        try:
            for folder, (u, g, m) in layout_folders(ids, venvs, web_gid):
                fd, change = ensure_dir(base_fd, folder, f"{base_dir}/{folder}", u, g, m, check)
                changes += [change] if change else []
                if folder == "releases" and web_gid is not None and fd is not None:
                    change = ensure_acl(fd, f"{base_dir}/releases", releases_acl(web_gid), check)
                    changes += [change] if change else []
                if folder == "shared":
                    for p in paths:
                        if fd is None:
                            changes.append({"path": f"{base_dir}/shared/{p}", "before": {"state": "absent"},
                                            "after": {"state": "directory", "uid": uid, "gid": gid, "mode": "0750"}})
                            continue
                        child, more = ensure_path(fd, f"{base_dir}/shared", p, (uid, gid, 0o750), (uid, gid, 0o750),
                                                  check)
                        changes += more
                        if child is not None:
                            os.close(child)
                if fd is not None:
                    os.close(fd)
        finally:
            os.close(base_fd)
    finally:
        if pfd is not None:
            os.close(pfd)
    return changes


def app_ids(app: str) -> tuple:
    """The app's uid and gid (its group has its name)."""
    return pwd.getpwnam(app).pw_uid, grp.getgrnam(app).gr_gid


def shared(app: str, base_dir: str, paths: list, release: str | None, ids: tuple, check: bool) -> list:
    """The shared folders, then the release's links to them. Returns the changes."""
    for p in paths:
        components(p)
    uid, gid = ids
    changes = []
    if check and not os.path.lexists(base_dir):  # check mode on a new host: the app has no folder yet
        return [{"path": f"{base_dir}/shared/{p}", "before": {"state": "absent"},
                 "after": {"state": "directory", "uid": uid, "gid": gid, "mode": "0750"}} for p in paths] \
            + (release_links(base_dir, paths, release, check) if release else [])
    base_fd = open_anchor(base_dir)
    try:
        shared_fd, change = ensure_path(base_fd, base_dir, "shared", ROOT, (uid, gid, 0o750), check)
        changes += change
        try:
            for p in paths:
                fd, change = ensure_path(shared_fd if shared_fd is not None else base_fd,
                                         base_dir + "/shared", p, (uid, gid, 0o750), (uid, gid, 0o750), check)
                changes += change
                if fd is not None:
                    os.close(fd)
        finally:
            if shared_fd is not None:
                os.close(shared_fd)
    finally:
        os.close(base_fd)
    if release:
        changes += release_links(base_dir, paths, release, check)
    return changes


def survey(release: str, paths: list, base_dir: str = "") -> dict:
    """Per path: what it is in the release, by root's own count (safepath.folder_state; "shared"
    for the deploy's own link to base_dir/shared/<path>), or why it is refused
    (safepath.plain_path_problem). An absent release: {}."""
    if not os.path.lexists(release):
        return {}
    found = {}
    for p in paths:
        why = plain_path_problem(p)
        rel = p.strip("/")
        link = f"{base_dir.rstrip('/')}/shared/{rel}" if base_dir else ""
        found[p] = f"refused: {why}" if why else folder_state(release, rel, link)
    return found


def release_links(base_dir: str, paths: list, release: str, check: bool) -> list:
    """Link each shared path into the release, its parents root-owned, never following a link."""
    changes = []
    if check and not os.path.lexists(release):  # a new release in check mode: nothing exported
        return [{"path": f"{release}/{p}", "before": {"state": "absent"},
                 "after": {"state": "symbolic link", "target": f"{base_dir}/shared/{p}"}} for p in paths]
    rel_fd = open_anchor(release)
    try:
        for p in paths:
            parts = components(p)
            if len(parts) > 1:
                fd, change = ensure_path(rel_fd, release, "/".join(parts[:-1]), ROOT, ROOT, check)
                changes += change
            else:
                fd = os.dup(rel_fd)
            target = f"{base_dir.rstrip('/')}/shared/{'/'.join(parts)}"
            shown = f"{release.rstrip('/')}/{'/'.join(parts)}"
            if fd is None:
                changes.append({"path": shown, "before": {"state": "absent"},
                                "after": {"state": "symbolic link", "target": target}})
                continue
            try:
                change = ensure_link(fd, parts[-1], shown, target, check)
            finally:
                os.close(fd)
            if change:
                changes.append(change)
    finally:
        os.close(rel_fd)
    return changes


# What the deploy itself writes at the top of a release, as root and by name (its markers, the
# exported lock, the WSGI file's loader). A committed entry at one of these names is refused: a
# link there (.pyweb-built -> media/x, media being a link to the app-writable shared/media) would
# have root write, chmod and chown in the app's tree, and a committed marker would fake the deploy's.
RESERVED_PREFIX = ".pyweb-"
RESERVED_NAMES = ("pyweb_wsgi_file.py",)


def reserved_entries(fd: int) -> list:
    """The names at the top of a release that the deploy writes itself, whatever their type."""
    return sorted(name for name in os.listdir(fd)
                  if name.startswith(RESERVED_PREFIX) or name in RESERVED_NAMES)


def check_release(release: str, check: bool) -> tuple:
    """The links in a release that leave it, and its committed entries at names the deploy writes;
    a refused release is removed (not in check mode)."""
    if not os.path.lexists(release):
        return [], []
    fd = open_anchor(release)
    try:
        bad = links_leaving(fd)
        reserved = reserved_entries(fd)
    finally:
        os.close(fd)
    if (bad or reserved) and not check:
        parent, name = os.path.split(release.rstrip("/"))
        pfd = open_anchor(parent)
        try:
            remove_tree(pfd, name)
        finally:
            os.close(pfd)
    return bad, reserved


def lend(release: str, path: str, ids: tuple, check: bool) -> list:
    """An empty folder release/path owned by the app (a shipped copy removed), parents root's."""
    parts = components(path)
    if check and not os.path.lexists(release):
        return [{"path": f"{release}/{path}", "before": {"state": "absent"},
                 "after": {"state": "directory", "uid": ids[0], "gid": ids[1], "mode": "0755"}}]
    rel_fd = open_anchor(release)
    try:
        changes = []
        if len(parts) > 1:
            fd, changes = ensure_path(rel_fd, release, "/".join(parts[:-1]), ROOT, ROOT, check)
        else:
            fd = os.dup(rel_fd)
        shown = f"{release.rstrip('/')}/{path}"
        if fd is None:
            return changes + [{"path": shown, "before": {"state": "absent"},
                               "after": {"state": "directory", "uid": ids[0], "gid": ids[1], "mode": "0755"}}]
        try:
            if os.listdir(fd) and parts[-1] in os.listdir(fd):
                st = os.lstat(parts[-1], dir_fd=fd)
                if not check:
                    remove_tree(fd, parts[-1])
                changes.append({"path": shown, "before": {"state": "present", "uid": st.st_uid},
                                "after": {"state": "absent"}})
            if check:
                return changes + [{"path": shown, "before": {"state": "absent"},
                                   "after": {"state": "directory", "uid": ids[0], "gid": ids[1], "mode": "0755"}}]
            child, change = ensure_path(fd, shown.rsplit("/", 1)[0], parts[-1], ROOT, (ids[0], ids[1], 0o755), check)
            os.close(child)
            return changes + change
        finally:
            os.close(fd)
    finally:
        os.close(rel_fd)


def reclaim(release: str, path: str, ids: tuple, check: bool) -> tuple:
    """Give release/path back to root (see reclaim_tree); then refuse links in it that leave it.
    Returns (count, links leaving)."""
    parts = components(path)
    if check and not os.path.lexists(release):
        return 0, []
    rel_fd = open_anchor(release)
    try:
        fd, _created = ensure_path(rel_fd, release, "/".join(parts[:-1]), ROOT, ROOT, True) if len(parts) > 1 \
            else (os.dup(rel_fd), [])
        if fd is None:
            return 0, []
        try:
            shown = f"{release.rstrip('/')}/{path}"
            if check and not os.path.lexists(shown):
                return 0, []
            count = reclaim_tree(fd, parts[-1], shown, 0, 0, {0, ids[0]}, check)
            out_fd = os.open(parts[-1], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            try:
                bad = links_leaving(out_fd)
            finally:
                os.close(out_fd)
            return count, bad
        finally:
            os.close(fd)
    finally:
        os.close(rel_fd)


def _name(lookup, number: int) -> str:
    try:
        return lookup(number)[0]
    except (KeyError, OverflowError):
        return str(number)


def diff_of(changes: list) -> dict:
    """Before and after, one line per path, owners by name: what --diff shows."""
    def show(state):
        text = state["state"]
        if "uid" in state and "gid" in state:
            text += f" {_name(pwd.getpwuid, state['uid'])}:{_name(grp.getgrgid, state['gid'])}"
        if "mode" in state:
            text += f" {state['mode']}"
        if "target" in state:
            text += f" -> {state['target']}"
        if "acl_groups" in state:
            text += " acl " + (",".join(f"group:{_name(grp.getgrgid, g)}:r-x" for g in state["acl_groups"]) or "none")
        return text
    return {"before": "".join(f"{c['path']}: {show(c['before'])}\n" for c in changes),
            "after": "".join(f"{c['path']}: {show(c['after'])}\n" for c in changes)}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            app=dict(type="str", required=True),
            action=dict(type="str", required=True, choices=["layout", "shared", "check_release", "lend", "reclaim", "survey"]),
            base_dir=dict(type="path"),
            paths=dict(type="list", elements="str", default=[]),
            release=dict(type="path"),
            path=dict(type="str"),
            account=dict(type="str", choices=["create", "require"], default="require"),
            venvs=dict(type="bool", default=False),
            web_group=dict(type="str", default=""),
        ),
        required_if=[("action", "shared", ["base_dir"]), ("action", "layout", ["base_dir"]),
                     ("action", "check_release", ["release"]), ("action", "survey", ["release"]),
                     ("action", "lend", ["release", "path"]), ("action", "reclaim", ["release", "path"])],
        supports_check_mode=True,
    )
    p = module.params
    app, action, check = p["app"], p["action"], module.check_mode
    result = {"changed": False, "changes": []}
    try:
        if action == "check_release":
            bad, reserved = check_release(p["release"], check)
            if reserved:
                module.fail_json(
                    msg=f"{app}: the release {p['release']} holds {', '.join(reserved)}, a name the deploy "
                        "writes there itself (names starting with .pyweb- and pyweb_wsgi_file.py are the "
                        "deploy's). Remove or rename it in the repository (or source folder) and deploy again. "
                        + ("" if check else "The release folder was removed; ") + "current is unchanged.",
                    reserved=reserved, links=[{"path": link, "target": target} for link, target in bad])
            if bad:
                module.fail_json(
                    msg=f"{app}: the release {p['release']} holds symbolic links that leave it, which root "
                        f"will not follow: {', '.join(f'{link} -> {target}' for link, target in bad)}. Remove them "
                        "from the repository (or source folder) and deploy again. "
                        + ("" if check else "The release folder was removed; ") + "current is unchanged.",
                    links=[{"path": link, "target": target} for link, target in bad])
            module.exit_json(**result)
        if action == "survey":
            result["found"] = survey(p["release"], p["paths"], p["base_dir"] or "")
            module.exit_json(**result)
        if action == "layout":
            result.update(run_layout(module, app, p, check))
            ids = None
        else:
            try:
                ids = app_ids(app)
            except KeyError:
                if not check:  # check mode on a new host: the account is not there yet
                    raise
                ids = (-1, -1)
        # A dry pass first: a refusal comes before any change, so nothing on the host changes.
        if action == "layout":
            pass
        elif action == "shared":
            shared(app, p["base_dir"], p["paths"], p["release"], ids, True)
            result["changes"] = shared(app, p["base_dir"], p["paths"], p["release"], ids, check)
        elif action == "lend":
            lend(p["release"], p["path"], ids, True)
            result["changes"] = lend(p["release"], p["path"], ids, check)
        else:
            reclaim(p["release"], p["path"], ids, True)
            count, bad = reclaim(p["release"], p["path"], ids, check)
            if bad:
                module.fail_json(
                    msg=f"{app}: {p['release']}/{p['path']} holds symbolic links that leave it: "
                        f"{', '.join(f'{link} -> {target}' for link, target in bad)}. The build must not "
                        "write links out of its output; the release does not become current.",
                    reclaimed=count)
            result["reclaimed"] = count
            result["changed"] = count > 0
    except UnsafePath as e:
        hint = (" Remove the link (or file) there as the app's user, and deploy again." if action in ("shared", "layout")
                else " Nothing was changed there; the release does not become current.")
        module.fail_json(msg=f"{app}: {e}; root does not follow links the app or its repository controls.{hint}")
    except KeyError as e:
        module.fail_json(msg=f"{app}: the app's user or group does not exist ({e}).")
    if result["changes"] or result.get("account"):
        result["changed"] = True
        if module._diff:
            result["diff"] = diff_of(result["changes"])
            for command in result.get("account", []):
                result["diff"]["after"] += f"account: {' '.join(command)}\n"
    module.exit_json(**result)


def run_layout(module, app: str, p: dict, check: bool) -> dict:
    """The account (created, fixed or required), then the folders; the result's layout keys."""
    group_gid, passwd = read_account(app)
    commands = account_plan(app, p["base_dir"], group_gid, passwd)
    if commands and p["account"] == "require":
        missing = "user" if passwd is None else "group" if group_gid is None else None
        if missing:
            module.fail_json(msg=f"The {missing} {app} does not exist: deploy the app with pyweb.deploy.app (it "
                                 "creates the app's user, group and folders), or create them first.")
        commands = []  # an existing account is the caller's: required, not fixed
    if p["account"] == "create" and not check:
        for command in commands:
            rc, out, err = module.run_command(command)
            if rc != 0:
                module.fail_json(msg=f"{app}: {' '.join(command)} failed: {(err or out).strip()}", account=commands)
        group_gid, passwd = read_account(app)
    ids = (passwd[0], group_gid) if passwd is not None and group_gid is not None else (-1, -1)
    web_gid = None
    if p["web_group"]:
        try:
            web_gid = grp.getgrnam(p["web_group"]).gr_gid
        except KeyError:
            module.fail_json(msg=f"{app}: the web server's group {p['web_group']} does not exist (install the "
                                 "web server first, or set the group it runs as).")
    # A dry pass first: a refusal comes before any change, so nothing on the host changes.
    layout(p["base_dir"], p["paths"], ids, p["venvs"], True, web_gid)
    changes = layout(p["base_dir"], p["paths"], ids, p["venvs"], check, web_gid)
    return {"account": commands, "uid": ids[0], "gid": ids[1], "changes": changes,
            "current": read_current(p["base_dir"])}


if __name__ == "__main__":
    main()
