#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command as an app's user, with the app's environment file, and report it briefly."""
from __future__ import annotations

DOCUMENTATION = r"""
module: app_command
short_description: Run a command as an app's user with the app's environment file
description:
  - Runs O(argv) as O(user) (its groups included) in O(chdir), with the variables of
    O(env_file) (systemd C(EnvironmentFile=) syntax) and O(env) set, and nothing else from the
    caller's environment but C(PATH), C(LANG) and C(HOME).
  - The environment file's values never appear in the task's arguments, so secrets in it are not
    printed even at C(-vvv), and they do not show in the process list as arguments would.
  - On failure the message holds the command's last O(tail) lines of output, not the whole.
  - Skipped in check mode unless O(read_only) is true.
version_added: 0.1.0
author: pyweb.deploy developers
options:
  user:
    description: The user to run as (its primary and supplementary groups are used).
    type: str
    required: true
  argv:
    description: The command and its arguments.
    type: list
    elements: str
    required: true
  chdir:
    description: The working directory.
    type: path
    required: true
  env_file:
    description: An environment file to load; a missing file is an error.
    type: path
  env:
    description: "Further variables (not secret, since they are module arguments), set after the file's."
    type: dict
    default: {}
  path_prepend:
    description: Folders put in front of C(PATH) (a virtualenv's C(bin)).
    type: list
    elements: path
    default: []
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
    description: What the command does, for the failure message.
    type: str
    default: ""
  read_write_paths:
    description:
      - Paths the command may write (a virtualenv being built). Accepted here; the sandboxed
        version of this module makes everything else read-only to the command.
    type: list
    elements: path
    default: []
  timeout:
    description: Seconds the command may run before it is killed and the task fails; 0 for no limit.
    type: int
    default: 0
attributes:
  check_mode:
    support: partial
    details: Skipped in check mode unless O(read_only).
"""

RETURN = r"""
rc:
  description: The command's exit status.
  returned: when run
  type: int
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

import os
import pwd
import subprocess

from ansible.module_utils.basic import AnsibleModule


def parse_env_file(text: str) -> dict:
    """systemd EnvironmentFile= syntax: KEY=value, KEY="value with \\" escapes", KEY='raw'."""
    env = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            out, chars, i = [], value[1:-1], 0
            while i < len(chars):
                if chars[i] == "\\" and i + 1 < len(chars):
                    i += 1
                out.append(chars[i])
                i += 1
            value = "".join(out)
        elif len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        env[key] = value
    return env


def main():
    module = AnsibleModule(
        argument_spec={
            "user": {"type": "str", "required": True},
            "argv": {"type": "list", "elements": "str", "required": True},
            "chdir": {"type": "path", "required": True},
            "env_file": {"type": "path"},
            "env": {"type": "dict", "default": {}},
            "path_prepend": {"type": "list", "elements": "path", "default": []},
            "umask": {"type": "str", "default": "0027"},
            "tail": {"type": "int", "default": 30},
            "read_only": {"type": "bool", "default": False},
            "description": {"type": "str", "default": ""},
            "read_write_paths": {"type": "list", "elements": "path", "default": []},
            "timeout": {"type": "int", "default": 0},
        },
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode and not p["read_only"]:
        module.exit_json(changed=False, skipped=True, msg="skipped in check mode")
    try:
        account = pwd.getpwnam(p["user"])
    except KeyError:
        module.fail_json(msg=f"user {p['user']} does not exist")
    if not os.path.isdir(p["chdir"]):
        module.fail_json(msg=f"folder {p['chdir']} does not exist")
    env = {"PATH": ":".join([*p["path_prepend"], "/usr/local/bin", "/usr/bin", "/bin"]),
           "LANG": "C.UTF-8", "HOME": account.pw_dir}
    if p["env_file"]:
        try:
            with open(p["env_file"], encoding="utf-8") as handle:
                env.update(parse_env_file(handle.read()))
        except OSError as exc:
            module.fail_json(msg=f"cannot read the environment file {p['env_file']}: {exc.strerror}")
    env.update({str(k): str(v) for k, v in p["env"].items()})
    umask = int(p["umask"], 8)

    def demote():
        os.setgid(account.pw_gid)
        os.initgroups(account.pw_name, account.pw_gid)
        os.setuid(account.pw_uid)
        os.umask(umask)

    try:
        proc = subprocess.run(p["argv"], cwd=p["chdir"], env=env, preexec_fn=demote,
                              stdin=subprocess.DEVNULL, capture_output=True, check=False,
                              timeout=p["timeout"] or None)
    except subprocess.TimeoutExpired:
        what = p["description"] or " ".join(p["argv"])
        module.fail_json(msg=f"{what} did not finish within {p['timeout']} s as {p['user']} in {p['chdir']}")
    except OSError as exc:
        module.fail_json(msg=f"cannot run {p['argv'][0]}: {exc.strerror}")
    out = proc.stdout.decode("utf-8", "replace").splitlines()[-p["tail"]:]
    err = proc.stderr.decode("utf-8", "replace").splitlines()[-p["tail"]:]
    result = {"rc": proc.returncode, "stdout_tail": out, "stderr_tail": err,
              "changed": not p["read_only"]}
    if proc.returncode != 0:
        what = p["description"] or " ".join(p["argv"])
        lines = "\n".join(err or out)
        module.fail_json(msg=f"{what} failed (exit {proc.returncode}) as {p['user']} in {p['chdir']}:\n{lines}",
                         **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
