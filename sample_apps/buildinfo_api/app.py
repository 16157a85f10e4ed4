"""buildinfo_api: a small web service that says what it is and where it runs (lesson 14).

GET /health  -> {"status": "ok"}
GET /        -> the service's version, the CPU architecture it runs on, and its installed distributions
"""
import importlib.metadata
import os
import platform

from flask import Flask, jsonify

app = Flask(__name__)
VERSION = os.environ.get("APP_VERSION", "1.0.0")


@app.get("/health")
def health():
    return jsonify(status="ok")


@app.get("/")
def index():
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    return jsonify(service="buildinfo-api", version=VERSION, machine=platform.machine(), distributions=dists)


if __name__ == "__main__":  # python app.py: the development server (the image runs gunicorn)
    app.run(host="0.0.0.0", port=8000)
