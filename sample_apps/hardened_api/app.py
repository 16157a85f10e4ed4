"""A small API to harden (lesson 10): /health reports who the process runs as and where it keeps its state.

On start it writes a state file into $STATE_DIR (default /tmp), the one place that must stay writable
when the container's root filesystem is read-only. gunicorn serves it (the Dockerfile's CMD);
``python app.py`` starts Flask's development server on $PORT (default 8000), for development only.
"""
import os
import time
from pathlib import Path

from flask import Flask

STATE_DIR = Path(os.environ.get("STATE_DIR", "/tmp"))
PORT = int(os.environ.get("PORT", "8000"))

STATE_DIR.mkdir(parents=True, exist_ok=True)
STATE_FILE = STATE_DIR / "hardened_api.state"
STATE_FILE.write_text(f"started {time.time():.0f} pid {os.getpid()}\n")

app = Flask(__name__)


@app.get("/")
def index():
    return {"message": "hello from a hardened container"}


@app.get("/health")
def health():
    return {"status": "ok", "uid": os.getuid(), "gid": os.getgid(), "state_file": str(STATE_FILE)}


if __name__ == "__main__":  # development only: Flask's (Werkzeug's) development server
    app.run(host="0.0.0.0", port=PORT)
