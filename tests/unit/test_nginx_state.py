"""pyweb.deploy.nginx_state: certificates (existence, expiry read from the PEM), the package's
default site link, the unit's state."""
from __future__ import annotations

import datetime
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".cache" / "collections"))
_spec = importlib.util.spec_from_file_location("pyweb_nginx_state", ROOT / "plugins" / "modules" / "nginx_state.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)

NOW = datetime.datetime(2026, 11, 28, tzinfo=datetime.timezone.utc)


def make_cert(folder: Path, name: str, days: int) -> None:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", str(days), "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-subj", "/CN=x.test", "-keyout", str(folder / f"{name}.key"),
                    "-out", str(folder / f"{name}.crt")], check=True, capture_output=True)


def openssl_end(path: Path) -> datetime.datetime:
    out = subprocess.run(["openssl", "x509", "-in", str(path), "-noout", "-enddate"], check=True,
                         capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    return datetime.datetime.strptime(out, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=datetime.timezone.utc)


def test_not_after_agrees_with_openssl(tmp_path):
    make_cert(tmp_path, "a", 3650)
    text = (tmp_path / "a.crt").read_text()
    assert mod.not_after(text) == openssl_end(tmp_path / "a.crt")
    # A chain: the first certificate counts.
    make_cert(tmp_path, "b", 5)
    chain = (tmp_path / "b.crt").read_text() + text
    assert mod.not_after(chain) == openssl_end(tmp_path / "b.crt")


def test_generalized_and_utc_times():
    assert mod._asn1_time(0x17, b"491231235959Z").year == 2049
    assert mod._asn1_time(0x17, b"500101000000Z").year == 1950
    assert mod._asn1_time(0x18, b"20610101120000Z") == datetime.datetime(2061, 1, 1, 12, tzinfo=datetime.timezone.utc)


def test_garbage_is_an_error():
    with pytest.raises(ValueError):
        mod.not_after("no certificate here")


def test_certificates_missing_expiring_and_fine(tmp_path):
    tls = tmp_path / "pyweb" / "tls"
    tls.mkdir(parents=True)
    make_cert(tls, "fine", 3650)
    make_cert(tls, "soon", 5)
    make_cert(tls, "nokey", 3650)
    (tls / "nokey.key").unlink()
    (tls / "broken.crt").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    (tls / "broken.key").write_text("k")
    # certbot's live/ folder: links into archive/.
    os.symlink(tls / "fine.crt", tls / "link.crt")
    os.symlink(tls / "fine.key", tls / "link.key")
    os.symlink(tls / "nothing.crt", tls / "dangling.crt")
    (tls / "dangling.key").write_text("k")
    now = datetime.datetime.now(datetime.timezone.utc)
    wanted = [{"name": n, "cert": f"pyweb/tls/{n}.crt", "key": f"pyweb/tls/{n}.key", "other": 1}
              for n in ("fine", "soon", "nokey", "gone", "broken", "link", "dangling")]
    state = mod.certificate_state(str(tmp_path), wanted, 30, now)
    assert state["missing"] == ["nokey", "gone", "dangling"]
    assert state["certificates"]["link"]["days_left"] >= 3648
    assert state["expiring"] == ["soon", "broken"]         # an unreadable one is renewed too
    assert state["certificates"]["fine"]["days_left"] >= 3648
    assert state["certificates"]["fine"]["cert"] == str(tls / "fine.crt")
    assert state["certificates"]["gone"]["cert_exists"] is False


def test_absolute_paths_stay_absolute(tmp_path):
    make_cert(tmp_path, "le", 90)
    state = mod.certificate_state("/etc/nginx", [{"name": "le", "cert": str(tmp_path / "le.crt"),
                                                 "key": str(tmp_path / "le.key")}], 30, NOW)
    assert state["certificates"]["le"]["cert"] == str(tmp_path / "le.crt")


def test_only_the_package_default_site_link_is_removed(tmp_path):
    enabled = tmp_path / "sites-enabled"
    enabled.mkdir()
    assert mod.default_site_link(str(tmp_path), True) == []
    os.symlink("/etc/nginx/sites-available/default", enabled / "default")
    assert mod.default_site_link(str(tmp_path), True) == [str(enabled / "default")]
    assert mod.default_site_link(str(tmp_path), False) == []
    (enabled / "default").unlink()
    os.symlink("../sites-available/default", enabled / "default")
    assert mod.default_site_link(str(tmp_path), True) == [str(enabled / "default")]
    (enabled / "default").unlink()
    os.symlink("/srv/my-default", enabled / "default")
    assert mod.default_site_link(str(tmp_path), True) == []
    (enabled / "default").unlink()
    (enabled / "default").write_text("a file the user wrote")
    assert mod.default_site_link(str(tmp_path), True) == []


def test_service_state():
    answers = {"is-active": "active\n", "is-enabled": "enabled\n"}
    assert mod.service_state(lambda argv: (0, answers[argv[1]], ""), "nginx") == {"active": True, "enabled": True}
    answers = {"is-active": "inactive\n", "is-enabled": "disabled\n"}
    assert mod.service_state(lambda argv: (3, answers[argv[1]], ""), "nginx") == {"active": False, "enabled": False}
    assert mod.service_state(None, "") == {"active": False, "enabled": False}


def test_packages_as_package_state_reads_them():
    installed = {"nginx": {"version": "1.26.3-3", "arch": "amd64", "provides": []}}
    assert mod.package_state(["nginx", "certbot"], installed, {"age": 5, "lists": 2, "stale": False}) == {
        "missing": ["certbot"], "versions": {"nginx": "1.26.3-3"}, "upstream_versions": {"nginx": "1.26.3"},
        "cache_stale": False}


def make_san_cert(folder: Path, name: str, days: int, names: list) -> None:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", str(days), "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-subj", f"/CN={names[0]}", "-addext",
                    "subjectAltName=" + ",".join(f"DNS:{n}" for n in names) + ",IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:FALSE",
                    "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.crt")],
                   check=True, capture_output=True)


def test_dns_names_agree_with_openssl(tmp_path):
    make_san_cert(tmp_path, "a", 90, ["www.a.test", "a.test", "*.cdn.a.test"])
    assert mod.dns_names((tmp_path / "a.crt").read_text()) == ["www.a.test", "a.test", "*.cdn.a.test"]
    make_cert(tmp_path, "plain", 90)                    # no subjectAltName at all
    assert mod.dns_names((tmp_path / "plain.crt").read_text()) == []


def test_covers_exact_names_and_one_label_wildcards():
    assert mod.covers(["a.test", "www.a.test"], ["www.a.test", "A.test."])
    assert not mod.covers(["a.test"], ["a.test", "www.a.test"])
    assert mod.covers(["*.a.test"], ["x.a.test"])
    assert not mod.covers(["*.a.test"], ["a.test"])
    assert not mod.covers(["*.a.test"], ["x.y.a.test"])
    assert mod.covers(["a.test"], [])


def test_acme_due_only_when_missing_expired_unreadable_or_not_covering(tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    make_san_cert(live, "fine", 90, ["a.test", "www.a.test"])
    make_san_cert(live, "soon", 5, ["b.test"])           # certbot's timer renews it, not the role
    make_san_cert(live, "grown", 90, ["c.test"])         # the site gained a domain
    make_san_cert(live, "expired", 1, ["d.test"])
    (live / "bad.crt").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    (live / "bad.key").write_text("k")
    make_san_cert(live, "self", 90, ["e.test"])
    domains = {"fine": ["www.a.test", "a.test"], "soon": ["b.test"], "grown": ["c.test", "www.c.test"],
               "expired": ["d.test"], "bad": ["x.test"], "none": ["n.test"], "self": ["other.test"]}
    wanted = [{"name": n, "cert": str(live / f"{n}.crt"), "key": str(live / f"{n}.key"), "domains": d,
               "mode": "selfsigned" if n == "self" else "acme"} for n, d in domains.items()]
    # "expired" was made valid for one day: two days later it has expired.
    state = mod.certificate_state("/etc/nginx", wanted, 30, datetime.datetime.now(datetime.timezone.utc)
                                  + datetime.timedelta(days=2))
    assert state["acme_due"] == ["grown", "expired", "bad", "none"]
    assert state["uncovered"] == ["grown", "self"]
    assert state["certificates"]["fine"]["names"] == ["a.test", "www.a.test"]
    assert state["certificates"]["fine"]["covers"] is True
    assert state["certificates"]["grown"]["covers"] is False
    assert "soon" in state["expiring"] and "soon" not in state["acme_due"]
