"""A Flask app as PythonAnywhere's Flask quick start lays it out: mysite/flask_app.py, with `app`."""
from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/")
def hello_world():
    return "Hello from the PythonAnywhere-style example!\n"


@app.get("/health")
def health():
    return jsonify(status="ok", format="wsgi_file")
