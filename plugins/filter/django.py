# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``report | pyweb.deploy.django_static_problems(...)``: whether a Django app's own settings put
its static and media files where the deploy collects and Nginx serves them;
``report | pyweb.deploy.django_layout(...)``: the folders a release's own settings name that the
deploy adopts when the app's pyweb_apps entry does not name them."""
from __future__ import annotations

import json
import posixpath
import re

# The folders the deploy adopts from the app's report and puts into Nginx's configuration: plain
# names, a few levels deep, none the deploy reads or writes itself. The same rule as
# plugins/module_utils/safepath.py's plain_path_problem (which root applies again in app_paths
# action=survey) and plugins/filter/apps.py's for an operator's static_dir and shared_paths.
PLAIN_PATH_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*")
PLAIN_PATH_DEPTH = 4
DEPLOY_NAMES = ("procfile", "app.json", "pipfile", "pyproject.toml", "runtime.txt", "pyweb_wsgi_file.py")
PLAIN_PATH_RULE = ("a plain relative path: names of letters, digits, '_', '.' and '-' not starting with '.' or "
                   f"'-', at most {PLAIN_PATH_DEPTH} deep, none of Procfile, app.json, requirements*, *.lock, "
                   "Pipfile, pyproject.toml, runtime.txt, pyweb_wsgi_file.py")


def plain_path_problem(rel) -> str:
    """Why rel is not a plain folder path the deploy may adopt and serve ("" when it is)."""
    path = rel.rstrip("/") if isinstance(rel, str) else ""
    parts = path.split("/")
    if not PLAIN_PATH_RE.fullmatch(path) or len(parts) > PLAIN_PATH_DEPTH or any(
            p.lower() in DEPLOY_NAMES or p.lower().startswith("requirements") or p.lower().endswith(".lock")
            for p in parts):
        return f"{rel!r} is not {PLAIN_PATH_RULE}"
    return ""


def _url(value) -> str:
    text = str(value or "")
    return text if text.startswith("/") else "/" + text


def _report(report):
    """What Django said: a dict, or app_command's stdout_tail (the last line that is a JSON object)."""
    if isinstance(report, list):
        lines = [line for line in report if isinstance(line, str) and line.strip().startswith("{")]
        try:
            return json.loads(lines[-1]) if lines else report
        except ValueError:
            return report
    return report


def _in_release(path, release):
    """path relative to the release when it is a folder inside it (not the release itself), else ""."""
    if not path:
        return ""
    path = posixpath.normpath(str(path))
    top = release.rstrip("/")
    if not path.startswith(top + "/"):
        return ""
    rel = posixpath.relpath(path, top)
    return "" if rel in (".", "") or rel.startswith("..") else rel


def django_layout(report, release, static_dir="", shared_paths=(), found=None) -> dict:
    """The static_dir and shared_paths a Django release is built with: the app's own, and where it
    names none, the folders its settings name inside the release (a `wagtail start` project's
    STATIC_ROOT = BASE_DIR / "static", MEDIA_ROOT = BASE_DIR / "media"), adopted when the release
    ships nothing there (the deploy empties the static folder before collectstatic and replaces
    the media folder with a link into shared/).

    The report is the app's own, so nothing it says about the release is trusted: a folder is
    adopted only when it is a plain path (PLAIN_PATH_RE, no name the deploy reads) and root's own
    count, ``found`` (pyweb.deploy.app_paths action=survey: path -> "absent", "empty", "shared", or
    what else it is), says it is absent or an empty real folder (or, for the media folder, the
    deploy's own link into shared/ from an earlier try). Without ``found`` nothing is adopted.

    Returns {static_dir, shared_paths, link (the adopted shared paths), adopted (sentences),
    survey (the paths to ask app_paths about)}."""
    report = _report(report)
    given_paths = [str(p).strip("/") for p in shared_paths or ()]
    out = {"static_dir": static_dir or "", "shared_paths": list(given_paths), "link": [], "adopted": [],
           "survey": []}
    if not isinstance(report, dict):
        return out
    found = found if isinstance(found, dict) else {}

    def adoptable(rel, states):
        if rel and not plain_path_problem(rel) and rel not in out["survey"]:
            out["survey"].append(rel)
        return bool(rel) and not plain_path_problem(rel) and found.get(rel) in states

    static_rel = _in_release(report.get("STATIC_ROOT"), release) if not static_dir else ""
    if adoptable(static_rel, ("absent", "empty")):
        out["static_dir"] = static_rel
        out["adopted"].append(f"static_dir {static_rel} (Django's STATIC_ROOT)")
    media_rel = _in_release(report.get("MEDIA_ROOT"), release)
    linked = any(media_rel == p or media_rel.startswith(p + "/") for p in given_paths)
    if media_rel and not linked and media_rel != out["static_dir"] \
            and adoptable(media_rel, ("absent", "empty", "shared")):  # shared: linked by an earlier try
        out["shared_paths"].append(media_rel)
        out["link"].append(media_rel)
        out["adopted"].append(f"shared path {media_rel} (Django's MEDIA_ROOT)")
    return out


def django_static_problems(report, release, base, static_dir="", static_url="", shared_paths=()) -> list:
    """report: what Django said (STATIC_ROOT, MEDIA_ROOT, STATIC_URL, MEDIA_URL from the settings
    the app really uses); release: the release's folder; base: the app's folder; shared_paths: the
    app's shared_paths (a folder of the release that is a link into shared/). Returns the
    problems, each a sentence naming the field to set and what Django reported ([] when none)."""
    report = _report(report)
    if not isinstance(report, dict):
        return [f"Django did not say where its static files go (got {report!r})"]
    wanted_dir = (static_dir or "staticfiles").strip("/")
    wanted = posixpath.normpath(f"{release}/{wanted_dir}")
    problems = []
    root = report.get("STATIC_ROOT")
    if not root:
        problems.append(
            "its settings set no STATIC_ROOT, so collectstatic has nowhere to write: set "
            "STATIC_ROOT = os.environ['DJANGO_STATIC_ROOT'] (the deploy sets it) in the settings")
    else:
        root = posixpath.normpath(str(root))
        if root != wanted:
            inside = root.startswith(release.rstrip("/") + "/")
            hint = (f"set static_dir: {posixpath.relpath(root, release)} in its pyweb_apps entry"
                    if inside else "make STATIC_ROOT a folder of the project (or read DJANGO_STATIC_ROOT)")
            if inside and plain_path_problem(posixpath.relpath(root, release)):
                hint = (f"the deploy adopts and serves only {PLAIN_PATH_RULE}: make STATIC_ROOT such a folder "
                        "(or read DJANGO_STATIC_ROOT), or set static_dir in its pyweb_apps entry")
            if inside and report.get("STATIC_ROOT_ENTRIES"):
                hint = (f"the release ships {report['STATIC_ROOT_ENTRIES']} entries there, which collectstatic would "
                        "replace: make STATIC_ROOT a folder the project does not ship (or read DJANGO_STATIC_ROOT)")
            problems.append(
                f"Django's STATIC_ROOT is {root}, not the folder the deploy collects into and Nginx "
                f"serves ({wanted}, static_dir {wanted_dir}): {hint}")
    url = report.get("STATIC_URL")
    if url and "://" not in str(url) and _url(url) != _url(static_url or "/static/"):
        problems.append(f"Django's STATIC_URL is {url}, not the static_url Nginx serves "
                        f"({static_url or '/static/'}): set static_url: {_url(url)}")
    media = report.get("MEDIA_ROOT")
    shared = f"{base.rstrip('/')}/shared/"
    if media:
        media = posixpath.normpath(str(media))
        in_release = media.startswith(release.rstrip("/") + "/")
        rel = posixpath.relpath(media, release) if in_release else ""
        linked = in_release and any(rel == p.strip("/") or rel.startswith(p.strip("/") + "/")
                                    for p in shared_paths or ())
        if not (media + "/").startswith(shared) and not linked:
            fix = (f"add {rel} to its shared_paths (the release's {rel} then is {shared}{rel})"
                   if in_release and not plain_path_problem(rel) else
                   f"the deploy adopts only {PLAIN_PATH_RULE}, in shared_paths; set MEDIA_ROOT = "
                   f"os.environ['DJANGO_MEDIA_ROOT'] ({shared}media)" if in_release else
                   f"set MEDIA_ROOT = os.environ['DJANGO_MEDIA_ROOT'] ({shared}media, which Nginx serves at /media/)")
            problems.append(
                f"Django's MEDIA_ROOT is {media}, outside {shared}: uploads there would be lost with the "
                f"release (which the app cannot write); {fix}")
    return problems


class FilterModule:
    """Django filters."""

    def filters(self):
        return {"django_static_problems": django_static_problems, "django_layout": django_layout}
