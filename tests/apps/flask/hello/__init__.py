"""The example Flask app, built by a factory: hello:create_app()."""
import os
from pathlib import Path

from flask import Flask, jsonify, render_template_string
from werkzeug.middleware.proxy_fix import ProxyFix

VERSION = (Path(__file__).resolve().parent.parent / "VERSION").read_text().strip()

PAGE = """<!doctype html>
<html><head><title>Hello from Flask</title>
<link rel="stylesheet" href="{{ url_for('static', filename='style.css') }}"></head>
<body><h1>Hello from the Flask example, version {{ version }}</h1>
<p>Served for {{ scheme }}://{{ host }}</p></body></html>
"""


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

    @app.get("/error")
    def error():
        # molecule/alerts: a request that fails, whose traceback the app's journal shows.
        raise RuntimeError("pyweb test: this request fails on purpose")

    return app
