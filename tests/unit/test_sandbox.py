"""plugins/module_utils/sandbox.py: the systemd-run command line for app code."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.module_utils import sandbox  # noqa: E402


def build(**kw):
    args = {"argv": ["/bin/true"], "user": "blog", "group": "blog", "chdir": "/srv/apps/blog/releases/r1",
            "unit": "pyweb-blog-release-abcd.service"}
    args.update(kw)
    return sandbox.systemd_run_argv(**args)


def props(cmd):
    out = {}
    for word in cmd[:cmd.index("--")]:
        if word.startswith("--property="):
            key, _sep, value = word[len("--property="):].partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_waits_pipes_collects_and_names_the_unit():
    cmd = build()
    assert cmd[0] == "/usr/bin/systemd-run"
    for flag in ("--wait", "--pipe", "--collect", "--quiet", "--service-type=exec",
                 "--unit=pyweb-blog-release-abcd.service"):
        assert flag in cmd
    assert cmd[cmd.index("--") + 1:] == ["/bin/true"]


def test_runs_as_the_user_in_the_folder_with_the_time_limit():
    p = props(build(timeout=60, umask="022"))
    assert p["User"] == ["blog"] and p["Group"] == ["blog"]
    assert p["WorkingDirectory"] == ["/srv/apps/blog/releases/r1"]
    assert p["RuntimeMaxSec"] == ["60"]
    assert p["UMask"] == ["0022"]
    assert p["KillMode"] == ["control-group"]


def test_has_the_service_sandbox():
    p = props(build())
    for key, value in [("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                       ("PrivateDevices", "yes"), ("NoNewPrivileges", "yes"),
                       ("CapabilityBoundingSet", ""), ("RestrictSUIDSGID", "yes"),
                       ("ProtectKernelTunables", "yes"), ("ProtectKernelModules", "yes"),
                       ("ProtectKernelLogs", "yes"), ("ProtectControlGroups", "yes"),
                       ("RestrictNamespaces", "yes"), ("LockPersonality", "yes"),
                       ("SystemCallFilter", "@system-service")]:
        assert p[key] == [value], key
    assert p["IPAddressDeny"] == ["169.254.0.0/16 fe80::/10"]
    assert p["SocketBindDeny"] == ["any"]
    # world-writable places of the host that the app's user could otherwise leave files in
    assert p["TemporaryFileSystem"] == ["/dev/shm:mode=1777,nosuid,nodev"]
    assert p["ReadOnlyPaths"] == ["-/run"]
    assert p["PrivateIPC"] == ["yes"]
    assert "MemoryMax" in p and "TasksMax" in p
    # JIT runtimes in builds need W+X memory (see the module's comment)
    assert "MemoryDenyWriteExecute" not in p
    # network on by default (pip, migrations); off on request
    assert "PrivateNetwork" not in p
    assert props(build(network=False))["PrivateNetwork"] == ["yes"]


def test_writable_only_what_the_caller_lists():
    assert "ReadWritePaths" not in props(build())
    p = props(build(read_write_paths=["/srv/apps/blog/shared", "/srv/apps/blog/releases/r1/static"]))
    assert p["ReadWritePaths"] == ["-/srv/apps/blog/shared -/srv/apps/blog/releases/r1/static"]


def test_odd_paths_are_one_quoted_word_each():
    p = props(build(read_write_paths=['/srv/a b', '/srv/q"uote', "/srv/back\\slash", "/srv/it's"]))
    assert p["ReadWritePaths"] == ['-"/srv/a b" -"/srv/q\\"uote" -"/srv/back\\\\slash" -"/srv/it\'s"']


@pytest.mark.parametrize("kw, message", [
    ({"chdir": "relative"}, "not an absolute path"),
    ({"chdir": "/srv/new\nline"}, "control character"),
    ({"read_write_paths": ["shared"]}, "not an absolute path"),
    ({"env_files": ["/etc/x\n.env"]}, "control character"),
    ({"argv": []}, "argv is empty"),
    ({"timeout": 0}, "positive"),
    ({"umask": "rw"}, "octal"),
    ({"user": "blog; rm"}, "not a user"),
])
def test_bad_input_is_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        build(**kw)


def test_environment_values_never_in_argv_but_files_are_named():
    cmd = build(env_files=["/etc/pyweb/blog.env.new", "/run/pyweb-env-x.env"],
                setenv={"PATH": "/v/bin:/usr/bin", "HOME": "/srv/apps/blog"})
    p = props(cmd)
    assert p["EnvironmentFile"] == ["/etc/pyweb/blog.env.new", "/run/pyweb-env-x.env"]
    assert "--setenv=PATH=/v/bin:/usr/bin" in cmd
    assert not any("SECRET" in word for word in cmd)


def test_dollars_in_the_command_are_doubled_so_systemd_does_not_expand_them():
    cmd = build(argv=["/bin/sh", "-c", 'echo "$HOME ${X} $$"'])
    assert cmd[cmd.index("--") + 1:] == ["/bin/sh", "-c", 'echo "$$HOME $${X} $$$$"']


def test_the_description_is_one_line():
    cmd = build(description="blog: release\ncommand  'x'")
    assert "--description=blog: release command 'x'" in cmd


@pytest.mark.parametrize("parts, expected", [
    (("blog", "release", "0a1b"), "pyweb-blog-release-0a1b.service"),
    (("my app", "re/lease", ""), "pyweb-my_app-re_lease-_.service"),
])
def test_unit_name(parts, expected):
    assert sandbox.unit_name(*parts) == expected


@pytest.mark.parametrize("rc, elapsed, expected", [
    (0, 1, ""),
    (3, 1, "exit 3"),
    (1, 1, "exit 1"),
    (1, 60.2, "did not finish within 60 s"),
    (255, 1, "exit 255: killed by a signal"),
])
def test_classify(rc, elapsed, expected):
    got = sandbox.classify(rc, elapsed, 60)
    assert got.startswith(expected) if expected else got == ""


def test_tags_the_journal_with_the_app():
    # journalctl PYWEB_APP=blog shows the command's output with the app's own units' logs.
    assert props(build())["LogExtraFields"] == ["PYWEB_APP=blog"]
    assert props(build(log_app="shop"))["LogExtraFields"] == ["PYWEB_APP=shop"]
