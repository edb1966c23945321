#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Create each app's backend certificate once, and read the certificates and keys back."""
from __future__ import annotations

DOCUMENTATION = r"""
module: balancer_backend_certs
short_description: Create the apps' backend certificates once and read them back
description:
  - For each app of O(apps), the certificate C(<base>.crt) and key C(<base>.key) the app hosts
    show their balancers (EC P-256, the app's domains as subject alternative names, not a CA).
    A certificate that exists is never replaced; a missing one is created with C(openssl req).
  - O(dir) is made root-only (C(0700)) if missing; a link there is refused.
  - Returns every certificate and key as text in RV(certs). Run the task with C(no_log=true),
    the keys are secret.
  - In check mode nothing is created, and an app whose certificate does not exist yet is left
    out of RV(certs) (and reported as a change).
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  apps:
    description:
      - The apps, as the C(pyweb.deploy.balancer_backend_apps) filter returns them
        (C(name), C(domains), C(base) (the path of the files without C(.crt)/C(.key), inside O(dir))).
    type: list
    elements: dict
    required: true
  dir:
    description: The root-only folder of the certificates and keys.
    type: path
    required: true
  days:
    description: Validity of a certificate when it is created.
    type: int
    default: 36500
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Create or read the backend certificates (never printed)
  pyweb.deploy.balancer_backend_certs:
    apps: "{{ balancer_hosts | pyweb.deploy.balancer_backend_apps(hostvars, '/etc/pyweb/balancer/backend') }}"
    dir: /etc/pyweb/balancer/backend
  register: backend
  no_log: true
"""

RETURN = r"""
certs:
  description: Each app's certificate and key (PEM text), by app name.
  returned: always
  type: dict
  sample: {blog: {cert: "-----BEGIN CERTIFICATE-----...", key: "-----BEGIN PRIVATE KEY-----..."}}
created:
  description: The apps whose certificate this call created (or would create, in check mode).
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule


def openssl_argv(app: dict, days: int) -> list[str]:
    """The command that creates ``app``'s certificate and key."""
    return [
        "openssl", "req", "-x509", "-nodes", "-days", str(days),
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-subj", f"/CN={app['domains'][0]}",
        "-addext", "subjectAltName=" + ",".join(f"DNS:{d}" for d in app["domains"]),
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-keyout", f"{app['base']}.key", "-out", f"{app['base']}.crt",
    ]


def check_apps(apps: list, folder: str) -> list[str]:
    """Problems with ``apps``: each needs a name, domains, and a base inside ``folder``."""
    errors = []
    root = os.path.normpath(folder)
    for app in apps:
        name = app.get("name")
        if not name or not app.get("domains") or not app.get("base"):
            errors.append(f"{app!r}: needs name, domains and base")
        elif os.path.dirname(os.path.normpath(app["base"])) != root:
            errors.append(f"{name}: base {app['base']} is not a file name inside {folder}")
        elif any(not isinstance(d, str) or not d or "," in d or "/" in d for d in app["domains"]):
            errors.append(f"{name}: a domain is empty or has a ',' or '/'")
    return errors


def read_text(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, encoding="ascii") as handle:
        return handle.read()


def run(module_run, params: dict, check_mode: bool) -> dict:
    """``module_run(argv)`` runs a command and returns (rc, stdout, stderr)."""
    apps, folder = params["apps"], params["dir"]
    errors = check_apps(apps, folder)
    if errors:
        raise ValueError("; ".join(errors))
    result = {"changed": False, "certs": {}, "created": []}
    if not apps:
        return result
    if os.path.islink(folder):
        raise ValueError(f"{folder} is a link: the folder of the backend keys must be a real folder")
    if not os.path.isdir(folder):
        result["changed"] = True
        if not check_mode:
            os.makedirs(folder, mode=0o700)
    elif (os.stat(folder).st_mode & 0o777) != 0o700:
        result["changed"] = True
        if not check_mode:
            os.chmod(folder, 0o700)
    for app in apps:
        cert, key = f"{app['base']}.crt", f"{app['base']}.key"
        if not os.path.lexists(cert):
            result["created"].append(app["name"])
            result["changed"] = True
            if check_mode:
                continue
            old = os.umask(0o077)
            try:
                rc, _out, err = module_run(openssl_argv(app, params["days"]))
            finally:
                os.umask(old)
            if rc != 0:
                raise ValueError(f"{app['name']}: openssl could not create the backend certificate: {err.strip()}")
        if not os.path.lexists(key):
            raise ValueError(f"{app['name']}: {cert} exists but its key {key} does not: "
                             "delete the certificate to create both again")
        result["certs"][app["name"]] = {"cert": read_text(cert), "key": read_text(key)}
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "apps": {"type": "list", "elements": "dict", "required": True},
            "dir": {"type": "path", "required": True},
            "days": {"type": "int", "default": 36500},
        },
        supports_check_mode=True,
    )

    def module_run(argv):
        return module.run_command(argv)

    try:
        result = run(module_run, module.params, module.check_mode)
    except (OSError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
