"""The example Flask app, built by a factory: hello:create_app()."""
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask, abort, jsonify, render_template_string, request
from werkzeug.middleware.proxy_fix import ProxyFix

VERSION = (Path(__file__).resolve().parent.parent / "VERSION").read_text().strip()

PAGE = """<!doctype html>
<html><head><title>Hello from Flask</title>
<link rel="stylesheet" href="{{ url_for('static', filename='style.css') }}"></head>
<body><h1>Hello from the Flask example, version {{ version }}</h1>
<p>Served for {{ scheme }}://{{ host }}</p></body></html>
"""


def connect():
    """A connection to the database of DATABASE_URL (mysql://user:password@host[:port]/name
    [?unix_socket=path]), with PyMySQL; None without one."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("mysql://", "mariadb://")):
        return None
    import pymysql

    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    options = {"user": unquote(parts.username or ""), "password": unquote(parts.password or ""),
               "database": parts.path.lstrip("/"), "charset": query.get("charset", "utf8mb4"), "autocommit": True}
    if query.get("unix_socket"):
        options["unix_socket"] = query["unix_socket"]
    else:
        options.update(host=parts.hostname or "localhost", port=parts.port or 3306)
    return pymysql.connect(**options)


def create_app():
    app = Flask(__name__, instance_path=os.environ.get("FLASK_INSTANCE_PATH") or None)
    app.config["SECRET_KEY"] = os.environ.get("FLASK_SECRET_KEY", "")
    # Nginx is the one proxy in front: trust one hop of X-Forwarded-For/-Proto/-Host.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    @app.get("/")
    def index():
        from flask import request
        return render_template_string(PAGE, version=VERSION, scheme=request.scheme, host=request.host)

    @app.get("/health")
    def health():
        return jsonify(status="ok", version=VERSION, secret_key_set=bool(app.config["SECRET_KEY"]))

    # The notes kept in the app's database (molecule/site_flask: they survive a redeploy, a
    # rollback, and come back from a restored dump).
    @app.route("/notes", methods=["GET", "POST"])
    def notes():
        db = connect()
        if db is None:
            abort(404)
        with db, db.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS notes (id INT AUTO_INCREMENT PRIMARY KEY, "
                           "text VARCHAR(200) NOT NULL)")
            if request.method == "POST":
                cursor.execute("INSERT INTO notes (text) VALUES (%s)", (request.form["text"],))
            cursor.execute("SELECT text FROM notes ORDER BY id")
            return jsonify(notes=[row[0] for row in cursor.fetchall()])

    @app.get("/error")
    def error():
        # molecule/alerts: a request that fails, whose traceback the app's journal shows.
        raise RuntimeError("pyweb test: this request fails on purpose")

    return app
