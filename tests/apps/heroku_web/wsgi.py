"""The same app as a WSGI callable (molecule/heroku's v6 runs it with `web: gunicorn wsgi:app`,
to switch the portal from a web process of its own to the WSGI server and back)."""
import json
from pathlib import Path

VERSION = (Path(__file__).resolve().parent / "VERSION").read_text().strip()


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/health":
        status, body = "200 OK", {"status": "ok", "version": VERSION, "server": "wsgi"}
    else:
        status, body = "404 Not Found", {"error": "not found"}
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
