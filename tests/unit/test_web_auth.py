"""plugins/modules/web_auth.py: a password made once, its hash kept while it matches."""
import base64
import hashlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.modules import web_auth  # noqa: E402

# A stand-in of bcrypt's shape for the tests' venv (the host uses Debian's python3-bcrypt): a
# salted hash that looks like one ($2b$10$ + 53 characters), checked by recomputing it.
_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _fake(password, salt):
    digest = hashlib.sha256((salt + password).encode()).digest() * 2
    return "$2b$10$" + salt + "".join(_ALPHABET[b % 64] for b in digest)[: 53 - len(salt)]


def fake_hasher(password, _salts=iter(f"{n:022d}" for n in range(10**6))):
    return _fake(password, next(_salts))


def fake_checker(password, hashed):
    return _fake(password, hashed[7:29]) == hashed


def test_first_run_makes_a_password_and_its_hash():
    password, web = web_auth.wanted("pyweb-monitoring", "", "", fake_hasher, fake_checker, lambda: "p" * 43)
    assert password == "p" * 43
    hashed = web_auth.hash_in(web, "pyweb-monitoring")
    assert fake_checker(password, hashed)
    assert web.endswith(f"basic_auth_users:\n  pyweb-monitoring: '{hashed}'\n")
    assert password not in web


def test_second_run_keeps_both():
    password, web = web_auth.wanted("pyweb-monitoring", "", "", fake_hasher, fake_checker)
    again = web_auth.wanted("pyweb-monitoring", password + "\n", web, fake_hasher, fake_checker,
                            lambda: pytest.fail("a second password was made"))
    assert again == (password, web)


def test_a_hash_that_does_not_match_is_made_again():
    password, web = web_auth.wanted("u", "", "", fake_hasher, fake_checker)
    other = web_auth.wanted("u", "", "", fake_hasher, fake_checker)[0]
    kept, new_web = web_auth.wanted("u", other, web, fake_hasher, fake_checker)
    assert kept == other and new_web != web and fake_checker(other, web_auth.hash_in(new_web, "u"))


def test_a_short_or_odd_password_file_is_replaced():
    password = web_auth.wanted("u", "hunter2", "", fake_hasher, fake_checker)[0]
    assert password != "hunter2" and len(password) >= 32


def test_the_user_name_is_checked():
    with pytest.raises(ValueError, match="not a plain name"):
        web_auth.wanted("a: b", "", "", fake_hasher, fake_checker)


def test_with_real_bcrypt_when_installed():
    bcrypt = pytest.importorskip("bcrypt")
    hasher, checker = web_auth._bcrypt()
    password, web = web_auth.wanted("u", "", "", hasher, checker)
    assert bcrypt.checkpw(password.encode(), web_auth.hash_in(web, "u").encode())
    assert web_auth.wanted("u", password, web, hasher, checker) == (password, web)


def test_htpasswd_format_for_nginx_is_salted_sha1_and_kept():
    ssha, matches = web_auth.ssha, web_auth.ssha_matches
    password, users = web_auth.wanted("pyweb-monitoring", "", "", ssha, matches, fmt="htpasswd")
    hashed = web_auth.hash_in(users, "pyweb-monitoring", "htpasswd")
    assert users.splitlines()[-1] == f"pyweb-monitoring:{hashed}" and hashed.startswith("{SSHA}")
    assert matches(password, hashed) and not matches(password + "x", hashed)
    assert users.startswith("#") and password not in users
    assert web_auth.wanted("pyweb-monitoring", password, users, ssha, matches,
                           lambda: pytest.fail("a second password was made"), fmt="htpasswd") == (password, users)
    # A Prometheus web configuration is not an Nginx user file: the hash is made again in the right shape.
    web = web_auth.wanted("pyweb-monitoring", password, "", fake_hasher, fake_checker)[1]
    assert web_auth.hash_in(web, "pyweb-monitoring", "htpasswd") == ""


def test_ssha_is_what_nginx_checks():
    # Nginx's ngx_crypt_ssha: base64 of sha1(password + salt) followed by the salt.
    salt = b"0123456789abcdef"
    expected = base64.b64encode(hashlib.sha1(b"secret" + salt).digest() + salt).decode()
    assert web_auth.ssha("secret", salt) == "{SSHA}" + expected
    assert web_auth.ssha("secret") != web_auth.ssha("secret")  # salted
    assert not web_auth.ssha_matches("secret", "{SSHA}!!!") and not web_auth.ssha_matches("secret", "{SSHA}AAAA")


def test_an_old_bcrypt_nginx_user_file_is_replaced_by_ssha():
    password = "p" * 43
    old = f"{web_auth.HTPASSWD_HEADER}pyweb-monitoring:{fake_hasher(password)}\n"
    kept, users = web_auth.wanted("pyweb-monitoring", password, old, web_auth.ssha, web_auth.ssha_matches, fmt="htpasswd")
    assert kept == password and "{SSHA}" in users and "$2b$" not in users
