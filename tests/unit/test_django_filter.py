"""plugins/filter/django.py: a Django app's own settings against where the deploy collects and
serves its static and media files (the `wagtail start` case of issue 17)."""
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "pyweb_django_filter", Path(__file__).resolve().parents[2] / "plugins" / "filter" / "django.py")
django = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(django)

REL = "/srv/apps/site/releases/0123456789ab"
BASE = "/srv/apps/site"


def report(**kw):
    return {"STATIC_ROOT": f"{REL}/staticfiles", "MEDIA_ROOT": f"{BASE}/shared/media",
            "STATIC_URL": "/static/", "MEDIA_URL": "/media/", **kw}


def test_settings_that_read_the_deploy_s_variables_fit():
    assert django.django_static_problems(report(), REL, BASE) == []
    assert django.django_static_problems(report(STATIC_ROOT=f"{REL}/static/"), REL, BASE, "static") == []


def test_a_wagtail_project_is_told_which_static_dir_to_set():
    [problem] = django.django_static_problems(report(STATIC_ROOT=f"{REL}/static"), REL, BASE)
    assert problem == (f"Django's STATIC_ROOT is {REL}/static, not the folder the deploy collects into and "
                       f"Nginx serves ({REL}/staticfiles, static_dir staticfiles): set static_dir: static in "
                       "its pyweb_apps entry")


def test_a_static_root_outside_the_release_or_none():
    [problem] = django.django_static_problems(report(STATIC_ROOT="/var/www/static"), REL, BASE)
    assert "STATIC_ROOT is /var/www/static" in problem and "make STATIC_ROOT a folder of the project" in problem
    [problem] = django.django_static_problems(report(STATIC_ROOT=None), REL, BASE)
    assert "no STATIC_ROOT" in problem and "DJANGO_STATIC_ROOT" in problem


def test_static_url_and_media_root():
    problems = django.django_static_problems(report(STATIC_URL="assets/", MEDIA_ROOT=f"{REL}/media"), REL, BASE)
    assert problems[0] == "Django's STATIC_URL is assets/, not the static_url Nginx serves (/static/): set static_url: /assets/"
    assert problems[1] == (f"Django's MEDIA_ROOT is {REL}/media, outside {BASE}/shared/: uploads there would be "
                           "lost with the release (which the app cannot write); add media to its shared_paths "
                           f"(the release's media then is {BASE}/shared/media)")
    # A wagtail project's MEDIA_ROOT = BASE_DIR / "media", with shared_paths: [media]
    assert django.django_static_problems(report(MEDIA_ROOT=f"{REL}/media"), REL, BASE, "", "", ["media"]) == []
    [problem] = django.django_static_problems(report(MEDIA_ROOT="/var/uploads"), REL, BASE)
    assert problem.endswith(f"set MEDIA_ROOT = os.environ['DJANGO_MEDIA_ROOT'] ({BASE}/shared/media, which Nginx "
                            "serves at /media/)")
    assert django.django_static_problems(report(STATIC_URL="/assets/"), REL, BASE, "", "/assets/") == []
    assert django.django_static_problems(report(STATIC_URL="https://cdn.example.com/s/"), REL, BASE) == []


def test_an_unreadable_report():
    assert django.django_static_problems("Traceback", REL, BASE) == [
        "Django did not say where its static files go (got 'Traceback')"]


def test_the_lines_a_command_printed():
    import json
    lines = ["noise", json.dumps(report(STATIC_ROOT=f"{REL}/static"))]
    assert "set static_dir: static" in django.django_static_problems(lines, REL, BASE)[0]
    assert django.django_static_problems(["Traceback"], REL, BASE) == [
        "Django did not say where its static files go (got ['Traceback'])"]
