# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The systemd unit files of an app's Procfile processes and scheduled jobs, as items of
pyweb.deploy.config_files (the wsgi role's processes entry point writes them in one call)."""
from __future__ import annotations

UNIT_DIR = "/etc/systemd/system"


def process_unit_files(processes, jobs, app, unit_dir=UNIT_DIR) -> list:
    """One template unit per process with a count of at least 1, a service and a timer per job.

    processes: name -> {command, count, exec_start} (pyweb.deploy.app_processes' services);
    jobs: [{name, on_calendar, exec_start}]."""
    files = []
    for name, spec in sorted((processes or {}).items()):
        if int(spec.get("count", 1)) < 1:
            continue
        files.append({"dest": f"{unit_dir}/{app}-{name}@.service", "mode": "0644", "tag": "process",
                      "template": "etc/systemd/system/app-process@.service.j2",
                      "vars": {"__wsgi_process": {"name": name, **spec}}})
    for job in jobs or []:
        for kind, template in (("service", "app-job.service.j2"), ("timer", "app-job.timer.j2")):
            files.append({"dest": f"{unit_dir}/{app}-job-{job['name']}.{kind}", "mode": "0644", "tag": "job",
                          "template": f"etc/systemd/system/{template}", "vars": {"__wsgi_job": dict(job)}})
    return files


class FilterModule:
    """Process unit filters."""

    def filters(self):
        return {"process_unit_files": process_unit_files}
