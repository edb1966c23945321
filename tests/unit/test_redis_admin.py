"""pyweb.deploy.redis_admin: the admin's ACL line, the file's order (the same as service_account
keeps), and the commands sent to Redis."""
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.modules import redis_admin as ra  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.modules import service_account as sa  # noqa: E402
from ansible_collections.pyweb.deploy.plugins.module_utils import redisacl  # noqa: E402


def test_the_admin_may_only_reload_the_acl_file():
    line = ra.admin_line("pw")
    assert line.startswith("user pyweb-admin on #")
    assert line.endswith(" resetkeys resetchannels -@all +acl|load +ping")
    assert "pw" not in line.split()[3:]


def test_the_admin_and_the_apps_lines_keep_one_order():
    start = "user default off resetkeys resetchannels -@all\n"
    with_admin = ra.acl_merge(start, ra.admin_line("pw"))
    with_app = sa.redis_acl_merge(with_admin, "blog", sa.redis_acl_line("blog", "b" * 20))
    # Each module keeps the other's lines, and neither reorders what the other wrote.
    assert ra.acl_merge(with_app, ra.admin_line("pw")) == with_app
    assert sa.redis_acl_merge(with_app, "blog", sa.redis_acl_line("blog", "b" * 20)) == with_app
    assert with_app.splitlines()[0] == start.strip()
    assert len(with_app.splitlines()) == 3
    # An app's removal keeps the admin.
    assert "user pyweb-admin" in sa.redis_acl_merge(with_app, "blog", None)


def test_commands_are_resp():
    assert redisacl.command("ACL", "LOAD") == b"*2\r\n$3\r\nACL\r\n$4\r\nLOAD\r\n"


def serve(answers):
    """A stand-in Redis on loopback that answers each command with the next line of answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    got = []

    def run():
        conn, _peer = listener.accept()
        reader = conn.makefile("rb")
        for answer in answers:
            count = int(reader.readline()[1:])
            args = []
            for _index in range(count):
                reader.readline()
                args.append(reader.readline().strip().decode())
            got.append(args)
            conn.sendall(answer)
        conn.close()
        listener.close()
    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1], got


def test_ask_authenticates_then_loads():
    port, got = serve([b"+OK\r\n", b"+OK\r\n"])
    assert ra.ask("127.0.0.1", port, "secret") is None
    assert got == [["AUTH", "pyweb-admin", "secret"], ["ACL", "LOAD"]]


def test_ask_says_why_without_the_password():
    port, _got = serve([b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"])
    error = ra.ask("127.0.0.1", port, "secret")
    assert error.startswith("AUTH: -WRONGPASS") and "secret" not in error
