# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL for pyweb.deploy's modules (service_account, exporter_accounts): SQL quoting, and
``psql`` run as the ``postgres`` superuser over the local socket (peer authentication), the SQL
(and any password in it) on standard input, never on a command line."""
from __future__ import annotations

import subprocess


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def run_psql(sql: str, database: str = "postgres", run=subprocess.run) -> str:
    """Run SQL as postgres over the local socket; raises RuntimeError with psql's words."""
    proc = run(
        ["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
         "-d", database],
        input=sql, capture_output=True, text=True, check=False, cwd="/")
    if proc.returncode != 0:
        raise RuntimeError(f"psql as postgres failed: {proc.stderr.strip()}")
    return proc.stdout
