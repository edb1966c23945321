# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interpreter an app asks for, matched against those the host has or its distribution offers.

Where the app asks (the first found wins): `.python-version` (3.12 or 3.12.4), `runtime.txt`
(python-3.12.4), `requires-python` in pyproject.toml (a PEP 440 specifier set such as >=3.10,<3.14).
An exact version (3.12.4) is matched on its minor version: a Debian host has one patch release of
each interpreter, kept current by its security updates. pyweb_apps[].python overrides all of them.
"""
from __future__ import annotations

import re

# The interpreter each Debian release ships (python3), by its major version (VERSION_ID).
DISTRIBUTION_PYTHON = {"11": (3, 9), "12": (3, 11), "13": (3, 13)}

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
_CLAUSE = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*([0-9]+(?:\.[0-9]+)*(?:\.\*)?)\s*$")


class PythonError(Exception):
    """The app asks for an interpreter the host cannot give, or says it unreadably."""


def _ver(text: str) -> tuple:
    return tuple(int(p) for p in text.split("."))


def asked(python_version: str | None, runtime_txt: str | None, requires_python: str) -> dict:
    """What the app asks for and where: {spec, source, text}; spec is a PEP 440 specifier set
    (empty: nothing asked). Contents are the files' texts (None when missing)."""
    if python_version is not None:
        lines = [ln.strip() for ln in python_version.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        text = lines[0] if lines else ""
        match = _VERSION.match(text.removeprefix("python").removeprefix("-")) if text else None
        if not match:
            raise PythonError(f".python-version says {text!r}, not a version such as 3.12 or 3.12.4")
        return {"spec": f"=={match.group(1)}.{match.group(2)}.*", "source": ".python-version", "text": text}
    if runtime_txt is not None:
        text = runtime_txt.strip()
        match = re.match(r"^python-(\d+\.\d+(?:\.\d+)?)$", text)
        if not match:
            raise PythonError(f"runtime.txt says {text!r}, not python-X.Y or python-X.Y.Z")
        major, minor = match.group(1).split(".")[:2]
        return {"spec": f"=={major}.{minor}.*", "source": "runtime.txt", "text": text}
    if requires_python:
        parse_spec(requires_python)
        return {"spec": requires_python, "source": "requires-python in pyproject.toml", "text": requires_python}
    return {"spec": "", "source": "", "text": ""}


def parse_spec(spec: str) -> list:
    """A PEP 440 specifier set as [(operator, version text)]; Poetry's ^X.Y and ~X.Y too."""
    clauses = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        poetry = re.match(r"^([\^~])\s*(\d+(?:\.\d+)*)$", part)
        if poetry:
            nums = _ver(poetry.group(2))
            if poetry.group(1) == "^":
                upper = (nums[0] + 1,) if nums[0] else (0, nums[1] + 1 if len(nums) > 1 else 1)
            else:
                upper = (nums[0], nums[1] + 1) if len(nums) > 1 else (nums[0] + 1,)
            clauses += [(">=", poetry.group(2)), ("<", ".".join(map(str, upper)))]
            continue
        match = _CLAUSE.match(part)
        if not match:
            raise PythonError(f"requires-python {spec!r} is not a version specifier set (such as >=3.10,<3.14)")
        clauses.append((match.group(1), match.group(2)))
    return clauses


def _cmp(a: tuple, b: tuple) -> int:
    n = max(len(a), len(b))
    a, b = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
    return (a > b) - (a < b)


def satisfies(version: tuple, spec: str) -> bool:
    """Whether an interpreter of version (major, minor, micro) satisfies the specifier set. An
    interpreter whose micro is unknown is given as (major, minor, None): it then satisfies what
    some micro release of that minor satisfies (the distribution keeps it current)."""
    for op, text in parse_spec(spec):
        if text.endswith(".*"):
            prefix = _ver(text[:-2])
            same = tuple(version[:len(prefix)]) == prefix
            if (op == "==" and not same) or (op == "!=" and same):
                return False
            continue
        want = _ver(text)
        if version[2] is None:
            ok = _loose(version[:2], op, want)
        else:
            c = _cmp(tuple(version), want)
            ok = {"==": c == 0, "===": c == 0, "!=": c != 0, ">=": c >= 0, "<=": c <= 0, ">": c > 0, "<": c < 0,
                  "~=": c >= 0 and tuple(version[:len(want) - 1]) == want[:-1]}[op]
        if not ok:
            return False
    return True


def _loose(minor: tuple, op: str, want: tuple) -> bool:
    """A clause on X.Y with any micro: true when some X.Y.z satisfies it."""
    lo, hi = minor + (0,), minor + (10 ** 6,)
    if op in ("==", "==="):
        return _cmp(lo, want) <= 0 <= _cmp(hi, want)
    if op == "!=":
        return not (len(want) <= 2 and _cmp(minor, want) == 0)
    if op in (">=", ">"):
        return _cmp(hi, want) >= (0 if op == ">=" else 1)
    if op in ("<=", "<"):
        return _cmp(lo, want) <= (0 if op == "<=" else -1)
    # ~=X.Y.Z: >=X.Y.Z, ==X.Y.*; ~=X.Y: >=X.Y, ==X.*
    return _cmp(hi, want) >= 0 and minor[:len(want) - 1] == want[:len(want) - 1][:2]


def offered(installed: dict, distribution: str) -> dict:
    """The interpreters to choose from: those on the host ({"3.11": "/usr/bin/python3.11"}) and
    the one the distribution (Debian's VERSION_ID) ships, as {minor text: executable or ""}."""
    out = dict(installed)
    dist = DISTRIBUTION_PYTHON.get(str(distribution).split(".", maxsplit=1)[0])
    if dist:
        out.setdefault(f"{dist[0]}.{dist[1]}", "")
    return out


def choose(ask: dict, offer: dict) -> dict:
    """The newest offered interpreter that satisfies what the app asks; PythonError naming both
    when none does. Returns {version, executable, install}: install is true when the host does not
    have it yet (the distribution's package brings it)."""
    if not ask["spec"]:
        return {}
    fits = [v for v in offer if satisfies(_ver(v) + (None,), ask["spec"])]
    if not fits:
        shown = ", ".join(sorted(offer, key=_ver)) or "none"
        raise PythonError(
            f"the app asks for Python {ask['text']} ({ask['source']}) but this host offers Python {shown} "
            "(installed or from its distribution); set pyweb_apps[].python to one of those to override, "
            "or deploy to a host whose distribution ships it")
    best = max(fits, key=_ver)
    return {"version": best, "executable": offer[best] or f"/usr/bin/python{best}", "install": not offer[best]}
