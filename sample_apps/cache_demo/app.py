"""cache_demo: a tiny Flask app for lesson 03 (layers and the build cache)."""
import os

from flask import Flask, jsonify

app = Flask(__name__)
GREETING = "Hello from a well-ordered image"


@app.get("/")
def index():
    return jsonify(message=GREETING)


@app.get("/health")
def health():
    return jsonify(status="ok")


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))
