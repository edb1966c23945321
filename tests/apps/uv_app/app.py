"""A one-page Flask app that says which project format installed it and which Flask runs."""
from importlib.metadata import version

from flask import Flask, jsonify

FORMAT = "uv"

app = Flask(__name__)


@app.get("/")
def index():
    return f"Hello from the {FORMAT} example, Flask {version('flask')}\n"


@app.get("/health")
def health():
    return jsonify(status="ok", format=FORMAT, flask=version("flask"), werkzeug=version("werkzeug"))
