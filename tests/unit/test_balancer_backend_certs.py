"""pyweb.deploy.balancer_backend_certs: created once, read back, never replaced (a temp dir)."""
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("pyweb_balancer_backend_certs",
                                               ROOT / "plugins" / "modules" / "balancer_backend_certs.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)


class FakeOpenssl:
    """Writes the two files the argv names, as openssl would, and records the calls."""

    def __init__(self, rc=0):
        self.calls, self.rc = [], rc

    def __call__(self, argv):
        self.calls.append(argv)
        if self.rc:
            return self.rc, "", "bad things\n"
        Path(argv[argv.index("-keyout") + 1]).write_text("KEY\n")
        Path(argv[argv.index("-out") + 1]).write_text(f"CERT {len(self.calls)}\n")
        return 0, "", ""


def params(tmp_path, *names):
    folder = str(tmp_path / "backend")
    return {"apps": [{"name": n, "domains": [f"{n}.test", f"www.{n}.test"], "base": f"{folder}/{n}-abc"} for n in names],
            "dir": folder, "days": 30}


def test_created_once_then_only_read(tmp_path):
    fake = FakeOpenssl()
    first = mod.run(fake, params(tmp_path, "blog", "shop"), False)
    assert first["changed"] and first["created"] == ["blog", "shop"]
    assert first["certs"] == {"blog": {"cert": "CERT 1\n", "key": "KEY\n"}, "shop": {"cert": "CERT 2\n", "key": "KEY\n"}}
    assert oct(os.stat(tmp_path / "backend").st_mode & 0o777) == "0o700"
    again = mod.run(fake, params(tmp_path, "blog", "shop"), False)
    assert not again["changed"] and again["created"] == [] and len(fake.calls) == 2
    assert again["certs"] == first["certs"]


def test_the_openssl_command(tmp_path):
    argv = mod.openssl_argv(params(tmp_path, "blog")["apps"][0], 30)
    assert argv[argv.index("-subj") + 1] == "/CN=blog.test"
    assert "subjectAltName=DNS:blog.test,DNS:www.blog.test" in argv
    assert "basicConstraints=critical,CA:FALSE" in argv and argv[argv.index("-days") + 1] == "30"


@pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl")
def test_the_real_openssl_makes_a_certificate_for_the_domains(tmp_path):
    def real(argv):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr
    result = mod.run(real, params(tmp_path, "blog"), False)
    assert "BEGIN CERTIFICATE" in result["certs"]["blog"]["cert"]
    assert oct(os.stat(tmp_path / "backend" / "blog-abc.key").st_mode & 0o777) == "0o600"
    text = subprocess.run(["openssl", "x509", "-noout", "-text"], input=result["certs"]["blog"]["cert"],
                          capture_output=True, text=True, check=True).stdout
    assert "DNS:blog.test, DNS:www.blog.test" in text and "CA:FALSE" in text


def test_check_mode_creates_nothing_and_leaves_new_apps_out(tmp_path):
    fake = FakeOpenssl()
    mod.run(fake, params(tmp_path, "blog"), False)
    result = mod.run(fake, params(tmp_path, "blog", "shop"), True)
    assert result["changed"] and result["created"] == ["shop"] and list(result["certs"]) == ["blog"]
    assert len(fake.calls) == 1 and not (tmp_path / "backend" / "shop-abc.crt").exists()
    fresh = mod.run(fake, params(tmp_path / "new", "blog"), True)
    assert fresh["changed"] and fresh["certs"] == {} and not (tmp_path / "new").exists()


def test_no_apps_touch_nothing(tmp_path):
    assert mod.run(FakeOpenssl(), params(tmp_path), False) == {"changed": False, "certs": {}, "created": []}
    assert not (tmp_path / "backend").exists()


def test_a_failing_openssl_fails_with_its_message(tmp_path):
    with pytest.raises(ValueError, match="blog: openssl could not create the backend certificate: bad things"):
        mod.run(FakeOpenssl(rc=1), params(tmp_path, "blog"), False)


def test_a_certificate_without_its_key_is_reported(tmp_path):
    (tmp_path / "backend").mkdir(mode=0o700)
    (tmp_path / "backend" / "blog-abc.crt").write_text("CERT\n")
    with pytest.raises(ValueError, match="exists but its key"):
        mod.run(FakeOpenssl(), params(tmp_path, "blog"), False)


def test_a_base_outside_the_folder_or_a_link_is_refused(tmp_path):
    bad = params(tmp_path, "blog")
    bad["apps"][0]["base"] = str(tmp_path / "elsewhere" / "blog")
    with pytest.raises(ValueError, match="is not a file name inside"):
        mod.run(FakeOpenssl(), bad, False)
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "backend")
    with pytest.raises(ValueError, match="is a link"):
        mod.run(FakeOpenssl(), params(tmp_path, "blog"), False)
