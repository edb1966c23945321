# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the app hosts behind load balancers.

``balancers | pyweb.deploy.balancer_sources(hostvars)`` returns the addresses the balancers
connect to the app hosts from: each balancer's ``pyweb_balancer_source`` (an address, a network
or a list of them) if set, else its gathered default IPv4 and IPv6 addresses. The app hosts
believe the client address in X-Forwarded-For only from these addresses, and with the firewall
on accept HTTP(S) only from them.

``balancer_hosts | pyweb.deploy.balancer_app_hosts(hostvars)`` returns ``{app: [hosts]}``, the
app hosts that serve each app; ``balancer_hosts | pyweb.deploy.balancer_sites(hostvars, down,
settings)`` returns the balancer's ``nginx_sites`` (one per app, the hosts in ``down[app]``
marked down), as data: no template prints YAML for ``from_yaml``.
"""
from __future__ import annotations

import hashlib
import ipaddress

from ansible.errors import AnsibleFilterError


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _checked(balancer, source, source_var="pyweb_balancer_source", kind="balancer"):
    text = str(source).strip()
    try:
        if "/" in text:
            ipaddress.ip_network(text, strict=False)
        else:
            ipaddress.ip_address(text)
    except ValueError:
        raise AnsibleFilterError(
            f"{kind} {balancer}: {source_var} {text!r} is not an IP address or network"
        ) from None
    return text


def balancer_sources(balancers, hostvars, source_var="pyweb_balancer_source", kind="balancer"):
    """The source addresses of ``balancers`` (inventory names), from ``hostvars``, unique, in order.
    ``source_var`` and ``kind`` serve other hosts the same way (the monitoring hosts:
    ``pyweb_monitoring_source``, ``monitoring host``)."""
    sources = []
    for balancer in balancers or []:
        hv = hostvars[balancer] if balancer in hostvars else {}
        override = hv.get(source_var)
        if override not in (None, "", []):
            found = [_checked(balancer, s, source_var, kind) for s in _as_list(override)]
        else:
            facts = hv.get("ansible_facts") or {}
            found = [
                facts[key]["address"]
                for key in ("default_ipv4", "default_ipv6")
                if isinstance(facts.get(key), dict) and facts[key].get("address")
            ]
        if not found:
            raise AnsibleFilterError(
                f"{kind} {balancer}: its address is not known, so the app hosts cannot tell its "
                f"requests from anyone else's: gather its facts (network) or set {source_var}"
            )
        for source in found:
            if source not in sources:
                sources.append(source)
    return sources


def _apps_normalized(apps):
    try:
        from ansible_collections.pyweb.deploy.plugins.filter.apps import apps_normalized
    except ImportError:  # pragma: no cover - only outside a collection
        from apps import apps_normalized
    return apps_normalized(apps)


def _var(variables, name, default=None):
    return variables[name] if name in variables else default


def _apps_and_hosts(hosts, hostvars):
    """[(app, [hosts])] in the order the apps first appear; the first host that lists an app
    describes it."""
    apps, order = {}, []
    for host in hosts or []:
        for app in _apps_normalized(_var(hostvars[host], "pyweb_apps") or []):
            if app["name"] not in apps:
                order.append(app["name"])
                apps[app["name"]] = (app, [host])
            elif host not in apps[app["name"]][1]:
                apps[app["name"]][1].append(host)
    return [apps[name] for name in order]


def balancer_app_hosts(hosts, hostvars):
    """``{app: [hosts that serve it]}``, the apps in the order they first appear."""
    return {app["name"]: list(served) for app, served in _apps_and_hosts(hosts, hostvars)}


SITE_SETTINGS = {
    "tls": {}, "backend_certs": {}, "backend_ca": {},
    "backend_system_ca": "/etc/ssl/certs/ca-certificates.crt",
    "keepalive": 16, "next_upstream": "error timeout http_502 http_503 http_504",
    "connect_timeout": "3s", "max_fails": 3, "fail_timeout": "10s",
}
_TLS_KEYS = ("mode", "cert", "key", "acme_email", "redirect")


def _backend_ssl_name(domains):
    """A name the app's certificate covers: the first domain that is not a wildcard, else a
    name under the first one."""
    for domain in domains:
        if not domain.startswith("*"):
            return domain
    return "backend" + domains[0][1:]


def balancer_sites(hosts, hostvars, down=None, settings=None):
    """The balancer's ``nginx_sites``: one proxy site per app of ``hosts`` (inventory names, with
    their ``pyweb_apps`` in ``hostvars``), balanced over the hosts that serve it; a host listed in
    ``down[app]`` is marked down (drained). ``settings``: the balancer's variables without their
    ``balancer_`` prefix (``tls``, ``backend_certs``, ``backend_ca``, ``backend_system_ca``,
    ``keepalive``, ``next_upstream``, ``connect_timeout``, ``max_fails``, ``fail_timeout``)."""
    unknown = set(settings or {}) - set(SITE_SETTINGS)
    if unknown:
        raise AnsibleFilterError(f"balancer_sites: unknown settings {sorted(unknown)}")
    conf = {**SITE_SETTINGS, **{k: v for k, v in (settings or {}).items() if v is not None}}
    down = down or {}
    sites = []
    for app, served in _apps_and_hosts(hosts, hostvars):
        name = app["name"]
        https = app["tls"]["mode"] != "none"
        # The balancer's TLS for the app where balancer_tls differs from the app hosts'; HSTS
        # and the redirect to HTTPS follow the balancer's mode when only the mode is given (an
        # app served over plain HTTP behind an ACME balancer is redirected to HTTPS).
        front = dict((conf["tls"] or {}).get(name) or {})
        tls = {**app["tls"], **front}
        for key in ("hsts", "redirect"):
            if key not in front:
                tls[key] = front["mode"] != "none" if "mode" in front else app["tls"][key]
        drained = set(down.get(name) or [])
        site = {
            "name": name,
            "domains": list(app["domains"]),
            "backend": "proxy",
            "backend_scheme": "https" if https else "http",
            "tls": {key: tls[key] for key in _TLS_KEYS if key in tls},
            "hsts": {"enabled": tls["hsts"]},
            "client_max_body_size": app.get("client_max_body_size",
                                            "20m" if app["type"] == "django" else "1m"),
            "upstream_keepalive": int(conf["keepalive"]),
            "next_upstream": conf["next_upstream"],
        }
        if https:
            # Verified against the collection's backend certificate of a self-signed app, else
            # balancer_backend_ca[app] (PEM text or a file), else the system's CA bundle.
            own = ""
            if app["tls"]["mode"] == "selfsigned":
                own = ((conf["backend_certs"] or {}).get(name) or {}).get("cert") or ""
            site["backend_ssl_trusted_certificate"] = (
                (conf["backend_ca"] or {}).get(name) or own or conf["backend_system_ca"])
            site["backend_ssl_name"] = _backend_ssl_name(app["domains"])
        site["connect_timeout"] = conf["connect_timeout"]
        port = 443 if https else 80
        site["servers"] = []
        for host in served:
            variables = hostvars[host]
            address = _var(variables, "pyweb_balancer_address", _var(variables, "ansible_host", host))
            site["servers"].append({
                "address": f"{address}:{port}",
                "name": host,
                "down": host in drained,
                "max_fails": int(conf["max_fails"]),
                "fail_timeout": conf["fail_timeout"],
            })
        sites.append(site)
    return sites


def balancer_backend_apps(hosts, hostvars, backend_dir):
    """The apps whose hosts would serve them with a self-signed certificate: behind the balancers
    they serve the collection's backend certificate instead. One entry per app (the first host
    that lists it describes it): name, domains, and the base path of its certificate and key in
    ``backend_dir`` (named by the domains, so new domains get a new certificate)."""
    seen, out = set(), []
    for host in hosts:
        for app in _apps_normalized(_var(hostvars[host], "pyweb_apps") or []):
            if app["name"] in seen:
                continue
            seen.add(app["name"])
            if app["tls"]["mode"] != "selfsigned":
                continue
            digest = hashlib.sha1(",".join(app["domains"]).encode()).hexdigest()[:10]
            out.append({"name": app["name"], "domains": list(app["domains"]),
                        "base": f"{backend_dir}/{app['name']}-{digest}"})
    return out


class FilterModule:
    def filters(self):
        return {"balancer_sources": balancer_sources, "balancer_backend_apps": balancer_backend_apps,
                "balancer_app_hosts": balancer_app_hosts, "balancer_sites": balancer_sites}
