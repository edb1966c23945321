"""Heroku-style apps: module_utils/procfile.py (Procfile, web command, app.json, unit plans), the
process_unit_files filter, and pyweb.deploy.app_processes' file reading and secrets (temp dirs)."""
import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(_ROOT / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.filter.processes import process_unit_files  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.module_utils import procfile  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.module_utils.procfile import ProcfileError  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.modules import app_processes  # noqa: E402

IS_ROOT = os.getuid() == 0


# --- the Procfile --------------------------------------------------------------------------------

def test_procfile_lines_comments_blank_and_any_name():
    text = ("# Heroku layout\n\nweb: gunicorn app:app --log-file -\r\n"
            "release: python manage.py migrate\nworker:python worker.py  \n"
            "clock: python clock.py\n  # indented comment\nurgent-mail_2: celery -A tasks worker -Q urgent\n")
    assert procfile.parse_procfile(text) == {
        "web": "gunicorn app:app --log-file -", "release": "python manage.py migrate",
        "worker": "python worker.py", "clock": "python clock.py",
        "urgent-mail_2": "celery -A tasks worker -Q urgent"}


def test_procfile_command_keeps_its_colons():
    assert procfile.parse_procfile("web: gunicorn -b 0.0.0.0:$PORT app:app\n") == {
        "web": "gunicorn -b 0.0.0.0:$PORT app:app"}


@pytest.mark.parametrize("text, message", [
    ("web gunicorn app:app\n", "Procfile line 1: 'web gunicorn app:app' is not 'name: command'"),
    ("web: a\n\n: nothing\n", "Procfile line 3: ': nothing' is not 'name: command'"),
    ("web: a\nworker:\n", "Procfile line 2: process worker has no command"),
    ("my worker: x\n", "Procfile line 1: 'my worker: x' is not 'name: command'"),
    ("wörker: x\n", "Procfile line 1: process name 'wörker' must be letters, digits, _ or - (at most 30)"),
    ("web: a\nweb: b\n", "Procfile line 2: process web is defined twice"),
    ("worker: a\x1bb\n", "Procfile line 1: process worker's command has a control character"),
])
def test_procfile_bad_lines_name_the_line(text, message):
    with pytest.raises(ProcfileError) as err:
        procfile.parse_procfile(text)
    assert str(err.value) == message


# --- the web command -----------------------------------------------------------------------------

@pytest.mark.parametrize("command, wanted", [
    ("gunicorn myapp.wsgi", {"server": "gunicorn", "wsgi_app": "myapp.wsgi:application", "options": {}, "ignored": []}),
    ("gunicorn app:app --log-file -", {"server": "gunicorn", "wsgi_app": "app:app", "options": {}, "ignored": []}),
    ("gunicorn -b 0.0.0.0:$PORT -w 3 --threads=2 --timeout 60 --preload hello:create_app()",
     {"server": "gunicorn", "wsgi_app": "hello:create_app()",
      "options": {"workers": 3, "threads": 2, "timeout": 60}, "ignored": []}),
    ("exec python -m gunicorn -k gevent --statsd-host x app:app",
     {"server": "gunicorn", "wsgi_app": "app:app", "options": {"worker_class": "gevent"}, "ignored": ["--statsd-host", "x"][:1]}),
    ("uwsgi --http :$PORT --module blog.wsgi --master --processes 4",
     {"server": "uwsgi", "wsgi_app": "blog.wsgi:application", "options": {"workers": 4}, "ignored": []}),
    ("uwsgi --http-socket :$PORT -w hello:app", {"server": "uwsgi", "wsgi_app": "hello:app", "options": {}, "ignored": []}),
])
def test_web_wsgi_commands(command, wanted):
    got = procfile.web_wsgi(command)
    if command.startswith("exec python"):
        # --statsd-host takes a value the parser does not know: both words are not options it takes
        assert got["server"] == "gunicorn" and got["wsgi_app"] == "app:app"
        assert got["options"] == {"worker_class": "gevent"} and got["ignored"] == ["--statsd-host", "x"]
        return
    assert got == wanted


@pytest.mark.parametrize("command", [
    "python app.py", "uvicorn app:app --port $PORT", "gunicorn", "gunicorn a:b c:d",
    "gunicorn app:app && echo hi", "uwsgi uwsgi.ini", "uwsgi --wsgi-file app.py --http :$PORT",
    "daphne proj.asgi:application", "bin/start-web",
])
def test_web_commands_that_are_not_a_wsgi_app(command):
    assert procfile.web_wsgi(command) is None


def test_web_app_after_an_unknown_flag():
    assert procfile.web_wsgi("gunicorn --check-config app:app")["wsgi_app"] == "app:app"


def test_web_option_with_a_variable_is_refused_with_its_reason():
    with pytest.raises(ProcfileError, match=r"gunicorn option -w '\$WEB_CONCURRENCY' is not a whole number"):
        procfile.web_wsgi("gunicorn -w $WEB_CONCURRENCY app:app")


# --- ExecStart -----------------------------------------------------------------------------------

def _systemd_unquote(value: str) -> str:
    """What systemd passes as the argument of /bin/sh -c: one C-quoted word, $$ and %% single."""
    assert value.startswith('/bin/sh -c "') and value.endswith('"')
    body = value[len('/bin/sh -c "'):-1]
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            out.append(body[i + 1])
            i += 2
            continue
        if c in "$%":
            assert body[i + 1] == c, f"single {c} at {i} in {body!r}"
            out.append(c)
            i += 2
            continue
        assert c != '"', "an unescaped quote ends the word"
        out.append(c)
        i += 1
    return "".join(out)


@pytest.mark.parametrize("command", [
    "python worker.py", 'echo "quoted $PORT" 100% done \\ back', "celery -A x worker --concurrency=${WEB_CONCURRENCY:-2}",
])
def test_exec_start_round_trips(command):
    assert _systemd_unquote(procfile.exec_start(command)) == command


def test_exec_start_runs_in_sh_as_written(tmp_path):
    out = tmp_path / "out"
    command = f'printf "%s|%s" "$X" \'a b\' > {shlex.quote(str(out))}'
    subprocess.run(["/bin/sh", "-c", _systemd_unquote(procfile.exec_start(command))],
                   env={"X": "x$y", "PATH": "/usr/bin:/bin"}, check=True)
    assert out.read_text() == "x$y|a b"


# --- app.json ------------------------------------------------------------------------------------

def test_app_json_env():
    data = {"name": "demo", "env": {
        "SECRET_KEY": {"generator": "secret"},
        "GIVEN_SECRET": {"generator": "secret"},
        "LANGUAGE": {"description": "site language", "value": "en"},
        "SHORT": "plain",
        "OPTIONAL": {"description": "x", "required": False},
        "API_TOKEN": {"description": "needed"},
        "SET_IN_INVENTORY": {"required": True},
    }}
    got = procfile.app_json_env(data, {"GIVEN_SECRET", "SET_IN_INVENTORY"})
    assert got == {"defaults": {"LANGUAGE": "en", "SHORT": "plain"}, "generate": ["SECRET_KEY"],
                   "required": ["API_TOKEN"]}


@pytest.mark.parametrize("data, message", [
    ([], "app.json must be a JSON object"),
    ({"env": []}, "app.json: env must be an object of variable names"),
    ({"env": {"BAD-NAME": "x"}}, "app.json: env: 'BAD-NAME' is not a variable name"),
    ({"env": {"A": {"generator": "uuid"}}}, "app.json: env.A: generator 'uuid' is not known (only secret)"),
    ({"env": {"A": {"value": "a\nb"}}}, "app.json: env.A: value has a control character"),
    ({"env": {"A": True}}, "app.json: env.A must be a string or an object"),
])
def test_app_json_bad(data, message):
    with pytest.raises(ProcfileError) as err:
        procfile.app_json_env(data, set())
    assert str(err.value) == message


# --- processes and their units -------------------------------------------------------------------

PROCS = {"web": "gunicorn app:app", "release": "python migrate.py", "worker": "python worker.py",
         "clock": "python clock.py"}


def test_plan_processes_counts_default_one():
    plan = procfile.plan_processes(PROCS, {"worker": 2})
    assert plan["web"] == "gunicorn app:app" and plan["release"] == "python migrate.py"
    assert {n: s["count"] for n, s in plan["services"].items()} == {"worker": 2, "clock": 1}
    assert plan["services"]["worker"]["exec_start"] == '/bin/sh -c "python worker.py"'
    assert procfile.instance_names("shop", plan["services"]) == [
        "shop-clock@1.service", "shop-worker@1.service", "shop-worker@2.service"]


@pytest.mark.parametrize("counts, message", [
    ({"mailer": 1}, "processes names mailer, which the Procfile does not define (it defines web, release, worker, clock)"),
    ({"clock": 2}, "processes: clock runs at most once (two clocks would run each job twice)"),
    ({"web": 3}, "processes: web and release take no count"),
])
def test_plan_processes_refuses(counts, message):
    with pytest.raises(ProcfileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        procfile.plan_processes(PROCS, counts)


def test_retire_plan_count_lowered_process_and_schedule_removed():
    running = ["shop-worker@1.service", "shop-worker@2.service", "shop-mailer@1.service",
               "shopx-worker@1.service", "shop.service"]
    got = procfile.retire_plan("shop", ["shop-worker@1.service"], ["nightly"], running,
                               ["shop-job-nightly.timer", "shop-job-old.timer"])
    assert got == {"stop": ["shop-mailer@1.service", "shop-worker@2.service"], "stop_timers": ["shop-job-old.timer"]}


def test_apply_plan():
    states = {"a-w@1.service": {"active": "active", "enabled": "enabled"},
              "a-w@2.service": {"active": "failed", "enabled": "enabled"},
              "a-w@3.service": {"active": "active", "enabled": "disabled"},
              "a-c@1.service": {"active": "active", "enabled": "enabled"},
              "a-job-n.timer": {"active": "active", "enabled": "enabled"}}
    wanted = ["a-w@1.service", "a-w@2.service", "a-w@3.service", "a-c@1.service"]
    assert procfile.apply_plan(wanted, ["a-job-n.timer"], states, changed=set()) == {
        "start": ["a-w@2.service", "a-w@3.service"], "restart": [], "start_timers": [], "restart_timers": [],
        "reset_failed": ["a-w@2.service"]}
    # a new release or environment changes every process's key; a new schedule only its timer's
    got = procfile.apply_plan(wanted, ["a-job-n.timer"], states, changed={"process w", "process c"})
    assert got["restart"] == ["a-w@1.service", "a-c@1.service"] and got["restart_timers"] == []
    assert got["reset_failed"] == ["a-w@2.service", "a-w@1.service", "a-c@1.service"]
    got = procfile.apply_plan(wanted, ["a-job-n.timer"], states, changed={"all", "a-job-n.timer"})
    assert got["restart"] == [] and got["restart_timers"] == ["a-job-n.timer"]
    assert procfile.apply_plan(wanted, ["a-job-m.timer"], states, changed=set())["start_timers"] == ["a-job-m.timer"]


def test_active_units_from_list_units():
    listing = ("shop-worker@1.service loaded active running shop: worker\n"
               "shop-worker@2.service loaded failed failed shop: worker\n"
               "shop-job-x.timer loaded inactive dead timer\n"
               "shop-clock@1.service loaded deactivating stop-sigterm clock\n")
    assert procfile.active_units(listing) == ["shop-worker@1.service", "shop-clock@1.service"]


def test_process_unit_files_filter():
    files = process_unit_files({"worker": {"command": "w", "count": 2, "exec_start": "X"},
                                "idle": {"command": "i", "count": 0, "exec_start": "Y"}},
                               [{"name": "nightly", "on_calendar": "daily", "exec_start": "Z"}], "shop")
    assert [f["dest"] for f in files] == ["/etc/systemd/system/shop-worker@.service",
                                          "/etc/systemd/system/shop-job-nightly.service",
                                          "/etc/systemd/system/shop-job-nightly.timer"]
    assert files[0]["vars"]["__wsgi_process"]["name"] == "worker"
    assert files[2]["template"] == "etc/systemd/system/app-job.timer.j2"


# --- the module's reading and secrets ------------------------------------------------------------

def test_read_in_release_never_follows_a_link(tmp_path):
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "Procfile").write_text("web: gunicorn app:app\n")
    assert app_processes.read_in_release(str(rel), "Procfile") == "web: gunicorn app:app\n"
    assert app_processes.read_in_release(str(rel), "app.json") is None
    (tmp_path / "secret").write_text("x")
    os.symlink(tmp_path / "secret", rel / "app.json")
    with pytest.raises(app_processes.UnsafePath, match="app.json is not a regular file"):
        app_processes.read_in_release(str(rel), "app.json")
    (rel / "sub").symlink_to(tmp_path)
    with pytest.raises(app_processes.UnsafePath, match="sub is a symbolic link .*, not a folder"):
        app_processes.read_in_release(str(rel), "sub/secret")


@pytest.mark.skipif(not IS_ROOT, reason="the secrets file is root's")
def test_secrets_generated_once_and_kept(tmp_path):
    path = str(tmp_path / "app_json_secrets.json")
    assert app_processes.ensure_secrets(path, ["A"], check=True) is True
    assert not os.path.exists(path)
    assert app_processes.ensure_secrets(path, ["A"], check=False) is True
    first = json.loads(Path(path).read_text())
    assert len(first["A"]) == 64 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert app_processes.ensure_secrets(path, ["A"], check=False) is False
    assert app_processes.ensure_secrets(path, ["A", "B"], check=False) is True
    second = json.loads(Path(path).read_text())
    assert second["A"] == first["A"] and len(second["B"]) == 64
    os.chmod(path, 0o644)
    with pytest.raises(app_processes.UnsafePath, match="mode 0600"):
        app_processes.ensure_secrets(path, ["A"], check=False)


def test_check_web_takes_a_server_of_its_own_and_refuses_the_other_wsgi_server():
    assert procfile.check_web("gunicorn app:app", "gunicorn")["wsgi_app"] == "app:app"
    # its own server: run as the web process on a loopback port
    assert procfile.check_web("uvicorn app:app --port $PORT", "gunicorn") is None
    assert procfile.check_web("python app.py", "gunicorn") is None
    assert procfile.check_web("waitress-serve --port=$PORT app:app", "uwsgi") is None
    with pytest.raises(ProcfileError, match="^the Procfile's web process runs uwsgi, but wsgi_server is gunicorn: "
                                            "set wsgi_server: uwsgi"):
        procfile.check_web("uwsgi --module app", "gunicorn")


def test_web_ports_are_two_per_uid_below_the_ephemeral_range():
    assert procfile.web_ports(0) == [20000, 20001]
    assert procfile.web_ports(999) == [21998, 21999]
    assert procfile.web_ports(6382) == [32764, 32765]
    # two apps never share a port
    ports = [p for uid in range(100, 1000) for p in procfile.web_ports(uid)]
    assert len(ports) == len(set(ports))
    with pytest.raises(ProcfileError, match="uid 6384 is too high for its web ports"):
        procfile.web_ports(6384)
    assert procfile.web_unit("shop", 20200) == "shop-web-20200.service"
    # not an instance of a process template: retire never takes it for one
    assert not procfile.UNIT_RE.fullmatch(procfile.web_unit("shop", 20200))


@pytest.mark.parametrize("recorded, running, active, following", [
    (None, [], None, 20200),             # first deploy: the first port
    (20200, [20200], 20200, 20201),      # the next release on the other one
    (20201, [20201], 20201, 20200),      # and back
    (20201, [], None, 20200),            # nothing runs (a failed host): start from the first
    (20200, [20201], 20201, 20200),      # the recorded one stopped, the other runs: that one serves
    (20200, [20200, 20201], 20200, 20201),  # a switch left both running: the recorded one serves
    (None, [20200, 20201], None, 20200),
])
def test_web_plan_starts_the_new_release_beside_the_one_that_serves(recorded, running, active, following):
    assert procfile.web_plan([20200, 20201], recorded, running) == {"active": active, "next": following}


def test_web_retire_plan_keeps_one_port_running_and_enabled():
    ports = [20200, 20201]
    assert procfile.web_retire_plan(ports, 20201, [20200, 20201], [20200]) == {"start": True, "stop": [20200]}
    assert procfile.web_retire_plan(ports, 20201, [20201], [20201]) == {"start": False, "stop": []}
    # Nginx moved to the app's WSGI server: none kept, every unit that runs or is enabled stops.
    assert procfile.web_retire_plan(ports, None, [20201], [20200, 20201]) == {"start": False, "stop": [20200, 20201]}
    assert procfile.web_retire_plan(ports, None, [], []) == {"start": False, "stop": []}
    assert procfile.web_retire_plan(ports, 20200, [], [20201]) == {"start": True, "stop": [20201]}
    with pytest.raises(ProcfileError, match="port 8000 is not one of"):
        procfile.web_retire_plan(ports, 8000, [], [])


def test_nginx_workers_are_the_masters_children_that_run_nginx():
    """Not told by the command line: any app process can call itself "nginx: worker process"."""
    listing = [(10, 1, "/usr/sbin/nginx"), (11, 10, "/usr/sbin/nginx"), (12, 10, "/usr/sbin/nginx (deleted)"),
               (13, 10, "/usr/bin/python3.11"), (14, 1, "/usr/bin/python3.11"), (15, 99, "/usr/sbin/nginx")]
    assert procfile.nginx_workers(listing, 10) == [11, 12]
    assert procfile.nginx_workers(listing, 0) == []


# --- who listens on a web port (/proc/net/tcp and tcp6) ------------------------------------------

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:4E39 00000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 1001 1 0 100 0 0 10 0
   1: 00000000:4E3A 00000000:0000 0A 00000000:00000000 00:00000000 00000000   997        0 1002 1 0 100 0 0 10 0
   2: 0100007F:4E39 0100007F:D431 01 00000000:00000000 00:00000000 00000000   998        0 1003 1 0 20 4 30 10 -1
   3: 0100007F:4E3B 00000000:0000 0A 00000000:00000000 00:00000000 00000000   997        0 1004 1 0 100 0 0 10 0
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:4E3C 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 2001 1 0 100 0 0 10 0
   1: 00000000000000000000000000000000:4E3D 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 2002 1 0 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:4E3E 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 2003 1 0 100 0 0 10 0
"""


def test_tcp_listeners_are_the_listen_sockets_with_address_port_and_uid():
    assert procfile.tcp_listeners(TCP, "little") == [
        {"address": "127.0.0.1", "port": 20025, "uid": 998},
        {"address": "0.0.0.0", "port": 20026, "uid": 997},
        {"address": "127.0.0.1", "port": 20027, "uid": 997}]
    assert procfile.tcp_listeners(TCP6, "little") == [
        {"address": "::1", "port": 20028, "uid": 998},
        {"address": "::", "port": 20029, "uid": 998},
        {"address": "::ffff:127.0.0.1", "port": 20030, "uid": 998}]
    assert procfile.tcp_listeners("header only\n   0: garbage\n", "little") == []


LISTENERS = procfile.tcp_listeners(TCP, "little") + procfile.tcp_listeners(TCP6, "little")
NAMES = {997: "shop", 998: "portal"}


@pytest.mark.parametrize("port, expected", [
    (20025, None),                        # the app's own process on 127.0.0.1
    (20028, None),                        # ... on ::1
    (20030, None),                        # ... on ::ffff:127.0.0.1
    (20031, ""),                          # nothing listens (yet)
])
def test_the_apps_own_listener_on_loopback_is_accepted(port, expected):
    assert procfile.web_listener_problem(LISTENERS, port, 998, NAMES) == expected


def test_another_users_listener_is_named():
    problem = procfile.web_listener_problem(LISTENERS, 20027, 998, NAMES)
    assert problem.startswith("port 20027 is taken by user shop (uid 997) on 127.0.0.1:20027:")
    # the app's own listener beside a stranger's does not make it right
    both = LISTENERS + [{"address": "127.0.0.1", "port": 20027, "uid": 998}]
    assert "taken by user shop" in procfile.web_listener_problem(both, 20027, 998, NAMES)
    # a uid without a name is shown as the number
    assert "taken by user 997 (uid 997)" in procfile.web_listener_problem(LISTENERS, 20027, 998, {})


@pytest.mark.parametrize("port, shown", [(20026, "0.0.0.0:20026"), (20029, "[::]:20029")])
def test_a_listener_on_every_interface_is_refused(port, shown):
    uid = 997 if port == 20026 else 998
    assert procfile.web_listener_problem(LISTENERS, port, uid, NAMES) == (
        f"the web process listens on {shown}; bind 127.0.0.1 (the HOST variable) so that only Nginx reaches it")


def test_process_unit_files_are_told_from_other_files_of_the_app():
    """The alerts role's prefix drop-in folder hello-.service.d is no process: with it alone the
    processes' tasks must not run (the monitoring scenario's idempotence)."""
    yes = ["hello-worker@.service", "hello-job-nightly.timer", "hello-job-nightly.service"]
    no = ["hello-.service.d", "hello-worker@.service.d", "hello.service", "hello.socket", "hello.service.d",
          "hellothere-worker@.service", "other-worker@.service", "hello-job-nightly.service.d"]
    assert [n for n in yes + no if app_processes.is_process_unit_file("hello", n)] == yes


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("0.0.0.0", False)])
def test_the_kernels_own_table_shows_this_processs_listener(host, loopback):
    """app_processes reads /proc/net/tcp of this machine: a listener of ours, by our user's name."""
    import pwd
    import socket
    listener = socket.socket()
    try:
        listener.bind((host, 0))
        listener.listen()
        port = listener.getsockname()[1]
        problem = app_processes._web_listener_problem(pwd.getpwuid(os.getuid()).pw_name, port)
        if loopback:
            assert problem is None
        else:
            assert problem.startswith(f"the web process listens on 0.0.0.0:{port}; bind 127.0.0.1")
    finally:
        listener.close()
    assert app_processes._web_listener_problem(pwd.getpwuid(os.getuid()).pw_name, port) == ""
