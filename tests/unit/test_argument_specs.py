"""Every public input of every role is typed in its meta/argument_specs.yml (so that Ansible
refuses a wrong type before the role runs), and every variable the role reads from its defaults
is in the spec."""
from pathlib import Path

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "roles").iterdir() if (p / "meta").is_dir())


def _options(options, prefix=""):
    for name, spec in (options or {}).items():
        yield prefix + name, spec
        yield from _options(spec.get("options"), f"{prefix}{name}.")


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_option_is_typed(role):
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    untyped = [f"{entry}: {name}" for entry, spec in specs.items() for name, opt in _options(spec.get("options"))
               if "type" not in opt or (opt["type"] == "list" and "elements" not in opt)]
    assert untyped == []


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_default_is_in_the_spec(role):
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    public = set((specs.get("main") or {}).get("options") or {})
    assert sorted(set(defaults or {}) - public) == []
