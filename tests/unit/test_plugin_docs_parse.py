# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's DOCUMENTATION, EXAMPLES and RETURN, and every filter's documentation file, is
YAML that parses: a ': ' in a plain scalar broke ansible-doc (and so ansible-lint) twice; this finds
it in the unit tests, in a second, naming the file and the line."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted((ROOT / "plugins" / "modules").glob("*.py"))
FILTER_DOCS = sorted((ROOT / "plugins" / "filter").glob("*.yml"))


def _doc_strings(path: Path) -> dict[str, str]:
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN") \
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            found[node.targets[0].id] = node.value.value
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_module_docs_are_yaml(path):
    docs = _doc_strings(path)
    assert "DOCUMENTATION" in docs, f"{path.name} has no DOCUMENTATION"
    for name, text in docs.items():
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as exc:
            pytest.fail(f"{path.name}: {name} is not YAML: {exc}")
    assert isinstance(yaml.safe_load(docs["DOCUMENTATION"]), dict)


@pytest.mark.parametrize("path", FILTER_DOCS, ids=lambda p: p.stem)
def test_filter_docs_are_yaml(path):
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        pytest.fail(f"{path.name} is not YAML: {exc}")
    assert isinstance(data, dict) and "DOCUMENTATION" in data, f"{path.name} has no DOCUMENTATION"
