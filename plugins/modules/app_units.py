#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stop everything of an app that can touch its database, and start it again afterwards."""
from __future__ import annotations

DOCUMENTATION = r"""
module: app_units
short_description: Stop an app's server, Procfile processes and scheduled jobs, and start them again
description:
  - O(state=stopped) stops every unit of the app that runs or waits to run its code, its socket and
    server (C(<app>.socket), C(<app>.service)), its Procfile processes (C(<app>-<process>@<n>.service)),
    its scheduled jobs' timers (C(<app>-job-<name>.timer)) and any job running now
    (C(<app>-job-<name>.service)). Only the units that are active are stopped; they are returned in
    RV(stopped), and the ones to start again afterwards in RV(resume) (a job that was running is not
    run again; its timer starts it at its next time).
    The app's backup timer (C(<app>-backup.timer)) is left alone; it runs the server's own tools, not the app.
  - O(state=started) starts O(units) (the RV(resume) of the stop), which must all be units of the app
    of the kinds above; anything else fails before anything starts.
  - Used by the restore playbook around a restore, so that nothing of the app's writes to its
    database while it is replaced.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  app:
    description: The app (its units start with its name).
    type: str
    required: true
  state:
    description: Stop the app's units, or start the given ones.
    type: str
    choices: [stopped, started]
    required: true
  units:
    description: The units to start (O(state=started)), as RV(resume) returned them.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the units that would stop or start are returned and nothing is done.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Stop the blog while its database is restored
  pyweb.deploy.app_units:
    app: blog
    state: stopped
  register: paused

- name: Start again what was stopped
  pyweb.deploy.app_units:
    app: blog
    state: started
    units: "{{ paused.resume }}"
"""

RETURN = r"""
stopped:
  description: The units stopped (O(state=stopped)), or that would be in check mode.
  returned: always
  type: list
  elements: str
resume:
  description: The units to start again after the stop (RV(stopped) without the jobs that were running).
  returned: always
  type: list
  elements: str
started:
  description: The units started (O(state=started)).
  returned: always
  type: list
  elements: str
"""

import re

from ansible.module_utils.basic import AnsibleModule

NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
ACTIVE = ("active", "activating", "deactivating", "reloading")
# Stopped first, started last: the timers and the socket before the services they start.
ORDER = {"timer": 0, "socket": 1, "job": 2, "process": 3, "server": 4}


def unit_kind(app: str, unit: str):
    """What an app's unit is: server, socket, process, timer or job; None when it is not one of
    the app's units that run its code (another app's, the backup timer, anything else)."""
    if unit == f"{app}.service":
        return "server"
    if unit == f"{app}.socket":
        return "socket"
    rest = unit[len(app) + 1:] if unit.startswith(f"{app}-") else ""
    if re.fullmatch(r"job-[A-Za-z0-9_-]+\.timer", rest):
        return "timer"
    if re.fullmatch(r"job-[A-Za-z0-9_-]+\.service", rest):
        return "job"
    if re.fullmatch(r"[A-Za-z0-9_-]+@[0-9]+\.service", rest) and not rest.startswith("job-"):
        return "process"
    # A Procfile web process of its own, on one of the app's two loopback ports.
    if re.fullmatch(r"web-[0-9]+\.service", rest):
        return "process"
    return None


def stop_plan(app: str, listing: str) -> dict:
    """From `systemctl list-units --all --plain --no-legend --full` (UNIT LOAD ACTIVE SUB ...):
    the app's active units to stop, and which of them to start again afterwards."""
    active = []
    for line in listing.splitlines():
        words = line.split()
        if len(words) >= 3 and words[2] in ACTIVE and unit_kind(app, words[0]) and words[0] not in active:
            active.append(words[0])
    stop = sorted(active, key=lambda u: (ORDER[unit_kind(app, u)], u))
    return {"stop": stop, "resume": [u for u in stop if unit_kind(app, u) != "job"]}


def start_problems(app: str, units: list) -> list:
    """The units O(state=started) refuses: not the app's, or a job (its timer starts it)."""
    return [u for u in units if unit_kind(app, u) in (None, "job")]


def main():
    module = AnsibleModule(
        argument_spec={
            "app": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["stopped", "started"], "required": True},
            "units": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    app, state = module.params["app"], module.params["state"]
    if not NAME_RE.fullmatch(app):
        module.fail_json(msg=f"app_units: {app!r} is not an app's name")
    result = {"changed": False, "stopped": [], "resume": [], "started": []}
    if state == "stopped":
        rc, out, err = module.run_command(["systemctl", "list-units", "--all", "--plain", "--no-legend", "--full",
                                           "--", f"{app}.socket", f"{app}.service", f"{app}-*"])
        if rc != 0:
            module.fail_json(msg=f"{app}: listing its units failed: {err.strip()}", **result)
        plan = stop_plan(app, out)
        result.update(changed=bool(plan["stop"]), stopped=plan["stop"], resume=plan["resume"])
        if plan["stop"] and not module.check_mode:
            rc, _out, err = module.run_command(["systemctl", "stop", "--"] + plan["stop"])
            if rc != 0:
                # What may have stopped is returned: the caller starts it again.
                module.fail_json(msg=f"{app}: stopping {', '.join(plan['stop'])} failed: {err.strip()}", **result)
    else:
        units = list(dict.fromkeys(module.params["units"]))
        bad = start_problems(app, units)
        if bad:
            module.fail_json(msg=f"{app}: app_units starts only the app's server, socket, processes and job "
                                 f"timers, not {', '.join(bad)}", **result)
        units = sorted(units, key=lambda u: (-ORDER[unit_kind(app, u)], u))
        result.update(changed=bool(units), started=units)
        if units and not module.check_mode:
            rc, _out, err = module.run_command(["systemctl", "start", "--"] + units)
            if rc != 0:
                module.fail_json(msg=f"{app}: starting {', '.join(units)} failed: {err.strip()}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
