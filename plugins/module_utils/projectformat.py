# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How an app declares what it installs (its project format), and its lock file as a hashed list.

Detection order (README "Project formats"): uv.lock, poetry.lock, Pipfile.lock, requirements.txt,
pyproject.toml. A lock file wins over a loose list; an explicit requirements file keeps today's
behaviour. A lock is exported here, as data (nothing of the app runs), to a requirements list in
which every line pins one version and carries the lock's hashes: pip installs it with
--require-hashes --no-deps, so what is locked is what runs.
"""
from __future__ import annotations

import json
import re

try:
    import tomllib
except ImportError:  # Python < 3.11: lock files and pyproject.toml cannot be read
    tomllib = None

# (format, the file that selects it); the order is the detection order.
FORMATS = (
    ("uv", "uv.lock"),
    ("poetry", "poetry.lock"),
    ("pipenv", "Pipfile.lock"),
    ("requirements", "requirements.txt"),
    ("pyproject", "pyproject.toml"),
)
FORMAT_NAMES = tuple(pair[0] for pair in FORMATS)
SELECTOR = dict(FORMATS)


class FormatError(Exception):
    """The project cannot be installed as asked; the message says why, for a person."""


def looked_for() -> str:
    return ", ".join(f"{f} ({n})" for n, f in FORMATS)


def detect(present, explicit: str = "auto", requirements: str = "") -> dict:
    """The project format from the names of the files at the release's top (present: a set of
    names; requirements: the requirements file's path when the app names one). Returns
    {format, file}; FormatError when none is found or the one asked for is missing."""
    if explicit in ("auto", "", None) and requirements:
        explicit = "requirements"
    if explicit not in ("auto", "", None):
        if explicit not in SELECTOR:
            raise FormatError(f"project_format {explicit!r} is not one of auto, {', '.join(FORMAT_NAMES)}")
        wanted = requirements if explicit == "requirements" and requirements else SELECTOR[explicit]
        if wanted not in present:
            raise FormatError(f"project_format is {explicit} but {wanted} is not in the release")
        if explicit in ("uv", "poetry") and "pyproject.toml" not in present:
            raise FormatError(f"project_format is {explicit} but pyproject.toml is not in the release")
        return {"format": explicit, "file": wanted}
    for name, selector in FORMATS:
        if selector in present:
            return {"format": name, "file": selector}
    raise FormatError(
        "no project format found at the top of the release: looked for " + looked_for()
        + "; add one of them, or name the file with requirements or the format with project_format")


def load_toml(data: bytes, shown: str) -> dict:
    if tomllib is None:
        raise FormatError(f"{shown} cannot be read: the host's Python has no tomllib (Python 3.11 or later)")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{shown} is not valid TOML: {exc}") from None


def pyproject_info(data: bytes) -> dict:
    """What the deploy reads of pyproject.toml: the project's name, requires-python, whether it
    can be built (a [build-system]) and Poetry's package-mode."""
    doc = load_toml(data, "pyproject.toml")
    project = doc.get("project") if isinstance(doc.get("project"), dict) else {}
    poetry = (doc.get("tool") or {}).get("poetry") if isinstance(doc.get("tool"), dict) else None
    poetry = poetry if isinstance(poetry, dict) else {}
    requires = project.get("requires-python")
    if requires is None:  # Poetry before PEP 621: [tool.poetry.dependencies] python = "^3.11"
        deps = poetry.get("dependencies")
        requires = deps.get("python") if isinstance(deps, dict) else None
    return {
        "name": project.get("name") or poetry.get("name") or "",
        "requires_python": requires if isinstance(requires, str) else "",
        "buildable": isinstance(doc.get("build-system"), dict),
        "package_mode": poetry.get("package-mode", True) is not False,
        "has_project": bool(project) or bool(poetry),
    }


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# What a lock's fields may hold, checked before a field reaches the exported list: pip reads that
# list line by line, splits a line at spaces and takes a word starting with "-" as an option, so a
# newline, a backslash or " -" in a name, version, marker, extra or hash could add a line such as
# --extra-index-url or -e git+... to what root writes and the build installs.
_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")  # PEP 508
_VERSION = re.compile(  # PEP 440 (public, with epoch, pre, post, dev; local)
    r"v?([0-9]+!)?[0-9]+(\.[0-9]+)*"
    r"([-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?"
    r"(-[0-9]+|[-_.]?(post|rev|r)[-_.]?[0-9]*)?"
    r"([-_.]?dev[-_.]?[0-9]*)?"
    r"(\+[a-z0-9]+([-_.][a-z0-9]+)*)?", re.IGNORECASE)
_HASH = re.compile(r"sha256:[0-9a-f]{64}")
# A PEP 508 marker: variables, operators, parentheses and quoted values; no control character,
# no backslash, no comment sign, no word starting with "-".
_MARKER = re.compile(r"[A-Za-z0-9_.()'\"<>=!~ ,*+-]*")
_OPTION = re.compile(r"(^|\s)-")


def _check_fields(name, version, hashes, marker, extras):
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise FormatError(f"the lock file names a package {name!r}, which is not a package name (PEP 508)")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise FormatError(f"the lock file pins {name} to {version!r}, which is not a version (PEP 440)")
    for value in hashes:
        if not _HASH.fullmatch(value):
            raise FormatError(f"the lock file gives {name} {version} the hash {value!r}, which is not "
                              "sha256:<64 lowercase hex digits>")
    if not isinstance(marker, str) or not _MARKER.fullmatch(marker) or _OPTION.search(marker):
        raise FormatError(f"the lock file gives {name} {version} the marker {marker!r}, which is not a "
                          "plain PEP 508 marker (letters, digits, operators, parentheses, quoted values; "
                          "no control character, backslash, '#' or word starting with '-')")
    for extra in extras:
        if not isinstance(extra, str) or not _NAME.fullmatch(extra):
            raise FormatError(f"the lock file asks for {name} {version} with the extra {extra!r}, which is "
                              "not an extra name (PEP 508)")


def _line(name: str, version: str, hashes, marker: str = "", extras=()) -> str:
    if isinstance(extras, str):
        extras = [extras]
    _check_fields(name, version, hashes, marker, extras)
    if not hashes:
        raise FormatError(f"{name} {version} has no hash in the lock file")
    head = f"{name}{'[' + ','.join(sorted(extras)) + ']' if extras else ''}=={version}"
    if marker:
        head += f" ; {marker}"
    return " \\\n    ".join([head] + [f"--hash={h}" for h in sorted(set(hashes))])


def _hash(value) -> str:
    if not isinstance(value, str) or ":" not in value:
        raise FormatError(f"a hash in the lock file is not algorithm:digest ({value!r})")
    return value


def export_pipfile_lock(data: bytes) -> list:
    """Pipfile.lock's default (not develop) packages as hashed requirement lines."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"Pipfile.lock is not valid JSON: {exc}") from None
    default = doc.get("default") if isinstance(doc, dict) else None
    if not isinstance(default, dict):
        raise FormatError("Pipfile.lock has no default section")
    lines = []
    for name in sorted(default, key=_norm):
        entry = default[name]
        version = entry.get("version", "") if isinstance(entry, dict) else ""
        if not isinstance(version, str) or not version.startswith("=="):
            raise FormatError(f"Pipfile.lock pins {name} to no version from an index (git, path or url "
                              "entries are not installed from a lock); pin it to a released version")
        lines.append(_line(name, version[2:], [_hash(h) for h in entry.get("hashes") or []],
                           entry.get("markers") or "", entry.get("extras") or ()))
    return lines


def export_poetry_lock(data: bytes) -> list:
    """poetry.lock's packages of the main group (Poetry 1: category main) as hashed lines."""
    doc = load_toml(data, "poetry.lock")
    lines = []
    for pkg in doc.get("package") or []:
        name, version = pkg.get("name", ""), pkg.get("version", "")
        groups = pkg.get("groups")
        if groups is not None and "main" not in groups:
            continue
        if groups is None and pkg.get("category", "main") != "main":
            continue
        if pkg.get("optional"):
            continue
        source = pkg.get("source")
        if isinstance(source, dict) and source.get("type") not in (None, "legacy"):
            raise FormatError(f"poetry.lock installs {name} from a {source.get('type')} source, which the "
                              "deploy does not install from a lock; pin it to a released version")
        marker = pkg.get("markers") or ""
        if isinstance(marker, dict):
            marker = marker.get("main", "")
        lines.append(_line(name, version, [_hash(f.get("hash")) for f in pkg.get("files") or []], marker))
    return sorted(lines, key=lambda line: _norm(line.split("=", 1)[0]))


def _and(a: str, b: str) -> str:
    if not a:
        return b
    if not b:
        return a
    return f"({a}) and ({b})"


def export_uv_lock(data: bytes, project: str = "") -> tuple:
    """uv.lock's packages the project needs at run time (its dependencies, followed through the
    lock, without dev groups) as hashed lines, and whether the project itself is a package to
    install (source editable) rather than virtual. Markers on the way are kept."""
    doc = load_toml(data, "uv.lock")
    packages = [p for p in doc.get("package") or [] if isinstance(p, dict)]
    by_name = {}
    for pkg in packages:
        by_name.setdefault(_norm(pkg.get("name", "")), []).append(pkg)
    roots = [p for p in packages if isinstance(p.get("source"), dict)
             and (p["source"].get("editable") == "." or p["source"].get("virtual") == ".")]
    if project:
        roots = [p for p in roots if _norm(p.get("name", "")) == _norm(project)] or roots
    if len(roots) != 1:
        raise FormatError("uv.lock has no single project at the release's top (a package whose source is '.')")
    root = roots[0]

    def pick(dep):
        found = by_name.get(_norm(dep.get("name", "")), [])
        if "version" in dep:
            found = [p for p in found if p.get("version") == dep["version"]]
        if len(found) != 1:
            raise FormatError(f"uv.lock names {dep.get('name')} {dep.get('version', '')} "
                              f"{'more than once' if found else 'without its entry'}")
        return found[0]

    # markers[key]: the conditions under which a package is needed ("" for always). A package
    # needed always is followed once per set of extras; a conditional path that grows too long
    # (a cycle through markers) counts as always: a locked package installed where it is not
    # needed is still the locked one.
    markers, extras = {}, {}
    todo = [(d, "") for d in root.get("dependencies") or []]
    seen = set()
    while todo:
        dep, cond = todo.pop()
        pkg = pick(dep)
        key = (_norm(pkg["name"]), pkg.get("version"))
        need = _and(cond, dep.get("marker", ""))
        if len(need) > 400:
            need = ""
        conds = markers.setdefault(key, set())
        if "" in conds:
            need = ""
        wanted_extras = frozenset(dep.get("extra") or ())
        state = (key, need, wanted_extras)
        if state in seen:
            continue
        seen.add(state)
        conds.add(need)
        extras.setdefault(key, set()).update(wanted_extras)
        follow = list(pkg.get("dependencies") or [])
        for extra in sorted(wanted_extras):
            follow += (pkg.get("optional-dependencies") or {}).get(extra) or []
        todo += [(d, need) for d in follow]
    lines = []
    for key in sorted(markers):
        pkg = pick({"name": key[0], "version": key[1]})
        source = pkg.get("source") or {}
        if "registry" not in source:
            raise FormatError(f"uv.lock installs {pkg['name']} from {', '.join(source) or 'no index'}, which the "
                              "deploy does not install from a lock; pin it to a released version")
        conds = markers[key]
        if "" in conds:
            marker = ""
        elif len(conds) == 1:
            marker = next(iter(conds))
        else:
            marker = " or ".join(f"({c})" for c in sorted(conds))
        hashes = [_hash(w.get("hash")) for w in pkg.get("wheels") or []]
        if isinstance(pkg.get("sdist"), dict) and pkg["sdist"].get("hash"):
            hashes.append(_hash(pkg["sdist"]["hash"]))
        lines.append(_line(pkg["name"], pkg["version"], hashes, marker))
    return lines, "editable" in root["source"]


def plan(fmt: str, files: dict) -> dict:
    """What to install for a format, from the files' contents (name -> bytes): the exported lock
    text (empty for requirements and pyproject), whether the project itself is installed (from
    the release, non-editable; after the lock, so its dependencies are the locked ones),
    requires-python, and the files whose contents name the virtualenv."""
    pyproject = pyproject_info(files["pyproject.toml"]) if files.get("pyproject.toml") is not None else None
    locked, install_project = [], False
    if fmt == "uv":
        locked, install_project = export_uv_lock(files["uv.lock"], pyproject["name"] if pyproject else "")
    elif fmt == "poetry":
        locked = export_poetry_lock(files["poetry.lock"])
        install_project = bool(pyproject and pyproject["buildable"] and pyproject["package_mode"])
    elif fmt == "pipenv":
        locked = export_pipfile_lock(files["Pipfile.lock"])
    elif fmt == "pyproject":
        if not pyproject or not pyproject["has_project"]:
            raise FormatError("pyproject.toml has no [project] table: nothing says what to install")
        install_project = True
    if install_project and not (pyproject and pyproject["buildable"]):
        raise FormatError("pyproject.toml has no [build-system]: the project cannot be installed as a "
                          "package; add one (flit_core, hatchling...) or make it a virtual project")
    return {
        "locked": "".join(line + "\n" for line in locked),
        "locked_count": len(locked),
        "install_project": install_project,
        "requires_python": pyproject["requires_python"] if pyproject else "",
    }
