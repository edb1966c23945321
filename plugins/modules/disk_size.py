#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The size of the filesystem that holds a path (statvfs), for decisions that scale with the disk."""
from __future__ import annotations

DOCUMENTATION = r"""
module: disk_size
short_description: The size of the filesystem that holds a path
description:
  - Reads the size and the free space of the filesystem that holds O(path) (or its nearest
    existing parent) with C(statvfs), and its mount point.
  - Gathered mount facts can lack the sizes (a mount whose C(statvfs) timed out, some
    container roots); this reads the one filesystem that matters, always.
  - Changes nothing; runs in check mode too.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  path:
    description: A path on the filesystem to measure.
    type: path
    default: /var/log
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
"""

EXAMPLES = r"""
- name: Read the size of the disk that holds the logs
  pyweb.deploy.disk_size:
    path: /var/log
  register: logs_disk
"""

RETURN = r"""
size_bytes:
  description: The filesystem's size in bytes.
  returned: success
  type: int
  sample: 42949672960
available_bytes:
  description: The bytes an unprivileged user can still write (as df's Avail).
  returned: success
  type: int
mount:
  description: The mount point of the filesystem.
  returned: success
  type: str
  sample: /
"""

import os

from ansible.module_utils.basic import AnsibleModule


def measure(path: str) -> dict:
    """Size, available bytes and mount point of the filesystem holding ``path``; OSError if none."""
    while not os.path.exists(path) and path not in ("/", ""):
        path = os.path.dirname(path)
    path = os.path.realpath(path or "/")
    stats = os.statvfs(path)
    mount = path
    while not os.path.ismount(mount):
        mount = os.path.dirname(mount)
    return {"size_bytes": stats.f_blocks * stats.f_frsize, "available_bytes": stats.f_bavail * stats.f_frsize,
            "mount": mount}


def main():
    module = AnsibleModule(argument_spec={"path": {"type": "path", "default": "/var/log"}}, supports_check_mode=True)
    try:
        result = measure(module.params["path"])
    except OSError as exc:
        module.fail_json(msg=f"cannot measure the filesystem of {module.params['path']}: {exc.strerror}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
