# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OnFailure= drop-ins that make every unit of an app alert when it fails.

``apps | pyweb.deploy.alerts_dropins(units_dir, file_name)`` returns ``{"directories": [...],
"files": [...]}`` for pyweb.deploy.config_files: for each app two drop-in folders,
``<app>.service.d`` (the web unit) and ``<app>-.service.d``, the prefix drop-in systemd (246+)
applies to every ``<app>-*.service`` (Procfile processes ``<app>-<process>@<n>``, scheduled jobs
``<app>-job-<name>``), each with a file saying ``OnFailure=pyweb-alert@%p.service``.

Why drop-ins and not the units' templates: no other role has to know about alerts, units added
later by any role get the hook by their name alone, and turning alerts off removes two files per
app. Why not the global ``service.d/``: that would hook every service of the host (and the alert
unit itself). App names (``[a-z][a-z0-9_]*``) hold no ``-``, so ``blog-`` never matches the units
of another app. ``%p`` (the unit's name before ``@``) keeps one ``@`` in the alert unit's name, as
systemd requires; the alert reads the failed unit's full name from ``$MONITOR_UNIT``.
"""
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

APP_RE = re.compile(r"[a-z][a-z0-9_]*")
CONTENT = ("# pyweb.deploy.alerts: a failure of this unit sends an alert (pyweb-alert@.service).\n"
           "[Unit]\nOnFailure=pyweb-alert@%p.service\n")


def alerts_dropins(apps, units_dir="/etc/systemd/system", file_name="50-pyweb-alerts.conf", present=None):
    """Folders and files (config_files' shapes) of the apps' OnFailure= drop-ins, and ``absent``:
    the drop-ins found on the host (``present``, paths) that no app of ``apps`` wants (an app
    removed from pyweb_apps, or every one when the alerts are turned off). Only paths of the form
    ``<units_dir>/<name>.service.d/<file_name>`` are ever listed as absent."""
    directories, files = [], []
    for app in apps or []:
        if not isinstance(app, str) or not APP_RE.fullmatch(app):
            raise AnsibleFilterError(f"alerts_dropins: {app!r} is not an app name ([a-z][a-z0-9_]*)")
        for folder in (f"{units_dir}/{app}.service.d", f"{units_dir}/{app}-.service.d"):
            if folder in (d["path"] for d in directories):
                continue
            directories.append({"path": folder, "mode": "0755"})
            files.append({"dest": f"{folder}/{file_name}", "content": CONTENT, "mode": "0644", "tag": "unit"})
    wanted = {f["dest"] for f in files}
    ours = re.compile(re.escape(units_dir.rstrip("/")) + r"/[^/]+\.service\.d/" + re.escape(file_name))
    absent = sorted({str(p) for p in present or [] if ours.fullmatch(str(p)) and str(p) not in wanted})
    return {"directories": directories, "files": files, "absent": absent}


class FilterModule:
    def filters(self):
        return {"alerts_dropins": alerts_dropins}
