"""A counter service for lesson 07: GET /hit adds one, GET / shows the greeting and the count.

The count lives in a file under $DATA_DIR (default /data): it survives a container only if /data is a volume.
"""
import os
from pathlib import Path

from flask import Flask

GREETING = "hello"
DATA_DIR = Path(os.environ.get("DATA_DIR", "/data"))
COUNT_FILE = DATA_DIR / "count"

app = Flask(__name__)


def read_count() -> int:
    try:
        return int(COUNT_FILE.read_text().strip() or 0)
    except FileNotFoundError:
        return 0


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/")
def index():
    return {"greeting": GREETING, "count": read_count()}


@app.get("/hit")
def hit():
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    count = read_count() + 1
    COUNT_FILE.write_text(str(count))
    return {"count": count}
