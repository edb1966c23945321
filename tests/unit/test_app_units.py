"""pyweb.deploy.app_units: which of an app's units the restore stops, and which it starts again."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("pyweb_app_units", ROOT / "plugins" / "modules" / "app_units.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)

LISTING = """\
blog-backup.service        loaded inactive dead    Dump the database of blog
blog-backup.timer          loaded active   waiting Dump the database of blog on a schedule
blog-job-cleanup.service   loaded active   running blog: cleanup
blog-job-cleanup.timer     loaded active   waiting blog: cleanup on a schedule
blog-job-report.timer      loaded inactive dead    blog: report on a schedule
blog-worker@1.service      loaded active   running blog: worker 1
blog-worker@2.service      loaded failed   failed  blog: worker 2
blog-clock@1.service       loaded activating start blog: clock 1
blog.service               loaded active   running blog
blog.socket                loaded active   running blog's socket
blogx-worker@1.service     loaded active   running another app
"""


def test_kinds():
    kinds = {u: mod.unit_kind("blog", u) for u in [
        "blog.service", "blog.socket", "blog-worker@1.service", "blog-job-cleanup.timer",
        "blog-job-cleanup.service", "blog-backup.timer", "blog-backup.service", "blogx-worker@1.service",
        "blog_x.service", "blog-worker.service", "other-worker@1.service", "blog.service.d",
        "blog-web-20200.service", "blog-web-x.service", "blogx-web-20200.service"]}
    assert kinds == {
        "blog.service": "server", "blog.socket": "socket", "blog-worker@1.service": "process",
        "blog-job-cleanup.timer": "timer", "blog-job-cleanup.service": "job",
        "blog-backup.timer": None, "blog-backup.service": None, "blogx-worker@1.service": None,
        "blog_x.service": None, "blog-worker.service": None, "other-worker@1.service": None,
        "blog.service.d": None, "blog-web-20200.service": "process", "blog-web-x.service": None,
        "blogx-web-20200.service": None}


def test_the_stop_takes_every_active_unit_of_the_app_and_leaves_the_backup_timer():
    plan = mod.stop_plan("blog", LISTING)
    assert plan["stop"] == ["blog-job-cleanup.timer", "blog.socket", "blog-job-cleanup.service",
                            "blog-clock@1.service", "blog-worker@1.service", "blog.service"]


def test_a_running_job_is_stopped_but_not_started_again():
    plan = mod.stop_plan("blog", LISTING)
    assert "blog-job-cleanup.service" not in plan["resume"]
    assert plan["resume"] == [u for u in plan["stop"] if u != "blog-job-cleanup.service"]


def test_a_stopped_app_has_nothing_to_stop():
    assert mod.stop_plan("blog", "blog.service loaded inactive dead blog\n") == {"stop": [], "resume": []}


def test_the_start_refuses_what_is_not_the_apps():
    assert mod.start_problems("blog", ["blog.service", "blog-worker@1.service", "blog-job-x.timer"]) == []
    assert mod.start_problems("blog", ["nginx.service", "blog-backup.timer", "blog-job-x.service",
                                       "other.service"]) == [
        "nginx.service", "blog-backup.timer", "blog-job-x.service", "other.service"]
