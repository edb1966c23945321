# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The copy of the apps' dumps to another host (``app_backup_copy``): what is wrong with it.

``app_backup_copy | pyweb.deploy.backup_copy_errors`` lists the problems, in sentences, before any
host changes (the site playbook's first play, and the app role). Every field ends up in an
``ssh``/``rsync`` argument of a systemd unit, so each is a plain word: nothing that starts with
``-`` (an option), no space, quote or ``%`` (a systemd specifier).
"""
from __future__ import annotations

import re

BACKUP_COPY_FIELDS = ("host", "user", "path", "host_key", "port", "ssh_key", "delete")
HOST_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")
USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
PATH_RE = re.compile(r"[A-Za-z0-9_./~][A-Za-z0-9_./~-]*")
# known_hosts key lines without the host pattern: "type base64 [comment]".
HOST_KEY_RE = re.compile(r"(ssh-[a-z0-9-]+|ecdsa-sha2-nistp[0-9]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/]+={0,2}( [^\n]*)?")


def backup_copy_errors(copy) -> list:
    """The problems of app_backup_copy ({} or None: no copy, no problem)."""
    if copy is None or copy == {}:
        return []
    if not isinstance(copy, dict):
        return ["app_backup_copy must be a mapping with host, user, path and host_key"]
    errors = []
    unknown = sorted(str(k) for k in copy if k not in BACKUP_COPY_FIELDS)
    if unknown:
        errors.append(f"app_backup_copy: unknown field(s) {', '.join(unknown)} (known: {', '.join(BACKUP_COPY_FIELDS)})")
    for field, pattern, what in (("host", HOST_RE, "a host name or IPv4 address"),
                                 ("user", USER_RE, "a user name"),
                                 ("path", PATH_RE, "a folder on that host (letters, digits, . _ - / ~)")):
        value = copy.get(field)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            errors.append(f"app_backup_copy.{field} must be {what}, not {value!r}")
    port = copy.get("port", 22)
    if isinstance(port, bool) or not isinstance(port, (int, str)) or not str(port).isdigit() \
            or not 0 < int(port) < 65536:
        errors.append(f"app_backup_copy.port must be a port number, not {port!r}")
    keys = copy.get("host_key")
    lines = [line.strip() for line in keys.strip().splitlines()] if isinstance(keys, str) else []
    if not lines or any(not HOST_KEY_RE.fullmatch(line) for line in lines):
        errors.append("app_backup_copy.host_key must be the other host's public host key line(s) as ssh-keyscan "
                      "prints them, without the host name (\"ssh-ed25519 AAAA...\"): the only key believed "
                      "for that host (there is no StrictHostKeyChecking=no)")
    key = copy.get("ssh_key")
    if key not in (None, "") and (not isinstance(key, str) or "PRIVATE KEY-----" not in key):
        errors.append("app_backup_copy.ssh_key must be a private key (-----BEGIN OPENSSH PRIVATE KEY-----...), or "
                      "left out to have one generated on the host")
    if "delete" in copy and not isinstance(copy["delete"], bool):
        errors.append(f"app_backup_copy.delete must be true or false, not {copy['delete']!r}")
    return errors


def backup_copy_known_hosts(copy) -> str:
    """The known_hosts file of the copy: each host_key line behind the host's pattern (``host``, or
    ``[host]:port`` on another port than 22)."""
    port = int(copy.get("port", 22))
    pattern = copy["host"] if port == 22 else f"[{copy['host']}]:{port}"
    lines = [line.strip() for line in str(copy["host_key"]).strip().splitlines() if line.strip()]
    return "".join(f"{pattern} {line}\n" for line in lines)


def backup_copy_files(copy, folder: str) -> list:
    """The files of the copy in folder, for pyweb.deploy.config_files: known_hosts, and the private
    key when one is given (secret; a generated one is left alone)."""
    files = [{"dest": f"{folder}/known_hosts", "mode": "0600", "content": backup_copy_known_hosts(copy)}]
    if copy.get("ssh_key"):
        files.append({"dest": f"{folder}/id_ed25519", "mode": "0600", "secret": True,
                      "content": str(copy["ssh_key"]).strip() + "\n"})
    return files


class FilterModule:
    def filters(self):
        return {"backup_copy_errors": backup_copy_errors, "backup_copy_known_hosts": backup_copy_known_hosts,
                "backup_copy_files": backup_copy_files}
