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


ABSENT = {"static": "absent", "media": "empty"}


def test_a_wagtail_layout_is_adopted_when_the_app_names_no_folders():
    wagtail = report(STATIC_ROOT=f"{REL}/static", MEDIA_ROOT=f"{REL}/media", STATIC_ROOT_ENTRIES=None,
                     MEDIA_ROOT_ENTRIES=None)
    # first: what root must look at itself (app_paths action=survey); nothing adopted yet
    assert django.django_layout(wagtail, REL) == {"static_dir": "", "shared_paths": [], "link": [], "adopted": [],
                                                  "survey": ["static", "media"]}
    layout = django.django_layout(wagtail, REL, found=ABSENT)
    assert layout == {"static_dir": "static", "shared_paths": ["media"], "link": ["media"],
                      "adopted": ["static_dir static (Django's STATIC_ROOT)", "shared path media (Django's MEDIA_ROOT)"],
                      "survey": ["static", "media"]}
    # with what it adopted, nothing is left to refuse
    assert django.django_static_problems(wagtail, REL, BASE, layout["static_dir"], "", layout["shared_paths"]) == []
    # the app's own fields win; a media folder already shared is not linked twice
    assert django.django_layout(wagtail, REL, "staticfiles", ["media/"], ABSENT) == {
        "static_dir": "staticfiles", "shared_paths": ["media"], "link": [], "adopted": [], "survey": []}
    # the lines app_command printed
    assert django.django_layout(["noise", json_line(wagtail)], REL, found=ABSENT)["static_dir"] == "static"


def test_folders_the_release_ships_or_outside_it_are_not_adopted():
    shipped = report(STATIC_ROOT=f"{REL}/mysite", MEDIA_ROOT=f"{REL}/media", STATIC_ROOT_ENTRIES=3,
                     MEDIA_ROOT_ENTRIES=2)
    assert django.django_layout(shipped, REL, found={"mysite": "3 entries", "media": "a symbolic link"}) == {
        "static_dir": "", "shared_paths": [], "link": [], "adopted": [], "survey": ["mysite", "media"]}
    [static, media] = django.django_static_problems(shipped, REL, BASE)
    assert static.endswith("the release ships 3 entries there, which collectstatic would replace: make STATIC_ROOT "
                           "a folder the project does not ship (or read DJANGO_STATIC_ROOT)")
    assert "MEDIA_ROOT is" in media
    outside = report(STATIC_ROOT="/var/www/static", MEDIA_ROOT="/var/uploads")
    assert django.django_layout(outside, REL, found=ABSENT)["adopted"] == []
    # the release itself, the deploy's own names, and the static folder as media are never adopted
    odd = report(STATIC_ROOT=REL, MEDIA_ROOT=f"{REL}/.pyweb-x")
    assert django.django_layout(odd, REL, found={".pyweb-x": "absent"})["adopted"] == []
    same = report(STATIC_ROOT=f"{REL}/static", MEDIA_ROOT=f"{REL}/static")
    assert django.django_layout(same, REL, found=ABSENT)["link"] == []
    assert django.django_layout("Traceback", REL, "st", ["m"]) == {
        "static_dir": "st", "shared_paths": ["m"], "link": [], "adopted": [], "survey": []}


def test_the_app_s_own_count_of_entries_is_not_trusted():
    # The app says its folders are empty; root's own look finds otherwise: nothing adopted.
    lying = report(STATIC_ROOT=f"{REL}/static", MEDIA_ROOT=f"{REL}/media", STATIC_ROOT_ENTRIES=0,
                   MEDIA_ROOT_ENTRIES=None)
    found = {"static": "2 entries", "media": "a symbolic link"}
    assert django.django_layout(lying, REL, found=found)["adopted"] == []
    # the deploy's own link into shared/ from an earlier try of this release: media only
    again = django.django_layout(lying, REL, found={"static": "shared", "media": "shared"})
    assert again["link"] == ["media"] and again["static_dir"] == ""
    # without root's look, nothing is adopted at all
    assert django.django_layout(lying, REL)["adopted"] == []


def test_a_static_root_that_would_inject_nginx_configuration_is_refused():
    evil = (f"{REL}/s; }} location ^~ /x/ {{ alias /srv/apps/victim/current/; autoindex on; }} "
            "location ^~ /y")
    attack = report(STATIC_ROOT=evil, MEDIA_ROOT=f"{REL}/m {{", STATIC_ROOT_ENTRIES=None)
    rel = evil[len(REL) + 1:]
    layout = django.django_layout(attack, REL, found={rel: "absent", "m {": "absent"})
    assert layout == {"static_dir": "", "shared_paths": [], "link": [], "adopted": [], "survey": []}
    [static, media] = django.django_static_problems(attack, REL, BASE, layout["static_dir"], "",
                                                    layout["shared_paths"])
    assert "the deploy adopts and serves only a plain relative path" in static and "static_dir" in static
    assert "set static_dir: s;" not in static
    assert "in shared_paths" in media and "DJANGO_MEDIA_ROOT" in media


def test_names_the_deploy_reads_are_never_adopted():
    for name in ("Procfile", "app.json", "requirements", "requirements.txt", "a/requirements-dev.txt",
                 "uv.lock", "pyproject.toml", "pyweb_wsgi_file.py", ".pyweb-built", "a/b/c/d/e", "-x", "a//b/.."):
        assert django.plain_path_problem(name), name
        attack = report(STATIC_ROOT=f"{REL}/{name}", MEDIA_ROOT=f"{REL}/{name}/m")
        assert django.django_layout(attack, REL, found={name: "absent", f"{name}/m": "absent"})["adopted"] == [], name
    for name in ("static", "media", "a/b/c/d", "assets_1.0/x-y"):
        assert django.plain_path_problem(name) == "", name


def json_line(data):
    import json
    return json.dumps(data)
