"""A plain WSGI app in Heroku's layout: reads PORT, WEB_CONCURRENCY, DATABASE_URL (optional) and
app.json's variables; /env shows what it got (a digest of the secret, never the secret)."""
import hashlib
import json
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSION = (HERE / "VERSION").read_text().strip()


def _env():
    secret = os.environ.get("SECRET_TOKEN", "")
    return {
        "version": VERSION,
        "release": HERE.name,
        "greeting": os.environ.get("GREETING"),
        "web_concurrency": os.environ.get("WEB_CONCURRENCY"),
        "pythonunbuffered": os.environ.get("PYTHONUNBUFFERED"),
        "dyno": os.environ.get("DYNO"),
        "port": os.environ.get("PORT"),
        "database_url_set": bool(os.environ.get("DATABASE_URL")),
        "secret_token_sha256": hashlib.sha256(secret.encode()).hexdigest() if secret else "",
    }


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/health":
        body = {"status": "ok", "version": VERSION}
    elif path == "/env":
        body = _env()
    elif path == "/":
        body = {"greeting": os.environ.get("GREETING"), "version": VERSION}
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
