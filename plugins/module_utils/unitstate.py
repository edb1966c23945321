# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading systemd's answers about units (plain Python: tests/unit tests it)."""
from __future__ import annotations


def parse_units(text: str, units: list) -> dict:
    """`systemctl show -p Id,ActiveState,UnitFileState u1 u2` (blocks in the order asked)."""
    found = {u: {"active": "", "enabled": ""} for u in units}
    blocks = text.strip().split("\n\n")
    for unit, block in zip(units, blocks):
        for line in block.splitlines():
            key, _sep, value = line.partition("=")
            if key == "ActiveState":
                found[unit]["active"] = value
            elif key == "UnitFileState":
                found[unit]["enabled"] = value
    return found
