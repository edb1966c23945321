"""Flask's tutorial shape: the flaskr package and its application factory (flaskr:create_app())."""
import os
from importlib.metadata import version

from flask import Flask, jsonify


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(SECRET_KEY="dev", DATABASE=os.path.join(app.instance_path, "flaskr.sqlite"))
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    try:
        os.makedirs(app.instance_path)
    except OSError:
        pass

    @app.route("/hello")
    def hello():
        return "Hello, World!"

    @app.get("/health")
    def health():
        return jsonify(status="ok", format="pyproject", flask=version("flask"), flaskr=version("flaskr"))

    return app
