"""pyweb.deploy.memcached_instances: each app's instance options, and what a run does."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.modules import memcached_instances as mi  # noqa: E402


def test_an_apps_instance_listens_on_its_socket_only():
    text = mi.settings({"name": "blog"}, 409, 1024)
    assert "MEMCACHED_GROUP=blog\n" in text
    assert "MEMCACHED_OPTIONS=-m 409 -c 1024 -U 0 -s /run/memcached-blog/memcached.sock -a 0660\n" in text
    assert mi.address({"name": "blog"}) == "unix:/run/memcached-blog/memcached.sock"


def test_a_tcp_instance_listens_on_loopback():
    text = mi.settings({"name": "shared", "group": "www", "port": 11311, "memory_mb": 32}, 409, 512)
    assert "MEMCACHED_GROUP=www\n" in text
    assert "MEMCACHED_OPTIONS=-m 32 -c 512 -U 0 -l 127.0.0.1 -p 11311\n" in text
    assert mi.address({"name": "shared", "port": 11311}) == "127.0.0.1:11311"
    assert "MEMCACHED_GROUP=memcache\n" in mi.settings({"name": "shared", "port": 11311}, 64, 1024)


def test_problems_are_named():
    assert mi.problems([{"name": "blog"}, {"name": "shop", "port": 11311}], ["old"]) == []
    errors = mi.problems([{"name": "Blog"}, {"name": "a", "port": 80}, {"name": "a", "port": 80},
                          {"name": "b", "group": "x y", "memory_mb": 8}], ["a", "../x"])
    assert "instance 'Blog': the name must match [a-z][a-z0-9_]*" in errors
    assert "instance 'a': port 80 must be within 1024-65535" in errors
    assert "instance 'a' is listed twice" in errors
    assert "instance 'a': port 80 is another instance's" in errors
    assert "instance 'b': group 'x y' must match [a-z][a-z0-9_]*" in errors
    assert "instance 'b': memory_mb must be at least 16" in errors
    assert "instance 'a' is both wanted and absent" in errors
    assert "absent instance '../x': the name must match [a-z][a-z0-9_]*" in errors


def test_plan_starts_new_restarts_changed_leaves_the_rest():
    on = {"active": "active", "enabled": "enabled"}
    states = {"memcached@new.service": {"active": "inactive", "enabled": "disabled"},
              "memcached@same.service": on, "memcached@changed.service": on}
    wanted = {"new": "n", "same": "s", "changed": "c2"}
    current = {"new": None, "same": "s", "changed": "c1"}
    todo = mi.plan(wanted, current, states, restart=False)
    assert todo == {"write": ["new", "changed"], "enable": ["new"], "start": ["new"], "restart": ["changed"]}
    assert mi.plan({"same": "s"}, {"same": "s"}, states, restart=False) == {
        "write": [], "enable": [], "start": [], "restart": []}
    assert mi.plan({"same": "s"}, {"same": "s"}, states, restart=True)["restart"] == ["same"]
