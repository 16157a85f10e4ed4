"""The smallest useful web app: a greeting and a health endpoint (lesson 02 packs it into an image)."""
import os
import platform

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    name = os.environ.get("GREETING_NAME", "world")
    return {"message": f"hello, {name}", "python": platform.python_version(), "host": platform.node()}


@app.get("/health")
def health():
    return {"status": "ok"}


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))
