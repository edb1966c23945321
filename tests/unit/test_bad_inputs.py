"""Every bad pyweb_apps input of tests/unit/bad_inputs.yml gets exactly its message, and
docs/validation.md is that list rendered (so the documented table cannot drift from the tests).

`python tests/unit/test_bad_inputs.py` rewrites docs/validation.md.
"""
import importlib.util
import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CASES_FILE = ROOT / "tests" / "unit" / "bad_inputs.yml"
DOC = ROOT / "docs" / "validation.md"

_spec = importlib.util.spec_from_file_location("pyweb_apps_filter_bad", ROOT / "plugins" / "filter" / "apps.py")
apps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(apps)

BASE = {"name": "blog", "type": "django", "domains": ["blog.example.com"],
        "source": {"git": "https://git.example.com/blog.git", "version": "v1"},
        "wsgi_app": "blog.wsgi:application"}
CASES = yaml.safe_load(CASES_FILE.read_text())["cases"]


def apps_of(case):
    if "apps" in case:
        return case["apps"]
    app = {**BASE, **case["app"]}
    return [{k: v for k, v in app.items() if v is not None}]


def _input_text(case):
    value = case["apps"] if "apps" in case else case["app"]
    text = yaml.safe_dump(value, default_flow_style=True, width=1000, sort_keys=False).strip()
    if "\n" in text:
        # A value with a control character: JSON shows it escaped on one line.
        text = json.dumps(value, ensure_ascii=True)
    return text.replace("|", "\\|")


def render():
    lines = [
        "# What `pyweb_apps` input is refused, and the message it gets",
        "",
        "<!-- Generated from tests/unit/bad_inputs.yml by `python tests/unit/test_bad_inputs.py`;",
        "     tests/unit/test_bad_inputs.py fails when this file differs. Do not edit by hand. -->",
        "",
        "The site playbooks (`playbooks/site.yml` and the static, django and flask playbooks) check",
        "`pyweb_apps` in their first play, before any host is touched (no fact gathering, no",
        "connection), with the filter `pyweb.deploy.app_errors` (`plugins/filter/apps.py`). Every",
        "problem of every app is reported at once, one line each, naming the app and the field; the",
        "play fails on all hosts (`any_errors_fatal`). The roles check their own variables with",
        "`meta/argument_specs.yml` (types, choices, required) when they start.",
        "",
        "Each row below is a unit test (`tests/unit/test_bad_inputs.py`) asserting the exact message.",
        "`Input` is merged over this valid app (null removes a field) unless it is a whole list:",
        "",
        "```yaml",
        yaml.safe_dump([BASE], default_flow_style=False, sort_keys=False).strip(),
        "```",
        "",
        "| Bad input | Input | Message |",
        "|---|---|---|",
    ]
    for case in CASES:
        lines.append(f"| {case['title']} | `{_input_text(case)}` | `{case['message'].replace('|', chr(92) + '|')}` |")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("case", CASES, ids=[c["title"] for c in CASES])
def test_bad_input_gets_its_message(case):
    errors = apps.app_errors(apps_of(case))
    assert case["message"] in errors, errors
    assert len(errors) == 1, errors


def test_doc_is_the_rendered_list():
    assert DOC.read_text() == render(), "docs/validation.md is stale: run python tests/unit/test_bad_inputs.py"


if __name__ == "__main__":
    DOC.write_text(render())
    print(f"wrote {DOC.relative_to(ROOT)} ({len(CASES)} cases)", file=sys.stderr)
