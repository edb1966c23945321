"""plugins/modules/app_command.py: what it runs, what it reports, and where the secrets go."""
import os
import pwd
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.modules import app_command  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.module_utils import envfile  # noqa: E402

ME = pwd.getpwuid(os.getuid()).pw_name
SECRET = "pywebcanary-unit-secret-Zx81"


class FakeModule:
    def __init__(self, check_mode=False):
        self.check_mode = check_mode


class Runner:
    """Stands in for the module's runner: records the argv and the extra env file while it exists."""

    def __init__(self, rc=0, stdout=b"", stderr=b""):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr
        self.calls, self.env_file_seen = [], None

    def __call__(self, cmd):
        self.calls.append(cmd)
        for word in cmd:
            if word.startswith("--property=EnvironmentFile=") and "pyweb-env-" in word:
                path = word.split("=", 2)[2]
                st = os.stat(path)
                self.env_file_seen = (stat.S_IMODE(st.st_mode), st.st_uid, Path(path).read_text())
        return self.rc, self.stdout, self.stderr


@pytest.fixture
def params(tmp_path, monkeypatch):
    monkeypatch.setattr(app_command, "ENV_DIR", str(tmp_path))
    env_file = tmp_path / "blog.env"
    env_file.write_text("DJANGO_SECRET_KEY=from-the-file\n")
    p = {spec_key: spec.get("default") for spec_key, spec in app_command.ARGUMENT_SPEC.items()}
    p.update(user=ME, argv=["/srv/v/bin/python", "manage.py", "migrate"], chdir=str(tmp_path),
             env_file=str(env_file), path_prepend=["/srv/v/bin"], read_write_paths=["/srv/apps/blog/shared"],
             purpose="migrate", description="blog: manage.py migrate")
    return p


def clock(times):
    it = iter(times)
    return lambda: next(it)


def test_runs_in_a_transient_unit_named_for_the_app_and_purpose(params):
    runner = Runner(stdout=b"ok\n")
    failed, result = app_command.run(FakeModule(), params, runner=runner)
    assert not failed and result["changed"] and result["rc"] == 0
    assert result["unit"].startswith(f"pyweb-{ME}-migrate-") and result["unit"].endswith(".service")
    cmd = runner.calls[0]
    assert cmd[0] == "/usr/bin/systemd-run" and f"--unit={result['unit']}" in cmd
    assert cmd[cmd.index("--") + 1:] == params["argv"]
    assert f"--property=EnvironmentFile={params['env_file']}" in cmd
    assert "--property=ReadWritePaths=-/srv/apps/blog/shared" in cmd
    assert "--setenv=PATH=/srv/v/bin:/usr/local/bin:/usr/bin:/bin" in cmd
    assert "--setenv=XDG_CACHE_HOME=/tmp/.cache" in cmd


def test_env_values_go_through_a_root_only_file_never_the_argv(params, tmp_path):
    params["env"] = {"DJANGO_SUPERUSER_PASSWORD": SECRET, "ODD": 'a "b" $c'}
    runner = Runner()
    app_command.run(FakeModule(), params, runner=runner)
    assert not any(SECRET in word for word in runner.calls[0])
    mode, uid, text = runner.env_file_seen
    assert mode == 0o600 and uid == os.getuid()
    assert envfile.parse(text) == params["env"]
    assert not list(tmp_path.glob("pyweb-env-*")), "the extra env file is removed afterwards"


def test_env_file_removed_even_when_the_run_raises(params, tmp_path):
    params["env"] = {"A": SECRET}

    def boom(cmd):
        raise OSError(2, "No such file or directory")
    failed, result = app_command.run(FakeModule(), params, runner=boom)
    assert failed and "cannot run systemd-run" in result["msg"]
    assert not list(tmp_path.glob("pyweb-env-*"))


def test_the_env_option_is_no_log():
    assert app_command.ARGUMENT_SPEC["env"]["no_log"] is True


def test_check_mode_reports_the_change_without_running(params):
    runner = Runner()
    failed, result = app_command.run(FakeModule(check_mode=True), params, runner=runner)
    assert not failed and result["changed"] is True and "would run blog: manage.py migrate" in result["msg"]
    assert runner.calls == []


def test_check_mode_runs_a_read_only_command_and_reports_no_change(params):
    params["read_only"] = True
    runner = Runner()
    failed, result = app_command.run(FakeModule(check_mode=True), params, runner=runner)
    assert not failed and result["changed"] is False and len(runner.calls) == 1


def test_failure_names_what_who_where_and_the_last_lines(params):
    params["tail"] = 2
    runner = Runner(rc=3, stdout=b"out\n", stderr=b"one\ntwo\nthree\n")
    failed, result = app_command.run(FakeModule(), params, runner=runner)
    assert failed and result["rc"] == 3
    assert result["msg"] == f"blog: manage.py migrate failed (exit 3) as {ME} in {params['chdir']}:\ntwo\nthree"
    assert result["stderr_tail"] == ["two", "three"]


def test_failure_with_only_stdout_shows_stdout(params):
    runner = Runner(rc=1, stdout=b"said it here\n")
    failed, result = app_command.run(FakeModule(), params, runner=runner, clock=clock([0, 1]))
    assert failed and result["msg"].endswith(":\nsaid it here")


def test_a_timeout_is_said(params):
    params["timeout"] = 30
    failed, result = app_command.run(FakeModule(), params, runner=Runner(rc=1), clock=clock([100, 130.5]))
    assert failed and "did not finish within 30 s" in result["msg"]


def test_a_missing_env_file_is_a_clear_failure(params):
    params["env_file"] = params["chdir"] + "/absent.env"
    runner = Runner()
    failed, result = app_command.run(FakeModule(), params, runner=runner)
    assert failed and f"cannot read the environment file {params['env_file']}" in result["msg"]
    assert runner.calls == []


def test_a_missing_user_or_folder_is_a_clear_failure(params):
    failed, result = app_command.run(FakeModule(), dict(params, user="pyweb-no-such-user"), runner=Runner())
    assert failed and "user pyweb-no-such-user does not exist" in result["msg"]
    failed, result = app_command.run(FakeModule(), dict(params, chdir="/nonexistent/x"), runner=Runner())
    assert failed and "folder /nonexistent/x does not exist" in result["msg"]


def test_a_bad_env_name_is_refused_before_anything_runs(params):
    runner = Runner()
    failed, result = app_command.run(FakeModule(), dict(params, env={"BAD NAME": "x"}), runner=runner)
    assert failed and "not a valid environment variable name" in result["msg"] and runner.calls == []


def test_the_module_runner_gives_the_unit_no_stdin_and_argv_as_written():
    seen = {}

    class Module:
        def run_command(self, cmd, **kw):
            seen["stdin"] = os.path.realpath("/proc/self/fd/0")
            seen["cmd"], seen["kw"] = cmd, kw
            return 0, b"out", b""

    assert app_command.module_runner(Module())(["systemd-run", "--", "sh", "-c", "echo ~ $HOME"]) == (0, b"out", b"")
    assert seen["stdin"] == os.devnull and seen["cmd"][-1] == "echo ~ $HOME"
    assert seen["kw"] == {"expand_user_and_vars": False, "handle_exceptions": False, "encoding": None}
