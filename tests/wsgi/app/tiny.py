"""The tiny WSGI app the wsgi scenarios serve. It says which release answers, as which user,
and whether its secret is set (never the secret itself)."""
import os
import pwd

RELEASE = "release-1"


def application(environ, start_response):
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
