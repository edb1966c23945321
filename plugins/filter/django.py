# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``report | pyweb.deploy.django_static_problems(...)``: whether a Django app's own settings put
its static and media files where the deploy collects and Nginx serves them;
``report | pyweb.deploy.django_layout(...)``: the folders a release's own settings name that the
deploy adopts when the app's pyweb_apps entry does not name them."""
from __future__ import annotations

import json
import posixpath


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


def django_layout(report, release, static_dir="", shared_paths=()) -> dict:
    """The static_dir and shared_paths a Django release is built with: the app's own, and where it
    names none, the folders its settings name inside the release (a `wagtail start` project's
    STATIC_ROOT = BASE_DIR / "static", MEDIA_ROOT = BASE_DIR / "media"), adopted when the release
    ships nothing there (the deploy empties the static folder before collectstatic and replaces
    the media folder with a link into shared/). The report's STATIC_ROOT_ENTRIES and
    MEDIA_ROOT_ENTRIES are the number of entries the release has there (null: none).

    Returns {static_dir, shared_paths, link (the adopted shared paths), adopted (sentences)}."""
    report = _report(report)
    given_paths = [str(p).strip("/") for p in shared_paths or ()]
    out = {"static_dir": static_dir or "", "shared_paths": list(given_paths), "link": [], "adopted": []}
    if not isinstance(report, dict):
        return out
    static_rel = _in_release(report.get("STATIC_ROOT"), release)
    if not static_dir and static_rel and not static_rel.split("/")[0].startswith(".pyweb") \
            and not report.get("STATIC_ROOT_ENTRIES"):
        out["static_dir"] = static_rel
        out["adopted"].append(f"static_dir {static_rel} (Django's STATIC_ROOT)")
    media_rel = _in_release(report.get("MEDIA_ROOT"), release)
    linked = any(media_rel == p or media_rel.startswith(p + "/") for p in given_paths)
    if media_rel and not linked and not media_rel.split("/")[0].startswith(".pyweb") \
            and media_rel != out["static_dir"] and not report.get("MEDIA_ROOT_ENTRIES"):
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
                   if in_release else
                   f"set MEDIA_ROOT = os.environ['DJANGO_MEDIA_ROOT'] ({shared}media, which Nginx serves at /media/)")
            problems.append(
                f"Django's MEDIA_ROOT is {media}, outside {shared}: uploads there would be lost with the "
                f"release (which the app cannot write); {fix}")
    return problems


class FilterModule:
    """Django filters."""

    def filters(self):
        return {"django_static_problems": django_static_problems, "django_layout": django_layout}
