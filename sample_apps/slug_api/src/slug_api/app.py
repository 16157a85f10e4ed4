"""The WSGI app: GET /health, GET /slug?title=… (a URL slug, transliterated to ASCII), GET / (the versions running)."""
import importlib.metadata as md

from flask import Flask, jsonify, request
from slugify import slugify

app = Flask(__name__)


@app.get("/health")
def health():
    return jsonify(status="ok")


@app.get("/slug")
def slug():
    title = request.args.get("title", "")
    return jsonify(title=title, slug=slugify(title, max_length=60, word_boundary=True))


@app.get("/")
def index():
    return jsonify(service="slug_api", versions={d: md.version(d) for d in ("slug-api", "flask", "python-slugify")})
