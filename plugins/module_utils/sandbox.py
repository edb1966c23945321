# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The systemd-run command line that runs an app's code in a sandboxed transient service.

Everything the collection runs of an app's code (release commands, framework steps, builds, the
import and health checks) runs through ``systemd_run_argv``: as the app's user, in a transient
service with the sandbox of the app's own service unit, a time limit, and nothing left running
after it (``--wait --collect`` and KillMode=control-group: when the command ends, systemd stops the
unit and ends every process the command started). Environment files are read by systemd (root),
so their values never appear in an argv.

Tried on Debian 12 (systemd 252) and 13 (257): ``systemd-run --wait --pipe`` exits with the
command's status; a command killed for RuntimeMaxSec= (a timeout), by a signal, or that could
not start exits 1 (``classify`` tells a timeout by the elapsed time). systemd expands ``$NAME``
and ``${NAME}`` in a transient service's command line on both, so every ``$`` is doubled.
"""
from __future__ import annotations

import re

SYSTEMD_RUN = "/usr/bin/systemd-run"

# The sandbox of roles/wsgi/templates/etc/systemd/system/app.service.j2, minus what a build or a
# framework command needs that the server does not:
# - MemoryDenyWriteExecute is off: release commands and static builds may run JIT runtimes
#   (Node.js, LuaJIT, Java) and Python C extensions using libffi closures (cffi callbacks),
#   which need writable-and-executable memory and fail under it;
# - SystemCallFilter keeps @system-service without the server's "~@privileged @resources"
#   (compilers and test runners set resource limits and CPU affinity);
# - ProtectProc/ProcSubset are left out: build tools read /proc (CPU count, meminfo).
SANDBOX = (
    ("NoNewPrivileges", "yes"),
    ("CapabilityBoundingSet", ""),
    ("AmbientCapabilities", ""),
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    # PrivateDevices keeps the host's /dev/shm (world-writable): a private one instead, so the
    # command leaves nothing there (Python's multiprocessing still gets its semaphores).
    ("TemporaryFileSystem", "/dev/shm:mode=1777,nosuid,nodev"),
    # With ProtectKernelTunables or ProtectControlGroups, systemd 252 and 257 leave /run and the
    # mounts under it (/run/lock: world-writable) writable in spite of ProtectSystem=strict
    # (seen in the test containers; site_django's verify writes there): say it again.
    ("ReadOnlyPaths", "-/run"),
    # POSIX message queues and System V IPC of their own (/dev/mqueue is world-writable).
    ("PrivateIPC", "yes"),
    ("ProtectHostname", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("RestrictNamespaces", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    ("RemoveIPC", "yes"),
    ("SystemCallArchitectures", "native"),
    ("SystemCallFilter", "@system-service"),
    ("SystemCallErrorNumber", "EPERM"),
    ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
    # Cloud metadata services (instance credentials) live on link-local addresses; the rest of
    # the network stays open: pip, migrations against a database host, webhooks.
    ("IPAddressDeny", "169.254.0.0/16 fe80::/10"),
    # No listening IP port (as the app's own units): a release command cannot squat a port another
    # app or Redis uses while it restarts (cgroup v2 only, see docs/security.md).
    ("SocketBindDeny", "any"),
    ("KillMode", "control-group"),
)

_UNIT_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


def unit_name(app: str, purpose: str, token: str) -> str:
    """``pyweb-<app>-<purpose>-<token>.service``, with characters systemd refuses made ``_``."""
    parts = [_UNIT_CHARS.sub("_", part) or "_" for part in (app, purpose, token)]
    return "pyweb-{}-{}-{}.service".format(*parts)


def _check_path(path: str, what: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"{what} {path!r} is not an absolute path")
    if any(ord(c) < 32 or c == "\x7f" for c in path):
        raise ValueError(f"{what} {path!r} holds a control character")
    return path


def quote_word(path: str) -> str:
    """A path as one word of a space-separated systemd list (ReadWritePaths=)."""
    if path and not re.search(r"[\s\"'\\]", path):
        return path
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def escape_exec(word: str) -> str:
    """An argument systemd passes on unchanged (it expands $NAME in transient services)."""
    return word.replace("$", "$$")


def systemd_run_argv(*, argv, user, group, chdir, unit, env_files=(), setenv=None,
                     read_write_paths=(), timeout=900, umask="0027", memory_max="2G",
                     tasks_max=512, network=True, description="", log_app=None):
    """The systemd-run argv that runs ``argv`` in the sandbox; ValueError for bad input.

    ``setenv`` holds only values that may be seen (PATH, LANG, HOME): they are in the argv.
    Secrets go in ``env_files``, which systemd reads in order, later files winning.
    ``log_app`` (default: the user, named after its app) tags every journal line of the unit
    ``PYWEB_APP=<app>``, as the app's own units are: ``journalctl PYWEB_APP=<app>`` shows it all.
    """
    if not argv:
        raise ValueError("nothing to run: argv is empty")
    if not isinstance(timeout, int) or timeout < 1:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if not re.fullmatch(r"0?[0-7]{3}", str(umask)):
        raise ValueError(f"umask must be octal like 0027, not {umask!r}")
    for name in (user, group):
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\$?", name or ""):
            raise ValueError(f"{name!r} is not a user or group name")
    props = [
        ("User", user),
        ("Group", group),
        ("WorkingDirectory", _check_path(chdir, "working directory")),
        ("UMask", str(umask).rjust(4, "0")),
        ("RuntimeMaxSec", str(timeout)),
        ("MemoryMax", str(memory_max)),
        ("TasksMax", str(tasks_max)),
        ("LogExtraFields", "PYWEB_APP=" + _UNIT_CHARS.sub("_", log_app or user)),
    ]
    props += [("EnvironmentFile", _check_path(path, "environment file")) for path in env_files]
    props += list(SANDBOX)
    if read_write_paths:
        # "-": a path that does not exist yet is skipped instead of failing the unit.
        props.append(("ReadWritePaths", " ".join(
            "-" + quote_word(_check_path(p, "read-write path")) for p in read_write_paths)))
    if not network:
        props.append(("PrivateNetwork", "yes"))
    cmd = [SYSTEMD_RUN, "--wait", "--pipe", "--collect", "--quiet", "--service-type=exec",
           f"--unit={unit}"]
    if description:
        # The journal names the unit with this instead of the whole command line.
        cmd.append("--description=" + " ".join(str(description).split()))
    for key, value in props:
        cmd.append(f"--property={key}={value}")
    for key, value in (setenv or {}).items():
        if "\n" in str(value) or "\0" in str(value):
            raise ValueError(f"{key}: a line break cannot go in --setenv")
        cmd.append(f"--setenv={key}={value}")
    cmd.append("--")
    cmd += [escape_exec(str(word)) for word in argv]
    return cmd


def classify(rc: int, elapsed: float, timeout: int) -> str:
    """Why the command failed, in words, from systemd-run's status and the time it took."""
    if rc == 0:
        return ""
    if rc == 1 and elapsed >= timeout:
        return (f"did not finish within {timeout} s and was stopped (RuntimeMaxSec), "
                "with every process it started")
    if rc == 255:
        return "exit 255: killed by a signal or out of memory (MemoryMax), or it exited 255"
    return f"exit {rc}"
