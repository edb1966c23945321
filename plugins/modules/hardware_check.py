#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure a host against minimums for CPU, memory, free disk and network link speed."""
from __future__ import annotations

DOCUMENTATION = r"""
module: hardware_check
short_description: Measure a host against minimums for CPU, memory, free disk and link speed
description:
  - Reads the host's online CPUs, its memory (C(/proc/meminfo)), the free space of the filesystem
    that holds O(disk_path) (or its nearest existing parent) and the link speed of O(interface)
    (C(/sys/class/net/<interface>/speed); the interface of the default IPv4 route when empty),
    without Ansible facts, and compares each with its minimum.
  - With O(mode=enforce) it fails with one message naming every shortfall; with O(mode=warn) it
    returns the same report and a warning. A figure that cannot be read (the link speed of most
    virtual interfaces) is reported in RV(unknown) and a warning, and fails only with
    O(fail_on_unknown).
  - It only reads.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  min_cpu_cores:
    description: The fewest online CPUs; 0 skips the check.
    type: int
    required: true
  min_memory_mb:
    description: The least memory in MiB; 0 skips the check.
    type: int
    required: true
  memory_reserved_mb:
    description: How much less than O(min_memory_mb) is accepted (the kernel and firmware keep part of the memory).
    type: int
    default: 256
  min_disk_gb:
    description: The least free space in GiB on the filesystem of O(disk_path); 0 skips the check.
    type: float
    required: true
  disk_path:
    description: The folder the apps will live in (it need not exist yet).
    type: path
    default: /srv/apps
  min_link_mbps:
    description: The slowest link speed in Mbit/s; 0 skips the check.
    type: int
    required: true
  interface:
    description: The interface whose speed is checked; empty for the interface of the default IPv4 route.
    type: str
    default: ""
  mode:
    description: C(enforce) fails on a shortfall, C(warn) reports it and goes on.
    type: str
    choices: [enforce, warn]
    default: enforce
  fail_on_unknown:
    description: A figure that cannot be read counts as a shortfall.
    type: bool
    default: false
  host:
    description: The host's name, for the message.
    type: str
    default: this host
  profile:
    description: The profile the minimums come from, for the message.
    type: str
    default: ""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: It only reads.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details: It changes nothing.
"""

EXAMPLES = r"""
- name: Refuse a host smaller than two cores, 4 GiB and 20 GiB free for the apps
  pyweb.deploy.hardware_check:
    min_cpu_cores: 2
    min_memory_mb: 4096
    min_disk_gb: 20
    min_link_mbps: 0
  register: hardware_report
"""

RETURN = r"""
checks:
  description: One entry per figure, with what, found (null when unreadable), needed, unit and variable.
  returned: always
  type: list
  elements: dict
failing:
  description: One line per shortfall (and per unreadable figure with O(fail_on_unknown)).
  returned: always
  type: list
  elements: str
unknown:
  description: One line per figure that could not be read.
  returned: always
  type: list
  elements: str
message:
  description: The whole failure message, empty when nothing fails.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

GIB = 1073741824


def read_cpu_cores() -> int | None:
    try:
        return os.sysconf("SC_NPROCESSORS_ONLN") or None
    except (ValueError, OSError):
        return None


def read_memory_mb(meminfo: str = "/proc/meminfo") -> int | None:
    try:
        with open(meminfo, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def nearest_existing(path: str) -> str:
    while not os.path.exists(path) and path not in ("/", ""):
        path = os.path.dirname(path)
    return path or "/"


def mount_point(path: str) -> str:
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def read_disk(path: str) -> tuple[float | None, str | None, str]:
    """Free GiB for an unprivileged user (as df's Avail), the mount point, or why not."""
    try:
        existing = nearest_existing(path)
        stats = os.statvfs(existing)
        return round(stats.f_bavail * stats.f_frsize / GIB, 1), mount_point(existing), ""
    except OSError as exc:
        return None, None, f"statvfs failed: {exc.strerror}"


def default_interface(route: str = "/proc/net/route") -> str:
    try:
        with open(route, encoding="ascii") as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if len(fields) > 1 and fields[1] == "00000000":
                    return fields[0]
    except OSError:
        pass
    return ""


def read_link_mbps(interface: str, sys_net: str = "/sys/class/net") -> int | None:
    if not interface:
        return None
    try:
        with open(os.path.join(sys_net, interface, "speed"), encoding="ascii") as handle:
            speed = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    return speed if speed > 0 else None


def evaluate(figures: dict, params: dict) -> dict:
    """The report for measured figures: pure, unit-tested."""
    iface = figures["interface"]
    mount = figures["disk_mount"]
    checks = [
        {"what": "CPU cores", "found": figures["cpu"], "needed": params["min_cpu_cores"],
         "accept": params["min_cpu_cores"], "unit": "", "variable": "hardware_min_cpu_cores",
         "why": "the online CPUs cannot be counted"},
        {"what": "memory", "found": figures["memory_mb"], "needed": params["min_memory_mb"],
         "accept": params["min_memory_mb"] - params["memory_reserved_mb"], "unit": "MiB",
         "variable": "hardware_min_memory_mb", "why": "no MemTotal in /proc/meminfo"},
        {"what": f"free disk for {params['disk_path']}" + (f" (on {mount})" if mount else ""),
         "found": figures["disk_gb"], "needed": params["min_disk_gb"], "accept": params["min_disk_gb"],
         "unit": "GiB", "variable": "hardware_min_disk_gb", "why": figures["disk_error"]},
        {"what": f"network link {iface or '(no default route)'}", "found": figures["link_mbps"],
         "needed": params["min_link_mbps"], "accept": params["min_link_mbps"], "unit": "Mbit/s",
         "variable": "hardware_min_link_mbps",
         "why": "the interface reports no speed (usual in VMs and containers); set hardware_network_interface "
                "or hardware_min_link_mbps: 0"},
    ]
    failing, unknown = [], []
    for check in checks:
        if not check["needed"] or check["needed"] <= 0:
            continue
        unit = f" {check['unit']}" if check["unit"] else ""
        if check["found"] is None:
            unknown.append(f"{check['what']}: cannot be read ({check['why']})")
        elif check["found"] < check["accept"]:
            failing.append(f"{check['what']}: found {_number(check['found'])}{unit}, need at least "
                           f"{_number(check['needed'])}{unit} (variable {check['variable']})")
    if params["fail_on_unknown"]:
        failing = failing + unknown
    message = ""
    if failing:
        profile = f" (profile {params['profile']})" if params["profile"] else ""
        message = (f"Host {params['host']} does not meet the hardware minimums{profile}:\n- " + "\n- ".join(failing)
                   + "\nLower a minimum with its variable, or set hardware_mode: warn to go on anyway.")
    return {
        "checks": [{k: check[k] for k in ("what", "found", "needed", "unit", "variable")} for check in checks],
        "failing": failing, "unknown": unknown, "message": message,
    }


def _number(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def measure(params: dict) -> dict:
    disk_gb, disk_mount, disk_error = read_disk(params["disk_path"])
    interface = params["interface"] or default_interface()
    return {"cpu": read_cpu_cores(), "memory_mb": read_memory_mb(), "disk_gb": disk_gb, "disk_mount": disk_mount,
            "disk_error": disk_error, "interface": interface, "link_mbps": read_link_mbps(interface)}


def main():
    module = AnsibleModule(
        argument_spec={
            "min_cpu_cores": {"type": "int", "required": True},
            "min_memory_mb": {"type": "int", "required": True},
            "memory_reserved_mb": {"type": "int", "default": 256},
            "min_disk_gb": {"type": "float", "required": True},
            "disk_path": {"type": "path", "default": "/srv/apps"},
            "min_link_mbps": {"type": "int", "required": True},
            "interface": {"type": "str", "default": ""},
            "mode": {"type": "str", "choices": ["enforce", "warn"], "default": "enforce"},
            "fail_on_unknown": {"type": "bool", "default": False},
            "host": {"type": "str", "default": "this host"},
            "profile": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    report = evaluate(measure(module.params), module.params)
    if report["failing"] and module.params["mode"] == "enforce":
        module.fail_json(msg=report["message"], changed=False, **report)
    if report["failing"]:
        module.warn(report["message"])
    elif report["unknown"]:
        module.warn("; ".join(report["unknown"]))
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
