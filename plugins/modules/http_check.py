#!/usr/bin/python
# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask a site for a page the way a browser would, through a given address, and judge the answer."""
from __future__ import annotations

DOCUMENTATION = r"""
module: http_check
short_description: Check that a site answers through Nginx with the expected status and text
description:
  - Connects to O(address) (default the host itself) but asks for O(domain), both in the TLS
    handshake (SNI) and in the C(Host) header, as a browser that resolved the domain would.
  - Retries O(retries) times O(delay) seconds apart; fails with what it got last (status, the
    start of the body, or the connection error).
  - Changes nothing; runs in check mode too.
version_added: 0.1.0
author: pyweb.deploy developers (@pyweb)
options:
  domain:
    description: The site's host name.
    type: str
    required: true
  path:
    description: The path to ask for.
    type: str
    default: /
  scheme:
    description: C(https) or C(http).
    type: str
    default: https
    choices: [http, https]
  address:
    description: The address to connect to.
    type: str
    default: 127.0.0.1
  port:
    description: The port; default 443 for https, 80 for http.
    type: int
  status:
    description: The status expected.
    type: int
    default: 200
  contains:
    description: Text the body must contain (empty means any).
    type: str
    default: ""
  validate_certs:
    description: Verify the certificate (off for self-signed ones).
    type: bool
    default: false
  timeout:
    description: Seconds to wait for one answer.
    type: int
    default: 10
  retries:
    description: How many times to ask before failing.
    type: int
    default: 3
  delay:
    description: Seconds between tries.
    type: int
    default: 2
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
"""

EXAMPLES = r"""
- name: Ask Nginx on this host for the blog's health page, as a client of blog.example.com would
  pyweb.deploy.http_check:
    domain: blog.example.com
    path: /health/
    scheme: https
    status: 200
    contains: ok
    retries: 3

- name: Check one app host directly, behind a load balancer (SNI and Host still name the site)
  pyweb.deploy.http_check:
    domain: shop.example.com
    address: 10.0.0.12
    scheme: https
    validate_certs: false
"""

RETURN = r"""
status:
  description: The status of the last answer.
  returned: when an answer came
  type: int
body:
  description: The first 500 characters of the last answer's body.
  returned: when an answer came
  type: str
attempts:
  description: How many tries it took.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyweb.deploy.plugins.module_utils.httpprobe import check


def main():
    module = AnsibleModule(
        argument_spec={
            "domain": {"type": "str", "required": True},
            "path": {"type": "str", "default": "/"},
            "scheme": {"type": "str", "default": "https", "choices": ["http", "https"]},
            "address": {"type": "str", "default": "127.0.0.1"},
            "port": {"type": "int"},
            "status": {"type": "int", "default": 200},
            "contains": {"type": "str", "default": ""},
            "validate_certs": {"type": "bool", "default": False},
            "timeout": {"type": "int", "default": 10},
            "retries": {"type": "int", "default": 3},
            "delay": {"type": "int", "default": 2},
        },
        supports_check_mode=True,
    )
    ok, result = check(module.params)
    if ok:
        module.exit_json(**result)
    module.fail_json(**result)


if __name__ == "__main__":
    main()
