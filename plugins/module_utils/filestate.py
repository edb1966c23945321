# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Root-owned configuration files: compare what a role wants with the host, write what differs.

One plan for a group of files (a role's configuration, units, environment files): which folders
to make, which files to write or only to fix (owner, mode), which to remove; then the same plan is
applied to a scratch copy (to test it with the program that reads it) or to the host. Files are
written through a temporary file renamed over the old one, never through a link; a link found
where a file belongs is replaced, not followed. Plain Python, no Ansible import: tests/unit tests
it on a temporary folder.
"""
from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import tempfile

_NOFOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class PlanError(Exception):
    """Input the plan cannot be made from (an unknown owner, a relative path)."""


def uid_of(owner) -> int:
    if isinstance(owner, int) or str(owner).isdigit():
        return int(owner)
    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise PlanError(f"the user {owner!r} does not exist") from None


def gid_of(group) -> int:
    if isinstance(group, int) or str(group).isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise PlanError(f"the group {group!r} does not exist") from None


def _absolute(path: str, what: str) -> str:
    path = str(path)
    if not path.startswith("/") or "/../" in path + "/" or "\x00" in path:
        raise PlanError(f"{what} {path!r} is not an absolute path without '..'")
    return os.path.normpath(path)


def _mode(value, what: str) -> int:
    try:
        mode = int(str(value), 8)
    except ValueError:
        raise PlanError(f"{what}: mode {value!r} is not an octal number such as '0644'") from None
    if mode > 0o7777:
        raise PlanError(f"{what}: mode {value!r} is out of range")
    return mode


def normalize_files(files: list, secret: bool = False) -> list:
    out = []
    for item in files or []:
        dest = _absolute(item["dest"], "file")
        content = item.get("content")
        if content is None:
            raise PlanError(f"{dest}: no content")
        out.append({"dest": dest, "content": content.encode("utf-8") if isinstance(content, str) else bytes(content),
                    "mode": _mode(item.get("mode"), dest), "uid": uid_of(item.get("owner") or "root"),
                    "gid": gid_of(item.get("group") or "root"), "tag": item.get("tag") or "", "secret": secret})
    return out


def normalize_paths(items: list, what: str) -> list:
    """Paths given as text or as {path, tag, keep}: always dicts."""
    out = []
    for item in items or []:
        if isinstance(item, str):
            item = {"path": item}
        out.append({"path": _absolute(item["path"], what), "tag": item.get("tag") or "",
                    "keep": [str(k) for k in item.get("keep") or []]})
    return out


def normalize_dirs(dirs: list) -> list:
    out = []
    for item in dirs or []:
        path = _absolute(item["path"], "folder")
        out.append({"path": path, "mode": _mode(item.get("mode") or "0755", path),
                    "uid": uid_of(item.get("owner") or "root"), "gid": gid_of(item.get("group") or "root")})
    return out


def _lstat(path: str):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _read(path: str):
    """The file's bytes, or None when it is not a regular file (or absent), never through a link."""
    try:
        fd = os.open(path, _NOFOLLOW)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def plan(files: list, directories: list, absent: list, prune: list) -> dict:
    """What would change, from the host as it is: a dict of lists, nothing written."""
    result = {"mkdir": [], "fixdir": [], "write": [], "fix": [], "remove": []}
    for d in directories:
        st = _lstat(d["path"])
        if st is None:
            result["mkdir"].append(d)
        elif not stat.S_ISDIR(st.st_mode):
            raise PlanError(f"{d['path']} should be a folder but is something else (a link or a file): "
                            "nothing was changed; remove it or choose another path")
        elif (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) != (d["mode"], d["uid"], d["gid"]):
            result["fixdir"].append(d)
    wanted = set()
    for f in files:
        wanted.add(f["dest"])
        st = _lstat(f["dest"])
        old = _read(f["dest"]) if st is not None and stat.S_ISREG(st.st_mode) else None
        if old != f["content"]:
            result["write"].append(dict(f, old=old, was=_kind(st)))
        elif (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) != (f["mode"], f["uid"], f["gid"]):
            result["fix"].append(f)
    kept_dirs = {d["path"] for d in directories}
    seen = set()
    for item in absent:
        if item["path"] in wanted:
            raise PlanError(f"{item['path']} is both a file to write and a path to remove")
        if _lstat(item["path"]) is not None and item["path"] not in seen:
            seen.add(item["path"])
            result["remove"].append(item)
    for item in prune:
        try:
            names = sorted(os.listdir(item["path"])) if stat.S_ISDIR(os.lstat(item["path"]).st_mode) else []
        except FileNotFoundError:
            names = []
        for name in names:
            path = os.path.join(item["path"], name)
            if path in wanted or path in kept_dirs or name in item["keep"] or path in item["keep"] or path in seen:
                continue
            seen.add(path)
            result["remove"].append({"path": path, "tag": item["tag"], "keep": []})
    return result


def _kind(st) -> str:
    if st is None:
        return "absent"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    return "other"


def is_empty(p: dict) -> bool:
    return not any(p[k] for k in ("mkdir", "fixdir", "write", "fix", "remove"))


def _remove(path: str) -> None:
    st = _lstat(path)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)  # fd-based on Linux: it never follows a link inside
    else:
        os.unlink(path)


def _fix_fd(fd: int, mode: int, uid: int, gid: int) -> None:
    os.fchown(fd, uid, gid)
    os.fchmod(fd, mode)  # after fchown, which clears set-id bits


def _write(path: str, content: bytes, mode: int, uid: int, gid: int) -> None:
    folder, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".pyweb-tmp", dir=folder)
    try:
        _fix_fd(fd, mode, uid, gid)
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.rename(tmp, path)  # replaces a link or file at path, never writes through it
    except BaseException:
        if fd >= 0:
            os.close(fd)
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def read_file(path: str):
    """The bytes of the regular file at path, or None (absent, or not a regular file); a link at
    path is not followed."""
    return _read(path)


def write_file(path: str, content: bytes, mode: int, uid: int, gid: int) -> None:
    """Replace path with content (a new file renamed over it: a link at path is replaced, never
    written through), owned uid:gid with mode, synced."""
    _write(path, content, mode, uid, gid)


def apply(p: dict, rebase=None) -> None:
    """Carry out a plan, on the host or (rebase maps each path) on a scratch copy."""
    where = rebase or (lambda path: path)
    for d in p["mkdir"]:
        path = where(d["path"])
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, mode=0o755)
        os.mkdir(path, d["mode"])
        fd = os.open(path, _NOFOLLOW | os.O_DIRECTORY)
        try:
            _fix_fd(fd, d["mode"], d["uid"], d["gid"])
        finally:
            os.close(fd)
    for d in p["fixdir"]:
        fd = os.open(where(d["path"]), _NOFOLLOW | os.O_DIRECTORY)
        try:
            _fix_fd(fd, d["mode"], d["uid"], d["gid"])
        finally:
            os.close(fd)
    for item in p["remove"]:
        _remove(where(item["path"]))
    for f in p["write"]:
        path = where(f["dest"])
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        _write(path, f["content"], f["mode"], f["uid"], f["gid"])
    for f in p["fix"]:
        fd = os.open(where(f["dest"]), _NOFOLLOW)
        try:
            _fix_fd(fd, f["mode"], f["uid"], f["gid"])
        finally:
            os.close(fd)


def validate(p: dict, copy: str, argv: list, run) -> tuple:
    """Apply the plan to a scratch copy of `copy` and run argv on it ({root} = the copy).

    `run(argv)` runs a command and returns (rc, its stdout and stderr as text): the module's
    run_command. Only the paths under `copy` go into the scratch copy. Returns (rc, output),
    the scratch folder's name replaced by `copy` in the output."""
    copy = _absolute(copy, "validate.copy")
    scratch = tempfile.mkdtemp(prefix="pyweb-validate-")
    root = os.path.join(scratch, "root")
    try:
        if os.path.isdir(copy):
            shutil.copytree(copy, root, symlinks=True)
        else:
            os.mkdir(root, 0o755)  # the plan makes the folder itself
        inside = copy.rstrip("/") + "/"

        def keep(items, key):
            return [i for i in items if (i[key] + "/").startswith(inside) and i[key] != copy]

        sub = {"mkdir": keep(p["mkdir"], "path"), "fixdir": keep(p["fixdir"], "path"),
               "write": keep(p["write"], "dest"), "fix": keep(p["fix"], "dest"),
               "remove": keep(p["remove"], "path")}
        apply(sub, rebase=lambda path: root + path[len(copy):])
        args = [a.replace("{root}", root) for a in argv]
        rc, output = run(args)
        return rc, (output or "").replace(root, copy)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _text(data) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", errors="replace")


def report(p: dict) -> dict:
    """The result keys and the --diff of a plan; a secret file's content never appears."""
    diff = []
    for f in p["write"]:
        if f["secret"]:
            diff.append({"before_header": f"{f['dest']} (secret, content not shown)",
                         "after_header": f"{f['dest']} (secret, content not shown)",
                         "before": "" if f["old"] is None else "(old content)\n", "after": "(new content)\n"})
        else:
            diff.append({"before_header": f["dest"] if f["was"] == "file" else f"{f['dest']} ({f['was']})",
                         "after_header": f["dest"], "before": _text(f["old"]), "after": _text(f["content"])})
    for f in p["fix"]:
        diff.append({"before_header": f"{f['dest']} (owner/mode)", "after_header": f"{f['dest']} (owner/mode)",
                     "before": _attrs(f["dest"]), "after": f"{f['uid']}:{f['gid']} {f['mode']:04o}\n"})
    for item in p["remove"]:
        diff.append({"before_header": item["path"], "after_header": f"{item['path']} (removed)",
                     "before": "(present)\n", "after": ""})
    tags = sorted({f["tag"] for f in p["write"] + p["fix"] if f["tag"]} | {r["tag"] for r in p["remove"] if r["tag"]})
    return {"written": [f["dest"] for f in p["write"]], "fixed": [f["dest"] for f in p["fix"]],
            "removed": [r["path"] for r in p["remove"]],
            "created": [d["path"] for d in p["mkdir"]] + [d["path"] for d in p["fixdir"]],
            "tags": tags, "diff": diff}


def _attrs(path: str) -> str:
    st = _lstat(path)
    return "" if st is None else f"{st.st_uid}:{st.st_gid} {stat.S_IMODE(st.st_mode):04o}\n"
