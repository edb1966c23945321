#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memcached instances (memcached@<name>.service): their settings, started or stopped."""
from __future__ import annotations

DOCUMENTATION = r"""
module: memcached_instances
short_description: Run or stop memcached instances, one per app, each on a socket only its group reaches
description:
  - Memcached has no accounts nor per-key access control, so an app gets its own instance, the unit
    C(memcached@<name>.service) of the role pyweb.deploy.memcached, which reads its options from
    C(<conf_dir>/<name>.env) (root, 0644; no secret in it).
  - An instance listens on the unix socket C(/run/memcached-<name>/memcached.sock) only (memcached
    turns TCP off with a socket; UDP off too). The unit makes the socket's folder
    C(memcache:<group>) mode 2750 and memcached the socket 0660, so only the members of C(group)
    (the app's own user) reach it. With O(instances[].port) it listens on TCP on 127.0.0.1 instead,
    where every local user reaches it.
  - This module writes what differs, enables and starts each instance, restarts a running one whose
    options changed (its cache is emptied), and stops, disables and forgets the instances named
    in O(absent) (their settings file is removed). Check mode reports what it would do.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  instances:
    description: The instances to run.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The instance (an app's name), C([a-z][a-z0-9_]*).
        type: str
        required: true
      group:
        description: The group whose members reach the socket (default the name; C(memcache) with O(instances[].port)); it must exist.
        type: str
      port:
        description: Listen on 127.0.0.1 at this TCP port instead of a socket (any local user reaches it).
        type: int
      memory_mb:
        description: Its memory (C(-m)); default O(memory_mb).
        type: int
  absent:
    description: Instances to stop and forget (a name without settings is left alone).
    type: list
    elements: str
    default: []
  memory_mb:
    description: The memory of an instance that gives none.
    type: int
    default: 64
  max_connections:
    description: C(-c), the most connections an instance takes.
    type: int
    default: 1024
  restart:
    description: Restart the running instances even when their options are as wanted (the unit changed).
    type: bool
    default: false
  conf_dir:
    description: Where the instances' settings are.
    type: path
    default: /etc/memcached
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: The app's own memcached on its socket
  pyweb.deploy.memcached_instances:
    instances:
      - name: blog
    memory_mb: 409

- name: Stop the instances no app asks for any more
  pyweb.deploy.memcached_instances:
    absent: [shop]
"""

RETURN = r"""
sockets:
  description: Each instance's address as an app reads it (C(unix:/run/memcached-<name>/memcached.sock) or C(127.0.0.1:<port>)).
  returned: always
  type: dict
  sample: {blog: "unix:/run/memcached-blog/memcached.sock"}
started:
  description: The instances started or restarted.
  returned: always
  type: list
  elements: str
stopped:
  description: The instances stopped and forgotten.
  returned: always
  type: list
  elements: str
"""

import grp
import os
import re
import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.deploy.plugins.module_utils import filestate

from ansible_collections.pyweb.deploy.plugins.module_utils.unitstate import parse_units

NAME_RE = re.compile(r"[a-z][a-z0-9_]*")


def unit(name: str) -> str:
    return f"memcached@{name}.service"


def socket_path(name: str) -> str:
    return f"/run/memcached-{name}/memcached.sock"


def address(spec: dict) -> str:
    return f"127.0.0.1:{spec['port']}" if spec.get("port") else "unix:" + socket_path(spec["name"])


def problems(instances: list, absent: list) -> list[str]:
    """What is wrong with the instances asked for, before anything is written."""
    errors, seen, ports = [], set(), set()
    for spec in instances:
        name = spec.get("name") or ""
        if not NAME_RE.fullmatch(name):
            errors.append(f"instance {name!r}: the name must match [a-z][a-z0-9_]*")
        if name in seen:
            errors.append(f"instance {name!r} is listed twice")
        seen.add(name)
        if spec.get("group") is not None and not NAME_RE.fullmatch(spec["group"]):
            errors.append(f"instance {name!r}: group {spec['group']!r} must match [a-z][a-z0-9_]*")
        port = spec.get("port")
        if port is not None:
            if not 1024 <= port <= 65535:
                errors.append(f"instance {name!r}: port {port} must be within 1024-65535")
            if port in ports:
                errors.append(f"instance {name!r}: port {port} is another instance's")
            ports.add(port)
        if spec.get("memory_mb") is not None and spec["memory_mb"] < 16:
            errors.append(f"instance {name!r}: memory_mb must be at least 16")
    for name in absent:
        if not NAME_RE.fullmatch(name or ""):
            errors.append(f"absent instance {name!r}: the name must match [a-z][a-z0-9_]*")
        elif name in seen:
            errors.append(f"instance {name!r} is both wanted and absent")
    return errors


def group(spec: dict) -> str:
    """The socket folder's group: the one given, else the name; memcached's own for a TCP one."""
    return spec.get("group") or ("memcache" if spec.get("port") else spec["name"])


def settings(spec: dict, memory_mb: int, max_connections: int) -> str:
    """The instance's settings file (systemd EnvironmentFile), the whole of its options."""
    name = spec["name"]
    options = ["-m", str(spec.get("memory_mb") or memory_mb), "-c", str(max_connections), "-U", "0"]
    if spec.get("port"):
        options += ["-l", "127.0.0.1", "-p", str(spec["port"])]
    else:
        # A socket turns TCP off; 0660 in a folder memcache:<group> 2750 gives the socket that group.
        options += ["-s", socket_path(name), "-a", "0660"]
    return (f"# pyweb.deploy: the options of {unit(name)} (module memcached_instances)\n"
            f"MEMCACHED_GROUP={group(spec)}\n"
            f"MEMCACHED_OPTIONS={' '.join(options)}\n")


def plan(wanted: dict, current: dict, states: dict, restart: bool) -> dict:
    """What to do: ``wanted``/``current`` map a name to its settings text (None: no file);
    ``states`` a unit to {active, enabled}."""
    todo = {"write": [], "enable": [], "start": [], "restart": []}
    for name, text in wanted.items():
        state = states.get(unit(name), {})
        changed = current.get(name) != text
        if changed:
            todo["write"].append(name)
        if state.get("enabled") != "enabled":
            todo["enable"].append(name)
        if state.get("active") != "active":
            todo["start"].append(name)
        elif changed or restart:
            todo["restart"].append(name)
    return todo


def systemctl(module, *args) -> str:
    proc = subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        units = [a for a in args if a.endswith(".service")]
        journal = subprocess.run(["journalctl", "--no-pager", "-n", "20", "-o", "cat"]
                                 + [f"--unit={u}" for u in units], capture_output=True, text=True, check=False)
        module.fail_json(msg=f"systemctl {' '.join(args)} failed: {proc.stderr.strip()}\n{journal.stdout.strip()}")
    return proc.stdout


def read_text(path: str) -> str | None:
    """The text of the regular file at path, or None; a link there is not followed (filestate)."""
    data = filestate.read_file(path)
    return None if data is None else data.decode()


def write_file(path: str, content: str) -> None:
    """Replace path with content, root 0644 (filestate: a link there is replaced)."""
    filestate.write_file(path, content.encode(), 0o644, 0, 0)


def main():
    module = AnsibleModule(
        argument_spec={
            "instances": {"type": "list", "elements": "dict", "default": [], "options": {
                "name": {"type": "str", "required": True},
                "group": {"type": "str"},
                "port": {"type": "int"},
                "memory_mb": {"type": "int"},
            }},
            "absent": {"type": "list", "elements": "str", "default": []},
            "memory_mb": {"type": "int", "default": 64},
            "max_connections": {"type": "int", "default": 1024},
            "restart": {"type": "bool", "default": False},
            "conf_dir": {"type": "path", "default": "/etc/memcached"},
        },
        supports_check_mode=True,
    )
    p = module.params
    instances, absent = p["instances"], p["absent"]
    errors = problems(instances, absent)
    if p["memory_mb"] < 16:
        errors.append("memory_mb must be at least 16")
    if not module.check_mode:
        # In check mode on a new host the app's group may not exist yet.
        for spec in instances:
            try:
                grp.getgrnam(group(spec))
            except KeyError:
                errors.append(f"instance {spec['name']!r}: group {group(spec)!r} does not exist")
    if errors:
        module.fail_json(msg="memcached_instances: " + "; ".join(errors))

    conf_dir = p["conf_dir"]
    path = {name: os.path.join(conf_dir, f"{name}.env")
            for name in [s["name"] for s in instances] + list(absent)}
    wanted = {s["name"]: settings(s, p["memory_mb"], p["max_connections"]) for s in instances}
    current = {name: read_text(path[name]) for name in wanted}
    # Only an instance with settings can run (its unit needs them): the others are not asked about.
    gone = [name for name in absent if read_text(path[name]) is not None]
    states = {}
    if wanted:
        units = [unit(name) for name in wanted]
        states = parse_units(systemctl(module, "show", "-p", "Id,ActiveState,UnitFileState", *units), units)
    todo = plan(wanted, current, states, p["restart"])
    started = sorted(set(todo["start"]) | set(todo["restart"]))
    changed = bool(gone or any(todo.values()))
    if not module.check_mode:
        if gone:
            systemctl(module, "disable", "--now", *[unit(n) for n in gone])
            for name in gone:
                os.unlink(path[name])
        if todo["write"] and not os.path.isdir(conf_dir):
            os.makedirs(conf_dir, mode=0o755)
        for name in todo["write"]:
            write_file(path[name], wanted[name])
        if todo["enable"]:
            systemctl(module, "enable", *[unit(n) for n in todo["enable"]])
        if todo["start"]:
            systemctl(module, "start", *[unit(n) for n in todo["start"]])
        if todo["restart"]:
            systemctl(module, "restart", *[unit(n) for n in todo["restart"]])
    module.exit_json(changed=changed, started=started, stopped=gone,
                     sockets={s["name"]: address(s) for s in instances})


if __name__ == "__main__":
    main()
