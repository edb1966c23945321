# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of pyweb.deploy.config_files: render the templates on the controller, then let
the module compare, test and write them on the host in one call."""
from __future__ import annotations

import os

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 has no data tagging: template text is trusted as it is
    def trust_as_template(value):
        return value


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def _render(self, template: str, extra: dict, task_vars: dict) -> str:
        try:
            source = self._find_needle("templates", template)
        except AnsibleError as e:
            raise AnsibleActionFail(to_text(e)) from None
        if hasattr(self._loader, "get_text_file_contents"):  # ansible-core 2.19+
            data = trust_as_template(self._loader.get_text_file_contents(source))
        else:
            data = to_text(self._loader._get_file_contents(source)[0], errors="surrogate_or_strict")
        searchpath = []
        for p in list(task_vars.get("ansible_search_path", [])) + [self._loader._basedir, os.path.dirname(source)]:
            searchpath.extend([os.path.join(p, "templates"), p])
        variables = dict(task_vars)
        if "ansible_managed" not in variables:
            variables["ansible_managed"] = C.config.get_config_value("DEFAULT_MANAGED_STR")
        variables.update(extra or {})
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=variables)
        rendered = templar.template(data, escape_backslashes=False, overrides=dict(trim_blocks=True))
        return "" if rendered is None else to_text(rendered)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        files, secret = [], []
        for item in args.pop("files", None) or []:
            if not isinstance(item, dict) or "dest" not in item:
                raise AnsibleActionFail("config_files: each item of files needs at least dest and mode")
            item = dict(item)
            template, extra = item.pop("template", None), item.pop("vars", None)
            if template is not None:
                if item.get("content") is not None:
                    raise AnsibleActionFail(f"config_files: {item['dest']}: give content or template, not both")
                item["content"] = self._render(template, extra, task_vars)
            is_secret = boolean(item.pop("secret", False), strict=False)
            (secret if is_secret else files).append(item)
        args["files"] = files
        args["secret_files"] = list(args.get("secret_files") or []) + secret
        result.update(self._execute_module(module_name="pyweb.deploy.config_files", module_args=args,
                                           task_vars=task_vars))
        return result
