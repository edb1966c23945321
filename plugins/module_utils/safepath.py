# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No-follow file operations for root in folders an app or its repository controls.

Every operation starts from a folder root trusts (an anchor: the app's base folder, a release
folder) and goes down one name at a time with ``dir_fd`` and ``O_NOFOLLOW``: a symbolic link
where a folder is expected is refused, never followed, and owners and modes are changed through
the opened file descriptor (fchown, fchmod), so a name swapped after it was looked at cannot
redirect the change. Plain Python, no Ansible import: tests/unit tests it on a temporary folder.
"""
from __future__ import annotations

import errno
import os
import re
import stat
from collections import deque

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
# How many links one resolution may go through before it counts as a loop (the kernel's limit).
MAX_HOPS = 40


class UnsafePath(Exception):
    """A path root will not touch: a link where a folder belongs, a foreign owner, a hard link."""


def components(rel: str) -> list:
    """The names of a relative path; refuses absolute paths, '..' and empty paths."""
    parts = [p for p in str(rel).split("/") if p not in ("", ".")]
    if str(rel).startswith("/") or not parts or ".." in parts:
        raise UnsafePath(f"{rel!r} is not a relative path inside its folder (no leading /, no '..')")
    return parts


# A folder of a release the deploy may take from the app's own report (Django's STATIC_ROOT and
# MEDIA_ROOT) or from an operator's static_dir and shared_paths, and put into Nginx's configuration:
# plain names only (no space, quote, ';', '{', '$' or '#' for Nginx to misread), a few levels deep.
# The same rule is in plugins/filter/apps.py (PLAIN_PATH_RE), which cannot import this file.
PLAIN_PATH_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*")
PLAIN_PATH_DEPTH = 4
# Names the deploy itself writes or reads in a release: never adopted, at any depth.
DEPLOY_NAMES = ("procfile", "app.json", "pipfile", "pyproject.toml", "runtime.txt", "pyweb_wsgi_file.py")


def plain_path_problem(rel) -> str:
    """Why rel is not a plain folder path of a release the deploy may adopt or serve ("" when it is)."""
    text = rel if isinstance(rel, str) else ""
    path = text.rstrip("/")
    if not PLAIN_PATH_RE.fullmatch(path):
        return (f"{text!r} is not a plain relative path (letters, digits, '_', '.', '-' in names that do "
                "not start with '.' or '-', separated by '/')")
    parts = path.split("/")
    if len(parts) > PLAIN_PATH_DEPTH:
        return f"{text!r} is more than {PLAIN_PATH_DEPTH} folders deep"
    for part in parts:
        low = part.lower()
        if low in DEPLOY_NAMES or low.startswith(("requirements", ".pyweb")) or low.endswith(".lock"):
            return (f"{text!r} names {part}, a file the deploy reads or writes in the release (Procfile, "
                    "app.json, requirements*, *.lock, Pipfile, pyproject.toml, runtime.txt, pyweb_wsgi_file.py)")
    return ""


def folder_state(anchor_path: str, rel: str, shared_link: str = "") -> str:
    """What rel is in the folder anchor_path, counted by root without following a link: "absent"
    (it or a parent does not exist), "empty" (an empty real folder), "shared" (a link whose target
    is exactly shared_link: the deploy's own link into shared/), or a phrase saying what else it is
    ("3 entries", "a symbolic link", "a file", "below a symbolic link")."""
    parts = components(rel)
    fd = open_anchor(anchor_path)
    try:
        for part in parts[:-1]:
            st = lstat_at(fd, part)
            if st is None:
                return "absent"
            if not stat.S_ISDIR(st.st_mode):
                return f"below a {_kind(st)} ({part})"
            child = open_child(fd, part, part)
            os.close(fd)
            fd = child
        st = lstat_at(fd, parts[-1])
        if st is None:
            return "absent"
        if shared_link and stat.S_ISLNK(st.st_mode) and os.readlink(parts[-1], dir_fd=fd) == shared_link:
            return "shared"
        if not stat.S_ISDIR(st.st_mode):
            return f"a {_kind(st)}"
        child = open_child(fd, parts[-1], rel)
        try:
            count = len(os.listdir(child))
        finally:
            os.close(child)
        return "empty" if count == 0 else f"{count} entries"
    finally:
        os.close(fd)


def open_anchor(path: str) -> int:
    """Open a folder root trusts; its last name must not be a link either."""
    try:
        return os.open(path, _DIR_FLAGS)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath(f"{path} is not a folder (a link or a file)") from None
        raise


def _kind(st) -> str:
    mode = st.st_mode
    for test, name in ((stat.S_ISLNK, "symbolic link"), (stat.S_ISDIR, "directory"), (stat.S_ISREG, "file"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "device"


def lstat_at(dir_fd: int, name: str):
    """lstat of name in dir_fd, or None when it does not exist."""
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


def open_child(dir_fd: int, name: str, shown: str) -> int:
    """Open the folder name in dir_fd without following a link (shown: its path for messages)."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        if e.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        st = lstat_at(dir_fd, name)
        if st is not None and stat.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(name, dir_fd=dir_fd)
            except OSError:
                target = "?"
            raise UnsafePath(f"{shown} is a symbolic link (to {target}), not a folder") from None
        raise UnsafePath(f"{shown} is a {_kind(st) if st else 'missing entry'}, not a folder") from None


_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def read_file_at(dir_fd: int, rel: str, shown: str, limit: int):
    """(bytes, stat) of the regular file rel under dir_fd, or None when it or a folder on its way
    is missing; never following a link. At most limit + 1 bytes are read (more than limit: the
    caller tells the file is too large). A link, a folder or another kind of entry at rel, or on
    its way, raises UnsafePath; shown is rel's path for messages."""
    parts = components(rel)
    fd = os.dup(dir_fd)
    try:
        for i, name in enumerate(parts[:-1]):
            try:
                child = open_child(fd, name, shown.rsplit("/", len(parts) - 1 - i)[0])
            except FileNotFoundError:
                return None
            os.close(fd)
            fd = child
        try:
            ffd = os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise UnsafePath(f"{shown} is not a regular file ({exc.strerror})") from None
        try:
            st = os.fstat(ffd)
            if not stat.S_ISREG(st.st_mode):
                raise UnsafePath(f"{shown} is not a regular file")
            chunks, size = [], 0
            while size <= limit:
                chunk = os.read(ffd, min(65536, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks), st
        finally:
            os.close(ffd)
    finally:
        os.close(fd)


def describe(st) -> dict:
    """What an entry is, for before/after reports."""
    if st is None:
        return {"state": "absent"}
    return {"state": _kind(st), "uid": st.st_uid, "gid": st.st_gid, "mode": "%04o" % stat.S_IMODE(st.st_mode)}


def ensure_dir(dir_fd: int, name: str, shown: str, uid: int, gid: int, mode: int, check: bool):
    """Make name in dir_fd a folder owned uid:gid with mode, never following a link.

    Returns (fd, change): fd is the opened folder (None in check mode when it is missing), change
    is None when it was as wanted, else {'path', 'before', 'after'}. A link or a file there
    raises UnsafePath and changes nothing.
    """
    try:
        fd = open_child(dir_fd, name, shown)
    except FileNotFoundError:
        fd = None
    after = {"state": "directory", "uid": uid, "gid": gid, "mode": "%04o" % mode}
    if fd is None:
        change = {"path": shown, "before": {"state": "absent"}, "after": after}
        if check:
            return None, change
        os.mkdir(name, 0o700, dir_fd=dir_fd)
        fd = open_child(dir_fd, name, shown)
        st = os.fstat(fd)
    else:
        st = os.fstat(fd)
        before = describe(st)
        change = None if before == after else {"path": shown, "before": before, "after": after}
    if change and not check:
        if (st.st_uid, st.st_gid) != (uid, gid):
            os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    return fd, change


def ensure_path(anchor_fd: int, anchor_path: str, rel: str, parents: tuple, final: tuple, check: bool):
    """Walk rel from anchor_fd creating what is missing: parents as (uid, gid, mode), the last
    folder as final. Returns (fd of the last folder or None in check mode, [changes]); the
    caller closes the fd. A link anywhere on the way raises UnsafePath."""
    parts = components(rel)
    changes = []
    fd = os.dup(anchor_fd)
    shown = anchor_path.rstrip("/")
    try:
        for i, name in enumerate(parts):
            shown = f"{shown}/{name}"
            uid, gid, mode = final if i == len(parts) - 1 else parents
            if fd is None:  # check mode, a missing parent: everything below is missing too
                changes.append({"path": shown, "before": {"state": "absent"},
                                "after": {"state": "directory", "uid": uid, "gid": gid, "mode": "%04o" % mode}})
                continue
            if i < len(parts) - 1 and lstat_at(fd, name) is not None:
                child = open_child(fd, name, shown)  # an existing parent keeps its owner and mode
                change = None
            else:
                child, change = ensure_dir(fd, name, shown, uid, gid, mode, check)
            os.close(fd)
            fd = child
            if change:
                changes.append(change)
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise
    return fd, changes


def remove_tree(dir_fd: int, name: str) -> None:
    """Remove name in dir_fd and, when it is a folder, all it holds, never following a link."""
    st = os.lstat(name, dir_fd=dir_fd)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        for entry in list(os.scandir(fd)):
            remove_tree(fd, entry.name)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def ensure_link(dir_fd: int, name: str, shown: str, target: str, check: bool):
    """Make name in dir_fd a symbolic link to target, removing what is there (a folder and its
    content, a file, another link) without following it. Returns None or a change."""
    st = lstat_at(dir_fd, name)
    if st is not None and stat.S_ISLNK(st.st_mode) and os.readlink(name, dir_fd=dir_fd) == target:
        return None
    before = describe(st)
    if st is not None and stat.S_ISLNK(st.st_mode):
        before["target"] = os.readlink(name, dir_fd=dir_fd)
    if not check:
        if st is not None:
            remove_tree(dir_fd, name)
        os.symlink(target, name, dir_fd=dir_fd)
    return {"path": shown, "before": before, "after": {"state": "symbolic link", "target": target}}


def _freeze(fd: int, st, shown: str, uid: int, gid: int, allowed_uids, check: bool) -> bool:
    """Check the owner, then give the opened entry to uid:gid, without set-id bits nor group or
    other write. Returns whether it changed."""
    if st.st_uid not in allowed_uids:
        raise UnsafePath(f"{shown} is owned by uid {st.st_uid}, not by the app or root")
    mode = stat.S_IMODE(st.st_mode) & 0o755
    changed = (st.st_uid, st.st_gid) != (uid, gid) or stat.S_IMODE(st.st_mode) != mode
    if changed and not check:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    return changed


def reclaim_tree(dir_fd: int, name: str, shown: str, uid: int, gid: int, allowed_uids, check: bool) -> int:
    """Give the folder name in dir_fd and all it holds to uid:gid (root), top down, never
    following a link: a folder is frozen (owner changed, group and other write removed) before
    its entries are read, so a process of the app still running cannot swap an entry for a link
    behind the walk. Refuses (UnsafePath) an entry owned by a uid not in allowed_uids, a file
    with more than one hard link, a device, fifo or socket, and an entry that changed between its
    lstat and its open. Links are given to uid:gid themselves (lchown), never their targets.
    Returns how many entries changed (or would change, in check mode)."""
    fd = open_child(dir_fd, name, shown)
    try:
        changed = int(_freeze(fd, os.fstat(fd), shown, uid, gid, allowed_uids, check))
        for entry in sorted(os.listdir(fd)):
            child = f"{shown}/{entry}"
            st = os.lstat(entry, dir_fd=fd)
            if stat.S_ISDIR(st.st_mode):
                changed += reclaim_tree(fd, entry, child, uid, gid, allowed_uids, check)
            elif stat.S_ISLNK(st.st_mode):
                if st.st_uid not in allowed_uids:
                    raise UnsafePath(f"{child} is owned by uid {st.st_uid}, not by the app or root")
                if (st.st_uid, st.st_gid) != (uid, gid):
                    changed += 1
                    if not check:
                        os.chown(entry, uid, gid, dir_fd=fd, follow_symlinks=False)
            elif stat.S_ISREG(st.st_mode):
                try:
                    cfd = os.open(entry, _FILE_FLAGS, dir_fd=fd)
                except OSError as e:
                    if e.errno == errno.ELOOP:
                        raise UnsafePath(f"{child} was replaced by a link while it was being given back") from None
                    raise
                try:
                    cst = os.fstat(cfd)
                    if (cst.st_dev, cst.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(cst.st_mode):
                        raise UnsafePath(f"{child} changed while it was being given back")
                    if cst.st_nlink > 1:
                        raise UnsafePath(f"{child} has {cst.st_nlink} hard links: another name of it may be outside")
                    changed += int(_freeze(cfd, cst, child, uid, gid, allowed_uids, check))
                finally:
                    os.close(cfd)
            else:
                raise UnsafePath(f"{child} is a {_kind(st)}: a build output holds files, folders and links only")
    finally:
        os.close(fd)
    return changed


def collect_links(dir_fd: int, prefix: str = "", links: dict | None = None) -> dict:
    """Every symbolic link under dir_fd: {relative path: target}, never following one."""
    links = {} if links is None else links
    for entry in sorted(os.listdir(dir_fd)):
        rel = f"{prefix}{entry}"
        st = os.lstat(entry, dir_fd=dir_fd)
        if stat.S_ISLNK(st.st_mode):
            links[rel] = os.readlink(entry, dir_fd=dir_fd)
        elif stat.S_ISDIR(st.st_mode):
            fd = os.open(entry, _DIR_FLAGS, dir_fd=dir_fd)
            try:
                collect_links(fd, rel + "/", links)
            finally:
                os.close(fd)
    return links


def leaves(link: str, links: dict) -> bool:
    """Whether the link (a key of links) resolves outside the tree links was collected from:
    an absolute target, a '..' above the top, or a chain through other links that does so (or
    loops). Lexical: the files need not exist."""
    cur = link.split("/")[:-1]
    queue = deque()
    target = links[link]
    hops = 1
    if target.startswith("/"):
        return True
    queue.extend(target.split("/"))
    while queue:
        name = queue.popleft()
        if name in ("", "."):
            continue
        if name == "..":
            if not cur:
                return True
            cur.pop()
            continue
        cur.append(name)
        key = "/".join(cur)
        if key in links:
            hops += 1
            target = links[key]
            if hops > MAX_HOPS or target.startswith("/"):
                return True
            cur.pop()
            queue.extendleft(reversed(target.split("/")))
    return False


def links_leaving(root_fd: int) -> list:
    """The links under root_fd that leave it: [(relative path, target)], sorted."""
    links = collect_links(root_fd)
    return [(path, target) for path, target in sorted(links.items()) if leaves(path, links)]
