# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How much log a host keeps, decided from the size of the disk its logs are on.

``disk_bytes | pyweb.deploy.logs_retention(...)`` (the size of the disk that holds /var/log,
from the module disk_size) returns the
journal's limits (journald.conf's ``SystemMaxUse``, ``SystemKeepFree``, ``SystemMaxFileSize``,
``MaxRetentionSec``) and the Nginx logs' rotation (days kept, ``maxsize``), so that logs never
take more than a bounded share of the disk:

- the journal: ``journal_percent`` of the disk (default 5 %), at least 64 MiB and at most
  ``journal_max_mb`` (default 2 GiB), and journald stops writing when less than
  ``keep_free_percent`` (default 10 %, at most 4 GiB) is free; entries older than
  ``journal_days`` go;
- the Nginx logs: kept ``nginx_days`` days (compressed), and a log is rotated at the daily run as
  soon as it passes ``maxsize``: ``nginx_percent`` of the disk (default 2 %) spread over the
  days kept, between 10 MiB and 1 GiB.
"""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

MIB = 1024 * 1024


def _clamp(value, low, high):
    return max(low, min(high, value))


def _mib(value):
    return f"{int(value // MIB)}M"


def logs_retention(disk_bytes, journal_percent=5, journal_max_mb=2048,
                   keep_free_percent=10, journal_days=30, nginx_days=14, nginx_percent=2):
    """The journal's and the Nginx logs' limits for a disk (see the module docstring)."""
    for name, value, low, high in (("journal_percent", journal_percent, 1, 50),
                                   ("keep_free_percent", keep_free_percent, 1, 50),
                                   ("nginx_percent", nginx_percent, 1, 50),
                                   ("journal_days", journal_days, 1, 3650),
                                   ("nginx_days", nginx_days, 1, 3650),
                                   ("journal_max_mb", journal_max_mb, 64, 1024 * 1024)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise AnsibleFilterError(f"logs_retention: {name} must be a whole number from {low} to {high}, not {value!r}")
    if isinstance(disk_bytes, bool) or not isinstance(disk_bytes, int) or disk_bytes <= 0:
        raise AnsibleFilterError(f"logs_retention: the disk's size must be a positive number of bytes, not {disk_bytes!r}")
    size = disk_bytes
    journal = _clamp(size * journal_percent // 100, 64 * MIB, journal_max_mb * MIB)
    keep_free = _clamp(size * keep_free_percent // 100, 64 * MIB, 4096 * MIB)
    # journald rotates its files at an eighth of SystemMaxUse by default; say it, at most 128 MiB.
    file_size = _clamp(journal // 8, 8 * MIB, 128 * MIB)
    maxsize = _clamp(size * nginx_percent // 100 // nginx_days, 10 * MIB, 1024 * MIB)
    return {
        "disk_bytes": size,
        "journal": {"SystemMaxUse": _mib(journal), "SystemKeepFree": _mib(keep_free),
                    "SystemMaxFileSize": _mib(file_size), "MaxRetentionSec": f"{journal_days}day"},
        "nginx": {"rotate": nginx_days, "maxsize": _mib(maxsize)},
    }


class FilterModule:
    def filters(self):
        return {"logs_retention": logs_retention}
