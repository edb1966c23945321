#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The balancer's drained app hosts: a JSON state file the collection owns."""
from __future__ import annotations

DOCUMENTATION = r"""
module: balancer_state
short_description: Read, drain or undrain the app hosts of a load balancer (a JSON state file)
description:
  - >-
    The balancer's drained app hosts, per site, live in O(path), a JSON file the collection owns
    (C({"version": 1, "down": {"<site>": ["<host>", ...]}})), never in Nginx's configuration.
  - >-
    One call reads the state, applies O(drain) and O(undrain) to the sites in O(sites), writes
    the file when it differs, and returns RV(down), the hosts each site marks down, for
    the C(pyweb.deploy.balancer_sites) filter.
  - >-
    A host drained before stays drained until O(undrain) names it. A host in O(drain) is taken
    out of a site only if another host of that site stays up (a drain never takes a site's last
    host). A site the state does not know yet (a new app) starts with the hosts drained in any
    other site, under the same last-host rule.
  - >-
    Upgrade from the versions that kept the state in Nginx's upstream files: while O(path) does
    not exist, the hosts of each site marked C(down;  # <host>) in
    O(upstreams_dir)C(/<site>.conf) are the state before (RV(migrated)), and the file is written.
  - Sites no longer in O(sites) are dropped from the file.
  - The role calls it before it rewrites Nginx's upstream files; if Nginx refuses those, the
    file already holds the new state and the next run applies it (a drained host stays out).
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  sites:
    description: Each site (app) of the balancer and the app hosts that serve it, in order.
    type: dict
    required: true
  drain:
    description: App hosts to take out of every site that has another host up.
    type: list
    elements: str
    default: []
  undrain:
    description: App hosts to put back into every site.
    type: list
    elements: str
    default: []
  path:
    description: The state file (its folder is made root-only-writable, C(0755), if missing).
    type: path
    default: /etc/pyweb/balancer/state.json
  upstreams_dir:
    description: Where earlier versions kept the drained hosts as comments; read only while O(path) is missing.
    type: path
    default: /etc/nginx/pyweb/upstreams
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""

EXAMPLES = r"""
- name: Read which app hosts are drained
  pyweb.deploy.balancer_state:
    sites: "{{ balancer_hosts | pyweb.deploy.balancer_app_hosts(hostvars) }}"
  register: drained

- name: Take a batch out
  pyweb.deploy.balancer_state:
    sites: {blog: [app1, app2]}
    drain: [app1]
"""

RETURN = r"""
down:
  description: The hosts each site of O(sites) marks down after this call.
  returned: always
  type: dict
  sample: {blog: [app1]}
drained:
  description: Every host that is down in some site, sorted.
  returned: always
  type: list
  elements: str
migrated:
  description: Whether the state before was read from Nginx's upstream files (no state file yet).
  returned: always
  type: bool
path:
  description: The state file.
  returned: always
  type: str
"""

import glob
import json
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule

VERSION = 1
# How the versions before the state file marked a drained host in /etc/nginx/pyweb/upstreams.
_OLD_DOWN = re.compile(r"^\s*server\s.*\sdown;\s+#\s+(\S.*?)\s*$")


def plan(before: dict, sites: dict, drain: list, undrain: list) -> dict:
    """The hosts each site marks down: the ones down before and not put back, then the ones
    asked now, but the asked ones only if another host of the site stays up."""
    drain, undrain = set(drain or []), set(undrain or [])
    anywhere = {host for hosts in before.values() for host in hosts or []}
    down = {}
    for site, hosts in sites.items():
        hosts = list(hosts or [])
        if site in before:
            prior = set(before[site] or [])
            kept = [h for h in hosts if h in prior and h not in undrain]
            asked = [h for h in hosts if h in drain and h not in kept]
        else:
            kept = []
            asked = [h for h in hosts if (h in drain or h in anywhere) and h not in undrain]
        up = [h for h in hosts if h not in kept and h not in asked]
        chosen = set(kept + (asked if up else []))
        down[site] = [h for h in hosts if h in chosen]
    return down


def read_old_comments(upstreams_dir: str) -> dict:
    """{site: [hosts]} from the upstream files of the versions before the state file."""
    found = {}
    for path in sorted(glob.glob(os.path.join(glob.escape(upstreams_dir), "*.conf"))):
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        site = os.path.basename(path)[:-len(".conf")]
        with open(path, encoding="utf-8", errors="replace") as handle:
            hosts = [m.group(1) for m in map(_OLD_DOWN.match, handle) if m]
        found[site] = list(dict.fromkeys(hosts))
    return found


def parse_state(text: str, path: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path} is not JSON ({exc}): fix or remove it (removing it reads the drained "
                         "hosts from Nginx's upstream files once more)") from None
    down = data.get("down") if isinstance(data, dict) else None
    if not isinstance(down, dict) or not all(isinstance(v, list) for v in down.values()):
        raise ValueError(f'{path} is not a balancer state file ({{"version": 1, "down": {{site: [hosts]}}}})')
    return {str(site): [str(h) for h in hosts] for site, hosts in down.items()}


def render(down: dict) -> str:
    return json.dumps({"version": VERSION, "down": down}, indent=2, sort_keys=True) + "\n"


def write_atomic(path: str, text: str) -> None:
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o755)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".state.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run(params: dict, check_mode: bool) -> dict:
    path = params["path"]
    if os.path.islink(path):
        raise ValueError(f"{path} is a link: the state file must be a plain file")
    sites = {str(k): list(v or []) for k, v in (params["sites"] or {}).items()}
    migrated = False
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            old_text = handle.read()
        before = parse_state(old_text, path)
    else:
        old_text = ""
        before = read_old_comments(params["upstreams_dir"])
        migrated = True
    down = plan(before, sites, params["drain"], params["undrain"])
    new_text = render(down)
    changed = new_text != old_text
    if changed and not check_mode:
        write_atomic(path, new_text)
    result = {
        "changed": changed,
        "down": down,
        "drained": sorted({h for hosts in down.values() for h in hosts}),
        "migrated": migrated,
        "path": path,
    }
    if changed:
        result["diff"] = {"before_header": path, "after_header": path, "before": old_text, "after": new_text}
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "sites": {"type": "dict", "required": True},
            "drain": {"type": "list", "elements": "str", "default": []},
            "undrain": {"type": "list", "elements": "str", "default": []},
            "path": {"type": "path", "default": "/etc/pyweb/balancer/state.json"},
            "upstreams_dir": {"type": "path", "default": "/etc/nginx/pyweb/upstreams"},
        },
        supports_check_mode=True,
    )
    for site, hosts in module.params["sites"].items():
        if not isinstance(hosts, list):
            module.fail_json(msg=f"sites: {site} must map to a list of hosts")
    try:
        result = run(module.params, module.check_mode)
    except (OSError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
