"""pyweb.deploy.backup_copy_errors: app_backup_copy is refused, saying why, before any host changes."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("pyweb_filter_backup", ROOT / "plugins" / "filter" / "backup.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)
errors = mod.backup_copy_errors

GOOD = {"host": "backup.example.net", "user": "pyweb", "path": "dumps",
        "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeadBeef+/= root@backup"}


def test_no_copy_and_a_good_copy_pass():
    assert errors({}) == []
    assert errors(None) == []
    assert errors(GOOD) == []
    assert errors({**GOOD, "port": 2222, "delete": True, "path": "/srv/dumps/web1",
                   "host_key": "ssh-ed25519 AAAA\necdsa-sha2-nistp256 AAAAE2Vj=",
                   "ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----"}) == []


def test_a_missing_field_is_named():
    found = errors({"host": "backup.example.net"})
    assert any("app_backup_copy.user" in e for e in found)
    assert any("app_backup_copy.path" in e for e in found)
    assert any("app_backup_copy.host_key" in e for e in found)


def test_a_value_that_would_be_an_option_or_break_the_unit_is_refused():
    for field, value in (("host", "-oProxyCommand=x"), ("user", "-l"), ("path", "-e"), ("path", "a b"),
                         ("path", "dumps%i"), ("host", "h\"x"), ("user", "a;b")):
        assert any(f"app_backup_copy.{field}" in e for e in errors({**GOOD, field: value})), (field, value)


def test_a_host_key_with_a_host_name_or_not_a_key_is_refused():
    assert errors({**GOOD, "host_key": "backup.example.net ssh-ed25519 AAAA"})
    assert errors({**GOOD, "host_key": "not a key"})
    assert errors({**GOOD, "host_key": ""})


def test_bad_port_delete_key_and_unknown_field():
    assert any(".port" in e for e in errors({**GOOD, "port": 0}))
    assert any(".port" in e for e in errors({**GOOD, "port": "ssh"}))
    assert any(".delete" in e for e in errors({**GOOD, "delete": "yes"}))
    assert any(".ssh_key" in e for e in errors({**GOOD, "ssh_key": "ssh-ed25519 AAAA public"}))
    assert any("unknown field(s) hostname" in e for e in errors({**GOOD, "hostname": "x"}))
    assert errors("backup.example.net") == ["app_backup_copy must be a mapping with host, user, path and host_key"]


def test_known_hosts_holds_each_key_behind_the_host():
    assert mod.backup_copy_known_hosts(GOOD) == \
        "backup.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeadBeef+/= root@backup\n"
    two = {**GOOD, "port": 2222, "host_key": " ssh-ed25519 AAAA\n\n  ecdsa-sha2-nistp256 BBBB= x \n"}
    assert mod.backup_copy_known_hosts(two) == \
        "[backup.example.net]:2222 ssh-ed25519 AAAA\n[backup.example.net]:2222 ecdsa-sha2-nistp256 BBBB= x\n"


def test_the_files_hold_the_given_key_as_a_secret_with_its_last_newline():
    files = mod.backup_copy_files({**GOOD, "ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----"},
                                  "/etc/pyweb/backup-copy")
    assert [f["dest"] for f in files] == ["/etc/pyweb/backup-copy/known_hosts", "/etc/pyweb/backup-copy/id_ed25519"]
    assert files[1]["secret"] is True and files[1]["mode"] == "0600"
    assert files[1]["content"].endswith("-----END OPENSSH PRIVATE KEY-----\n")
    assert [f["dest"] for f in mod.backup_copy_files(GOOD, "/x")] == ["/x/known_hosts"]
