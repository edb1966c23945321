#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the nginx role must know of the host before it writes: certificates, the default site, the unit."""
from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_state
short_description: Read the certificates, the package's default site and the unit state of Nginx
description:
  - One read-only look at what the nginx role decides from, so that no shell output is decoded
    in Jinja.
  - For each entry of O(certificates), whether its certificate and key files exist, when the
    certificate expires and which DNS names it holds (read from the PEM file in Python; no
    openssl needed), and whether it covers the entry's C(domains).
  - Which ACME certificates must be requested, in RV(acme_due), because they are missing, expired,
    unreadable or do not cover the site's domains. A valid certificate that covers the names is
    never requested again (certbot's timer renews it), which keeps a host far from the ACME
    server's rate limits.
  - The package's default site link C(sites-enabled/default) when it still points to the
    package's C(sites-available/default) and O(disable_default_site) is set (the role removes
    it; a link the user pointed elsewhere stays). Links are never followed.
  - Whether the unit O(service) is active and enabled (from C(systemctl is-active) and
    C(is-enabled)).
  - Which of O(packages) dpkg has not installed, their versions and whether apt's cache is older
    than O(cache_valid_time), as M(pyweb.deploy.package_state) reads them (same code), so that the
    role needs one round trip to the host.
  - It only reads.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  conf_dir:
    description: Nginx's configuration folder; relative paths below are under it.
    type: path
    default: /etc/nginx
  certificates:
    description:
      - The certificates to look at; each a dict with C(name), C(cert) and C(key) (paths, relative
        to O(conf_dir) or absolute), and optionally C(domains) (the names the certificate must
        cover) and C(mode) (C(acme) entries are considered for RV(acme_due)). Other keys are ignored.
    type: list
    elements: dict
    default: []
  renew_days:
    description: A certificate that expires within this many days is listed in RV(expiring).
    type: int
    default: 30
  disable_default_site:
    description: List the package's default site link in RV(absent) when it points to the package's default site.
    type: bool
    default: false
  service:
    description: The unit whose state is returned in RV(service); empty to skip.
    type: str
    default: nginx
  packages:
    description: The packages the role needs; see RV(packages).
    type: list
    elements: str
    default: []
  cache_valid_time:
    description: apt's cache is stale in RV(packages) when older than this many seconds.
    type: int
    default: 3600
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: It only reads.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details: It changes nothing.
"""

EXAMPLES = r"""
- name: Read the certificates, the package's default site and the unit's state
  pyweb.deploy.nginx_state:
    certificates:
      - {name: blog, cert: pyweb/tls/blog.crt, key: pyweb/tls/blog.key}
    disable_default_site: true
  register: nginx_host
"""

RETURN = r"""
certificates:
  description: >-
    Per name, cert and key (absolute), cert_exists, key_exists, not_after (ISO 8601 UTC or null),
    days_left (or null), names (the certificate's DNS names, subjectAltName) and covers (whether
    they cover the entry's domains; true when none are given).
  returned: always
  type: dict
missing:
  description: The names whose certificate or key file does not exist (or is not a regular file, links followed).
  returned: always
  type: list
  elements: str
expiring:
  description: The names whose certificate exists and expires within O(renew_days) (or cannot be read).
  returned: always
  type: list
  elements: str
uncovered:
  description: The names whose certificate exists but does not cover every one of the entry's C(domains).
  returned: always
  type: list
  elements: str
acme_due:
  description: >-
    The names of the C(mode=acme) entries to request from the ACME server now: certificate or
    key missing, certificate unreadable, expired, or not covering the entry's domains.
  returned: always
  type: list
  elements: str
absent:
  description: The absolute paths the role should remove (the package's default site link).
  returned: always
  type: list
  elements: str
packages:
  description: >-
    C(missing) (the packages of O(packages) not installed), C(versions), C(upstream_versions) and
    C(cache_stale), as M(pyweb.deploy.package_state) returns them.
  returned: always
  type: dict
  sample: {missing: [], versions: {nginx: 1.22.1-9+deb12u1}, upstream_versions: {nginx: 1.22.1}, cache_stale: false}
service:
  description: C(active) and C(enabled) (bools) of O(service); both false when it is unknown.
  returned: always
  type: dict
  sample: {active: true, enabled: true}
"""

import base64
import datetime
import os
import re
import stat

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyweb.deploy.plugins.module_utils import dpkg

PACKAGE_DEFAULT_SITE = ("/etc/nginx/sites-available/default", "../sites-available/default")


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER element at ``pos``."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _asn1_time(tag: int, raw: bytes) -> datetime.datetime:
    text = raw.decode("ascii").rstrip("Z")
    if tag == 0x17:  # UTCTime: YYMMDDHHMM[SS]
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text
    return datetime.datetime.strptime(text[:14].ljust(14, "0"), "%Y%m%d%H%M%S").replace(tzinfo=datetime.timezone.utc)


def not_after(pem: str) -> datetime.datetime:
    """The notAfter of the first certificate in ``pem`` (RFC 5280 DER, read by hand)."""
    der = _der(pem)
    _tag, pos, _end = _tlv(der, 0)              # Certificate
    _tag, pos, _end = _tlv(der, pos)            # tbsCertificate
    tag, _start, end = _tlv(der, pos)
    if tag == 0xA0:                       # [0] version
        pos = end
    for _field in range(3):                    # serialNumber, signature, issuer
        _tag, _start, pos = _tlv(der, pos)
    _tag, pos, _end = _tlv(der, pos)            # validity
    _tag, _start, pos = _tlv(der, pos)            # notBefore
    tag, start, end = _tlv(der, pos)      # notAfter
    return _asn1_time(tag, der[start:end])


def _der(pem: str) -> bytes:
    match = re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", pem, re.S)
    if not match:
        raise ValueError("no PEM certificate")
    return base64.b64decode("".join(match.group(1).split()))


SAN_OID = bytes([0x06, 0x03, 0x55, 0x1D, 0x11])  # 2.5.29.17, subjectAltName


def dns_names(pem: str) -> list:
    """The dNSName entries of the first certificate's subjectAltName (RFC 5280), in order."""
    der = _der(pem)
    _tag, pos, _end = _tlv(der, 0)              # Certificate
    _tag, pos, tbs_end = _tlv(der, pos)         # tbsCertificate
    while pos < tbs_end:
        tag, start, end = _tlv(der, pos)
        pos = end
        if tag != 0xA3:                          # [3] extensions
            continue
        _tag, ext_pos, ext_end = _tlv(der, start)    # SEQUENCE OF Extension
        while ext_pos < ext_end:
            _tag, field, ext_pos = _tlv(der, ext_pos)
            if der[field:field + len(SAN_OID)] != SAN_OID:
                continue
            field += len(SAN_OID)
            tag, value, value_end = _tlv(der, field)
            if tag == 0x01:                      # critical BOOLEAN
                tag, value, value_end = _tlv(der, value_end)
            _tag, name_pos, names_end = _tlv(der, value)   # GeneralNames
            names = []
            while name_pos < names_end:
                tag, start, name_pos = _tlv(der, name_pos)
                if tag == 0x82:                  # [2] dNSName
                    names.append(der[start:name_pos].decode("ascii").lower())
            return names
    return []


def covers(names: list, domains: list) -> bool:
    """Whether a certificate for ``names`` is valid for every one of ``domains`` (a wildcard
    covers exactly one label)."""
    have = {n.lower().rstrip(".") for n in names}
    for domain in domains:
        domain = str(domain).lower().rstrip(".")
        parent = domain.split(".", 1)[1] if "." in domain else ""
        if domain not in have and not (parent and f"*.{parent}" in have):
            return False
    return True


def _regular(path: str) -> bool:
    """A regular file, through links: certbot's live/ folder holds links into its archive/
    (root's folders; nothing the apps control is read here)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def certificate_state(conf_dir: str, certificates: list, renew_days: int, now: datetime.datetime) -> dict:
    """certificates, missing, expiring, uncovered and acme_due for the wanted certificates
    (regular files only)."""
    out, missing, expiring, uncovered, due = {}, [], [], [], []
    for entry in certificates:
        name = str(entry["name"])
        cert = os.path.join(conf_dir, str(entry["cert"]))
        key = os.path.join(conf_dir, str(entry["key"]))
        info = {"cert": cert, "key": key, "cert_exists": _regular(cert), "key_exists": _regular(key),
                "not_after": None, "days_left": None, "names": [], "covers": False}
        end = None
        if not (info["cert_exists"] and info["key_exists"]):
            missing.append(name)
        else:
            try:
                with open(cert, encoding="ascii", errors="replace") as handle:
                    pem = handle.read()
                end = not_after(pem)
                info["not_after"] = end.isoformat()
                info["days_left"] = (end - now).days
                info["names"] = dns_names(pem)
                info["covers"] = covers(info["names"], entry.get("domains") or [])
            except (OSError, ValueError, IndexError, UnicodeDecodeError):
                pass
            if info["days_left"] is None or info["days_left"] < renew_days:
                expiring.append(name)
            if end is not None and not info["covers"]:
                uncovered.append(name)
        if entry.get("mode") == "acme" and (end is None or end <= now or not info["covers"]):
            due.append(name)
        out[name] = info
    return {"certificates": out, "missing": missing, "expiring": expiring, "uncovered": uncovered,
            "acme_due": due}


def default_site_link(conf_dir: str, disable: bool) -> list:
    link = os.path.join(conf_dir, "sites-enabled", "default")
    if not disable or not os.path.islink(link):
        return []
    return [link] if os.readlink(link) in PACKAGE_DEFAULT_SITE else []


def service_state(run, unit: str) -> dict:
    """active/enabled of ``unit``; ``run(argv)`` returns (rc, stdout, stderr)."""
    if not unit:
        return {"active": False, "enabled": False}
    try:
        active = run(["systemctl", "is-active", unit])[1].strip()
        enabled = run(["systemctl", "is-enabled", unit])[1].strip()
    except OSError:
        return {"active": False, "enabled": False}
    return {"active": active == "active", "enabled": enabled == "enabled"}


def package_state(names: list, installed: dict, cache: dict) -> dict:
    found, missing = dpkg.find_installed(names, installed)
    return {"missing": missing, "versions": found, "cache_stale": cache["stale"],
            "upstream_versions": {n: dpkg.upstream_version(v) for n, v in found.items()}}


def main():
    module = AnsibleModule(
        argument_spec={
            "conf_dir": {"type": "path", "default": "/etc/nginx"},
            "certificates": {"type": "list", "elements": "dict", "default": []},
            "renew_days": {"type": "int", "default": 30},
            "disable_default_site": {"type": "bool", "default": False},
            "service": {"type": "str", "default": "nginx"},
            "packages": {"type": "list", "elements": "str", "default": []},
            "cache_valid_time": {"type": "int", "default": 3600},
        },
        supports_check_mode=True,
    )
    p = module.params
    for entry in p["certificates"]:
        if not all(entry.get(k) for k in ("name", "cert", "key")):
            module.fail_json(msg=f"every certificate needs name, cert and key: {sorted(entry)}")
    now = datetime.datetime.now(datetime.timezone.utc)
    result = certificate_state(p["conf_dir"], p["certificates"], p["renew_days"], now)
    result["absent"] = default_site_link(p["conf_dir"], p["disable_default_site"])
    systemctl = module.get_bin_path("systemctl")
    result["service"] = service_state(
        lambda argv: module.run_command([systemctl] + argv[1:]), p["service"] if systemctl else "")
    try:
        installed = dpkg.read_installed() if p["packages"] else {}
    except OSError as exc:
        module.fail_json(msg=f"cannot read dpkg's status file {dpkg.DPKG_STATUS}: {exc.strerror}")
    result["packages"] = package_state(p["packages"], installed, dpkg.cache_state(p["cache_valid_time"]))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
