#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An app's release before and after its build: is it served as wanted already; keep what it runs with."""
from __future__ import annotations

DOCUMENTATION = r"""
module: app_release
short_description: Tell whether an app's release is served as wanted; keep its environment and prune virtualenvs
description:
  - "O(action=check), after the code is in C(releases/<id>) and before anything is built: names the
    virtualenv the release needs (from the SHA-256 of what it installs from, the interpreter and
    O(packages)), reads the release's build marker C(.pyweb-built) (root's, not followed) and its
    C(.pyweb-failed) mark, where C(current) points, and compares the environment the app is given
    (O(env), O(secret_env), the Django secret key) with the copy kept for the release
    (C(.pyweb/env/<id>.env)) as systemd reads them. RV(up_to_date) is true when the release is current,
    built for that virtualenv, not marked failed and (WSGI) runs with that environment: the deploy
    then skips the build, the checks and the switch."
  - "O(action=check) with O(wsgi=true) also detects the release's project format (C(uv.lock),
    C(poetry.lock), C(Pipfile.lock), C(requirements.txt), C(pyproject.toml), in that order, unless
    O(requirements) or O(project_format) names it), exports a lock file to a requirements list of
    pinned versions with their hashes (RV(project.locked); nothing of the app runs), and chooses the
    interpreter the app asks for (C(.python-version), C(runtime.txt), C(requires-python)) among the
    host's C(/usr/bin/python3.N) and the one its Debian release ships, unless O(python) names one.
    No format, a lock it cannot honour, or no interpreter that fits fails the task, before the Django key
    is created and before anything is built."
  - "With O(django_secret_key), O(action=check) also creates that file (root, 0600, C(secrets.token_urlsafe(50)))
    when it is missing; an existing key is never replaced. Its content is never returned."
  - "O(action=keep), after the server runs the release: keeps a copy of the server's environment file
    O(env_file) as C(.pyweb/env/<id>.env) (root, 0600; C(.pyweb/env/) root 0700), for a rollback to
    the release, and removes the virtualenvs in C(venvs/) that no kept release's marker names (but
    O(venv) and the static build's C(build-*)), never following a link."
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  action:
    description: C(check) reads (and may create the Django key); C(keep) writes the copy and prunes.
    type: str
    choices: [check, keep]
    default: check
  base_dir:
    description: The app's folder (C(releases/), C(venvs/), C(.pyweb/), C(current)).
    type: path
    required: true
  release:
    description: The release id (its folder is C(releases/<id>)).
    type: str
    required: true
  wsgi:
    description: Whether the app runs in a virtualenv with an environment file (Django, Flask); false for a static site.
    type: bool
    default: false
  discard_new:
    description:
      - "The release was fetched by this run (O(action=check)): when the app's project format or
        Python is refused, its folder is removed (never following a link; never the release
        C(current) names), so that no unbuildable release is left behind."
    type: bool
    default: false
  requirements:
    description: The requirements file, relative to the release (O(wsgi=true)); empty to detect the project format.
    type: str
    default: ""
  project_format:
    description: The project format (O(wsgi=true)); C(auto) detects it.
    type: str
    choices: [auto, uv, poetry, pipenv, requirements, pyproject]
    default: auto
  python:
    description:
      - The app's Python as the app's spec names it, overriding what the app asks for; empty to
        choose from what the app asks for (else C(python3)). Part of the virtualenv's name.
    type: str
    default: ""
  packages:
    description: Packages installed beside the requirements (part of the virtualenv's name).
    type: list
    elements: str
    default: []
  env:
    description: The environment the app is given (O(action=check)).
    type: dict
    default: {}
  secret_env:
    description: The secret part of the environment (O(action=check)); never returned nor printed.
    type: dict
    default: {}
  django_secret_key:
    description: A file holding a generated C(DJANGO_SECRET_KEY), created when missing (O(action=check)); empty for none.
    type: path
  env_file:
    description: The server's environment file that O(action=keep) copies (O(wsgi=true)).
    type: path
  venv:
    description: A virtualenv O(action=keep) never removes (the one this run built or uses).
    type: path
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""

EXAMPLES = r"""
- name: Tell whether the release is served as wanted already
  pyweb.deploy.app_release:
    base_dir: /srv/apps/blog
    release: 0123456789ab
    wsgi: true
    packages: [gunicorn]
    env: {DJANGO_SETTINGS_MODULE: blog.settings}
    secret_env: "{{ blog_secrets }}"
    django_secret_key: /srv/apps/blog/.pyweb/django_secret_key
  register: state

- name: Keep the environment the release runs with, and prune unused virtualenvs
  pyweb.deploy.app_release:
    action: keep
    base_dir: /srv/apps/blog
    release: 0123456789ab
    wsgi: true
    env_file: /etc/pyweb/blog.env
    venv: "{{ state.venv }}"
"""

RETURN = r"""
venv:
  description: The virtualenv the release needs (O(action=check), O(wsgi=true)); empty for a static site or when the requirements file is missing.
  returned: always
  type: str
  sample: /srv/apps/blog/venvs/3f2a9c0b1d4e
requirements_found:
  description: Whether the release has what it installs from (O(action=check), O(wsgi=true)).
  returned: always
  type: bool
project:
  description: What the release installs and with which Python (O(action=check), O(wsgi=true), the release fetched); empty otherwise.
  returned: always
  type: dict
  contains:
    format: {description: "The project format: uv, poetry, pipenv, requirements or pyproject.", type: str}
    file: {description: "The file that selected it, relative to the release.", type: str}
    locked: {description: "The lock exported as a requirements list with hashes (empty without a lock).", type: str}
    locked_count: {description: "How many packages the lock pins.", type: int}
    install_project: {description: "Whether the project itself is installed (non-editable) from the release.", type: bool}
    python: {description: "The interpreter the venv is built from (a name or a path).", type: str}
    python_asked: {description: "What the app asks for: spec, source, text (empty spec: nothing).", type: dict}
    python_install: {description: "Whether that interpreter comes from the distribution and is not installed yet.", type: bool}
    venv_name: {description: "The virtualenv's folder name in C(venvs/).", type: str}
static_dir:
  description: The static folder the release's build marker names (a Django release's, adopted from its settings or the app's own); empty when none.
  returned: always
  type: str
built:
  description: Whether the release has a build marker (root's), whatever virtualenv it names.
  returned: always
  type: bool
marker_matches:
  description: Whether the build marker names this release and RV(venv).
  returned: always
  type: bool
marked_failed:
  description: Whether the release is marked C(.pyweb-failed) (not C(failed), which Ansible reads as the task's state).
  returned: always
  type: bool
current:
  description: The release current points at, empty when none.
  returned: always
  type: str
env_matches:
  description: Whether the kept copy of the release's environment (root, 0600) holds exactly the wanted environment (always true for a static site).
  returned: always
  type: bool
up_to_date:
  description: The release is current, built for RV(venv), not marked failed, and runs with the wanted environment.
  returned: always
  type: bool
reasons:
  description: Why RV(up_to_date) is false, in words (nothing secret).
  returned: always
  type: list
  elements: str
key_created:
  description: Whether the Django secret key file was created (or would be, in check mode).
  returned: always
  type: bool
used:
  description: The virtualenvs the kept releases' markers name (O(action=keep)).
  returned: always
  type: list
  elements: str
pruned:
  description: The virtualenvs removed (or, in check mode, that would be) (O(action=keep)).
  returned: always
  type: list
  elements: str
env_kept:
  description: Whether the kept copy of the environment file was written (or would be) (O(action=keep)).
  returned: always
  type: bool
"""

import hashlib
import json
import os
import re
import secrets
import stat

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible_collections.pyweb.deploy.plugins.module_utils import envfile, projectformat, pythons
    from ansible_collections.pyweb.deploy.plugins.module_utils.safepath import (
        UnsafePath, components, ensure_dir, lstat_at, open_anchor, open_child, plain_path_problem, remove_tree)
    from ansible_collections.pyweb.deploy.plugins.module_utils.safepath import read_file_at as _read_file_at
except ImportError:  # tests/unit loads this file alone, with module_utils on sys.path
    import envfile  # type: ignore[no-redef]
    import projectformat  # type: ignore[no-redef]
    import pythons  # type: ignore[no-redef]
    from safepath import (  # type: ignore[no-redef]
        UnsafePath, components, ensure_dir, lstat_at, open_anchor, open_child, plain_path_problem, remove_tree)
    from safepath import read_file_at as _read_file_at  # type: ignore[no-redef]

# Larger files are not a marker, a requirements file or an environment file.
MAX_READ = 4 * 1024 * 1024


def venv_name(requirements_sha256: str, python: str, packages: list) -> str:
    """The virtualenv's folder name: one per set of requirements, Python and extra packages (the
    formula the collection has always used, so that hosts keep their virtualenvs)."""
    key = f"{requirements_sha256} {python} {' '.join(packages)}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def read_file_at(dir_fd: int, rel: str, shown: str):
    """(bytes, stat) of the regular file rel under dir_fd, never following a link; None when missing
    (safepath.read_file_at, at most MAX_READ bytes)."""
    return _read_file_at(dir_fd, rel, shown, MAX_READ)


def read_marker(data) -> dict:
    """The build marker's JSON ({} when unreadable)."""
    try:
        marker = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, AttributeError):
        return {}
    return marker if isinstance(marker, dict) else {}


def wanted_env(env: dict, secret_env: dict, key) -> dict:
    """The environment the app must run with, as systemd reads it: every value a string."""
    merged = {k: "" if v is None else str(v) for k, v in {**env, **secret_env}.items()}
    if key is not None:
        merged["DJANGO_SECRET_KEY"] = key
    return merged


def decide(current: str, release: str, marker, marker_uid, venv: str, marked_failed: bool, wsgi: bool,
           requirements_found: bool, kept_env, kept_ok: bool, want_env: dict) -> dict:
    """Whether the release is served as wanted, and why not. marker: its JSON dict or None when
    missing; kept_env: the parsed kept environment or None when missing."""
    reasons = []
    built = marker is not None and marker_uid == 0
    matches = built and marker.get("id") == release and marker.get("venv", "") == (venv if wsgi else "")
    env_matches = (not wsgi) or (kept_env is not None and kept_ok and kept_env == want_env)
    if current != release:
        reasons.append(f"current is {current or 'unset'}, not {release}")
    if wsgi and not requirements_found:
        reasons.append("the requirements file is not in the release")
    if not built:
        reasons.append("the release has no build marker of root's")
    elif not matches:
        reasons.append(f"the build marker names {marker.get('venv', '') or 'no virtualenv'}, not {venv}")
    if marked_failed:
        reasons.append("the release is marked failed")
    if not env_matches:
        reasons.append("the environment differs from the one the release runs with" if kept_env is not None
                       else "no kept copy of the environment the release runs with")
    return {"built": built, "marker_matches": matches, "env_matches": env_matches, "reasons": reasons,
            "up_to_date": not reasons}


def ensure_key(path: str, check: bool) -> tuple:
    """(key or None, created): the Django secret key file, root 0600, created when missing
    (never replaced). Its folder must be root's."""
    folder, name = os.path.split(path.rstrip("/"))
    dfd = open_anchor(folder)
    try:
        got = read_file_at(dfd, name, path)
        if got is not None:
            return got[0].decode("utf-8").strip(), False
        if check:
            return None, True
        key = secrets.token_urlsafe(50)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(key + "\n")
        return key, True
    finally:
        os.close(dfd)


def host_pythons(root: str = "/usr/bin") -> dict:
    """The host's interpreters named python3.N in root: {"3.11": "/usr/bin/python3.11"}."""
    found = {}
    try:
        names = os.listdir(root)
    except OSError:
        return found
    for name in names:
        match = re.fullmatch(r"python(3\.\d+)", name)
        if match and os.access(os.path.join(root, name), os.X_OK):
            found[match.group(1)] = os.path.join(root, name)
    return found


def distribution_version(path: str = "/etc/os-release") -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VERSION_ID="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def venv_key(fmt: str, files: dict, project_release: str, python: str, packages: list) -> str:
    """The virtualenv's name for a format other than requirements: the format, every input
    file's SHA-256 (the lock, pyproject.toml), the release when the project is installed as a
    package, the interpreter and the extra packages."""
    parts = [f"format={fmt}"]
    parts += [f"{name}={hashlib.sha256(data).hexdigest()}" for name, data in sorted(files.items()) if data is not None]
    if project_release:
        parts.append(f"project={project_release}")
    return venv_name(hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest(), python, packages)


def read_project(rfd: int, rel_path: str, params: dict, offer: dict) -> dict:
    """What the release installs and with which interpreter (projectformat, pythons): the format,
    its file, the exported lock, whether the project itself is installed, the interpreter, and
    the virtualenv's name. FormatError or PythonError with the reason."""
    top = set(os.listdir(rfd))
    requirements = params["requirements"] or ""
    present = set(top)
    if requirements and read_file_at(rfd, requirements, f"{rel_path}/{requirements}") is not None:
        present.add(requirements)
    found = projectformat.detect(present, params["project_format"], requirements)
    fmt = found["format"]

    def read(name):
        got = read_file_at(rfd, name, f"{rel_path}/{name}") if name in top else None
        return None if got is None else got[0]

    files = {found["file"]: read(found["file"])}
    if fmt != "requirements" or "pyproject.toml" in top:
        files["pyproject.toml"] = read("pyproject.toml")
    plan = projectformat.plan(fmt, files)
    version_files = {name: read(name) for name in (".python-version", "runtime.txt")}
    ask = pythons.asked(*(None if data is None else data.decode("utf-8", "replace")
                          for data in version_files.values()), plan["requires_python"])
    if params["python"]:
        chosen = {"version": "", "executable": params["python"], "install": False, "override": True}
    else:
        chosen = pythons.choose(ask, offer) if ask["spec"] else {}
    python_key = params["python"] or chosen.get("executable") or "python3"
    if fmt == "requirements":
        # The formula the collection has always used, so that hosts keep their virtualenvs.
        name = venv_name(hashlib.sha256(files[found["file"]]).hexdigest(), python_key, params["packages"])
    else:
        inputs = dict(files)
        if plan["locked"]:
            inputs["locked"] = plan["locked"].encode("utf-8")
        # A project installed as a package is part of its venv: the release id (its content's
        # or its commit's hash) names its code, and stays the same when the deploy writes its
        # own files (.pyweb-built...) into the release.
        name = venv_key(fmt, inputs, params["release"] if plan["install_project"] else "",
                        python_key, params["packages"])
    return {
        "format": fmt, "file": found["file"], "locked": plan["locked"], "locked_count": plan["locked_count"],
        "install_project": plan["install_project"], "python": python_key, "python_asked": ask,
        "python_install": bool(chosen.get("install")), "venv_name": name,
    }


def check(params: dict, check_mode: bool) -> dict:
    base = params["base_dir"].rstrip("/")
    release = params["release"]
    components(release)
    result = {"venv": "", "requirements_found": False, "key_created": False, "marked_failed": False,
              "used": [], "pruned": [], "env_kept": False, "static_dir": ""}
    key = None
    rel_path = f"{base}/releases/{release}"
    # What the release installs, and with which Python: a refusal here comes before anything changes.
    result["project"] = {}
    if params["wsgi"] and os.path.lexists(rel_path):
        rfd = open_anchor(rel_path)
        try:
            result["project"] = read_project(rfd, rel_path, params, pythons.offered(
                host_pythons(), distribution_version()))
        finally:
            os.close(rfd)
        result["requirements_found"] = True
        result["venv"] = f"{base}/venvs/" + result["project"]["venv_name"]
    if params["django_secret_key"]:
        key, result["key_created"] = ensure_key(params["django_secret_key"], check_mode)
    try:
        current = os.path.basename(os.readlink(f"{base}/current").rstrip("/"))
    except OSError:
        current = ""
    result["current"] = current
    marker = marker_uid = None
    kept_env, kept_ok = None, False
    if os.path.lexists(rel_path):
        rfd = open_anchor(rel_path)
        try:
            got = read_file_at(rfd, ".pyweb-built", f"{rel_path}/.pyweb-built")
            if got is not None:
                marker, marker_uid = read_marker(got[0]), got[1].st_uid
                folder = marker.get("static_dir") if marker_uid == 0 else None
                # Adopted from the app's own settings when it was built: only a plain path reaches Nginx.
                result["static_dir"] = folder if isinstance(folder, str) and not plain_path_problem(folder) else ""
            result["marked_failed"] = os.path.lexists(f"{rel_path}/.pyweb-failed")
        finally:
            os.close(rfd)
    if params["wsgi"] and os.path.isdir(f"{base}/.pyweb"):
        pfd = open_anchor(f"{base}/.pyweb")
        try:
            got = read_file_at(pfd, f"env/{release}.env", f"{base}/.pyweb/env/{release}.env")
        finally:
            os.close(pfd)
        if got is not None:
            kept_env = envfile.parse(got[0].decode("utf-8", "replace"))
            kept_ok = (got[1].st_uid, got[1].st_gid, stat.S_IMODE(got[1].st_mode)) == (0, 0, 0o600)
    result.update(decide(current, release, marker, marker_uid, result["venv"], result["marked_failed"],
                         params["wsgi"], result["requirements_found"], kept_env, kept_ok,
                         wanted_env(params["env"], params["secret_env"], key)))
    result["changed"] = result["key_created"]
    return result


def prune_plan(all_venvs: list, used: list, keep: str) -> list:
    """The virtualenvs to remove: those no kept release uses, but the one in use by this run and
    the static build's build-* folders."""
    return sorted(v for v in all_venvs
                  if v not in used and v != keep and not os.path.basename(v).startswith("build-"))


def list_used(base: str) -> list:
    """The virtualenvs the kept releases' root-owned markers name."""
    used = set()
    folder = f"{base}/releases"
    if not os.path.isdir(folder):
        return []
    rfd = open_anchor(folder)
    try:
        for name in sorted(os.listdir(rfd)):
            st = os.lstat(name, dir_fd=rfd)
            if not stat.S_ISDIR(st.st_mode):
                continue
            fd = open_child(rfd, name, f"{folder}/{name}")
            try:
                got = read_file_at(fd, ".pyweb-built", f"{folder}/{name}/.pyweb-built")
            except UnsafePath:
                got = None
            finally:
                os.close(fd)
            if got is not None and got[1].st_uid == 0:
                venv = read_marker(got[0]).get("venv", "")
                if isinstance(venv, str) and venv:
                    used.add(venv)
    finally:
        os.close(rfd)
    return sorted(used)


def keep_env(base: str, release: str, env_file: str, check_mode: bool) -> bool:
    """Copy env_file to .pyweb/env/<release>.env (root 0600) when it differs. Returns whether it did."""
    src_dir, src_name = os.path.split(env_file)
    sfd = open_anchor(src_dir)
    try:
        src = read_file_at(sfd, src_name, env_file)
    finally:
        os.close(sfd)
    if src is None:
        if check_mode:  # the server's file comes with the run that checks
            return True
        raise UnsafePath(f"{env_file} is missing: the server's environment file is written before it is kept")
    pfd = open_anchor(f"{base}/.pyweb")
    try:
        efd, change = ensure_dir(pfd, "env", f"{base}/.pyweb/env", 0, 0, 0o700, check_mode)
        if efd is None:
            return True
        try:
            name = f"{release}.env"
            kept = read_file_at(efd, name, f"{base}/.pyweb/env/{name}")
            if kept is not None and kept[0] == src[0] and \
                    (kept[1].st_uid, kept[1].st_gid, stat.S_IMODE(kept[1].st_mode)) == (0, 0, 0o600):
                return bool(change)
            if check_mode:
                return True
            tmp = f".{name}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=efd)
            with os.fdopen(fd, "wb") as handle:
                os.fchown(handle.fileno(), 0, 0)
                os.fchmod(handle.fileno(), 0o600)
                handle.write(src[0])
            os.rename(tmp, name, src_dir_fd=efd, dst_dir_fd=efd)
            return True
        finally:
            os.close(efd)
    finally:
        os.close(pfd)


def keep(params: dict, check_mode: bool) -> dict:
    base = params["base_dir"].rstrip("/")
    release = params["release"]
    components(release)
    result = {"venv": params["venv"] or "", "requirements_found": False, "key_created": False, "built": False,
              "marker_matches": False, "marked_failed": False, "current": "", "env_matches": True,
              "up_to_date": False, "reasons": []}
    used = list_used(base)
    venvs_dir = f"{base}/venvs"
    all_venvs = []
    if os.path.isdir(venvs_dir) and not os.path.islink(venvs_dir):
        vfd = open_anchor(venvs_dir)
        try:
            for name in sorted(os.listdir(vfd)):
                if stat.S_ISDIR(os.lstat(name, dir_fd=vfd).st_mode):
                    all_venvs.append(f"{venvs_dir}/{name}")
            pruned = prune_plan(all_venvs, used, params["venv"] or "")
            if not check_mode:
                for path in pruned:
                    remove_tree(vfd, os.path.basename(path))
        finally:
            os.close(vfd)
    else:
        pruned = []
    env_kept = keep_env(base, release, params["env_file"], check_mode) if params["wsgi"] else False
    result.update(used=used, pruned=pruned, env_kept=env_kept, changed=bool(pruned) or env_kept)
    return result


def discard_release(base_dir: str, release: str) -> bool:
    """Remove releases/<release> of a release this run fetched and refused, unless current names
    it; never following a link. Returns whether it was removed."""
    components(release)
    base = base_dir.rstrip("/")
    try:
        if os.path.basename(os.readlink(f"{base}/current").rstrip("/")) == release:
            return False
    except OSError:
        pass
    bfd = open_anchor(base)
    try:
        rfd = open_child(bfd, "releases", f"{base}/releases")
        try:
            if lstat_at(rfd, release) is not None:
                remove_tree(rfd, release)
                return True
            return False
        finally:
            os.close(rfd)
    finally:
        os.close(bfd)


def main():
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "choices": ["check", "keep"], "default": "check"},
            "base_dir": {"type": "path", "required": True},
            "release": {"type": "str", "required": True},
            "wsgi": {"type": "bool", "default": False},
            "discard_new": {"type": "bool", "default": False},
            "requirements": {"type": "str", "default": ""},
            "project_format": {"type": "str", "default": "auto",
                               "choices": ["auto"] + list(projectformat.FORMAT_NAMES)},
            "python": {"type": "str", "default": ""},
            "packages": {"type": "list", "elements": "str", "default": []},
            "env": {"type": "dict", "default": {}},
            "secret_env": {"type": "dict", "default": {}, "no_log": True},
            "django_secret_key": {"type": "path"},
            "env_file": {"type": "path"},
            "venv": {"type": "path"},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["action"] == "keep" and params["wsgi"] and not params["env_file"]:
        module.fail_json(msg="env_file is required to keep a WSGI app's environment")
    try:
        result = keep(params, module.check_mode) if params["action"] == "keep" else check(params, module.check_mode)
    except UnsafePath as exc:
        module.fail_json(msg=f"{params['base_dir']}: {exc}; root does not follow links there.")
    except (projectformat.FormatError, pythons.PythonError) as exc:
        removed = (params["discard_new"] and params["action"] == "check" and not module.check_mode
                   and discard_release(params["base_dir"], params["release"]))
        module.fail_json(msg=f"{os.path.basename(params['base_dir'].rstrip('/'))}: {exc}. Nothing was "
                             "built and current was left as it was"
                             + (f"; the release fetched for it (releases/{params['release']}) was removed." if removed
                                else "."))
    except OSError as exc:
        module.fail_json(msg=f"{params['base_dir']}: {exc}")
    if module._diff and result["changed"]:
        result["diff"] = {
            "before": "".join(f"{v}: directory\n" for v in result["pruned"]),
            "after": "".join(f"{v}: absent\n" for v in result["pruned"])
            + (f"{params['base_dir']}/.pyweb/env/{params['release']}.env: copy of {params['env_file']} (root 0600)\n"
               if result["env_kept"] else "")
            + (f"{params['django_secret_key']}: a new secret key (root 0600)\n" if result["key_created"] else "")}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
