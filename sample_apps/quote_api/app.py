"""Quote API: the lesson 02 exercise app; /health and /quote.

In production a WSGI server serves it: ``gunicorn --bind 0.0.0.0:8000 app:app`` (gunicorn is in requirements.txt).
``python app.py`` starts Flask's development server instead: for trying it on your own machine, never in an image.
"""
import os
import random

from flask import Flask

from quotes import QUOTES

app = Flask(__name__)


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/quote")
def quote():
    text, author = random.choice(QUOTES)
    return {"quote": text, "author": author}


if __name__ == "__main__":  # development only: Flask's (Werkzeug's) development server
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))
