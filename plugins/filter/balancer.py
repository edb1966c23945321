# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the app hosts behind load balancers.

``balancers | pyweb.deploy.balancer_sources(hostvars)`` returns the addresses the balancers
connect to the app hosts from: each balancer's ``pyweb_balancer_source`` (an address, a network
or a list of them) if set, else its gathered default IPv4 and IPv6 addresses. The app hosts
believe the client address in X-Forwarded-For only from these addresses, and with the firewall
on accept HTTP(S) only from them.
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


def _checked(balancer, source):
    text = str(source).strip()
    try:
        if "/" in text:
            ipaddress.ip_network(text, strict=False)
        else:
            ipaddress.ip_address(text)
    except ValueError:
        raise AnsibleFilterError(
            f"balancer {balancer}: pyweb_balancer_source {text!r} is not an IP address or network"
        ) from None
    return text


def balancer_sources(balancers, hostvars):
    """The source addresses of ``balancers`` (inventory names), from ``hostvars``, unique, in order."""
    sources = []
    for balancer in balancers or []:
        hv = hostvars[balancer] if balancer in hostvars else {}
        override = hv.get("pyweb_balancer_source")
        if override not in (None, "", []):
            found = [_checked(balancer, s) for s in _as_list(override)]
        else:
            facts = hv.get("ansible_facts") or {}
            found = [
                facts[key]["address"]
                for key in ("default_ipv4", "default_ipv6")
                if isinstance(facts.get(key), dict) and facts[key].get("address")
            ]
        if not found:
            raise AnsibleFilterError(
                f"balancer {balancer}: its address is not known, so the app hosts cannot tell its "
                "requests from anyone else's: gather its facts (network) or set pyweb_balancer_source"
            )
        for source in found:
            if source not in sources:
                sources.append(source)
    return sources


def balancer_backend_apps(hosts, hostvars, backend_dir):
    """The apps whose hosts would serve them with a self-signed certificate: behind the balancers
    they serve the collection's backend certificate instead. One entry per app (the first host
    that lists it describes it): name, domains, and the base path of its certificate and key in
    ``backend_dir`` (named by the domains, so new domains get a new certificate)."""
    try:
        from ansible_collections.pyweb.deploy.plugins.filter.apps import apps_normalized
    except ImportError:  # pragma: no cover - only outside a collection
        from apps import apps_normalized
    seen, out = set(), []
    for host in hosts:
        variables = hostvars[host]
        apps = (variables["pyweb_apps"] if "pyweb_apps" in variables else None) or []
        for app in apps_normalized(apps):
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
        return {"balancer_sources": balancer_sources, "balancer_backend_apps": balancer_backend_apps}
