"""The HTTP side: POST text to /stats, GET /health. Served by gunicorn: gunicorn wordstats.app:app"""
from importlib.metadata import version

from flask import Flask, request

from .text import stats

app = Flask(__name__)


@app.get("/health")
def health():
    return {"status": "ok", "wordstats": version("wordstats"), "flask": version("flask")}


@app.post("/stats")
def word_stats():
    return stats(request.get_data(as_text=True), top=int(request.args.get("top", "5")))
