#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Describe a virtualenv by reading its files, never by running its interpreter; optionally
check everything pyweb.deploy.venv needs and decide whether to (re)build it."""
from __future__ import annotations

DOCUMENTATION = r"""
module: venv_info
short_description: Describe a virtualenv from its files, without running its python, and decide whether to build it
description:
  - Reads a virtualenv's C(pyvenv.cfg), the record pyweb.deploy.venv writes after a build, and
    the versions of named distributions from their C(.dist-info/METADATA) files. Nothing in the
    virtualenv is executed, so a C(.pth) file or a changed interpreter shipped by a dependency
    never runs as the caller (root).
  - The record is trusted only in a frozen virtualenv (its top folder a real directory owned by
    root, not writable by group or others) and only when it is a regular root-owned file; a
    half-built virtualenv, still owned by the app, reports no record.
  - Optionally checks a requirements file for C(-r)/C(-c) lines that leave its folder (an absolute
    path or C(..)), following relative includes.
  - With O(python) (what pyweb.deploy.venv does), it also checks everything a build needs and
    fails with a message naming what is missing, before anything changes; the app's user and
    group (O(app)) and its base folder (O(base_dir)) exist; the interpreter exists and runs (it is
    the host's own, not the virtualenv's; it is asked for its version, path and whether it has
    C(ensurepip)); the requirements file is a regular file whose includes stay in its folder; the
    project folder has a C(pyproject.toml); the folder that holds O(path) is root's. Then it hashes
    everything that decides what the virtualenv holds, compares the hash with the record and says
    whether to (re)build and why (RV(rebuild), RV(reason)).
  - In check mode a missing account or base folder is a warning, not a failure (on a new host the
    role that makes them has only said it would).
  - Files are opened without following a final symbolic link; C(pyvenv.cfg), the record and
    requirements files are read up to 1 MiB.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  path:
    description: The virtualenv's folder.
    type: path
    required: true
  marker:
    description: The name of the record inside the virtualenv.
    type: str
    default: .pyweb-venv.json
  packages:
    description: Distribution names whose installed versions to report (any spelling PEP 503 allows).
    type: list
    elements: str
    default: []
  requirements_file:
    description:
      - A requirements file to check for includes that escape its folder; empty for none.
      - With O(python), it must be a regular file (not a link), and its sha256 is part of the hash.
    type: path
  python:
    description:
      - The interpreter the virtualenv is built from, a name on C(PATH) or a full path. Setting it
        turns on the checks and the decision described above.
    type: str
  app:
    description: With O(python), the app's name (C([a-z][a-z0-9_]*), at most 32 characters), also its user and group, which must exist.
    type: str
  base_dir:
    description: With O(python), the app's base folder, which must be a directory.
    type: path
  locked_file:
    description:
      - With O(python), a requirements list in which every line pins a version with its hashes (a
        lock file exported by pyweb.deploy.app_release), installed with C(--require-hashes --no-deps)
        before the rest; its SHA-256 is part of the hash.
    type: path
  project_path:
    description: With O(python), a project folder that must hold a C(pyproject.toml); its files' hash is part of the hash.
    type: path
  installer:
    description: With O(python), the installer; C(pip) needs the interpreter's C(ensurepip).
    type: str
    choices: [pip, uv]
    default: pip
  uv_dir:
    description: With O(installer=uv), the virtualenv that holds uv; its version is read from its files (uv is not run).
    type: path
  uv_version:
    description: With O(installer=uv), the uv version wanted (part of the hash).
    type: str
    default: ""
  inputs:
    description:
      - With O(python), the rest of what decides the virtualenv's content, hashed as given. The
        keys pyweb.deploy.venv passes are C(packages), C(index_url), C(extra_index_urls),
        C(index_username) and C(ca_file) (never a password).
    type: dict
    default: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
"""

EXAMPLES = r"""
- name: Read the venv's interpreter version, record and Gunicorn's version
  pyweb.deploy.venv_info:
    path: /srv/apps/blog/venv
    packages: [gunicorn]
  register: venv

- name: Fail when Gunicorn is missing
  ansible.builtin.fail:
    msg: no gunicorn in the venv
  when: venv.packages.gunicorn == ''

- name: Check what a build needs and decide whether to build
  pyweb.deploy.venv_info:
    path: /srv/apps/blog/venv
    app: blog
    base_dir: /srv/apps/blog
    python: python3
    requirements_file: /srv/apps/blog/releases/1/requirements.txt
    inputs:
      packages: [gunicorn]
  register: venv_check
"""

RETURN = r"""
exists:
  description: Something is at O(path) (a dangling link counts).
  returned: always
  type: bool
frozen:
  description: O(path) is a real directory owned by root and writable by root only.
  returned: always
  type: bool
pyvenv_cfg:
  description: The keys and values of C(pyvenv.cfg) (empty when it is missing or not a regular file).
  returned: always
  type: dict
version:
  description: The interpreter version C(pyvenv.cfg) records (C(version) or uv's C(version_info)); empty when none.
  returned: always
  type: str
parent_exists:
  description: The folder that holds O(path) exists.
  returned: always
  type: bool
parent_safe:
  description:
    - The folder that holds O(path) is a real directory owned by root and writable by root only
      (or does not exist yet), so no other user can put a link where the virtualenv is built.
  returned: always
  type: bool
python_found:
  description: C(bin/python) leads to an existing file (it is not run).
  returned: always
  type: bool
marker:
  description: The record of the last build, only from a frozen virtualenv; empty otherwise.
  returned: always
  type: dict
packages:
  description: For each name of O(packages), the installed version, or an empty string.
  returned: always
  type: dict
requirements_escapes:
  description: >-
    The C(-r)/C(-c) lines of O(requirements_file) (and its includes) naming a file outside its folder,
    each as the path of the file it is in, a colon and the line.
  returned: always
  type: list
  elements: str
interpreter:
  description: What O(python) said it is.
  returned: with O(python)
  type: dict
  contains:
    executable: {description: Its full path (C(sys.executable)), type: str}
    version: {description: C(sys.version), type: str}
    version_info: {description: 'Major, minor and micro version', type: str, sample: 3.11.2}
    ensurepip: {description: It has C(ensurepip), type: bool}
    pip_wheel: {description: The pip wheel its C(ensurepip) installs from; empty when there is none, type: str}
requirements_sha256:
  description: The sha256 of O(requirements_file) (empty without one).
  returned: with O(python)
  type: str
project_sha256:
  description:
    - A hash of O(project_path)'s regular files (C(.git), C(__pycache__), C(build),
      C(*.egg-info) and the deploy's own C(.pyweb-*) left out), the same as C(find . -type f | sort | xargs sha256sum | sha256sum).
  returned: with O(python)
  type: str
uv_installed:
  description: The version of uv in O(uv_dir) (empty when there is none or O(installer=pip)).
  returned: with O(python)
  type: str
hash:
  description: The hash of everything that decides the virtualenv's content, as the record holds it.
  returned: with O(python)
  type: str
rebuild:
  description: The virtualenv must be (re)built.
  returned: with O(python)
  type: bool
reason:
  description: Why it must be (re)built, in words; empty when it is current.
  returned: with O(python)
  type: str
  sample: what it should hold changed
"""

import grp
import hashlib
import json
import os
import pwd
import re
import stat

from ansible.module_utils.basic import AnsibleModule

# One reader of virtualenv metadata for the collection (the wsgi role's wsgi_state uses it too).
from ansible_collections.pyweb.deploy.plugins.module_utils.distinfo import (
    file_digest, installed_versions, project_hash, read_text)

INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+|(?=[^\s=]))(\S+)")
APP_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
# The record's format: 2 = built by the app's user and frozen (a venv root built is rebuilt once).
FORMAT = 2
# Asked of the host's interpreter (never the venv's): what it is and whether venvs of it get pip.
# pip_wheel: the pip wheel its ensurepip installs from (the folder the interpreter was built with,
# Debian's /usr/share/python-wheels, else the one CPython bundles), which the build runs pip from
# instead of putting pip into the venv.
ASK_INTERPRETER = (
    "import glob, importlib.util, json, os, sys, sysconfig; "
    "e = importlib.util.find_spec('ensurepip'); "
    "d = [sysconfig.get_config_var('WHEEL_PKG_DIR') or ''] "
    "+ ([os.path.join(os.path.dirname(e.origin), '_bundled')] if e and e.origin else []); "
    "w = [sorted(glob.glob(os.path.join(x, 'pip-*.whl')))[-1:] for x in d if x]; "
    "w = [x[0] for x in w if x]; "
    "print(json.dumps({'version': sys.version, 'executable': sys.executable, "
    "'version_info': '%d.%d.%d' % sys.version_info[:3], "
    "'ensurepip': e is not None, 'pip_wheel': w[0] if e and w else ''}))"
)


class Refused(Exception):
    """What a build needs is missing or unsafe: the message says what, for the play's failure."""


def sha256_file(path: str) -> str | None:
    """The sha256 of a regular file's whole content, not following a final link; None otherwise."""
    return file_digest(path, "sha256")


def parse_pyvenv_cfg(text: str) -> dict:
    cfg = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            cfg[key.strip()] = value.strip()
    return cfg


def is_frozen(st) -> bool:
    return stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and not st.st_mode & 0o022


def read_marker(venv: str, name: str) -> dict:
    path = os.path.join(venv, name)
    try:
        st = os.lstat(path)
    except OSError:
        return {}
    if not stat.S_ISREG(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
        return {}
    try:
        value = json.loads(read_text(path) or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def requirement_escapes(path: str, depth: int = 0, seen: set | None = None) -> list:
    """`-r`/`-c` lines that name an absolute path or go up with `..`, in the file and its includes."""
    seen = set() if seen is None else seen
    real = os.path.realpath(path)
    if real in seen or depth > 10:
        return []
    seen.add(real)
    text = read_text(path)
    if text is None:
        return []
    found = []
    for raw in text.splitlines():
        match = INCLUDE.match(raw)
        if not match:
            continue
        target = match.group(1)
        if "://" in target:
            found.append(f"{path}: {raw.strip()}")
        elif os.path.isabs(target) or ".." in target.replace("\\", "/").split("/"):
            found.append(f"{path}: {raw.strip()}")
        else:
            found.extend(requirement_escapes(os.path.join(os.path.dirname(path), target), depth + 1, seen))
    return found


def describe(path: str, marker: str, packages: list) -> dict:
    try:
        st = os.lstat(path)
    except OSError:
        st = None
    frozen = st is not None and is_frozen(st)
    cfg_text = read_text(os.path.join(path, "pyvenv.cfg")) if st is not None else None
    cfg = parse_pyvenv_cfg(cfg_text) if cfg_text is not None else {}
    try:
        parent = os.lstat(os.path.dirname(os.path.abspath(path)))
    except FileNotFoundError:
        parent = None  # root makes it before the build (check mode on a new host)
    return {
        "exists": st is not None,
        "parent_exists": parent is not None,
        "parent_safe": parent is None or is_frozen(parent),
        "frozen": frozen,
        "pyvenv_cfg": cfg,
        "version": cfg.get("version") or cfg.get("version_info") or "",
        "python_found": os.path.isfile(os.path.join(path, "bin", "python")),
        "marker": read_marker(path, marker) if frozen else {},
        "packages": installed_versions(path, packages) if st is not None else {n: "" for n in packages},
    }


# --- the checks and the decision of pyweb.deploy.venv -------------------------------------------


def inputs_hash(interpreter: dict, installer: str, uv_version: str, requirements_sha256: str,
                project_path: str, project_sha256: str, inputs: dict, locked_sha256: str = "") -> str:
    """The hash the record holds: the same JSON, key for key, the role's Jinja hashed before."""
    data = {
        "format": FORMAT,
        "python": interpreter.get("version", ""),
        "executable": interpreter.get("executable", ""),
        "installer": installer,
        "uv_version": uv_version if installer == "uv" else "",
        "requirements_sha256": requirements_sha256,
        "project_path": project_path,
        "project_sha256": project_sha256,
        "packages": inputs.get("packages", []),
        "index_url": inputs.get("index_url", ""),
        "extra_index_urls": inputs.get("extra_index_urls", []),
        "index_username": inputs.get("index_username", ""),
        "ca_file": inputs.get("ca_file", ""),
    }
    if locked_sha256:  # only then: the hash of a venv built without a lock stays what it was
        data["locked_sha256"] = locked_sha256
    return hashlib.sha256(json.dumps(data).encode("utf-8")).hexdigest()


def rebuild_reason(state: dict, interpreter: dict, wanted_hash: str) -> str:
    """Why the venv must be (re)built, from what describe() read; '' when it is current."""
    if not state["pyvenv_cfg"]:
        return "no venv yet"
    if not state["python_found"]:
        return "the venv is broken (its python is missing)"
    was = ".".join(state["version"].split(".")[:3])
    if was != interpreter["version_info"]:
        return f"its interpreter changed ({was} -> {interpreter['version_info']})"
    recorded = state["marker"].get("hash") or ""
    if not recorded:
        return "no record of a finished install"
    if recorded != wanted_hash:
        return "what it should hold changed"
    return ""


def check_account(app: str, base_dir: str | None) -> None:
    """The app's user, group and base folder exist (the app role's layout step makes them)."""
    if not APP_NAME.fullmatch(app):
        raise Refused(
            f"venv_app_name '{app}' is not a valid app name: it names a unix user and group, so it "
            "must match [a-z][a-z0-9_]* (at most 32 characters).")
    missing = []
    try:
        pwd.getpwnam(app)
    except KeyError:
        missing.append(f"the user {app}")
    try:
        grp.getgrnam(app)
    except KeyError:
        missing.append(f"the group {app}")
    if base_dir:
        try:
            if not stat.S_ISDIR(os.lstat(base_dir).st_mode):
                missing.append(f"the base folder {base_dir} (it is not a directory)")
        except FileNotFoundError:
            missing.append(f"the base folder {base_dir}")
    if missing:
        raise Refused(
            f"{app}: {', '.join(missing)} must exist before its venv is built: the venv role does not "
            "create the app's account or folders (pyweb.deploy.app does, or create them before "
            "the role); the venv was left as it was.")


def check_inputs(app: str, requirements_file: str | None, project_path: str | None,
                 escapes: list, state: dict, path: str) -> None:
    """The files to install from are there and stay where they belong; root owns the venv's folder."""
    if requirements_file:
        try:
            regular = stat.S_ISREG(os.lstat(requirements_file).st_mode)
        except OSError:
            regular = False
        if not regular:
            raise Refused(
                f"venv_requirements_file {requirements_file} does not exist (or is not a regular "
                f"file); the venv of {app} was left as it was.")
    if project_path and not os.path.isfile(os.path.join(project_path, "pyproject.toml")):
        raise Refused(
            f"venv_project_path {project_path} has no pyproject.toml; the venv of {app} was left as it was.")
    if escapes:
        raise Refused(
            f"{app}: the requirements file {requirements_file} includes files outside its folder, "
            f"which the build does not read: {'; '.join(escapes)}. Keep -r and -c paths relative "
            "and inside the release. The venv was left as it was.")
    # The app's user builds at path: a folder it (or anyone but root) could write would let it
    # put a link there for root's mkdir, chown and rename to follow.
    if not state["parent_safe"]:
        raise Refused(
            f"{app}: the folder of venv_path ({os.path.dirname(path)}) must be a directory owned "
            "by root and writable by root only, since the app's user builds the venv in it; the "
            "venv was left as it was.")


def parse_interpreter(python: str, found: str | None, rc: int, out: str, err: str, installer: str) -> dict:
    """What the interpreter said, or Refused with why it cannot be used."""
    if not found:
        raise Refused(
            f"venv_python '{python}' was not found (no such command or file). Install it (for "
            "example with pyweb.deploy.packages' packages_extra) or choose another interpreter.")
    if rc != 0:
        raise Refused(f"venv_python '{python}' ({found}) does not run: {(err or out).strip()}")
    try:
        info = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Refused(f"venv_python '{python}' ({found}) did not say what it is: {out.strip()[:200]}")
    if installer == "pip" and not info.get("ensurepip"):
        raise Refused(
            f"venv_python '{python}' ({info.get('executable')}) has no ensurepip, so its venvs get "
            "no pip: install the python3-venv package (pyweb.deploy.packages does) or set "
            "venv_installer: uv.")
    return info


def decide(p: dict, state: dict, escapes: list, interpreter: dict) -> dict:
    """The checks and the decision, once the interpreter has answered; Refused when one fails."""
    check_inputs(p["app"] or os.path.basename(p["path"]), p["requirements_file"], p["project_path"],
                 escapes, state, p["path"])
    requirements_sha256 = sha256_file(p["requirements_file"]) if p["requirements_file"] else ""
    project_sha256 = project_hash(p["project_path"]) if p["project_path"] else ""
    uv_installed = ""
    if p["installer"] == "uv" and p["uv_dir"] and os.path.isfile(os.path.join(p["uv_dir"], "bin", "uv")):
        uv_installed = installed_versions(p["uv_dir"], ["uv"])["uv"]
    locked_sha256 = ""
    if p.get("locked_file"):
        check_inputs(p["app"] or os.path.basename(p["path"]), p["locked_file"], None, [], state, p["path"])
        locked_sha256 = sha256_file(p["locked_file"]) or ""
    wanted = inputs_hash(interpreter, p["installer"], p["uv_version"], requirements_sha256 or "",
                         p["project_path"] or "", project_sha256, p["inputs"], locked_sha256)
    reason = rebuild_reason(state, interpreter, wanted)
    return {
        "interpreter": interpreter,
        "requirements_sha256": requirements_sha256 or "",
        "project_sha256": project_sha256,
        "uv_installed": uv_installed,
        "hash": wanted,
        "rebuild": bool(reason),
        "reason": reason,
    }


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "marker": {"type": "str", "default": ".pyweb-venv.json"},
            "packages": {"type": "list", "elements": "str", "default": []},
            "requirements_file": {"type": "path"},
            "python": {"type": "str"},
            "app": {"type": "str"},
            "base_dir": {"type": "path"},
            "project_path": {"type": "path"},
            "locked_file": {"type": "path"},
            "installer": {"type": "str", "choices": ["pip", "uv"], "default": "pip"},
            "uv_dir": {"type": "path"},
            "uv_version": {"type": "str", "default": ""},
            "inputs": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["python"] and p["app"]:
            try:
                check_account(p["app"], p["base_dir"])
            except Refused as exc:
                # A check run on a new host: the app role has not made the account (it would).
                if not module.check_mode or not APP_NAME.fullmatch(p["app"]):
                    raise
                module.warn(f"{exc} (check mode: taken as made by an earlier role)")
        result = describe(p["path"], p["marker"], p["packages"])
        result["requirements_escapes"] = requirement_escapes(p["requirements_file"]) if p["requirements_file"] else []
        if p["python"]:
            # The host's interpreter, root's own: asked in isolated mode, nothing of the venv runs.
            found = p["python"] if "/" in p["python"] else module.get_bin_path(p["python"])
            if found and not os.path.isfile(found):
                found = None
            rc, out, err = module.run_command([found, "-I", "-c", ASK_INTERPRETER]) if found else (127, "", "")
            interpreter = parse_interpreter(p["python"], found, rc, out, err, p["installer"])
            result.update(decide(p, result, result["requirements_escapes"], interpreter))
    except Refused as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
