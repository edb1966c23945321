"""Unit tests of plugins/module_utils/filestate.py and the config_files module's decision:
what a role's files would change on the host, written only where they differ, tested on a
scratch copy first, never through a link, secrets never in the diff."""
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path


_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(_ROOT / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.module_utils import filestate  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.modules import config_files  # noqa: E402

ME = str(os.getuid())
GROUP = str(os.getgid())


def params(**kw):
    base = {"files": [], "secret_files": [], "directories": [], "absent": [], "prune": [], "validate": None}
    base.update(kw)
    return base


def f(dest, content, mode="0644", tag=None, **kw):
    return dict({"dest": str(dest), "content": content, "mode": mode, "owner": ME, "group": GROUP, "tag": tag}, **kw)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_writes_new_files_and_makes_folders(tmp_path):
    d = tmp_path / "etc" / "app"
    res, err = config_files.run(params(directories=[{"path": str(d), "mode": "0750", "owner": ME, "group": GROUP}],
                                       files=[f(d / "a.conf", "a\n", tag="config")]), check_mode=False)
    assert err is None and res["changed"]
    assert (d / "a.conf").read_text() == "a\n" and mode(d / "a.conf") == 0o644 and mode(d) == 0o750
    assert res["written"] == [str(d / "a.conf")] and res["created"] == [str(d)] and res["tags"] == ["config"]


def test_second_run_changes_nothing(tmp_path):
    p = params(files=[f(tmp_path / "a", "x"), f(tmp_path / "b", "y", mode="0600")], prune=[str(tmp_path)])
    config_files.run(p, check_mode=False)
    res, err = config_files.run(p, check_mode=False)
    assert err is None and not res["changed"] and res["written"] == [] and res["removed"] == []


def test_check_mode_reports_exactly_the_pending_change_and_writes_nothing(tmp_path):
    p = params(files=[f(tmp_path / "a", "one\n"), f(tmp_path / "b", "two\n")])
    config_files.run(p, check_mode=False)
    p["files"][1]["content"] = "TWO\n"
    res, _diff = config_files.run(p, check_mode=True)
    assert res["changed"] and res["written"] == [str(tmp_path / "b")]
    assert res["diff"] == [{"before_header": str(tmp_path / "b"), "after_header": str(tmp_path / "b"),
                            "before": "two\n", "after": "TWO\n"}]
    assert (tmp_path / "b").read_text() == "two\n"


def test_mode_only_is_fixed_without_rewrite(tmp_path):
    p = params(files=[f(tmp_path / "a", "x", mode="0640", tag="env")])
    config_files.run(p, check_mode=False)
    os.chmod(tmp_path / "a", 0o666)
    ino = os.lstat(tmp_path / "a").st_ino
    res, _diff = config_files.run(p, check_mode=False)
    assert res["fixed"] == [str(tmp_path / "a")] and res["written"] == [] and res["tags"] == ["env"]
    assert mode(tmp_path / "a") == 0o640 and os.lstat(tmp_path / "a").st_ino == ino


def test_a_link_where_the_file_belongs_is_replaced_not_followed(tmp_path):
    target = tmp_path / "outside"
    target.write_text("keep me\n")
    (tmp_path / "a").symlink_to(target)
    res, _diff = config_files.run(params(files=[f(tmp_path / "a", "new\n")]), check_mode=False)
    assert res["written"] == [str(tmp_path / "a")]
    assert target.read_text() == "keep me\n"
    assert not os.path.islink(tmp_path / "a") and (tmp_path / "a").read_text() == "new\n"


def test_a_link_where_a_folder_belongs_is_refused_before_anything_changes(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "d").symlink_to(tmp_path / "real")
    res, err = config_files.run(params(directories=[{"path": str(tmp_path / "d"), "mode": "0755", "owner": ME, "group": GROUP}],
                                       files=[f(tmp_path / "x", "x")]), check_mode=False)
    assert "should be a folder" in err and not (tmp_path / "x").exists()


def test_prune_removes_what_is_not_wanted_and_keeps_what_is_named(tmp_path):
    sites = tmp_path / "sites"
    sites.mkdir()
    for n in ("a.conf", "old.conf", "cert.pem"):
        (sites / n).write_text(n)
    (sites / "sub").mkdir()
    (sites / "link").symlink_to("/etc/passwd")
    res, _diff = config_files.run(params(files=[f(sites / "a.conf", "a.conf")],
                                         prune=[{"path": str(sites), "keep": ["cert.pem"], "tag": "site"}]), check_mode=False)
    assert sorted(os.listdir(sites)) == ["a.conf", "cert.pem"]
    assert sorted(res["removed"]) == sorted(str(sites / n) for n in ("link", "old.conf", "sub"))
    assert res["tags"] == ["site"] and os.path.exists("/etc/passwd")


def test_absent_removes_links_without_following(tmp_path):
    target = tmp_path / "t"
    target.write_text("t")
    (tmp_path / "l").symlink_to(target)
    res, _diff = config_files.run(params(absent=[str(tmp_path / "l"), str(tmp_path / "missing")]), check_mode=False)
    assert res["removed"] == [str(tmp_path / "l")] and target.exists() and not os.path.lexists(tmp_path / "l")


def test_secret_content_never_in_the_diff(tmp_path):
    p = params(secret_files=[f(tmp_path / "key", "SECRET-VALUE\n", mode="0600")])
    res, _diff = config_files.run(p, check_mode=True)
    assert "SECRET-VALUE" not in repr(res) and res["written"] == [str(tmp_path / "key")]
    config_files.run(p, check_mode=False)
    p["secret_files"][0]["content"] = "OTHER-SECRET\n"
    res, _diff = config_files.run(p, check_mode=True)
    assert "SECRET" not in repr(res) and res["changed"]
    assert config_files.argument_spec()["secret_files"]["options"]["content"]["no_log"] is True


def sh(argv):
    """Stands in for the module's run_command in validate."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr


def test_validate_failure_leaves_the_host_alone_and_names_the_real_path(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "main.conf").write_text("good\n")
    p = params(files=[f(conf / "main.conf", "bad\n")],
               validate={"copy": str(conf), "argv": ["sh", "-c", 'grep -q good "$1" || { echo "broken in $1"; exit 1; }',
                                                     "x", "{root}/main.conf"], "refused_message": "refused"})
    res, err = config_files.run(p, check_mode=False, run_command=sh)
    assert err == f"refused: broken in {conf}/main.conf"
    assert (conf / "main.conf").read_text() == "good\n" and not res["changed"]
    assert res["written"] == [] and res["tags"] == []
    res, err = config_files.run(p, check_mode=True, run_command=sh)
    assert err is None and res["changed"] and res["warnings"] == [f"In check mode: refused: broken in {conf}/main.conf"]
    p["files"][0]["content"] = "good too\n"
    res, err = config_files.run(p, check_mode=False, run_command=sh)
    assert err is None and (conf / "main.conf").read_text() == "good too\n"


def test_validate_sees_removals_and_files_outside_are_left_out_of_the_copy(tmp_path):
    conf = tmp_path / "conf"
    (conf / "sites").mkdir(parents=True)
    (conf / "sites" / "old.conf").write_text("x")
    outside = tmp_path / "outside.pem"
    seen = {}

    def fake_run(argv, **kw):
        root = argv[-1]
        seen["listing"] = sorted(os.listdir(os.path.join(root, "sites")))
        seen["outside_untouched"] = not outside.exists()

        return 0, ""

    p = filestate.plan(filestate.normalize_files([f(outside, "pem"), f(conf / "sites" / "new.conf", "n")]), [], [],
                       filestate.normalize_paths([str(conf / "sites")], "prune"))
    rc, _err = filestate.validate(p, str(conf), ["true", "{root}"], run=fake_run)
    assert rc == 0 and seen == {"listing": ["new.conf"], "outside_untouched": True}
    assert os.listdir(conf / "sites") == ["old.conf"]


def test_bad_input_is_refused_before_anything_changes(tmp_path):
    for bad, words in ((params(files=[f("relative/path", "x")]), "absolute path"),
                       (params(files=[f(tmp_path / "a", "x", mode="rw-r--r--")]), "octal"),
                       (params(files=[dict(f(tmp_path / "a", "x"), owner="no-such-user-here")]), "does not exist"),
                       (params(files=[f(tmp_path / "a", "x"), f(tmp_path / "a", "y")]), "given twice"),
                       (params(files=[f(tmp_path / "a", "x")], absent=[str(tmp_path / "a")]), "both"),
                       (params(files=[dict(f(tmp_path / "a", None), template="t.j2")]), "action plugin")):
        res, err = config_files.run(bad, check_mode=False)
        assert err and words in err, (err, words)
        assert not res["changed"]
    assert os.listdir(tmp_path) == []


def test_action_renders_templates_and_never_prints_a_secret_even_at_vvv(tmp_path):
    """The action plugin end to end on localhost: a template with per-item vars (a backslash and a
    quote survive), a secret file whose value appears nowhere in -vvv output, then no change."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.j2").write_text("{{ ansible_managed | comment }}\nname={{ site.name }} port={{ web_port }}\n")
    out = tmp_path / "out"
    (tmp_path / "pb.yml").write_text(f"""
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    web_port: 80
    the_secret: "TOPSECRET-4711"
  tasks:
    - pyweb.deploy.config_files:
        directories: [{{path: "{out}", mode: "0750"}}]
        files:
          - {{dest: "{out}/a.conf", template: t.j2, vars: {{site: {{name: 'a\\b "q"'}}}}, mode: "0644", tag: conf}}
          - {{dest: "{out}/key", content: "{{{{ the_secret }}}}", mode: "0600", secret: true, tag: env}}
        prune: ["{out}"]
""")
    # A checkout finds itself through `make link`; under ansible-test it already sits in
    # .../ansible_collections/pyweb/deploy.
    collections = _ROOT.parents[2] if _ROOT.parents[1].name == "ansible_collections" else _ROOT / ".cache" / "collections"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false")
    # The venv's own ansible-playbook, else the one on PATH (ansible-test puts its own there).
    playbook = Path(sys.executable).parent / "ansible-playbook"
    cmd = [str(playbook) if playbook.exists() else shutil.which("ansible-playbook"), "--diff", "-vvv", str(tmp_path / "pb.yml")]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert "TOPSECRET-4711" not in first.stdout + first.stderr
    assert (out / "a.conf").read_text() == '#\n# Ansible managed\n#\nname=a\\b "q" port=80\n'
    assert (out / "key").read_text() == "TOPSECRET-4711" and mode(out / "key") == 0o600
    second = subprocess.run(cmd[:1] + ["--check"] + cmd[1:], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert "changed=0" in second.stdout and "TOPSECRET-4711" not in second.stdout + second.stderr


def test_validate_through_the_module_refuses_a_broken_file_and_passes_argv_as_given(tmp_path):
    """The module's own runner (run_command): a `$1` and a `~` in argv reach the program as
    written, its output names the real path, and a refused file is not written."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "main.conf").write_text("good\n")
    check = 'test "$2" = "~" && grep -q good "$1" || { echo "broken in $1"; exit 1; }'
    (tmp_path / "pb.yml").write_text(f"""
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - pyweb.deploy.config_files:
        files: [{{dest: "{conf}/main.conf", content: "{{{{ body }}}}", mode: "0644"}}]
        validate: {{copy: "{conf}", argv: [sh, -c, '{check}', x, "{{root}}/main.conf", "~"], refused_message: refused}}
""")
    collections = _ROOT.parents[2] if _ROOT.parents[1].name == "ansible_collections" else _ROOT / ".cache" / "collections"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false")
    playbook = Path(sys.executable).parent / "ansible-playbook"
    cmd = [str(playbook) if playbook.exists() else shutil.which("ansible-playbook"), str(tmp_path / "pb.yml")]
    bad = subprocess.run(cmd + ["-e", "body=bad"], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert bad.returncode != 0 and f"refused: broken in {conf}/main.conf" in bad.stdout, bad.stdout[-2000:]
    assert (conf / "main.conf").read_text() == "good\n"
    good = subprocess.run(cmd + ["-e", "body='good too'"], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert good.returncode == 0, good.stdout[-2000:]
    assert (conf / "main.conf").read_text() == "good too"
