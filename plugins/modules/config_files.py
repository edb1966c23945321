#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a group of root-owned configuration files in one call: compare, test, write, remove."""
from __future__ import annotations

DOCUMENTATION = r"""
module: config_files
short_description: Write a group of configuration files in one call, tested before anything live changes
description:
  - Compares the files a role wants (content, owner, mode) with the host and writes only those that
    differ, each through a temporary file renamed over the old one (never through a link; a link
    where a file belongs is replaced). Files whose content is right but whose owner or mode is not
    are only fixed. Folders are made (or their owner and mode fixed) first; paths are removed last.
  - With O(validate), the change is first applied to a scratch copy of a folder (for instance
    C(/etc/nginx)) and a command tests the copy; when it fails the task fails with the command's
    output and nothing on the host has changed. The test runs in check mode too, so
    C(--check) tells whether the program would accept the change.
  - The action plugin of the same name renders O(files[].template) on the controller (like
    M(ansible.builtin.template), with the task's variables plus the item's O(files[].vars)), so a
    role writes all its files in one task. Files marked O(files[].secret) are passed in the
    module's O(secret_files) option, whose content is C(no_log); it never appears in output, and
    C(--diff) shows only that such a file changes.
  - Check mode and C(--diff) are supported; the result's RV(tags) name what kinds of files changed,
    so the role can decide (a unit -> daemon-reload, an environment file -> restart).
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  files:
    description:
      - The files to write. Give O(files[].content) or O(files[].template) (the action plugin turns
        a template into content).
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: The file's content.
        type: str
      template:
        description: A template, found like M(ansible.builtin.template)'s C(src) (the role's C(templates/) first).
        type: str
      vars:
        description: Variables for this template only, on top of the task's.
        type: dict
      mode:
        description: Octal mode, as a string such as C("0644").
        type: str
        required: true
      owner:
        description: Owner (name or uid).
        type: str
        default: root
      group:
        description: Group (name or gid).
        type: str
        default: root
      tag:
        description: A word returned in RV(tags) when this file is written, fixed or removed.
        type: str
      secret:
        description: The content is secret (the action plugin passes it in O(secret_files)).
        type: bool
        default: false
  secret_files:
    description:
      - Files whose content is secret; same keys as O(files) but O(secret_files[].content) only. Set
        by the action plugin from O(files[].secret); the content is C(no_log) (not the list itself,
        which would hide every path and mode in all output).
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: The file's content (never shown).
        type: str
        required: true
      mode:
        description: Octal mode.
        type: str
        required: true
      owner:
        description: Owner.
        type: str
        default: root
      group:
        description: Group.
        type: str
        default: root
      tag:
        description: A word returned in RV(tags).
        type: str
  directories:
    description: Folders to make before the files, or whose owner and mode to fix (a link there is refused).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      mode:
        description: Octal mode.
        type: str
        default: "0755"
      owner:
        description: Owner.
        type: str
        default: root
      group:
        description: Group.
        type: str
        default: root
  absent:
    description:
      - Paths to remove (a link is removed, never followed; a folder with what it holds). Each is a
        path or a dict with C(path) and C(tag).
    type: list
    elements: raw
    default: []
  prune:
    description:
      - Folders whose entries are removed unless they are a O(files[].dest), a O(directories[].path)
        or named in the item's C(keep) (names or absolute paths). Each is a path or a dict with
        C(path), C(keep) and C(tag).
    type: list
    elements: raw
    default: []
  validate:
    description: Test the change on a scratch copy before the host changes.
    type: dict
    suboptions:
      copy:
        description: The folder copied (links kept as links); only the changes below it go into the copy.
        type: path
        required: true
      argv:
        description: The command; C({root}) in an argument is replaced by the copy's path.
        type: list
        elements: str
        required: true
      refused_message:
        description: The start of the failure message.
        type: str
        default: The new configuration was refused, so nothing on the host was changed
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""

EXAMPLES = r"""
- name: Write Nginx's configuration (tested with nginx -t on a copy first)
  pyweb.deploy.config_files:
    directories:
      - path: /etc/nginx/pyweb/sites
    files:
      - dest: /etc/nginx/nginx.conf
        template: etc/nginx/nginx.conf.j2
        mode: "0644"
      - dest: "/etc/nginx/pyweb/sites/{{ item.name }}.conf"
        content: "{{ lookup('ansible.builtin.template', 'site.conf.j2') }}"
        mode: "0644"
      - dest: /etc/nginx/pyweb/tls/blog.key
        content: "{{ blog_tls_key }}"
        mode: "0600"
        secret: true
    prune:
      - /etc/nginx/pyweb/sites
    validate:
      copy: /etc/nginx
      argv: [nginx, -t, -q, -c, "{root}/nginx.conf"]
  notify: Reload nginx
"""

RETURN = r"""
written:
  description: Files written (or that would be, in check mode).
  returned: always
  type: list
  elements: str
fixed:
  description: Files whose owner or mode only was fixed.
  returned: always
  type: list
  elements: str
removed:
  description: Paths removed.
  returned: always
  type: list
  elements: str
created:
  description: Folders made or whose owner or mode was fixed.
  returned: always
  type: list
  elements: str
tags:
  description: The O(files[].tag) (and C(tag) of O(absent) and O(prune)) of what changed, each once.
  returned: always
  type: list
  elements: str
  sample: [unit, env]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyweb.deploy.plugins.module_utils import filestate

_OWNED = dict(mode=dict(type="str", required=True), owner=dict(type="str", default="root"),
              group=dict(type="str", default="root"), tag=dict(type="str"))


def argument_spec() -> dict:
    return dict(
        files=dict(type="list", elements="dict", default=[], options=dict(
            dest=dict(type="path", required=True), content=dict(type="str"), template=dict(type="str"),
            vars=dict(type="dict"), secret=dict(type="bool", default=False), **_OWNED)),
        secret_files=dict(type="list", elements="dict", default=[], no_log=False, options=dict(
            dest=dict(type="path", required=True), content=dict(type="str", required=True, no_log=True), **_OWNED)),
        directories=dict(type="list", elements="dict", default=[], options=dict(
            path=dict(type="path", required=True), mode=dict(type="str", default="0755"),
            owner=dict(type="str", default="root"), group=dict(type="str", default="root"))),
        absent=dict(type="list", elements="raw", default=[]),
        prune=dict(type="list", elements="raw", default=[]),
        validate=dict(type="dict", options=dict(
            copy=dict(type="path", required=True), argv=dict(type="list", elements="str", required=True),
            refused_message=dict(type="str", default="The new configuration was refused, so nothing on the host was changed"))),
    )


def runner(module):
    """What validate runs its command with: the module's run_command, argv as given (no ~ or
    $VAR expansion), stdout and stderr together; a missing program raises FileNotFoundError."""
    def run_argv(argv):
        rc, out, err = module.run_command(argv, expand_user_and_vars=False, handle_exceptions=False)
        return rc, out + err
    return run_argv


def run(params: dict, check_mode: bool, run_command=None) -> tuple:
    """(result, failure message or None): the whole decision, testable without Ansible."""
    try:
        if any(f.get("template") is not None and f.get("content") is None for f in params["files"]):
            raise filestate.PlanError("files[].template is rendered by the action plugin: call the module "
                                      "through pyweb.deploy.config_files (not as a raw module)")
        if any(f.get("secret") for f in params["files"]):
            raise filestate.PlanError("files[].secret is handled by the action plugin (secret_files)")
        files = filestate.normalize_files(params["files"]) + filestate.normalize_files(params["secret_files"], secret=True)
        seen = set()
        for f in files:
            if f["dest"] in seen:
                raise filestate.PlanError(f"{f['dest']} is given twice")
            seen.add(f["dest"])
        p = filestate.plan(files, filestate.normalize_dirs(params["directories"]),
                           filestate.normalize_paths(params["absent"], "absent path"),
                           filestate.normalize_paths(params["prune"], "prune folder"))
    except (filestate.PlanError, KeyError, TypeError) as e:
        return {"changed": False}, str(e)
    result = dict(filestate.report(p), changed=not filestate.is_empty(p))
    validate = params.get("validate")
    if validate and result["changed"]:
        try:
            rc, output = filestate.validate(p, validate["copy"], validate["argv"], run_command)
        except FileNotFoundError:
            if not check_mode:
                return dict(result, changed=False), f"{validate['refused_message']}: {validate['argv'][0]} is not installed"
            # In check mode on a host where the program is not installed yet, there is nothing to test with.
            rc, output = 0, ""
        if rc != 0:
            message = f"{validate['refused_message']}: {output.strip()}"
            if check_mode:
                # Other tasks that check mode skips (a certificate made on the host) may be what the
                # test misses: say it, do not fail the check run.
                result["warnings"] = [f"In check mode: {message}"]
                return result, None
            return dict(result, changed=False, written=[], fixed=[], removed=[], created=[], tags=[]), message
    if result["changed"] and not check_mode:
        filestate.apply(p)
    return result, None


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    result, failure = run(module.params, module.check_mode, runner(module))
    diff = result.pop("diff", [])
    for warning in result.pop("warnings", []):
        module.warn(warning)
    if module._diff and diff:
        result["diff"] = diff
    if failure:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
