# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the nginx role: the decisions it used to print as YAML from templates.

``nginx_sites | pyweb.deploy.nginx_site_problems(name_pattern, acme_email)``
    every problem of the sites the argument specs cannot see (a list of sentences).
``nginx_sites | pyweb.deploy.nginx_tls_files(tls_dir, letsencrypt_live, missing=None)``
    per site: whether HTTPS is on, the certificate and key Nginx reads (relative paths are under
    /etc/nginx) and the files under the TLS folder the role keeps for it. ``missing`` names the
    sites whose certificate files are not on the host (pyweb.deploy.nginx_state): an ACME site
    among them waits for its certificate. No key material is returned.
``nginx_sites | pyweb.deploy.nginx_config_files(tls, ...)``
    the files the role writes, as pyweb.deploy.config_files takes them.
``nginx_sites | pyweb.deploy.nginx_upstream_files(...)``
    only the upstream files of the sites that balance over servers (the upstreams entry point).
"""
from __future__ import annotations

import hashlib
import re

from ansible.errors import AnsibleFilterError

PEM = "-----BEGIN"


def _sites(sites):
    if sites is None:
        return []
    if not isinstance(sites, (list, tuple)):
        raise AnsibleFilterError("nginx_sites must be a list of sites")
    for site in sites:
        if not isinstance(site, dict) or not isinstance(site.get("name"), str):
            raise AnsibleFilterError(f"every site of nginx_sites needs a name: {site!r}"[:300])
    return list(sites)


def _tls(site):
    return site.get("tls") or {}


def _mode(site):
    return _tls(site).get("mode") or "none"


def _backend(site):
    return site.get("backend") or "static"


# What must not be in a path written unquoted into an alias or root directive.
UNSAFE_PATH_RE = re.compile(r"[\s;{}\"'$#\\\x00-\x1f\x7f]")


def nginx_site_problems(sites, name_pattern="^[a-z0-9][a-z0-9_-]*$", acme_email=""):
    """Every problem of ``sites`` the argument specs cannot see, one sentence each."""
    sites = _sites(sites)
    problems = []
    names = [s["name"] for s in sites]
    for name in dict.fromkeys(names):
        if names.count(name) > 1:
            problems.append(f"site name {name} is used more than once")
    domains = [str(d).lower() for s in sites for d in (s.get("domains") or [])]
    for domain in dict.fromkeys(domains):
        if domains.count(domain) > 1:
            problems.append(f"domain {domain} belongs to more than one site")
    pattern = re.compile(name_pattern)
    for site in sites:
        name, tls = site["name"], _tls(site)
        if not pattern.match(name):
            problems.append(f"site name {name} must match {name_pattern}")
        if not site.get("domains"):
            problems.append(f"site {name} has no domains")
        if _backend(site) == "static" and not site.get("root"):
            problems.append(f"site {name} is static but has no root")
        if _mode(site) == "provided" and not (tls.get("cert") and tls.get("key")):
            problems.append(f"site {name} has tls.mode provided but lacks tls.cert or tls.key")
        if _mode(site) == "acme" and not (tls.get("acme_email") or acme_email):
            problems.append(f"site {name} has tls.mode acme but no e-mail (tls.acme_email or nginx_acme_email)")
        for alias in ("static_alias", "media_alias"):
            if site.get(alias) and not re.match(r"^/(.*/)?$", str(site[alias].get("url", "/x/"))):
                problems.append(f"site {name}: {alias}.url must start and end with /")
        # Written into alias and root unquoted: nothing Nginx would read as the end of the value.
        for field, value in (("root", site.get("root")),
                             ("static_alias.path", (site.get("static_alias") or {}).get("path")),
                             ("media_alias.path", (site.get("media_alias") or {}).get("path")),
                             ("static_alias.symlinks_from", (site.get("static_alias") or {}).get("symlinks_from")),
                             ("media_alias.symlinks_from", (site.get("media_alias") or {}).get("symlinks_from"))):
            if value is not None and (not isinstance(value, str) or UNSAFE_PATH_RE.search(value)):
                problems.append(f"site {name}: {field} {value!r} holds whitespace, ';', '{{', '}}', a quote, a backslash, "
                                "'$', '#' or a control character, which Nginx would read as configuration")
    for site in sites:
        if not site.get("servers"):
            continue
        if _backend(site) != "proxy":
            problems.append(f"site {site['name']} has servers but backend {_backend(site)} (servers need backend proxy)")
        for index, server in enumerate(site["servers"]):
            if not (server or {}).get("address"):
                problems.append(f"site {site['name']}: servers[{index}] has no address")
    return problems


def _inline(value):
    return isinstance(value, str) and PEM in value


def nginx_tls_files(sites, tls_dir="pyweb/tls", letsencrypt_live="/etc/letsencrypt/live", missing=None):
    """Per site name: mode, active, pending, cert, key, *_inline and managed (see the module doc)."""
    missing = set(missing or [])
    out = {}
    for site in _sites(sites):
        name, tls, mode = site["name"], _tls(site), _mode(site)
        entry = {"name": name, "mode": mode, "active": False, "pending": False, "managed": [],
                 "domains": list(site.get("domains") or [])}
        if mode == "selfsigned":
            digest = hashlib.sha1(",".join(entry["domains"]).encode()).hexdigest()[:10]
            base = f"{tls_dir}/{name}-selfsigned-{digest}"
            entry.update(active=True, cert=f"{base}.crt", key=f"{base}.key", generated=True,
                         managed=[f"{base}.crt", f"{base}.key"])
        elif mode == "provided":
            cert_inline, key_inline = _inline(tls.get("cert")), _inline(tls.get("key"))
            entry.update(active=True, cert_inline=cert_inline, key_inline=key_inline,
                         cert=f"{tls_dir}/{name}.crt" if cert_inline else tls.get("cert"),
                         key=f"{tls_dir}/{name}.key" if key_inline else tls.get("key"),
                         managed=([f"{tls_dir}/{name}.crt"] if cert_inline else [])
                         + ([f"{tls_dir}/{name}.key"] if key_inline else []))
        elif mode == "acme":
            found = name not in missing
            entry.update(active=found, pending=not found,
                         cert=f"{letsencrypt_live}/{name}/fullchain.pem",
                         key=f"{letsencrypt_live}/{name}/privkey.pem")
        backend_ca = site.get("backend_ssl_trusted_certificate") or ""
        if backend_ca:
            inline = _inline(backend_ca)
            entry["backend_ca_inline"] = inline
            entry["backend_ca"] = f"{tls_dir}/{name}-backend-ca.crt" if inline else backend_ca
            if inline:
                entry["managed"] = entry["managed"] + [entry["backend_ca"]]
        out[name] = entry
    return out


def _dest(conf_dir, path):
    return path if str(path).startswith("/") else f"{conf_dir}/{path}"


def _pem_text(value):
    return str(value).strip() + "\n"


def nginx_upstream_files(sites, conf_dir="/etc/nginx", upstreams_dir="pyweb/upstreams"):
    """The upstream file of each site that balances over servers."""
    return [{"dest": f"{conf_dir}/{upstreams_dir}/{site['name']}.conf", "mode": "0644",
             "template": "etc/nginx/pyweb/upstreams/upstream.conf.j2", "vars": {"site": _public(site)},
             "tag": "upstream"}
            for site in _sites(sites) if site.get("servers")]


def _public(site):
    """The site without the certificate or key given as text (the templates read their paths)."""
    tls = _tls(site)
    if not any(_inline(tls.get(k)) for k in ("cert", "key")):
        return site
    return {**site, "tls": {k: v for k, v in tls.items() if k not in ("cert", "key")}}


def nginx_config_files(sites, tls, conf_dir="/etc/nginx", own_dir="pyweb", sites_dir="pyweb/sites",
                       upstreams_dir="pyweb/upstreams"):
    """Every file the role writes: nginx.conf, the default server, each site's server blocks,
    each balanced site's upstream, and the certificates and keys given as text (keys secret)."""
    sites = _sites(sites)
    files = [
        {"dest": f"{conf_dir}/nginx.conf", "template": "etc/nginx/nginx.conf.j2", "mode": "0644", "tag": "main"},
        {"dest": f"{conf_dir}/{own_dir}/default.conf", "template": "etc/nginx/pyweb/default.conf.j2",
         "mode": "0644", "tag": "main"},
    ]
    for site in sites:
        files.append({"dest": f"{conf_dir}/{sites_dir}/{site['name']}.conf", "mode": "0644",
                      "template": "etc/nginx/pyweb/sites/site.conf.j2", "vars": {"site": _public(site)},
                      "tag": "site"})
    files += nginx_upstream_files(sites, conf_dir, upstreams_dir)
    for site in sites:
        state = (tls or {}).get(site["name"]) or {}
        if state.get("cert_inline"):
            files.append({"dest": _dest(conf_dir, state["cert"]), "content": _pem_text(_tls(site)["cert"]),
                          "mode": "0644", "tag": "tls"})
        if state.get("key_inline"):
            files.append({"dest": _dest(conf_dir, state["key"]), "content": _pem_text(_tls(site)["key"]),
                          "mode": "0600", "tag": "tls", "secret": True})
        if state.get("backend_ca_inline"):
            files.append({"dest": _dest(conf_dir, state["backend_ca"]), "mode": "0644", "tag": "tls",
                          "content": _pem_text(site["backend_ssl_trusted_certificate"])})
    return files


class FilterModule:
    def filters(self):
        return {
            "nginx_site_problems": nginx_site_problems,
            "nginx_tls_files": nginx_tls_files,
            "nginx_config_files": nginx_config_files,
            "nginx_upstream_files": nginx_upstream_files,
        }
