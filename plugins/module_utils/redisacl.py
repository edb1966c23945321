# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis's ACL file and its reload, for pyweb.deploy's modules (redis_admin, service_account,
exporter_accounts): one line per user, the default user first and off, the rest sorted (so no
module undoes another's order), and ``ACL LOAD`` sent through the admin user over loopback (the
password on the socket, never on a command line)."""
from __future__ import annotations

import socket

ADMIN = "pyweb-admin"
DEFAULT_ACL = "user default off resetkeys resetchannels -@all"


def set_user_line(text: str, user: str, line: str | None) -> str:
    """The ACL file with ``user``'s line set to ``line`` (or removed when None); the default user
    first and off, the other lines kept and sorted."""
    lines = [raw.strip() for raw in text.splitlines() if raw.strip() and not raw.startswith("#")]
    kept = [entry for entry in lines if entry.split()[:2] not in (["user", user], ["user", "default"])]
    return "\n".join([DEFAULT_ACL] + sorted(kept + ([line] if line else []))) + "\n"


def command(*args: str) -> bytes:
    """A Redis command in RESP."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def ask(host: str, port: int, password: str) -> str | None:
    """AUTH as the admin and ACL LOAD; None when done, else Redis's error."""
    with socket.create_connection((host, port), timeout=10) as conn:
        reader = conn.makefile("rb")
        for args in (("AUTH", ADMIN, password), ("ACL", "LOAD")):
            conn.sendall(command(*args))
            answer = reader.readline().decode(errors="replace").strip()
            if not answer.startswith("+"):
                return f"{'AUTH' if args[0] == 'AUTH' else 'ACL LOAD'}: {answer}"
    return None
