#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pack a folder into a reproducible tarball and name it by its content."""
from __future__ import annotations

DOCUMENTATION = r"""
module: source_archive
short_description: Pack a folder into a reproducible tarball named by its content
description:
  - Packs O(path) into a gzip-compressed tarball whose bytes depend only on the files' names,
    contents and executable bits (sorted entries, no timestamps, no owners), so that the same
    folder always gives the same C(sha256), and the release role can use it as a release id.
  - "Run it where the folder is, usually the controller (C(delegate_to: localhost))."
  - It writes only into O(dest_dir), a cache, and reports no change.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  path:
    description: The folder to pack.
    type: path
    required: true
  dest_dir:
    description: Where to write the tarball (created when missing).
    type: path
    required: true
  exclude:
    description: Names (files or folders, at any depth) to leave out; shell wildcards allowed.
    type: list
    elements: str
    default: [.git, .hg, .svn, __pycache__, "*.pyc", .venv, venv, node_modules, .tox, .mypy_cache]
  exclude_secrets:
    description:
      - Names of files that usually hold secrets or data (a developer's C(.env), keys, SQLite
        databases), left out at any depth as well, and listed in RV(secrets_left_out). A release is
        readable by the app's account and, for static files, by Nginx; secrets belong in the
        app's C(secret_env). Names ending in C(.example), C(.sample), C(.template) or C(.dist)
        are kept (templates, not secrets). Set to an empty list to keep everything.
    type: list
    elements: str
    default: [.env, ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", id_rsa, id_dsa, id_ecdsa,
              id_ed25519, .netrc, .pgpass, .pypirc, .htpasswd, "*.sqlite", "*.sqlite3", "*.db"]
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Pack the site folder on the controller
  pyweb.deploy.source_archive:
    path: "{{ inventory_dir }}/site"
    dest_dir: "{{ lookup('env', 'HOME') }}/.cache/pyweb-deploy"
  delegate_to: localhost
  register: packed
"""

RETURN = r"""
sha256:
  description: The SHA-256 of the tarball.
  returned: success
  type: str
archive:
  description: The tarball's path.
  returned: success
  type: str
files:
  description: How many files it holds.
  returned: success
  type: int
secrets_left_out:
  description: The paths (relative to O(path)) left out by O(exclude_secrets).
  returned: success
  type: list
  elements: str
"""

import fnmatch
import gzip
import hashlib
import io
import os
import tarfile

from ansible.module_utils.basic import AnsibleModule


DEFAULT_EXCLUDE = [".git", ".hg", ".svn", "__pycache__", "*.pyc", ".venv", "venv", "node_modules", ".tox",
                   ".mypy_cache"]
DEFAULT_SECRETS = [".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "id_rsa", "id_dsa", "id_ecdsa",
                   "id_ed25519", ".netrc", ".pgpass", ".pypirc", ".htpasswd", "*.sqlite", "*.sqlite3", "*.db"]
# Templates of secret files, not secrets: kept.
TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist")


def excluded(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def secret_looking(name: str, patterns: list[str]) -> bool:
    return not name.endswith(TEMPLATE_SUFFIXES) and excluded(name, patterns)


def pack(root: str, patterns: list[str], secrets: list[str] | None = None) -> tuple[bytes, int, list[str]]:
    """The tarball's bytes, how many files it holds, and the secret-looking paths left out."""
    secrets = secrets or []
    left_out = []
    raw = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root)

            def kept(names):
                out = []
                for name in sorted(names):
                    if excluded(name, patterns):
                        continue
                    if secret_looking(name, secrets):
                        left_out.append(os.path.normpath(os.path.join(rel_dir, name)))
                        continue
                    out.append(name)
                return out

            dirnames[:] = kept(dirnames)
            for name in [*dirnames, *kept(filenames)]:
                full = os.path.join(dirpath, name)
                arcname = os.path.normpath(os.path.join(rel_dir, name))
                info = tar.gettarinfo(full, arcname)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                info.pax_headers = {}
                if info.isdir():
                    info.mode = 0o755
                    tar.addfile(info)
                elif info.issym():
                    info.mode = 0o777
                    tar.addfile(info)
                elif info.isfile():
                    info.mode = 0o755 if os.stat(full).st_mode & 0o111 else 0o644
                    with open(full, "rb") as handle:
                        tar.addfile(info, handle)
                    count += 1
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return compressed.getvalue(), count, sorted(left_out)


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "dest_dir": {"type": "path", "required": True},
            "exclude": {"type": "list", "elements": "str", "default": DEFAULT_EXCLUDE},
            "exclude_secrets": {"type": "list", "elements": "str", "default": DEFAULT_SECRETS, "no_log": False},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    if not os.path.isdir(path):
        module.fail_json(msg=f"source folder {path} does not exist or is not a folder")
    data, count, left_out = pack(path, module.params["exclude"], module.params["exclude_secrets"])
    if count == 0:
        module.fail_json(msg=f"source folder {path} holds no files")
    digest = hashlib.sha256(data).hexdigest()
    dest_dir = module.params["dest_dir"]
    archive = os.path.join(dest_dir, f"{digest}.tar.gz")
    if not os.path.exists(archive):
        os.makedirs(dest_dir, mode=0o700, exist_ok=True)
        tmp = f"{archive}.{os.getpid()}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, archive)
    module.exit_json(changed=False, sha256=digest, archive=archive, files=count, secrets_left_out=left_out)


if __name__ == "__main__":
    main()
