"""pyweb.deploy.firewall_table: load the role's table when missing, remove only what is the role's."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("pyweb_firewall_table", ROOT / "plugins" / "modules" / "firewall_table.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)

OURS = ("#!/usr/sbin/nft -f\n# Ansible managed\ntable inet pyweb_firewall\ndelete table inet pyweb_firewall\n\n"
        "table inet pyweb_firewall {\n    chain input {\n    }\n}\n")
DEBIAN = ("#!/usr/sbin/nft -f\n\nflush ruleset\n\ntable inet filter {\n    chain input {\n"
          "        type filter hook input priority filter;\n    }\n}\n# not table inet pyweb_firewall\n")


class FakeNft:
    def __init__(self, loaded, fail=False):
        self.loaded, self.fail, self.calls = loaded, fail, []

    def __call__(self, args):
        self.calls.append(args)
        if args[:1] == ["list"]:
            return (0 if self.loaded else 1), ("" if self.loaded else "No such file or directory")
        if self.fail:
            return 1, "syntax error\n"
        self.loaded = args[0] == "-f"
        return 0, ""


def params(tmp_path, state):
    return {"state": state, "path": str(tmp_path / "nftables.conf"), "name": "pyweb_firewall", "family": "inet"}


def test_a_loaded_table_is_left_alone(tmp_path):
    nft = FakeNft(loaded=True)
    result = mod.run(nft, params(tmp_path, "loaded"), False)
    assert result == {"changed": False, "loaded_before": True, "loaded": True, "file_removed": False}
    assert nft.calls == [["list", "table", "inet", "pyweb_firewall"]]


def test_a_missing_table_is_loaded_from_the_file(tmp_path):
    nft = FakeNft(loaded=False)
    result = mod.run(nft, params(tmp_path, "loaded"), False)
    assert result["changed"] and result["loaded"] and not result["loaded_before"]
    assert nft.calls[-1] == ["-f", str(tmp_path / "nftables.conf")]


def test_check_mode_loads_nothing_and_a_missing_nft_is_not_loaded(tmp_path):
    nft = FakeNft(loaded=False)
    assert mod.run(nft, params(tmp_path, "loaded"), True)["changed"]
    assert len(nft.calls) == 1
    assert mod.run(None, params(tmp_path, "loaded"), True)["changed"]
    with pytest.raises(ValueError, match="nft is not installed"):
        mod.run(None, params(tmp_path, "loaded"), False)


def test_a_failed_load_says_why(tmp_path):
    with pytest.raises(ValueError, match="nft -f .* failed: syntax error"):
        mod.run(FakeNft(loaded=False, fail=True), params(tmp_path, "loaded"), False)


def test_absent_removes_our_file_and_the_table(tmp_path):
    (tmp_path / "nftables.conf").write_text(OURS)
    nft = FakeNft(loaded=True)
    result = mod.run(nft, params(tmp_path, "absent"), False)
    assert result == {"changed": True, "loaded_before": True, "loaded": False, "file_removed": True}
    assert not (tmp_path / "nftables.conf").exists()
    assert nft.calls[-1] == ["delete", "table", "inet", "pyweb_firewall"]
    again = mod.run(nft, params(tmp_path, "absent"), False)
    assert not again["changed"] and not again["file_removed"]


def test_absent_leaves_another_tools_file(tmp_path):
    (tmp_path / "nftables.conf").write_text(DEBIAN)
    result = mod.run(FakeNft(loaded=False), params(tmp_path, "absent"), False)
    assert not result["changed"] and not result["file_removed"]
    assert (tmp_path / "nftables.conf").read_text() == DEBIAN


def test_absent_in_check_mode_changes_nothing(tmp_path):
    (tmp_path / "nftables.conf").write_text(OURS)
    nft = FakeNft(loaded=True)
    result = mod.run(nft, params(tmp_path, "absent"), True)
    assert result["changed"] and result["file_removed"] and not result["loaded"]
    assert (tmp_path / "nftables.conf").exists() and nft.loaded and len(nft.calls) == 1
    # No nft and no file (a host the role never configured): nothing to do.
    assert not mod.run(None, params(tmp_path / "none", "absent"), False)["changed"]


def test_defines_table():
    assert mod.defines_table(OURS, "inet", "pyweb_firewall")
    assert mod.defines_table("table inet pyweb_firewall{\n}", "inet", "pyweb_firewall")
    assert not mod.defines_table(DEBIAN, "inet", "pyweb_firewall")
    assert not mod.defines_table("table inet pyweb_firewall_x {\n}", "inet", "pyweb_firewall")
