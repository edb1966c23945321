#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run an app's code as its user in a sandboxed transient systemd service, and report it briefly."""
from __future__ import annotations

DOCUMENTATION = r"""
module: app_command
short_description: Run an app's code as its user in a sandboxed transient systemd service
description:
  - Runs O(argv) as O(user) (its primary and supplementary groups) in O(chdir) inside a transient
    systemd service started with C(systemd-run --wait --pipe --collect), with the sandbox of the app's
    own service unit (C(ProtectSystem=strict) with only O(read_write_paths) writable,
    C(ProtectHome), C(PrivateTmp), C(PrivateDevices), C(NoNewPrivileges), no capabilities,
    C(SystemCallFilter=@system-service), the cloud metadata addresses denied), a time limit
    (O(timeout)), memory and task limits, and C(KillMode=control-group), so that when the command
    ends every process it started ends with it.
  - The unit is named C(pyweb-<user>-<purpose>-<random>.service) and the journal shows it with
    O(description).
  - The variables come from O(env_file) (systemd C(EnvironmentFile=) syntax, read by systemd
    itself) and O(env) (written to a root-only temporary environment file, removed afterwards),
    plus C(PATH) (O(path_prepend) first), C(LANG=C.UTF-8), C(HOME) (the user's home) and
    C(XDG_CACHE_HOME) in the unit's private C(/tmp). No value of either ever appears in a command
    line, the process list or the task's output.
  - On failure the message holds the command's last O(tail) lines of output, not the whole, and
    says when the command was stopped for its time limit.
  - In check mode a command runs only if O(read_only); otherwise it is reported as a change it
    would make, and not run.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
requirements:
  - systemd 252 or newer on the target (systemd-run)
options:
  user:
    description: The user to run as (its primary and supplementary groups are used).
    type: str
    required: true
  argv:
    description: The command and its arguments, passed on unchanged (no shell, no C($) expansion).
    type: list
    elements: str
    required: true
  chdir:
    description: The working directory.
    type: path
    required: true
  env_file:
    description: An environment file systemd loads into the command's environment; a missing file is an error.
    type: path
  env:
    description:
      - Further variables, set after the file's. They may be secret (a password for a
        management command), so the option is C(no_log) and the values reach the command through a
        root-only file, never a command line.
    type: dict
    default: {}
  public_env:
    description:
      - Further variables that are not secret (installer switches, paths), set like O(env) through
        the root-only file but not masked in the output. Ansible masks every value of a C(no_log)
        option wherever it appears, so a switch such as C(1) in O(env) would hide every C(1) of the
        command's output. O(env) wins on a clash.
    type: dict
    default: {}
  path_prepend:
    description: Folders put in front of C(PATH) (a virtualenv's C(bin)).
    type: list
    elements: path
    default: []
  read_write_paths:
    description:
      - The only paths the command may write (systemd C(ReadWritePaths=)); everything else but
        its private C(/tmp) is read-only. A path that does not exist is skipped.
    type: list
    elements: path
    default: []
  timeout:
    description: Seconds the command may run (C(RuntimeMaxSec=)), after which it and everything it started are stopped and the task fails.
    type: int
    default: 900
  network:
    description: Whether the command may use the network (false gives it C(PrivateNetwork=yes)).
    type: bool
    default: true
  memory_max:
    description: The memory limit of the command and everything it starts (C(MemoryMax=)).
    type: str
    default: 2G
  tasks_max:
    description: The most processes and threads the command may have at once (C(TasksMax=)).
    type: int
    default: 512
  purpose:
    description: A word for the unit's name, such as C(release), C(migrate) or C(check).
    type: str
    default: run
  umask:
    description: The umask of the command, in octal.
    type: str
    default: "0027"
  tail:
    description: How many of the last output lines to keep in the result and the failure message.
    type: int
    default: 30
  read_only:
    description: The command changes nothing, so it runs in check mode too and reports no change.
    type: bool
    default: false
  description:
    description: What the command does, for the journal and the failure message.
    type: str
    default: ""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: partial
    details: Runs in check mode only if O(read_only); otherwise reports the change it would make.
"""

EXAMPLES = r"""
- name: Migrate the database, writing only the app's shared folder
  pyweb.deploy.app_command:
    user: blog
    chdir: /srv/apps/blog/releases/20260101T000000Z
    env_file: /etc/pyweb/blog.env
    path_prepend: [/srv/apps/blog/venvs/py311/bin]
    argv: [/srv/apps/blog/venvs/py311/bin/python, manage.py, migrate, --noinput]
    read_write_paths: [/srv/apps/blog/shared]
    purpose: migrate
    description: "blog: manage.py migrate"

- name: Ask whether the app imports (runs in check mode too, may write nothing)
  pyweb.deploy.app_command:
    user: blog
    chdir: /srv/apps/blog/current
    env_file: /etc/pyweb/blog.env
    argv: [/srv/apps/blog/venvs/py311/bin/python, -c, import blog.wsgi]
    read_only: true
    timeout: 60
    purpose: check
"""

RETURN = r"""
rc:
  description: The command's exit status (1 when it was stopped for its time limit, 255 when killed by a signal).
  returned: when run
  type: int
unit:
  description: The name of the transient unit the command ran in, as the journal shows it.
  returned: always
  type: str
  sample: pyweb-blog-release-3f9c2a1b.service
elapsed:
  description: Seconds the command took.
  returned: when run
  type: float
stdout_tail:
  description: The last lines of standard output.
  returned: when run
  type: list
  elements: str
stderr_tail:
  description: The last lines of standard error.
  returned: when run
  type: list
  elements: str
"""

import grp
import os
import pwd
import secrets
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.deploy.plugins.module_utils import envfile, sandbox

# systemd (root) reads the extra variables from a root-only file here; it is removed afterwards.
ENV_DIR = "/run"

ARGUMENT_SPEC = {
    "user": {"type": "str", "required": True},
    "argv": {"type": "list", "elements": "str", "required": True},
    "chdir": {"type": "path", "required": True},
    "env_file": {"type": "path"},
    "env": {"type": "dict", "default": {}, "no_log": True},
    "public_env": {"type": "dict", "default": {}},
    "path_prepend": {"type": "list", "elements": "path", "default": []},
    "read_write_paths": {"type": "list", "elements": "path", "default": []},
    "timeout": {"type": "int", "default": 900},
    "network": {"type": "bool", "default": True},
    "memory_max": {"type": "str", "default": "2G"},
    "tasks_max": {"type": "int", "default": 512},
    "purpose": {"type": "str", "default": "run"},
    "umask": {"type": "str", "default": "0027"},
    "tail": {"type": "int", "default": 30},
    "read_only": {"type": "bool", "default": False},
    "description": {"type": "str", "default": ""},
}


def base_env(path_prepend, home):
    """The variables every command gets (not secret: they are in systemd-run's argv)."""
    return {
        "PATH": ":".join([*path_prepend, "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "HOME": home,
        # HOME is read-only under the sandbox; caches go to the unit's private /tmp.
        "XDG_CACHE_HOME": "/tmp/.cache",
    }


def what(params):
    return params["description"] or " ".join(params["argv"])


def tails(stdout: bytes, stderr: bytes, tail: int):
    out = stdout.decode("utf-8", "replace").splitlines()[-tail:] if tail > 0 else []
    err = stderr.decode("utf-8", "replace").splitlines()[-tail:] if tail > 0 else []
    return out, err


def failure_message(params, rc, elapsed, out, err):
    """The one message a failed command gets: what, why, as whom, where, and its last lines."""
    why = sandbox.classify(rc, elapsed, params["timeout"])
    lines = "\n".join(err or out)
    return f"{what(params)} failed ({why}) as {params['user']} in {params['chdir']}:\n{lines}"


def module_runner(module):
    """systemd-run through the module's run_command: argv as given (no ~ or $VAR expansion),
    output as bytes; a missing systemd-run raises OSError. ``systemd-run --pipe`` hands its
    stdin to the unit: the module's stdin becomes /dev/null first, so the app reads nothing."""
    def run_argv(cmd):
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            os.dup2(null, 0)
        finally:
            os.close(null)
        return module.run_command(cmd, expand_user_and_vars=False, handle_exceptions=False, encoding=None)
    return run_argv


def run(module, params, runner=None, clock=time.monotonic):
    """Run the command; returns (failed, result dict). ``runner(argv)`` returns (rc, stdout,
    stderr) as bytes (default: module_runner); ``runner`` and ``clock`` for tests."""
    if runner is None:
        runner = module_runner(module)
    unit = sandbox.unit_name(params["user"], params["purpose"], secrets.token_hex(4))
    if module.check_mode and not params["read_only"]:
        return False, {"changed": True, "unit": unit,
                       "msg": f"would run {what(params)} (not run in check mode)"}
    try:
        account = pwd.getpwnam(params["user"])
    except KeyError:
        return True, {"msg": f"{what(params)}: user {params['user']} does not exist", "unit": unit}
    try:
        group = grp.getgrgid(account.pw_gid).gr_name
    except KeyError:
        group = str(account.pw_gid)
    if not os.path.isdir(params["chdir"]):
        return True, {"msg": f"{what(params)}: folder {params['chdir']} does not exist", "unit": unit}
    env_files = []
    if params["env_file"]:
        try:
            with open(params["env_file"], "rb"):
                pass
        except OSError as exc:
            return True, {"unit": unit, "msg": f"{what(params)}: cannot read the environment file "
                                               f"{params['env_file']}: {exc.strerror}"}
        env_files.append(params["env_file"])
    extra = None
    try:
        variables = {**params.get("public_env", {}), **params["env"]}
        if variables:
            try:
                text = envfile.render(variables)
            except ValueError as exc:
                return True, {"unit": unit, "msg": f"{what(params)}: env: {exc}"}
            fd, extra = tempfile.mkstemp(prefix="pyweb-env-", suffix=".env", dir=ENV_DIR)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            env_files.append(extra)
        try:
            cmd = sandbox.systemd_run_argv(
                argv=params["argv"], user=account.pw_name, group=group, chdir=params["chdir"],
                unit=unit, env_files=env_files,
                setenv=base_env(params["path_prepend"], account.pw_dir),
                read_write_paths=params["read_write_paths"], timeout=params["timeout"],
                umask=params["umask"], memory_max=params["memory_max"],
                tasks_max=params["tasks_max"], network=params["network"],
                description=params["description"])
        except ValueError as exc:
            return True, {"unit": unit, "msg": f"{what(params)}: {exc}"}
        started = clock()
        try:
            rc, stdout, stderr = runner(cmd)
        except OSError as exc:
            return True, {"unit": unit, "msg": f"{what(params)}: cannot run systemd-run: {exc.strerror}"}
        elapsed = round(clock() - started, 3)
    finally:
        if extra:
            os.unlink(extra)
    out, err = tails(stdout, stderr, params["tail"])
    result = {"rc": rc, "unit": unit, "elapsed": elapsed, "stdout_tail": out,
              "stderr_tail": err, "changed": not params["read_only"]}
    if rc != 0:
        result["msg"] = failure_message(params, rc, elapsed, out, err)
        return True, result
    return False, result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    failed, result = run(module, module.params)
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
