"""The tiny WSGI app the wsgi scenarios serve. It says which release answers, as which user,
and whether its secret is set (never the secret itself)."""
import os
import pwd

RELEASE = "release-1"


# Where a process of the app could leave files other processes on the host see (docs/security.md).
PROBE_PATHS = ("/dev/shm", "/run/lock")


def probe_writes():
    """GET /probe-write: try to write a file in each shared folder, say what happened."""
    name = "pyweb-probe-" + pwd.getpwuid(os.getuid()).pw_name
    words = []
    for folder in PROBE_PATHS:
        try:
            with open(os.path.join(folder, name), "w") as f:
                f.write("written by the app\n")
            words.append(folder + "=written")
        except OSError as exc:
            words.append("{}=refused:{}".format(folder, type(exc).__name__))
    return " ".join(words) + "\n"


def application(environ, start_response):
    if environ.get("PATH_INFO") in ("/probe-write", "/home"):
        # /home: the HOME systemd gave the server (uWSGI rewrites its /proc/<pid>/environ).
        body = (probe_writes() if environ["PATH_INFO"] == "/probe-write"
                else "home={}\n".format(os.environ.get("HOME", ""))).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    body = "{} user={} greeting={} secret={}\n".format(
        RELEASE,
        pwd.getpwuid(os.getuid()).pw_name,
        os.environ.get("PYWEB_GREETING", "-"),
        "set" if os.environ.get("PYWEB_SECRET") else "unset",
    ).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def create_app():
    """The Flask-style factory form, `tiny:create_app()`."""
    return application
