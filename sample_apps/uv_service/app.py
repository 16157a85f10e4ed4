"""uv_service: a tiny Flask app; its dependencies come from uv.lock."""
import importlib.metadata as md
import os

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/health")
def health():
    return jsonify(status="ok")


@app.get("/")
def index():
    return jsonify(
        service="uv_service",
        flask=md.version("flask"),
        python_executable=os.path.realpath(os.sys.executable),
    )


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8000)
