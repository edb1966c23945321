#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read an app's releases and history; switch current to a release and prune the old ones."""
from __future__ import annotations

DOCUMENTATION = r"""
module: release_state
short_description: Read an app's releases and switch history, switch current, prune old releases
description:
  - An app's folder O(base_dir) holds C(releases/<id>/), C(current) (a link to one of them) and
    C(.pyweb/history.json), the collection's record of every switch (the release ids, oldest
    first). A C(.pyweb/history) text file of an earlier version (one id per line) is read and
    replaced by the JSON file at the next switch.
  - O(state=present) reads, and returns what a rollback needs (RV(rollback_candidate)).
  - O(state=switched) moves C(current) to O(release) with one C(rename(2)) (a request sees the old
    release or the new one), records the switch, and removes releases beyond O(keep). The current
    release and the ones in O(protect) are always kept; the others are kept by how recently
    C(current) pointed at them; releases never switched to (refused before their switch) go
    before those, and releases marked C(.pyweb-failed) (put back by a failed check) go first.
    The history keeps only the switches to releases still kept.
  - It never follows a link inside C(releases/) and removes a release with a walk that does not
    follow links either.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  base_dir:
    description: The app's folder.
    type: path
    required: true
  state:
    description: C(present) only reads; C(switched) moves C(current) to O(release) and prunes.
    type: str
    choices: [present, switched]
    default: present
  release:
    description: The release id C(current) moves to (O(state=switched)).
    type: str
  keep:
    description: How many releases to keep, the current one included.
    type: int
    default: 5
  protect:
    description: Release ids never removed by this call (the one current pointed at before, a release being built).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""

EXAMPLES = r"""
- name: Point current at the new release and prune
  pyweb.deploy.release_state:
    base_dir: /srv/apps/blog
    state: switched
    release: 5f1c0e2a9b3d
    keep: 5
    protect: [0a1b2c3d4e5f]

- name: Read what a rollback would go back to
  pyweb.deploy.release_state:
    base_dir: /srv/apps/blog
  register: releases
"""

RETURN = r"""
current:
  description: The release current points at (after a switch), empty when there is none.
  returned: always
  type: str
previous:
  description: The release current pointed at before this call.
  returned: always
  type: str
switched:
  description: Whether current moved.
  returned: always
  type: bool
releases:
  description: The kept releases, newest switch first, then the ones never switched to.
  returned: always
  type: list
  elements: str
failed_releases:
  description: The releases marked C(.pyweb-failed) (not C(failed), which Ansible reads as the task's own state).
  returned: always
  type: list
  elements: str
history:
  description: The switches, oldest first (release ids).
  returned: always
  type: list
  elements: str
removed:
  description: The releases removed (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
rollback_candidate:
  description: The newest release in the history, other than current, that is kept and not failed; empty when none.
  returned: always
  type: str
"""

import datetime
import json
import os
import re
import shutil
import stat

from ansible.module_utils.basic import AnsibleModule

ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
HISTORY_JSON = ".pyweb/history.json"
HISTORY_LINES = ".pyweb/history"


def rollback_candidate(history: list[str], current: str, kept: list[str], failed: list[str]) -> str:
    for release in reversed(history):
        if release != current and release in kept and release not in failed:
            return release
    return ""


def prune_plan(releases: dict, history: list[str], keep: int, protect: list[str]) -> tuple[list[str], list[str]]:
    """Which releases to keep and which to remove.

    ``releases`` maps a release id to {"mtime": float, "failed": bool}. Protected ones are kept
    whatever ``keep`` says; the other slots go to the most recently switched-to good releases,
    then to good releases never switched to (newest first); failed releases are removed first."""
    last_switch = {release: index for index, release in enumerate(history)}

    def rank(release):
        info = releases[release]
        if info["failed"]:
            group = 2
        elif release in last_switch:
            group = 0
        else:
            group = 1
        recency = last_switch.get(release, -1) if group == 0 else info["mtime"]
        return (group, -recency, release)

    protected = [r for r in protect if r in releases]
    ordered = protected + sorted((r for r in releases if r not in protected), key=rank)
    slots = max(keep, len(protected))
    return ordered[:slots], ordered[slots:]


def read_entries(base_dir: str) -> tuple[list[dict], bool]:
    """The recorded switches, oldest first, and whether they come from the JSON file."""
    try:
        with open(os.path.join(base_dir, HISTORY_JSON), encoding="utf-8") as handle:
            data = json.load(handle)
        return [e for e in data.get("switches", []) if isinstance(e, dict) and isinstance(e.get("release"), str)], True
    except FileNotFoundError:
        pass
    try:
        with open(os.path.join(base_dir, HISTORY_LINES), encoding="utf-8") as handle:
            return [{"release": line.strip()} for line in handle if ID_RE.fullmatch(line.strip())], False
    except FileNotFoundError:
        return [], False


def list_releases(base_dir: str) -> dict:
    folder = os.path.join(base_dir, "releases")
    found = {}
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return found
    for name in names:
        if name.startswith(".") or not ID_RE.fullmatch(name):
            continue
        info = os.lstat(os.path.join(folder, name))
        if not stat.S_ISDIR(info.st_mode):
            continue
        failed = os.path.lexists(os.path.join(folder, name, ".pyweb-failed"))
        found[name] = {"mtime": info.st_mtime, "failed": failed}
    return found


def read_current(base_dir: str) -> tuple[str, bool]:
    """The release current points at, and whether current is something else than a link."""
    path = os.path.join(base_dir, "current")
    if os.path.islink(path):
        return os.path.basename(os.readlink(path).rstrip("/")), False
    return "", os.path.lexists(path)


def write_history(base_dir: str, entries: list[dict]) -> None:
    path = os.path.join(base_dir, HISTORY_JSON)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"version": 1, "switches": entries}, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)
    old = os.path.join(base_dir, HISTORY_LINES)
    if os.path.lexists(old):
        os.unlink(old)


def switch_current(base_dir: str, release: str) -> None:
    tmp = os.path.join(base_dir, ".current.new")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.path.join(base_dir, "releases", release), tmp)
    os.replace(tmp, os.path.join(base_dir, "current"))


def run(params: dict, check_mode: bool) -> dict:
    base_dir = params["base_dir"]
    previous, not_a_link = read_current(base_dir)
    if not_a_link:
        raise ValueError(f"{base_dir}/current exists and is not a symlink; move it away (it is not a release this "
                         "collection made) and run again.")
    entries, from_json = read_entries(base_dir)
    releases = list_releases(base_dir)
    result = {"previous": previous, "current": previous, "switched": False, "removed": [], "changed": False}
    if params["state"] == "switched":
        release = params["release"] or ""
        if not ID_RE.fullmatch(release) or release not in releases:
            raise ValueError(f"no release {release!r} in {base_dir}/releases")
        new_entries = list(entries)
        if release != previous:
            result.update(switched=True, current=release)
            new_entries.append({"release": release, "at": datetime.datetime.now(datetime.timezone.utc)
                                .strftime("%Y-%m-%dT%H:%M:%SZ")})
        protect = [release, previous] + list(params["protect"])
        kept, removed = prune_plan(releases, [e["release"] for e in new_entries], params["keep"], protect)
        new_entries = [e for e in new_entries if e["release"] in kept]
        rewrite = new_entries != entries or (not from_json and bool(new_entries))
        result.update(removed=removed, changed=result["switched"] or bool(removed) or rewrite)
        if not check_mode:
            if result["switched"]:
                switch_current(base_dir, release)
            for name in removed:
                shutil.rmtree(os.path.join(base_dir, "releases", name))
            if rewrite:
                write_history(base_dir, new_entries)
        entries = new_entries
        releases = {r: releases[r] for r in kept}
    history = [e["release"] for e in entries]
    last_switch = {r: i for i, r in enumerate(history)}
    ordered = sorted(releases, key=lambda r: (r not in last_switch, -last_switch.get(r, 0), -releases[r]["mtime"], r))
    failed = sorted(r for r, info in releases.items() if info["failed"])
    result.update(releases=ordered, failed_releases=failed, history=history,
                  rollback_candidate=rollback_candidate(history, result["current"], ordered, failed))
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "base_dir": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "switched"], "default": "present"},
            "release": {"type": "str"},
            "keep": {"type": "int", "default": 5},
            "protect": {"type": "list", "elements": "str", "default": []},
        },
        required_if=[("state", "switched", ["release"])],
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode)
    except (ValueError, OSError) as exc:
        module.fail_json(msg=str(exc))
    if module._diff and result["changed"]:
        result["diff"] = {"before": f"current -> {result['previous'] or '(none)'}\n",
                          "after": f"current -> {result['current'] or '(none)'}\n"
                                   + "".join(f"removed release {r}\n" for r in result["removed"])}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
