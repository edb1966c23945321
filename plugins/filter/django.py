# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``report | pyweb.deploy.django_static_problems(...)``: whether a Django app's own settings put
its static and media files where the deploy collects and Nginx serves them."""
from __future__ import annotations

import json
import posixpath


def _url(value) -> str:
    text = str(value or "")
    return text if text.startswith("/") else "/" + text


def django_static_problems(report, release, base, static_dir="", static_url="", shared_paths=()) -> list:
    """report: what Django said (STATIC_ROOT, MEDIA_ROOT, STATIC_URL, MEDIA_URL from the settings
    the app really uses); release: the release's folder; base: the app's folder; shared_paths: the
    app's shared_paths (a folder of the release that is a link into shared/). Returns the
    problems, each a sentence naming the field to set and what Django reported ([] when none)."""
    if isinstance(report, list):  # app_command's stdout_tail: the last line that is a JSON object
        lines = [line for line in report if isinstance(line, str) and line.strip().startswith("{")]
        try:
            report = json.loads(lines[-1]) if lines else report
        except ValueError:
            pass
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
        return {"django_static_problems": django_static_problems}
